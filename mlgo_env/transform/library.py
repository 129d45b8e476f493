"""The schedule library: named Transform-dialect sequences, their parameters, and composition.

A *schedule* is a ``transform.named_sequence`` in ``schedules/*.mlir``. Its header says how it
may be used:

* ``attributes {mlgo.phase = "tensor" | "buffer" | "internal" | "pipeline"}`` -- ``tensor``
  steps run before bufferization (tiling, fusion, vectorization), ``buffer`` steps after it
  (vector lowering, hoisting), ``internal`` ones are building blocks of other sequences and
  ``pipeline`` ones are complete lowering pipelines;
* every ``!transform.param<i64>`` argument is a parameter; its ``mlgo.choices = [...]`` argument
  attribute lists the values an agent may pick;
* the ``//`` comment lines right above the header are its documentation.

`compose` turns a list of `Choice` into one self-contained MLIR module: the chosen steps in
order, ``@bufferize`` between the tensor and buffer phases, ``@lower_to_llvm`` at the end, every
sequence they include (transitively) copied in, and ``@__transform_main`` calling them.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SCHEDULES_DIR",
    "PAYLOADS_DIR",
    "Phase",
    "Param",
    "NamedSchedule",
    "Choice",
    "ScheduleLibrary",
    "payload_path",
    "bundled_payloads",
    "matching_brace",
    "parse_schedules",
]

SCHEDULES_DIR = Path(__file__).parent / "schedules"
PAYLOADS_DIR = Path(__file__).parent / "payloads"

Phase = str
"""One of ``"tensor"``, ``"buffer"``, ``"internal"``, ``"pipeline"``."""

PHASES: tuple[Phase, ...] = ("tensor", "buffer", "internal", "pipeline")
STEP_PHASES: tuple[Phase, ...] = ("tensor", "buffer")
BUFFERIZE = "bufferize"
LOWER_TO_LLVM = "lower_to_llvm"
ENTRY = "__transform_main"

_HEADER = re.compile(r"transform\.named_sequence\s+(?:private\s+)?@(\w+)\s*\(")
_INCLUDE = re.compile(r"transform\.include\s+@(\w+)")
_PHASE = re.compile(r'mlgo\.phase\s*=\s*"(\w+)"')
_CHOICES = re.compile(r"mlgo\.choices\s*=\s*\[([^\]]*)\]")
_ARG_NAME = re.compile(r"^\s*%(\w+)\s*:")


@dataclass(frozen=True)
class Param:
    """One integer parameter of a schedule and the values an agent may give it."""

    name: str
    choices: tuple[int, ...]


@dataclass(frozen=True)
class NamedSchedule:
    """One ``transform.named_sequence`` of the library.

    Attributes:
        name: symbol name, without ``@``.
        phase: where it may run (see the module docstring).
        params: its ``!transform.param<i64>`` arguments, in order.
        doc: the comment above its header.
        text: its whole definition, header to closing brace.
        includes: names of the sequences it includes.
        has_result: it returns a handle (a new root after ``@bufferize``, ``@lower_to_llvm``
            and pipelines, which consume the old one; a matched op for helpers).
        source: the file it was read from.
    """

    name: str
    phase: Phase
    params: tuple[Param, ...]
    doc: str
    text: str
    includes: tuple[str, ...]
    has_result: bool
    source: Path


@dataclass(frozen=True)
class Choice:
    """A schedule picked with one value per parameter."""

    schedule: NamedSchedule
    values: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.values) != len(self.schedule.params):
            raise ValueError(
                f"@{self.schedule.name} takes {len(self.schedule.params)} parameter(s) "
                f"({', '.join(p.name for p in self.schedule.params) or 'none'}), "
                f"got {len(self.values)}"
            )

    def __str__(self) -> str:
        args = ",".join(str(v) for v in self.values)
        return f"{self.schedule.name}({args})" if self.values else self.schedule.name


class ScheduleLibrary:
    """The named schedules of a set of ``.mlir`` files, by name."""

    def __init__(self, schedules: Iterable[NamedSchedule]) -> None:
        self._by_name: dict[str, NamedSchedule] = {}
        for schedule in schedules:
            if schedule.name in self._by_name:
                other = self._by_name[schedule.name].source
                raise ValueError(f"@{schedule.name} is defined in both {other} and {schedule.source}")
            self._by_name[schedule.name] = schedule

    @classmethod
    def load(cls, paths: Sequence[Path] | None = None) -> ScheduleLibrary:
        """Reads every named sequence of `paths` (files or folders; default: the bundled library)."""
        files: list[Path] = []
        for path in paths or [SCHEDULES_DIR]:
            files.extend(sorted(path.glob("*.mlir")) if path.is_dir() else [path])
        return cls(schedule for file in files for schedule in parse_schedules(file))

    @property
    def files(self) -> list[Path]:
        """The files the schedules came from."""
        return sorted({schedule.source for schedule in self._by_name.values()})

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> NamedSchedule:
        """The schedule `name`; `KeyError` suggests close names."""
        if name not in self._by_name:
            close = difflib.get_close_matches(name, self._by_name, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(f"No schedule named {name!r} in the library.{hint}")
        return self._by_name[name]

    def all(self) -> list[NamedSchedule]:
        """Every schedule, in file then definition order."""
        return list(self._by_name.values())

    def steps(self) -> list[NamedSchedule]:
        """The schedules an agent may pick as a step (phases ``tensor`` and ``buffer``)."""
        return [s for s in self._by_name.values() if s.phase in STEP_PHASES]

    def pipelines(self) -> list[NamedSchedule]:
        """The complete lowering pipelines."""
        return [s for s in self._by_name.values() if s.phase == "pipeline"]

    def closure(self, names: Iterable[str]) -> list[NamedSchedule]:
        """`names` and every sequence they include, transitively, in library order.

        Includes of names the library lacks are left for mlir-opt to report.
        """
        needed: set[str] = set()
        pending = list(names)
        while pending:
            name = pending.pop()
            if name not in needed and name in self._by_name:
                needed.add(name)
                pending.extend(self._by_name[name].includes)
        return [s for s in self._by_name.values() if s.name in needed]

    def module_text(self, schedules: Iterable[NamedSchedule], entry: str = "") -> str:
        """One ``transform.with_named_sequence`` module holding `schedules` and `entry`."""
        body = "\n\n".join(_indent(s.text) for s in schedules)
        if entry:
            body += "\n\n" + _indent(entry)
        return "module attributes {transform.with_named_sequence} {\n" + body + "\n}\n"

    def whole_library_text(self) -> str:
        """Every schedule in one module (what the checker verifies)."""
        return self.module_text(self.all())

    def compose(self, choices: Sequence[Choice]) -> str:
        """A self-contained schedule: `choices` in order, then bufferization and lowering to LLVM.

        Tensor steps must come before buffer steps; ``@bufferize`` goes between them and
        ``@lower_to_llvm`` after the last one. Applying the result with ``mlir-opt
        -transform-preload-library=transform-library-paths=FILE -transform-interpreter`` yields
        the payload in the LLVM dialect.

        Raises:
            ValueError: a choice is not a step, or a tensor step follows a buffer step.
        """
        calls = _EntryBuilder()
        bufferized = False
        for choice in choices:
            phase = choice.schedule.phase
            if phase not in STEP_PHASES:
                raise ValueError(f"@{choice.schedule.name} is a {phase} sequence, not a step")
            if phase == "tensor" and bufferized:
                raise ValueError(
                    f"@{choice.schedule.name} transforms tensors but the schedule is already "
                    "bufferized (a buffer step came before it)"
                )
            if phase == "buffer" and not bufferized:
                calls.call_root(self[BUFFERIZE])
                bufferized = True
            calls.call(choice)
        if not bufferized:
            calls.call_root(self[BUFFERIZE])
        calls.call_root(self[LOWER_TO_LLVM])
        names = [c.schedule.name for c in choices] + [BUFFERIZE, LOWER_TO_LLVM]
        return self.module_text(self.closure(names), calls.text())

    def compose_pipeline(self, name: str) -> str:
        """A self-contained schedule whose entry runs the pipeline `name` and nothing else."""
        pipeline = self[name]
        if pipeline.phase != "pipeline":
            raise ValueError(f"@{name} is a {pipeline.phase} sequence, not a pipeline")
        calls = _EntryBuilder()
        calls.call_root(pipeline)
        return self.module_text(self.closure([name]), calls.text())


class _EntryBuilder:
    """Writes the body of ``@__transform_main``: parameter constants and includes."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._root = "%root"
        self._count = 0

    def _fresh(self, prefix: str) -> str:
        self._count += 1
        return f"%{prefix}{self._count}"

    def call(self, choice: Choice) -> None:
        """Includes a step that reads the root handle, with its parameters as constants."""
        args = [self._root]
        self._lines.append(f"// step: {choice}")
        for value in choice.values:
            param = self._fresh("p")
            self._lines.append(f"{param} = transform.param.constant {value} : i64 -> !transform.param<i64>")
            args.append(param)
        types = ", ".join(["!transform.any_op"] + ["!transform.param<i64>"] * len(choice.values))
        self._lines.append(
            f"transform.include @{choice.schedule.name} failures(propagate) ({', '.join(args)}) : ({types}) -> ()"
        )

    def call_root(self, schedule: NamedSchedule) -> None:
        """Includes a sequence that consumes the root handle and returns the new one."""
        root = self._fresh("root")
        self._lines.append(f"// {schedule.phase}: {schedule.name}")
        self._lines.append(
            f"{root} = transform.include @{schedule.name} failures(propagate) ({self._root}) "
            ": (!transform.any_op) -> !transform.any_op"
        )
        self._root = root

    def text(self) -> str:
        """The whole entry sequence."""
        body = "\n".join("  " + line for line in self._lines + ["transform.yield"])
        return f"transform.named_sequence @{ENTRY}(%root: !transform.any_op {{transform.consumed}}) {{\n{body}\n}}"


