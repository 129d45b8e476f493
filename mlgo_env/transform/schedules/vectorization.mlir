// Vectorization of the kernel functions, and the convolution decomposition that enables it.
module attributes {transform.with_named_sequence} {

  // The payload's kernel functions (tagged `mlgo.kernel`).
  transform.named_sequence @match_kernels(%root: !transform.any_op {transform.readonly})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %funcs = transform.structured.match ops{["func.func"]} attributes{mlgo.kernel} in %root
        : (!transform.any_op) -> !transform.any_op
    transform.yield %funcs : !transform.any_op
  }

  // Vectorizes `%op` if its parent is a loop; fails (silenceably) otherwise.
  transform.named_sequence @vectorize_in_loop(%op: !transform.any_op {transform.consumed})
      attributes {mlgo.phase = "internal"} {
    %parent = transform.get_parent_op %op : (!transform.any_op) -> !transform.any_op
    transform.match.operation_name %parent ["scf.for", "scf.forall"] : !transform.any_op
    transform.structured.vectorize %op : !transform.any_op
    transform.yield
  }

  // Vectorizes the linalg ops inside loops of the kernels (so tile first: untiled ops would
  // become huge vectors and stay scalar here) and folds the tensor slices into the transfers.
  // Fails on a tile with dynamic shape.
  transform.named_sequence @vectorize(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "tensor"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %ops = transform.structured.match interface{LinalgOp} in %funcs
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %ops : !transform.any_op {
    ^bb0(%op: !transform.any_op):
      transform.include @vectorize_in_loop failures(suppress) (%op) : (!transform.any_op) -> ()
    }
    transform.apply_patterns to %funcs {
      transform.apply_patterns.tensor.fold_tensor_subset_ops_into_vector_transfers
      transform.apply_patterns.vector.reduction_to_contract
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %funcs : !transform.any_op
    transform.yield
  }

  // Tiles a 2-D NHWC/HWCF convolution to one output row and one filter row
  // (n, oh, ow, f, kh, kw, c) -> (1, 1, ow, f, 1, -, c) and decomposes the tile into a 1-D
  // convolution, which `@vectorize` then turns into vector contractions.
  transform.named_sequence @tile_decompose_conv(%root: !transform.any_op {transform.readonly},
      %ow: !transform.param<i64> {transform.readonly, mlgo.choices = [4, 8, 16, 32]},
      %f: !transform.param<i64> {transform.readonly, mlgo.choices = [8, 16, 32]},
      %c: !transform.param<i64> {transform.readonly, mlgo.choices = [0, 4, 8, 16]})
      attributes {mlgo.phase = "tensor"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %tiled, %loops:6 = transform.structured.tile_using_for %anchor
        tile_sizes [1, 1, %ow, %f, 1, 0, %c]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>,
           !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op,
            !transform.any_op, !transform.any_op, !transform.any_op)
    %decomposed = transform.structured.decompose %tiled
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}
