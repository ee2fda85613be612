"""Transformer encoders' checked gathers cost their work once (transforms/asserts.py, invariants.py):
- BERT's embeddings (word + position + token type, each gather with torch-mlir's cf.assert) before LayerNorm:
  tcm-tiling's per-consumer clones of the gather are merged (CSE keeps them: the assert is a side effect), and
  neither the unfused originals nor the fused producer's original outside the tile loop run;
- T5's relative-position bias over (batch, head, query, key): its bucket (a log) is computed once per
  (query, key) pair by hoist-invariants, the gather and the padding mask stay per element.
Outputs against PyTorch on fresh random inputs; a bad token id still raises."""
import math
import re

import numpy as np
import pytest
import torch

import hexmlir
from conftest import current_seed
from hexmlir.errors import KernelAssertionError

VOCAB, HID, B, S = 43, 45, 3, 37


class Embed(torch.nn.Module):
    """BERT's embeddings: word + position + token type, then LayerNorm."""

    def __init__(self):
        super().__init__()
        self.word = torch.nn.Embedding(VOCAB, HID)
        self.pos = torch.nn.Embedding(S, HID)
        self.tok = torch.nn.Embedding(2, HID)
        self.ln = torch.nn.LayerNorm(HID)
        self.register_buffer("pos_ids", torch.arange(S).unsqueeze(0), persistent=False)
        self.register_buffer("tok_ids", torch.zeros(1, S, dtype=torch.long), persistent=False)

    def forward(self, ids):
        x = self.word(ids) + self.tok(self.tok_ids.expand(ids.shape[0], -1)) + self.pos(self.pos_ids)
        return self.ln(x)


def _model(cls, seed):
    torch.manual_seed(seed)
    return cls().eval()


