"""Running the product on one machine: simulated providers and a router as real processes."""
