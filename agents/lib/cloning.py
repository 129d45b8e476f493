"""Behavioural cloning of a teacher's inlining decisions into a `PolicyNet`; `agents/behavioral_cloning.py` runs it.

The teacher's episodes are collected in the service's rollout mode (or read from search labels,
`agents.lib.labels`), and the net's head is fitted by cross-entropy (teachers: see the script).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from agents.lib.benchmarks import list_benchmarks, load_corpus, short_name
from agents.lib.flags import CorpusArgs
from agents.lib.labels import load_labels, record_labels
from agents.lib.policy_net import FeatureEncoder, PolicyNet, greedy_from_net, policy_net_for, to_onnx
from agents.lib.rollouts import RolloutPool
from agents.lib.runs import make_writer, run_name
from mlgo_env.compilation import CompileOptions
from mlgo_env.seeding import seed_everything
from mlgo_env.tasks import InliningTask
from mlgo_env.toolchain import get_toolchain


@dataclass
class CloningArgs(CorpusArgs):
    """Clone a teacher's inlining decisions into a PolicyNet (a warm start for PPO and ES)."""

    exp_name: str = "bc"
    """the name of this experiment"""
    seed: int = 1
    """seed of the initialisation and of the minibatches"""
    env_id: str = "mlgo/Inlining-v0"
    """the environment id"""
    teacher: str = "llvm-default"
    """llvm-default (LLVM's own decision), margin (cost_estimate < threshold), an ONNX .onnx, or search .npz"""
    more_labels: tuple[str, ...] = ()
    """search labels (.npz) cloned together with the teacher's decisions (a real corpus's beside the bundled one's)"""
    opt_level: str = "-Oz"
    """the optimisation level of the teacher's compiles"""
    split: str = "train"
    """the corpus split the programs come from (a corpus that records no split: all its modules)"""
    benchmarks: tuple[str, ...] = ()
    """use these benchmarks instead of the whole split"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer widths (the same as the PPO policy's net_arch to warm-start it; () for ES)"""
    epochs: int = 200
    """passes over the collected decisions"""
    batch_size: int = 256
    """minibatch size"""
    learning_rate: float = 3e-3
    """Adam learning rate"""
    workers: int = 2
    """compiles running at once"""
    service: str | None = None
    """address of a running compiler service (default: an embedded one over --corpus)"""
    runs_dir: str = "runs"
    """where TensorBoard logs go"""
    output: str = ""
    """write the state dict here (and the ONNX policy beside it, .onnx)"""


def margin_teacher(encoder: FeatureEncoder, observation_space: gym.spaces.Dict) -> bytes:
    """The ONNX policy of LLVM's cost rule: inline iff ``threshold - cost_estimate > 0``."""
    net = PolicyNet(encoder, 2, ())
    assert isinstance(net.head, nn.Sequential)
    layer = net.head[0]
    assert isinstance(layer, nn.Linear)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[1, encoder.out_features - 1] = 1.0  # the margin is the last input
        layer.bias[1] = -1e-3  # a zero margin (cost == threshold) does not inline
    return to_onnx(greedy_from_net(net), observation_space)


def teacher_policy(teacher: str, encoder: nn.Module, observation_space: gym.spaces.Dict) -> str | bytes:
    """The teacher as the service's Rollout takes it: a built-in name or an ONNX model's bytes."""
    if teacher == "margin":
        if not isinstance(encoder, FeatureEncoder) or not encoder.derived_a:
            raise ValueError("the margin teacher needs the threshold and cost_estimate features (inlining)")
        return margin_teacher(encoder, observation_space)
    if teacher.endswith(".onnx"):
        return Path(teacher).read_bytes()
    return teacher


