"""Bufferization: tensors -> memrefs (upstream one-shot-bufferize), function results -> out-params.

Results that bufferize in place into an argument (destination-passing style) are dropped; the function
writes that argument. `cx.aliases` records result index -> argument index for the artifact metadata.
"""
from ..ir import funcs, run_passes


def run(module, cx) -> None:
    run_passes(module, "one-shot-bufferize{bufferize-function-boundaries "
                       "function-boundary-type-conversion=identity-layout-map}, canonicalize, cse",
               "bufferize")
    f = funcs(module)[0]
    block = f.regions[0].blocks[0]
    ret = block.operations[len(block.operations) - 1]
    args = list(block.arguments)
    n_in, n_res = len(args), len(ret.operands)
    aliases = {i: args.index(v) for i, v in enumerate(ret.operands) if v in args}
    run_passes(module, "drop-equivalent-buffer-results, buffer-results-to-out-params{modify-public-functions hoist-static-allocs}, "
                       "canonicalize, cse",
               "bufferize")
    # Result r is either an input written in place (DPS) or the next trailing out-parameter.
    results, nxt = [], n_in
    for r in range(n_res):
        if r in aliases:
            results.append(aliases[r])
        else:
            results.append(nxt)
            nxt += 1
    f = funcs(module)[0]
    cx.signature = {
        "name": str(f.attributes["sym_name"]).strip('"'),
        "args": [_spec(a.type, "in" if i < n_in else "out") for i, a in enumerate(f.regions[0].blocks[0].arguments)],
        "results": results,
    }
    _drop_self_copies(module)
    # Free DDR intermediates (unfused kernels allocate them per call); runs before TCM promotion,
    # whose own alloc/dealloc pairs this pipeline would reject.
    run_passes(module, "buffer-deallocation-pipeline, canonicalize", "bufferize")


def _drop_self_copies(module) -> None:
    """Bufferizing parallel_insert_slice can leave `memref.copy %a, %a`; it is a no-op."""
    from ..ir import ops_named
    for op in ops_named(module.operation, "memref.copy"):
        if op.operands[0] == op.operands[1]:
            op.erase()


_DTYPES = {"f32": "float32", "f16": "float16", "f64": "float64", "bf16": "bfloat16", "i1": "bool",
           "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}


def _spec(t, role: str) -> dict:
    from torch_mlir import ir
    st = ir.ShapedType(t)
    return {"shape": list(st.shape), "dtype": _DTYPES[str(st.element_type)], "role": role}


def run_grid(module, cx) -> None:
    """Grid kernels (Triton): arguments are already memrefs and scalars; bufferize the program bodies,
    record the launch signature (pointers, scalars, then the three grid sizes) and free intermediates."""
    _carry_in_place(module)
    run_passes(module, "one-shot-bufferize{bufferize-function-boundaries allow-return-allocs-from-loops "
                       "function-boundary-type-conversion=identity-layout-map}, canonicalize, cse", "bufferize")
    _drop_self_copies(module)
    from torch_mlir import ir
    f = funcs(module)[0]
    args = list(f.regions[0].blocks[0].arguments)
    specs = []
    for i, a in enumerate(args):
        if isinstance(a.type, ir.MemRefType):
            specs.append({"shape": [-1], "dtype": _DTYPES[str(ir.ShapedType(a.type).element_type)], "role": "ptr"})
        else:
            specs.append({"shape": [], "dtype": _DTYPES[str(a.type)], "role": "grid" if i >= len(args) - 3 else "scalar"})
    cx.signature = {"name": str(f.attributes["sym_name"]).strip('"'), "args": specs, "results": []}
    run_passes(module, "buffer-deallocation-pipeline, canonicalize", "bufferize")


def _carry_in_place(module) -> None:
    """A loop-carried tensor computed by an elementwise generic (identity maps, fresh init) is computed into
    the iteration's own tensor, so bufferization keeps one buffer per carried value instead of allocating
    one every iteration. (Elementwise fusion replaces unused inits by fresh ones, hence this late fix-up.)"""
    from torch_mlir import ir
    from ..ir import ops_named
    for y in ops_named(module.operation, "scf.yield"):
        loop = y.parent
        if loop.name != "scf.for":
            continue
        body = loop.regions[0].blocks[0]
        for i, v in enumerate(y.operands):
            g = v.owner
            if not isinstance(v.type, ir.RankedTensorType) or getattr(g, "name", "") != "linalg.generic":
                continue
            if g.parent != loop or len(g.results) != 1:
                continue
            maps = [ir.AffineMapAttr(a).value for a in g.attributes["indexing_maps"]]
            if any(m != ir.AffineMap.get_identity(m.n_dims) for m in maps):
                continue
            init = g.operands[len(g.operands) - 1]
            if getattr(init.owner, "name", "") == "tensor.empty":
                g.operands[len(g.operands) - 1] = body.arguments[1 + i]
