"""Applies a schedule to a payload, builds and runs the result, checks it, and times it.

The path of one payload through the tools of one installed MLIR (`MlirTools.find`: mlir-opt,
mlir-translate, mlir-runner and the clang of the same LLVM version N):

1. ``mlir-opt-N PAYLOAD -transform-preload-library=transform-library-paths=SCHEDULE
   -transform-interpreter`` applies the schedule; since every composed schedule ends with
   ``@lower_to_llvm`` this already yields the LLVM dialect. The baseline instead runs
   `DEFAULT_PIPELINE` as an ordinary pass pipeline (MLIR's default lowering: no schedule).
2. ``mlir-translate-N --mlir-to-llvmir`` gives LLVM IR; ``clang-N -O3`` compiles it to an object
   file (what block-throughput rewards such as "mca" measure) and links it with MLIR's runner
   libraries into an executable (what runtime rewards measure).
3. The executable prints the result and one ``mlgo-time`` line per timed kernel call
   (see ``payloads/``). The reference result comes from the untransformed payload lowered by
   `DEFAULT_PIPELINE` and run by ``mlir-runner-N`` (``mlir-cpu-runner`` before LLVM 20), a
   different execution engine from the one being checked.

The ``kernel-time`` reward (`rewards.kernel_time`) times the kernel calls inside the executable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from mlgo_env.artifacts import Artifact, CompiledModule, ProgramInfo
from mlgo_env.errors import CompilerError, ValidationFailed
from mlgo_env.toolchain import Toolchain
from mlgo_env.transform.output import KernelTiming, RunOutput, parse_output, run_tool
from mlgo_env.transform.tools import MlirTools

__all__ = [
    "DEFAULT_PIPELINE",
    "ScheduleFailed",
    "OutputMismatch",
    "PayloadRunner",
]

DEFAULT_PIPELINE: tuple[str, ...] = (
    "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}",
    "cse",
    "canonicalize",
    "convert-linalg-to-loops",
    "scf-forall-to-for",
    "convert-vector-to-scf",
    "expand-strided-metadata",
    "lower-affine",
    "convert-scf-to-cf",
    "convert-vector-to-llvm",
    "finalize-memref-to-llvm",
    "convert-math-to-llvm",
    "convert-arith-to-llvm",
    "convert-cf-to-llvm",
    "convert-func-to-llvm",
    "convert-ub-to-llvm",
    "reconcile-unrealized-casts",
)
"""MLIR's default lowering of a linalg-on-tensors payload, as passes (the baseline)."""

CLANG_FLAGS: tuple[str, ...] = ("-O3", "-march=native", "-Wno-override-module")


class ScheduleFailed(CompilerError):
    """Applying the schedule failed: a transform does not apply to this payload."""


class OutputMismatch(ValidationFailed):
    """The scheduled program's result differs from the reference."""


def _pass_flag(name: str) -> str:
    """``"pass{options}"`` as the mlir-opt flag ``-pass=options``."""
    pass_name, _, options = name.partition("{")
    return f"-{pass_name}={options.removesuffix('}')}" if options else f"-{pass_name}"


