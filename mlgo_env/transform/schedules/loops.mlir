// Loop transformations of the loops around the anchor op: unrolling and interchange.
module attributes {transform.with_named_sequence} {

  // The innermost `scf.for` around the anchor op; fails when the anchor is not in a loop (tile
  // first) or is gone (vectorized).
  transform.named_sequence @innermost_loop(%root: !transform.any_op {transform.readonly})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %loop = transform.get_parent_op %anchor {op_name = "scf.for"}
        : (!transform.any_op) -> !transform.any_op
    transform.yield %loop : !transform.any_op
  }

  // Unrolls the innermost tile loop around the anchor by 2 (`transform.loop.unroll` takes the
  // factor as an attribute, not a parameter, hence one sequence per factor).
  transform.named_sequence @unroll_inner_2(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "tensor"} {
    %loop = transform.include @innermost_loop failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.loop.unroll %loop {factor = 2} : !transform.any_op
    transform.yield
  }

  // Unrolls the innermost tile loop around the anchor by 4.
  transform.named_sequence @unroll_inner_4(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "tensor"} {
    %loop = transform.include @innermost_loop failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.loop.unroll %loop {factor = 4} : !transform.any_op
    transform.yield
  }

  // Rewrites the anchor as a `linalg.generic`, keeping the `mlgo.anchor` tag.
  transform.named_sequence @generalize(%root: !transform.any_op {transform.readonly})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %anchor = transform.include @match_anchor failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %generic = transform.structured.generalize %anchor
        : (!transform.any_op) -> !transform.any_op
    transform.annotate %generic "mlgo.anchor" : !transform.any_op
    transform.yield %generic : !transform.any_op
  }

  // Interchanges the anchor's three loops to (0, 2, 1): for a matmul, i-k-j order, so the
  // innermost loop walks rows of B and C contiguously.
  transform.named_sequence @interchange_021(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "tensor"} {
    %generic = transform.include @generalize failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %interchanged = transform.structured.interchange %generic iterator_interchange = [0, 2, 1]
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}
