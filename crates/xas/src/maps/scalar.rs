//! The scalar reference implementation the tests hold the chunk kernel to:
//! one pixel at a time, the whole spectrum in f64.

use super::kernel::{Px, vertex};
use super::plan::{MAXREF, Plan};

/// Per-thread buffers of one spectrum's length (the scalar reference
/// implementation the tests hold the chunk kernel to).
pub(super) struct Scratch {
    norm: Vec<f64>,
    flat: Vec<f64>,
    sm: Vec<f64>,
    pre: Vec<f64>,
}

impl Scratch {
    pub(super) fn new(n: usize) -> Self {
        Self { norm: vec![0.0; n], flat: vec![0.0; n], sm: vec![0.0; n], pre: vec![0.0; n] }
    }
}

impl Plan {
    /// Edge energies, white line, LCF of one pixel (scalar reference).
    pub(super) fn pixel(&self, y: &[f64], sc: &mut Scratch, w: &mut [f64; MAXREF], se: &mut [f64; MAXREF]) -> Px {
        let Scratch { norm, flat, sm, pre } = sc;
        let (norm, flat, sm) = (&mut norm[..], &mut flat[..], &mut sm[..]);
        let mut p = Px {
            e0_half: f32::NAN,
            e0_der: f32::NAN,
            wl_e: f32::NAN,
            wl_h: f32::NAN,
            r: f32::NAN,
            chi2: f32::NAN,
            ..Default::default()
        };
        w.iter_mut().for_each(|v| *v = f64::NAN);
        se.iter_mut().for_each(|v| *v = f64::NAN);
        if y.iter().any(|v| !v.is_finite()) {
            p.jump = f32::NAN;
            p.sigma = f32::NAN;
            return p;
        }
        let (step, sigma) = self.normalise(y, norm, flat, pre);
        p.jump = step as f32;
        p.sigma = sigma as f32;
        p.masked = step.is_finite() && step > self.mask_sigma * sigma && step >= self.min_jump && step > 0.0;
        if !p.masked {
            return p;
        }
        // Smoothed normalised μ for the edge and white line.
        sm.copy_from_slice(norm);
        self.smooth_scalar(sm);
        p.e0_half = self.e0_half_scalar(sm);
        p.e0_der = self.e0_derivative_scalar(sm);
        // White line: maximum of smoothed μ, refined by a quadratic over ±wl_half.
        let (c, d) = self.wl;
        let mut im = c;
        for i in c..=d {
            if sm[i] > sm[im] {
                im = i;
            }
        }
        (p.wl_e, p.wl_h) = self.white_line(im, |i| norm[i], sm[im]);
        // LCF.
        if !self.design.is_empty() {
            let yv = if self.lcf_on_flat { &*flat } else { &*norm };
            if let Some((r, s2)) = self.lcf_scalar(yv, w, se) {
                p.r = r as f32;
                p.chi2 = s2 as f32;
            }
        }
        p
    }

    /// `[1,2,1]/4` smoothing passes of `sm` in place, over the smoothed rows.
    fn smooth_scalar(&self, sm: &mut [f64]) {
        let (r0, r1) = self.smooth_rows();
        for _ in 0..self.smooth {
            let mut prev = sm[r0 - 1];
            for i in r0..=r1 {
                let cur = sm[i];
                sm[i] = 0.25 * prev + 0.5 * cur + 0.25 * sm[i + 1];
                prev = cur;
            }
        }
    }

    /// E0 at half height: the first upward crossing of 0.5 that stays above.
    fn e0_half_scalar(&self, sm: &[f64]) -> f32 {
        let e = &self.e;
        let (a, b) = self.edge;
        for i in a.max(1)..=b {
            if sm[i] >= 0.5 && sm[i - 1] < 0.5 && (i + 1 >= sm.len() || sm[i + 1] >= 0.5) {
                return (e[i - 1] + (0.5 - sm[i - 1]) / (sm[i] - sm[i - 1]) * (e[i] - e[i - 1])) as f32;
            }
        }
        f32::NAN
    }

    /// E0 at the maximum derivative, refined by a parabola.
    fn e0_derivative_scalar(&self, sm: &[f64]) -> f32 {
        let e = &self.e;
        let (a, b) = self.edge;
        let der = |i: usize| (sm[i + 1] - sm[i - 1]) * self.inv_span[i];
        let (mut bi, mut bv) = (0usize, f64::NEG_INFINITY);
        for i in a.max(1)..=b.min(e.len() - 2) {
            let d = der(i);
            if d > bv {
                bv = d;
                bi = i;
            }
        }
        if bi > 1 && bi + 2 < e.len() {
            vertex(e[bi - 1], der(bi - 1), e[bi], bv, e[bi + 1], der(bi + 1)).map_or(e[bi], |v| v.0) as f32
        } else if bi > 0 {
            e[bi] as f32
        } else {
            f32::NAN
        }
    }

    /// The constrained LCF of `yv` into `w` and `se`: (R-factor, reduced χ²).
    fn lcf_scalar(&self, yv: &[f64], w: &mut [f64; MAXREF], se: &mut [f64; MAXREF]) -> Option<(f64, f64)> {
        let k = self.design.len();
        let mut aty = [0.0; MAXREF];
        let mut yy = 0.0;
        for (j, &i) in self.lcf_idx.iter().enumerate() {
            let v = yv[i];
            yy += v * v;
            for (r, a) in aty.iter_mut().zip(&self.design).take(k) {
                *r += a[j] * v;
            }
        }
        let (bw, bse, r, s2) = self.lcf_pick(&aty, yy)?;
        w[..k].copy_from_slice(&bw[..k]);
        se[..k].copy_from_slice(&bse[..k]);
        Some((r, s2))
    }
}
