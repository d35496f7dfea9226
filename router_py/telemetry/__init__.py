"""OpenTelemetry spans and metrics (exported for Prometheus on /metrics) and JSON logs."""
