//! Chemistry per particle: statistics of a chemical map (SoC, edge
//! energy, …) inside each labelled particle, its profile against the
//! distance to the particle surface (core–shell), and the valence-gradient
//! orientation of Yang & Lin (2021): at every pixel, the angle between the
//! local gradient of the map and the vector to the particle's centroid —
//! near 0° when the core is more oxidised than the surface, near 180° when
//! the surface is (the usual signature of surface-first delithiation).
//!
//! Works on 3-D label volumes and on 2-D maps given as one-slice volumes.

use chemomech_core::{Error, Result};
use ndarray::{Array3, ArrayView3, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Parameters of [`particle_chemistry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParticleChemParams {
    /// Width of the distance-to-surface bins (µm).
    pub shell_bin_um: f64,
    /// Number of distance bins.
    pub shell_bins: usize,
    /// Gaussian σ for the map gradient (µm).
    pub gradient_sigma_um: f64,
    /// Pixels whose gradient magnitude is below this fraction of the
    /// particle's median gradient are left out of the angle statistics.
    pub min_gradient_fraction: f64,
    /// Particles with fewer valid pixels are reported without statistics.
    pub min_pixels: usize,
}

impl Default for ParticleChemParams {
    fn default() -> Self {
        Self { shell_bin_um: 0.5, shell_bins: 12, gradient_sigma_um: 0.5, min_gradient_fraction: 0.25, min_pixels: 10 }
    }
}

/// One particle's chemistry.
#[derive(Debug, Clone, Serialize)]
pub struct ParticleChem {
    /// Particle label.
    pub label: u32,
    /// Pixels of the particle, and those with a finite map value.
    pub pixels: usize,
    /// Pixels with a finite map value.
    pub valid: usize,
    /// Mean map value over the valid pixels.
    pub mean: f64,
    /// Standard deviation of the valid map values.
    pub std: f64,
    /// Median of the valid map values.
    pub median: f64,
    /// Mean value within the outer bin (surface) and beyond the outermost
    /// third of the largest depth (core); `core − surface`.
    pub surface_mean: f64,
    /// Mean value in the core (depth beyond two thirds of the particle's largest depth).
    pub core_mean: f64,
    /// Core mean minus surface mean.
    pub core_minus_surface: f64,
    /// Mean value per distance-to-surface bin (NaN where empty).
    pub shell_profile: Vec<f64>,
    /// Valence-gradient angles (degrees): count, mean, median, mean cosine,
    /// fraction below 90° (gradient toward the centroid: core more oxidised).
    pub gradient_pixels: usize,
    /// Mean valence-gradient angle (degrees).
    pub angle_mean_deg: f64,
    /// Median valence-gradient angle (degrees).
    pub angle_median_deg: f64,
    /// Mean cosine of the valence-gradient angles.
    pub angle_mean_cos: f64,
    /// Fraction of angles below 90° (gradient toward the centroid).
    pub fraction_toward_centre: f64,
    /// Histogram of angles in 10° bins (0–180°).
    pub angle_histogram: Vec<u32>,
}

/// Per-particle results and the pooled core–shell profile.
#[derive(Debug, Clone, Serialize)]
pub struct ParticleChemistry {
    /// Chemistry of every particle present, in label order.
    pub particles: Vec<ParticleChem>,
    /// Bin centres (µm from the surface).
    pub shell_bins_um: Vec<f64>,
    /// Pooled over all particles: mean, standard deviation and count per bin.
    pub shell_mean: Vec<f64>,
    /// Pooled standard deviation per bin.
    pub shell_std: Vec<f64>,
    /// Pooled count of valid values per bin.
    pub shell_count: Vec<u64>,
    /// Pooled angle histogram (10° bins) and mean cosine.
    pub angle_histogram: Vec<u64>,
    /// Pooled mean cosine of the valence-gradient angles (weighted by gradient pixels).
    pub angle_mean_cos: f64,
}

/// Distance (µm) from every particle voxel to its particle's outer voxel
/// layer (0 on that layer): voxels touching the background or another
/// particle form the layer.
pub fn distance_to_surface(labels: ArrayView3<u32>, spacing_um: [f64; 3]) -> Array3<f32> {
    let (nz, ny, nx) = labels.dim();
    let inside = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let l = labels[[z, y, x]];
        if l == 0 {
            return false;
        }
        // Inside when every 6-neighbour (within the volume) is the same particle.
        [(-1isize, 0isize, 0isize), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)].iter().all(
            |&(dz, dy, dx)| {
                let (a, b, c) = (z as isize + dz, y as isize + dy, x as isize + dx);
                a < 0
                    || b < 0
                    || c < 0
                    || a >= nz as isize
                    || b >= ny as isize
                    || c >= nx as isize
                    || labels[[a as usize, b as usize, c as usize]] == l
            },
        )
    });
    let mut d = chemomech_imgproc::edt(inside.view(), spacing_um);
    Zip::from(&mut d).and(&labels).for_each(|d, &l| {
        if l == 0 {
            *d = 0.0;
        }
    });
    d
}

/// Chemistry of each particle of `labels` from the map `value` (same
/// shape; NaN = no measurement), with voxel `spacing` in µm (z, y, x).
///
/// ```
/// use ndarray::Array3;
/// // One disc whose SoC rises toward its surface (shell oxidised).
/// let lab = Array3::from_shape_fn((1, 41, 41), |(_, y, x)| (((y as f64 - 20.0).powi(2) + (x as f64 - 20.0).powi(2)).sqrt() < 15.0) as u32);
/// let soc = Array3::from_shape_fn((1, 41, 41), |(_, y, x)| (0.3 + 0.03 * ((y as f64 - 20.0).powi(2) + (x as f64 - 20.0).powi(2)).sqrt()) as f32);
/// let r = chemomech_xas::particle::particle_chemistry(lab.view(), soc.view(), [1.0; 3], &Default::default()).unwrap();
/// let p = &r.particles[0];
/// assert!(p.core_minus_surface < -0.2 && p.angle_mean_deg > 150.0);
/// ```
pub fn particle_chemistry(
    labels: ArrayView3<u32>,
    value: ArrayView3<f32>,
    spacing_um: [f64; 3],
    p: &ParticleChemParams,
) -> Result<ParticleChemistry> {
    check_inputs(labels, value, spacing_um, p)?;
    let nlab = labels.iter().copied().max().unwrap_or(0) as usize;
    let dist = distance_to_surface(labels, spacing_um);
    let gradient = map_gradient(labels, value, spacing_um, p.gradient_sigma_um);
    let centroids = centroid_sums(labels, nlab);
    let per = gather_voxels(labels, value, dist.view(), &gradient, nlab);
    let particles: Vec<ParticleChem> = (1..=nlab)
        .into_par_iter()
        .filter(|&l| centroids[l].n > 0.0)
        .map(|l| one_particle(l as u32, &per[l], centroids[l].centroid(), spacing_um, p))
        .collect();
    let pooled = pooled_profile(labels, value, dist.view(), p);
    let (hist, angle_mean_cos) = pooled_angles(&particles);
    Ok(ParticleChemistry {
        particles,
        shell_bins_um: (0..p.shell_bins).map(|b| (b as f64 + 0.5) * p.shell_bin_um).collect(),
        shell_mean: pooled.mean,
        shell_std: pooled.std,
        shell_count: pooled.count,
        angle_histogram: hist,
        angle_mean_cos,
    })
}

/// Rejects maps of another shape, bad bins or σ, and non-positive spacing.
fn check_inputs(
    labels: ArrayView3<u32>,
    value: ArrayView3<f32>,
    spacing_um: [f64; 3],
    p: &ParticleChemParams,
) -> Result<()> {
    if labels.dim() != value.dim() {
        return Err(Error::shape(format!("labels {:?} and map {:?} differ in shape", labels.dim(), value.dim())));
    }
    if !(p.shell_bin_um > 0.0) || p.shell_bins == 0 || p.shell_bins > 10_000 || !(p.gradient_sigma_um >= 0.0) {
        return Err(Error::param("shell_bin_um and shell_bins must be positive, gradient_sigma_um ≥ 0"));
    }
    if spacing_um.iter().any(|s| !(*s > 0.0)) {
        return Err(Error::param(format!("voxel spacing must be positive, got {spacing_um:?}")));
    }
    Ok(())
}

/// The map's gradient along the axes used (y, x for one-slice volumes).
struct MapGradient {
    /// The axes differentiated.
    axes: Vec<usize>,
    /// One derivative volume per axis in `axes`.
    grads: Vec<Array3<f32>>,
}

impl MapGradient {
    /// The gradient (z, y, x) at a voxel (0 along axes not differentiated).
    fn at(&self, z: usize, y: usize, x: usize) -> [f32; 3] {
        let mut gr = [0.0f32; 3];
        for (i, &ax) in self.axes.iter().enumerate() {
            gr[ax] = self.grads[i][[z, y, x]];
        }
        gr
    }
}

/// Gradient by normalised convolution over measured particle voxels, so
/// that neither the background nor NaN pixels bend it at the surface.
fn map_gradient(labels: ArrayView3<u32>, value: ArrayView3<f32>, spacing_um: [f64; 3], sigma_um: f64) -> MapGradient {
    let w = Zip::from(&labels).and(&value).map_collect(|&l, &v| if l > 0 && v.is_finite() { 1.0f32 } else { 0.0 });
    let vw = Zip::from(&w).and(&value).map_collect(|&w, &v| if w > 0.0 { v } else { 0.0 });
    let flat_z = labels.dim().0 == 1;
    let g = |a: &Array3<f32>, o: [usize; 3]| {
        chemomech_imgproc::filters::gaussian_derivative(a.view(), sigma_um, spacing_um, o)
    };
    let (n0, d0) = (g(&vw, [0, 0, 0]), g(&w, [0, 0, 0]));
    let axes: Vec<usize> = if flat_z { vec![1, 2] } else { vec![0, 1, 2] };
    let grads: Vec<Array3<f32>> =
        axes.iter()
            .map(|&ax| {
                let mut o = [0, 0, 0];
                o[ax] = 1;
                let (n1, d1) = (g(&vw, o), g(&w, o));
                Zip::from(&n1).and(&d1).and(&n0).and(&d0).map_collect(|&n1, &d1, &n0, &d0| {
                    if d0 > 1e-3 { (n1 * d0 - n0 * d1) / (d0 * d0) } else { f32::NAN }
                })
            })
            .collect();
    MapGradient { axes, grads }
}

/// Sums of a particle's voxel indices, for its centroid.
#[derive(Clone, Copy, Default)]
struct CentroidSum {
    /// Sums of the z, y and x indices.
    sum: [f64; 3],
    /// Number of voxels.
    n: f64,
}

impl CentroidSum {
    /// The centroid (z, y, x) in voxels.
    fn centroid(&self) -> [f64; 3] {
        [self.sum[0] / self.n, self.sum[1] / self.n, self.sum[2] / self.n]
    }
}

/// Centroid sums of labels 0..=nlab.
fn centroid_sums(labels: ArrayView3<u32>, nlab: usize) -> Vec<CentroidSum> {
    let mut sums = vec![CentroidSum::default(); nlab + 1];
    for ((z, y, x), &l) in labels.indexed_iter() {
        if l > 0 {
            let s = &mut sums[l as usize];
            s.sum[0] += z as f64;
            s.sum[1] += y as f64;
            s.sum[2] += x as f64;
            s.n += 1.0;
        }
    }
    sums
}

/// One particle voxel: map value, distance to the surface, position and gradient.
struct Voxel {
    v: f32,
    d: f32,
    pos: [f32; 3],
    grad: [f32; 3],
}

/// Every particle's voxels, by label, in volume order.
fn gather_voxels(
    labels: ArrayView3<u32>,
    value: ArrayView3<f32>,
    dist: ArrayView3<f32>,
    gradient: &MapGradient,
    nlab: usize,
) -> Vec<Vec<Voxel>> {
    let mut per: Vec<Vec<Voxel>> = (0..=nlab).map(|_| Vec::new()).collect();
    for ((z, y, x), &l) in labels.indexed_iter() {
        if l == 0 {
            continue;
        }
        per[l as usize].push(Voxel {
            v: value[[z, y, x]],
            d: dist[[z, y, x]],
            pos: [z as f32, y as f32, x as f32],
            grad: gradient.at(z, y, x),
        });
    }
    per
}

/// A running sum and count, for a mean.
#[derive(Clone, Copy, Default)]
struct MeanSum {
    sum: f64,
    n: usize,
}

impl MeanSum {
    /// Adds one value.
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }
}

/// The chemistry of particle `label` from its voxels `vx` and centroid `c`.
fn one_particle(label: u32, vx: &[Voxel], c: [f64; 3], spacing_um: [f64; 3], p: &ParticleChemParams) -> ParticleChem {
    let vals: Vec<f64> = vx.iter().filter(|v| v.v.is_finite()).map(|v| v.v as f64).collect();
    let n = vals.len();
    let nanv = f64::NAN;
    let mut pc = ParticleChem {
        label,
        pixels: vx.len(),
        valid: n,
        mean: nanv,
        std: nanv,
        median: nanv,
        surface_mean: nanv,
        core_mean: nanv,
        core_minus_surface: nanv,
        shell_profile: vec![nanv; p.shell_bins],
        gradient_pixels: 0,
        angle_mean_deg: nanv,
        angle_median_deg: nanv,
        angle_mean_cos: nanv,
        fraction_toward_centre: nanv,
        angle_histogram: vec![0; 18],
    };
    if n < p.min_pixels.max(1) {
        return pc;
    }
    let mean = vals.iter().sum::<f64>() / n as f64;
    pc.mean = mean;
    pc.std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64).sqrt();
    let mut s = vals.clone();
    s.sort_by(f64::total_cmp);
    pc.median = if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) };
    shell_statistics(&mut pc, vx, p);
    let angles = gradient_angles(vx, c, spacing_um, p);
    if !angles.is_empty() {
        angle_statistics(&mut pc, &angles);
    }
    pc
}

