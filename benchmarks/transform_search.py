"""Random search and a short PPO run over Transform-dialect schedules vs MLIR's default lowering.

For each payload: the default pipeline's per-call time (min-of-k), the best schedule random
search finds, the schedule a briefly trained PPO agent picks greedily, their speed-ups, and the
best schedule written to ``OUT_DIR/<payload>.best.mlir`` (reusable with
``mlir-opt-19 -transform-preload-library=transform-library-paths=FILE -transform-interpreter``).

    .venv/bin/python benchmarks/transform_search.py --quick --json /tmp/transform.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlgo_env.transform.env import TransformScheduleEnv
from mlgo_env.transform.library import bundled_payloads


@dataclass
class Args:
    payloads: list[str] = field(default_factory=lambda: sorted(bundled_payloads()))
    """payloads to search (bundled names or .mlir paths)"""
    episodes: int = 16
    """random-search episodes per payload"""
    agent_steps: int = 64
    """PPO training timesteps per payload (0: no agent)"""
    max_steps: int = 5
    """actions per episode"""
    seed: int = 0
    """seed of the random search and the agent"""
    out_dir: Path = Path("benchmarks/results/transform")
    """where the best schedules go"""
    json: Path | None = None
    """also write the results here"""


@dataclass
class Found:
    cost: float = float("inf")
    schedule: list[str] = field(default_factory=list)
    schedule_mlir: str = ""
    noise: float = 0.0
    valid_episodes: int = 0


def run_episode(env: TransformScheduleEnv, policy, seed: int | None) -> dict:
    obs, _ = env.reset(seed=seed)
    while True:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        if terminated or truncated:
            return info


def keep_best(found: Found, info: dict) -> None:
    if "cost" not in info:
        return
    found.valid_episodes += 1
    if info["cost"] < found.cost:
        found.cost, found.schedule = info["cost"], info["schedule"]
        found.schedule_mlir, found.noise = info["schedule_mlir"], info.get("noise", 0.0)


def random_search(env: TransformScheduleEnv, episodes: int, seed: int) -> Found:
    found = Found()
    env.action_space.seed(seed)
    for episode in range(episodes):
        keep_best(found, run_episode(env, lambda _: env.action_space.sample(), seed + episode))
    return found


def train_agent(env: TransformScheduleEnv, steps: int, seed: int) -> Found:
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", env, n_steps=max(8, steps // 4), batch_size=8, n_epochs=4, seed=seed, verbose=0)
    model.learn(total_timesteps=steps)
    found = Found()
    keep_best(found, run_episode(env, lambda obs: model.predict(obs, deterministic=True)[0], seed))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payloads", nargs="+", default=Args().payloads)
    parser.add_argument("--episodes", type=int, default=Args.episodes)
    parser.add_argument("--agent-steps", type=int, default=Args.agent_steps)
    parser.add_argument("--max-steps", type=int, default=Args.max_steps)
    parser.add_argument("--seed", type=int, default=Args.seed)
    parser.add_argument("--out-dir", type=Path, default=Args().out_dir)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="4 episodes, 16 agent steps, 4 actions")
    ns = parser.parse_args()
    args = Args(ns.payloads, ns.episodes, ns.agent_steps, ns.max_steps, ns.seed, ns.out_dir, ns.json)
    if ns.quick:
        args.episodes, args.agent_steps, args.max_steps = 4, 16, 4
    args.out_dir.mkdir(parents=True, exist_ok=True)

    rows = []
    for payload in args.payloads:
        start = time.time()
        env = TransformScheduleEnv(payload=payload, max_steps=args.max_steps, compile_timeout=60.0)
        try:
            _, info = env.reset(seed=args.seed)
            baseline = info["baseline_cost"]
            base_noise = info.get("baseline_noise", float("nan"))
            searched = random_search(env, args.episodes, args.seed)
            agent = train_agent(env, args.agent_steps, args.seed) if args.agent_steps else Found()
        finally:
            env.close()
        best = min((searched, agent), key=lambda f: f.cost)
        best_path = args.out_dir / f"{Path(payload).stem}.best.mlir"
        if best.schedule_mlir:
            best_path.write_text(best.schedule_mlir)
        rows.append(
            {
                "payload": Path(payload).stem,
                "default_ms": baseline * 1e3,
                "default_noise": base_noise,
                "random": {**asdict(searched), "speedup": baseline / searched.cost},
                "agent": {**asdict(agent), "speedup": baseline / agent.cost},
                "best_schedule_file": str(best_path) if best.schedule_mlir else None,
                "seconds": time.time() - start,
            }
        )
        print(f"{payload}: done in {time.time() - start:.0f} s", flush=True)

    print(
        f"\n{'payload':12} {'default ms':>10} {'random ms':>10} {'x':>6} {'agent ms':>9} {'x':>6}  "
        f"noise d/r/a   best random schedule"
    )
    for row in rows:
        r, a = row["random"], row["agent"]
        print(
            f"{row['payload']:12} {row['default_ms']:10.3f} {r['cost'] * 1e3:10.3f} {r['speedup']:6.2f} "
            f"{a['cost'] * 1e3:9.3f} {a['speedup']:6.2f}  "
            f"{row['default_noise']:.2f}/{r['noise']:.2f}/{a['noise']:.2f}   {' -> '.join(r['schedule'])}"
        )
    if args.json:
        for row in rows:
            for key in ("random", "agent"):
                row[key].pop("schedule_mlir")
        args.json.write_text(json.dumps(rows, indent=2, default=lambda v: None if v != v else v))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
