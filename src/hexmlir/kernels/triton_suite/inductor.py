"""Suite entries for the Inductor-generated kernels in hexmlir.kernels.inductor (family ``inductor``).

Inductor specializes kernels to the shapes and dtype it compiled for (``xnumel = 1000`` is baked into the
source), so each entry has exactly one size and one dtype. The launchers use one of Inductor's own candidate
configs (listed in each kernel file's header), chosen so that the sizes are not multiples of the block
(XBLOCK=256 over 1000 elements, R0_BLOCK=2048 over 5000 columns).
"""
import torch
import triton

from hexmlir.kernels.inductor import (gelu_pointwise, layernorm_persistent, rmsnorm_reduction, softmax_persistent,
                                      swiglu_pointwise_f16)

from ._common import F16, F32, Entry, randn


def gelu(x, **kw):
    out = torch.empty_like(x)
    gelu_pointwise.triton_poi_fused_gelu_0[(triton.cdiv(1000, 256),)](x, out, 1000, XBLOCK=256, **kw)
    return out


def swiglu(a, b, **kw):
    out = torch.empty_like(a)
    swiglu_pointwise_f16.triton_poi_fused_mul_silu_0[(triton.cdiv(11100, 256),)](a, b, out, 11100, XBLOCK=256,
                                                                                 **kw)
    return out


def softmax(x, **kw):
    out = torch.empty_like(x)            # in_out_ptr0: written only (Inductor reuses the buffer name)
    softmax_persistent.triton_per_fused__softmax_0[(37,)](out, x, 37, 1000, XBLOCK=1, **kw)
    return out


def layernorm(x, w, b, **kw):
    out = torch.empty_like(x)
    layernorm_persistent.triton_per_fused_native_layer_norm_0[(13,)](x, w, b, out, 13, 768, XBLOCK=1, **kw)
    return out


def rmsnorm(x, w, **kw):
    out = torch.empty_like(x)
    rmsnorm_reduction.triton_red_fused_add_mean_mul_pow_rsqrt_0[(7,)](x, w, out, 7, 5000, XBLOCK=1, R0_BLOCK=2048,
                                                                      **kw)
    return out


def _rmsnorm_ref(x, w):
    xd = x.double()
    return (xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()).to(x.dtype)


_TOL = {F32: (2e-5, 2e-5), F16: (2e-3, 2e-3)}

ENTRIES = [
    Entry("inductor_gelu", "inductor", gelu_pointwise.triton_poi_fused_gelu_0, gelu,
          lambda x: torch.nn.functional.gelu(x.double(), approximate="tanh").to(x.dtype),
          lambda g, s, dt: (randn(g, s, dt, scale=3.0),), sizes=[(1000,)], dtypes=(F32,), tol=_TOL,
          bench_size=(1000,), doc="Inductor pointwise: gelu(tanh), libdevice.tanh"),
    Entry("inductor_swiglu_f16", "inductor", swiglu_pointwise_f16.triton_poi_fused_mul_silu_0, swiglu,
          lambda a, b: (torch.nn.functional.silu(a.double()).to(a.dtype).double() * b.double()).to(a.dtype),
          lambda g, s, dt: (randn(g, s, dt, scale=3.0), randn(g, s, dt)), sizes=[(37, 300)], dtypes=(F16,),
          tol=_TOL, bench_size=(37, 300), doc="Inductor pointwise in f16: silu(a) * b, computed in f32"),
    Entry("inductor_softmax", "inductor", softmax_persistent.triton_per_fused__softmax_0, softmax,
          lambda x: torch.softmax(x.double(), dim=-1).to(x.dtype),
          lambda g, s, dt: (randn(g, s, dt, scale=3.0),), sizes=[(37, 1000)], dtypes=(F32,),
          tol={F32: (1e-5, 1e-6)}, bench_size=(37, 1000), doc="Inductor persistent reduction: row softmax"),
    Entry("inductor_layernorm", "inductor", layernorm_persistent.triton_per_fused_native_layer_norm_0, layernorm,
          lambda x, w, b: torch.nn.functional.layer_norm(x.double(), (768,), w.double(), b.double(), 1e-5)
          .to(x.dtype),
          lambda g, s, dt: (randn(g, s, dt, scale=2.0, shift=0.5), randn(g, s[1], dt), randn(g, s[1], dt)),
          sizes=[(13, 768)], dtypes=(F32,), tol={F32: (1e-5, 1e-5)}, bench_size=(13, 768),
          doc="Inductor persistent reduction: layer_norm (mean, variance, affine) in one program per row"),
    Entry("inductor_rmsnorm", "inductor", rmsnorm_reduction.triton_red_fused_add_mean_mul_pow_rsqrt_0, rmsnorm,
          _rmsnorm_ref, lambda g, s, dt: (randn(g, s, dt), randn(g, s[1], dt)), sizes=[(7, 5000)], dtypes=(F32,),
          tol={F32: (1e-5, 1e-5)}, bench_size=(7, 5000),
          doc="Inductor looped reduction: RMSNorm, two R0_BLOCK loops over the row"),
]
