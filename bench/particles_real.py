"""Particles of the real 256³ NMC electrode (../shared/data/electrode,
TauFactor's three-phase segmentation, active = 85, carbon binder = 170,
pore = 0; 1 voxel = 1 µm as a stand-in, sizes below are in voxels) by
three methods side by side:

  chemomech particles --phases ... (defaults, only the voxel size given)
  scikit-image: hole filling, exact EDT, h-maxima markers (h = 0.5 voxel,
      the same depth as ours), watershed on -EDT inside the mask
  PoreSpy SNOW (snow_partitioning, default r_max = 4, sigma = 0.4)

For each: particle count, ESD percentiles (10/50/90, voxels), particles
touching the faces, and one-to-one agreement (IoU >= 0.5) with the other
two. No truth exists for real data: the agreement says where the methods
disagree, not which is right.

    bash bench/run.sh particles_real        # needs porespy (bench/requirements.txt)
"""
import json, subprocess, tempfile, time
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi

from common import ROOT, BIN
from particles import shared


def esd(labels):
    n = np.bincount(labels.ravel())[1:]
    n = n[n > 0]
    return (6 * n / np.pi) ** (1 / 3)


def border_count(labels):
    faces = np.concatenate([labels[0].ravel(), labels[-1].ravel(), labels[:, 0].ravel(), labels[:, -1].ravel(), labels[:, :, 0].ravel(), labels[:, :, -1].ravel()])
    return len(np.unique(faces[faces > 0]))


def one_to_one(a, b, thr=0.5):
    """Fraction of labels of `a` with a partner in `b` at IoU >= thr."""
    m = (a > 0) & (b > 0)
    pairs, inter = np.unique(np.stack([a[m], b[m]]), axis=1, return_counts=True)
    sa, sb = np.bincount(a.ravel()), np.bincount(b.ravel())
    iou = inter / (sa[pairs[0]] + sb[pairs[1]] - inter)
    good = iou >= thr
    return len(np.unique(pairs[0][good])) / max(1, len(np.unique(a[a > 0])))


def main():
    src = shared()
    ph = tifffile.imread(src)
    active = ph == 85
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = subprocess.run([str(BIN), "particles", "--phases", str(src), "--phase-values", "pore=0,cbd=170,active=85", "--voxel-um", "1", "--out", f"{tmp}/p", "--json", "--quiet"], capture_output=True, text=True, check=True)
        dt = time.perf_counter() - t0
        s = json.loads(r.stdout)
        lab = tifffile.imread(f"{tmp}/p/labels.tiff")
        import csv
        rows = list(csv.DictReader(l for l in open(f"{tmp}/p/particles.csv") if not l.startswith("#")))
        excl = sum(r_["excluded"] == "true" for r_ in rows)
        frag = sum(r_["fragment"] == "true" for r_ in rows)
        results["chemomech"] = (lab, dt, f"{excl} excluded ({frag} fragments)")
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed
    t0 = time.perf_counter()
    filled = ndi.binary_fill_holes(active)
    d = ndi.distance_transform_edt(filled)
    markers, _ = ndi.label(h_maxima(d, 0.5), structure=np.ones((3, 3, 3)))
    sk = watershed(-d, markers, mask=filled)
    results["scikit-image"] = (sk, time.perf_counter() - t0, "")
    try:
        import porespy as ps
        t0 = time.perf_counter()
        snow = ps.filters.snow_partitioning(active)
        results["PoreSpy SNOW"] = (np.asarray(snow.regions * active, dtype=np.int64), time.perf_counter() - t0, "")
    except ImportError:
        print("porespy not installed: SNOW left out")
    names = list(results)
    print(f"{'method':<14}{'count':>7}{'faces':>7}{'ESD p10':>9}{'p50':>7}{'p90':>7}{'s':>7}  " + "  ".join(f"match {n}" for n in names))
    for n in names:
        lab, dt, note = results[n]
        e = esd(lab)
        p10, p50, p90 = np.percentile(e, [10, 50, 90])
        m = "  ".join(f"{100 * one_to_one(lab, results[o][0]):>9.1f} %" if o != n else f"{'':>11}" for o in names)
        print(f"{n:<14}{len(e):>7}{border_count(lab):>7}{p10:>9.1f}{p50:>7.1f}{p90:>7.1f}{dt:>7.1f}  {m}  {note}")


if __name__ == "__main__":
    main()
