"""The installed package's stage functions (tomography, statistics, XANES
maps, files, classification, simulators, pipelines) against the CLI on the
same input, against numpy and scikit-image, and on analytic cases.

Tolerances: the tomography chain equals ``chemomech reconstruct`` to
float32 rounding (rtol 1e-5); depth profile and severe network equal
``chemomech stats``'s CSV and JSON (rtol 1e-12: the same library call);
run_pipeline's particle table equals the CLI's byte for byte, without
provenance lines; normalise and −log equal numpy to float32 rounding.
"""

import json
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile

import chemomech as cm

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CHEMOMECH_BIN", str(ROOT / "target" / "release" / "chemomech"))


def cli(*args):
    if not Path(BIN).is_file():
        pytest.skip(f"the chemomech CLI is not built ({BIN}; set CHEMOMECH_BIN)")
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, f"chemomech {' '.join(map(str, args))}: {p.stderr}"
    return p


def without_provenance(path):
    return [line for line in Path(path).read_text().splitlines() if not line.startswith("#")]


# ------------------------------------------------------------ tomography


def test_normalize_and_minus_log_equal_numpy():
    rng = np.random.default_rng(1)
    raw = rng.uniform(200, 1000, (5, 4, 6)).astype(np.float32)
    flats = rng.uniform(1100, 1200, (3, 4, 6)).astype(np.float32)
    darks = rng.uniform(90, 110, (2, 4, 6)).astype(np.float32)
    t, rep = cm.normalize(raw, flats, darks)
    d = darks.mean(0)
    ref = (raw - d) / (flats.mean(0) - d)
    np.testing.assert_allclose(t, ref, rtol=1e-5)
    assert rep["dead_pixels"] == 0 and rep["flat_groups"] == 1
    lines, lrep = cm.minus_log(t)
    np.testing.assert_allclose(lines, -np.log(ref), rtol=1e-4, atol=1e-6)
    assert lrep == {"non_positive": 0, "non_finite": 0, "repaired": 0}
    # Medians, and a non-positive value repaired along its row.
    tm, _ = cm.normalize(raw, flats, darks, combine="median")
    np.testing.assert_allclose(tm, (raw - np.median(darks, 0)) / (np.median(flats, 0) - np.median(darks, 0)), rtol=1e-5)
    t[0, 0, 2] = -1.0
    lines, lrep = cm.minus_log(t)
    assert lrep["non_positive"] == 1 and np.isfinite(lines).all()


def test_tomography_chain_equals_the_cli_on_tooth(tmp_path, shared):
    """read → normalize → minus_log → reconstruct in Python equals
    ``chemomech reconstruct`` on the real tooth.h5 (APS, 181 × 2 × 640)."""
    src = shared / "tomo" / "tooth.h5"
    out = tmp_path / "rec.tiff"
    cli("reconstruct", src, "--out", out, "--center", "295", "--filter", "shepp", "--quiet")
    want = tifffile.imread(out)
    raw, meta = cm.read(src)
    t, _ = cm.normalize(raw, meta["flats"], meta["darks"])
    lines, _ = cm.minus_log(t)
    got = cm.reconstruct(lines, meta["angles_deg"], 295.0, filter="shepp", pixel_um=meta.get("pixel_um"))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # The automatic centre is close to the one the tooth is known for (295.75).
    assert abs(cm.find_center(lines, meta["angles_deg"]) - 295.75) < 1.5