def parse_schedules(path: Path) -> list[NamedSchedule]:
    """The named sequences defined in the ``.mlir`` file `path`.

    Raises:
        ValueError: a sequence has an unknown phase, a parameter without choices, or unbalanced
            braces.
    """
    text = path.read_text()
    schedules = []
    for match in _HEADER.finditer(text):
        name = match.group(1)
        args_end = matching_brace(text, match.end() - 1, "(", ")")
        body_start = text.index("{", _skip_attributes(text, args_end + 1))
        end = matching_brace(text, body_start, "{", "}") + 1
        line_start = text.rfind("\n", 0, match.start()) + 1
        phase_match = _PHASE.search(text, args_end, body_start)
        phase = phase_match.group(1) if phase_match else "internal"
        if phase not in PHASES:
            raise ValueError(f"{path}: @{name} has phase {phase!r}; use one of {PHASES}")
        schedules.append(
            NamedSchedule(
                name=name,
                phase=phase,
                params=_params(path, name, text[match.end() : args_end]),
                doc=_comment_above(text, line_start),
                text=text[line_start:end],
                includes=tuple(dict.fromkeys(_INCLUDE.findall(text, body_start, end))),
                has_result="->" in text[args_end:body_start].split("attributes")[0],
                source=path,
            )
        )
    return schedules


