//! Edge jump of two frames (below and above the edge), for series too short
//! to normalise, and the removal of small regions from a mask.

use chemomech_core::{Error, Result};
use ndarray::{Array2, ArrayView2};

/// Removes connected regions (8-connected) smaller than `min_px` pixels from a mask.
///
/// ```
/// let mut m = ndarray::Array2::from_elem((10, 10), false);
/// m[[1, 1]] = true;
/// for r in 4..8 { for c in 4..8 { m[[r, c]] = true; } }
/// let k = chemomech_xas::maps::remove_small_regions(m.view(), 5);
/// assert!(!k[[1, 1]] && k[[5, 5]]);
/// ```
pub fn remove_small_regions(mask: ArrayView2<bool>, min_px: usize) -> Array2<bool> {
    if min_px <= 1 {
        return mask.to_owned();
    }
    let m3 = mask.to_owned().insert_axis(ndarray::Axis(0));
    let (lab, _) = chemomech_imgproc::label(m3.view(), chemomech_imgproc::label::Connectivity::C26);
    let sizes = chemomech_imgproc::label::sizes(lab.view());
    lab.index_axis(ndarray::Axis(0), 0).mapv(|l| l > 0 && sizes[l as usize] as usize >= min_px)
}

/// Edge-jump map of two frames (below and above the edge), for series too
/// short to normalise: jump = OD(above) − OD(below), with the image noise σ
/// estimated robustly from neighbour differences (1.4826·MAD/√2) and the
/// mask jump > k·σ (regions under 20 pixels dropped as noise). Returns
/// (jump, mask, σ).
///
/// ```
/// let below = ndarray::Array2::<f32>::from_shape_fn((32, 32), |(r, c)| 0.1 + 0.001 * ((r * 7 + c * 3) % 5) as f32);
/// let mut above = below.clone();
/// for r in 10..20 { for c in 10..20 { above[[r, c]] += 0.5; } }
/// let (j, m, _) = chemomech_xas::maps::two_energy_jump(below.view(), above.view(), 5.0).unwrap();
/// assert_eq!(m.iter().filter(|&&b| b).count(), 100);
/// assert!((j[[15, 15]] - 0.5).abs() < 1e-5);
/// ```
pub fn two_energy_jump(
    below: ArrayView2<f32>,
    above: ArrayView2<f32>,
    k_sigma: f64,
) -> Result<(Array2<f32>, Array2<bool>, f64)> {
    if below.dim() != above.dim() {
        return Err(Error::shape(format!(
            "frames below and above the edge differ in shape: {:?} vs {:?}",
            below.dim(),
            above.dim()
        )));
    }
    let jump = ndarray::Zip::from(&above).and(&below).map_collect(|a, b| a - b);
    let mut diffs: Vec<f64> = Vec::new();
    let (h, w) = jump.dim();
    for r in 0..h {
        for c in 0..w.saturating_sub(1) {
            let d = (jump[[r, c + 1]] - jump[[r, c]]) as f64;
            if d.is_finite() {
                diffs.push(d.abs());
            }
        }
    }
    if diffs.is_empty() {
        return Err(Error::data("no finite pixel pairs to estimate the noise from"));
    }
    let m = diffs.len() / 2;
    let mad = *diffs.select_nth_unstable_by(m, f64::total_cmp).1;
    let sigma = (1.4826 * mad / std::f64::consts::SQRT_2).max(1e-12);
    let mask = jump.mapv(|j| j.is_finite() && (j as f64) > k_sigma * sigma);
    Ok((jump, remove_small_regions(mask.view(), 20), sigma))
}
