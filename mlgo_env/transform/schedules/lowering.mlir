// Lowering to the LLVM dialect, written as transform ops: every conversion pass runs through
// `transform.apply_registered_pass` on the module. After it only `mlir-translate
// --mlir-to-llvmir` and the LLVM back end remain outside MLIR.
module attributes {transform.with_named_sequence} {

  // Structured ops and loops to plain `scf.for` loops (what vectorization did not touch).
  transform.named_sequence @lower_to_loops(%root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %m0 = transform.apply_registered_pass "convert-linalg-to-loops" to %root
        : (!transform.any_op) -> !transform.any_op
    %m1 = transform.apply_registered_pass "scf-forall-to-for" to %m0
        : (!transform.any_op) -> !transform.any_op
    %m2 = transform.apply_registered_pass "convert-vector-to-scf" to %m1
        : (!transform.any_op) -> !transform.any_op
    %m3 = transform.apply_registered_pass "expand-strided-metadata" to %m2
        : (!transform.any_op) -> !transform.any_op
    %m4 = transform.apply_registered_pass "lower-affine" to %m3
        : (!transform.any_op) -> !transform.any_op
    %m5 = transform.apply_registered_pass "convert-scf-to-cf" to %m4
        : (!transform.any_op) -> !transform.any_op
    transform.yield %m5 : !transform.any_op
  }

  // Every remaining dialect to the LLVM dialect (`ub`: MLIR 22's vectorizer pads with
  // `ub.poison`).
  transform.named_sequence @convert_to_llvm(%root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    %m0 = transform.apply_registered_pass "convert-vector-to-llvm" to %root
        : (!transform.any_op) -> !transform.any_op
    %m1 = transform.apply_registered_pass "finalize-memref-to-llvm" to %m0
        : (!transform.any_op) -> !transform.any_op
    %m2 = transform.apply_registered_pass "convert-math-to-llvm" to %m1
        : (!transform.any_op) -> !transform.any_op
    %m3 = transform.apply_registered_pass "convert-arith-to-llvm" to %m2
        : (!transform.any_op) -> !transform.any_op
    %m4 = transform.apply_registered_pass "convert-cf-to-llvm" to %m3
        : (!transform.any_op) -> !transform.any_op
    %m5 = transform.apply_registered_pass "convert-func-to-llvm" to %m4
        : (!transform.any_op) -> !transform.any_op
    %m6 = transform.apply_registered_pass "convert-ub-to-llvm" to %m5
        : (!transform.any_op) -> !transform.any_op
    %m7 = transform.apply_registered_pass "reconcile-unrealized-casts" to %m6
        : (!transform.any_op) -> !transform.any_op
    transform.yield %m7 : !transform.any_op
  }

  // Default lowering of the vector ops no conversion pass handles (`vector.contract`,
  // `vector.multi_reduction`, n-D transfers), for kernels whose schedule chose no lowering
  // step; a no-op on kernels without vectors.
  transform.named_sequence @lower_vector_ops(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.lower_contraction lowering_strategy = outerproduct
      transform.apply_patterns.vector.lower_outerproduct
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = innerparallel
    } : !transform.any_op
    transform.yield
  }

  // The whole tail after bufferization: default vector lowering, loops, the LLVM dialect.
  transform.named_sequence @lower_to_llvm(%root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "internal"} {
    transform.include @lower_vector_ops failures(propagate) (%root) : (!transform.any_op) -> ()
    %loops = transform.include @lower_to_loops failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %llvm = transform.include @convert_to_llvm failures(propagate) (%loops)
        : (!transform.any_op) -> !transform.any_op
    transform.yield %llvm : !transform.any_op
  }
}