def _params(path: Path, name: str, args: str) -> tuple[Param, ...]:
    params = []
    for arg in _split_top_level(args):
        if "!transform.param<i64>" not in arg:
            continue
        choices = _CHOICES.search(arg)
        arg_name = _ARG_NAME.match(arg)
        if choices is None or arg_name is None:
            raise ValueError(f"{path}: parameter of @{name} needs `mlgo.choices = [...]`: {arg!r}")
        values = tuple(int(v) for v in choices.group(1).split(","))
        params.append(Param(arg_name.group(1), values))
    return tuple(params)


def matching_brace(text: str, start: int, open_: str = "{", close: str = "}") -> int:
    """Index of the bracket closing the one at `start` (MLIR text without brackets in strings).

    Raises:
        ValueError: it is never closed.
    """
    depth = 0
    for index in range(start, len(text)):
        if text[index] == open_:
            depth += 1
        elif text[index] == close:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {open_}{close} from offset {start}")


def _skip_attributes(text: str, start: int) -> int:
    """Offset after ``-> types attributes {...}`` that may follow the argument list."""
    attributes = text.find("attributes", start)
    brace = text.find("{", start)
    if attributes != -1 and attributes < brace:
        return matching_brace(text, text.index("{", attributes), "{", "}") + 1
    return start


def _split_top_level(args: str) -> list[str]:
    """`args` split at commas outside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in args:
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def _comment_above(text: str, offset: int) -> str:
    lines = text[:offset].split("\n")[:-1]
    doc: list[str] = []
    for line in reversed(lines):
        stripped = line.strip()
        if not stripped.startswith("//"):
            break
        doc.insert(0, stripped.removeprefix("//").strip())
    return " ".join(doc)


def _indent(text: str) -> str:
    return textwrap.indent(textwrap.dedent(text.strip("\n")), "  ")


def bundled_payloads() -> dict[str, Path]:
    """The bundled payloads by name (the file stem)."""
    return {path.stem: path for path in sorted(PAYLOADS_DIR.glob("*.mlir"))}


def payload_path(payload: str | Path) -> Path:
    """The file of a bundled payload name, or `payload` itself when it is a path to a file.

    Raises:
        FileNotFoundError: neither a bundled name nor an existing file; names close matches.
    """
    bundled = bundled_payloads()
    if str(payload) in bundled:
        return bundled[str(payload)]
    path = Path(payload)
    if path.is_file():
        return path
    close = difflib.get_close_matches(str(payload), bundled, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise FileNotFoundError(f"{payload!r} is neither a bundled payload ({', '.join(bundled)}) nor a file.{hint}")