class PayloadRunner:
    """Lowers, builds, runs and checks one payload under any number of schedules.

    Args:
        payload: the payload ``.mlir`` file.
        workdir: where intermediate files go (one sub-folder per build).
        tools: the MLIR tools (found with `MlirTools.find` when omitted).
        compile_timeout: seconds allowed to each tool invocation.
        run_timeout: seconds allowed to one run of the program.
        rtol: relative tolerance of the output check (reassociated sums may differ slightly).
    """

    def __init__(
        self,
        payload: Path,
        workdir: Path,
        tools: MlirTools | None = None,
        compile_timeout: float = 60.0,
        run_timeout: float = 60.0,
        rtol: float = 1e-4,
    ) -> None:
        self.payload = payload
        self.workdir = workdir
        self.tools = tools or MlirTools.find()
        self.toolchain = Toolchain(self.tools.version)
        self.compile_timeout = compile_timeout
        self.run_timeout = run_timeout
        self.rtol = rtol
        self._builds = 0
        self._reference: RunOutput | None = None

    def _new_dir(self, label: str) -> Path:
        self._builds += 1
        folder = self.workdir / f"{self._builds:04d}-{label}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def lower(self, schedule_mlir: str | None, folder: Path) -> Path:
        """The payload in the LLVM dialect: `schedule_mlir` applied, or `DEFAULT_PIPELINE` if None.

        Raises:
            ScheduleFailed: mlir-opt rejected the schedule or a transform failed.
            CompilerTimeout: mlir-opt ran past `compile_timeout`.
        """
        lowered = folder / "lowered.mlir"
        if schedule_mlir is None:
            passes = [_pass_flag(name) for name in DEFAULT_PIPELINE]
        else:
            schedule = folder / "schedule.mlir"
            schedule.write_text(schedule_mlir)
            passes = [
                f"-transform-preload-library=transform-library-paths={schedule}",
                "-transform-interpreter",
            ]
        command = [str(self.tools.mlir_opt), str(self.payload), *passes, "-o", str(lowered)]
        run_tool(command, self.compile_timeout, self.tools.mlir_opt.name, ScheduleFailed)
        return lowered

    def check_schedule(self, schedule_mlir: str) -> None:
        """Applies `schedule_mlir` and translates the result to LLVM IR, without compiling it.

        Raises:
            ScheduleFailed: it does not apply, or leaves ops that have no LLVM translation; the
                message carries the tool's diagnostics.
        """
        folder = self._new_dir("check")
        try:
            lowered = self.lower(schedule_mlir, folder)
            translate = [str(self.tools.mlir_translate), "--mlir-to-llvmir", str(lowered), "-o", "/dev/null"]
            run_tool(translate, self.compile_timeout, self.tools.mlir_translate.name, ScheduleFailed)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def build(self, schedule_mlir: str | None, label: str = "build") -> CompiledModule:
        """Lowers with `schedule_mlir` (None: the default pipeline), compiles and links.

        Returns:
            A module with the object file and the executable; ``extra["lowered"]`` is the
            LLVM-dialect file and ``extra["schedule_mlir"]`` the schedule.

        Raises:
            ScheduleFailed: the schedule does not apply.
            CompilerError: translation, compilation or linking failed.
            CompilerTimeout: a tool ran past `compile_timeout`.
        """
        folder = self._new_dir(label)
        lowered = self.lower(schedule_mlir, folder)
        llvm_ir, obj, exe = folder / "payload.ll", folder / "payload.o", folder / "payload"
        timeout = self.compile_timeout
        translate = [str(self.tools.mlir_translate), "--mlir-to-llvmir", str(lowered), "-o", str(llvm_ir)]
        run_tool(translate, timeout, self.tools.mlir_translate.name, CompilerError)
        clang, clang_name = str(self.tools.clang), f"clang-{self.tools.version}"
        run_tool([clang, *CLANG_FLAGS, "-c", str(llvm_ir), "-o", str(obj)], timeout, clang_name, CompilerError)
        lib_dir = self.tools.runtime_libs[0].parent
        link = [clang, str(obj), *map(str, self.tools.runtime_libs), "-o", str(exe), f"-Wl,-rpath,{lib_dir}"]
        run_tool(link, timeout, f"linking with {clang_name}", CompilerError)
        return CompiledModule(
            benchmark=self.payload.stem,
            object_path=obj,
            toolchain=self.toolchain,
            workdir=folder,
            artifacts=Artifact.OBJECT | Artifact.EXECUTABLE,
            executable_path=exe,
            program=ProgramInfo(name=self.payload.stem, directory=folder),
            extra={"lowered": lowered, "schedule_mlir": schedule_mlir},
        )

    def run(self, module: CompiledModule) -> RunOutput:
        """Runs the module's executable once.

        Raises:
            CompilerError: it exited with an error or printed no result.
            CompilerTimeout: it ran past `run_timeout`.
        """
        if module.executable_path is None:
            raise ValueError("the module has no executable; build it with PayloadRunner.build")
        stdout = run_tool([str(module.executable_path)], self.run_timeout, "the program", CompilerError)
        return parse_output(stdout)

    def reference(self) -> RunOutput:
        """The untransformed payload's output, lowered by `DEFAULT_PIPELINE`, run by the JIT."""
        if self._reference is None:
            lowered = self.lower(None, self._new_dir("reference"))
            command = [
                str(self.tools.mlir_runner),
                "-e",
                "main",
                "-entry-point-result=i32",
                f"-shared-libs={','.join(str(lib) for lib in self.tools.runtime_libs)}",
                str(lowered),
            ]
            stdout = run_tool(command, self.run_timeout, self.tools.mlir_runner.name, CompilerError)
            self._reference = parse_output(stdout)
        return self._reference

    def check(self, module: CompiledModule) -> RunOutput:
        """Runs `module` once and compares its result with `reference()`.

        Raises:
            OutputMismatch: shapes differ or a value is off by more than `rtol`.
        """
        output = self.run(module)
        expected = self.reference().result
        if output.result.shape != expected.shape:
            raise OutputMismatch(
                f"{self.payload.stem}: the result has {output.result.size} values, the reference {expected.size}"
            )
        if not np.allclose(output.result, expected, rtol=self.rtol, atol=self.rtol):
            worst = int(np.argmax(np.abs(output.result - expected)))
            raise OutputMismatch(
                f"{self.payload.stem}: result[{worst}] = {output.result[worst]:g}, the reference "
                f"has {expected[worst]:g} (rtol {self.rtol:g})"
            )
        return output

    def time(self, module: CompiledModule, repeats: int = 3) -> KernelTiming:
        """Min-of-k timing over every timed call of `repeats` runs."""
        return KernelTiming.of([t for _ in range(repeats) for t in self.run(module).times])
