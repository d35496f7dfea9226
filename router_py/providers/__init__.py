"""Provider I/O: OpenAI-compatible and Anthropic chat APIs over pooled async HTTP (httpx)."""
