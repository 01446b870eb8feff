"""chemomech: battery X-ray imaging at the Rust engine's speed, numpy in and
numpy out.

>>> import chemomech
>>> p = chemomech.phantom("mixed+clean", seed=1, size=64)
>>> phases = chemomech.segment(p["image"], spacing_um=p["spacing_um"])
>>> labels = chemomech.separate_particles(phases == 2, spacing_um=p["spacing_um"])
>>> table = chemomech.particle_metrics(labels, phases, spacing_um=p["spacing_um"])

Every function releases the GIL while the engine works and takes
``threads=`` (a rayon pool of its own for the call); lengths are in µm with
``spacing_um=`` the voxel size (one number or one per axis, as
scikit-image's ``spacing``). See :mod:`chemomech._api` for the conventions.
"""

from . import _core
from ._api import (
    edt,
    gaussian,
    label,
    median,
    particle_metrics,
    phantom,
    read,
    segment,
    separate_particles,
    tortuosity,
    watershed,
    xas_normalize,
    xas_lcf,
)

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "edt",
    "gaussian",
    "label",
    "median",
    "particle_metrics",
    "phantom",
    "read",
    "segment",
    "separate_particles",
    "tortuosity",
    "watershed",
    "xas_normalize",
    "xas_lcf",
]
