"""PyTorch frontend: `torch.compile(model, backend="hexmlir")` and `compile_model` (ahead of time).

Routes:
  "linalg"   (default, route B): torch-mlir imports the graph to Linalg-on-tensors; the whole graph is one
             hexmlir kernel (the Linalg pipeline: fusion, TCM tiling, DMA, threads, HVX vectors). Under
             torch.compile it is an AOTAutograd backend: forward, backward and inference graphs each compiled.
  "inductor" (route A): Inductor splits the graph into Triton kernels (cpu_backend="triton"), which hexmlir's
             Triton backend plugin ('cpu', frontends/triton) compiles; Inductor's own C++ glue runs between them.

Weights are function arguments, not constants: one compile per (architecture, shapes, options) whatever the
weight values, the cache key does not hash megabytes of weights, updated weights are used without a recompile,
and it matches what Dynamo hands a backend (parameters lifted to graph inputs). Passing them costs nothing:
contiguous CPU f32 tensors are handed over as numpy views.

Fallbacks (torch.compile and compile_model alike): the ops the pipeline rejects run eagerly and the rest is
compiled in partitions, or the whole graph runs eagerly if no single op is to blame (one warning naming the
ops); strict=True raises.

In-place updates (buffers, BatchNorm running statistics, inputs) land as in eager: AOTAutograd copies them
back under torch.compile; compile_model reads them from torch.export's graph signature (_Layout).
"""
from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

from ...errors import HexmlirError, UnsupportedError
from ...options import Options
from .importer import (FallbackWarning, _decompositions, _fallback, _first_line, _import_linalg, _op_from, _typed,
                       warn_fallback)

ROUTES = ("linalg", "inductor")
_FRONTEND_KEYS = ("route", "strict")


def _split(options: dict):
    """Frontend keys (route, strict) apart from compiler Options (validated: unknown names raise)."""
    options = dict(options or {})
    route = options.pop("route", "linalg")
    strict = bool(options.pop("strict", False))
    if route not in ROUTES:
        raise HexmlirError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
    return route, strict, Options().replace(**options)


def _compile_kernel(text: str, options: Options):
    """hexmlir.compile of an imported graph; returns (kernel, the options it was compiled with)."""
    from ... import driver
    return driver.compile(text, options), options


class LinalgGraph:
    """A graph compiled to one hexmlir kernel: torch tensors in, torch tensors out."""

    def __init__(self, kernel, mlir_text: str, options: Options, n_outputs: int, single: bool):
        self.kernel, self.mlir_text, self.options = kernel, mlir_text, options
        self.n_outputs, self.single = n_outputs, single
        self._views = threading.local()

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_views"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._views = threading.local()

    def _arrays(self, tensors) -> list:
        """numpy views of the tensors. A tensor passed again (the same object, data pointer, shape, strides, dtype:
        a model's weights) gets the same view as the calling thread's previous call, so the kernel reuses its
        descriptor too (artifact.Kernel._addresses): ~3 us a tensor less (ResNet-18: 124 arguments)."""
        import numpy as np
        import torch
        v = self._views.__dict__
        if len(v.get("keys", ())) != len(tensors):
            v["keys"], v["arrays"] = [None] * len(tensors), [None] * len(tensors)
        keys, arrays = v["keys"], v["arrays"]
        out = []
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                keys[i] = arrays[i] = None
                out.append(np.asarray(t))
                continue
            k = keys[i]
            if (k is not None and k[0] is t and k[1] == t.data_ptr() and k[2] == t.shape and k[3] == t.stride()
                    and k[4] == t.dtype):
                out.append(arrays[i])
                continue
            a = t.detach().contiguous().numpy()
            # kept only when the view is of the tensor's own memory (a contiguous copy is made anew each call)
            keys[i], arrays[i] = (((t, t.data_ptr(), t.shape, t.stride(), t.dtype), a) if t.is_contiguous()
                                  else (None, None))
            out.append(a)
        return out

    def __call__(self, *tensors):
        import numpy as np
        import torch
        arrays = self._arrays(tensors)
        out = self.kernel(*arrays)
        outs = out if isinstance(out, tuple) else (out,)
        res = tuple(torch.from_numpy(np.asarray(o)) for o in outs)
        return res[0] if self.single else res


