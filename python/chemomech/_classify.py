"""Random-forest voxel classification (ilastik-like features)."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from . import _core
from ._api import Spacing, _grey, _ints, _out, _spacing, _threads

__all__ = ["Classifier", "train_classifier", "classify"]

Classifier = _core.Classifier


def train_classifier(
    volume: Any,
    labels: Any,
    spacing_um: Spacing = 1.0,
    *,
    sigmas_um: Sequence[float] | None = None,
    trees: int = 50,
    seed: int = 1,
    max_samples: int = 20_000,
    threads: int | None = None,
) -> Any:
    """Trains a random forest on sparsely labelled voxels.

    Features per voxel, as ilastik's defaults: the grey value and, at each
    scale σ, the Gaussian, its gradient magnitude, Laplacian of Gaussian,
    difference of Gaussians, Hessian and structure-tensor eigenvalues. At
    most `max_samples` labelled voxels (evenly spaced) train `trees` trees.
    Same seed, same forest, whatever the thread count.

    Parameters
    ----------
    volume : (Z, Y, X) or (Y, X) array_like
        Grey levels; converted to float32.
    labels : array_like of uint8, same shape
        Training labels: 0 unlabelled, any other value a class (for
        :func:`segment`'s phases: 1 pore, 2 carbon-binder, 3 active).
    spacing_um : float or sequence of float, optional
        Voxel size in µm.
    sigmas_um : sequence of float, optional
        Feature scales in µm (default 0.7, 1.6 and 3.5 voxels).
    trees, seed, max_samples : int, optional
        Forest size, seed and training sample cap.
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    model : Classifier
        The trained model: ``classes``, ``spacing_um``, ``sigmas_um``,
        ``to_json()``, ``Classifier.from_json(text)``; it pickles.

    Examples
    --------
    >>> import numpy as np, chemomech, pickle
    >>> v = np.zeros((1, 32, 32), np.float32); v[:, :, 16:] = 1.0
    >>> lab = np.zeros(v.shape, np.uint8); lab[0, :, 2] = 1; lab[0, :, 29] = 2
    >>> m = chemomech.train_classifier(v, lab, trees=5)
    >>> m2 = pickle.loads(pickle.dumps(m))
    >>> chemomech.classify(v, m2)[0, 5, [3, 28]].tolist()
    [1, 2]
    """
    v, flat = _grey(volume)
    lab, _ = _ints(labels, "labels", np.uint8)
    if lab.shape != v.shape:
        raise ValueError(f"volume and labels: shapes differ, {np.shape(volume)} and {np.shape(labels)}")
    for name, x in (("trees", trees), ("seed", seed), ("max_samples", max_samples)):
        if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < (0 if name == "seed" else 1):
            raise ValueError(f"{name} must be a positive integer, got {x!r}")
    if int(trees) > 65535:
        raise ValueError(f"trees must be at most 65535, got {trees}")
    s = None
    if sigmas_um is not None:
        s = [float(x) for x in sigmas_um]
        if not s or not all(np.isfinite(x) and x > 0 for x in s):
            raise ValueError(f"sigmas_um must be positive lengths in µm, got {sigmas_um!r}")
    return _core.train_classifier(
        v,
        lab,
        _spacing(spacing_um, flat),
        sigmas_um=s,
        trees=int(trees),
        seed=int(seed),
        max_samples=int(max_samples),
        threads=_threads(threads),
    )


def classify(volume: Any, model: Any, spacing_um: Spacing | None = None, *, threads: int | None = None) -> np.ndarray:
    """Classifies every voxel with a trained :class:`Classifier`.

    Parameters
    ----------
    volume : (Z, Y, X) or (Y, X) array_like
        Grey levels; converted to float32.
    model : Classifier
        From :func:`train_classifier` (or ``Classifier.from_json``).
    spacing_um : float or sequence of float, optional
        The volume's voxel size in µm: refused when it differs by more
        than 1 % from the model's (its features are scaled in µm).
    threads : int, optional
        Run in a pool of this many threads (default: rayon's global pool).

    Returns
    -------
    labels : ndarray of uint8, same shape as `volume`
        The training label value of every voxel's class.
    """
    if not isinstance(model, Classifier):
        raise ValueError(f"model must be a chemomech Classifier, got {type(model).__name__}")
    v, flat = _grey(volume)
    if spacing_um is not None:
        s = np.array(_spacing(spacing_um, flat))
        m = np.array(model.spacing_um)
        if np.any(np.abs(s - m) > 0.01 * m):
            raise ValueError(f"the model was trained at spacing_um={tuple(m)}, the volume is {tuple(s)}")
    return _out(_core.classify(v, model, threads=_threads(threads)), flat)
