"""The real-model corpus (issue 12): small random-init `transformers` models and torchvision-style CNNs.

No downloads: every transformers model is built from a config with a seeded init. Sizes are small and odd
(2 layers, hidden 32-64, vocab 97, sequence 7 or 13, images 32x32) so that a compile takes seconds, not minutes.
The CNNs (ResNet-18-style, MobileNetV3-style) are written here: torchvision does not install with the CPU torch.

An entry's `make(tensor_only)` returns (model.eval(), example inputs). The model takes its inputs positionally
(`Corpus` wraps a transformers model, which takes keywords); with `tensor_only=True` it returns the comparable
tensor (logits / last_hidden_state) itself, otherwise the model's own output (a ModelOutput) and
`extract(output)` picks the tensor. `inputs(gen)` draws fresh inputs of the example's shapes and dtypes.
Importing this module imports torch; transformers is imported by the builders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

VOCAB = 97
SEED = 1234


# --------------------------------------------------------------------------------------------- input specs

@dataclass(frozen=True)
class Ids:
    """int64 token ids in [0, high)."""
    shape: tuple
    high: int = VOCAB

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(0, self.high, self.shape, generator=gen, dtype=torch.int64)


@dataclass(frozen=True)
class Mask:
    """int64 attention mask: ones with a random-length padded tail per row (at least one token kept)."""
    shape: tuple

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        b, t = self.shape
        keep = torch.randint(max(1, t // 2), t + 1, (b, 1), generator=gen)
        return (torch.arange(t).unsqueeze(0) < keep).to(torch.int64)


@dataclass(frozen=True)
class Image:
    """f32 N(0, 1) pixels."""
    shape: tuple

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(self.shape, generator=gen, dtype=torch.float32)


class Corpus(nn.Module):
    """A transformers model called with positional tensors (bound to `keys`); `extract` applied in forward
    when set (then the model returns one tensor)."""

    def __init__(self, model: nn.Module, keys: tuple, extract: Callable | None = None, **fixed):
        super().__init__()
        self.model, self.keys, self.extract, self.fixed = model, keys, extract, fixed

    def forward(self, *tensors):
        out = self.model(**dict(zip(self.keys, tensors)), **self.fixed)
        return self.extract(out) if self.extract is not None else out


@dataclass(frozen=True)
class Entry:
    name: str
    build: Callable[[], tuple]          # () -> (nn.Module (kwargs-taking for HF), keys, fixed kwargs)
    specs: tuple                        # input specs, in `keys` order
    extract: Callable                   # model output -> the comparable tensor
    family: str = "transformers"

    def make(self, tensor_only: bool = True):
        """(model.eval(), example inputs); seeded: the same weights every call."""
        torch.manual_seed(SEED)
        m, keys, fixed = self.build()
        model = Corpus(m.eval(), keys, self.extract if tensor_only else None, **fixed) if keys else m.eval()
        return model.eval(), self.inputs(torch.Generator().manual_seed(SEED))

    def inputs(self, gen: torch.Generator) -> tuple:
        return tuple(s.draw(gen) for s in self.specs)


def _logits(o):
    return o.logits if hasattr(o, "logits") else o[0]


def _hidden(o):
    return o.last_hidden_state if hasattr(o, "last_hidden_state") else o[0]


def _ident(o):
    return o


def _hf(cls_name: str, cfg_name: str, keys=("input_ids", "attention_mask"), **cfg):
    def build():
        import transformers
        config = getattr(transformers, cfg_name)(**cfg)
        model = getattr(transformers, cls_name)(config)
        fixed = {"use_cache": False} if "use_cache" in model.forward.__code__.co_varnames else {}
        return model, keys, fixed
    return build


# Shared small sizes: 2 layers, hidden 48 (heads 4 of 12, or 3 of 16), MLP 88, sequence 13 (7 for T5/BART).
_DEC = dict(vocab_size=VOCAB, hidden_size=48, intermediate_size=88, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=64)


def _cnn(cls):
    def build():
        return cls(), (), {}
    return build


# ------------------------------------------------------------------------------------------------ the CNNs

class BasicBlock(nn.Module):
    """ResNet BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, identity or 1x1-conv-BN shortcut, ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """ResNet-18's layout (stem, 4 stages of 2 BasicBlocks, global pool, fc) at width `w`, for 32x32 inputs."""

    def __init__(self, w=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers, cin = [], w
        for i, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
            layers += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, max(8, c // r), 1), nn.Conv2d(max(8, c // r), c, 1)

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand-BN-act, depthwise kxk-BN-act, optional squeeze-excite, 1x1 project-BN."""

    def __init__(self, cin, exp, cout, k, stride, se, hs):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers = []
        if exp != cin:
            layers += [nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act()]
        layers += [nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False), nn.BatchNorm2d(exp), act()]
        if se:
            layers.append(SqueezeExcite(exp))
        layers += [nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y


class MobileNetV3(nn.Module):
    """MobileNetV3-Small's block pattern (hardswish, depthwise 3x3/5x5, squeeze-excite) at small width."""

    CFG = ((16, 16, 16, 3, 2, True, False), (16, 40, 24, 3, 2, False, False), (24, 56, 24, 3, 1, False, False),
           (24, 72, 40, 5, 2, True, True), (40, 120, 40, 5, 1, True, True), (40, 96, 48, 5, 1, True, True))

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(*(InvertedResidual(*c) for c in self.CFG))
        self.head = nn.Sequential(nn.Conv2d(48, 96, 1, bias=False), nn.BatchNorm2d(96), nn.Hardswish())
        self.classifier = nn.Sequential(nn.Linear(96, 64), nn.Hardswish(), nn.Linear(64, classes))

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial eval-mode BatchNorm statistics (fresh ones are 0/1, which hides folding errors)."""
    g = torch.Generator().manual_seed(SEED)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            with torch.no_grad():
                m.weight.copy_(1 + 0.1 * torch.randn(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model


def resnet18():
    return _randomize_bn(ResNet18())


def mobilenet_v3():
    return _randomize_bn(MobileNetV3())


# ----------------------------------------------------------------------------------------------- the corpus

_B, _T = 2, 13
_IDS, _MASK = Ids((_B, _T)), Mask((_B, _T))

CORPUS: dict[str, Entry] = {e.name: e for e in (
    Entry("gpt2", _hf("GPT2LMHeadModel", "GPT2Config", vocab_size=VOCAB, n_embd=48, n_layer=2, n_head=4,
                      n_positions=64, bos_token_id=0, eos_token_id=0), (_IDS, _MASK), _logits),
    Entry("bert", _hf("BertModel", "BertConfig", **_DEC), (_IDS, _MASK), _hidden),
    Entry("distilbert", _hf("DistilBertModel", "DistilBertConfig", vocab_size=VOCAB, dim=48, hidden_dim=88,
                            n_layers=2, n_heads=4, max_position_embeddings=64), (_IDS, _MASK), _hidden),
    Entry("llama", _hf("LlamaForCausalLM", "LlamaConfig", **_DEC, num_key_value_heads=2), (_IDS, _MASK), _logits),
    Entry("mistral", _hf("MistralForCausalLM", "MistralConfig", **_DEC, num_key_value_heads=2, sliding_window=None),
          (_IDS, _MASK), _logits),
    Entry("qwen2", _hf("Qwen2ForCausalLM", "Qwen2Config", **_DEC, num_key_value_heads=2), (_IDS, _MASK), _logits),
    Entry("gemma", _hf("GemmaForCausalLM", "GemmaConfig", **_DEC, num_key_value_heads=1, head_dim=12),
          (_IDS, _MASK), _logits),
    Entry("phi", _hf("PhiForCausalLM", "PhiConfig", **_DEC), (_IDS, _MASK), _logits),
    Entry("t5_encoder", _hf("T5EncoderModel", "T5Config", vocab_size=VOCAB, d_model=48, d_kv=12, d_ff=88,
                            num_layers=2, num_heads=4), (Ids((_B, 7)), Mask((_B, 7))), _hidden),
    Entry("bart_encoder", lambda: _bart_encoder(), (Ids((_B, 7)), Mask((_B, 7))), _hidden),
    Entry("vit", _hf("ViTModel", "ViTConfig", keys=("pixel_values",), hidden_size=48, intermediate_size=88,
                     num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8, num_channels=3),
          (Image((_B, 3, 32, 32)),), _hidden),
    Entry("resnet18", _cnn(resnet18), (Image((_B, 3, 32, 32)),), _ident, family="cnn"),
    Entry("mobilenet_v3", _cnn(mobilenet_v3), (Image((_B, 3, 32, 32)),), _ident, family="cnn"),
)}


def _bart_encoder():
    """BART's encoder alone (what an encoder-only user compiles): BartModel(...).get_encoder()."""
    import transformers
    cfg = transformers.BartConfig(vocab_size=VOCAB, d_model=48, encoder_layers=2, decoder_layers=1,
                                  encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=88,
                                  decoder_ffn_dim=88, max_position_embeddings=64)
    return transformers.BartModel(cfg).get_encoder(), ("input_ids", "attention_mask"), {}


def compile_time_model(name: str, hidden: int = 128, layers: int = 2):
    """The compile-time benchmark's models (bench/compile_time.py): GPT-2 / LLaMA at hidden 128, 2 layers,
    returning logits; (model, example inputs)."""
    import transformers
    torch.manual_seed(SEED)
    if name == "gpt2":
        m = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=VOCAB, n_embd=hidden, n_layer=layers,
                                                                 n_head=4, n_positions=64, bos_token_id=0,
                                                                 eos_token_id=0))
    elif name == "llama":
        m = transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden + 8, num_hidden_layers=layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))
    else:
        raise KeyError(name)
    model = Corpus(m.eval(), ("input_ids", "attention_mask"), _logits, use_cache=False).eval()
    gen = torch.Generator().manual_seed(SEED)
    return model, (_IDS.draw(gen), _MASK.draw(gen))


