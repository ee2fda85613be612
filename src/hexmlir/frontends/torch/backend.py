"""PyTorch frontend: `torch.compile(model, backend="hexmlir")` and `compile_model` (ahead of time).

Routes:
  "linalg"   (default, route B): torch-mlir imports the graph to Linalg-on-tensors; the whole graph is one
             hexmlir kernel (the Linalg pipeline: fusion, TCM tiling, DMA, threads, HVX vectors).
  "inductor" (route A): Inductor splits the graph into Triton kernels (cpu_backend="triton"), which hexmlir's
             Triton backend plugin ('cpu', frontends/triton) compiles; Inductor's own C++ glue runs between them.

Weights are function arguments, not constants: one compile per (architecture, shapes, options) whatever the
weight values, the cache key does not hash megabytes of weights, updated weights are used without a recompile,
and it matches what Dynamo hands a backend (parameters lifted to graph inputs). Passing them costs nothing:
contiguous CPU f32 tensors are handed over as numpy views.

Fallbacks (torch.compile and compile_model alike): the ops the pipeline rejects run eagerly and the rest is
compiled in partitions, or the whole graph runs eagerly if no single op is to blame (one warning naming the
ops); strict=True raises.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ...errors import CompileError, HexmlirError, UnsupportedError
from ...options import Options

ROUTES = ("linalg", "inductor")
_FRONTEND_KEYS = ("route", "strict")


class FallbackWarning(UserWarning):
    """A graph (or part of it) runs in eager PyTorch instead of hexmlir."""


def _split(options: dict):
    """Frontend keys (route, strict) apart from compiler Options (validated: unknown names raise)."""
    options = dict(options or {})
    route = options.pop("route", "linalg")
    strict = bool(options.pop("strict", False))
    if route not in ROUTES:
        raise HexmlirError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
    return route, strict, Options().replace(**options)


def _decompositions():
    """torch-mlir's default decompositions plus small exact rewrites the Linalg pipeline handles better:
    x ** 2 (RMSNorm, variance) and x ** 3 (tanh GELU) become products; as math.fpowi with an i64 exponent they
    fail vectorized lowering (llvm.intr.powi takes a scalar exponent). And what torch-mlir cannot import:
    a view of a non-contiguous tensor (decompositions such as SDPA's change strides that a later view relied
    on: a contiguous copy first, values are the same), cumsum (tm_tensor.scan: log-step shifted adds) and
    nn.TransformerEncoderLayer's fused op."""
    import torch
    from torch_mlir.extras.fx_decomp_util import get_decomposition_table
    table = dict(get_decomposition_table())
    aten = torch.ops.aten

    def pow_scalar(x, exponent):
        if isinstance(exponent, (int, float)) and exponent in (2, 3):
            return x * x if exponent == 2 else x * x * x
        return NotImplemented
    table[aten.pow.Tensor_Scalar] = pow_scalar

    def gelu(x, approximate="none"):               # torch-mlir lowers the tanh form with math.fpowi(x, 3)
        if approximate != "tanh":
            return NotImplemented
        inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + torch.tanh(inner))
    table[aten.gelu.default] = gelu

    def view(x, size):
        if x.is_contiguous():
            return NotImplemented
        return aten._unsafe_view.default(aten.clone.default(x, memory_format=torch.contiguous_format), size)
    table[aten.view.default] = view

    def cumsum(x, dim, dtype=None):                # torch-mlir: tm_tensor.scan, which hexmlir does not compile
        if dtype is None and not x.dtype.is_floating_point:
            dtype = torch.int64
        if dtype is not None:
            x = aten._to_copy.default(x, dtype=dtype)
        dim = dim % max(x.dim(), 1)
        n, k = (x.shape[dim] if x.dim() else 1), 1
        while k < n:                               # Hillis-Steele: log2(n) shifted adds
            pad = [0, 0] * (x.dim() - 1 - dim) + [k, 0]
            x = x + aten.constant_pad_nd.default(aten.slice.Tensor(x, dim, 0, n - k), pad, 0)
            k *= 2
        return x
    table[aten.cumsum.default] = cumsum
    table[aten._transformer_encoder_layer_fwd.default] = _transformer_encoder_layer
    return table


