"""TOML pipelines, run as ``chemomech run`` runs them."""

from __future__ import annotations

import os
from typing import Any, Callable

from . import _core

__all__ = ["run_pipeline", "Cancelled"]

Cancelled = _core.Cancelled


def run_pipeline(
    path: Any, out: Any = None, *, progress: Callable[[str, int, int], Any] | None = None
) -> dict:
    """Runs a TOML pipeline, as ``chemomech run PIPELINE.toml`` does.

    Stages whose inputs and options are unchanged since the last run into
    the same directory are skipped (cached); each stage writes into its own
    directory under the run directory, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The pipeline file (``[pipeline]`` and ``[[stage]]`` tables).
    out : str or os.PathLike, optional
        Run directory (default: ``[pipeline] out``, else ``STEM-run`` beside
        the file).
    progress : callable, optional
        Called as ``progress(label, done, total)`` when a stage starts and
        as its work goes on (at most every 0.1 s), from the engine's
        threads with the GIL taken. Returning ``False`` cancels the run
        before the next stage (or the next check inside a stage), raising
        :class:`Cancelled`; an exception in the callback cancels it too and
        is re-raised.

    Returns
    -------
    run : dict
        ``run.json``: the pipeline, and per stage its name, kind, cache key,
        whether it was cached, seconds, directory, command line, typed
        parameters and summary.

    Raises
    ------
    ValueError
        A bad pipeline file (its file, line and key named) or a stage that
        failed (its name named).
    Cancelled
        The progress callback returned False.

    Examples
    --------
    >>> import chemomech
    >>> run = chemomech.run_pipeline("pipelines/demo.toml", "demo-run")  # doctest: +SKIP
    >>> [s["name"] for s in run["stages"]]  # doctest: +SKIP
    ['simulate', 'reconstruct', 'segment', 'particles', 'stats', 'xanes', 'report']
    """
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable, got {type(progress).__name__}")
    return _core.run_pipeline(os.fspath(path), None if out is None else os.fspath(out), progress)
