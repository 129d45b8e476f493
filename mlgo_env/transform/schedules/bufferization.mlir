// Bufferization: tensors become memrefs; the border between the tensor and buffer phases.
module attributes {transform.with_named_sequence} {

  // One-shot bufferization of the whole module, function signatures included, with identity
  // layouts at function boundaries (so `@main` can print results), then CSE and
  // canonicalization, which fold the self-copies bufferizing an `scf.forall` leaves. Consumes the
  // root handle and returns the bufferized module.
  transform.named_sequence @bufferize(%root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    // function_boundary_type_conversion = 1: LayoutMapOption::IdentityLayoutMap.
    %bufferized = transform.bufferization.one_shot_bufferize %root
        {bufferize_function_boundaries = true, function_boundary_type_conversion = 1 : i32}
        : (!transform.any_op) -> !transform.any_op
    %deduplicated = transform.apply_registered_pass "cse" to %bufferized
        : (!transform.any_op) -> !transform.any_op
    %canonical = transform.apply_registered_pass "canonicalize" to %deduplicated
        : (!transform.any_op) -> !transform.any_op
    transform.yield %canonical : !transform.any_op
  }
}
