//! The particles section's labelled slices, for a person to check the
//! separation by eye: the grey image with each particle's boundary drawn
//! over it, and the labels in categorical colours outlined by damage class.

use super::*;
use std::collections::HashMap;

/// Seed of the labels' categorical colours (same labels, same colours).
const LABEL_COLOR_SEED: u64 = 1;
/// Slices are reduced (every f-th pixel) to at most this many pixels a side,
/// and small ones enlarged to about it.
const MAX_SIDE: usize = 512;
/// Colour of the particle boundaries over the grey image.
const BOUNDARY: [u8; 3] = [0, 229, 255];
/// Outline of the particles `particles` flagged `excluded`.
const EXCLUDED_OUTLINE: [u8; 3] = [95, 95, 95];
/// Outline of labels the table does not class.
const UNCLASSED_OUTLINE: [u8; 3] = [255, 255, 255];

/// What the particle table says of a label.
#[derive(Clone, Copy)]
struct LabelInfo {
    /// Damage class: 0 least, 1 mild, 2 severe.
    class: Option<usize>,
    /// Flagged `excluded` (cut by a face, or a fragment).
    excluded: bool,
}

/// Class and exclusion per label id, from the particle table.
fn label_info(t: &Table) -> HashMap<u32, LabelInfo> {
    let ids = csv_f(t, "id");
    let cls = t.str("damage_class").ok();
    let ex = match t.get("excluded") {
        Some(Column::Bool(b)) => Some(b.as_slice()),
        _ => None,
    };
    ids.iter()
        .enumerate()
        .map(|(i, &id)| {
            let class = cls.and_then(|c| c.get(i)).and_then(|c| class_index(c));
            let excluded = ex.and_then(|e| e.get(i)).copied().unwrap_or(false);
            (id as u32, LabelInfo { class, excluded })
        })
        .collect()
}

/// A 2-D or 3-D raster as a (z, y, x) volume of f32 (2-D: one slice).
fn f32_volume(p: &Path) -> Result<Array3<f32>> {
    let a: ArrayD<f32> = read_array(p)?.to_f32();
    let a = if a.ndim() == 2 { a.insert_axis(Axis(0)) } else { a };
    a.into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(p))
}

/// The grey image under the labels, `shape` (z, y, x): the report's volume
/// when it has that shape, else the phases `particles` saved; with what it is.
fn grey_under(volume: Option<&Path>, pd: &Path, shape: (usize, usize, usize)) -> Result<(Array3<f32>, &'static str)> {
    if let Some(v) = volume.and_then(|vp| f32_volume(vp).ok()).filter(|v| v.dim() == shape) {
        return Ok((v, "the reconstructed grey levels"));
    }
    let pp = pd.join("phases.tiff");
    let ph = f32_volume(&pp)?;
    if ph.dim() != shape {
        return Err(Error::data(format!("phases {:?} and labels {shape:?} differ in shape", ph.dim())).at(&pp));
    }
    Ok((ph, "the phases (pore dark, carbon-binder grey, active bright)"))
}

/// The two panels of a plane, as images: the grey image with every
/// boundary in [`BOUNDARY`]; the labels in categorical colours, outlined by
/// damage class, excluded particles hatched grey. Both reduced to at most
/// [`MAX_SIDE`] pixels a side (every f-th pixel), small planes enlarged.
fn panels(
    grey: ArrayView2<f32>,
    labels: ArrayView2<u32>,
    info: &HashMap<u32, LabelInfo>,
) -> (raster::Rgb, raster::Rgb, usize) {
    let pc = raster::percentiles(grey.iter().copied(), &[1.0, 99.5]);
    let down = labels.nrows().max(labels.ncols()).div_ceil(MAX_SIDE).max(1);
    let (g, l) = (raster::subsample(grey, down), raster::subsample(labels, down));
    let up = (MAX_SIDE / l.nrows().max(l.ncols()).max(1)).max(1);
    let mut a = raster::grey(g.view(), pc[0], pc[1]);
    raster::draw_label_boundaries(&mut a, l.view(), &|_| Some(BOUNDARY));
    let mut b = raster::label_map(l.view(), LABEL_COLOR_SEED, &|x| info.get(&x).is_some_and(|i| i.excluded));
    let cols = CLASS_COLORS.map(|c| [c.0, c.1, c.2]);
    raster::draw_label_boundaries(&mut b, l.view(), &|x| {
        Some(match info.get(&x) {
            Some(i) if i.excluded => EXCLUDED_OUTLINE,
            Some(LabelInfo { class: Some(k), .. }) => cols[*k],
            _ => UNCLASSED_OUTLINE,
        })
    });
    (raster::upscale(&a, up), raster::upscale(&b, up), down)
}

