"""llm-router's development tools, outside the serving package: the mock provider (`mock`), the
demo (`demo`), local fleets of processes (`local`), training the classifier head (`train`) and
the evaluations (`eval`). Their commands join `llm-router` through entry points (pyproject.toml)."""
