"""What `mlgo-env doctor` checks: tools, install commands for missing ones, hardware counters.

Each tool is reported with its path and version; a missing one with the command that installs
it; and whether hardware performance counters work on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.toolchain import SUPPORTED_VERSIONS, Toolchain

__all__ = ["ToolStatus", "check_tools", "hardware_counters"]

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
    "mlir-opt",
    "mlir-cpu-runner",
)
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
    """The status of every tool mlgo-env can use (LLVM 19 required; LLVM 22 optional)."""
    statuses: list[ToolStatus] = []
    for version in SUPPORTED_VERSIONS:
        chain = Toolchain(version)
        for tool in _LLVM_TOOLS:
            required = version == 19 and tool not in ("llvm-exegesis",)
            package = {"ld.lld": f"lld-{version}", "clang": f"clang-{version}"}.get(tool, f"llvm-{version}")
            if tool.startswith("mlir"):
                package = f"mlir-{version}-tools libmlir-{version}-dev"
            path = str(chain.tool(tool)) if chain.has(tool) else None
            statuses.append(ToolStatus(f"{tool}-{version}", path, _version(path) if path else "",
                                       f"sudo apt-get install {package}", required))  # fmt: skip
    for tool, package in _OTHER_TOOLS.items():
        path = shutil.which(tool)
        statuses.append(ToolStatus(tool, path, _version(path) if path and tool != "callgrind_annotate" else "",
                                   f"sudo apt-get install {package}", tool != "csmith"))  # fmt: skip
    csmith_header = Path("/usr/include/csmith/csmith.h")
    statuses.append(ToolStatus("csmith.h", str(csmith_header) if csmith_header.exists() else None, "",
                               "sudo apt-get install libcsmith-dev", False))  # fmt: skip
    return statuses


def hardware_counters() -> tuple[bool, str]:
    """Whether hardware performance counters can be read here (llvm-exegesis needs them).

    Tries ``llvm-exegesis-19 -mode=latency`` on one instruction; on VMs without a PMU it fails
    with "Failed to read event counter".
    """
    chain = Toolchain(19)
    if not chain.has("llvm-exegesis"):
        return False, "llvm-exegesis-19 is not installed (sudo apt-get install llvm-19)"
    with tempfile.TemporaryDirectory() as tmp:
        snippet = Path(tmp) / "add.s"
        snippet.write_text("addq %rbx, %rax\n")
        try:
            out = subprocess.run(
                [str(chain.tool("llvm-exegesis")), "-mode=latency", f"-snippets-file={snippet}"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False, "llvm-exegesis timed out"
    text = out.stdout + out.stderr
    if out.returncode == 0 and "measurements" in text and "error" not in text.lower():
        return True, "llvm-exegesis measured a snippet: hardware counters work"
    reason = next(
        (line for line in text.splitlines() if "counter" in line.lower() or "error" in line.lower()), text[:200]
    )
    return False, f"hardware counters unusable: {reason.strip()} (the timing harness without counters is used instead)"
