"""chemomech on Dask: the engine's kernels per chunk of a ``dask.array``
(typically over Zarr), with the same results as on one machine.

Every chunk is processed by the same Rust call as the in-memory function,
with the GIL released and one rayon thread per call (``threads=1``) unless
told otherwise, so a Dask worker with N threads runs N chunks side by side
without oversubscribing its cores (Dask's distributed scheduler does not
set ``RAYON_NUM_THREADS``).

=================================  =========================  ==========================
stage                              chunking and overlap       exact?
=================================  =========================  ==========================
:func:`normalize`, :func:`minus_log`  any, no overlap         exactly the in-memory result
:func:`paganin`                    by angle, whole frames     exactly
:func:`reconstruct`                by detector rows, all      exactly
                                   angles and columns
:func:`gaussian`, :func:`median`   3-D, halo = kernel radius  exactly (the halo holds every
                                                              voxel the kernel reads; the
                                                              volume's own faces reflect as
                                                              in memory)
:func:`classify`                   3-D, halo = the model's    exactly (the model is one task
                                   feature context            that every chunk depends on)
:func:`threshold_otsu`             any; histogram tree-reduce exactly (same 256 bins over
                                                              the global range)
:func:`threshold_iso50`            any; exact medians by two  exactly
                                   key-histogram passes each
:func:`label`                      3-D, no overlap; chunk     one-to-one with the in-memory
                                   faces merged               labels (numbered by first
                                                              block, not raster order)
:func:`edt`                        axis-whole rechunks, three exactly (every lane of a pass
                                   separable passes           is computed as in memory)
:func:`xanes_maps`                 spatial, energy axis       exactly (bulk fit once from the
                                   whole; no overlap          whole stack's prepass sample)
:func:`separate_particles`         3-D, halo ≥ the largest    one to one with the in-memory
                                   radius; centroid owners,   particles (all 82 and 122 on two
                                   seams reconciled           test members); seam voxels counted
:func:`particle_moments`           3-D, no overlap; per-label counts and boxes exactly, moments
                                   partial sums tree-reduced  to float rounding
=================================  =========================  ==========================

:func:`run_pipeline` runs a TOML pipeline (the same file as ``chemomech
run``) with its volume stages on the cluster, over OME-Zarr, resumable chunk
by chunk (``python -m chemomech run PIPELINE --dask ADDRESS``).

:func:`label` finds the components of every chunk, offsets them to be
unique, collects the pairs of labels that touch across each chunk boundary
(the two voxel planes on either side of it, so diagonal neighbours across
chunk edges and corners are found too), resolves the equivalences in one
task on a worker (``scipy.sparse.csgraph``; its size is the number of
labels that touch a chunk face, not the volume), and relabels every chunk
with the resulting table, broadcast once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _api, _core, _tomo

try:
    import dask
    import dask.array as da
except ImportError as e:  # pragma: no cover - the [dask] extra
    raise ImportError("chemomech.dask needs dask: pip install 'chemomech[dask]'") from e

__all__ = [
    "normalize",
    "minus_log",
    "paganin",
    "reconstruct",
    "gaussian",
    "median",
    "threshold_otsu",
    "threshold_iso50",
    "classify",
    "label",
    "edt",
    "particle_moments",
    "separate_particles",
    "xanes_maps",
    "slurm_cluster",
]

Spacing = _api.Spacing


def _as_dask(x: Any, name: str) -> "da.Array":
    if isinstance(x, da.Array):
        return x
    if isinstance(x, np.ndarray):
        return da.from_array(x)
    raise ValueError(f"{name} must be a dask or numpy array, got {type(x).__name__}")


def _check3(x: "da.Array", name: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D, got a {x.ndim}-D array of shape {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{name} is empty (shape {x.shape})")


# ------------------------------------------------------------- per chunk


def normalize(projections: Any, flats: Any = None, darks: Any = None, *, combine: str = "mean", threads: int = 1) -> "da.Array":
    """Flat/dark normalisation per chunk of projections (angle, row, column),
    as :func:`chemomech.normalize` (flats and darks are small: numpy arrays,
    sent once). Chunks may split every axis; no overlap."""
    p = _as_dask(projections, "projections")
    _check3(p, "projections")
    f = None if flats is None else np.asarray(flats, np.float32)
    d = None if darks is None else np.asarray(darks, np.float32)

    def one(block, block_info=None):
        (_, _), (r0, r1), (c0, c1) = block_info[0]["array-location"]
        fb = None if f is None else f[:, r0:r1, c0:c1]
        db = None if d is None else d[:, r0:r1, c0:c1]
        return _tomo.normalize(block, fb, db, combine=combine, threads=threads)[0]

    return p.map_blocks(one, dtype=np.float32)


def minus_log(transmission: Any, *, threads: int = 1) -> "da.Array":
    """−ln of transmission per chunk, as :func:`chemomech.minus_log` (repairs
    run along detector rows: keep each chunk's rows whole, i.e. do not split
    the last axis, for results equal to the in-memory ones)."""
    t = _as_dask(transmission, "transmission")
    _check3(t, "transmission")
    return t.map_blocks(lambda b: _tomo.minus_log(b, threads=threads)[0], dtype=np.float32)


def paganin(
    transmission: Any, energy_kev: float, distance_m: float, pixel_um: float, delta_beta: float, *, threads: int = 1
) -> "da.Array":
    """Paganin's filter on every projection, as :func:`chemomech.paganin`:
    the projections are rechunked to whole detector frames (chunks along the
    angle only), each filtered exactly as in memory."""
    t = _as_dask(transmission, "transmission")
    _check3(t, "transmission")
    t = t.rechunk({1: -1, 2: -1})
    return t.map_blocks(
        lambda b: _tomo.paganin(b, energy_kev, distance_m, pixel_um, delta_beta, threads=threads), dtype=np.float32
    )


def reconstruct(
    lines: Any,
    angles_deg: Any,
    center: float,
    *,
    algorithm: str = "fbp",
    filter: str = "ramp",
    size: int | None = None,
    pixel_um: float | None = None,
    iterations: int | None = None,
    threads: int = 1,
) -> "da.Array":
    """Reconstruction of line integrals (angle, row, column) by detector
    rows, as :func:`chemomech.reconstruct`: the projections are rechunked
    to all angles and columns (chunks along the rows only) and every chunk
    of rows becomes the same slices as in memory; the volume (row, size,
    size) is chunked like the rows. The rotation centre is given (find it
    on one row with :func:`chemomech.find_center`)."""
    lin = _as_dask(lines, "lines")
    _check3(lin, "lines")
    a = np.asarray(angles_deg, np.float64)
    if a.ndim != 1 or a.size != lin.shape[0]:
        raise ValueError(f"angles_deg: {a.size} angles for {lin.shape[0]} projections")
    n = int(size or lin.shape[2])
    lin = lin.rechunk({0: -1, 2: -1})

    def one(b):
        return _tomo.reconstruct(
            b,
            a,
            center,
            algorithm=algorithm,
            filter=filter,
            size=n,
            pixel_um=pixel_um,
            iterations=iterations,
            threads=threads,
        )

    chunks = (lin.chunks[1], (n,), (n,))
    return lin.map_blocks(one, dtype=np.float32, chunks=chunks, new_axis=None, drop_axis=None)


def _overlapped(x: "da.Array", depth: tuple[int, int, int], func: Any, dtype: Any) -> "da.Array":
    """``func`` on every chunk with a halo of `depth` voxels per axis; the
    volume's own faces get no halo (the kernel reflects there, as in memory)."""
    depth = {k: int(d) for k, d in enumerate(depth)}
    return da.map_overlap(func, x, depth=depth, boundary="none", trim=True, dtype=dtype, allow_rechunk=True)


