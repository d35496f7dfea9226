"""Helpers for `benches/service_bench.py`: processes, load generators, the LiteLLM baseline."""
