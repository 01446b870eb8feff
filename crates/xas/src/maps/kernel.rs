//! The per-chunk kernel: every map for a chunk of pixels at once, the
//! spectra laid out energy-major (`[energy][pixel]`) so that the linear
//! parts of the per-pixel work run across pixels in SIMD lanes.
//!
//! [`chunk`] runs one pass over the chunk per step (finite check, pre-edge
//! line, post-edge polynomial and step, normalisation, smoothing, edge
//! energies, white line, LCF), then finishes pixel by pixel (mask,
//! refinements, LCF active sets) and writes the outputs. It is compiled
//! for AVX-512F, AVX2 and the baseline, and the best the CPU has runs.

use super::plan::{MAXREF, Plan, Subset};
use multiversion::multiversion;

/// Per-pixel results.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Px {
    /// Edge jump (optical density).
    pub(super) jump: f32,
    /// Pre-edge noise σ.
    pub(super) sigma: f32,
    /// Passes the edge-jump mask.
    pub(super) masked: bool,
    /// Half-height edge energy.
    pub(super) e0_half: f32,
    /// Maximum-derivative edge energy.
    pub(super) e0_der: f32,
    /// White-line energy.
    pub(super) wl_e: f32,
    /// White-line height.
    pub(super) wl_h: f32,
    /// LCF R-factor.
    pub(super) r: f32,
    /// LCF reduced χ².
    pub(super) chi2: f32,
}

/// Rows of the LCF right-hand side Aᵀy, one per reference (up to
/// [`MAXREF`]; there were 6 before, and 7 or 8 references panicked).
const ATY_ROWS: usize = MAXREF;

/// Per-chunk buffers, energy-major (`[energy][pixel]`), so that the linear
/// parts of the per-pixel work run across pixels in SIMD lanes. Every row
/// holds one value per pixel of the chunk.
pub(super) struct ChunkBufs {
    /// Pixels in the chunk (the length of every row).
    pixels: usize,
    /// Normalised μ, `[energy][pixel]` (only the rows the kernel reads).
    norm: Vec<f64>,
    /// Smoothed normalised μ, `[energy][pixel]` (around the edge and white-line windows).
    smoothed: Vec<f64>,
    /// One row of flattened μ.
    flat: Vec<f64>,
    /// 1 where the spectrum is finite at every energy, else 0.
    finite: Vec<f64>,
    /// Pre-edge line: coefficient of the constant.
    pre_intercept: Vec<f64>,
    /// Pre-edge line: coefficient of the (scaled) energy.
    pre_slope: Vec<f64>,
    /// Sum of squared residuals of the pre-edge line.
    pre_ssr: Vec<f64>,
    /// μ − pre-edge line at one post-edge energy.
    post_residual: Vec<f64>,
    /// Coefficients of the post-edge polynomial of μ − pre-edge line.
    post_coefs: [Vec<f64>; 6],
    /// The post-edge polynomial at one energy (degrees other than 2).
    post_value: Vec<f64>,
    /// Edge step.
    step: Vec<f64>,
    /// 1 / edge step (NaN for a zero step).
    inv_step: Vec<f64>,
    /// The previous row before smoothing, in smoothing passes after the first.
    smooth_prev: Vec<f64>,
    /// Energy index of the half-height crossing (0: none).
    half_at: Vec<f64>,
    /// Largest derivative of smoothed μ in the edge window.
    max_der: Vec<f64>,
    /// Energy index of the largest derivative.
    max_der_at: Vec<f64>,
    /// Running maximum of smoothed μ in the white-line window.
    wl_max: Vec<f64>,
    /// Energy index of the white-line maximum.
    wl_at: Vec<f64>,
    /// LCF normal equations: yᵀy.
    lcf_yy: Vec<f64>,
    /// LCF normal equations: Aᵀy, per reference.
    lcf_aty: [Vec<f64>; ATY_ROWS],
    /// Full-set LCF across pixels: weight per reference.
    full_w: [Vec<f64>; MAXREF],
    /// Full-set LCF: standard error per reference.
    full_se: [Vec<f64>; MAXREF],
    /// Full-set LCF: sum of squared residuals.
    full_ssr: Vec<f64>,
    /// Full-set LCF: 1 where it is feasible, else 0.
    full_ok: Vec<f64>,
}

