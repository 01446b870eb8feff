"""chemomech's outputs open in the tools people use: zarr-python, tifffile
(Fiji/napari readers), h5py — and give identical arrays."""
import json

import h5py
import numpy as np
import tifffile
import zarr

from conftest import run, run_json


def test_dxchange_to_zarr_and_tiff_identical(shared, tmp_path):
    src = shared / "tomo" / "tooth.h5"
    with h5py.File(src, "r") as f:
        data = f["/exchange/data"][...]
        white = f["/exchange/data_white"][...]
        dark = f["/exchange/data_dark"][...]
        theta = f["/exchange/theta"][...]
    z = tmp_path / "tooth.zarr"
    s = run_json("convert", src, z)
    assert s["kind"] == "projections"
    g = zarr.open_group(str(z), mode="r")
    assert g.metadata.zarr_format == 3
    np.testing.assert_array_equal(g["data"][...], data)
    np.testing.assert_array_equal(g["data_white"][...], white)
    np.testing.assert_array_equal(g["data_dark"][...], dark)
    np.testing.assert_array_equal(g["theta"][...], theta)
    assert g["data"].dtype == np.float32
    assert g.attrs["chemomech"]["provenance"]["inputs"][0]["sha256"]

    t = tmp_path / "tooth.tiff"
    run("convert", src, t)
    np.testing.assert_array_equal(tifffile.imread(t), data)
    tf = tmp_path / "flats.tiff"
    run("convert", src, tf, "--part", "flats")
    np.testing.assert_array_equal(tifffile.imread(tf), white)


def test_volume_zarr_is_ome_ngff_and_tiff_keeps_voxel_size(shared, tmp_path):
    src = shared / "electrode" / "taufactor_electrode_256.tiff"
    ref = tifffile.imread(src)
    z = tmp_path / "electrode.zarr"
    run("convert", src, z)
    g = zarr.open_group(str(z), mode="r")
    np.testing.assert_array_equal(g["0"][...], ref)
    ms = g.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    assert ms["datasets"][0]["path"] == "0"

    # A u32 label volume with an anisotropic voxel size, via npy -> TIFF.
    labels = np.arange(4 * 5 * 6, dtype=np.uint32).reshape(4, 5, 6) * 1000003
    npy = tmp_path / "labels.npy"
    np.save(npy, labels)
    out = tmp_path / "labels.tiff"
    run("convert", npy, out)
    with tifffile.TiffFile(out) as tif:
        np.testing.assert_array_equal(tif.asarray(), labels)
        assert tif.is_imagej
        prov = json.loads(tif.imagej_metadata["chemomech"])
        assert prov["stage"] == "convert"


def test_xrm_to_tiff_and_hdf5(shared, tmp_path):
    src = shared / "txm" / "rep01_20161456_ssrl-test-data_08354.0_eV_001of003.xrm"
    t = tmp_path / "frame.tiff"
    run("convert", src, t)
    img = tifffile.imread(t)
    assert img.shape == (1024, 1024) and img.dtype == np.uint16
    h = tmp_path / "frame.h5"
    run("convert", src, h)
    with h5py.File(h, "r") as f:
        np.testing.assert_array_equal(f["/data"][...], img)
        assert "provenance" in f.attrs
        assert np.allclose(f["/data"].attrs["voxel_size_um"], [0.0312, 0.0312])
    info = run_json("info", src)
    assert info["energies_ev"] == [8354.0]
    assert info["width"] == 1024 and info["height"] == 1024


def test_info_json_for_every_shared_file(shared):
    for p in sorted(shared.rglob("*")):
        if p.is_file() and p.suffix != ".md":
            j = run_json("info", p)
            assert j["path"].endswith(p.name) and j["format"]


def test_errors_are_one_line_with_exit_codes(shared, tmp_path):
    bad = tmp_path / "cut.h5"
    bad.write_bytes((shared / "tomo" / "tooth.h5").read_bytes()[:5000])
    p = run("info", bad, ok=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and str(bad) in p.stderr, p.stderr
    p = run("convert", bad, tmp_path / "x.zarr", ok=False)
    assert p.returncode == 1 and not (tmp_path / "x.zarr").exists()
    p = run("frobnicate", ok=False)
    assert p.returncode == 2
    src = tmp_path / "same.tiff"
    src.write_bytes((shared / "electrode" / "taufactor_electrode_256.tiff").read_bytes())
    p = run("convert", src, src, ok=False)
    assert p.returncode == 1 and "overwrite an input" in p.stderr
    p = run("convert", src, tmp_path / "out.xyz", ok=False)
    assert p.returncode == 1 and "unknown output type" in p.stderr
    # No temporary files left behind.
    assert not [q for q in tmp_path.iterdir() if ".tmp-" in q.name]
