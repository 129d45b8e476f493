"""Source locations of machine code from DWARF: the line of each address, and the inlining that put it there.

Both readers work on relocatable objects (where every code section starts at 0: addresses are
tied to their section through relocations, or through the function that holds them) and on
linked files. Locations are keyed by (file base name, line) (`SourceKey`): DWARF and callgrind
spell directories differently.
"""

from __future__ import annotations

import bisect
import os
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, SymbolTableSection

from mlgo_env.errors import MlgoEnvError

__all__ = ["Chain", "DebugInfoError", "InlineSites", "InlinedCall", "SourceKey", "SourceLines", "source_key"]

_R_X86_64_64 = 1
_DW_LNE_SET_ADDRESS = 0x02  # DWARF 4/5, section 6.2.5.3

SourceKey = tuple[str, int]
"""A source location as (file base name, line): DWARF and callgrind spell directories differently."""


class DebugInfoError(MlgoEnvError):
    """An ELF file has no DWARF, or DWARF this reader cannot follow."""


def source_key(path: str, line: int) -> SourceKey:
    """The key of a line of `path` (by base name)."""
    return (os.path.basename(path), line)


def _open_dwarf(path: Path, elf: ELFFile) -> DWARFInfo:
    if not elf.has_dwarf_info():
        raise DebugInfoError(f"{path} has no debug info; compile it with -gdwarf-4")
    return elf.get_dwarf_info()


class SourceLines:
    """The source line of each code address of an ELF file, from its DWARF line table.

    In a relocatable object every code section starts at address 0, so each line sequence is tied
    to its section through the ``R_X86_64_64`` relocation of its ``DW_LNE_set_address`` (they come
    in the same order); in a linked file, through the section holding its addresses.
    """

    def __init__(self, path: Path) -> None:
        self._rows: dict[int, tuple[list[int], list[SourceKey | None]]] = {}
        with open(path, "rb") as handle:
            elf = ELFFile(handle)
            self._read(elf, _open_dwarf(path, elf))

    def line_at(self, section_index: int, offset: int) -> SourceKey | None:
        """The line of the code at `offset` in section `section_index`; None if it has none."""
        addresses, keys = self._rows.get(section_index, ([], []))
        index = bisect.bisect_right(addresses, offset) - 1
        return keys[index] if index >= 0 else None

    def _read(self, elf: ELFFile, dwarf: DWARFInfo) -> None:
        sections = _set_address_sections(elf)
        code_sections = [
            (index, section)
            for index, section in enumerate(elf.iter_sections())
            if section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
        ]
        sequences = 0
        rows: dict[int, list[tuple[int, SourceKey | None]]] = defaultdict(list)
        programs = [dwarf.line_program_for_CU(cu) for cu in dwarf.iter_CUs()]
        for program in sorted((p for p in programs if p is not None), key=lambda p: p.program_start_offset):
            files = program.header["file_entry"]
            first_file = 0 if program.header["version"] >= 5 else 1
            section_index = -1
            for entry in program.get_entries():
                if entry.is_extended and entry.command == _DW_LNE_SET_ADDRESS:
                    if sections is not None:
                        if sequences >= len(sections):
                            raise DebugInfoError("more line sequences than .debug_line relocations")
                        section_index = sections[sequences]
                    else:
                        section_index = _section_holding(code_sections, entry.args[0])
                    sequences += 1
                state = entry.state
                if state is None or section_index < 0:
                    continue
                base = 0 if sections is not None else elf.get_section(section_index)["sh_addr"]
                name = files[state.file - first_file].name.decode(errors="replace")
                key = None if state.end_sequence or state.line == 0 else source_key(name, state.line)
                rows[section_index].append((state.address - base, key))
        for index, entries in rows.items():
            entries.sort(key=lambda row: row[0])
            self._rows[index] = ([row[0] for row in entries], [row[1] for row in entries])


def _set_address_sections(elf: ELFFile) -> list[int] | None:
    """For a relocatable file, the section each ``DW_LNE_set_address`` points into, in order."""
    if elf["e_type"] != "ET_REL":
        return None
    relocations = next(
        (
            s
            for s in elf.iter_sections()
            if isinstance(s, RelocationSection) and s.name in (".rela.debug_line", ".rel.debug_line")
        ),
        None,
    )
    if relocations is None:
        return []
    symbols = elf.get_section(relocations["sh_link"])
    if not isinstance(symbols, SymbolTableSection):
        raise DebugInfoError(f"{relocations.name} does not link to a symbol table")
    ordered = sorted(
        (r for r in relocations.iter_relocations() if r["r_info_type"] == _R_X86_64_64),
        key=lambda r: r["r_offset"],
    )
    return [symbols.get_symbol(r["r_info_sym"])["st_shndx"] for r in ordered]


