//! Energy stacks before chemistry: optical density from sample and
//! reference (flat) frames with dark subtraction, registration of the
//! frames across the absorption edge, and the common field of view.
//!
//! Registration must survive the contrast change at the edge: particles
//! absorb several times more above it than below, and differently for each
//! oxidation state. Frames are therefore compared through edge features —
//! the gradient magnitude of the smoothed optical density, normalised to
//! zero mean and unit variance — which keep their positions while their
//! amplitudes change. Each frame is registered to a reference frame (or to
//! its neighbour, chained), with a per-frame quality (normalised
//! cross-correlation of the features after alignment) so that bad frames
//! are seen, not silently used.

use chemomech_core::{Error, Result};
use chemomech_imgproc::{fourier_shift, register_translation};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, Zip, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// What [`optical_density`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OdReport {
    /// Pixels whose sample or reference counts were not above the dark (set to NaN).
    pub invalid_pixels: usize,
    /// Whether flats were given per energy (else one flat for all).
    pub flats_per_energy: bool,
}

/// Optical density −ln((I − D)/(F − D)) of every frame.
///
/// `data` is (energies, rows, cols); `flats` either one per energy or any
/// number (averaged into one); `darks` any number (averaged). Pixels where
/// I − D or F − D is not positive become NaN.
///
/// ```
/// use ndarray::Array3;
/// let data = Array3::<f32>::from_elem((2, 3, 3), 110.0);
/// let flats = Array3::<f32>::from_elem((2, 3, 3), 1010.0);
/// let darks = Array3::<f32>::from_elem((1, 3, 3), 10.0);
/// let (od, rep) = chemomech_xas::stack::optical_density(data.view(), Some(flats.view()), Some(darks.view())).unwrap();
/// assert!((od[[0, 1, 1]] - 10f32.ln()).abs() < 1e-5 && rep.invalid_pixels == 0);
/// ```
pub fn optical_density(
    data: ArrayView3<f32>,
    flats: Option<ArrayView3<f32>>,
    darks: Option<ArrayView3<f32>>,
) -> Result<(Array3<f32>, OdReport)> {
    let (ne, ny, nx) = data.dim();
    if ne == 0 || ny == 0 || nx == 0 {
        return Err(Error::shape(format!("empty energy stack {:?}", data.dim())));
    }
    let frame_mean = |a: ArrayView3<f32>, what: &str| -> Result<Array2<f32>> {
        if a.dim().1 != ny || a.dim().2 != nx || a.dim().0 == 0 {
            return Err(Error::shape(format!("{what} have shape {:?}, frames are {ny}×{nx}", a.dim())));
        }
        Ok(a.mean_axis(Axis(0)).expect("non-empty"))
    };
    let dark = match darks {
        Some(d) => frame_mean(d, "darks")?,
        None => Array2::zeros((ny, nx)),
    };
    let Some(flats) = flats else {
        return Err(Error::param(
            "optical density needs reference (flat) frames; pass data that is already optical density instead",
        ));
    };
    let per_energy = flats.dim().0 == ne && ne > 1;
    let common = if per_energy { None } else { Some(frame_mean(flats, "flats")?) };
    if per_energy && (flats.dim().1 != ny || flats.dim().2 != nx) {
        return Err(Error::shape(format!("flats have shape {:?}, frames are {ny}×{nx}", flats.dim())));
    }
    let mut od = Array3::<f32>::zeros((ne, ny, nx));
    let bad: usize = od
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .map(|(e, mut o)| {
            let f = match &common {
                Some(c) => c.view(),
                None => flats.index_axis(Axis(0), e),
            };
            let mut bad = 0;
            Zip::from(&mut o).and(data.index_axis(Axis(0), e)).and(f).and(&dark).for_each(|o, &i, &f, &d| {
                let (a, b) = (i - d, f - d);
                *o = if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
                    -(a / b).ln()
                } else {
                    bad += 1;
                    f32::NAN
                };
            });
            bad
        })
        .sum();
    Ok((od, OdReport { invalid_pixels: bad, flats_per_energy: per_energy }))
}

/// How frames are registered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Every frame to one reference frame (`None`: the frame with the most edge structure).
    Reference(Option<usize>),
    /// Every frame to its neighbour, shifts accumulated outward from the reference frame.
    Chained,
    /// No registration.
    None,
}

