"""The load-latency probe: real clang, a real pointer chase on this machine's caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgo_env import load_latency
from mlgo_env.load_latency import LevelCost
from mlgo_env.machine import CacheLevel, host


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLGO_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(load_latency, "_MEASURED", {})
    return tmp_path


def test_every_data_cache_is_measured_and_memory_is_slowest(monkeypatch: pytest.MonkeyPatch) -> None:
    measured = load_latency.measure()
    levels = [c.level for c in host().caches if c.kind in ("Data", "Unified")]
    assert [level for level, _ in measured.levels] == sorted(levels)
    l1 = measured.at(1)
    assert l1.latency >= 1.0  # a load takes at least a cycle, whatever the core
    assert measured.memory.latency > 2 * l1.latency  # four times the last level: served by memory
    assert measured.memory.latency >= max(cost.latency for _, cost in measured.levels) * 0.9
    # a sweep the prefetchers follow costs less per line than a chase through the same memory
    assert measured.memory.stream < measured.memory.latency and measured.memory.stream > l1.stream
    # independent random loads overlap: from memory each costs far less than a dependent one
    assert all(cost.overlapped is not None for _, cost in measured.levels)
    assert measured.memory.overlapped is not None and measured.memory.overlapped < measured.memory.latency / 2
    # a page fault zeroes a page: dearer than sweeping its lines from the first level
    assert measured.page_fault > (4096 // measured.line_size) * l1.stream
    with pytest.raises(KeyError, match="L9"):
        measured.at(9)
    caches = load_latency.data_caches()
    assert measured.beyond(1 << 62) == ((load_latency.working_sets(caches)[-1], measured.memory),)
    # the last level holds at least its own working set
    held = measured.effective_last_level(caches[-1].size)
    assert min(caches[-1].size, 2 * load_latency.working_sets(caches)[len(caches) - 1]) <= held <= caches[-1].size

    def fail(*args: object) -> list[float]:
        raise AssertionError("measured twice")

    monkeypatch.setattr(load_latency, "_run_probe", fail)
    monkeypatch.setattr(load_latency, "_MEASURED", {})
    assert load_latency.measure() == measured  # from the disk cache: once per machine


def test_costs_between_measured_working_sets_are_interpolated_in_log_size() -> None:
    points = [(1 << 20, LevelCost(10.0, 1.0, 2.0)), (1 << 22, LevelCost(30.0, 3.0, None))]
    assert load_latency.interpolate(points, 1 << 10) == points[0][1]
    assert load_latency.interpolate(points, 1 << 30) == points[1][1]
    halfway = load_latency.interpolate(points, 1 << 21)
    assert halfway.latency == pytest.approx(20.0) and halfway.stream == pytest.approx(2.0)
    assert halfway.overlapped is None  # unknown at one end: unknown between
    with pytest.raises(ValueError, match="no measured"):
        load_latency.interpolate([], 1)


def test_a_machine_without_data_caches_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoCaches:
        caches = ()

        def record(self) -> dict[str, str]:
            return {}

    monkeypatch.setattr(load_latency, "host", lambda: NoCaches())
    with pytest.raises(load_latency.LoadLatencyError, match="no data caches"):
        load_latency.measure()


def _level(kb: int, level: int) -> CacheLevel:
    return CacheLevel(level, "Data" if level == 1 else "Unified", kb << 10, 8, 64)


def test_the_last_level_is_measured_where_it_surely_holds_and_doubled_to_half_of_it() -> None:
    zen4 = [_level(32, 1), _level(1 << 10, 2), _level(32 << 10, 3)]
    assert load_latency.working_sets(zen4) == [16 << 10, 512 << 10, 4 << 20, 128 << 20]
    assert load_latency.reach_sets(zen4) == [8 << 20, 16 << 20]
    guest = [_level(48, 1), _level(2 << 10, 2), _level(480 << 10, 3)]
    assert load_latency.working_sets(guest)[2] == 8 << 20
    assert load_latency.reach_sets(guest) == [16 << 20, 32 << 20, 64 << 20, 128 << 20, 240 << 20]
    assert load_latency.reach_sets([_level(32, 1)]) == []  # one level: nothing in between


def test_the_effective_last_level_ends_where_chases_cost_like_memory() -> None:
    def latencies(*reach: float) -> load_latency.LoadLatencies:
        sizes = [16 << 20, 32 << 20, 64 << 20]
        return load_latency.LoadLatencies(
            ((1, LevelCost(5, 1)), (3, LevelCost(100, 8))), LevelCost(1600, 17), 64,
            tuple((n, LevelCost(r, 9)) for n, r in zip(sizes, reach, strict=True)),
        )  # fmt: skip

    told = 480 << 20
    assert latencies(150, 300, 350).effective_last_level(told) == told  # every doubling hits (threshold 400)
    assert latencies(150, 600, 700).effective_last_level(told) == 32 << 20  # 16 MiB held, 32 missed
    assert latencies(500, 600, 700).effective_last_level(told) == 16 << 20  # only its own 8 MiB
    assert load_latency.LoadLatencies(((1, LevelCost(5, 1)),), LevelCost(99, 9), 64).effective_last_level(told) == told