def collect(
    pool: RolloutPool,
    policy: str | bytes,
    benchmarks: list[str],
    replay_with: CompileOptions | None = None,
    corpus: str = "",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every decision of the teacher on `benchmarks`: stacked observations and actions.

    With `replay_with`, each program's decisions are replayed in a local compile without
    ``include_default`` and the observations come from there: what a policy sees when it runs
    (on LLVM 19 ``include_default`` overwrites ``callee_basic_block_count``); `corpus` is the
    pool's corpus directory (empty: the bundled programs).
    """
    results = [r for r in pool.map([(policy, b) for b in benchmarks], observations=True) if r.get("reward") is not None]
    if not results:
        raise RuntimeError("the teacher's compiles all failed: nothing to clone")
    if replay_with is not None:
        loaded = load_corpus(corpus)
        for r in results:
            benchmark = loaded.benchmark(short_name(r["benchmark"]))
            r["observations"] = record_labels(benchmark, r["actions"].reshape(-1).tolist(), replay_with).observations
    names = results[0]["observations"].keys()
    observations = {n: np.concatenate([r["observations"][n] for r in results]) for n in names}
    actions = np.concatenate([r["actions"] for r in results]).astype(np.int64)
    return observations, actions


def fit(
    net: PolicyNet, observations: dict[str, np.ndarray], actions: np.ndarray, args: CloningArgs, writer: object
) -> float:
    """Cross-entropy training of the net's head; returns the final accuracy on the collected decisions.

    The encoder has no parameters, so the features are encoded once, not once per minibatch.
    """
    with torch.no_grad():
        features = net.encoder({k: torch.as_tensor(v) for k, v in observations.items()})
    targets = torch.as_tensor(actions)
    optimizer = torch.optim.Adam(net.head.parameters(), lr=args.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    n = len(targets)
    for epoch in tqdm(range(args.epochs), desc="BC", unit="epoch"):
        order = torch.randperm(n)
        for start in range(0, n, args.batch_size):
            index = order[start : start + args.batch_size]
            loss = loss_fn(net.head(features[index]), targets[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        writer.add_scalar("losses/cross_entropy", loss.item(), epoch)  # type: ignore[attr-defined]
    with torch.no_grad():
        accuracy = float((net.head(features).argmax(-1) == targets).float().mean())
    writer.add_scalar("charts/accuracy", accuracy, args.epochs)  # type: ignore[attr-defined]
    return accuracy


def _joined(
    labels: tuple[dict[str, np.ndarray], np.ndarray], more: tuple[dict[str, np.ndarray], np.ndarray], source: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`labels` followed by `more` (read from `source`).

    Raises:
        ValueError: the two hold different features (another task or LLVM version).
    """
    if labels[0].keys() != more[0].keys():
        differ = sorted(labels[0].keys() ^ more[0].keys())
        raise ValueError(f"{source} holds other features than the teacher's: {differ}")
    observations = {name: np.concatenate([labels[0][name], more[0][name]]) for name in labels[0]}
    return observations, np.concatenate([labels[1], more[1]])


def _replay_options(args: CloningArgs) -> CompileOptions | None:
    """How to replay LLVM's decisions without include_default (LLVM 19 only, local service only)."""
    if not InliningTask.default_hides_a_feature(get_toolchain().version):
        return None  # LLVM 20+ sends the default decision in its own tensor: nothing is lost
    if args.service is not None:
        print(
            "warning: LLVM 19 reports callee_basic_block_count as -1 when it sends its decision, and the "
            "decisions of a remote service cannot be replayed here: the clone never sees that feature"
        )
        return None
    return CompileOptions(opt_level=args.opt_level)


def train_clone(args: CloningArgs) -> PolicyNet:
    """Collect the teacher's decisions, fit the net, save it; returns the trained net."""
    writer = make_writer(Path(args.runs_dir) / run_name(args.env_id, args.exp_name, args.seed), args)
    seed_everything(args.seed, deterministic_torch=True)
    benchmarks = list(args.benchmarks) or list_benchmarks(args.split, args.corpus)
    # LLVM's decision is only needed (and only sent) for the llvm-default teacher; asking for it
    # on LLVM 19 costs the callee_basic_block_count feature (see InliningTask.repair_observation).
    include_default = args.teacher == "llvm-default"
    env_kwargs = {
        "opt_level": args.opt_level,
        "include_default": include_default,
        "reward": "size",
        "service": args.service,
        "corpus": args.corpus or None,
    }
    with RolloutPool(args.env_id, workers=args.workers, **env_kwargs) as pool:
        space = pool.observation_space
        net = policy_net_for(space, pool.action_count, args.hidden)
        if args.teacher.endswith(".npz"):
            observations, actions = load_labels(Path(args.teacher))
        else:
            replay = _replay_options(args) if include_default else None
            teacher = teacher_policy(args.teacher, net.encoder, space)
            observations, actions = collect(pool, teacher, benchmarks, replay, args.corpus)
    for path in args.more_labels:
        observations, actions = _joined((observations, actions), load_labels(Path(path)), path)
    print(f"{len(actions)} decisions; the teacher inlines {actions.mean():.1%}")
    accuracy = fit(net, observations, actions, args, writer)
    print(f"accuracy on the teacher's decisions: {accuracy:.1%}")
    writer.close()
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), output)
        output.with_suffix(".onnx").write_bytes(to_onnx(greedy_from_net(net), space))
        meta = {
            "teacher": args.teacher,
            "accuracy": accuracy,
            "decisions": len(actions),
            "args": dataclasses.asdict(args),
        }
        output.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return net
