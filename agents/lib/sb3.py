"""stable-baselines3 training for the PPO scripts: their flags, vectorised envs, ONNX export and the loop."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from agents.lib.benchmarks import resolve_split
from agents.lib.envs import make_env
from agents.lib.flags import ExperimentArgs
from agents.lib.policy_io import save_policy
from agents.lib.policy_net import OnnxExport, SignedLogExtractor, export_sb3_policy, load_into_sb3
from agents.lib.runs import make_writer, run_name
from mlgo_env.seeding import seed_everything

__all__ = ["ExportCallback", "SB3Args", "build_vec_env", "train_sb3"]


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
    """address of a running compiler service (default: one embedded service over --corpus per environment)"""
    progress_bar: bool = True
    """show a progress bar"""
    torch_threads: int = 1
    """torch threads of the learner (the cores are busy compiling)"""


def build_vec_env(args: SB3Args, extra_env_kwargs: dict[str, Any]) -> VecEnv:
    """`num_envs` monitored environments; a subprocess (and its own service) each when > 1."""
    thunks = []
    split = None if args.benchmarks else resolve_split(args.split, args.corpus)
    for index in range(args.num_envs):
        kwargs: dict[str, Any] = {
            "reward": args.reward,
            "opt_level": args.opt_level,
            "split": split,
            "service": args.service,
            "corpus": args.corpus or None,
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
    seed_everything(args.seed, deterministic_torch=True)
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
