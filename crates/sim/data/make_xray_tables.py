"""Writes xray_tables.json: elemental X-ray data for chemomech's simulator.

Source: xraydb 4.5.8 (PyPI), which packages
  - mass attenuation coefficients, total (photoabsorption + coherent +
    incoherent), from W. T. Elam, B. D. Ravel, J. R. Sieber, Radiat. Phys.
    Chem. 63 (2002) 121 ("Elam tables"), via xraydb.mu_elam;
  - anomalous scattering factors f', f'' from C. T. Chantler, J. Phys. Chem.
    Ref. Data 29 (2000) 597, via xraydb.f1_chantler / f2_chantler;
  - atomic masses and K-edge energies.
Run: python make_xray_tables.py  (needs `pip install xraydb==4.5.8 numpy`).
The grid is log-spaced 4-40 keV plus points 0.01 eV either side of every
K edge in range, so log-log interpolation never crosses an edge.
"""
import json

import numpy as np
import xraydb

ELEMENTS = ["H", "Li", "C", "O", "F", "P", "Mn", "Co", "Ni"]
grid = set(np.round(np.geomspace(4000.0, 40000.0, 241), 3))
edges = {}
for el in ELEMENTS:
    try:
        e = xraydb.xray_edge(el, "K").energy
    except Exception:
        continue
    if 4000.0 < e < 40000.0:
        edges[el] = e
        grid.update([round(e - 0.01, 3), round(e + 0.01, 3)])
grid = sorted(grid)
out = {
    "source": "xraydb 4.5.8: Elam et al. 2002 total mass attenuation (cm^2/g); Chantler 2000 f', f''; see make_xray_tables.py",
    "energy_ev": grid,
    "k_edges_ev": edges,
    "elements": {},
}
for el in ELEMENTS:
    out["elements"][el] = {
        "z": int(xraydb.atomic_number(el)),
        "atomic_mass": float(xraydb.atomic_mass(el)),
        "mu_total_cm2_g": [float(f"{v:.6g}") for v in xraydb.mu_elam(el, np.array(grid))],
        "f1_anomalous": [float(f"{v:.6g}") for v in xraydb.f1_chantler(el, np.array(grid))],
        "f2": [float(f"{v:.6g}") for v in xraydb.f2_chantler(el, np.array(grid))],
    }
with open("xray_tables.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
# Reference values for tests (same source).
print(json.dumps({
    "NMC622_mu_8000eV_per_cm_at_4.7": float(xraydb.material_mu("LiNi0.6Mn0.2Co0.2O2", 8000, density=4.7)),
    "NMC622_delta_beta_17050eV": [float(x) for x in xraydb.xray_delta_beta("LiNi0.6Mn0.2Co0.2O2", 4.7, 17050)[:2]],
    "NMC622_mu_8340eV": float(xraydb.material_mu("LiNi0.6Mn0.2Co0.2O2", 8340, density=4.7)),
    "NMC622_mu_8330eV": float(xraydb.material_mu("LiNi0.6Mn0.2Co0.2O2", 8330, density=4.7)),
}))
