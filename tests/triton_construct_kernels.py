"""Triton kernels using constructs real kernel libraries use (issue 13); the oracle re-imports this module."""
import triton
import triton.language as tl


@triton.jit
def rand_kernel(u_ptr, n_ptr, i_ptr, i4_ptr, n, seed, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(u_ptr + offs, tl.rand(seed, offs), mask=m)
    tl.store(n_ptr + offs, tl.randn(seed, offs), mask=m)
    tl.store(i_ptr + offs, tl.randint(seed, offs), mask=m)
    a, b, c, d = tl.randint4x(seed, offs)
    tl.store(i4_ptr + offs, a ^ b ^ c ^ d, mask=m)


@triton.jit
def dropout_kernel(x_ptr, out_ptr, n, p, seed, BLOCK: tl.constexpr):
    """The low-memory dropout of the Triton tutorials."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    keep = tl.rand(seed, offs) > p
    tl.store(out_ptr + offs, tl.where(keep, x / (1 - p), 0.0), mask=m)


@triton.jit
def optional_ptr_kernel(x_ptr, w_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """`if w_ptr:` (tt.ptr_to_int): an optional weight, as in Liger's and Unsloth's norms."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    if w_ptr:
        x = x * tl.load(w_ptr + offs, mask=m)
    tl.store(out_ptr + offs, x, mask=m)


@triton.jit
def early_return_kernel(x_ptr, out_ptr, n, limit, BLOCK: tl.constexpr):
    """Early returns inside ifs, one nested (cf.cond_br with a block both paths reach)."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    if pid * BLOCK >= limit:
        return
    x = tl.load(x_ptr + offs, mask=m)
    if pid % 2 == 1:
        if pid % 3 == 0:
            return
        x = x * 2
    tl.store(out_ptr + offs, x + 1, mask=m)


@triton.jit
def scan_kernel(x_ptr, cs_ptr, cp_ptr, rcs_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    """tl.cumsum along rows, tl.cumprod along columns, a reversed cumsum (2-D block, masked)."""
    rm = tl.arange(0, BM)[:, None]
    rn = tl.arange(0, BN)[None, :]
    m = (rm < M) & (rn < N)
    x = tl.load(x_ptr + rm * N + rn, mask=m, other=0.0)
    tl.store(cs_ptr + rm * N + rn, tl.cumsum(x, 1), mask=m)
    tl.store(cp_ptr + rm * N + rn, tl.cumprod(tl.where(m, x, 1.0), 0), mask=m)
    tl.store(rcs_ptr + rm * N + rn, tl.cumsum(x, 1, reverse=True), mask=m)


@triton.jit
def _argmax_combine(v1, i1, v2, i2):
    take = v2 > v1
    return tl.where(take, v2, v1), tl.where(take, i2, i1)


@triton.jit
def running_argmax_kernel(x_ptr, v_ptr, i_ptr, rv_ptr, ri_ptr, n, BLOCK: tl.constexpr):
    """tl.associative_scan with two operands (a running max and where it was), forward and reversed."""
    offs = tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=-float("inf"))
    v, i = tl.associative_scan((x, offs), 0, _argmax_combine)
    tl.store(v_ptr + offs, v, mask=m)
    tl.store(i_ptr + offs, i, mask=m)
    rv, ri = tl.associative_scan((x, offs), 0, _argmax_combine, reverse=True)
    tl.store(rv_ptr + offs, rv, mask=m)
    tl.store(ri_ptr + offs, ri, mask=m)


@triton.jit
def bool_ptr_kernel(m_ptr, x_ptr, out_ptr, pos_ptr, n, BLOCK: tl.constexpr):
    """Bool tensors in and out (Triton reads *i1 through an i8 pointer bitcast)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    b = tl.load(m_ptr + offs, mask=m, other=0)
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(out_ptr + offs, tl.where(b, x, -x), mask=m)
    tl.store(pos_ptr + offs, x > 0, mask=m)


@triton.jit
def float_atomics_kernel(x_ptr, mx_ptr, mn_ptr, sum_ptr, n, BLOCK: tl.constexpr):
    """Float atomic max/min (pointer bitcasts to int in Triton's frontend) and add from every program."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.atomic_max(mx_ptr, tl.max(tl.where(m, x, -float("inf")), 0))
    tl.atomic_min(mn_ptr, tl.min(tl.where(m, x, float("inf")), 0))
    tl.atomic_max(mx_ptr + 1 + offs % 4, x, mask=m)            # a tensor of pointers, contended
    tl.atomic_add(sum_ptr + offs % 3, 1, mask=m)


@triton.jit
def int_atomics_kernel(bits_ptr, cas_ptr, olds_ptr, xchg_ptr, xolds_ptr):
    pid = tl.program_id(0)
    tl.atomic_or(bits_ptr, 1 << (pid % 31))
    tl.atomic_and(bits_ptr + 1, ~(1 << (pid % 31)))
    tl.atomic_xor(bits_ptr + 2, pid)
    tl.store(olds_ptr + pid, tl.atomic_cas(cas_ptr + pid % 3, 0, pid + 1))
    tl.store(xolds_ptr + pid, tl.atomic_xchg(xchg_ptr, pid + 1))


@triton.jit
def long_sum_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr, tl.sum(x, 0))


@triton.jit
def row_sums_kernel(x_ptr, rows_ptr, cols_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    rm = tl.arange(0, BM)[:, None]
    rn = tl.arange(0, BN)[None, :]
    x = tl.load(x_ptr + rm * N + rn, mask=(rm < M) & (rn < N), other=0.0)
    tl.store(rows_ptr + tl.arange(0, BM), tl.sum(x, 1), mask=tl.arange(0, BM) < M)
    tl.store(cols_ptr + tl.arange(0, BN), tl.sum(x, 0), mask=tl.arange(0, BN) < N)


@triton.jit
def addr_table_kernel(x_ptr, y_ptr, idx_ptr, table_ptr, out_ptr, out2_ptr, n, BLOCK: tl.constexpr):
    """A tensor of integer addresses (tt.ptr_to_int / tt.int_to_ptr of tensors): per element the address of
    x[i] or y[i], written to a table, read back and dereferenced with a mask (i < 0: masked off, an address
    before the buffer); also one address splatted over the block."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(idx_ptr + offs, mask=m, other=0)
    ax = (x_ptr + i).to(tl.int64)
    ay = (y_ptr + i).to(tl.int64)
    tl.store(table_ptr + offs, tl.where(i % 2 == 0, ax, ay), mask=m)
    tl.debug_barrier()
    t = tl.load(table_ptr + offs, mask=m, other=0)
    p = t.to(tl.pointer_type(tl.float32))
    v = tl.load(p, mask=m & (i >= 0), other=-1.0)
    tl.store(out_ptr + offs, v, mask=m)
    pb = (tl.zeros([BLOCK], tl.int64) + x_ptr.to(tl.int64)).to(tl.pointer_type(tl.float32)) + offs
    tl.store(out2_ptr + offs, tl.load(pb, mask=m, other=0.0) * 2.0, mask=m)


@triton.jit
def addr_rows_kernel(x_ptr, rows_ptr, out_ptr, y_ptr, acc_ptr, M, N, stride, BM: tl.constexpr,
                     BN: tl.constexpr):
    """Row addresses as an int64 tensor, broadcast against column offsets: a masked 2-D gather, a masked
    scatter and atomic adds (several elements at one address) through them."""
    pid = tl.program_id(0)
    r = pid * BM + tl.arange(0, BM)
    c = tl.arange(0, BN)
    rm = r < M
    rows = tl.load(rows_ptr + r, mask=rm, other=-1)
    ra = x_ptr.to(tl.int64) + rows.to(tl.int64) * stride * 4
    p = ra.to(tl.pointer_type(tl.float32))[:, None] + c[None, :]
    m = (rm & (rows >= 0))[:, None] & (c < N)[None, :]
    v = tl.load(p, mask=m, other=0.5)
    tl.store(out_ptr + r[:, None] * N + c[None, :], v, mask=rm[:, None] & (c < N)[None, :])
    ya = y_ptr.to(tl.int64) + rows.to(tl.int64) * N * 4
    tl.store(ya.to(tl.pointer_type(tl.float32))[:, None] + c[None, :], v + 1.0, mask=m)
    aa = acc_ptr.to(tl.int64) + (rows.to(tl.int64) % 5) * 4
    tl.atomic_add(aa.to(tl.pointer_type(tl.float32))[:, None] + tl.zeros([BM, BN], tl.int32), v, mask=m)


@triton.jit
def ptr_table_kernel(table_ptr, lens_ptr, out_ptr, sum_ptr, G, K, BG: tl.constexpr, BK: tl.constexpr):
    """A host-made pointer table (grouped-GEMM style): row g of out is buffer g (length lens[g]) padded;
    sum[g] its sum, read through pointers carried by a loop and advanced by one each step."""
    g = tl.arange(0, BG)
    k = tl.arange(0, BK)
    gm = g < G
    a = tl.load(table_ptr + g, mask=gm, other=0)
    ln = tl.load(lens_ptr + g, mask=gm, other=0)
    p = a.to(tl.pointer_type(tl.float32))[:, None] + k[None, :]
    v = tl.load(p, mask=gm[:, None] & (k[None, :] < ln[:, None]), other=-7.0)
    tl.store(out_ptr + g[:, None] * K + k[None, :], v, mask=gm[:, None] & (k < K)[None, :])
    q = a.to(tl.pointer_type(tl.float32))
    acc = tl.zeros([BG], tl.float32)
    for i in range(0, K):
        acc += tl.load(q, mask=gm & (i < ln), other=0.0)
        q += 1
    tl.store(sum_ptr + g, acc, mask=gm)


@triton.jit
def select_ptr_kernel(x_ptr, y_ptr, out_ptr, out2_ptr, out3_ptr, n, flag, BLOCK: tl.constexpr):
    """tl.where between pointers (arith.select of pointers): per element between two arguments, within one
    argument, between two scalar pointers, and as a store's destination; pointers into different arguments
    out of an `if` on a runtime flag (scf.if results)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    c = (offs % 3) == 0
    v = tl.load(tl.where(c, x_ptr + offs, y_ptr + (n - 1 - offs)), mask=m, other=0.0)
    w = tl.load(tl.where(c, x_ptr + offs, x_ptr + (n - 1 - offs)), mask=m, other=0.0)
    s = tl.where(flag > 0, x_ptr, y_ptr)
    tl.store(out_ptr + offs, v + tl.load(s + offs, mask=m, other=0.0), mask=m)
    tl.store(out2_ptr + offs, w, mask=m)
    tl.store(tl.where(c, out2_ptr + offs, out_ptr + offs), w * 0.0 + 1.0, mask=m & (offs % 7 == 0))
    if flag > 0:
        pa = x_ptr + offs
        sa = y_ptr + 3
    else:
        pa = y_ptr + (n - 1 - offs)
        sa = x_ptr + 5
    tl.store(out3_ptr + offs, tl.load(pa, mask=m, other=0.0) + tl.load(sa), mask=m)


@triton.jit
def ping_pong_kernel(a_ptr, b_ptr, n, steps, BLOCK: tl.constexpr):
    """Two buffers swapped every iteration (loop-carried pointers that switch arguments): each step reads
    one and writes the other, scalar pointers and pointer blocks."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    src = a_ptr
    dst = b_ptr
    ps = a_ptr + offs
    pd = b_ptr + offs
    for i in range(steps):
        x = tl.load(ps, mask=m, other=0.0)
        tl.store(pd, x * 0.5 + tl.load(src + 0) * 0.0 + i, mask=m)
        tmp = ps
        ps = pd
        pd = tmp
        t = src
        src = dst
        dst = t
