//! Linear-combination fitting of a spectrum with reference spectra.
//! Non-negativity and an exact sum-to-one constraint are enforced
//! together (every active set of the small quadratic programme is tried,
//! so the optimum is exact — unlike Larch, whose bounded fits silently
//! break the sum), an optional energy shift of the references is fitted,
//! and R-factor, χ², reduced χ² and standard errors are reported.

use crate::linalg::{Lstsq, dotv};
use chemomech_core::{Error, Result};
use serde::Serialize;

/// Fitting options.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LcfOptions {
    /// Constrain the weights to sum to exactly one.
    pub sum_to_one: bool,
    /// Constrain the weights to be non-negative.
    pub nonnegative: bool,
    /// Fit a common energy shift of the references within ± this (eV); 0 = none.
    pub max_shift_ev: f64,
    /// Fit window (absolute energies, eV).
    pub emin: Option<f64>,
    /// Upper end of the fit window (absolute energy, eV); `None` for no limit.
    pub emax: Option<f64>,
}

impl Default for LcfOptions {
    fn default() -> Self {
        Self { sum_to_one: true, nonnegative: true, max_shift_ev: 0.0, emin: None, emax: None }
    }
}

/// A fit.
#[derive(Debug, Clone, Serialize)]
pub struct LcfResult {
    /// Reference names, in the order given.
    pub names: Vec<String>,
    /// Fitted weight of each reference.
    pub weights: Vec<f64>,
    /// Standard error of each weight.
    pub std_errors: Vec<f64>,
    /// Sum of the weights.
    pub sum_weights: f64,
    /// Fitted common energy shift of the references (eV); 0 when no shift is fitted.
    pub shift_ev: f64,
    /// R-factor: sum of squared residuals over the sum of squared data.
    pub r_factor: f64,
    /// χ²: sum of squared residuals.
    pub chi2: f64,
    /// χ² divided by the degrees of freedom (points minus free parameters, at least 1).
    pub reduced_chi2: f64,
    /// Data points in the fit window.
    pub n_points: usize,
    /// Free parameters: the active weights, less one under sum-to-one, plus one when a shift is fitted.
    pub n_free: usize,
    /// Energies of the fitted points (eV).
    pub energy: Vec<f64>,
    /// Data at those energies.
    pub data: Vec<f64>,
    /// Fitted curve at those energies.
    pub fit: Vec<f64>,
}

/// A reference spectrum: name, energies (increasing), values.
pub struct Reference<'a> {
    /// Reference name.
    pub name: &'a str,
    /// Energies (eV, increasing).
    pub energy: &'a [f64],
    /// Values at those energies.
    pub mu: &'a [f64],
}

/// Linear interpolation of `y(x)` at `v` (`x` increasing), clamped to the end values outside the range.
pub fn interp_at(x: &[f64], y: &[f64], v: f64) -> f64 {
    let n = x.len();
    if v <= x[0] {
        return y[0];
    }
    if v >= x[n - 1] {
        return y[n - 1];
    }
    let i = x.partition_point(|&a| a <= v) - 1;
    let t = (v - x[i]) / (x[i + 1] - x[i]);
    y[i] + t * (y[i + 1] - y[i])
}

/// Least squares on the columns `idx` of `a`, under the sum-to-one
/// constraint when asked: (weights in the order of `idx`, their unscaled
/// covariance). The constraint is eliminated (the last weight is one minus
/// the others: columns a_p − a_last, data y − a_last) and the reduced problem
/// solved by QR, so nearly collinear references keep their digits; the
/// covariance Z (BᵀB)⁻¹ Zᵀ is the constrained one (the weights' block of the
/// inverse KKT matrix). `None` when the (reduced) design is rank-deficient.
fn subset_lsq(a: &[Vec<f64>], y: &[f64], idx: &[usize], sum_to_one: bool) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
    let m = idx.len();
    if !sum_to_one {
        let cols: Vec<Vec<f64>> = idx.iter().map(|&i| a[i].clone()).collect();
        let q = Lstsq::new(&cols)?;
        return Some((q.solve(y), q.cov()));
    }
    if m == 1 {
        return Some((vec![1.0], vec![vec![0.0]]));
    }
    let last = &a[idx[m - 1]];
    let cols: Vec<Vec<f64>> =
        idx[..m - 1].iter().map(|&i| a[i].iter().zip(last).map(|(p, q)| p - q).collect()).collect();
    let t: Vec<f64> = y.iter().zip(last).map(|(p, q)| p - q).collect();
    let q = Lstsq::new(&cols)?;
    let mut w = q.solve(&t);
    w.push(1.0 - w.iter().sum::<f64>());
    let c = q.cov();
    // Z C Zᵀ with Z = [I; −1ᵀ].
    let mut cov = vec![vec![0.0; m]; m];
    for p in 0..m - 1 {
        for r in 0..m - 1 {
            cov[p][r] = c[p][r];
        }
        let s: f64 = c[p].iter().sum();
        cov[p][m - 1] = -s;
        cov[m - 1][p] = -s;
    }
    cov[m - 1][m - 1] = c.iter().flatten().sum();
    Some((w, cov))
}

