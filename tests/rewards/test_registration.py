"""The LLVM-backed rewards are registered, and `import rewards` stays light and runs no tool."""

from __future__ import annotations

import subprocess
import sys

import rewards
from mlgo_env.artifacts import Artifact


def test_registered_with_what_they_need() -> None:
    assert {"mca", "perf_model", "runtime"} <= set(rewards.available())
    assert rewards.get("mca").requires == Artifact.OBJECT | Artifact.BB_ADDR_MAP
    needs = rewards.get("perf_model").requires
    assert Artifact.BB_ADDR_MAP in needs and Artifact.DEBUG_INFO in needs and Artifact.EXECUTABLE in needs
    runtime = rewards.get("runtime")
    assert Artifact.EXECUTABLE in runtime.requires and not runtime.deterministic and runtime.platform_dependent


def test_import_is_light() -> None:
    probe = "import sys, rewards; print(sorted({'capstone', 'scipy', 'mlgo_env.mca'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_pinned_options_are_accepted_over_the_wire() -> None:
    # What a Ray driver pins is what its workers' services must accept.
    for name in ("size", "mca", "perf_model"):
        pinned = rewards.pinned_options(name)
        assert rewards.check_wire_options(name, pinned) == pinned
