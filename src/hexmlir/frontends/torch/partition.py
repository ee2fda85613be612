"""Partitioning for the PyTorch frontend: when a graph cannot be compiled whole, the ops hexmlir rejects run in
eager PyTorch and the rest is compiled by hexmlir in maximal partitions.

1. classify: the ops are imported by torch-mlir together, once per (op, arguments, input shapes), each with
   its own inputs and a location naming it, and checked by the pipeline's check-input; a rejected op is
   traced back to its node by that location (ops imported one by one where that fails). View-like ops are
   not checked. Rejected ops, in-place ops and ops producing non-tensor values are eager; views, reshapes and
   tuple getitems are partition material, except a view of a partition input used outside it.
2. propose: one pass in topological order. A supported node joins the current partition unless one of its
   inputs depends on the current partition through an eager node (joining would make a cycle); then it opens
   a new partition. `top(n)`, the newest partition n depends on, makes that check O(inputs). A getitem of a
   tuple joins the partition of its tuple (so no tuple crosses a partition boundary).
3. build: each partition becomes a GraphModule (inputs: values from outside in first-use order; outputs: its
   values used outside, as a tuple); the parent graph calls them in a topological order of partitions and
   eager nodes (Kahn's algorithm, original order as tie-break).

Partitions are compiled by hexmlir at their first call (LazyKernel): their inputs fix the shapes.
"""
from __future__ import annotations

import heapq
import operator
import warnings

from ...errors import CompileError, HexmlirError
from ...options import Options

#: Ops that only reinterpret, slice or copy their input: cheap in eager PyTorch and importable by torch-mlir
#: (not checked one by one). They are partition material; a partition holding nothing else is not worth a
#: kernel and runs eagerly.
VIEW_LIKE = {"view", "reshape", "_unsafe_view", "transpose", "permute", "contiguous", "expand", "expand_as",
             "unsqueeze", "squeeze", "flatten", "unflatten", "t", "split", "split_with_sizes", "chunk",
             "unbind", "select", "slice", "narrow", "getitem", "alias", "view_as", "reshape_as", "clone",
             "detach", "movedim", "swapaxes"}


def _name(node) -> str:
    t = node.target
    if isinstance(t, str):
        return t
    return getattr(t, "__name__", None) or str(t)


def _base_name(node) -> str:
    """'aten.view.default' / torch.Tensor.view / 'view' -> 'view'."""
    import torch
    t = node.target
    if isinstance(t, torch._ops.OpOverload):
        return t._schema.name.split("::")[-1]
    return _name(node).split(".")[0]


def _mutates(node) -> bool:
    import torch
    t = node.target
    if node.kwargs.get("inplace") is True or node.kwargs.get("out") is not None:
        return True
    if t in (operator.setitem, operator.iadd, operator.isub, operator.imul, operator.itruediv):
        return True
    if isinstance(t, torch._ops.OpOverload):
        return t._schema.is_mutable
    n = _name(node)
    return n.endswith("_") and not n.endswith("__")


def _is_tensor_meta(node) -> bool:
    from torch.fx.passes.shape_prop import TensorMetadata
    return isinstance(node.meta.get("tensor_meta"), TensorMetadata)


def _is_tuple_of_tensors(node) -> bool:
    from torch.fx.passes.shape_prop import TensorMetadata
    tm = node.meta.get("tensor_meta")
    return isinstance(tm, (tuple, list)) and len(tm) > 0 and all(isinstance(t, TensorMetadata) for t in tm)


def _tuple_getitem(node) -> bool:
    return node.op == "call_function" and node.target is operator.getitem and \
        isinstance(node.args[0], type(node)) and _is_tuple_of_tensors(node.args[0])


def _key(node):
    """Cache key of a node's check: (op, arguments with inputs numbered, input shapes and dtypes), or None."""
    import torch
    ins = node.all_input_nodes
    idx = {n: i for i, n in enumerate(ins)}
    key = (node.op, node.target,
           repr(torch.fx.node.map_arg(node.args, lambda n: f"%{idx[n]}")),
           repr(torch.fx.node.map_arg(node.kwargs, lambda n: f"%{idx[n]}")),
           tuple((tuple(n.meta["tensor_meta"].shape), n.meta["tensor_meta"].dtype) for n in ins))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _fresh(meta):
    import torch
    return torch.randn(meta.shape, dtype=meta.dtype) if meta.dtype.is_floating_point \
        else torch.zeros(meta.shape, dtype=meta.dtype)


