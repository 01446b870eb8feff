//! Bulk normalisation against Larch (xraylarch 2026.3.1, default arguments;
//! reference values in ../shared/data/README.md).

use chemomech_core::testdata::shared;
use chemomech_io::{Dataset, open};
use chemomech_xas::larch::at;
use chemomech_xas::pre_edge;

fn spectrum(name: &str) -> (Vec<f64>, Vec<f64>) {
    let Dataset::Spectrum(s) = open(&shared(format!("xas/{name}"))).unwrap() else { panic!() };
    (s.energy_ev.clone(), s.mu.unwrap())
}

#[test]
fn ni_metal_matches_larch() {
    let (e, mu) = spectrum("ni_metal_rt.xdi");
    let r = pre_edge(&e, &mu, &Default::default()).unwrap();
    eprintln!(
        "Ni: e0 {} step {} pre {} {} norm {} {} nnorm {} slope {:e}",
        r.e0, r.edge_step, r.pre1, r.pre2, r.norm1, r.norm2, r.nnorm, r.pre_slope
    );
    assert!((r.e0 - 8331.5).abs() <= 0.1, "e0 {}", r.e0);
    assert!(((r.edge_step - 2.526141) / 2.526141).abs() <= 1e-4, "edge step {}", r.edge_step);
    assert_eq!((r.pre1, r.pre2, r.norm1, r.norm2, r.nnorm), (-190.0, -95.0, 25.0, 1235.0, 2));
    assert!(((r.pre_slope - -3.397629e-4) / 3.397629e-4).abs() < 1e-4, "slope {}", r.pre_slope);
    for (en, want) in [(8333.0, 0.29102), (8350.0, 0.96129), (8500.0, 1.05066)] {
        let got = at(&r.energy, &r.norm, en);
        assert!((got - want).abs() <= 1e-4, "norm({en}) = {got}, Larch {want}");
    }
    assert!((at(&r.energy, &r.flat, 8500.0) - 1.11455).abs() <= 1e-4, "flat(8500) {}", at(&r.energy, &r.flat, 8500.0));
}

#[test]
fn cu_and_fe_match_larch() {
    let (e, mu) = spectrum("cu_metal_rt.xdi");
    let r = pre_edge(&e, &mu, &Default::default()).unwrap();
    assert!((r.e0 - 8980.5).abs() <= 0.1, "Cu e0 {}", r.e0);
    assert!(((r.edge_step - 2.729379) / 2.729379).abs() <= 1e-4, "Cu edge step {}", r.edge_step);
    let (e, mu) = spectrum("fe3c_rt.xdi");
    let r = pre_edge(&e, &mu, &Default::default()).unwrap();
    assert!((r.e0 - 7122.0).abs() <= 0.1, "Fe e0 {}", r.e0);
    assert!(((r.edge_step - 2.424699) / 2.424699).abs() <= 1e-4, "Fe edge step {}", r.edge_step);
    assert_eq!(r.pre1, -150.0);
}

/// Spectra cut short above the edge (45–420 eV of post-edge data) follow
/// Larch's choice of norm1, norm2 and nnorm and its edge step. Golden values:
/// tests/data/larch_short_post_edge.csv (xraylarch 2026.3.1, written by
/// bench/larch_short_post_edge.py).
#[test]
fn short_post_edge_ranges_match_larch() {
    if chemomech_core::testdata::shared_data_dir().is_none() {
        eprintln!("skipped: ../shared/data not found");
        return;
    }
    let golden =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/larch_short_post_edge.csv")).unwrap();
    let mut checked = 0;
    for line in golden.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |k: usize| f[k].parse::<f64>().unwrap();
        let (e, mu) = spectrum(f[0]);
        let keep: Vec<usize> = (0..e.len()).filter(|&i| e[i] <= num(1) + 1e-6).collect();
        let (e, mu): (Vec<f64>, Vec<f64>) = keep.iter().map(|&i| (e[i], mu[i])).unzip();
        let r = pre_edge(&e, &mu, &Default::default()).unwrap();
        let what = format!("{} up to {} eV", f[0], f[1]);
        assert!((r.e0 - num(2)).abs() <= 0.05, "{what}: e0 {} against Larch's {}", r.e0, f[2]);
        assert_eq!(r.norm1, num(4), "{what}: norm1");
        assert!((r.norm2 - num(5)).abs() <= 1e-6, "{what}: norm2 {} against {}", r.norm2, f[5]);
        assert_eq!(r.nnorm as f64, num(6), "{what}: nnorm");
        assert!(
            ((r.edge_step - num(3)) / num(3)).abs() <= 2e-4,
            "{what}: edge step {} against Larch's {}",
            r.edge_step,
            f[3]
        );
        checked += 1;
    }
    assert_eq!(checked, 30);
}
