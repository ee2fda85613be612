"""Hand-written HVX intrinsics peers (128-byte HVX, v73) of the packets bench's integer kernels, in C.

Each source defines `void ref(...)` with the same row-major buffers as the hexmlir kernel (sizes and
constants as int32 scalars) and is compiled with clang-22 -O3 -mhvx (no auto-vectorizer: the intrinsics are
the vector code). They assume what hand-written HVX code usually assumes of element-wise buffers: 128-byte
aligned starts (the simulation harness's) take aligned `vmem`, other pointers `vmemu`; rows of the
contractions start anywhere. Tails past the last whole vector never read outside the buffers: a masked
store, aligned loads of the blocks holding valid bytes, or a short scalar loop.
"""
from __future__ import annotations

_PRELUDE = r"""
#include <stdint.h>
#include <hexagon_types.h>
#include <hvx_hexagon_protos.h>
typedef long hvx_uv __attribute__((__vector_size__(128), __aligned__(1)));
#define VLD(p) (*(const HVX_Vector *)(p))
#define VLDU(p) (*(const hvx_uv *)(p))
#define VSTU(p, v) (*(hvx_uv *)(p) = (v))
#define ALIGNED(p) ((((uintptr_t)(p)) & 127) == 0)
/* the `len` (1..128) bytes at p as a vector (lanes past len undefined), reading only the aligned blocks
   that hold p[0] and p[len - 1] */
static inline HVX_Vector load_part(const void *p, int32_t len) {
  uintptr_t a = (uintptr_t)p;
  HVX_Vector lo = VLD(a & ~(uintptr_t)127), hi = VLD((a + len - 1) & ~(uintptr_t)127);
  return Q6_V_valign_VVR(hi, lo, (int32_t)a);
}
"""

# int8 saturating add: one vadd(.b):sat per 128 elements, the last partial vector stored under a mask
ADD_SAT_I8 = _PRELUDE + r"""
void ref(const int8_t *restrict a, const int8_t *restrict b, int8_t *restrict c, int32_t n) {
  int32_t nv = n / 128, rem = n - nv * 128;
  if (ALIGNED(a) && ALIGNED(b) && ALIGNED(c)) {
    const HVX_Vector *va = (const HVX_Vector *)a, *vb = (const HVX_Vector *)b;
    HVX_Vector *vc = (HVX_Vector *)c;
    for (int32_t i = 0; i < nv; i++) vc[i] = Q6_Vb_vadd_VbVb_sat(va[i], vb[i]);
    if (rem) Q6_vmem_QRIV(Q6_Q_vsetq_R(rem), vc + nv, Q6_Vb_vadd_VbVb_sat(va[nv], vb[nv]));
    return;
  }
  for (int32_t i = 0; i < nv; i++) VSTU(c + 128 * i, Q6_Vb_vadd_VbVb_sat(VLDU(a + 128 * i), VLDU(b + 128 * i)));
  for (int32_t i = nv * 128; i < n; i++) {
    int32_t s = a[i] + b[i];
    c[i] = s > 127 ? 127 : (s < -128 ? -128 : s);
  }
}
"""

ADD_I32 = _PRELUDE + r"""
void ref(const int32_t *restrict a, const int32_t *restrict b, int32_t *restrict c, int32_t n) {
  int32_t nv = n / 32, rem = n - nv * 32;
  if (ALIGNED(a) && ALIGNED(b) && ALIGNED(c)) {
    const HVX_Vector *va = (const HVX_Vector *)a, *vb = (const HVX_Vector *)b;
    HVX_Vector *vc = (HVX_Vector *)c;
    for (int32_t i = 0; i < nv; i++) vc[i] = Q6_Vw_vadd_VwVw(va[i], vb[i]);
    if (rem) Q6_vmem_QRIV(Q6_Q_vsetq_R(4 * rem), vc + nv, Q6_Vw_vadd_VwVw(va[nv], vb[nv]));
    return;
  }
  for (int32_t i = 0; i < nv; i++) VSTU(c + 32 * i, Q6_Vw_vadd_VwVw(VLDU(a + 32 * i), VLDU(b + 32 * i)));
  for (int32_t i = nv * 32; i < n; i++) c[i] = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]);
}
"""

