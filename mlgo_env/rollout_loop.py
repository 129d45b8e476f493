"""The rollout loop: read a decision, run the policy, write the advice, record it; in native code where built.

`mlgo_env._native._rollout` (C, built by ``pip install -e .`` with the system compiler) runs the
loop at the floor of the pipe protocol: it answers a built-in `Rule` from the raw record, or
calls back into Python for any other policy, and copies every record and advice into
preallocated arrays. Where the extension is missing (`NATIVE` is False; ``mlgo-env doctor`` says
so) `drive` runs the same loop in Python, with the same decisions and recorded observations.

Observations are recorded raw, as the compiler sent them; `Recording.observations` applies the
task's repair (LLVM 19's misplaced inlining default) to the stacked arrays afterwards, and a
rule reading a repaired feature reads its raw source (`raw_source`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlgo_env._native import optional
from mlgo_env.errors import CompilerTimeout, InvalidAction, ProtocolError
from mlgo_env.policies import Policy, RulePolicy
from mlgo_env.protocol import Channel, ChannelHeader
from mlgo_env.tasks import Task

_rollout = optional("_rollout")  # None where not built (no C compiler at install time): the Python loop runs

__all__ = ["NATIVE", "Recording", "drive", "loop_status", "raw_source"]

NATIVE = _rollout is not None
"""Whether the native loop is built (else `drive` runs the Python loop)."""


def loop_status() -> tuple[bool, str]:
    """Whether rollouts run the native loop, and what to do when they do not (for ``mlgo-env doctor``)."""
    if NATIVE:
        return True, "native (mlgo_env._native._rollout)"
    return False, "Python fallback, several times slower: reinstall with a C compiler (pip install -e .) to build it"


_KINDS = {"constant": 0, "feature": 1, "first_legal": 2, "last_legal": 3, "replay": 4}
_CALLBACK = 5
_EOF, _FULL, _TIMEOUT, _PROTOCOL, _INVALID = 1, 2, 3, 4, 5


class Recording:
    """Preallocated arrays for an episode's raw records and advice; grown by doubling.

    Args:
        header: the channel header (record layout, advice type).
        observations: keep the records (False: the actions only).
        capacity: decisions to allocate for at first.
    """

    def __init__(self, header: ChannelHeader, observations: bool = True, capacity: int = 1024) -> None:
        self.header = header
        self.count = 0
        self.records = np.empty((capacity, header.observation_nbytes), np.uint8) if observations else None
        self.actions = np.empty(capacity, header.advice.dtype)

    def grow(self) -> None:
        """Double the capacity, keeping what was recorded."""
        capacity = 2 * len(self.actions)
        self.actions = np.resize(self.actions, capacity)
        if self.records is not None:
            self.records = np.resize(self.records, (capacity, self.records.shape[1]))

    def observations(self, task: Task, llvm_version: int, include_default: bool) -> dict[str, np.ndarray]:
        """Each feature stacked over the decisions, ``(decisions, *shape)``, repaired as the task says."""
        if self.records is None:
            return {f.name: np.zeros((0, *f.shape), f.dtype) for f in self.header.features}
        records = self.records[: self.count].view(self.header.record_dtype).reshape(-1)
        stacked = {f.name: np.ascontiguousarray(records[f.name]).reshape(-1, *f.shape) for f in self.header.features}
        return task.repair_observation(stacked, llvm_version, include_default)


def raw_source(header: ChannelHeader, task: Task, llvm_version: int, include_default: bool, name: str) -> str:
    """The feature whose raw bytes hold what `name` holds after the task's repair.

    Found by repairing a probe record in which feature ``i`` holds the value ``i + 1``, so the
    repair stays the one place that knows where an LLVM version misplaces a feature.
    """
    probe = {f.name: np.full(f.shape, i + 1, f.dtype) for i, f in enumerate(header.features)}
    repaired = task.repair_observation(probe, llvm_version, include_default)
    if name not in repaired:
        raise ProtocolError(f"the channel sends no feature {name!r}")
    return header.features[int(repaired[name].reshape(-1)[0]) - 1].name


@dataclass(frozen=True)
class _Repaired:
    """Decodes and repairs one raw record, as `InteractiveCompile` does."""

    header: ChannelHeader
    task: Task
    llvm_version: int
    include_default: bool

    def __call__(self, raw: bytes) -> dict[str, np.ndarray]:
        return self.task.repair_observation(self.header.decode(raw), self.llvm_version, self.include_default)


def drive(
    channel: Channel,
    policy: Policy,
    task: Task,
    recording: Recording,
    llvm_version: int,
    include_default: bool,
    native: bool = True,
) -> int:
    """Answer every decision left on `channel` (after its header) with `policy`, recording each.

    Args:
        channel: the channel, its header read.
        policy: a `RulePolicy` (run natively) or any policy on decoded observations.
        task: checks every action the policy gives (an illegal one raises `InvalidAction`).
        recording: where records and actions go.
        llvm_version: the compiler's LLVM version (for the task's repair).
        include_default: whether the compiler sends its default decision.
        native: use the native loop when built (False: the Python loop, e.g. to compare).

    Returns:
        The number of decisions answered.
    """
    assert channel.header is not None
    repaired = _Repaired(channel.header, task, llvm_version, include_default)
    if native and _rollout is not None:
        _drive_native(channel, policy, task, recording, repaired)
    else:
        _drive_python(channel, policy, task, recording, repaired)
    rule = policy.rule if isinstance(policy, RulePolicy) else None
    if rule is not None and rule.kind == "replay" and recording.count != len(rule.values):
        raise InvalidAction(
            f"the compiler asked {recording.count} decisions, not the {len(rule.values)} replayed: "
            "this is not the episode the actions were recorded from"
        )
    return recording.count


def _drive_python(channel: Channel, policy: Policy, task: Task, recording: Recording, repaired: _Repaired) -> None:
    """`drive` in Python: the fallback, and the reference the native loop is tested against."""
    while (decision := channel.next_decision()) is not None:
        if recording.count == len(recording.actions):
            recording.grow()
        observation = repaired(decision.raw)
        advice = task.check_action(policy(observation), observation)
        channel.send_advice(advice)
        if recording.records is not None:
            recording.records[recording.count] = np.frombuffer(decision.raw, np.uint8)
        recording.actions[recording.count] = advice
        recording.count += 1


def _native_arguments(policy: Policy, task: Task, repaired: _Repaired) -> dict[str, object]:
    """The native loop's policy arguments: the rule over raw offsets, or a Python callback."""
    header = repaired.header
    ends = np.cumsum([f.nbytes for f in header.features])
    offsets = {f.name: int(end) - f.nbytes for f, end in zip(header.features, ends, strict=True)}
    specs = {f.name: f for f in header.features}
    arguments: dict[str, object] = {"offset": -1, "mask_count": 0, "mask_size": 0, "constant": b"", "replay": b""}
    rule = policy.rule if isinstance(policy, RulePolicy) else None
    if rule is not None and rule.feature:
        source = raw_source(header, task, repaired.llvm_version, repaired.include_default, rule.feature)
        spec = specs[source]
        if rule.kind == "feature" and spec.dtype != header.advice.dtype:
            rule = None  # the feature is not an advice as is: the Python form decides
        else:
            arguments.update(
                offset=int(offsets[source]), mask_count=int(np.prod(spec.shape)), mask_size=spec.dtype.itemsize
            )
    if rule is None:
        return {**arguments, "kind": _CALLBACK, "callback": _callback(policy, task, repaired)}
    if rule.kind in ("constant", "replay") and not rule.feature:
        # Without a mask an action is legal or not on its own: check them all before the first decision.
        for value in (rule.value,) if rule.kind == "constant" else rule.values:
            task.check_action(value, {})
    if rule.kind == "constant":
        arguments["constant"] = header.encode_advice(rule.value)
    elif rule.kind == "replay":
        arguments["replay"] = np.asarray(rule.values, header.advice.dtype).tobytes()
    return {**arguments, "kind": _KINDS[rule.kind], "callback": None}


