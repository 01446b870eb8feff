"""Image-analysis primitives against the field's references, through
`chemomech morph`: connected components against cc3d, the distance
transform against scipy, the median filter against scipy, on the real
three-phase NMC electrode (../shared/data/electrode, TauFactor's repository:
0 pore, 85 NMC, 170 carbon-binder)."""
import json

import cc3d
import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from conftest import run, run_json


@pytest.fixture(scope="module")
def electrode(shared):
    path = shared / "electrode" / "taufactor_electrode_256.tiff"
    return path, tifffile.imread(path)


@pytest.mark.parametrize("conn,cc3d_conn", [("26", 26), ("18", 18), ("6", 6)])
def test_nmc_labels_equal_cc3d(electrode, tmp_path, conn, cc3d_conn):
    path, vol = electrode
    out = tmp_path / "labels.tiff"
    s = run_json("morph", "label", path, "--phase", "85", "--connectivity", conn, "--out", out)
    ours = tifffile.imread(out)
    ref = cc3d.connected_components(vol == 85, connectivity=cc3d_conn)
    assert ours.dtype == np.uint16 and ours.shape == vol.shape  # 81 components fit 16 bits (as cc3d would store them)
    assert s["n_components"] == int(ref.max())
    if conn == "26":
        assert s["n_components"] == 81  # the shared data's README
    # Equal up to renumbering: a one-to-one map between the label sets...
    pairs = np.unique(np.stack([ours.ravel(), ref.ravel().astype(np.uint32)]), axis=1)
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]
    # ...which is in fact the identity: both number in raster order.
    assert np.array_equal(ours, ref.astype(np.uint32))


def test_nmc_distance_transform_equals_scipy(electrode, tmp_path):
    path, vol = electrode
    out = tmp_path / "edt.tiff"
    run_json("morph", "edt", path, "--phase", "85", "--voxel-um", "1", "--out", out)
    ours = tifffile.imread(out).astype(np.float64)
    ref = ndi.distance_transform_edt(vol == 85)
    err = np.abs(ours - ref).max()
    assert err < 1e-4, err
    # Scaled voxels scale the distances.
    run_json("morph", "edt", path, "--phase", "85", "--voxel-um", "0.4", "--out", out)
    assert np.abs(tifffile.imread(out) - 0.4 * ref).max() < 1e-4


@pytest.mark.parametrize("radius", [1, 2])
def test_median_equals_scipy_on_a_noisy_grey_volume(electrode, tmp_path, radius):
    _, vol = electrode
    rng = np.random.default_rng(5)
    grey = (vol[:40, :70, :90].astype(np.float32) + rng.normal(0, 20, (40, 70, 90))).astype(np.float32)
    src = tmp_path / "grey.tiff"
    tifffile.imwrite(src, grey)
    out = tmp_path / "median.tiff"
    run_json("morph", "median", src, "--radius", str(radius), "--out", out)
    ref = ndi.median_filter(grey, size=2 * radius + 1, mode="reflect")
    assert np.array_equal(tifffile.imread(out), ref)


def test_watershed_splits_nmc_into_regions_covering_the_phase(electrode, tmp_path):
    path, vol = electrode
    out = tmp_path / "ws.tiff"
    s = run_json("morph", "watershed", path, "--phase", "85", "--h-um", "1", "--out", out)
    lab = tifffile.imread(out)
    nmc = vol == 85
    # Every NMC voxel belongs to a region, nothing else does; far more
    # regions than the 81 touching clusters.
    assert np.array_equal(lab > 0, nmc)
    assert 81 < s["n_regions"] == len(np.unique(lab)) - 1


def test_morph_bad_input(tmp_path):
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(b"II*\x00" + b"\x00" * 10)
    out = tmp_path / "out.tiff"
    p = run("morph", "label", bad, "--out", out, ok=False)
    assert p.returncode == 1 and "bad.tiff" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()
    # An unknown operation is a usage error (exit 2) that lists the operations.
    p = run("morph", "sharpen", bad, "--out", out, ok=False)
    assert p.returncode == 2 and "possible values: label, edt, median, watershed" in p.stderr
    # A median radius outside 1-10 voxels is refused before any output.
    good = tmp_path / "grey.tiff"
    tifffile.imwrite(good, np.zeros((4, 12, 14), np.float32), photometric="minisblack")
    for radius in ("0", "11"):
        p = run("morph", "median", good, "--radius", radius, "--out", out, ok=False)
        assert p.returncode == 1 and f"median radius must be 1–10 voxels, got {radius}" in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_particles_warns_on_a_transmission_image(shared, tmp_path):
    """A TXM frame is a projection through the sample, not a slice: the
    summary and stderr say so (and a reconstructed slice gets no warning)."""
    xrm = shared / "txm" / "rep01_20161456_ssrl-test-data_08354.0_eV_001of003.xrm"
    p = run("particles", xrm, "--out", tmp_path / "txm", "--json")
    s = json.loads(p.stdout)
    assert len(s["warnings"]) == 1 and "projection" in s["warnings"][0], s["warnings"]
    assert "warning: " in p.stderr and xrm.name in p.stderr
    q = run("particles", xrm, "--out", tmp_path / "quiet", "--quiet")
    assert "warning" not in q.stderr
    run("phantom", "--preset", "dense+clean", "--size", "48", "--slice", "--out", tmp_path / "ph", "--quiet")
    s = run_json("particles", tmp_path / "ph" / "image.tiff", "--out", tmp_path / "slice")
    assert s["warnings"] == []