/// Registration parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationParams {
    /// How frames are registered.
    pub mode: RegistrationMode,
    /// Gaussian σ of the edge features (pixels).
    pub sigma_px: f64,
    /// Largest shift searched (pixels).
    pub max_shift_px: f64,
    /// Frames whose feature correlation after alignment is below this are flagged.
    pub min_quality: f64,
}

impl Default for RegistrationParams {
    fn default() -> Self {
        Self { mode: RegistrationMode::Reference(None), sigma_px: 1.5, max_shift_px: 20.0, min_quality: 0.5 }
    }
}

/// One frame's registration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameShift {
    /// Index of the frame in the stack.
    pub index: usize,
    /// Energy of the frame (eV).
    pub energy_ev: f64,
    /// Shift (rows, cols) applied to the frame to align it (pixels).
    pub dy: f64,
    /// Column shift applied to the frame to align it (pixels).
    pub dx: f64,
    /// Feature correlation with the reference before and after alignment.
    pub quality_before: f64,
    /// Feature correlation with the reference after alignment.
    pub quality_after: f64,
    /// Quality below `min_quality`.
    pub flagged: bool,
}

/// Registration of a stack: per-frame shifts and the reference used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registration {
    /// Index of the reference frame.
    pub reference: usize,
    /// Registration mode used.
    pub mode: RegistrationMode,
    /// Registration of every frame, in stack order.
    pub frames: Vec<FrameShift>,
}

/// Edge features of a frame: gradient magnitude of the smoothed frame,
/// standardised (NaN pixels take the frame median first).
pub fn edge_features(frame: ArrayView2<f32>, sigma_px: f64) -> Array2<f64> {
    let mut finite: Vec<f32> = frame.iter().copied().filter(|v| v.is_finite()).collect();
    let med = if finite.is_empty() {
        0.0
    } else {
        let m = finite.len() / 2;
        *finite.select_nth_unstable_by(m, f32::total_cmp).1
    };
    let f = frame.mapv(|v| if v.is_finite() { v } else { med });
    let vol = f.insert_axis(Axis(0));
    let g = chemomech_imgproc::filters::gradient_magnitude(vol.view(), sigma_px, [1.0; 3]).index_axis_move(Axis(0), 0);
    let n = g.len() as f64;
    let mean = g.iter().map(|&v| v as f64).sum::<f64>() / n;
    let sd = (g.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-30);
    g.mapv(|v| (v as f64 - mean) / sd)
}

/// Normalised cross-correlation of two standardised images over their interior.
fn ncc(a: ArrayView2<f64>, b: ArrayView2<f64>, margin: usize) -> f64 {
    let (h, w) = a.dim();
    let m = margin.min(h / 3).min(w / 3);
    let (a, b) = (a.slice(s![m..h - m, m..w - m]), b.slice(s![m..h - m, m..w - m]));
    let n = a.len() as f64;
    let (ma, mb) = (a.sum() / n, b.sum() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    Zip::from(&a).and(&b).for_each(|&x, &y| {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    });
    sab / (saa * sbb).sqrt().max(1e-300)
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
        RegistrationMode::Reference(Some(r)) => {
            if r >= ne {
                return Err(Error::param(format!("reference frame {r} out of range (stack has {ne} frames)")));
            }
            r
        }
        _ => strongest_frame(od, p.sigma_px),
    };
    let margin = (p.max_shift_px.ceil() as usize + 2).min(ny.min(nx) / 4);
    let shifts: Vec<(f64, f64)> = match p.mode {
        RegistrationMode::None => vec![(0.0, 0.0); ne],
        RegistrationMode::Reference(_) => (0..ne)
            .into_par_iter()
            .map(|e| {
                if e == reference {
                    (0.0, 0.0)
                } else {
                    register_translation(feats[reference].view(), feats[e].view(), p.max_shift_px)
                }
            })
            .collect(),
        RegistrationMode::Chained => chained_shifts(&feats, reference, p.max_shift_px),
    };
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
            }
        })
        .collect();
    if frames.iter().any(|f| f.dy.abs() > p.max_shift_px + 1.0 || f.dx.abs() > p.max_shift_px + 1.0) {
        return Err(Error::data(format!(
            "a frame needs a shift beyond max_shift_px = {} (chained drift?)",
            p.max_shift_px
        )));
    }
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

