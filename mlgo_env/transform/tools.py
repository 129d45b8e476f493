"""Finds one installed MLIR: its tools, runtime libraries and the clang of the same LLVM version.

Debian's MLIR packages of two versions exclude each other (``libmlir-N`` conflicts with every
other ``libmlir-M``), so a machine has at most one MLIR from apt. ``MlirTools.find(N)`` takes
MLIR N; ``MlirTools.find()`` that of ``$MLGO_LLVM_VERSION`` (else 19) when it is there, else
whichever supported version is installed; both look in the folders ``llvm-config-N`` names. An MLIR kept
elsewhere (say, packages unpacked with ``dpkg -x``) is used through ``$MLGO_MLIR_ROOT``: a folder
with ``bin/`` and ``lib/`` (``/usr/lib/llvm-N`` in the packages).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.errors import ToolNotFound
from mlgo_env.toolchain import SUPPORTED_VERSIONS, Toolchain, llvm_config, requested_version, tool_name

__all__ = ["MLIR_ROOT_VARIABLE", "MlirTools", "installed_mlir_versions", "mlir_packages"]

MLIR_ROOT_VARIABLE = "MLGO_MLIR_ROOT"
"""Environment variable naming an MLIR folder (``bin/mlir-opt``, ``lib/libmlir_runner_utils.so*``)."""

_RUNTIME_LIBS = ("mlir_c_runner_utils", "mlir_runner_utils")
_RELEASE = re.compile(r"version (\d+)\.(\d+)\.(\d+)")

logger = logging.getLogger(__name__)


def mlir_packages(version: int) -> str:
    """The Debian packages that install MLIR `version` (its tools and runtime libraries)."""
    return f"mlir-{version}-tools libmlir-{version}-dev"


def _runtime_lib(libdir: Path, name: str, major: int) -> Path | None:
    """``lib<name>.so`` in `libdir`, else its versioned file (``libmlir-N`` alone has only that)."""
    plain = libdir / f"lib{name}.so"
    if plain.is_file():
        return plain
    versioned = sorted(libdir.glob(f"lib{name}.so.{major}.*"))
    return versioned[0] if versioned else None


@dataclass(frozen=True)
class MlirTools:
    """Paths of the MLIR tools and runtime libraries of one LLVM version.

    Attributes:
        version: the LLVM major version of this MLIR.
        release: its full version, e.g. '19.1.7'.
        mlir_opt, mlir_translate: the tools.
        mlir_runner: the JIT runner (``mlir-runner``; ``mlir-cpu-runner`` before LLVM 20).
        clang: the clang of the same version, which compiles what ``mlir-translate`` emits.
        runtime_libs: ``libmlir_c_runner_utils`` and ``libmlir_runner_utils``.
    """

    version: int
    release: str
    mlir_opt: Path
    mlir_translate: Path
    mlir_runner: Path
    clang: Path
    runtime_libs: tuple[Path, ...]

    @classmethod
    def find(cls, version: int | str | None = None, root: str | Path | None = None) -> MlirTools:
        """The MLIR under `root` (default ``$MLGO_MLIR_ROOT``), else of `version`, else any installed.

        With `version` given, only that version is taken; without it, the requested version
        (`requested_version`) is preferred and another installed one is used, with a warning,
        when it is missing.

        Raises:
            ToolNotFound: no (matching) MLIR is installed; the message names the packages.
        """
        root = root or os.environ.get(MLIR_ROOT_VARIABLE)
        if root:
            tools = cls.at(Path(root))
            if version is not None and tools.version != requested_version(version):
                raise ToolNotFound(f"LLVM {version} was asked for, but {root} holds MLIR {tools.release}")
            return tools
        if version is not None:
            return cls.of_version(requested_version(version))
        wanted = requested_version()
        try:
            return cls.of_version(wanted)
        except ToolNotFound as missing:
            others = [v for v in installed_mlir_versions() if v != wanted]
            if not others:
                raise ToolNotFound(
                    f"{missing} No other MLIR of LLVM {SUPPORTED_VERSIONS} is installed either; or set "
                    f"{MLIR_ROOT_VARIABLE} to an MLIR folder with bin/ and lib/."
                ) from missing
            tools = cls.of_version(others[-1])
            logger.warning("using MLIR %s: %s", tools.release, missing)
            return tools

    @classmethod
    def of_version(cls, version: int) -> MlirTools:
        """The MLIR of LLVM `version`, in the folders ``llvm-config-<version>`` names.

        Raises:
            ToolNotFound: LLVM or its MLIR is not installed; the message names the packages.
        """
        config = llvm_config(version)
        chain = Toolchain(version)
        if config is None or not chain.has("mlir-opt"):
            others = installed_mlir_versions()
            caveat = (
                f" (this removes the installed MLIR {others[0]}: Debian's MLIR packages exclude each other; "
                f"{MLIR_ROOT_VARIABLE} can name an unpacked copy instead)"
                if others
                else ""
            )
            raise ToolNotFound(
                f"MLIR {version} is not installed (no mlir-opt in llvm-config-{version} --bindir). "
                f"Install it with: sudo apt-get install llvm-{version} clang-{version} {mlir_packages(version)}"
                f"{caveat}."
            )
        return cls._of(version, config.release, config.bindir, config.libdir, chain)

    @classmethod
    def at(cls, root: Path) -> MlirTools:
        """The MLIR in folder `root` (``bin/mlir-opt``, ``lib/``); its version is what mlir-opt says.

        Raises:
            ToolNotFound: `root` holds no runnable mlir-opt, or a tool or library is missing.
        """
        mlir_opt = root / "bin" / "mlir-opt"
        try:
            said = subprocess.run([str(mlir_opt), "--version"], capture_output=True, text=True, timeout=30).stdout
        except OSError as exc:
            raise ToolNotFound(f"{MLIR_ROOT_VARIABLE}={root}: cannot run {mlir_opt}: {exc}") from exc
        match = _RELEASE.search(said)
        if match is None:
            raise ToolNotFound(f"{MLIR_ROOT_VARIABLE}={root}: {mlir_opt} --version names no LLVM version: {said!r}")
        version = int(match.group(1))
        return cls._of(version, ".".join(match.groups()), root / "bin", root / "lib", Toolchain(version))

    @classmethod
    def _of(cls, version: int, release: str, bindir: Path, libdir: Path, chain: Toolchain) -> MlirTools:
        tools = {name: bindir / tool_name(name, version) for name in ("mlir-opt", "mlir-translate", "mlir-runner")}
        libs = {name: _runtime_lib(libdir, name, version) for name in _RUNTIME_LIBS}
        missing = [str(path) for path in tools.values() if not path.is_file()]
        missing += [f"lib{name}.so in {libdir}" for name, path in libs.items() if path is None]
        if missing:
            raise ToolNotFound(
                f"MLIR {version} is incomplete: {', '.join(missing)} missing. "
                f"Install it with: sudo apt-get install {mlir_packages(version)}"
            )
        return cls(
            version=version,
            release=release,
            mlir_opt=tools["mlir-opt"],
            mlir_translate=tools["mlir-translate"],
            mlir_runner=tools["mlir-runner"],
            clang=chain.clang,
            runtime_libs=tuple(path for path in libs.values() if path is not None),
        )

    def describe(self) -> str:
        """One line for people: the version and where its tools are."""
        return f"MLIR {self.release} ({self.mlir_opt.parent})"


def installed_mlir_versions() -> list[int]:
    """The supported LLVM versions whose MLIR (mlir-opt) is installed, per ``llvm-config-N``."""
    return [v for v in SUPPORTED_VERSIONS if Toolchain(v).has("mlir-opt")]
