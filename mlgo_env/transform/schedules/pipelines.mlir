// Complete lowering pipelines composed from the library by include; they share
// `@bufferize` and `@lower_to_llvm` with each other and with every schedule the environment
// builds.
module attributes {transform.with_named_sequence} {

  // MLIR's default lowering as a schedule: bufferize, then lower to the LLVM dialect. Applies
  // the same passes as `runner.DEFAULT_PIPELINE`, in the same order.
  transform.named_sequence @pipeline_default(%root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "pipeline"} {
    %buffers = transform.include @bufferize failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    %llvm = transform.include @lower_to_llvm failures(propagate) (%buffers)
        : (!transform.any_op) -> !transform.any_op
    transform.yield %llvm : !transform.any_op
  }

  // Register-tiled matmul: 8x32 output tiles with the accumulator fill fused, a k loop of 8,
  // vectorized, outer-product contraction, accumulator hoisted out of the k loop. (32x32x16
  // tiles give vector code clang-19 -O3 needs minutes to compile.)
  transform.named_sequence @pipeline_matmul_vectorized(
      %root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "pipeline"} {
    %t32 = transform.param.constant 32 : i64 -> !transform.param<i64>
    %t8 = transform.param.constant 8 : i64 -> !transform.param<i64>
    %t0 = transform.param.constant 0 : i64 -> !transform.param<i64>
    transform.include @tile_fuse_2d failures(propagate) (%root, %t8, %t32)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>) -> ()
    transform.include @tile_loops_3d failures(propagate) (%root, %t0, %t0, %t8)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>,
           !transform.param<i64>) -> ()
    transform.include @vectorize failures(propagate) (%root) : (!transform.any_op) -> ()
    %buffers = transform.include @bufferize failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.include @hoist_transfers failures(propagate) (%buffers)
        : (!transform.any_op) -> ()
    transform.include @lower_contract_outerproduct failures(propagate) (%buffers)
        : (!transform.any_op) -> ()
    %llvm = transform.include @lower_to_llvm failures(propagate) (%buffers)
        : (!transform.any_op) -> !transform.any_op
    transform.yield %llvm : !transform.any_op
  }

  // Fused element-wise chain: 8x64 tiles of the consumer with its producer fused in, then
  // vectorized, so the intermediate never goes to memory.
  transform.named_sequence @pipeline_elementwise_fused(
      %root: !transform.any_op {transform.consumed})
      -> !transform.any_op attributes {mlgo.phase = "pipeline"} {
    %t8 = transform.param.constant 8 : i64 -> !transform.param<i64>
    %t64 = transform.param.constant 64 : i64 -> !transform.param<i64>
    transform.include @tile_fuse_2d failures(propagate) (%root, %t8, %t64)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>) -> ()
    transform.include @vectorize failures(propagate) (%root) : (!transform.any_op) -> ()
    %buffers = transform.include @bufferize failures(propagate) (%root)
        : (!transform.any_op) -> !transform.any_op
    transform.include @lower_transfers failures(propagate) (%buffers)
        : (!transform.any_op) -> ()
    %llvm = transform.include @lower_to_llvm failures(propagate) (%buffers)
        : (!transform.any_op) -> !transform.any_op
    transform.yield %llvm : !transform.any_op
  }
}
