"""The napari plugin: the npe2 manifest validates and its commands import;
reader, writer and sample data give the layer data napari expects (scales
in µm); the widgets' functions run on stand-in layers without Qt, and as
magicgui forms in Qt offscreen (tools/pytest-pkg.sh installs napari and
PyQt6). A napari *viewer* needs OpenGL, which an offscreen Qt here does
not have, so no test opens one."""

from types import SimpleNamespace

import numpy as np
import pytest

import chemomech as cm
from chemomech import _napari


def test_manifest_validates_and_its_commands_import():
    npe2 = pytest.importorskip("npe2")
    pm = npe2.PluginManifest.from_distribution("chemomech")
    assert pm.name == "chemomech"
    pm.validate_imports()
    ids = {c.id for c in pm.contributions.commands}
    assert {"chemomech.get_reader", "chemomech.write_ome_zarr", "chemomech.sample_electrode", "chemomech.segment"} <= ids


def test_reader_scales_and_declines(tmp_path):
    v = np.random.default_rng(0).random((4, 5, 6), dtype=np.float32)
    p = tmp_path / "v.tiff"
    cm.write_tiff(p, v, spacing_um=(2.0, 0.5, 0.5))
    reader = _napari.get_reader(str(p))
    assert reader is not None
    (data, meta, kind), = reader(str(p))
    assert kind == "image" and meta["scale"] == [2.0, 0.5, 0.5]
    np.testing.assert_array_equal(data, v)
    assert _napari.get_reader(str(tmp_path / "notes.txt")) is None
    assert _napari.get_reader([str(p), str(p)]) is None


def test_writer_round_trip_with_features(tmp_path):
    p = cm.phantom("dense+clean", seed=2, size=24)
    sp = list(p["spacing_um"])
    t = cm.particle_metrics(p["labels"], p["phases"], sp, as_frame=False)
    layers = [
        (p["image"], {"name": "img", "scale": sp}, "image"),
        (p["labels"], {"name": "particles", "scale": sp, "features": {k: np.asarray(v) for k, v in t.items()}}, "labels"),
    ]
    out = str(tmp_path / "e.ome.zarr")
    assert _napari.write_layers(out, layers) == [out]
    back = _napari.read_layers(out)
    assert [k for _, _, k in back] == ["image", "labels"]
    np.testing.assert_array_equal(back[1][0], p["labels"])
    assert back[0][1]["scale"] == pytest.approx(sp)
    np.testing.assert_allclose(back[1][1]["features"]["esd_um"], t["esd_um"])
    with pytest.raises(ValueError, match="one image layer"):
        _napari.write_layers(str(tmp_path / "x.zarr"), [layers[1]])


def test_sample_data_and_widget_functions():
    layers = _napari.sample_electrode()
    img, meta, kind = layers[0]
    assert kind == "image" and img.shape == (64, 64, 64) and len(meta["scale"]) == 3
    image = SimpleNamespace(data=img, scale=np.array(meta["scale"]), name="electrode", metadata={})
    ph, pmeta, pkind = _napari.segment_widget(image)
    assert pkind == "labels" and ph.dtype == np.uint8 and set(np.unique(ph)) <= {0, 1, 2}
    phases = SimpleNamespace(data=ph, scale=image.scale, name="phases", metadata={})
    lab, lmeta, _ = _napari.particles_widget(phases)
    assert lab.max() == len(lmeta["features"]["id"]) > 0
    e = np.arange(8250.0, 8450.0, 2.0)
    edge = 0.5 + np.arctan((e - 8345.0) / 2.0) / np.pi
    od = (0.1 + edge[:, None, None] * np.ones((1, 8, 8))).astype(np.float32)
    stack = SimpleNamespace(data=od, scale=np.array([1.0, 0.5, 0.5]), name="stack", metadata={"energies_ev": e})
    (e0, e0meta, _), _ = _napari.xanes_widget(stack)
    assert e0.shape == (8, 8) and abs(np.nanmedian(e0) - 8345.0) < 1.0


def test_widgets_build_and_run_headless_in_qt(monkeypatch):
    """The widgets as napari builds them (magicgui forms from their
    annotations), headless (QT_QPA_PLATFORM=offscreen; no OpenGL, so no
    viewer canvas), called on real napari layers."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    napari = pytest.importorskip("napari")
    pytest.importorskip("qtpy")
    from magicgui import magicgui

    data, meta, _ = _napari.sample_electrode()[0]
    image = napari.layers.Image(data, **meta)
    seg = magicgui(_napari.segment_widget)
    assert [w.name for w in seg] == ["image", "method", "call_button"]
    phases, pmeta, kind = seg(image=image)
    assert kind == "labels" and phases.shape == data.shape and list(pmeta["scale"]) == list(meta["scale"])
    part = magicgui(_napari.particles_widget)
    labels, lmeta, _ = part(phases=napari.layers.Labels(phases, scale=pmeta["scale"], name="phases"))
    assert labels.max() == len(lmeta["features"]["id"]) > 0
    assert [w.name for w in magicgui(_napari.xanes_widget)][:1] == ["stack"]