def _transformer_encoder_layer(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu,
                               norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2,
                               ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None, mask_type=None):
    """nn.TransformerEncoderLayer's fused inference op (its fast path under no_grad, batch_first) written out
    in the ops it stands for; with an attention mask it stays unsupported."""
    import math
    import torch
    F = torch.nn.functional
    if mask is not None or src.dim() != 3:
        return NotImplemented
    B, L, E = src.shape
    dh = E // num_heads

    def attention(x):
        q, k, v = F.linear(x, qkv_weight, qkv_bias).split(E, dim=-1)
        q, k, v = (t.reshape(B, L, num_heads, dh).transpose(1, 2) for t in (q, k, v))
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(dh)), dim=-1)
        return F.linear(torch.matmul(a, v).transpose(1, 2).reshape(B, L, E), proj_weight, proj_bias)

    def ffn(x):
        h = F.linear(x, ffn_weight_1, ffn_bias_1)
        return F.linear(F.gelu(h) if use_gelu else F.relu(h), ffn_weight_2, ffn_bias_2)

    def norm1(x):
        return F.layer_norm(x, (E,), norm_weight_1, norm_bias_1, eps)

    def norm2(x):
        return F.layer_norm(x, (E,), norm_weight_2, norm_bias_2, eps)
    x = src
    if norm_first:
        x = x + attention(norm1(x))
        return x + ffn(norm2(x))
    x = norm1(x + attention(x))
    return norm2(x + ffn(x))


def _import_linalg(module, args) -> str:
    """torch-mlir FX import to Linalg-on-tensors text. Failures name the op when torch-mlir does."""
    import torch_mlir.fx as fx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)     # torch.export's pytree deprecation noise
        try:
            m = fx.export_and_import(module, *args, output_type="linalg-on-tensors",
                                     decomposition_table=_decompositions())
        except Exception as e:                               # torch.export / torch-mlir lowering errors
            raise UnsupportedError(f"torch-mlir could not import the graph: {_first_line(e)}",
                                   stage="torch-import", op=_op_from(e)) from e
    from ...transforms import asserts
    asserts.annotate(m)                                      # bounds checks keep their source line
    return str(m)


def _first_line(e) -> str:
    s = str(e).strip().splitlines()
    return s[0][:300] if s else type(e).__name__


def _op_from(e) -> str | None:
    """torch-mlir names an illegal op as 'failed to legalize operation 'torch.aten.xxx''."""
    import re
    m = re.search(r"operation '([\w.]+)'", str(e))
    return m.group(1) if m else None


def _compile_kernel(text: str, options: Options):
    """hexmlir.compile of an imported graph; returns (kernel, the options it was compiled with)."""
    from ... import driver
    return driver.compile(text, options), options


class LinalgGraph:
    """A graph compiled to one hexmlir kernel: torch tensors in, torch tensors out."""

    def __init__(self, kernel, mlir_text: str, options: Options, n_outputs: int, single: bool):
        self.kernel, self.mlir_text, self.options = kernel, mlir_text, options
        self.n_outputs, self.single = n_outputs, single

    def __call__(self, *tensors):
        import numpy as np
        import torch
        arrays = [t.detach().contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
                  for t in tensors]
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


def _fallback(e: HexmlirError, what: str, strict: bool, stacklevel: int = 3):
    if strict:
        raise e
    op = e.op or "unknown op"
    warnings.warn(f"hexmlir: {what} runs in eager PyTorch: {op} is not supported ({e})", FallbackWarning,
                  stacklevel=stacklevel)


# ---------------------------------------------------------------- torch.compile backend (Dynamo)