@pytest.mark.parametrize("threads", [1, 4])
def test_embedding_layernorm_matches_torch_and_checks(threads):
    seed = current_seed() % 2**31
    m = _model(Embed, seed)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (B, S), generator=g)
    c = hexmlir.compile_model(m, ids, num_threads=threads, mt_threshold=1)
    assert c.compiled, (seed, c.eager_reason)
    for _ in range(2):
        x = torch.randint(0, VOCAB, (B, S), generator=g)
        with torch.no_grad():
            np.testing.assert_allclose(c(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed={seed}")
    bad = ids.clone()
    bad[2, 36] = VOCAB + 3
    with pytest.raises(KernelAssertionError, match="index must be smaller than dim size"):
        c(bad)


def test_embedding_gather_runs_once_per_element():
    """After tcm-tiling: one generic gathers from the word table, inside the tile loop (before: the unfused
    originals, one clone per LayerNorm consumer in the tile, and the fused original outside the loop)."""
    from hexmlir import opt
    from hexmlir.frontends.torch.backend import model_linalg
    m = _model(Embed, current_seed() % 2**31)
    text = model_linalg(m, (torch.randint(0, VOCAB, (B, S)),))
    ir = opt.run_stages(text, "check-input..tcm-tiling", {"num_threads": 4, "mt_threshold": 1})
    body = ir.split("func.func", 1)[1]
    gens = body.split("linalg.generic")[1:]
    word = [x for x in gens if re.search(rf"tensor\.extract [^\n]*tensor<{VOCAB}x{HID}xf32>", x.split("linalg.yield")[0])]
    assert len(word) == 1, f"{len(word)} generics gather from the word table"
    loop = body.split("scf.forall", 1)
    assert len(loop) == 2 and word[0] in loop[1], "the gather runs inside the tile loop"


H, NB, MAXD = 3, 12, 20          # heads, buckets, max distance (T5: 32 buckets, 128)


class RelBias(torch.nn.Module):
    """T5's bidirectional relative-position bucket -> per-head bias, plus the padding mask (-inf-like)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(NB, H)

    def forward(self, scores, mask):
        q = torch.arange(S)[:, None]
        k = torch.arange(S)[None, :]
        rel = k - q
        half = NB // 2
        bucket = (rel > 0).to(torch.long) * half
        rel = rel.abs()
        exact = half // 2
        large = exact + (torch.log(rel.float() / exact) / math.log(MAXD / exact) * (half - exact)).to(torch.long)
        large = torch.min(large, torch.full_like(large, half - 1))
        bucket = bucket + torch.where(rel < exact, rel, large)
        bias = self.emb(bucket).permute(2, 0, 1).unsqueeze(0)              # 1, H, S, S
        keep = mask[:, None, None, :].to(torch.bool)
        bias = bias.masked_fill(~keep, torch.finfo(torch.float32).min)
        return torch.softmax(scores + bias, dim=-1)


def test_relative_position_bias_matches_torch():
    seed = current_seed() % 2**31
    m = _model(RelBias, seed)
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(B, H, S, S, generator=g)
    mask = (torch.rand(B, S, generator=g) > 0.2).to(torch.long)
    mask[:, 0] = 1
    c = hexmlir.compile_model(m, (scores, mask), num_threads=4, mt_threshold=1)
    assert c.compiled, (seed, c.eager_reason)
    with torch.no_grad():
        np.testing.assert_allclose(c(scores, mask).numpy(), m(scores, mask).numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"seed={seed}")


def test_relative_position_bucket_once_per_pair():
    from hexmlir import opt
    from hexmlir.frontends.torch.backend import model_linalg
    m = _model(RelBias, current_seed() % 2**31)
    text = model_linalg(m, (torch.randn(B, H, S, S), torch.ones(B, S, dtype=torch.long)))
    ir = opt.run_stages(text, "check-input..hoist-invariants", {"num_threads": 1})
    gens = ir.split("func.func", 1)[1].split("linalg.generic")[1:]
    logs = [x for x in gens if "math.log" in x.split("linalg.yield")[0]]
    assert logs, "no generic computes the log"
    for x in logs:
        head = x.split("^bb0")[0]
        assert re.search(rf"outs\([^)]*tensor<{S}x{S}xi64>", head), \
            f"the log runs over more than (query, key): {head[:300]}"


class KeyT(torch.nn.Module):
    """Attention's K^T as the encoders import it: (x W^T + b) viewed [b, s, h, d], scaled and permuted to
    [b, h, d, s] (an element-wise op reading its input transposed, with the bias broadcast along the rows)."""

    def __init__(self, h, d):
        super().__init__()
        self.h, self.d = h, d
        self.k = torch.nn.Linear(h * d, h * d)

    def forward(self, x):
        b, s, _ = x.shape
        return (self.k(x).view(b, s, self.h, self.d) * 0.125).permute(0, 2, 3, 1).contiguous()


@pytest.mark.parametrize("s,h,d,threads", [(37, 3, 21, 1), (128, 2, 64, 3), (40, 1, 16, 1)])
def test_transposing_elementwise_matches_torch(s, h, d, threads):
    seed = current_seed() % 2**31
    torch.manual_seed(seed)
    m = KeyT(h, d).eval()
    x = torch.randn(2, s, h * d)
    c = hexmlir.compile_model(m, x, num_threads=threads, mt_threshold=1)
    assert c.compiled, (seed, c.eager_reason)
    with torch.no_grad():
        np.testing.assert_allclose(c(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed={seed}")


def test_transposing_elementwise_is_blocked(tmp_path):
    """The transposed read goes in lanes x lanes blocks (read row by row, transposed in registers), not one
    strided gather per output vector (BERT's K^T: 71 -> 39 us a layer at 1 thread, Zen 4)."""
    from hexmlir import opt
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir.targets import host_target
    t = host_target()
    if not t.fma:
        pytest.skip("no FMA on this host: no contract stage")
    lanes = t.vector_lanes(4)
    torch.manual_seed(current_seed() % 2**31)
    text = model_linalg(KeyT(2, 64).eval(), (torch.randn(2, 128, 128),))
    ir = opt.run_stages(text, "check-input..contract", {"num_threads": 1})
    # (the Linear's B^T panel packing has blocks of its own, rank 2: the [b, h, d, s] result's are rank 4)
    assert re.search(rf"vector\.transfer_write [^\n]*vector<1x1x{lanes}x{lanes}xf32>", ir), \
        "the transposed result is not written in lanes x lanes blocks"
