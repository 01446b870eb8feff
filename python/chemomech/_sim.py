"""The full electrode simulator (the ``simulate`` stage without files)."""

from __future__ import annotations

import numbers
import os
from typing import Any

from . import _core
from ._api import _threads

__all__ = ["simulate"]


def simulate(preset: str = "small", seed: int | None = None, *, config: Any = None, threads: int | None = None) -> dict:
    """A simulated NMC electrode with its scans and ground truth, as
    ``chemomech simulate`` makes it (without the files).

    Spherical-ish particles with a depth gradient of damage (more severe
    near the separator), a carbon-binder domain, per-voxel state of charge;
    an absorption tomography scan (projections with flats and darks,
    noise, rings) and a 2-D XANES energy stack at the Ni K edge (drift,
    Poisson noise). Same seed, same arrays, whatever the thread count.

    Parameters
    ----------
    preset : str, optional
        Comma-separated presets: ``tiny``, ``small`` (default), ``medium``,
        ``large``; ``cycles_50``; ``holo``.
    seed : int, optional
        Random seed (default: the preset's).
    config : str or os.PathLike, optional
        A simulator TOML file whose values override the preset.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    sim : dict
        Truth volumes ``labels`` (uint32), ``phases`` (uint8: 0 pore,
        1 carbon-binder, 2 active), ``soc`` (float32) and ``mu`` (true
        attenuation, 1/cm); ``spacing_um``; ``projections`` (dict: ``data``,
        ``flats``, ``darks``, ``angles_deg``, ``pixel_um``, ``energy_ev``);
        ``xanes`` (dict: ``data`` counts (E, Y, X), ``flats``, ``darks``,
        ``energies_ev``, ``pixel_um``, true ``fraction_ni3`` and ``soc``
        maps, ``drift_px``); ``truth`` (per-particle columns),
        ``truth_units``, ``references`` (the two Ni references' names),
        ``reference_spectra`` (name → (energy_ev, normalised μ), ready for
        :func:`xanes_maps`), ``summary`` and ``config``.

    Examples
    --------
    >>> import chemomech
    >>> s = chemomech.simulate("tiny", seed=3)  # doctest: +SKIP
    >>> s["projections"]["data"].shape  # doctest: +SKIP
    (90, 40, 64)
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be an integer ≥ 0, got {seed!r}")
    cfg = None if config is None else os.fspath(config)
    return _core.simulate(str(preset), None if seed is None else int(seed), cfg, threads=_threads(threads))