def _check_tensors(args, where: str):
    import torch
    for i, a in enumerate(args):
        if not isinstance(a, torch.Tensor):
            raise UnsupportedError(f"{where}: input {i} is {type(a).__name__}, not a tensor (hexmlir needs static "
                                   "shapes: use torch.compile(..., dynamic=False))", stage="torch-import")
        if a.device.type != "cpu":
            raise UnsupportedError(f"{where}: input {i} is on {a.device}; hexmlir runs CPU tensors",
                                   stage="torch-import")
        if a.dtype not in (torch.float32, torch.float16, torch.int32, torch.int64, torch.int8, torch.bool):
            raise UnsupportedError(f"{where}: input {i} has dtype {a.dtype}", stage="torch-import")


# ---------------------------------------------------------------- graph outputs

def _output_plan(outs, inputs: dict):
    """Where each graph output comes from, so the kernel returns each computed tensor once.

    `outs`: the output node's values; `inputs`: placeholder node -> argument index. Returns (slots, uniq):
    slots[i] is ("const", v) (None, e.g. the gradient of an input that needs none, or a Python scalar),
    ("in", j) (argument j passed through: AOTAutograd returns inputs it saves for the backward) or ("res", k)
    (kernel result k); uniq lists the computed nodes, each once: a node returned twice (a forward output also
    saved for the backward) would be a duplicate function result, which bufferization's out-params pass
    cannot take."""
    import torch
    slots, uniq = [], []
    for o in outs:
        if o is None or isinstance(o, (bool, int, float, str)):
            slots.append(("const", o))
        elif isinstance(o, torch.fx.Node) and o.op == "placeholder" and o in inputs:
            slots.append(("in", inputs[o]))
        elif isinstance(o, torch.fx.Node):
            val = o.meta.get("val", o.meta.get("example_value"))
            if val is not None and not isinstance(val, torch.Tensor):
                raise UnsupportedError(f"graph returns a non-tensor value ({type(val).__name__} from {o.name})",
                                       stage="torch-import", op=str(o.target))
            if o not in uniq:
                uniq.append(o)
            slots.append(("res", uniq.index(o)))
        else:
            raise UnsupportedError(f"graph returns a non-tensor value ({o!r})", stage="torch-import")
    return slots, uniq


def _fill(slots, args, res):
    return [args[k] if kind == "in" else res[k] if kind == "res" else k for kind, k in slots]


def _unique_results(text: str):
    """Imported functions can still return one value twice (detach, clone and same-shape views fold away in
    torch-mlir's lowering) or return an argument as it is; upstream's buffer-results-to-out-params crashes on
    the first, and the second needs no kernel work. Returns (text, plan): the function rewritten to return each
    computed value once, and per original result ("res", k) or ("in", argument index)."""
    from ... import ir as hir
    from torch_mlir.dialects import func
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(text, stage="torch-import")
        fns = [op for op in m.body.operations if op.operation.name == "func.func"]
        fn = next((f for f in fns if f.operation.attributes["sym_name"].value == "main"), fns[0])
        block = fn.regions[0].blocks[0]
        ret = list(block.operations)[-1]
        plan, uniq = [], []
        for v in ret.operands:
            if isinstance(v, hir.ir.BlockArgument) and v.owner == block:
                plan.append(("in", v.arg_number))
                continue
            k = next((i for i, u in enumerate(uniq) if u == v), None)
            if k is None:
                uniq.append(v)
                k = len(uniq) - 1
            plan.append(("res", k))
        if len(uniq) == len(plan):
            return text, plan
        with hir.ir.InsertionPoint(ret):
            func.ReturnOp(uniq)
        ret.operation.erase()
        fn.operation.attributes["function_type"] = hir.ir.TypeAttr.get(hir.ir.FunctionType.get(
            [a.type for a in block.arguments], [u.type for u in uniq]))
        return str(m), plan


def _graph_kernel(text: str, options: Options, plan=None):
    """(LinalgGraph or None, plan): the imported function compiled, each computed result once; plan maps the
    function's results to kernel results or arguments (_unique_results; given: `text` is already rewritten).
    None when nothing is computed."""
    if plan is None:
        text, plan = _unique_results(text)
    n = sum(1 for p in plan if p[0] == "res")
    if n == 0:
        return None, plan
    kernel, used = _compile_kernel(text, options)
    return LinalgGraph(kernel, text, used, max(k for kind, k in plan if kind == "res") + 1, single=False), plan