def test_reconstruct_an_analytic_disc_and_iradon():
    from skimage.transform import iradon

    n, r, c = 64, 15.0, 32.0  # iradon turns about column n // 2
    angles = np.linspace(0.0, 180.0, 180, endpoint=False)
    u = np.arange(n) - c
    sino = np.tile(2 * np.sqrt(np.clip(r * r - u * u, 0, None)), (180, 1)).astype(np.float32)
    img = cm.reconstruct(sino, angles, center=c)
    assert img.shape == (n, n)
    assert abs(img[24:40, 24:40].mean() - 1.0) < 0.02
    ref = iradon(sino.T.astype(np.float64), theta=angles, filter_name="ramp", circle=True, output_size=n)
    yy, xx = np.mgrid[:n, :n]
    inside = (yy - c) ** 2 + (xx - c) ** 2 < (0.9 * n / 2) ** 2  # iradon's circle
    assert np.corrcoef(img[inside], ref[inside])[0, 1] > 0.99
    # The iterative methods on 30 angles reach the disc's value too.
    few = sino[::6]
    for alg, it in (("sirt", 150), ("cgls", 10)):
        rec = cm.reconstruct(few, angles[::6], center=c, algorithm=alg, iterations=it)
        assert abs(rec[24:40, 24:40].mean() - 1.0) < 0.05, alg
    with pytest.raises(ValueError, match="iterations"):
        cm.reconstruct(few, angles[::6], center=c, algorithm="sirt", iterations=0)
    # Both centre methods find an off-centre axis.
    angles = np.linspace(0.0, 180.0, 181)
    s = 33.0 + 8.0 * np.cos(np.radians(angles))[:, None]
    sino = 2 * np.sqrt(np.clip(25.0 - (np.arange(64)[None, :] - s) ** 2, 0, None))
    assert abs(cm.find_center(sino, angles, "vo") - 33.0) < 0.3
    assert abs(cm.find_center(sino, angles, "opposite") - 33.0) < 0.3


def test_rings_paganin_ctf_basics():
    sino = np.ones((90, 64), np.float32)
    sino[:, 30] += 0.5
    for method in ("vo", "fw"):
        out = cm.remove_rings(sino, method)
        assert abs(out[:, 30].mean() - out[:, 29].mean()) < 0.1, method
    np.testing.assert_array_equal(cm.remove_rings(sino, "none"), sino)
    # Paganin is a low-pass filter of unit gain: a flat image stays flat,
    # and a step keeps its mean.
    t = np.full((1, 32, 32), 0.8, np.float32)
    t[0, :, 16:] = 0.6
    f = cm.paganin(t, energy_kev=17.0, distance_m=0.5, pixel_um=0.5, delta_beta=200.0)
    assert abs(f.mean() - t.mean()) < 1e-3 and f[0, :, 14:18].std() < t[0, :, 14:18].std()
    # CTF of holograms without contrast: zero phase, zero shifts.
    h = np.ones((2, 32, 32), np.float32)
    lines, rep = cm.ctf([h, h], energy_kev=17.0, distances_m=[0.01, 0.02], pixel_um=0.1, delta_beta=50.0)
    assert lines.shape == h.shape and np.abs(lines).max() < 1e-4
    assert rep["zoom"] == [1.0, 1.0] and rep["pixel_um"] == 0.1
    with pytest.raises(ValueError, match="distances"):
        cm.ctf([h, h], 17.0, [0.01], 0.1, 50.0)


def test_tomography_bad_input():
    with pytest.raises(ValueError, match="angles"):
        cm.reconstruct(np.ones((10, 2, 16)), np.arange(9.0), center=8.0)
    with pytest.raises(ValueError, match="filter"):
        cm.reconstruct(np.ones((10, 2, 16)), np.arange(10.0), center=8.0, filter="butterworth")
    with pytest.raises(ValueError, match="3-D"):
        cm.normalize(np.ones(5))
    with pytest.raises(ValueError, match="flats"):
        cm.normalize(np.ones((2, 3, 4)), np.ones((1, 3, 5)))
    with pytest.raises(ValueError, match="Paganin|positive"):
        cm.paganin(np.ones((1, 4, 4)), 17.0, -1.0, 0.5, 100.0)
    with pytest.raises(ValueError, match="method"):
        cm.find_center(np.ones((10, 16)), np.arange(10.0), "magic")


# ----------------------------------------------- pipelines and statistics


PIPELINE = """
[pipeline]
name = "python parity"

[[stage]]
run = "phantom"
preset = "dense+clean"
seed = 4
size = 56

[[stage]]
run = "particles"
volume = "@phantom/image.tiff"
voxel_um = {voxel}

[[stage]]
run = "stats"
dir = "@particles"
window_um = 5.0
k = 2
bootstrap = 300
no_tortuosity = true
"""


@pytest.fixture(scope="module")
def parity_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    voxel = cm.phantom("dense+clean", seed=4, size=56)["spacing_um"][0]
    toml = d / "p.toml"
    toml.write_text(PIPELINE.format(voxel=voxel))
    events = []
    run = cm.run_pipeline(toml, d / "py-run", progress=lambda label, done, total: events.append((label, done, total)))
    return d, toml, run, events


