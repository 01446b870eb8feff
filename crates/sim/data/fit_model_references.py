"""Fits the simulator's built-in Ni K-edge model spectra to the real NiO
(Ni2+) and LiNiO2 (Ni3+) references (pyxas repository, example/ref_*.txt,
as in ../shared/data/xas/). The model is used only when the real references
are not at hand (chemomech demo on a machine without ../shared).

Model (normalised mu): an arctan edge step at e0 with width g, a Gaussian
white line, a Gaussian shoulder, and three damped post-edge oscillations:
  s(E) = 1/2 + atan((E-e0)/g)/pi
       + a1 exp(-(E-e1)^2/(2 w1^2)) + a2 exp(-(E-e2)^2/(2 w2^2))
       + sum_k b_k sin(2 pi (E-e0)/p_k + phi_k) exp(-(E-e0)/tau) H(E-e0)
Run: python fit_model_references.py /path/to/shared/data/xas  (scipy, numpy)
"""
import sys

import numpy as np
from scipy.optimize import least_squares


def model(p, e):
    e0, g, a1, e1, w1, a2, e2, w2, tau, *osc = p
    s = 0.5 + np.arctan((e - e0) / g) / np.pi
    s += a1 * np.exp(-((e - e1) ** 2) / (2 * w1**2)) + a2 * np.exp(-((e - e2) ** 2) / (2 * w2**2))
    h = 1 / (1 + np.exp(-(e - e0 - 4) / 2.0))
    for k in range(3):
        b, per, ph = osc[3 * k : 3 * k + 3]
        s += h * b * np.sin(2 * np.pi * (e - e0) / per + ph) * np.exp(-np.clip(e - e0, 0, None) / tau)
    return s


def fit(path):
    d = np.loadtxt(path)
    e, m = d[:, 0] * 1000.0, d[:, 1]
    sel = (e >= 8250) & (e <= 8800)
    e, m = e[sel], m[sel]
    best = None
    for per0 in ([25, 45, 80], [18, 30, 60], [30, 55, 100]):
        p0 = [8341, 2.0, 0.6, 8348, 3.0, 0.15, 8365, 6.0, 120.0]
        for per in per0:
            p0 += [0.15, per, 0.0]
        r = least_squares(lambda p: model(p, e) - m, p0, max_nfev=20000)
        if best is None or r.cost < best.cost:
            best = r
    rms = np.sqrt(np.mean((model(best.x, e) - m) ** 2))
    return best.x, rms


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else "../../../../shared/data/xas"
    for name in ["ref_NiO.txt", "ref_LiNiO2.txt"]:
        p, rms = fit(f"{base}/{name}")
        print(name, "rms", round(float(rms), 4))
        print("[" + ", ".join(f"{v:.6g}" for v in p) + "]")
