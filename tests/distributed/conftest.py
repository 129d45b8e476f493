"""Fixtures of the distributed tests: one local Ray for the whole run, and helpers to find the
compilers and worker processes the tests kill or stop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

NO_RAY = "Ray is not installed (optional extra): pip install 'mlgo-env[distributed]'"


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray with 2 CPUs, started by the tests and shared by them (it takes ~20 s to start)."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture
def worker_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private directory for the workers' files (short: it holds the services' Unix sockets)."""
    return tmp_path_factory.mktemp("ray")


def compilers_under(root: Path) -> dict[int, int]:
    """Interactive compilers running under `root`: compiler pid → pid of the worker that owns it."""
    found = {}
    prefix = str(root) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd") + os.sep
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if cwd.startswith(prefix) and b"-channel-base=" in cmdline and "State:\tZ" not in status:
            found[int(entry.name)] = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")
            )
    return found