/// The particle's shell profile and its surface and core means.
fn shell_statistics(pc: &mut ParticleChem, vx: &[Voxel], p: &ParticleChemParams) {
    let nb = p.shell_bins;
    let mut bins = vec![MeanSum::default(); nb];
    let dmax = vx.iter().map(|v| v.d).fold(0.0f32, f32::max) as f64;
    let (mut surface, mut core) = (MeanSum::default(), MeanSum::default());
    for v in vx.iter().filter(|v| v.v.is_finite()) {
        let b = ((v.d as f64) / p.shell_bin_um) as usize;
        if b < nb {
            bins[b].add(v.v as f64);
        }
        if (v.d as f64) < p.shell_bin_um {
            surface.add(v.v as f64);
        }
        if (v.d as f64) > dmax * 2.0 / 3.0 {
            core.add(v.v as f64);
        }
    }
    pc.shell_profile = bins.iter().map(|m| if m.n > 0 { m.sum / m.n as f64 } else { f64::NAN }).collect();
    if surface.n > 0 && core.n > 0 && dmax > 2.0 * p.shell_bin_um {
        pc.surface_mean = surface.sum / surface.n as f64;
        pc.core_mean = core.sum / core.n as f64;
        pc.core_minus_surface = pc.core_mean - pc.surface_mean;
    }
}

