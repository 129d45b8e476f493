// mlgo-env payload: element-wise chain r = max((a + b) * c, 0) on 512x512 f32, two linalg.generic ops.
//
// Protocol: see ../README.md ("Payloads"). Kernel functions carry `mlgo.kernel`, the op a
// schedule targets carries `mlgo.anchor`; `@main` prints the result, then one `mlgo-time` line
// per timed call. Inputs are small integers, so the sums are exact in f32 in any order.

#id = affine_map<(i, j) -> (i, j)>

func.func @elementwise(%a: tensor<512x512xf32>, %b: tensor<512x512xf32>, %c: tensor<512x512xf32>) -> tensor<512x512xf32>
    attributes {mlgo.kernel, passthrough = ["noinline"]} {
  %empty = tensor.empty() : tensor<512x512xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<512x512xf32>, tensor<512x512xf32>) outs(%empty : tensor<512x512xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<512x512xf32>
  %empty2 = tensor.empty() : tensor<512x512xf32>
  %r = linalg.generic {mlgo.anchor, indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum, %c : tensor<512x512xf32>, tensor<512x512xf32>) outs(%empty2 : tensor<512x512xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %p = arith.mulf %x, %y : f32
    %m = arith.maximumf %p, %zero : f32
    linalg.yield %m : f32
  } -> tensor<512x512xf32>
  return %r : tensor<512x512xf32>
}

// in[...] = (((i0 * seed + i1) * seed + i2) ...) mod 7
func.func @init(%seed: index) -> tensor<512x512xf32> {
  %c7 = arith.constant 7 : index
  %empty = tensor.empty() : tensor<512x512xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      outs(%empty : tensor<512x512xf32>) {
  ^bb0(%out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %m1 = arith.muli %i0, %seed : index
    %a1 = arith.addi %m1, %i1 : index
    %m = arith.remui %a1, %c7 : index
    %mi = arith.index_cast %m : index to i32
    %f = arith.sitofp %mi : i32 to f32
    linalg.yield %f : f32
  } -> tensor<512x512xf32>
  return %r : tensor<512x512xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)
func.func private @rtclock() -> f64

func.func @main() -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %c11 = arith.constant 11 : index
  %reps = arith.constant 10 : index
  %in0 = func.call @init(%c3) : (index) -> tensor<512x512xf32>
  %in1 = func.call @init(%c5) : (index) -> tensor<512x512xf32>
  %in2 = func.call @init(%c11) : (index) -> tensor<512x512xf32>
  %r = func.call @elementwise(%in0, %in1, %in2) : (tensor<512x512xf32>, tensor<512x512xf32>, tensor<512x512xf32>) -> tensor<512x512xf32>
  %u = tensor.cast %r : tensor<512x512xf32> to tensor<*xf32>
  func.call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  scf.for %it = %c0 to %reps step %c1 {
    %t0 = func.call @rtclock() : () -> f64
    %rt = func.call @elementwise(%in0, %in1, %in2) : (tensor<512x512xf32>, tensor<512x512xf32>, tensor<512x512xf32>) -> tensor<512x512xf32>
    %t1 = func.call @rtclock() : () -> f64
    %sample = tensor.extract %rt[%it, %it] : tensor<512x512xf32>
    %dt = arith.subf %t1, %t0 : f64
    vector.print str "mlgo-time "
    vector.print %dt : f64
    vector.print str "mlgo-sample "
    vector.print %sample : f32
  }
  %ok = arith.constant 0 : i32
  return %ok : i32
}
