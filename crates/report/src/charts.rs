//! Charts as SVG strings (plotters' SVG backend): pure functions of numbers.
//! Every chart has a title, axis labels with units and a legend where
//! there is more than one series.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Colours of the damage classes (least, mild, severe) and a categorical palette.
pub const CLASS_COLORS: [RGBColor; 3] = [RGBColor(44, 160, 44), RGBColor(255, 127, 14), RGBColor(214, 39, 40)];
/// A categorical palette of eight colours (the first eight of matplotlib's tab10).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

const FONT: &str = "sans-serif";

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("chart: {e}")
}

/// Draws with `f` on a `w`×`h` SVG and returns the SVG text.
fn svg<F>(w: u32, h: u32, f: F) -> Result<String, String>
where
    F: FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
{
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        f(&root)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// A series of a bar or line chart.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Colour of the bars or line.
    pub color: RGBColor,
    /// One value per category or point.
    pub values: Vec<f64>,
    /// 95 % interval of each value (drawn as an error bar).
    pub ci: Option<Vec<(f64, f64)>>,
}

/// Stacked bars, one per category, with each segment's 95 % interval as an
/// error bar at the segment's top (e.g. damage classes per depth window).
pub fn stacked_bars(
    title: &str,
    cats: &[String],
    series: &[Series],
    x_desc: &str,
    y_desc: &str,
) -> Result<String, String> {
    let n = cats.len();
    let ymax =
        (0..n).map(|i| series.iter().map(|s| s.values[i].max(0.0)).sum::<f64>()).fold(0.0, f64::max).max(1e-9) * 1.08;
    svg(640, 400, |root| {
        let mut ch = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
            .map_err(err)?;
        ch.configure_mesh().disable_x_mesh().x_desc(x_desc).y_desc(y_desc).x_labels(0).draw().map_err(err)?;
        // Category names centred under their bars (in pixels: plotters places
        // numeric ticks only at round values).
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, c) in cats.iter().enumerate() {
            let (px, py) = ch.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(c.clone(), (px, py + 6), style.clone())).map_err(err)?;
        }
        let mut base = vec![0.0; n];
        for (si, s) in series.iter().enumerate() {
            let col = s.color;
            let b0 = base.clone();
            ch.draw_series((0..n).map(|i| {
                Rectangle::new(
                    [(i as f64 + 0.15, b0[i]), (i as f64 + 0.85, b0[i] + s.values[i].max(0.0))],
                    col.filled(),
                )
            }))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
            if let Some(ci) = &s.ci {
                for i in 0..n {
                    let (lo, hi) = ci[i];
                    if !(lo.is_finite() && hi.is_finite()) {
                        continue;
                    }
                    let x = i as f64 + 0.5 + 0.1 * (si as f64 - 1.0);
                    let (y0, y1) = (b0[i] + lo, b0[i] + hi);
                    ch.draw_series([
                        PathElement::new(vec![(x, y0), (x, y1)], BLACK.stroke_width(1)),
                        PathElement::new(vec![(x - 0.04, y0), (x + 0.04, y0)], BLACK),
                        PathElement::new(vec![(x - 0.04, y1), (x + 0.04, y1)], BLACK),
                    ])
                    .map_err(err)?;
                }
            }
            for i in 0..n {
                base[i] += s.values[i].max(0.0);
            }
        }
        ch.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// A pie chart with percentages (e.g. damage classes in one layer).
pub fn pie(title: &str, parts: &[(String, f64, RGBColor)]) -> Result<String, String> {
    svg(330, 300, |root| {
        let (top, body) = root.split_vertically(34);
        top.draw(&Text::new(title.to_string(), (10, 10), (FONT, 16).into_font())).map_err(err)?;
        let total: f64 = parts.iter().map(|p| p.1).sum();
        if total <= 0.0 {
            body.draw(&Text::new("no particles", (120, 120), (FONT, 14).into_font())).map_err(err)?;
            return Ok(());
        }
        let kept: Vec<&(String, f64, RGBColor)> = parts.iter().filter(|p| p.1 > 0.0).collect();
        let sizes: Vec<f64> = kept.iter().map(|p| p.1).collect();
        let colors: Vec<RGBColor> = kept.iter().map(|p| p.2).collect();
        let labels: Vec<String> = kept.iter().map(|p| format!("{} ({})", p.0, p.1)).collect();
        let center = (165, 125);
        let radius = 82.0;
        let mut pie = Pie::new(&center, &radius, &sizes, &colors, &labels);
        pie.start_angle(-90.0);
        pie.label_style((FONT, 13).into_font().color(&BLACK));
        pie.percentages((FONT, 12).into_font().color(&WHITE));
        body.draw(&pie).map_err(err)?;
        Ok(())
    })
}

/// A radar chart: one polygon per sample over axes scaled to 0–1 (the
/// value divided by the largest of the samples on that axis).
pub fn radar(title: &str, axes: &[String], samples: &[(String, Vec<f64>)]) -> Result<String, String> {
    svg(520, 460, |root| {
        root.draw(&Text::new(title.to_string(), (10, 8), (FONT, 17).into_font())).map_err(err)?;
        let (cx, cy, r) = (260.0, 245.0, 150.0);
        let na = axes.len().max(3);
        let pt = |k: usize, v: f64| {
            let a = -std::f64::consts::FRAC_PI_2 + 2.0 * std::f64::consts::PI * k as f64 / na as f64;
            ((cx + r * v * a.cos()) as i32, (cy + r * v * a.sin()) as i32)
        };
        for ring in [0.25, 0.5, 0.75, 1.0] {
            let mut p: Vec<(i32, i32)> = (0..na).map(|k| pt(k, ring)).collect();
            p.push(p[0]);
            root.draw(&PathElement::new(p, RGBColor(200, 200, 200))).map_err(err)?;
        }
        let maxv: Vec<f64> =
            (0..axes.len()).map(|k| samples.iter().map(|s| s.1[k].abs()).fold(0.0, f64::max)).collect();
        for (k, ax) in axes.iter().enumerate() {
            root.draw(&PathElement::new(vec![pt(k, 0.0), pt(k, 1.0)], RGBColor(160, 160, 160))).map_err(err)?;
            let (x, y) = pt(k, 1.13);
            root.draw(&Text::new(format!("{ax} (max {})", fmt(maxv[k])), (x - 50, y - 6), (FONT, 12).into_font()))
                .map_err(err)?;
        }
        for (i, (name, vals)) in samples.iter().enumerate() {
            let col = PALETTE[i % PALETTE.len()];
            let mut p: Vec<(i32, i32)> = vals
                .iter()
                .enumerate()
                .map(|(k, v)| pt(k, if maxv[k] > 0.0 { v.abs() / maxv[k] } else { 0.0 }))
                .collect();
            root.draw(&Polygon::new(p.clone(), col.mix(0.18))).map_err(err)?;
            p.push(p[0]);
            root.draw(&PathElement::new(p, col.stroke_width(2))).map_err(err)?;
            root.draw(&Rectangle::new([(14, 420 - 18 * i as i32), (26, 430 - 18 * i as i32)], col.filled()))
                .map_err(err)?;
            root.draw(&Text::new(name.clone(), (32, 419 - 18 * i as i32), (FONT, 13).into_font())).map_err(err)?;
        }
        Ok(())
    })
}

/// Compact number formatting for labels.
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 || v.abs() < 0.01 {
        format!("{v:.2e}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A histogram of finite values in `bins` equal bins, with the mean marked.
pub fn histogram(title: &str, values: &[f64], bins: usize, x_desc: &str, color: RGBColor) -> Result<String, String> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let (lo, hi) = if v.is_empty() {
        (0.0, 1.0)
    } else {
        (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
    };
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for &x in &v {
        counts[(((x - lo) / w) as usize).min(bins - 1)] += 1;
    }
    let cmax = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    svg(420, 300, |root| {
        let mut ch = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(48)
            .build_cartesian_2d(lo..hi, 0f64..cmax)
            .map_err(err)?;
        ch.configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc("particles")
            .x_labels(6)
            .y_labels(5)
            .draw()
            .map_err(err)?;
        ch.draw_series(counts.iter().enumerate().map(|(i, &c)| {
            Rectangle::new([(lo + i as f64 * w, 0.0), (lo + (i + 1) as f64 * w, c as f64)], color.mix(0.8).filled())
        }))
        .map_err(err)?
        .label(format!("n = {}", v.len()))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        if mean.is_finite() {
            ch.draw_series([PathElement::new(vec![(mean, 0.0), (mean, cmax)], BLACK.stroke_width(2))])
                .map_err(err)?
                .label(format!("mean {}", fmt(mean)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
        }
        ch.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Line plot of several series against one x.
pub fn lines(title: &str, x: &[f64], series: &[Series], x_desc: &str, y_desc: &str) -> Result<String, String> {
    let all = series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite());
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !(lo.is_finite() && hi > lo) {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = 0.05 * (hi - lo);
    let (x0, x1) = (
        x.first().copied().unwrap_or(0.0),
        x.last().copied().unwrap_or(1.0).max(x.first().copied().unwrap_or(0.0) + 1e-9),
    );
    svg(640, 380, |root| {
        let mut ch = ChartBuilder::on(root)
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
            .map_err(err)?;
        ch.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(err)?;
        for s in series {
            let col = s.color;
            ch.draw_series(LineSeries::new(
                x.iter().zip(&s.values).filter(|(_, v)| v.is_finite()).map(|(a, b)| (*a, *b)),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], col.stroke_width(2)));
        }
        ch.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Scatter of measured against true values with the identity line.
pub fn scatter_identity(
    title: &str,
    truth: &[f64],
    measured: &[f64],
    x_desc: &str,
    y_desc: &str,
) -> Result<String, String> {
    let m = truth.iter().chain(measured).copied().filter(|v| v.is_finite()).fold(0.0, f64::max).max(1e-9) * 1.05;
    svg(420, 360, |root| {
        let mut ch = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..m, 0f64..m)
            .map_err(err)?;
        ch.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(err)?;
        ch.draw_series([PathElement::new(vec![(0.0, 0.0), (m, m)], RGBColor(120, 120, 120))])
            .map_err(err)?
            .label("measured = true")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RGBColor(120, 120, 120)));
        ch.draw_series(truth.iter().zip(measured).map(|(a, b)| Circle::new((*a, *b), 3, PALETTE[0].mix(0.6).filled())))
            .map_err(err)?
            .label(format!("{} matched particles", truth.len()))
            .legend(|(x, y)| Circle::new((x + 6, y), 3, PALETTE[0].filled()));
        ch.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// How the network is viewed.
#[derive(Debug, Clone, Copy)]
pub enum View {
    /// 3-D perspective of the electrode box.
    Perspective,
    /// Looking down the depth axis (x–y plane).
    Top,
}

/// Nodes (z, y, x in µm) and edges of a particle network in an electrode of
/// `extent` (µm). Nodes are coloured by depth (separator → current collector).
pub fn network(
    title: &str,
    nodes: &[[f64; 3]],
    edges: &[(usize, usize)],
    extent: [f64; 3],
    view: View,
) -> Result<String, String> {
    let depth_col = |z: f64| crate::raster::viridis((z / extent[0].max(1e-9)).clamp(0.0, 1.0));
    svg(460, 420, |root| match view {
        View::Top => {
            let mut ch = ChartBuilder::on(root)
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..extent[2], 0f64..extent[1])
                .map_err(err)?;
            ch.configure_mesh().x_desc("x (µm)").y_desc("y (µm)").draw().map_err(err)?;
            ch.draw_series(edges.iter().map(|&(a, b)| {
                PathElement::new(vec![(nodes[a][2], nodes[a][1]), (nodes[b][2], nodes[b][1])], RGBColor(90, 90, 90))
            }))
            .map_err(err)?;
            ch.draw_series(nodes.iter().map(|n| {
                let c = depth_col(n[0]);
                Circle::new((n[2], n[1]), 4, RGBColor(c[0], c[1], c[2]).filled())
            }))
            .map_err(err)?;
            Ok(())
        }
        View::Perspective => {
            let mut ch = ChartBuilder::on(root)
                .caption(title, (FONT, 16))
                .margin(10)
                .build_cartesian_3d(0f64..extent[2], 0f64..extent[0], 0f64..extent[1])
                .map_err(err)?;
            ch.with_projection(|mut p| {
                p.pitch = 0.45;
                p.yaw = 0.7;
                p.scale = 0.8;
                p.into_matrix()
            });
            ch.configure_axes().light_grid_style(RGBColor(235, 235, 235)).max_light_lines(3).draw().map_err(err)?;
            // Vertical axis is depth z: draw it with the separator (z = 0) on top.
            let zt = |z: f64| extent[0] - z;
            ch.draw_series(edges.iter().map(|&(a, b)| {
                PathElement::new(
                    vec![(nodes[a][2], zt(nodes[a][0]), nodes[a][1]), (nodes[b][2], zt(nodes[b][0]), nodes[b][1])],
                    RGBColor(90, 90, 90),
                )
            }))
            .map_err(err)?;
            ch.draw_series(nodes.iter().map(|n| {
                let c = depth_col(n[0]);
                Circle::new((n[2], zt(n[0]), n[1]), 4, RGBColor(c[0], c[1], c[2]).filled())
            }))
            .map_err(err)?;
            root.draw(&Text::new("axes: x, depth (separator at top), y — µm", (10, 400), (FONT, 12).into_font()))
                .map_err(err)?;
            Ok(())
        }
    })
}

/// A horizontal colour bar from `lo` to `hi` with a label (for image maps).
pub fn colorbar(label: &str, lo: f64, hi: f64, cmap: fn(f64) -> [u8; 3]) -> Result<String, String> {
    svg(360, 62, |root| {
        let n = 120;
        for i in 0..n {
            let c = cmap(i as f64 / (n - 1) as f64);
            let x = 20 + i * 320 / n;
            root.draw(&Rectangle::new([(x, 6), (x + 320 / n + 1, 24)], RGBColor(c[0], c[1], c[2]).filled()))
                .map_err(err)?;
        }
        root.draw(&Text::new(fmt(lo), (14, 28), (FONT, 12).into_font())).map_err(err)?;
        root.draw(&Text::new(fmt(hi), (318, 28), (FONT, 12).into_font())).map_err(err)?;
        root.draw(&Text::new(label.to_string(), (110, 44), (FONT, 13).into_font())).map_err(err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_labels() {
        let s = stacked_bars(
            "t",
            &["0–10".into(), "10–20".into()],
            &[
                Series {
                    name: "least".into(),
                    color: CLASS_COLORS[0],
                    values: vec![0.5, 0.4],
                    ci: Some(vec![(0.4, 0.6), (0.3, 0.5)]),
                },
                Series { name: "severe".into(), color: CLASS_COLORS[2], values: vec![0.5, 0.6], ci: None },
            ],
            "depth (µm)",
            "fraction",
        )
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("depth (µm)") && s.contains("least") && s.contains("10–20"));
        let h = histogram("ESD", &[1.0, 2.0, 2.5, f64::NAN], 5, "ESD (µm)", PALETTE[0]).unwrap();
        assert!(h.contains("n = 3"));
        let p = pie("top", &[("least".into(), 3.0, CLASS_COLORS[0]), ("severe".into(), 1.0, CLASS_COLORS[2])]).unwrap();
        assert!(p.contains("75"));
        let r = radar(
            "r",
            &["a".into(), "b".into(), "c".into()],
            &[("s1".into(), vec![1.0, 2.0, 3.0]), ("s2".into(), vec![2.0, 1.0, 0.5])],
        )
        .unwrap();
        assert!(r.contains("s2"));
        let n = network("net", &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &[(0, 1)], [10.0, 10.0, 10.0], View::Perspective)
            .unwrap();
        assert!(n.contains("<svg"));
    }
}