/// Cosines of the valence-gradient angles: between the map gradient and the
/// vector to the centroid `c`, at voxels whose gradient is strong enough
/// (empty when too few voxels have a gradient).
fn gradient_angles(vx: &[Voxel], c: [f64; 3], spacing_um: [f64; 3], p: &ParticleChemParams) -> Vec<f64> {
    let mags: Vec<f64> =
        vx.iter().map(|v| (v.grad[0] as f64).hypot(v.grad[1] as f64).hypot(v.grad[2] as f64)).collect();
    let mut fm: Vec<f64> = mags.iter().copied().filter(|m| m.is_finite() && *m > 0.0).collect();
    let mut angles = Vec::new();
    if fm.len() < p.min_pixels.max(1) {
        return angles;
    }
    let k = fm.len() / 2;
    let med = *fm.select_nth_unstable_by(k, f64::total_cmp).1;
    for (v, &m) in vx.iter().zip(&mags) {
        if !(m.is_finite() && m > p.min_gradient_fraction * med && m > 0.0 && v.v.is_finite()) {
            continue;
        }
        let r = [
            (c[0] - v.pos[0] as f64) * spacing_um[0],
            (c[1] - v.pos[1] as f64) * spacing_um[1],
            (c[2] - v.pos[2] as f64) * spacing_um[2],
        ];
        let rn = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
        if rn < spacing_um.iter().cloned().fold(f64::INFINITY, f64::min) {
            continue;
        }
        let cosv =
            ((v.grad[0] as f64 * r[0] + v.grad[1] as f64 * r[1] + v.grad[2] as f64 * r[2]) / (m * rn)).clamp(-1.0, 1.0);
        angles.push(cosv);
    }
    angles
}

