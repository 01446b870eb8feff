//! The real APS micro-CT tooth (../shared/data/tomo/tooth.h5): the
//! automatic centre lies within ±1 px of 295 (Vo's method in algotom; the
//! entropy scan also gives 295).

use chemomech_core::testdata::shared;
use chemomech_io::{Dataset, open};
use chemomech_tomo::center::find_center_vo;
use chemomech_tomo::recon::{ReconParams, preprocess};
use ndarray::Axis;

#[test]
fn tooth_centre_within_one_pixel_of_295() {
    let Dataset::Projections(p) = open(&shared("tomo/tooth.h5")).unwrap() else { panic!() };
    let (lines, rep) = preprocess(&p, &ReconParams::default()).unwrap();
    assert_eq!(rep.log.non_positive + rep.log.non_finite, 0);
    for row in 0..2 {
        let c = find_center_vo(lines.index_axis(Axis(1), row), None, 0.5).unwrap();
        assert!((c - 295.0).abs() <= 1.0, "row {row}: centre {c}");
    }
}
