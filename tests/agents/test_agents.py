"""The agents over the real service and clang-19: tiny trainings, export round trips, evaluation."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import onnx
import pytest
import torch

import agents
import mlgo_env  # noqa: F401 - registers the environments
from agents import behavioral_cloning, es, evaluate, ppo_eviction, ppo_inlining
from agents.lib import cloning
from agents.lib.flags import parse_args
from agents.lib.policy_io import load_policy
from agents.lib.policy_net import (
    CandidateEncoder,
    OnnxExport,
    PolicyNet,
    density_rule,
    encoder_for,
    greedy_from_net,
    policy_net_for,
    signed_log,
    to_onnx,
)
from agents.lib.rollouts import RolloutPool
from agents.lib.scores import geomean_reduction
from mlgo_env.compilation import CompileOptions
from mlgo_env.onnx_policy import OnnxPolicy


@pytest.fixture(scope="module")
def inlining_env(service_address: str):
    env = gym.make("mlgo/Inlining-v0", service=service_address, opt_level="-Oz", reward="size")
    yield env
    env.close()


@pytest.fixture(scope="module")
def eviction_env(service_address: str):
    env = gym.make("mlgo/RegallocEviction-v0", service=service_address, reward="size")
    yield env
    env.close()


def _random_net(env: gym.Env, hidden: tuple[int, ...] = (8,), seed: int = 0) -> PolicyNet:
    torch.manual_seed(seed)
    return PolicyNet(encoder_for(env.observation_space), int(env.action_space.n), hidden)


def _candidate_net(env: gym.Env, seed: int = 0) -> PolicyNet:
    torch.manual_seed(seed)
    return policy_net_for(env.observation_space, int(env.action_space.n), (8,))


def _python_actions(policy: torch.nn.Module, observations: dict[str, np.ndarray]) -> np.ndarray:
    """The Python module's action for each recorded observation, one at a time (no batch dim)."""
    count = len(next(iter(observations.values())))
    with torch.no_grad():
        return np.array(
            [int(policy({k: torch.from_numpy(v[i].copy()) for k, v in observations.items()})) for i in range(count)]
        )


# -- policy network -------------------------------------------------------------------------


def test_signed_log_is_finite_and_odd() -> None:
    x = torch.tensor([-15000.0, -1.0, 0.0, 1.0, 15000.0, float("nan"), float("inf")])
    y = signed_log(x)
    assert torch.isfinite(y).all()
    assert y[2] == 0 and y[5] == 0
    assert torch.allclose(y[:2], -y[3:5].flip(0))


def test_encoder_batched_and_unbatched_agree(inlining_env: gym.Env) -> None:
    encoder = encoder_for(inlining_env.observation_space)
    obs, _ = inlining_env.reset(options={"benchmark": "sha256"})
    single = encoder({k: torch.from_numpy(v) for k, v in obs.items()})
    batched = encoder({k: torch.from_numpy(np.stack([v, v])) for k, v in obs.items()})
    assert single.shape == (1, encoder.out_features)
    assert torch.equal(batched[0], single[0]) and torch.equal(batched[1], single[0])
    assert "inlining_default" not in encoder.names
    assert encoder.derived_a == ["threshold"]


def test_eviction_net_scores_every_candidate_with_shared_weights(eviction_env: gym.Env) -> None:
    net = _candidate_net(eviction_env)
    assert isinstance(net.encoder, CandidateEncoder)
    assert "mask" not in net.encoder.names and "progress" in net.encoder.names
    obs, _ = eviction_env.reset(options={"benchmark": "nbody"})
    logits = net({k: torch.from_numpy(v) for k, v in obs.items()})
    assert logits.shape == (1, eviction_env.action_space.n)
    swapped = {k: torch.from_numpy(v.copy()) for k, v in obs.items()}
    for name in net.encoder.per_candidate:  # swapping two candidates' features swaps their scores
        swapped[name][..., [0, 1]] = swapped[name][..., [1, 0]]
    assert torch.allclose(net(swapped)[0, [0, 1]], logits[0, [1, 0]])


