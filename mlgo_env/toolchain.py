"""Finds the LLVM tools of one LLVM version (19 by default, 22 if installed) and says how to install missing ones.

Tools are looked up in the directories ``llvm-config-N --bindir`` names, never guessed, and by
their name in that version (`tool_name`: ``mlir-runner`` was ``mlir-cpu-runner`` before LLVM 20).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.errors import ToolNotFound

__all__ = [
    "SUPPORTED_VERSIONS",
    "DEFAULT_VERSION",
    "LlvmConfig",
    "Toolchain",
    "get_toolchain",
    "installed_versions",
    "llvm_config",
    "package_of",
    "requested_version",
    "tool_name",
]

SUPPORTED_VERSIONS = (19, 22)
DEFAULT_VERSION = 19

# Debian package that provides each tool (its name without the -NN suffix); others: llvm-N.
_PACKAGE_OF = {
    "clang": "clang-{v}",
    "ld.lld": "lld-{v}",
    "mlir-opt": "mlir-{v}-tools",
    "mlir-runner": "mlir-{v}-tools",
    "mlir-translate": "mlir-{v}-tools",
}

# Tools renamed across LLVM versions: current name -> (former name, first version with the current one).
_RENAMED = {"mlir-runner": ("mlir-cpu-runner", 20)}


def _current_name(name: str) -> str:
    """The name a tool has today, given its current or a former name."""
    return next((current for current, (former, _) in _RENAMED.items() if name == former), name)


def tool_name(name: str, version: int) -> str:
    """The file name of tool `name` in LLVM `version`; either name of a renamed tool is accepted.

    >>> tool_name("mlir-runner", 19), tool_name("mlir-cpu-runner", 22)
    ('mlir-cpu-runner', 'mlir-runner')
    """
    current = _current_name(name)
    former, since = _RENAMED.get(current, (current, 0))
    return current if version >= since else former


def package_of(name: str, version: int) -> str:
    """The Debian package that installs tool `name` of LLVM `version`."""
    return _PACKAGE_OF.get(_current_name(name), "llvm-{v}").format(v=version)


@dataclass(frozen=True)
class LlvmConfig:
    """Where one installed LLVM keeps its tools and libraries, as its ``llvm-config`` says.

    Attributes:
        bindir: ``llvm-config --bindir``.
        libdir: ``llvm-config --libdir``.
        release: ``llvm-config --version``, e.g. '19.1.7'.
    """

    bindir: Path
    libdir: Path
    release: str


@functools.cache
def llvm_config(version: int) -> LlvmConfig | None:
    """What ``llvm-config-<version>`` says, or None when it is not on PATH (LLVM not installed)."""
    config = shutil.which(f"llvm-config-{version}")
    if config is None:
        return None
    done = subprocess.run([config, "--bindir", "--libdir", "--version"], capture_output=True, text=True, timeout=30)
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 3:
        raise ToolNotFound(f"{config} --bindir --libdir --version failed (exit {done.returncode}): {done.stderr}")
    return LlvmConfig(Path(lines[0]), Path(lines[1]), lines[2])


def _find(tool: str, version: int) -> Path | None:
    config = llvm_config(version)
    if config is None:
        return None
    path = config.bindir / tool_name(tool, version)
    return path if path.is_file() and os.access(path, os.X_OK) else None


@dataclass(frozen=True)
class Toolchain:
    """The tools of one LLVM version; `tool(name)` returns a path or raises `ToolNotFound`."""

    version: int

    def tool(self, name: str) -> Path:
        """Path of `name` (e.g. "clang", "llc") for this version, or `ToolNotFound` naming the package."""
        path = _find(name, self.version)
        if path is None:
            packages = package_of(name, self.version)
            config = llvm_config(self.version)
            if config is None:
                where = f"llvm-config-{self.version} is not on PATH"
                packages = " ".join(dict.fromkeys([f"llvm-{self.version}", packages]))
            else:
                where = f"it is not in {config.bindir} (llvm-config-{self.version} --bindir)"
            raise ToolNotFound(
                f"{tool_name(name, self.version)} of LLVM {self.version} was not found: {where}. "
                f"Install it with: sudo apt-get install {packages}"
            )
        return path

    def has(self, name: str) -> bool:
        """Whether `name` is installed for this version."""
        return _find(name, self.version) is not None

    @property
    def libdir(self) -> Path:
        """``llvm-config --libdir`` of this version (`ToolNotFound` when LLVM is not installed)."""
        config = llvm_config(self.version)
        if config is None:
            raise ToolNotFound(
                f"llvm-config-{self.version} is not on PATH. Install it with: sudo apt-get install llvm-{self.version}"
            )
        return config.libdir

    @property
    def clang(self) -> Path:
        """The C compiler, also used to compile bitcode and link."""
        return self.tool("clang")

    @property
    def llc(self) -> Path:
        """The static compiler (bitcode or IR to an object)."""
        return self.tool("llc")

    def version_string(self, name: str = "clang") -> str:
        """The `--version` line of a tool, e.g. '19.1.7'."""
        return _version_of(str(self.tool(name)))


@functools.cache
def _version_of(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"version (\d+\.\d+\.\d+)", out)
    return match.group(1) if match else out.strip().splitlines()[0] if out.strip() else "unknown"


def installed_versions() -> list[int]:
    """The supported LLVM versions whose clang is installed."""
    return [v for v in SUPPORTED_VERSIONS if _find("clang", v) is not None]


def requested_version(version: int | str | None = None) -> int:
    """`version`, else ``$MLGO_LLVM_VERSION``, else LLVM 19, checked to be a supported version.

    Raises:
        ToolNotFound: the version is not a number or not supported.
    """
    if version is None:
        version = os.environ.get("MLGO_LLVM_VERSION", DEFAULT_VERSION)
    try:
        number = int(version)
    except ValueError as exc:
        raise ToolNotFound(f"LLVM version {version!r} is not a number; use one of {SUPPORTED_VERSIONS}") from exc
    if number not in SUPPORTED_VERSIONS:
        raise ToolNotFound(f"LLVM {number} is not supported; use one of {SUPPORTED_VERSIONS}")
    return number


def get_toolchain(version: int | str | None = None) -> Toolchain:
    """The toolchain for `version`, else `$MLGO_LLVM_VERSION`, else LLVM 19.

    Raises:
        ToolNotFound: the version is unsupported or its clang is not installed.
    """
    chain = Toolchain(requested_version(version))
    chain.clang  # noqa: B018 - raises ToolNotFound with the install command
    return chain