def _frontend(module, args, options: Options, key):
    """(layout, graph) of `module` for `args`: torch.export, torch-mlir's import and the kernel compile, or,
    when the frontend cache (fastcache.py) holds `key` (a callable computing it), the stored import's result
    (only the kernel compile, itself cached). A result is stored once its kernel compiled."""
    from . import fastcache
    k = key() if fastcache.enabled() else None
    hit = fastcache.lookup(k)
    if hit is not None:
        layout, text, plan = hit
        graph, layout.plan = _graph_kernel(text, options, plan) if text is not None else (None, [])
        return layout, graph
    layout, text = _export_model(module, args)
    if text is None:
        graph, layout.plan = None, []
    else:
        text, plan = _unique_results(text)
        graph, layout.plan = _graph_kernel(text, options, plan)
    fastcache.store(k, (layout, text, layout.plan))
    return layout, graph


# ---------------------------------------------------------------- torch.compile backend (Dynamo)

def _compile_whole(gm, example_inputs, options: Options):
    """One graph -> one hexmlir kernel; a callable with the graph's calling convention. Raises HexmlirError
    (torch errors included, typed). Outputs that are inputs, constants (None) or repeated are not kernel
    results, and in-place updates of the graph's inputs (a partition of a graph that was not functionalized)
    are copied back into the arguments after each call (_export_model, _Layout)."""
    import torch
    try:
        _check_tensors(example_inputs, "graph")
        from .fastcache import graph_key
        layout, g = _frontend(gm, list(example_inputs), options, lambda: graph_key(gm, example_inputs, options))
    except Exception as e:
        raise _typed(e, "compiling a graph") from e

    def run(*args):
        with torch.no_grad():
            return layout.run(g, list(args), None)
    run.hexmlir_graph = g
    return run


def _compile_graph(gm, example_inputs, route: str, strict: bool, options: Options, what: str = "a graph"):
    """Compile one graph; returns a callable taking the graph's inputs. If the whole graph fails, the ops the
    pipeline rejects run eagerly and the rest is compiled (_partitioned)."""
    if route == "inductor":
        return _inductor(gm, example_inputs, options)
    try:
        return _compile_whole(gm, example_inputs, options)
    except HexmlirError as e:
        if strict:
            raise
        import torch
        try:
            fused = _partitioned(gm, example_inputs, options, e, what=what)
            if fused is None:
                return gm.forward
            with torch.no_grad():                       # compile the partitions now, outside AOTAutograd's run
                fused(*example_inputs)
        except FallbackWarning:                         # a filter made the partitioner's warning an error
            raise
        except Exception as e2:                         # the partitioned graph fails: all of it eager
            _fallback(_typed(e2, f"partitioning {what}"), what, strict=False)
            return gm.forward
        return fused.forward


