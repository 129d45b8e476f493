"""Native code built by the install (setup.py): the rollout loop and the fast cost model's features.

`_rollout` is built from rollout.c, `_blocks` from blocks.c.
"""
