//! The electrode statistics the seeds' study rests on, recovered from the
//! simulator's electrodes (default preset, after 10 fast-charge cycles and
//! after 50 cycles): the depth profile of severely damaged particles, the
//! damage classes and the detachment (carbon-binder contact), measured on
//! the true phases and compared with the ground truth.

use chemomech_core::{NoProgress, Table};
use chemomech_particles::compare::match_labels;
use chemomech_particles::metrics::{particle_metrics, DamageThresholds, PhaseCodes};
use chemomech_particles::separate::{separate, SeparateParams};
use chemomech_sim::{config::preset, simulate};
use chemomech_stats::profile::depth_profile;
use chemomech_stats::tests::{pearson, spearman};

struct Scores {
    spearman_severe: f64,
    truth_severe: Vec<f64>,
    measured_severe: Vec<f64>,
    class_accuracy: f64,
    cbd_contact_r: f64,
    matched_fraction: f64,
}

fn score(name: &str) -> Scores {
    let mut cfg = preset(name).unwrap();
    cfg.tomography.enabled = false;
    cfg.xanes.enabled = false;
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let el = &sim.electrode;
    let v = el.voxel_um;
    let (lab, _) = separate(el.phases.mapv(|p| p == 2).view(), &SeparateParams::for_voxel([v; 3]));
    let m = particle_metrics(lab.view(), el.phases.view(), PhaseCodes::default(), [v; 3], DamageThresholds::default(), &[]).unwrap();
    let (matches, rep) = match_labels(el.labels.view(), lab.view(), 0.5);
    let thickness = el.phases.dim().0 as f64 * v;
    let prof = |t: &Table| depth_profile(t, thickness, 10.0, None, 0, 1).unwrap().iter().map(|w| w.fraction_severe).collect::<Vec<f64>>();
    let (truth_severe, measured_severe) = (prof(&sim.truth), prof(&m));
    // Matched pairs: class agreement and carbon-binder contact.
    let (tid, pid) = (sim.truth.f64("id").unwrap(), m.f64("id").unwrap());
    let (tcls, pcls) = (sim.truth.str("damage_class").unwrap(), m.str("damage_class").unwrap());
    let (tcbd, pcbd) = (sim.truth.f64("cbd_contact_fraction").unwrap(), m.f64("cbd_contact_fraction").unwrap());
    let (mut ok, mut a, mut b) = (0, vec![], vec![]);
    for &(t, p, _) in &matches {
        let i = tid.iter().position(|&x| x as u32 == t).unwrap();
        let j = pid.iter().position(|&x| x as u32 == p).unwrap();
        ok += (tcls[i] == pcls[j]) as usize;
        a.push(tcbd[i]);
        b.push(pcbd[j]);
    }
    Scores {
        spearman_severe: spearman(&truth_severe, &measured_severe),
        truth_severe,
        measured_severe,
        class_accuracy: ok as f64 / matches.len() as f64,
        cbd_contact_r: pearson(&a, &b),
        matched_fraction: rep.matched_fraction,
    }
}

#[test]
fn severe_fraction_by_depth_classes_and_detachment_are_recovered() {
    for name in ["default", "default,cycles_50"] {
        let s = score(name);
        eprintln!(
            "{name}: severe fraction by 10 µm window, truth {:.3?} measured {:.3?}, Spearman {:.3}; classes {:.3}; carbon-binder contact r {:.3}; matched {:.3}",
            s.truth_severe, s.measured_severe, s.spearman_severe, s.class_accuracy, s.cbd_contact_r, s.matched_fraction
        );
        assert!(s.spearman_severe >= 0.9, "{name}: Spearman {}", s.spearman_severe);
        assert!(s.class_accuracy >= 0.9, "{name}: class accuracy {}", s.class_accuracy);
        assert!(s.cbd_contact_r >= 0.9, "{name}: carbon-binder contact r {}", s.cbd_contact_r);
        if name == "default" {
            // After fast charging the separator side (z = 0) cracks more.
            assert!(s.measured_severe[0] > s.measured_severe[s.measured_severe.len() - 1], "{:?}", s.measured_severe);
        }
    }
}
