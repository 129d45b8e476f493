"""Helpers shared by the agent scripts: flags, run names, environments, rollouts and scores.

Every script in `agents/` is a readable CleanRL-style file; what they have in common lives here so
nothing is copied between them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch
import tyro
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from agents.policy_net import OnnxExport, SignedLogExtractor, export_sb3_policy, load_into_sb3

__all__ = [
    "POLICY_DIR",
    "ExportCallback",
    "ExperimentArgs",
    "SB3Args",
    "build_vec_env",
    "train_sb3",
    "RayRolloutPool",
    "RolloutPool",
    "rollout_pool",
    "geomean_reduction",
    "list_benchmarks",
    "load_policy",
    "make_env",
    "make_writer",
    "parse_args",
    "run_name",
    "save_policy",
    "seed_everything",
    "short_name",
]

T = TypeVar("T")

POLICY_DIR = Path(__file__).resolve().parent / "policies"
"""Where the shipped policies live (ONNX ``.onnx`` plus a ``.json`` of metadata)."""


# -- flags ----------------------------------------------------------------------------------


def parse_args(cls: type[T], argv: Sequence[str] | None = None) -> T:
    """The script's flags from its ``Args`` dataclass, as CleanRL does: ``tyro.cli``.

    Fields become ``--kebab-case`` flags and the docstring under each field its ``--help`` text.
    """
    return tyro.cli(cls, args=argv)


# -- runs -----------------------------------------------------------------------------------


def run_name(env_id: str, exp_name: str, seed: int) -> str:
    """CleanRL's run name: ``{env_id}__{exp_name}__{seed}__{unix time}`` (``/`` made safe)."""
    return f"{env_id.replace('/', '-')}__{exp_name}__{seed}__{int(time.time())}"


def seed_everything(seed: int, deterministic_torch: bool = True) -> None:
    """Seed Python, NumPy and torch (the one seeding block of a script)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = deterministic_torch


def make_writer(run_dir: Path, args: Any) -> Any:
    """A TensorBoard writer with the hyper-parameter table CleanRL writes first."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    rows = "\n".join(f"|{key}|{value}|" for key, value in vars(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
    return writer


# -- environments and benchmarks ------------------------------------------------------------


def make_env(env_id: str, seed: int, **env_kwargs: Any) -> Callable[[], gym.Env]:
    """A thunk that builds one monitored environment (for ``SubprocVecEnv``: one service each)."""

    def thunk() -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        import mlgo_env  # noqa: F401 - registers the environments in the worker process

        env = gym.make(env_id, **env_kwargs)
        env.action_space.seed(seed)
        return Monitor(env)

    return thunk


def list_benchmarks(split: str | None, corpus: str | Path | None = None) -> list[str]:
    """Names of the corpus's benchmarks in `split` (the bundled corpus unless `corpus` is given).

    Raises:
        ValueError: the split is empty (e.g. the corpus has no ``split.json`` yet).
    """
    from mlgo_env.corpus import Corpus, default_corpus

    loaded = Corpus.load(corpus) if corpus else default_corpus()
    names = [b.name for b in loaded.benchmarks(split)]
    if not names:
        raise ValueError(
            f"corpus {loaded.name!r} has no benchmarks in split {split!r}; record the split in "
            "benchmarks/programs/split.json or pass --benchmarks"
        )
    return names


def short_name(benchmark: str) -> str:
    """``benchmark://mlgo-v0/sha256`` → ``sha256``."""
    return benchmark.rsplit("/", 1)[-1]


def geomean_reduction(improvements: Iterable[float]) -> float:
    """Geometric-mean reduction from per-program relative improvements ``(base - cost) / base``.

    Each improvement r is a cost ratio ``1 - r``; the geometric mean of the ratios, subtracted
    from 1, is the reduction a "typical" program sees (0.05: 5% smaller than the baseline).
    """
    ratios = [1.0 - r for r in improvements]
    if not ratios:
        return float("nan")
    return 1.0 - math.exp(sum(math.log(max(r, 1e-9)) for r in ratios) / len(ratios))


