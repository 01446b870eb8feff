//! Reads every file in ../shared/data and checks real values (see the
//! README there for where the numbers come from).

use chemomech_core::DynArray;
use chemomech_core::testdata::shared;
use chemomech_io::{Dataset, info, open};

fn mean(a: &DynArray) -> f64 {
    let v = a.to_f64();
    v.sum() / v.len() as f64
}

#[test]
fn tooth_dxchange() {
    let Dataset::Projections(p) = open(&shared("tomo/tooth.h5")).unwrap() else { panic!("not projections") };
    assert_eq!(p.data.shape(), &[181, 2, 640]);
    assert_eq!(p.flats.as_ref().unwrap().shape(), &[10, 2, 640]);
    assert_eq!(p.darks.as_ref().unwrap().shape(), &[10, 2, 640]);
    assert_eq!(p.angles_deg.len(), 181);
    assert_eq!(p.angles_deg[0], 0.0);
    assert!((p.angles_deg[180] - 179.0055).abs() < 1e-4, "{}", p.angles_deg[180]);
    let (lo, hi) = p.data.min_max().unwrap();
    assert!((lo - 3921.0).abs() < 1.0 && (hi - 33892.0).abs() < 1.0, "{lo} {hi}");
    assert!((mean(p.flats.as_ref().unwrap()) - 27942.0).abs() < 50.0);
    assert!((mean(p.darks.as_ref().unwrap()) - 105.0).abs() < 5.0);
    assert_eq!(p.meta["sample"], "Tooth");
}

#[test]
fn tooth_slab_and_info() {
    let o = chemomech_io::OpenOptions { rows: Some(1..2), ..Default::default() };
    let Dataset::Projections(p) = chemomech_io::open_with(&shared("tomo/tooth.h5"), &o).unwrap() else { panic!() };
    assert_eq!(p.data.shape(), &[181, 1, 640]);
    let Dataset::Projections(full) = open(&shared("tomo/tooth.h5")).unwrap() else { panic!() };
    assert_eq!(p.data.to_f32().index_axis(ndarray::Axis(1), 0), full.data.to_f32().index_axis(ndarray::Axis(1), 1));
    let j = info(&shared("tomo/tooth.h5")).unwrap();
    assert_eq!(j["layout"], "DXchange");
    assert_eq!(j["rows"], 2);
    assert_eq!(j["flats"], 10);
    assert_eq!(j["angles"]["count"], 181);
    assert_eq!(j["arrays"][0]["shape"], serde_json::json!([181, 2, 640]));
}

#[test]
fn ssrl_xrm_frames() {
    for (name, e, exp) in [
        ("txm/rep01_20161456_ssrl-test-data_08324.0_eV_001of003.xrm", 8324.0, 0.5),
        ("txm/rep01_20161456_ssrl-test-data_08354.0_eV_001of003.xrm", 8354.0, 0.5),
        ("txm/rep01_000051_ref_20161456_ssrl-test-data_08324.0_eV_001of010.xrm", 8324.0, 0.3),
        ("txm/rep01_000351_ref_20161456_ssrl-test-data_08354.0_eV_001of010.xrm", 8354.0, 0.3),
    ] {
        let x = chemomech_io::xrm::read_xrm(&shared(name), true).unwrap();
        assert_eq!((x.width, x.height, x.n_images), (1024, 1024, 1), "{name}");
        assert_eq!(x.energies_ev, vec![e], "{name}");
        assert_eq!(x.energy_source, "file name");
        assert_eq!(x.pixel_um, Some(0.0312));
        assert_eq!(x.exposure_s, vec![exp]);
        assert_eq!(x.images.as_ref().unwrap().dtype(), chemomech_core::DType::U16);
        let Dataset::Raster(r) = open(&shared(name)).unwrap() else { panic!() };
        assert_eq!(r.data.shape(), &[1024, 1024]);
        assert_eq!(r.meta["energy_ev"], e);
        // Motor units are Latin-1 (µ is the byte 0xB5), not UTF-8: no U+FFFD.
        let motors = x.meta.get("motors").map(|m| m.to_string()).unwrap_or_default();
        assert!(motors.contains("\"unit\":\"um\"") && !motors.contains('\u{FFFD}'), "{name}: {motors}");
    }
}

#[test]
fn ssrl_folder_is_an_energy_stack_with_references() {
    let Dataset::Energy(s) = open(&shared("txm")).unwrap() else { panic!() };
    assert_eq!(s.energies_ev, vec![8324.0, 8354.0]);
    assert_eq!(s.data.shape(), &[2, 1024, 1024]);
    assert_eq!(s.flats.as_ref().unwrap().shape(), &[2, 1024, 1024]);
    // The particles absorb more above the edge: mean optical density rises.
    let d = s.data.to_f32();
    let f = s.flats.as_ref().unwrap().to_f32();
    let od = |k: usize| -> f64 {
        let (a, b) = (d.index_axis(ndarray::Axis(0), k), f.index_axis(ndarray::Axis(0), k));
        a.iter().zip(b.iter()).map(|(x, y)| -((x.max(1.0) / y.max(1.0)) as f64).ln()).sum::<f64>() / a.len() as f64
    };
    assert!(od(1) > od(0) + 0.05, "OD below {} above {}", od(0), od(1));
}

