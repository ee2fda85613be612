"""Kernel symbol names that cannot clash with libc, libm or the runtime.

A user function keeps its name in messages and metadata, but its symbol is `hxk_<name>` (no libc, libm or
runtime symbol starts with `hxk_`): a kernel named `free`, `dup` or `hx_parallel_for` would otherwise
define the symbol the lowering calls (memref.dealloc -> free), or be bound to libc's by the dynamic
linker. After lowering, every function but the exported entry (`_mlir_ciface_hxk_<name>`, recorded in the
artifact's metadata as "entry") gets internal linkage, so the object exports nothing else.
"""
from __future__ import annotations

from torch_mlir import ir

from ..ir import funcs

PREFIX = "hxk_"


def symbol(name: str) -> str:
    return PREFIX + name


def user_name(sym: str) -> str:
    return sym[len(PREFIX):] if sym.startswith(PREFIX) else sym


def entry(name: str) -> str:
    """The exported C-interface entry of the kernel the user named `name`."""
    return f"_mlir_ciface_{symbol(name)}"


def mangle(module, cx) -> None:
    """Prefix every function defined in the module (declarations are outside functions: keep them)."""
    table = ir.SymbolTable(module.operation)
    for f in funcs(module):
        old = ir.StringAttr(f.attributes["sym_name"]).value
        if not f.regions[0].blocks or old.startswith(PREFIX):
            continue
        new = symbol(old)
        table.replace_all_symbol_uses(old, new, module.operation)
        ir.SymbolTable.set_symbol_name(f, new)


def internalize(module, entry_symbol: str) -> None:
    """Internal linkage for every defined llvm.func except the entry, which must be defined (else the object
    would export nothing: e.g. IR that skipped the symbols stage has `@f`, not `@hxk_f`)."""
    internal = ir.Attribute.parse("#llvm.linkage<internal>")
    defined = [op.operation for op in module.body.operations
               if op.operation.name == "llvm.func" and op.operation.regions[0].blocks]
    if not any(ir.StringAttr(op.attributes["sym_name"]).value == entry_symbol for op in defined):
        from ..errors import CompileError
        raise CompileError(f"the kernel's entry {entry_symbol} is not defined (did the symbols stage run?); "
                           f"the object would export nothing", stage="lower-to-llvm")
    for op in defined:
        if ir.StringAttr(op.attributes["sym_name"]).value != entry_symbol:
            op.attributes["linkage"] = internal
