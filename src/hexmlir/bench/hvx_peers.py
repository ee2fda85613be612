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

# int8 row dot: vrmpy(.b,.b) into one int32 accumulator per row, 4 rows at a time (independent chains the
# packets interleave), the row's last partial vector zero-masked, the rows' rotate-and-add trees interleaved
DOT_I8 = _PRELUDE + r"""
static inline __attribute__((always_inline)) void
rows(int32_t R, const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict y, int32_t k) {
  int32_t kv = k / 128, rem = k - kv * 128;
  HVX_Vector s[4];
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++) s[r] = Q6_V_vzero();
  for (int32_t j = 0; j < kv; j++)
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++)
      s[r] = Q6_Vw_vrmpyacc_VwVbVb(s[r], VLDU(a + (intptr_t)r * k + 128 * j), VLDU(b + (intptr_t)r * k + 128 * j));
  if (rem) {
    HVX_VectorPred tail = Q6_Q_vsetq_R(rem);
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++) {
      const int8_t *pa = a + (intptr_t)r * k + 128 * kv, *pb = b + (intptr_t)r * k + 128 * kv;
      s[r] = Q6_Vw_vrmpyacc_VwVbVb(s[r], Q6_V_vmux_QVV(tail, load_part(pa, rem), Q6_V_vzero()),
                                   load_part(pb, rem));
    }
  }
#pragma clang loop unroll(full)
  for (int32_t sh = 64; sh >= 4; sh >>= 1)
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++) s[r] = Q6_Vw_vadd_VwVw(s[r], Q6_V_vror_VR(s[r], sh));
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++) y[r] = Q6_R_vextract_VR(s[r], 0);
}

void ref(const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict y, int32_t m, int32_t k) {
  int32_t i = 0;
  for (; i + 4 <= m; i += 4) rows(4, a + (intptr_t)i * k, b + (intptr_t)i * k, y + i, k);
  for (; i < m; i++) rows(1, a + (intptr_t)i * k, b + (intptr_t)i * k, y + i, k);
}
"""