def test_run_pipeline_equals_the_cli(parity_run):
    d, toml, run, events = parity_run
    assert [s["run"] for s in run["stages"]] == ["phantom", "particles", "stats"]
    assert not any(s["cached"] for s in run["stages"])
    # The progress callback saw every stage start.
    labels = {e[0] for e in events}
    assert {"phantom", "particles", "stats"} <= labels, labels
    cli("run", toml, "--out", d / "cli-run", "--quiet")
    for f in ("particles/particles.csv", "stats/depth_profile.csv", "stats/severe_network_edges.csv"):
        assert without_provenance(d / "py-run" / f) == without_provenance(d / "cli-run" / f), f
    # A second run into the same directory is cached.
    again = cm.run_pipeline(toml, d / "py-run")
    assert all(s["cached"] for s in again["stages"])
    # The cache key holds the engine's identity: the extension module's, not
    # the interpreter's (a rebuilt module must not reuse the old one's stages).
    import chemomech._core as core

    keys = [json.loads((d / "py-run" / s["name"] / "stage.json").read_text())["key_inputs"]["build"] for s in run["stages"]]
    st = os.stat(core.__file__)
    assert set(keys) == {f"{st.st_size}-{st.st_mtime_ns}"}


def test_run_pipeline_cancel_and_errors(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text(PIPELINE.format(voxel=0.1))
    with pytest.raises(cm.Cancelled, match="cancelled"):
        cm.run_pipeline(toml, tmp_path / "run", progress=lambda *a: False)
    assert not (tmp_path / "run" / "phantom" / "stage.json").exists()

    class Stop(Exception):
        pass

    def boom(*a):
        raise Stop("from the callback")

    with pytest.raises(Stop):
        cm.run_pipeline(toml, tmp_path / "run2", progress=boom)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stage]]\nrun = "stats"\nwindow = 3\n')
    with pytest.raises(ValueError, match="bad.toml"):
        cm.run_pipeline(bad)


def test_depth_profile_and_network_equal_the_stats_stage(parity_run):
    d, _, run, _ = parity_run
    table, _ = cm.read(d / "py-run" / "particles" / "particles.csv")
    keep = ~np.asarray(table["excluded"], bool)
    kept = {k: (np.asarray(v)[keep] if not isinstance(v, list) else [x for x, k_ in zip(v, keep) if k_]) for k, v in table.items()}
    stats = json.loads((d / "py-run" / "stats" / "stats.json").read_text())
    particles = json.loads((d / "py-run" / "particles" / "chemomech.json").read_text())
    prof = cm.depth_profile(
        kept,
        thickness_um=particles["extent_um"][0],
        window_um=5.0,
        extra="mean_soc",
        bootstrap=300,
        seed=1,
        mild=particles["thresholds"]["mild"],
        severe=particles["thresholds"]["severe"],
        as_frame=False,
    )
    want, _ = cm.read(d / "py-run" / "stats" / "depth_profile.csv")
    assert set(prof) == set(want)
    for k in prof:
        np.testing.assert_allclose(np.asarray(prof[k], float), np.asarray(want[k], float), rtol=1e-12, err_msg=k)
    net = cm.severe_network(kept, k=2)
    sn = stats["severe_network"]
    assert len(net["node_ids"]) == sn["nodes"] and len(net["edges"]) == sn["edges"]
    assert net["mean_degree"] == pytest.approx(sn["mean_degree"], rel=1e-12)
    edges, _ = cm.read(d / "py-run" / "stats" / "severe_network_edges.csv")
    np.testing.assert_array_equal(net["edges"][:, 0], np.asarray(edges["particle_a"]))
    np.testing.assert_allclose(net["edge_length_um"], np.asarray(edges["length_um"], float), rtol=1e-12)


def test_statistics_bad_tables():
    with pytest.raises(ValueError, match="centroid_z_um"):
        cm.depth_profile({"damage_class": ["least"], "crack_fraction": [0.0]}, thickness_um=10.0)
    with pytest.raises(ValueError, match="rows"):
        cm.severe_network({"id": [1, 2], "damage_class": ["severe"]})
    with pytest.raises(ValueError, match="k"):
        cm.severe_network({"id": [1]}, k=0)


