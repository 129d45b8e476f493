"""Blackbox evolution strategies (MLGO's ES trainer) over whole compiles; `agents/es.py` runs it.

Each generation perturbs θ with antithetic pairs θ ± σε, scores every candidate's ONNX export on
a batch of training programs in the service's rollout mode, and ascends the centred-rank gradient
with Adam (see `agents/es.py` for the recipe and its flags).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from tqdm import tqdm

from agents.lib.benchmarks import list_benchmarks
from agents.lib.flags import ExperimentArgs
from agents.lib.policy_io import save_policy
from agents.lib.policy_net import (
    OnnxExport,
    PolicyNet,
    density_rule,
    greedy_from_net,
    greedy_from_onnx,
    mask_feature_of,
    policy_net_for,
)
from agents.lib.rollouts import RayRolloutPool, RolloutPool, rollout_pool
from agents.lib.runs import make_writer, run_name
from agents.lib.scores import geomean_reduction
from mlgo_env.seeding import seed_everything


@dataclass
class EsArgs(ExperimentArgs):
    """Train a policy with antithetic evolution strategies over whole compiles."""

    exp_name: str = "es"
    """the name of this experiment"""
    seed: int = 1
    """seed of the perturbations and of the benchmark batches"""
    generations: int = 30
    """the number of ES generations"""
    population: int = 8
    """the number of antithetic pairs per generation (2x this many candidates)"""
    benchmarks_per_generation: int = 8
    """programs each candidate is scored on per generation (0: all)"""
    sigma: float = 0.1
    """standard deviation of the weight perturbations"""
    learning_rate: float = 0.05
    """Adam step size on the ES gradient"""
    hidden: tuple[int, ...] = ()
    """hidden layer widths of the policy (none: a linear policy; eviction scores each candidate with it)"""
    init: str = ""
    """a PolicyNet state dict to start from (e.g. behavioral_cloning.py's output); density-rule: LLVM-like
    eviction (see policy_net.density_rule); empty: zeros"""
    rule_bias: float = 0.15
    """with --init density-rule: the score bonus of keeping the live range (evicting nothing)"""
    eval_every: int = 5
    """score θ on every training program every this many generations (keeps the best)"""
    workers: int = 2
    """compiles running at once (one per core); with --ray: Ray workers (0: one per CPU of the cluster)"""
    ray: bool = False
    """score the candidates on Ray workers (a local Ray, or --ray-address) instead of one local service"""
    ray_address: str | None = None
    """the Ray cluster (auto, ray://host:10001; implies --ray); None: $RAY_ADDRESS or a local Ray"""
    resume: str = ""
    """a checkpoint.pt to resume from"""
    output: str = ""
    """write the best policy (ONNX + metadata .json) here, e.g. agents/policies/inlining_size.onnx"""


class Adam:
    """Adam on a flat parameter vector (ascent), with its state saved in checkpoints."""

    def __init__(self, size: int, lr: float, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.m = np.zeros(size)
        self.v = np.zeros(size)
        self.t = 0

    def step(self, gradient: np.ndarray) -> np.ndarray:
        """The update to add to θ for `gradient` (to be ascended)."""
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * gradient
        self.v = self.beta2 * self.v + (1 - self.beta2) * gradient**2
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)

    def state_dict(self) -> dict:
        """Plain data for checkpoints (no pickled classes, so any entry point can load them)."""
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "m": self.m, "v": self.v, "t": self.t}

    @classmethod
    def from_state_dict(cls, state: dict) -> Adam:
        """The optimiser saved by `state_dict`."""
        adam = cls(len(state["m"]), state["lr"], state["beta1"], state["beta2"])
        adam.m, adam.v, adam.t = state["m"], state["v"], state["t"]
        return adam


class Exporter:
    """Turns a weight vector into the ONNX bytes of the greedy policy: exported once, weights swapped in.

    ``torch.onnx.export`` takes seconds and a generation scores ``2 × population`` candidates, so
    the graph is exported once and each candidate only rewrites its weight initialisers
    (`agents.lib.policy_net.OnnxExport`).
    """

    def __init__(self, net: PolicyNet, observation_space: gym.spaces.Dict, mask_feature: str = "") -> None:
        self.net = net
        self.export = OnnxExport(greedy_from_net(net, mask_feature), observation_space)

    def __call__(self, theta: np.ndarray) -> bytes:
        """The ONNX bytes of the greedy policy with weights `theta` (also left in the net)."""
        with torch.no_grad():
            vector_to_parameters(torch.as_tensor(theta, dtype=torch.float32), self.net.parameters())
        return self.export()


def centered_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5] (ties broken by order): the fitness shaping of OpenAI/MLGO ES."""
    ranks = np.empty(len(values))
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks / max(len(values) - 1, 1) - 0.5


def score(
    pool: RolloutPool | RayRolloutPool, policies: list[bytes], benchmarks: list[str], reward_on_error: float = -1.0
) -> np.ndarray:
    """Reward of every policy on every benchmark, ``(len(policies), len(benchmarks))``."""
    jobs = [(policy, benchmark) for policy in policies for benchmark in benchmarks]
    results = pool.map(jobs)
    rewards = [reward_on_error if r.get("reward") is None else r["reward"] for r in results]
    return np.asarray(rewards, dtype=np.float64).reshape(len(policies), len(benchmarks))


def es_gradient(epsilons: np.ndarray, fitness_plus: np.ndarray, fitness_minus: np.ndarray, sigma: float) -> np.ndarray:
    """Antithetic ES gradient from centred ranks of all 2n fitnesses."""
    ranks = centered_ranks(np.concatenate([fitness_plus, fitness_minus]))
    n = len(fitness_plus)
    weights = ranks[:n] - ranks[n:]
    return weights @ epsilons / (n * sigma)


def initial_net(args: EsArgs, pool: RolloutPool | RayRolloutPool) -> PolicyNet:
    """The policy network: from `args.init`, the eviction density rule, or zeros (never inline).

    `args.init` is a state dict, or a policy .onnx of the same architecture (a shipped one, to fine-tune).
    """
    net = policy_net_for(pool.observation_space, pool.action_count, args.hidden)
    if args.init == "density-rule":
        density_rule(net, args.rule_bias)
    elif args.init.endswith(".onnx"):
        start = greedy_from_onnx(Path(args.init).read_bytes(), pool.observation_space, pool.action_count)
        net.load_state_dict(dict(start.encoder.state_dict(prefix="encoder.")) | start.head.state_dict(prefix="head."))
    elif args.init:
        net.load_state_dict(torch.load(args.init, map_location="cpu"))
    else:
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.zero_()
    return net


def save_checkpoint(path: Path, state: dict) -> None:
    """Write the ES state atomically (θ, Adam, generation, best, RNG)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train_es(args: EsArgs) -> Path:
    """Run ES; log to TensorBoard; checkpoint every generation; write the best policy; returns the run dir."""
    name = run_name(args.env_id, args.exp_name, args.seed)
    run_dir = Path(args.runs_dir) / name
    writer = make_writer(run_dir, args)
    seed_everything(args.seed, deterministic_torch=True)
    rng = np.random.default_rng(args.seed)
    benchmarks = list(args.benchmarks) or list_benchmarks(args.split, args.corpus)
    env_kwargs = {
        "reward": args.reward, "opt_level": args.opt_level, "service": args.service, "corpus": args.corpus or None,
    }  # fmt: skip
    with rollout_pool(args.env_id, args.workers or None, args.ray, args.ray_address, **env_kwargs) as pool:
        net = initial_net(args, pool)
        exporter = Exporter(net, pool.observation_space, mask_feature_of(pool.observation_space))
        theta = parameters_to_vector(net.parameters()).detach().numpy().astype(np.float64)
        adam = Adam(theta.size, args.learning_rate)
        start, best = 0, {"fitness": -np.inf, "theta": theta.copy(), "generation": -1}
        if args.resume:
            state = torch.load(args.resume, map_location="cpu", weights_only=False)
            theta, start, best = state["theta"], state["generation"], state["best"]
            adam = Adam.from_state_dict(state["adam"])
            rng.bit_generator.state = state["rng"]
        per_generation = args.benchmarks_per_generation or len(benchmarks)
        progress = tqdm(range(start, args.generations), desc="ES", unit="gen", initial=start, total=args.generations)
        for generation in progress:
            t0 = time.time()
            if generation % args.eval_every == 0:
                best = evaluate_theta(pool, exporter, theta, benchmarks, generation, best, writer)
            batch = list(rng.choice(benchmarks, size=min(per_generation, len(benchmarks)), replace=False))
            epsilons = rng.standard_normal((args.population, theta.size))
            candidates = [exporter(theta + args.sigma * e) for e in epsilons]
            candidates += [exporter(theta - args.sigma * e) for e in epsilons]
            fitness = score(pool, candidates, batch).mean(axis=1)
            plus, minus = fitness[: args.population], fitness[args.population :]
            theta = theta + adam.step(es_gradient(epsilons, plus, minus, args.sigma))
            writer.add_scalar("charts/mean_fitness", fitness.mean(), generation)
            writer.add_scalar("charts/max_fitness", fitness.max(), generation)
            writer.add_scalar("charts/theta_norm", float(np.linalg.norm(theta)), generation)
            writer.add_scalar("charts/seconds_per_generation", time.time() - t0, generation)
            progress.set_postfix(fitness=f"{fitness.mean():+.4f}", best=f"{best['fitness']:+.4f}")
            state = {"theta": theta, "adam": adam.state_dict(), "generation": generation + 1, "best": best}
            state.update(rng=rng.bit_generator.state, args=dataclasses.asdict(args))
            save_checkpoint(run_dir / "checkpoint.pt", state)
        best = evaluate_theta(pool, exporter, theta, benchmarks, args.generations, best, writer)
        task_name = pool.task_name
    writer.close()
    finish(args, net, exporter, best, benchmarks, run_dir, task_name)
    return run_dir