/// The constrained least-squares solution for columns `a` (one per
/// reference) and data `y`: (weights, SSR, unscaled covariance of the
/// weights, zero outside the active set). Every active set is solved by QR
/// ([`subset_lsq`]); the feasible one of least SSR wins.
pub fn constrained_lsq(
    a: &[Vec<f64>],
    y: &[f64],
    sum_to_one: bool,
    nonnegative: bool,
) -> Option<(Vec<f64>, f64, Vec<Vec<f64>>)> {
    let k = a.len();
    let yy = dotv(y, y);
    let mut best: Option<(Vec<f64>, f64, Vec<usize>, Vec<Vec<f64>>)> = None;
    let subsets: Vec<u32> = if nonnegative { (1..(1u32 << k)).collect() } else { vec![(1u32 << k) - 1] };
    for mask in subsets {
        let idx: Vec<usize> = (0..k).filter(|&i| mask >> i & 1 == 1).collect();
        let Some((w_s, cov_s)) = subset_lsq(a, y, &idx, sum_to_one) else { continue };
        if nonnegative && w_s.iter().any(|&w| w < -1e-12) {
            continue;
        }
        let mut w = vec![0.0; k];
        for (p, &i) in idx.iter().enumerate() {
            w[i] = w_s[p].max(if nonnegative { 0.0 } else { f64::NEG_INFINITY });
        }
        // SSR from the residual itself (no cancellation against yᵀy).
        let ssr: f64 = (0..y.len())
            .map(|t| {
                let r = y[t] - idx.iter().map(|&i| w[i] * a[i][t]).sum::<f64>();
                r * r
            })
            .sum();
        if best.as_ref().is_none_or(|b| ssr < b.1 - 1e-15 * yy.max(1.0)) {
            best = Some((w, ssr, idx, cov_s));
        }
    }
    let (w, ssr, idx, cov_s) = best?;
    let mut cov = vec![vec![0.0; k]; k];
    for (p, &i) in idx.iter().enumerate() {
        for (q, &j) in idx.iter().enumerate() {
            cov[i][j] = cov_s[p][q];
        }
    }
    Some((w, ssr, cov))
}

/// Fits `y(E)` with the references.
pub fn lcf(energy: &[f64], y: &[f64], refs: &[Reference], o: &LcfOptions) -> Result<LcfResult> {
    if refs.is_empty() {
        return Err(Error::param("LCF needs at least one reference"));
    }
    if energy.len() != y.len() {
        return Err(Error::shape("energy and data lengths differ"));
    }
    for r in refs {
        if r.energy.len() != r.mu.len() || r.energy.len() < 2 {
            return Err(Error::shape(format!(
                "reference '{}': {} energies for {} values (at least 2 needed)",
                r.name,
                r.energy.len(),
                r.mu.len()
            )));
        }
        if !r.energy.windows(2).all(|w| w[0] < w[1]) {
            return Err(Error::data(format!("reference '{}': energies must increase", r.name)));
        }
    }
    let lo =
        refs.iter().map(|r| r.energy[0]).fold(f64::NEG_INFINITY, f64::max).max(o.emin.unwrap_or(f64::NEG_INFINITY));
    let hi = refs
        .iter()
        .map(|r| r.energy[r.energy.len() - 1])
        .fold(f64::INFINITY, f64::min)
        .min(o.emax.unwrap_or(f64::INFINITY));
    let sel: Vec<usize> =
        (0..energy.len()).filter(|&i| energy[i] >= lo && energy[i] <= hi && y[i].is_finite()).collect();
    if sel.len() < refs.len() + 2 {
        return Err(Error::data(format!(
            "only {} data points inside the references' common range {lo:.1}–{hi:.1} eV",
            sel.len()
        )));
    }
    let e: Vec<f64> = sel.iter().map(|&i| energy[i]).collect();
    let yv: Vec<f64> = sel.iter().map(|&i| y[i]).collect();
    let design = |shift: f64| -> Vec<Vec<f64>> {
        refs.iter().map(|r| e.iter().map(|&x| interp_at(r.energy, r.mu, x - shift)).collect()).collect()
    };
    let ssr_at = |shift: f64| {
        constrained_lsq(&design(shift), &yv, o.sum_to_one, o.nonnegative).map(|s| s.1).unwrap_or(f64::INFINITY)
    };
    let shift = if o.max_shift_ev > 0.0 {
        // Grid at 0.1 eV, then golden-section refinement.
        let n = (o.max_shift_ev / 0.1).ceil() as i64;
        let mut b = (f64::INFINITY, 0.0);
        for k in -n..=n {
            let s = k as f64 * 0.1;
            let v = ssr_at(s);
            if v < b.0 {
                b = (v, s);
            }
        }
        let (mut a, mut c) = (b.1 - 0.1, b.1 + 0.1);
        let g = 0.5 * (5f64.sqrt() - 1.0);
        for _ in 0..40 {
            let (x1, x2) = (c - g * (c - a), a + g * (c - a));
            if ssr_at(x1) < ssr_at(x2) { c = x2 } else { a = x1 }
        }
        ((a + c) / 2.0).clamp(-o.max_shift_ev, o.max_shift_ev)
    } else {
        0.0
    };
    let cols = design(shift);
    let (w, ssr, cov) = constrained_lsq(&cols, &yv, o.sum_to_one, o.nonnegative)
        .ok_or_else(|| Error::data("LCF: singular system (identical references?)"))?;
    let fit: Vec<f64> = (0..e.len()).map(|i| cols.iter().zip(&w).map(|(c, wi)| c[i] * wi).sum()).collect();
    let active = w.iter().filter(|&&x| x.abs() > 1e-12 || !o.nonnegative).count();
    let n_free = (active as i64 - o.sum_to_one as i64 + (o.max_shift_ev > 0.0) as i64).max(0) as usize;
    let dof = (e.len() as i64 - n_free as i64).max(1) as f64;
    let sigma2 = ssr / dof;
    let yy = dotv(&yv, &yv);
    Ok(LcfResult {
        names: refs.iter().map(|r| r.name.to_string()).collect(),
        std_errors: (0..w.len()).map(|i| (cov[i][i].max(0.0) * sigma2).sqrt()).collect(),
        sum_weights: w.iter().sum(),
        weights: w,
        shift_ev: shift,
        r_factor: ssr / yy.max(1e-300),
        chi2: ssr,
        reduced_chi2: sigma2,
        n_points: e.len(),
        n_free,
        energy: e,
        data: yv,
        fit,
    })
}

