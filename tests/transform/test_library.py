from __future__ import annotations

from pathlib import Path

import pytest

from mlgo_env.transform.checker import check_library, verify_mlir
from mlgo_env.transform.library import Choice, ScheduleLibrary


def test_library_parses_phases_params_and_docs(library: ScheduleLibrary) -> None:
    tile = library["tile_loops_3d"]
    assert tile.phase == "tensor"
    assert [p.name for p in tile.params] == ["t0", "t1", "t2"]
    assert tile.params[0].choices == (0, 4, 8, 16, 32, 64)
    assert "three outer loops" in tile.doc
    assert {"bufferize", "lower_to_llvm"} <= {s.name for s in library.all()}
    assert all(s.phase in ("tensor", "buffer") for s in library.steps())
    assert {p.name for p in library.pipelines()} >= {"pipeline_default", "pipeline_matmul_vectorized"}


def test_every_schedule_verifies(library: ScheduleLibrary, tools) -> None:
    assert check_library(library, tools) == []


def test_checker_reports_a_broken_schedule(tmp_path: Path, library: ScheduleLibrary, tools) -> None:
    broken = tmp_path / "broken.mlir"
    broken.write_text(
        "module attributes {transform.with_named_sequence} {\n"
        "  // Includes a sequence that does not exist.\n"
        "  transform.named_sequence @broken(%root: !transform.any_op {transform.readonly})\n"
        '      attributes {mlgo.phase = "tensor"} {\n'
        "    transform.include @missing failures(propagate) (%root) : (!transform.any_op) -> ()\n"
        "    transform.yield\n"
        "  }\n"
        "}\n"
    )
    failures = check_library(ScheduleLibrary.load([broken]), tools)
    assert failures and failures[0].subject == "library"
    assert any("@broken" in f.subject and "missing" in f.message for f in failures)


def test_composed_schedule_is_self_contained(library: ScheduleLibrary, tools) -> None:
    text = library.compose(
        [Choice(library["tile_fuse_2d"], (32, 32)), Choice(library["vectorize"]), Choice(library["hoist_transfers"])]
    )
    assert verify_mlir(text, tools) is None
    main = text[text.index("@__transform_main") :]
    assert main.index("@tile_fuse_2d") < main.index("@bufferize") < main.index("@hoist_transfers")
    assert main.index("@hoist_transfers") < main.index("@lower_to_llvm")


def test_compose_rejects_tensor_step_after_buffer_step(library: ScheduleLibrary) -> None:
    with pytest.raises(ValueError, match="already bufferized"):
        library.compose([Choice(library["hoist_transfers"]), Choice(library["vectorize"])])


def test_choice_checks_parameter_count(library: ScheduleLibrary) -> None:
    with pytest.raises(ValueError, match="takes 2 parameter"):
        Choice(library["tile_fuse_2d"], (8,))


def test_unknown_schedule_suggests_names(library: ScheduleLibrary) -> None:
    with pytest.raises(KeyError, match="Did you mean: tile_fuse_2d"):
        library["tile_fuse2d"]
