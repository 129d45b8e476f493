// mlgo-env payload: 2-D convolution, NHWC input 1x34x34x16, HWCF filter 3x3x16x32, f32.
//
// Protocol: see ../README.md ("Payloads"). Kernel functions carry `mlgo.kernel`, the op a
// schedule targets carries `mlgo.anchor`; `@main` prints the result, then one `mlgo-time` line
// per timed call. Inputs are small integers, so the sums are exact in f32 in any order.

func.func @conv(%in: tensor<1x34x34x16xf32>, %filter: tensor<3x3x16x32xf32>) -> tensor<1x32x32x32xf32>
    attributes {mlgo.kernel, passthrough = ["noinline"]} {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x32x32x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x32x32x32xf32>) -> tensor<1x32x32x32xf32>
  %r = linalg.conv_2d_nhwc_hwcf {mlgo.anchor, dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%in, %filter : tensor<1x34x34x16xf32>, tensor<3x3x16x32xf32>)
      outs(%acc : tensor<1x32x32x32xf32>) -> tensor<1x32x32x32xf32>
  return %r : tensor<1x32x32x32xf32>
}

// in[...] = (((i0 * seed + i1) * seed + i2) ...) mod 7
func.func @init_input(%seed: index) -> tensor<1x34x34x16xf32> {
  %c7 = arith.constant 7 : index
  %empty = tensor.empty() : tensor<1x34x34x16xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%empty : tensor<1x34x34x16xf32>) {
  ^bb0(%out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %i3 = linalg.index 3 : index
    %m1 = arith.muli %i0, %seed : index
    %a1 = arith.addi %m1, %i1 : index
    %m2 = arith.muli %a1, %seed : index
    %a2 = arith.addi %m2, %i2 : index
    %m3 = arith.muli %a2, %seed : index
    %a3 = arith.addi %m3, %i3 : index
    %m = arith.remui %a3, %c7 : index
    %mi = arith.index_cast %m : index to i32
    %f = arith.sitofp %mi : i32 to f32
    linalg.yield %f : f32
  } -> tensor<1x34x34x16xf32>
  return %r : tensor<1x34x34x16xf32>
}

// in[...] = (((i0 * seed + i1) * seed + i2) ...) mod 7
func.func @init_filter(%seed: index) -> tensor<3x3x16x32xf32> {
  %c7 = arith.constant 7 : index
  %empty = tensor.empty() : tensor<3x3x16x32xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%empty : tensor<3x3x16x32xf32>) {
  ^bb0(%out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %i3 = linalg.index 3 : index
    %m1 = arith.muli %i0, %seed : index
    %a1 = arith.addi %m1, %i1 : index
    %m2 = arith.muli %a1, %seed : index
    %a2 = arith.addi %m2, %i2 : index
    %m3 = arith.muli %a2, %seed : index
    %a3 = arith.addi %m3, %i3 : index
    %m = arith.remui %a3, %c7 : index
    %mi = arith.index_cast %m : index to i32
    %f = arith.sitofp %mi : i32 to f32
    linalg.yield %f : f32
  } -> tensor<3x3x16x32xf32>
  return %r : tensor<3x3x16x32xf32>
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
  %in0 = func.call @init_input(%c3) : (index) -> tensor<1x34x34x16xf32>
  %in1 = func.call @init_filter(%c5) : (index) -> tensor<3x3x16x32xf32>
  %r = func.call @conv(%in0, %in1) : (tensor<1x34x34x16xf32>, tensor<3x3x16x32xf32>) -> tensor<1x32x32x32xf32>
  %u = tensor.cast %r : tensor<1x32x32x32xf32> to tensor<*xf32>
  func.call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  scf.for %it = %c0 to %reps step %c1 {
    %t0 = func.call @rtclock() : () -> f64
    %rt = func.call @conv(%in0, %in1) : (tensor<1x34x34x16xf32>, tensor<3x3x16x32xf32>) -> tensor<1x32x32x32xf32>
    %t1 = func.call @rtclock() : () -> f64
    %sample = tensor.extract %rt[%c0, %it, %it, %it] : tensor<1x32x32x32xf32>
    %dt = arith.subf %t1, %t0 : f64
    vector.print str "mlgo-time "
    vector.print %dt : f64
    vector.print str "mlgo-sample "
    vector.print %sample : f32
  }
  %ok = arith.constant 0 : i32
  return %ok : i32
}
