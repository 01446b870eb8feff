"""Accuracy matrix of `chemomech particles` on the simulator family: every
row is one member (`chemomech phantom`: morphology × crack width × imaging,
or a randomised member) and seed, analysed with the same defaults and only
the voxel size given (and `--crack-measure deficit`, the default here:
`--crack-measure threshold` for the stage's default), and scored against its truth.

Columns: count error; one-to-one matches at IoU >= 0.5; damage-class
accuracy; crack-fraction bias (mean measured / mean true - 1) and Pearson
correlation over matched particles; Spearman correlation of the depth
profile of mean crack fraction (6 windows from the separator) against the
truth's; detachment AUC (measured carbon-binder contact of attached above
detached particles). `inner`: matches among the true particles off the
volume's faces. `kept`: class accuracy over the matched particles that
`stats` keeps for damage statistics (not `excluded`: no fragments, no caps
on the faces); the second `count`: count error over those, the same rule
applied to the truth. The depth profiles leave out particles cut by the faces
(and measured ones flagged `excluded`). Goals on every row: count within 3 %, matched >= 95 %,
classes >= 90 %, bias within 10 %, Spearman >= 0.9.

    bash bench/run.sh particles_matrix [--seeds 1,2] [--size 96] [--held-out] [--only hollow+holo]

`--held-out` runs the randomised members kept aside while the methods were
developed (seeds 101-106), instead of the named conditions.
"""
import argparse, csv, json, os, subprocess, tempfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from common import ROOT

BIN = Path(os.environ.get("CHEMOMECH_BIN", ROOT / "target" / "release" / "chemomech"))
CONDITIONS = [f"{m}+{i}" for m in ["dense", "agglomerate", "hollow", "thin-cracks"] for i in ["clean", "absorption", "holo"]]
CONDITIONS += ["mixed+soft", "random"]
CRACK_MEASURE = "deficit"


