{{/*
Names. Every object name starts with the release's full name, so releases never collide.
*/}}
{{- define "llm-router.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-router.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The router's objects (Deployment, Service, ServiceAccount, Role, ...) carry the full name itself. */}}
{{- define "llm-router.routerName" -}}
{{- include "llm-router.fullname" . }}
{{- end }}

{{/* Operator Deployment, ServiceAccount, Role, RoleBinding, and the KopfPeering it leads through. */}}
{{- define "llm-router.operatorName" -}}
{{- printf "%s-operator" (include "llm-router.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ConfigMap the operator publishes the compiled config to and the router reads. */}}
{{- define "llm-router.configMapName" -}}
{{- printf "%s-config" (include "llm-router.fullname" .) }}
{{- end }}

{{/* The Secret holding the callers' hashed API keys (auth.secretName, else <fullname>-api-keys). */}}
{{- define "llm-router.authSecretName" -}}
{{- .Values.auth.secretName | default (printf "%s-api-keys" (include "llm-router.fullname" .)) }}
{{- end }}

{{- define "llm-router.headlessServiceName" -}}
{{- printf "%s-headless" (include "llm-router.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-router.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. Call with (dict "ctx" $ "component" "router").
*/}}
{{- define "llm-router.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-router.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "llm-router.labels" -}}
helm.sh/chart: {{ include "llm-router.chart" .ctx }}
{{ include "llm-router.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: llm-router
{{- end }}

{{- define "llm-router.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Pod-level security context shared by every pod: the image's non-root user. */}}
{{- define "llm-router.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context shared by every container. */}}
{{- define "llm-router.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "llm-router.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}
