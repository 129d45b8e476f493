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

  // Fuses the producers of the anchor's operands 0..2 (e.g. a `linalg.fill` of the accumulator,
  // an element-wise producer) into `%loop`; operands without a fusible producer are skipped.
  transform.named_sequence @fuse_producers(%root: !transform.any_op {transform.readonly},
      %loop: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "internal"} {
    transform.include @fuse_producer_0 failures(suppress) (%root, %loop)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.include @fuse_producer_1 failures(suppress) (%root, %loop)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.include @fuse_producer_2 failures(suppress) (%root, %loop)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.yield
  }

  transform.named_sequence @fuse_producer_0(%root: !transform.any_op {transform.readonly},
      %loop: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[0]
        : (!transform.any_op) -> !transform.any_op
    %fused, %new_loop = transform.structured.fuse_into_containing_op %producer into %loop
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }

  transform.named_sequence @fuse_producer_1(%root: !transform.any_op {transform.readonly},
      %loop: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[1]
        : (!transform.any_op) -> !transform.any_op
    %fused, %new_loop = transform.structured.fuse_into_containing_op %producer into %loop
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }

  transform.named_sequence @fuse_producer_2(%root: !transform.any_op {transform.readonly},
      %loop: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %producer = transform.get_producer_of_operand %anchor[2]
        : (!transform.any_op) -> !transform.any_op
    %fused, %new_loop = transform.structured.fuse_into_containing_op %producer into %loop
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }

  // Tiles the anchor's two outer (parallel) loops into an `scf.forall` and fuses the producers of
  // its operands into it. Fails on a reduction loop.
  transform.named_sequence @tile_fuse_2d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]},
      %t1: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %anchor tile_sizes [%t0, %t1]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op)
    transform.include @fuse_producers failures(propagate) (%root, %forall)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.yield
  }

  // Tiles the anchor's outermost loop into an `scf.forall` and fuses its producers into it.
  transform.named_sequence @tile_fuse_1d(%root: !transform.any_op {transform.readonly},
      %t0: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32, 64]})
      attributes {mlgo.phase = "tensor"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %anchor tile_sizes [%t0]
        : (!transform.any_op, !transform.param<i64>) -> (!transform.any_op, !transform.any_op)
    transform.include @fuse_producers failures(propagate) (%root, %forall)
        : (!transform.any_op, !transform.any_op) -> ()
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
