//! The operators fixed for the whole stack ([`Plan`], built by
//! [`build_plan`]): the pre-edge line and post-edge polynomial as
//! least-squares weights ([`PolyFit`]), the white-line quadratics
//! ([`QuadFit`]), the windows, and the LCF design with every active set of
//! the constrained fit inverted in advance ([`Subset`]). The per-pixel work
//! only applies them.

use super::params::{MapParams, RefSpectrum};
use crate::larch::{PreEdge, index_nearest, index_of};
use crate::lcf::{LcfOptions, interp_at};
use crate::linalg::{Lstsq, inverse};
use chemomech_core::{Error, Result};

/// Most references a map fits.
pub(super) const MAXREF: usize = 8;

/// Least-squares operator for a polynomial in a centred, scaled variable.
#[derive(Debug, Clone)]
pub(super) struct PolyFit {
    pub(super) idx: Vec<usize>,
    /// Coefficient c_k = Σ_i w[k][i]·y[idx[i]].
    pub(super) w: Vec<Vec<f64>>,
    /// Powers of the scaled variable at every energy of the stack (evaluation
    /// without divisions: it runs for every pixel).
    pub(super) basis: Vec<[f64; 6]>,
}

impl PolyFit {
    fn new(e: &[f64], idx: Vec<usize>, deg: usize) -> Option<Self> {
        let x: Vec<f64> = idx.iter().map(|&i| e[i]).collect();
        let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (off, scl) = if hi > lo { ((hi + lo) / 2.0, (hi - lo) / 2.0) } else { (lo, 1.0) };
        let deg = deg.min(idx.len().saturating_sub(1));
        let phi: Vec<Vec<f64>> =
            (0..=deg).map(|k| x.iter().map(|&v| ((v - off) / scl).powi(k as i32)).collect()).collect();
        // The least-squares operator A⁺ = R⁻¹Qᵀ, by QR (no normal equations).
        let w = Lstsq::new(&phi)?.pinv();
        let basis = e
            .iter()
            .map(|&v| {
                let u = (v - off) / scl;
                let mut b = [0.0; 6];
                let mut p = 1.0;
                for bk in b.iter_mut().take(deg + 1) {
                    *bk = p;
                    p *= u;
                }
                b
            })
            .collect();
        Some(Self { idx, w, basis })
    }
    /// The fitted polynomial at energy index `i`.
    #[inline]
    fn at(&self, c: &[f64; 6], i: usize) -> f64 {
        let b = &self.basis[i];
        c[0] * b[0] + c[1] * b[1] + c[2] * b[2] + c[3] * b[3] + c[4] * b[4] + c[5] * b[5]
    }
    fn coefs(&self, y: &[f64], sub: Option<&[f64]>) -> [f64; 6] {
        let mut c = [0.0; 6];
        for (k, wk) in self.w.iter().enumerate() {
            c[k] = wk.iter().zip(&self.idx).map(|(w, &i)| w * (y[i] - sub.map_or(0.0, |s| s[i]))).sum();
        }
        c
    }
}

/// Least-squares quadratic q0 + q1 x + q2 x² through fixed points: the
/// weights X⁺ = (XᵀX)⁻¹Xᵀ (computed by QR), so that a fit is three short
/// dot products.
#[derive(Debug, Clone)]
pub(super) struct QuadFit {
    idx: Vec<usize>,
    w: Vec<[f64; 3]>,
}

impl QuadFit {
    /// The fit at energy indices `idx` in x = e − `x0`; `None` with fewer
    /// than 3 points or a singular system.
    fn new(e: &[f64], idx: Vec<usize>, x0: f64) -> Option<Self> {
        if idx.len() < 3 {
            return None;
        }
        let x: Vec<f64> = idx.iter().map(|&i| e[i] - x0).collect();
        let cols: Vec<Vec<f64>> = (0..3).map(|p| x.iter().map(|v| v.powi(p)).collect()).collect();
        // The weights A⁺ = R⁻¹Qᵀ, by QR.
        let pinv = Lstsq::new(&cols)?.pinv();
        let w = (0..x.len()).map(|i| std::array::from_fn(|k| pinv[k][i])).collect();
        Some(Self { idx, w })
    }

    fn fit(&self, y: impl Fn(usize) -> f64) -> (f64, f64, f64) {
        let mut q = [0.0; 3];
        for (&i, w) in self.idx.iter().zip(&self.w) {
            let v = y(i);
            q[0] += w[0] * v;
            q[1] += w[1] * v;
            q[2] += w[2] * v;
        }
        (q[0], q[1], q[2])
    }
}

