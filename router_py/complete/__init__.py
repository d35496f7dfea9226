"""Complete: decision -> provider call with failover -> acceptance gate -> cascade -> cache."""
