"""Machine basic blocks of an ELF file, with code and block frequencies, from LLVM's address map.

The object must be compiled with ``clang-19 -fbasic-block-address-map -mllvm
-pgo-analysis-map=func-entry-count,bb-freq,br-prob`` (or ``llc-19 --basic-block-address-map
-pgo-analysis-map=...``): that emits one ``.llvm_bb_addr_map`` section per code section, listing
each function's blocks (id, offset, size) and LLVM's block-frequency estimate for each.

``llvm-readobj-19 --bb-addr-map --elf-output-style=JSON`` decodes those sections (it applies the
relocations of a relocatable object, so each function's ``At`` is its offset in its section). Its
JSON repeats the key ``"BBAddrMap"`` once per ``.llvm_bb_addr_map`` section, in section order; with
``-ffunction-sections`` there are several, and a plain ``json.loads`` would keep only the last. This
module keeps them all and pairs the n-th one with the n-th address-map section, whose ``sh_link``
names the code section its functions live in; the block bytes come from that section (pyelftools).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import Section

from mlgo_env.artifacts import ADDRESS_MAP_FLAGS
from mlgo_env.errors import MlgoEnvError
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = [
    "BBAddrMapError",
    "MachineBlock",
    "MissingAddressMap",
    "MissingBlockFrequencies",
    "read_blocks",
]


# SHT_LLVM_BB_ADDR_MAP (LLVM >= 16) and its predecessor SHT_LLVM_BB_ADDR_MAP_V0; pyelftools 0.33
# knows neither, so it reports the number.
_BB_ADDR_MAP_TYPES = frozenset({0x6FFF4C0A, 0x6FFF4C08, "SHT_LLVM_BB_ADDR_MAP"})
_READOBJ_TIMEOUT_S = 120


class BBAddrMapError(MlgoEnvError):
    """The basic-block address map of an object is missing or cannot be read."""


class MissingAddressMap(BBAddrMapError):
    """The object has no ``.llvm_bb_addr_map`` section: it was compiled without the flags."""


class MissingBlockFrequencies(BBAddrMapError):
    """The address map has no block frequencies: ``-pgo-analysis-map`` lacked ``bb-freq``."""


@dataclass(frozen=True)
class MachineBlock:
    """One machine basic block as laid out in the object.

    Attributes:
        function: the function's symbol name.
        block_id: LLVM's machine basic block number (stable within one compile, not across).
        offset: offset of the block's first byte in its code section.
        size: size in bytes.
        code: the block's bytes; in a relocatable object, relocated fields (call targets,
            RIP-relative displacements) still hold their unrelocated value.
        frequency: LLVM's block-frequency estimate relative to the function entry (entry = 1.0),
            times the function's entry count when the object was compiled with a profile.
        section_index: ELF index of the code section holding the block.
    """

    function: str
    block_id: int
    offset: int
    size: int
    code: bytes
    frequency: float
    section_index: int


def read_blocks(object_path: Path, toolchain: Toolchain | None = None) -> list[MachineBlock]:
    """Every machine basic block of `object_path`, in address-map order (function by function).

    Works on relocatable objects (with or without ``-ffunction-sections``) and on linked files.

    Args:
        object_path: ELF file compiled with `mlgo_env.artifacts.ADDRESS_MAP_FLAGS`.
        toolchain: LLVM tools to use; the default toolchain when None.

    Raises:
        MissingAddressMap: the file has no address map (compile with `ADDRESS_MAP_FLAGS`).
        MissingBlockFrequencies: the map has no ``bb-freq`` analysis.
        BBAddrMapError: llvm-readobj failed or its output does not match the file's sections.
    """
    object_path = Path(object_path)
    with open(object_path, "rb") as handle:
        elf = ELFFile(handle)
        map_sections = [s for s in elf.iter_sections() if s["sh_type"] in _BB_ADDR_MAP_TYPES]
        if not map_sections:
            raise MissingAddressMap(
                f"{object_path} has no .llvm_bb_addr_map section; compile it with "
                f"`{' '.join(ADDRESS_MAP_FLAGS)}` (llc: --basic-block-address-map "
                "-pgo-analysis-map=func-entry-count,bb-freq,br-prob)"
            )
        groups = _readobj_groups(object_path, toolchain or get_toolchain())
        if len(groups) != len(map_sections):
            raise BBAddrMapError(
                f"llvm-readobj decoded {len(groups)} address maps of {object_path} but it has "
                f"{len(map_sections)} .llvm_bb_addr_map sections"
            )
        blocks: list[MachineBlock] = []
        for map_section, functions in zip(map_sections, groups, strict=True):
            code_index = map_section["sh_link"]
            code_section = elf.get_section(code_index)
            for function in functions:
                blocks.extend(_function_blocks(function["Function"], code_section, code_index))
        return blocks


def _readobj_groups(object_path: Path, toolchain: Toolchain) -> list[list[dict[str, Any]]]:
    """The decoded maps: one list of functions per ``.llvm_bb_addr_map`` section, in order."""
    result = subprocess.run(
        [
            str(toolchain.tool("llvm-readobj")),
            "--bb-addr-map",
            "--elf-output-style=JSON",
            str(object_path),
        ],
        capture_output=True,
        text=True,
        timeout=_READOBJ_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise BBAddrMapError(f"llvm-readobj failed on {object_path}:\n{result.stderr.strip()}")
    groups: list[list[dict[str, Any]]] = []

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        groups.extend(value for key, value in pairs if key == "BBAddrMap")
        return dict(pairs)

    json.loads(result.stdout, object_pairs_hook=collect)
    return groups


def _function_blocks(function: dict[str, Any], section: Section, section_index: int) -> Iterator[MachineBlock]:
    """The blocks of one decoded function of the address map, with their bytes and frequencies."""
    name = function["Name"]
    ranges = function["BB Ranges"]
    if len(ranges) != 1:
        raise BBAddrMapError(
            f"{name} is split into {len(ranges)} address ranges; basic-block sections and "
            "machine function splitting (-fbasic-block-sections, -fsplit-machine-functions) "
            "are not supported"
        )
    base = ranges[0]["Base Address"] - section["sh_addr"]
    entries = ranges[0]["BB Entries"]
    frequencies = _relative_frequencies(function, len(entries))
    data = section.data()
    for entry, frequency in zip(entries, frequencies, strict=True):
        offset = base + entry["Offset"]
        size = entry["Size"]
        if offset < 0 or offset + size > len(data):
            raise BBAddrMapError(
                f"block {entry['ID']} of {name} ({offset:#x}+{size}) lies outside section "
                f"{section.name} ({len(data)} bytes)"
            )
        yield MachineBlock(
            function=name,
            block_id=entry["ID"],
            offset=offset,
            size=size,
            code=data[offset : offset + size],
            frequency=frequency,
            section_index=section_index,
        )


def _relative_frequencies(function: dict[str, Any], count: int) -> list[float]:
    """Block frequencies relative to the entry (first) block, times the entry count if known."""
    pgo = function.get("PGO analyses", {})
    entries = pgo.get("PGO BB entries", [])
    if len(entries) != count or any("Frequency" not in entry for entry in entries):
        raise MissingBlockFrequencies(
            f"the address map of {function['Name']} has no block frequencies; compile with "
            "`-mllvm -pgo-analysis-map=func-entry-count,bb-freq,br-prob`"
        )
    entry_frequency = entries[0]["Frequency"] or 1
    scale = pgo.get("FuncEntryCount") or 1
    return [scale * entry["Frequency"] / entry_frequency for entry in entries]