impl ChunkBufs {
    /// Buffers for chunks of `m` pixels of spectra of `ne` energies.
    pub(super) fn new(ne: usize, m: usize) -> Self {
        let row = || vec![0.0; m];
        Self {
            pixels: m,
            norm: vec![0.0; ne * m],
            smoothed: vec![0.0; ne * m],
            flat: row(),
            finite: row(),
            pre_intercept: row(),
            pre_slope: row(),
            pre_ssr: row(),
            post_residual: row(),
            post_coefs: std::array::from_fn(|_| row()),
            post_value: row(),
            step: row(),
            inv_step: row(),
            smooth_prev: row(),
            half_at: row(),
            max_der: row(),
            max_der_at: row(),
            wl_max: row(),
            wl_at: row(),
            lcf_yy: row(),
            lcf_aty: std::array::from_fn(|_| row()),
            full_w: std::array::from_fn(|_| row()),
            full_se: std::array::from_fn(|_| row()),
            full_ssr: row(),
            full_ok: row(),
        }
    }

    /// Pixels per chunk these buffers are for.
    pub(super) fn pixels(&self) -> usize {
        self.pixels
    }
}

/// Outputs of one chunk of pixels: its slice of every map.
pub(super) struct ChunkOut<'a> {
    /// Edge jump.
    pub(super) edge_jump: &'a mut [f32],
    /// Pre-edge noise σ.
    pub(super) pre_edge_sigma: &'a mut [f32],
    /// 1 in the mask, else 0.
    pub(super) mask: &'a mut [f32],
    /// Half-height edge energy.
    pub(super) e0_half: &'a mut [f32],
    /// Maximum-derivative edge energy.
    pub(super) e0_derivative: &'a mut [f32],
    /// White-line energy.
    pub(super) white_line_energy: &'a mut [f32],
    /// White-line height.
    pub(super) white_line_height: &'a mut [f32],
    /// LCF R-factor.
    pub(super) r_factor: &'a mut [f32],
    /// LCF reduced χ².
    pub(super) reduced_chi2: &'a mut [f32],
    /// Per reference: its fraction.
    pub(super) fractions: Vec<&'a mut [f32]>,
    /// Per reference: the standard error of its fraction.
    pub(super) fraction_errors: Vec<&'a mut [f32]>,
}

/// Indices of row `i` (one energy, all `m` pixels) in an energy-major buffer.
#[inline(always)]
fn row(i: usize, m: usize) -> std::ops::Range<usize> {
    i * m..(i + 1) * m
}

/// All maps for the pixels whose spectra are `ys` (one row of values per
/// energy, read in place from the stack; as many pixels as `b` is for),
/// into `out`. Same arithmetic, in the same order, as the scalar reference
/// (`Plan::pixel`, in the tests) on the spectra in f64 — only laid out
/// across pixels.
///
/// Compiled for AVX2 (wider SIMD lanes) and AVX-512F (twice the lanes
/// again) as well as the baseline (no FMA contraction in any, so results
/// are identical to the baseline build), the best the CPU supports chosen
/// at run time. The passes are
/// `#[inline(always)]` so that each is compiled with the target's features.
// multiversion 0.8, not 0.9: 0.9 makes an AVX-512 target also require Ice
// Lake's extensions (VBMI2, GFNI, …), which would send AVX-512F CPUs without
// them (Skylake-SP, Cascade Lake) to the AVX2 build.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
pub(super) fn chunk(plan: &Plan, ys: &[&[f32]], b: &mut ChunkBufs, out: &mut ChunkOut) {
    // Loops run over whole rows (one energy, all pixels of the chunk) as
    // zipped slices, without index checks, so that they vectorise.
    finite_spectra(ys, &mut b.finite);
    pre_edge_line(plan, ys, b);
    pre_edge_noise(plan, ys, b);
    post_edge_polynomial(plan, ys, b);
    edge_step(plan, b);
    normalised_rows(plan, ys, b);
    smooth(plan, b);
    half_height_crossings(plan, b);
    max_derivatives(plan, b);
    white_line_maxima(plan, b);
    lcf_normal_equations(plan, b);
    full_set_lcf(plan, b);
    // Per pixel: mask, refinements, LCF active set, outputs.
    let dof_full = plan.full_set_dof();
    for j in 0..b.pixels {
        let (px, w, se) = finish_pixel(plan, b, j, dof_full);
        write_pixel(out, j, &px, &w, &se);
    }
}

