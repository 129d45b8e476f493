"""Builds the native rollout loop (`mlgo_env._native._rollout`) with the system C compiler; all else is pyproject.toml.

The extension is optional: where it cannot be built, `mlgo_env.rollout_loop` runs the same loop in
Python (slower; `mlgo-env doctor` says which one runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mlgo_env._native._rollout",
            ["mlgo_env/_native/rollout.c"],
            extra_compile_args=["-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra"],
            optional=True,
        )
    ]
)
