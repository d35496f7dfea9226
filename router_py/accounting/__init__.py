"""What each request cost, what it saved against always-tier-3, and the decision log."""