/// Sets `ok` to 1 for pixels whose spectrum `ys` is finite at every
/// energy, 0 otherwise.
#[inline(always)]
fn finite_spectra(ys: &[&[f32]], ok: &mut [f64]) {
    ok.fill(1.0);
    for row in ys {
        for (o, &x) in ok.iter_mut().zip(row.iter()) {
            *o = if x.is_finite() { *o } else { 0.0 };
        }
    }
}

/// Pre-edge line of every pixel: its two coefficients.
#[inline(always)]
fn pre_edge_line(plan: &Plan, ys: &[&[f32]], b: &mut ChunkBufs) {
    let ChunkBufs { pre_intercept: cp0, pre_slope: cp1, .. } = b;
    let pre = &plan.pre;
    cp0.fill(0.0);
    cp1.fill(0.0);
    let wl1 = pre.w.len() > 1;
    for (t, &i) in pre.idx.iter().enumerate() {
        let (w0, w1) = (pre.w[0][t], if wl1 { pre.w[1][t] } else { 0.0 });
        for ((a0, a1), &x) in cp0.iter_mut().zip(cp1.iter_mut()).zip(ys[i]) {
            let x = x as f64;
            *a0 += w0 * x;
            *a1 += w1 * x;
        }
    }
}

/// Sum of squared residuals of the pre-edge line over its window.
#[inline(always)]
fn pre_edge_noise(plan: &Plan, ys: &[&[f32]], b: &mut ChunkBufs) {
    let ChunkBufs { pre_intercept: cp0, pre_slope: cp1, pre_ssr: ss, .. } = b;
    ss.fill(0.0);
    for &i in &plan.pre.idx {
        let b1 = plan.pre.basis[i][1];
        for (((s, &x), &c0), &c1) in ss.iter_mut().zip(ys[i]).zip(cp0.iter()).zip(cp1.iter()) {
            let d = x as f64 - (c0 + c1 * b1);
            *s += d * d;
        }
    }
}

/// Post-edge polynomial of μ − pre-edge line: its coefficients.
#[inline(always)]
fn post_edge_polynomial(plan: &Plan, ys: &[&[f32]], b: &mut ChunkBufs) {
    let ChunkBufs { pre_intercept: cp0, pre_slope: cp1, post_residual: resid, post_coefs: cq, .. } = b;
    let post = &plan.post;
    let nk = post.w.len();
    for c in cq.iter_mut().take(nk) {
        c.fill(0.0);
    }
    for (t, &i) in post.idx.iter().enumerate() {
        let b1 = plan.pre.basis[i][1];
        for ((d, &x), (&a0, &a1)) in resid.iter_mut().zip(ys[i]).zip(cp0.iter().zip(cp1.iter())) {
            *d = x as f64 - (a0 + a1 * b1);
        }
        for (kk, c) in cq.iter_mut().enumerate().take(nk) {
            let w = post.w[kk][t];
            for (cv, &d) in c.iter_mut().zip(resid.iter()) {
                *cv += w * d;
            }
        }
    }
}

/// Edge step (the post-edge polynomial at E0) and its inverse.
#[inline(always)]
fn edge_step(plan: &Plan, b: &mut ChunkBufs) {
    let ChunkBufs { post_coefs: cq, step, inv_step: inv, .. } = b;
    let nk = plan.post.w.len();
    let bb = plan.post.basis[plan.ie0];
    for j in 0..step.len() {
        let mut sv = 0.0;
        for kk in 0..nk {
            sv += cq[kk][j] * bb[kk];
        }
        step[j] = sv;
        inv[j] = if sv.abs() > 1e-12 { 1.0 / sv } else { f64::NAN };
    }
}

/// Normalised μ on the rows read below (flattened μ is made row by row
/// where the LCF reads it).
#[inline(always)]
fn normalised_rows(plan: &Plan, ys: &[&[f32]], b: &mut ChunkBufs) {
    let m = b.pixels;
    let ChunkBufs { norm, pre_intercept: cp0, pre_slope: cp1, inv_step: inv, .. } = b;
    let (n0, n1) = plan.norm_rows();
    for i in n0..=n1 {
        let b1 = plan.pre.basis[i][1];
        for ((nv, &x), ((&a0, &a1), &iv)) in
            norm[row(i, m)].iter_mut().zip(ys[i]).zip(cp0.iter().zip(cp1.iter()).zip(inv.iter()))
        {
            *nv = (x as f64 - (a0 + a1 * b1)) * iv;
        }
    }
}