def run(*args):
    r = subprocess.run([str(BIN), *map(str, args), "--json", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"chemomech {' '.join(map(str, args))}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def table(path):
    with open(path) as f:
        rows = list(csv.DictReader(r for r in f if not r.startswith("#")))
    return rows


def depth_profile(rows, axis, extent, bins=6):
    key = f"centroid_{axis}_um"
    d = np.array([float(r[key]) for r in rows])
    cf = np.array([float(r["crack_fraction"]) for r in rows])
    keep = np.array([r.get("excluded", "false").lower() != "true" and r.get("touches_border", "false").lower() != "true" for r in rows])
    edges = np.linspace(0, extent, bins + 1)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        m = keep & (d >= a) & (d < b)
        out.append(cf[m].mean() if m.any() else np.nan)
    return np.array(out)


def analysed(rows):
    """Ids of the particles `stats` keeps for damage statistics: not a
    fragment (equivalent diameter < 0.4 x the median off the faces) and not
    a cap on a face (< 0.75 x that median), the rule of `particles`'
    `excluded` column, applied to the truth table as well."""
    d = np.array([float(r.get("esd_um") or r.get("ecd_um")) for r in rows])
    border = np.array([r["touches_border"].lower() == "true" for r in rows])
    med = np.median(d[~border]) if (~border).any() else np.median(d)
    keep = ~((d < 0.4 * med) | (border & (d < 0.75 * med)))
    return {r["id"] for r, k in zip(rows, keep) if k}


def score(preset, seed, size, slice_, work):
    ph = work / f"{preset}-{seed}-{'2d' if slice_ else '3d'}"
    args = ["phantom", "--preset", preset, "--seed", seed, "--size", size, "--out", ph / "phantom"]
    s = run(*args, *(["--slice"] if slice_ else []))
    v = s["config"]["voxel_um"]
    p = run("particles", ph / "phantom" / "image.tiff", "--voxel-um", v, "--crack-measure", CRACK_MEASURE, "--truth", ph / "phantom" / "truth" / "labels.tiff", "--out", ph / "particles")
    truth = table(ph / "phantom" / "truth" / "particles.csv")
    meas = table(ph / "particles" / "particles.csv")
    tm = p["truth_match"]
    cl = tm.get("classes") or {}
    axis, n_axis = ("y", 1) if slice_ else ("z", 0)
    ext = s["config"]["shape"][n_axis] * v
    pt, pm = depth_profile(truth, axis, ext), depth_profile(meas, axis, ext)
    ok = ~(np.isnan(pt) | np.isnan(pm))
    rho = spearmanr(pt[ok], pm[ok]).statistic if ok.sum() > 2 else np.nan
    mt, mm = cl.get("crack_fraction_mean_truth", np.nan), cl.get("crack_fraction_mean_measured", np.nan)
    det = cl.get("detachment") or {}
    # Classes and count over the particles kept for damage statistics.
    kept_t, kept_m = analysed(truth), analysed(meas)
    pairs = [r for r in table(ph / "particles" / "truth_matches.csv") if r["particle_id"] in kept_m]
    classes_kept = np.mean([r["truth_class"] == r["damage_class"] for r in pairs]) if pairs else np.nan
    return {
        "member": preset + (" 2-D" if slice_ else ""),
        "seed": seed,
        "voxel_um": v,
        "true": len(truth),
        "found": p["n_particles"],
        "count_err": p["n_particles"] / len(truth) - 1,
        "matched": tm["matched_fraction"],
        "matched_in": tm["matched_fraction_interior"],
        "classes": cl.get("class_accuracy", np.nan),
        "classes_kept": classes_kept,
        "count_kept": len(kept_m) / len(kept_t) - 1 if kept_t else np.nan,
        "cf_bias": mm / mt - 1 if mt else np.nan,
        "cf_r": cl.get("crack_fraction_correlation", np.nan),
        "depth_rho": rho,
        "det_auc": det.get("auc_attached_above_detached", np.nan),
        "seconds": p["seconds"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-2d", action="store_true")
    ap.add_argument("--crack-measure", default="deficit", choices=["deficit", "threshold"])
    a = ap.parse_args()
    global CRACK_MEASURE
    CRACK_MEASURE = a.crack_measure
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.held_out:
        rows = [("random", s, False) for s in range(101, 105)] + [("random", s, True) for s in range(105, 107)]
    else:
        conds = [a.only] if a.only else CONDITIONS
        rows = [(c, s, False) for c in conds for s in seeds]
        if not a.no_2d and not a.only:
            rows += [(c, s, True) for c in ["hollow+holo", "agglomerate+absorption", "mixed+soft"] for s in seeds]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        hdr = f"{'member':<26}{'seed':>5}{'true':>6}{'found':>6}{'count':>8}{'matched':>9}{'inner':>7}{'classes':>9}{'kept':>7}{'count':>8}{'cf bias':>9}{'cf r':>7}{'depth ρ':>9}{'det AUC':>9}{'s':>6}"
        print(hdr)
        for preset, seed, sl in rows:
            r = score(preset, seed, a.size if not sl else 2 * a.size, sl, Path(tmp))
            out.append(r)
            print(f"{r['member']:<26}{seed:>5}{r['true']:>6}{r['found']:>6}{100*r['count_err']:>+7.1f}%{100*r['matched']:>8.1f}%{100*r['matched_in']:>6.1f}%"
                  f"{100*r['classes']:>8.1f}%{100*r['classes_kept']:>6.1f}%{100*r['count_kept']:>+7.1f}%{100*r['cf_bias']:>+8.1f}%{r['cf_r']:>7.2f}{r['depth_rho']:>9.2f}{r['det_auc']:>9.2f}{r['seconds']:>6.1f}", flush=True)
    goals = lambda r: abs(r["count_err"]) <= 0.03 and r["matched"] >= 0.95 and r["classes"] >= 0.9 and abs(r["cf_bias"]) <= 0.1 and (np.isnan(r["depth_rho"]) or r["depth_rho"] >= 0.9)
    met = sum(goals(r) for r in out)
    print(f"\nrows meeting every goal: {met} of {len(out)}")
    for k in ["count_err", "matched", "matched_in", "classes", "classes_kept", "count_kept", "cf_bias", "cf_r", "depth_rho", "det_auc"]:
        v = np.array([r[k] for r in out], float)
        print(f"  {k:<10} median {np.nanmedian(v):+.3f}  worst {np.nanmin(v) if k not in ('count_err', 'count_kept', 'cf_bias') else v[np.nanargmax(np.abs(v))]:+.3f}")
    kept_goals = lambda r: abs(r["count_kept"]) <= 0.03 and r["matched_in"] >= 0.95 and r["classes_kept"] >= 0.9 and abs(r["cf_bias"]) <= 0.1
    print(f"rows meeting the goals on the particles kept for damage statistics (count, classes; matched off the faces; bias): {sum(kept_goals(r) for r in out)} of {len(out)}")


if __name__ == "__main__":
    main()