/// One active set of the constrained LCF, precomputed.
#[derive(Debug, Clone)]
pub(super) struct Subset {
    pub(super) idx: Vec<usize>,
    /// Inverse of the KKT (or normal) matrix.
    pub(super) inv: Vec<Vec<f64>>,
}

/// Everything fixed for the whole stack.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) e: Vec<f64>,
    pub(super) ie0: usize,
    pub(super) pre: PolyFit,
    pub(super) post: PolyFit,
    pub(super) edge: (usize, usize),
    pub(super) wl: (usize, usize),
    wl_half: f64,
    /// Per white-line maximum index (from `wl.0`): the quadratic's
    /// least-squares weights over the points within ±`wl_half` (precomputed:
    /// the points depend only on where the maximum is, not on the pixel).
    wl_fits: Vec<Option<QuadFit>>,
    /// 1 / (e[i+1] − e[i−1]) for the central-difference derivative (0 at the ends).
    pub(super) inv_span: Vec<f64>,
    pub(super) lcf_idx: Vec<usize>,
    pub(super) design: Vec<Vec<f64>>,
    pub(super) ata: Vec<Vec<f64>>,
    pub(super) subsets: Vec<Subset>,
    pub(super) sum_to_one: bool,
    pub(super) nonnegative: bool,
    pub(super) lcf_on_flat: bool,
    pub(super) smooth: usize,
    pub(super) mask_sigma: f64,
    pub(super) min_jump: f64,
}

impl Plan {
    /// White-line energy and height from the maximum at index `im`: the
    /// vertex of the quadratic fitted to normalised μ `y` around it, or the
    /// maximum itself (smoothed height `sm_im`) when the fit has no vertex
    /// within ±`wl_half`.
    #[inline]
    pub(super) fn white_line(&self, im: usize, y: impl Fn(usize) -> f64, sm_im: f64) -> (f32, f32) {
        let e = &self.e;
        match self.wl_fits.get(im.wrapping_sub(self.wl.0)).and_then(|f| f.as_ref()).map(|f| f.fit(y)) {
            Some((q0, q1, q2)) if q2 < 0.0 && (-q1 / (2.0 * q2)).abs() <= self.wl_half => {
                let x = -q1 / (2.0 * q2);
                ((e[im] + x) as f32, (q0 + q1 * x + q2 * x * x) as f32)
            }
            _ => (e[im] as f32, sm_im as f32),
        }
    }

    /// Normalised and flattened μ of one spectrum, its step and pre-edge σ.
    pub(super) fn normalise(&self, y: &[f64], norm: &mut [f64], flat: &mut [f64], pre: &mut [f64]) -> (f64, f64) {
        let n = self.e.len();
        let cp = self.pre.coefs(y, None);
        for (i, p) in pre.iter_mut().enumerate().take(n) {
            *p = self.pre.at(&cp, i);
        }
        let mut ss = 0.0;
        for &i in &self.pre.idx {
            ss += (y[i] - pre[i]) * (y[i] - pre[i]);
        }
        let dof = (self.pre.idx.len() as f64 - self.pre.w.len() as f64).max(1.0);
        let sigma = (ss / dof).sqrt();
        let cq = self.post.coefs(y, Some(pre));
        let step = self.post.at(&cq, self.ie0);
        let inv = if step.abs() > 1e-12 { 1.0 / step } else { f64::NAN };
        for i in 0..self.ie0.min(n) {
            norm[i] = (y[i] - pre[i]) * inv;
            flat[i] = norm[i];
        }
        for i in self.ie0..n {
            norm[i] = (y[i] - pre[i]) * inv;
            flat[i] = norm[i] - self.post.at(&cq, i) * inv + 1.0;
        }
        (step, sigma)
    }

    /// Rows (energies) smoothed: the edge and white-line windows with a
    /// margin wider than the smoothing reaches, so values used are the same
    /// as smoothing everything.
    pub(super) fn smooth_rows(&self) -> (usize, usize) {
        let ne = self.e.len();
        let lo = self.edge.0.min(self.wl.0);
        let hi = self.edge.1.max(self.wl.1);
        (lo.saturating_sub(self.smooth + 4).max(1), (hi + self.smooth + 4).min(ne - 2))
    }