/// Smoothed normalised μ, only around the windows that use it: the first
/// pass reads `norm`, later ones work in place.
#[inline(always)]
fn smooth(plan: &Plan, b: &mut ChunkBufs) {
    let m = b.pixels;
    let ChunkBufs { norm, smoothed: sm, smooth_prev: prev, .. } = b;
    let (r0, r1) = plan.smooth_rows();
    for i in [r0 - 1, r1 + 1] {
        sm[row(i, m)].copy_from_slice(&norm[row(i, m)]);
    }
    if plan.smooth == 0 {
        sm[r0 * m..(r1 + 1) * m].copy_from_slice(&norm[r0 * m..(r1 + 1) * m]);
    }
    for pass in 0..plan.smooth {
        if pass == 0 {
            smooth_first_pass(norm, sm, (r0, r1), m);
        } else {
            smooth_in_place(sm, prev, (r0, r1), m);
        }
    }
}

/// One `[1,2,1]/4` pass over rows `r0..=r1` of `norm` into `sm`.
#[inline(always)]
fn smooth_first_pass(norm: &[f64], sm: &mut [f64], (r0, r1): (usize, usize), m: usize) {
    for i in r0..=r1 {
        let (pr, cr, nx) = (&norm[row(i - 1, m)], &norm[row(i, m)], &norm[row(i + 1, m)]);
        for (sv, ((&p, &c), &n)) in sm[row(i, m)].iter_mut().zip(pr.iter().zip(cr).zip(nx)) {
            *sv = 0.25 * p + 0.5 * c + 0.25 * n;
        }
    }
}

/// One `[1,2,1]/4` pass over rows `r0..=r1` of `sm` in place, `prev` holding
/// the previous row's value before the pass.
#[inline(always)]
fn smooth_in_place(sm: &mut [f64], prev: &mut [f64], (r0, r1): (usize, usize), m: usize) {
    prev.copy_from_slice(&sm[(r0 - 1) * m..r0 * m]);
    for i in r0..=r1 {
        let (head, tail) = sm.split_at_mut((i + 1) * m);
        let (cur, next) = (&mut head[i * m..], &tail[..m]);
        for ((cv, pv), &nx) in cur.iter_mut().zip(prev.iter_mut()).zip(next) {
            let old = *cv;
            *cv = 0.25 * *pv + 0.5 * old + 0.25 * nx;
            *pv = old;
        }
    }
}

/// E0 at half height: the first upward crossing of 0.5 that stays above.
#[inline(always)]
fn half_height_crossings(plan: &Plan, b: &mut ChunkBufs) {
    let (m, ne) = (b.pixels, plan.e.len());
    let ChunkBufs { smoothed: sm, half_at: found, .. } = b;
    let (a, bnd) = plan.edge;
    // Only the index of the crossing here (0: none); the interpolation,
    // a division, runs once per pixel below.
    found.fill(0.0);
    let ones = vec![1.0; m];
    for i in a.max(1)..=bnd {
        let fi = i as f64;
        let (s0r, s1r) = (&sm[row(i - 1, m)], &sm[row(i, m)]);
        let s2r: &[f64] = if i + 1 < ne { &sm[row(i + 1, m)] } else { &ones };
        for (f, ((&s0, &s1), &s2)) in found.iter_mut().zip(s0r.iter().zip(s1r).zip(s2r)) {
            let hit = *f == 0.0 && s1 >= 0.5 && s0 < 0.5 && s2 >= 0.5;
            *f = if hit { fi } else { *f };
        }
    }
}

/// Maximum derivative in the edge window, and where it is.
#[inline(always)]
fn max_derivatives(plan: &Plan, b: &mut ChunkBufs) {
    let (m, ne) = (b.pixels, plan.e.len());
    let ChunkBufs { smoothed: sm, max_der: bv, max_der_at: bi, .. } = b;
    let (a, bnd) = plan.edge;
    bv.fill(f64::NEG_INFINITY);
    bi.fill(0.0);
    for i in a.max(1)..=bnd.min(ne - 2) {
        let inv_de = plan.inv_span[i];
        let fi = i as f64;
        for ((bvv, biv), (&sn, &sp)) in
            bv.iter_mut().zip(bi.iter_mut()).zip(sm[row(i + 1, m)].iter().zip(&sm[row(i - 1, m)]))
        {
            let d = (sn - sp) * inv_de;
            let better = d > *bvv;
            *bvv = if better { d } else { *bvv };
            *biv = if better { fi } else { *biv };
        }
    }
}