class RolloutPool:
    """Whole-episode rollouts in the compiler service (the fast path), a few at a time.

    One environment (one embedded service unless `service` is given) serves every rollout; a
    thread pool keeps `workers` compiles running at once. A compile that fails is reported with
    ``reward=None`` and an ``error`` entry rather than raised, so one bad program does not stop
    a training run.
    """

    def __init__(self, env_id: str, workers: int | None = None, **env_kwargs: Any) -> None:
        import mlgo_env  # noqa: F401 - registers the environments

        self.env = gym.make(env_id, **env_kwargs)
        self.workers = workers or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rollout")

    @property
    def observation_space(self) -> gym.spaces.Dict:
        """The environment's observation space (a Dict of the tensors LLVM declares)."""
        space = self.env.observation_space
        if not isinstance(space, gym.spaces.Dict):
            raise TypeError(f"{self.env.spec.id if self.env.spec else self.env} has no Dict observation space")
        return space

    @property
    def action_count(self) -> int:
        """How many discrete actions the environment has."""
        space = self.env.action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise TypeError("ES and behavioural cloning need a Discrete action space")
        return int(space.n)

    @property
    def task_name(self) -> str:
        """The decision the environment asks (``inlining``, ``regalloc_eviction``, ...)."""
        return str(self.env.unwrapped.task.name)  # type: ignore[attr-defined]

    def rollout(self, policy: str | bytes, benchmark: str, seed: int = 0, observations: bool = False) -> dict:
        """One episode of `policy` on `benchmark` (see `CompilerEnv.rollout`)."""
        from mlgo_env.errors import MlgoEnvError

        try:
            return self.env.unwrapped.rollout(policy, benchmark=benchmark, seed=seed, return_observations=observations)  # type: ignore[attr-defined]
        except MlgoEnvError as exc:
            return {"benchmark": benchmark, "reward": None, "error": f"{type(exc).__name__}: {exc}"}

    def map(self, jobs: Sequence[tuple[str | bytes, str]], seed: int = 0, observations: bool = False) -> list[dict]:
        """Run every ``(policy, benchmark)`` job; results in the same order."""
        futures = [self._pool.submit(self.rollout, policy, benchmark, seed, observations) for policy, benchmark in jobs]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the threads and the environment's service."""
        self._pool.shutdown(wait=True)
        self.env.close()

    def __enter__(self) -> RolloutPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RayRolloutPool:
    """A `RolloutPool` whose compiles run on Ray workers, each owning a compiler service.

    The same interface, so ES takes either: on a laptop a local Ray (one worker per core), on a
    cluster its address. Episodes of a worker that dies run again on another
    (`mlgo_env.distributed.collect`); an episode that still fails comes back with ``reward=None``
    and an ``error``, as from `RolloutPool`.

    Args:
        env_id: the environment whose task, reward and options the rollouts use.
        address: the Ray cluster (``"auto"``, ``"ray://host:10001"``); None: ``$RAY_ADDRESS`` or a
            local Ray.
        workers: Ray workers (default: one per CPU of the cluster).
        env_kwargs: ``reward``, ``reward_options``, ``opt_level``, ``llvm_version``, ``corpus``;
            ``split``, ``service`` and ``include_default`` are ignored (workers run their own services
            over the pool's corpus, and their services send LLVM's decision to the ``llvm-default``
            policy only).

    Attributes:
        settings: what every rollout shares; its reward options name the reward's target as this
            machine resolved it (`RolloutSettings.pinned`), so every worker scores for this machine.
    """

    def __init__(self, env_id: str, address: str | None = None, workers: int | None = None, **env_kwargs: Any) -> None:
        from mlgo_env.distributed import connect
        from mlgo_env.distributed.actors import RolloutSettings, WorkerPool
        from mlgo_env.envs.compiler_env import observation_space_for
        from mlgo_env.tasks import TASKS, RegallocEvictionTask

        task = next((t for t in TASKS.values() if t.env_id == env_id), None)
        if task is None:
            raise ValueError(f"no task has the environment {env_id!r}")
        cluster = connect(address)
        self.settings = RolloutSettings(
            task=task.name,
            reward=env_kwargs.get("reward", "size"),
            reward_options=env_kwargs.get("reward_options") or {},
            opt_level=env_kwargs.get("opt_level"),
            llvm_version=env_kwargs.get("llvm_version"),
        ).pinned()
        # One machine: the workers read the corpus where it is; a cluster: it travels to each node.
        self.pool = WorkerPool(workers, corpus=env_kwargs.get("corpus"), share_corpus=cluster.nodes == 1)
        features, _ = self.pool.spaces(task.name, False, self.settings.llvm_version)
        self.observation_space = observation_space_for(features)
        mask = self.observation_space.spaces.get("mask")
        self.action_count = math.prod(mask.shape or ()) if isinstance(task, RegallocEvictionTask) and mask else 2
        self.task_name = task.name

    def map(self, jobs: Sequence[tuple[str | bytes, str]], seed: int = 0, observations: bool = False) -> list[dict]:
        """Run every ``(policy, benchmark)`` job on the workers; results in the same order."""
        from mlgo_env.distributed.collect import collect

        settings = dataclasses.replace(self.settings, return_observations=observations)
        policies = [policy for policy, _ in jobs]
        benchmarks = [benchmark for _, benchmark in jobs]
        results: list[dict] = [{} for _ in jobs]
        for outcome in collect(policies, benchmarks, self.pool, settings, seed=seed, progress=False):
            if outcome.rollout is not None:
                results[outcome.episode] = dict(vars(outcome.rollout))
            else:
                error = outcome.faults[-1]
                results[outcome.episode] = {"benchmark": outcome.benchmark, "reward": None, "error": str(error)}
        return results

    def close(self) -> None:
        """Stop the workers (Ray itself stays up for the rest of the process)."""
        self.pool.close()

    def __enter__(self) -> RayRolloutPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rollout_pool(
    env_id: str, workers: int | None, ray: bool = False, ray_address: str | None = None, **env_kwargs: Any
) -> RolloutPool | RayRolloutPool:
    """A `RayRolloutPool` when `ray` (or an address) is given, else a `RolloutPool` on one service."""
    if ray or ray_address:
        return RayRolloutPool(env_id, ray_address, workers, **env_kwargs)
    return RolloutPool(env_id, workers=workers, **env_kwargs)