def gaussian(volume: Any, sigma_um: float, spacing_um: Spacing = 1.0, *, threads: int = 1) -> "da.Array":
    """Gaussian smoothing per chunk with a halo of the kernel's radius
    (⌊4σ + ½⌋ voxels per axis): equal to :func:`chemomech.gaussian` on the
    whole volume."""
    v = _as_dask(volume, "volume")
    _check3(v, "volume")
    sp = _api._spacing(spacing_um, False)
    s = _api._positive(sigma_um, "sigma_um")
    depth = tuple(max(1, math.floor(4.0 * s / sk + 0.5)) for sk in sp)
    return _overlapped(v, depth, lambda b: _api.gaussian(b, s, sp, threads=threads), np.float32)


def median(volume: Any, radius: int = 1, *, threads: int = 1) -> "da.Array":
    """Median over a (2r+1)³ cube per chunk with a halo of r voxels: equal
    to :func:`chemomech.median` on the whole volume."""
    v = _as_dask(volume, "volume")
    _check3(v, "volume")
    r = int(radius)
    if r < 0:
        raise ValueError(f"radius must be ≥ 0, got {radius}")
    if r == 0:
        return v.astype(np.float32)
    return _overlapped(v, (r, r, r), lambda b: _api.median(b, r, threads=threads), np.float32)


def _classify_block(block: np.ndarray, model: Any, threads: int) -> np.ndarray:
    from ._classify import classify as _classify

    return _classify(block, model, threads=threads)


def classify(volume: Any, model: Any, *, threads: int = 1) -> "da.Array":
    """Random-forest classification of a dask volume, as
    :func:`chemomech.classify`: every chunk with a halo of the model's
    feature context (``model.halo`` voxels; none on the volume's own faces,
    which the filters reflect as in memory), the model sent once to each
    worker (one task holds it; every chunk's task depends on it). Equal to
    the in-memory prediction."""
    from ._classify import Classifier

    if not isinstance(model, Classifier):
        raise ValueError(f"model must be a chemomech Classifier, got {type(model).__name__}")
    v = _as_dask(volume, "volume")
    _check3(v, "volume")
    h = int(model.halo)
    depth = {k: min(h, v.shape[k] - 1) for k in range(3)}
    # Chunks at least as deep as the halo, so that a halo comes from the neighbours only.
    v = v.rechunk({k: max(depth[k], 1) if v.chunksize[k] < depth[k] else v.chunksize[k] for k in range(3)})
    g = da.overlap.overlap(v.astype(np.float32), depth=depth, boundary="none")
    m = dask.delayed(model, pure=True)
    blocks = g.to_delayed()
    parts = np.empty(blocks.shape, dtype=object)
    for idx in np.ndindex(blocks.shape):
        shape = tuple(g.chunks[k][idx[k]] for k in range(3))
        parts[idx] = da.from_delayed(dask.delayed(_classify_block)(blocks[idx], m, threads), shape, dtype=np.uint8)
    return da.overlap.trim_internal(da.block(parts.tolist()), depth, boundary="none")


# ------------------------------------------------------------ reductions


def _values(block: np.ndarray, bound: float | None) -> np.ndarray:
    """The block's finite values (those at or below `bound`, compared in f64, when given)."""
    v = block[np.isfinite(block)].astype(np.float32)
    return v if bound is None else v[v.astype(np.float64) <= bound]


def _hist_block(block: np.ndarray, lo: float, hi: float, bins: int, bound: float | None = None) -> np.ndarray:
    return _core.histogram_in(_values(block, bound), lo, hi, bins)[None, None, None, :]


def _range_block(block: np.ndarray, bound: float | None) -> np.ndarray:
    v = _values(block, bound)
    if v.size == 0:
        return np.array([[[[np.inf, -np.inf, 0.0]]]])
    return np.array([[[[float(v.min()), float(v.max()), float(v.size)]]]])


def _range(v: "da.Array", bound: float | None) -> tuple[float, float, int]:
    r = v.map_blocks(_range_block, bound, dtype=np.float64, chunks=(1, 1, 1, 3), new_axis=3)
    lo, hi, n = dask.compute(r[..., 0].min(), r[..., 1].max(), r[..., 2].sum())
    return float(lo), float(hi), int(n)


