"""How rollouts scale on Ray: measured on this machine with 1 and 2 workers, modelled beyond it.

Measured (same benchmarks, same policy, same number of episodes, configurations interleaved):
- ``local_no_ray``: one compiler service in this process, rollouts sent one after another (no
  Ray at all); ``local_no_ray_2_clients``: the same service with two concurrent clients;
- ``workers``: `mlgo_env.distributed.collect` on a local Ray with a pool of 1 and of 2 workers;
- Ray's cost per episode: the driver's view of an attempt minus the time it spent inside its
  worker, the driver's own CPU time per episode, an empty actor call, and the object-store
  transfer of a module (driver → worker) and of a trajectory (worker → driver).

Modelled (no cluster was used): throughput for N = 8 … 1024 workers from those measured costs,
with stated assumptions (network bandwidth, corpus size, passes over it). The model says which
limit binds at each N: the workers, the driver's CPU, the driver's network link, or the per-worker
baseline compiles that a scored collection pays when workers outnumber the passes.

The episodes use the ``llvm-default`` inlining policy without a reward (no baseline compile), so
every configuration does the same work; the baseline's cost is measured on its own for the model.

Usage: ``python benchmarks/scale.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ray
import tyro
from rich.console import Console
from rich.table import Table

from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Corpus, default_corpus
from mlgo_env.distributed import connect
from mlgo_env.distributed.actors import Attempt, RolloutSettings, WorkerPool
from mlgo_env.distributed.collect import EpisodeOutcome, collect
from mlgo_env.service.client import ServiceConnection
from mlgo_env.service.proto import pb
from mlgo_env.service.server import ServiceConfig, start_server
from mlgo_env.toolchain import get_toolchain

POLICY = "llvm-default"
SETTINGS = RolloutSettings(reward=None)
MODEL_WORKERS = [8, 16, 32, 64, 128, 256, 512, 1024]


@dataclass
class Args:
    quick: bool = False
    """8 modules, 2 episodes each, one round (a few minutes on 2 cores)"""
    json: Path | None = None
    """write the figures here as JSON"""
    rounds: int = 3
    """measurement rounds (configurations interleaved in each; the median is kept)"""
    episodes_per_module: int = 2
    """episodes per module in each measurement"""
    network_gbit_s: float = 10.0
    """ASSUMED for the model: the driver's network bandwidth (Gbit/s)"""
    corpus_modules: int = 10_000
    """ASSUMED for the model: modules in the corpus (MLGO's published corpora are 10^4 - 10^5)"""
    passes: int = 100
    """ASSUMED for the model: episodes per module over a training run"""


@dataclass
class Run:
    """One measured configuration in one round."""

    episodes: int
    seconds: float
    load_before: float
    load_after: float

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds


def _load() -> float:
    return os.getloadavg()[0]


