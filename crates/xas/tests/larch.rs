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
