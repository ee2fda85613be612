"""Every `hexmlir.*` attribute the compiler puts in IR: the one vocabulary through which stages hand work to
later stages. Stages import the names from here; tests/test_structure.py fails on a `"hexmlir.<name>"`
literal anywhere else, so a new attribute is declared (and described) here or not at all.

Each entry: name -> (where it sits, who writes it, who reads it, what it says).
"""
from __future__ import annotations

# Decisions (plan.py writes them, plan.verify checks them, the stages only read them)
ID = "hexmlir.id"                      # linalg.generic: the plan's op id (i64)
CONFIG = "hexmlir.config"              # a planned root op / its tile loop: the lowering config (DictionaryAttr)
PLAN = "hexmlir.plan"                  # module: the plan's global facts (budget, thread bound, options)
TCM_USAGE = "hexmlir.tcm_usage"        # module: TCM the generated code takes, measured by tcm-check

# Hand-offs between stages
TILE_LOOP = "hexmlir.tile_loop"        # scf.for: a tile loop made by threads, with its root's plan id
THREAD_BODY = "hexmlir.thread_body"    # func.func: an outlined per-thread body (threads -> tcm-check)
PROMOTE = "hexmlir.promote"            # linalg op: an operand group tcm-promote stages (transient, in-stage)
VECTORIZE = "hexmlir.vectorize"        # linalg op: vectorize's transform-script handle (transient, in-stage)
MICRO_KERNEL = "hexmlir.mk"            # linalg op: contract's register-blocked op / full micro-tile (transient)
PACK = "hexmlir.pack"                  # linalg.copy: contract's B-panel packing copy (transient)
TPACK = "hexmlir.tpack"                # linalg transpose copy: contract's lanes x lanes blocking (transient)
NOT_PACKING = "hexmlir.not_packing"    # memref.alloca: stack buffers that predate packing (contract, transient)
VTILE = "hexmlir.vtile"                # linalg op: one op's vector tiling handle (vectorize, transient)
DMA_DIR = "hexmlir.dma"                # DMA start call: "in" (DDR -> TCM) or "out" (dma -> double-buffer)
DMA_DDR = "hexmlir.ddr"                # DMA start call: the DDR buffer it moves (dma -> double-buffer)
FUSION_BARRIER = "hexmlir.fusion_barrier"  # op: fusion must not fuse across it (fusion, transient)
FINAL_DIVF = "hexmlir.final_divf"      # arith.divf: an idiom's division in its final form (fast-math, transient)
POS_DEN = "hexmlir.pos_den"            # arith.divf: denominator c + exp(y), c >= 2^-126 (fast-math, transient)
LOC = "hexmlir.loc"                    # cf.assert / tensor.extract: the source line of a bounds check (asserts)
CONV_BLOCKS = "hexmlir.conv_blocks"    # linalg.generic: conv-im2col's matmul over row blocks; its leading loops
                                       # (i64: how many) are the blocks, one tile each in plan (conv-im2col -> plan)
WINDOW_COPY = "hexmlir.window_copy"    # linalg.generic: conv-im2col's window copy of one such matmul's blocks,
                                       # fused into its block loop by plan (unit attr; conv-im2col -> plan)
CONV_MATMUL = "hexmlir.conv_matmul"    # linalg.generic: a matmul conv-im2col made of a convolution (unit attr;
                                       # conv-im2col -> conv-epilogue)
EPILOGUE = "hexmlir.epilogue"          # linalg.generic: an element-wise consumer of conv matmuls (reached through
                                       # reshapes only) that takes their tiles; plan fuses them into it (unit
                                       # attr; conv-epilogue -> plan, tcm-tiling)

# From the frontends
GRID = "hexmlir.grid"                  # module: a Triton grid kernel (conversion/ttir -> pipeline's grid list)
BODY = "hexmlir.body"                  # private func decl: its MLIR body as text (conversion -> lower-to-llvm)
RAW_ADDRESS = "hexmlir.raw_address"    # unrealized cast: an integer address as a memref (tt.int_to_ptr)

# Tools
SIGNATURE = "hexmlir.signature"        # module: the kernel signature bufferize found (hexmlir opt's hand-over)

ALL = {v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and v.startswith("hexmlir.")}
