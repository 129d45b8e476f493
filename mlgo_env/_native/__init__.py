"""Native code built by the install: the rollout loop (`_rollout`, from rollout.c)."""
