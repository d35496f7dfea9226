"""llm-router's Kubernetes operator: validates RoutingPolicy and ProviderTier objects, publishes
the live router config to a ConfigMap, and reports verdicts and breaker state in their status.

Run it with `python -m router_operator` (see `__main__.py` for its environment).
"""
