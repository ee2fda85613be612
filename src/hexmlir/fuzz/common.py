"""Option sampling and result comparison shared by the Linalg and Triton fuzzers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Every mechanism switch, sampled independently (so tcm_tiling=False with threads on comes up a quarter of
# the time). tile_elems and mt_threshold are forced small sometimes: the fuzz shapes are small, and without
# that every case would be one TCM tile on one thread.
_BOOLS = ("vectorize", "fusion", "tcm_tiling", "multithread", "dma", "double_buffer", "fast_math")


def sample_options(rng: np.random.Generator) -> dict:
    """A random hexmlir option combination (keyword arguments of hexmlir.Options)."""
    opts = {k: bool(rng.integers(2)) for k in _BOOLS}
    opts["num_threads"] = int(rng.choice([1, 2, 4]))
    opts["mt_threshold"] = int(rng.choice([0, 1]))
    opts["tile_elems"] = int(rng.choice([0, 0, 64, 256, 1024]))
    return opts


@dataclass
class Mismatch:
    """One output that differs from the reference beyond its tolerance."""
    name: str
    n_bad: int
    size: int
    max_err: float
    first_bad: tuple
    got: object
    want: object

    def __str__(self):
        return (f"{self.name}: {self.n_bad}/{self.size} elements wrong, max error {self.max_err:.3g} "
                f"(first at {self.first_bad}: got {self.got!r}, want {self.want!r})")


def compare(name: str, got: np.ndarray, ref: np.ndarray, tol) -> Mismatch | None:
    """Elementwise check |got - ref| <= tol (tol: array or scalar; 0 means exact). NaN matches NaN, an
    infinity must match exactly. Returns None when every element is within tolerance."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    if got.shape != ref.shape:
        return Mismatch(name, ref.size, ref.size, float("inf"), (), f"shape {got.shape}", f"shape {ref.shape}")
    if ref.dtype == np.bool_ or np.issubdtype(ref.dtype, np.integer):
        g, r = got.astype(np.int64), ref.astype(np.int64)
        bad = g != r
        err = np.abs(g - r).astype(np.float64)
    else:
        g, r = got.astype(np.float64), ref.astype(np.float64)
        tol = np.broadcast_to(np.nan_to_num(np.asarray(tol, np.float64), nan=np.inf), r.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(g - r)
            finite = np.isfinite(r)
            bad = np.where(finite, ~(err <= tol), ~((g == r) | (np.isnan(g) & np.isnan(r))))
        err = np.where(np.isnan(err), np.inf, err)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return Mismatch(name, int(bad.sum()), int(ref.size), float(err[bad].max()), idx,
                    got[idx].item() if got.ndim else got.item(), ref[idx].item() if ref.ndim else ref.item())
