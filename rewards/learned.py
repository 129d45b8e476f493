"""Block throughput by the learned cost model: Σ over machine basic blocks of frequency × cycles.

The model (`mlgo_env.blocks`) was trained on basic blocks measured on this project's CPU (AMD Zen
4) with the counter-free timing harness; it predicts the core cycles per iteration of a block run
as a loop body. Blocks are costed without their trailing jumps/returns, as they were measured.
"""

from __future__ import annotations

from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.blocks.extract import block_body
from mlgo_env.blocks.predict import CostModel, shipped_model
from rewards.base import Artifact, CompiledModule, Reward

__all__ = ["LearnedReward"]


class LearnedReward(Reward):
    """Σ_b frequency(b) · predicted cycles(b) over the module's machine basic blocks.

    Frequencies are LLVM's block-frequency estimates from the address map (entry block = 1 in
    every function), as in the ``mca`` reward, so the two costs are comparable. Predictions are
    batched over every block of the module; the model and its decoding caches are loaded once
    per process. The number of blocks goes to ``module.extra["learned_blocks"]``.

    Args:
        model: a `CostModel`; None uses the shipped one.
    """

    name = "learned"
    requires = Artifact.OBJECT | Artifact.BB_ADDR_MAP
    platform_dependent = True
    unit = "cycles"

    def __init__(self, model: CostModel | None = None) -> None:
        self._model = model

    @property
    def model(self) -> CostModel:
        """The cost model (the shipped one unless given)."""
        if self._model is None:
            self._model = shipped_model()
        return self._model

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of one call of each function of `module`, summed."""
        blocks = read_blocks(module.object_path, module.toolchain)
        bodies = [block_body(block.code) for block in blocks]
        nonempty = [k for k, body in enumerate(bodies) if body]
        cycles = self.model.cycles([bodies[k] for k in nonempty])
        module.extra["learned_blocks"] = len(blocks)
        return float(sum(blocks[k].frequency * c for k, c in zip(nonempty, cycles, strict=True)))