/// Every non-empty combination of the references, best (lowest R-factor) first.
pub fn lcf_all_combinations(
    energy: &[f64],
    y: &[f64],
    refs: &[Reference],
    o: &LcfOptions,
    max_refs: usize,
) -> Result<Vec<LcfResult>> {
    let k = refs.len();
    if k > 12 {
        return Err(Error::param("all-combinations LCF is limited to 12 references"));
    }
    let mut out = Vec::new();
    for mask in 1..(1u32 << k) {
        if (mask.count_ones() as usize) > max_refs {
            continue;
        }
        let sub: Vec<Reference> = (0..k)
            .filter(|&i| mask >> i & 1 == 1)
            .map(|i| Reference { name: refs[i].name, energy: refs[i].energy, mu: refs[i].mu })
            .collect();
        if let Ok(r) = lcf(energy, y, &sub, o) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.r_factor.total_cmp(&b.r_factor));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn refs() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let e: Vec<f64> = (0..200).map(|i| 8300.0 + i as f64).collect();
        let a: Vec<f64> = e.iter().map(|&x| 1.0 / (1.0 + (-(x - 8340.0) / 2.0).exp())).collect();
        let b: Vec<f64> = e
            .iter()
            .map(|&x| 1.0 / (1.0 + (-(x - 8342.0) / 2.0).exp()) + 0.3 * (-(x - 8350.0).powi(2) / 20.0).exp())
            .collect();
        (e, a, b)
    }
    #[test]
    fn recovers_mixtures_and_keeps_the_sum() {
        let (e, a, b) = refs();
        let y: Vec<f64> = a.iter().zip(&b).map(|(p, q)| 0.3 * p + 0.7 * q).collect();
        let r = [Reference { name: "a", energy: &e, mu: &a }, Reference { name: "b", energy: &e, mu: &b }];
        let f = lcf(&e, &y, &r, &LcfOptions::default()).unwrap();
        assert!((f.weights[0] - 0.3).abs() < 1e-9 && (f.weights[1] - 0.7).abs() < 1e-9);
        // Data outside the simplex: bounds and the sum both hold exactly.
        let y2: Vec<f64> = a.iter().zip(&b).map(|(p, q)| -0.2 * p + 1.4 * q).collect();
        let f2 = lcf(&e, &y2, &r, &LcfOptions::default()).unwrap();
        assert_eq!(f2.weights, vec![0.0, 1.0]);
        assert!((f2.sum_weights - 1.0).abs() < 1e-15);
        // Energy shift.
        let ys: Vec<f64> =
            e.iter().map(|&x| 0.5 * interp_at(&e, &a, x - 1.3) + 0.5 * interp_at(&e, &b, x - 1.3)).collect();
        let f3 = lcf(&e, &ys, &r, &LcfOptions { max_shift_ev: 3.0, ..Default::default() }).unwrap();
        assert!(
            (f3.shift_ev - 1.3).abs() < 0.02 && (f3.weights[0] - 0.5).abs() < 0.01,
            "{:?} {}",
            f3.weights,
            f3.shift_ev
        );
        let all = lcf_all_combinations(&e, &y, &r, &LcfOptions::default(), 2).unwrap();
        assert_eq!(all[0].names, vec!["a", "b"]);
    }
}