/// Shifts by registering every frame to its neighbour towards the
/// reference, accumulated outwards from the reference.
fn chained_shifts(feats: &[Array2<f64>], reference: usize, max_shift_px: f64) -> Vec<(f64, f64)> {
    let ne = feats.len();
    let pair: Vec<(f64, f64)> = (0..ne)
        .into_par_iter()
        .map(|e| {
            if e == reference {
                (0.0, 0.0)
            } else {
                let nb = if e > reference { e - 1 } else { e + 1 };
                register_translation(feats[nb].view(), feats[e].view(), max_shift_px)
            }
        })
        .collect();
    let mut acc = vec![(0.0, 0.0); ne];
    for e in reference + 1..ne {
        acc[e] = (acc[e - 1].0 + pair[e].0, acc[e - 1].1 + pair[e].1);
    }
    for e in (0..reference).rev() {
        acc[e] = (acc[e + 1].0 + pair[e].0, acc[e + 1].1 + pair[e].1);
    }
    acc
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

/// Applies the shifts (exact Fourier shifts) and blanks everything outside
/// the field of view common to all aligned frames with NaN. Returns the
/// aligned stack and the common field-of-view mask. NaN pixels of a frame
/// stay NaN (and leave the common field of view).
pub fn apply_registration(od: ArrayView3<f32>, reg: &Registration) -> Result<(Array3<f32>, Array2<bool>)> {
    let (ne, ny, nx) = od.dim();
    if reg.frames.len() != ne {
        return Err(Error::shape(format!("{} shifts for {ne} frames", reg.frames.len())));
    }
    // Rows/cols valid in every frame: a frame shifted by d loses ceil(|d|) at one side.
    let (mut r0, mut r1, mut c0, mut c1) = (0usize, ny, 0usize, nx);
    for f in &reg.frames {
        let (cy, cx) = (f.dy.abs().ceil() as usize, f.dx.abs().ceil() as usize);
        if f.dy > 0.0 {
            r0 = r0.max(cy);
        } else {
            r1 = r1.min(ny.saturating_sub(cy));
        }
        if f.dx > 0.0 {
            c0 = c0.max(cx);
        } else {
            c1 = c1.min(nx.saturating_sub(cx));
        }
    }
    if r0 >= r1 || c0 >= c1 {
        return Err(Error::data("no field of view is common to all frames after registration"));
    }
    let mut out = Array3::<f32>::zeros((ne, ny, nx));
    let nanmask: Vec<Array2<bool>> = out
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .map(|(e, mut o)| {
            let f = od.index_axis(Axis(0), e);
            let nan = f.mapv(|v| !v.is_finite());
            let any_nan = nan.iter().any(|&b| b);
            let fin = f.mapv(|v| if v.is_finite() { v as f64 } else { 0.0 });
            let (dy, dx) = (reg.frames[e].dy, reg.frames[e].dx);
            let moved = if dy == 0.0 && dx == 0.0 { fin } else { fourier_shift(fin.view(), dy, dx) };
            Zip::from(&mut o).and(&moved).for_each(|o, &v| *o = v as f32);
            if any_nan {
                // A NaN pixel spoils its neighbourhood by the shift (rounded outward).
                let (iy, ix) = (dy.round() as isize, dx.round() as isize);
                let mut m = Array2::from_elem((ny, nx), false);
                for ((r, c), &b) in nan.indexed_iter() {
                    if b {
                        for rr in [r as isize + iy - 1, r as isize + iy, r as isize + iy + 1] {
                            for cc in [c as isize + ix - 1, c as isize + ix, c as isize + ix + 1] {
                                if rr >= 0 && cc >= 0 && (rr as usize) < ny && (cc as usize) < nx {
                                    m[[rr as usize, cc as usize]] = true;
                                }
                            }
                        }
                    }
                }
                m
            } else {
                Array2::from_elem((ny, nx), false)
            }
        })
        .collect();
    let fov = Array2::from_shape_fn((ny, nx), |(r, c)| {
        r >= r0 && r < r1 && c >= c0 && c < c1 && nanmask.iter().all(|m| !m[[r, c]])
    });
    for mut o in out.axis_iter_mut(Axis(0)) {
        Zip::from(&mut o).and(&fov).for_each(|o, &k| {
            if !k {
                *o = f32::NAN;
            }
        });
    }
    Ok((out, fov))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs whose contrast differs per energy and per blob (like particles of
    /// different oxidation state across an edge), each frame shifted.
    #[test]
    fn registers_through_contrast_changes() {
        let (ny, nx) = (96, 110);
        let blobs = [(30.0, 30.0, 9.0, 1.0), (60.0, 70.0, 12.0, 0.5), (25.0, 85.0, 7.0, 0.8), (75.0, 25.0, 10.0, 1.2)];
        let ne = 12;
        let mut st = Array3::<f32>::zeros((ne, ny, nx));
        let mut truth = vec![];
        for e in 0..ne {
            let t = e as f64 / (ne - 1) as f64;
            let img = Array2::from_shape_fn((ny, nx), |(r, c)| {
                blobs
                    .iter()
                    .enumerate()
                    .map(|(k, &(y, x, rad, a))| {
                        let d = ((r as f64 - y).powi(2) + (c as f64 - x).powi(2)).sqrt();
                        let amp = a * (1.0 + 3.0 * t * if k % 2 == 0 { 1.0 } else { 0.3 });
                        amp / (1.0 + ((d - rad) / 0.8).exp())
                    })
                    .sum::<f64>()
            });
            let (dy, dx) = (1.7 * (e as f64 * 1.3).sin(), -1.2 * (e as f64 * 0.7).cos());
            truth.push((dy, dx));
            st.index_axis_mut(Axis(0), e).assign(&fourier_shift(img.view(), dy, dx).mapv(|v| v as f32));
        }
        let energies: Vec<f64> = (0..ne).map(|e| 8300.0 + 10.0 * e as f64).collect();
        let reg = register_stack(st.view(), &energies, &RegistrationParams::default()).unwrap();
        let r = reg.reference;
        for f in &reg.frames {
            // Aligning undoes the frame's drift relative to the reference frame.
            let (ey, ex) = (f.dy + truth[f.index].0 - truth[r].0, f.dx + truth[f.index].1 - truth[r].1);
            assert!(ey.hypot(ex) < 0.1, "frame {}: error {ey:.3},{ex:.3}", f.index);
            assert!(f.quality_after > 0.9 && !f.flagged);
        }
        let (al, fov) = apply_registration(st.view(), &reg).unwrap();
        assert!(al[[0, 0, 0]].is_nan() || fov[[0, 0]]);
        let inside = fov.iter().filter(|&&b| b).count();
        assert!(inside > ny * nx * 8 / 10 && inside < ny * nx, "{inside}");
        // Chained works too, with accumulated error still small here.
        let ch = register_stack(
            st.view(),
            &energies,
            &RegistrationParams { mode: RegistrationMode::Chained, ..Default::default() },
        )
        .unwrap();
        for f in &ch.frames {
            let (ey, ex) =
                (f.dy + truth[f.index].0 - truth[ch.reference].0, f.dx + truth[f.index].1 - truth[ch.reference].1);
            assert!(ey.hypot(ex) < 0.25, "chained frame {}: {ey:.3},{ex:.3}", f.index);
        }
    }

    #[test]
    fn bad_inputs() {
        let st = Array3::<f32>::zeros((3, 20, 20));
        assert!(
            register_stack(st.view(), &[1.0, 2.0], &Default::default())
                .unwrap_err()
                .to_string()
                .contains("3 frames but 2 energies")
        );
        let flats = Array3::<f32>::zeros((2, 10, 10));
        assert!(
            optical_density(st.view(), Some(flats.view()), None).unwrap_err().to_string().contains("flats have shape")
        );
        let data = Array3::<f32>::from_elem((3, 20, 20), 5.0);
        let fl = Array3::<f32>::from_elem((1, 20, 20), 4.0);
        let dk = Array3::<f32>::from_elem((1, 20, 20), 4.5);
        let (od, rep) = optical_density(data.view(), Some(fl.view()), Some(dk.view())).unwrap();
        assert_eq!(rep.invalid_pixels, 1200);
        assert!(od.iter().all(|v| v.is_nan()));
    }
}