/// White-line maximum of smoothed μ, and where it is.
#[inline(always)]
fn white_line_maxima(plan: &Plan, b: &mut ChunkBufs) {
    let m = b.pixels;
    let ChunkBufs { smoothed: sm, wl_max: best, wl_at: im, .. } = b;
    let (c, d) = plan.wl;
    im.fill(c as f64);
    best.copy_from_slice(&sm[row(c, m)]);
    for i in c..=d {
        let fi = i as f64;
        for ((pv, iv), &v) in best.iter_mut().zip(im.iter_mut()).zip(&sm[row(i, m)]) {
            let better = v > *pv;
            *pv = if better { v } else { *pv };
            *iv = if better { fi } else { *iv };
        }
    }
}

/// LCF normal equations: yᵀy and Aᵀy of normalised or flattened μ over the
/// LCF points.
#[inline(always)]
fn lcf_normal_equations(plan: &Plan, b: &mut ChunkBufs) {
    let k = plan.design.len();
    if k == 0 {
        return;
    }
    let m = b.pixels;
    let ChunkBufs { norm, flat, post_coefs, post_value, inv_step, lcf_yy: yy, lcf_aty: aty, .. } = b;
    yy.fill(0.0);
    for a in aty.iter_mut().take(k) {
        a.fill(0.0);
    }
    for (t, &i) in plan.lcf_idx.iter().enumerate() {
        let nr = &norm[row(i, m)];
        let y: &[f64] = if plan.lcf_on_flat && i >= plan.ie0 {
            flatten_row(plan, i, nr, post_coefs, inv_step, post_value, flat);
            flat
        } else {
            nr
        };
        for (q, &x) in yy.iter_mut().zip(y) {
            *q += x * x;
        }
        for (rr, a) in aty.iter_mut().zip(&plan.design).take(k) {
            let w = a[t];
            for (q, &x) in rr.iter_mut().zip(y) {
                *q += w * x;
            }
        }
    }
}

/// Flattened μ at energy `i` (above E0) into `flat`: normalised μ `nr`
/// minus the post-edge polynomial's shape (`cq`, over the step: `inv`),
/// `value` a scratch row.
#[inline(always)]
fn flatten_row(
    plan: &Plan,
    i: usize,
    nr: &[f64],
    cq: &[Vec<f64>; 6],
    inv: &[f64],
    value: &mut [f64],
    flat: &mut [f64],
) {
    let nk = plan.post.w.len();
    // Flattened μ: normalised μ minus the post-edge
    // polynomial's shape above E0.
    let bb = plan.post.basis[i];
    // One fused pass for Larch's usual quadratic (the sum
    // starts at 0.0 like the general loop's).
    match nk {
        3 => {
            for ((fv, &nv), (&iv, ((&a, &b), &c))) in
                flat.iter_mut().zip(nr.iter()).zip(inv.iter().zip(cq[0].iter().zip(cq[1].iter()).zip(cq[2].iter())))
            {
                *fv = nv - (0.0 + a * bb[0] + b * bb[1] + c * bb[2]) * iv + 1.0;
            }
        }
        _ => {
            value.fill(0.0);
            for kk in 0..nk {
                for (pv, &c) in value.iter_mut().zip(cq[kk].iter()) {
                    *pv += c * bb[kk];
                }
            }
            for ((fv, &nv), (&pv, &iv)) in flat.iter_mut().zip(nr.iter()).zip(value.iter().zip(inv.iter())) {
                *fv = nv - pv * iv + 1.0;
            }
        }
    }
}

