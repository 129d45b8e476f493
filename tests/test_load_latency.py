"""The load-latency probe: real clang, a real pointer chase on this machine's caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgo_env import load_latency
from mlgo_env.machine import host


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
    with pytest.raises(KeyError, match="L9"):
        measured.at(9)

    def fail(*args: object) -> list[float]:
        raise AssertionError("measured twice")

    monkeypatch.setattr(load_latency, "_run_probe", fail)
    monkeypatch.setattr(load_latency, "_MEASURED", {})
    assert load_latency.measure() == measured  # from the disk cache: once per machine


def test_a_machine_without_data_caches_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoCaches:
        caches = ()

        def record(self) -> dict[str, str]:
            return {}

    monkeypatch.setattr(load_latency, "host", lambda: NoCaches())
    with pytest.raises(load_latency.LoadLatencyError, match="no data caches"):
        load_latency.measure()
