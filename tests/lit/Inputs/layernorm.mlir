module {
  func.func @layernorm(%x: tensor<33x1000xf32>, %w: tensor<1000xf32>, %bias: tensor<1000xf32>) -> tensor<33x1000xf32> {
    %c1 = arith.constant 0.0 : f32
    %e2 = tensor.empty() : tensor<33xf32>
    %f3 = linalg.fill ins(%c1 : f32) outs(%e2 : tensor<33xf32>) -> tensor<33xf32>
    %sum4 = linalg.reduce ins(%x : tensor<33x1000xf32>) outs(%f3 : tensor<33xf32>) dimensions = [1]
      (%in: f32, %acc: f32) {
      %res = arith.addf %in, %acc : f32
      linalg.yield %res : f32
      }
    %c5 = arith.constant 0.001 : f32
    %e6 = tensor.empty() : tensor<33xf32>
    %f7 = linalg.fill ins(%c5 : f32) outs(%e6 : tensor<33xf32>) -> tensor<33xf32>
    %e8 = tensor.empty() : tensor<33xf32>
    %mul9 = linalg.mul ins(%sum4, %f7 : tensor<33xf32>, tensor<33xf32>) outs(%e8 : tensor<33xf32>) -> tensor<33xf32>
    %e10 = tensor.empty() : tensor<33x1000xf32>
    %b11 = linalg.broadcast ins(%mul9 : tensor<33xf32>) outs(%e10 : tensor<33x1000xf32>) dimensions = [1]
    %e12 = tensor.empty() : tensor<33x1000xf32>
    %sub13 = linalg.sub ins(%x, %b11 : tensor<33x1000xf32>, tensor<33x1000xf32>) outs(%e12 : tensor<33x1000xf32>) -> tensor<33x1000xf32>
    %e14 = tensor.empty() : tensor<33x1000xf32>
    %mul15 = linalg.mul ins(%sub13, %sub13 : tensor<33x1000xf32>, tensor<33x1000xf32>) outs(%e14 : tensor<33x1000xf32>) -> tensor<33x1000xf32>
    %c16 = arith.constant 0.0 : f32
    %e17 = tensor.empty() : tensor<33xf32>
    %f18 = linalg.fill ins(%c16 : f32) outs(%e17 : tensor<33xf32>) -> tensor<33xf32>
    %sum19 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%mul15 : tensor<33x1000xf32>) outs(%f18 : tensor<33xf32>) {
    ^bb0(%in: f32, %acc: f32):
      %res = arith.addf %in, %acc : f32
      linalg.yield %res : f32
    } -> tensor<33xf32>
    %c20 = arith.constant 0.001 : f32
    %e21 = tensor.empty() : tensor<33xf32>
    %f22 = linalg.fill ins(%c20 : f32) outs(%e21 : tensor<33xf32>) -> tensor<33xf32>
    %e23 = tensor.empty() : tensor<33xf32>
    %mul24 = linalg.mul ins(%sum19, %f22 : tensor<33xf32>, tensor<33xf32>) outs(%e23 : tensor<33xf32>) -> tensor<33xf32>
    %c25 = arith.constant 1.0e-05 : f32
    %e26 = tensor.empty() : tensor<33xf32>
    %f27 = linalg.fill ins(%c25 : f32) outs(%e26 : tensor<33xf32>) -> tensor<33xf32>
    %e28 = tensor.empty() : tensor<33xf32>
    %add29 = linalg.add ins(%mul24, %f27 : tensor<33xf32>, tensor<33xf32>) outs(%e28 : tensor<33xf32>) -> tensor<33xf32>
    %e30 = tensor.empty() : tensor<33xf32>
    %rsqrt31 = linalg.rsqrt ins(%add29 : tensor<33xf32>) outs(%e30 : tensor<33xf32>) -> tensor<33xf32>
    %e32 = tensor.empty() : tensor<33x1000xf32>
    %b33 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%rsqrt31 : tensor<33xf32>) outs(%e32 : tensor<33x1000xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    } -> tensor<33x1000xf32>
    %e34 = tensor.empty() : tensor<33x1000xf32>
    %mul35 = linalg.mul ins(%sub13, %b33 : tensor<33x1000xf32>, tensor<33x1000xf32>) outs(%e34 : tensor<33x1000xf32>) -> tensor<33x1000xf32>
    %e36 = tensor.empty() : tensor<33x1000xf32>
    %b37 = linalg.broadcast ins(%w : tensor<1000xf32>) outs(%e36 : tensor<33x1000xf32>) dimensions = [0]
    %e38 = tensor.empty() : tensor<33x1000xf32>
    %mul39 = linalg.mul ins(%mul35, %b37 : tensor<33x1000xf32>, tensor<33x1000xf32>) outs(%e38 : tensor<33x1000xf32>) -> tensor<33x1000xf32>
    %e40 = tensor.empty() : tensor<33x1000xf32>
    %b41 = linalg.broadcast ins(%bias : tensor<1000xf32>) outs(%e40 : tensor<33x1000xf32>) dimensions = [0]
    %e42 = tensor.empty() : tensor<33x1000xf32>
    %add43 = linalg.add ins(%mul39, %b41 : tensor<33x1000xf32>, tensor<33x1000xf32>) outs(%e42 : tensor<33x1000xf32>) -> tensor<33x1000xf32>
    return %add43 : tensor<33x1000xf32>
  }
}

