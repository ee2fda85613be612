// hexmlir opt's own errors are typed and name what is wrong: an unknown stage (listing the stages), input
// that does not parse, a stage that reads the plan given IR without one, a stage after bufferize given IR
// without the signature bufferize records (lower-to-llvm names the exported entry from it), IR that skipped
// the symbols stage (no @hxk_ entry to export), an unknown option.
// RUN: not hexmlir opt %s -p no-such-stage 2>&1 | FileCheck %s --check-prefix=STAGE
// RUN: not hexmlir opt %S/../Inputs/README.md -p canonicalize 2>&1 | FileCheck %s --check-prefix=PARSE
// RUN: not hexmlir opt %s -p vectorize 2>&1 | FileCheck %s --check-prefix=PLAN
// RUN: hexmlir opt %s -p check-input..plan | not hexmlir opt - -p lower-to-llvm 2>&1 | FileCheck %s --check-prefix=SIG
// RUN: hexmlir opt %s -p check-input,canonicalize..plan | not hexmlir opt - -p tcm-tiling..lower-to-llvm 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: not hexmlir opt %s -p plan --option no_such=1 2>&1 | FileCheck %s --check-prefix=OPTION
// RUN: not hexmlir opt %s -p vectorize..plan 2>&1 | FileCheck %s --check-prefix=RANGE

// STAGE: hexmlir: error: [stage opt] unknown stage 'no-such-stage' for the tensor pipeline; stages: check-input,
// PARSE: hexmlir: error: [stage parse] cannot parse input
// PLAN: hexmlir: error: [stage vectorize] stage vectorize reads the plan, and the input carries none
// SIG: hexmlir: error: [stage lower-to-llvm] stage lower-to-llvm reads the kernel signature that `bufferize` records, and the input carries none
// ENTRY: hexmlir: error: [stage lower-to-llvm] the kernel's entry _mlir_ciface_hxk_f is not defined (did the symbols stage run?)
// OPTION: hexmlir: error: unknown option 'no_such'
// RANGE: hexmlir: error: [stage opt] stage range 'vectorize..plan' runs backwards
func.func @f(%a: tensor<33x17xf32>) -> tensor<33x17xf32> {
  return %a : tensor<33x17xf32>
}
