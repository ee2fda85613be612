"""The PyTorch models of the frontend tests (tests/test_torch_frontend.py) and of `hexmlir bench models`.

Each has a test size (tiny, odd: not multiples of the vector width) and a bench size (one eager call of
roughly 1-20 ms on one core). `MODELS` holds the synthetic models written here (`ModelSpec`), `CORPUS_MODELS`
real models of the model corpus (`CorpusSpec`: transformers GPT-2, LLaMA, ViT and the ResNet-18-style CNN, built
by `kernels.model_corpus`'s builders at bench sizes; their test size is the corpus's own entry), `ALL_MODELS`
both. A spec's
`make(size)` builds the model (eval mode, seeded init), `example(size)` gives (model, example inputs).
Importing this module imports torch (the model classes subclass nn.Module); transformers is imported by the
corpus builders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import model_corpus as mc


class MLP(torch.nn.Module):
    def __init__(self, d=19, h=45):
        super().__init__()
        self.l1, self.act, self.l2 = torch.nn.Linear(d, h), torch.nn.GELU(), torch.nn.Linear(h, d)

    def forward(self, x):
        return self.l2(self.act(self.l1(x)))


class RMSNormSwiGLU(torch.nn.Module):
    def __init__(self, d=19, h=27, eps=1e-6):
        super().__init__()
        self.w = torch.nn.Parameter(1 + 0.1 * torch.randn(d))
        self.eps = eps
        self.gate = torch.nn.Linear(d, h, bias=False)
        self.up = torch.nn.Linear(d, h, bias=False)
        self.down = torch.nn.Linear(h, d, bias=False)

    def forward(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w
        return x + self.down(torch.nn.functional.silu(self.gate(y)) * self.up(y))


class Block(torch.nn.Module):
    """GPT-2 style: LayerNorm, multi-head attention with softmax, residuals, tanh-GELU MLP."""
    def __init__(self, d=24, heads=3, h=40):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.qkv, self.proj = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
        self.fc, self.out = torch.nn.Linear(d, h), torch.nn.Linear(h, d)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2)
                   for t in self.qkv(self.ln1(x)).split(C, dim=2))
        a = torch.softmax(q @ k.transpose(-2, -1) / (C // self.heads) ** 0.5, dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + self.out(torch.nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class ConvNet(torch.nn.Module):
    def __init__(self, padding=0, hw=11, cin=3, cout=8, classes=10):
        super().__init__()
        self.conv, self.pool = torch.nn.Conv2d(cin, cout, 3, padding=padding), torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(cout * ((hw + 2 * padding - 2) // 2) ** 2, classes)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


@dataclass(frozen=True)
class ModelSpec:
    """A model at two sizes: `make(size)` builds it (eval mode), `shape(size)` is its input's shape."""
    name: str
    label: str
    cls: type
    test: tuple                         # (constructor kwargs, input shape)
    bench: tuple

    def sizes(self, size: str) -> tuple:
        return {"test": self.test, "bench": self.bench}[size]

    def make(self, size: str = "test"):
        return self.cls(**self.sizes(size)[0]).eval()

    def shape(self, size: str = "test") -> tuple:
        return tuple(self.sizes(size)[1])

    def example(self, size: str = "test", seed: int = 1234) -> tuple:
        """(model, (input,)): the model and an N(0, 1) f32 input, both from torch's global generator seeded."""
        torch.manual_seed(seed)
        m = self.make(size)
        return m, (torch.randn(*self.shape(size)),)


@dataclass(frozen=True)
class CorpusSpec:
    """A model of the model corpus at a bench size: `build(**config)` is a model_corpus builder factory
    (`hf_builder`, `cnn_builder`), `bench` = (config kwargs, input specs: model_corpus Ids / Mask / Image);
    `test` is the corpus's own entry (tiny, odd sizes). The model takes its inputs positionally and returns one
    tensor (`extract` of the transformers output)."""
    name: str
    label: str
    build: Callable
    extract: Callable
    bench: tuple
    test: str                           # model_corpus.CORPUS name
    family: str = "transformers"
    weights_of: str | None = None       # a spec with the same weights (same config, same seed): its npz is reused

    def entry(self, size: str = "test") -> "mc.Entry":
        if size == "test":
            e = mc.CORPUS[self.test]
            return e if len(self.bench[1]) == len(e.specs) else mc.Entry(
                self.name, e.build, e.specs[:len(self.bench[1])], e.extract, e.family)
        cfg, specs = self.bench
        return mc.Entry(self.name, self.build(**cfg), tuple(specs), self.extract, self.family)

    def make(self, size: str = "test"):
        return self.entry(size).make()[0]

    def example(self, size: str = "test", seed: int = 1234) -> tuple:
        """(model, inputs): model_corpus's seeded init and seeded inputs (`seed` unused: the corpus's SEED)."""
        return self.entry(size).make()


MODELS = {s.name: s for s in (
    ModelSpec("mlp", "MLP Linear-GELU-Linear", MLP, ({}, (5, 19)), ({"d": 256, "h": 1024}, (256, 256))),
    ModelSpec("rmsnorm_swiglu", "RMSNorm + SwiGLU", RMSNormSwiGLU, ({}, (2, 3, 19)),
              ({"d": 256, "h": 704}, (2, 128, 256))),
    ModelSpec("convnet", "conv net (conv3x3-ReLU-maxpool-linear)", ConvNet, ({}, (2, 3, 11, 11)),
              ({"hw": 58, "cin": 16, "cout": 32}, (4, 16, 58, 58))),
    ModelSpec("block", "GPT-2 style transformer block", Block, ({}, (2, 5, 24)),
              ({"d": 256, "heads": 4, "h": 1024}, (2, 128, 256))),
)}

