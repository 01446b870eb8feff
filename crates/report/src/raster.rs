//! Images for the report: grey slices, class overlays and colour-mapped
//! maps with outlines, encoded as PNG data URIs.

use base64::Engine;
use ndarray::{Array2, ArrayView2};

/// An 8-bit RGB image.
#[derive(Debug, Clone)]
pub struct Rgb {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Pixels row by row, three bytes (R, G, B) each.
    pub data: Vec<u8>,
}

impl Rgb {
    fn new(height: usize, width: usize) -> Self {
        Self { width, height, data: vec![0; width * height * 3] }
    }
    fn set(&mut self, y: usize, x: usize, c: [u8; 3]) {
        let i = (y * self.width + x) * 3;
        self.data[i..i + 3].copy_from_slice(&c);
    }
    fn get(&self, y: usize, x: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// PNG as a `data:` URI.
    pub fn data_uri(&self) -> Result<String, String> {
        let mut buf = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut buf, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().map_err(|e| format!("png: {e}"))?;
            w.write_image_data(&self.data).map_err(|e| format!("png: {e}"))?;
        }
        Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(buf)))
    }
}

/// Percentiles `p` (0–100) of the finite values.
pub fn percentiles(values: impl Iterator<Item = f32>, p: &[f64]) -> Vec<f64> {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return vec![0.0; p.len()];
    }
    v.sort_by(f32::total_cmp);
    p.iter().map(|q| v[((q / 100.0) * (v.len() - 1) as f64).round() as usize] as f64).collect()
}

/// Grey image of `a` scaled from `lo` (black) to `hi` (white); NaN is dark blue.
pub fn grey(a: ArrayView2<f32>, lo: f64, hi: f64) -> Rgb {
    let (h, w) = a.dim();
    let mut img = Rgb::new(h, w);
    let span = if hi > lo { hi - lo } else { 1.0 };
    for ((y, x), &v) in a.indexed_iter() {
        let c = if v.is_finite() {
            let g = (((v as f64 - lo) / span).clamp(0.0, 1.0) * 255.0) as u8;
            [g, g, g]
        } else {
            [20, 20, 60]
        };
        img.set(y, x, c);
    }
    img
}

/// Tints the pixels of labelled particles by class colour over a grey image
/// (`class_of(label)` gives 0 least, 1 mild, 2 severe, or None).
pub fn class_overlay(
    base: &Rgb,
    labels: ArrayView2<u32>,
    class_of: &dyn Fn(u32) -> Option<usize>,
    colors: &[[u8; 3]; 3],
    alpha: f64,
) -> Rgb {
    let mut img = base.clone();
    for ((y, x), &l) in labels.indexed_iter() {
        if l == 0 {
            continue;
        }
        if let Some(k) = class_of(l) {
            let g = base.get(y, x);
            let c = colors[k];
            let mix = |a: u8, b: u8| (a as f64 * (1.0 - alpha) + b as f64 * alpha) as u8;
            img.set(y, x, [mix(g[0], c[0]), mix(g[1], c[1]), mix(g[2], c[2])]);
        }
    }
    img
}

/// Colour-mapped image: values in `lo..hi` through `cmap`; pixels outside
/// `mask` (or not finite) are light grey.
pub fn colormap(a: ArrayView2<f32>, mask: Option<ArrayView2<bool>>, lo: f64, hi: f64, cmap: fn(f64) -> [u8; 3]) -> Rgb {
    let (h, w) = a.dim();
    let mut img = Rgb::new(h, w);
    let span = if hi > lo { hi - lo } else { 1.0 };
    for ((y, x), &v) in a.indexed_iter() {
        let inside = mask.as_ref().is_none_or(|m| m[[y, x]]);
        let c = if inside && v.is_finite() { cmap(((v as f64 - lo) / span).clamp(0.0, 1.0)) } else { [225, 225, 225] };
        img.set(y, x, c);
    }
    img
}

/// Draws the boundary pixels of `region` (a pixel in the region with a
/// 4-neighbour outside) in `color`.
pub fn outline(img: &mut Rgb, region: ArrayView2<bool>, color: [u8; 3]) {
    let (h, w) = region.dim();
    for y in 0..h {
        for x in 0..w {
            if !region[[y, x]] {
                continue;
            }
            let edge = y == 0
                || x == 0
                || y + 1 == h
                || x + 1 == w
                || !region[[y - 1, x]]
                || !region[[y + 1, x]]
                || !region[[y, x - 1]]
                || !region[[y, x + 1]];
            if edge {
                img.set(y, x, color);
            }
        }
    }
}

/// Nearest-neighbour enlargement so small maps stay sharp in any viewer.
pub fn upscale(img: &Rgb, f: usize) -> Rgb {
    let mut o = Rgb::new(img.height * f, img.width * f);
    for y in 0..o.height {
        for x in 0..o.width {
            o.set(y, x, img.get(y / f, x / f));
        }
    }
    o
}

/// The viridis colour map (perceptually uniform; 9 anchors, linear between).
pub fn viridis(t: f64) -> [u8; 3] {
    const A: [[f64; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    let t = t.clamp(0.0, 1.0) * 8.0;
    let i = (t.floor() as usize).min(7);
    let f = t - i as f64;
    [0, 1, 2].map(|k| (A[i][k] * (1.0 - f) + A[i + 1][k] * f).round() as u8)
}

/// A mask from a u8/f32 map (non-zero and finite).
pub fn nonzero(a: ArrayView2<f32>) -> Array2<bool> {
    a.mapv(|v| v.is_finite() && v != 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_header() {
        let a = Array2::<f32>::from_shape_fn((4, 5), |(y, x)| (y * 5 + x) as f32);
        let img = grey(a.view(), 0.0, 19.0);
        assert_eq!(img.get(3, 4), [255, 255, 255]);
        let uri = upscale(&img, 2).data_uri().unwrap();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(uri.trim_start_matches("data:image/png;base64,")).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
    }
}
