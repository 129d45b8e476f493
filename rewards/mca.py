"""Block throughput: predicted cycles = Σ over machine basic blocks of frequency × llvm-mca cost."""

from __future__ import annotations

from mlgo_env.artifacts import Artifact, CompiledModule
from mlgo_env.bbaddrmap import read_blocks
from mlgo_env.mca import McaBlockModel, McaCache
from rewards.base import TargetCpuReward
from rewards.wire import MCPU

__all__ = ["McaReward"]


class McaReward(TargetCpuReward):
    """Σ_b frequency(b) · cycles(b) over the module's machine basic blocks, on one target CPU.

    Frequencies are LLVM's static block-frequency estimates from the address map (entry block = 1
    in every function, times the entry count when compiled with a profile), so every function
    weighs as if called once; block cycles are llvm-mca's model of the target CPU
    (`mlgo_env.mca`), cached by block bytes so an episode only analyses the blocks it changed.
    ``module.extra`` records the target (``mca_mcpu``), the blocks (``mca_blocks``) and how many
    llvm-mca could not handle (``mca_fallback_blocks``, costed by the instruction-count fallback).

    Args:
        mcpu: the CPU llvm-mca models (``znver4``, ``skylake``); None: this host's, resolved once.
        block_cache: where llvm-mca's block costs are kept; None: the shared on-disk cache.
    """

    name = "mca"
    requires = Artifact.OBJECT | Artifact.BB_ADDR_MAP
    unit = "cycles"
    wire_options = {"mcpu": MCPU}

    def __init__(self, mcpu: str | None = None, block_cache: McaCache | None = None) -> None:
        super().__init__(mcpu)
        self.block_cache = block_cache
        self._models: dict[int, McaBlockModel] = {}

    def cost(self, module: CompiledModule) -> float:
        """Predicted cycles of one call of each function of `module`, summed."""
        version = module.toolchain.version
        if version not in self._models:
            self._models[version] = McaBlockModel(mcpu=self.mcpu, toolchain=module.toolchain, cache=self.block_cache)
        model = self._models[version]
        blocks = read_blocks(module.object_path, module.toolchain)
        costs = model.costs([block.code for block in blocks])
        module.extra["mca_mcpu"] = self.mcpu
        module.extra["mca_blocks"] = len(blocks)
        module.extra["mca_fallback_blocks"] = sum(cost.fallback for cost in costs)
        return sum(block.frequency * cost.cycles for block, cost in zip(blocks, costs, strict=True))
