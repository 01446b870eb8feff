"""The installed package on the shared real data against the field's
reference tools: labels against cc3d on the TauFactor electrode (256³),
Larch's pre_edge golden numbers on real spectra (xraylarch 2026.3.1,
default arguments; values from ../shared/data/README.md)."""

import cc3d
import numpy as np
import pytest
import tifffile

import chemomech as cm


@pytest.mark.parametrize("conn", [6, 26])
def test_labels_equal_cc3d_on_the_taufactor_electrode(conn, shared):
    vol = tifffile.imread(shared / "electrode" / "taufactor_electrode_256.tiff")
    nmc = vol == 85
    mine, n = cm.label(nmc, connectivity=conn, return_n=True)
    ref, n_ref = cc3d.connected_components(nmc, connectivity=conn, return_N=True)
    assert n == n_ref
    if conn == 26:
        assert n == 81  # the README's count with 26-connectivity
    # Same numbering (raster order of first voxels), so equal outright.
    np.testing.assert_array_equal(mine, ref.astype(np.uint32))


LARCH = {
    # file: (e0 eV, edge_step, {energy eV: norm}, flat at 8500 eV or None)
    "ni_metal_rt.xdi": (8331.5, 2.526141, {8333.0: 0.29102, 8350.0: 0.96129, 8500.0: 1.05066}, 1.11455),
    "cu_metal_rt.xdi": (8980.5, 2.729379, {}, None),
    "fe3c_rt.xdi": (7122.0, 2.424699, {}, None),
}


@pytest.mark.parametrize("name", sorted(LARCH))
def test_xas_normalize_equals_larch_on_real_spectra(name, shared):
    e0, step, norms, flat = LARCH[name]
    mu, meta = cm.read(shared / "xas" / name)
    r = cm.xas_normalize(meta["energy_ev"], mu)
    assert r["e0"] == pytest.approx(e0, abs=0.05)
    assert r["edge_step"] == pytest.approx(step, rel=1e-5)
    # Values between data points are linearly interpolated (np.interp).
    for en, want in norms.items():
        assert np.interp(en, r["energy"], r["norm"]) == pytest.approx(want, abs=5e-5), en
    if flat is not None:
        assert np.interp(8500.0, r["energy"], r["flat"]) == pytest.approx(flat, abs=5e-5)
    if name == "ni_metal_rt.xdi":
        assert (r["pre1"], r["pre2"], r["norm1"], r["norm2"], r["nnorm"]) == pytest.approx((-190, -95, 25, 1235, 2), abs=0.5)
        assert r["pre_slope"] == pytest.approx(-3.397629e-4, rel=1e-5)