# int8 row dot: vrmpy(.b,.b) into two int32 accumulators (alternating, so consecutive vrmpy do not wait on
# each other), the row's last partial vector zero-masked, one rotate-and-add tree per row
DOT_I8 = _PRELUDE + r"""
void ref(const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict y, int32_t m, int32_t k) {
  int32_t kv = k / 128, rem = k - kv * 128;
  HVX_VectorPred tail = Q6_Q_vsetq_R(rem);
  for (int32_t i = 0; i < m; i++) {
    const int8_t *pa = a + (intptr_t)i * k, *pb = b + (intptr_t)i * k;
    HVX_Vector s0 = Q6_V_vzero(), s1 = Q6_V_vzero();
    int32_t j = 0;
    for (; j + 2 <= kv; j += 2) {
      s0 = Q6_Vw_vrmpyacc_VwVbVb(s0, VLDU(pa + 128 * j), VLDU(pb + 128 * j));
      s1 = Q6_Vw_vrmpyacc_VwVbVb(s1, VLDU(pa + 128 * j + 128), VLDU(pb + 128 * j + 128));
    }
    if (j < kv) s0 = Q6_Vw_vrmpyacc_VwVbVb(s0, VLDU(pa + 128 * j), VLDU(pb + 128 * j));
    if (rem) {
      HVX_Vector ta = Q6_V_vmux_QVV(tail, load_part(pa + 128 * kv, rem), Q6_V_vzero());
      s1 = Q6_Vw_vrmpyacc_VwVbVb(s1, ta, load_part(pb + 128 * kv, rem));
    }
    HVX_Vector s = Q6_Vw_vadd_VwVw(s0, s1);
    for (int32_t sh = 64; sh >= 4; sh >>= 1) s = Q6_Vw_vadd_VwVw(s, Q6_V_vror_VR(s, sh));
    y[i] = Q6_R_vextract_VR(s, 0);
  }
}
"""

