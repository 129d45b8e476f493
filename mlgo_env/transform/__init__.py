"""Transform-dialect schedules for linalg payloads: a library, a checker, a runner, an environment.

See ``README.md`` in this folder for how far lowering moves into the Transform dialect (MLIR 19
and 22) and which MLIR is used (``tools.MlirTools``).
The environment is registered as ``mlgo/TransformSchedule-v0`` (entry point
``mlgo_env.transform.env:TransformScheduleEnv``); importing this package does no work.
"""

from __future__ import annotations

from mlgo_env.transform.library import Choice, NamedSchedule, Param, ScheduleLibrary

__all__ = ["Choice", "NamedSchedule", "Param", "ScheduleLibrary"]