# int8 matmul C[M, N] = A[M, K] @ B[K, N] (int32), both row-major as the hexmlir kernel takes them.
# vrmpy(Vu.ub, Rt.b) multiplies 4 unsigned bytes of each 32-bit lane with the 4 signed bytes of a scalar
# register: B is packed once per column block into vectors whose lane j holds B[k..k+3, n0 + j] + 128 (xor
# 0x80, two byte and two halfword shuffles per 4 rows of B), A's rows are copied into 4-byte-aligned rows
# padded with zeros to a multiple of 4 (one word load per row and 4 k), and the +128 comes off as
# 128 * (row sum of A) at the store. Register block: 4 rows x 128 columns (16 accumulators); the last 1-3
# rows run as one block whose missing rows repeat the last row and are not stored; the last column block
# computes only the 32-column vectors that hold columns and is stored through the stack. Scratch on the
# stack: K4 x 128 bytes of B, M x K4 bytes of A.
MATMUL_I8 = _PRELUDE + r"""
#define MR 4
typedef int32_t i32a __attribute__((__may_alias__));
static inline __attribute__((always_inline)) void
block(int32_t NV, const int32_t *const a[MR], int32_t rows, int32_t kw, const HVX_Vector *restrict bp,
      const int32_t *corr, int32_t *restrict c, int32_t ldc, int32_t ncols) {
  HVX_Vector acc[MR][4];
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < MR; r++)
#pragma clang loop unroll(full)
    for (int32_t s = 0; s < NV; s++) acc[r][s] = Q6_V_vzero();
  for (int32_t q = 0; q < kw; q++) {
    HVX_Vector b0 = bp[4 * q], b1 = bp[4 * q + 1], b2 = bp[4 * q + 2], b3 = bp[4 * q + 3];
    (void)b1, (void)b2, (void)b3;
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < MR; r++) {
      int32_t w = a[r][q];
      acc[r][0] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][0], b0, w);
      if (NV > 1) acc[r][1] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][1], b1, w);
      if (NV > 2) acc[r][2] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][2], b2, w);
      if (NV > 3) acc[r][3] = Q6_Vw_vrmpyacc_VwVubRb(acc[r][3], b3, w);
    }
  }
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < MR; r++) {
    if (r >= rows) break;
    HVX_Vector cv = Q6_V_vsplat_R(corr[r]);
    int32_t *cr = c + (intptr_t)r * ldc;
    if (ncols == 128) {
#pragma clang loop unroll(full)
      for (int32_t s = 0; s < 4; s++) VSTU(cr + 32 * s, Q6_Vw_vsub_VwVw(acc[r][s], cv));
    } else {
      HVX_Vector tmp[4];
#pragma clang loop unroll(full)
      for (int32_t s = 0; s < NV; s++) tmp[s] = Q6_Vw_vsub_VwVw(acc[r][s], cv);
      const i32a *t = (const i32a *)tmp;
      for (int32_t j = 0; j < ncols; j++) cr[j] = t[j];
    }
  }
}

/* rows i0..i0+R-1 of A (called in row order) into ap (K4 bytes each, zero padded); corr = 128 * row sums,
   the R rotate-and-add trees interleaved */
static inline __attribute__((always_inline)) void
pack_a(int32_t R, const int8_t *restrict A, int32_t i0, int32_t K, int32_t K4, int8_t *restrict ap,
       int32_t *restrict corr) {
  HVX_Vector ones = Q6_V_vsplat_R(0x01010101), s[MR];
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++) s[r] = Q6_V_vzero();
  /* last chunk first: a row's padded last vector spills into the next row's start, rewritten after it */
  for (int32_t j = (K - 1) & ~127; j >= 0; j -= 128) {
    int32_t len = K - j < 128 ? K - j : 128;
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++) {
      const int8_t *src = A + (intptr_t)(i0 + r) * K + j;
      HVX_Vector v = len == 128 ? VLDU(src)
                                : Q6_V_vmux_QVV(Q6_Q_vsetq_R(len), load_part(src, len), Q6_V_vzero());
      VSTU(ap + (intptr_t)(i0 + r) * K4 + j, v);
      s[r] = Q6_Vw_vrmpyacc_VwVbVb(s[r], v, ones);
    }
  }
#pragma clang loop unroll(full)
  for (int32_t sh = 64; sh >= 4; sh >>= 1)
#pragma clang loop unroll(full)
    for (int32_t r = 0; r < R; r++) s[r] = Q6_Vw_vadd_VwVw(s[r], Q6_V_vror_VR(s[r], sh));
#pragma clang loop unroll(full)
  for (int32_t r = 0; r < R; r++) corr[i0 + r] = 128 * Q6_R_vextract_VR(s[r], 0);
}

static inline void pack_b4(HVX_Vector *restrict out, HVX_Vector r0, HVX_Vector r1, HVX_Vector r2,
                           HVX_Vector r3) {
  HVX_VectorPair p01 = Q6_W_vshuff_VVR(r1, r0, -1), p23 = Q6_W_vshuff_VVR(r3, r2, -1);
  HVX_VectorPair lo = Q6_W_vshuff_VVR(Q6_V_lo_W(p23), Q6_V_lo_W(p01), -2);
  HVX_VectorPair hi = Q6_W_vshuff_VVR(Q6_V_hi_W(p23), Q6_V_hi_W(p01), -2);
  out[0] = Q6_V_lo_W(lo);
  out[1] = Q6_V_hi_W(lo);
  out[2] = Q6_V_lo_W(hi);
  out[3] = Q6_V_hi_W(hi);
}

void ref(const int8_t *restrict A, const int8_t *restrict B, int32_t *restrict C, int32_t M, int32_t N,
         int32_t K) {
  int32_t K4 = (K + 3) & ~3, kw = K4 / 4, NB = (N + 127) / 128;
  HVX_Vector bp[kw * 4];
  int32_t ap[M * kw + 32];                 /* + one vector: the row copies store whole vectors */
  int32_t corr[M];
  HVX_Vector flip = Q6_V_vsplat_R(0x80808080);
  int32_t i = 0;
  for (; i + MR <= M; i += MR) pack_a(MR, A, i, K, K4, (int8_t *)ap, corr);
  for (; i < M; i++) pack_a(1, A, i, K, K4, (int8_t *)ap, corr);
  for (int32_t nb = 0; nb < NB; nb++) {
    int32_t n0 = nb * 128, ncols = N - n0 < 128 ? N - n0 : 128;
    /* B: 4 rows at a time, xor 0x80 (unsigned), interleaved so 32-bit lane j holds B[k..k+3, n0 + j] */
    const int8_t *b0 = B + n0;
    int32_t q = 0;
    if (ncols == 128)
      for (; 4 * q + 3 < K; q++) {
        const int8_t *src = b0 + (intptr_t)4 * q * N;
        pack_b4(bp + 4 * q, Q6_V_vxor_VV(VLDU(src), flip), Q6_V_vxor_VV(VLDU(src + N), flip),
                Q6_V_vxor_VV(VLDU(src + 2 * N), flip), Q6_V_vxor_VV(VLDU(src + 3 * N), flip));
      }
    for (; q < kw; q++) {
      HVX_Vector r[4];
#pragma clang loop unroll(full)
      for (int32_t t = 0; t < 4; t++) {
        int32_t k = 4 * q + t;
        const int8_t *src = b0 + (intptr_t)k * N;
        r[t] = k >= K ? flip : Q6_V_vxor_VV(ncols == 128 ? VLDU(src) : load_part(src, ncols), flip);
      }
      pack_b4(bp + 4 * q, r[0], r[1], r[2], r[3]);
    }
    for (int32_t i = 0; i < M; i += MR) {
      const int32_t *a[MR];
      int32_t rows = M - i < MR ? M - i : MR;
#pragma clang loop unroll(full)
      for (int32_t r = 0; r < MR; r++) a[r] = ap + (intptr_t)(i + (r < rows ? r : rows - 1)) * kw;
      int32_t *c = C + (intptr_t)i * N + n0;
      switch ((ncols + 31) / 32) {      /* the last column block: only the vectors that hold columns */
      case 4: block(4, a, rows, kw, bp, corr + i, c, N, ncols); break;
      case 3: block(3, a, rows, kw, bp, corr + i, c, N, ncols); break;
      case 2: block(2, a, rows, kw, bp, corr + i, c, N, ncols); break;
      default: block(1, a, rows, kw, bp, corr + i, c, N, ncols); break;
      }
    }
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

# int8 NCHW convolution (FCHW filter, no padding) out[n, f, oh, ow] (int32), as the hexmlir kernel computes it:
# a window copy col[(c, kh, kw), (oh, ow)] = x[n, c, oh*s + kh, ow*s + kw] into a malloc'd buffer, then the
# matmul above, out[n] = w[F, C*KH*KW] @ col. Stride 1 copies each output row's OW bytes as whole vectors: an
# unaligned load of the aligned blocks that hold them (load_part) and an unaligned 128-byte store that may run
# past the row into the next one, which the next copy overwrites (rows are written in address order; the
# buffer has a vector of slack). Other strides copy byte by byte (the bench measures stride 1).
CONV_I8 = MATMUL_I8.replace("void ref(", "static void matmul_i8(") + r"""
void *malloc(unsigned int);
void free(void *);

