"""One compile of one benchmark: the interactive session, the baseline compile, the artifacts.

The interactive session is a compiler asking decisions over its channel; the baseline is the
same compile with LLVM's own heuristic; artifacts are what rewards ask for.

Each compile runs in a private temporary directory that `close()` removes; the compiler runs in
its own process group, so closing kills it and anything it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from mlgo_env.artifacts import Artifact, CompiledModule, artifact_flags
from mlgo_env.compile_db import sanitize_command
from mlgo_env.corpus import OPT_LEVELS, Benchmark
from mlgo_env.errors import (
    CompilerCrashed,
    CompilerError,
    CompilerTimeout,
    EpisodeOver,
    MlgoEnvError,
    ProtocolError,
)
from mlgo_env.programs import link_program
from mlgo_env.protocol import Channel, ChannelHeader, Decision
from mlgo_env.tasks import Task
from mlgo_env.toolchain import Toolchain

__all__ = ["CompileOptions", "compile_command", "InteractiveCompile", "compile_baseline"]

T = TypeVar("T")


@dataclass(frozen=True)
class CompileOptions:
    """How to compile: optimisation level override, artifacts to prepare, timeouts."""

    opt_level: str | None = None
    artifacts: Artifact = Artifact.OBJECT
    decision_timeout: float = 60.0
    compile_timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.opt_level is not None and self.opt_level not in OPT_LEVELS:
            raise ValueError(f"opt_level must be one of {OPT_LEVELS}, got {self.opt_level!r}")


def compile_command(
    toolchain: Toolchain, benchmark: Benchmark, output: Path, options: CompileOptions, extra: list[str]
) -> list[str]:
    """The clang command that compiles `benchmark`'s bitcode to the object `output`."""
    recorded = sanitize_command(benchmark.options)
    if options.opt_level is not None:
        recorded = [o for o in recorded if o not in OPT_LEVELS] + [options.opt_level]
    if benchmark.is_cc1:
        command = [str(toolchain.clang), *recorded, "-emit-obj", "-x", "ir", str(benchmark.bitcode)]
    else:
        command = [str(toolchain.clang), "-fno-crash-diagnostics", *recorded, "-c", "-x", "ir", str(benchmark.bitcode)]
    return [*command, *artifact_flags(options.artifacts), *extra, "-o", str(output)]


_SETPRIV = shutil.which("setpriv")


def _die_with_parent(command: list[str]) -> list[str]:
    """Make the compiler get SIGKILL if its host dies (util-linux's setpriv sets PR_SET_PDEATHSIG).

    A compiler whose host vanished mid-episode reads EOF from its advice pipe forever, spinning
    a core: LLVM does not treat that EOF as an error. Without setpriv (not Linux) the host's own
    cleanup (`close()`, the service's shutdown and idle reaping) is the only guard.
    """
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *command] if _SETPRIV else command


class _Workdir:
    """A private temporary directory that removes itself."""

    def __init__(self, root: Path | None, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        os.chmod(self.path, 0o700)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
        pass


def _prepare(
    toolchain: Toolchain, benchmark: Benchmark, workdir: Path, object_path: Path, artifacts: Artifact
) -> CompiledModule:
    module = CompiledModule(
        benchmark=benchmark.uri,
        object_path=object_path,
        toolchain=toolchain,
        workdir=workdir,
        artifacts=artifacts,
        program=benchmark.program,
        bitcode_path=benchmark.bitcode,
    )
    if Artifact.EXECUTABLE in artifacts:
        if benchmark.program is None:
            raise MlgoEnvError(f"{benchmark.uri} has no program description: it cannot be linked and run")
        module.executable_path = link_program(
            toolchain, [object_path], benchmark.program, workdir / f"{object_path.stem}.exe"
        )
    return module


def compile_baseline(
    toolchain: Toolchain, benchmark: Benchmark, options: CompileOptions, workdir: Path
) -> CompiledModule:
    """Compile `benchmark` with LLVM's own heuristics (no advisor) into `workdir`."""
    output = workdir / "baseline.o"
    command = compile_command(toolchain, benchmark, output, options, [])
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=options.compile_timeout)
    except subprocess.TimeoutExpired as exc:
        raise CompilerTimeout(f"baseline compile of {benchmark.uri} took over {options.compile_timeout:.0f} s") from exc
    if result.returncode != 0:
        raise CompilerCrashed(f"baseline compile of {benchmark.uri} failed (status {result.returncode})", result.stderr)
    return _prepare(toolchain, benchmark, workdir, output, options.artifacts)


