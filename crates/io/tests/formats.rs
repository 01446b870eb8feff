//! Synthetic files in every layout the readers accept (as other beamlines
//! write them), round trips through every writer, and inconsistent files.

use chemomech_core::{Column, DynArray, EnergyStack, ProjectionSet, Provenance, Raster, Table};
use chemomech_io::tiffio::{TiffCompression, TiffOptions};
use chemomech_io::{Dataset, SaveOptions, open, save};
use hdf5_metno as h5;
use ndarray::{Array1, Array3, ArrayD};
use std::path::Path;

fn ramp3(n: usize, h: usize, w: usize) -> Array3<u16> {
    Array3::from_shape_fn((n, h, w), |(k, i, j)| (k * 1000 + i * 10 + j) as u16)
}

fn projections() -> ProjectionSet {
    let mut p = ProjectionSet::new(DynArray::U16(ramp3(6, 3, 4).into_dyn()), (0..6).map(|i| i as f64 * 30.0).collect());
    p.flats = Some(DynArray::U16(Array3::from_elem((2, 3, 4), 900u16).into_dyn()));
    p.darks = Some(DynArray::U16(Array3::from_elem((1, 3, 4), 7u16).into_dyn()));
    p.pixel_um = Some(0.65);
    p.energy_ev = Some(25000.0);
    p.distance_m = Some(0.05);
    p
}

#[test]
fn dxchange_roundtrip_keeps_everything() {
    let d = tempfile::tempdir().unwrap();
    let p = projections();
    let f = d.path().join("p.h5");
    let prov = Provenance::start("test", serde_json::json!({}));
    save(&Dataset::Projections(p.clone()), &f, Some(&prov), &SaveOptions::default()).unwrap();
    let Dataset::Projections(q) = open(&f).unwrap() else { panic!() };
    assert_eq!(q.data, p.data);
    assert_eq!(q.flats, p.flats);
    assert_eq!(q.darks, p.darks);
    assert_eq!(q.angles_deg, p.angles_deg);
    assert_eq!((q.pixel_um, q.energy_ev, q.distance_m), (Some(0.65), Some(25000.0), Some(0.05)));
    let info = chemomech_io::info(&f).unwrap();
    assert_eq!(info["provenance"]["stage"], "test");
}

#[test]
fn zarr_roundtrip_projections_and_volume() {
    let d = tempfile::tempdir().unwrap();
    let p = projections();
    let z = d.path().join("p.zarr");
    save(&Dataset::Projections(p.clone()), &z, None, &SaveOptions::default()).unwrap();
    let Dataset::Projections(q) = open(&z).unwrap() else { panic!() };
    assert_eq!((q.data, q.flats, q.darks, q.angles_deg), (p.data, p.flats, p.darks, p.angles_deg));
    // A volume big enough for several chunks, with a voxel size.
    let v = Array3::from_shape_fn((70, 33, 600), |(k, i, j)| (k as f32 * 0.5 - i as f32) * j as f32);
    let r =
        Raster { data: DynArray::F32(v.into_dyn()), spacing_um: Some(vec![0.2, 0.1, 0.1]), meta: Default::default() };
    let zv = d.path().join("v.zarr");
    save(&Dataset::Raster(r.clone()), &zv, None, &SaveOptions::default()).unwrap();
    let Dataset::Raster(back) = open(&zv).unwrap() else { panic!() };
    assert_eq!(back.data, r.data);
    assert_eq!(back.spacing_um, r.spacing_um);
    // Saving again replaces the earlier store.
    save(&Dataset::Raster(r), &zv, None, &SaveOptions::default()).unwrap();
}

#[test]
fn tiff_roundtrip_all_types_spacing_and_bigtiff() {
    let d = tempfile::tempdir().unwrap();
    let arrays = vec![
        DynArray::U8(ArrayD::from_shape_fn(vec![3, 5, 7], |i| (i[0] * 35 + i[1] * 7 + i[2]) as u8)),
        DynArray::U16(ramp3(2, 4, 5).into_dyn()),
        DynArray::I16(ArrayD::from_shape_fn(vec![2, 3, 3], |i| i[2] as i16 - 5)),
        DynArray::U32(ArrayD::from_shape_fn(vec![4, 6, 2], |i| (i[0] * 100_000 + i[1]) as u32)),
        DynArray::F32(ArrayD::from_shape_fn(vec![2, 2, 3], |i| i[1] as f32 * 0.25 - 1.0)),
        DynArray::F64(ArrayD::from_shape_fn(vec![5, 4], |i| i[0] as f64 / 3.0)),
    ];
    for (k, a) in arrays.into_iter().enumerate() {
        for (big, comp) in [(false, TiffCompression::None), (true, TiffCompression::Deflate)] {
            let f = d.path().join(format!("a{k}{big}.tiff"));
            let sp = if a.ndim() == 3 { vec![2.0, 0.5, 0.25] } else { vec![0.5, 0.25] };
            chemomech_io::tiffio::write_tiff(
                &f,
                &a,
                Some(&sp),
                None,
                TiffOptions { compression: comp, bigtiff: Some(big) },
            )
            .unwrap();
            let Dataset::Raster(r) = open(&f).unwrap() else { panic!() };
            assert_eq!(r.data, a, "{k} big={big}");
            let got = r.spacing_um.unwrap();
            for (g, e) in got.iter().zip(&sp) {
                assert!((g - e).abs() < 1e-6 * e, "{k}: spacing {got:?} vs {sp:?}");
            }
            assert_eq!(chemomech_io::tiffio::tiff_info(&f).unwrap().bigtiff, big);
        }
    }
}

