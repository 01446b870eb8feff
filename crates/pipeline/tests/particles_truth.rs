//! Particle separation and metrics against the simulator's ground truth.
//! For studies, the environment overrides the preset (PRESET), seed (SEED),
//! marker depth and closing radius in voxels (H, CLOSE), and turns face
//! seeds (NO_FACE_SEEDS), convex merges (NO_MERGE) or chunk reassignment
//! (NO_REASSIGN) off; the assertions hold for the defaults only.

use chemomech_core::NoProgress;
use chemomech_particles::compare::match_labels;
use chemomech_particles::metrics::{DamageThresholds, PhaseCodes, particle_metrics};
use chemomech_particles::separate::{SeparateParams, separate};
use chemomech_sim::{config::preset, simulate};

#[test]
fn separation_on_true_phases() {
    let mut cfg = preset(&std::env::var("PRESET").unwrap_or("small".into())).unwrap();
    if let Ok(seed) = std::env::var("SEED") {
        cfg.seed = seed.parse().unwrap();
    }
    cfg.tomography.enabled = false;
    cfg.xanes.enabled = false;
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let el = &sim.electrode;
    let v = el.voxel_um;
    let solid = el.phases.mapv(|p| p == 2);
    let mut params = SeparateParams::for_voxel([v; 3]);
    if let Ok(h) = std::env::var("H") {
        params.h_um = h.parse::<f64>().unwrap() * v;
    }
    if let Ok(c) = std::env::var("CLOSE") {
        params.crack_close_um = c.parse::<f64>().unwrap() * v;
    }
    params.face_seeds = std::env::var("NO_FACE_SEEDS").is_err();
    params.merge_convex = std::env::var("NO_MERGE").is_err();
    params.reassign_chunks = std::env::var("NO_REASSIGN").is_err();
    let t0 = std::time::Instant::now();
    let (lab, rep) = separate(solid.view(), &params);
    eprintln!("separate: {rep:?} in {:.2}s", t0.elapsed().as_secs_f64());
    let (matches, mr) = match_labels(el.labels.view(), lab.view(), 0.5);
    eprintln!("{mr:?}");
    // Truth particles at least as large as the smallest kept one.
    let min_vox = (params.min_volume_um3 / (v * v * v)).ceil() as u64;
    let true_kept = chemomech_imgproc::label::sizes(el.labels.view()).iter().skip(1).filter(|&&n| n >= min_vox).count();
    eprintln!("true particles of at least {min_vox} voxels: {true_kept}");
    let m =
        particle_metrics(lab.view(), el.phases.view(), PhaseCodes::default(), [v; 3], DamageThresholds::default(), &[])
            .unwrap();
    // class accuracy on matched pairs
    let tid = sim.truth.f64("id").unwrap();
    let tcls = sim.truth.str("damage_class").unwrap();
    let tcf = sim.truth.f64("crack_fraction").unwrap();
    let tcbd = sim.truth.f64("cbd_contact_fraction").unwrap();
    let pid = m.f64("id").unwrap();
    let pcls = m.str("damage_class").unwrap();
    let pcf = m.f64("crack_fraction").unwrap();
    let pcbd = m.f64("cbd_contact_fraction").unwrap();
    let ti = |id: u32| tid.iter().position(|&x| x as u32 == id).unwrap();
    let pi = |id: u32| pid.iter().position(|&x| x as u32 == id).unwrap();
    let mut ok = 0;
    let mut conf = std::collections::BTreeMap::new();
    let (mut xs, mut ys, mut c1, mut c2) = (vec![], vec![], vec![], vec![]);
    for &(t, p, _) in &matches {
        let (a, b) = (ti(t), pi(p));
        if tcls[a] == pcls[b] {
            ok += 1;
        }
        *conf.entry((tcls[a].clone(), pcls[b].clone())).or_insert(0) += 1;
        xs.push(tcf[a]);
        ys.push(pcf[b]);
        c1.push(tcbd[a]);
        c2.push(pcbd[b]);
    }
    let corr = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let s: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        s / (a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() * b.iter().map(|y| (y - mb).powi(2)).sum::<f64>()).sqrt()
    };
    let tv = sim.truth.f64("voxels").unwrap();
    let tb = sim.truth.get("touches_border").unwrap().clone();
    let matched_t: std::collections::HashSet<u32> = matches.iter().map(|m| m.0).collect();
    let mut un: Vec<(u64, f64)> = tid
        .iter()
        .enumerate()
        .filter(|(_, id)| !matched_t.contains(&(**id as u32)))
        .map(|(i, _)| (tv[i] as u64, tb.value_f64(i)))
        .collect();
    un.sort_by_key(|a| a.0);
    eprintln!("unmatched truth (voxels, border): {:?}", un);
    // Which predicted particle holds most of each unmatched truth particle?
    let mut best: std::collections::HashMap<u32, std::collections::HashMap<u32, u64>> = Default::default();
    for (&t, &p) in el.labels.iter().zip(lab.iter()) {
        if t > 0 && !matched_t.contains(&t) {
            *best.entry(t).or_default().entry(p).or_default() += 1;
        }
    }
    let merged = best
        .values()
        .filter(|m| {
            m.iter()
                .filter(|(p, _)| **p > 0)
                .max_by_key(|(_, c)| **c)
                .map(|(p, _)| matches.iter().any(|mm| mm.1 == *p))
                .unwrap_or(false)
        })
        .count();
    eprintln!("unmatched truth whose main overlap is an already-matched prediction (merged): {merged}");
    let pb = m.get("touches_border").unwrap();
    let t_int: std::collections::HashSet<u32> =
        tid.iter().enumerate().filter(|(i, _)| tb.value_f64(*i) == 0.0).map(|(_, id)| *id as u32).collect();
    let p_int = (0..pid.len()).filter(|&i| pb.value_f64(i) == 0.0).count();
    let m_int = matches.iter().filter(|mm| t_int.contains(&mm.0)).count();
    eprintln!(
        "interior: true {}, predicted {}, matched {} ({:.3})",
        t_int.len(),
        p_int,
        m_int,
        m_int as f64 / t_int.len() as f64
    );
    let vmin = std::f64::consts::PI / 6.0 * cfg.electrode.min_esd_um.powi(3) / (v * v * v);
    let pv = m.f64("voxels").unwrap();
    let tbig: std::collections::HashSet<u32> =
        tid.iter().enumerate().filter(|(i, _)| tv[*i] >= vmin).map(|(_, id)| *id as u32).collect();
    let pbig = pv.iter().filter(|&&x| x >= vmin).count();
    let mbig = matches.iter().filter(|mm| tbig.contains(&mm.0)).count();
    eprintln!(
        "≥ smallest particle ({vmin:.0} vox): true {}, predicted {}, matched {} ({:.3})",
        tbig.len(),
        pbig,
        mbig,
        mbig as f64 / tbig.len() as f64
    );
    eprintln!("class accuracy {}/{} = {:.3}; confusion {conf:?}", ok, matches.len(), ok as f64 / matches.len() as f64);
    eprintln!("crack fraction r = {:.3}; cbd contact r = {:.3}", corr(&xs, &ys), corr(&c1, &c2));
    if ["PRESET", "H", "CLOSE", "SEED", "NO_FACE_SEEDS", "NO_MERGE", "NO_REASSIGN"]
        .iter()
        .all(|k| std::env::var(k).is_err())
    {
        // Default preset, seed 1, true phases (measured 2026-11-22): 237
        // particles for 241 true of at least 8 voxels (242 in all), 97.9 %
        // matched (96.7 % and 240 before convex merges, 93.4 % and 232
        // before face seeds); all 237 found are matched, the misses are
        // face caps of 6–87 voxels.
        assert!(mr.matched_fraction >= 0.95, "{mr:?}");
        assert!(
            (mr.predicted_particles as f64 - true_kept as f64).abs() <= 0.02 * true_kept as f64,
            "{mr:?}; {true_kept} true of at least {min_vox} voxels"
        );
        assert!(mbig as f64 / tbig.len() as f64 >= 0.97);
        assert!(ok as f64 / matches.len() as f64 >= 0.95);
        assert!(corr(&xs, &ys) >= 0.95 && corr(&c1, &c2) >= 0.95);
    }
}