class InteractiveCompile:
    """A compiler process asking one task's decisions over its channel, one `step` per decision.

    Usage: `start()` returns the first observation (or None if the compiler asked nothing);
    `step(action)` answers it and returns the next one (None when the compiler finished);
    `result()` gives the compiled module; `close()` always cleans up. Each of `start` and `step`
    is a write half and a read half (`spawn` then `read_header` and `receive`; `send` then
    `receive`), so that a host driving several compiles writes to all of them before it waits.
    """

    def __init__(
        self,
        toolchain: Toolchain,
        benchmark: Benchmark,
        task: Task,
        options: CompileOptions,
        include_default: bool = False,
        workdir_root: Path | None = None,
    ) -> None:
        self.toolchain = toolchain
        self.benchmark = benchmark
        self.task = task
        self.options = options
        self.include_default = include_default
        self._workdir = _Workdir(workdir_root, "mlgo-session-")
        self.workdir = self._workdir.path
        self.object_path = self.workdir / f"{benchmark.name.replace('/', '_')}.o"
        self.stderr_path = self.workdir / "compiler.stderr"
        self.process: subprocess.Popen | None = None
        self.channel: Channel | None = None
        self.observation: dict[str, np.ndarray] | None = None
        self.record = b""
        """The pending observation as one raw record in the header's feature order, repaired."""
        self.context: tuple[str, ...] = ()
        self.decisions = 0
        self.done = False
        self.started_at = 0.0
        self.compile_seconds = 0.0

    @property
    def header(self) -> ChannelHeader:
        """The channel header (after `start`)."""
        assert self.channel is not None and self.channel.header is not None
        return self.channel.header

    def stderr(self) -> str:
        """What the compiler printed on stderr so far."""
        try:
            return self.stderr_path.read_text(errors="replace")[-20000:]
        except FileNotFoundError:
            return ""

    def start(self) -> dict[str, np.ndarray] | None:
        """Start the compiler and return its first observation (None if it asks nothing)."""
        self.launch()
        return self.receive()

    def run_loop(self, loop: Callable[[Channel], int]) -> None:
        """After `launch`: `loop` answers every decision on the channel (a rollout loop), then the compile ends."""
        assert self.channel is not None
        channel = self.channel
        try:
            self.decisions += self._read(lambda: loop(channel))
        except MlgoEnvError:  # the policy's own errors (InvalidPolicy, InvalidAction) end the compile too
            self.close()
            raise
        if self.receive() is not None:
            raise ProtocolError("the rollout loop stopped before the compiler finished")

    def launch(self) -> None:
        """Start the compiler and read its channel header (`start` without reading the first decision)."""
        self.spawn()
        self.read_header()

    def spawn(self) -> None:
        """Start the compiler on its channel without waiting for it (the write half of `launch`)."""
        base = self.workdir / "channel"
        self.channel = Channel(
            base,
            alive=lambda: self.process is not None and self.process.poll() is None,
            timeout=self.options.decision_timeout,
        )
        extra = self.task.channel_flags(base, self.include_default)
        command = _die_with_parent(
            compile_command(self.toolchain, self.benchmark, self.object_path, self.options, extra)
        )
        self.started_at = time.monotonic()
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                cwd=self.workdir, start_new_session=True,
            )  # fmt: skip

    def read_header(self) -> None:
        """Wait for the compiler's channel header (the read half of `launch`); a failure closes the compile."""
        assert self.channel is not None
        try:
            self.channel.read_header()
        except CompilerCrashed:
            self._finish()  # raises with the compiler's own message when it failed
            self.close()
            raise
        except MlgoEnvError:
            self.close()
            raise

    def _read(self, read: Callable[[], T]) -> T:
        """`read` from the channel; on a failure the session closes and the error carries the compiler's stderr."""
        try:
            return read()
        except CompilerTimeout as exc:
            stderr = self.stderr()
            self.close()
            raise CompilerTimeout(str(exc), stderr) from None
        except CompilerError:
            stderr = self.stderr()
            self.close()
            if stderr:
                raise CompilerCrashed(f"the compiler failed while compiling {self.benchmark.uri}", stderr) from None
            raise

    def receive(self) -> dict[str, np.ndarray] | None:
        """Wait for the compiler's next observation (the read half of `start` and `step`); None when it finished."""
        assert self.channel is not None
        decision: Decision | None = self._read(self.channel.next_decision)
        if decision is None:
            self._finish()
            self.observation = None
            return None
        self.context = decision.context
        version = self.toolchain.version
        self.observation = self.task.repair_observation(self.header.decode(decision.raw), version, self.include_default)
        self.record = (
            self.header.encode(self.observation) if self.task.repairs(version, self.include_default) else decision.raw
        )
        return self.observation

    def step(self, action: object) -> dict[str, np.ndarray] | None:
        """Answer the pending decision with `action`; the next observation or None when done.

        Raises:
            EpisodeOver: the compile already finished.
            InvalidAction: `action` is illegal here (nothing is sent; the episode goes on).
        """
        self.send(action)
        return self.receive()

    def send(self, action: object) -> None:
        """Answer the pending decision with `action` without waiting for the next one (the write half of `step`).

        Raises:
            EpisodeOver: the compile already finished, or its pending decision was answered already.
            InvalidAction: `action` is illegal here (nothing is sent; the episode goes on).
        """
        if self.done or self.observation is None or self.channel is None:
            raise EpisodeOver(f"the compile of {self.benchmark.uri} has no decision pending: reset to start another")
        advice = self.task.check_action(action, self.observation)
        self.channel.send_advice(advice)
        self.decisions += 1
        self.observation = None  # answered: `receive` reads the next one

    def _finish(self) -> None:
        """Wait for the compiler to exit and check it succeeded."""
        assert self.process is not None
        remaining = max(1.0, self.options.compile_timeout - (time.monotonic() - self.started_at))
        try:
            returncode = self.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            stderr = self.stderr()
            self.close()
            raise CompilerTimeout(
                f"the compiler did not exit within {self.options.compile_timeout:.0f} s", stderr
            ) from None
        self.compile_seconds = time.monotonic() - self.started_at
        self.done = True
        if returncode != 0:
            stderr = self.stderr()
            self.close()
            reason = f"signal {-returncode}" if returncode < 0 else f"status {returncode}"
            raise CompilerCrashed(f"the compiler exited with {reason} while compiling {self.benchmark.uri}", stderr)
        if not self.object_path.is_file():
            raise CompilerError(f"the compiler exited without writing {self.object_path.name}", self.stderr())

    def result(self, artifacts: Artifact | None = None) -> CompiledModule:
        """The compiled module with `artifacts` prepared (after the compile finished)."""
        if not self.done:
            raise MlgoEnvError("the compile has not finished yet")
        return _prepare(
            self.toolchain,
            self.benchmark,
            self.workdir,
            self.object_path,
            artifacts if artifacts is not None else self.options.artifacts,
        )

    def close(self) -> None:
        """Kill the compiler if it still runs, close the pipes, remove the directory."""
        if self.process is not None:
            _kill_group(self.process)
        if self.channel is not None:
            self.channel.close()
        self._workdir.remove()
        self.done = True

    def __enter__(self) -> InteractiveCompile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