#[test]
fn nxtomo_image_keys_split_frames() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("scan.nx");
    {
        let h = h5::File::create(&f).unwrap();
        let e = h.create_group("entry").unwrap();
        e.new_attr::<h5::types::VarLenUnicode>()
            .create("NX_class")
            .unwrap()
            .write_scalar(&"NXentry".parse::<h5::types::VarLenUnicode>().unwrap())
            .unwrap();
        e.new_dataset::<h5::types::VarLenUnicode>()
            .create("definition")
            .unwrap()
            .write_scalar(&"NXtomo".parse::<h5::types::VarLenUnicode>().unwrap())
            .unwrap();
        let det = e.create_group("instrument/detector").unwrap();
        // dark, flat, 4 projections, flat, one alignment frame (control -1)
        let keys = [2i32, 1, 0, 0, 0, 0, 1, 0];
        let ctrl = [2i32, 1, 0, 0, 0, 0, 1, -1];
        let data = Array3::from_shape_fn((8, 2, 3), |(k, i, j)| (k * 100 + i * 10 + j) as f32);
        det.new_dataset_builder().with_data(&data).create("data").unwrap();
        det.new_dataset_builder().with_data(&keys[..]).create("image_key").unwrap();
        det.new_dataset_builder().with_data(&ctrl[..]).create("image_key_control").unwrap();
        let px = det.new_dataset::<f64>().create("x_pixel_size").unwrap();
        px.write_scalar(&1.3e-6).unwrap();
        px.new_attr::<h5::types::VarLenUnicode>()
            .create("units")
            .unwrap()
            .write_scalar(&"m".parse::<h5::types::VarLenUnicode>().unwrap())
            .unwrap();
        let ang = Array1::from(vec![0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 1.5, 3.0]);
        let a =
            e.create_group("sample").unwrap().new_dataset_builder().with_data(&ang).create("rotation_angle").unwrap();
        a.new_attr::<h5::types::VarLenUnicode>()
            .create("units")
            .unwrap()
            .write_scalar(&"rad".parse::<h5::types::VarLenUnicode>().unwrap())
            .unwrap();
    }
    let Dataset::Projections(p) = open(&f).unwrap() else { panic!() };
    assert_eq!(p.data.shape(), &[4, 2, 3]);
    assert_eq!(p.flats.as_ref().unwrap().shape(), &[2, 2, 3]);
    assert_eq!(p.darks.as_ref().unwrap().shape(), &[1, 2, 3]);
    assert_eq!(p.data.to_f32()[[0, 0, 0]], 200.0);
    assert_eq!(p.flat_positions, Some(vec![0.0, 4.0]));
    assert!((p.angles_deg[1] - 0.5f64.to_degrees()).abs() < 1e-9);
    assert_eq!(p.pixel_um, Some(1.3));
}

#[test]
fn fxi_xanes_layout() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("xanes_scan.h5");
    let st = EnergyStack {
        data: DynArray::U16(ramp3(3, 4, 5).into_dyn()),
        flats: Some(DynArray::U16(Array3::from_elem((3, 4, 5), 1000u16).into_dyn())),
        darks: Some(DynArray::U16(Array3::from_elem((2, 4, 5), 10u16).into_dyn())),
        energies_ev: vec![8300.0, 8333.5, 8400.0],
        pixel_um: Some(0.0213),
        meta: Default::default(),
    };
    save(&Dataset::Energy(st.clone()), &f, None, &SaveOptions::default()).unwrap();
    let Dataset::Energy(b) = open(&f).unwrap() else { panic!() };
    assert_eq!(b.data, st.data);
    assert_eq!(b.flats, st.flats);
    assert_eq!(b.energies_ev, st.energies_ev);
    assert_eq!(b.pixel_um, Some(0.0213));
    let j = chemomech_io::info(&f).unwrap();
    assert_eq!(j["layout"], "FxiXanes");
    assert_eq!(j["energy_list_ev"][1], 8333.5);
}