def _real_inputs(example_inputs):
    """AOTAutograd hands its compilers fake tensors; the import traces real ones (values do not matter:
    integer inputs are zeros, valid as indices)."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    out = []
    with unset_fake_temporarily():
        for t in example_inputs:
            if isinstance(t, torch.Tensor):
                t = (torch.randn(tuple(t.shape), dtype=t.dtype) if t.dtype.is_floating_point
                     else torch.zeros(tuple(t.shape), dtype=t.dtype))
            out.append(t)
    return out


def _aot_backend(gm, example_inputs, strict: bool, options: Options):
    """Route linalg under torch.compile: AOTAutograd functionalizes the Dynamo graph (in-place ops, buffer
    updates and BatchNorm running statistics become graph outputs that its runtime copies back into the
    caller's tensors, as eager would) and, when gradients are needed, splits it into a forward and a backward
    graph; hexmlir compiles each (fw_compiler, bw_compiler, inference_compiler). A graph that does not compile
    falls back on its own (partitions or eager, with a FallbackWarning) or raises with strict=True."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    def compiler(kind):
        def compile_fn(g, ex):
            with unset_fake_temporarily():
                return make_boxed_func(_compile_graph(g, _real_inputs(ex), "linalg", strict, options,
                                                      what=f"the {kind} graph"))
        return compile_fn
    return aot_autograd(fw_compiler=compiler("forward"), bw_compiler=compiler("backward"),
                        inference_compiler=compiler("inference"))(gm, example_inputs)


def _partitioned(gm, example_inputs, options: Options, err: HexmlirError, what: str = "a graph"):
    """Rejected ops eager, maximal supported partitions compiled by hexmlir (partition.py)."""
    from . import partition
    return partition.partitioned(gm, example_inputs, options, err, what, compile_whole=_compile_whole)


#: Inductor settings of route A (applied with torch._inductor.config.patch around the compile only).
#: cpu_backend="triton": CPU kernels are Triton, compiled by hexmlir's 'cpu' Triton backend.
#: max_autotune_gemm + TRITON-only GEMM/conv backends: mm/addmm/bmm (and convolutions) become Inductor's Triton
#: templates (tl.dot loops, bias/activation epilogues fused) instead of ATen extern calls; autotuning picks the
#: block sizes among the template's configs by timing hexmlir-compiled candidates. benchmark_epilogue_fusion is
#: off: its benchmark module for CPU templates is generated with a broken indentation (torch 2.13), and the
#: fused epilogue is taken unconditionally instead. pattern_matcher is off: its attention pattern turns
#: softmax(q @ k^T) @ v into the ATen call _scaled_dot_product_flash_attention_for_cpu.
INDUCTOR_CONFIG = dict(cpu_backend="triton", max_autotune_gemm=True, max_autotune_gemm_backends="TRITON",
                       max_autotune_conv_backends="ATEN", benchmark_epilogue_fusion=False, pattern_matcher=False)


def _inductor_decompositions():
    """Inductor's table plus two rewrites that keep route A's heavy ops in Triton: a convolution with bias
    becomes a bias-free convolution plus a broadcast add (Inductor peels the bias off on GPUs only; on CPU its
    conv template is benchmarked with the bias as an extra argument the kernel does not take), and SDPA's CPU
    flash-attention op (what F.scaled_dot_product_attention becomes) is written out as matmuls and softmax."""
    import torch
    from torch._decomp import decomposition_table
    from torch._inductor.decomposition import select_decomp_table
    aten = torch.ops.aten
    table = dict(select_decomp_table())

    def conv_bias(x, w, bias, stride, padding, dilation, transposed, output_padding, groups):
        if bias is None:
            return NotImplemented
        y = aten.convolution.default(x, w, None, stride, padding, dilation, transposed, output_padding, groups)
        return y + bias.view([1, -1] + [1] * (y.dim() - 2))
    table[aten.convolution.default] = conv_bias
    sdpa = aten._scaled_dot_product_flash_attention_for_cpu.default
    table[sdpa] = decomposition_table[sdpa]
    return table


def _inductor(gm, example_inputs, options: Options):
    """Route A: Inductor with its CPU kernels, matmuls and convolutions included, written in Triton and compiled
    by hexmlir's 'cpu' Triton backend (INDUCTOR_CONFIG). The hexmlir Options reach the plugin through its
    set_options (frontends/triton/options.py)."""
    import torch._inductor.config as cfg
    from torch._inductor.compile_fx import compile_fx
    from ..triton import options as topts
    if options != Options():
        topts.set_options(**{k: v for k, v in options.key().items() if v != getattr(Options(), k)})
    with cfg.patch(**INDUCTOR_CONFIG):
        return compile_fx(gm, example_inputs, decompositions=_inductor_decompositions())


def backend(gm, example_inputs, **options):
    """The Dynamo backend registered as "hexmlir". Options: route=, strict=, plus any hexmlir Options field;
    pass them with torch.compile(model, backend=hexmlir.frontends.torch.make_backend(**options))."""
    route, strict, opts = _split(options)
    if route == "inductor":
        return _inductor(gm, list(example_inputs), opts)
    return _aot_backend(gm, list(example_inputs), strict, opts)


def make_backend(**options):
    """A Dynamo backend with options bound (torch.compile passes none to custom backends)."""
    _split(options)                                     # validate now, not at the first call

    def hexmlir_backend(gm, example_inputs):
        return backend(gm, example_inputs, **options)
    return hexmlir_backend


# ---------------------------------------------------------------- ahead of time

class CompiledModel:
    """compile_model's result: call it like the model (weights read from the model at each call).

    Three forms: the whole model is one hexmlir kernel (`compiled`); partitioned (`partitions` > 0: the ops
    check-input rejects, `eager_ops`, run in eager PyTorch between hexmlir kernels); or all eager (fallback).
    `eager_reason` says why the model is not one kernel (None when it is)."""

    def __init__(self, model, route, graph=None, fn=None, names=(), eager_reason=None, partitions=0,
                 eager_ops=(), layout=None):
        self.model, self.route, self.graph, self._fn = model, route, graph, fn
        self.names = list(names)
        self.eager_reason = eager_reason     # why it is not one kernel (partitioned or eager), or None
        self.partitions, self.eager_ops = partitions, list(eager_ops)
        self.layout = layout                 # _Layout of a whole kernel: outputs, mutations
        self._mode = _mode_key(model)        # train/eval flags the graph was traced with
        self._remake, self._other = None, {}
        self.what, self.strict, self.functional, self.warned_backward = type(model).__name__, False, None, False

    @property
    def compiled(self) -> bool:
        """True when the whole model is compiled (one hexmlir kernel on route linalg)."""
        return self.eager_reason is None

    def _weights(self):
        sd = dict(self.model.named_parameters())
        sd.update(dict(self.model.named_buffers()))
        return [sd[n] for n in self.names]

    def __call__(self, *inputs):
        import torch
        mode = _mode_key(self.model)
        if mode != self._mode and self._remake is not None:
            # train() / eval() changed what the model computes (BatchNorm, dropout): the graph traced in the
            # other mode would be silently wrong, so compile (once) for this mode too
            if mode not in self._other:
                self._other[mode] = self._remake()
            return self._other[mode](*inputs)
        if self.partitions:
            from torch.utils._pytree import tree_flatten, tree_unflatten
            args = self._weights() + list(inputs)
            grad = _needs_grad(args)
            saved = {j: a.detach().clone() for j, a in enumerate(args) if grad and not a.requires_grad}
            try:
                with torch.no_grad():                  # the exported graph is the inference one
                    flat, spec = tree_flatten(self._fn(*args))
            except Exception as e:                     # a partition failed at run time: eager from now on
                e = _typed(e, f"running the partitions of {self.what}")
                _fallback(e, self.what, self.strict)
                self.partitions, self.eager_reason = 0, str(e)
                return self.model(*inputs)
            return tree_unflatten(_eager_backward(flat, args, saved, self), spec) if grad else \
                tree_unflatten(flat, spec)
        if self.eager_reason is not None:
            return self.model(*inputs)
        if self.route == "inductor":
            if _needs_grad(list(self.model.parameters()) + list(inputs)):
                return self._fn(*inputs)               # Inductor compiles forward and backward (a recompile)
            with torch.no_grad():                      # the graph compiled ahead of time is the inference one
                return self._fn(*inputs)
        return self.layout.run(self.graph, self._weights() + list(inputs), self)

    def save(self, directory) -> Path:
        """Write the artifact (kernel.so + kernel.json + runtime) and model.json (argument names) to `directory`.
        hexmlir.load(directory / "kernel.so") runs it with numpy + ctypes only: weights first, then inputs.
        A partitioned model has no such artifact (its eager ops need PyTorch between the kernels): HexmlirError."""
        if self.partitions:
            raise HexmlirError(f"cannot save a partitioned model: {', '.join(self.eager_ops)} run(s) in eager "
                               f"PyTorch between its {self.partitions} hexmlir kernel(s), so there is no standalone "
                               "artifact; only a model compiled whole can be saved")
        if self.route != "linalg" or self.graph is None:
            raise HexmlirError("only the 'linalg' route has a standalone artifact to save")
        from ... import driver
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        driver.compile(self.graph.mlir_text, self.graph.options, output=str(d / "kernel.so"))
        (d / "model.mlir").write_text(self.graph.mlir_text)
        (d / "model.json").write_text(json.dumps({"weights": self.names, "options": self.graph.options.key(),
                                                  **self.layout.describe()}, indent=1))
        return d


def _partition_model(module, args, options: Options, err: HexmlirError, what: str):
    """compile_model's partitioning of the exported functional model (partition.py)."""
    from . import partition
    return partition.partition_model(module, args, options, err, what, compile_whole=_compile_whole)


def _functional(model):
    """(names, weights, module): the model as a module taking its parameters and buffers as leading arguments."""
    import torch
    named = list(model.named_parameters()) + list(model.named_buffers())
    names = [n for n, _ in named]

    class _Functional(torch.nn.Module):
        def forward(self, *args):
            w = dict(zip(names, args[:len(names)]))
            return torch.func.functional_call(model, w, args[len(names):])
    return names, [t.detach() for _, t in named], _Functional()


def model_linalg(model, example_inputs) -> str:
    """The Linalg module compile_model compiles for `model` (weights and buffers as leading arguments)."""
    _, weights, functional = _functional(model)
    return _import_linalg(functional, weights + list(example_inputs))


def compile_model(model, example_inputs, target: str = "host", *, route: str = "linalg", strict: bool = False,
                  **options) -> CompiledModel:
    """Compile `model` for `example_inputs` (a tensor or tuple of tensors; shapes are fixed by them).
    Weights and buffers become kernel arguments, read from the model at each call."""
    import torch
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    route, strict, opts = _split({"route": route, "strict": strict, "target": target, **options})
    if route == "inductor":
        from ... import targets
        if not targets.runs_here(target):
            raise HexmlirError("route 'inductor' runs on the host; use route='linalg' for other targets")
        fn = torch.compile(model, backend=make_backend(route="inductor", **options), dynamic=False)
        with torch.no_grad():
            fn(*example_inputs)                        # compile now (ahead of time), not at the first call
        return CompiledModel(model, route, fn=fn)
    names, weights, functional = _functional(model)
    what = type(model).__name__
    args = weights + list(example_inputs)
    try:
        try:
            _check_tensors(example_inputs, "model")
            from .fastcache import model_key
            layout, graph = _frontend(functional, args, opts,
                                      lambda: model_key(model, functional, names, args, opts))
        except Exception as e:                          # torch.export and torch errors too: typed
            raise _typed(e, f"compiling {what}") from e
    except HexmlirError as e:
        if strict:
            raise
        try:
            # rejected ops eager, the rest compiled by a run on copies (the model's buffers, the inputs untouched)
            fused = _partition_model(functional, [a.clone() for a in args], opts, e, what)
        except FallbackWarning:                         # a filter made the partitioner's warning an error
            raise
        except Exception as e2:                         # the partitioned model fails: all of it eager
            e = _typed(e2, f"partitioning {what}")
            _fallback(e, what, strict=False)
            fused = None
        if fused is None:
            c = CompiledModel(model, route, names=names, eager_reason=str(e))
        else:
            c = CompiledModel(model, route, fn=fused, names=names, eager_reason=str(e),
                              partitions=fused.hexmlir_partitions, eager_ops=fused.hexmlir_eager_ops)
    else:
        c = CompiledModel(model, route, graph, names=names, layout=layout)
    c.strict, c.functional = strict, functional
    c._remake = lambda: compile_model(model, example_inputs, target, route=route, strict=strict, **options)
    return c


def _mode_key(model):
    return tuple(m.training for m in model.modules())


class _Layout:
    """How compile_model's kernel results become the model's outputs and in-place updates.

    torch.export functionalizes the model: an in-place update of an argument (a buffer such as BatchNorm's
    running statistics or a counter, or a user input) becomes an extra graph output, listed in the graph
    signature (USER_INPUT_MUTATION: weights and buffers are the functional model's inputs). After each call
    these are copied back into the caller's tensors, as eager would have updated them."""

    def __init__(self, slots, mutations, user, out_spec):
        self.slots, self.mutations, self.user, self.out_spec = slots, mutations, user, out_spec
        self.plan = []

    def run(self, graph, args, cm):
        """Outputs in the model's structure; `cm` (compile_model's CompiledModel, None for a graph) gives
        outputs that need gradients an eager backward."""
        import torch
        from torch.utils._pytree import tree_unflatten
        grad = cm is not None and _needs_grad(args)
        saved = {j: args[j].detach().clone() for _, j in self.mutations} if grad else {}
        res = graph(*args) if graph is not None else ()
        flat = _fill(self.slots, args, _fill(self.plan, args, res))
        with torch.no_grad():
            for i, j in self.mutations:
                args[j].copy_(flat[i])
        outs = [flat[i] for i in self.user]
        if grad:
            outs = _eager_backward(outs, args, saved, cm)
        return tree_unflatten(outs, self.out_spec)

    def describe(self) -> dict:
        """For model.json: where each output and each in-place update comes from (kernel result k or
        argument j; arguments are the weights, then the inputs)."""
        def where(i):
            kind, k = self.slots[i]
            if kind == "res":
                kind, k = self.plan[k]
            return {"res": "result", "in": "argument", "const": "constant"}[kind], k
        return {"outputs": [dict([where(i)]) for i in self.user],
                "updates": [{"argument": j, "from": dict([where(i)])} for i, j in self.mutations]}


def _needs_grad(args) -> bool:
    import torch
    return torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)


