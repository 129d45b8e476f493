"""Shared fixtures: the real LLVM toolchain, a small corpus of bundled programs, a real service."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgo_env.corpus import BUNDLED_PROGRAMS, Corpus, build_from_programs
from mlgo_env.toolchain import Toolchain, get_toolchain

# Three real programs of the bundled corpus: enough decisions of every kind, quick to compile.
MINI_PROGRAMS = {"train": ["sha256", "nbody"], "test": ["huffman"]}


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """LLVM 19, or ``$MLGO_LLVM_VERSION`` (CI runs the env tests on 22 too); fails loudly (never skips) when missing."""
    return get_toolchain()


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Corpus:
    """A corpus built from three bundled programs, with a train/test split."""
    source = tmp_path_factory.mktemp("programs")
    for name in sum(MINI_PROGRAMS.values(), []):
        shutil.copytree(BUNDLED_PROGRAMS / name, source / name)
    (source / "split.json").write_text(json.dumps(MINI_PROGRAMS))
    return build_from_programs(source, tmp_path_factory.mktemp("corpus"), toolchain, name="mini-v0")


@pytest.fixture(scope="session")
def service_address(mini_corpus: Corpus) -> Iterator[str]:
    """A real gRPC compiler service on loopback serving the mini corpus."""
    from mlgo_env.service.server import ServiceConfig, start_server

    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=mini_corpus.root, insecure=True))
    yield f"127.0.0.1:{port}"
    servicer.shutdown()
    server.stop(grace=1).wait()


@pytest.fixture
def child_compilers():
    """Returns the PIDs of clang/llc processes with an MLGO channel that are children of this process."""
    return _child_compilers


def _child_compilers() -> list[int]:
    import os

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if cmdline and Path(cmdline[0].decode(errors="replace")).name.startswith(("clang", "llc")):
            if "-channel-base=" in b" ".join(cmdline).decode(errors="replace"):
                ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
                if ppid == os.getpid():
                    found.append(int(entry.name))
    return found