# ------------------------------------- segmentation and particles vs CLI


def test_segment_and_particles_equal_the_cli(tmp_path):
    """segment, separate_particles and particle_metrics from Python equal
    ``chemomech segment`` and ``chemomech particles --phases`` on the same
    files: phases and labels exactly, the table's columns to the last bit."""
    cli("phantom", "--preset", "dense+clean", "--seed", "3", "--size", "48", "--out", tmp_path / "ph", "--quiet")
    image, meta = cm.read(tmp_path / "ph" / "image.tiff")
    sp = meta["spacing_um"]
    cli("segment", tmp_path / "ph" / "image.tiff", "--method", "multiotsu", "--out", tmp_path / "seg.tiff", "--quiet")
    np.testing.assert_array_equal(cm.segment(image, sp, method="multiotsu"), tifffile.imread(tmp_path / "seg.tiff"))
    phases_path = tmp_path / "ph" / "truth" / "phases.tiff"
    cli("particles", "--phases", phases_path, "--out", tmp_path / "part", "--quiet")
    phases, pmeta = cm.read(phases_path)
    labels = cm.separate_particles(phases == 2, pmeta["spacing_um"])
    np.testing.assert_array_equal(labels, tifffile.imread(tmp_path / "part" / "labels.tiff"))
    mine = cm.particle_metrics(labels, phases, pmeta["spacing_um"], as_frame=False)
    theirs, _ = cm.read(tmp_path / "part" / "particles.csv")
    for k in mine:
        a, b = mine[k], theirs[k]
        if isinstance(a, list):
            assert a == list(b), k
        else:
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, err_msg=k)


# ------------------------------------------------------------------ XANES


def test_xanes_maps_recover_fractions_and_equal_pixel_lcf():
    e = np.arange(8250.0, 8450.0, 2.0)
    a = 0.5 + np.arctan((e - 8343.0) / 2.0) / np.pi
    b = 0.5 + np.arctan((e - 8347.0) / 2.0) / np.pi
    f = np.linspace(0.0, 1.0, 36).reshape(6, 6)
    od = (0.2 + (1 - f) * a[:, None, None] + f * b[:, None, None]).astype(np.float32)
    refs = {"Ni2+": (e, a), "Ni3+": (e, b)}
    maps, s = cm.xanes_maps(od, e, refs, max_clusters=0)
    np.testing.assert_allclose(maps["fractions"]["Ni3+"], f, atol=0.02)
    np.testing.assert_allclose(maps["soc"], f, atol=0.02)
    assert maps["mask"].dtype == np.bool_ and maps["mask"].all()
    assert s["reference_names"] == ["Ni2+", "Ni3+"] and maps["cluster"] is None
    # 3-D (per voxel) stacks give maps of the voxel grid; same maps on any thread count.
    od3 = np.stack([od, od[:, ::-1]], axis=1)
    m1, _ = cm.xanes_maps(od3, e, refs, max_clusters=3, threads=1)
    m2, _ = cm.xanes_maps(od3, e, refs, max_clusters=3, threads=2)
    assert m1["e0_half"].shape == (2, 6, 6)
    np.testing.assert_array_equal(m1["cluster"], m2["cluster"])
    np.testing.assert_array_equal(m1["fractions"]["Ni3+"], m2["fractions"]["Ni3+"])
    # Progress reaches the callback; False cancels.
    seen = []
    cm.xanes_maps(od3, e, refs, max_clusters=0, params={"chunk_pixels": 8}, progress=lambda *a: seen.append(a))
    assert seen[0] == ("xanes maps", 0, 9) and seen[-1][1] == 9, seen
    with pytest.raises(cm.Cancelled):
        cm.xanes_maps(od3, e, refs, progress=lambda *a: False)
    with pytest.raises(ValueError, match="unknown parameter 'mask_sgma'"):
        cm.xanes_maps(od, e, refs, params={"mask_sgma": 3})
    with pytest.raises(ValueError, match="energies"):
        cm.xanes_maps(od, e[:-1], refs)


# ------------------------------------------------------------------ files


