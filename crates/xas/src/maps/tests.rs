//! Tests of the maps: recovery on a synthetic stack, thread independence,
//! the chunk kernel against the scalar reference, and bad inputs.

use super::driver::MapFields;
use super::kernel::{ChunkBufs, chunk};
use super::plan::{MAXREF, build_plan};
use super::scalar::Scratch;
use super::*;
use crate::larch::pre_edge;
use chemomech_core::NoProgress;
use ndarray::IxDyn;

fn refs(e: &[f64]) -> Vec<RefSpectrum> {
    let edge =
        |x: f64, e0: f64, wl: f64| 1.0 / (1.0 + (-(x - e0) / 1.5).exp()) + wl * (-(x - e0 - 8.0).powi(2) / 30.0).exp();
    vec![
        RefSpectrum { name: "a".into(), energy_ev: e.to_vec(), mu: e.iter().map(|&x| edge(x, 8342.0, 0.5)).collect() },
        RefSpectrum { name: "b".into(), energy_ev: e.to_vec(), mu: e.iter().map(|&x| edge(x, 8345.0, 0.3)).collect() },
    ]
}

#[test]
fn recovers_fractions_edges_and_clusters_and_is_thread_independent() {
    let e: Vec<f64> = (0..13)
        .map(|i| 8200.0 + 10.0 * i as f64)
        .chain((0..41).map(|i| 8325.0 + i as f64))
        .chain((0..14).map(|i| 8380.0 + 20.0 * i as f64))
        .collect();
    let r = refs(&e);
    let (ny, nx) = (30, 40);
    let ne = e.len();
    // Left half 20 % b, right half 80 % b; a border of background.
    let frac = |_y: usize, x: usize| if x < nx / 2 { 0.2 } else { 0.8 };
    let od = ndarray::Array3::from_shape_fn((ne, ny, nx), |(k, y, x)| {
        let bg = 0.5 * (8200.0f64 / e[k]).powi(3);
        let inside = (3..ny - 3).contains(&y) && (3..nx - 3).contains(&x);
        let f = frac(y, x);
        let thick = 0.8 + 0.01 * y as f64;
        (bg + if inside { thick * ((1.0 - f) * r[0].mu[k] + f * r[1].mu[k]) } else { 0.0 }) as f32
    });
    let p = MapParams::default();
    let m = xanes_maps(od.view().into_dyn(), &e, &r, &p, &NoProgress).unwrap();
    assert_eq!(m.summary.pixels_masked, (ny - 6) * (nx - 6));
    let mut worst: f64 = 0.0;
    for ((y, x), &mk) in m.mask.view().into_dimensionality::<ndarray::Ix2>().unwrap().indexed_iter() {
        if mk == 1 {
            let f = m.fractions[1].1[[y, x]] as f64;
            worst = worst.max((f - frac(y, x)).abs());
        }
    }
    assert!(worst < 0.01, "worst fraction error {worst}");
    // Edge energies of the two halves differ by about the mixture's shift.
    let (l, rr) = (m.e0_half[[15, 8]], m.e0_half[[15, 30]]);
    assert!(rr > l + 1.0 && rr - l < 3.0, "{l} {rr}");
    assert!(m.white_line_energy[[15, 8]] > 8345.0 && m.white_line_energy[[15, 8]] < 8356.0);
    // Two clusters, matching the halves.
    let cm = m.cluster.as_ref().unwrap();
    assert_eq!(m.summary.clusters.len(), 2, "{:?}", m.summary.silhouettes);
    assert_ne!(cm[[15, 8]], cm[[15, 30]]);
    assert!(cm[[15, 8]] < cm[[15, 30]], "clusters ordered by edge energy");
    let soc = m.soc.as_ref().unwrap();
    assert!((soc[[15, 30]] - 0.8).abs() < 0.01);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| xanes_maps(od.view().into_dyn(), &e, &r, &p, &NoProgress).unwrap());
    assert_eq!(one.fractions[1].1.mapv(f32::to_bits), m.fractions[1].1.mapv(f32::to_bits));
    assert_eq!(one.cluster, m.cluster);
}