# -- saved policies -------------------------------------------------------------------------


def save_policy(path: Path, model: bytes, metadata: dict[str, Any]) -> Path:
    """Write ``path`` (the ONNX model's bytes) and ``path.with_suffix('.json')`` (metadata)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return path


def load_policy(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The ONNX model's bytes and the metadata written by `save_policy`."""
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return path.read_bytes(), metadata


# -- stable-baselines3 training (ppo_inlining.py, ppo_eviction.py) -------------------------


@dataclasses.dataclass
class ExperimentArgs:
    """Flags every training script shares (each script's ``Args`` adds its own and sets defaults)."""

    exp_name: str = "experiment"
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (torch, numpy, the benchmark picks)"""
    env_id: str = "mlgo/Inlining-v0"
    """the environment id"""
    reward: str = "size"
    """the reward (see rewards.available())"""
    opt_level: str = "-Oz"
    """the optimisation level (the reward's baseline is the same level without the advisor)"""
    split: str = "train"
    """the corpus split the training programs come from"""
    benchmarks: tuple[str, ...] = ()
    """train on these benchmarks instead of the whole split"""
    init: str = ""
    """a PolicyNet state dict to start from (e.g. behavioral_cloning.py --output)"""
    service: str | None = None
    """address of a running compiler service (default: an embedded one)"""
    runs_dir: str = "runs"
    """where TensorBoard logs and checkpoints go"""
    resume: str = ""
    """a checkpoint to continue training from"""
    output: str = ""
    """write the final greedy policy as ONNX (+ .json metadata) here"""


@dataclasses.dataclass
class SB3Args(ExperimentArgs):
    """Flags shared by the PPO scripts (each script subclasses this with its own defaults)."""

    exp_name: str = "ppo"
    """the name of this experiment"""
    benchmarks: tuple[str, ...] = ()
    """pin each worker to one of these benchmarks (round robin) instead of random picks from the split"""
    total_timesteps: int = 50_000
    """total decisions (environment steps) of the experiment"""
    num_envs: int = 2
    """parallel environments, one compiler service each (SubprocVecEnv when > 1)"""
    learning_rate: float = 3e-4
    """the learning rate of the optimizer"""
    n_steps: int = 512
    """steps per environment per policy rollout"""
    batch_size: int = 64
    """minibatch size"""
    n_epochs: int = 10
    """epochs over each rollout"""
    gamma: float = 1.0
    """discount factor (1: the only reward is at the end of the compile)"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation"""
    clip_range: float = 0.2
    """the surrogate clipping coefficient"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    target_kl: float | None = None
    """stop an update early past this KL divergence (None: never)"""
    net_arch: tuple[int, ...] = (64, 64)
    """hidden layers of the policy and value networks"""
    checkpoint_freq: int = 5_000
    """save the model every this many steps (in total over the environments)"""
    resume: str = ""
    """a saved model .zip to continue training from"""
    service: str | None = None
    """address of a running compiler service (default: one embedded service per environment)"""
    progress_bar: bool = True
    """show a progress bar"""
    torch_threads: int = 1
    """torch threads of the learner (the cores are busy compiling)"""


def build_vec_env(args: SB3Args, extra_env_kwargs: dict[str, Any]) -> VecEnv:
    """`num_envs` monitored environments; a subprocess (and its own service) each when > 1."""
    thunks = []
    for index in range(args.num_envs):
        kwargs: dict[str, Any] = {
            "reward": args.reward,
            "opt_level": args.opt_level,
            "split": args.split,
            "service": args.service,
            **extra_env_kwargs,
        }
        if args.benchmarks:
            kwargs["benchmark"] = args.benchmarks[index % len(args.benchmarks)]
        thunks.append(make_env(args.env_id, args.seed + index, **kwargs))
    return SubprocVecEnv(thunks) if args.num_envs > 1 else DummyVecEnv(thunks)


class ExportCallback(BaseCallback):
    """Logs finished compiles under ``charts/`` and writes the greedy ONNX policy at checkpoints.

    Args:
        path: where the ONNX policy goes (overwritten at each export).
        every: export every this many calls (steps of the vectorised env).
        mask_feature: the action-mask feature of the exported policy ("" for none).
    """

    def __init__(self, path: Path, every: int, mask_feature: str = "") -> None:
        super().__init__()
        self.path, self.every, self.mask_feature = path, every, mask_feature
        self._export: OnnxExport | None = None

    def export(self) -> bytes:
        """Write the greedy policy with the model's current weights to `path`; returns its bytes.

        The graph is exported on the first call only; later calls copy the weights into it.
        """
        if self._export is None:
            self._export = export_sb3_policy(self.model, self.mask_feature)
        policy = self._export()
        self.path.write_bytes(policy)
        return policy

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "text_size" in info:
                self.logger.record_mean("charts/text_size", info["text_size"])
            if "error_type" in info:
                self.logger.record_mean("charts/compile_errors", 1.0)
        if self.n_calls % self.every == 0:
            self.export()
        return True


def _new_model(algo: Callable[..., BaseAlgorithm], args: SB3Args, env: VecEnv, run_dir: Path) -> BaseAlgorithm:
    """A fresh (Maskable)PPO with the signed-log extractor and every hyper-parameter from `args`."""
    policy_kwargs = {
        "features_extractor_class": SignedLogExtractor,
        "net_arch": {"pi": list(args.net_arch), "vf": list(args.net_arch)},
        "share_features_extractor": True,
    }
    model = algo(
        "MultiInputPolicy",
        env,
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        vf_coef=args.vf_coef,
        max_grad_norm=args.max_grad_norm,
        target_kl=args.target_kl,
        policy_kwargs=policy_kwargs,
        tensorboard_log=str(run_dir),
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    if args.init:
        load_into_sb3(model, torch.load(args.init, map_location="cpu"))
    return model


def train_sb3(
    algo: type[BaseAlgorithm], args: SB3Args, extra_env_kwargs: dict[str, Any] | None = None, mask_feature: str = ""
) -> tuple[BaseAlgorithm, Path]:
    """Train (or resume) `algo` on `args.env_id`; returns the model and its run directory.

    Writes TensorBoard logs, ``checkpoints/`` every `checkpoint_freq` steps, ``final_model.zip``,
    ``policy.onnx``, and `args.output` when given.
    """
    run_dir = Path(args.runs_dir) / run_name(args.env_id, args.exp_name, args.seed)
    make_writer(run_dir, args).close()
    seed_everything(args.seed)
    torch.set_num_threads(args.torch_threads)
    env = build_vec_env(args, extra_env_kwargs or {})
    try:
        if args.resume:
            model = algo.load(args.resume, env=env, device="cpu", tensorboard_log=str(run_dir))
        else:
            model = _new_model(algo, args, env, run_dir)
        every = max(args.checkpoint_freq // args.num_envs, 1)
        export = ExportCallback(run_dir / "policy.onnx", every, mask_feature)
        model.learn(
            args.total_timesteps,
            callback=[CheckpointCallback(every, str(run_dir / "checkpoints"), name_prefix=args.exp_name), export],
            progress_bar=args.progress_bar,
            reset_num_timesteps=not args.resume,
            tb_log_name="sb3",
        )
        model.save(run_dir / "final_model.zip")
    finally:
        env.close()
    policy = export.export()
    if args.output:
        metadata = {"trainer": algo.__name__, "args": dataclasses.asdict(args), "timesteps": int(model.num_timesteps)}
        save_policy(Path(args.output), policy, metadata)
    print(json.dumps({"run_dir": str(run_dir), "timesteps": int(model.num_timesteps)}))
    return model, run_dir