def _eager_backward(outs, args, saved, cm):
    """compile_model compiles the inference graph. Outputs that eager would give a grad_fn get one whose
    backward recomputes the model eagerly (torch.func-style, on the arguments as they were before this call's
    in-place updates) and differentiates that: parameters get their gradients, announced by one
    FallbackWarning; with strict=True it raises instead. torch.compile(backend="hexmlir") compiles both."""
    import torch
    from torch.utils._pytree import tree_flatten
    idx = [i for i, o in enumerate(outs) if isinstance(o, torch.Tensor) and o.is_floating_point()
           and not o.requires_grad]
    leaves = [j for j, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    n = len(idx)

    class EagerBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ts):
            return tuple(t.view_as(t) for t in ts[:n])

        @staticmethod
        def backward(ctx, *grads):
            err = UnsupportedError(f"{cm.what} was compiled by hexmlir.compile_model for inference, without a "
                                   "backward; torch.compile(model, backend='hexmlir', dynamic=False) compiles "
                                   "forward and backward", stage="torch-autograd", op="backward")
            if cm.strict:
                raise err
            if not cm.warned_backward:
                cm.warned_backward = True
                warn_fallback(f"hexmlir: the backward of {cm.what} runs in eager PyTorch (its forward recomputed): "
                              f"{err}; 0 hexmlir partitions ran for it")
            with torch.enable_grad():
                prim = [saved.get(j, a.detach()) for j, a in enumerate(args)]
                for j in leaves:
                    prim[j] = prim[j].detach().requires_grad_(True)
                flat = tree_flatten(cm.functional(*prim))[0]
                pairs = [(flat[i], g) for i, g in zip(idx, grads) if g is not None and flat[i].requires_grad]
                got = torch.autograd.grad([o for o, _ in pairs], [prim[j] for j in leaves],
                                          [g for _, g in pairs], allow_unused=True) if pairs else [None] * len(leaves)
            return (None,) * n + tuple(got)
    outs = list(outs)
    for i, t in zip(idx, EagerBackward.apply(*[outs[i] for i in idx], *[args[j] for j in leaves])):
        outs[i] = t
    return outs


