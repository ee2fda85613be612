"""Triton kernels with element-wise masks, bool pointers and computed-pointer gathers (imported in-process by
test_bool_memory.py / test_gather_vectorize.py and by the interpreter oracle)."""
import triton
import triton.language as tl


@triton.jit
def emask_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """A load and a store under an element-wise mask (not a range): the mask is an i1 block in memory."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    m = (offs < n) & (x > 0)
    y = tl.load(x_ptr + offs, mask=m, other=-1.0)
    tl.store(out_ptr + offs, y * 2, mask=m)


@triton.jit
def bool_xor_kernel(a_ptr, b_ptr, out_ptr, gt_ptr, x_ptr, n, BLOCK: tl.constexpr):
    """Bool tensors in and out: out = a ^ b, gt = x > 0."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    a = tl.load(a_ptr + offs, mask=m, other=0)
    b = tl.load(b_ptr + offs, mask=m, other=0)
    tl.store(out_ptr + offs, a ^ b, mask=m)
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.store(gt_ptr + offs, x > 0, mask=m)


@triton.jit
def where_kernel(c_ptr, x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """torch.where with a bool mask read from memory."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    c = tl.load(c_ptr + offs, mask=m, other=0)
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    y = tl.load(y_ptr + offs, mask=m, other=0.0)
    tl.store(out_ptr + offs, tl.where(c, x, y), mask=m)


@triton.jit
def gather_kernel(x_ptr, idx_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out[i] = x[idx[i]]: a load through computed pointers."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(idx_ptr + offs, mask=m, other=0)
    tl.store(out_ptr + offs, tl.load(x_ptr + i, mask=m), mask=m)


@triton.jit
def embed_kernel(w_ptr, idx_ptr, out_ptr, n, D: tl.constexpr, BLOCK: tl.constexpr):
    """Embedding lookup: rows of w picked by idx."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, D)
    rm = rows < n
    i = tl.load(idx_ptr + rows, mask=rm, other=0)
    v = tl.load(w_ptr + i[:, None] * D + cols[None, :], mask=rm[:, None])
    tl.store(out_ptr + rows[:, None] * D + cols[None, :], v, mask=rm[:, None])


@triton.jit
def conv1d_gather_kernel(x_ptr, w_ptr, out_ptr, L, K: tl.constexpr, BLOCK: tl.constexpr):
    """out[i] = sum_k x[i + k - K//2] * w[k], zero padded: a convolution as a masked gather."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ks = tl.arange(0, 8)
    pos = offs[:, None] + ks[None, :] - K // 2
    m = (pos >= 0) & (pos < L) & (offs[:, None] < L) & (ks[None, :] < K)
    x = tl.load(x_ptr + pos, mask=m, other=0.0)
    w = tl.load(w_ptr + ks, mask=ks < K, other=0.0)
    tl.store(out_ptr + offs, tl.sum(x * w[None, :], axis=1), mask=offs < L)


@triton.jit
def nll_kernel(x_ptr, t_ptr, out_ptr, n, C: tl.constexpr, BLOCK: tl.constexpr):
    """Per-row -x[row, target[row]], ignore_index -100 gives 0."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    rm = rows < n
    t = tl.load(t_ptr + rows, mask=rm, other=0)
    ok = rm & (t != -100)
    v = tl.load(x_ptr + rows * C + t, mask=ok, other=0.0)
    tl.store(out_ptr + rows, -v, mask=rm)


@triton.jit
def maxpool_kernel(x_ptr, out_ptr, L, OL, BLOCK: tl.constexpr):
    """1-D max pool, window 3, stride 2, padding 1 (padding reads -inf)."""
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ks = tl.arange(0, 4)
    pos = o[:, None] * 2 - 1 + ks[None, :]
    m = (pos >= 0) & (pos < L) & (ks[None, :] < 3) & (o[:, None] < OL)
    x = tl.load(x_ptr + pos, mask=m, other=float("-inf"))
    tl.store(out_ptr + o, tl.max(x, axis=1), mask=o < OL)


@triton.jit
def scatter_add_kernel(idx_ptr, src_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """index_add through computed pointers (unique indices: a plain scatter)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(idx_ptr + offs, mask=m, other=0)
    s = tl.load(src_ptr + offs, mask=m, other=0.0)
    old = tl.load(out_ptr + i, mask=m, other=0.0)
    tl.store(out_ptr + i, old + s, mask=m)


@triton.jit
def avgpool2d_kernel(x_ptr, out_ptr, H, W, OH, OW, BLOCK: tl.constexpr):
    """3x3 average pool, stride 2, padding 1, count_include_pad=False: masked gathers and a mask count."""
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    om = o < OH * OW
    oh, ow = o // OW, o % OW
    k = tl.arange(0, 16)
    kh, kw = k // 4, k % 4
    h = oh[:, None] * 2 - 1 + kh[None, :]
    w = ow[:, None] * 2 - 1 + kw[None, :]
    m = (h >= 0) & (h < H) & (w >= 0) & (w < W) & (kh[None, :] < 3) & (kw[None, :] < 3) & om[:, None]
    x = tl.load(x_ptr + h * W + w, mask=m, other=0.0)
    cnt = tl.sum(m.to(tl.float32), axis=1)
    tl.store(out_ptr + o, tl.sum(x, axis=1) / tl.maximum(cnt, 1.0), mask=om)


@triton.jit
def masked_scatter_kernel(idx_ptr, src_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out[idx[i]] = src[i] where src[i] > 0 (unique indices): a scatter under an element-wise mask."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(idx_ptr + offs, mask=m, other=0)
    s = tl.load(src_ptr + offs, mask=m, other=0.0)
    tl.store(out_ptr + i, s, mask=m & (s > 0))
