//! Frame registration as a network of pairwise shifts.
//!
//! A frame is compared with its energy neighbours (whose contrast is nearly
//! its own) and with the reference frame. Each comparison gives a shift and
//! the significance of its correlation peak; a peak that does not stand out
//! of the correlation noise is discarded rather than trusted. The accepted
//! pairs are solved jointly by weighted least squares for one shift per
//! frame (the reference fixed at zero), pairs that disagree with the others
//! by more than `max_residual_px` are dropped one at a time, and a frame
//! that no accepted pair reaches takes a shift interpolated in energy from
//! its solved neighbours, and is reported as such. A failed measurement is
//! therefore never applied: pre-edge frames with little contrast are tied
//! to their neighbours, and contrast inversions across the edge are
//! bridged by the chain of similar frames.

use super::{FrameShift, Registration, RegistrationMode, RegistrationParams, band_features, edge_features, ncc};
use crate::linalg::solve;
use chemomech_core::{Error, Result};
use chemomech_imgproc::{fourier_shift, register_translation_scored};
use ndarray::{Array2, ArrayView3, Axis};
use rayon::prelude::*;

/// One measured pair: `fourier_shift(frame j, (dy, dx))` aligns with frame `i`,
/// so the solved shifts satisfy `s_j = s_i + (dy, dx)`.
#[derive(Debug, Clone, Copy)]
struct Pair {
    i: usize,
    j: usize,
    dy: f64,
    dx: f64,
    /// Least-squares weight: the squared peak significance (the shift's
    /// variance falls with the square of the peak's signal-to-noise ratio).
    weight: f64,
}

/// Registers the frames of an optical-density stack (energies, rows, cols).
///
/// ```
/// use chemomech_xas::stack::{register_stack, RegistrationParams};
/// let f = ndarray::Array2::from_shape_fn((40, 40), |(i, j)| (-((i as f64 - 18.0).powi(2) + (j as f64 - 21.0).powi(2)) / 40.0).exp());
/// let moved = chemomech_imgproc::fourier_shift(f.view(), 1.5, -0.7);
/// let mut st = ndarray::Array3::<f32>::zeros((2, 40, 40));
/// st.index_axis_mut(ndarray::Axis(0), 0).assign(&f.mapv(|v| v as f32));
/// st.index_axis_mut(ndarray::Axis(0), 1).assign(&moved.mapv(|v| 2.0 * v as f32));
/// let r = register_stack(st.view(), &[8300.0, 8400.0], &RegistrationParams { mode: chemomech_xas::stack::RegistrationMode::Reference(Some(0)), ..Default::default() }).unwrap();
/// assert!((r.frames[1].dy + 1.5).abs() < 0.05 && (r.frames[1].dx - 0.7).abs() < 0.05);
/// ```
pub fn register_stack(od: ArrayView3<f32>, energies: &[f64], p: &RegistrationParams) -> Result<Registration> {
    check_registration(od.dim(), energies, p)?;
    let (ne, ny, nx) = od.dim();
    let feats: Vec<Array2<f64>> =
        (0..ne).into_par_iter().map(|e| edge_features(od.index_axis(Axis(0), e), p.sigma_px)).collect();
    let reference = match p.mode {
        RegistrationMode::Reference(Some(r)) | RegistrationMode::Joint(Some(r)) => {
            if r >= ne {
                return Err(Error::param(format!("reference frame {r} out of range (stack has {ne} frames)")));
            }
            r
        }
        _ => strongest_frame(od, p.sigma_px),
    };
    let bands: Vec<Array2<f64>> = if matches!(p.mode, RegistrationMode::Joint(_) | RegistrationMode::Chained) {
        (0..ne).into_par_iter().map(|e| band_features(od.index_axis(Axis(0), e), p.sigma_px)).collect()
    } else {
        Vec::new()
    };
    let pairs = measure_pairs(&Features { edges: &feats, bands: &bands }, reference, p);
    let network = solve_network(ne, reference, pairs, p.max_residual_px);
    let shifts = fill_unsolved(&network.shifts, energies);
    let margin = (p.max_shift_px.ceil() as usize + 2).min(ny.min(nx) / 4);
    let frames: Vec<FrameShift> = (0..ne)
        .into_par_iter()
        .map(|e| {
            let (dy, dx) = shifts[e];
            let (before, after) = frame_quality(&feats, reference, e, (dy, dx), margin);
            FrameShift {
                index: e,
                energy_ev: energies[e],
                dy,
                dx,
                quality_before: before,
                quality_after: after,
                flagged: after < p.min_quality,
                links: network.links[e],
                interpolated: network.shifts[e].is_none() && p.mode != RegistrationMode::None,
            }
        })
        .collect();
    Ok(Registration { reference, mode: p.mode, frames })
}