def _callback(policy: Policy, task: Task, repaired: _Repaired) -> Callable[[bytes], bytes]:
    """`policy` on the raw record: decoded, repaired, its action checked and encoded."""

    def answer(raw: bytes) -> bytes:
        observation = repaired(raw)
        return repaired.header.encode_advice(task.check_action(policy(observation), observation))

    return answer


def _drive_native(channel: Channel, policy: Policy, task: Task, recording: Recording, repaired: _Repaired) -> None:
    """`drive` with the C loop; it returns to grow the recording, and its errors are raised here."""
    header = repaired.header
    arguments = _native_arguments(policy, task, repaired)
    in_fd, out_fd, pending = channel.take_over()
    assert _rollout is not None
    while True:
        status, recording.count, pending, message = _rollout.drive(
            out_fd=out_fd,
            in_fd=in_fd,
            pending=pending,
            record_nbytes=header.observation_nbytes,
            advice_nbytes=header.advice.nbytes,
            timeout=channel.timeout,
            alive=channel.alive,
            records=recording.records,
            actions=recording.actions,
            start=recording.count,
            **arguments,
        )
        channel.decisions = recording.count
        if status == _FULL:
            recording.grow()
            continue
        if status == _EOF:
            channel.give_back(pending, eof=True)
            return
        channel.give_back(pending, eof=False)
        if status == _TIMEOUT:
            raise CompilerTimeout(message)
        if status == _INVALID:
            raise InvalidAction(message)
        raise ProtocolError(message)
