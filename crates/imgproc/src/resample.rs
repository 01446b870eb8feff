//! Area-weighted resampling (each output pixel averages the input area it
//! covers), for changes of magnification between recordings.

use ndarray::{Array2, ArrayView2};

/// For each of `n` output pixels, the (input index, weight) pairs of the
/// input interval it covers; weights sum to the covered fraction.
fn weights_1d(n_in: usize, n_out: usize, factor: f64, shift: f64) -> Vec<(Vec<(usize, f64)>, f64)> {
    let c_in = (n_in as f64 - 1.0) / 2.0;
    let c_out = (n_out as f64 - 1.0) / 2.0;
    (0..n_out)
        .map(|i| {
            let x = (i as f64 - c_out - shift) * factor + c_in;
            let (lo, hi) = (x - factor / 2.0, x + factor / 2.0);
            let mut w = Vec::new();
            let mut covered = 0.0;
            let k0 = (lo + 0.5).floor().max(0.0) as usize;
            let k1 = ((hi + 0.5).ceil() as isize).min(n_in as isize).max(0) as usize;
            for k in k0..k1 {
                let a = lo.max(k as f64 - 0.5);
                let b = hi.min(k as f64 + 0.5);
                if b > a {
                    w.push((k, (b - a) / factor));
                    covered += (b - a) / factor;
                }
            }
            (w, covered)
        })
        .collect()
}

/// Resamples `img` to `out_shape` with output pixels `factor` times the
/// input pixel (factor > 1 zooms out), centres aligned, the output shifted
/// by `shift` = (rows, cols) output pixels; area outside the input counts as `fill`.
///
/// ```
/// let img = ndarray::Array2::<f64>::ones((8, 8));
/// let out = chemomech_imgproc::resample::rescale_area(img.view(), (8, 8), 2.0, (0.0, 0.0), 0.0);
/// assert!((out[[4, 4]] - 1.0).abs() < 1e-12 && out[[0, 0]] == 0.0);
/// ```
pub fn rescale_area(
    img: ArrayView2<f64>,
    out_shape: (usize, usize),
    factor: f64,
    shift: (f64, f64),
    fill: f64,
) -> Array2<f64> {
    let (h, w) = img.dim();
    let wr = weights_1d(h, out_shape.0, factor, shift.0);
    let wc = weights_1d(w, out_shape.1, factor, shift.1);
    // Columns first (h x out_w), then rows.
    let mut tmp = Array2::<f64>::zeros((h, out_shape.1));
    for r in 0..h {
        for (j, (ws, cov)) in wc.iter().enumerate() {
            let s: f64 = ws.iter().map(|&(k, wt)| wt * img[[r, k]]).sum();
            tmp[[r, j]] = s + (1.0 - cov) * fill;
        }
    }
    let mut out = Array2::<f64>::zeros(out_shape);
    for (i, (ws, cov)) in wr.iter().enumerate() {
        for j in 0..out_shape.1 {
            let s: f64 = ws.iter().map(|&(k, wt)| wt * tmp[[k, j]]).sum();
            out[[i, j]] = s + (1.0 - cov) * fill;
        }
    }
    out
}

/// Keys cubic convolution kernel (a = −½).
#[inline]
pub fn keys(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.5 * x * x * x - 2.5 * x * x + 1.0
    } else if x < 2.0 {
        -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
    } else {
        0.0
    }
}

fn cubic_weights(n_in: usize, n_out: usize, factor: f64, shift: f64) -> Vec<[(isize, f64); 4]> {
    let c_in = (n_in as f64 - 1.0) / 2.0;
    let c_out = (n_out as f64 - 1.0) / 2.0;
    (0..n_out)
        .map(|i| {
            let x = (i as f64 - c_out - shift) * factor + c_in;
            let b = x.floor() as isize;
            let mut w = [(0isize, 0.0); 4];
            for (k, slot) in w.iter_mut().enumerate() {
                let j = b - 1 + k as isize;
                *slot = (j, keys(x - j as f64));
            }
            w
        })
        .collect()
}

/// Like [`rescale_area`] but interpolating (Keys cubic): for magnifying
/// (factor < 1) and sub-pixel moves, where area averaging would blur.
pub fn zoom_cubic(
    img: ArrayView2<f64>,
    out_shape: (usize, usize),
    factor: f64,
    shift: (f64, f64),
    fill: f64,
) -> Array2<f64> {
    let (h, w) = img.dim();
    let wr = cubic_weights(h, out_shape.0, factor, shift.0);
    let wc = cubic_weights(w, out_shape.1, factor, shift.1);
    let get = |r: isize, c: isize| -> f64 {
        if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w { img[[r as usize, c as usize]] } else { fill }
    };
    Array2::from_shape_fn(out_shape, |(i, j)| {
        let mut s = 0.0;
        for &(r, a) in &wr[i] {
            if a == 0.0 {
                continue;
            }
            let mut t = 0.0;
            for &(c, b) in &wc[j] {
                t += b * get(r, c);
            }
            s += a * t;
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn conserves_mean_and_inverts() {
        let img = Array2::from_shape_fn((20, 30), |(r, c)| (r as f64 * 0.3).sin() + (c as f64 * 0.2).cos());
        let same = rescale_area(img.view(), (20, 30), 1.0, (0.0, 0.0), 0.0);
        for (a, b) in img.iter().zip(same.iter()) {
            assert!((a - b).abs() < 1e-12);
        }
        let half = rescale_area(img.view(), (10, 15), 2.0, (0.0, 0.0), 0.0);
        assert!((half.mean().unwrap() - img.mean().unwrap()).abs() < 1e-12);
        let shifted = rescale_area(img.view(), (20, 30), 1.0, (0.0, 1.0), 0.0);
        assert!((shifted[[5, 6]] - img[[5, 5]]).abs() < 1e-12);
    }
}
