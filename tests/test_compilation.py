"""Interactive compiles with real clang-19: determinism, bad input, crashes and hangs, cleanup."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from mlgo_env.compilation import CompileOptions, InteractiveCompile
from mlgo_env.corpus import Benchmark
from mlgo_env.episode import run_episode
from mlgo_env.errors import (
    CompilerCrashed,
    CompilerTimeout,
    EpisodeOver,
    InvalidAction,
    ToolNotFound,
)
from mlgo_env.tasks import get_task
from mlgo_env.toolchain import Toolchain, get_toolchain


def _run(benchmark: Benchmark, toolchain: Toolchain, actions: list[int] | int, tmp: Path) -> tuple[bytes, int]:
    trajectory = run_episode(
        benchmark, "inlining", (lambda o: actions) if isinstance(actions, int) else _sequence(actions),
        toolchain=toolchain, options=CompileOptions(opt_level="-Oz"), keep_dir=tmp,
    )  # fmt: skip
    assert trajectory.object_path is not None
    return trajectory.object_path.read_bytes(), trajectory.decisions


def _sequence(actions: list[int]):
    iterator = iter(actions)
    return lambda observation: next(iterator, 0)


def test_same_actions_same_object(mini_corpus, toolchain, tmp_path: Path) -> None:
    benchmark = mini_corpus.benchmark("sha256")
    pattern = [i % 2 for i in range(10_000)]
    first, decisions = _run(benchmark, toolchain, pattern, tmp_path / "a")
    second, again = _run(benchmark, toolchain, pattern, tmp_path / "b")
    assert decisions == again > 0
    assert first == second


def test_always_and_never_inline_differ(mini_corpus, toolchain, tmp_path: Path) -> None:
    benchmark = mini_corpus.benchmark("huffman")
    never, never_decisions = _run(benchmark, toolchain, 0, tmp_path / "never")
    always, always_decisions = _run(benchmark, toolchain, 1, tmp_path / "always")
    assert never != always
    assert never_decisions > 0 and always_decisions > 0
    # Never inlining keeps every static helper as a function; always inlining folds them away.
    assert _function_symbols(never) > _function_symbols(always)


def _function_symbols(obj: bytes) -> int:
    import io

    from elftools.elf.elffile import ELFFile

    symbols = ELFFile(io.BytesIO(obj)).get_section_by_name(".symtab")
    return sum(1 for s in symbols.iter_symbols() if s["st_info"]["type"] == "STT_FUNC")


def test_invalid_action_leaves_the_episode_going(mini_corpus, toolchain) -> None:
    with InteractiveCompile(
        toolchain, mini_corpus.benchmark("sha256"), get_task("inlining"), CompileOptions()
    ) as session:
        observation = session.start()
        assert observation is not None
        with pytest.raises(InvalidAction):
            session.step(7)
        with pytest.raises(InvalidAction):
            session.step([0, 1])
        while observation is not None:
            observation = session.step(0)
        with pytest.raises(EpisodeOver):
            session.step(0)
        assert session.result().object_path.is_file()


def test_masked_eviction_is_refused(mini_corpus, toolchain) -> None:
    task = get_task("regalloc_eviction")
    with InteractiveCompile(toolchain, mini_corpus.benchmark("nbody"), task, CompileOptions()) as session:
        observation = session.start()
        assert observation is not None, "nbody must ask eviction decisions"
        mask = task.action_mask(observation)
        illegal = [i for i, legal in enumerate(mask) if not legal]
        assert illegal, "some candidate registers are not legal"
        with pytest.raises(InvalidAction, match="masked"):
            session.step(illegal[0])
        with pytest.raises(InvalidAction):
            session.step(len(mask))


@pytest.mark.parametrize(
    ("task_name", "include_default", "repaired"),
    [("inlining", True, True), ("inlining", False, False), ("regalloc_eviction", False, False)],
)
def test_the_served_record_is_the_repaired_observation(
    mini_corpus, toolchain, task_name: str, include_default: bool, repaired: bool
) -> None:
    task = get_task(task_name)
    benchmark = mini_corpus.benchmark("nbody")
    with InteractiveCompile(toolchain, benchmark, task, CompileOptions(), include_default=include_default) as session:
        observation = session.start()
        assert observation is not None
        assert task.repairs(toolchain.version, include_default) == (repaired and toolchain.version < 20)
        served = session.header.decode(session.record)
        assert served.keys() == observation.keys()
        for name, array in observation.items():
            np.testing.assert_array_equal(served[name], array, err_msg=name)
        if task.repairs(toolchain.version, include_default):
            assert (served["callee_basic_block_count"] == -1).all()


def test_corrupt_bitcode_is_a_clear_error(tmp_path: Path, toolchain) -> None:
    bitcode = tmp_path / "bad.bc"
    bitcode.write_bytes(b"BC\xc0\xde" + os.urandom(64))
    benchmark = Benchmark(uri="benchmark://t/bad", name="bad", bitcode=bitcode, options=("-O2",))
    with pytest.raises(CompilerCrashed) as raised:
        with InteractiveCompile(toolchain, benchmark, get_task("inlining"), CompileOptions()) as session:
            session.start()
    assert "error" in raised.value.stderr.lower()
    assert not session.workdir.exists()


def _kill_mid_episode(mini_corpus, toolchain, signum: int, timeout: float) -> InteractiveCompile:
    session = InteractiveCompile(toolchain, mini_corpus.benchmark("sha256"), get_task("inlining"),
                                 CompileOptions(decision_timeout=timeout))  # fmt: skip
    assert session.start() is not None
    assert session.process is not None
    os.kill(session.process.pid, signum)
    return session


def test_compiler_crash_mid_episode(mini_corpus, toolchain) -> None:
    session = _kill_mid_episode(mini_corpus, toolchain, signal.SIGSEGV, timeout=30)
    # clang catches the signal in its cc1 and exits 1, reporting "exit code 139" (128 + SIGSEGV).
    with pytest.raises(CompilerCrashed, match="exit code 139|signal 11"):
        while True:
            session.step(0)
    assert not session.workdir.exists()
    assert session.process is not None and session.process.poll() is not None


def test_compiler_hang_mid_episode(mini_corpus, toolchain, child_compilers) -> None:
    session = _kill_mid_episode(mini_corpus, toolchain, signal.SIGSTOP, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(CompilerTimeout):
        while True:
            session.step(0)
    assert time.monotonic() - start < 30
    assert not session.workdir.exists()
    assert session.process is not None and session.process.poll() is not None
    assert session.process.pid not in child_compilers()


def test_missing_tool_names_the_package() -> None:
    with pytest.raises(ToolNotFound, match="apt-get install llvm-19"):
        Toolchain(19).tool("llvm-does-not-exist")
    with pytest.raises(ToolNotFound, match="not supported"):
        get_toolchain(7)


def test_episode_without_decisions_finishes(tmp_path: Path, toolchain) -> None:
    source = tmp_path / "leaf.c"
    source.write_text("int leaf(int x) { return x + 1; }\n")
    bitcode = tmp_path / "leaf.bc"
    import subprocess

    subprocess.run([str(toolchain.clang), "-O2", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-c", str(source),
                    "-o", str(bitcode)], check=True)  # fmt: skip
    benchmark = Benchmark(uri="benchmark://t/leaf", name="leaf", bitcode=bitcode, options=("-O2",))
    with InteractiveCompile(toolchain, benchmark, get_task("inlining"), CompileOptions()) as session:
        assert session.start() is None
        assert session.done and session.result().object_path.is_file()


@pytest.mark.parametrize("version", [19, 22])
def test_following_llvm_default_is_the_plain_compile(version: int, tmp_path: Path) -> None:
    from mlgo_env.compilation import compile_baseline
    from mlgo_env.corpus import build_from_programs
    from mlgo_env.toolchain import installed_versions

    if version not in installed_versions():
        pytest.skip(f"LLVM {version} is not installed (optional)")
    import json
    import shutil

    from mlgo_env.corpus import BUNDLED_PROGRAMS

    source = tmp_path / "src"
    for name in ("binsearch", "btree"):
        shutil.copytree(BUNDLED_PROGRAMS / name, source / name)
    (source / "split.json").write_text(json.dumps({"train": ["binsearch", "btree"]}))
    toolchain = get_toolchain(version)
    corpus = build_from_programs(source, tmp_path / "corpus", toolchain)
    options = CompileOptions(opt_level="-Oz")
    for benchmark in corpus:
        followed = run_episode(
            benchmark, "inlining", "llvm-default", toolchain=toolchain, options=options, keep_dir=tmp_path / "k"
        )
        plain = compile_baseline(toolchain, benchmark, options, tmp_path)
        defaults = followed.observations["inlining_default"].reshape(-1)
        assert 0 < defaults.sum() < defaults.size, "LLVM inlines some call sites and not others"
        assert followed.object_path is not None
        assert _text(followed.object_path.read_bytes()) == _text(plain.object_path.read_bytes())


def _text(obj: bytes) -> bytes:
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(obj))
    return b"".join(s.data() for s in elf.iter_sections() if s.name.startswith(".text"))


def test_scored_episode_compiles_at_the_baseline_level(mini_corpus, toolchain) -> None:
    import rewards
    from mlgo_env.scoring import Scorer

    scorer = Scorer(rewards.get("size"), toolchain, CompileOptions(opt_level="-Oz"))
    benchmark = mini_corpus.benchmark("sha256")
    followed = run_episode(benchmark, "inlining", "llvm-default", scorer=scorer, toolchain=toolchain)
    assert followed.score is not None and followed.score.reward == 0.0  # same compile as the -Oz baseline
    with pytest.raises(ValueError, match="baseline"):
        run_episode(benchmark, "inlining", "never", scorer=scorer, options=CompileOptions(opt_level="-O2"))


def test_scorer_costs_the_baseline_before_the_variant(mini_corpus, toolchain) -> None:
    """A reward that profiles a program once (perf_model) must see LLVM's own build first."""
    from mlgo_env.scoring import Scorer
    from rewards.base import CompiledModule, Reward
    from rewards.size import text_size

    class RecordingSize(Reward):
        name = "recording-size"

        def __init__(self) -> None:
            self.seen: list[str] = []

        def cost(self, module: CompiledModule) -> float:
            self.seen.append(module.object_path.name)
            return float(text_size(module.object_path))

    reward = RecordingSize()
    scorer = Scorer(reward, toolchain, CompileOptions(opt_level="-Oz"))
    run_episode(mini_corpus.benchmark("sha256"), "inlining", "never", scorer=scorer, toolchain=toolchain)
    assert len(reward.seen) == 2 and reward.seen[0].startswith("baseline"), reward.seen

    reward.seen.clear()
    scorer = Scorer(reward, toolchain, CompileOptions(opt_level="-Oz"))
    with ThreadPoolExecutor(max_workers=4) as pool:  # asked at once, computed once
        costs = set(pool.map(lambda _: scorer.baseline_cost(mini_corpus.benchmark("sha256")), range(4)))
    assert len(costs) == 1 and reward.seen == ["baseline.o"]
