"""Builds the native extensions with the system C compiler; all else is pyproject.toml.

`mlgo_env._native._rollout` is the rollout loop, `mlgo_env._native._blocks` the fast cost model's
features. Both are optional: where they cannot be built, `mlgo_env.rollout_loop` and
`mlgo_env.blocks.features` do the same work in Python (slower; `mlgo-env doctor` says which runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            f"mlgo_env._native._{name}",
            [f"mlgo_env/_native/{name}.c"],
            extra_compile_args=["-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra"],
            optional=True,
        )
        for name in ("rollout", "blocks")
    ]
)
