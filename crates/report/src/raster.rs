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

/// Boundary pixels of a label image: a labelled (non-zero) pixel with a
/// 4-neighbour inside the image that carries another label (background or
/// another particle). The image's own edge is not a boundary.
///
/// Parameters
/// ----------
/// labels : label per pixel (0 background).
///
/// Returns
/// -------
/// `true` at the boundary pixels, same shape as `labels`.
pub fn label_boundaries(labels: ArrayView2<u32>) -> Array2<bool> {
    let (h, w) = labels.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        let l = labels[[y, x]];
        l != 0
            && ((y > 0 && labels[[y - 1, x]] != l)
                || (y + 1 < h && labels[[y + 1, x]] != l)
                || (x > 0 && labels[[y, x - 1]] != l)
                || (x + 1 < w && labels[[y, x + 1]] != l))
    })
}

/// Draws the boundary pixels of each label (see [`label_boundaries`]) in
/// the colour `color_of(label)` gives (none: left as they are).
pub fn draw_label_boundaries(img: &mut Rgb, labels: ArrayView2<u32>, color_of: &dyn Fn(u32) -> Option<[u8; 3]>) {
    for ((y, x), &b) in label_boundaries(labels).indexed_iter() {
        if b && y < img.height
            && x < img.width
            && let Some(c) = color_of(labels[[y, x]])
        {
            img.set(y, x, c);
        }
    }
}

/// A light categorical colour for `label`, random-looking but fixed by
/// `seed` (same label and seed, same colour), so neighbouring particles
/// differ and saturated outlines stay visible over it.
pub fn categorical(label: u32, seed: u64) -> [u8; 3] {
    // SplitMix64 of the label and the seed.
    let mut z =
        (label as u64).wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let hue = (z >> 40) as f64 / (1u64 << 24) as f64 * 6.0;
    let (sat, val) = (0.22 + 0.2 * ((z & 0xff) as f64 / 255.0), 0.94);
    let f = hue.fract();
    let (p, q, t) = (val * (1.0 - sat), val * (1.0 - sat * f), val * (1.0 - sat * (1.0 - f)));
    let rgb = match hue as u32 {
        0 => [val, t, p],
        1 => [q, val, p],
        2 => [p, val, t],
        3 => [p, q, val],
        4 => [t, p, val],
        _ => [val, p, q],
    };
    rgb.map(|c| (c * 255.0).round() as u8)
}

/// Label image in categorical colours ([`categorical`] with `seed`): the
/// background (0) near-black, the labels for which `hatched` holds in grey
/// diagonal hatching.
pub fn label_map(labels: ArrayView2<u32>, seed: u64, hatched: &dyn Fn(u32) -> bool) -> Rgb {
    let (h, w) = labels.dim();
    let mut img = Rgb::new(h, w);
    for ((y, x), &l) in labels.indexed_iter() {
        let c = match l {
            0 => [30, 30, 30],
            _ if hatched(l) => {
                if (x + y) % 4 < 2 {
                    [110, 110, 110]
                } else {
                    [185, 185, 185]
                }
            }
            _ => categorical(l, seed),
        };
        img.set(y, x, c);
    }
    img
}

/// Every `f`-th row and column of `a` (nearest-neighbour reduction that
/// keeps label values); `a` itself for `f` ≤ 1.
pub fn subsample<T: Clone>(a: ArrayView2<T>, f: usize) -> Array2<T> {
    let f = f.max(1);
    a.slice(ndarray::s![..;f, ..;f]).to_owned()
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

    #[test]
    fn boundaries_lie_exactly_where_labels_change() {
        // Two particles side by side on background.
        let l = ndarray::arr2(&[
            [0, 0, 0, 0, 0, 0],
            [0, 1, 1, 2, 2, 0],
            [0, 1, 1, 2, 2, 2],
            [0, 1, 1, 2, 2, 2],
            [0, 0, 0, 0, 2, 2],
        ]);
        let b = label_boundaries(l.view());
        let expected = ndarray::arr2(&[
            [0, 0, 0, 0, 0, 0],
            [0, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 0, 1],
            [0, 1, 1, 1, 0, 0],
            [0, 0, 0, 0, 1, 0],
        ])
        .mapv(|v| v == 1);
        assert_eq!(b, expected);
        // Drawn in the colour of each label; other pixels untouched.
        let mut img = Rgb::new(5, 6);
        draw_label_boundaries(&mut img, l.view(), &|l| (l == 2).then_some([255, 0, 0]));
        assert_eq!(img.get(1, 3), [255, 0, 0]);
        assert_eq!(img.get(1, 2), [0, 0, 0]);
        assert_eq!(img.get(2, 4), [0, 0, 0]);
        // A uniform label image has no boundary.
        assert!(!label_boundaries(Array2::from_elem((3, 3), 7u32).view()).iter().any(|&v| v));
    }

    #[test]
    fn categorical_colours_are_seeded_light_and_varied() {
        assert_eq!(categorical(5, 1), categorical(5, 1));
        assert_ne!(categorical(5, 1), categorical(5, 2));
        let c: Vec<[u8; 3]> = (1..50).map(|l| categorical(l, 1)).collect();
        assert!(c.iter().all(|c| c.iter().copied().max().unwrap() >= 230));
        let distinct: std::collections::HashSet<_> = c.iter().collect();
        assert!(distinct.len() > 45);
        let m = label_map(ndarray::arr2(&[[0, 3], [4, 4]]).view(), 1, &|l| l == 4);
        assert_eq!((m.get(0, 0), m.get(0, 1)), ([30, 30, 30], categorical(3, 1)));
        assert_eq!((m.get(1, 0), m.get(1, 1)), ([110, 110, 110], [185, 185, 185]));
        assert_eq!(
            subsample(ndarray::arr2(&[[1, 2, 3], [4, 5, 6], [7, 8, 9]]).view(), 2),
            ndarray::arr2(&[[1, 3], [7, 9]])
        );
    }
}
