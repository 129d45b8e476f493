from __future__ import annotations

import pytest

from mlgo_env.transform.library import Choice, ScheduleLibrary, bundled_payloads
from mlgo_env.transform.output import parse_output
from mlgo_env.transform.runner import OutputMismatch, ScheduleFailed
from rewards.kernel_time import KernelTimeReward


def test_parse_output_reads_result_and_times() -> None:
    stdout = (
        "Unranked Memref base@ = 0x1 rank = 1 offset = 0 sizes = [3] strides = [1] data = \n"
        "[1,  2.5,  -3e+02]\n0\nmlgo-time 0.25\nmlgo-sample 1\nmlgo-time 0.125\n"
    )
    out = parse_output(stdout)
    assert out.result.tolist() == [1.0, 2.5, -300.0]
    assert out.times == (0.25, 0.125)


@pytest.mark.parametrize("payload", sorted(bundled_payloads()))
def test_transform_default_pipeline_equals_pass_pipeline(payload, runner_factory, library, tmp_path) -> None:
    """The whole lowering runs inside the Transform dialect: same IR as the pass pipeline."""
    runner = runner_factory(payload)
    by_passes = runner.lower(None, tmp_path)
    by_passes_text = by_passes.read_text()
    by_schedule = runner.lower(library.compose_pipeline("pipeline_default"), tmp_path)
    assert by_schedule.read_text() == by_passes_text
    assert "llvm.func @main" in by_passes_text


def test_scheduled_matmul_matches_reference_and_times(runner_factory, library: ScheduleLibrary) -> None:
    runner = runner_factory("matmul")
    module = runner.build(library.compose_pipeline("pipeline_matmul_vectorized"))
    assert module.object_path.stat().st_size > 0
    output = runner.check(module)
    assert output.result.size == 192 * 192
    cost = KernelTimeReward(repeats=1).cost(module)
    assert cost > 0 and module.extra["timing"].calls == 10


def test_wrong_result_is_caught(runner_factory, library: ScheduleLibrary) -> None:
    runner = runner_factory("elementwise")
    module = runner.build(None)
    module.executable_path.write_text("#!/bin/sh\necho 'data = [1, 2, 3]'\necho 'mlgo-time 1.0'\n")
    with pytest.raises(OutputMismatch, match="3 values"):
        runner.check(module)


def test_failing_transform_raises_schedule_failed(runner_factory, library: ScheduleLibrary) -> None:
    runner = runner_factory("elementwise")
    with pytest.raises(ScheduleFailed) as caught:
        runner.check_schedule(library.compose([Choice(library["tile_decompose_conv"], (8, 8, 8))]))
    assert caught.value.stderr
