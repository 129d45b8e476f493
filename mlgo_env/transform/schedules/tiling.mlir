// Tiling, fusion and interchange of the anchor op (the payload op tagged `mlgo.anchor`).
//
// Every step re-matches the anchor from the payload root, so steps compose in any order without
// passing handles: the tiled op keeps the `mlgo.anchor` attribute, and a second tiling step tiles
// the tile again (multi-level tiling).
module attributes {transform.with_named_sequence} {

  // The anchor op(s) of the payload; fails (silenceably) when there is none, e.g. after
  // vectorization replaced it.
  transform.named_sequence @match_anchor(%root: !transform.any_op {transform.readonly})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %anchor = transform.structured.match attributes{mlgo.anchor} in %root
        : (!transform.any_op) -> !transform.any_op
    transform.yield %anchor : !transform.any_op
  }

  // Tags the op producing operand `i` of the anchor `mlgo.fusible`; fails (silenceably) when the
  // operand is a function argument.
  transform.named_sequence @mark_producer_0(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[0]
        : (!transform.any_op) -> !transform.any_op
    transform.annotate %producer "mlgo.fusible" : !transform.any_op
    transform.yield
  }

  transform.named_sequence @mark_producer_1(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[1]
        : (!transform.any_op) -> !transform.any_op
    transform.annotate %producer "mlgo.fusible" : !transform.any_op
    transform.yield
  }

  transform.named_sequence @mark_producer_2(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[2]
        : (!transform.any_op) -> !transform.any_op
    transform.annotate %producer "mlgo.fusible" : !transform.any_op
    transform.yield
  }

  // Tags the producers of the anchor's operands 0..2 (e.g. the `linalg.fill` of an accumulator,
  // an element-wise producer) `mlgo.fusible`; call before tiling the anchor. Includes with
  // results cannot suppress failures in MLIR 19 (mlir-opt crashes), hence tags, not handles.
  transform.named_sequence @mark_producers(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    transform.include @mark_producer_0 failures(suppress) (%root) : (!transform.any_op) -> ()
    transform.include @mark_producer_1 failures(suppress) (%root) : (!transform.any_op) -> ()
    transform.include @mark_producer_2 failures(suppress) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Canonicalizes the kernels and removes common subexpressions: drops the producers that
  // fusion left without uses, so they are neither bufferized nor computed.
  transform.named_sequence @cleanup(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %funcs : !transform.any_op
    transform.yield
  }

  // Fuses the linalg ops tagged `mlgo.fusible` into the `scf.forall` around the anchor (an
  // accumulator fill through the loop's shared outputs).
  transform.named_sequence @fuse_marked(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %loop = transform.get_parent_op %anchor {op_name = "scf.forall"}
        : (!transform.any_op) -> !transform.any_op
    %producers = transform.structured.match interface{LinalgOp} attributes{mlgo.fusible} in %root
        : (!transform.any_op) -> !transform.any_op
    %fused, %new_loop = transform.structured.fuse_into_containing_op %producers into %loop
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }

  // Tiles the anchor's two outer (parallel) loops into an `scf.forall` and fuses the producers of
  // its operands into it. Fails on a reduction loop.
  transform.named_sequence @tile_fuse_2d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]},
      %t1: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    transform.include @mark_producers failures(propagate) (%root) : (!transform.any_op) -> ()
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %anchor tile_sizes [%t0, %t1]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op)
    transform.include @fuse_marked failures(suppress) (%root) : (!transform.any_op) -> ()
    transform.include @cleanup failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Tiles the anchor's outermost loop into an `scf.forall` and fuses its producers into it.
  transform.named_sequence @tile_fuse_1d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    transform.include @mark_producers failures(propagate) (%root) : (!transform.any_op) -> ()
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %anchor tile_sizes [%t0]
        : (!transform.any_op, !transform.param<i64>) -> (!transform.any_op, !transform.any_op)
    transform.include @fuse_marked failures(suppress) (%root) : (!transform.any_op) -> ()
    transform.include @cleanup failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Tiles the anchor's two outer loops with `scf.for` (reduction loops allowed); size 0 leaves a
  // loop untiled.
  transform.named_sequence @tile_loops_2d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16, 32, 64]},
      %t1: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %loops:2 = transform.structured.tile_using_for %anchor tile_sizes [%t0, %t1]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }

  // Tiles the anchor's three outer loops with `scf.for` (e.g. i, j, k of a matmul); size 0 leaves
  // a loop untiled.
  transform.named_sequence @tile_loops_3d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16, 32, 64]},
      %t1: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16, 32, 64]},
      %t2: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %loops:3 = transform.structured.tile_using_for %anchor tile_sizes [%t0, %t1, %t2]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }
}
