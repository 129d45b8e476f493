"""Block throughput by the learned cost model: Σ over machine basic blocks of frequency × cycles.

The model (`mlgo_env.blocks`) predicts the core cycles per iteration of a block run as a loop
body on the CPU its training data was measured on, measured with the counter-free timing harness.
The reward is for one target CPU (default: this host) and uses the shipped model of that CPU
(`mlgo_env.blocks.predict.shipped_model`; ``znver4`` and ``znver1`` ship); a CPU without one is
refused with how to measure and train one. A model given explicitly is checked against the
target: warned about, or refused with ``strict_cpu``. Blocks are costed without their trailing
jumps/returns, as they were measured.
"""

from __future__ import annotations

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.blocks.predict import CpuModel, shipped_model
from mlgo_env.x86 import strip_terminators
from rewards.base import TargetCpuReward
from rewards.wire import MCPU, WireOption

__all__ = ["LearnedReward", "body_cycles"]


def body_cycles(model: CpuModel, codes: list[bytes]) -> list[float]:
    """Predicted cycles per iteration of each block, its trailing jumps/returns left out (as measured).

    A block that is nothing but those costs 0.
    """
    bodies = [strip_terminators(code) for code in codes]
    nonempty = [k for k, body in enumerate(bodies) if body]
    cycles = [0.0] * len(codes)
    for k, c in zip(nonempty, model.cycles([bodies[k] for k in nonempty]), strict=True):
        cycles[k] = float(c)
    return cycles


class LearnedReward(TargetCpuReward):
    """Σ_b frequency(b) · predicted cycles(b) over the module's machine basic blocks.

    Frequencies are LLVM's block-frequency estimates from the address map (entry block = 1 in
    every function), as in the ``mca`` reward, so the two costs are comparable. Predictions are
    batched over every block of the module and memoised by block bytes for the life of the
    process (a program variant costs only its new blocks). The number of blocks goes to
    ``module.extra["learned_blocks"]``, the target CPU to ``module.extra["learned_mcpu"]``.

    Args:
        model: a cost model (`CpuModel`); None uses the shipped model of `mcpu`.
        mcpu: LLVM's ``-mcpu`` name of the CPU the cost is for; None: this host's, resolved once.
        strict_cpu: refuse (`machine.CpuMismatch`) a given model trained on another CPU than
            `mcpu` instead of warning.
    """

    name = "learned"
    requires = Artifact.OBJECT | Artifact.BB_ADDR_MAP
    unit = "cycles"
    wire_options = {"mcpu": MCPU, "strict_cpu": WireOption(bool)}

    def __init__(self, model: CpuModel | None = None, mcpu: str | None = None, strict_cpu: bool = False) -> None:
        super().__init__(mcpu)
        self._model = model
        self.strict_cpu = strict_cpu
        self._checked = False

    @property
    def model(self) -> CpuModel:
        """The cost model: the given one, checked once against `mcpu`, or the shipped one of `mcpu`.

        Raises:
            predict.NoModelForCpu: no model given and none ships for `mcpu`.
            machine.CpuMismatch: the given model was trained on another CPU and `strict_cpu` is set.
        """
        if self._model is None:
            self._model = shipped_model(self.mcpu)
        if not self._checked:
            self._model.check_cpu(self.mcpu, strict=self.strict_cpu)
            self._checked = True
        return self._model

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of one call of each function of `module`, summed."""
        blocks = read_blocks(module.object_path, module.toolchain)
        cycles = body_cycles(self.model, [block.code for block in blocks])
        module.extra["learned_blocks"] = len(blocks)
        module.extra["learned_mcpu"] = self.mcpu
        return float(sum(block.frequency * c for block, c in zip(blocks, cycles, strict=True)))