fn write_h5(f: &Path, build: impl FnOnce(&h5::File)) {
    let h = h5::File::create(f).unwrap();
    build(&h);
}

#[test]
fn inconsistent_files_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Box<dyn FnOnce(&h5::File)>, &str)> = vec![
        (
            "theta.h5",
            Box::new(|h| {
                let ex = h.create_group("exchange").unwrap();
                ex.new_dataset_builder().with_data(&Array3::<f32>::zeros((5, 2, 3))).create("data").unwrap();
                ex.new_dataset_builder().with_data(&[0.0f64, 1.0, 2.0][..]).create("theta").unwrap();
            }),
            "3 angles but there are 5 projections",
        ),
        (
            "flats.h5",
            Box::new(|h| {
                let ex = h.create_group("exchange").unwrap();
                ex.new_dataset_builder().with_data(&Array3::<f32>::zeros((2, 2, 3))).create("data").unwrap();
                ex.new_dataset_builder().with_data(&Array3::<f32>::zeros((4, 2, 4))).create("data_white").unwrap();
                ex.new_dataset_builder().with_data(&[0.0f64, 1.0][..]).create("theta").unwrap();
            }),
            "data_white has shape [4, 2, 4]",
        ),
        (
            "notheta.h5",
            Box::new(|h| {
                let ex = h.create_group("exchange").unwrap();
                ex.new_dataset_builder().with_data(&Array3::<f32>::zeros((2, 2, 3))).create("data").unwrap();
            }),
            "missing dataset /exchange/theta",
        ),
        (
            "fxi.h5",
            Box::new(|h| {
                h.new_dataset_builder().with_data(&Array3::<f32>::zeros((3, 2, 2))).create("img_xanes").unwrap();
                h.new_dataset_builder().with_data(&[8.3f64, 8.35, 8.34][..]).create("X_eng").unwrap();
            }),
            "not strictly increasing",
        ),
        (
            "fxi2.h5",
            Box::new(|h| {
                h.new_dataset_builder().with_data(&Array3::<f32>::zeros((3, 2, 2))).create("img_xanes").unwrap();
                h.new_dataset_builder().with_data(&[8.3f64, 8.35][..]).create("X_eng").unwrap();
            }),
            "2 energies for 3 frames",
        ),
        (
            "plain.h5",
            Box::new(|h| {
                h.new_dataset_builder().with_data(&Array3::<f32>::zeros((3, 2, 2))).create("a").unwrap();
                h.new_dataset_builder().with_data(&Array3::<f32>::zeros((3, 2, 2))).create("b").unwrap();
            }),
            "candidates: /a, /b",
        ),
    ];
    for (name, build, expect) in cases {
        let f = d.path().join(name);
        write_h5(&f, build);
        let e = open(&f).unwrap_err().to_string();
        assert!(e.contains(expect) && e.contains(name), "{name}: {e}");
    }
}

/// A `.txrm` as APS 32-ID and NSLS-II write them: float32 pixels, energy and
/// angle per image in the header, more than 100 images (two ImageData storages).
fn write_txrm(path: &Path, n: usize, energies: &[f32], angles: &[f32], reference: bool) {
    let mut c = cfb::create(path).unwrap();
    let (w, h) = (4u32, 3u32);
    let put = |c: &mut cfb::CompoundFile<std::fs::File>, name: &str, bytes: &[u8]| {
        let parent = std::path::Path::new(name).parent().unwrap();
        if !parent.as_os_str().is_empty() && !c.exists(parent) {
            c.create_storage_all(parent).unwrap();
        }
        use std::io::Write;
        c.create_stream(name).unwrap().write_all(bytes).unwrap();
    };
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    put(&mut c, "ImageInfo/ImageWidth", &w.to_le_bytes());
    put(&mut c, "ImageInfo/ImageHeight", &h.to_le_bytes());
    put(&mut c, "ImageInfo/NoOfImages", &(n as u32).to_le_bytes());
    put(&mut c, "ImageInfo/DataType", &10u32.to_le_bytes());
    put(&mut c, "ImageInfo/Energy", &f32s(energies));
    put(&mut c, "ImageInfo/Angles", &f32s(angles));
    put(&mut c, "ImageInfo/PixelSize", &f32s(&[0.02]));
    for i in 1..=n {
        let px: Vec<f32> = (0..w * h).map(|k| (i * 100) as f32 + k as f32).collect();
        put(&mut c, &format!("ImageData{}/Image{}", (i - 1) / 100 + 1, i), &f32s(&px));
    }
    if reference {
        put(&mut c, "ReferenceData/Image", &f32s(&vec![5000.0; (w * h) as usize]));
        put(&mut c, "ReferenceData/DataType", &10u32.to_le_bytes());
    }
    c.flush().unwrap();
}