def _compile_whole(gm, example_inputs, options: Options):
    """One graph -> one hexmlir kernel; a callable with the graph's calling convention. Raises HexmlirError."""
    import torch
    _check_tensors(example_inputs, "graph")
    with torch.no_grad():
        outs = gm(*example_inputs)                     # the output structure
    seq = isinstance(outs, (tuple, list))
    outs_l = list(outs) if seq else [outs]
    if not all(isinstance(o, torch.Tensor) for o in outs_l):
        raise UnsupportedError("graph returns a non-tensor value", stage="torch-import")
    text = _import_linalg(gm, example_inputs)
    kernel, used = _compile_kernel(text, options)
    g = LinalgGraph(kernel, text, used, len(outs_l), single=False)

    def run(*args):
        res = g(*args)
        return list(res) if isinstance(outs, list) else (res if seq else res[0])
    run.hexmlir_graph = g
    return run


def _compile_graph(gm, example_inputs, route: str, strict: bool, options: Options):
    """Compile one Dynamo graph; returns a callable taking the graph's inputs. If the whole graph fails, the ops
    the pipeline rejects run eagerly and the rest is compiled (_partitioned)."""
    if route == "inductor":
        return _inductor(gm, example_inputs, options)
    try:
        return _compile_whole(gm, example_inputs, options)
    except HexmlirError as e:
        if strict:
            raise
        fused = _partitioned(gm, example_inputs, options, e)
        return gm.forward if fused is None else fused.forward


def _partitioned(gm, example_inputs, options: Options, err: HexmlirError, what: str = "a graph",
                 stacklevel: int = 4):
    """Rejected ops eager, maximal supported partitions compiled by hexmlir (partition.py)."""
    from . import partition
    return partition.partitioned(gm, example_inputs, options, err, what, stacklevel + 1)


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
    return _compile_graph(gm, list(example_inputs), route, strict, opts)


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
                 eager_ops=()):
        self.model, self.route, self.graph, self._fn = model, route, graph, fn
        self.names = list(names)
        self.eager_reason = eager_reason     # why it is not one kernel (partitioned or eager), or None
        self.partitions, self.eager_ops = partitions, list(eager_ops)

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
        if self.partitions:
            with torch.no_grad():                      # the exported graph is the inference one
                return self._fn(*self._weights(), *inputs)
        if self.eager_reason is not None:
            return self.model(*inputs)
        if self.route == "inductor":
            with torch.no_grad():                      # the graph compiled ahead of time is the inference one
                return self._fn(*inputs)
        res = self.graph(*self._weights(), *inputs)
        return res

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
        (d / "model.json").write_text(json.dumps({"weights": self.names, "options": self.graph.options.key()},
                                                  indent=1))
        return d


def _partition_model(module, args, options: Options, err: HexmlirError, what: str):
    """compile_model's partitioning of the exported functional model (partition.py)."""
    from . import partition
    return partition.partition_model(module, args, options, err, what)


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
        if target != "host":
            raise HexmlirError("route 'inductor' runs on the host; use route='linalg' for other targets")
        fn = torch.compile(model, backend=make_backend(route="inductor", **options), dynamic=False)
        with torch.no_grad():
            fn(*example_inputs)                        # compile now (ahead of time), not at the first call
        return CompiledModel(model, route, fn=fn)
    names, weights, functional = _functional(model)
    what = type(model).__name__
    try:
        _check_tensors(example_inputs, "model")
        with torch.no_grad():
            out = model(*example_inputs)
        if not isinstance(out, torch.Tensor):
            raise UnsupportedError("compile_model handles models returning one tensor", stage="torch-import")
    except HexmlirError as e:
        _fallback(e, what, strict)
        return CompiledModel(model, route, names=names, eager_reason=str(e))
    args = weights + list(example_inputs)
    try:
        text = _import_linalg(functional, args)
        kernel, used = _compile_kernel(text, opts)
    except HexmlirError as e:
        if strict:
            raise
        fused = _partition_model(functional, args, opts, e, what)   # rejected ops eager, the rest compiled
        if fused is None:
            return CompiledModel(model, route, names=names, eager_reason=str(e))
        return CompiledModel(model, route, fn=fused, names=names, eager_reason=str(e),
                             partitions=fused.hexmlir_partitions, eager_ops=fused.hexmlir_eager_ops)
    return CompiledModel(model, route, LinalgGraph(kernel, text, used, 1, single=True), names=names)
