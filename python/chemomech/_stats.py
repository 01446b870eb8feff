"""Electrode statistics on the particle table."""

from __future__ import annotations

import numbers
from typing import Any

from . import _core
from ._api import _positive
from ._table import _columns, _frame

__all__ = ["depth_profile", "severe_network"]


def depth_profile(
    table: Any,
    thickness_um: float,
    window_um: float = 10.0,
    *,
    extra: str | None = None,
    bootstrap: int = 1000,
    seed: int = 1,
    mild: float = 0.03,
    severe: float = 0.15,
    as_frame: bool | None = None,
) -> Any:
    """Damage against depth, from the separator (z = 0) to the current collector.

    Particles are binned by centroid depth into windows of `window_um`. Per
    window: the particle count, the fractions of the damage classes and the
    mean crack fraction, each with a bootstrap 95 % interval (percentile,
    `bootstrap` resamples). When the table has ``crack_fraction_sd`` (the
    grey-level deficit measurement's standard error), every resample also
    draws each particle's crack fraction within its uncertainty and
    re-derives its class, so the intervals carry the measurement error.
    Same seed, same intervals.

    Parameters
    ----------
    table : dict of columns or pandas.DataFrame
        Particle table with ``centroid_z_um``, ``damage_class`` and
        ``crack_fraction`` (e.g. :func:`particle_metrics`).
    thickness_um : float
        Electrode thickness in µm.
    window_um : float, optional
        Window length in µm (default 10).
    extra : str, optional
        A column to average per window (e.g. ``mean_soc``).
    bootstrap : int, optional
        Bootstrap resamples (default 1000).
    seed : int, optional
        Seed of the bootstrap.
    mild, severe : float, optional
        Crack-fraction thresholds of the damage classes (for the
        resampled classes).
    as_frame : bool, optional
        Return a pandas DataFrame (default: when pandas is installed).

    Returns
    -------
    profile : pandas.DataFrame or dict of str to ndarray
        One row per window, the columns of ``chemomech stats``'
        ``depth_profile.csv``: ``z_from_um``, ``z_to_um``, ``particles``,
        ``fraction_least``/``_mild``/``_severe`` each with its 95 % interval
        (``fraction_severe_lo``, ``fraction_severe_hi``, …),
        ``mean_crack_fraction`` with ``crack_fraction_lo``/``_hi``, and
        ``mean_extra`` (NaN without `extra`).

    Examples
    --------
    >>> import chemomech
    >>> t = {"centroid_z_um": [1.0, 2.0, 15.0], "damage_class": ["severe", "least", "least"],
    ...      "crack_fraction": [0.3, 0.0, 0.01]}
    >>> p = chemomech.depth_profile(t, thickness_um=20.0, window_um=10.0, as_frame=False)
    >>> p["fraction_severe"].tolist()
    [0.5, 0.0]
    """
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, numbers.Integral) or bootstrap < 0:
        raise ValueError(f"bootstrap must be an integer ≥ 0, got {bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer ≥ 0, got {seed!r}")
    cols = _core.depth_profile(
        _columns(table),
        _positive(thickness_um, "thickness_um"),
        window_um=_positive(window_um, "window_um"),
        extra=extra,
        bootstrap=int(bootstrap),
        seed=int(seed),
        mild=float(mild),
        severe=float(severe),
    )
    return _frame(cols, as_frame)


def severe_network(table: Any, k: int = 3) -> dict:
    """The k-nearest-neighbour network of the severely damaged particles.

    Each particle of class ``severe`` is linked to its `k` nearest severe
    neighbours (centroid distance, a k-d tree); the network is the
    undirected union of those links. Clusters of severe damage show as
    short edges and high degrees.

    Parameters
    ----------
    table : dict of columns or pandas.DataFrame
        Particle table with ``id``, ``damage_class`` and
        ``centroid_z_um``/``centroid_y_um``/``centroid_x_um``.
    k : int, optional
        Neighbours per particle (default 3).

    Returns
    -------
    network : dict
        ``node_ids`` (uint64), ``node_positions_um`` ((N, 3) z, y, x),
        ``edges`` ((E, 2) particle ids), ``edge_length_um``,
        ``degree_histogram``, ``mean_degree``, ``mean_nearest_um``,
        ``mean_edge_um``.

    Examples
    --------
    >>> import chemomech
    >>> t = {"id": [1, 2, 3], "damage_class": ["severe", "severe", "least"],
    ...      "centroid_z_um": [0.0, 3.0, 1.0], "centroid_y_um": [0.0, 4.0, 0.0], "centroid_x_um": [0.0, 0.0, 0.0]}
    >>> n = chemomech.severe_network(t, k=1)
    >>> n["edges"].tolist(), float(n["edge_length_um"][0])
    ([[1, 2]], 5.0)
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an integer ≥ 1, got {k!r}")
    return _core.severe_network(_columns(table), int(k))
