"""Tomography: from raw projections to a reconstructed volume.

Projections are (angle, row, column) arrays, as DXchange stores them; a
2-D (angle, column) sinogram is taken as one detector row where a function
says so. The chain of ``chemomech reconstruct``::

    t, _ = normalize(raw, flats, darks)        # transmission, flat = 1
    lines, _ = minus_log(t)                    # line integrals
    lines = remove_rings(lines)                # optional
    c = find_center(lines, angles_deg)
    vol = reconstruct(lines, angles_deg, c, pixel_um=0.65)   # 1/cm

with :func:`paganin` (one distance) between ``normalize`` and ``minus_log``,
or :func:`ctf` (several distances) in place of both.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from . import _core
from ._api import _positive, _threads

__all__ = ["normalize", "minus_log", "find_center", "remove_rings", "paganin", "ctf", "reconstruct"]


def _projections(a: Any, name: str, sinogram: bool = False) -> tuple[np.ndarray, bool]:
    """``a`` as C-contiguous float32 (angle, row, column); True when it was a 2-D sinogram."""
    a = np.asarray(a)
    if a.ndim == 2 and sinogram:
        a, flat = a[:, np.newaxis, :], True
    elif a.ndim == 3:
        flat = False
    else:
        want = "3-D (angle, row, column) or a 2-D (angle, column) sinogram" if sinogram else "3-D (angle, row, column)"
        raise ValueError(f"{name} must be {want}, got a {a.ndim}-D array of shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32), flat


def _angles(angles_deg: Any, n: int) -> list[float]:
    a = np.asarray(angles_deg, dtype=np.float64)
    if a.ndim != 1 or a.size != n:
        raise ValueError(f"angles_deg must hold one angle per projection: {a.size} angles for {n} projections")
    if not np.all(np.isfinite(a)):
        raise ValueError("angles_deg holds a non-finite angle")
    return a.tolist()


def normalize(
    projections: Any,
    flats: Any = None,
    darks: Any = None,
    *,
    flat_positions: Sequence[float] | None = None,
    combine: str = "mean",
    threads: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Flat- and dark-field normalisation: transmission ``(I − D̄) / (F − D̄)``.

    As ``tomopy.normalize``, plus flats taken before and after the scan
    interpolated by projection index (``flat_positions``). Pixels where
    ``F − D̄ ≤ 0`` (dead pixels) are set to transmission 1 and counted.

    Parameters
    ----------
    projections : (A, R, C) array_like
        Raw projections (counts); converted to float32.
    flats : (F, R, C) array_like, optional
        Flat fields (no sample). Without them the data are returned as float32.
    darks : (D, R, C) array_like, optional
        Dark fields (no beam).
    flat_positions : sequence of float, optional
        Projection index at which each flat was taken (two groups, e.g.
        before and after the scan, are interpolated linearly).
    combine : {'mean', 'median'}, optional
        How several flats (and darks) are combined (default ``mean``).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    transmission : ndarray of float32, shape (A, R, C)
    report : dict
        ``flat_groups`` and ``dead_pixels``.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> raw = np.full((2, 3, 4), 60.0); flat = np.full((1, 3, 4), 110.0); dark = np.full((1, 3, 4), 10.0)
    >>> t, rep = chemomech.normalize(raw, flat, dark)
    >>> float(t[0, 0, 0])
    0.5
    """
    p, _ = _projections(projections, "projections")
    f = None if flats is None else _projections(flats, "flats")[0]
    d = None if darks is None else _projections(darks, "darks")[0]
    for name, x in (("flats", f), ("darks", d)):
        if x is not None and x.shape[1:] != p.shape[1:]:
            raise ValueError(f"{name} frames are {x.shape[1:]}, projections {p.shape[1:]}")
    pos = None if flat_positions is None else [float(v) for v in flat_positions]
    if pos is not None and f is not None and len(pos) != f.shape[0]:
        raise ValueError(f"flat_positions: {len(pos)} positions for {f.shape[0]} flats")
    return _core.normalize(p, f, d, flat_positions=pos, combine=str(combine), threads=_threads(threads))


