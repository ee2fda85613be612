"""Pointer and mask analysis: which pointer tensors stay affine (strided views) and which masks stay ranges
(bounded subviews), and the memory accesses each form becomes.

Forms (forms.py): `Ptr` a scalar pointer, `PtrT` an affine block of pointers, `PtrG` anything else (base +
integer tensors); `Aff` an affine index tensor, `MaskB` a per-dimension range mask. Affine blocks load
through `memref.reinterpret_cast` + `memref.subview` and store with `materialize_in_destination`; the
general forms become a gather `linalg.generic` or a scatter loop nest.
"""
from __future__ import annotations

from .forms import S, T, Aff, MaskB, Ptr, PtrG, PtrT, Splat, identity_strides, mtype, ttype
from .reader import attr_int, elem, result_type
from .util import PRED, byte_size
from ... import attrs


class PointerAnalysis:
    """Mixed into the Converter: needs self.em, self.args, self.arg_names, self.views, self.preamble,
    self.checked, self.tensor(), self.expr(), self.generic(), self.loops(), self.unsupported()."""

    # ---- symbolic index arithmetic and range masks ----
    def symbolic(self, op, ins, shape):
        """Index arithmetic and range masks that stay symbolic; None when op leaves the symbolic forms."""
        em, n = self.em, op.name
        def aff(x):
            if isinstance(x, Aff):
                return x
            if isinstance(x, Splat) and x.s.type in ("i32", "i64", "index"):
                return Aff(shape, em.to_index(x.s), [0] * len(shape), x.s.type)
            return None
        if n in ("arith.addi", "arith.subi", "arith.muli") and len(ins) == 2:
            a, b = aff(ins[0]), aff(ins[1])
            if a is None or b is None or not (isinstance(ins[0], Aff) or isinstance(ins[1], Aff)):
                return None
            if n == "arith.addi":
                return Aff(shape, em.add(a.base, b.base), [em.add(x, y) for x, y in zip(a.strides, b.strides)], a.et)
            if n == "arith.subi":
                return Aff(shape, em.sub(a.base, b.base), [em.sub(x, y) for x, y in zip(a.strides, b.strides)], a.et)
            # multiply: one side must be uniform (a splat)
            if all(s == 0 for s in b.strides):
                k = b.base
            elif all(s == 0 for s in a.strides):
                a, k = b, a.base
            else:
                return None
            return Aff(shape, em.mul(a.base, k), [em.mul(s, k) for s in a.strides], a.et)
        if n == "arith.extsi" or n == "arith.trunci" or n == "arith.index_cast":
            if isinstance(ins[0], Aff):       # offsets stay exact in index arithmetic
                return Aff(shape, ins[0].base, list(ins[0].strides), elem(result_type(op)))
            return None
        if n == "arith.cmpi" and len(shape) and (isinstance(ins[0], Aff) or isinstance(ins[1], Aff)):
            return self._range_mask(PRED[attr_int(op, "predicate")], ins, shape)
        if n == "arith.andi" and len(shape):
            a, b = ins
            if isinstance(a, Splat) and isinstance(b, MaskB):
                a, b = b, a
            if isinstance(a, MaskB) and isinstance(b, MaskB):
                lo = [x if y is None else y if x is None else em.max(x, y) for x, y in zip(a.lo, b.lo)]
                hi = [x if y is None else y if x is None else em.min(x, y) for x, y in zip(a.hi, b.hi)]
                return MaskB(shape, lo, hi)
            if isinstance(a, MaskB) and isinstance(b, Splat) and b.s.type == "i1":
                # a uniform condition: all elements or none (empty range on dim 0)
                hi = list(a.hi)
                h0 = em.idx(hi[0] if hi[0] is not None else shape[0])
                hi[0] = em.op(f"arith.select {b.s.name}, {h0}, {em.idx(0)} : index", "i")
                return MaskB(shape, list(a.lo), hi)
        return None

    def _range_mask(self, pred, ins, shape):
        """`offs <pred> bound` over an affine index with one live dimension: a range on that dimension."""
        em = self.em
        a, b = ins
        if isinstance(b, Aff) and not isinstance(a, Aff):
            a, b = b, a
            pred = {"slt": "sgt", "sle": "sge", "sgt": "slt", "sge": "sle"}.get(pred, pred)
        if not isinstance(b, Splat) or b.s.type not in ("i32", "i64", "index") or pred not in ("slt", "sle", "sgt", "sge"):
            return None
        live = [d for d, s in enumerate(a.strides) if s != 0]
        if len(live) != 1 or not isinstance(a.strides[live[0]], int) or a.strides[live[0]] <= 0:
            return None
        d, st = live[0], a.strides[live[0]]
        bound = em.sub(em.to_index(b.s), a.base)       # st * i_d (pred) bound
        lo, hi = [None] * len(shape), [None] * len(shape)
        if pred == "slt":
            hi[d] = em.ceildiv(bound, st)
        elif pred == "sle":
            hi[d] = em.ceildiv(em.add(bound, 1), st)
        elif pred == "sgt":
            lo[d] = em.ceildiv(em.add(bound, 1), st)
        else:
            lo[d] = em.ceildiv(bound, st)
        return MaskB(shape, lo, hi)

    def uniform_mask(self, m: Splat, shape) -> MaskB:
        """A scalar i1 mask as a range: the whole block or nothing."""
        em = self.em
        hi = [None] * len(shape)
        hi[0] = em.op(f"arith.select {m.s.name}, {em.idx(shape[0])}, {em.idx(0)} : index", "i")
        return MaskB(shape, [None] * len(shape), hi)

    # ---- pointer arithmetic ----
    def addptr(self, p, o):
        em = self.em
        if isinstance(p, Ptr):
            return Ptr(p.arg, em.add(p.off, em.to_index(o)))
        shape = getattr(p, "shape", ())
        if isinstance(o, Splat) and o.s.type != "index":
            o = Aff(shape, em.to_index(o.s), [0] * len(shape), o.s.type)
        if isinstance(p, PtrG) and self.is_rawt(p.arg):
            o = self.scaled(o, byte_size(self.storage(p.arg)))
        if isinstance(p, PtrT) and isinstance(o, Aff):
            return PtrT(p.arg, shape, em.add(p.base, o.base), [em.add(a, b) for a, b in zip(p.strides, o.strides)])
        if isinstance(p, PtrT):
            part0 = Aff(shape, 0, list(p.strides), "index") if any(s != 0 for s in p.strides) else None
            return PtrG(p.arg, shape, p.base, ([part0] if part0 else []) + [o])
        if isinstance(o, Aff):
            return PtrG(p.arg, shape, em.add(p.base, o.base),
                        p.parts + ([Aff(shape, 0, o.strides, "index")] if any(s != 0 for s in o.strides) else []))
        return PtrG(p.arg, shape, p.base, p.parts + [o])

    def offset_expr(self, p, ctx):
        """Element offset (index) of pointer form p at ctx's indices."""
        em = self.em
        if isinstance(p, Ptr):
            return p.off
        if isinstance(p, PtrT):
            acc = p.base
            for d, st in enumerate(p.strides):
                acc = em.add(acc, em.mul(ctx.index(d), st))
            return acc
        acc = p.base
        for part in p.parts:
            x = self.expr(part, ctx)
            t = part.et if isinstance(part, (T, Aff)) else part.s.type
            acc = em.add(acc, em.op(f"arith.index_cast {x} : {t} to index", "i") if t != "index" else x)
        return acc

    def offsets_tensor(self, p) -> T:
        """A pointer tensor's element offsets as an index tensor (to carry it through loops and branches)."""
        em = self.em
        return self.generic(p.shape, p.parts if isinstance(p, PtrG) else [], "index",
                            lambda ctx, vals: em.idx(self.offset_expr(p, ctx)))

    def in_bounds(self, size: str, off: str) -> str:
        """A kernel with assertions keeps going after a failed one: its computed offsets are clamped into
        the argument's storage (on valid input this changes nothing)."""
        if not self.checked:
            return off
        em = self.em
        hi = em.op(f"arith.subi {em.op(size, 'i')}, {em.idx(1)} : index", "i")
        return em.op(f"arith.minsi {em.op(f'arith.maxsi {off}, {em.idx(0)} : index', 'i')}, {hi} : index", "i")

    # ---- arguments, storage types, pointer views ----
    def wrote(self, arg: int) -> None:
        """Record a store or atomic into argument `arg` (see `anchored`)."""
        self.written.add(self.views.get(arg, arg))

    def scaled(self, o, k: int):
        """Integer offsets o times k, in index arithmetic (element offsets to byte offsets)."""
        em = self.em
        if isinstance(o, Splat):
            o = Aff(o.shape, em.to_index(o.s), [0] * len(o.shape), "index")
        if isinstance(o, Aff):
            return Aff(o.shape, em.mul(o.base, k), [em.mul(s, k) for s in o.strides], "index")
        t = self.tensor(o)

        def body(ctx, vals):
            x = vals[0] if t.et == "index" else em.op(f"arith.index_cast {vals[0]} : {t.et} to index", "i")
            return em.op(f"arith.muli {x}, {em.idx(k)} : index", "i")
        return self.generic(t.shape, [t], "index", body)

    def raw_tensor_pointer(self, et: str) -> int:
        """A pointer slot for a tensor of integer addresses (tt.int_to_ptr of a tensor): a `PtrG` on this slot
        is a byte address per element (its parts sum to it; addptr scales offsets by the element size), and
        each access builds the memref of its own element's address (`raw_at`). Every element may point into
        a different buffer, and none has a known extent: only masked-in elements are touched."""
        slot = len(self.args)
        self.args.append(("ptr", et))
        self.arg_names.append(None)
        self.raw.add(slot)
        self.rawt.add(slot)
        return slot

    def is_rawt(self, arg: int) -> bool:
        return self.views.get(arg, arg) in self.rawt

    def raw_at(self, p, ctx) -> str:
        """The memref at the address of element ctx of a raw-address pointer tensor (read at index 0)."""
        em = self.em
        a = em.op(f"arith.index_cast {em.idx(self.offset_expr(p, ctx))} : index to i64")
        st = self.storage(p.arg)
        return self.raw_memref(a, st)

    def raw_memref(self, addr_i64: str, storage: str) -> str:
        """An i64 address as a memref<?xT>; lowered by transforms/lower.py (the descriptor needs the target's
        index width)."""
        return self.em.op(f"builtin.unrealized_conversion_cast {addr_i64} : i64 to memref<?x{storage}> "
                          f"{{{attrs.RAW_ADDRESS}}}", "raw")

    def mem_at(self, p, ctx) -> tuple[str, object]:
        """(memref, element offset) that element ctx of pointer form p accesses."""
        if isinstance(p, PtrG) and self.is_rawt(p.arg):
            return self.raw_at(p, ctx), 0
        return self.arg_names[p.arg], self.offset_expr(p, ctx)

    def address(self, p, et: str = "i64"):
        """The byte address of a pointer (an S) or of each pointer of a pointer tensor (a T), as `et`."""
        em = self.em
        raw = isinstance(p, PtrG) and self.is_rawt(p.arg)
        k = byte_size(self.storage(p.arg))
        base = None if raw else em.op(f"memref.extract_aligned_pointer_as_index {self.arg_names[p.arg]} : "
                                      f"memref<?x{self.storage(p.arg)}> -> index")

        def at(ctx):
            off = self.offset_expr(p, ctx)
            return em.from_index(off if raw else em.add(base, em.mul(off, k)), et)
        if isinstance(p, Ptr):
            return S(at(None), et)
        return self.generic(p.shape, p.parts if isinstance(p, PtrG) else [], et, lambda ctx, vals: at(ctx))

    def select_pointers(self, c, a, b, shape, et: str):
        """`arith.select` of pointers (`tl.where(c, p, q)`): offsets selected when both point into the same
        argument, else addresses selected and made pointers again (a raw address per element)."""
        em = self.em
        if isinstance(a, Ptr):                   # scalar pointers, scalar condition
            if a.arg == b.arg:
                return Ptr(a.arg, em.op(f"arith.select {c.name}, {em.idx(a.off)}, {em.idx(b.off)} : index", "i"))
            return Ptr(self.raw_pointer(S(em.op(f"arith.select {c.name}, {self.address(a).name}, "
                                                f"{self.address(b).name} : i64"), "i64"), et), 0)
        same = a.arg == b.arg and not self.is_rawt(a.arg)
        if same:
            ta, tb, t = self.offsets_tensor(a), self.offsets_tensor(b), "index"
        else:
            ta, tb, t = self.address(a), self.address(b), "i64"
        sel = self.generic(shape, [c, ta, tb], t, lambda ctx, v: em.op(f"arith.select {v[0]}, {v[1]}, {v[2]} : {t}"))
        if same:
            return PtrG(a.arg, shape, 0, [sel])
        return PtrG(self.raw_tensor_pointer(et), shape, 0, [sel])

    def raw_pointer(self, addr, et: str) -> int:
        """A pointer slot for a memref made from integer address `addr` (an S): base `addr`, offset 0,
        stride 1 and an extent as large as the address space (unknown: only masked-in elements are
        touched, as for arguments). Its accesses are emitted like an argument's; its gathers read in
        program order (it may alias anything the kernel writes)."""
        em = self.em
        st = "i8" if et == "i1" else et
        a = addr.name
        if addr.type != "i64":
            op = "extui" if addr.type == "i1" else "extsi"
            a = em.op(f"arith.{op} {a} : {addr.type} to i64")
        m = self.raw_memref(a, st)
        slot = len(self.args)
        self.args.append(("ptr", et))
        self.arg_names.append(m)
        self.raw.add(slot)
        return slot

    def argt(self, arg: int) -> str:
        """The whole argument as a tensor (for gathers), made once at function entry; for an argument
        the kernel also writes, made at the gather (see `anchored`)."""
        arg = self.views.get(arg, arg)
        self.gathered.add(arg)
        if arg in self.anchored or arg in self.raw:
            st = self.storage(arg)
            return self.em.op(f"bufferization.to_tensor {self.arg_names[arg]} restrict : "
                              f"memref<?x{st}> to tensor<?x{st}>", "argt")
        if arg not in self._argt_cache:
            st = self.storage(arg)
            name = f"%argt{arg}"
            self.preamble.append(f"    {name} = bufferization.to_tensor {self.arg_names[arg]} restrict : "
                                 f"memref<?x{st}> to tensor<?x{st}>")
            self._argt_cache[arg] = name
        return self._argt_cache[arg]

    def storage(self, arg: int) -> str:
        """The memref element type behind argument `arg` (a pointer view shares its root's buffer)."""
        arg = self.views.get(arg, arg)
        et = self.args[arg][1]
        return "i8" if et == "i1" else et

    def elem_type(self, arg: int) -> str:
        """The element type a pointer (or pointer view) reads and writes."""
        return self.args[arg][1]

    def _recast(self, v: str, st: str, et: str, to_storage: bool) -> str:
        """Between storage type st and element type et: bool bytes, or a same-width bitcast."""
        if st == et:
            return v
        em = self.em
        if et == "i1":
            if to_storage:
                return em.op(f"arith.extui {v} : i1 to {st}")
            return em.op(f"arith.cmpi ne, {v}, {em.const(0, st)} : {st}")
        if byte_size(st) == byte_size(et):
            a, b = (et, st) if to_storage else (st, et)
            return em.op(f"arith.bitcast {v} : {a} to {b}")
        self.unsupported(f"a pointer view of {st} data as {et} (element sizes differ)")

    def to_et(self, v: str, st: str, et: str) -> str:
        """A value loaded from storage type st as element type et."""
        return self._recast(v, st, et, False)

    def to_st(self, v: str, et: str, st: str) -> str:
        """A value of element type et as storage type st."""
        return self._recast(v, st, et, True)

    def from_storage(self, v: str, arg: int) -> str:
        return self.to_et(v, self.storage(arg), self.elem_type(arg))

    def pointer_view(self, p, et: str):
        """A pointer reinterpreted as pointing to `et` (bool pointers read as bytes; float atomics through
        integer pointers): a view argument over the same buffer, whose loads and stores convert between the
        buffer's storage type and `et` (same element size)."""
        root = self.views.get(p.arg, p.arg)
        if self.elem_type(root) == et:
            view = root
        else:
            key = (root, et)
            view = self._view_cache.get(key)
            if view is None:
                view = len(self.args)
                self.args.append(("ptr", et))
                self.arg_names.append(self.arg_names[root])
                self.views[view] = root
                self._view_cache[key] = view
            st = self.storage(root)
            if byte_size(st) != byte_size("i8" if et == "i1" else et):
                self.unsupported(f"a pointer bitcast from {self.elem_type(root)} to {et} (element sizes differ)")
        if isinstance(p, Ptr):
            return Ptr(view, p.off)
        if isinstance(p, PtrT):
            return PtrT(view, p.shape, p.base, list(p.strides))
        if isinstance(p, PtrG):
            return PtrG(view, p.shape, p.base, list(p.parts))
        self.unsupported("a bitcast of this pointer form")

    # ---- strided views of affine blocks ----
    def view(self, p: PtrT):
        """A strided memref view of the pointer block (static sizes)."""
        em = self.em
        st = self.storage(p.arg)
        strides = [s if isinstance(s, int) else None for s in p.strides]
        off = p.base if isinstance(p.base, int) else None
        rt = mtype(p.shape, st, strides, off)
        r = em.op(f"memref.reinterpret_cast {self.arg_names[p.arg]} to offset: [{em.idx(p.base) if off is None else off}], "
                  f"sizes: [{', '.join(map(str, p.shape))}], strides: [{', '.join(em.idx(s) if x is None else str(x) for s, x in zip(p.strides, strides))}] "
                  f": memref<?x{st}> to {rt}", "view")
        return r, strides, off

    def bounds(self, mask: MaskB | None, shape):
        """Per-dim (offset, size) of the rectangle a range mask selects (clamped to the block)."""
        em = self.em
        out = []
        for d, n in enumerate(shape):
            lo = mask.lo[d] if mask else None
            hi = mask.hi[d] if mask else None
            lo_c = em.clamp(lo, 0, n) if lo is not None else 0
            hi_c = em.clamp(hi, 0, n) if hi is not None else n
            out.append((lo_c, em.max(em.sub(hi_c, lo_c), 0)))
        return out

    def subview(self, src, shape, et, strides, off, rect, identity=False) -> tuple[str, str]:
        em = self.em
        offs = [o for o, _ in rect]
        sizes = [s for _, s in rect]
        if off is not None and all(isinstance(o, int) for o in offs) and all(
                isinstance(st, int) or o == 0 for st, o in zip(strides, offs)):
            roff = off + sum(o * st for o, st in zip(offs, strides) if o)
        else:
            roff = None
        rt = mtype([s if isinstance(s, int) else None for s in sizes], et, strides, roff)
        src_t = mtype(shape, et) if identity else mtype(shape, et, strides, off)
        r = em.op(f"memref.subview {src}[{', '.join(map(em.dim, offs))}] [{', '.join(map(em.dim, sizes))}] "
                  f"[{', '.join(['1'] * len(shape))}] : {src_t} to {rt}", "sv")
        return r, rt

    # ---- loads and stores of each form ----
    def load_block(self, p: PtrT, mask, other, shape, et) -> T:
        """An affine block: a copy of the (mask-bounded) strided view into a local buffer filled with other."""
        em = self.em
        view, strides, off = self.view(p)
        buf = em.op(f"memref.alloc() {{alignment = 128 : i64}} : {mtype(shape, et)}", "buf")
        masked = mask is not None and any(x is not None for x in mask.lo + mask.hi)
        if masked:
            fill = other.s.name if other is not None else em.const(0, et)
            em.emit(f"linalg.fill ins({fill} : {et}) outs({buf} : {mtype(shape, et)})")
            rect = self.bounds(mask, shape)
            src, src_t = self.subview(view, shape, et, strides, off, rect)
            dst, dst_t = self.subview(buf, shape, et, identity_strides(shape), 0, rect, identity=True)
            em.emit(f"memref.copy {src}, {dst} : {src_t} to {dst_t}")
        else:
            em.emit(f"memref.copy {view}, {buf} : {mtype(shape, et, strides, off)} to {mtype(shape, et)}")
        r = em.op(f"bufferization.to_tensor {buf} restrict writable : {mtype(shape, et)} to {ttype(shape, et)}", "ld")
        return T(r, tuple(shape), et)

    def gather(self, p, mask, other, shape, et) -> T:
        """Any other pointer tensor: a generic extracting each element from the whole argument."""
        em = self.em
        if isinstance(p, PtrG) and self.is_rawt(p.arg):
            return self._gather_raw(p, mask, other, shape, et)
        argt = self.argt(p.arg)
        st = self.storage(p.arg)
        ins = [mask] if mask is not None else []
        if other is not None:
            ins.append(other)
        parts = p.parts if isinstance(p, PtrG) else []
        ins += parts
        raw = self.views.get(p.arg, p.arg) in self.raw

        def body(ctx, vals):
            off = em.idx(self.offset_expr(p, ctx))
            o = (vals[1] if other is not None else em.const(0, et)) if mask is not None else None
            if raw and mask is not None:        # element 0 of a raw address may not exist: read only masked-in
                return self.guarded(vals[0], et, lambda: self.to_et(
                    em.op(f"tensor.extract {argt}[{off}] : tensor<?x{st}>"), st, et), lambda: o)
            if mask is not None:
                off = em.op(f"arith.select {vals[0]}, {off}, {em.idx(0)} : index", "i")
            if not raw:
                off = self.in_bounds(f"tensor.dim {argt}, {em.idx(0)} : tensor<?x{st}>", off)
            x = self.to_et(em.op(f"tensor.extract {argt}[{off}] : tensor<?x{st}>"), st, et)
            if mask is not None:
                x = em.op(f"arith.select {vals[0]}, {x}, {o} : {et}")
            return x
        g = self.generic(shape, ins, et, body)
        if self.views.get(p.arg, p.arg) not in self.anchored and not raw:
            return g
        # Read here, in program order: a private copy, so that fusion cannot move the reads into a
        # consumer that follows a store to the argument (nor CSE merge them with an earlier gather).
        buf = em.op(f"memref.alloc() {{alignment = 128 : i64}} : {mtype(shape, et)}", "buf")
        em.emit(f"bufferization.materialize_in_destination {g.name} in restrict writable {buf} : "
                f"({ttype(shape, et)}, {mtype(shape, et)}) -> ()")
        r = em.op(f"bufferization.to_tensor {buf} restrict writable : {mtype(shape, et)} to {ttype(shape, et)}", "ld")
        return T(r, tuple(shape), et)

    def _gather_raw(self, p: PtrG, mask, other, shape, et) -> T:
        """A tensor of addresses: a loop nest reading each masked-in element at its own address into a local
        buffer, in program order (the addresses may alias anything the kernel writes)."""
        em = self.em
        st = self.storage(p.arg)
        mask = self.tensor(mask) if mask is not None and not isinstance(mask, (T, Splat, MaskB)) else mask
        other = self.tensor(other) if other is not None and not isinstance(other, (T, Splat)) else other
        p = PtrG(p.arg, p.shape, p.base, [self.tensor(x) if not isinstance(x, (Aff, Splat)) else x for x in p.parts])
        buf = em.op(f"memref.alloc() {{alignment = 128 : i64}} : {mtype(shape, et)}", "buf")

        def body(ctx):
            def read():
                return self.to_et(em.op(f"memref.load {self.raw_at(p, ctx)}[{em.idx(0)}] : memref<?x{st}>"), st, et)
            if mask is None:
                v = read()
            else:
                v = self.guarded(self.expr(mask, ctx), et, read,
                                 lambda: self.expr(other, ctx) if other is not None else em.const(0, et))
            em.emit(f"memref.store {v}, {buf}[{', '.join(ctx.ivs)}] : {mtype(shape, et)}")
        self.loops(shape, body)
        r = em.op(f"bufferization.to_tensor {buf} restrict writable : {mtype(shape, et)} to {ttype(shape, et)}", "ld")
        return T(r, tuple(shape), et)

    def store_block(self, p: PtrT, t: T, mask, et) -> None:
        """Store the part of block t that a range mask selects into the strided view of p."""
        em = self.em
        self.wrote(p.arg)
        view, strides, off = self.view(p)
        rect = self.bounds(mask, p.shape)
        dst, dst_t = self.subview(view, p.shape, et, strides, off, rect)
        offs, sizes = [o for o, _ in rect], [n for _, n in rect]
        vs_t = ttype(["?" if not isinstance(n, int) else n for n in sizes], et)
        vs = em.op(f"tensor.extract_slice {t.name}[{', '.join(map(em.dim, offs))}] [{', '.join(map(em.dim, sizes))}] "
                   f"[{', '.join(['1'] * len(p.shape))}] : {ttype(p.shape, et)} to {vs_t}")
        em.emit(f"bufferization.materialize_in_destination {vs} in writable {dst} : ({vs_t}, {dst_t}) -> ()")

    def scatter(self, p, val, mask, shape) -> None:
        """Any other pointer tensor: a loop nest storing element by element (where the mask holds)."""
        em = self.em
        self.wrote(p.arg)
        st = self.storage(p.arg)
        val = self.tensor(val) if not isinstance(val, (Splat,)) else val
        mask = self.tensor(mask) if mask is not None and not isinstance(mask, (T, Splat, MaskB)) else mask
        if isinstance(p, PtrG):
            p = PtrG(p.arg, p.shape, p.base, [self.tensor(x) if not isinstance(x, (Aff, Splat)) else x for x in p.parts])

        def body(ctx):
            def store():
                v = self.expr(val, ctx)
                et = val.et if isinstance(val, T) else val.s.type
                v = self.to_st(v, et, st)
                mem, off = self.mem_at(p, ctx)
                off = em.idx(off)
                if self.checked and not self.is_rawt(p.arg):
                    off = self.in_bounds(f"memref.dim {mem}, {em.idx(0)} : memref<?x{st}>", off)
                em.emit(f"memref.store {v}, {mem}[{off}] : memref<?x{st}>")
            if mask is None:
                store()
            else:
                c = self.expr(mask, ctx)
                em.emit(f"scf.if {c} {{")
                em.push()
                store()
                em.pop()
                em.emit("}")
        self.loops(shape, body)