/// The LCF with every reference active, across pixels: the usual case,
/// with `lcf_pick`'s arithmetic in its order. Pixels where it is not
/// feasible (`full_ok` 0) go through `lcf_pick` in [`finish_pixel`].
#[inline(always)]
fn full_set_lcf(plan: &Plan, b: &mut ChunkBufs) {
    let k = plan.design.len();
    b.full_ok.fill(0.0);
    // Residual degrees of freedom with every reference free.
    let dof_full = plan.full_set_dof();
    let Some(full) = plan.subsets.first().filter(|s| k > 0 && s.idx.len() == k) else {
        return;
    };
    b.full_ok.fill(1.0);
    full_set_weights(plan, full, b);
    full_set_ssr(plan, b);
    for pi in 0..k {
        let c = full.inv[pi][pi].max(0.0);
        for (e, &sv) in b.full_se[pi].iter_mut().zip(b.full_ssr.iter()) {
            *e = (c * (sv / dof_full)).sqrt();
        }
    }
}

/// Full-set LCF weights (clamped at 0 under the non-negativity constraint,
/// the pixel then marked infeasible).
#[inline(always)]
fn full_set_weights(plan: &Plan, full: &Subset, b: &mut ChunkBufs) {
    let k = plan.design.len();
    let ChunkBufs { lcf_aty: aty, full_w: lw, full_ok: lok, .. } = b;
    for pi in 0..k {
        let wv = &mut lw[pi];
        wv.fill(0.0);
        for (qi, a) in aty.iter().enumerate().take(k) {
            let c = full.inv[pi][qi];
            for (x, &av) in wv.iter_mut().zip(a.iter()) {
                *x += c * av;
            }
        }
        if full.inv.len() > k {
            let c = full.inv[pi][k];
            wv.iter_mut().for_each(|x| *x += c);
        }
        if plan.nonnegative {
            for (o, x) in lok.iter_mut().zip(wv.iter_mut()) {
                *o = if *x < -1e-12 { 0.0 } else { *o };
                *x = x.max(0.0);
            }
        }
    }
}

/// Sum of squared residuals of the full-set weights (a non-finite one marks
/// the pixel infeasible; clamped at 0).
#[inline(always)]
fn full_set_ssr(plan: &Plan, b: &mut ChunkBufs) {
    let k = plan.design.len();
    let ChunkBufs { lcf_yy: yy, lcf_aty: aty, full_w: lw, full_ssr: lssr, full_ok: lok, .. } = b;
    lssr.copy_from_slice(yy);
    for i in 0..k {
        for ((sv, &wi), &ai) in lssr.iter_mut().zip(lw[i].iter()).zip(aty[i].iter()) {
            *sv -= 2.0 * wi * ai;
        }
        for jj in 0..k {
            let c = plan.ata[i][jj];
            for ((sv, &wi), &wj) in lssr.iter_mut().zip(lw[i].iter()).zip(lw[jj].iter()) {
                *sv += wi * c * wj;
            }
        }
    }
    for ((o, sv), &q) in lok.iter_mut().zip(lssr.iter_mut()).zip(yy.iter()) {
        *o = if *sv < f64::INFINITY - 1e-15 * q.max(1.0) { *o } else { 0.0 };
        *sv = sv.max(0.0);
    }
}

/// Pixel `j`'s results from the passes: mask, edge energies (the
/// interpolation and the parabola), white line, LCF (the full set's or,
/// where that is infeasible, the best active set's). Weights and errors
/// are NaN where not fitted.
#[inline(always)]
fn finish_pixel(plan: &Plan, b: &ChunkBufs, j: usize, dof_full: f64) -> (Px, [f64; MAXREF], [f64; MAXREF]) {
    let m = b.pixels;
    let sigma = (b.pre_ssr[j] / (plan.pre.idx.len() as f64 - plan.pre.w.len() as f64).max(1.0)).sqrt();
    let mut px = Px {
        e0_half: f32::NAN,
        e0_der: f32::NAN,
        wl_e: f32::NAN,
        wl_h: f32::NAN,
        r: f32::NAN,
        chi2: f32::NAN,
        jump: f32::NAN,
        sigma: f32::NAN,
        masked: false,
    };
    let mut w = [f64::NAN; MAXREF];
    let mut se = [f64::NAN; MAXREF];
    if b.finite[j] == 1.0 {
        let st = b.step[j];
        px.jump = st as f32;
        px.sigma = sigma as f32;
        px.masked = st.is_finite() && st > plan.mask_sigma * sigma && st >= plan.min_jump && st > 0.0;
    }
    if !px.masked {
        return (px, w, se);
    }
    px.e0_half = half_height_energy(plan, b, j);
    px.e0_der = max_derivative_energy(plan, b, j);
    let mi = b.wl_at[j] as usize;
    (px.wl_e, px.wl_h) = plan.white_line(mi, |i| b.norm[i * m + j], b.smoothed[mi * m + j]);
    let k = plan.design.len();
    if k > 0 && b.full_ok[j] == 1.0 {
        let ssr = b.full_ssr[j];
        for i in 0..k {
            w[i] = b.full_w[i][j];
            se[i] = b.full_se[i][j];
        }
        px.r = (ssr / b.lcf_yy[j].max(1e-300)) as f32;
        px.chi2 = (ssr / dof_full) as f32;
    } else if k > 0 {
        let mut a = [0.0; MAXREF];
        for (r, at) in a.iter_mut().zip(b.lcf_aty.iter()).take(k) {
            *r = at[j];
        }
        if let Some((ww, ee, r, chi2)) = plan.lcf_pick(&a, b.lcf_yy[j]) {
            w = ww;
            se = ee;
            px.r = r as f32;
            px.chi2 = chi2 as f32;
        }
    }
    (px, w, se)
}