def _import_nodes(nodes, owner):
    """One graph holding each of `nodes` alone (own inputs), imported by torch-mlir (its context knows the
    tm_tensor dialect); node i's ops carry the location "hexmlir-node":i+1."""
    import torch
    import torch_mlir.fx as fx
    from .importer import _decompositions
    g, args = torch.fx.Graph(), []
    outs = []
    for i, node in enumerate(nodes):
        env = {}
        for u in node.all_input_nodes:
            env[u] = g.placeholder(f"n{i}_in{len(env)}")
            args.append(_fresh(u.meta["tensor_meta"]))
        c = g.node_copy(node, lambda n: env[n])
        c.meta["stack_trace"] = f'  File "hexmlir-node", line {i + 1}, in forward\n'
        outs.append(c)
    g.output(tuple(outs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fx.export_and_import(torch.fx.GraphModule(owner, g), *args, output_type="linalg-on-tensors",
                                    decomposition_table=_decompositions())


def _reason(e: HexmlirError) -> str:
    """The error without its location (a synthetic one here)."""
    import re
    return re.sub(r"\s*\[at [^\]]*\]", "", str(e)).strip()


def _check_batch(nodes, owner) -> dict | None:
    """node -> (op, reason) or None for each of `nodes`, from one import; None when the batch does not import
    or a rejected op cannot be traced back to its node (then each node is checked alone)."""
    import re
    from ...ir import funcs, walk
    from ...transforms import check_input
    try:
        module = _import_nodes(nodes, owner)
    except Exception:
        return None
    res = dict.fromkeys(nodes)
    lost = []

    def visit(op):
        try:
            check_input.check_op(op)
        except HexmlirError as e:
            m = re.search(r'"hexmlir-node":(\d+):', str(op.location))
            if not m:
                lost.append(e)
            elif res[nodes[int(m.group(1)) - 1]] is None:
                res[nodes[int(m.group(1)) - 1]] = (e.op, _reason(e))
    with module.context:
        for f in funcs(module):
            walk(f, visit)
    return None if lost else res


def check_node(node, owner) -> tuple[str, str] | None:
    """Import `node` alone (fresh inputs of its input shapes) and run check-input. Returns (op, reason) when
    hexmlir rejects it, else None."""
    import torch
    from .importer import _import_linalg
    ins = node.all_input_nodes
    g = torch.fx.Graph()
    env = {n: g.placeholder(f"in{i}") for i, n in enumerate(ins)}
    g.output(g.node_copy(node, lambda n: env[n]))
    try:
        text = _import_linalg(torch.fx.GraphModule(owner, g), [_fresh(n.meta["tensor_meta"]) for n in ins])
        from ... import ir as hir
        from ...transforms import check_input
        with hir.context(), hir.ir.Location.unknown():
            check_input.run(hir.parse(text), None)
    except HexmlirError as e:
        return (e.op or _name(node), _reason(e))
    except Exception as e:                              # the op alone does not even run: leave it eager
        msg = str(e).strip().splitlines()
        return (_name(node), f"{type(e).__name__}: {msg[0][:200] if msg else ''}")
    return None


def classify(gm) -> dict:
    """node -> (op, reason) for the nodes that must run eagerly (everything else may be partitioned).
    Needs `tensor_meta` from ShapeProp. The ops to check are imported together once (one distinct node per
    (op, arguments, input shapes)); each alone only where that fails."""
    eager, todo = {}, []
    for n in gm.graph.nodes:
        if n.op in ("placeholder", "output", "get_attr", "call_module"):
            continue                                    # call_module (export's _guards_fn): stays in the parent
        if _tuple_getitem(n):
            continue                                    # follows its tuple (propose)
        elif _mutates(n):
            eager[n] = (_name(n), "in-place op (mutations run eagerly in a partitioned graph)")
        elif not (_is_tensor_meta(n) or _is_tuple_of_tensors(n)):
            eager[n] = (_name(n), "produces a non-tensor value")
        elif _base_name(n) in VIEW_LIKE or not all(_is_tensor_meta(u) for u in n.all_input_nodes):
            continue                                    # views import; others: their partition's compile decides
        else:
            todo.append(n)
    reps, same = {}, {}
    for n in todo:
        k = _key(n)
        rep = reps.setdefault(k, n) if k is not None else n
        same.setdefault(rep, []).append(n)
    found = _check_batch(list(same), gm) if same else {}
    for rep, ns in same.items():
        bad = found[rep] if found is not None else check_node(rep, gm)
        if bad is not None:
            eager.update(dict.fromkeys(ns, (bad[0] or _name(rep), bad[1])))
    return eager


def propose(gm, eager) -> dict:
    """node -> partition id (0, 1, ...) for the partitionable nodes, in one topological pass (module doc)."""
    part, top, cur = {}, {}, -1
    for n in gm.graph.nodes:
        ins = n.all_input_nodes
        t_in = max((top[u] for u in ins), default=-1)
        if n.op in ("call_function", "call_method") and n not in eager and n not in part \
                and not _tuple_getitem(n):
            if cur < 0 or any(top[u] == cur and part.get(u) != cur for u in ins):
                cur += 1
            part[n] = cur
            if _is_tuple_of_tensors(n):
                for u in n.users:
                    if _tuple_getitem(u):
                        part[u] = cur
        top[n] = max(t_in, part.get(n, -1))
    # A view of a partition's input used outside the partition stays eager: it is free there, and as a kernel
    # result it would alias a kernel argument. Reverse order: such a view's input views follow it out.
    order = list(gm.graph.nodes)
    computes = {}
    for n in order:
        if n in part:
            computes[n] = not (_tuple_getitem(n) or _base_name(n) in VIEW_LIKE) or \
                any(computes.get(u, False) for u in n.all_input_nodes if part.get(u) == part[n])
    for n in reversed(order):
        if n in part and not computes[n] and any(part.get(u) != part[n] for u in n.users):
            del part[n]
    # a partition of views only is no kernel worth compiling
    groups = {}
    for n, p in part.items():
        groups.setdefault(p, []).append(n)
    trivial = {p for p, ns in groups.items() if all(_tuple_getitem(n) or _base_name(n) in VIEW_LIKE for n in ns)}
    ids = {p: i for i, p in enumerate(sorted(set(groups) - trivial))}
    return {n: ids[p] for n, p in part.items() if p in ids}


def build(gm, part: dict):
    """The partitioned GraphModule: partition k is submodule `hexmlir_part_k` (a GraphModule returning a tuple)
    called from the parent graph; every other node is copied as it is. Returns (module, submodule names)."""
    import torch
    nodes = list(gm.graph.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    groups: dict[int, list] = {}
    for n in nodes:
        if n in part:
            groups.setdefault(part[n], []).append(n)
    root = {}
    for n in nodes:                                     # what the eager nodes and partitions reference
        if n.op in ("get_attr", "call_module"):
            root[n.target] = gm.get_submodule(n.target) if n.op == "call_module" else _fetch(gm, n.target)
    io = {}
    for p, ns in groups.items():
        members = set(ns)
        ins = list(dict.fromkeys(u for n in ns for u in n.all_input_nodes if u not in members))
        outs = [n for n in ns if any(u not in members for u in n.users)]
        g = torch.fx.Graph()
        env = {u: g.placeholder(f"in{i}") for i, u in enumerate(ins)}
        for n in ns:
            env[n] = g.node_copy(n, lambda x: env[x])
        g.output(tuple(env[o] for o in outs))
        sub_root = {k: v for k, v in root.items()}
        sub = torch.fx.GraphModule(sub_root, g, class_name=f"HexmlirPartition{p}")
        root[f"hexmlir_part_{p}"] = sub
        io[p] = (ins, outs)

    def unit(n):
        return ("p", part[n]) if n in part else ("n", pos[n])
    first = {}
    for n in nodes:
        first.setdefault(unit(n), pos[n])
    succ: dict = {u: set() for u in first}
    indeg = dict.fromkeys(first, 0)
    for n in nodes:
        for u in n.all_input_nodes:
            a, b = unit(u), unit(n)
            if a != b and b not in succ[a]:
                succ[a].add(b)
                indeg[b] += 1
    ready = [(first[u], u) for u, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    new = torch.fx.Graph()
    new._codegen = gm.graph._codegen
    env = {}
    done = 0
    while ready:
        _, u = heapq.heappop(ready)
        done += 1
        if u[0] == "n":
            n = nodes[u[1]]
            if n.op != "output":                         # last, after nodes that do not feed it
                env[n] = new.node_copy(n, lambda x: env[x])
        else:
            ins, outs = io[u[1]]
            call = new.call_module(f"hexmlir_part_{u[1]}", tuple(env[i] for i in ins))
            for j, o in enumerate(outs):
                env[o] = new.call_function(operator.getitem, (call, j))
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, (first[v], v))
    if done != len(first):                               # propose() makes no cycles; say so if it ever did
        raise CompileError("partitioning made a cyclic graph", stage="torch-partition")
    new.node_copy(nodes[-1], lambda x: env[x])
    out = torch.fx.GraphModule(root, new, class_name=type(gm).__name__)
    return out, [f"hexmlir_part_{p}" for p in sorted(groups)]


def _fetch(gm, target: str):
    obj = gm
    for a in target.split("."):
        obj = getattr(obj, a)
    return obj


class LazyKernel:
    """A partition compiled by hexmlir at its first call (its inputs fix the shapes). The compiled kernel's
    results are checked against the partition's eager results on that call (count, shapes, dtypes); a
    partition that fails to compile, or whose kernel disagrees, runs eagerly with a warning."""

    def __init__(self, sub, options: Options, index: int, total: int, what: str, compile_whole):
        self.sub, self.options, self.fn = sub, options, None
        self.compile_whole = compile_whole      # (graph, inputs, options) -> callable (backend.py)
        self.index, self.total, self.what = index, total, what

    def __call__(self, *args):
        if self.fn is None:
            from .importer import _fallback
            try:
                fn = self.compile_whole(self.sub, list(args), self.options)
                got, ref = fn(*args), self.sub(*args)
                if len(got) != len(ref) or any(g.shape != r.shape or g.dtype != r.dtype for g, r in zip(got, ref)):
                    raise CompileError("the kernel's results do not match the partition's outputs (got "
                                       f"{[(tuple(g.shape), g.dtype) for g in got]}, expected "
                                       f"{[(tuple(r.shape), r.dtype) for r in ref]})", stage="torch-partition")
                self.fn = fn
                return got
            except HexmlirError as e:
                _fallback(e, f"partition {self.index + 1} of {self.total} of {self.what}", strict=False)
                self.fn = self.sub.forward
        return self.fn(*args)


def _lazy_module(lazy: LazyKernel):
    """An nn.Module calling `lazy` (GraphModule children must be modules)."""
    import torch

    class LazyKernelModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lazy = lazy

        def forward(self, *args):
            return self.lazy(*args)
    return LazyKernelModule()


def _drop_metadata_checks(gm):
    """torch.export puts an `aten._assert_tensor_metadata` before each `.to(dtype)`: a check of a dtype and shape
    that the static trace already fixed. It returns nothing, so it would be an eager op (named in the
    FallbackWarning) holding its input out of the partition; it is dropped instead."""
    import torch
    check = getattr(torch.ops.aten, "_assert_tensor_metadata", None)
    for n in list(gm.graph.nodes):
        if n.op == "call_function" and check is not None and n.target in (check, check.default) and not n.users:
            gm.graph.erase_node(n)
    gm.recompile()


def split(gm, example_inputs):
    """(partitioned GraphModule with plain GraphModule partitions, submodule names, eager node -> (op, reason)),
    or None when shape propagation fails. No hexmlir compile: tests run the result as it is."""
    from torch.fx.passes.shape_prop import ShapeProp
    try:
        ShapeProp(gm).propagate(*example_inputs)
    except Exception:                                   # shape propagation of an unusual graph: no partitioning
        return None
    _drop_metadata_checks(gm)
    eager = classify(gm)
    part = propose(gm, eager)
    fused, names = build(gm, part)
    return fused, names, eager


def partitioned(gm, example_inputs, options: Options, err: HexmlirError, what: str = "a graph", *,
                compile_whole):
    """The ops check-input rejects run eagerly; maximal supported partitions are compiled by hexmlir at their
    first call. One warning names the eager ops with their reasons and the number of partitions. Returns the
    partitioned GraphModule (`hexmlir_partitions`, `hexmlir_eager_ops` set), or None when no single op is to
    blame: then the graph runs eagerly, announced with one warning naming the op from `err`.
    compile_whole(graph, inputs, options) compiles a partition (the backend's whole-graph compile)."""
    from .importer import _fallback
    res = split(gm, example_inputs)
    # calls on no graph value that return no tensor (torch's API-usage logging) run eagerly unannounced
    blamed = res and {n: v for n, v in res[2].items() if n.all_input_nodes or _is_tensor_meta(n)}
    if res is None or not res[1] or not blamed:
        _fallback(err, what, strict=False)
        return None
    fused, names, eager = res[0], res[1], blamed
    for k, name in enumerate(names):
        fused._modules[name] = _lazy_module(LazyKernel(fused._modules[name], options, k, len(names), what,
                                                                       compile_whole))
    reasons = {}
    for n, (op, why) in eager.items():
        reasons.setdefault(f"{op} (from {_name(n)})", why)
    ops = sorted(reasons)
    detail = "; ".join(f"{op}: {reasons[op]}" for op in ops)
    from .importer import warn_fallback
    warn_fallback(f"hexmlir: {len(eager)} op(s) of {what} run in eager PyTorch, the rest is compiled by hexmlir "
                  f"in {len(names)} partition(s). Eager: {detail}. (Whole-graph compile failed: {err})")
    fused.hexmlir_partitions, fused.hexmlir_eager_ops = len(names), ops
    return fused


def partition_model(module, args, options: Options, err: HexmlirError, what: str, *, compile_whole):
    """compile_model's partitioning: torch.export the functional model to an FX graph (aten ops) and partition
    it like a Dynamo graph. The partitions are compiled now (ahead of time) by one run on the example
    arguments. Returns the partitioned GraphModule, or None (whole model eager, warned)."""
    import torch
    from .importer import _fallback
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            gm = torch.export.export(module, tuple(args)).module()
    except Exception:                                   # not exportable: the whole model runs eagerly
        _fallback(err, what, strict=False)
        return None
    fused = partitioned(gm, args, options, err, what=what, compile_whole=compile_whole)
    if fused is not None:
        with torch.no_grad():
            fused(*args)
    return fused
