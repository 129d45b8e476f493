"""Tool lookup through the real ``llvm-config-N`` of each installed LLVM, and tool names by version."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgo_env.errors import ToolNotFound
from mlgo_env.toolchain import SUPPORTED_VERSIONS, Toolchain, installed_versions, llvm_config, package_of, tool_name


@pytest.fixture
def fresh_llvm_config() -> Iterator[None]:
    """Forgets what ``llvm-config-N`` said, before and after a test that changes PATH."""
    llvm_config.cache_clear()
    yield
    llvm_config.cache_clear()


def _say(config: str, *flags: str) -> list[str]:
    return subprocess.run([config, *flags], capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_tools_are_in_the_folders_llvm_config_names(version: int) -> None:
    if version not in installed_versions():
        pytest.skip(f"LLVM {version} is not installed (scripts/setup.sh installs clang-{version} llvm-{version})")
    bindir, libdir = _say(f"llvm-config-{version}", "--bindir", "--libdir")
    chain = Toolchain(version)
    for tool in ("clang", "llc", "llvm-mca", "ld.lld"):
        assert chain.tool(tool) == Path(bindir) / tool
    assert chain.libdir == Path(libdir)
    assert f"{version}." in chain.version_string()


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_mlir_runner_has_its_name_in_each_version(version: int) -> None:
    """``mlir-cpu-runner`` became ``mlir-runner`` in LLVM 20: either name finds the tool of the version."""
    if version not in installed_versions():
        pytest.skip(f"LLVM {version} is not installed")
    expected = "mlir-cpu-runner" if version < 20 else "mlir-runner"
    chain = Toolchain(version)
    for asked in ("mlir-runner", "mlir-cpu-runner"):
        assert tool_name(asked, version) == expected
        if chain.has("mlir-opt"):
            assert chain.tool(asked).name == expected
        else:
            with pytest.raises(ToolNotFound, match=f"{expected} of LLVM {version}.*mlir-{version}-tools"):
                chain.tool(asked)
    assert package_of("mlir-cpu-runner", version) == f"mlir-{version}-tools"


def test_a_tool_comes_from_llvm_config_not_from_path(tmp_path: Path, monkeypatch, fresh_llvm_config) -> None:
    """An llvm-config-19 naming another folder moves every tool there, whatever PATH holds."""
    bindir = tmp_path / "llvm" / "bin"
    bindir.mkdir(parents=True)
    real_llc = Toolchain(19).llc
    (bindir / "llc").symlink_to(real_llc)
    config = tmp_path / "path" / "llvm-config-19"
    config.parent.mkdir()
    config.write_text(f"#!/bin/sh\necho {bindir}\necho {tmp_path / 'llvm' / 'lib'}\necho 19.1.0\n")
    config.chmod(0o755)
    monkeypatch.setenv("PATH", f"{config.parent}:/usr/bin:/bin")
    llvm_config.cache_clear()
    assert Toolchain(19).llc == bindir / "llc"
    with pytest.raises(ToolNotFound, match=r"clang of LLVM 19 .* not in .*llvm/bin.*apt-get install clang-19"):
        Toolchain(19).tool("clang")


def test_without_llvm_config_the_packages_are_named(tmp_path: Path, monkeypatch, fresh_llvm_config) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert installed_versions() == []
    with pytest.raises(ToolNotFound, match="llvm-config-22 is not on PATH.*apt-get install llvm-22 lld-22"):
        Toolchain(22).tool("ld.lld")