/// Half-height edge energy of pixel `j`, interpolated in its crossing (NaN: none).
#[inline(always)]
fn half_height_energy(plan: &Plan, b: &ChunkBufs, j: usize) -> f32 {
    let (e, m, sm) = (&plan.e, b.pixels, &b.smoothed);
    let i = b.half_at[j] as usize;
    if i > 0 {
        let (s0, s1) = (sm[(i - 1) * m + j], sm[i * m + j]);
        (e[i - 1] + (0.5 - s0) / (s1 - s0) * (e[i] - e[i - 1])) as f32
    } else {
        f32::NAN
    }
}

/// Maximum-derivative edge energy of pixel `j`, refined by a parabola (NaN: none).
#[inline(always)]
fn max_derivative_energy(plan: &Plan, b: &ChunkBufs, j: usize) -> f32 {
    let (e, m, sm, ne) = (&plan.e, b.pixels, &b.smoothed, plan.e.len());
    let der = |i: usize, j: usize| (sm[(i + 1) * m + j] - sm[(i - 1) * m + j]) * plan.inv_span[i];
    let bi = b.max_der_at[j] as usize;
    if bi > 1 && bi + 2 < ne {
        vertex(e[bi - 1], der(bi - 1, j), e[bi], b.max_der[j], e[bi + 1], der(bi + 1, j)).map_or(e[bi], |v| v.0) as f32
    } else if bi > 0 {
        e[bi] as f32
    } else {
        f32::NAN
    }
}

/// Pixel `j`'s results into `out` (NaN outside the mask, but for its jump and σ).
#[inline(always)]
fn write_pixel(out: &mut ChunkOut, j: usize, px: &Px, w: &[f64; MAXREF], se: &[f64; MAXREF]) {
    let nan = |v: f32| if px.masked { v } else { f32::NAN };
    out.edge_jump[j] = px.jump;
    out.pre_edge_sigma[j] = px.sigma;
    out.mask[j] = px.masked as u8 as f32;
    out.e0_half[j] = nan(px.e0_half);
    out.e0_derivative[j] = nan(px.e0_der);
    out.white_line_energy[j] = nan(px.wl_e);
    out.white_line_height[j] = nan(px.wl_h);
    out.r_factor[j] = nan(px.r);
    out.reduced_chi2[j] = nan(px.chi2);
    for (i, (f, s)) in out.fractions.iter_mut().zip(out.fraction_errors.iter_mut()).enumerate() {
        f[j] = nan(w[i] as f32);
        s[j] = nan(se[i] as f32);
    }
}

/// Vertex of the parabola through three points: (x, y).
pub(super) fn vertex(x0: f64, y0: f64, x1: f64, y1: f64, x2: f64, y2: f64) -> Option<(f64, f64)> {
    let d = (x0 - x1) * (x0 - x2) * (x1 - x2);
    if d == 0.0 {
        return None;
    }
    let a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / d;
    let b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / d;
    let c = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / d;
    if a >= 0.0 {
        return None;
    }
    let xv = -b / (2.0 * a);
    if xv < x0.min(x2) || xv > x0.max(x2) {
        return None;
    }
    Some((xv, c - b * b / (4.0 * a)))
}
