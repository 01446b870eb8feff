//! Trainable voxel classification (as ilastik's pixel classification): a
//! bank of filter responses per voxel — Gaussian, Laplacian of Gaussian,
//! gradient magnitude, difference of Gaussians, and the eigenvalues of the
//! Hessian and of the structure tensor, at several scales — and a random
//! forest (smartcore) trained on sparsely labelled voxels. Features are
//! computed in z-slabs with a halo, so memory stays bounded.

use chemomech_core::{Error, Result};
use chemomech_imgproc::filters::{gaussian, gaussian_derivative};
use ndarray::{Array3, ArrayView3, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Feature-bank settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBank {
    /// Scales (σ, µm).
    pub sigmas_um: Vec<f64>,
}

impl FeatureBank {
    /// ilastik-like default scales for voxel size `v` µm: 0.7, 1.6 and 3.5 voxels.
    pub fn for_voxel(v: f64) -> Self {
        Self { sigmas_um: vec![0.7 * v, 1.6 * v, 3.5 * v] }
    }
    /// Features per voxel: the raw value plus 10 per scale.
    pub fn len(&self) -> usize {
        1 + 10 * self.sigmas_um.len()
    }
    /// Always false: the bank holds at least the raw value.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Halo (voxels) a slab needs for exact features.
    pub fn halo(&self, spacing_um: [f64; 3]) -> usize {
        let smin = spacing_um.iter().cloned().fold(f64::INFINITY, f64::min);
        (self.sigmas_um.iter().cloned().fold(0.0, f64::max) * 1.6 * 4.0 * 2.0 / smin).ceil() as usize + 1
    }
}

/// Feature images of a volume: `(feature, z, y, x)`.
pub fn features(vol: ArrayView3<f32>, bank: &FeatureBank, spacing_um: [f64; 3]) -> Vec<Array3<f32>> {
    let mut out = vec![vol.to_owned()];
    for &s in &bank.sigmas_um {
        let g = gaussian(vol, s, spacing_um);
        let g2 = gaussian(vol, 1.6 * s, spacing_um);
        let d = |o: [usize; 3]| gaussian_derivative(vol, s, spacing_um, o);
        let (hzz, hyy, hxx) = (d([2, 0, 0]), d([0, 2, 0]), d([0, 0, 2]));
        let (hzy, hzx, hyx) = (d([1, 1, 0]), d([1, 0, 1]), d([0, 1, 1]));
        let (gz, gy, gx) = (d([1, 0, 0]), d([0, 1, 0]), d([0, 0, 1]));
        let log = &hzz + &hyy + &hxx;
        let gm = ndarray::Zip::from(&gz).and(&gy).and(&gx).map_collect(|a, b, c| (a * a + b * b + c * c).sqrt());
        let dog = &g - &g2;
        // Structure tensor: products of first derivatives smoothed at 2σ.
        let st = |a: &Array3<f32>, b: &Array3<f32>| gaussian((a * b).view(), 2.0 * s, spacing_um);
        let (szz, syy, sxx, szy, szx, syx) =
            (st(&gz, &gz), st(&gy, &gy), st(&gx, &gx), st(&gz, &gy), st(&gz, &gx), st(&gy, &gx));
        let eig = |a: [&Array3<f32>; 6]| -> [Array3<f32>; 3] {
            let mut e =
                [Array3::<f32>::zeros(vol.dim()), Array3::<f32>::zeros(vol.dim()), Array3::<f32>::zeros(vol.dim())];
            let (nz, ny, nx) = vol.dim();
            let vals: Vec<[f32; 3]> = (0..nz * ny * nx)
                .into_par_iter()
                .map(|i| {
                    let (z, y, x) = (i / (ny * nx), (i / nx) % ny, i % nx);
                    let m = |k: usize| a[k][[z, y, x]] as f64;
                    let ev = chemomech_core::math::sym3_eigenvalues([
                        [m(0), m(3), m(4)],
                        [m(3), m(1), m(5)],
                        [m(4), m(5), m(2)],
                    ]);
                    [ev[0] as f32, ev[1] as f32, ev[2] as f32]
                })
                .collect();
            for (i, v) in vals.into_iter().enumerate() {
                let (z, y, x) = (i / (ny * nx), (i / nx) % ny, i % nx);
                for k in 0..3 {
                    e[k][[z, y, x]] = v[k];
                }
            }
            e
        };
        let he = eig([&hzz, &hyy, &hxx, &hzy, &hzx, &hyx]);
        let se = eig([&szz, &syy, &sxx, &szy, &szx, &syx]);
        out.push(g);
        out.push(log);
        out.push(gm);
        out.push(dog);
        out.extend(he);
        out.extend(se);
    }
    out
}

/// A trained classifier with its feature settings (serialisable).
#[derive(Serialize, Deserialize)]
pub struct VoxelClassifier {
    /// Feature-bank settings the classifier was trained with.
    pub bank: FeatureBank,
    /// Voxel spacing (z, y, x) in µm the classifier was trained with
    /// (`spacing` in models saved before the name carried its unit).
    #[serde(alias = "spacing")]
    pub spacing_um: [f64; 3],
    /// Label values (as in the training labels) per class index.
    pub classes: Vec<u8>,
    forest: RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>,
}

/// Trains on the voxels of `labels` that are non-zero (0 = unlabelled).
/// At most `max_samples` labelled voxels are used (evenly subsampled).
pub fn train(
    vol: ArrayView3<f32>,
    labels: ArrayView3<u8>,
    spacing_um: [f64; 3],
    bank: FeatureBank,
    trees: u16,
    seed: u64,
    max_samples: usize,
) -> Result<VoxelClassifier> {
    if vol.dim() != labels.dim() {
        return Err(Error::shape(format!(
            "training labels {:?} do not match the volume {:?}",
            labels.dim(),
            vol.dim()
        )));
    }
    let picks: Vec<(usize, usize, usize, u8)> =
        labels.indexed_iter().filter(|(_, l)| **l > 0).map(|((z, y, x), &l)| (z, y, x, l)).collect();
    let mut classes: Vec<u8> = picks.iter().map(|p| p.3).collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(Error::data("training labels must mark at least two classes (0 = unlabelled)"));
    }
    let step = (picks.len() / max_samples.max(1)).max(1);
    let picks: Vec<_> = picks.into_iter().step_by(step).collect();
    let feats = features(vol, &bank, spacing_um);
    let rows: Vec<Vec<f64>> =
        picks.iter().map(|&(z, y, x, _)| feats.iter().map(|f| f[[z, y, x]] as f64).collect()).collect();
    // The forest cannot split on NaN (smartcore indexes out of bounds).
    if let Some((r, k)) =
        rows.iter().enumerate().find_map(|(r, row)| row.iter().position(|v| !v.is_finite()).map(|k| (r, k)))
    {
        let (z, y, x, _) = picks[r];
        return Err(Error::data(format!(
            "feature {k} is not finite at annotated voxel (z {z}, y {y}, x {x}): does the volume hold NaN or infinite values?"
        )));
    }
    let y: Vec<u32> = picks.iter().map(|p| classes.iter().position(|&c| c == p.3).expect("known") as u32).collect();
    let x = DenseMatrix::from_2d_vec(&rows).map_err(|e| Error::data(format!("training matrix: {e}")))?;
    let params = RandomForestClassifierParameters { n_trees: trees, seed, max_depth: Some(16), ..Default::default() };
    let forest = RandomForestClassifier::fit(&x, &y, params).map_err(|e| Error::data(format!("random forest: {e}")))?;
    Ok(VoxelClassifier { bank, spacing_um, classes, forest })
}