def test_write_tiff_round_trip(tmp_path):
    v = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    for compress in (False, True):
        p = tmp_path / f"v{compress}.tiff"
        cm.write_tiff(p, v, spacing_um=(2.0, 0.5, 0.5), compress=compress)
        np.testing.assert_array_equal(tifffile.imread(p), v)
        data, meta = cm.read(p)
        np.testing.assert_array_equal(data, v)
        assert meta["spacing_um"] == [2.0, 0.5, 0.5]
    cm.write_tiff(tmp_path / "b.tiff", np.ones((3, 3), bool))
    assert tifffile.imread(tmp_path / "b.tiff").dtype == np.uint8
    with pytest.raises(ValueError, match="dtype"):
        cm.write_tiff(tmp_path / "c.tiff", np.ones((3, 3), np.complex64))


def test_write_ome_zarr_with_labels_and_properties(tmp_path):
    p = cm.phantom("dense+clean", seed=2, size=32)
    t = cm.particle_metrics(p["labels"], p["phases"], p["spacing_um"], as_frame=False)
    store = tmp_path / "e.ome.zarr"
    cm.write_ome_zarr(store, p["image"], p["spacing_um"], labels=p["labels"], properties=t)
    root = json.loads((store / "zarr.json").read_text())
    ms = root["attributes"]["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == list(p["spacing_um"])
    assert json.loads((store / "labels" / "zarr.json").read_text())["attributes"]["ome"]["labels"] == ["particles"]
    il = json.loads((store / "labels" / "particles" / "zarr.json").read_text())["attributes"]["ome"]["image-label"]
    assert [r["label-value"] for r in il["properties"]] == [int(i) for i in t["id"]]
    assert il["properties"][0]["esd_um"] == pytest.approx(float(t["esd_um"][0]))
    img, _ = cm.read(store)
    np.testing.assert_array_equal(img, p["image"])
    lab, _ = cm.read(store, dataset="labels/particles/0")
    np.testing.assert_array_equal(lab, p["labels"])
    props, _ = cm.read(store / "labels" / "particles" / "properties.parquet")
    np.testing.assert_array_equal(np.asarray(props["id"]), np.asarray(t["id"]))
    with pytest.raises(ValueError, match="shape"):
        cm.write_ome_zarr(tmp_path / "x.ome.zarr", p["image"], labels=p["labels"][:-1])
    with pytest.raises(ValueError, match="id"):
        cm.write_ome_zarr(tmp_path / "y.ome.zarr", p["image"], labels=p["labels"], properties={"esd_um": t["esd_um"]})
    assert not (tmp_path / "y.ome.zarr").exists()


# ------------------------------------------------- classification, simulators


def test_classifier_trains_predicts_and_pickles(tmp_path):
    p = cm.phantom("dense+clean", seed=5, size=40)
    img, ph, sp = p["image"], p["phases"], p["spacing_um"]
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random(ph.shape) < 0.02, ph + 1, 0).astype(np.uint8)
    m = cm.train_classifier(img, sparse, sp, trees=10)
    assert m.classes == sorted(set(np.unique(sparse)) - {0})
    pred = cm.classify(img, m, sp)
    assert (pred - 1 == ph).mean() > 0.85
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(cm.classify(img, m2, threads=1), pred)
    assert cm.Classifier.from_json(m.to_json()).classes == m.classes
    with pytest.raises(ValueError, match="spacing_um"):
        cm.classify(img, m, spacing_um=sp[0] * 2)
    with pytest.raises(ValueError, match="two classes"):
        cm.train_classifier(img, (sparse > 0).astype(np.uint8), sp)


def test_simulate_tiny_is_deterministic():
    a = cm.simulate("tiny", seed=3, threads=1)
    b = cm.simulate("tiny", seed=3, threads=2)
    pr = a["projections"]
    assert pr["data"].ndim == 3 and pr["angles_deg"].size == pr["data"].shape[0]
    np.testing.assert_array_equal(pr["data"], b["projections"]["data"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
    assert set(np.asarray(a["truth"]["id"]).tolist()) <= set(np.unique(a["labels"]).tolist())
    x = a["xanes"]
    assert x["data"].shape[0] == x["energies_ev"].size
    with pytest.raises(ValueError, match="preset"):
        cm.simulate("enormous")
