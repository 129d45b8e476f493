"""Worker directories, their cleanup after a kill, and corpus packing (no Ray needed)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from mlgo_env.corpus import Corpus
from mlgo_env.distributed.host import ServiceHost, pack_corpus, sweep_stale
from mlgo_env.service.proto import pb


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_sweep_removes_dead_workers_and_kills_their_processes(tmp_path: Path) -> None:
    stale = tmp_path / f"worker-{_dead_pid()}-123-abc"
    (stale / "tmp").mkdir(parents=True)
    orphan = subprocess.Popen(["sleep", "60"], cwd=stale / "tmp", start_new_session=True)
    live = tmp_path / f"worker-{os.getpid()}-{Path('/proc/self/stat').read_text().rsplit(')', 1)[1].split()[19]}-def"
    live.mkdir()
    foreign = tmp_path / "worker-notours"
    foreign.mkdir()
    assert sweep_stale(tmp_path) == [stale]
    assert orphan.wait(timeout=10) == -9
    assert not stale.exists() and live.exists() and foreign.exists()


def test_service_host_keeps_every_file_in_its_directory(mini_corpus: Corpus, tmp_path: Path) -> None:
    host = ServiceHost(mini_corpus.root, tmp_path)
    try:
        request = pb.StartSessionRequest(benchmark="sha256", config=pb.CompileConfig(task="inlining"))
        session = host.connection.call("StartSession", request)
        assert any(host.directory.glob("tmp/mlgo-session-*"))
        host.connection.call("EndSession", pb.EndSessionRequest(session_id=session.session_id))
    finally:
        host.close()
    assert list(tmp_path.iterdir()) == []


def test_packed_corpus_is_deterministic(mini_corpus: Corpus) -> None:
    first = pack_corpus(mini_corpus.root)
    time.sleep(0.01)
    (mini_corpus.root / "corpus_description.json").touch()
    assert pack_corpus(mini_corpus.root) == first