impl VoxelClassifier {
    /// Classifies every voxel; returns the label values of the training classes.
    pub fn predict(&self, vol: ArrayView3<f32>) -> Result<Array3<u8>> {
        let (nz, ny, nx) = vol.dim();
        let halo = self.bank.halo(self.spacing_um).min(nz);
        let slab = 16usize;
        let mut out = Array3::<u8>::zeros((nz, ny, nx));
        let mut z = 0;
        while z < nz {
            let z1 = (z + slab).min(nz);
            let (a, b) = (z.saturating_sub(halo), (z1 + halo).min(nz));
            let feats = features(vol.slice(s![a..b, .., ..]), &self.bank, self.spacing_um);
            let n = (z1 - z) * ny * nx;
            let preds: Vec<u32> = (0..n)
                .collect::<Vec<_>>()
                .par_chunks(4096)
                .map(|chunk| -> Result<Vec<u32>> {
                    let rows: Vec<Vec<f64>> = chunk
                        .iter()
                        .map(|&i| {
                            let (zz, y, x) = (i / (ny * nx) + z - a, (i / nx) % ny, i % nx);
                            feats.iter().map(|f| f[[zz, y, x]] as f64).collect()
                        })
                        .collect();
                    let m = DenseMatrix::from_2d_vec(&rows).map_err(|e| Error::data(format!("{e}")))?;
                    self.forest.predict(&m).map_err(|e| Error::data(format!("random forest: {e}")))
                })
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            for (i, p) in preds.into_iter().enumerate() {
                let (zz, y, x) = (i / (ny * nx) + z, (i / nx) % ny, i % nx);
                out[[zz, y, x]] = self.classes[p as usize];
            }
            z = z1;
        }
        Ok(out)
    }
    /// Serialises to JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::data(format!("model: {e}")))
    }
    /// Reads from JSON.
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::data(format!("not a chemomech voxel classifier: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn learns_three_phases_from_sparse_labels() {
        // Three phases by intensity and texture, with noise.
        let truth = Array3::from_shape_fn((24, 24, 24), |(z, y, x)| {
            let d = ((z as f64 - 12.0).powi(2) + (y as f64 - 12.0).powi(2) + (x as f64 - 12.0).powi(2)).sqrt();
            if d < 6.0 {
                3u8
            } else if d < 9.0 {
                2
            } else {
                1
            }
        });
        let vol = truth.mapv(|t| t as f32 * 10.0)
            + Array3::from_shape_fn((24, 24, 24), |(z, y, x)| (((z * 7 + y * 13 + x * 17) % 11) as f32 - 5.0) * 0.8);
        let mut labels = Array3::<u8>::zeros(truth.dim());
        for ((z, y, x), &t) in truth.indexed_iter() {
            if (z + y + x) % 9 == 0 {
                labels[[z, y, x]] = t;
            }
        }
        let m = train(vol.view(), labels.view(), [1.0; 3], FeatureBank::for_voxel(1.0), 20, 1, 5000).unwrap();
        let back = VoxelClassifier::from_json(&m.to_json().unwrap()).unwrap();
        let pred = back.predict(vol.view()).unwrap();
        let acc = pred.iter().zip(truth.iter()).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
        assert!(acc > 0.95, "accuracy {acc}");
    }
    #[test]
    fn flat_regions_train_and_nan_is_an_error() {
        // Exact zeros (vacuum pores of a simulated μ volume) once gave the
        // Hessian eigenvalues 0/0 = NaN, on which the forest panicked.
        let vol =
            Array3::from_shape_fn(
                (16, 16, 16),
                |(z, y, x)| if x < 8 { 0.0 } else { 5.0 + ((z * 7 + y * 13 + x * 17) % 5) as f32 },
            );
        let labels =
            Array3::from_shape_fn(
                vol.dim(),
                |(z, y, x)| if (z + y) % 4 == 0 && x % 3 == 0 { 1 + (x >= 8) as u8 } else { 0 },
            );
        let m = train(vol.view(), labels.view(), [1.0; 3], FeatureBank::for_voxel(1.0), 5, 1, 5000).unwrap();
        assert_eq!(m.predict(vol.view()).unwrap()[[3, 3, 1]], 1);
        let mut bad = vol.clone();
        bad[[0, 0, 0]] = f32::NAN;
        let e = train(bad.view(), labels.view(), [1.0; 3], FeatureBank::for_voxel(1.0), 5, 1, 5000)
            .err()
            .expect("NaN is refused")
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }
}
