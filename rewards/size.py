"""Code size: bytes of ``.text`` (optionally of every allocated section) of the compiled object."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from mlgo_env.artifacts import CompiledModule
from rewards.base import Reward
from rewards.wire import WireOption

__all__ = ["SizeReward", "text_size", "allocated_size", "object_sizes"]


def text_size(path: Path) -> int:
    """Bytes of every executable section (``.text`` and ``.text.*``) of an ELF object."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        return sum(
            s["sh_size"]
            for s in elf.iter_sections()
            if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
        )


def allocated_size(path: Path) -> int:
    """Bytes of every allocated section (code, data, read-only data, bss) of an ELF object."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        return sum(s["sh_size"] for s in elf.iter_sections() if s["sh_flags"] & SH_FLAGS.SHF_ALLOC)


class SizeReward(Reward):
    """Bytes of executable code; with ``all_sections=True``, of every allocated section."""

    name = "size"
    unit = "bytes"
    wire_options = {"all_sections": WireOption(bool)}

    def __init__(self, all_sections: bool = False) -> None:
        self.all_sections = all_sections

    def cost(self, module: CompiledModule) -> float:
        """Size in bytes of the object's code (or of all its allocated sections)."""
        measure = allocated_size if self.all_sections else text_size
        return float(measure(module.object_path))


def object_sizes(path: Path) -> tuple[int, int]:
    """(bytes of code, bytes of all allocated sections) of an ELF object."""
    return text_size(path), allocated_size(path)
