// An elementwise chain (add then exp) over 1000 elements (not a multiple of 32 lanes).
func.func @add_exp(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %s = linalg.add ins(%a, %b : tensor<1000xf32>, tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  %x = linalg.exp ins(%s : tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  return %x : tensor<1000xf32>
}
