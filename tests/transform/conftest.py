"""Fixtures of the Transform-schedule tests: the real MLIR tools, never mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgo_env.errors import ToolNotFound
from mlgo_env.toolchain import DEFAULT_VERSION, requested_version
from mlgo_env.transform.library import ScheduleLibrary, payload_path
from mlgo_env.transform.runner import PayloadRunner
from mlgo_env.transform.tools import MlirTools


@pytest.fixture(scope="session")
def mlir_version() -> int:
    """The LLVM version under test: ``$MLGO_LLVM_VERSION``, else 19."""
    return requested_version()


@pytest.fixture(scope="session")
def tools(mlir_version: int) -> MlirTools:
    """The MLIR of the version under test (or ``$MLGO_MLIR_ROOT``).

    MLIR 19 missing is a failure; another version's MLIR missing skips with the reason, since
    Debian installs one MLIR at a time.
    """
    try:
        return MlirTools.find(mlir_version)
    except ToolNotFound as exc:
        if mlir_version == DEFAULT_VERSION:
            raise
        pytest.skip(str(exc))


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