/// The bar on more than the seeds the other tests use: seven electrodes
/// (default seeds 1–3, 50 cycles seeds 1–4), true phases, default
/// separation. Each must match ≥ 95 % of its true particles one-to-one at
/// IoU ≥ 0.5 and count within 2 % of the true particles of at least the
/// smallest kept size. Measured 2026-11-23 (matched, count against truth):
/// default 97.9 % −1.7 %, 98.4 % −0.4 %, 98.6 % −1.4 %; 50 cycles 97.7 %
/// +0.4 %, 95.6 % +0.7 %, 96.3 % −1.7 %, 97.9 % −0.7 %. Without the chunk
/// reassignment the 50-cycle seed 2 matched 93.4 %.
#[test]
fn separation_across_seeds() {
    let runs = [
        ("default", 1),
        ("default", 2),
        ("default", 3),
        ("cycles_50", 1),
        ("cycles_50", 2),
        ("cycles_50", 3),
        ("cycles_50", 4),
    ];
    let mut bad = Vec::new();
    for (name, seed) in runs {
        let mut cfg = preset(name).unwrap();
        cfg.seed = seed;
        cfg.tomography.enabled = false;
        cfg.xanes.enabled = false;
        let sim = simulate(&cfg, None, &NoProgress).unwrap();
        let el = &sim.electrode;
        let v = el.voxel_um;
        let params = SeparateParams::for_voxel([v; 3]);
        let (lab, rep) = separate(el.phases.mapv(|p| p == 2).view(), &params);
        let (_, mr) = match_labels(el.labels.view(), lab.view(), 0.5);
        let min_vox = (params.min_volume_um3 / (v * v * v)).ceil() as u64;
        let true_kept =
            chemomech_imgproc::label::sizes(el.labels.view()).iter().skip(1).filter(|&&n| n >= min_vox).count() as f64;
        let count = mr.predicted_particles as f64 / true_kept - 1.0;
        eprintln!(
            "{name} seed {seed}: matched {:.3}, count {:+.3} against {true_kept} true; reassigned {} chunks ({} voxels)",
            mr.matched_fraction, count, rep.reassigned_chunks, rep.reassigned_voxels
        );
        if mr.matched_fraction < 0.95 || count.abs() > 0.02 {
            bad.push(format!("{name} seed {seed}: matched {:.3}, count {count:+.3}", mr.matched_fraction));
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}
