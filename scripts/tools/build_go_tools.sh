#!/usr/bin/env bash
# Build the Go binaries the tests use from the Go module proxy, at the versions pinned in
# scripts/tools/versions.env, into ${LLM_ROUTER_CACHE:-$HOME/.cache/llm-router}/bin.
#
#   scripts/tools/build_go_tools.sh [NAME...]     NAME: etcd kube-apiserver kubectl helm ghz vegeta
#                                                 kube-controller-manager (optional, not in the default set)
#                                                 all (default set) | everything (default set + optional)
#
# Each binary lands in bin/<name>-<version>/<name> with bin/<name> a symlink to it. A binary whose
# folder already holds the same recipe (version, package, flags) is skipped, so a second run is a
# no-op and only a changed pin rebuilds. GOPATH, GOMODCACHE and GOCACHE live in the same cache
# folder, so CI and fresh clones reuse downloads and compiled packages.
#
# Environment: LLM_ROUTER_CACHE (cache root), LLM_ROUTER_NICE (nice level of the builds, default 10).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"

cache=${LLM_ROUTER_CACHE:-$HOME/.cache/llm-router}
bin=$cache/bin
gohome=$cache/go
export GOPATH=$gohome/path GOMODCACHE=$gohome/mod GOCACHE=$gohome/build
# Never fetch another toolchain; writable module cache so `rm -rf` of the cache works; no
# workspace or VCS stamping from wherever this is run; static binaries.
export GOTOOLCHAIN=local GOFLAGS=-modcacherw GOWORK=off CGO_ENABLED=0
unset GOOS GOARCH
nice=(nice -n "${LLM_ROUTER_NICE:-10}")

default_set=(etcd kube-apiserver kubectl helm ghz vegeta)
optional_set=(kube-controller-manager)

die() { echo "build_go_tools: $*" >&2; exit 1; }
log() { echo "build_go_tools: $*" >&2; }

command -v go >/dev/null || die "go is not on PATH (Go >= 1.25 is needed)"

# The module's .mod file, release time and go directive, e.g. `go_mod_info k8s.io/kubernetes v1.35.4`.
go_mod_info() {
    (cd "$gohome" && go list -m -f '{{.GoMod}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}} {{.GoVersion}}' "$1@$2")
}

# Prepare (once per version) a wrapper module in $gohome/wrappers/$1 whose go.mod is given on
# stdin and which imports the main packages $3... from tools.go; $2 is the recipe key.
prepare_wrapper() {
    local name=$1 dir=$gohome/wrappers/$1 key=$2
    shift 2
    if [[ -f $dir/go.sum && "$(cat "$dir/.recipe" 2>/dev/null)" == "$key" ]]; then
        cat >/dev/null
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/go.mod"
    {
        echo '//go:build tools'
        echo
        echo '// Package tools pins the main packages this wrapper module builds.'
        echo 'package tools'
        echo
        echo 'import ('
        local pkg
        for pkg in "$@"; do echo "	_ \"$pkg\""; done
        echo ')'
    } >"$dir/tools.go"
    log "resolving the $name wrapper module (go mod tidy)"
    (cd "$dir" && "${nice[@]}" go mod tidy) || die "go mod tidy failed in $dir"
    echo "$key" >"$dir/.recipe"
}

