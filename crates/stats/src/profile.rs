//! Depth profiles from the separator (z = 0) to the current collector:
//! per window, particle counts, damage-class fractions and mean crack
//! fraction with bootstrap 95 % confidence intervals; and lateral maps.

use crate::tests::{bootstrap_ci, bootstrap_ci_with, mean};
use chemomech_core::damage::DamageClass;
use chemomech_core::{Column, Result, Table};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
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

/// Column of the particle table with the standard error of each particle's
/// crack fraction (from the grey-level deficit measurement), when measured.
pub const CRACK_FRACTION_SD: &str = "crack_fraction_sd";

/// Whether [`depth_profile`] propagates the per-particle measurement
/// uncertainty of the crack fraction: the table has [`CRACK_FRACTION_SD`].
pub fn propagates_measurement_sd(t: &Table) -> bool {
    t.get(CRACK_FRACTION_SD).is_some()
}

/// Depth profile of the particle table `t`: windows of `window_um` along z
/// over [0, `thickness_um`], from particle centroids.
///
/// Parameters
/// ----------
/// t : particle table with `centroid_z_um` (µm), `damage_class` and
///     `crack_fraction` (dimensionless, 0–1); optionally
///     [`CRACK_FRACTION_SD`] (standard error of the crack fraction).
/// thickness_um : electrode thickness (µm); z = 0 is the separator.
/// window_um : window length along z (µm).
/// extra : an optional column to average per window (e.g. `mean_soc`).
/// boot : bootstrap resamples of the 95 % intervals.
/// seed : seed of the bootstrap (same seed, same intervals, any thread count).
/// thresholds : (mild, severe) crack-fraction thresholds of the damage
///     classes (see [`DamageClass::of`]).
///
/// Returns
/// -------
/// One [`DepthWindow`] per window. Point estimates come from the table.
/// With [`CRACK_FRACTION_SD`], each bootstrap resample also perturbs each
/// drawn particle's crack fraction by a Gaussian draw of its sd (clamped to
/// [0, 1]) and re-derives its class from `thresholds`, so the intervals of
/// the mean crack fraction and of the class fractions carry the measurement
/// uncertainty; a particle whose sd is zero or not finite keeps its value and
/// its class from the table. Without the column, plain percentile bootstrap.
///
/// Errors
/// ------
/// Non-positive `window_um` or `thickness_um`; a missing or mistyped column.
pub fn depth_profile(
    t: &Table,
    thickness_um: f64,
    window_um: f64,
    extra: Option<&str>,
    boot: usize,
    seed: u64,
    thresholds: (f64, f64),
) -> Result<Vec<DepthWindow>> {
    if !(window_um > 0.0 && thickness_um > 0.0) {
        return Err(chemomech_core::Error::param("depth window and thickness must be positive"));
    }
    let z = t.f64("centroid_z_um")?;
    let cls = t.str("damage_class")?;
    let cf = t.f64("crack_fraction")?;
    let sd = if propagates_measurement_sd(t) { Some(t.f64(CRACK_FRACTION_SD)?) } else { None };
    let ex = match extra {
        Some(c) if t.get(c).is_some() => Some(t.f64(c)?),
        _ => None,
    };
    let n = (thickness_um / window_um).ceil().max(1.0) as usize;
    let mut out = Vec::with_capacity(n);
    for w in 0..n {
        let (a, b) = (w as f64 * window_um, ((w + 1) as f64 * window_um).min(thickness_um));
        let idx: Vec<usize> = (0..z.len()).filter(|&i| z[i] >= a && (z[i] < b || (w + 1 == n && z[i] <= b))).collect();
        let ps: Vec<Particle> = idx
            .iter()
            .map(|&i| Particle {
                cf: cf[i],
                sd: sd.as_ref().map_or(0.0, |s| s[i]),
                class: ["least", "mild", "severe"].iter().position(|c| *c == cls[i]),
            })
            .collect();
        let ind = |k: usize| -> Vec<f64> { ps.iter().map(|p| (p.class == Some(k)) as u8 as f64).collect() };
        let (l, m, s) = (ind(0), ind(1), ind(2));
        let c: Vec<f64> = ps.iter().map(|p| p.cf).collect();
        let ci = |value: Resampled, sub_seed: u64| match sd {
            Some(_) => bootstrap_ci_with(ps.len(), |i, g| value.of(&ps[i], thresholds, g), mean, boot, sub_seed),
            None => bootstrap_ci(&ps.iter().map(|p| value.of_table(p)).collect::<Vec<_>>(), mean, boot, sub_seed),
        };
        out.push(DepthWindow {
            z_from_um: a,
            z_to_um: b,
            particles: idx.len(),
            fraction_least: mean(&l),
            fraction_mild: mean(&m),
            fraction_severe: mean(&s),
            severe_ci95: ci(Resampled::Class(2), seed ^ w as u64),
            mild_ci95: ci(Resampled::Class(1), seed ^ (w as u64) << 8),
            least_ci95: ci(Resampled::Class(0), seed ^ (w as u64) << 16),
            mean_crack_fraction: mean(&c),
            crack_fraction_ci95: ci(Resampled::CrackFraction, seed ^ (w as u64) << 24),
            mean_extra: ex.as_ref().map(|e| mean(&idx.iter().map(|&i| e[i]).collect::<Vec<_>>())),
        });
    }
    Ok(out)
}