#[test]
fn chunk_kernel_equals_the_scalar_reference() {
    let e: Vec<f64> = (0..12)
        .map(|i| 8200.0 + 10.0 * i as f64)
        .chain((0..50).map(|i| 8320.0 + i as f64))
        .chain((0..20).map(|i| 8380.0 + 12.0 * i as f64))
        .collect();
    let r = refs(&e);
    let ne = e.len();
    let m = 37;
    let pe =
        pre_edge(&e, &r[0].mu.iter().map(|v| v + 0.2).collect::<Vec<_>>(), &MapParams::default().pre_edge).unwrap();
    let plan = build_plan(&e, &pe, &r, 0.3, &MapParams::default()).unwrap();
    let mut bufs = ChunkBufs::new(ne, m);
    let mut y = vec![0.0f32; ne * m];
    for j in 0..m {
        for k in 0..ne {
            // Fractions beyond [0, 1] at both ends: the non-negative
            // LCF's smaller active sets are exercised as well.
            let f = 1.4 * j as f64 / m as f64 - 0.2;
            let noise = 0.02 * (((k * 7919 + j * 104729) % 1000) as f64 / 1000.0 - 0.5);
            let amp = if j % 5 == 0 { 0.01 } else { 1.0 };
            y[k * m + j] =
                (0.3 - 1e-4 * (e[k] - 8200.0) + amp * ((1.0 - f) * r[0].mu[k] + f * r[1].mu[k]) + noise) as f32;
        }
    }
    y[7 * m + 3] = f32::NAN;
    let ys: Vec<&[f32]> = y.chunks_exact(m).collect();
    let mut fields = MapFields::new(&IxDyn(&[m]), 2);
    for mut out in fields.chunks(m) {
        chunk(&plan, &ys, &mut bufs, &mut out);
    }
    // The maps in the order of `want` below.
    let maps: Vec<&[f32]> = [
        &fields.edge_jump,
        &fields.pre_edge_sigma,
        &fields.mask,
        &fields.e0_half,
        &fields.e0_derivative,
        &fields.white_line_energy,
        &fields.white_line_height,
        &fields.r_factor,
        &fields.reduced_chi2,
    ]
    .into_iter()
    .chain(&fields.fractions)
    .chain(&fields.fraction_errors)
    .map(|a| a.as_slice().unwrap())
    .collect();
    let mut sc = Scratch::new(ne);
    let (mut masked, mut clamped, mut interior) = (0, 0, 0);
    for j in 0..m {
        let y: Vec<f64> = (0..ne).map(|k| ys[k][j] as f64).collect();
        let (mut w, mut se) = ([0.0; MAXREF], [0.0; MAXREF]);
        let q = plan.pixel(&y, &mut sc, &mut w, &mut se);
        masked += q.masked as usize;
        if q.masked {
            clamped += (w[0] == 0.0 || w[1] == 0.0) as usize;
            interior += (w[0] > 0.0 && w[1] > 0.0) as usize;
        }
        let nan = |v: f32| if q.masked { v } else { f32::NAN };
        let want = [
            q.jump,
            q.sigma,
            q.masked as u8 as f32,
            nan(q.e0_half),
            nan(q.e0_der),
            nan(q.wl_e),
            nan(q.wl_h),
            nan(q.r),
            nan(q.chi2),
            nan(w[0] as f32),
            nan(w[1] as f32),
            nan(se[0] as f32),
            nan(se[1] as f32),
        ];
        for (f, wv) in want.iter().enumerate() {
            assert_eq!(maps[f][j].to_bits(), wv.to_bits(), "pixel {j} field {f}: {} vs {wv}", maps[f][j]);
        }
    }
    assert!(masked > 20 && masked < m);
    assert!(clamped >= 3 && interior >= 10, "clamped {clamped}, interior {interior}");
}

#[test]
fn bad_inputs_are_errors_and_nan_pixels_are_masked() {
    let e: Vec<f64> = (0..40).map(|i| 8250.0 + 5.0 * i as f64).collect();
    let od = ndarray::ArrayD::<f32>::zeros(IxDyn(&[40, 4, 4]));
    let mut rev = e.clone();
    rev.swap(3, 4);
    assert!(
        xanes_maps(od.view(), &rev, &[], &MapParams::default(), &NoProgress)
            .unwrap_err()
            .to_string()
            .contains("increasing")
    );
    assert!(
        xanes_maps(od.view(), &e[..39], &[], &MapParams::default(), &NoProgress)
            .unwrap_err()
            .to_string()
            .contains("40 frames but 39 energies")
    );
    let nan = ndarray::ArrayD::<f32>::from_elem(IxDyn(&[40, 4, 4]), f32::NAN);
    assert!(
        xanes_maps(nan.view(), &e, &[], &MapParams::default(), &NoProgress).unwrap_err().to_string().contains("NaN")
    );
    // Some NaN pixels: masked out, never a crash.
    let mut part = ndarray::Array3::<f32>::from_shape_fn(
        (40, 4, 4),
        |(k, _, _)| if e[k] > 8340.0 { 1.0 } else { 0.0 } + 0.001 * k as f32,
    );
    part[[5, 1, 1]] = f32::NAN;
    let m =
        xanes_maps(part.view().into_dyn(), &e, &[], &MapParams { clusters: None, ..Default::default() }, &NoProgress)
            .unwrap();
    assert_eq!(m.mask[[1, 1]], 0);
    assert!(m.edge_jump[[1, 1]].is_nan() && m.e0_half[[1, 1]].is_nan());
    assert_eq!(m.summary.pixels_in_fov, 15);
    let bad = MapParams { mask_sigma: f64::NAN, ..Default::default() };
    assert!(xanes_maps(part.view().into_dyn(), &e, &[], &bad, &NoProgress).is_err());
}

#[test]
fn eight_references_fit() {
    // Up to MAXREF references: 7 and 8 used to panic in the full-set LCF.
    let e: Vec<f64> = (0..80).map(|i| 8250.0 + 2.5 * i as f64).collect();
    let edge = |x: f64, e0: f64| 1.0 / (1.0 + (-(x - e0) / 1.5).exp());
    let r: Vec<RefSpectrum> = (0..8)
        .map(|k| RefSpectrum {
            name: format!("r{k}"),
            energy_ev: e.clone(),
            mu: e.iter().map(|&x| edge(x, 8330.0 + 2.0 * k as f64)).collect(),
        })
        .collect();
    let od = ndarray::Array3::from_shape_fn((e.len(), 4, 5), |(i, y, _)| {
        0.1 + (0.5 + 0.1 * y as f64) * (0.5 * r[1].mu[i] + 0.5 * r[6].mu[i])
    })
    .mapv(|v| v as f32);
    let p = MapParams { clusters: None, ..Default::default() };
    let m = xanes_maps(od.view().into_dyn(), &e, &r, &p, &NoProgress).unwrap();
    assert_eq!(m.fractions.len(), 8);
    let total: f32 = m.fractions.iter().map(|(_, f, _)| f[[1, 1]]).sum();
    assert!((total - 1.0).abs() < 0.05, "{total}");
}
