//! Depth profiles from the separator (z = 0) to the current collector:
//! per window, particle counts, damage-class fractions and mean crack
//! fraction with bootstrap 95 % confidence intervals; and lateral maps.

use crate::tests::{bootstrap_ci, mean};
use chemomech_core::{Column, Result, Table};
use serde::{Deserialize, Serialize};

/// One depth window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DepthWindow {
    /// Start of the window along z (µm from the separator).
    pub z_from_um: f64,
    /// End of the window along z (µm from the separator).
    pub z_to_um: f64,
    /// Particles whose centroid falls in the window.
    pub particles: usize,
    /// Fraction of the window's particles in the "least" damage class.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub fraction_least: f64,
    /// Fraction of the window's particles in the "mild" damage class.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub fraction_mild: f64,
    /// Fraction of the window's particles in the "severe" damage class.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub fraction_severe: f64,
    /// Bootstrap 95 % confidence interval of `fraction_severe`.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub severe_ci95: (f64, f64),
    /// Bootstrap 95 % confidence interval of `fraction_mild`.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub mild_ci95: (f64, f64),
    /// Bootstrap 95 % confidence interval of `fraction_least`.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub least_ci95: (f64, f64),
    /// Mean crack fraction of the window's particles.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_crack_fraction: f64,
    /// Bootstrap 95 % confidence interval of `mean_crack_fraction`.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub crack_fraction_ci95: (f64, f64),
    /// Mean of `extra` (e.g. SoC) when the table has it.
    pub mean_extra: Option<f64>,
}

/// Windows of `window_um` along z over [0, `thickness_um`], from particle
/// centroids; `extra` names an optional column to average (e.g. `mean_soc`).
pub fn depth_profile(
    t: &Table,
    thickness_um: f64,
    window_um: f64,
    extra: Option<&str>,
    boot: usize,
    seed: u64,
) -> Result<Vec<DepthWindow>> {
    if !(window_um > 0.0 && thickness_um > 0.0) {
        return Err(chemomech_core::Error::param("depth window and thickness must be positive"));
    }
    let z = t.f64("centroid_z_um")?;
    let cls = t.str("damage_class")?;
    let cf = t.f64("crack_fraction")?;
    let ex = match extra {
        Some(c) if t.get(c).is_some() => Some(t.f64(c)?),
        _ => None,
    };
    let n = (thickness_um / window_um).ceil().max(1.0) as usize;
    let mut out = Vec::with_capacity(n);
    for w in 0..n {
        let (a, b) = (w as f64 * window_um, ((w + 1) as f64 * window_um).min(thickness_um));
        let idx: Vec<usize> = (0..z.len()).filter(|&i| z[i] >= a && (z[i] < b || (w + 1 == n && z[i] <= b))).collect();
        let ind = |c: &str| -> Vec<f64> { idx.iter().map(|&i| (cls[i] == c) as u8 as f64).collect() };
        let (l, m, s) = (ind("least"), ind("mild"), ind("severe"));
        let c: Vec<f64> = idx.iter().map(|&i| cf[i]).collect();
        out.push(DepthWindow {
            z_from_um: a,
            z_to_um: b,
            particles: idx.len(),
            fraction_least: mean(&l),
            fraction_mild: mean(&m),
            fraction_severe: mean(&s),
            severe_ci95: bootstrap_ci(&s, mean, boot, seed ^ w as u64),
            mild_ci95: bootstrap_ci(&m, mean, boot, seed ^ (w as u64) << 8),
            least_ci95: bootstrap_ci(&l, mean, boot, seed ^ (w as u64) << 16),
            mean_crack_fraction: mean(&c),
            crack_fraction_ci95: bootstrap_ci(&c, mean, boot, seed ^ (w as u64) << 24),
            mean_extra: ex.as_ref().map(|e| mean(&idx.iter().map(|&i| e[i]).collect::<Vec<_>>())),
        });
    }
    Ok(out)
}

/// The profile as a table (for CSV).
pub fn profile_table(p: &[DepthWindow]) -> Result<Table> {
    let mut t = Table::default();
    let f = |g: &dyn Fn(&DepthWindow) -> f64| Column::F64(p.iter().map(g).collect());
    t.push("z_from_um", f(&|w| w.z_from_um), Some("µm"))?;
    t.push("z_to_um", f(&|w| w.z_to_um), Some("µm"))?;
    t.push("particles", Column::U64(p.iter().map(|w| w.particles as u64).collect()), None)?;
    for (name, g) in [
        ("fraction_least", &(|w: &DepthWindow| w.fraction_least) as &dyn Fn(&DepthWindow) -> f64),
        ("fraction_least_lo", &|w: &DepthWindow| w.least_ci95.0),
        ("fraction_least_hi", &|w: &DepthWindow| w.least_ci95.1),
        ("fraction_mild", &|w: &DepthWindow| w.fraction_mild),
        ("fraction_mild_lo", &|w: &DepthWindow| w.mild_ci95.0),
        ("fraction_mild_hi", &|w: &DepthWindow| w.mild_ci95.1),
        ("fraction_severe", &|w: &DepthWindow| w.fraction_severe),
        ("fraction_severe_lo", &|w: &DepthWindow| w.severe_ci95.0),
        ("fraction_severe_hi", &|w: &DepthWindow| w.severe_ci95.1),
        ("mean_crack_fraction", &|w: &DepthWindow| w.mean_crack_fraction),
        ("crack_fraction_lo", &|w: &DepthWindow| w.crack_fraction_ci95.0),
        ("crack_fraction_hi", &|w: &DepthWindow| w.crack_fraction_ci95.1),
        ("mean_extra", &|w: &DepthWindow| w.mean_extra.unwrap_or(f64::NAN)),
    ] {
        t.push(name, f(g), None)?;
    }
    Ok(t)
}

/// Lateral map (y, x) of the severe fraction and mean crack fraction of the
/// particles whose centroids fall in each of `bins x bins` cells.
pub fn lateral_map(
    t: &Table,
    extent_y_um: f64,
    extent_x_um: f64,
    bins: usize,
) -> Result<(Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<Vec<usize>>)> {
    let y = t.f64("centroid_y_um")?;
    let x = t.f64("centroid_x_um")?;
    let cls = t.str("damage_class")?;
    let cf = t.f64("crack_fraction")?;
    let bins = bins.max(1);
    let mut n = vec![vec![0usize; bins]; bins];
    let mut sev = vec![vec![0.0; bins]; bins];
    let mut c = vec![vec![0.0; bins]; bins];
    for i in 0..y.len() {
        let by = ((y[i] / extent_y_um * bins as f64) as usize).min(bins - 1);
        let bx = ((x[i] / extent_x_um * bins as f64) as usize).min(bins - 1);
        n[by][bx] += 1;
        sev[by][bx] += (cls[i] == "severe") as u8 as f64;
        c[by][bx] += cf[i];
    }
    for by in 0..bins {
        for bx in 0..bins {
            let k = n[by][bx];
            sev[by][bx] = if k > 0 { sev[by][bx] / k as f64 } else { f64::NAN };
            c[by][bx] = if k > 0 { c[by][bx] / k as f64 } else { f64::NAN };
        }
    }
    Ok((sev, c, n))
}