#[test]
fn txrm_series_from_other_beamlines() {
    let d = tempfile::tempdir().unwrap();
    // An energy series (XANES) of 150 images.
    let f = d.path().join("xanes.txrm");
    let es: Vec<f32> = (0..150).map(|i| 8300.0 + i as f32).collect();
    write_txrm(&f, 150, &es, &vec![0.0; 150], false);
    let Dataset::Energy(s) = open(&f).unwrap() else { panic!() };
    assert_eq!(s.data.shape(), &[150, 3, 4]);
    assert_eq!(s.energies_ev[149], 8449.0);
    assert_eq!(s.data.to_f32()[[120, 0, 1]], 12101.0);
    assert_eq!(s.pixel_um, Some(0.02));
    // A tomography series with a reference image.
    let t = d.path().join("tomo.txrm");
    let ang: Vec<f32> = (0..20).map(|i| -90.0 + 9.0 * i as f32).collect();
    write_txrm(&t, 20, &[8333.0], &ang, true);
    let Dataset::Projections(p) = open(&t).unwrap() else { panic!() };
    assert_eq!(p.angles_deg[19], 81.0);
    assert_eq!(p.energy_ev, Some(8333.0));
    assert_eq!(p.flats.as_ref().unwrap().shape(), &[1, 3, 4]);
    let j = chemomech_io::info(&t).unwrap();
    assert_eq!(j["images"], 20);
    assert_eq!(j["energy_source"], "header");
}

#[test]
fn tiff_folder_per_energy() {
    let d = tempfile::tempdir().unwrap();
    for (k, e) in [8333.0, 8300.0, 8350.5].iter().enumerate() {
        let img = DynArray::U16(ndarray::Array2::from_elem((3, 4), (k + 1) as u16 * 100).into_dyn());
        chemomech_io::tiffio::write_tiff(
            &d.path().join(format!("xanes_{e:.1}eV.tif")),
            &img,
            None,
            None,
            Default::default(),
        )
        .unwrap();
        let r = DynArray::U16(ndarray::Array2::from_elem((3, 4), 1000u16).into_dyn());
        chemomech_io::tiffio::write_tiff(
            &d.path().join(format!("ref_{e:.1}eV.tif")),
            &r,
            None,
            None,
            Default::default(),
        )
        .unwrap();
    }
    let Dataset::Energy(s) = open(d.path()).unwrap() else { panic!() };
    assert_eq!(s.energies_ev, vec![8300.0, 8333.0, 8350.5]);
    // Sorted by energy: the 8300 eV frame was written second (value 200).
    assert_eq!(s.data.to_f32()[[0, 0, 0]], 200.0);
    assert_eq!(s.flats.as_ref().unwrap().shape(), &[3, 3, 4]);
}

#[test]
fn tables_roundtrip_csv_and_parquet() {
    let d = tempfile::tempdir().unwrap();
    let mut t = Table::default();
    t.push("id", Column::I64(vec![1, 2, 3]), None).unwrap();
    t.push("volume_um3", Column::F64(vec![1.5, f64::NAN, 1e-300]), Some("µm³")).unwrap();
    t.push("damage_class", Column::Str(vec!["severe".into(), "mild".into(), "least".into()]), None).unwrap();
    t.push("touches_border", Column::Bool(vec![true, false, false]), None).unwrap();
    let prov = Provenance::start("test", serde_json::json!({"k": 1}));
    for ext in ["csv", "parquet"] {
        let f = d.path().join(format!("particles.{ext}"));
        save(&Dataset::Table(t.clone()), &f, Some(&prov), &SaveOptions::default()).unwrap();
        let back = match open(&f).unwrap() {
            Dataset::Table(b) => b,
            other => panic!("{ext}: {}", other.kind()),
        };
        assert_eq!(back.names, t.names);
        assert_eq!(back.get("id").unwrap(), t.get("id").unwrap());
        assert_eq!(back.str("damage_class").unwrap(), t.str("damage_class").unwrap());
        let v = back.f64("volume_um3").unwrap();
        assert!(v[0] == 1.5 && v[1].is_nan() && v[2] == 1e-300, "{ext}: {v:?}");
    }
    assert!(chemomech_io::table::sidecar(&d.path().join("particles.csv")).is_file());
}

#[test]
fn npy_roundtrip() {
    let d = tempfile::tempdir().unwrap();
    let a = DynArray::I32(ArrayD::from_shape_fn(vec![2, 3, 4, 5], |i| i[3] as i32 - i[0] as i32));
    let f = d.path().join("a.npy");
    chemomech_io::npy::write_npy(&f, &a).unwrap();
    let Dataset::Raster(r) = open(&f).unwrap() else { panic!() };
    assert_eq!(r.data, a);
}
