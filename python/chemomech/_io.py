"""Writing files: TIFF stacks and OME-Zarr images with labels."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _core
from ._api import Spacing, _spacing
from ._table import _columns

__all__ = ["write_tiff", "write_ome_zarr"]

_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64")


def _image(a: Any, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (y, x) or 3-D (z, y, x), got a {a.ndim}-D array of shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    if a.dtype.name not in _DTYPES and a.dtype.newbyteorder("=").name not in _DTYPES:
        raise ValueError(f"{name}: dtype {a.dtype} is not one of {', '.join(_DTYPES)}")
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def _spacing_for(spacing_um: Spacing | None, a: np.ndarray) -> list[float] | None:
    if spacing_um is None:
        return None
    s = _spacing(spacing_um, a.ndim == 2)
    return list(s[1:]) if a.ndim == 2 else list(s)


def write_tiff(path: Any, data: Any, spacing_um: Spacing | None = None, *, compress: bool = False) -> None:
    """Writes a 2-D image or a 3-D stack as a (multi-page) TIFF.

    The file is written under a temporary name and renamed, so a reader
    never sees half a file. The spacing (µm) goes into the ImageJ
    description and the resolution tags (Fiji and ``tifffile`` read it),
    with chemomech's provenance; BigTIFF is used above 3.9 GB.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF file to write.
    data : (Z, Y, X) or (Y, X) array_like
        uint8, uint16, int16, uint32, int32, uint64, int64, float32 or
        float64 (bool is written as uint8).
    spacing_um : float or sequence of float, optional
        Voxel size in µm, one number or one per axis.
    compress : bool, optional
        Deflate (lossless) compression.

    Examples
    --------
    >>> import numpy as np, chemomech
    >>> chemomech.write_tiff("labels.tiff", np.zeros((4, 8, 8), np.uint32), 0.5)  # doctest: +SKIP
    >>> chemomech.read("labels.tiff")[1]["spacing_um"]  # doctest: +SKIP
    [0.5, 0.5, 0.5]
    """
    a = _image(data, "data")
    _core.write_tiff(os.fspath(path), a, _spacing_for(spacing_um, a), bool(compress))


def write_ome_zarr(
    path: Any,
    image: Any,
    spacing_um: Spacing | None = None,
    *,
    labels: Any = None,
    properties: Any = None,
    labels_name: str = "particles",
) -> None:
    """Writes an OME-NGFF 0.5 Zarr image, optionally with a label image.

    Layout: the image as array ``0`` with µm scales; the labels as
    ``labels/NAME/0`` with ``image-label`` metadata whose ``properties`` list
    one object per label value (``label-value`` plus the table's other
    columns, NaN as null), and the same table as
    ``labels/NAME/properties.parquet``. napari (napari-ome-zarr) and
    zarr-python ≥ 3 read it. Written into a temporary store and renamed.

    Parameters
    ----------
    path : str or os.PathLike
        The store (a directory, e.g. ``volume.ome.zarr``).
    image : (Z, Y, X) or (Y, X) array_like
        The image (bool, integer or float types as :func:`write_tiff`).
    spacing_um : float or sequence of float, optional
        Voxel size in µm, one number or one per axis.
    labels : array_like of int, same shape, optional
        A label image (0 = background), e.g. from :func:`separate_particles`.
    properties : dict of columns or pandas.DataFrame, optional
        One row per label with a column ``id`` (or ``label``) holding the
        label value, e.g. :func:`particle_metrics`'s table.
    labels_name : str, optional
        Name of the label image (default ``particles``).

    Examples
    --------
    >>> import chemomech
    >>> p = chemomech.phantom("dense+clean", seed=1, size=32)
    >>> t = chemomech.particle_metrics(p["labels"], p["phases"], p["spacing_um"])
    >>> chemomech.write_ome_zarr("electrode.ome.zarr", p["image"], p["spacing_um"],
    ...                          labels=p["labels"], properties=t)  # doctest: +SKIP
    """
    img = _image(image, "image")
    lab = None
    if labels is not None:
        lab = _image(labels, "labels")
        if lab.dtype.kind not in "iu":
            raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
        if lab.shape != img.shape:
            raise ValueError(f"labels have shape {lab.shape}, the image {img.shape}")
    props = None if properties is None else _columns(properties, "properties")
    _core.write_ome_zarr(
        os.fspath(path),
        img,
        _spacing_for(spacing_um, img),
        labels=lab,
        labels_name=str(labels_name),
        properties=props,
    )
