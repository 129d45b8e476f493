// Buffer-phase steps: how vector ops are lowered before the LLVM conversion, and hoisting.
module attributes {transform.with_named_sequence} {

  // Transfer lowering shared by the contraction strategies: permutations folded into minor
  // identity maps, transfers split into an in-bounds fast path and a slow path, 1-D transfers.
  transform.named_sequence @lower_transfers(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "internal"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.split_transfer_full_partial split_transfer_strategy = "linalg-copy"
      transform.apply_patterns.vector.transfer_to_scf max_transfer_rank = 1 full_unroll = true
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.vector.lower_transpose lowering_strategy = shuffle_1d
    } : !transform.any_op
    transform.apply_cse to %funcs : !transform.any_op
    transform.yield
  }

  // Lowers `vector.contract` to a sequence of outer products (`vector.fma` rows).
  transform.named_sequence @lower_contract_outerproduct(
      %root: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "buffer"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.lower_contraction lowering_strategy = outerproduct
      transform.apply_patterns.vector.lower_outerproduct
    } : !transform.any_op
    transform.include @lower_transfers failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Lowers `vector.contract` to dot products (reductions along the contracted dimension).
  transform.named_sequence @lower_contract_dot(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "buffer"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.lower_contraction lowering_strategy = dot
    } : !transform.any_op
    transform.include @lower_transfers failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Lowers `vector.multi_reduction` keeping the parallel dimension innermost (element-wise
  // adds across rows, no horizontal reductions).
  transform.named_sequence @lower_reduction_innerparallel(
      %root: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "buffer"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = innerparallel
    } : !transform.any_op
    transform.include @lower_transfers failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Lowers `vector.multi_reduction` with the reduced dimension innermost (horizontal
  // reductions per row).
  transform.named_sequence @lower_reduction_innerreduction(
      %root: !transform.any_op {transform.readonly}) attributes {mlgo.phase = "buffer"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %funcs {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = innerreduction
    } : !transform.any_op
    transform.include @lower_transfers failures(propagate) (%root) : (!transform.any_op) -> ()
    transform.yield
  }

  // Hoists loop-invariant vector transfer pairs out of loops (keeps an accumulator tile in
  // registers across the reduction loop). Needs buffers, hence a buffer step.
  transform.named_sequence @hoist_transfers(%root: !transform.any_op {transform.readonly})
      attributes {mlgo.phase = "buffer"} {
    %funcs = transform.include @match_kernels failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %hoisted = transform.structured.hoist_redundant_vector_transfers %funcs
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}