/// HTML of the two panels side by side with their legends.
fn panels_html(a: &raster::Rgb, b: &raster::Rgb) -> Result<String> {
    let img = |r: &raster::Rgb, alt: &str| -> Result<String> {
        Ok(format!("<img src=\"{}\" width=\"{}\" alt=\"{alt}\">", r.data_uri().map_err(Error::data)?, r.width))
    };
    let sw = |c: [u8; 3], what: &str| format!("<span style=\"color:rgb({},{},{})\">■</span> {what}", c[0], c[1], c[2]);
    let cols = CLASS_COLORS.map(|c| [c.0, c.1, c.2]);
    Ok(format!(
        "<div style=\"display:flex;gap:10px;flex-wrap:wrap\"><div>{}<div style=\"font-size:12px\">{}</div></div><div>{}<div style=\"font-size:12px\">outline: {} &nbsp; {} &nbsp; {} &nbsp; {} &nbsp; {}</div></div></div>",
        img(a, "grey image with particle boundaries")?,
        sw(BOUNDARY, "particle boundary"),
        img(b, "particle labels by damage class")?,
        sw(cols[0], "least"),
        sw(cols[1], "mild"),
        sw(cols[2], "severe"),
        sw(EXCLUDED_OUTLINE, "excluded (hatched)"),
        sw(UNCLASSED_OUTLINE, "not classed"),
    ))
}

/// For the first sample: the labels on the mid-depth xy slice and, for a
/// 3-D volume, on the z–x slice at mid y, each as a figure of two panels
/// (`labels-xy`, `labels-zx`); none when the particles directory has no
/// labels.
pub(super) fn label_slice_figures(
    p: &Params,
    t: &Table,
    dir: &OutDir,
    prov: &Provenance,
    written: &mut Vec<String>,
) -> Result<Vec<Figure>> {
    let Some(pd) = p.particles.first() else { return Ok(Vec::new()) };
    let lp = pd.join("labels.tiff");
    if !lp.is_file() {
        return Ok(Vec::new());
    }
    let labels = u32_3(&lp)?;
    let (nz, ny, nx) = labels.dim();
    let (grey, what) = grey_under(p.volume.as_deref(), pd, labels.dim())?;
    let info = label_info(t);
    let mut planes = vec![("xy", Axis(0), nz / 2, format!("xy slice at z = {} of {nz}", nz / 2))];
    if nz > 1 {
        planes.push(("zx", Axis(1), ny / 2, format!("z–x slice at y = {} of {ny} (separator at the top)", ny / 2)));
    }
    let mut figs = Vec::new();
    for (id, axis, at, where_) in planes {
        let (g, l) = (grey.index_axis(axis, at), labels.index_axis(axis, at));
        let (a, b, down) = panels(g, l, &info);
        let csv = data(dir, &format!("labels_{id}"), &map_table(&l.mapv(|v| v as f32))?, prov, written)?;
        let shown: std::collections::BTreeSet<u32> = l.iter().copied().filter(|&v| v != 0).collect();
        let excl = shown.iter().filter(|v| info.get(v).is_some_and(|i| i.excluded)).count();
        let reduced = if down > 1 { format!(" Every {down}th pixel shown.") } else { String::new() };
        figs.push(
            Figure::new(&format!("labels-{id}"), &format!("Particle labels, {where_}"), Body::Html(panels_html(&a, &b)?))
                .caption(format!(
                    "Left: {what} ({ny}×{nx} per xy slice) with the boundary of every labelled particle. Right: the labels in random colours (seed {LABEL_COLOR_SEED}), outlined by damage class; excluded particles (cut by a face, or fragments) hatched grey. {} particles on this slice, {excl} excluded.{reduced} CSV: label per pixel (0 background).",
                    shown.len()
                ))
                .csv(csv)
                .wide(),
        );
    }
    Ok(figs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn panels_are_reduced_or_enlarged_to_about_512_pixels() {
        let info = HashMap::from([(1, LabelInfo { class: Some(2), excluded: false })]);
        for ((h, w), down, size) in
            [((1024, 700), 2, (512, 350)), ((256, 256), 1, (512, 512)), ((20, 256), 1, (40, 512))]
        {
            let l = Array2::from_shape_fn((h, w), |(y, x)| ((y / 8 + x / 8) % 2) as u32);
            let g = l.mapv(|v| v as f32);
            let (a, b, d) = panels(g.view(), l.view(), &info);
            assert_eq!((d, (a.height, a.width), (b.height, b.width)), (down, size, size), "{h}×{w}");
        }
        // The one severe particle outlined in the severe colour.
        let mut l = Array2::<u32>::zeros((512, 512));
        l.slice_mut(ndarray::s![100..200, 100..200]).fill(1);
        let (_, b, _) = panels(l.mapv(|v| v as f32).view(), l.view(), &info);
        let px = |y: usize, x: usize| b.data[(y * b.width + x) * 3..(y * b.width + x) * 3 + 3].to_vec();
        let c = CLASS_COLORS[2];
        assert_eq!(px(100, 150), vec![c.0, c.1, c.2]);
        assert_eq!(px(150, 150), raster::categorical(1, LABEL_COLOR_SEED).to_vec());
    }
}
