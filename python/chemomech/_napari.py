"""napari plugin (npe2 manifest ``napari.yaml``): a reader for the beamline
formats chemomech reads, an OME-Zarr writer for images and labels, sample
data from the simulator, and a widget per main stage.

The reader, writer and sample functions return napari's plain layer data
tuples and import nothing from napari or Qt, so they work (and are tested)
without a display. The widgets are plain functions whose annotations name
napari's layer types; napari builds their forms with magicgui.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._api import read, segment, separate_particles
from ._api import particle_metrics as _metrics
from ._api import phantom
from ._io import write_ome_zarr

if TYPE_CHECKING:  # for the widgets' annotations only
    import napari

LayerData = tuple  # (data, metadata dict, layer type)

#: Suffixes the reader claims (folders of TIFFs are accepted too).
SUFFIXES = (".xrm", ".txrm", ".h5", ".hdf5", ".hdf", ".nxs", ".cxi", ".tif", ".tiff", ".zarr", ".npy")


def _scale(meta: dict, ndim: int) -> list[float] | None:
    s = meta.get("spacing_um")
    if s is None and meta.get("pixel_um"):
        s = [meta["pixel_um"]] * ndim
    if s is None:
        return None
    s = [float(v) for v in s]
    return ([1.0] * (ndim - len(s)) + s)[-ndim:]


def get_reader(path: Any) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader hook: the reader function for `path`, or None when
    chemomech does not read it (napari then asks another plugin)."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = os.fspath(path)
    if not (os.path.isdir(p) or p.lower().endswith(SUFFIXES)):
        return None
    return read_layers


def read_layers(path: Any) -> list[LayerData]:
    """Reads a file or folder into napari layers, scaled in µm.

    Volumes and images become an image layer; projections and energy
    stacks an image layer whose first axis is the angle or the energy
    (in the layer's metadata); OME-Zarr stores written by chemomech also
    give their label image, with its properties.
    """
    if isinstance(path, (list, tuple)):
        path = path[0]
    p = os.fspath(path)
    data, meta = read(p)
    if not isinstance(data, np.ndarray):
        raise ValueError(f"{p}: a {meta.get('kind')} is not an image napari can show")
    name = os.path.basename(p.rstrip("/"))
    md = {k: v for k, v in meta.items() if k not in ("flats", "darks")}
    layers: list[LayerData] = [(data, {"name": name, "scale": _scale(meta, data.ndim), "metadata": md}, "image")]
    labels_dir = os.path.join(p, "labels")
    if os.path.isdir(labels_dir):
        import json

        with open(os.path.join(labels_dir, "zarr.json")) as f:
            names = json.load(f)["attributes"]["ome"]["labels"]
        for ln in names:
            lab, lmeta = read(p, dataset=f"labels/{ln}/0")
            attrs: dict = {"name": ln, "scale": layers[0][1]["scale"]}
            props_path = os.path.join(labels_dir, ln, "properties.parquet")
            if os.path.isfile(props_path):
                cols, _ = read(props_path)
                attrs["features"] = {k: np.asarray(v) for k, v in cols.items()}
            layers.append((lab, attrs, "labels"))
    return layers


def write_layers(path: str, layer_data: list[LayerData]) -> list[str]:
    """npe2 writer: one image layer and optionally one labels layer (with
    its ``features`` as per-label properties) into an OME-Zarr store."""
    images = [d for d in layer_data if d[2] == "image"]
    labels = [d for d in layer_data if d[2] == "labels"]
    if len(images) != 1 or len(labels) > 1:
        raise ValueError("chemomech writes one image layer, with at most one labels layer, per OME-Zarr store")
    img, meta, _ = images[0]
    scale = meta.get("scale")
    spacing = None if scale is None else [float(s) for s in scale][-np.ndim(img):]
    lab = props = None
    name = "particles"
    if labels:
        lab, lmeta, _ = labels[0]
        name = lmeta.get("name") or name
        feats = lmeta.get("features")
        if feats is not None and len(feats) > 0:
            props = {str(k): np.asarray(v) for k, v in dict(feats).items()}
            if not any(k in props for k in ("id", "label", "index")):
                props = None  # features not keyed by label value: the labels alone
            elif "index" in props and "id" not in props:
                props["id"] = props.pop("index")
    write_ome_zarr(path, np.asarray(img), spacing, labels=lab, properties=props, labels_name=str(name))
    return [path]


def sample_electrode() -> list[LayerData]:
    """Sample data: a simulated electrode (grey levels, truth labels and phases)."""
    p = phantom("mixed+clean", seed=1, size=64)
    s = list(p["spacing_um"])
    return [
        (p["image"], {"name": "electrode", "scale": s}, "image"),
        (p["phases"], {"name": "phases (truth)", "scale": s, "visible": False}, "labels"),
        (p["labels"], {"name": "particles (truth)", "scale": s}, "labels"),
    ]


def _spacing_of(layer: Any) -> list[float]:
    return [float(v) for v in layer.scale]


def segment_widget(image: "napari.layers.Image", method: str = "iso50") -> "napari.types.LayerDataTuple":
    """Widget: phases (0 pore, 1 carbon-binder, 2 active) of an image layer."""
    phases = segment(np.asarray(image.data), spacing_um=_spacing_of(image), method=method)
    return (phases, {"name": f"{image.name} phases", "scale": image.scale}, "labels")


def particles_widget(
    phases: "napari.layers.Labels", crack_close_um: float = 0.0
) -> "napari.types.LayerDataTuple":
    """Widget: particles of a phases layer (active = 2), with their metrics
    as the labels layer's features."""
    ph = np.asarray(phases.data)
    sp = _spacing_of(phases)
    labels = separate_particles(ph == 2, spacing_um=sp, crack_close_um=crack_close_um or None)
    t = _metrics(labels, ph, sp, as_frame=False)
    feats = {k: np.asarray(v) for k, v in t.items()}
    return (labels, {"name": f"{phases.name} particles", "scale": phases.scale, "features": feats}, "labels")


def xanes_widget(
    stack: "napari.layers.Image", first_energy_ev: float = 8300.0, energy_step_ev: float = 1.0
) -> list:
    """Widget: edge-energy and edge-jump maps of an optical-density energy
    stack layer (energies from the layer's metadata, else evenly spaced)."""
    from ._xanes import xanes_maps

    od = np.asarray(stack.data, np.float32)
    e = stack.metadata.get("energies_ev")
    if e is None:
        e = first_energy_ev + energy_step_ev * np.arange(od.shape[0])
    maps, _ = xanes_maps(od, e, max_clusters=0)
    scale = stack.scale[1:]
    return [
        (maps["e0_half"], {"name": "E0 (eV)", "scale": scale, "colormap": "viridis"}, "image"),
        (maps["edge_jump"], {"name": "edge jump", "scale": scale, "visible": False}, "image"),
    ]