def measure_local(corpus: Corpus, ids: list[str], clients: int) -> Run:
    """Rollouts on one in-process service with `clients` concurrent clients, no Ray."""
    server, servicer, port = start_server("127.0.0.1:0", ServiceConfig(corpus=corpus.root, insecure=True))
    connection = ServiceConnection(f"127.0.0.1:{port}")
    config = SETTINGS.config()

    def run(chunk: list[str]) -> None:
        for benchmark in chunk:
            policy = pb.Policy(builtin=POLICY)
            request = pb.RolloutRequest(benchmark=benchmark, config=config, policy=policy)
            connection.call("Rollout", request)

    try:
        run(ids[:clients])  # warm-up, untimed
        load = _load()
        start = time.perf_counter()
        threads = [threading.Thread(target=run, args=(ids[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return Run(len(ids), time.perf_counter() - start, load, _load())
    finally:
        connection.close()
        servicer.shutdown()
        server.stop(0)


def measure_ray(corpus: Corpus, ids: list[str], workers: int) -> tuple[Run, list[EpisodeOutcome], float]:
    """A collection on a pool of `workers`; the run, its outcomes and the driver's CPU s/episode."""
    with WorkerPool(workers, corpus.root, share_corpus=True) as pool:
        list(collect(POLICY, ids[:workers], pool, SETTINGS, progress=False))  # warm-up, untimed
        load = _load()
        cpu, start = time.process_time(), time.perf_counter()
        outcomes = list(collect(POLICY, ids, pool, SETTINGS, progress=False))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if not all(o.ok for o in outcomes):
        raise RuntimeError(f"failed episodes: {[str(o.faults[-1]) for o in outcomes if not o.ok]}")
    return Run(len(ids), seconds, load, _load()), outcomes, cpu / len(ids)


class Echo:
    """An actor that answers at once (empty calls, a payload, a stored trajectory) or never."""

    def __init__(self, attempt: Attempt) -> None:
        self.attempt = attempt

    def nothing(self) -> None:
        return None

    def hang(self) -> None:
        time.sleep(3600)

    def receive(self, payload: bytes) -> int:
        return len(payload)

    def trajectory(self) -> Attempt:
        return self.attempt


def _median_call(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ray.get(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_transfers(corpus: Corpus, attempt: Attempt, repeats: int) -> dict[str, float]:
    """Seconds of an empty actor call, and the extra seconds to move a module or a trajectory."""
    module = sorted(corpus.benchmark(m).bitcode.read_bytes() for m in corpus.modules)
    module_bytes = module[len(module) // 2]
    echo = ray.remote(num_cpus=0)(Echo).remote(attempt)
    ray.get(echo.nothing.remote())
    empty = _median_call(echo.nothing.remote, repeats)
    to_worker = _median_call(lambda: echo.receive.remote(module_bytes), repeats)
    from_worker = _median_call(echo.trajectory.remote, repeats)
    waits = {}
    for pending in (1, 1024):  # the driver's ray.wait over every attempt in flight
        refs = [echo.hang.remote() for _ in range(pending)]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ray.wait(refs, num_returns=1, timeout=0)
            times.append(time.perf_counter() - start)
        waits[pending] = statistics.median(times)
    ray.kill(echo)
    return {
        "ray_wait_per_pending_ref_s": (waits[1024] - waits[1]) / 1023,
        "empty_actor_call_s": empty,
        "module_bytes": len(module_bytes),
        "module_transfer_s": max(0.0, to_worker - empty),
        "trajectory_bytes": len(pickle.dumps(attempt)),
        "trajectory_transfer_s": max(0.0, from_worker - empty),
    }


def measure_baseline(corpus: Corpus, ids: list[str]) -> float:
    """Median seconds of the baseline compile a scored episode needs (once per module and worker)."""
    toolchain, times = get_toolchain(), []
    for benchmark in ids:
        workdir = Path(tempfile.mkdtemp(prefix="scale-baseline-"))
        start = time.perf_counter()
        compile_baseline(toolchain, corpus.benchmark(benchmark), CompileOptions(), workdir)
        times.append(time.perf_counter() - start)
        shutil.rmtree(workdir)
    return statistics.median(times)


def model(costs: dict[str, float], args: Args) -> dict[str, Any]:
    """Episodes per second for N workers from the measured per-episode costs (see the docstring).

    - workers: N / (episode + Ray overhead + [scored] baseline share), where a scored collection
      of P passes compiles each module's baseline once per worker that meets it: a share
      min(1, N / P) of its episodes pays one;
    - driver CPU: 1 / (driver CPU seconds per episode, plus one ``ray.wait`` over the N attempts
      in flight per episode: pessimistic, as the driver handles every answer ready at once);
    - driver network: bandwidth / trajectory bytes (every trajectory ends at the driver);
    - finite collection: the last episodes straggle, adding (slowest - mean episode) to the
      makespan of corpus_modules x passes episodes.
    """
    episode = costs["episode_s"] + costs["ray_overhead_s"]
    network = args.network_gbit_s * 1e9 / 8 / costs["trajectory_bytes"]
    total = args.corpus_modules * args.passes
    rows = []
    for n in MODEL_WORKERS:
        driver = 1.0 / (costs["driver_cpu_s"] + n * costs["ray_wait_per_pending_ref_s"])
        row: dict[str, Any] = {"workers": n}
        for scored in (False, True):
            share = min(1.0, n / args.passes) if scored else 0.0
            compute = n / (episode + share * costs["baseline_s"])
            rate = min(compute, driver, network)
            makespan = total / rate + (costs["slowest_episode_s"] - costs["episode_s"])
            limits = {"workers": compute, "driver CPU": driver, "driver network": network}
            key = "scored" if scored else "unscored"
            row[f"{key}_episodes_per_s"] = total / makespan
            row[f"{key}_efficiency"] = total / makespan / (n / costs["episode_s"])
            row[f"{key}_bound"] = min(limits, key=limits.__getitem__)
        rows.append(row)
    knee = next((r["workers"] for r in rows if r["unscored_bound"] != "workers"), None)
    return {
        "measured_inputs": costs,
        "assumptions": {
            "network_gbit_s": args.network_gbit_s,
            "corpus_modules": args.corpus_modules,
            "passes": args.passes,
            "one driver process handles every result; workers never wait for their next episode "
            "longer than the measured Ray overhead": True,
        },
        "limits_episodes_per_s": {
            "per_worker": 1.0 / episode,
            "driver_cpu": 1.0 / costs["driver_cpu_s"],
            "driver_network": network,
        },
        "workers_where_scaling_stops": knee,
        "rows": rows,
    }


def main(args: Args) -> dict[str, Any]:
    """Measure, model, print, and return the figures."""
    console = Console()
    if args.quick:
        args.rounds, args.episodes_per_module = 1, 2
    connect()
    corpus = default_corpus()
    modules = corpus.modules[:8] if args.quick else corpus.modules
    ids = [m for m in modules for _ in range(args.episodes_per_module)]
    runs: dict[str, list[Run]] = {k: [] for k in ("local", "local2", "ray1", "ray2")}
    outcomes: list[EpisodeOutcome] = []
    driver_cpu: list[float] = []
    for round_ in range(args.rounds):
        console.print(f"round {round_ + 1}/{args.rounds}: {len(ids)} episodes per configuration")
        runs["local"].append(measure_local(corpus, ids, 1))
        run, found, cpu = measure_ray(corpus, ids, 1)
        runs["ray1"].append(run)
        outcomes += found
        driver_cpu.append(cpu)
        runs["ray2"].append(measure_ray(corpus, ids, 2)[0])
        runs["local2"].append(measure_local(corpus, ids, 2))

    def rate(key: str) -> float:
        return statistics.median(r.episodes_per_s for r in runs[key])

    inside = [o.worker_seconds for o in outcomes]
    overhead = [o.latency - o.worker_seconds for o in outcomes]
    attempt = max(outcomes, key=lambda o: o.rollout.decisions)
    transfers = measure_transfers(corpus, Attempt("w", 0.0, rollout=attempt.rollout), 50)
    costs = {
        "episode_s": statistics.mean(inside),
        "slowest_episode_s": max(inside),
        "ray_overhead_s": statistics.median(overhead),
        "driver_cpu_s": statistics.median(driver_cpu),
        "baseline_s": measure_baseline(corpus, modules[:4]),
        **transfers,
    }
    figures = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "ray": ray.__version__,
        },
        "policy": POLICY,
        "episodes_per_configuration": len(ids),
        "rounds": args.rounds,
        "workers": {
            "1": {"episodes_per_s": rate("ray1")},
            "2": {"episodes_per_s": rate("ray2")},
        },
        "speedup_2_over_1": rate("ray2") / rate("ray1"),
        "local_no_ray": {"episodes_per_s": rate("local")},
        "local_no_ray_2_clients": {"episodes_per_s": rate("local2")},
        "ray_overhead_per_episode_s": {
            "latency_minus_worker_time_median": costs["ray_overhead_s"],
            "wall_1_worker_minus_local": 1 / rate("ray1") - 1 / rate("local"),
            "driver_cpu": costs["driver_cpu_s"],
        },
        "load_average": {k: [(r.load_before, r.load_after) for r in v] for k, v in runs.items()},
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
        "model": model(costs, args),
    }
    print_tables(console, figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    ray.shutdown()
    return figures


def print_tables(console: Console, figures: dict[str, Any]) -> None:
    """The measured and modelled figures as two tables."""
    measured = Table(title=f"MEASURED on this machine ({figures['machine']['cpus']} CPUs)")
    for column in ("configuration", "episodes/s", "vs local, 1 client", "load average"):
        measured.add_column(column)
    local = figures["local_no_ray"]["episodes_per_s"]
    loads = figures["load_average"]
    for label, key, rate in (
        ("local service, no Ray, 1 client", "local", local),
        (
            "local service, no Ray, 2 clients",
            "local2",
            figures["local_no_ray_2_clients"]["episodes_per_s"],
        ),
        ("Ray, 1 worker", "ray1", figures["workers"]["1"]["episodes_per_s"]),
        ("Ray, 2 workers", "ray2", figures["workers"]["2"]["episodes_per_s"]),
    ):
        load = ", ".join(f"{a:.1f}→{b:.1f}" for a, b in loads[key])
        measured.add_row(label, f"{rate:.2f}", f"{rate / local:.2f}x", load)
    console.print(measured)
    overhead = figures["ray_overhead_per_episode_s"]
    inputs = figures["model"]["measured_inputs"]
    console.print(
        f"2 workers / 1 worker: {figures['speedup_2_over_1']:.2f}x (target ≥ 1.8x). "
        f"Ray per episode: {overhead['latency_minus_worker_time_median'] * 1e3:.1f} ms round trip beyond the "
        f"worker, {overhead['driver_cpu'] * 1e3:.1f} ms of driver CPU; empty actor call "
        f"{inputs['empty_actor_call_s'] * 1e3:.2f} ms; module ({inputs['module_bytes']:,} B) "
        f"+{inputs['module_transfer_s'] * 1e3:.2f} ms; trajectory ({inputs['trajectory_bytes']:,} B) "
        f"+{inputs['trajectory_transfer_s'] * 1e3:.2f} ms; baseline compile {inputs['baseline_s']:.2f} s."
    )
    result = figures["model"]
    assumed = result["assumptions"]
    modelled = Table(
        title=f"MODELLED from the measured costs ({assumed['corpus_modules']:,} modules x "
        f"{assumed['passes']} passes, {assumed['network_gbit_s']:.0f} Gbit/s at the driver: assumptions)"
    )
    for column in (
        "workers",
        "episodes/s",
        "efficiency",
        "bound by",
        "scored: episodes/s",
        "efficiency",
        "bound by",
    ):
        modelled.add_column(column)
    for row in result["rows"]:
        modelled.add_row(
            str(row["workers"]),
            f"{row['unscored_episodes_per_s']:.0f}",
            f"{row['unscored_efficiency']:.0%}",
            row["unscored_bound"],
            f"{row['scored_episodes_per_s']:.0f}",
            f"{row['scored_efficiency']:.0%}",
            row["scored_bound"],
        )
    console.print(modelled)
    limits = result["limits_episodes_per_s"]
    console.print(
        f"Scaling stops near {result['workers_where_scaling_stops']} workers: one driver handles every "
        f"result at ≈{limits['driver_cpu']:.0f} episodes/s of CPU, less as more attempts are in flight "
        f"(network would allow "
        f"≈{limits['driver_network']:.0f}/s); a worker does ≈{limits['per_worker']:.2f}/s. Scored "
        "collections lose efficiency earlier: each worker compiles the baseline of every module it "
        "meets, once."
    )


if __name__ == "__main__":
    main(tyro.cli(Args))
