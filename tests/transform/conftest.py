"""Fixtures of the Transform-schedule tests: the real MLIR 19 tools, never mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgo_env.transform.library import ScheduleLibrary, payload_path
from mlgo_env.transform.runner import MlirTools, PayloadRunner


@pytest.fixture(scope="session")
def tools() -> MlirTools:
    """The MLIR tools; raises ToolNotFound (a failure, not a skip) when they are missing."""
    return MlirTools.find()


@pytest.fixture(scope="session")
def library() -> ScheduleLibrary:
    return ScheduleLibrary.load()


@pytest.fixture(scope="session")
def runner_factory(tools: MlirTools, tmp_path_factory: pytest.TempPathFactory):
    """PayloadRunner per payload name, shared by the session (the reference is computed once)."""
    runners: dict[str, PayloadRunner] = {}

    def make(name: str) -> PayloadRunner:
        if name not in runners:
            workdir: Path = tmp_path_factory.mktemp(name)
            runners[name] = PayloadRunner(payload_path(name), workdir, tools=tools)
        return runners[name]

    return make
