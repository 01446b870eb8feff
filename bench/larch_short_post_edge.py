"""Golden values for Larch parity on spectra with short post-edge ranges.

Truncates the shared spectra (../shared/data/xas) at several energies above
their edge and runs xraylarch's ``pre_edge`` with default arguments on each.
Writes crates/xas/tests/data/larch_short_post_edge.csv, which the Rust test
``crates/xas/tests/larch.rs`` compares chemomech's normalisation against.

    python bench/larch_short_post_edge.py [--shared ../shared/data]

Needs xraylarch (bench/requirements.txt).
"""
import argparse
import csv
from pathlib import Path

import numpy as np
import larch
from larch.io import read_xdi
from larch.xafs import pre_edge
from larch.symboltable import Group

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "crates/xas/tests/data/larch_short_post_edge.csv"
# Post-edge lengths (eV above the full spectrum's E0) at which spectra end.
CUTS = [45, 80, 150, 220, 280, 420]


def spectra(shared: Path):
    for name in ["ni_metal_rt.xdi", "cu_metal_rt.xdi", "fe3c_rt.xdi"]:
        g = read_xdi(str(shared / "xas" / name))
        yield name, np.asarray(g.energy, float), np.asarray(g.mutrans, float)
    for name in ["ref_NiO.txt", "ref_LiNiO2.txt"]:
        d = np.loadtxt(shared / "xas" / name)
        yield name, d[:, 0] * 1000.0, d[:, 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared/data")
    a = ap.parse_args()
    rows = []
    for name, e, mu in spectra(a.shared):
        full = Group(energy=e, mu=mu)
        pre_edge(full)
        for cut in CUTS:
            emax = full.e0 + cut
            keep = e <= emax
            g = Group(energy=e[keep], mu=mu[keep])
            pre_edge(g)
            rows.append([name, f"{emax:.3f}", g.e0, f"{g.edge_step:.7g}", g.pre_edge_details.norm1,
                         g.pre_edge_details.norm2, g.pre_edge_details.nnorm])
            print(name, emax, rows[-1][2:])
    with open(OUT, "w", newline="") as f:
        f.write(f"# xraylarch {larch.__version__} pre_edge with default arguments on the shared spectra kept up to emax_ev "
                "(written by bench/larch_short_post_edge.py)\n")
        w = csv.writer(f)
        w.writerow(["file", "emax_ev", "e0_ev", "edge_step", "norm1_ev", "norm2_ev", "nnorm"])
        w.writerows(rows)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
