"""Gather: embedding lookup, one token per program and a block of tokens per program."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randint, randn


@triton.jit
def embedding_kernel(ids_ptr, table_ptr, out_ptr, D, stride_table, stride_out, BLOCK_D: tl.constexpr):
    tok = tl.program_id(0)
    idx = tl.load(ids_ptr + tok)
    for off in range(0, D, BLOCK_D):
        cols = off + tl.arange(0, BLOCK_D)
        mask = cols < D
        row = tl.load(table_ptr + idx * stride_table + cols, mask=mask)
        tl.store(out_ptr + tok * stride_out + cols, row, mask=mask)


def embedding(ids, table, **kw):
    T = ids.shape[0]
    D = table.shape[1]
    out = torch.empty((T, D), dtype=table.dtype)
    embedding_kernel[(T,)](ids, table, out, D, table.stride(0), out.stride(0), BLOCK_D=128, **kw)
    return out


@triton.jit
def embedding_block_kernel(ids_ptr, table_ptr, out_ptr, n_tokens, D, stride_table, stride_out,
                           BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr):
    # a data-dependent 2-D gather: row addresses come from a loaded vector of ids
    toks = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    tmask = toks < n_tokens
    ids = tl.load(ids_ptr + toks, mask=tmask, other=0)
    mask = tmask[:, None] & (cols[None, :] < D)
    rows = tl.load(table_ptr + ids[:, None] * stride_table + cols[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + toks[:, None] * stride_out + cols[None, :], rows, mask=mask)


def embedding_block(ids, table, **kw):
    T = ids.shape[0]
    D = table.shape[1]
    out = torch.empty((T, D), dtype=table.dtype)
    grid = lambda meta: (triton.cdiv(T, meta["BLOCK_T"]), triton.cdiv(D, meta["BLOCK_D"]))
    embedding_block_kernel[grid](ids, table, out, T, D, table.stride(0), out.stride(0),
                                 BLOCK_T=8, BLOCK_D=64, **kw)
    return out


def _inputs(g, size, dt):
    T, V, D = size
    return randint(g, (T,), 0, V, torch.int64), randn(g, (V, D), dt)


def _ref(ids, table):
    return torch.nn.functional.embedding(ids, table)


ENTRIES = [
    Entry("embedding", "gather", embedding_kernel, embedding, _ref, _inputs, sizes=[(17, 50, 100), (40, 1000, 300)],
          bench_size=(4096, 32000, 4096), doc="exact: out[t] = table[ids[t]], one token per program; (T, V, D)"),
    Entry("embedding_block", "gather", embedding_block_kernel, embedding_block, _ref, _inputs,
          sizes=[(17, 50, 100), (45, 1000, 129)], bench_size=(4096, 32000, 4096),
          doc="exact: 8 tokens x 64 columns per program, ids loaded as a vector (2-D gather)"),
]
