"""XANES maps of energy stacks (2-D images or 3-D volumes per energy)."""

from __future__ import annotations

import json
import numbers
from typing import Any, Callable

import numpy as np

from . import _core
from ._api import _threads

__all__ = ["xanes_maps"]


def xanes_maps(
    od: Any,
    energies_ev: Any,
    references: dict | None = None,
    *,
    mask_sigma: float = 5.0,
    max_clusters: int = 6,
    max_shift_ev: float = 0.0,
    soc_edge_ev: tuple[float, float] | None = None,
    params: dict | None = None,
    progress: Callable[[str, int, int], Any] | None = None,
    threads: int | None = None,
) -> tuple[dict, dict]:
    """Per-pixel (or per-voxel) chemical maps of an optical-density stack.

    Every pixel's spectrum is normalised as Larch's ``pre_edge`` does, with
    the energy windows fixed once from the mean spectrum; then its edge
    energy (half height, and maximum derivative), white line, linear
    combination of the references (exact constrained least squares, with
    standard errors) and state of charge are mapped. Pixels whose edge
    jump is below `mask_sigma` times their pre-edge noise are masked
    (NaN). Spectra can be clustered (PCA, k-means, k by silhouette). The
    library call behind ``chemomech xanes``'s maps; same input, same maps,
    whatever the thread count.

    Parameters
    ----------
    od : (E, Y, X) or (E, Z, Y, X) array_like
        Optical density per energy (e.g. ``-log`` of normalised,
        registered transmission); converted to float32.
    energies_ev : (E,) array_like
        Energies in eV, increasing.
    references : dict of str to (energy_ev, mu), optional
        Reference spectra for the LCF and SoC maps (e.g. ``{"NiO": …,
        "LiNiO2": …}``, SoC 0 for the first and 1 for the last).
    mask_sigma : float, optional
        Edge-jump mask threshold in pre-edge noise σ (default 5).
    max_clusters : int, optional
        Largest number of spectral clusters tried (0 or 1: no clustering).
    max_shift_ev : float, optional
        Fit a common energy shift of the references within ± this (eV).
    soc_edge_ev : (float, float), optional
        Derive SoC from the half-height edge energy instead, linearly
        between these energies (eV) at SoC 0 and 1.
    params : dict, optional
        Any other field of the engine's map parameters (``MapParams``:
        ``pre_edge``, ``edge_window_ev``, ``lcf_window_ev``, ``smooth_passes``, …).
    progress : callable, optional
        Called as ``progress(label, done, total)`` (chunks of pixels) from
        the engine's threads, at most every 0.1 s; returning ``False``
        cancels the maps (:class:`chemomech.Cancelled`).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    maps : dict
        Arrays of the pixel grid's shape: ``edge_jump``, ``pre_edge_sigma``,
        ``mask`` (bool), ``e0_half`` and ``e0_derivative`` (eV),
        ``white_line_energy`` (eV), ``white_line_height``, ``fractions`` and
        ``fraction_std_errors`` (dicts by reference), ``r_factor``,
        ``reduced_chi2``, ``soc`` and ``cluster`` (or None).
    summary : dict
        Reference E0 and windows, pixel counts, mean fractions and SoC,
        the mean spectrum, PCA and clusters.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> e = np.arange(8250.0, 8450.0, 2.0)
    >>> a = 0.5 + np.arctan((e - 8343.0) / 2.0) / np.pi   # Ni2+-like edge
    >>> b = 0.5 + np.arctan((e - 8347.0) / 2.0) / np.pi   # Ni3+-like edge
    >>> f = np.linspace(0.0, 1.0, 16).reshape(4, 4)
    >>> od = (0.2 + (1 - f) * a[:, None, None] + f * b[:, None, None]).astype(np.float32)
    >>> maps, s = chemomech.xanes_maps(od, e, {"Ni2+": (e, a), "Ni3+": (e, b)}, max_clusters=0)
    >>> bool(np.allclose(maps["fractions"]["Ni3+"], f, atol=0.02))
    True
    """
    v = np.asarray(od)
    if v.ndim not in (3, 4):
        raise ValueError(f"od must be (E, Y, X) or (E, Z, Y, X), got a {v.ndim}-D array of shape {v.shape}")
    if v.size == 0:
        raise ValueError(f"od is empty (shape {v.shape})")
    if v.dtype.kind not in "fiu":
        raise ValueError(f"od must be a real numeric array, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float32)
    e, names, re_, rm, p = _map_inputs(v.shape, energies_ev, references, mask_sigma, max_clusters, max_shift_ev, soc_edge_ev, params)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable, got {type(progress).__name__}")
    return _core.xanes_maps(v, e.tolist(), names, re_, rm, json.dumps(p), progress=progress, threads=_threads(threads))


def _map_inputs(
    shape: tuple,
    energies_ev: Any,
    references: dict | None,
    mask_sigma: float,
    max_clusters: int,
    max_shift_ev: float,
    soc_edge_ev: tuple[float, float] | None,
    params: dict | None,
) -> tuple[np.ndarray, list, list, list, dict]:
    """Checked energies, the references as names and lists, and the map
    parameters (overrides of the engine's defaults) of :func:`xanes_maps`."""
    e = np.asarray(energies_ev, dtype=np.float64)
    if e.ndim != 1 or e.size != shape[0]:
        raise ValueError(f"energies_ev: {e.size} energies for {shape[0]} frames")
    names, re_, rm = [], [], []
    for name, pair in (references or {}).items():
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"reference {name!r}: give (energy_ev, mu)") from None
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x.ndim != 1 or x.shape != y.shape:
            raise ValueError(f"reference {name!r}: {x.size} energies for {y.size} values")
        names.append(str(name))
        re_.append(x.tolist())
        rm.append(y.tolist())
    if isinstance(max_clusters, bool) or not isinstance(max_clusters, numbers.Integral) or max_clusters < 0:
        raise ValueError(f"max_clusters must be an integer ≥ 0, got {max_clusters!r}")
    p: dict = {"mask_sigma": float(mask_sigma), "lcf": {"max_shift_ev": float(max_shift_ev)}}
    p["clusters"] = {"max_k": int(max_clusters)} if max_clusters >= 2 else None
    if soc_edge_ev is not None:
        e0, e1 = (float(x) for x in soc_edge_ev)
        p["soc"] = {"edge_energy": {"e_soc0": e0, "e_soc1": e1}}
    for k, val in (params or {}).items():
        if isinstance(val, dict) and isinstance(p.get(k), dict):
            p[k] = {**p[k], **val}
        else:
            p[k] = val
    return e, names, re_, rm, p