def _otsu(v: "da.Array", classes: int, bound: float | None = None) -> list[float]:
    lo, hi, _ = _range(v, bound)
    if not lo < hi:
        raise ValueError("cannot threshold: the volume has fewer than two distinct finite values")
    bins = 256
    h = v.map_blocks(_hist_block, lo, hi, bins, bound, dtype=np.float64, chunks=(1, 1, 1, bins), new_axis=3)
    if classes not in (2, 3):
        raise ValueError(f"classes must be 2 or 3, got {classes}")
    return _core.multi_otsu_histogram(h.sum(axis=(0, 1, 2)).compute().tolist(), lo, hi, classes)


def threshold_otsu(volume: Any, classes: int = 2) -> list[float]:
    """Otsu (``classes=2``) or three-class Otsu thresholds of a dask volume,
    from a 256-bin histogram reduced over the chunks (a tree reduction of
    the chunks' histograms, after a reduction for the finite range): the
    same thresholds as :func:`chemomech.segment` with ``otsu`` or
    ``multiotsu`` on the whole volume."""
    return _otsu(_as_dask(volume, "volume").astype(np.float32), classes)


# Order statistics, exactly: f32 values as order-preserving 32-bit keys,
# located by a histogram of the keys' top 16 bits, then of the low 16 bits
# of the keys in the chosen top bins: two passes over the data for any
# number of ranks.


def _keys(v: np.ndarray) -> np.ndarray:
    b = v.astype(np.float32).view(np.uint32)
    return np.where(b & np.uint32(0x80000000), ~b, b | np.uint32(0x80000000))


def _unkey(k: int) -> float:
    k = np.uint32(k)
    b = np.where(k & np.uint32(0x80000000), k & np.uint32(0x7FFFFFFF), ~k).astype(np.uint32)
    return float(np.array(b, np.uint32).view(np.float32))


def _top_block(block: np.ndarray, bound: float | None) -> np.ndarray:
    return np.bincount(_keys(_values(block, bound)) >> 16, minlength=65536)[None, None, None, :]


def _low_block(block: np.ndarray, bound: float | None, tops: tuple) -> np.ndarray:
    k = _keys(_values(block, bound))
    out = np.zeros((len(tops), 65536), np.int64)
    for i, t in enumerate(tops):
        out[i] = np.bincount(k[(k >> 16) == t] & 0xFFFF, minlength=65536)
    return out[None, None, None]


class _OrderStats:
    """Exact ranks and counts of the finite values (≤ `bound`) of a dask
    volume: one pass for the histogram of the keys' top 16 bits, then one
    pass per batch of top bins not yet refined (their low 16 bits), kept."""

    def __init__(self, v: "da.Array", bound: float | None):
        self.v, self.bound = v, bound
        top = v.map_blocks(_top_block, bound, dtype=np.int64, chunks=(1, 1, 1, 65536), new_axis=3)
        self.top = top.sum(axis=(0, 1, 2)).compute()
        self.before = np.r_[0, np.cumsum(self.top)]  # values in top bins < t
        self.low: dict[int, np.ndarray] = {}

    def _refine(self, tops: set[int]) -> None:
        need = tuple(sorted(t for t in tops if t not in self.low))
        if need:
            low = self.v.map_blocks(
                _low_block, self.bound, need, dtype=np.int64, chunks=(1, 1, 1, len(need), 65536), new_axis=(3, 4)
            )
            for t, h in zip(need, low.sum(axis=(0, 1, 2)).compute()):
                self.low[t] = np.cumsum(h)

    def values(self, ranks: list[int]) -> list[float]:
        """The values of 0-based `ranks`."""
        tops = [int(np.searchsorted(self.before[1:], r, side="right")) for r in ranks]
        self._refine(set(tops))
        return [
            _unkey((t << 16) | int(np.searchsorted(self.low[t], r - self.before[t], side="right")))
            for r, t in zip(ranks, tops)
        ]

    def count_le(self, t: float) -> int:
        """How many values are ≤ t (compared in f64)."""
        m = np.float32(t)
        if float(m) > t:
            m = np.nextafter(m, np.float32(-np.inf))
        if not np.isfinite(m):
            return 0 if m < 0 else int(self.before[-1])
        if m == 0:
            m = np.float32(0.0)  # −0 ≤ t and +0 ≤ t alike, as f64 comparisons have it
        k = int(_keys(np.array([m]))[0])
        top, low = k >> 16, k & 0xFFFF
        self._refine({top})
        return int(self.before[top] + self.low[top][low])


def _iso50(v: "da.Array", bound: float | None) -> float:
    """The engine's ISO-50 % threshold (Ridler–Calvard on medians, from
    Otsu's split) of the finite values (≤ `bound`), with exact medians."""
    lo, hi, n = _range(v, bound)
    t = _otsu(v, 2, bound)[0]
    tol = 1e-6 * (hi - lo)
    stats = _OrderStats(v, bound)

    def median_ranks(a: int, m: int) -> list[int]:
        return [a + m // 2] if m % 2 == 1 else [a + m // 2 - 1, a + m // 2]

    for _ in range(100):
        k = stats.count_le(t)
        if k == 0 or k == n:
            raise ValueError("cannot place an ISO-50 % threshold: one side is empty")
        lo_r, hi_r = median_ranks(0, k), median_ranks(k, n - k)
        vals = stats.values(lo_r + hi_r)
        a, b = vals[: len(lo_r)], vals[len(lo_r) :]
        med = [x[0] if len(x) == 1 else 0.5 * (x[0] + x[1]) for x in (a, b)]
        nxt = 0.5 * (med[0] + med[1])
        done = abs(nxt - t) <= tol
        t = nxt
        if done:
            break
    return t


def threshold_iso50(volume: Any, classes: int = 3) -> list[float]:
    """ISO-50 % thresholds of a dask volume, as :func:`chemomech.segment`'s
    default ``iso50`` (``classes=3``: [t1, t2]; ``classes=2``: one), exactly:
    the medians are order statistics found by two histogram passes over the
    chunks each (keys of the float32 values), a few passes per iteration."""
    v = _as_dask(volume, "volume").astype(np.float32)
    if classes not in (2, 3):
        raise ValueError(f"classes must be 2 or 3, got {classes}")
    t2 = _iso50(v, None)
    if classes == 2:
        return [t2]
    return [_iso50(v, t2), t2]


# ------------------------------------------------------------- labelling


_PLANE_OFFSETS = {
    6: [(0, 0)],
    18: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)],
    26: [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
}


