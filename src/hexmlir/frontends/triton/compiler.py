"""The Triton backend: triton's TTIR passes -> hexmlir.conversion (Linalg) -> hexmlir pipeline -> artifact.

Stages (triton runs them in order, caching each one's text under TRITON_CACHE_DIR):
  ttir     triton's own TTIR clean-up (inline, canonicalize, combine, CSE, loop unroll)
  linalg   hexmlir.conversion.convert_ttir: the whole grid as one Linalg function
  hexmlir  hexmlir.driver.compile (cached on disk by hexmlir); the binary is a small JSON payload naming the
           artifact's kernel.json, with the Linalg text so a cleared hexmlir cache is rebuilt, not broken.
"""
from __future__ import annotations

import json
import linecache
import re

from triton.backends.compiler import BaseBackend, GPUTarget, Language

from ...errors import HexmlirError, UnsupportedError
from . import options as hopts

BINARY_EXT = "hexmlir"


def _source_line(loc: str | None) -> str:
    """'file.py:12:8' -> the text of that line, for error messages."""
    if not loc:
        return ""
    m = re.match(r"^(.*?):(\d+)(?::\d+)?$", loc.strip().strip('"'))
    if not m:
        return ""
    line = linecache.getline(m.group(1), int(m.group(2))).strip()
    return f"\n    {m.group(2)} | {line}" if line else ""


def _ttir_text(mod) -> str:
    """TTIR with locations (the conversion reports unsupported ops at their Python source line), printed the
    way the conversion reads it."""
    try:
        from ...conversion import ttir_text
    except ImportError:             # conversion not importable: triton's own printer (with locations)
        return mod.str()
    return ttir_text(mod)


class HexmlirBackend(BaseBackend):
    binary_ext = BINARY_EXT

    @staticmethod
    def supports_target(target: GPUTarget):
        return target.backend == "cpu"

    def __init__(self, target: GPUTarget) -> None:
        super().__init__(target)
        self.binary_ext = BINARY_EXT

    def hash(self) -> str:
        import triton
        from ... import cache
        # hexmlir's sources are part of the key: a compiler change must not reuse triton-cached payloads.
        return f"hexmlir-{cache._sources_hash()}-triton-{triton.__version__}-{self.target.arch}"

    def parse_options(self, opts: dict) -> hopts.HexmlirTritonOptions:
        return hopts.parse(opts)

    def pack_metadata(self, metadata):
        return (metadata.name, )

    def get_codegen_implementation(self, options):
        # Any dot shape is fine for us (no tensor-core minimum).
        return {"min_dot_size": lambda lhs_type, rhs_type: (1, 1, 1)}

    def get_module_map(self):
        from . import libdevice
        return {"triton.language.extra.libdevice": libdevice}

    def load_dialects(self, context):
        pass

    # ---- stages -----------------------------------------------------------------------------------------

    def add_stages(self, stages, options, language):
        if language != Language.TRITON:
            raise UnsupportedError("hexmlir's Triton backend compiles Triton kernels only (not Gluon)",
                                   stage="triton-frontend")
        stages["ttir"] = lambda src, metadata: self.make_ttir(src, metadata, options)
        stages["linalg"] = lambda src, metadata: self.make_linalg(src, metadata, options)
        stages[BINARY_EXT] = lambda src, metadata: self.make_artifact(src, metadata, options)

    def _fix_metadata(self, metadata):
        # Triton merges options.__dict__ into the metadata, so our `target` option ("host"/"hexagon") overwrote
        # the GPUTarget that CompiledKernel reads back. Restore it; keep ours under its own key.
        if not isinstance(metadata.get("target"), GPUTarget):
            metadata["hexmlir_target"] = metadata["target"]
            metadata["target"] = self.target

    def make_ttir(self, mod, metadata, opt):
        from triton._C.libtriton import ir, passes
        self._fix_metadata(metadata)
        pm = ir.pass_manager(mod.context)
        pm.enable_debug()
        passes.common.add_inliner(pm)
        passes.ttir.add_rewrite_tensor_descriptor_to_pointer(pm)
        passes.common.add_canonicalizer(pm)
        passes.ttir.add_combine(pm)
        passes.ttir.add_reorder_broadcast(pm)
        passes.common.add_cse(pm)
        passes.common.add_symbol_dce(pm)
        passes.ttir.add_loop_unroll(pm)
        pm.run(mod, "make_ttir")
        return mod

    def make_linalg(self, mod, metadata, opt):
        self._fix_metadata(metadata)
        text = mod if isinstance(mod, str) else _ttir_text(mod)
        from ...conversion import convert_ttir
        try:
            ck = convert_ttir(text)
        except HexmlirError as e:
            raise _with_source(e) from None
        metadata["name"] = ck.name
        metadata["shared"] = 0
        metadata["hexmlir_params"] = list(ck.params)
        return ck.mlir

    def make_artifact(self, linalg_text, metadata, opt):
        self._fix_metadata(metadata)
        from ... import driver
        try:
            kernel = driver.compile(linalg_text, opt.hexmlir())
        except HexmlirError as e:
            raise _with_source(e) from None
        payload = {
            "kernel_json": str(kernel.path.with_suffix(".json")),
            "name": metadata["name"],
            "params": metadata["hexmlir_params"],
            "options": opt.hexmlir().key(),
            "linalg": linalg_text,
        }
        return json.dumps(payload).encode()


def _with_source(e: HexmlirError) -> HexmlirError:
    """The same error with the kernel's Python source line appended (once)."""
    extra = _source_line(e.loc)
    if extra and extra not in str(e):
        new = type(e)(f"{e.args[0] if e.args else e}{extra}")
        new.stage, new.op, new.loc = e.stage, e.op, e.loc
        return new
    return e


def to_ttir(fn, signature: dict, constexprs: dict | None = None, **options) -> str:
    """TTIR text of a @triton.jit function after this backend's TTIR stage (no conversion, no launch).

    signature: {arg name: triton type ("*fp32", "i32", "fp32", "constexpr")}; constexprs: {name: value}.
    """
    from triton._C.libtriton import ir
    from triton.compiler.compiler import ASTSource
    target = GPUTarget("cpu", "hexmlir", 1)
    backend = HexmlirBackend(target)
    opts = backend.parse_options(options)
    src = ASTSource(fn, signature, constexprs or {})
    context = ir.context()
    ir.load_dialects(context)
    mod = src.make_ir(target, opts, backend.get_codegen_implementation(opts), backend.get_module_map(), context)
    return _ttir_text(backend.make_ttir(mod, {"target": target}, opts))
