//! Pre-edge subtraction and normalisation with the defaults and algorithms
//! of Larch's code (`larch/xafs/pre_edge.py`, which differs from its
//! documentation): E0 from the maximum of the derivative in two passes
//! (unsmoothed, then Lorentzian-smoothed around the first estimate);
//! pre1 = the second energy point rounded to 5 eV, pre2 = pre1/2; norm2 =
//! the last energy rounded to 5 eV, norm1 = min(25, 5·round(norm2/15))
//! eV; nnorm = 2, 1 or 0 as norm2 − norm1 exceeds 300 or 30 eV; a line
//! below the edge, a polynomial above it; edge step at E0; flattening.
//! Every parameter can be overridden.

use crate::linalg::polyfit;
use chemomech_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Larch's `TINY_ENERGY`: duplicate energies are separated by this (eV).
const TINY_ENERGY: f64 = 0.0005;
const MAX_NNORM: usize = 5;

/// Parameters of [`pre_edge`]; `None` picks Larch's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreEdgeParams {
    /// Edge energy E0 (eV); `None`, or a value outside the data, finds it with [`find_e0`].
    pub e0: Option<f64>,
    /// Edge step; `None` takes the post-edge minus the pre-edge curve at E0.
    pub step: Option<f64>,
    /// Start of the pre-edge fit range, relative to E0 (eV).
    pub pre1: Option<f64>,
    /// End of the pre-edge fit range, relative to E0 (eV).
    pub pre2: Option<f64>,
    /// Start of the post-edge normalisation range, relative to E0 (eV).
    pub norm1: Option<f64>,
    /// End of the post-edge normalisation range, relative to E0 (eV).
    pub norm2: Option<f64>,
    /// Degree of the post-edge polynomial (at most 5).
    pub nnorm: Option<usize>,
    /// Energy exponent of the pre-edge fit: the line is fitted to μ·E^nvict (Larch's `nvict`).
    pub nvict: i32,
}

/// The result of [`pre_edge`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreEdge {
    /// Edge energy E0 used (eV), taken at the nearest data energy.
    pub e0: f64,
    /// Edge step used for the normalisation.
    pub edge_step: f64,
    /// Start of the pre-edge fit range used, relative to E0 (eV).
    pub pre1: f64,
    /// End of the pre-edge fit range used, relative to E0 (eV).
    pub pre2: f64,
    /// Start of the post-edge normalisation range used, relative to E0 (eV).
    pub norm1: f64,
    /// End of the post-edge normalisation range used, relative to E0 (eV).
    pub norm2: f64,
    /// Degree of the post-edge polynomial (Larch's `nnorm`).
    pub nnorm: usize,
    /// Energy exponent of the pre-edge fit (Larch's `nvict`).
    pub nvict: i32,
    /// Slope of the pre-edge line fitted to μ·E^nvict.
    pub pre_slope: f64,
    /// Intercept of the pre-edge line fitted to μ·E^nvict.
    pub pre_offset: f64,
    /// Post-edge polynomial coefficients (increasing powers).
    pub norm_coefs: Vec<f64>,
    /// Energies (eV): sorted, non-finite points dropped, duplicates separated.
    pub energy: Vec<f64>,
    /// Normalised μ: (μ − pre-edge curve) / edge step.
    pub norm: Vec<f64>,
    /// Flattened normalised μ: above E0, the post-edge curvature is removed.
    pub flat: Vec<f64>,
    /// Pre-edge curve at every energy.
    pub pre_edge: Vec<f64>,
    /// Post-edge curve (pre-edge curve plus the post-edge polynomial) at every energy.
    pub post_edge: Vec<f64>,
    /// Derivative of normalised μ with respect to energy (per eV).
    pub dmude: Vec<f64>,
}

/// Larch's `remove_dups`: a value not above its predecessor by `tiny` is raised to it.
fn remove_dups(e: &[f64], tiny: f64) -> Vec<f64> {
    let mut w = e.to_vec();
    for i in 1..w.len() {
        if (w[i] - w[i - 1]).abs() < tiny {
            w[i] = w[i - 1] + tiny;
        }
    }
    w
}