# ------------------------------------------------------------------------ other sizes (hexmlir bench models)

def hf_builder(cls_name: str, cfg_name: str, keys=("input_ids", "attention_mask")):
    """(**config) -> an `Entry.build` of transformers' `cls_name` from `cfg_name(**config)` (the corpus's own
    builder at other sizes: kernels/torch_models.py's bench models)."""
    return lambda **cfg: _hf(cls_name, cfg_name, keys, **cfg)


def cnn_builder(cls):
    """(**kwargs) -> an `Entry.build` of the CNN `cls(**kwargs)` with randomized BatchNorm statistics."""
    return lambda **kw: _cnn(lambda: _randomize_bn(cls(**kw)))


# ------------------------------------------------------------------------------------ one case, checked

ENTRIES = ("compile_model", "torch.compile")


def check(name: str, entry: str, seed: int = 0, calls: int = 2, strict: bool = False) -> dict:
    """Compile corpus model `name` through `entry` (compile_model or torch.compile, dynamic=False) and compare
    with eager (no_grad) on `calls` fresh seeded inputs; the weights and buffers must come out unchanged
    (`weights_written` names those that did not). Returns status ("pass", "wrong" or "error"), max_rel
    (max |got - ref| / max |ref| over the calls), fallbacks (FallbackWarning texts), compiled (compile_model),
    graphs (torch.compile: how many graphs Dynamo compiled; more than 1 means graph breaks),
    compile_s (compile_model, or torch.compile's first call), error (first line). `strict=True` (no fallback,
    no partitioning: the first typed error) says quickly why a model is not compiled whole."""
    import time
    import traceback
    import warnings

    import hexmlir
    from hexmlir.frontends.torch import FallbackWarning
    e = CORPUS[name]
    model, example = e.make()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = {"model": name, "entry": entry, "seed": seed, "strict": strict, "status": "error", "max_rel": None, "fallbacks": [],
           "compiled": None, "graphs": None, "compile_s": None, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            t0 = time.perf_counter()
            if entry == "compile_model":
                c = hexmlir.compile_model(model, example, strict=strict)
                res["compiled"] = c.compiled
            elif entry == "torch.compile":
                from hexmlir.frontends.torch import make_backend
                from torch._dynamo.utils import counters
                torch._dynamo.reset()
                counters.clear()
                c = torch.compile(model, backend=make_backend(strict=True) if strict else "hexmlir", dynamic=False)
                with torch.no_grad():
                    c(*example)
                # a graph break runs the code between graphs eagerly, without a FallbackWarning
                res["graphs"] = counters["stats"]["unique_graphs"]
            else:
                raise ValueError(f"entry {entry!r}: one of {ENTRIES}")
            res["compile_s"] = round(time.perf_counter() - t0, 2)
            gen, worst = torch.Generator().manual_seed(seed), 0.0
            ok = True
            for _ in range(calls):
                x = e.inputs(gen)
                with torch.no_grad():
                    ref, got = model(*x), c(*x)
                if not isinstance(got, torch.Tensor) or got.shape != ref.shape or got.dtype != ref.dtype:
                    raise AssertionError(f"result {type(got).__name__} {getattr(got, 'shape', '')} "
                                         f"{getattr(got, 'dtype', '')}, eager {tuple(ref.shape)} {ref.dtype}")
                scale = float(ref.abs().max())
                err = float((got - ref).abs().max())
                worst = max(worst, err / max(scale, 1e-30))
                ok &= bool(torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * scale)) and bool(torch.isfinite(got).all())
            res["max_rel"] = worst
            # a kernel that writes a weight (issue 12 item 7) stays hidden from the comparison: eager reads the
            # drifted weight too
            res["weights_written"] = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
            res["status"] = "pass" if ok and not res["weights_written"] else "wrong"
        except Exception as ex:                                  # reported, not raised: this is a survey
            ex = getattr(ex, "inner_exception", None) or ex     # Dynamo's BackendCompilerFailed wraps the error
            lines = str(ex).strip().splitlines()
            res["error"] = f"{type(ex).__name__}: {lines[0][:240] if lines else ''}"
            res["traceback"] = traceback.format_exc()[-3000:]
    res["fallbacks"] = [str(w.message)[:400] for w in caught if issubclass(w.category, FallbackWarning)]
    return res


if __name__ == "__main__":       # python -m hexmlir.kernels.model_corpus NAME ENTRY [SEED] [strict]: one JSON line
    import json
    import sys
    print(json.dumps(check(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0,
                           strict=sys.argv[4:5] == ["strict"])))
