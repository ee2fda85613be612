"""The PyTorch models of the frontend tests (tests/test_torch_frontend.py) and of `hexmlir bench models`.

Each has a test size (tiny, odd: not multiples of the vector width) and a bench size (one eager call of
roughly 1-10 ms on one core). Importing this module imports torch (the model classes subclass nn.Module).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


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


MODELS = {s.name: s for s in (
    ModelSpec("mlp", "MLP Linear-GELU-Linear", MLP, ({}, (5, 19)), ({"d": 256, "h": 1024}, (256, 256))),
    ModelSpec("rmsnorm_swiglu", "RMSNorm + SwiGLU", RMSNormSwiGLU, ({}, (2, 3, 19)),
              ({"d": 256, "h": 704}, (2, 128, 256))),
    ModelSpec("convnet", "conv net (conv3x3-ReLU-maxpool-linear)", ConvNet, ({}, (2, 3, 11, 11)),
              ({"hw": 58, "cin": 16, "cout": 32}, (4, 16, 58, 58))),
    ModelSpec("block", "GPT-2 style transformer block", Block, ({}, (2, 5, 24)),
              ({"d": 256, "heads": 4, "h": 1024}, (2, 128, 256))),
)}