def test_density_rule_evicts_the_least_dense_legal_candidate(eviction_env: gym.Env) -> None:
    net = density_rule(policy_net_for(eviction_env.observation_space, int(eviction_env.action_space.n)))
    policy = greedy_from_net(net, mask_feature="mask").eval()
    result = eviction_env.unwrapped.rollout(to_onnx(policy, eviction_env.observation_space), benchmark="nbody")
    observations, actions = result["observations"], result["actions"].reshape(-1)
    density = signed_log(torch.from_numpy(observations["use_def_density"].copy())).numpy().reshape(len(actions), -1)
    score = -density + 0.15 * (np.arange(density.shape[1]) == density.shape[1] - 1)
    score[observations["mask"].reshape(len(actions), -1) == 0] = -np.inf
    np.testing.assert_array_equal(actions, score.argmax(axis=1))
    assert (actions == density.shape[1] - 1).any() and (actions < density.shape[1] - 1).any(), "both kinds occur"


@pytest.mark.parametrize("fixture", ["inlining_env", "eviction_env", "eviction_candidates"])
def test_onnx_rollout_equals_python_policy(fixture: str, request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue(fixture.replace("_candidates", "_env"))
    is_eviction = fixture.startswith("eviction")
    net = _candidate_net(env) if fixture == "eviction_candidates" else _random_net(env)
    python_policy = greedy_from_net(net, mask_feature="mask" if is_eviction else "").eval()
    model = to_onnx(python_policy, env.observation_space)
    result = env.unwrapped.rollout(model, benchmark="sha256" if not is_eviction else "nbody")
    assert result["decisions"] > 0
    expected = _python_actions(python_policy, result["observations"])
    np.testing.assert_array_equal(result["actions"].reshape(-1), expected)
    if is_eviction:
        masks = result["observations"]["mask"].reshape(len(expected), -1)
        assert masks[np.arange(len(expected)), expected].all()


def test_onnx_export_swaps_weights_into_one_small_graph(inlining_env: gym.Env) -> None:
    """ES and PPO export once and then copy weights in: each call's model follows the net's weights."""
    observations = inlining_env.unwrapped.rollout("random", benchmark="sha256")["observations"]
    net = _random_net(inlining_env, seed=1)
    policy = greedy_from_net(net).eval()
    export = OnnxExport(policy, inlining_env.observation_space)
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.normal_()
        model = export()
        graph = onnx.load_from_string(model).graph
        assert len(graph.node) < 4 * len(graph.input), "the features are packed, then transformed once"
        onnx_policy = OnnxPolicy(model)
        count = len(observations["callee_users"])
        actions = [onnx_policy({k: v[i] for k, v in observations.items()}) for i in range(count)]
        np.testing.assert_array_equal(actions, _python_actions(policy, observations))
        runs.append(actions)
    assert runs[0] != runs[1], "the second weights changed some decision"


# -- tiny trainings -------------------------------------------------------------------------


def _sb3_args(module, service_address: str, tmp_path: Path, benchmark: str, **overrides):
    fields = {
        "benchmarks": (benchmark,),
        "total_timesteps": 128,
        "num_envs": 1,
        "n_steps": 64,
        "batch_size": 32,
        "n_epochs": 1,
        "net_arch": (16,),
        "checkpoint_freq": 64,
        "service": service_address,
        "runs_dir": str(tmp_path),
        "progress_bar": False,
        "output": str(tmp_path / "policy.onnx"),
    }
    return module.Args(**{**fields, **overrides})


def test_ppo_inlining_trains_exports_and_resumes(service_address: str, tmp_path: Path, inlining_env: gym.Env) -> None:
    model = ppo_inlining.main(_sb3_args(ppo_inlining, service_address, tmp_path, "sha256"))
    assert model.num_timesteps >= 128
    policy, metadata = load_policy(tmp_path / "policy.onnx")
    assert metadata["trainer"] == "PPO"
    result = inlining_env.unwrapped.rollout(policy, benchmark="sha256")
    assert result["reward"] is not None
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert list((run_dir / "checkpoints").glob("*.zip")), "checkpoints are written"
    assert list(run_dir.rglob("events.out.tfevents.*")), "TensorBoard logs are written"
    resumed = ppo_inlining.main(
        _sb3_args(
            ppo_inlining, service_address, tmp_path / "resumed", "sha256", resume=str(run_dir / "final_model.zip")
        )
    )
    assert resumed.num_timesteps >= 256


def test_maskable_ppo_eviction_trains_and_exports(service_address: str, tmp_path: Path, eviction_env) -> None:
    ppo_eviction.main(_sb3_args(ppo_eviction, service_address, tmp_path, "nbody", opt_level="-O2", reward="size"))
    policy, _ = load_policy(tmp_path / "policy.onnx")
    result = eviction_env.unwrapped.rollout(policy, benchmark="nbody")
    masks = result["observations"]["mask"].reshape(result["decisions"], -1)
    assert masks[np.arange(result["decisions"]), result["actions"].reshape(-1)].all(), "the export respects the mask"


def test_behavioral_cloning_then_es_and_ppo_warm_start(service_address: str, tmp_path: Path, inlining_env) -> None:
    """ES and PPO started from a clone begin where the clone is: ES scores it first, PPO acts as it does."""
    bc_out = tmp_path / "bc.pt"
    bc_args = behavioral_cloning.Args(
        teacher="margin", hidden=(16,), epochs=60, benchmarks=("sha256",), service=service_address,
        runs_dir=str(tmp_path), output=str(bc_out),
    )  # fmt: skip
    behavioral_cloning.main(bc_args)
    assert json.loads(bc_out.with_suffix(".json").read_text())["accuracy"] > 0.9
    clone = inlining_env.unwrapped.rollout(bc_out.with_suffix(".onnx").read_bytes(), benchmark="sha256")
    never = inlining_env.unwrapped.rollout("never", benchmark="sha256")
    assert clone["reward"] != never["reward"], "the clone is told apart from ES's zero (never-inline) start"

    es_args = es.Args(
        generations=1, population=1, hidden=(16,), benchmarks=("sha256",), init=str(bc_out), eval_every=1,
        service=service_address, runs_dir=str(tmp_path), output=str(tmp_path / "es.onnx"),
    )  # fmt: skip
    run_dir = es.main(es_args)
    best = torch.load(run_dir / "checkpoint.pt", weights_only=False)["best"]
    assert best["fitness"] >= clone["reward"], "generation 0 scores the clone itself: the best is at least as good"
    if best["generation"] == 0:
        clone_theta = torch.nn.utils.parameters_to_vector(torch.load(bc_out).values()).numpy()
        np.testing.assert_allclose(best["theta"], clone_theta, rtol=0, atol=1e-6)
    resumed = dataclasses.replace(es_args, generations=2, resume=str(run_dir / "checkpoint.pt"), output="")
    es.main(resumed)

    ppo_args = _sb3_args(
        ppo_inlining, service_address, tmp_path / "ppo", "sha256", init=str(bc_out), total_timesteps=64,
        learning_rate=1e-9,
    )  # fmt: skip
    model = ppo_inlining.main(ppo_args)
    assert model.num_timesteps >= 64, "PPO ran from the warm start"
    ppo = inlining_env.unwrapped.rollout(load_policy(tmp_path / "ppo" / "policy.onnx")[0], benchmark="sha256")
    np.testing.assert_array_equal(ppo["actions"], clone["actions"], "PPO acts as the clone it started from")


def test_es_trains_an_eviction_policy_within_the_mask(service_address: str, tmp_path: Path, eviction_env) -> None:
    es_args = es.Args(
        env_id="mlgo/RegallocEviction-v0", opt_level="-O2", generations=1, population=1, benchmarks=("nbody",),
        init="density-rule", eval_every=1, service=service_address, runs_dir=str(tmp_path),
        output=str(tmp_path / "es.onnx"),
    )  # fmt: skip
    es.main(es_args)
    policy, metadata = load_policy(tmp_path / "es.onnx")
    assert metadata["task"] == "regalloc_eviction" and "is_current" in metadata["inputs"]
    result = eviction_env.unwrapped.rollout(policy, benchmark="nbody")
    masks = result["observations"]["mask"].reshape(result["decisions"], -1)
    assert masks[np.arange(result["decisions"]), result["actions"].reshape(-1)].all(), "the export respects the mask"


def test_es_fine_tunes_a_policy_onnx(service_address: str, tmp_path: Path, inlining_env) -> None:
    """--init takes a shipped .onnx: with no generation, ES writes back a policy deciding as it does."""
    shipped = Path(agents.__file__).parent / "policies" / "inlining_size.onnx"
    args = es.Args(
        generations=0, benchmarks=("sha256",), init=str(shipped), service=service_address, runs_dir=str(tmp_path),
        output=str(tmp_path / "es.onnx"),
    )  # fmt: skip
    es.main(args)
    tuned, _ = load_policy(tmp_path / "es.onnx")
    before = inlining_env.unwrapped.rollout(shipped.read_bytes(), benchmark="sha256")
    after = inlining_env.unwrapped.rollout(tuned, benchmark="sha256")
    assert before["actions"].any(), "the shipped policy inlines something here (else the check is empty)"
    np.testing.assert_array_equal(after["actions"], before["actions"])


def test_cloning_llvm_replays_its_decisions_to_see_what_a_policy_sees() -> None:
    """LLVM 19 overwrites callee_basic_block_count when it sends its decision: BC replays without it."""
    with RolloutPool("mlgo/Inlining-v0", workers=1, opt_level="-Oz", reward="size", include_default=True) as pool:
        raw, raw_actions = cloning.collect(pool, "llvm-default", ["sha256"])
        seen, actions = cloning.collect(pool, "llvm-default", ["sha256"], CompileOptions(opt_level="-Oz"))
    np.testing.assert_array_equal(actions, raw_actions)
    assert (raw["callee_basic_block_count"] == -1).all()
    assert (seen["callee_basic_block_count"] >= 1).all() and "inlining_default" not in seen


def test_ppo_warm_start_copies_the_cloned_actor(service_address: str, tmp_path: Path, inlining_env) -> None:
    net = _random_net(inlining_env, hidden=(16,), seed=3)
    torch.save(net.state_dict(), tmp_path / "init.pt")
    args = _sb3_args(
        ppo_inlining, service_address, tmp_path, "sha256", init=str(tmp_path / "init.pt"), total_timesteps=0
    )
    model = ppo_inlining.main(args)
    first = model.policy.mlp_extractor.policy_net[0]
    assert torch.equal(first.weight, net.head[0].weight)


# -- evaluation and helpers -----------------------------------------------------------------


def test_evaluate_inlining_writes_json_and_chart(service_address: str, tmp_path: Path, inlining_env) -> None:
    policy_path = tmp_path / "policy.onnx"
    policy_path.write_bytes(to_onnx(greedy_from_net(_random_net(inlining_env)), inlining_env.observation_space))
    args = evaluate.Args(
        json=str(tmp_path / "eval.json"), plot=str(tmp_path / "eval.png"), inlining_policy=str(policy_path),
        benchmarks=("huffman",), skip_eviction=True, service=service_address,
    )  # fmt: skip
    evaluate.main(args)
    results = json.loads((tmp_path / "eval.json").read_text())
    inlining = results["inlining_size"]
    assert set(inlining["per_program"]) == {"huffman"}
    assert isinstance(inlining["geomean_reduction_vs_default"], float)
    assert inlining["ml_default_geomean_reduction_vs_default"] is not None
    assert (tmp_path / "eval.png").stat().st_size > 0


def test_headroom_is_added_beside_the_policy_and_checked() -> None:
    inlining = {"opt_level": "-Oz", "per_program": {"a": {"policy_reduction_vs_default": 0.01}, "b": {}}}
    search = {"opt_level": "-Oz", "per_program": {"a": {"reduction": 0.1}, "b": {"reduction": 0.0}}}
    evaluate.add_headroom(inlining, search)
    assert inlining["per_program"]["a"]["search_reduction_vs_default"] == 0.1
    assert inlining["search_geomean_reduction_vs_default"] == pytest.approx(geomean_reduction([0.1, 0.0]))
    with pytest.raises(ValueError, match="-O2"):
        evaluate.add_headroom(inlining, {**search, "opt_level": "-O2"})
    with pytest.raises(ValueError, match="lacks b"):
        evaluate.add_headroom(inlining, {"opt_level": "-Oz", "per_program": {"a": {"reduction": 0.1}}})


def test_choose_perf_reward_says_when_it_falls_back() -> None:
    name, note = evaluate.choose_perf_reward("auto")
    assert name in evaluate.PERF_REWARDS + (None,)
    assert name is None or name in note
    with pytest.raises(ValueError, match="not registered"):
        evaluate.choose_perf_reward("no-such-reward")


def test_geomean_reduction() -> None:
    assert geomean_reduction([0.0, 0.0]) == pytest.approx(0.0)
    assert geomean_reduction([0.1]) == pytest.approx(0.1)
    assert geomean_reduction([0.5, -1.0]) == pytest.approx(0.0)  # ratios 0.5 and 2.0


def test_parse_args_reads_flags_and_field_docs(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(es.Args, ["--generations", "3", "--hidden", "4", "5", "--benchmarks", "a", "--service", "None"])
    assert args.generations == 3 and args.hidden == (4, 5) and args.benchmarks == ("a",) and args.service is None
    with pytest.raises(SystemExit):
        parse_args(ppo_inlining.Args, ["--help"])
    help_text = capsys.readouterr().out
    assert "--total-timesteps" in help_text and "the learning rate of the optimizer" in help_text
    assert parse_args(ppo_inlining.Args, ["--no-progress-bar"]).progress_bar is False


def test_ablate_summary_averages_over_seeds() -> None:
    from agents import ablate

    runs = [
        {"reward": "size", "seed": 1, "train_fitness": 0.02, "size": {"a": 0.1, "b": 0.0}, "runtime": {"a": 0.0}},
        {"reward": "size", "seed": 2, "train_fitness": 0.04, "size": {"a": 0.1, "b": 0.0}, "runtime": {"a": -0.1}},
        {"reward": "mca", "seed": 1, "train_fitness": 0.01, "size": {"a": None}, "runtime": {}},
    ]
    table = ablate.summarise(runs)
    assert [row["reward"] for row in table] == ["size", "mca"]
    assert table[0]["train_fitness_mean"] == pytest.approx(0.03)
    assert table[0]["size_geomean_mean"] == pytest.approx(geomean_reduction([0.1, 0.0]))
    assert table[1]["size_geomean_mean"] is None
    assert ablate.pick(["c", "a", "b"], 2) == sorted(ablate.pick(["c", "a", "b"], 2))
    assert ablate.pick(["a", "b"], 0) == ["a", "b"]


def test_script_runs_as_a_command() -> None:
    """One CleanRL-style subprocess smoke run (each costs a torch import; the flags of all are checked in-process)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "agents.es", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--generations" in result.stdout


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's docstring (the string under it), read from the source of `cls` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
        assert isinstance(body, ast.ClassDef)
        for node, following in zip(body.body, body.body[1:], strict=False):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                is_doc = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                docs[node.target.id] = str(following.value.value) if is_doc else ""  # type: ignore[union-attr]
    return docs


SCRIPTS = ["ppo_inlining", "ppo_eviction", "behavioral_cloning", "es", "search", "evaluate", "ablate"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_documented_flags(
    script: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every field of the script's Args is a flag in --help, shown with its docstring; --corpus included."""
    import importlib

    module = importlib.import_module(f"agents.{script}")
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag: the docstrings are not wrapped
    with pytest.raises(SystemExit):
        parse_args(module.Args, ["--help"])
    help_text = re.sub(r"\s+", " ", capsys.readouterr().out.replace("│", " "))
    docs = field_docs(module.Args)
    assert {field.name for field in dataclasses.fields(module.Args)} == set(docs)
    assert "corpus" in docs, "every script takes --corpus"
    for name, doc in docs.items():
        flag = "--" + name.replace("_", "-")
        assert doc, f"{flag} has no docstring: its --help line would say nothing"
        assert re.search(rf"{re.escape(flag)}\b.{{0,40}}? {re.escape(' '.join(doc.split()))}", help_text), (
            f"{flag} is not shown with its help text"
        )


@pytest.mark.slow
def test_ablate_quick_end_to_end(tmp_path: Path) -> None:
    from agents import ablate

    results = ablate.main(ablate.Args(quick=True, out_dir=str(tmp_path)))
    assert (tmp_path / "ablation.png").is_file()
    assert {row["reward"] for row in results["table"]} <= {"size", "mca"}
    change = results["runtime_by_reward"]["change"]
    assert set(change) == {row["reward"] for row in results["table"]}
    assert all(c["low"] <= c["estimate"] <= c["high"] for c in change.values())