def _export_model(functional, args):
    """torch.export of the functional model -> (_Layout, Linalg text or None when nothing is computed)."""
    import torch
    import torch_mlir.fx as fx
    from torch.export.graph_signature import InputKind, OutputKind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            prog = torch.export.export(functional, tuple(args))
            prog = prog.run_decompositions(_decompositions())
        except Exception as e:
            raise UnsupportedError(f"torch.export failed: {type(e).__name__}: {_first_line(e)}",
                                   stage="torch-export", op=_op_from(e)) from e
    sig = prog.graph_signature
    user_in = [sp.arg.name for sp in sig.input_specs if sp.kind == InputKind.USER_INPUT]
    pos = {name: i for i, name in enumerate(user_in)}
    out_node = prog.graph.output_node()
    outs = list(out_node.args[0])
    mutations, user = [], []
    for i, sp in enumerate(sig.output_specs):
        if sp.kind == OutputKind.USER_INPUT_MUTATION:
            mutations.append((i, pos[sp.target]))
        elif sp.kind == OutputKind.USER_OUTPUT:
            user.append(i)
        else:
            raise UnsupportedError(f"exported graph has a {sp.kind.name} output", stage="torch-import")
    phs = {n: pos[n.name] for n in prog.graph.nodes if n.op == "placeholder" and n.name in pos}
    slots, uniq = _output_plan(outs, phs)
    layout = _Layout(slots, mutations, user, prog.call_spec.out_spec)
    if not uniq:
        return layout, None
    out_node.args = (tuple(uniq),)                      # each computed value once (_output_plan)
    prog.graph.eliminate_dead_code()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            m = fx.export_and_import(prog, output_type="linalg-on-tensors", decomposition_table={})
        except Exception as e:
            raise UnsupportedError(f"torch-mlir could not import the graph: {_first_line(e)}",
                                   stage="torch-import", op=_op_from(e)) from e
    from ...transforms import asserts
    asserts.annotate(m)                                 # bounds checks keep the model's source line
    return layout, str(m)