/// The angle statistics and histogram of a particle from its angle cosines (not empty).
fn angle_statistics(pc: &mut ParticleChem, angles: &[f64]) {
    let deg: Vec<f64> = angles.iter().map(|c| c.acos().to_degrees()).collect();
    pc.gradient_pixels = deg.len();
    pc.angle_mean_deg = deg.iter().sum::<f64>() / deg.len() as f64;
    let mut ds = deg.clone();
    ds.sort_by(f64::total_cmp);
    pc.angle_median_deg = ds[ds.len() / 2];
    pc.angle_mean_cos = angles.iter().sum::<f64>() / angles.len() as f64;
    pc.fraction_toward_centre = deg.iter().filter(|&&d| d < 90.0).count() as f64 / deg.len() as f64;
    for d in deg {
        pc.angle_histogram[((d / 10.0) as usize).min(17)] += 1;
    }
}

/// The core–shell profile pooled over all particles.
struct PooledProfile {
    mean: Vec<f64>,
    std: Vec<f64>,
    count: Vec<u64>,
}

/// Sum, sum of squares and count of the values in one shell bin.
#[derive(Clone, Copy, Default)]
struct ShellSum {
    sum: f64,
    sum_sq: f64,
    n: u64,
}

/// Mean, standard deviation and count per distance bin over every measured particle voxel.
fn pooled_profile(
    labels: ArrayView3<u32>,
    value: ArrayView3<f32>,
    dist: ArrayView3<f32>,
    p: &ParticleChemParams,
) -> PooledProfile {
    let nb = p.shell_bins;
    let mut acc = vec![ShellSum::default(); nb];
    for ((&l, &v), &d) in labels.iter().zip(value.iter()).zip(dist.iter()) {
        if l > 0 && v.is_finite() {
            let b = ((d as f64) / p.shell_bin_um) as usize;
            if b < nb {
                acc[b].sum += v as f64;
                acc[b].sum_sq += (v as f64).powi(2);
                acc[b].n += 1;
            }
        }
    }
    let mean: Vec<f64> = acc.iter().map(|a| if a.n > 0 { a.sum / a.n as f64 } else { f64::NAN }).collect();
    let std = acc
        .iter()
        .zip(&mean)
        .map(
            |(a, m)| {
                if a.n > 1 { ((a.sum_sq - a.n as f64 * m * m) / (a.n - 1) as f64).max(0.0).sqrt() } else { f64::NAN }
            },
        )
        .collect();
    PooledProfile { mean, std, count: acc.iter().map(|a| a.n).collect() }
}