# Recipe keys, so a change of flags (not only of version) rebuilds too.
kube_tags=selinux,notest,grpcnotrace
kube_ldflags() {
    local info time major minor
    info=$(go_mod_info k8s.io/kubernetes "$KUBERNETES_VERSION") || return 1
    time=$(awk '{print $2}' <<<"$info")
    [[ -n $time ]] || return 1
    major=${KUBERNETES_VERSION#v}; major=${major%%.*}
    minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
    local flags="-s -w" key val
    # The same variables hack/lib/version.sh sets: the server and kubectl report a real version,
    # and component-base derives the binary/emulation version from it.
    for kv in "gitVersion=$KUBERNETES_VERSION" "gitMajor=$major" "gitMinor=$minor" \
        "gitTreeState=clean" "buildDate=$time"; do
        key=${kv%%=*}; val=${kv#*=}
        flags+=" -X k8s.io/client-go/pkg/version.$key=$val -X k8s.io/component-base/version.$key=$val"
    done
    echo "$flags"
}

kube_wrapper() {
    local staging_version mod gover godebug
    # Published staging modules are tagged v0.<minor>.<patch> for k8s.io/kubernetes v1.<minor>.<patch>.
    staging_version=v0.${KUBERNETES_VERSION#v*.}
    read -r mod _ gover < <(go_mod_info k8s.io/kubernetes "$KUBERNETES_VERSION")
    [[ -f $mod ]] || die "no go.mod for k8s.io/kubernetes@$KUBERNETES_VERSION"
    godebug=$(grep -E '^godebug ' "$mod" || true)
    local staging
    # k8s.io/kubernetes requires every staging module at v0.0.0 and replaces it with ./staging/...,
    # which a dependency's replace cannot do: replace each with its published release instead.
    staging=$(grep -oE '^[[:space:]]*k8s\.io/[A-Za-z0-9._/-]+ v0\.0\.0([[:space:]]|$)' "$mod" | awk '{print $1}' | sort -u)
    [[ -n $staging ]] || die "found no staging modules in $mod"
    {
        echo "module llmrouter.local/tools/kubernetes"
        echo
        echo "go $gover"
        [[ -z $godebug ]] || echo "$godebug"
        echo
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        echo
        echo "replace ("
        local m
        for m in $staging; do echo "	$m => $m $staging_version"; done
        echo ")"
    } | prepare_wrapper "kubernetes-$KUBERNETES_VERSION" "kubernetes $KUBERNETES_VERSION $staging_version" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-controller-manager ||
        return 1
    echo "$gohome/wrappers/kubernetes-$KUBERNETES_VERSION"
}

etcd_wrapper() {
    local gover
    read -r _ _ gover < <(go_mod_info go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
    [[ -n $gover ]] || die "cannot resolve go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    # The etcd modules replace each other with ../api etc., which only works inside their repo:
    # a wrapper that requires the released server module resolves them to the same releases.
    printf 'module llmrouter.local/tools/etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$gover" "$ETCD_VERSION" |
        prepare_wrapper "etcd-$ETCD_VERSION" "etcd $ETCD_VERSION" go.etcd.io/etcd/server/v3 || return 1
    echo "$gohome/wrappers/etcd-$ETCD_VERSION"
}

# install NAME VERSION RECIPE BUILD-FUNCTION: build into a temporary folder, then move into place.
install_tool() {
    local name=$1 version=$2 recipe=$3 fn=$4
    local dir=$bin/$name-$version
    if [[ -x $dir/$name && "$(cat "$dir/.recipe" 2>/dev/null)" == "$recipe" ]]; then
        ln -sfn "$name-$version/$name" "$bin/$name"
        log "$name $version: up to date"
        return
    fi
    local tmp=$bin/.tmp-$name-$$ start=$SECONDS
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "$name $version: building"
    "$fn" "$tmp" || { rm -rf "$tmp"; die "$name $version: build failed"; }
    [[ -x $tmp/$name ]] || { rm -rf "$tmp"; die "$name $version: no binary produced"; }
    echo "$recipe" >"$tmp/.recipe"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    ln -sfn "$name-$version/$name" "$bin/$name"
    log "$name $version: built in $((SECONDS - start))s"
}

build_kube() { # $1 out dir, $2 command
    local wrap ldflags
    wrap=$(kube_wrapper) || return 1
    ldflags=$(kube_ldflags) || return 1
    (cd "$wrap" && "${nice[@]}" go build -trimpath -tags "$kube_tags" -ldflags "$ldflags" \
        -o "$1/$2" "k8s.io/kubernetes/cmd/$2")
}
build_kube_apiserver() { build_kube "$1" kube-apiserver; }
build_kubectl() { build_kube "$1" kubectl; }
build_kube_controller_manager() { build_kube "$1" kube-controller-manager; }

etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=release-$ETCD_VERSION"
build_etcd() {
    local wrap
    wrap=$(etcd_wrapper) || return 1
    (cd "$wrap" && "${nice[@]}" go build -trimpath -ldflags "$etcd_ldflags" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

# helm, ghz and vegeta have no replace directives: `go install pkg@version` uses their own go.sum.
helm_major=${HELM_VERSION#v}; helm_major=${helm_major%%.*}
helm_ldflags() {
    # Like helm's Makefile: its built-in Kubernetes version (capabilities, lint deprecations)
    # comes from the client-go it is built with.
    local gomod cg maj min
    read -r gomod _ _ < <(go_mod_info "helm.sh/helm/v$helm_major" "$HELM_VERSION")
    [[ -f $gomod ]] || die "cannot resolve helm.sh/helm/v$helm_major@$HELM_VERSION"
    cg=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod")
    [[ $cg =~ ^v0\.([0-9]+)\. ]] || die "cannot read client-go's version from $gomod"
    maj=1 min=${BASH_REMATCH[1]}
    local p=helm.sh/helm/v$helm_major
    echo "-s -w -X $p/internal/version.version=$HELM_VERSION -X $p/internal/version.gitTreeState=clean" \
        "-X $p/pkg/lint/rules.k8sVersionMajor=$maj -X $p/pkg/lint/rules.k8sVersionMinor=$min" \
        "-X $p/pkg/chartutil.k8sVersionMajor=$maj -X $p/pkg/chartutil.k8sVersionMinor=$min"
}
go_install() { # out dir, ldflags, pkg@version
    (cd "$gohome" && GOBIN=$1 "${nice[@]}" go install -trimpath -ldflags "$2" "$3")
}
build_helm() {
    local ldflags
    ldflags=$(helm_ldflags) || return 1
    go_install "$1" "$ldflags" "helm.sh/helm/v$helm_major/cmd/helm@$HELM_VERSION"
}
build_ghz() { go_install "$1" "-s -w -X main.version=$GHZ_VERSION" "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"; }
vegeta_major=${VEGETA_VERSION#v}; vegeta_major=${vegeta_major%%.*}
build_vegeta() {
    go_install "$1" "-s -w -X main.Version=$VEGETA_VERSION" "github.com/tsenart/vegeta/v$vegeta_major@$VEGETA_VERSION"
}

version_of() {
    case $1 in
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver | kubectl | kube-controller-manager) echo "$KUBERNETES_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    ghz) echo "$GHZ_VERSION" ;;
    vegeta) echo "$VEGETA_VERSION" ;;
    *) die "unknown tool '$1' (known: ${default_set[*]} ${optional_set[*]} all everything)" ;;
    esac
}

recipe_of() {
    local flags
    case $1 in
    etcd) echo "etcd $ETCD_VERSION $etcd_ldflags" ;;
    kube-apiserver | kubectl | kube-controller-manager)
        flags=$(kube_ldflags) || return 1
        echo "$1 $KUBERNETES_VERSION tags=$kube_tags $flags"
        ;;
    helm)
        flags=$(helm_ldflags) || return 1
        echo "helm $HELM_VERSION $flags"
        ;;
    ghz) echo "ghz $GHZ_VERSION" ;;
    vegeta) echo "vegeta $VEGETA_VERSION" ;;
    esac
}

names=()
(($#)) || set -- all
for arg in "$@"; do
    case $arg in
    all) names+=("${default_set[@]}") ;;
    everything) names+=("${default_set[@]}" "${optional_set[@]}") ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) version_of "$arg" >/dev/null; names+=("$arg") ;;
    esac
done

mkdir -p "$bin" "$gohome"
# One build at a time per cache folder (parallel CI steps, two terminals).
exec 9>"$bin/.lock"
flock 9

total=$SECONDS
declare -A done_=()
for name in "${names[@]}"; do
    [[ -z ${done_[$name]:-} ]] || continue
    done_[$name]=1
    recipe=$(recipe_of "$name") || die "$name: cannot resolve its module (network or pin?)"
    install_tool "$name" "$(version_of "$name")" "$recipe" "build_${name//-/_}"
done
log "done in $((SECONDS - total))s; binaries in $bin"
