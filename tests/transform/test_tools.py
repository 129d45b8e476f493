"""Which MLIR the Transform environment uses, found through the real ``llvm-config-N``."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgo_env.errors import ToolNotFound
from mlgo_env.toolchain import llvm_config
from mlgo_env.transform.tools import MLIR_ROOT_VARIABLE, MlirTools, installed_mlir_versions


@pytest.fixture
def fresh_llvm_config() -> Iterator[None]:
    llvm_config.cache_clear()
    yield
    llvm_config.cache_clear()


def _prefix(version: int) -> Path:
    return Path(subprocess.run([f"llvm-config-{version}", "--prefix"], capture_output=True, text=True).stdout.strip())


def test_mlir_of_a_version_is_in_its_llvm_config_folders(tools: MlirTools) -> None:
    """The tools of the version under test (or of ``$MLGO_MLIR_ROOT``), the clang of that version."""
    prefix = Path(os.environ.get(MLIR_ROOT_VARIABLE) or _prefix(tools.version))
    assert tools.mlir_opt == prefix / "bin" / "mlir-opt"
    assert tools.mlir_runner.name == ("mlir-cpu-runner" if tools.version < 20 else "mlir-runner")
    assert tools.clang.parent == _prefix(tools.version) / "bin"
    names = [lib.name.split(".so")[0] for lib in tools.runtime_libs]
    assert names == ["libmlir_c_runner_utils", "libmlir_runner_utils"]
    assert all(lib.parent == prefix / "lib" for lib in tools.runtime_libs)
    assert tools.release.startswith(f"{tools.version}.")


def test_a_missing_version_names_its_packages(monkeypatch) -> None:
    monkeypatch.delenv(MLIR_ROOT_VARIABLE, raising=False)
    missing = [v for v in (19, 22) if v not in installed_mlir_versions()]
    if not missing:
        pytest.skip("both MLIR versions are installed")
    with pytest.raises(ToolNotFound, match=f"MLIR {missing[0]} is not installed.*mlir-{missing[0]}-tools") as raised:
        MlirTools.find(missing[0])
    installed = installed_mlir_versions()
    assert (f"removes the installed MLIR {installed[0]}" in str(raised.value)) == bool(installed)


def test_the_requested_version_falls_back_to_the_installed_one(monkeypatch, caplog) -> None:
    installed = installed_mlir_versions()
    missing = [v for v in (19, 22) if v not in installed]
    if not (installed and missing):
        pytest.skip(f"needs one MLIR installed and one missing; installed: {installed}")
    monkeypatch.setenv("MLGO_LLVM_VERSION", str(missing[0]))
    monkeypatch.delenv(MLIR_ROOT_VARIABLE, raising=False)
    with caplog.at_level(logging.WARNING, logger="mlgo_env.transform.tools"):
        tools = MlirTools.find()
    assert tools.version == installed[0]
    assert f"using MLIR {tools.release}: MLIR {missing[0]} is not installed" in caplog.text


def test_no_mlir_at_all_says_what_to_install(tmp_path: Path, monkeypatch, fresh_llvm_config) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("MLGO_LLVM_VERSION", raising=False)
    monkeypatch.delenv(MLIR_ROOT_VARIABLE, raising=False)
    with pytest.raises(ToolNotFound, match=f"mlir-19-tools libmlir-19-dev.*{MLIR_ROOT_VARIABLE}"):
        MlirTools.find()


def test_an_mlir_root_is_used_with_the_version_its_mlir_opt_says(tools: MlirTools, monkeypatch) -> None:
    """``$MLGO_MLIR_ROOT`` (here: the folder of the MLIR under test) replaces the llvm-config lookup."""
    monkeypatch.setenv(MLIR_ROOT_VARIABLE, str(tools.mlir_opt.parent.parent))
    assert MlirTools.find() == tools
    other = 22 if tools.version == 19 else 19
    with pytest.raises(ToolNotFound, match=f"LLVM {other} was asked for, but .* holds MLIR {tools.release}"):
        MlirTools.find(other)


def test_an_mlir_root_without_mlir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolNotFound, match=f"{MLIR_ROOT_VARIABLE}={tmp_path}: cannot run"):
        MlirTools.find(root=tmp_path)
