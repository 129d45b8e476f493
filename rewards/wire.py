"""Which reward options a client may set over the compiler service's wire, with their types and bounds.

A reward declares them in its ``wire_options`` class attribute; the service builds a reward from a
client's options only after `check_options` accepted every one of them. Anything undeclared (a path,
an object, an option of a third-party reward that declared none) is refused with an error naming
it. Local, in-process use (`rewards.get`) is not checked: it keeps every option.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MCPU", "WireOption", "WireValue", "check_options"]

WireValue = bool | int | float | str
"""What a wire option's value may be (JSON scalars)."""


@dataclass(frozen=True)
class WireOption:
    """One option a client may set: its type and the values allowed.

    Attributes:
        kind: ``bool``, ``int``, ``float`` (an integer is accepted too) or ``str``.
        low: smallest number allowed (inclusive).
        high: largest number allowed (inclusive).
        choices: the strings allowed (empty: any matching `pattern`).
        pattern: a regular expression a string must match in full.
        seconds: the option is a time limit: the service also caps it at its own limit.
    """

    kind: type[bool] | type[int] | type[float] | type[str]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    seconds: bool = False

    def __post_init__(self) -> None:
        if self.kind is str and not (self.choices or self.pattern):
            raise ValueError("a string wire option needs choices or a pattern: free text is not an option")

    def check(self, name: str, value: object, max_seconds: float | None = None) -> WireValue:
        """`value` if this option allows it.

        Raises:
            ValueError: `value` has the wrong type or is out of bounds; the message names `name`.
        """
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"option {name!r} must be true or false, not {value!r}")
            return value
        if self.kind is str:
            return self._check_text(name, value)
        integer = self.kind is int
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            raise ValueError(f"option {name!r} must be {'an integer' if integer else 'a number'}, not {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"option {name!r} must be finite, not {value!r}")
        high = self.high
        if self.seconds and max_seconds is not None:
            high = max_seconds if high is None else min(high, max_seconds)
        if (self.low is not None and value < self.low) or (high is not None and value > high):
            raise ValueError(f"option {name!r} must lie in [{self.low}, {high}], not {value!r}")
        return float(value) if self.kind is float else value

    def _check_text(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"option {name!r} must be a string, not {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"option {name!r} must be one of {', '.join(self.choices)}, not {value!r}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"option {name!r} must match {self.pattern}, not {value!r}")
        return value


MCPU = WireOption(str, pattern=r"[a-z0-9][a-z0-9_-]{0,31}")
"""A target CPU, as LLVM's ``-mcpu`` names them (``znver4``, ``skylake-avx512``)."""


def check_options(
    reward: str, declared: Mapping[str, WireOption], options: Mapping[str, object], max_seconds: float | None = None
) -> dict[str, WireValue]:
    """The client's `options` for `reward`, each checked against what the reward `declared`.

    Args:
        reward: the reward's name (for messages).
        declared: the reward's ``wire_options``.
        options: what the client sent.
        max_seconds: the service's cap on time-limit options.

    Raises:
        ValueError: an option is not declared, or its value is not allowed; the message names it.
    """
    checked: dict[str, WireValue] = {}
    for name, value in options.items():
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ValueError(
                f"reward {reward!r} does not take option {name!r} from a client (options a client may set: {allowed})"
            )
        checked[name] = declared[name].check(name, value, max_seconds)
    return checked