# int8 matmul C[M, N] = A[M, K] @ B[K, N] (int32), both row-major as the hexmlir kernel takes them.
# vrmpy(Vu.ub, Rt.b) multiplies 4 unsigned bytes of each 32-bit lane with the 4 signed bytes of a scalar
# register: B is packed once per call into vectors whose lane j holds B[k..k+3, n0 + j] + 128 (xor 0x80,
# two byte and two halfword shuffles per 4 rows of B), A's rows are copied into 4-byte-aligned rows padded
# with zeros to a multiple of 4 (one word load per row and 4 k), and the +128 comes off as 128 * (row sum
# of A) at the store. Register block: 4 rows x 128 columns (16 accumulators), the last rows one at a time,
# the last column block stored through a stack vector. Scratch (on the stack): K4 x 128 bytes per column
# block of B, M x K4 bytes of A.
MATMUL_I8 = _PRELUDE + r"""
#define MR 4
static inline __attribute__((always_inline)) void
block(int32_t R, const int32_t *restrict ap, int32_t kw, const HVX_Vector *restrict bp, const int32_t *corr,
      int32_t *restrict c, int32_t ldc, int32_t ncols) {
  HVX_Vector acc[MR][4];
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++)
#pragma clang loop unroll(full)
    for (int32_t s = 0; s < 4; s++) acc[r][s] = Q6_V_vzero();
  for (int32_t q = 0; q < kw; q++) {
    HVX_Vector b0 = bp[4 * q], b1 = bp[4 * q + 1], b2 = bp[4 * q + 2], b3 = bp[4 * q + 3];
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++) {
      int32_t w = ap[r * kw + q];
      acc[r][0] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][0], b0, w);
      acc[r][1] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][1], b1, w);
      acc[r][2] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][2], b2, w);
      acc[r][3] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][3], b3, w);
    }
  }
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++) {
    HVX_Vector cv = Q6_V_vsplat_R(corr[r]);
    int32_t *cr = c + (intptr_t)r * ldc;
    if (ncols == 128) {
#pragma clang loop unroll(full)
      for (int32_t s = 0; s < 4; s++) VSTU(cr + 32 * s, Q6_Vw_vsub_VwVw(acc[r][s], cv));
    } else {
      HVX_Vector tmp[4];
#pragma clang loop unroll(full)
      for (int32_t s = 0; s < 4; s++) tmp[s] = Q6_Vw_vsub_VwVw(acc[r][s], cv);
      const int32_t *t = (const int32_t *)tmp;
      for (int32_t j = 0; j < ncols; j++) cr[j] = t[j];
    }
  }
}

void ref(const int8_t *restrict A, const int8_t *restrict B, int32_t *restrict C, int32_t M, int32_t N,
         int32_t K) {
  int32_t K4 = (K + 3) & ~3, kw = K4 / 4, NB = (N + 127) / 128;
  HVX_Vector bp[kw * 4];
  int32_t ap[M * kw + 32];                 /* + one vector: the row copies store whole vectors */
  int32_t corr[M];
  HVX_Vector ones = Q6_V_vsplat_R(0x01010101), flip = Q6_V_vsplat_R(0x80808080);
  /* A: rows padded with zeros to K4 bytes; corr = 128 * row sum */
  for (int32_t i = 0; i < M; i++) {
    const int8_t *src = A + (intptr_t)i * K;
    int8_t *dst = (int8_t *)ap + (intptr_t)i * K4;
    HVX_Vector s = Q6_V_vzero();
    for (int32_t j = 0; j < K; j += 128) {
      int32_t len = K - j < 128 ? K - j : 128;
      HVX_Vector v = len == 128 ? VLDU(src + j)
                                : Q6_V_vmux_QVV(Q6_Q_vsetq_R(len), load_part(src + j, len), Q6_V_vzero());
      VSTU(dst + j, v);
      s = Q6_Vw_vrmpyacc_VwVbVb(s, v, ones);
    }
    for (int32_t sh = 64; sh >= 4; sh >>= 1) s = Q6_Vw_vadd_VwVw(s, Q6_V_vror_VR(s, sh));
    corr[i] = 128 * Q6_R_vextract_VR(s, 0);
  }
  for (int32_t nb = 0; nb < NB; nb++) {
    int32_t n0 = nb * 128, ncols = N - n0 < 128 ? N - n0 : 128;
    /* B: 4 rows at a time, xor 0x80 (unsigned), interleaved so 32-bit lane j holds B[k..k+3, n0 + j] */
    for (int32_t q = 0; q < kw; q++) {
      HVX_Vector r[4];
#pragma clang loop unroll(full)
      for (int32_t t = 0; t < 4; t++) {
        int32_t k = 4 * q + t;
        const int8_t *src = B + (intptr_t)k * N + n0;
        r[t] = k >= K ? flip : Q6_V_vxor_VV(ncols == 128 ? VLDU(src) : load_part(src, ncols), flip);
      }
      HVX_VectorPair p01 = Q6_W_vshuff_VVR(r[1], r[0], -1), p23 = Q6_W_vshuff_VVR(r[3], r[2], -1);
      HVX_VectorPair lo = Q6_W_vshuff_VVR(Q6_V_lo_W(p23), Q6_V_lo_W(p01), -2);
      HVX_VectorPair hi = Q6_W_vshuff_VVR(Q6_V_hi_W(p23), Q6_V_hi_W(p01), -2);
      bp[4 * q] = Q6_V_lo_W(lo);
      bp[4 * q + 1] = Q6_V_hi_W(lo);
      bp[4 * q + 2] = Q6_V_lo_W(hi);
      bp[4 * q + 3] = Q6_V_hi_W(hi);
    }
    int32_t i = 0;
    for (; i + MR <= M; i += MR)
      block(MR, ap + (intptr_t)i * kw, kw, bp, corr + i, C + (intptr_t)i * N + n0, N, ncols);
    for (; i < M; i++)
      block(1, ap + (intptr_t)i * kw, kw, bp, corr + i, C + (intptr_t)i * N + n0, N, ncols);
  }
}
"""

