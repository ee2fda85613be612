"""torch -> Linalg import, shared by the backend (whole graphs) and the partitioner (single ops):
decompositions, torch-mlir's FX import, and how a failure is typed or falls back to eager PyTorch."""
from __future__ import annotations

import warnings

from ...errors import CompileError, HexmlirError, UnsupportedError


class FallbackWarning(UserWarning):
    """A graph (or part of it) runs in eager PyTorch instead of hexmlir."""


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
    table[aten.max_pool2d.default] = _max_pool2d

    def var_mean(x, dim=None, *, correction=None, keepdim=False):
        # torch-mlir computes the variance in f64 (an f64 copy of the input, then f64 mean and sum of squares:
        # LayerNorm's statistics took two passes at half the vector width). Two-pass in f32 on centred values,
        # as eager's CPU kernels, is as accurate at f32 outputs.
        if x.dtype != torch.float32 or x.dim() == 0:
            return NotImplemented
        dims = list(range(x.dim())) if dim is None else [dim] if isinstance(dim, int) else list(dim)
        n = 1
        for d in dims:
            n *= x.shape[d]
        mean = aten.mean.dim(x, dims, True)
        c = aten.sub.Tensor(x, mean)
        var = aten.div.Scalar(aten.sum.dim_IntList(aten.mul.Tensor(c, c), dims, keepdim),
                              max(n - (1 if correction is None else correction), 0))
        return var, mean if keepdim else aten.squeeze.dims(mean, dims)
    table[aten.var_mean.correction] = var_mean
    return table


def _max_pool2d(x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """Max pooling as an elementwise maximum of the window's strided views (kernel_size[0] * kernel_size[1]
    of them): one parallel generic whose loops are the output's, vectorized along the output row. torch-mlir's
    pooling op is a reduction whose innermost loop is the window column (2 for a 2x2 pool): it ran scalar,
    3.7x slower (conv net: 1.0 ms against 0.27 for relu + 2x2 pool of 4x32x56x56). Padding is -inf, as the
    op's; ceil_mode (windows past the edge) and large windows keep torch-mlir's lowering."""
    import torch
    aten = torch.ops.aten

    def pair(v):
        v = [v] if isinstance(v, int) else list(v)
        return v * 2 if len(v) == 1 else v
    k = pair(kernel_size)
    s = pair(stride) if stride not in ((), [], None) else k
    p, d = pair(padding), pair(dilation)
    if ceil_mode or not x.dtype.is_floating_point or x.dim() not in (3, 4) or k[0] * k[1] > 16:
        return NotImplemented
    if p[0] or p[1]:
        x = aten.constant_pad_nd.default(x, [p[1], p[1], p[0], p[0]], float("-inf"))
    h, w = x.shape[-2], x.shape[-1]
    oh, ow = (h - d[0] * (k[0] - 1) - 1) // s[0] + 1, (w - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh <= 0 or ow <= 0:
        return NotImplemented
    out = None
    for i in range(k[0]):
        for j in range(k[1]):
            r0, c0 = i * d[0], j * d[1]
            v = aten.slice.Tensor(x, -2, r0, r0 + s[0] * (oh - 1) + 1, s[0])
            v = aten.slice.Tensor(v, -1, c0, c0 + s[1] * (ow - 1) + 1, s[1])
            # a NaN in either wins, as in the op (torch-mlir's maximum is ogt + select: a NaN in `out` lost)
            out = v if out is None else aten.where.self(
                aten.logical_or.default(aten.gt.Tensor(out, v), aten.ne.Tensor(out, out)), out, v)
    return out


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


def _fallback(e: HexmlirError, what: str, strict: bool):
    if strict:
        raise e
    if not e.op:
        why = str(e)
    elif isinstance(e, UnsupportedError):
        why = f"{e.op} is not supported ({e})"
    else:                    # a pass failed on input it accepted: a compiler bug, not an unsupported op
        why = f"compiling failed{f' in stage {e.stage}' if e.stage else ''} at {e.op} ({e})"
    warn_fallback(f"hexmlir: {what} runs in eager PyTorch: {why}; 0 hexmlir partitions ran for it")


def warn_fallback(message: str) -> None:
    """A FallbackWarning attributed to the user's line: the first caller outside hexmlir, torch and
    torch-mlir. A fixed stacklevel pointed into hexmlir (hexmlir.compile_model wraps the frontend's) or into
    torch.fx (a partition compiled at its first call), so the default filter showed each distinct message
    once for the whole process, located in a library file."""
    import os
    import sys
    roots = []
    for name in ("hexmlir", "torch", "torch_mlir"):
        mod = sys.modules.get(name)
        roots += [os.path.join(os.path.realpath(d), "") for d in getattr(mod, "__path__", [])]
    frame, level = sys._getframe(1), 2             # level 2: warn_fallback's caller
    while frame.f_back is not None and \
            os.path.realpath(os.path.abspath(frame.f_code.co_filename)).startswith(tuple(roots)):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, FallbackWarning, stacklevel=level)


def _typed(e: Exception, what: str) -> HexmlirError:
    """Any failure while compiling as a typed error (torch, torch.export and binding errors included)."""
    if isinstance(e, HexmlirError):
        return e
    err = CompileError(f"{what}: {type(e).__name__}: {_first_line(e)}", stage="torch-frontend", op=_op_from(e))
    err.__cause__ = e
    return err