def _section_holding(code_sections: list[tuple[int, Section]], address: int) -> int:
    for index, section in code_sections:
        if section["sh_addr"] <= address < section["sh_addr"] + section["sh_size"]:
            return index
    return -1


class InlinedCall(NamedTuple):
    """One inlining step: `callee`'s body was copied into its caller at source line `call_site`."""

    callee: str
    call_site: SourceKey


Chain = tuple[InlinedCall, ...]
"""The inlining steps that put code where it is, outermost first; () for a function's own code."""


class _Copy(NamedTuple):
    low: int
    high: int
    depth: int
    chain: Chain


class InlineSites:
    """Where a file's code came from by inlining (``DW_TAG_inlined_subroutine``), per function.

    Each inlined copy is kept with its address ranges (offsets in its section for a relocatable
    object, addresses for a linked file) and its chain of inlining steps.
    """

    def __init__(self, path: Path) -> None:
        self._copies: dict[str, list[_Copy]] = defaultdict(list)
        with open(path, "rb") as handle:
            elf = ELFFile(handle)
            dwarf = _open_dwarf(path, elf)
            for cu in dwarf.iter_CUs():
                self._read_unit(dwarf, cu)

    def chain_at(self, function: str, offset: int) -> Chain:
        """The inlining chain of the code at `offset` of `function` (() when none was inlined there)."""
        best: _Copy | None = None
        for copy in self._copies.get(function, ()):
            if copy.low <= offset < copy.high and (best is None or copy.depth > best.depth):
                best = copy
        return best.chain if best is not None else ()

    def ranges(self) -> list[tuple[int, int, Chain]]:
        """Every address range of every inlined copy, as (low, high, chain), nested copies included."""
        return [(copy.low, copy.high, copy.chain) for copies in self._copies.values() for copy in copies]

    def _read_unit(self, dwarf: DWARFInfo, cu: CompileUnit) -> None:
        program = dwarf.line_program_for_CU(cu)
        files = program.header["file_entry"] if program is not None else []
        first_file = 0 if cu["version"] >= 5 else 1
        top = cu.get_top_DIE()
        base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0

        def call_site(die: DIE) -> SourceKey | None:
            index = die.attributes.get("DW_AT_call_file")
            line = die.attributes.get("DW_AT_call_line")
            if index is None or line is None or not 0 <= index.value - first_file < len(files):
                return None
            return source_key(files[index.value - first_file].name.decode(errors="replace"), line.value)

        def walk(die: DIE, function: str, chain: Chain) -> None:
            for child in die.iter_children():
                if child.tag == "DW_TAG_inlined_subroutine":
                    site, callee = call_site(child), _name(child)
                    if site is None or callee is None:
                        continue
                    inner = (*chain, InlinedCall(callee, site))
                    for low, high in _ranges(dwarf, cu, child, base):
                        self._copies[function].append(_Copy(low, high, len(inner), inner))
                    walk(child, function, inner)
                elif child.tag == "DW_TAG_lexical_block":
                    walk(child, function, chain)

        for die in top.iter_children():
            if die.tag == "DW_TAG_subprogram" and (
                "DW_AT_low_pc" in die.attributes or "DW_AT_ranges" in die.attributes
            ):
                name = _name(die)
                if name is not None:
                    walk(die, name, ())


def _name(die: DIE) -> str | None:
    """The symbol name of a subprogram or inlined subroutine (through its abstract origin)."""
    for attribute in ("DW_AT_linkage_name", "DW_AT_name"):
        if attribute in die.attributes:
            return die.attributes[attribute].value.decode(errors="replace")
    for reference in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if reference in die.attributes:
            return _name(die.get_DIE_from_attribute(reference))
    return None


def _ranges(dwarf: DWARFInfo, cu: CompileUnit, die: DIE, base: int) -> list[tuple[int, int]]:
    """The [low, high) address ranges of a DIE (``DW_AT_low_pc``/``high_pc`` or ``DW_AT_ranges``)."""
    attributes = die.attributes
    if "DW_AT_low_pc" in attributes:
        low = attributes["DW_AT_low_pc"].value
        high = attributes.get("DW_AT_high_pc")
        if high is None:
            return [(low, low + 1)]
        return [(low, high.value if high.form == "DW_FORM_addr" else low + high.value)]
    lists = dwarf.range_lists()
    if "DW_AT_ranges" not in attributes or lists is None:
        return []
    out = []
    for entry in lists.get_range_list_at_offset(attributes["DW_AT_ranges"].value, cu=cu):
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, RangeEntry):
            offset = 0 if entry.is_absolute else base
            out.append((entry.begin_offset + offset, entry.end_offset + offset))
    return out
