"""How fast the environments run: the host's overhead per decision, over the plain compile and the protocol's floor.

Overhead only: every driven episode makes the decisions of one recorded sequence (inlining:
LLVM's own decisions, i.e. the plain compile; eviction: "evict nothing"; priority: a seeded
random sequence), replayed, so the compiler's own work is the same in every mode. For each
environment and module, in interleaved rounds (the minimum of each mode is kept):

- plain: the same module, flags and LLVM version with LLVM's own heuristic, no channel;
- floor: a minimal native host (``floor_host.c``, built here with the system ``cc``) answering
  the replayed advice on the same pipes: what the protocol itself costs;
- rollout: the whole episode inside the (embedded) service, ``env.unwrapped.rollout(actions)``;
- step: the Gym API, one ``env.step`` per decision;
- step_batched: ``--batch`` environments (4) on one ``Episodes`` stream (``gym.make_vec``'s
  `BatchedCompilerEnv`), every one replaying the module's decisions, one ``step`` answering all
  of theirs; against plain_parallel: as many plain compiles of the module at once.

Per mode: ``overhead_us_per_decision = (episode - plain) / decisions``, the ratio to the plain
compile and decisions per second; per environment ``floor_us_per_decision``. For step_batched,
``overhead_us_per_decision = (batched episodes - parallel plain compiles) / (batch * decisions)``,
both walls: the baseline runs the same compilers side by side on the same cores, so their
parallelism is not counted as saved overhead; what is left is the host's and the stream's cost
per decision, waiting for each batch's slowest compiler included (its ratio is to the parallel
plain compiles, its decisions per second those of all its environments). ``--breakdown``
adds, in-process and per decision, where the Python loop's time goes (waiting for the compiler,
reading, decoding, the policy, writing) and the native loop's overhead; the RPC's share of step
mode is its overhead less the Python loop's (the service runs that loop per Step), shown beside
the round trip of a bare gRPC bidirectional stream (an echo server in a child process, one
message each way, over a unix socket, as the embedded service): the part of step mode's cost that
is gRPC's own, whatever the service does.

``--policies`` times one call of each shipped policy as shipped (one input per feature) and
exported packed (`mlgo_env.packed`), on real observations.

Usage: ``python benchmarks/env_speed.py [--quick] [--breakdown] [--policies] [--batch N] [--json PATH]``
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import queue
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import gymnasium as gym
import numpy as np
import tyro
from gymnasium.vector import VectorEnv
from rich.console import Console
from rich.table import Table

import mlgo_env  # noqa: F401 - registers the environments
from mlgo_env import rollout_loop
from mlgo_env.compilation import CompileOptions, InteractiveCompile, compile_command
from mlgo_env.corpus import Benchmark, default_corpus
from mlgo_env.episode import run_episode
from mlgo_env.machine import host
from mlgo_env.policies import replay_policy
from mlgo_env.protocol import Channel
from mlgo_env.tasks import TASKS, Task
from mlgo_env.toolchain import Toolchain, get_toolchain

# Modules with many decisions of each kind in the bundled corpus (image_morph asks thousands of
# eviction decisions: the target case).
QUICK = {
    "mlgo/Inlining-v0": ["json_parse"],
    "mlgo/RegallocEviction-v0": ["image_morph"],
    "mlgo/RegallocPriority-v0": ["image_morph"],
}
FULL = {
    "mlgo/Inlining-v0": ["json_parse", "image_morph", "chacha20", "expr_eval", "sha256"],
    "mlgo/RegallocEviction-v0": ["image_morph", "stencil2d", "image_blur", "nbody", "sha256"],
    "mlgo/RegallocPriority-v0": ["image_morph", "stencil2d", "image_blur", "json_parse", "nbody"],
}
MODES = ("rollout", "step", "step_batched")
"""The driven modes, each against its plain baseline (step_batched's: as many plain compiles at once)."""
RECORDED_POLICY = {"inlining": "llvm-default", "regalloc_eviction": "never", "regalloc_priority": "random"}
"""The policy whose decisions are recorded once and replayed by every driven mode."""
FLOOR_HOST = Path(__file__).with_name("floor_host.c")


@dataclass
class Args:
    quick: bool = False
    """one module per environment, 2 rounds (under 3 minutes on 2 cores)"""
    breakdown: bool = False
    """also time the parts of each decision in-process (Python loop) and the native loop"""
    policies: bool = False
    """also time one call of each shipped policy, as shipped and packed (needs the agents extra: torch)"""
    json: Path | None = None
    """write the figures here as JSON"""
    repeats: int = 3
    """interleaved rounds per module (the minimum of each mode is kept)"""
    envs: list[str] = field(default_factory=lambda: list(FULL))
    """environment ids to measure"""
    batch: int = 4
    """environments on one stream in step_batched mode"""


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def build_floor_host(workdir: Path) -> Path:
    """The floor host, compiled with the system C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise SystemExit("the floor host needs a C compiler (cc)")
    binary = workdir / "floor_host"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(FLOOR_HOST)], check=True)
    return binary


@dataclass
class Module:
    """One module of one task, with its recorded decisions."""

    task: Task
    benchmark: Benchmark
    toolchain: Toolchain
    actions: np.ndarray
    record_nbytes: int
    workdir: Path

    def plain(self, copies: int = 1) -> None:
        """`copies` plain compiles of the module at once."""
        outputs = [self.workdir / f"plain{i}.o" for i in range(copies)]
        commands = [compile_command(self.toolchain, self.benchmark, o, CompileOptions(), []) for o in outputs]
        processes = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
        for command, process in zip(commands, processes, strict=True):
            if process.wait() != 0:
                raise subprocess.CalledProcessError(process.returncode, command)

    def floor(self, floor_host: Path) -> None:
        base = self.workdir / "floor"
        advice = self.workdir / "advice.bin"
        advice.write_bytes(self.actions.tobytes())
        flags = self.task.channel_flags(base, include_default=False)
        command = compile_command(self.toolchain, self.benchmark, self.workdir / "floor.o", CompileOptions(), flags)
        host_command = [str(floor_host), str(base), str(self.record_nbytes), str(advice), str(self.actions.itemsize)]
        subprocess.run([*host_command, "--", *command], check=True, capture_output=True)


def record(task: Task, benchmark: Benchmark, toolchain: Toolchain, workdir: Path) -> Module:
    """Run the recorded policy once; its actions are what every driven mode replays."""
    trajectory = run_episode(benchmark, task, RECORDED_POLICY[task.name], seed=0, toolchain=toolchain)
    nbytes = sum(array[0].nbytes for array in trajectory.observations.values())
    if task.default_feature in trajectory.observations:  # replayed without include_default
        nbytes -= trajectory.observations[task.default_feature][0].nbytes
    return Module(task, benchmark, toolchain, trajectory.actions, nbytes, workdir)


def step_episode(env: gym.Env, module: Module) -> int:
    """One step-by-step episode replaying the recorded actions; its decisions."""
    env.reset(options={"benchmark": module.benchmark.name})
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    done, info = False, {}
    for action in module.actions:
        _, _, done, _, info = env.step(int(action) if discrete else np.array([action], np.float32))
        if done:
            break
    assert done, "the replayed episode did not finish"
    return int(info["decisions"])


def step_batched(vec: VectorEnv, module: Module) -> int:
    """`vec.num_envs` step-by-step episodes on one stream, each replaying the recorded actions; their decisions."""
    vec.reset(options={"benchmark": module.benchmark.name})
    batch = vec.action_space.sample()  # the batched actions' shape and dtype
    terminated = np.zeros(vec.num_envs, dtype=bool)
    info: dict = {}
    for action in module.actions:
        _, _, terminated, _, info = vec.step(np.full_like(batch, action))
        if terminated.any():
            break
    assert terminated.all(), "the replayed episodes did not finish together"
    return int(info["decisions"].sum())


class TimedChannel:
    """Times a `Channel`'s waits for the compiler (its selector) apart from the rest of the reads."""

    def __init__(self, channel: Channel) -> None:
        self.waiting = 0.0
        selector = channel._selector
        select = selector.select

        def timed_select(timeout: float | None = None) -> list:
            start = time.perf_counter()
            try:
                return select(timeout)
            finally:
                self.waiting += time.perf_counter() - start

        selector.select = timed_select  # type: ignore[method-assign]


def breakdown(module: Module) -> dict[str, float]:
    """Per decision (µs), in-process: the Python loop's parts, and the native loop's overhead."""
    task, toolchain = module.task, module.toolchain
    parts = dict.fromkeys(("wait_and_read", "waiting", "decode", "policy", "write"), 0.0)
    with InteractiveCompile(toolchain, module.benchmark, task, CompileOptions()) as compile_:
        compile_.launch()
        channel = compile_.channel
        assert channel is not None and channel.header is not None
        timed = TimedChannel(channel)
        policy = replay_policy(task, module.actions)
        decisions = 0
        while True:
            t0 = time.perf_counter()
            decision = channel.next_decision()
            t1 = time.perf_counter()
            parts["wait_and_read"] += t1 - t0
            if decision is None:
                break
            observation = task.repair_observation(channel.header.decode(decision.raw), toolchain.version, False)
            t2 = time.perf_counter()
            action = policy(observation)
            t3 = time.perf_counter()
            channel.send_advice(task.check_action(action, observation))
            t4 = time.perf_counter()
            parts["decode"] += t2 - t1
            parts["policy"] += t3 - t2
            parts["write"] += t4 - t3
            decisions += 1
        parts["waiting"] = timed.waiting
    parts["reading"] = parts.pop("wait_and_read") - parts["waiting"]
    figures = {f"python_{k}_us": 1e6 * v / max(decisions, 1) for k, v in parts.items()}
    plain = min(_seconds(module.plain) for _ in range(2))
    for name, native in (("python_loop", False), ("native_loop", True)):
        seconds = min(
            _seconds(
                lambda n=native: run_episode(module.benchmark, task, replay_policy(task, module.actions), native=n)
            )
            for _ in range(2)
        )
        figures[f"{name}_overhead_us"] = 1e6 * (seconds - plain) / decisions
    return figures


SHIPPED = {"inlining_size": ("inlining", "json_parse", 2), "eviction_perf": ("regalloc_eviction", "image_morph", 33)}
"""The shipped policies (agents/policies), the task and module their per-call cost is measured on, their actions."""


def policy_costs() -> dict[str, dict[str, float]]:
    """µs per call of each shipped policy, as shipped (an input per feature) and packed, on real observations."""
    import onnx
    from gymnasium import spaces

    from agents.lib.policy_net import greedy_from_onnx, to_onnx
    from mlgo_env.onnx_policy import OnnxPolicy
    from mlgo_env.packed import PackedLayout
    from mlgo_env.protocol import TensorSpec

    corpus = default_corpus(get_toolchain())
    costs = {}
    for name, (task, module, n_actions) in SHIPPED.items():
        observations = run_episode(corpus.benchmark(module), task, "random", seed=0).observations  # header order
        specs = [TensorSpec(k, v.dtype, v.shape[1:]) for k, v in observations.items()]
        space = spaces.Dict({s.name: spaces.Box(-np.inf, np.inf, s.shape, s.dtype.newbyteorder("=")) for s in specs})
        shipped = (Path(__file__).parents[1] / "agents" / "policies" / f"{name}.onnx").read_bytes()
        packed = to_onnx(greedy_from_onnx(shipped, space, n_actions), space, packed=PackedLayout.of(specs))
        rows = [
            {k: v[i] for k, v in observations.items()} for i in range(min(500, len(next(iter(observations.values())))))
        ]
        figures: dict[str, float] = {}
        for form, data in (("shipped", shipped), ("packed", packed)):
            policy = OnnxPolicy(data)
            policy.check_inputs(specs)
            best = min(_seconds(lambda p=policy, r=rows: [p(row) for row in r]) for _ in range(3))
            figures[f"{form}_us_per_call"] = 1e6 * best / len(rows)
            figures[f"{form}_nodes"] = len(onnx.load_from_string(data).graph.node)
        costs[name] = figures
    return costs


def _echo(requests: object, context: object) -> object:
    yield from requests  # type: ignore[misc]


def _serve_echo(address: str) -> None:
    """A bare gRPC server (thread pool, as the service's) whose one bidi-stream method echoes bytes."""
    from concurrent import futures

    echo = grpc.stream_stream_rpc_method_handler(_echo)  # no (de)serializers: bytes as they are
    handler = grpc.method_handlers_generic_handler("echo.Echo", {"Echo": echo})
    server = grpc.server(futures.ThreadPoolExecutor(4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(address)
    server.start()
    server.wait_for_termination()


def grpc_round_trip_us(payload_bytes: int = 1024, messages: int = 2000) -> float:
    """µs per round trip of one message each way on a bare gRPC bidi stream over a unix socket."""
    with tempfile.TemporaryDirectory(prefix="mlgo-echo-") as tmp:
        address = f"unix:{tmp}/echo.sock"
        server = multiprocessing.get_context("spawn").Process(target=_serve_echo, args=(address,), daemon=True)
        server.start()
        try:
            with grpc.insecure_channel(address) as channel:
                grpc.channel_ready_future(channel).result(timeout=30)
                call = channel.stream_stream("/echo.Echo/Echo", request_serializer=None, response_deserializer=None)
                requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
                replies = call(iter(requests.get, None))
                payload = bytes(payload_bytes)
                requests.put(payload)
                next(replies)  # the stream is open

                def trips() -> None:
                    for _ in range(messages):
                        requests.put(payload)
                        next(replies)

                best = min(_seconds(trips) for _ in range(3))
                requests.put(None)
        finally:
            server.kill()
            server.join()
    return 1e6 * best / messages


def measure(env_id: str, names: list[str], args: Args, floor_host: Path) -> dict:
    """Figures of one environment, per module and aggregated."""
    env = gym.make(env_id, reward=None, split=None)
    vec = gym.make_vec(
        env_id, num_envs=args.batch, reward=None, split=None, autoreset_mode=gym.vector.AutoresetMode.DISABLED
    )
    task = env.unwrapped.task
    toolchain = get_toolchain()
    corpus = default_corpus(toolchain)
    rows = []
    try:
        for name in names:
            with tempfile.TemporaryDirectory(prefix="mlgo-speed-") as tmp:
                module = record(task, corpus.benchmark(name), toolchain, Path(tmp))
                modes: dict[str, Callable[[], object]] = {
                    "plain": module.plain,
                    "floor": lambda m=module: m.floor(floor_host),
                    "rollout": lambda m=module: env.unwrapped.rollout(
                        m.actions, benchmark=m.benchmark.name, return_observations=True
                    ),
                    "step": lambda m=module: step_episode(env, m),
                    "plain_parallel": functools.partial(module.plain, args.batch),
                    "step_batched": functools.partial(step_batched, vec, module),
                }
                times: dict[str, list[float]] = {mode: [] for mode in modes}
                for _ in range(args.repeats):  # interleaved: plain, floor, rollout, step, ..., plain, ...
                    for mode, run in modes.items():
                        times[mode].append(_seconds(run))
                best = {mode: min(values) for mode, values in times.items()}
                decisions = len(module.actions)
                row: dict = {
                    "benchmark": name,
                    "decisions": decisions,
                    "plain_compile_s": best["plain"],
                    "floor_us_per_decision": 1e6 * (best["floor"] - best["plain"]) / decisions,
                }
                for mode, plain, episodes in (
                    ("rollout", best["plain"], 1),
                    ("step", best["plain"], 1),
                    ("step_batched", best["plain_parallel"], args.batch),
                ):
                    row[mode] = {
                        "episode_s": best[mode],
                        "ratio": best[mode] / plain,
                        "decisions_per_s": episodes * decisions / best[mode],
                        "overhead_us_per_decision": 1e6 * (best[mode] - plain) / (episodes * decisions),
                    }
                row["step_batched"].update(envs=args.batch, plain_parallel_s=best["plain_parallel"])
                if args.breakdown:
                    row["breakdown"] = breakdown(module)
                    row["breakdown"]["rpc_us"] = (
                        row["step"]["overhead_us_per_decision"] - row["breakdown"]["python_loop_overhead_us"]
                    )
                rows.append(row)
    finally:
        env.close()
        vec.close()

    def geomean(values: list[float]) -> float:
        return float(np.exp(np.mean(np.log(np.maximum(values, 1e-9)))))

    summary: dict = {"floor_us_per_decision": float(np.median([r["floor_us_per_decision"] for r in rows]))}
    for mode in MODES:
        summary[mode] = {
            "ratio": geomean([r[mode]["ratio"] for r in rows]),
            "decisions_per_s": geomean([r[mode]["decisions_per_s"] for r in rows]),
            "overhead_us_per_decision": float(np.median([r[mode]["overhead_us_per_decision"] for r in rows])),
            "per_benchmark": [
                {k: r[k] for k in ("benchmark", "decisions", "plain_compile_s", "floor_us_per_decision")} | r[mode]
                for r in rows
            ],
        }
    if args.breakdown:
        summary["breakdown"] = {r["benchmark"]: r["breakdown"] for r in rows}
    return summary


def main(args: Args) -> dict:
    """Measure every environment, print tables, write JSON."""
    plan = QUICK if args.quick else FULL
    if args.quick:
        args.repeats = min(args.repeats, 2)
    with tempfile.TemporaryDirectory(prefix="mlgo-floor-") as tmp:
        floor_host = build_floor_host(Path(tmp))
        results = {env_id: measure(env_id, plan[env_id], args, floor_host) for env_id in args.envs}
    if args.breakdown:
        echo_us = grpc_round_trip_us()
        for figures in results.values():
            for row in figures["breakdown"].values():
                row["grpc_echo_us"] = echo_us
    load = os.getloadavg()
    machine = {"cpu": host().record(), "load_average": list(load), "native_loop": rollout_loop.NATIVE}
    for figures in results.values():
        figures["machine"] = machine
    table = Table(title=f"environment speed: overhead per decision over the plain compile (load {load[0]:.2f})")
    columns = ("env", "mode", "module", "decisions", "plain (s)", "episode (s)", "ratio", "µs/decision", "floor µs")
    for column in columns:
        table.add_column(column, justify="left" if column in ("env", "mode", "module") else "right")
    for env_id, figures in results.items():
        for mode in MODES:
            for row in figures[mode]["per_benchmark"]:
                plain = row.get("plain_parallel_s", row["plain_compile_s"])
                table.add_row(
                    env_id, mode, row["benchmark"], f"{row['decisions']}", f"{plain:.2f}",
                    f"{row['episode_s']:.2f}", f"{row['ratio']:.2f}x", f"{row['overhead_us_per_decision']:,.0f}",
                    f"{row['floor_us_per_decision']:,.0f}",
                )  # fmt: skip
    Console(width=200).print(table)
    if args.breakdown:
        parts = Table(
            title="per decision, in-process (µs): the Python loop's parts; loops' overhead; RPC (step less Python"
            " loop); a bare gRPC stream's round trip"
        )
        keys = [
            "waiting",
            "reading",
            "decode",
            "policy",
            "write",
            "python_loop_overhead",
            "native_loop_overhead",
            "rpc",
            "grpc_echo",
        ]
        for column in ("env", "module", *keys):
            parts.add_column(column, justify="left" if column in ("env", "module") else "right")
        for env_id, figures in results.items():
            for name, row in figures.get("breakdown", {}).items():
                values = [row.get(f"python_{k}_us", row.get(f"{k}_us", float("nan"))) for k in keys]
                parts.add_row(env_id, name, *(f"{v:,.0f}" for v in values))
        Console(width=200).print(parts)
    if args.policies:
        costs = policy_costs()
        policies = Table(title="shipped policies: µs per call (onnxruntime, one thread) and graph nodes")
        for column in ("policy", "shipped µs", "packed µs", "shipped nodes", "packed nodes"):
            policies.add_column(column, justify="left" if column == "policy" else "right")
        for name, row in costs.items():
            policies.add_row(name, *(f"{row[k]:,.0f}" for k in ("shipped_us_per_call", "packed_us_per_call",
                                                                 "shipped_nodes", "packed_nodes")))  # fmt: skip
        Console(width=200).print(policies)
        for env_id, figures in results.items():
            task = next(t.name for t in TASKS.values() if t.env_id == env_id)
            figures["policies"] = {name: row for name, row in costs.items() if SHIPPED[name][0] == task}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main(tyro.cli(Args))
