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
    xas_lcf,
    xas_normalize,
)
from ._classify import Classifier, classify, train_classifier
from ._io import write_ome_zarr, write_tiff
from ._pipeline import Cancelled, run_pipeline
from ._sim import simulate
from ._stats import depth_profile, severe_network
from ._tomo import ctf, find_center, minus_log, normalize, paganin, reconstruct, remove_rings
from ._xanes import xanes_maps

__version__: str = _core.__version__

__all__ = [
    "__version__",
    # files
    "read",
    "write_tiff",
    "write_ome_zarr",
    # tomography
    "normalize",
    "minus_log",
    "find_center",
    "remove_rings",
    "paganin",
    "ctf",
    "reconstruct",
    # image kernels
    "label",
    "edt",
    "gaussian",
    "median",
    "watershed",
    # segmentation and particles
    "segment",
    "train_classifier",
    "classify",
    "Classifier",
    "separate_particles",
    "particle_metrics",
    # statistics
    "depth_profile",
    "severe_network",
    "tortuosity",
    # spectroscopy
    "xas_normalize",
    "xas_lcf",
    "xanes_maps",
    # simulators and pipelines
    "phantom",
    "simulate",
    "run_pipeline",
    "Cancelled",
]