/// The pooled angle histogram and the mean cosine weighted by gradient pixels.
fn pooled_angles(particles: &[ParticleChem]) -> (Vec<u64>, f64) {
    let mut hist = vec![0u64; 18];
    let (mut cs, mut cn) = (0.0, 0usize);
    for pc in particles {
        for (h, &k) in hist.iter_mut().zip(&pc.angle_histogram) {
            *h += k as u64;
        }
        if pc.gradient_pixels > 0 {
            cs += pc.angle_mean_cos * pc.gradient_pixels as f64;
            cn += pc.gradient_pixels;
        }
    }
    (hist, if cn > 0 { cs / cn as f64 } else { f64::NAN })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn core_shell_and_gradient_angles_in_3d() {
        // Two touching balls: one with an oxidised core, one with an oxidised shell.
        let (nz, ny, nx) = (24, 24, 44);
        let centres = [(12.0, 12.0, 11.0), (12.0, 12.0, 31.0)];
        let lab = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
            for (i, c) in centres.iter().enumerate() {
                if ((z as f64 - c.0).powi(2) + (y as f64 - c.1).powi(2) + (x as f64 - c.2).powi(2)).sqrt() < 10.5 {
                    return i as u32 + 1;
                }
            }
            0
        });
        let soc = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
            let l = lab[[z, y, x]];
            if l == 0 {
                return f32::NAN;
            }
            let c = centres[l as usize - 1];
            let r = ((z as f64 - c.0).powi(2) + (y as f64 - c.1).powi(2) + (x as f64 - c.2).powi(2)).sqrt();
            (if l == 1 { 0.9 - 0.04 * r } else { 0.4 + 0.04 * r }) as f32
        });
        let r = particle_chemistry(
            lab.view(),
            soc.view(),
            [0.5; 3],
            &ParticleChemParams { shell_bin_um: 0.5, ..Default::default() },
        )
        .unwrap();
        let (a, b) = (&r.particles[0], &r.particles[1]);
        assert!(
            a.core_minus_surface > 0.2 && b.core_minus_surface < -0.2,
            "{} {}",
            a.core_minus_surface,
            b.core_minus_surface
        );
        assert!(a.angle_mean_deg < 30.0 && a.fraction_toward_centre > 0.9, "{}", a.angle_mean_deg);
        assert!(b.angle_mean_deg > 150.0 && b.fraction_toward_centre < 0.1, "{}", b.angle_mean_deg);
        // Profiles follow r = R − d: particle 1 decreases outward.
        assert!(a.shell_profile[0] < a.shell_profile[8]);
        assert!((a.mean - b.mean).abs() < 0.5);
        assert!(
            particle_chemistry(lab.view(), soc.slice(ndarray::s![..2, .., ..]), [1.0; 3], &Default::default()).is_err()
        );
    }
}
