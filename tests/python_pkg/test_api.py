"""The installed chemomech package against the field's reference tools
(scipy.ndimage, cc3d, tifffile), on small inputs; bad input; layouts;
thread counts; the GIL.

Tolerances: arrays of labels, phases and medians exactly; EDT rtol 1e-5;
Gaussian atol 2e-5 on data in [0, 1] (float32 against scipy's float64
kernel); ESD of a voxelised ball within 5 % of analytic; E0 within 0.5 eV.
"""

import os
import threading
import time

import cc3d
import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

import chemomech as cm

STRUCT = {6: 1, 18: 2, 26: 3}


def random_mask(shape=(20, 18, 16), p=0.35, seed=0):
    return np.random.default_rng(seed).random(shape) < p


def random_volume(shape=(20, 18, 16), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def balls(shape, centres, r):
    z, y, x = np.indices(shape)
    m = np.zeros(shape, bool)
    for cz, cy, cx in centres:
        m |= (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    return m


def same_up_to_renumbering(a, b):
    assert a.shape == b.shape
    assert np.array_equal(a == 0, b == 0)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


# ------------------------------------------------------------- references


@pytest.mark.parametrize("conn", [6, 18, 26])
def test_label_equals_cc3d_and_scipy(conn):
    m = random_mask()
    lab, n = cm.label(m, connectivity=conn, return_n=True)
    assert lab.dtype == np.uint32 and lab.shape == m.shape
    ref = cc3d.connected_components(m, connectivity=conn)
    same_up_to_renumbering(lab, ref)
    # Same numbering as cc3d (raster order of the first voxel).
    assert np.array_equal(lab, ref.astype(np.uint32))
    sp, nsp = ndi.label(m, structure=ndi.generate_binary_structure(3, STRUCT[conn]))
    assert n == nsp
    same_up_to_renumbering(lab, sp)


def test_label_2d():
    m = random_mask((40, 30), p=0.45)
    lab = cm.label(m, connectivity=26)
    assert lab.shape == m.shape
    same_up_to_renumbering(lab, ndi.label(m, structure=np.ones((3, 3)))[0])
    same_up_to_renumbering(cm.label(m, connectivity=6), ndi.label(m)[0])


def test_label_integer_mask():
    m = random_mask()
    assert np.array_equal(cm.label(m.astype(np.uint8) * 7), cm.label(m))


def test_edt_equals_scipy_anisotropic():
    m = random_mask(p=0.85)
    sp = (1.0, 0.5, 2.0)
    d = cm.edt(m, spacing_um=sp)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, ndi.distance_transform_edt(m, sampling=sp), rtol=1e-5, atol=0)
    np.testing.assert_allclose(cm.edt(m, 0.7), ndi.distance_transform_edt(m, sampling=0.7), rtol=1e-5)


def test_edt_2d():
    m = random_mask((30, 40), p=0.9)
    d = cm.edt(m, spacing_um=(0.5, 2.0))
    assert d.shape == m.shape
    np.testing.assert_allclose(d, ndi.distance_transform_edt(m, sampling=(0.5, 2.0)), rtol=1e-5)


@pytest.mark.parametrize("radius", [1, 2])
def test_median_equals_scipy_exactly(radius):
    v = random_volume()
    v[3, 4, 5] = 100.0
    out = cm.median(v, radius=radius)
    ref = ndi.median_filter(v, size=2 * radius + 1, mode="reflect")
    assert out.dtype == np.float32
    assert np.array_equal(out, ref)


def test_gaussian_close_to_scipy():
    v = random_volume((24, 22, 20))
    sp = (1.0, 0.5, 0.8)
    g = cm.gaussian(v, sigma_um=1.2, spacing_um=sp)
    ref = ndi.gaussian_filter(v.astype(np.float64), sigma=[1.2 / s for s in sp], mode="reflect", truncate=4.0)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, ref, atol=2e-5, rtol=0)


