"""Finds the LLVM tools of one LLVM version (19 by default, 22 if installed) and says how to install missing ones."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.errors import ToolNotFound

__all__ = ["SUPPORTED_VERSIONS", "DEFAULT_VERSION", "Toolchain", "get_toolchain", "installed_versions"]

SUPPORTED_VERSIONS = (19, 22)
DEFAULT_VERSION = 19

# Debian package that provides each tool (its name without the -NN suffix).
_PACKAGE_OF = {
    "clang": "clang-{v}",
    "llc": "llvm-{v}",
    "opt": "llvm-{v}",
    "llvm-link": "llvm-{v}",
    "llvm-mca": "llvm-{v}",
    "llvm-readobj": "llvm-{v}",
    "llvm-size": "llvm-{v}",
    "llvm-objcopy": "llvm-{v}",
    "llvm-objdump": "llvm-{v}",
    "llvm-dis": "llvm-{v}",
    "llvm-mc": "llvm-{v}",
    "llvm-exegesis": "llvm-{v}",
    "ld.lld": "lld-{v}",
    "mlir-opt": "mlir-{v}-tools",
    "mlir-cpu-runner": "mlir-{v}-tools",
    "mlir-translate": "mlir-{v}-tools",
}


def _find(tool: str, version: int) -> Path | None:
    for candidate in (f"{tool}-{version}", f"/usr/lib/llvm-{version}/bin/{tool}"):
        found = shutil.which(candidate)
        if found:
            return Path(found)
    return None


@dataclass(frozen=True)
class Toolchain:
    """The tools of one LLVM version; `tool(name)` returns a path or raises `ToolNotFound`."""

    version: int

    def tool(self, name: str) -> Path:
        """Path of `name` (e.g. "clang", "llc") for this version, or `ToolNotFound` naming the package."""
        path = _find(name, self.version)
        if path is None:
            package = _PACKAGE_OF.get(name, "llvm-{v}").format(v=self.version)
            raise ToolNotFound(
                f"{name}-{self.version} was not found on PATH. Install it with: sudo apt-get install {package}"
            )
        return path

    def has(self, name: str) -> bool:
        """Whether `name` is installed for this version."""
        return _find(name, self.version) is not None

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


def get_toolchain(version: int | str | None = None) -> Toolchain:
    """The toolchain for `version`, else `$MLGO_LLVM_VERSION`, else LLVM 19.

    Raises:
        ToolNotFound: the version is unsupported or its clang is not installed.
    """
    if version is None:
        version = os.environ.get("MLGO_LLVM_VERSION", DEFAULT_VERSION)
    try:
        number = int(version)
    except ValueError as exc:
        raise ToolNotFound(f"LLVM version {version!r} is not a number; use one of {SUPPORTED_VERSIONS}") from exc
    if number not in SUPPORTED_VERSIONS:
        raise ToolNotFound(f"LLVM {number} is not supported; use one of {SUPPORTED_VERSIONS}")
    chain = Toolchain(number)
    chain.clang  # noqa: B018 - raises ToolNotFound with the install command
    return chain