void ref(const int8_t *restrict x, const int8_t *restrict w, int32_t *restrict out, int32_t n, int32_t c,
         int32_t h, int32_t wd, int32_t f, int32_t k, int32_t s) {
  int32_t oh = (h - k) / s + 1, ow = (wd - k) / s + 1, p = oh * ow, kk = c * k * k;
  int8_t *col = malloc((unsigned)(kk * p + 128));
  for (int32_t b = 0; b < n; b++) {
    const int8_t *xb = x + (intptr_t)b * c * h * wd;
    int8_t *dst = col;
    for (int32_t ci = 0; ci < c; ci++)
      for (int32_t i = 0; i < k; i++)
        for (int32_t j = 0; j < k; j++)
          for (int32_t r = 0; r < oh; r++, dst += ow) {
            const int8_t *src = xb + ((intptr_t)ci * h + (intptr_t)r * s + i) * wd + j;
            if (s == 1) {
              int32_t q = 0;
              for (; q + 128 <= ow; q += 128) VSTU(dst + q, VLDU(src + q));
              if (q < ow) VSTU(dst + q, load_part(src + q, ow - q));
            } else {
              for (int32_t q = 0; q < ow; q++) dst[q] = src[q * s];
            }
          }
    matmul_i8(w, col, out + (intptr_t)b * f * p, f, p, kk);
  }
  free(col);
}
"""

#: packets-bench key -> C source of the intrinsics peer
SOURCES = {"add_sat_i8": ADD_SAT_I8, "add_i32": ADD_I32, "dot_i8": DOT_I8, "matmul_i8": MATMUL_I8,
           "conv_i8": CONV_I8, "requantize": REQUANTIZE}
