"""The router process: gRPC and OpenAI-compatible HTTP front ends over one pipeline."""
