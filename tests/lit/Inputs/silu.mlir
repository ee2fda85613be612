// SiLU over 7x1001 f32 as a frontend emits it (unfused chain; 1001 is not a multiple of 32 lanes).
module {
  func.func @silu(%x: tensor<7x1001xf32>) -> tensor<7x1001xf32> {
    %e1 = tensor.empty() : tensor<7x1001xf32>
    %negf2 = linalg.negf ins(%x : tensor<7x1001xf32>) outs(%e1 : tensor<7x1001xf32>) -> tensor<7x1001xf32>
    %e3 = tensor.empty() : tensor<7x1001xf32>
    %exp4 = linalg.exp ins(%negf2 : tensor<7x1001xf32>) outs(%e3 : tensor<7x1001xf32>) -> tensor<7x1001xf32>
    %c5 = arith.constant 1.0 : f32
    %e6 = tensor.empty() : tensor<7x1001xf32>
    %f7 = linalg.fill ins(%c5 : f32) outs(%e6 : tensor<7x1001xf32>) -> tensor<7x1001xf32>
    %e8 = tensor.empty() : tensor<7x1001xf32>
    %add9 = linalg.add ins(%exp4, %f7 : tensor<7x1001xf32>, tensor<7x1001xf32>) outs(%e8 : tensor<7x1001xf32>) -> tensor<7x1001xf32>
    %e10 = tensor.empty() : tensor<7x1001xf32>
    %div11 = linalg.div ins(%x, %add9 : tensor<7x1001xf32>, tensor<7x1001xf32>) outs(%e10 : tensor<7x1001xf32>) -> tensor<7x1001xf32>
    return %div11 : tensor<7x1001xf32>
  }
}

