"""The CPU as `mlgo_env.machine` reports it, checked against independent sources on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlgo_env.machine import (
    MICROARCHITECTURES,
    CacheLevel,
    CpuMismatch,
    check_cpu,
    host,
    microarchitecture,
    read_caches,
)
from mlgo_env.toolchain import get_toolchain


def test_mcpu_is_what_clang_picks_for_march_native(tmp_path: Path) -> None:
    # clang resolves -march=native through its own host detection, a different path from llc's banner.
    source = tmp_path / "x.c"
    source.write_text("int x;\n")
    out = subprocess.run(
        [str(get_toolchain().clang), "-###", "-march=native", "-c", str(source)], capture_output=True, text=True
    )
    assert f'"-target-cpu" "{host().mcpu}"' in out.stderr


def test_cpuid_signature_matches_lscpu() -> None:
    if shutil.which("lscpu") is None:
        pytest.skip("lscpu is not installed")
    fields = {row["field"].rstrip(":"): row["data"] for row in json.loads(_run("lscpu", "-J"))["lscpu"]}
    cpu = host()
    assert cpu.vendor == fields["Vendor ID"]
    assert cpu.family == int(fields["CPU family"]) and cpu.model == int(fields["Model"])
    assert cpu.avx2 == ("avx2" in fields["Flags"].split())
    assert cpu.virtual == ("Hypervisor vendor" in fields)


def test_candidate_designs_are_the_cpus_own_or_under_a_hypervisor_its_vendors() -> None:
    cpu = host()
    designs = cpu.candidate_designs()
    own = microarchitecture(cpu.mcpu)
    if own is not None:
        assert designs[0] is own
    assert all(d.vendor == cpu.vendor for d in designs)
    if cpu.virtual:
        assert {d.name for d in designs} == {a.name for a in MICROARCHITECTURES.values() if a.vendor == cpu.vendor}
    else:
        assert designs == ([own] if own else [])


def test_caches_match_lscpu() -> None:
    if shutil.which("lscpu") is None:
        pytest.skip("lscpu is not installed")
    if Path("/sys/devices/cpu_atom").exists():
        # Hybrid Intel parts: lscpu's one row per level may describe the other core type than cpu0's.
        pytest.skip("hybrid CPU: lscpu's cache rows need not be cpu0's")
    rows = json.loads(_run("lscpu", "-J", "-B", "-C=LEVEL,TYPE,ONE-SIZE,WAYS,COHERENCY-SIZE,SETS"))["caches"]
    expected = {
        (int(r["level"]), r["type"]): (int(r["one-size"]), int(r["ways"]), int(r["coherency-size"]), int(r["sets"]))
        for r in rows
    }
    got = {(c.level, c.kind): (c.size, c.assoc, c.line_size, c.sets) for c in host().caches}
    assert got == expected
    llc = host().last_level_cache
    assert llc is not None and llc.level == max(level for level, kind in expected if kind == "Unified")


def test_allowed_cpus_are_the_affinity_mask() -> None:
    assert set(host().allowed_cpus) == os.sched_getaffinity(0)


def test_read_caches_skips_a_level_the_kernel_describes_in_part(tmp_path: Path) -> None:
    full = tmp_path / "index0"
    full.mkdir()
    for name, value in (("level", "1"), ("type", "Data"), ("size", "32K"), ("ways_of_associativity", "8"),
                        ("coherency_line_size", "64")):  # fmt: skip
        (full / name).write_text(value + "\n")
    partial = tmp_path / "index1"
    partial.mkdir()
    (partial / "level").write_text("3\n")
    assert read_caches(tmp_path) == (CacheLevel(1, "Data", 32 << 10, 8, 64),)


def test_check_cpu_warns_or_refuses() -> None:
    assert check_cpu("znver1", "znver1", "the model") is None
    message = check_cpu("znver4", "znver1", "the model")
    assert message is not None and "znver4" in message and "znver1" in message
    assert "does not record" in (check_cpu(None, "znver1", "the model") or "")
    with pytest.raises(CpuMismatch, match="made on znver4 but is used for skylake"):
        check_cpu("znver4", "skylake", "the model", refuse=True)


def test_table_entries_are_consistent() -> None:
    for name, arch in MICROARCHITECTURES.items():
        assert arch.name == name
        assert arch.issue_width >= arch.int_alus >= 1
        assert arch.latency["add rax, rbx"] == 1.0
    assert microarchitecture("no-such-cpu") is None


def test_doctor_prints_this_cpu() -> None:
    out = subprocess.run([sys.executable, "-m", "mlgo_env.cli", "doctor"], capture_output=True, text=True, timeout=300)
    assert host().mcpu in out.stdout
    assert "LLVM -mcpu" in out.stdout


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout
