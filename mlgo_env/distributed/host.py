"""What a Ray worker process needs on its node: the corpus, a private directory, a compiler service.

Cleanup follows the local service's rules (sessions end on request, on errors, when idle and on
shutdown), plus one rule for workers killed without warning (``ray.kill``, the OOM killer, a lost
node coming back): every worker keeps all its files under its own directory, named after its
process, and the next worker to start or stop on that node removes the directories of dead
workers and kills the compilers still running in them.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import signal
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgo_env.errors import CorpusError
from mlgo_env.service.client import ServiceConnection
from mlgo_env.service.server import ServiceConfig, start_server

__all__ = ["CorpusRef", "ServiceHost", "default_root", "pack_corpus", "sweep_stale"]

_WORKER_PREFIX = "worker-"


def default_root() -> Path:
    """Where workers keep their files on a node: ``$TMPDIR/mlgo-ray-<uid>``."""
    return Path(tempfile.gettempdir()) / f"mlgo-ray-{os.getuid()}"


# -- the corpus on every node ---------------------------------------------------------------------


def pack_corpus(root: Path) -> bytes:
    """A corpus directory as tar bytes, identical for identical contents (the digest names it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(path, "rb") as data:
                tar.addfile(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class CorpusRef:
    """How workers reach the corpus: a path every node shares, or its bytes in Ray's object store.

    Shipped corpora are put into the object store once; each node fetches and unpacks them once
    (into ``<root>/corpus-<digest>``), however many workers it runs.
    """

    path: str | None = None
    packed: Any = None
    """`ray.ObjectRef` of `pack_corpus`'s bytes (None for a shared path)."""
    digest: str = ""

    @classmethod
    def shared(cls, path: Path) -> CorpusRef:
        """A corpus at `path` on every node (an NFS mount, or a single-node cluster)."""
        return cls(path=str(Path(path).resolve()))

    @classmethod
    def ship(cls, path: Path) -> CorpusRef:
        """Put the corpus at `path` (on this machine) into the object store for every node."""
        from mlgo_env.distributed import require_ray

        data = pack_corpus(Path(path))
        return cls(packed=require_ray().put(data), digest=hashlib.sha256(data).hexdigest()[:16])

    def materialize(self, root: Path) -> Path:
        """The corpus directory on this node, unpacked on first use (safe across processes).

        Raises:
            CorpusError: a shared path is not visible on this node.
        """
        if self.path is not None:
            if not (Path(self.path) / "corpus_description.json").is_file():
                raise CorpusError(
                    f"the shared corpus {self.path} is not visible on this node; "
                    "mount it on every node or let mlgo-env ship it (share_corpus=False)"
                )
            return Path(self.path)
        target = root / f"corpus-{self.digest}"
        if (target / "corpus_description.json").is_file():
            return target
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"corpus-{self.digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "corpus_description.json").is_file():
                from mlgo_env.distributed import require_ray

                data = require_ray().get(self.packed)
                staging = Path(tempfile.mkdtemp(prefix=f"corpus-{self.digest}-", dir=root))
                try:
                    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                        tar.extractall(staging, filter="data")
                    staging.rename(target)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
        return target


# -- worker directories and their cleanup ---------------------------------------------------------


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, which tells a reused pid apart.

    Returns "0" where there is no ``/proc`` (the pid alone then identifies the owner), and None
    when the process does not exist.
    """
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "0"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _owner_alive(directory: Path) -> bool:
    """Whether the process that made `directory` (``worker-<pid>-<start>-…``) still runs."""
    try:
        _, pid, start, _ = directory.name.split("-", 3)
        return _start_ticks(int(pid)) == start
    except ValueError:
        return True  # not one of ours: leave it alone


def _kill_processes_in(directory: Path) -> None:
    """SIGKILL this user's processes that run in `directory` or name a file under it."""
    prefix = str(directory) + os.sep
    if not Path("/proc").is_dir():
        return
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or entry.stat().st_uid != os.getuid():
                continue
            cwd = os.readlink(entry / "cwd") + os.sep
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if cwd.startswith(prefix) or any(arg.startswith(prefix) for arg in argv):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def sweep_stale(root: Path) -> list[Path]:
    """Remove the directories of dead workers under `root`; returns those removed."""
    removed = []
    for directory in root.glob(f"{_WORKER_PREFIX}*"):
        if directory.is_dir() and not _owner_alive(directory):
            _kill_processes_in(directory)
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


class ServiceHost:
    """A compiler service inside this process, on a Unix socket in a private directory.

    Every file the service writes (sessions, rollouts, baselines) goes under `directory`: the
    host points this process's `tempfile` default there, which is why one process runs one host.

    Args:
        corpus: the corpus directory the service serves.
        root: the node's directory for workers (see `default_root`).
        idle_timeout: seconds after which the service closes a session nobody uses.
    """

    def __init__(self, corpus: Path, root: Path, idle_timeout: float = 600.0) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        sweep_stale(root)
        self.root = root
        prefix = f"{_WORKER_PREFIX}{os.getpid()}-{_start_ticks(os.getpid())}-"
        self.directory = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        scratch = self.directory / "tmp"
        scratch.mkdir()
        self._previous_tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)
        self.address = f"unix:{self.directory / 'service.sock'}"
        config = ServiceConfig(corpus=corpus, workdir=scratch, idle_timeout=idle_timeout)
        self._server, self._servicer, _ = start_server(self.address, config, workers=4)
        self.connection = ServiceConnection(self.address)

    def close(self) -> None:
        """Close every session (kills compilers), stop the service, remove the directory."""
        self.connection.close()
        self._servicer.shutdown()
        self._server.stop(grace=1).wait()
        tempfile.tempdir = self._previous_tempdir
        shutil.rmtree(self.directory, ignore_errors=True)
        sweep_stale(self.root)