def minus_log(transmission: Any, *, threads: int | None = None) -> tuple[np.ndarray, dict]:
    """Line integrals ``−ln T`` of transmission, with a guard.

    Non-positive and non-finite transmission values (dead pixels, zingers,
    a broken frame) are counted and replaced by linear interpolation between
    the nearest valid values along the detector row, not left as inf/NaN.

    Parameters
    ----------
    transmission : (A, R, C) array_like
        Transmission (flat = 1), e.g. from :func:`normalize`.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    lines : ndarray of float32, shape (A, R, C)
    report : dict
        ``non_positive``, ``non_finite`` and ``repaired`` value counts.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> lines, rep = chemomech.minus_log(np.full((1, 1, 3), np.exp(-2.0)))
    >>> round(float(lines[0, 0, 1]), 5), rep["non_positive"]
    (2.0, 0)
    """
    t, _ = _projections(transmission, "transmission")
    return _core.minus_log(t, threads=_threads(threads))


def find_center(
    lines: Any, angles_deg: Any, method: str = "vo", *, row: int | None = None, threads: int | None = None
) -> float:
    """Rotation centre of a parallel-beam scan, in detector pixels.

    Parameters
    ----------
    lines : (A, R, C) array_like or (A, C) sinogram
        Line integrals (after :func:`minus_log`).
    angles_deg : (A,) array_like
        Rotation angle of every projection in degrees.
    method : {'vo', 'opposite'}, optional
        ``vo`` (default): Vo et al.'s Fourier method (2014) on one sinogram,
        as ``tomopy.find_center_vo``, for scans over 180° or more;
        ``opposite``: registration of the first projection with the mirrored
        one 180° later (needs a projection within 0.5° of it).
    row : int, optional
        The detector row of the ``vo`` method (default: the middle one).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    center : float
        Column of the rotation axis (0 = the first pixel's centre).

    Examples
    --------
    A disc 8 pixels off an axis at column 33.0:

    >>> import numpy as np, chemomech
    >>> angles = np.linspace(0.0, 180.0, 181)
    >>> s = 33.0 + 8.0 * np.cos(np.radians(angles))[:, None]
    >>> sino = 2 * np.sqrt(np.clip(5.0**2 - (np.arange(64)[None, :] - s) ** 2, 0, None))
    >>> round(chemomech.find_center(sino, angles), 1)
    33.0
    """
    lin, _ = _projections(lines, "lines", sinogram=True)
    a = _angles(angles_deg, lin.shape[0])
    if row is not None and (isinstance(row, bool) or not isinstance(row, numbers.Integral) or row < 0):
        raise ValueError(f"row must be a detector row index ≥ 0, got {row!r}")
    return _core.find_center(
        lin, a, method=str(method), row=None if row is None else int(row), threads=_threads(threads)
    )


