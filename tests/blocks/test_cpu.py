"""The cost model knows which CPU it belongs to: recorded by training, checked where it is used."""

from __future__ import annotations

import logging
import warnings

import pytest
from typer.testing import CliRunner

from mlgo_env.blocks.checkpoint import load_checkpoint
from mlgo_env.blocks.cli import app
from mlgo_env.blocks.dataset import MixedCpus, measured_on, read_measured
from mlgo_env.blocks.evaluate import Evaluation
from mlgo_env.blocks.predict import CostModel
from mlgo_env.blocks.train import TrainConfig, Trainer
from mlgo_env.machine import CpuMismatch


def test_a_model_used_on_another_cpu_warns_loudly(make_checkpoint, caplog):
    model = CostModel(make_checkpoint({"cpu": {"mcpu": "znver4"}}))
    assert model.cpu == "znver4"
    with pytest.warns(UserWarning) as caught, caplog.at_level(logging.WARNING, "mlgo_env.blocks.predict"):
        message = model.check_cpu("skylake")
    assert [str(w.message) for w in caught] == [message]
    assert "znver4" in message and "skylake" in message and "blocks measure" in message and "blocks train" in message
    assert message in caplog.text


def test_a_model_used_on_its_own_cpu_is_silent(make_checkpoint):
    model = CostModel(make_checkpoint({"cpu": {"mcpu": "znver4"}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.check_cpu("znver4", strict=True) is None


def test_strict_refuses_a_model_of_another_cpu(make_checkpoint):
    model = CostModel(make_checkpoint({"cpu": {"mcpu": "znver4"}}))
    with pytest.raises(CpuMismatch, match="znver4.*icelake-server"):
        model.check_cpu("icelake-server", strict=True)


def test_a_model_without_a_recorded_cpu_says_so(make_checkpoint):
    model = CostModel(make_checkpoint({"note": "before CPUs were recorded"}))
    assert model.cpu is None
    with pytest.warns(UserWarning, match="does not record which CPU.*znver1"):
        model.check_cpu("znver1")
    mixed = CostModel(make_checkpoint({"cpu": {"mcpu": "unknown", "rows": {"znver1": 5, "znver4": 7}}}))
    with pytest.raises(CpuMismatch, match="measured on znver1, znver4"):
        mixed.check_cpu("znver1", strict=True)


def test_measured_on_names_the_cpus_of_mixed_rows(make_measured):
    rows = read_measured([make_measured({"tensorflow": "znver1", "llvm": "AMD EPYC", "embree": ""})])
    with pytest.raises(MixedCpus) as refused:
        measured_on(rows, source="data.csv")
    text = str(refused.value)
    assert "data.csv" in text and "3 CPUs" in text and "--allow-mixed-cpus" in text
    assert "znver1 (12 rows)" in text and "unknown (12 rows" in text
    assert "'AMD EPYC' (12 rows; not an LLVM -mcpu name" in text
    mixed = measured_on(rows, allow_mixed=True)
    assert mixed == {"mcpu": "unknown", "rows": {"znver1": 12, "AMD EPYC": 12, "unknown": 12}}
    older = read_measured([make_measured({"tensorflow": "AMD EPYC"})])
    assert measured_on(older) == {"mcpu": "unknown", "rows": {"AMD EPYC": 12}, "model_name": "AMD EPYC"}


def _train(data, run_dir, allow_mixed_cpus=False):
    cfg = TrainConfig([data], run_dir, epochs=1, dim=16, layers=1, heads=2, threads=1, device="cpu",
                      allow_mixed_cpus=allow_mixed_cpus)  # fmt: skip
    return Trainer(cfg).run()


def test_training_records_the_cpu_of_its_data(make_measured, tmp_path):
    data = make_measured({"tensorflow": "znver3", "llvm": "znver3", "embree": "znver3", "ffmpeg": "znver3"})
    metrics = _train(data, tmp_path / "run")
    assert metrics["cpu"] == {"mcpu": "znver3", "rows": {"znver3": 48}}
    for name in ("best.pt", "last.pt"):
        assert load_checkpoint(tmp_path / "run" / name)[2]["cpu"]["mcpu"] == "znver3"
    assert CostModel(tmp_path / "run" / "best.pt").cpu == "znver3"


def test_training_refuses_data_of_two_cpus_unless_asked(make_measured, tmp_path):
    data = make_measured({"tensorflow": "znver1", "llvm": "znver4", "embree": "znver4", "ffmpeg": "znver4"})
    with pytest.raises(MixedCpus, match=r"znver4 \(36 rows\), znver1 \(12 rows\)"):
        _train(data, tmp_path / "refused")
    metrics = _train(data, tmp_path / "mixed", allow_mixed_cpus=True)
    assert metrics["cpu"] == {"mcpu": "unknown", "rows": {"znver4": 36, "znver1": 12}}
    assert CostModel(tmp_path / "mixed" / "best.pt").cpu is None


def test_cli_train_refuses_mixed_cpus_unless_asked(make_measured, tmp_path):
    data = make_measured({"tensorflow": "znver1", "llvm": "znver4", "embree": "znver4", "ffmpeg": "znver4"})
    args = ["train", str(data), "--epochs", "1", "--dim", "16", "--layers", "1"]
    refused = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "a")])
    assert refused.exit_code == 1 and "znver1 (12 rows)" in refused.output and not (tmp_path / "a").exists()
    mixed = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "b"), "--allow-mixed-cpus"])
    assert mixed.exit_code == 0, mixed.output
    assert load_checkpoint(tmp_path / "b" / "best.pt")[2]["cpu"]["rows"] == {"znver4": 36, "znver1": 12}


def test_evaluation_targets_the_cpu_its_rows_were_measured_on(make_measured, make_checkpoint):
    rows = read_measured([make_measured({"ffmpeg": "znver4"})])
    ev = Evaluation(rows)
    with pytest.warns(UserWarning, match="made on skylake but is used for znver4"):
        ev.run(make_checkpoint({"cpu": {"mcpu": "skylake"}}), osaca_rows=0)
    summary = ev.summary()
    assert summary["cpu"] == "znver4" and summary["model_cpu"] == "skylake"
    assert summary["llvm-mca"] == ev.results["llvm-mca"].to_json() and "-mcpu=znver4" in ev.results["llvm-mca"].name
    with pytest.raises(CpuMismatch):
        Evaluation(rows).run(make_checkpoint({"cpu": {"mcpu": "skylake"}}), osaca_rows=0, strict_cpu=True)
    with pytest.raises(MixedCpus):
        Evaluation(read_measured([make_measured({"ffmpeg": "znver4", "eigen": "znver1"})]))
