"""`llm-router demo`: the product end to end on one machine, with simulated providers."""