def remove_rings(
    lines: Any,
    method: str = "vo",
    *,
    size: int = 21,
    snr: float = 3.0,
    large_size: int = 51,
    level: int = 5,
    sigma: float = 2.0,
    threads: int | None = None,
) -> np.ndarray:
    """Ring (stripe) removal on every sinogram of line integrals.

    Parameters
    ----------
    lines : (A, R, C) array_like or (A, C) sinogram
        Line integrals.
    method : {'vo', 'fw', 'none'}, optional
        ``vo`` (default): Vo et al. (2018) sorting-based filter (window
        `size` pixels) then large-stripe removal (threshold `snr` noise
        levels, window `large_size`), as algotom's ``remove_stripe_based_sorting``
        and ``remove_large_stripe``; ``fw``: Münch et al. (2009) Fourier–wavelet
        filter (`level` db5 levels, damping width `sigma`), as
        ``tomopy.remove_stripe_fw``.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    lines : ndarray of float32, same shape as `lines`

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> sino = np.ones((90, 64), np.float32); sino[:, 30] += 0.5
    >>> out = chemomech.remove_rings(sino)
    >>> bool(abs(out[:, 30].mean() - out[:, 29].mean()) < 0.1)
    True
    """
    lin, flat = _projections(lines, "lines", sinogram=True)
    for name, v in (("size", size), ("large_size", large_size), ("level", level)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be an integer ≥ 1, got {v!r}")
    out = _core.remove_rings(
        lin,
        method=str(method),
        size=int(size),
        snr=_positive(snr, "snr"),
        large_size=int(large_size),
        level=int(level),
        sigma=_positive(sigma, "sigma"),
        threads=_threads(threads),
    )
    return out[:, 0, :] if flat else out


def paganin(
    transmission: Any,
    energy_kev: float,
    distance_m: float,
    pixel_um: float,
    delta_beta: float,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Paganin's single-distance phase retrieval on transmission.

    Each projection is filtered by ``1 / (1 + π λ z (δ/β) |f|²)`` (Paganin
    et al. 2002), padded by edge replication; follow with
    :func:`minus_log`, whose result is then ``μ`` times the projected
    thickness. ``delta_beta`` is the material's δ/β, not TomoPy's
    regularisation-style ``alpha``.

    Parameters
    ----------
    transmission : (A, R, C) array_like
        Transmission (flat = 1), e.g. from :func:`normalize`.
    energy_kev : float
        Photon energy in keV.
    distance_m : float
        Sample-to-detector propagation distance in metres.
    pixel_um : float
        Pixel size at the sample in µm.
    delta_beta : float
        δ/β of the material (dimensionless).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    transmission : ndarray of float32, same shape

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> t = np.full((1, 16, 16), 0.8, np.float32)
    >>> bool(np.allclose(chemomech.paganin(t, 17.0, 0.1, 0.65, 100.0), 0.8, atol=1e-5))
    True
    """
    t, _ = _projections(transmission, "transmission")
    return _core.paganin(
        t,
        _positive(energy_kev, "energy_kev"),
        _positive(distance_m, "distance_m"),
        _positive(pixel_um, "pixel_um"),
        _positive(delta_beta, "delta_beta"),
        threads=_threads(threads),
    )


def ctf(
    holograms: Sequence[Any],
    energy_kev: float,
    distances_m: Sequence[float],
    pixel_um: float | Sequence[float],
    delta_beta: float,
    *,
    alpha_low: float = 1e-6,
    alpha_high: float = 1e-4,
    radians: bool = False,
    threads: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Multi-distance phase retrieval by the contrast transfer function
    (holotomography; Cloetens et al. 1999, Zabler et al. 2005).

    The recordings are brought onto the finest pixel grid (cone-beam
    magnification), aligned to the first distance (registration of
    Paganin-retrieved images, then of predicted holograms), and retrieved
    by regularised least squares over the distances for a homogeneous
    object of the given δ/β.

    Parameters
    ----------
    holograms : sequence of (A, R, C) array_like
        Normalised holograms (transmission, e.g. from :func:`normalize`),
        one projection set per distance, all of one shape.
    energy_kev : float
        Photon energy in keV.
    distances_m : sequence of float
        Effective propagation distance of each recording in metres.
    pixel_um : float or sequence of float
        Pixel size at the sample in µm, one for all or one per distance.
    delta_beta : float
        δ/β of the object (dimensionless).
    alpha_low, alpha_high : float, optional
        Regularisation at low and high spatial frequencies.
    radians : bool, optional
        Return k∫δ in radians instead of line integrals of δ in pixel units.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    lines : ndarray of float32, shape (A, R, C)
        Line integrals of δ in pixel units (reconstruct them to get δ per
        voxel), or the phase in radians with ``radians=True``.
    report : dict
        ``shifts_px`` (row, column) per distance, ``zoom`` per distance and
        ``pixel_um`` of the common grid.
    """
    if isinstance(holograms, np.ndarray) and holograms.ndim == 3:
        holograms = [holograms]
    hs = [_projections(h, f"holograms[{i}]")[0] for i, h in enumerate(holograms)]
    if not hs:
        raise ValueError("ctf needs at least one hologram set")
    if any(h.shape != hs[0].shape for h in hs):
        raise ValueError(f"holograms differ in shape: {[h.shape for h in hs]}")
    d = [_positive(v, "distances_m") for v in distances_m]
    if len(d) != len(hs):
        raise ValueError(f"{len(d)} distances for {len(hs)} hologram sets")
    px = [float(pixel_um)] * len(hs) if isinstance(pixel_um, numbers.Real) else [float(v) for v in pixel_um]
    if len(px) != len(hs):
        raise ValueError(f"{len(px)} pixel sizes for {len(hs)} hologram sets")
    px = [_positive(v, "pixel_um") for v in px]
    return _core.ctf(
        hs,
        _positive(energy_kev, "energy_kev"),
        d,
        px,
        _positive(delta_beta, "delta_beta"),
        alpha_low=float(alpha_low),
        alpha_high=float(alpha_high),
        radians=bool(radians),
        threads=_threads(threads),
    )


def reconstruct(
    lines: Any,
    angles_deg: Any,
    center: float | None = None,
    *,
    algorithm: str = "fbp",
    filter: str = "ramp",
    size: int | None = None,
    pixel_um: float | None = None,
    iterations: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Parallel-beam reconstruction of line integrals.

    Parameters
    ----------
    lines : (A, R, C) array_like or (A, C) sinogram
        Line integrals (after :func:`minus_log`, or from :func:`ctf`).
    angles_deg : (A,) array_like
        Rotation angle of every projection in degrees.
    center : float, optional
        Rotation axis in detector pixels (default: :func:`find_center` with
        Vo's method on the middle row).
    algorithm : {'fbp', 'fourier', 'sirt', 'cgls'}, optional
        Filtered back-projection (default), direct Fourier reconstruction
        by gridding (``gridrec`` is accepted for it), or the iterative SIRT
        (non-negative) and CGLS, for few angles or a missing wedge.
    filter : {'ramp', 'shepp', 'cosine', 'hamming', 'hann'}, optional
        Reconstruction filter (default: the plain ramp).
    size : int, optional
        Width of the square output slices (default: the detector width).
    pixel_um : float, optional
        Pixel size in µm: the result is then the attenuation coefficient in
        1/cm (else per pixel).
    iterations : int, optional
        Iterations of ``sirt`` or ``cgls`` (default 100 and 10; CGLS
        semi-converges, so more is not better).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    volume : ndarray of float32, shape (R, size, size), or (size, size) for a sinogram

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> angles = np.linspace(0.0, 180.0, 180, endpoint=False)
    >>> sino = np.tile(2 * np.sqrt(np.clip(15.0**2 - (np.arange(64) - 31.5)**2, 0, None)), (180, 1))
    >>> img = chemomech.reconstruct(sino, angles, center=31.5)
    >>> round(float(img[32, 32]), 1)
    1.0
    """
    lin, flat = _projections(lines, "lines", sinogram=True)
    a = _angles(angles_deg, lin.shape[0])
    if center is None:
        center = find_center(lin, a, threads=threads)
    if isinstance(center, bool) or not isinstance(center, numbers.Real) or not np.isfinite(center):
        raise ValueError(f"center must be a finite number of detector pixels, got {center!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1):
        raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
    px = None if pixel_um is None else _positive(pixel_um, "pixel_um")
    if iterations is not None and (
        isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1
    ):
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    v = _core.reconstruct(
        lin,
        a,
        float(center),
        algorithm=str(algorithm),
        filter=str(filter),
        size=None if size is None else int(size),
        pixel_um=px,
        iterations=None if iterations is None else int(iterations),
        threads=_threads(threads),
    )
    return v[0] if flat else v
