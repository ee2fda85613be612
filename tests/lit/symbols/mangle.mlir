// Every defined function @f becomes @hxk_f and its calls follow; declarations keep their names (they are
// libm/runtime symbols). A kernel named `free` no longer defines libc's symbol. Running it twice changes
// nothing (an @hxk_ name is not prefixed again).
// RUN: hexmlir opt %s -p symbols | FileCheck %s
// RUN: hexmlir opt %s -p symbols | hexmlir opt - -p symbols | FileCheck %s

// CHECK: func.func private @expf(f32) -> f32
// CHECK: func.func private @hxk_helper(
// CHECK: func.func @hxk_free(
// CHECK: call @hxk_helper(
// CHECK: call @expf(
// CHECK-NOT: @hxk_hxk_
// CHECK-NOT: @free(
func.func private @expf(f32) -> f32
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @free(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %c = arith.constant 0 : index
  %e = tensor.extract %r[%c] : tensor<4xf32>
  %y = call @expf(%e) : (f32) -> f32
  %o = tensor.insert %y into %r[%c] : tensor<4xf32>
  return %o : tensor<4xf32>
}