def evaluate_theta(
    pool: RolloutPool | RayRolloutPool,
    exporter: Exporter,
    theta: np.ndarray,
    benchmarks: list[str],
    generation: int,
    best: dict,
    writer: object,
) -> dict:
    """Score θ on every training program; return the (possibly updated) best record."""
    rewards = score(pool, [exporter(theta)], benchmarks)[0]
    fitness = geomean_reduction(rewards)
    writer.add_scalar("charts/train_geomean_reduction", fitness, generation)  # type: ignore[attr-defined]
    tqdm.write(f"generation {generation}: train geomean reduction vs the reward's baseline {fitness:+.4f}")
    if fitness > best["fitness"]:
        per_program = dict(zip(benchmarks, map(float, rewards), strict=True))
        return {"fitness": fitness, "theta": theta.copy(), "generation": generation, "per_program": per_program}
    return best


def finish(
    args: EsArgs, net: PolicyNet, exporter: Exporter, best: dict, benchmarks: list[str], run_dir: Path, task_name: str
) -> None:
    """Save the best θ as a state dict and ONNX ``policy.onnx`` in the run dir (and at ``--output``)."""
    with torch.no_grad():
        vector_to_parameters(torch.as_tensor(best["theta"], dtype=torch.float32), net.parameters())
    torch.save(net.state_dict(), run_dir / "best_state_dict.pt")
    metadata = {
        "task": task_name,
        "trainer": "agents/es.py",
        "reward": args.reward,
        "opt_level": args.opt_level,
        "train_benchmarks": benchmarks,
        "train_geomean_reduction": best["fitness"],
        "best_generation": best["generation"],
        "inputs": net.encoder.input_names(),
        "hidden": list(args.hidden),
        "args": dataclasses.asdict(args),
    }
    (run_dir / "best.json").write_text(json.dumps(metadata, indent=1))
    save_policy(run_dir / "policy.onnx", exporter(best["theta"]), metadata)
    if args.output:
        save_policy(Path(args.output), exporter(best["theta"]), metadata)
        print(f"wrote {args.output} (train geomean reduction {best['fitness']:+.4f})")