def test_gaussian_2d_and_float64_input():
    v = np.random.default_rng(1).random((30, 25))
    g = cm.gaussian(v, sigma_um=1.5)
    assert g.shape == v.shape and g.dtype == np.float32
    ref = ndi.gaussian_filter(v, sigma=1.5, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(g, ref, atol=2e-5)


def three_levels(shape=(12, 20, 40), noise=0.02, seed=0):
    """Pore 45 %, carbon-binder 20 %, active 35 % of the voxels, as in an
    electrode. (ISO-50 splits the brightest phase from the rest first: on
    three equal thirds it takes the darkest third for the lower side.)"""
    truth = np.zeros(shape, np.uint8)
    x = np.arange(shape[-1])
    truth[..., x >= 0.45 * shape[-1]] = 1
    truth[..., x >= 0.65 * shape[-1]] = 2
    rng = np.random.default_rng(seed)
    vol = np.array([0.1, 0.35, 0.9], np.float32)[truth] + rng.normal(0, noise, shape).astype(np.float32)
    return vol, truth


@pytest.mark.parametrize("method", ["iso50", "multiotsu"])
def test_segment_three_levels(method):
    vol, truth = three_levels()
    ph, t = cm.segment(vol, spacing_um=0.5, method=method, return_thresholds=True)
    assert ph.dtype == np.uint8
    assert np.array_equal(ph, truth)
    assert len(t) == 2 and 0.1 < t[0] < 0.35 < t[1] < 0.9


def test_segment_otsu_and_denoise_and_2d():
    vol, truth = three_levels()
    assert set(np.unique(cm.segment(vol, method="otsu"))) <= {0, 2}
    ph = cm.segment(vol, denoise="median:1")
    assert (ph == truth).mean() > 0.98
    ph2 = cm.segment(vol[5])
    assert ph2.shape == vol[5].shape and np.array_equal(ph2, truth[5])


def test_separate_particles_splits_two_touching_balls():
    shape = (28, 28, 44)
    m = balls(shape, [(14, 14, 14), (14, 14, 29)], 9)
    assert cc3d.connected_components(m).max() == 1  # they touch
    lab, rep = cm.separate_particles(m, spacing_um=0.5, return_report=True)
    assert lab.dtype == np.uint32
    assert lab.max() == 2 and rep["particles"] == 2
    # Each ball's centre is in its own particle.
    assert lab[14, 14, 14] != lab[14, 14, 29] and lab[14, 14, 14] > 0 and lab[14, 14, 29] > 0


def test_particle_metrics_esd_of_a_ball():
    r_vox, sp = 10, 0.5
    m = balls((26, 26, 26), [(13, 13, 13)], r_vox)
    labels = m.astype(np.uint32)
    phases = np.where(m, 2, 0).astype(np.uint8)
    t = cm.particle_metrics(labels, phases, spacing_um=sp, as_frame=False)
    assert isinstance(t, dict) and isinstance(t["volume_um3"], np.ndarray)
    assert len(t["id"]) == 1
    esd = float(t["esd_um"][0])
    assert abs(esd - 2 * r_vox * sp) / (2 * r_vox * sp) < 0.05
    assert isinstance(t["damage_class"], list) and t["damage_class"][0] == "least"
    try:
        import pandas  # noqa: F401
    except ImportError:
        assert isinstance(cm.particle_metrics(labels, phases, spacing_um=sp), dict)
    else:
        df = cm.particle_metrics(labels, phases, spacing_um=sp)
        assert df.shape[0] == 1 and df.attrs["units"]["volume_um3"]
        assert float(df["esd_um"].iloc[0]) == esd


def test_watershed_equals_skimage():
    from skimage.segmentation import watershed as sk_watershed

    rng = np.random.default_rng(3)
    cost = ndi.gaussian_filter(rng.random((16, 20, 18)), 2).astype(np.float32)
    markers = np.zeros(cost.shape, np.int32)
    for i, idx in enumerate(rng.choice(cost.size, 6, replace=False)):
        markers[np.unravel_index(idx, cost.shape)] = i + 1
    mask = cost < np.quantile(cost, 0.8)
    mask[markers > 0] = True
    ours = cm.watershed(cost, markers, mask)
    theirs = sk_watershed(cost, markers, mask=mask, connectivity=3)
    # The same basins; voxels where two floods meet at equal cost may differ.
    assert (ours == theirs).mean() > 0.98
    assert set(np.unique(ours)) == set(np.unique(theirs))


def test_tortuosity_analytic():
    # Straight channels along the axis: τ = 1 at any porosity and spacing.
    straight = np.zeros((10, 8, 8), bool)
    straight[:, ::2, :] = True
    r = cm.tortuosity(straight, spacing_um=(0.5, 0.2, 0.2))
    assert abs(r["tau"] - 1) < 1e-6 and abs(r["volume_fraction"] - 0.5) < 1e-12
    # A layer normal to the flow blocks it: no percolation.
    blocked = straight.copy()
    blocked[5] = False
    t = cm.tortuosity(blocked)["tau"]
    assert t is None or t == float("inf")
    with pytest.raises(ValueError, match="axis"):
        cm.tortuosity(straight, axis=3)


def test_read_tiff_written_by_tifffile(tmp_path):
    a = np.random.default_rng(2).integers(0, 60000, (4, 5, 6), dtype=np.uint16)
    p = tmp_path / "v.tif"
    tifffile.imwrite(p, a, photometric="minisblack")
    data, meta = cm.read(p)
    assert data.dtype == a.dtype and np.array_equal(data, a)
    assert meta["kind"] == "array"
    f = np.random.default_rng(3).random((3, 7, 8), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", f, imagej=True, resolution=(1 / 0.5, 1 / 0.5), metadata={"spacing": 2.0, "unit": "um"})
    data, meta = cm.read(str(tmp_path / "f.tif"))
    assert np.array_equal(data, f)
    np.testing.assert_allclose(meta["spacing_um"], [2.0, 0.5, 0.5])


def test_read_missing_file_is_oserror(tmp_path):
    with pytest.raises(OSError, match="nothing.tif"):
        cm.read(tmp_path / "nothing.tif")


def test_xas_normalize_arctan_edge():
    e = np.concatenate([np.arange(8200, 8320, 2.0), np.arange(8320, 8360, 0.5), np.arange(8360, 8700, 3.0)])
    mu = 0.3 - 1e-5 * (e - 8200) + 1.5 * (0.5 + np.arctan((e - 8333.0) / 1.5) / np.pi)
    r = cm.xas_normalize(e, mu)
    assert abs(r["e0"] - 8333.0) <= 0.5
    assert abs(r["edge_step"] - 1.5) < 0.1
    for k in ("norm", "flat", "pre_edge", "post_edge", "dmude", "energy"):
        assert r[k].shape == e.shape
    assert abs(np.mean(r["norm"][e > 8450]) - 1.0) < 0.05


def _edges(e):
    a = 0.5 + np.arctan((e - 8340.0) / 2.0) / np.pi + 0.05 * np.exp(-(((e - 8350.0) / 3.0) ** 2))
    b = 0.5 + np.arctan((e - 8344.0) / 2.0) / np.pi + 0.08 * np.exp(-(((e - 8352.0) / 4.0) ** 2))
    return a, b


def test_xas_lcf_recovers_a_mixture_and_a_shift():
    e = np.arange(8300.0, 8420.0, 0.5)
    a, b = _edges(e)
    r = cm.xas_lcf(e, 0.3 * a + 0.7 * b, {"Ni2+": (e, a), "Ni3+": (e, b)})
    assert r["names"] == ["Ni2+", "Ni3+"]
    np.testing.assert_allclose(r["weights"], [0.3, 0.7], atol=1e-9)
    assert abs(r["sum_weights"] - 1.0) < 1e-12 and r["r_factor"] < 1e-15
    assert r["fit"].shape == r["data"].shape == r["energy"].shape
    # The data shifted by +1.5 eV: the fitted shift of the references finds it.
    a1, b1 = _edges(e - 1.5)
    r = cm.xas_lcf(e, 0.6 * a1 + 0.4 * b1, {"a": (e, a), "b": (e, b)}, max_shift_ev=3.0)
    assert abs(r["shift_ev"] - 1.5) < 0.05
    np.testing.assert_allclose(r["weights"], [0.6, 0.4], atol=0.02)


def test_xas_lcf_unconstrained_is_least_squares():
    # Without constraints the fit is ordinary least squares (numpy).
    rng = np.random.default_rng(4)
    e = np.arange(8300.0, 8420.0, 0.5)
    a, b = _edges(e)
    y = 0.8 * a - 0.1 * b + 0.01 * rng.standard_normal(e.size)
    r = cm.xas_lcf(e, y, {"a": (e, a), "b": (e, b)}, sum_to_one=False, nonnegative=False)
    w, *_ = np.linalg.lstsq(np.stack([a, b], axis=1), y, rcond=None)
    np.testing.assert_allclose(r["weights"], w, rtol=1e-8, atol=1e-10)
    # Non-negative and summing to one: with two references, the closed form
    # w = clip(<y - b, a - b> / |a - b|², 0, 1).
    r = cm.xas_lcf(e, y, {"a": (e, a), "b": (e, b)})
    w_a = np.clip(np.dot(y - b, a - b) / np.dot(a - b, a - b), 0.0, 1.0)
    np.testing.assert_allclose(r["weights"], [w_a, 1.0 - w_a], atol=1e-9)
    # Only one reference carries it when the data are a scaled copy of it.
    r = cm.xas_lcf(e, 1.0 * a + 0.0 * b, {"a": (e, a), "b": (e, b)})
    np.testing.assert_allclose(r["weights"], [1.0, 0.0], atol=1e-9)


def test_xas_lcf_bad_references():
    e = np.arange(8300.0, 8420.0, 0.5)
    a, b = _edges(e)
    with pytest.raises(ValueError, match="'b': 240 energies for 239"):
        cm.xas_lcf(e, a, {"a": (e, a), "b": (e, b[1:])})
    with pytest.raises(ValueError, match="at least one reference"):
        cm.xas_lcf(e, a, {})
    with pytest.raises(ValueError, match="'b': energies must increase"):
        cm.xas_lcf(e, a, {"a": (e, a), "b": (e[::-1], b)})
    with pytest.raises(ValueError, match="common range"):
        cm.xas_lcf(e, a, {"a": (e + 500.0, a)})


def test_phantom_size_and_seed():
    a = cm.phantom("dense+clean", seed=3, size=32)
    assert a["image"].shape == a["labels"].shape == a["phases"].shape == (32, 32, 32)
    assert a["image"].dtype == np.float32 and a["labels"].dtype == np.uint32 and a["phases"].dtype == np.uint8
    assert len(a["truth"]["id"]) > 0
    b = cm.phantom("dense+clean", seed=3, size=32, threads=1)
    for k in ("image", "labels", "phases"):
        assert np.array_equal(a[k], b[k])
    c = cm.phantom("dense+clean", seed=4, size=32)
    assert not np.array_equal(a["image"], c["image"])
    s = cm.phantom(seed=1, size=40, slice=True)
    assert s["image"].shape == (40, 40) and s["phases"].shape == (40, 40)


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cm.gaussian(np.zeros((4, 4, 4), np.complex64), 1.0), "dtype complex64"),
        (lambda: cm.gaussian(np.zeros((4, 4, 4), bool), 1.0), "dtype bool"),
        (lambda: cm.label(np.zeros((4, 4, 4), np.float32)), "dtype float32"),
        (lambda: cm.edt(np.array([["a", "b"]])), "dtype <U1"),
        (lambda: cm.particle_metrics(np.zeros((3, 3, 3), np.float32), np.zeros((3, 3, 3), np.uint8)), "labels"),
        (lambda: cm.gaussian(np.zeros((2, 3, 4, 5), np.float32), 1.0), "4-D"),
        (lambda: cm.label(np.zeros((2, 3, 4, 5), bool)), "4-D"),
        (lambda: cm.median(np.zeros((4, 4), np.float32)), "3-D"),
        (lambda: cm.gaussian(np.zeros(5, np.float32), 1.0), "1-D"),
        (lambda: cm.segment(np.full((4, 5, 6), np.nan, np.float32)), "no finite value"),
        (lambda: cm.gaussian(np.zeros((0, 4, 4), np.float32), 1.0), "empty"),
        (lambda: cm.label(np.zeros((3, 0), bool)), "empty"),
        (lambda: cm.segment(np.zeros((4, 4, 4), np.float32), method="kmeans"), "method must be"),
        (lambda: cm.segment(np.ones((4, 4, 4), np.float32), denoise="blur:2"), "denoising must be"),
        (lambda: cm.gaussian(np.zeros((4, 4, 4), np.float32), -1.0), "sigma_um"),
        (lambda: cm.edt(np.ones((4, 4, 4), bool), spacing_um=(1, 1)), "spacing_um"),
        (lambda: cm.edt(np.ones((4, 4, 4), bool), spacing_um=0), "spacing_um"),
        (lambda: cm.label(np.ones((4, 4, 4), bool), connectivity=8), "connectivity"),
        (lambda: cm.median(np.ones((4, 4, 4), np.float32), threads=0), "threads"),
        (lambda: cm.particle_metrics(np.ones((3, 3, 3), np.uint32), np.ones((3, 3, 4), np.uint8)), "shapes differ"),
        (lambda: cm.particle_metrics(-np.ones((3, 3, 3), np.int64), np.ones((3, 3, 3), np.uint8)), "labels must hold"),
        (lambda: cm.xas_normalize(np.arange(5.0), np.arange(6.0)), "5 energies for 6"),
        (lambda: cm.xas_normalize(np.arange(5.0), np.arange(5.0)), "."),
        (lambda: cm.phantom("nonsense"), "nonsense"),
        (lambda: cm.phantom(size=0), "size"),
    ],
)
def test_bad_input_raises_valueerror(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert str(e.value).strip()  # a message, one line
    assert "\n" not in str(e.value)


# ------------------------------------------------------------- layouts


def test_non_contiguous_views_give_the_same_result_as_copies():
    rng = np.random.default_rng(5)
    v = rng.random((18, 20, 22), dtype=np.float32)
    m = v > 0.4
    views = [
        (v[::-1, :, ::-1], m[::-1, :, ::-1]),  # negative strides
        (v[::2, 1::2, :], m[::2, 1::2, :]),  # steps
        (np.asfortranarray(v), np.asfortranarray(m)),
        (v.transpose(2, 0, 1), m.transpose(2, 0, 1)),
    ]
    for vv, mm in views:
        vc, mc = np.ascontiguousarray(vv), np.ascontiguousarray(mm)
        assert np.array_equal(cm.gaussian(vv, 1.0, (1, 0.5, 2)), cm.gaussian(vc, 1.0, (1, 0.5, 2)))
        assert np.array_equal(cm.median(vv), cm.median(vc))
        assert np.array_equal(cm.label(mm), cm.label(mc))
        assert np.array_equal(cm.edt(mm, (1, 0.5, 2)), cm.edt(mc, (1, 0.5, 2)))
        assert np.array_equal(cm.segment(vv), cm.segment(vc))


def test_inputs_untouched_readonly_ok_outputs_owned():
    v = random_volume()
    v.setflags(write=False)
    before = v.copy()
    g = cm.gaussian(v, 1.0)
    assert np.array_equal(v, before)
    assert g.flags.c_contiguous and g.flags.writeable
    g[0, 0, 0] = 1.0  # the result is the caller's to write
    # Moved from Rust, not copied into a numpy-allocated buffer: the memory
    # belongs to rust-numpy's container object.
    assert g.base is not None and not isinstance(g.base, np.ndarray)


def test_big_endian_input():
    v = random_volume()
    assert np.array_equal(cm.median(v.astype(">f4")), cm.median(v))


# -------------------------------------------------------------- threads


def test_threads_1_and_2_identical():
    p = cm.phantom("mixed+clean", seed=2, size=40)
    img, sp = p["image"], p["spacing_um"]
    for f in (
        lambda t: cm.gaussian(img, 1.0, sp, threads=t),
        lambda t: cm.median(img, 1, threads=t),
        lambda t: cm.label(img > 0.5, threads=t),
        lambda t: cm.edt(img > 0.5, sp, threads=t),
        lambda t: cm.segment(img, sp, threads=t),
        lambda t: cm.separate_particles(p["phases"] == 2, sp, threads=t),
    ):
        assert np.array_equal(f(1), f(2))
    a = cm.particle_metrics(p["labels"], p["phases"], sp, as_frame=False, threads=1)
    b = cm.particle_metrics(p["labels"], p["phases"], sp, as_frame=False, threads=2)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def test_python_runs_while_the_engine_works():
    """With the GIL held, the main thread could not count while the
    engine's call runs in another thread."""
    v = random_volume((128, 128, 128))
    done = threading.Event()
    counts = []

    def work():
        cm.gaussian(v, 2.0, threads=1)
        done.set()

    t = threading.Thread(target=work)
    n = 0
    t.start()
    while not done.is_set():
        n += 1
    t.join()
    counts.append(n)
    assert n > 1000, n


def test_gil_is_released(capsys):
    """Two Python threads each running a 1-thread Gaussian on 128³ against
    one: throughput ratio ≥ 1.3 (2 at best; reported; only meaningful when
    two cores are free, so up to 3 tries)."""
    v = random_volume((128, 128, 128))

    def one():
        cm.gaussian(v, 2.0, threads=1)

    def timed(n_threads):
        best = float("inf")
        for _ in range(3):
            ts = [threading.Thread(target=one) for _ in range(n_threads)]
            t0 = time.perf_counter()
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            best = min(best, time.perf_counter() - t0)
        return best

    one()  # warm up
    best = 0.0
    for _ in range(3):
        t1 = timed(1)
        t2 = timed(2)
        ratio = 2 * t1 / t2  # throughput of two Python threads over one
        with capsys.disabled():
            print(
                f"\nGIL: one gaussian(128³, threads=1) {t1 * 1e3:.0f} ms; two in two Python threads "
                f"{t2 * 1e3:.0f} ms; throughput ratio {ratio:.2f} (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)"
            )
        best = max(best, ratio)
        if best >= 1.3:
            break
    assert best >= 1.3


def test_docstring_examples():
    """The Examples sections of the installed package's docstrings run."""
    import doctest
    import importlib

    import chemomech

    names = ["_api", "_classify", "_io", "_pipeline", "_sim", "_stats", "_table", "_tomo", "_xanes"]
    for mod in [chemomech, *(importlib.import_module(f"chemomech.{n}") for n in names)]:
        r = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert r.failed == 0, mod.__name__