def _label_block(block: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    # A chunk is often a strided view of a larger array: numpy copies it
    # into C order faster than the engine's element-wise standard layout.
    lab, n = _api.label(np.ascontiguousarray(block), connectivity, return_n=True, threads=1)
    return lab, int(n)


def _count(pair: tuple[np.ndarray, int]) -> int:
    return pair[1]


def _offsets(counts: list) -> list:
    """Each chunk's first label − 1: the components of the chunks before it."""
    return [0, *np.cumsum(counts, dtype=np.int64)[:-1].tolist()]


def _face(pair: tuple[np.ndarray, int], axis: int, last: bool, offset: int) -> np.ndarray:
    """A chunk's first or last plane along `axis`, in global labels."""
    lab = pair[0]
    plane = np.take(lab, lab.shape[axis] - 1 if last else 0, axis=axis).astype(np.uint64)
    return np.where(plane > 0, plane + np.uint64(offset), np.uint64(0))


def _slab_pairs(axis: int, connectivity: int, lower: list, upper: list) -> np.ndarray:
    """Pairs of labels that touch across one chunk boundary along `axis`:
    `lower` and `upper` are the grids (over the two other axes' chunks) of
    the planes on either side, joined into whole planes here so that
    diagonal neighbours across chunk edges and corners are found too."""
    a, b = np.block(lower), np.block(upper)
    ny, nx = a.shape
    out = []
    for dy, dx in _PLANE_OFFSETS[connectivity]:
        ya, yb = slice(max(0, -dy), ny - max(0, dy)), slice(max(0, dy), ny - max(0, -dy))
        xa, xb = slice(max(0, -dx), nx - max(0, dx)), slice(max(0, dx), nx - max(0, -dx))
        pa, pb = a[ya, xa], b[yb, xb]
        m = (pa > 0) & (pb > 0)
        if m.any():
            out.append(np.stack([pa[m], pb[m]], axis=1))
    if not out:
        return np.zeros((0, 2), np.uint64)
    p = np.concatenate(out)
    if p.max() < 2**32:
        # One 64-bit key per pair: a 1-D unique is far faster than rows'.
        k = np.unique((p[:, 0] << np.uint64(32)) | p[:, 1])
        return np.stack([k >> np.uint64(32), k & np.uint64(0xFFFFFFFF)], axis=1)
    return np.unique(p, axis=0)


def _resolve(total: int, *pairs: np.ndarray) -> np.ndarray:
    """Table old label → new label: components of the touch graph, numbered
    1, 2, … in order of their smallest old label (0 stays 0)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    p = np.concatenate([np.zeros((0, 2), np.uint64), *pairs]).astype(np.int64)
    n = total + 1
    g = coo_matrix((np.ones(len(p), np.int8), (p[:, 0], p[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # Number components by their smallest label: label 0 is its own component.
    first = np.full(comp.max() + 1, n, np.int64)
    np.minimum.at(first, comp, np.arange(n))
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    table = rank[comp]  # component of label 0 has the smallest first (0): rank 0
    dtype = np.uint32 if table.max() < 2**32 else np.uint64
    return table.astype(dtype)


def _relabel(block: np.ndarray, connectivity: int, offset: int, n: int, table: np.ndarray) -> np.ndarray:
    """A chunk labelled again (the same labels: the engine is deterministic)
    and its local labels 1..n mapped to their final labels (offset + local).
    Labelling again costs less than keeping every chunk's labels in memory
    until the table is known."""
    lab, n2 = _label_block(block, connectivity)
    if n2 != n:
        raise RuntimeError(f"labelling a chunk twice gave {n} and then {n2} components")
    sub = table[offset : offset + n + 1].copy()
    sub[0] = 0
    return sub[lab]


def label(mask: Any, connectivity: int = 26) -> "da.Array":
    """Connected components of a boolean dask volume, across chunks.

    Equal to :func:`chemomech.label` (and to ``cc3d``) up to the numbering:
    components are numbered 1, 2, … in the order of the chunk (in C order)
    where they first appear, then of the in-chunk raster order.

    Parameters
    ----------
    mask : dask.array.Array of bool (Z, Y, X)
        Foreground voxels (integers: nonzero = True); any chunk shape.
    connectivity : {6, 18, 26}, optional
        Neighbourhood, across chunk boundaries too (default 26).

    Returns
    -------
    labels : dask.array.Array of uint32 (uint64 beyond 2³² − 1 components)
        Lazy; the labelling of the chunks and the equivalence table are
        computed when it is. Only the chunks' counts and boundary planes
        are kept between the two passes (each chunk is labelled again when
        relabelled), so memory stays bounded by a few chunks per worker
        whatever the volume's size.
    """
    m = _as_dask(mask, "mask")
    _check3(m, "mask")
    if connectivity not in _PLANE_OFFSETS:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    m = m if m.dtype == np.bool_ else m != 0
    counts, table = _label_plan(m, connectivity)
    return _label_apply(m, connectivity, counts, table)


def _label_plan(m: "da.Array", connectivity: int) -> tuple[Any, Any]:
    """The global steps of :func:`label` as delayed values: every chunk's
    count of components (a list in C order of the chunk grid) and the table
    of equivalences (old label → final label)."""
    delayed = dask.delayed
    # 1. Every chunk on its own; offsets from the counts of the chunks before it.
    blocks = m.to_delayed()
    grid = blocks.shape
    pairs = np.empty(grid, dtype=object)
    offsets = np.empty(grid, dtype=object)
    counts = np.empty(grid, dtype=object)
    offset: Any = 0
    for idx in np.ndindex(grid):
        pairs[idx] = delayed(_label_block)(blocks[idx], connectivity)
        counts[idx] = delayed(_count)(pairs[idx])
        offsets[idx] = offset
        offset = offset + counts[idx]
    total = offset
    # 2. Labels that touch across every chunk boundary, along every axis,
    # from the chunks' boundary planes.
    touching = []
    for axis in range(3):
        rest = [k for k in range(3) if k != axis]
        for i in range(grid[axis] - 1):
            sides = []
            for j, last in ((i, True), (i + 1, False)):
                rows = []
                for a in range(grid[rest[0]]):
                    row = []
                    for b in range(grid[rest[1]]):
                        idx = [0, 0, 0]
                        idx[axis], idx[rest[0]], idx[rest[1]] = j, a, b
                        t = tuple(idx)
                        row.append(delayed(_face)(pairs[t], axis, last, offsets[t]))
                    rows.append(row)
                sides.append(rows)
            touching.append(delayed(_slab_pairs)(axis, connectivity, sides[0], sides[1]))
    # 3. One table of equivalences.
    table = delayed(_resolve)(total, *touching)
    return delayed(list)(counts.ravel().tolist()), table


def _label_apply(m: "da.Array", connectivity: int, counts: Any, table: Any) -> "da.Array":
    """Every chunk relabelled with the table (sent once to every chunk's
    task); `counts` and `table` may be delayed (from :func:`_label_plan`)
    or computed (a resumed run keeps them)."""
    from dask.delayed import Delayed

    delayed = dask.delayed
    blocks = m.to_delayed()
    grid = blocks.shape
    if not isinstance(table, Delayed):
        table = delayed(table, pure=True)
    offsets = delayed(_offsets)(counts) if isinstance(counts, Delayed) else _offsets(counts)
    arrays = np.empty(grid, dtype=object)
    for i, idx in enumerate(np.ndindex(grid)):
        shape = tuple(m.chunks[k][idx[k]] for k in range(3))
        task = delayed(_relabel)(blocks[idx], connectivity, offsets[i], counts[i], table)
        arrays[idx] = da.from_delayed(task, shape, dtype=np.uint32)
    return da.block(arrays.tolist())


# ------------------------------------------------------------ distances


def edt(mask: Any, spacing_um: Spacing = 1.0, *, threads: int = 1) -> "da.Array":
    """Exact Euclidean distance transform (µm) of a boolean dask volume,
    equal bit for bit to :func:`chemomech.edt` on the whole volume.

    The transform is separable: squared distances along x within each row,
    then the lower envelope of parabolas along y, then along z. Each pass
    runs on chunks that hold whole lanes along its axis (the volume is
    rechunked between passes, keeping the chunks' volume), and every lane
    is computed exactly as in memory.
    """
    m = _as_dask(mask, "mask")
    _check3(m, "mask")
    m = m if m.dtype == np.bool_ else m != 0
    sp = _api._spacing(spacing_um, False)
    unit = min(sp)
    w = [s / unit for s in sp]
    from . import _core

    def whole(x: "da.Array", axis: int) -> "da.Array":
        # Whole lanes along `axis`; the other axes share the rest of a chunk's volume.
        target = max(1, int(np.prod([c[0] for c in x.chunks])))
        n = x.shape[axis]
        other = max(1, int(round((target / n) ** 0.5)))
        chunks = tuple(n if k == axis else min(x.shape[k], other) for k in range(3))
        return x.rechunk(chunks)

    d = whole(m, 2).map_blocks(lambda b: _core.edt_squared_x(b, w[2], threads=threads), dtype=np.float32)
    d = whole(d, 1).map_blocks(lambda b: _core.edt_envelope(b, 1, w[1], threads=threads), dtype=np.float32)
    d = whole(d, 0).map_blocks(lambda b: _core.edt_envelope(b, 0, w[0], threads=threads), dtype=np.float32)
    return d.map_blocks(lambda b: (np.sqrt(b.astype(np.float64)) * unit).astype(np.float32), dtype=np.float32)


# ---------------------------------------------------- particle moments


_SUMS = ("voxels", "sz", "sy", "sx", "zz", "zy", "zx", "yy", "yx", "xx")
_MINS = ("z0", "y0", "x0")
_MAXS = ("z1", "y1", "x1")


def _block_moments(lab: np.ndarray, origin: tuple[int, int, int], spacing: tuple[float, float, float]) -> dict:
    """Per-label partial sums of one chunk: voxel counts, first and second
    moments of the voxel centres (µm), and bounding boxes (voxel indices,
    end exclusive)."""
    fg = lab > 0
    ids = lab[fg].astype(np.uint64)
    if ids.size == 0:
        return {"id": np.zeros(0, np.uint64), **{k: np.zeros(0) for k in _SUMS + _MINS + _MAXS}}
    idx = np.nonzero(fg)
    uniq, inv = np.unique(ids, return_inverse=True)
    pos = [(idx[k] + origin[k] + 0.5) * spacing[k] for k in range(3)]
    out: dict = {"id": uniq, "voxels": np.bincount(inv).astype(np.float64)}
    names = "zyx"
    for k in range(3):
        out["s" + names[k]] = np.bincount(inv, weights=pos[k])
    for a, b in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):
        out[names[a] + names[b]] = np.bincount(inv, weights=pos[a] * pos[b])
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    for k in range(3):
        g = idx[k][order] + origin[k]
        out[names[k] + "0"] = np.minimum.reduceat(g, starts).astype(np.float64)
        out[names[k] + "1"] = np.maximum.reduceat(g, starts).astype(np.float64) + 1
    return out


def _merge_moments(*parts: dict) -> dict:
    """Partial sums of several chunks combined per label."""
    ids = np.concatenate([p["id"] for p in parts])
    if ids.size == 0:
        return parts[0]
    uniq, inv = np.unique(ids, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    out: dict = {"id": uniq}
    for k in _SUMS:
        out[k] = np.add.reduceat(np.concatenate([p[k] for p in parts])[order], starts)
    for k in _MINS:
        out[k] = np.minimum.reduceat(np.concatenate([p[k] for p in parts])[order], starts)
    for k in _MAXS:
        out[k] = np.maximum.reduceat(np.concatenate([p[k] for p in parts])[order], starts)
    return out


def _moment_table(m: dict, spacing: tuple[float, float, float], shape: tuple[int, ...]) -> dict:
    """Columns of :func:`chemomech.particle_metrics` that moments give."""
    n = m["voxels"]
    vol = n * spacing[0] * spacing[1] * spacing[2]
    c = [m["sz"] / n, m["sy"] / n, m["sx"] / n]
    cov = np.empty((n.size, 3, 3))
    names = "zyx"
    for a in range(3):
        for b in range(a, 3):
            v = m[names[a] + names[b]] / n - c[a] * c[b]
            if a == b:
                v = v + spacing[a] ** 2 / 12.0  # voxels are cubes: each adds v²/12
            cov[:, a, b] = cov[:, b, a] = v
    e = np.linalg.eigvalsh(cov)[:, ::-1] if n.size else np.zeros((0, 3))
    axes = 4.0 * np.sqrt(np.maximum(e, 0.0))
    bbox = {k: m[k].astype(np.uint64) for k in _MINS + _MAXS}
    border = (bbox["z0"] == 0) | (bbox["y0"] == 0) | (bbox["x0"] == 0)
    border |= (bbox["z1"] == shape[0]) | (bbox["y1"] == shape[1]) | (bbox["x1"] == shape[2])
    return {
        "id": m["id"],
        "voxels": n.astype(np.uint64),
        "volume_um3": vol,
        "esd_um": np.cbrt(6.0 * vol / np.pi),
        "centroid_z_um": c[0],
        "centroid_y_um": c[1],
        "centroid_x_um": c[2],
        "bbox_z0": bbox["z0"],
        "bbox_y0": bbox["y0"],
        "bbox_x0": bbox["x0"],
        "bbox_z1": bbox["z1"],
        "bbox_y1": bbox["y1"],
        "bbox_x1": bbox["x1"],
        "major_axis_um": axes[:, 0],
        "minor_axis_um": axes[:, 2],
        "elongation": np.where(axes[:, 2] > 0, axes[:, 0] / np.where(axes[:, 2] > 0, axes[:, 2], 1), np.inf),
        "touches_border": border,
    }


def particle_moments(labels: Any, spacing_um: Spacing = 1.0, *, split_every: int = 8) -> dict:
    """Size, position and shape of every particle of a dask label volume,
    from per-label partial moments of the chunks, tree-reduced.

    The columns of :func:`chemomech.particle_metrics` that moments give:
    ``id``, ``voxels``, ``volume_um3``, ``esd_um``, ``centroid_*_um``,
    ``bbox_*`` (voxel indices, end exclusive), ``major_axis_um`` and
    ``minor_axis_um`` (4 σ along the principal directions, voxels as
    cubes), ``elongation`` and ``touches_border``; equal to the in-memory
    columns (counts and boxes exactly, the rest to float rounding: the
    sums are added in another order). Surface, crack fraction, damage class
    and contacts need each particle's neighbourhood and are not here.

    Parameters
    ----------
    labels : dask.array.Array of int (Z, Y, X)
        Particle labels (0 = none), e.g. from :func:`label`.
    spacing_um : float or sequence of float, optional
        Voxel size in µm.
    split_every : int, optional
        Partial tables merged per task of the tree reduction.

    Returns
    -------
    table : dict of str to ndarray
        One row per label present, in increasing label order.
    """
    lab = _as_dask(labels, "labels")
    _check3(lab, "labels")
    sp = _api._spacing(spacing_um, False)
    blocks = lab.to_delayed()
    starts = [np.r_[0, np.cumsum(c)[:-1]] for c in lab.chunks]
    parts = [
        dask.delayed(_block_moments)(blocks[idx], tuple(int(starts[k][idx[k]]) for k in range(3)), sp)
        for idx in np.ndindex(blocks.shape)
    ]
    while len(parts) > 1:
        parts = [dask.delayed(_merge_moments)(*parts[i : i + split_every]) for i in range(0, len(parts), split_every)]
    table = dask.delayed(_moment_table)(parts[0], sp, lab.shape)
    return table.compute()


# ---------------------------------------------------------- separation


def _separate_block(block: np.ndarray, core: tuple, origin: tuple, grid_index: int, kwargs: dict) -> tuple:
    """Particles of a chunk with its halo: each kept by this chunk when its
    centroid lies in the chunk's core ("owned"), painted with its local id
    over the whole block (its global id is chunk index × 2³² + local id);
    returns the painted block (uint32) and the number owned."""
    lab = _api.separate_particles(np.ascontiguousarray(block), threads=1, **kwargs)
    n = int(lab.max())
    if n == 0:
        return lab, 0
    # Centroids from per-plane counts along each axis: no coordinate arrays
    # of the block's size (a worker's memory is a few chunks).
    cnt = np.bincount(lab.ravel(), minlength=n + 1).astype(np.float64)
    cen = []
    for k in range(3):
        s_k = np.zeros(n + 1)
        for i in range(lab.shape[k]):
            s_k += i * np.bincount(np.take(lab, i, axis=k).ravel(), minlength=n + 1)
        cen.append(s_k / np.maximum(cnt, 1))
    owned = np.ones(n + 1, bool)
    owned[0] = False
    for k in range(3):
        lo, hi = core[k]
        owned &= (cen[k] >= lo) & (cen[k] < hi)
    # Local ids of the owned particles (uint32: half the memory of the
    # global ids, which the cores' tasks form from the chunk index).
    lab[~owned[lab]] = 0
    return lab, int(owned.sum())


def _crop(painted: tuple, src: tuple, grid_index: int) -> np.ndarray:
    """The part of a painted block that overlaps one core, in global ids (a
    copy: only it travels to the core's task, not the whole block with its
    halo)."""
    part = painted[0][src]
    out = part.astype(np.uint64)
    out[part > 0] |= np.uint64(grid_index) << np.uint64(32)
    return out


def _reconcile(core_shape: tuple, pieces: list) -> tuple:
    """A core chunk's labels from the painted blocks' parts that overlap it:
    each piece is (part, slices into the core). A voxel painted by two
    owners is a seam disagreement: the smaller id wins and the voxel is
    counted."""
    out = np.zeros(core_shape, np.uint64)
    conflicts = 0
    for part, dst in pieces:
        cur = out[dst]
        both = (part > 0) & (cur > 0) & (part != cur)
        conflicts += int(both.sum())
        take = (part > 0) & ((cur == 0) | (both & (part < cur)))
        cur[take] = part[take]
        out[dst] = cur
    return out, conflicts


def separate_particles(
    solid: Any, spacing_um: Spacing = 1.0, *, max_radius_um: float, threads: int = 1, **kwargs: Any
) -> tuple:
    """Particle separation of a dask volume by chunks with halos, reconciled.

    Every chunk is separated with a halo of `max_radius_um` (at least the
    largest particle's radius) by :func:`chemomech.separate_particles`. A
    chunk keeps ("owns") the particles whose centroid lies in its core and
    paints them, with ids unique to it, over its core and halo; each core
    is then assembled from the painted blocks of itself and its
    neighbours. Where two owners paint one voxel (their separations
    disagree near a seam) the smaller id wins and the voxel is counted.
    Particles are numbered by owner chunk; renumber with
    :func:`chemomech.label` semantics if consecutive ids are needed.

    Parameters
    ----------
    solid : dask.array.Array of bool (Z, Y, X)
        The active phase.
    spacing_um : float or sequence of float, optional
        Voxel size in µm.
    max_radius_um : float
        The largest particle radius (µm): the halo's depth.
    **kwargs
        ``crack_close_um``, ``h_um``, ``min_volume_um3``, ``split``, as
        :func:`chemomech.separate_particles`.

    Returns
    -------
    labels : dask.array.Array of uint64
        Particle ids (0 = none): owner chunk × 2³² + its local id.
    seam_voxels : dask Delayed of int
        Voxels two owners claimed (``.compute()`` it; 0 when the chunks'
        separations agree).
    """
    m = _as_dask(solid, "solid")
    _check3(m, "solid")
    m = m if m.dtype == np.bool_ else m != 0
    sp = _api._spacing(spacing_um, False)
    r = _api._positive(max_radius_um, "max_radius_um")
    depth = tuple(min(int(math.ceil(r / sp[k])) + 1, m.shape[k]) for k in range(3))
    kw = dict(kwargs, spacing_um=sp)
    starts = [np.r_[0, np.cumsum(c)] for c in m.chunks]
    grid = tuple(len(c) for c in m.chunks)
    delayed = dask.delayed
    painted = np.empty(grid, dtype=object)
    ext = np.empty(grid, dtype=object)  # (lo, hi) of each block with its halo, per axis
    for idx in np.ndindex(grid):
        lo = [max(0, int(starts[k][idx[k]]) - depth[k]) for k in range(3)]
        hi = [min(m.shape[k], int(starts[k][idx[k] + 1]) + depth[k]) for k in range(3)]
        core = tuple((int(starts[k][idx[k]]) - lo[k], int(starts[k][idx[k] + 1]) - lo[k]) for k in range(3))
        block = m[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        flat = int(np.ravel_multi_index(idx, grid)) + 1
        painted[idx] = delayed(_separate_block)(block, core, tuple(lo), flat, kw)
        ext[idx] = (lo, hi)
    cores = np.empty(grid, dtype=object)
    conflicts = []
    for idx in np.ndindex(grid):
        c0 = [int(starts[k][idx[k]]) for k in range(3)]
        c1 = [int(starts[k][idx[k] + 1]) for k in range(3)]
        pieces = []
        for other in np.ndindex(grid):
            lo, hi = ext[other]
            a = [max(c0[k], lo[k]) for k in range(3)]
            b = [min(c1[k], hi[k]) for k in range(3)]
            if any(a[k] >= b[k] for k in range(3)):
                continue
            src = tuple(slice(a[k] - lo[k], b[k] - lo[k]) for k in range(3))
            dst = tuple(slice(a[k] - c0[k], b[k] - c0[k]) for k in range(3))
            flat = int(np.ravel_multi_index(other, grid)) + 1
            pieces.append((delayed(_crop)(painted[other], src, flat), dst))
        shape = tuple(c1[k] - c0[k] for k in range(3))
        res = delayed(_reconcile)(shape, pieces)
        cores[idx] = da.from_delayed(delayed(lambda t: t[0])(res), shape, dtype=np.uint64)
        conflicts.append(delayed(lambda t: t[1])(res))
    return da.block(cores.tolist()), delayed(sum)(conflicts)


# ---------------------------------------------------------------- XANES


_MAP_NAMES = ("edge_jump", "pre_edge_sigma", "mask", "e0_half", "e0_derivative", "white_line_energy",
              "white_line_height", "r_factor", "reduced_chi2")


def _maps_block(block: np.ndarray, args: tuple, sample: np.ndarray, n_pixels: int, threads: int) -> np.ndarray:
    """The maps of one spatial chunk (energy axis whole), stacked on a new first axis."""
    e, names, re_, rm, params_json = args
    v = np.ascontiguousarray(block, dtype=np.float32)
    maps, _ = _core.xanes_maps(v, e, names, re_, rm, params_json, sample=(sample, n_pixels), threads=threads)
    layers = [maps[k].astype(np.float32) for k in _MAP_NAMES]
    layers += [maps["fractions"][n] for n in names] + [maps["fraction_std_errors"][n] for n in names]
    if maps["soc"] is not None:
        layers.append(maps["soc"])
    return np.stack(layers)


def xanes_maps(
    od: Any,
    energies_ev: Any,
    references: dict | None = None,
    *,
    mask_sigma: float = 5.0,
    max_shift_ev: float = 0.0,
    soc_edge_ev: tuple[float, float] | None = None,
    params: dict | None = None,
    threads: int = 1,
) -> dict:
    """Per-pixel (or per-voxel) XANES maps of a dask optical-density stack
    (E, Y, X) or (E, Z, Y, X), chunked spatially with the energy axis
    whole, equal to :func:`chemomech.xanes_maps` on the whole stack.

    The reference E0, windows and the references' shift are fitted once
    from the whole stack's prepass sample of spectra (the same seeded
    pixels the in-memory call averages; gathered once and sent to every
    chunk), then every chunk is mapped. Clustering is not offered: it needs
    every pixel's spectrum at once.

    Returns
    -------
    maps : dict of dask.array.Array
        ``edge_jump``, ``pre_edge_sigma``, ``mask`` (bool), ``e0_half``,
        ``e0_derivative``, ``white_line_energy``, ``white_line_height``,
        ``r_factor``, ``reduced_chi2``, ``fractions`` and
        ``fraction_std_errors`` (dicts by reference) and ``soc`` (or None),
        on the stack's pixel grid and chunks.
    """
    import json

    from ._xanes import _map_inputs

    v = _as_dask(od, "od")
    if v.ndim not in (3, 4) or 0 in v.shape:
        raise ValueError(f"od must be (E, Y, X) or (E, Z, Y, X) and not empty, got shape {v.shape}")
    e, names, re_, rm, p = _map_inputs(v.shape, energies_ev, references, mask_sigma, 0, max_shift_ev, soc_edge_ev, params)
    if p.get("clusters") is not None:
        raise ValueError("chemomech.dask.xanes_maps cannot cluster spectra: leave params['clusters'] unset")
    v = v.rechunk({0: -1}).astype(np.float32)
    grid = v.shape[1:]
    n_pixels = int(np.prod(grid))
    # The prepass sample, gathered pointwise (energy last, so one spectrum per point).
    idx = np.asarray(_core.xanes_prepass_pixels(n_pixels), dtype=np.int64)
    points = np.unravel_index(idx, grid)
    vt = da.moveaxis(v, 0, -1)
    sample = np.asarray(vt.vindex[points].compute(), dtype=np.float64).reshape(len(idx), v.shape[0])
    has_soc = bool(names) and p.get("soc") != "none"
    n_layers = len(_MAP_NAMES) + 2 * len(names) + (1 if has_soc else 0)
    args = (e.tolist(), names, re_, rm, json.dumps(p))
    shared = dask.delayed(sample, pure=True)
    stacked = v.map_blocks(
        _maps_block,
        args,
        shared,
        n_pixels,
        threads,
        dtype=np.float32,
        chunks=((n_layers,), *v.chunks[1:]),
    )
    out: dict = {k: stacked[i] for i, k in enumerate(_MAP_NAMES)}
    out["mask"] = out["mask"] > 0
    k = len(_MAP_NAMES)
    out["fractions"] = {n: stacked[k + i] for i, n in enumerate(names)}
    out["fraction_std_errors"] = {n: stacked[k + len(names) + i] for i, n in enumerate(names)}
    out["soc"] = stacked[n_layers - 1] if has_soc else None
    return out


# ---------------------------------------------------------------- Slurm


def slurm_cluster(
    cores: int,
    memory: str,
    *,
    queue: str | None = None,
    account: str | None = None,
    walltime: str = "01:00:00",
    threads_per_worker: int = 1,
    job_extra_directives: list[str] | None = None,
    **kwargs: Any,
) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` set up for chemomech: each Slurm job
    runs ``cores // threads_per_worker`` worker processes of
    `threads_per_worker` threads, and every chemomech call in a worker runs
    with one rayon thread per Dask thread (``threads=1``, the default of
    this module's functions), so a job never runs more threads than cores.
    ``RAYON_NUM_THREADS`` is set in the job script too, for code that uses
    the global pool.

    Parameters
    ----------
    cores : int
        Cores per Slurm job (``--cpus-per-task``).
    memory : str
        Memory per job (``--mem``), e.g. ``"64GB"``; each worker's limit is
        its share. A chunk task needs about 4× its chunk plus halo: size
        chunks so that ``4 × chunk × threads_per_worker`` fits a worker.
    queue, account, walltime : str, optional
        Slurm partition (``-p``), account (``-A``) and time limit (``-t``).
    threads_per_worker : int, optional
        Dask threads per worker process (default 1: processes side-step the
        GIL for the pure-Python parts).
    job_extra_directives : list of str, optional
        More ``#SBATCH`` lines (e.g. ``["--exclusive"]``).
    **kwargs
        Passed to ``SLURMCluster`` (e.g. ``local_directory``, ``interface``).

    Returns
    -------
    cluster : dask_jobqueue.SLURMCluster
        Not started: ``cluster.scale(jobs=N)`` submits jobs;
        ``distributed.Client(cluster)`` connects. ``cluster.job_script()``
        shows what is submitted.

    Examples
    --------
    >>> from chemomech.dask import slurm_cluster  # doctest: +SKIP
    >>> cluster = slurm_cluster(cores=32, memory="256GB", queue="normal", account="battery")  # doctest: +SKIP
    >>> cluster.scale(jobs=8)  # doctest: +SKIP
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as e:
        raise ImportError("slurm_cluster needs dask-jobqueue: pip install dask-jobqueue") from e
    if threads_per_worker < 1 or cores % threads_per_worker:
        raise ValueError(f"cores ({cores}) must be a multiple of threads_per_worker ({threads_per_worker})")
    prologue = list(kwargs.pop("job_script_prologue", [])) + [f"export RAYON_NUM_THREADS={threads_per_worker}"]
    return SLURMCluster(
        cores=cores,
        processes=cores // threads_per_worker,
        memory=memory,
        queue=queue,
        account=account,
        walltime=walltime,
        job_extra_directives=job_extra_directives or [],
        job_script_prologue=prologue,
        **kwargs,
    )


from ._dask_run import run_pipeline  # noqa: E402 - uses the functions above

__all__ += ["run_pipeline"]
