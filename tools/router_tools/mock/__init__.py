"""Simulated LLM providers for demos and tests: `llm-router mock-provider` (see `server`)."""