/// Index of the last element ≤ value (0 when value is below all).
pub fn index_of(a: &[f64], v: f64) -> usize {
    if a.is_empty() || v < a.iter().cloned().fold(f64::INFINITY, f64::min) {
        return 0;
    }
    a.iter().rposition(|&x| x <= v).unwrap_or(0)
}

/// Index of the element nearest to value (first on ties, as numpy's argmin).
pub fn index_nearest(a: &[f64], v: f64) -> usize {
    let mut best = (f64::INFINITY, 0);
    for (i, &x) in a.iter().enumerate() {
        let d = (x - v).abs();
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// numpy.gradient (second-order central differences, first-order at the ends).
pub fn gradient(y: &[f64], x: &[f64]) -> Vec<f64> {
    let n = y.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut g = vec![0.0; n];
    g[0] = (y[1] - y[0]) / (x[1] - x[0]);
    g[n - 1] = (y[n - 1] - y[n - 2]) / (x[n - 1] - x[n - 2]);
    for i in 1..n - 1 {
        let (h1, h2) = (x[i] - x[i - 1], x[i + 1] - x[i]);
        g[i] = (h1 * h1 * y[i + 1] - h2 * h2 * y[i - 1] + (h2 * h2 - h1 * h1) * y[i]) / (h1 * h2 * (h1 + h2));
    }
    g
}

/// Ratio of gradients, as Larch's `np.gradient(mu)/np.gradient(energy)` (index spacing).
fn dmu_de(mu: &[f64], en: &[f64]) -> Vec<f64> {
    let idx: Vec<f64> = (0..mu.len()).map(|i| i as f64).collect();
    let gm = gradient(mu, &idx);
    let ge = gradient(en, &idx);
    gm.iter().zip(&ge).map(|(a, b)| a / b).collect()
}

/// Larch's `find_energy_step`: mean of the smallest steps after ignoring a fraction.
fn find_energy_step(e: &[f64]) -> f64 {
    let n = e.len();
    let nskip = (0.01 * n as f64) as usize;
    // Larch indexes by where(diff(argsort(e)) == 1): for sorted e, all but the last.
    let ordered: Vec<f64> = e[..n.saturating_sub(1)].to_vec();
    let end = if nskip == 0 { 0 } else { ordered.len().saturating_sub(nskip) };
    if end <= nskip + 1 {
        return f64::NAN;
    }
    let sub = &ordered[nskip..end];
    let mut d: Vec<f64> = sub.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(|a, b| a.total_cmp(b));
    let s = &d[nskip.min(d.len())..(nskip + 10).min(d.len())];
    if s.is_empty() { f64::NAN } else { s.iter().sum::<f64>() / s.len() as f64 }
}

/// Linear interpolation with linear extrapolation (Larch's `interp`).
fn interp(xp: &[f64], fp: &[f64], x: f64) -> f64 {
    let n = xp.len();
    if n == 1 {
        return fp[0];
    }
    let i = if x <= xp[0] {
        0
    } else if x >= xp[n - 1] {
        n - 2
    } else {
        xp.partition_point(|&v| v <= x) - 1
    };
    let t = (x - xp[i]) / (xp[i + 1] - xp[i]);
    fp[i] + t * (fp[i + 1] - fp[i])
}

/// Larch's `smooth`: convolution with a Lorentzian of width `sigma` on a
/// uniform grid of step `xstep`, reflecting the ends.
pub fn smooth(x: &[f64], y: &[f64], sigma: f64, xstep: f64) -> Vec<f64> {
    let npad = 5.0;
    let xmin = xstep * (((x[0] - npad * xstep) / xstep) as i64) as f64;
    let xmax = xstep * (((x[x.len() - 1] + npad * xstep) / xstep) as i64) as f64;
    let npts1 = 1 + ((xmax - xmin + xstep * 0.1).abs() / xstep) as usize;
    let npts = npts1.min(50 * x.len());
    let x0: Vec<f64> =
        (0..npts).map(|i| if npts > 1 { xmin + (xmax - xmin) * i as f64 / (npts - 1) as f64 } else { xmin }).collect();
    // numpy.interp: clamps outside.
    let y0: Vec<f64> = x0
        .iter()
        .map(|&v| {
            if v <= x[0] {
                y[0]
            } else if v >= x[x.len() - 1] {
                y[y.len() - 1]
            } else {
                interp(x, y, v)
            }
        })
        .collect();
    let s = sigma / xstep;
    let win: Vec<f64> = (0..2 * npts).map(|i| 1.0 / (1.0 + ((i as f64 - npts as f64) / s).powi(2))).collect();
    let wsum: f64 = win.iter().sum();
    // y1 = y0[npts-1..1 reversed] + y0 + y0 reversed.
    let mut y1: Vec<f64> = (1..npts).rev().map(|i| y0[i]).collect();
    y1.extend_from_slice(&y0);
    y1.extend(y0.iter().rev());
    // numpy.convolve(win, y1, 'valid'): out[k] = Σ_j win[j] · y1[k + L − 1 − j], L = 2·npts.
    let l = 2 * npts;
    let nout = y1.len() + 1 - l;
    let y2: Vec<f64> = (0..nout).map(|k| (0..l).map(|j| win[j] * y1[k + l - 1 - j]).sum::<f64>() / wsum).collect();
    let y2 = if y2.len() > x0.len() {
        let nex = (y2.len() - x0.len()) / 2;
        y2[nex..nex + x0.len()].to_vec()
    } else {
        y2
    };
    x.iter().map(|&v| interp(&x0, &y2, v)).collect()
}

/// Larch's `_finde0`: (energy, index into the spectrum without its last point, energy step).
fn finde0_inner(energy: &[f64], mu: &[f64], estep: Option<f64>, use_smooth: bool) -> (f64, usize, f64) {
    let en_all = remove_dups(energy, TINY_ENERGY);
    // Larch keeps where(diff(argsort(en)) == 1): for sorted input, all but the last point.
    let n = en_all.len().saturating_sub(1);
    let en = &en_all[..n];
    let mu = &mu[..n];
    let estep = estep.unwrap_or_else(|| find_energy_step(en));
    let nmin = 3usize.max((n as f64 * 0.02) as usize);
    let mut dmu = if use_smooth { smooth(en, &dmu_de(mu, en), estep, estep) } else { dmu_de(mu, en) };
    for v in dmu.iter_mut() {
        if !v.is_finite() {
            *v = -1.0;
        }
    }
    if n <= 2 * nmin {
        return (en.first().copied().unwrap_or(f64::NAN), 0, estep);
    }
    let inner = &dmu[nmin..n - nmin];
    let dmin = inner.iter().cloned().fold(f64::INFINITY, f64::min);
    let dmax = inner.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let ptp = (dmax - dmin).max(1e-10);
    let d: Vec<f64> = dmu.iter().map(|v| (v - dmin) / ptp).collect();
    let mut dhigh = if n > 20 { 0.60 } else { 0.30 };
    let mut high: Vec<usize> = (0..n).filter(|&i| d[i] > dhigh).collect();
    if high.len() < 3 {
        for _ in 0..2 {
            if high.len() > 3 {
                break;
            }
            dhigh *= 0.5;
            high = (0..n).filter(|&i| d[i] > dhigh).collect();
        }
    }
    if high.len() < 3 {
        high = (0..n).filter(|&i| d[i].is_finite()).collect();
    }
    let set: std::collections::HashSet<usize> = high.iter().cloned().collect();
    let (mut imax, mut best) = (0usize, 0.0f64);
    for &i in &high {
        if i < nmin || i > n - nmin {
            continue;
        }
        if d[i] > best && set.contains(&(i + 1)) && i > 0 && set.contains(&(i - 1)) {
            imax = i;
            best = d[i];
        }
    }
    (en[imax], imax, estep)
}

/// E0 as Larch's `find_e0`: the maximum of dμ/dE, then refined on a
/// Lorentzian-smoothed derivative within ±75 points.
pub fn find_e0(energy: &[f64], mu: &[f64]) -> f64 {
    let (mut e1, ie0, estep1) = finde0_inner(energy, mu, None, false);
    let n = energy.len();
    let mut istart = 3usize.max(ie0.saturating_sub(75));
    let mut istop = (ie0 + 75).min(n.saturating_sub(3));
    if (ie0 as f64) < 0.05 * n as f64 {
        e1 = energy.iter().sum::<f64>() / n as f64;
        istart = 3usize.max(ie0.saturating_sub(20));
        istop = n.saturating_sub(3);
    }
    // Python's min(1.0, nan) is 1.0: an undefined step counts as 1 eV.
    let clip = |v: f64| if v.is_nan() { 1.0 } else { v.clamp(0.01, 1.0) };
    let estep = 0.5 * (clip(estep1) + clip(e1 / 25000.0));
    if istop <= istart + 4 {
        return e1;
    }
    let (e0, ix, _) = finde0_inner(&energy[istart..istop], &mu[istart..istop], Some(estep), true);
    if ix < 1 { energy[istart + 2] } else { e0 }
}

/// Pre-edge subtraction and normalisation (Larch's `pre_edge`).
///
/// ```
/// let e: Vec<f64> = (0..400).map(|i| 8200.0 + i as f64 * 2.0).collect();
/// let mu: Vec<f64> = e.iter().map(|&x| 0.1 + 2.0 / (1.0 + (-(x - 8333.0) / 2.0).exp())).collect();
/// let r = chemomech_xas::pre_edge(&e, &mu, &Default::default()).unwrap();
/// assert!((r.e0 - 8333.0).abs() <= 2.0 && (r.edge_step - 2.0).abs() < 0.05);
/// ```
pub fn pre_edge(energy: &[f64], mu: &[f64], p: &PreEdgeParams) -> Result<PreEdge> {
    if energy.len() != mu.len() {
        return Err(Error::shape(format!("{} energies for {} μ values", energy.len(), mu.len())));
    }
    let (en, mu) = finite_sorted(energy, mu)?;
    let n = en.len();
    let nvict = p.nvict;
    let e0_given = p.e0.filter(|e| *e >= en[1] && *e <= en[n - 2]);
    let e0 = e0_given.unwrap_or_else(|| find_e0(&en, &mu));
    let ie0 = index_nearest(&en, e0);
    let e0 = en[ie0];
    let r = fit_ranges(&en, e0, ie0, p);
    // Pre-edge line fitted to μ·E^nvict over [e0+pre1, e0+pre2).
    let p1 = index_of(&en, r.pre1 + e0);
    let mut p2 = index_nearest(&en, r.pre2 + e0);
    if p2 < p1 + 2 {
        p2 = n.min(p1 + 2);
    }
    let ex = &en[p1..p2];
    let mx: Vec<f64> = (p1..p2).map(|i| mu[i] * en[i].powi(nvict)).collect();
    let pc = polyfit(ex, &mx, 1).ok_or_else(|| Error::data("pre-edge fit failed (too few points?)"))?;
    let pre: Vec<f64> = en.iter().map(|&e| (pc[0] + e * pc[1]) * e.powi(-nvict)).collect();
    let (coefs, post) = post_edge(&en, &mu, &pre, e0, &r)?;
    let step = p.step.unwrap_or(post[ie0] - pre[ie0]).abs().max(1e-12);
    let norm: Vec<f64> = mu.iter().zip(&pre).map(|(m, pv)| (m - pv) / step).collect();
    let resid: Vec<f64> = post.iter().zip(&pre).map(|(a, b)| (a - b) / step).collect();
    let flat: Vec<f64> = (0..n).map(|i| if i < ie0 { norm[i] } else { norm[i] - resid[i] + resid[ie0] }).collect();
    let dmude = dmu_de(&norm, &en);
    Ok(PreEdge {
        e0,
        edge_step: step,
        pre1: r.pre1,
        pre2: r.pre2,
        norm1: r.norm1,
        norm2: r.norm2,
        nnorm: r.nnorm,
        nvict,
        pre_slope: pc[1],
        pre_offset: pc[0],
        norm_coefs: coefs,
        energy: en,
        norm,
        flat,
        pre_edge: pre,
        post_edge: post,
        dmude,
    })
}

/// The finite points sorted by energy (Larch's remove_nans2), energies made
/// strictly increasing; at least 10 points.
fn finite_sorted(energy: &[f64], mu: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut pts: Vec<(f64, f64)> =
        energy.iter().zip(mu).filter(|(e, m)| e.is_finite() && m.is_finite()).map(|(e, m)| (*e, *m)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if pts.len() < 10 {
        return Err(Error::data(format!("a spectrum needs at least 10 finite points, found {}", pts.len())));
    }
    let en = remove_dups(&pts.iter().map(|p| p.0).collect::<Vec<_>>(), TINY_ENERGY);
    let mu: Vec<f64> = pts.iter().map(|p| p.1).collect();
    Ok((en, mu))
}

/// Pre-edge and normalisation ranges (relative to e0) and the post-edge polynomial degree.
struct FitRanges {
    pre1: f64,
    pre2: f64,
    norm1: f64,
    norm2: f64,
    nnorm: usize,
}

/// Larch's default ranges, where `p` leaves them open, made consistent.
fn fit_ranges(en: &[f64], e0: f64, ie0: usize, p: &PreEdgeParams) -> FitRanges {
    let n = en.len();
    let nvict = p.nvict;
    let rel: Vec<f64> = en.iter().map(|e| e - e0).collect();
    let round5 = |v: f64| 5.0 * (v / 5.0).round_ties_even();
    let round2 = |v: f64| 2.0 * (v / 2.0).round_ties_even();
    let mut pre1 = p.pre1.unwrap_or_else(|| if ie0 > 20 { round5(en[1] - e0) } else { round2(en[1] - e0) });
    pre1 = pre1.max(en[0] - e0);
    let mut pre2 = p.pre2.unwrap_or(0.5 * pre1);
    if pre1 > pre2 {
        std::mem::swap(&mut pre1, &mut pre2);
    }
    let ipre1 = index_of(&rel, pre1);
    let ipre2 = index_of(&rel, pre2);
    if (ipre2 as i64) < ipre1 as i64 + 2 + nvict as i64 {
        let k = (ipre1 as i64 + 2 + nvict as i64).clamp(0, n as i64 - 1) as usize;
        pre2 = rel[k];
    }
    let emax = en[n - 1];
    let mut norm2 = p.norm2.unwrap_or_else(|| round5(emax - e0));
    if norm2 < 0.0 {
        norm2 = emax - e0 - norm2;
    }
    norm2 = norm2.min(emax - e0);
    // Larch's code: min(25, 5·round(norm2/15)), i.e. a fifteenth of the
    // post-edge range in whole multiples of 5 eV (not rounded to 5 eV).
    let mut norm1 = p.norm1.unwrap_or_else(|| 25f64.min(5.0 * (norm2 / 15.0).round_ties_even()));
    if norm1 > norm2 {
        std::mem::swap(&mut norm1, &mut norm2);
    }
    norm1 = norm1.min(norm2 - 10.0);
    let nnorm = p
        .nnorm
        .unwrap_or(if norm2 - norm1 < 30.0 {
            0
        } else if norm2 - norm1 < 300.0 {
            1
        } else {
            2
        })
        .min(MAX_NNORM);
    FitRanges { pre1, pre2, norm1, norm2, nnorm }
}

/// Post-edge polynomial fitted to μ − pre over [e0+norm1, e0+norm2): its
/// coefficients and the post-edge curve (pre-edge line plus polynomial).
fn post_edge(en: &[f64], mu: &[f64], pre: &[f64], e0: f64, r: &FitRanges) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = en.len();
    let mut q1 = index_of(en, r.norm1 + e0);
    let mut q2 = index_nearest(en, r.norm2 + e0);
    if q2 < q1 + 2 {
        q2 = n.min(q1 + 2);
    }
    if q2 < q1 + 2 {
        q1 = q1.saturating_sub(2);
    }
    let presub: Vec<f64> = (q1..q2).map(|i| mu[i] - pre[i]).collect();
    let coefs = polyfit(&en[q1..q2], &presub, r.nnorm.min(q2 - q1 - 1))
        .ok_or_else(|| Error::data("post-edge fit failed (too few points?)"))?;
    let post: Vec<f64> = en
        .iter()
        .zip(pre)
        .map(|(&e, &pv)| pv + coefs.iter().enumerate().map(|(k, c)| c * e.powi(k as i32)).sum::<f64>())
        .collect();
    Ok((coefs, post))
}

/// Value of `y` at energy `e` (linear interpolation), e.g. normalised μ at 8350 eV.
pub fn at(energy: &[f64], y: &[f64], e: f64) -> f64 {
    interp(energy, y, e)
}