    /// Rows (energies) of normalised/flattened μ that the chunk kernel reads:
    /// the smoothed windows (with their margin), the white-line fit span and
    /// the LCF points. The others are never looked at, so not computed.
    pub(super) fn norm_rows(&self) -> (usize, usize) {
        let ne = self.e.len();
        let (r0, r1) = self.smooth_rows();
        let (c, d) = self.wl;
        let mut lo = (r0 - 1).min(c.saturating_sub(8));
        let mut hi = (r1 + 1).min(ne - 1).max((d + 8).min(ne - 1));
        if let (Some(&a), Some(&b)) = (self.lcf_idx.first(), self.lcf_idx.last()) {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        (lo, hi)
    }

    /// Residual degrees of freedom of the LCF with every reference free.
    pub(super) fn full_set_dof(&self) -> f64 {
        let k = self.design.len();
        (self.lcf_idx.len() as f64 - (k as i64 - self.sum_to_one as i64).max(0) as f64).max(1.0)
    }

    /// The constrained LCF solution from the normal-equation right-hand side
    /// `aty` and yᵀy: (weights, standard errors, R-factor, reduced χ²).
    pub(super) fn lcf_pick(&self, aty: &[f64; MAXREF], yy: f64) -> Option<([f64; MAXREF], [f64; MAXREF], f64, f64)> {
        let k = self.design.len();
        let mut best = (f64::INFINITY, 0usize);
        let mut bw = [0.0; MAXREF];
        for (si, sset) in self.subsets.iter().enumerate() {
            let Some(wf) = self.subset_weights(sset, aty) else {
                continue;
            };
            let ssr = self.lcf_ssr(&wf, aty, yy);
            if ssr < best.0 - 1e-15 * yy.max(1.0) {
                best = (ssr, si);
                bw = wf;
            }
            if sset.idx.len() == k {
                break;
            }
        }
        if !best.0.is_finite() {
            return None;
        }
        let ssr = best.0.max(0.0);
        let sset = &self.subsets[best.1];
        let nfree = (sset.idx.len() as i64 - self.sum_to_one as i64).max(0) as f64;
        let s2 = ssr / (self.lcf_idx.len() as f64 - nfree).max(1.0);
        let mut w = [f64::NAN; MAXREF];
        let mut se = [f64::NAN; MAXREF];
        for i in 0..k {
            w[i] = bw[i];
            se[i] = 0.0;
        }
        for (pi, &ri) in sset.idx.iter().enumerate() {
            se[ri] = (sset.inv[pi][pi].max(0.0) * s2).sqrt();
        }
        Some((w, se, ssr / yy.max(1e-300), s2))
    }

    /// The weights of every reference (0 outside the active set `sset`) from
    /// the right-hand side `aty`; `None` when a weight of the set is
    /// negative under the non-negativity constraint.
    fn subset_weights(&self, sset: &Subset, aty: &[f64; MAXREF]) -> Option<[f64; MAXREF]> {
        let ms = sset.idx.len();
        let dim = sset.inv.len();
        let mut ws = [0.0; MAXREF];
        for pi in 0..ms {
            let mut v = 0.0;
            for (qi, &ri) in sset.idx.iter().enumerate() {
                v += sset.inv[pi][qi] * aty[ri];
            }
            if dim > ms {
                v += sset.inv[pi][ms];
            }
            if self.nonnegative && v < -1e-12 {
                return None;
            }
            ws[pi] = v;
        }
        let mut wf = [0.0; MAXREF];
        for (pi, &ri) in sset.idx.iter().enumerate() {
            wf[ri] = if self.nonnegative { ws[pi].max(0.0) } else { ws[pi] };
        }
        Some(wf)
    }

    /// Sum of squared residuals of weights `wf`: yᵀy − 2 wᵀAᵀy + wᵀAᵀA w.
    fn lcf_ssr(&self, wf: &[f64; MAXREF], aty: &[f64; MAXREF], yy: f64) -> f64 {
        let k = self.design.len();
        let mut ssr = yy;
        for i in 0..k {
            ssr -= 2.0 * wf[i] * aty[i];
            for jj in 0..k {
                ssr += wf[i] * self.ata[i][jj] * wf[jj];
            }
        }
        ssr
    }
}

/// Indices of the first and last energy within `lo`–`hi` eV (at least 3 energies).
fn window(e: &[f64], lo: f64, hi: f64, what: &str) -> Result<(usize, usize)> {
    let a = e.iter().position(|&x| x >= lo);
    let b = e.iter().rposition(|&x| x <= hi);
    match (a, b) {
        (Some(a), Some(b)) if b >= a + 2 => Ok((a, b)),
        _ => Err(Error::param(format!("the {what} window {lo:.1}–{hi:.1} eV holds fewer than 3 energies"))),
    }
}

/// The plan for energies `e`, with Larch's E0 and windows `pe` (of the mean
/// spectrum) and the references `refs` shifted by `shift` eV.
pub(super) fn build_plan(e: &[f64], pe: &PreEdge, refs: &[RefSpectrum], shift: f64, p: &MapParams) -> Result<Plan> {
    let n = e.len();
    let e0 = pe.e0;
    let ie0 = index_nearest(e, e0);
    let (pre, post) = edge_fits(e, pe)?;
    let edge = window(e, e0 + p.edge_window_ev.0, e0 + p.edge_window_ev.1, "edge")?;
    let wl = window(e, e0 + p.white_line_window_ev.0, e0 + p.white_line_window_ev.1, "white-line")?;
    let mut plan = Plan {
        e: e.to_vec(),
        ie0,
        pre,
        post,
        edge,
        wl,
        wl_half: p.white_line_fit_ev,
        wl_fits: white_line_fits(e, wl, p.white_line_fit_ev),
        inv_span: (0..n).map(|i| if i == 0 || i + 1 == n { 0.0 } else { 1.0 / (e[i + 1] - e[i - 1]) }).collect(),
        lcf_idx: vec![],
        design: vec![],
        ata: vec![],
        subsets: vec![],
        sum_to_one: p.lcf.sum_to_one,
        nonnegative: p.lcf.nonnegative,
        lcf_on_flat: p.lcf_on_flat,
        smooth: p.smooth_passes,
        mask_sigma: p.mask_sigma,
        min_jump: p.min_jump,
    };
    if !refs.is_empty() {
        (plan.lcf_idx, plan.design) = lcf_design(&plan, e0, refs, shift, p)?;
    }
    let ata = normal_matrix(&plan.design);
    let subsets = active_sets(&ata, &p.lcf);
    if !plan.design.is_empty() && subsets.is_empty() {
        return Err(Error::data("LCF: the references are linearly dependent in the fit window"));
    }
    plan.ata = ata;
    plan.subsets = subsets;
    Ok(plan)
}

/// The pre-edge line and the post-edge polynomial over Larch's index
/// ranges of the windows `pe`.
fn edge_fits(e: &[f64], pe: &PreEdge) -> Result<(PolyFit, PolyFit)> {
    let n = e.len();
    let e0 = pe.e0;
    // Larch's index rules for the pre-edge and post-edge ranges.
    let p1 = index_of(e, pe.pre1 + e0);
    let mut p2 = index_nearest(e, pe.pre2 + e0);
    if p2 < p1 + 2 {
        p2 = n.min(p1 + 2);
    }
    let mut q1 = index_of(e, pe.norm1 + e0);
    let mut q2 = index_nearest(e, pe.norm2 + e0);
    if q2 < q1 + 2 {
        q2 = n.min(q1 + 2);
    }
    if q2 < q1 + 2 {
        q1 = q1.saturating_sub(2);
    }
    let pre =
        PolyFit::new(e, (p1..p2).collect(), 1).ok_or_else(|| Error::data("pre-edge window too small for a line"))?;
    let post =
        PolyFit::new(e, (q1..q2).collect(), pe.nnorm).ok_or_else(|| Error::data("post-edge window too small"))?;
    Ok((pre, post))
}

/// Per white-line maximum index in `wl`: the quadratic over the energies
/// within ±`half` eV of it.
fn white_line_fits(e: &[f64], wl: (usize, usize), half: f64) -> Vec<Option<QuadFit>> {
    let n = e.len();
    (wl.0..=wl.1)
        .map(|im| {
            let (lo, hi) = (e[im] - half, e[im] + half);
            let span = wl.0.saturating_sub(8)..=(wl.1 + 8).min(n - 1);
            QuadFit::new(e, span.filter(|&i| e[i] >= lo && e[i] <= hi).collect(), e[im])
        })
        .collect()
}

/// The LCF points (energy indices) and the design: every reference at
/// those points, normalised like the pixels by `plan` when asked.
fn lcf_design(
    plan: &Plan,
    e0: f64,
    refs: &[RefSpectrum],
    shift: f64,
    p: &MapParams,
) -> Result<(Vec<usize>, Vec<Vec<f64>>)> {
    if refs.len() > MAXREF {
        return Err(Error::param(format!("at most {MAXREF} references per map, got {}", refs.len())));
    }
    let e = &plan.e;
    let n = e.len();
    let lcf_idx = lcf_points(e, e0, refs, shift, p)?;
    // References sampled at the stack's energies and, when they span
    // them, normalised exactly as the pixels are (same windows, same
    // E0), as Athena does: otherwise a different normalisation of the
    // references biases every fraction.
    let (mut nb, mut fb) = (vec![0.0; n], vec![0.0; n]);
    let mut design = Vec::with_capacity(refs.len());
    for r in refs {
        let y: Vec<f64> = e.iter().map(|&x| interp_at(&r.energy_ev, &r.mu, x - shift)).collect();
        let spans =
            r.energy_ev[0] + shift <= e[0] + 1e-9 && r.energy_ev[r.energy_ev.len() - 1] + shift >= e[n - 1] - 1e-9;
        let col: Vec<f64> = if p.normalize_references && spans {
            let (step, _) = plan.normalise(&y, &mut nb, &mut fb, &mut vec![0.0; n]);
            if !(step.abs() > 1e-9) {
                return Err(Error::data(format!(
                    "reference '{}' has no edge step between the stack's windows",
                    r.name
                )));
            }
            let v = if p.lcf_on_flat { &fb } else { &nb };
            lcf_idx.iter().map(|&i| v[i]).collect()
        } else {
            lcf_idx.iter().map(|&i| y[i]).collect()
        };
        design.push(col);
    }
    Ok((lcf_idx, design))
}

/// Energy indices of the LCF window, within every (shifted) reference's range.
fn lcf_points(e: &[f64], e0: f64, refs: &[RefSpectrum], shift: f64, p: &MapParams) -> Result<Vec<usize>> {
    let lo = refs
        .iter()
        .map(|r| r.energy_ev[0] + shift)
        .fold(e0 + p.lcf_window_ev.0, f64::max)
        .max(p.lcf.emin.unwrap_or(f64::NEG_INFINITY));
    let hi = refs
        .iter()
        .map(|r| r.energy_ev[r.energy_ev.len() - 1] + shift)
        .fold(e0 + p.lcf_window_ev.1, f64::min)
        .min(p.lcf.emax.unwrap_or(f64::INFINITY));
    let lcf_idx: Vec<usize> = (0..e.len()).filter(|&i| e[i] >= lo && e[i] <= hi).collect();
    if lcf_idx.len() < refs.len() + 2 {
        return Err(Error::param(format!(
            "only {} energies in the LCF window {lo:.1}–{hi:.1} eV for {} references",
            lcf_idx.len(),
            refs.len()
        )));
    }
    Ok(lcf_idx)
}

/// AᵀA of the design (one column per reference).
fn normal_matrix(design: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = design.len();
    (0..k).map(|i| (0..k).map(|j| design[i].iter().zip(&design[j]).map(|(a, b)| a * b).sum()).collect()).collect()
}

/// The active sets the constrained LCF tries, in order, each with its KKT
/// (or normal) matrix inverted; singular ones are left out.
fn active_sets(ata: &[Vec<f64>], o: &LcfOptions) -> Vec<Subset> {
    let k = ata.len();
    let masks: Vec<u32> = if k == 0 {
        vec![]
    } else if o.nonnegative {
        // All references first: when that solution is feasible it is the
        // optimum (every smaller set is a restriction of it), and
        // `lcf_pick` stops there.
        let mut m: Vec<u32> = (1..(1u32 << k)).collect();
        m.sort_by_key(|v| std::cmp::Reverse(v.count_ones()));
        m
    } else {
        vec![(1u32 << k) - 1]
    };
    let mut subsets = Vec::new();
    for m in masks {
        let idx: Vec<usize> = (0..k).filter(|&i| m >> i & 1 == 1).collect();
        let ms = idx.len();
        let dim = ms + o.sum_to_one as usize;
        let mut kkt = vec![vec![0.0; dim]; dim];
        for (a, &i) in idx.iter().enumerate() {
            for (b, &j) in idx.iter().enumerate() {
                kkt[a][b] = ata[i][j];
            }
            if o.sum_to_one {
                kkt[a][ms] = 1.0;
                kkt[ms][a] = 1.0;
            }
        }
        if let Some(inv) = inverse(&kkt) {
            subsets.push(Subset { idx, inv });
        }
    }
    subsets
}