#[test]
fn ni_xdi() {
    let Dataset::Spectrum(s) = open(&shared("xas/ni_metal_rt.xdi")).unwrap() else { panic!() };
    assert_eq!(s.meta["element"], "Ni");
    assert_eq!(s.meta["edge"], "K");
    assert_eq!(s.len(), 418);
    assert_eq!(s.energy_ev[0], 8133.0);
    assert!((s.energy_ev[417] - 9567.0).abs() < 1.0);
    let xdi = &s.meta["xdi"];
    assert_eq!(
        xdi["comments"],
        serde_json::json!(["room temperature", "measured at beamline 13-ID-C", "vert slits = 0.3 x 0.3mm (at ~50m)"])
    );
    assert_eq!(xdi["fields"]["mono"]["d_spacing"], "3.13555");
    assert_eq!(xdi["applications"], serde_json::json!(["GSE/1.0"]));
    assert_eq!(s.mu.as_ref().unwrap()[0], -1.1873423);
    for f in ["cu_metal_rt.xdi", "fe3c_rt.xdi"] {
        let Dataset::Spectrum(s) = open(&shared(format!("xas/{f}"))).unwrap() else { panic!() };
        assert!(s.len() > 300 && s.mu.is_some(), "{f}");
    }
    assert_eq!(info(&shared("xas/cu_metal_rt.xdi")).unwrap()["element"], "Cu");
}

#[test]
fn reference_spectra_in_kev() {
    for f in ["xas/ref_NiO.txt", "xas/ref_LiNiO2.txt"] {
        let Dataset::Spectrum(s) = open(&shared(f)).unwrap() else { panic!() };
        assert_eq!(s.meta["energy_unit_in_file"], "keV", "{f}");
        assert_eq!(s.energy_ev[0], 8200.0);
        assert_eq!(*s.energy_ev.last().unwrap(), 9000.0);
        assert!(s.len() >= 786);
    }
    let Dataset::Spectrum(s) = open(&shared("txm/NCA_xanes.csv")).unwrap() else { panic!() };
    assert_eq!((s.energy_ev[0], *s.energy_ev.last().unwrap()), (8250.0, 8640.0));
    assert_eq!(s.meta["energy_unit_in_file"], "eV");
}

#[test]
fn taufactor_electrode_tiff() {
    let Dataset::Raster(r) = open(&shared("electrode/taufactor_electrode_256.tiff")).unwrap() else { panic!() };
    assert_eq!(r.data.shape(), &[256, 256, 256]);
    let DynArray::U8(a) = &r.data else { panic!("not u8") };
    let n = a.len() as f64;
    let frac = |v: u8| a.iter().filter(|&&x| x == v).count() as f64 / n;
    assert!((frac(0) - 0.450).abs() < 0.001, "{}", frac(0));
    assert!((frac(85) - 0.401).abs() < 0.001);
    assert!((frac(170) - 0.150).abs() < 0.001);
}

#[test]
fn exafs_files_are_tables_not_spectra() {
    // FEFF 8.5L Ni–O path of NiO (shared/data/README.md): N = 6, reff = 2.0842 Å.
    let p = chemomech_io::feff::read_feff_path(&shared("exafs/NiO_feff0001.dat")).unwrap();
    assert_eq!((p.nleg, p.degeneracy, p.reff_angstrom), (2, 6.0, 2.0842));
    assert_eq!(p.table.names, ["k", "real_2phc", "mag_feff", "phase_feff", "red_factor", "lambda", "real_p"]);
    assert_eq!(p.table.f64("k").unwrap()[1], 0.1);
    let Dataset::Table(t) = open(&shared("exafs/NiO_feff0002.dat")).unwrap() else { panic!() };
    assert_eq!(t.names[0], "k");
    // χ(k) from Athena (k in inverse Å): a table, never read as μ(E).
    let Dataset::Table(c) = open(&shared("exafs/NiO.chik")).unwrap() else { panic!("NiO.chik is not a table") };
    assert_eq!(c.names[..2], ["k", "chi"]);
    let e = chemomech_io::read::read_spectrum(&shared("exafs/NiO.chik"), None).unwrap_err().to_string();
    assert!(e.contains("expected a spectrum, found a table"), "{e}");
    for f in ["exafs/NiO.chik", "exafs/NiO_feff0001.dat"] {
        assert_eq!(info(&shared(f)).unwrap()["kind"], "table", "{f}");
    }
}
