// mlgo-env payload: C = A x B, 192x192x192, f32.
//
// Protocol (every payload follows it; see ../README.md):
//   * kernels are functions tagged `mlgo.kernel` (and `passthrough = ["noinline"]`, so clang
//     cannot fold the timed calls away); the op a schedule targets is tagged `mlgo.anchor`;
//   * `@main` prints the result with `printMemrefF32`, then `mlgo-time <seconds>` once per timed
//     call. Inputs are small integers, so sums are exact in f32 in any order.

func.func @matmul(%A: tensor<192x192xf32>, %B: tensor<192x192xf32>) -> tensor<192x192xf32>
    attributes {mlgo.kernel, passthrough = ["noinline"]} {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<192x192xf32>
  %C = linalg.fill ins(%zero : f32) outs(%empty : tensor<192x192xf32>) -> tensor<192x192xf32>
  %r = linalg.matmul {mlgo.anchor}
      ins(%A, %B : tensor<192x192xf32>, tensor<192x192xf32>)
      outs(%C : tensor<192x192xf32>) -> tensor<192x192xf32>
  return %r : tensor<192x192xf32>
}

// in[i, j] = (i * seed + j) mod 7
func.func @init(%seed: index) -> tensor<192x192xf32> {
  %c7 = arith.constant 7 : index
  %empty = tensor.empty() : tensor<192x192xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      outs(%empty : tensor<192x192xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %is = arith.muli %i, %seed : index
    %s = arith.addi %is, %j : index
    %m = arith.remui %s, %c7 : index
    %mi = arith.index_cast %m : index to i32
    %f = arith.sitofp %mi : i32 to f32
    linalg.yield %f : f32
  } -> tensor<192x192xf32>
  return %r : tensor<192x192xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)
func.func private @rtclock() -> f64

func.func @main() -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %reps = arith.constant 10 : index
  %A = func.call @init(%c3) : (index) -> tensor<192x192xf32>
  %B = func.call @init(%c5) : (index) -> tensor<192x192xf32>
  %r = func.call @matmul(%A, %B) : (tensor<192x192xf32>, tensor<192x192xf32>) -> tensor<192x192xf32>
  %u = tensor.cast %r : tensor<192x192xf32> to tensor<*xf32>
  func.call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  scf.for %it = %c0 to %reps step %c1 {
    %t0 = func.call @rtclock() : () -> f64
    %rt = func.call @matmul(%A, %B) : (tensor<192x192xf32>, tensor<192x192xf32>) -> tensor<192x192xf32>
    %t1 = func.call @rtclock() : () -> f64
    %sample = tensor.extract %rt[%it, %it] : tensor<192x192xf32>
    %dt = arith.subf %t1, %t0 : f64
    vector.print str "mlgo-time "
    vector.print %dt : f64
    vector.print str "mlgo-sample "
    vector.print %sample : f32
  }
  %ok = arith.constant 0 : i32
  return %ok : i32
}
