"""Frontend cache: a repeated compile skips torch.export, the decompositions and torch-mlir's import.

The kernel cache (cache.py) is keyed by the Linalg text, which costs a trace and an import to produce (seconds
on a small transformer). This cache maps a key computed *before* that work to the frontend's result (the Linalg
text, its result plan and the output layout); the kernel is then found under the text's own key as before.

Keys (hexmlir's sources, torch / torch-mlir / Python versions, options and target are in both):
  graph_key  (torch.compile: the FX graph AOTAutograd hands the backend): the graph's code, the values of the
             tensors it reads as attributes, the inputs' shapes, dtypes and strides.
  model_key  (compile_model, no trace): the module tree (classes, every non-tensor attribute, configs
             included; parameter and buffer names, shapes, dtypes, strides -- not their values, which are
             kernel arguments; the values of plain tensor attributes, which the trace bakes in), the inputs'
             shapes, dtypes and strides, and the code an eager forward on copies runs: every Python function
             (its bytecode, constants, closure values, the simple and tensor global values it reads), every
             builtin it calls, and each source file's size and mtime. A module held outside the module tree
             (its parameters would be baked-in constants) makes the model unkeyable.
Anything the key cannot describe (an attribute of an unknown kind, a forward that fails eagerly) means no key:
the compile takes the full path. What model_key cannot see: code that runs only while torch.export traces
(`is_compiling()` branches) in files the eager forward does not touch, changed without a version change of its
package. HEXMLIR_FRONTEND_CACHE=0 turns this cache off.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import struct
import sys
import types
import uuid

from ... import cache

import threading

_VERSIONS: str | None = None
_ctx = threading.local()          # args: ids of the tensors passed as arguments; modules: ids of the tree's modules
_CODE: dict = {}                  # code object -> digest (this process)
_FILES: dict = {}                 # filename -> (size, mtime_ns) part of the key


class Unkeyable(Exception):
    """Something the key cannot describe: no frontend cache for this compile."""


def enabled() -> bool:
    return os.environ.get("HEXMLIR_FRONTEND_CACHE", "1") != "0"


def _versions() -> str:
    global _VERSIONS
    if _VERSIONS is None:
        import torch
        try:
            from importlib.metadata import version
            tm = version("torch-mlir")
        except Exception:
            tm = "?"
        _VERSIONS = f"python {sys.version}; torch {torch.__version__}; torch-mlir {tm}"
    return _VERSIONS


def _base(kind: str, options) -> list:
    import torch
    from ...targets.tools import versions
    return [kind, cache._sources_hash(), _versions(), versions(), repr(sorted(options.key().items())),
            str(torch.get_default_dtype()), str(torch.is_grad_enabled())]


def _digest(parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


# ---------------------------------------------------------------- describing values

_SIMPLE = (type(None), bool, int, float, complex, str, bytes)
#: Attributes that differ between processes and steer no trace (transformers' GenerationConfig keeps a
#: string hash of itself, which Python salts per process).
_VOLATILE = {"_original_object_hash"}


def _tensor(t) -> str:
    """Meta and values of a tensor baked into the trace; meta only for the arguments (values passed at run
    time)."""
    import torch
    if id(t) in getattr(_ctx, "args", ()):
        return _meta(t)
    memo = getattr(_ctx, "memo", None)
    if memo is not None and id(t) in memo and memo[id(t)][0] == (t._version, t.data_ptr()):
        return memo[id(t)][1]
    d = _tensor_values(t)
    if memo is not None:
        memo[id(t)] = ((t._version, t.data_ptr()), d, t)      # t kept alive: its id stays its own
    return d


def _tensor_values(t) -> str:
    import torch
    t = t.detach()
    if t.is_sparse or t.device.type != "cpu" or t.is_quantized:
        raise Unkeyable(f"tensor on {t.device} / sparse / quantized")
    c = t.contiguous()
    data = c.view(torch.uint8).numpy().tobytes() if c.numel() else b""
    return f"T({c.dtype},{tuple(c.shape)},{t.stride()},{hashlib.sha256(data).hexdigest()})"


def _meta(t) -> str:
    """Shape, dtype, stride (values are kernel arguments)."""
    return f"M({t.dtype},{tuple(t.shape)},{t.stride()},{t.device},{t.requires_grad})"


def code_digest(code) -> str:
    """Bytecode, names, constants (nested code included) of a function body."""
    d = _CODE.get(code)
    if d is None:
        parts = [code.co_qualname if hasattr(code, "co_qualname") else code.co_name, code.co_filename,
                 code.co_code, repr(code.co_names), repr(code.co_varnames), repr(code.co_freevars),
                 str(code.co_argcount), str(code.co_kwonlyargcount), str(code.co_flags)]
        parts += [_const(c) for c in code.co_consts]
        d = _digest(parts)
        _CODE[code] = d
    return d


def _const(c) -> str:
    """A code constant; frozensets sorted (their repr order follows string hashing, which differs by process)."""
    if isinstance(c, types.CodeType):
        return code_digest(c)
    if isinstance(c, tuple):
        return "(" + ",".join(_const(x) for x in c) + ")"
    if isinstance(c, frozenset):
        return "frozenset{" + ",".join(sorted(_const(x) for x in c)) + "}"
    if isinstance(c, float):
        return f"float:{c.hex()}"
    return f"{type(c).__name__}:{c!r}"


def describe(v, depth: int = 0, seen=None) -> str:
    """A stable text for a value that can steer a trace; Unkeyable for what it cannot describe. Tensors: their
    values (the trace bakes them in), except the arguments' (meta only)."""
    import enum
    import torch
    if depth > 12:
        raise Unkeyable("value nested too deep")
    if isinstance(v, float):
        return f"float:{v.hex()}"
    if isinstance(v, _SIMPLE):
        return f"{type(v).__name__}:{v!r}"
    if isinstance(v, enum.Enum):
        return f"enum:{type(v).__module__}.{type(v).__qualname__}.{v.name}"
    if isinstance(v, (torch.dtype, torch.device, torch.Size, torch.memory_format, torch.layout)):
        return f"{type(v).__name__}:{v}"
    if isinstance(v, torch.Tensor):
        return _tensor(v)
    seen = set() if seen is None else seen
    if id(v) in seen:
        return "cycle"
    seen = seen | {id(v)}
    if isinstance(v, (tuple, list)):
        return f"{type(v).__name__}[" + ",".join(describe(x, depth + 1, seen) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return f"{type(v).__name__}{{" + ",".join(sorted(describe(x, depth + 1, seen) for x in v)) + "}"
    if isinstance(v, dict):
        items = sorted((describe(k, depth + 1, seen), describe(x, depth + 1, seen)) for k, x in v.items()
                       if k not in _VOLATILE)
        return f"{type(v).__qualname__}{{" + ",".join(f"{k}={x}" for k, x in items) + "}"
    if isinstance(v, type):
        return f"type:{v.__module__}.{v.__qualname__}"
    if isinstance(v, types.ModuleType):
        return f"module:{v.__name__}"
    if isinstance(v, (types.FunctionType, types.MethodType)):
        return _function(v, depth, seen)
    if isinstance(v, (types.BuiltinFunctionType, types.BuiltinMethodType)) or type(v).__name__ in (
            "method_descriptor", "wrapper_descriptor", "OpOverload", "OpOverloadPacket"):
        owner = getattr(v, "__self__", None)
        own = "" if owner is None or isinstance(owner, types.ModuleType) else f"@{type(owner).__qualname__}"
        return f"builtin:{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', getattr(v, '__name__', v))}{own}"
    if isinstance(v, torch.nn.Module):
        mods = getattr(_ctx, "modules", None)
        if mods is not None and id(v) not in mods:
            # not in the module tree (held in a plain list, say): its parameters would be baked-in constants
            raise Unkeyable(f"{type(v).__qualname__} outside the module tree")
        return f"nn.Module:{type(v).__module__}.{type(v).__qualname__}"   # its contents: model_key walks it
    if hasattr(v, "__dict__") and not isinstance(v, type):
        # plain objects (configs and the like): their class and their attributes
        d = vars(v)
        return f"obj:{type(v).__module__}.{type(v).__qualname__}" + describe(d, depth + 1, seen)
    if hasattr(type(v), "__slots__"):
        d = {s: getattr(v, s) for s in type(v).__slots__ if hasattr(v, s)}
        return f"obj:{type(v).__module__}.{type(v).__qualname__}" + describe(d, depth + 1, seen)
    raise Unkeyable(f"cannot describe a {type(v).__qualname__}")


def _function(f, depth, seen) -> str:
    if isinstance(f, types.MethodType):
        return "method:" + _function(f.__func__, depth, seen) + "@" + type(f.__self__).__qualname__
    cells = [describe(c.cell_contents, depth + 1, seen) if _has(c) else "empty" for c in f.__closure__ or ()]
    return (f"fn:{f.__module__}.{f.__qualname__}:{code_digest(f.__code__)}:"
            f"{describe(f.__defaults__, depth + 1, seen)}:{describe(f.__kwdefaults__, depth + 1, seen)}:"
            + ",".join(cells))


def _has(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- torch.compile: the FX graph

def graph_key(gm, example_inputs, options) -> str | None:
    """Key of compiling FX graph `gm` for these inputs (None: not keyable)."""
    import torch
    if not enabled():
        return None
    try:
        parts = _base("graph", options) + [gm.code]
        cg = gm.graph._codegen
        if type(cg) is not torch.fx.graph.CodeGen:
            parts.append(describe(getattr(cg, "pytree_info", type(cg).__qualname__)))
        for n in gm.graph.nodes:
            if n.op == "get_attr":
                obj = gm
                for a in n.target.split("."):
                    obj = getattr(obj, a)
                parts.append(f"{n.target}={describe(obj)}")
            elif n.op == "call_module":
                raise Unkeyable(n.op)
            elif n.op == "call_function" and not isinstance(n.target, (torch._ops.OpOverload,
                                                                       torch._ops.OpOverloadPacket)):
                parts.append(describe(n.target))
        for t in example_inputs:
            parts.append(_meta(t) if isinstance(t, torch.Tensor) else describe(t))
        return _digest(parts)
    except Exception:                                   # Unkeyable, or anything describing it raised
        return None


# ---------------------------------------------------------------- compile_model: no trace

_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
          "_state_dict_hooks", "_load_state_dict_pre_hooks", "_forward_hooks_with_kwargs",
          "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")
_SKIP = {"_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "training",
         "_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_is_full_backward_hook"}


def model_key(model, functional, names, args, options) -> str | None:
    """Key of compile_model(model) for `args` (weights then inputs; `functional` takes them), without a
    trace (module doc). None: not keyable."""
    import torch
    if not enabled():
        return None
    _ctx.modules = {id(m) for m in model.modules()} | {id(functional)}
    _ctx.memo = {}
    try:
        parts = _base("model", options) + [f"{type(functional).__qualname__}", repr(names)]
        for name, m in model.named_modules(remove_duplicate=False):
            parts.append(f"module {name}: {type(m).__module__}.{type(m).__qualname__} training={m.training}")
            for k in sorted(vars(m)):
                if k in _SKIP:
                    continue
                v = vars(m)[k]
                if k in _HOOKS:
                    parts.append(f"{k}={describe(list(v.values()))}")
                else:
                    parts.append(f"{k}={describe(v)}")
            for k, t in m._parameters.items():
                parts.append(f"param {k}: " + ("None" if t is None else _meta(t)))
            for k, t in m._buffers.items():
                parts.append(f"buffer {k}: " + ("None" if t is None else _meta(t)) +
                             (" np" if k in m._non_persistent_buffers_set else ""))
        for t in args:
            parts.append(_meta(t) if isinstance(t, torch.Tensor) else describe(t))
        parts += _trace_code(functional, args)
        return _digest(parts)
    except Exception:                                   # Unkeyable, or anything describing it raised
        return None
    finally:
        _ctx.modules = _ctx.memo = None
        _ctx.args = ()


def _trace_code(functional, args) -> list:
    """What an eager forward on copies runs: Python functions (code digests, closure values and the simple
    global values they read, their files' size and mtime) and builtins, in first-call order."""
    import torch
    seen: dict = {}
    out: list = []
    err: list = []

    def prof(frame, event, arg):
        try:
            if event == "call":
                # every call is described (one code object, other closure or global values: another line)
                code = frame.f_code
                g = frame.f_globals
                glob = [f"{n}={describe(g[n])}" for n in code.co_names
                        if n in g and (isinstance(g[n], torch.Tensor) or
                                       isinstance(g[n], _SIMPLE + (tuple,)) and _simple_tuple(g[n]))]
                free = []
                if code.co_freevars:
                    loc = frame.f_locals
                    free = [f"{n}={_free(loc.get(n))}" for n in code.co_freevars]
                line = f"py {code_digest(code)} {_file(code.co_filename)} {';'.join(glob)} {';'.join(free)}"
                if line not in seen:
                    seen[line] = True
                    out.append(line)
            elif event == "c_call":
                owner = getattr(arg, "__self__", None)
                at = "" if owner is None or isinstance(owner, types.ModuleType) else "@" + type(owner).__qualname__
                d = f"c {getattr(arg, '__module__', None)}.{getattr(arg, '__qualname__', None)}{at}"
                if d not in seen:
                    seen[d] = True
                    out.append(d)
        except Exception as e:                          # Unkeyable included: no key
            err.append(e)

    old = sys.getprofile()
    if old is not None:                             # a profiler or debugger (cProfile's cannot be reinstalled)
        raise Unkeyable("a profile function is installed")
    copies = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
    _ctx.args = {id(c) for c in copies} | {id(a) for a in args}
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        sys.setprofile(prof)
        try:
            functional(*copies)
        except Exception as e:
            raise Unkeyable(f"eager forward failed: {type(e).__name__}") from e
        finally:
            sys.setprofile(None)
    if err:
        raise Unkeyable(str(err[0]))
    return out


def _simple_tuple(v) -> bool:
    return not isinstance(v, tuple) or all(isinstance(x, _SIMPLE) for x in v)


def _free(v) -> str:
    try:
        return describe(v)
    except Unkeyable:
        return f"?{type(v).__qualname__}"    # e.g. a tensor-holding object: its code and calls are traced


def _file(path: str) -> str:
    r = _FILES.get(path)
    if r is None:
        try:
            st = os.stat(path)
            r = f"{path}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            r = f"{path}:-"
        _FILES[path] = r
    return r


# ---------------------------------------------------------------- entries

def _path(k: str):
    return cache.cache_dir() / "frontend" / f"{k}.pkl"


def lookup(k: str | None):
    """The stored frontend result for key `k`, or None."""
    if k is None:
        return None
    p = _path(k)
    try:
        blob = p.read_bytes()
    except OSError:
        return None
    try:
        n, = struct.unpack("<Q", blob[:8])
        body, digest = blob[8:8 + n], blob[8 + n:]
        if hashlib.sha256(body).hexdigest().encode() != digest:
            raise ValueError("checksum")
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)     # torch's TreeSpec unpickling: LeafSpec notice
            return pickle.loads(body)
    except Exception as e:                          # damaged: drop it, compile on the full path
        import warnings
        warnings.warn(f"hexmlir: damaged frontend cache entry {p} ({type(e).__name__}); rebuilding it",
                      cache.CacheWarning, stacklevel=3)
        try:
            p.unlink()
        except OSError:
            pass
        return None


def store(k: str | None, value) -> None:
    """Store a frontend result (atomically; an entry that cannot be pickled is not stored)."""
    if k is None:
        return
    try:
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    p = _path(k)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_bytes(struct.pack("<Q", len(body)) + body + hashlib.sha256(body).hexdigest().encode())
        os.replace(tmp, p)
    except OSError:
        pass
