//! From the active (solid) phase to one label per particle envelope: fill
//! the cracks (closing by a ball of the widest crack's half-width, then
//! cavities), split touching particles by a watershed on the distance map
//! from h-maxima markers (peaks shallower than `h` — surface roughness,
//! crack remnants — do not seed particles), and finally re-close each
//! particle on its own so that crevices between neighbours are not counted
//! as cracks. Labels cover each particle's solid plus its internal cracks.

use crate::edt::edt;
use crate::label::{label, renumber, Connectivity};
use crate::morph::{close, fill_holes, h_maxima};
use crate::watershed::watershed_from_peaks;
use ndarray::{s, Array3, ArrayView3};
use rayon::prelude::*;

/// Separation settings (lengths in µm).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeparateParams {
    pub spacing_um: [f64; 3],
    /// Closing radius: cracks up to about twice this wide are filled.
    pub crack_close_um: f64,
    /// Minimum dynamic of a distance-map peak to seed a particle.
    pub h_um: f64,
    /// Split touching particles (watershed); else connected components.
    pub split: bool,
    pub connectivity: Connectivity,
    /// Particles smaller than this (µm³) are dropped.
    pub min_volume_um3: f64,
}

impl SeparateParams {
    /// Defaults for voxel size `v` µm: close cracks up to ~4 voxels wide;
    /// seed a particle at every distance-map peak 0.75 voxel above its
    /// saddle (simulated electrode, seed 1: one-to-one matches with the
    /// truth rose from 87 % to 93 % on true phases and from 81 % to 87 % on
    /// a reconstruction, compared with 1.5 voxels).
    pub fn for_voxel(spacing_um: [f64; 3]) -> Self {
        let v = spacing_um.iter().cloned().fold(0.0, f64::max);
        Self { spacing_um, crack_close_um: 2.0 * v, h_um: 0.75 * v, split: true, connectivity: Connectivity::C26, min_volume_um3: 8.0 * v * v * v }
    }
}

/// What separation did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeparateReport {
    pub components_before_split: u32,
    pub markers: u32,
    pub particles: u32,
    pub dropped_small: u32,
}

/// Labels particle envelopes in the active phase `solid`.
pub fn separate(solid: ArrayView3<bool>, p: &SeparateParams) -> (Array3<u32>, SeparateReport) {
    let mut rep = SeparateReport::default();
    let filled = fill_holes(close(solid, p.crack_close_um, p.spacing_um).view());
    let (comp, ncomp) = label(filled.view(), p.connectivity);
    rep.components_before_split = ncomp;
    let regions = if p.split {
        let dist = edt(filled.view(), p.spacing_um);
        let peaks = h_maxima(dist.view(), p.h_um as f32);
        let (markers, nm) = label(peaks.view(), Connectivity::C26);
        rep.markers = nm;
        watershed_from_peaks(dist.view(), markers.view(), filled.view(), Connectivity::C26)
    } else {
        comp
    };
    // Per particle: its own closing, so cracks are filled but the crevices
    // shared with a neighbour (which the global closing bridged) are not.
    let n = regions.iter().cloned().max().unwrap_or(0) as usize;
    let mut bbox = vec![[usize::MAX, usize::MAX, usize::MAX, 0, 0, 0]; n + 1];
    for ((z, y, x), &l) in regions.indexed_iter() {
        if l > 0 {
            let b = &mut bbox[l as usize];
            b[0] = b[0].min(z);
            b[1] = b[1].min(y);
            b[2] = b[2].min(x);
            b[3] = b[3].max(z);
            b[4] = b[4].max(y);
            b[5] = b[5].max(x);
        }
    }
    let (nz, ny, nx) = solid.dim();
    let margin = [0, 1, 2].map(|a| (p.crack_close_um / p.spacing_um[a]).ceil() as usize + 1);
    let voxel = p.spacing_um.iter().product::<f64>();
    let min_vox = (p.min_volume_um3 / voxel).ceil() as usize;
    let parts: Vec<(u32, Vec<(usize, usize, usize)>)> = (1..=n)
        .into_par_iter()
        .filter(|&l| bbox[l][0] != usize::MAX)
        .map(|l| {
            let b = bbox[l];
            let (z0, y0, x0) = (b[0].saturating_sub(margin[0]), b[1].saturating_sub(margin[1]), b[2].saturating_sub(margin[2]));
            let (z1, y1, x1) = ((b[3] + margin[0] + 1).min(nz), (b[4] + margin[1] + 1).min(ny), (b[5] + margin[2] + 1).min(nx));
            let reg = regions.slice(s![z0..z1, y0..y1, x0..x1]);
            let sol = solid.slice(s![z0..z1, y0..y1, x0..x1]);
            let own = ndarray::Zip::from(&reg).and(&sol).map_collect(|&r, &s| r == l as u32 && s);
            let env = fill_holes(close(own.view(), p.crack_close_um, p.spacing_um).view());
            let mut v = Vec::new();
            for ((z, y, x), &e) in env.indexed_iter() {
                if e && reg[[z, y, x]] == l as u32 {
                    v.push((z + z0, y + y0, x + x0));
                }
            }
            (l as u32, v)
        })
        .collect();
    let mut out = chemomech_core::bigmem::filled((nz, ny, nx), 0u32);
    for (l, vox) in parts {
        if vox.len() < min_vox {
            rep.dropped_small += 1;
            continue;
        }
        for (z, y, x) in vox {
            out[[z, y, x]] = l;
        }
    }
    rep.particles = renumber(&mut out);
    (out, rep)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn splits_touching_spheres_but_not_a_cracked_one() {
        let ball = |c: (f64, f64, f64), r: f64, p: (usize, usize, usize)| ((p.0 as f64 - c.0).powi(2) + (p.1 as f64 - c.1).powi(2) + (p.2 as f64 - c.2).powi(2)) <= r * r;
        let solid = Array3::from_shape_fn((30, 30, 50), |(z, y, x)| {
            let two = ball((15.0, 15.0, 12.0), 8.0, (z, y, x)) || ball((15.0, 15.0, 27.0), 8.0, (z, y, x));
            // A third sphere with a 1-voxel planar crack through its middle.
            let cracked = ball((15.0, 15.0, 41.0), 7.0, (z, y, x)) && y != 15;
            two || cracked
        });
        let p = SeparateParams::for_voxel([1.0; 3]);
        let (lab, rep) = separate(solid.view(), &p);
        assert_eq!(rep.particles, 3, "{rep:?}");
        // The crack lies inside the third particle's envelope.
        assert!(lab[[15, 15, 41]] > 0 && lab[[15, 15, 41]] == lab[[15, 10, 41]]);
        // The crevice between the touching pair stays outside both.
        assert_eq!(lab[[15, 19, 19]], 0);
    }
}
