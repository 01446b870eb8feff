#!/usr/bin/env python3
"""Parallel-beam reconstruction: chemomech FBP and Fourier (gridding) vs
ASTRA CPU FBP, scikit-image iradon and algotom (FBP, direct Fourier).

For each size (detector width x angles) a phantom of discs with known
attenuation is projected analytically (exact chord lengths), written as a
DXchange HDF5 file of transmissions with ROWS identical detector rows, and
reconstructed side by side in one run. Prints seconds per slice (chemomech:
reconstruction alone, from its JSON summary, batched over the rows on all
cores; whole command too) and ratios, plus each method's gain (mean inside
the largest disc / true value) as an amplitude check.
Usage: bench/tomo.py [--sizes 1024x900,2048x1500] [--rows 4] [--skip-iradon-above 1024]
"""
import argparse, os, sys, tempfile, time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import chemomech_json  # noqa: E402


def phantom(nd, seed=1):
    """Discs (x, y, r, mu) in pixels from the rotation axis, mu per pixel."""
    rng = np.random.default_rng(seed)
    discs = [(0.0, 0.0, 0.42 * nd, 0.002)]
    # The last disc is for the gain check; the others keep clear of it.
    check = (0.1 * nd, -0.25 * nd, 0.08 * nd, 0.006)
    while len(discs) < 41:
        r = rng.uniform(0.01, 0.06) * nd
        a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.36 * nd - r)
        x, y = d * np.cos(a), d * np.sin(a)
        if np.hypot(x - check[0], y - check[1]) > r + check[2] + 2:
            discs.append((x, y, r, rng.uniform(0.002, 0.01)))
    discs.append(check)
    return discs


def sinogram(nd, angles_deg, discs):
    """Exact line integrals; detector pixel k at u = k + 0.5 - nd/2 from the axis."""
    th = np.deg2rad(angles_deg)[:, None]
    u = np.arange(nd)[None, :] + 0.5 - nd / 2
    p = np.zeros((len(angles_deg), nd))
    for x, y, r, mu in discs:
        # chemomech's convention: u = x cos θ − y sin θ (+ centre).
        d = u - (x * np.cos(th) - y * np.sin(th))
        p += 2 * mu * np.sqrt(np.clip(r * r - d * d, 0, None))
    return p.astype(np.float32)


def truth_image(n, discs):
    yy, xx = np.mgrid[0:n, 0:n] - (n / 2 - 0.5)
    img = np.zeros((n, n))
    for x, y, r, mu in discs:
        img += mu * ((xx - x) ** 2 + (yy - y) ** 2 < r * r)
    return img


def gain(img, nd, discs):
    """Mean inside the check disc / true value, after putting the image in
    chemomech's orientation (peers differ by flips/transposes: the variant
    that best correlates with the truth is used)."""
    n = img.shape[0]
    t = truth_image(n, discs)
    variants = [img, img[::-1], img[:, ::-1], img[::-1, ::-1]]
    variants += [v.T for v in variants]
    best = max(variants, key=lambda v: np.corrcoef(v.ravel(), t.ravel())[0, 1])
    x, y, r, mu = discs[-1]
    yy, xx = np.mgrid[0:n, 0:n] - (n / 2 - 0.5)
    m = (xx - x) ** 2 + (yy - y) ** 2 < (0.7 * r) ** 2
    # The disc sits on the background disc (mu 0.002).
    return float(best[m].mean() / (mu + discs[0][3]))


def run_chemomech(h5, out, center, alg):
    return chemomech_json("reconstruct", h5, "--out", out, "--center", center, "--algorithm", alg)


def timed(f):
    t0 = time.perf_counter()
    v = f()
    return time.perf_counter() - t0, v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024x900,2048x1500")
    ap.add_argument("--rows", type=int, default=4, help="detector rows (slices) chemomech reconstructs in one batch")
    ap.add_argument("--skip-iradon-above", type=int, default=1024, help="iradon takes minutes per 2048 slice")
    a = ap.parse_args()
    import h5py, tifffile
    print(f"{os.cpu_count()} cores; seconds per slice (chemomech: batch of {a.rows} slices on all cores, reconstruction only)")
    for spec in a.sizes.split(","):
        nd, na = map(int, spec.split("x"))
        angles = np.arange(na) * 180.0 / na
        discs = phantom(nd)
        sino = sinogram(nd, angles, discs)
        center = nd / 2  # axis between pixels nd/2 - 1 and nd/2
        res = {}
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            h5 = d / "proj.h5"
            with h5py.File(h5, "w") as f:
                f["exchange/data"] = np.repeat(np.exp(-sino)[:, None, :], a.rows, axis=1)
                f["exchange/theta"] = angles
            for alg in ["fbp", "fourier"]:
                dt, s = run_chemomech(h5, d / f"{alg}.tiff", center - 0.5, alg)
                img = tifffile.imread(d / f"{alg}.tiff")[0]
                res[f"chemomech {alg}"] = (s["seconds_reconstruction"] / a.rows, gain(img, nd, discs), f"whole command {dt:.2f} s for {a.rows} slices")
        try:
            import astra
            vg = astra.create_vol_geom(nd, nd)
            pg = astra.create_proj_geom("parallel", 1.0, nd, np.deg2rad(angles))
            pid = astra.create_projector("linear", pg, vg)
            sid = astra.data2d.create("-sino", pg, sino)
            rid = astra.data2d.create("-vol", vg)
            cfg = astra.astra_dict("FBP")
            cfg.update(ReconstructionDataId=rid, ProjectionDataId=sid, ProjectorId=pid)
            cfg["option"] = {"FilterType": "ram-lak"}
            alg = astra.algorithm.create(cfg)
            dt, _ = timed(lambda: astra.algorithm.run(alg))
            res["ASTRA CPU FBP (1 thread)"] = (dt, gain(astra.data2d.get(rid), nd, discs), "")
            astra.algorithm.delete(alg)
            astra.data2d.delete([sid, rid]); astra.projector.delete(pid)
        except Exception as e:  # noqa: BLE001 — a peer that cannot run is reported, not fatal
            print(f"  ASTRA: not run ({e})")
        if nd <= a.skip_iradon_above:
            from skimage.transform import iradon
            dt, img = timed(lambda: iradon(sino.T, theta=-angles, filter_name="ramp", circle=True))
            res["scikit-image iradon"] = (dt, gain(img, nd, discs), "")
        try:
            from algotom.rec import reconstruction as rec
            th = np.deg2rad(angles)
            dt, img = timed(lambda: rec.fbp_reconstruction(sino, center - 0.5, angles=th, apply_log=False, gpu=False, filter_name=None, ncore=os.cpu_count()))
            res["algotom fbp (numba, all cores)"] = (dt, gain(img, nd, discs), "")
            dt, img = timed(lambda: rec.dfi_reconstruction(sino, center - 0.5, angles=th, apply_log=False, filter_name=None))
            res["algotom dfi (direct Fourier)"] = (dt, gain(img, nd, discs), "")
        except Exception as e:  # noqa: BLE001
            print(f"  algotom: not run ({e})")
        print(f"\n{nd}^2 x {na} angles:")
        ref = res["chemomech fourier"][0]
        fbp = res["chemomech fbp"][0]
        for k, (t, g, note) in res.items():
            print(f"  {k:34s} {t:8.3f} s/slice  gain {g:6.3f}   {t / fbp:7.2f}x chemomech fbp  {t / ref:7.2f}x chemomech fourier  {note}")


if __name__ == "__main__":
    main()
