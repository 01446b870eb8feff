"""The public functions of chemomech: input checks and conversions, then one
call into the Rust engine (:mod:`chemomech._core`), which releases the GIL.

Conventions (as scikit-image's):

- Volumes are (z, y, x) numpy arrays; the functions marked so also take a
  2-D (y, x) image, treated as one voxel thick, and return 2-D results.
- ``spacing_um`` is the voxel size in µm: one number (isotropic voxels) or
  one per axis, (z, y, x) — (y, x) for 2-D images.
- ``threads=None`` runs on rayon's global pool (all cores, or
  ``RAYON_NUM_THREADS``); ``threads=n`` runs the call in a pool of ``n``
  threads of its own (e.g. ``threads=1`` inside Dask workers), kept for
  the calling thread's later calls with the same ``n``.
- C-contiguous inputs of the native dtype are read without a copy; other
  layouts (Fortran order, steps, negative strides) and convertible dtypes
  are copied. Results are numpy arrays that own their memory.
- Bad input raises ``ValueError`` naming the problem; files that cannot be
  read raise ``OSError``.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence, Union

import numpy as np

from . import _core

Spacing = Union[float, Sequence[float]]

__all__ = [
    "label",
    "edt",
    "gaussian",
    "median",
    "segment",
    "separate_particles",
    "particle_metrics",
    "read",
    "xas_normalize",
    "xas_lcf",
    "phantom",
]


# ----------------------------------------------------------------- checks


def _threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be None or an integer ≥ 1, got {threads!r}")
    return int(threads)


def _array(a: Any, name: str, two_d: bool = True) -> tuple[np.ndarray, bool]:
    """``a`` as a 3-D array (a 2-D one gets a one-voxel z axis); True when it was 2-D."""
    a = np.asarray(a)
    if a.ndim == 2 and two_d:
        flat = True
        a = a[np.newaxis]
    elif a.ndim == 3:
        flat = False
    else:
        want = "2-D (y, x) or 3-D (z, y, x)" if two_d else "3-D (z, y, x)"
        raise ValueError(f"{name} must be {want}, got a {a.ndim}-D array of shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape[1:] if flat else a.shape})")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a, flat


def _grey(a: Any, name: str = "volume", two_d: bool = True) -> tuple[np.ndarray, bool]:
    a, flat = _array(a, name, two_d)
    if a.dtype != np.float32:
        if a.dtype.kind not in "fiu":
            raise ValueError(
                f"{name} must be a real numeric array (float32, or any float or integer type, "
                f"converted to float32), got dtype {a.dtype}"
            )
        a = a.astype(np.float32)
    return a, flat


def _mask(a: Any, name: str = "mask", two_d: bool = True) -> tuple[np.ndarray, bool]:
    a, flat = _array(a, name, two_d)
    if a.dtype != np.bool_:
        if a.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a boolean (or integer, nonzero = True) array, got dtype {a.dtype}")
        a = a != 0
    return a, flat


def _ints(a: Any, name: str, dtype: type, two_d: bool = True) -> tuple[np.ndarray, bool]:
    a, flat = _array(a, name, two_d)
    if a.dtype != dtype:
        info = np.iinfo(dtype)
        if a.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array ({np.dtype(dtype).name}), got dtype {a.dtype}")
        lo, hi = int(a.min()), int(a.max())
        if lo < info.min or hi > info.max:
            raise ValueError(f"{name} must hold values in {info.min}..{info.max} ({np.dtype(dtype).name}), got {lo}..{hi}")
        a = a.astype(dtype)
    return a, flat


def _spacing(spacing_um: Spacing, flat: bool) -> tuple[float, float, float]:
    """(z, y, x) spacing in µm from one number or one per axis ((y, x) for 2-D input)."""
    if isinstance(spacing_um, numbers.Real) and not isinstance(spacing_um, bool):
        s = [float(spacing_um)] * 3
    else:
        try:
            s = [float(v) for v in spacing_um]  # type: ignore[union-attr]
        except TypeError:
            raise ValueError(f"spacing_um must be a number or a sequence of numbers, got {spacing_um!r}") from None
        if flat and len(s) == 2:
            s = [max(s), s[0], s[1]]
        elif len(s) != 3:
            axes = "2 (y, x) or 3 (z, y, x)" if flat else "3 (z, y, x)"
            raise ValueError(f"spacing_um must be one number or {axes} numbers, got {len(s)}")
    if not all(np.isfinite(v) and v > 0 for v in s):
        raise ValueError(f"spacing_um must be finite and positive, got {spacing_um!r}")
    return s[0], s[1], s[2]


def _positive(v: float, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite positive number, got {v!r}")
    return float(v)


def _out(a: np.ndarray, flat: bool) -> np.ndarray:
    return a[0] if flat else a


# ------------------------------------------------------------ functions


def label(mask: Any, connectivity: int = 26, *, return_n: bool = False, threads: int | None = None) -> Any:
    """Connected components of a binary volume.

    Components are numbered 1, 2, … in raster (z, y, x) order of their first
    voxel, as ``cc3d.connected_components`` numbers them; background is 0.

    Parameters
    ----------
    mask : (Z, Y, X) or (Y, X) array_like of bool
        Foreground voxels. Integer arrays are taken as ``mask != 0``.
    connectivity : {6, 18, 26}, optional
        Which neighbours touch: faces (6), faces and edges (18), or faces,
        edges and corners (26, default). In 2-D, 6 gives 4- and 18 or 26
        give 8-connectivity.
    return_n : bool, optional
        Also return the number of components.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    labels : ndarray of uint32, same shape as `mask`
        Component of every voxel (0 = background).
    n : int
        Number of components (only with ``return_n=True``).

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> m = np.zeros((3, 3, 3), bool); m[0, 0, 0] = m[2, 2, 2] = True
    >>> chemomech.label(m, connectivity=26, return_n=True)[1]
    2
    """
    m, flat = _mask(mask)
    if connectivity not in (6, 18, 26) or isinstance(connectivity, bool):
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    out, n = _core.label(m, int(connectivity), threads=_threads(threads))
    out = _out(out, flat)
    return (out, n) if return_n else out


def edt(mask: Any, spacing_um: Spacing = 1.0, *, threads: int | None = None) -> np.ndarray:
    """Euclidean distance transform: distance of every foreground voxel to the
    nearest background voxel, in µm.

    Exact and anisotropic, as ``scipy.ndimage.distance_transform_edt(mask,
    sampling=spacing_um)``: voxels outside the volume are not background, and
    background voxels are 0. With no background at all the result is +inf.

    Parameters
    ----------
    mask : (Z, Y, X) or (Y, X) array_like of bool
        Foreground voxels. Integer arrays are taken as ``mask != 0``.
    spacing_um : float or sequence of float, optional
        Voxel size in µm: one number or one per axis (default 1.0).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    distance : ndarray of float32, same shape as `mask`
        Distance in µm.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> m = np.ones((1, 1, 7), bool); m[0, 0, 0] = False
    >>> float(chemomech.edt(m, spacing_um=0.5)[0, 0, 4])
    2.0
    """
    m, flat = _mask(mask)
    return _out(_core.edt(m, _spacing(spacing_um, flat), threads=_threads(threads)), flat)


def gaussian(volume: Any, sigma_um: float, spacing_um: Spacing = 1.0, *, threads: int | None = None) -> np.ndarray:
    """Gaussian smoothing with σ in µm.

    Separable, reflecting at the borders (scipy's ``mode='reflect'``), the
    kernel truncated at 4 σ; σ in voxels is ``sigma_um / spacing_um`` per
    axis.

    Parameters
    ----------
    volume : (Z, Y, X) or (Y, X) array_like
        Grey levels; converted to float32 when of another real type.
    sigma_um : float
        Standard deviation of the Gaussian in µm (> 0).
    spacing_um : float or sequence of float, optional
        Voxel size in µm: one number or one per axis (default 1.0).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    smoothed : ndarray of float32, same shape as `volume`

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> v = np.full((5, 6, 7), 2.0, np.float32)
    >>> bool(np.allclose(chemomech.gaussian(v, sigma_um=1.0), 2.0))
    True
    """
    v, flat = _grey(volume)
    s = _positive(sigma_um, "sigma_um")
    return _out(_core.gaussian(v, s, _spacing(spacing_um, flat), threads=_threads(threads)), flat)


def median(volume: Any, radius: int = 1, *, threads: int | None = None) -> np.ndarray:
    """Median over a (2r+1)³ cube of voxels.

    Equal, value for value, to ``scipy.ndimage.median_filter(volume,
    size=2*radius+1, mode='reflect')``. NaN values give an unspecified
    result in their neighbourhood.

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Grey levels; converted to float32 when of another real type.
    radius : int, optional
        Half-width r of the cube in voxels (default 1: a 3×3×3 cube).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    filtered : ndarray of float32, same shape as `volume`

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> v = np.zeros((3, 3, 3), np.float32); v[1, 1, 1] = 9.0
    >>> float(chemomech.median(v, radius=1)[1, 1, 1])
    0.0
    """
    v, flat = _grey(volume, two_d=False)
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 0:
        raise ValueError(f"radius must be an integer ≥ 0 (voxels), got {radius!r}")
    return _out(_core.median(v, int(radius), threads=_threads(threads)), flat)


def segment(
    volume: Any,
    spacing_um: Spacing = 1.0,
    method: str = "iso50",
    denoise: str = "none",
    *,
    return_thresholds: bool = False,
    threads: int | None = None,
) -> Any:
    """Phases of a grey-level volume: 0 pore, 1 carbon-binder, 2 active.

    The library call behind ``chemomech segment``. Non-finite voxels are pore.

    Parameters
    ----------
    volume : (Z, Y, X) or (Y, X) array_like
        Grey levels (any units; brighter is denser); converted to float32.
    spacing_um : float or sequence of float, optional
        Voxel size in µm (used by the denoising), one number or one per axis.
    method : {'iso50', 'otsu', 'multiotsu'}, optional
        ``iso50`` (default): three phases at the ISO-50 % edges between the
        class medians; ``multiotsu``: three phases by multi-Otsu;
        ``otsu``: two phases (0 and 2). ``iso50`` is made for electrode
        tomograms (pore, a thin carbon-binder class, particles blurred by
        the optics); on a volume of three equal classes it can put the
        carbon-binder class on the pore side: use ``multiotsu`` there.
    denoise : str, optional
        Denoising first: ``none`` (default), ``gaussian:SIGMA_UM``,
        ``median:R`` or ``bilateral:SIGMA_UM:RANGE_FRACTION``.
    return_thresholds : bool, optional
        Also return the grey-level thresholds.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    phases : ndarray of uint8, same shape as `volume`
    thresholds : list of float
        Grey-level thresholds (only with ``return_thresholds=True``).

    Raises
    ------
    ValueError
        A volume with no finite value, an unknown method or denoising.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> v = np.repeat([0.0, 0.4, 1.0], 8).reshape(1, 3, 8).astype(np.float32)
    >>> chemomech.segment(v)[0, :, 0].tolist()
    [0, 1, 2]
    """
    v, flat = _grey(volume)
    if not isinstance(method, str) or not isinstance(denoise, str):
        raise ValueError("method and denoise must be strings")
    ph, t = _core.segment(v, _spacing(spacing_um, flat), method, denoise, threads=_threads(threads))
    ph = _out(ph, flat)
    return (ph, t) if return_thresholds else ph


def separate_particles(
    solid_mask: Any,
    spacing_um: Spacing = 1.0,
    *,
    crack_close_um: float | None = None,
    h_um: float | None = None,
    min_volume_um3: float | None = None,
    split: bool = True,
    return_report: bool = False,
    threads: int | None = None,
) -> Any:
    """One label per particle of the active (solid) phase.

    Fills cracks (closing, then cavities), splits touching particles by a
    watershed on the distance map from its h-maxima, merges the pieces of
    split cracked particles and drops particles smaller than
    ``min_volume_um3``. Labels cover each particle's solid plus its internal
    cracks. The defaults (``SeparateParams::for_voxel``) scale with the
    largest voxel size v: close cracks up to ~4 voxels wide (``2 v``),
    ``h_um = v / 2``, ``min_volume_um3 = 8 v³``.

    Parameters
    ----------
    solid_mask : (Z, Y, X) array_like of bool
        Active-material voxels (e.g. ``segment(volume) == 2``).
    spacing_um : float or sequence of float, optional
        Voxel size in µm, one number or one per axis (default 1.0).
    crack_close_um : float, optional
        Closing radius in µm (cracks up to about twice this wide are filled).
    h_um : float, optional
        Minimum dynamic (µm) of a distance-map peak to seed a particle.
    min_volume_um3 : float, optional
        Particles smaller than this (µm³) are dropped.
    split : bool, optional
        Split touching particles (default); else connected components.
    return_report : bool, optional
        Also return a dict of what separation did (markers, merges, …).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    labels : ndarray of uint32, same shape as `solid_mask`
        Particle of every voxel (0 = none), numbered 1, 2, ….
    report : dict
        Only with ``return_report=True``.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> z, y, x = np.mgrid[:20, :20, :36]
    >>> balls = ((z-10)**2 + (y-10)**2 + (x-10)**2 <= 64) | ((z-10)**2 + (y-10)**2 + (x-24)**2 <= 64)
    >>> int(chemomech.separate_particles(balls).max())
    2
    """
    m, flat = _mask(solid_mask, "solid_mask", two_d=False)
    labels, rep = _core.separate_particles(
        m,
        _spacing(spacing_um, flat),
        crack_close_um=crack_close_um,
        h_um=h_um,
        min_volume_um3=min_volume_um3,
        split=bool(split),
        threads=_threads(threads),
    )
    labels = _out(labels, flat)
    return (labels, rep) if return_report else labels


def particle_metrics(
    labels: Any,
    phases: Any,
    spacing_um: Spacing = 1.0,
    *,
    mild: float = 0.03,
    severe: float = 0.15,
    as_frame: bool | None = None,
    threads: int | None = None,
) -> Any:
    """Metrics of every particle, one row each.

    Size (voxels, volume, equivalent sphere diameter), centroid, bounding
    box, surface area (Crofton), sphericity, principal axes and elongation,
    crack fraction and damage class, contact with carbon-binder / pore /
    other particles, neighbours and border contact — the columns of
    ``chemomech particles``' ``particles.csv``. Units are in the column
    names (``_um``, ``_um2``, ``_um3``) and in the returned units.

    Parameters
    ----------
    labels : (Z, Y, X) or (Y, X) array_like of uint32
        Particle labels (0 = none), e.g. from :func:`separate_particles`.
    phases : array_like of uint8, same shape
        Phases: 0 pore, 1 carbon-binder, 2 active.
    spacing_um : float or sequence of float, optional
        Voxel size in µm, one number or one per axis (default 1.0).
    mild, severe : float, optional
        Crack-fraction thresholds of the damage classes.
    as_frame : bool, optional
        Return a pandas DataFrame (default: when pandas is installed).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    table : pandas.DataFrame or dict of str to ndarray
        One column per metric (text columns as lists of str). A DataFrame
        carries the units in ``df.attrs["units"]``.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> z, y, x = np.mgrid[:24, :24, :24]
    >>> ball = ((z-12)**2 + (y-12)**2 + (x-12)**2 <= 100)
    >>> t = chemomech.particle_metrics(ball.astype(np.uint32), np.where(ball, 2, 0), as_frame=False)
    >>> round(float(t["esd_um"][0]))
    20
    """
    lab, flat = _ints(labels, "labels", np.uint32)
    ph, flat2 = _ints(phases, "phases", np.uint8)
    if lab.shape != ph.shape:
        raise ValueError(f"labels and phases: shapes differ, {np.shape(labels)} and {np.shape(phases)}")
    cols, units = _core.particle_metrics(
        lab, ph, _spacing(spacing_um, flat), mild=float(mild), severe=float(severe), threads=_threads(threads)
    )
    from ._table import _frame

    return _frame(cols, as_frame, units)


def read(path: Any, dataset: str | None = None) -> tuple[Any, dict]:
    """Reads any file or folder that chemomech reads, format detected from
    the content.

    TIFF (and TIFF folders), Xradia ``.xrm``/``.txrm``, DXchange / NXtomo /
    FXI HDF5, Zarr v3, NumPy ``.npy``, XDI / text / Athena spectra, CSV and
    Parquet tables.

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder.
    dataset : str, optional
        A dataset inside a container (HDF5 path, Zarr array name).

    Returns
    -------
    data : ndarray or dict
        The array in its stored dtype (projections, energy stack, volume,
        image), μ of a spectrum, or a dict of columns for a table.
    meta : dict
        ``kind`` (``array``, ``projections``, ``energy stack``,
        ``spectrum`` or ``table``), the file's metadata, and where stated:
        ``spacing_um`` (µm per axis), ``pixel_um``, ``angles_deg``,
        ``energies_ev``, ``energy_ev``, ``flats``, ``darks``, ``units``.

    Raises
    ------
    OSError
        The file is missing, unreadable or not what it claims.

    Examples
    --------
    >>> import chemomech
    >>> vol, meta = chemomech.read("volume.tiff")  # doctest: +SKIP
    >>> meta.get("spacing_um")  # doctest: +SKIP
    [0.65, 0.65, 0.65]
    """
    import os

    return _core.read(os.fspath(path), dataset)


def _spectrum(energy_ev: Any, mu: Any) -> tuple[np.ndarray, np.ndarray]:
    """A spectrum's energies and values as 1-D float64 arrays of one length."""
    e = np.asarray(energy_ev, dtype=np.float64)
    m = np.asarray(mu, dtype=np.float64)
    if e.ndim != 1 or m.ndim != 1:
        raise ValueError(f"energy_ev and mu must be 1-D, got shapes {e.shape} and {m.shape}")
    if e.shape != m.shape:
        raise ValueError(f"{e.size} energies for {m.size} μ values")
    return e, m


def xas_normalize(
    energy_ev: Any,
    mu: Any,
    *,
    e0: float | None = None,
    step: float | None = None,
    pre1: float | None = None,
    pre2: float | None = None,
    norm1: float | None = None,
    norm2: float | None = None,
    nnorm: int | None = None,
    nvict: int = 0,
) -> dict:
    """Pre-edge subtraction and normalisation of an absorption spectrum, as
    Larch's ``pre_edge`` (same defaults, same fields).

    Parameters
    ----------
    energy_ev : (N,) array_like
        Energies in eV (sorted here; non-finite points dropped).
    mu : (N,) array_like
        Absorption μ(E).
    e0 : float, optional
        Edge energy in eV (default: found, as Larch's ``find_e0``).
    step : float, optional
        Edge step (default: post- minus pre-edge curve at E0).
    pre1, pre2 : float, optional
        Pre-edge fit range relative to E0, eV.
    norm1, norm2 : float, optional
        Post-edge normalisation range relative to E0, eV.
    nnorm : int, optional
        Degree of the post-edge polynomial (at most 5).
    nvict : int, optional
        Energy exponent of the pre-edge fit (μ·E^nvict).

    Returns
    -------
    dict
        ``e0`` (eV), ``edge_step``, ``pre1``, ``pre2``, ``norm1``, ``norm2``,
        ``nnorm``, ``nvict``, ``pre_slope``, ``pre_offset``, ``norm_coefs``,
        and per energy: ``energy`` (eV), ``norm``, ``flat``, ``pre_edge``,
        ``post_edge``, ``dmude`` (per eV).

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> e = np.arange(8200.0, 8600.0, 1.0)
    >>> mu = 0.1 + 2.0 * (0.5 + np.arctan((e - 8333.0) / 2.0) / np.pi)
    >>> r = chemomech.xas_normalize(e, mu)
    >>> abs(r["e0"] - 8333.0) < 1.0
    True
    """
    e, m = _spectrum(energy_ev, mu)
    return _core.xas_normalize(
        e, m, e0=e0, step=step, pre1=pre1, pre2=pre2, norm1=norm1, norm2=norm2, nnorm=nnorm, nvict=int(nvict)
    )


def xas_lcf(
    energy_ev: Any,
    mu: Any,
    references: dict,
    *,
    sum_to_one: bool = True,
    nonnegative: bool = True,
    max_shift_ev: float = 0.0,
    emin: float | None = None,
    emax: float | None = None,
) -> dict:
    """Linear-combination fit (LCF) of a spectrum with reference spectra.

    The weights are non-negative and sum to exactly one together (every
    active set of the small quadratic programme is tried, so the optimum is
    exact; Larch's bounded fits can break the sum). The references are
    interpolated linearly onto the spectrum's energies inside their common
    range; an optional common energy shift of the references is fitted.

    Parameters
    ----------
    energy_ev : (N,) array_like
        Energies of the spectrum in eV.
    mu : (N,) array_like
        The spectrum (usually normalised, e.g. ``xas_normalize(...)["norm"]``).
    references : dict of str to (energy_ev, mu)
        Each reference's name and its energies (eV, increasing) and values.
    sum_to_one : bool, optional
        Constrain the weights to sum to one (default True).
    nonnegative : bool, optional
        Constrain the weights to be non-negative (default True).
    max_shift_ev : float, optional
        Fit a common shift of the references within ± this many eV (0: none).
    emin, emax : float, optional
        Fit window, absolute energies in eV.

    Returns
    -------
    dict
        ``names``, ``weights`` and ``std_errors`` (in the references'
        order), ``sum_weights``, ``shift_ev``, ``r_factor``, ``chi2``,
        ``reduced_chi2``, ``n_points``, ``n_free``, and per fitted point:
        ``energy`` (eV), ``data``, ``fit``.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> e = np.arange(8300.0, 8400.0, 0.5)
    >>> a = 0.5 + np.arctan((e - 8340.0) / 2.0) / np.pi
    >>> b = 0.5 + np.arctan((e - 8344.0) / 2.0) / np.pi
    >>> r = chemomech.xas_lcf(e, 0.3 * a + 0.7 * b, {"Ni2+": (e, a), "Ni3+": (e, b)})
    >>> np.round(r["weights"], 3).tolist()
    [0.3, 0.7]
    """
    e, m = _spectrum(energy_ev, mu)
    if not references:
        raise ValueError("LCF needs at least one reference")
    names, energies, mus = [], [], []
    for name, pair in references.items():
        try:
            re_, rm = pair
        except (TypeError, ValueError):
            raise ValueError(f"reference {name!r}: give (energy_ev, mu)") from None
        re_ = np.ascontiguousarray(re_, dtype=np.float64)
        rm = np.ascontiguousarray(rm, dtype=np.float64)
        if re_.ndim != 1 or rm.ndim != 1 or re_.shape != rm.shape:
            raise ValueError(f"reference {name!r}: {re_.size} energies for {rm.size} values")
        names.append(str(name))
        energies.append(re_)
        mus.append(rm)
    return _core.xas_lcf(
        np.ascontiguousarray(e),
        np.ascontiguousarray(m),
        names,
        energies,
        mus,
        sum_to_one=bool(sum_to_one),
        nonnegative=bool(nonnegative),
        max_shift_ev=float(max_shift_ev),
        emin=emin,
        emax=emax,
    )


def phantom(
    preset: str = "mixed+clean",
    seed: int = 1,
    size: int = 96,
    slice: bool = False,
    *,
    voxel_um: float | None = None,
    threads: int | None = None,
) -> dict:
    """One member of the simulator family with its truth, as ``chemomech
    phantom`` makes it (without the files).

    Irregular, hollow, porous and agglomerate particles with cracks from
    sub-voxel to several voxels wide, under several imaging conditions.
    Same seed, same arrays, whatever the thread count.

    Parameters
    ----------
    preset : str, optional
        ``MORPHOLOGY[+IMAGING]``: dense, agglomerate, hollow, thin-cracks or
        mixed, with clean, absorption, holo or soft (e.g. ``hollow+holo``);
        or ``random`` (every parameter drawn from the seed).
    seed : int, optional
        Random seed.
    size : int, optional
        Image size in voxels per axis (default 96).
    slice : bool, optional
        A 2-D (size, size) slice instead of a (size, size, size) volume.
    voxel_um : float, optional
        Voxel size in µm (default: the preset's; particle sizes scale with it).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    dict
        ``image`` (float32 grey levels), ``attenuation`` (float32,
        noise-free), ``labels`` (uint32 particle envelopes), ``phases``
        (uint8: 0 pore, 1 carbon-binder, 2 active), ``truth`` (dict of
        per-particle columns), ``truth_units``, ``spacing_um`` and
        ``config`` (the member's full configuration).

    Examples
    --------
    >>> import chemomech
    >>> p = chemomech.phantom("dense+clean", seed=2, size=32)
    >>> p["image"].shape, p["labels"].dtype.name
    ((32, 32, 32), 'uint32')
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be a positive integer (voxels), got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer ≥ 0, got {seed!r}")
    if voxel_um is not None:
        voxel_um = _positive(voxel_um, "voxel_um")
    d = _core.phantom(str(preset), int(seed), int(size), bool(slice), voxel_um, threads=_threads(threads))
    if slice:
        for k in ("image", "attenuation", "labels", "phases"):
            d[k] = d[k][0]
    return d


def watershed(
    cost: Any, markers: Any, mask: Any = None, connectivity: int = 26, *, threads: int | None = None
) -> np.ndarray:
    """Marker-controlled watershed: every marker grows over `mask` by
    increasing `cost`.

    The flooding of ``skimage.segmentation.watershed(cost, markers,
    mask=mask, connectivity=…)``: voxels are taken in order of cost, each
    joining the marker that reached it first (ties in raster order). To grow
    particles from their centres on a distance map, pass ``-distance``.

    Parameters
    ----------
    cost : (Z, Y, X) or (Y, X) array_like
        Flooding order (low first); converted to float32.
    markers : array_like of int, same shape
        Seeds (0: none); values are kept as labels.
    mask : array_like of bool, same shape, optional
        Voxels that may be flooded (default: all).
    connectivity : {6, 18, 26}, optional
        Neighbourhood of the flooding (default 26; 4 and 8 in a 2-D slice
        are 6 and 26 here).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    labels : ndarray of uint32, same shape as `cost`

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> cost = np.array([[0, 1, 2, 1, 0]], np.float32)
    >>> markers = np.array([[1, 0, 0, 0, 2]])
    >>> chemomech.watershed(cost, markers).tolist()
    [[1, 1, 1, 2, 2]]
    """
    c, flat = _grey(cost, "cost")
    k, _ = _ints(markers, "markers", np.uint32)
    m = np.ones(c.shape, bool) if mask is None else _mask(mask)[0]
    if k.shape != c.shape or m.shape != c.shape:
        raise ValueError(f"cost, markers and mask must have one shape, got {c.shape}, {k.shape}, {m.shape}")
    return _out(_core.watershed(c, k, m, int(connectivity), threads=_threads(threads)), flat)


def tortuosity(
    phase: Any,
    spacing_um: Spacing = 1.0,
    axis: int = 0,
    *,
    rtol: float = 1e-8,
    max_iter: int = 20_000,
    flux_tol: float = 1e-4,
    threads: int | None = None,
) -> dict:
    """Tortuosity factor of a phase along an axis, from steady diffusion.

    Solves Laplace's equation on the phase's voxels (finite volumes,
    conjugate gradients) with fixed concentrations on the two faces normal
    to `axis` and no flux elsewhere; τ = ε / (D_eff / D), as TauFactor and
    PoreSpy define it. The iteration stops when the inlet and outlet fluxes
    agree to `flux_tol` or the residual falls below `rtol`.

    Parameters
    ----------
    phase : (Z, Y, X) array_like of bool
        The conducting phase (e.g. ``phases == 0`` for the pores).
    spacing_um : float or sequence of float, optional
        Voxel size in µm (default 1.0); τ is dimensionless.
    axis : {0, 1, 2}, optional
        Direction of transport (default 0: through the electrode's thickness).
    rtol, max_iter, flux_tol : optional
        Stopping rules of the solver.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    result : dict
        ``tau``, ``volume_fraction``, ``effective_diffusivity``,
        ``percolating_fraction``, ``iterations``, ``relative_residual``,
        ``flux_in``, ``flux_out`` (``tau`` is inf, or None, when the phase
        does not percolate).

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> straight = np.zeros((8, 6, 6), bool); straight[:, ::2, :] = True
    >>> round(chemomech.tortuosity(straight)["tau"], 6)
    1.0
    """
    p, flat = _mask(phase, "phase", two_d=False)
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    return _core.tortuosity(
        p, _spacing(spacing_um, flat), int(axis), float(rtol), int(max_iter), float(flux_tol), threads=_threads(threads)
    )