/// A particle of a depth window, as the bootstrap sees it.
struct Particle {
    /// Crack fraction (0–1) from the table.
    cf: f64,
    /// Its standard error (0 when not measured).
    sd: f64,
    /// Damage class from the table (0 least, 1 mild, 2 severe; None otherwise).
    class: Option<usize>,
}

/// What a bootstrap resample averages: the crack fraction, or the
/// indicator of one damage class (0 least, 1 mild, 2 severe).
#[derive(Clone, Copy)]
enum Resampled {
    CrackFraction,
    Class(usize),
}

impl Resampled {
    /// The value from the table, unperturbed.
    fn of_table(self, p: &Particle) -> f64 {
        match self {
            Resampled::CrackFraction => p.cf,
            Resampled::Class(k) => (p.class == Some(k)) as u8 as f64,
        }
    }

    /// The value with the crack fraction perturbed by a Gaussian draw of its
    /// sd (clamped to [0, 1]) and the class re-derived from `thresholds`
    /// (mild, severe); the table's value where the sd is zero or not finite.
    fn of(self, p: &Particle, thresholds: (f64, f64), g: &mut ChaCha8Rng) -> f64 {
        if !(p.sd > 0.0 && p.sd.is_finite() && p.cf.is_finite()) {
            return self.of_table(p);
        }
        let z: f64 = g.sample(StandardNormal);
        let cf = (p.cf + p.sd * z).clamp(0.0, 1.0);
        match (self, p.class) {
            (Resampled::CrackFraction, _) => cf,
            // Not one of the three classes in the table: in none of them.
            (Resampled::Class(_), None) => 0.0,
            (Resampled::Class(k), Some(_)) => {
                let c = DamageClass::of(cf, thresholds.0, thresholds.1);
                ([DamageClass::Least, DamageClass::Mild, DamageClass::Severe][k] == c) as u8 as f64
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `depth_profile` as it was before the measurement sd was propagated.
    fn old_depth_profile(t: &Table, thickness_um: f64, window_um: f64, boot: usize, seed: u64) -> Vec<DepthWindow> {
        let z = t.f64("centroid_z_um").unwrap();
        let cls = t.str("damage_class").unwrap();
        let cf = t.f64("crack_fraction").unwrap();
        let n = (thickness_um / window_um).ceil().max(1.0) as usize;
        let mut out = Vec::with_capacity(n);
        for w in 0..n {
            let (a, b) = (w as f64 * window_um, ((w + 1) as f64 * window_um).min(thickness_um));
            let idx: Vec<usize> =
                (0..z.len()).filter(|&i| z[i] >= a && (z[i] < b || (w + 1 == n && z[i] <= b))).collect();
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
                mean_extra: None,
            });
        }
        out
    }

    /// `n` particles spread evenly over z in [0, 30) µm with crack fractions
    /// `cf(i)`, classed by the default thresholds; `sd` adds the column.
    fn table(n: usize, cf: impl Fn(usize) -> f64, sd: Option<f64>) -> Table {
        let mut t = Table::default();
        let c: Vec<f64> = (0..n).map(cf).collect();
        t.push("centroid_z_um", Column::F64((0..n).map(|i| 30.0 * i as f64 / n as f64).collect()), None).unwrap();
        let cls = c.iter().map(|&x| DamageClass::of(x, 0.03, 0.15).name().to_string()).collect();
        t.push("damage_class", Column::Str(cls), None).unwrap();
        t.push("crack_fraction", Column::F64(c), None).unwrap();
        if let Some(s) = sd {
            t.push(CRACK_FRACTION_SD, Column::F64(vec![s; n]), None).unwrap();
        }
        t
    }

    fn spread(i: usize) -> f64 {
        ((i * 37) % 101) as f64 / 400.0
    }

    #[test]
    fn without_the_sd_column_the_profile_is_as_before() {
        let t = table(90, spread, None);
        assert!(!propagates_measurement_sd(&t));
        let new = depth_profile(&t, 30.0, 10.0, None, 500, 7, (0.03, 0.15)).unwrap();
        assert_eq!(format!("{new:?}"), format!("{:?}", old_depth_profile(&t, 30.0, 10.0, 500, 7)));
        // The intervals are not degenerate, so the comparison means something.
        assert!(new[0].crack_fraction_ci95.1 > new[0].crack_fraction_ci95.0);
    }

    #[test]
    fn a_zero_sd_gives_the_profile_without_it() {
        let with = depth_profile(&table(90, spread, Some(0.0)), 30.0, 10.0, None, 500, 7, (0.03, 0.15)).unwrap();
        let without = depth_profile(&table(90, spread, None), 30.0, 10.0, None, 500, 7, (0.03, 0.15)).unwrap();
        assert_eq!(format!("{with:?}"), format!("{without:?}"));
    }

    #[test]
    fn a_large_sd_widens_the_crack_fraction_interval() {
        let th = (0.03, 0.15);
        let with = depth_profile(&table(90, spread, Some(0.2)), 30.0, 10.0, None, 500, 7, th).unwrap();
        let without = depth_profile(&table(90, spread, None), 30.0, 10.0, None, 500, 7, th).unwrap();
        let width = |w: &DepthWindow| w.crack_fraction_ci95.1 - w.crack_fraction_ci95.0;
        for (a, b) in with.iter().zip(&without) {
            assert!(width(a) > 1.3 * width(b), "{} vs {}", width(a), width(b));
            // Point estimates stay the table's.
            assert_eq!(a.mean_crack_fraction.to_bits(), b.mean_crack_fraction.to_bits());
        }
        // Same seed, same intervals.
        let again = depth_profile(&table(90, spread, Some(0.2)), 30.0, 10.0, None, 500, 7, th).unwrap();
        assert_eq!(format!("{with:?}"), format!("{again:?}"));
    }

    #[test]
    fn identical_particles_get_the_interval_of_their_measurement_error() {
        // 100 particles of crack fraction 0.5 ± 0.05 in one window: resampling
        // alone gives a zero-width interval; with the sd the mean of a resample
        // is normal with sd 0.05 / √100, so the interval is 0.5 ± 1.96 × 0.005.
        let t = table(100, |_| 0.5, Some(0.05));
        let w = &depth_profile(&t, 30.0, 30.0, None, 4000, 3, (0.03, 0.15)).unwrap()[0];
        let half = (w.crack_fraction_ci95.1 - w.crack_fraction_ci95.0) / 2.0;
        assert!((half / 0.0098 - 1.0).abs() < 0.1, "half-width {half}");
        assert!((w.crack_fraction_ci95.0 + w.crack_fraction_ci95.1 - 1.0).abs() < 0.003);
        let plain = &depth_profile(&table(100, |_| 0.5, None), 30.0, 30.0, None, 4000, 3, (0.03, 0.15)).unwrap()[0];
        assert_eq!(plain.crack_fraction_ci95, (0.5, 0.5));
    }

    #[test]
    fn classes_are_rederived_from_the_perturbed_crack_fraction() {
        // All on the severe threshold with sd 0.05: each resampled particle is
        // severe or mild with probability 1/2, so the severe fraction of a
        // resample of 100 is Binomial(100, 1/2) / 100: interval ≈ 0.5 ± 0.098
        // (mild a little less: 0.8 % fall below the mild threshold).
        let t = table(100, |_| 0.15, Some(0.05));
        let w = &depth_profile(&t, 30.0, 30.0, None, 4000, 3, (0.03, 0.15)).unwrap()[0];
        assert_eq!(w.fraction_severe, 1.0);
        let (lo, hi) = w.severe_ci95;
        assert!((0.37..=0.44).contains(&lo) && (0.56..=0.63).contains(&hi), "{lo} {hi}");
        let (lo, hi) = w.mild_ci95;
        assert!((0.37..=0.44).contains(&lo) && (0.56..=0.63).contains(&hi), "{lo} {hi}");
        // Below the mild threshold: P(z < -2.4) ≈ 0.8 %.
        assert!(w.least_ci95.0 == 0.0 && w.least_ci95.1 <= 0.03, "{:?}", w.least_ci95);
    }
}
