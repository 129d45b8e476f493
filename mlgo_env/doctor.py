"""What `mlgo-env doctor` checks about tools: their paths and versions, install commands for missing ones.

What the CPU is and whether its counters work is `mlgo_env.machine`'s to say.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.toolchain import DEFAULT_VERSION, SUPPORTED_VERSIONS, Toolchain, package_of, tool_name
from mlgo_env.transform.tools import MLIR_ROOT_VARIABLE, installed_mlir_versions, mlir_packages

__all__ = ["ToolStatus", "check_tools"]

_LLVM_TOOLS = (
    "clang",
    "llc",
    "llvm-link",
    "llvm-mca",
    "llvm-readobj",
    "llvm-objdump",
    "llvm-mc",
    "llvm-exegesis",
    "ld.lld",
)
_MLIR_TOOLS = ("mlir-opt", "mlir-translate", "mlir-runner")
_OTHER_TOOLS = {"valgrind": "valgrind", "csmith": "csmith", "callgrind_annotate": "valgrind"}


@dataclass(frozen=True)
class ToolStatus:
    """One tool: found or not, where, which version, and the install command when missing."""

    name: str
    path: str | None
    version: str
    install: str
    required: bool


def _version(path: str) -> str:
    """The tool's version line (run in a scratch folder: ``csmith --version`` writes platform.info)."""
    try:
        with tempfile.TemporaryDirectory(prefix="mlgo-doctor-") as scratch:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20, cwd=scratch)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    line = next((t for t in text if "version" in t.lower()), text[0] if text else "?")
    return line.strip()[:80]


def check_tools() -> list[ToolStatus]:
    """The status of every tool mlgo-env can use (LLVM 19 required; LLVM 22 optional).

    Tools are listed by their name in each version (``mlir-cpu-runner-19``, ``mlir-runner-22``).
    MLIR is required in one version only: Debian installs one at a time, so it is the installed
    one, or 19 when there is none.
    """
    mlir_versions = installed_mlir_versions() or [DEFAULT_VERSION]
    statuses: list[ToolStatus] = []
    for version in SUPPORTED_VERSIONS:
        chain = Toolchain(version)
        for tool in (*_LLVM_TOOLS, *_MLIR_TOOLS):
            if tool in _MLIR_TOOLS:
                required = version in mlir_versions
                package = mlir_packages(version)
                if not required:
                    package += f" (replaces MLIR {mlir_versions[0]}; or see {MLIR_ROOT_VARIABLE} in the README)"
            else:
                required = version == DEFAULT_VERSION and tool != "llvm-exegesis"
                package = package_of(tool, version)
            path = str(chain.tool(tool)) if chain.has(tool) else None
            statuses.append(ToolStatus(f"{tool_name(tool, version)}-{version}", path, _version(path) if path else "",
                                       f"sudo apt-get install {package}", required))  # fmt: skip
    for tool, package in _OTHER_TOOLS.items():
        path = shutil.which(tool)
        statuses.append(ToolStatus(tool, path, _version(path) if path and tool != "callgrind_annotate" else "",
                                   f"sudo apt-get install {package}", tool != "csmith"))  # fmt: skip
    csmith_header = Path("/usr/include/csmith/csmith.h")
    statuses.append(ToolStatus("csmith.h", str(csmith_header) if csmith_header.exists() else None, "",
                               "sudo apt-get install libcsmith-dev", False))  # fmt: skip
    return statuses