/// Rejects a stack (`dim`: energies, rows, cols) whose energies do not match,
/// out-of-range parameters and frames too small to register.
fn check_registration(dim: (usize, usize, usize), energies: &[f64], p: &RegistrationParams) -> Result<()> {
    let (ne, ny, nx) = dim;
    if energies.len() != ne {
        return Err(Error::shape(format!("{ne} frames but {} energies", energies.len())));
    }
    if !(p.sigma_px >= 0.0 && p.sigma_px < 50.0 && p.max_shift_px > 0.0) {
        return Err(Error::param(format!(
            "registration sigma_px {} / max_shift_px {} out of range",
            p.sigma_px, p.max_shift_px
        )));
    }
    if !(p.min_significance >= 0.0 && p.max_residual_px > 0.0 && p.neighbours >= 1) {
        return Err(Error::param(format!(
            "registration min_significance {} / max_residual_px {} / neighbours {} out of range",
            p.min_significance, p.max_residual_px, p.neighbours
        )));
    }
    if ny < 8 || nx < 8 {
        return Err(Error::shape(format!("frames of {ny}×{nx} are too small to register")));
    }
    Ok(())
}

/// The frame with the strongest edge structure: the highest gradient
/// variance before standardisation is the best-contrast frame (post-edge).
fn strongest_frame(od: ArrayView3<f32>, sigma_px: f64) -> usize {
    (0..od.dim().0)
        .into_par_iter()
        .map(|e| {
            let f = od.index_axis(Axis(0), e);
            let g = chemomech_imgproc::filters::gradient_magnitude(
                f.mapv(|v| if v.is_finite() { v } else { 0.0 }).insert_axis(Axis(0)).view(),
                sigma_px,
                [1.0; 3],
            );
            let n = g.len() as f64;
            let mean = g.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = g.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            (e, var)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold((0, f64::NEG_INFINITY), |b, (e, v)| if v > b.1 { (e, v) } else { b })
        .0
}

/// The frame pairs a mode compares: every frame with the reference
/// (`Reference`), with its predecessor (`Chained`), or both plus the next
/// `neighbours` frames (`Joint`).
fn pair_indices(ne: usize, reference: usize, p: &RegistrationParams) -> Vec<(usize, usize)> {
    let to_reference = (0..ne).filter(|&e| e != reference).map(|e| (reference, e));
    let neighbours = |k: usize| (0..ne).flat_map(move |i| (i + 1..(i + 1 + k).min(ne)).map(move |j| (i, j)));
    match p.mode {
        RegistrationMode::None => Vec::new(),
        RegistrationMode::Reference(_) => to_reference.collect(),
        RegistrationMode::Chained => neighbours(1).collect(),
        RegistrationMode::Joint(_) => {
            let mut v: Vec<(usize, usize)> = neighbours(p.neighbours).collect();
            v.extend(to_reference.filter(|&(i, j)| i.abs_diff(j) > p.neighbours));
            v
        }
    }
}

/// Each frame's features: edge features (any two frames) and band-pass
/// intensity features (energy neighbours, whose contrast is alike; empty
/// where the mode compares no neighbours).
struct Features<'a> {
    edges: &'a [Array2<f64>],
    bands: &'a [Array2<f64>],
}

/// Registers the mode's pairs and keeps those whose correlation peak is
/// significant: neighbours on their band-pass features, other pairs on
/// their edge features.
fn measure_pairs(feats: &Features, reference: usize, p: &RegistrationParams) -> Vec<Pair> {
    pair_indices(feats.edges.len(), reference, p)
        .into_par_iter()
        .filter_map(|(i, j)| {
            let f = if i.abs_diff(j) <= p.neighbours && !feats.bands.is_empty() { feats.bands } else { feats.edges };
            let t = register_translation_scored(f[i].view(), f[j].view(), p.max_shift_px);
            // A sparse scene (one particle) has few independent samples and
            // cannot reach a high significance; a strong correlation of its
            // features still identifies the match.
            let matched = t.significance >= p.min_significance || t.correlation >= p.min_quality;
            (matched && t.dy.abs().max(t.dx.abs()) <= p.max_shift_px + 1.0).then(|| Pair {
                i,
                j,
                dy: t.dy,
                dx: t.dx,
                weight: t.significance.min(1e3).powi(2),
            })
        })
        .collect()
}

/// The solved network: a shift for every frame the accepted pairs connect
/// to the reference, and each frame's number of accepted pairs.
struct Network {
    shifts: Vec<Option<(f64, f64)>>,
    links: Vec<usize>,
}

/// Weighted least squares over the pairs connected to the reference,
/// dropping the worst-fitting pair while any misfits by more than
/// `max_residual_px`.
fn solve_network(ne: usize, reference: usize, mut pairs: Vec<Pair>, max_residual_px: f64) -> Network {
    loop {
        let shifts = least_squares(ne, reference, &pairs);
        let worst = pairs
            .iter()
            .enumerate()
            .filter_map(|(k, q)| {
                let (si, sj) = (shifts[q.i]?, shifts[q.j]?);
                Some((k, (sj.0 - si.0 - q.dy).hypot(sj.1 - si.1 - q.dx)))
            })
            .fold(None, |b: Option<(usize, f64)>, c| if b.is_none_or(|b| c.1 > b.1) { Some(c) } else { b });
        match worst {
            Some((k, r)) if r > max_residual_px => {
                pairs.swap_remove(k);
            }
            _ => {
                let mut links = vec![0; ne];
                for q in &pairs {
                    links[q.i] += 1;
                    links[q.j] += 1;
                }
                return Network { shifts, links };
            }
        }
    }
}

/// Shifts of the frames connected to the reference by `pairs` (normal
/// equations of the weighted graph, the reference fixed at zero); `None`
/// for the others.
fn least_squares(ne: usize, reference: usize, pairs: &[Pair]) -> Vec<Option<(f64, f64)>> {
    let connected = component(ne, reference, pairs);
    // Unknowns: the connected frames other than the reference.
    let mut slot = vec![usize::MAX; ne];
    let unknowns: Vec<usize> = (0..ne).filter(|&e| connected[e] && e != reference).collect();
    for (k, &e) in unknowns.iter().enumerate() {
        slot[e] = k;
    }
    let n = unknowns.len();
    if n == 0 {
        return (0..ne).map(|e| (e == reference).then_some((0.0, 0.0))).collect();
    }
    let mut a = vec![vec![0.0; n]; n];
    let (mut by, mut bx) = (vec![0.0; n], vec![0.0; n]);
    for q in pairs.iter().filter(|q| connected[q.i]) {
        // Residual s_j − s_i − d, weight w.
        for (e, sign) in [(q.j, 1.0), (q.i, -1.0)] {
            if slot[e] == usize::MAX {
                continue;
            }
            let r = slot[e];
            by[r] += sign * q.weight * q.dy;
            bx[r] += sign * q.weight * q.dx;
            a[r][r] += q.weight;
            let other = if e == q.j { q.i } else { q.j };
            if slot[other] != usize::MAX {
                a[r][slot[other]] -= q.weight;
            }
        }
    }
    let (sy, sx) = match (solve(a.clone(), by), solve(a, bx)) {
        (Some(y), Some(x)) => (y, x),
        _ => return (0..ne).map(|e| (e == reference).then_some((0.0, 0.0))).collect(),
    };
    (0..ne)
        .map(|e| {
            if e == reference {
                Some((0.0, 0.0))
            } else if connected[e] {
                Some((sy[slot[e]], sx[slot[e]]))
            } else {
                None
            }
        })
        .collect()
}

/// The frames joined to `start` by pairs.
fn component(ne: usize, start: usize, pairs: &[Pair]) -> Vec<bool> {
    let mut seen = vec![false; ne];
    seen[start] = true;
    let mut grown = true;
    while grown {
        grown = false;
        for q in pairs {
            if seen[q.i] != seen[q.j] {
                seen[q.i] = true;
                seen[q.j] = true;
                grown = true;
            }
        }
    }
    seen
}

/// Every frame's shift: solved ones as they are, the others interpolated
/// linearly in energy between the nearest solved frames on either side (the
/// nearest one's shift beyond the last).
fn fill_unsolved(solved: &[Option<(f64, f64)>], energies: &[f64]) -> Vec<(f64, f64)> {
    (0..solved.len())
        .map(|e| {
            if let Some(s) = solved[e] {
                return s;
            }
            let below = (0..e).rev().find(|&k| solved[k].is_some());
            let above = (e + 1..solved.len()).find(|&k| solved[k].is_some());
            match (below, above) {
                (Some(b), Some(a)) => {
                    let (sb, sa) = (solved[b].unwrap_or_default(), solved[a].unwrap_or_default());
                    let span = energies[a] - energies[b];
                    let t = if span.abs() > 0.0 { (energies[e] - energies[b]) / span } else { 0.5 };
                    (sb.0 + t * (sa.0 - sb.0), sb.1 + t * (sa.1 - sb.1))
                }
                (Some(k), None) | (None, Some(k)) => solved[k].unwrap_or_default(),
                (None, None) => (0.0, 0.0),
            }
        })
        .collect()
}

/// Correlation of frame `e`'s features with the reference's, before and after its `shift`.
fn frame_quality(feats: &[Array2<f64>], reference: usize, e: usize, shift: (f64, f64), margin: usize) -> (f64, f64) {
    let (dy, dx) = shift;
    let before = ncc(feats[reference].view(), feats[e].view(), margin);
    let after = if dy == 0.0 && dx == 0.0 {
        before
    } else {
        ncc(feats[reference].view(), fourier_shift(feats[e].view(), dy, dx).view(), margin)
    };
    (before, after)
}