# requantize int32 -> int8, y = clamp(((x * mult + 2^(31 + s)) >> (32 + s)) + zp): the 64-bit product's high
# word by vmpye/vmpyo (exact: floor(x * mult / 2^32)), then (hi + 2^(s-1)) >> s with 16-bit saturation
# (vasr:rnd:sat, 1 <= s <= 15), + zp saturating, vpack:sat to bytes. vasr and vpack interleave their two
# inputs; feeding vectors 0 and 2, 1 and 3 makes that one vdeal of bytes away from element order.
REQUANTIZE = _PRELUDE + r"""
static inline HVX_Vector mulhi(HVX_Vector x, HVX_Vector m) {
  return Q6_V_hi_W(Q6_W_vmpyoacc_WVwVh(Q6_W_vmpye_VwVuh(x, m), x, m));
}
static inline HVX_Vector rq128(HVX_Vector x0, HVX_Vector x1, HVX_Vector x2, HVX_Vector x3, HVX_Vector vm,
                               int32_t shift, HVX_Vector vzp) {
  HVX_Vector h02 = Q6_Vh_vasr_VwVwR_rnd_sat(mulhi(x2, vm), mulhi(x0, vm), shift);
  HVX_Vector h13 = Q6_Vh_vasr_VwVwR_rnd_sat(mulhi(x3, vm), mulhi(x1, vm), shift);
  h02 = Q6_Vh_vadd_VhVh_sat(h02, vzp);
  h13 = Q6_Vh_vadd_VhVh_sat(h13, vzp);
  return Q6_Vb_vdeal_Vb(Q6_Vb_vpack_VhVh_sat(h13, h02));
}
void ref(const int32_t *restrict x, int8_t *restrict y, int32_t n, int32_t mult, int32_t shift, int32_t zp) {
  HVX_Vector vm = Q6_V_vsplat_R(mult), vzp = Q6_Vh_vsplat_R(zp);
  int32_t nv = n / 128;
  if (ALIGNED(x) && ALIGNED(y)) {
    const HVX_Vector *vx = (const HVX_Vector *)x;
    HVX_Vector *vy = (HVX_Vector *)y;
    for (int32_t i = 0; i < nv; i++)
      vy[i] = rq128(vx[4 * i], vx[4 * i + 1], vx[4 * i + 2], vx[4 * i + 3], vm, shift, vzp);
  } else {
    for (int32_t i = 0; i < nv; i++) {
      const int32_t *p = x + 128 * i;
      VSTU(y + 128 * i, rq128(VLDU(p), VLDU(p + 32), VLDU(p + 64), VLDU(p + 96), vm, shift, vzp));
    }
  }
  for (int32_t i = nv * 128; i < n; i++) {
    int64_t v = (((int64_t)x[i] * mult + ((int64_t)1 << (31 + shift))) >> (32 + shift)) + zp;
    y[i] = v > 127 ? 127 : (v < -128 ? -128 : (int8_t)v);
  }
}
"""

#: packets-bench key -> C source of the intrinsics peer
SOURCES = {"add_sat_i8": ADD_SAT_I8, "add_i32": ADD_I32, "dot_i8": DOT_I8, "matmul_i8": MATMUL_I8,
           "requantize": REQUANTIZE}