# Real models at bench sizes: 2 layers, hidden 256, 4 heads, batch 2, sequence 128 with a padding mask (int64
# ids, vocab 512), 64x64 images. Weights 1.7 M (GPT-2, LLaMA, ViT) and 0.7 M (ResNet-18 width 16) parameters:
# with route B's artifacts about 24 MiB for the four, carried to the device.
_VB, _SEQ = 512, (2, 128)
_TOK = (mc.Ids(_SEQ, _VB), mc.Mask(_SEQ))
CORPUS_MODELS = {s.name: s for s in (
    CorpusSpec("gpt2", "GPT-2 (transformers, LM head, padding mask)",
               mc.hf_builder("GPT2LMHeadModel", "GPT2Config"), mc._logits,
               (dict(vocab_size=_VB, n_embd=256, n_layer=2, n_head=4, n_positions=128, bos_token_id=0,
                     eos_token_id=0), _TOK), "gpt2"),
    CorpusSpec("gpt2_nomask", "GPT-2 (transformers, LM head, no mask)",
               mc.hf_builder("GPT2LMHeadModel", "GPT2Config", keys=("input_ids",)), mc._logits,
               (dict(vocab_size=_VB, n_embd=256, n_layer=2, n_head=4, n_positions=128, bos_token_id=0,
                     eos_token_id=0), _TOK[:1]), "gpt2", weights_of="gpt2"),
    CorpusSpec("llama", "LLaMA (transformers, GQA 4/2 heads, LM head, padding mask)",
               mc.hf_builder("LlamaForCausalLM", "LlamaConfig"), mc._logits,
               (dict(vocab_size=_VB, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128), _TOK), "llama"),
    CorpusSpec("vit", "ViT (transformers, patch 8, 64x64)",
               mc.hf_builder("ViTModel", "ViTConfig", keys=("pixel_values",)), mc._hidden,
               (dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                     image_size=64, patch_size=8, num_channels=3), (mc.Image((2, 3, 64, 64)),)), "vit"),
    CorpusSpec("resnet18", "ResNet-18 (width 16, 64x64)", mc.cnn_builder(mc.ResNet18), mc._ident,
               (dict(w=16), (mc.Image((2, 3, 64, 64)),)), "resnet18", family="cnn"),
)}
# The rest of the model corpus at the same sizes (`--models corpus`; not in DEFAULT: each adds an Inductor compile
# and ~7 MiB of weights to the device run)
_ENC = dict(vocab_size=_VB, hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=128)
_DEC = dict(_ENC, intermediate_size=688)
MORE_CORPUS = {s.name: s for s in (
    CorpusSpec("bert", "BERT (transformers, padding mask)", mc.hf_builder("BertModel", "BertConfig"), mc._hidden,
               (_ENC, _TOK), "bert"),
    CorpusSpec("distilbert", "DistilBERT (transformers, padding mask)",
               mc.hf_builder("DistilBertModel", "DistilBertConfig"), mc._hidden,
               (dict(vocab_size=_VB, dim=256, hidden_dim=1024, n_layers=2, n_heads=4, max_position_embeddings=128),
                _TOK), "distilbert"),
    CorpusSpec("mistral", "Mistral (transformers, GQA 4/2 heads, LM head, padding mask)",
               mc.hf_builder("MistralForCausalLM", "MistralConfig"), mc._logits,
               (dict(_DEC, num_key_value_heads=2, sliding_window=None), _TOK), "mistral"),
    CorpusSpec("qwen2", "Qwen2 (transformers, GQA 4/2 heads, LM head, padding mask)",
               mc.hf_builder("Qwen2ForCausalLM", "Qwen2Config"), mc._logits,
               (dict(_DEC, num_key_value_heads=2), _TOK), "qwen2"),
    CorpusSpec("gemma", "Gemma (transformers, MQA, LM head, padding mask)",
               mc.hf_builder("GemmaForCausalLM", "GemmaConfig"), mc._logits,
               (dict(_DEC, num_key_value_heads=1, head_dim=64), _TOK), "gemma"),
    CorpusSpec("phi", "Phi (transformers, partial rotary, LM head, padding mask)",
               mc.hf_builder("PhiForCausalLM", "PhiConfig"), mc._logits, (_DEC, _TOK), "phi"),
    CorpusSpec("t5_encoder", "T5 encoder (transformers, relative position bias, padding mask)",
               mc.hf_builder("T5EncoderModel", "T5Config"), mc._hidden,
               (dict(vocab_size=_VB, d_model=256, d_kv=64, d_ff=1024, num_layers=2, num_heads=4), _TOK), "t5_encoder"),
    CorpusSpec("mobilenet_v3", "MobileNetV3-Small pattern (depthwise, squeeze-excite, 64x64)",
               mc.cnn_builder(mc.MobileNetV3), mc._ident, ({}, (mc.Image((2, 3, 64, 64)),)), "mobilenet_v3",
               family="cnn"),
)}
#: every model `hexmlir bench models` knows (MODELS alone: the synthetic ones, which the frontend tests use)
ALL_MODELS = {**MODELS, **CORPUS_MODELS, **MORE_CORPUS}
#: what `hexmlir bench models` builds and runs without --models (gpt2_nomask: on request, it adds device time)
DEFAULT = tuple(n for n in {**MODELS, **CORPUS_MODELS} if n != "gpt2_nomask")
#: names `--models` also takes: a group of models
GROUPS = {"default": DEFAULT, "corpus": tuple(n for n in {**CORPUS_MODELS, **MORE_CORPUS} if n != "gpt2_nomask")}

