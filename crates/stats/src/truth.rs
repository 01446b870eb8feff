//! Measured particles scored against a ground truth (the simulator's, or
//! hand-labelled): damage classes, crack fractions and carbon-binder
//! contact of particles matched one-to-one.
//!
//! The pairs come from a label matching (chemomech-particles'
//! `compare::match_labels`: truth id, measured id, IoU); the tables are
//! particle tables with `id`, `damage_class` and `crack_fraction` columns
//! (and `cbd_contact_fraction`, `detached` for the detachment score).

use crate::tests::{mann_whitney, mean, pearson};
use chemomech_core::{Column, Result, Table};
use std::collections::HashMap;

/// The damage classes, in order.
const CLASSES: [&str; 3] = ["least", "mild", "severe"];

/// A damage-class confusion matrix: rows true, columns measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    /// Class names of the rows and columns (`least`, `mild`, `severe`).
    pub classes: Vec<String>,
    /// Particle counts, `counts[true][measured]`.
    pub counts: [[u64; 3]; 3],
}

/// Damage classes and crack fractions of matched particles against the truth.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClassScore {
    /// Matched particles scored.
    pub matched: u64,
    /// Fraction of scored particles whose damage class equals the true one.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub class_accuracy: f64,
    /// Damage-class confusion matrix, rows true, columns measured.
    pub confusion_rows_truth_cols_measured: Confusion,
    /// Pearson correlation of true and measured crack fractions.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub crack_fraction_correlation: f64,
    /// Mean true crack fraction of the scored particles.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub crack_fraction_mean_truth: f64,
    /// Mean measured crack fraction of the scored particles.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub crack_fraction_mean_measured: f64,
    /// Carbon-binder contact against the truth ([`score_detachment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detachment: Option<DetachmentScore>,
}

/// Carbon-binder contact of matched particles against the truth.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DetachmentScore {
    /// Pearson correlation of true and measured contact fractions.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub cbd_contact_correlation: f64,
    /// Mean true contact fraction.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub cbd_contact_mean_truth: f64,
    /// Mean measured contact fraction.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub cbd_contact_mean_measured: f64,
    /// With the truth's `detached` flags: how measured contact tells
    /// detached from attached particles.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub detached: Option<DetachedScore>,
}

/// Measured contact of truly detached and attached particles.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DetachedScore {
    /// Particles the truth flags detached.
    #[serde(rename = "detached_truth")]
    pub n_detached: u64,
    /// Mean measured contact fraction of detached particles.
    #[serde(rename = "cbd_contact_measured_detached", deserialize_with = "chemomech_core::nan::f64")]
    pub contact_detached: f64,
    /// Mean measured contact fraction of attached particles.
    #[serde(rename = "cbd_contact_measured_attached", deserialize_with = "chemomech_core::nan::f64")]
    pub contact_attached: f64,
    /// Probability that an attached particle shows more contact than a detached one (AUC).
    #[serde(rename = "auc_attached_above_detached", deserialize_with = "chemomech_core::nan::f64")]
    pub auc: f64,
    /// Two-sided Mann–Whitney p-value of the difference.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mann_whitney_p: f64,
}

/// Columns of one scored pair set, gathered in pair order.
#[derive(Default)]
struct PairColumns {
    truth_id: Vec<u64>,
    particle_id: Vec<u64>,
    iou: Vec<f64>,
    truth_class: Vec<String>,
    damage_class: Vec<String>,
    truth_cf: Vec<f64>,
    cf: Vec<f64>,
}

/// Damage classes and crack fractions of matched particles against the
/// truth: accuracy, confusion matrix, crack-fraction correlation and means;
/// with `cbd_contact_fraction` in both tables, the detachment score
/// ([`score_detachment`]); and the per-pair table.
///
/// # Parameters
/// - `truth`, `pred`: particle tables (`id`, `damage_class`, `crack_fraction`).
/// - `pairs`: (truth id, measured id, IoU) of matched particles; ids absent
///   from a table are skipped.
///
/// # Errors
/// A table without the columns named above.
pub fn score_classes(truth: &Table, pred: &Table, pairs: &[(u64, u64, f64)]) -> Result<(ClassScore, Table)> {
    let (tid, tcls, tcf) = (truth.f64("id")?, truth.str("damage_class")?, truth.f64("crack_fraction")?);
    let (pid, pcls, pcf) = (pred.f64("id")?, pred.str("damage_class")?, pred.f64("crack_fraction")?);
    let ti: HashMap<u64, usize> = tid.iter().enumerate().map(|(i, &v)| (v as u64, i)).collect();
    let pi: HashMap<u64, usize> = pid.iter().enumerate().map(|(i, &v)| (v as u64, i)).collect();
    let mut counts = [[0u64; 3]; 3];
    let mut c = PairColumns::default();
    // Row indices (truth, measured) of each scored pair.
    let mut rows = Vec::new();
    for &(a, b, iou) in pairs {
        let (Some(&i), Some(&j)) = (ti.get(&a), pi.get(&b)) else { continue };
        rows.push((i, j));
        if let (Some(x), Some(y)) =
            (CLASSES.iter().position(|n| *n == tcls[i]), CLASSES.iter().position(|n| *n == pcls[j]))
        {
            counts[x][y] += 1;
        }
        c.truth_id.push(a);
        c.particle_id.push(b);
        c.iou.push(iou);
        c.truth_class.push(tcls[i].clone());
        c.damage_class.push(pcls[j].clone());
        c.truth_cf.push(tcf[i]);
        c.cf.push(pcf[j]);
    }
    let n = rows.len();
    let correct: u64 = (0..3).map(|k| counts[k][k]).sum();
    let mut score = ClassScore {
        matched: n as u64,
        class_accuracy: if n > 0 { correct as f64 / n as f64 } else { f64::NAN },
        confusion_rows_truth_cols_measured: Confusion { classes: CLASSES.map(String::from).to_vec(), counts },
        crack_fraction_correlation: pearson(&c.truth_cf, &c.cf),
        crack_fraction_mean_truth: mean(&c.truth_cf),
        crack_fraction_mean_measured: mean(&c.cf),
        detachment: None,
    };
    let mut t = Table::from_columns(vec![
        ("truth_id", Column::U64(c.truth_id), None),
        ("particle_id", Column::U64(c.particle_id), None),
        ("iou", Column::F64(c.iou), None),
        ("truth_class", Column::Str(c.truth_class), None),
        ("damage_class", Column::Str(c.damage_class), None),
        ("truth_crack_fraction", Column::F64(c.truth_cf), None),
        ("crack_fraction", Column::F64(c.cf), None),
    ])?;
    if let (Ok(tc), Ok(pc)) = (truth.f64("cbd_contact_fraction"), pred.f64("cbd_contact_fraction")) {
        let detached = truth.f64("detached").ok().map(|d| rows.iter().map(|&(i, _)| d[i] > 0.5).collect::<Vec<bool>>());
        let (d, cols) =
            score_detachment(&rows.iter().map(|&(i, j)| (tc[i], pc[j])).collect::<Vec<_>>(), detached.as_deref());
        score.detachment = Some(d);
        for (name, col) in cols {
            t.push(name, col, None)?;
        }
    }
    Ok((score, t))
}

/// Carbon-binder contact of matched particles (truth, measured) against the
/// truth: correlation and means; with the truth's `detached` flags, the
/// measured contact of detached and attached particles and the probability
/// that an attached particle shows more contact than a detached one (AUC).
/// Also returns the columns for the per-pair table.
pub fn score_detachment(
    pairs: &[(f64, f64)],
    detached: Option<&[bool]>,
) -> (DetachmentScore, Vec<(&'static str, Column)>) {
    let (tc, pc): (Vec<f64>, Vec<f64>) = pairs.iter().cloned().unzip();
    let mut score = DetachmentScore {
        cbd_contact_correlation: pearson(&tc, &pc),
        cbd_contact_mean_truth: mean(&tc),
        cbd_contact_mean_measured: mean(&pc),
        detached: None,
    };
    let mut cols =
        vec![("truth_cbd_contact_fraction", Column::F64(tc)), ("cbd_contact_fraction", Column::F64(pc.clone()))];
    if let Some(d) = detached {
        let pick = |want: bool| pc.iter().zip(d).filter(|(_, x)| **x == want).map(|(c, _)| *c).collect::<Vec<f64>>();
        let (att, det) = (pick(false), pick(true));
        let (u, p) = mann_whitney(&att, &det);
        score.detached = Some(DetachedScore {
            n_detached: det.len() as u64,
            contact_detached: mean(&det),
            contact_attached: mean(&att),
            auc: u / (att.len() * det.len()).max(1) as f64,
            mann_whitney_p: p,
        });
        cols.push(("truth_detached", Column::Bool(d.to_vec())));
    }
    (score, cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: &[u64], classes: &[&str], cf: &[f64], contact: &[f64]) -> Table {
        Table::from_columns(vec![
            ("id", Column::U64(ids.to_vec()), None),
            ("damage_class", Column::Str(classes.iter().map(|s| s.to_string()).collect()), None),
            ("crack_fraction", Column::F64(cf.to_vec()), None),
            ("cbd_contact_fraction", Column::F64(contact.to_vec()), None),
        ])
        .unwrap()
    }

    #[test]
    fn counts_classes_and_scores_contact_by_hand() {
        let mut truth =
            table(&[1, 2, 3, 4], &["least", "mild", "severe", "severe"], &[0.0, 0.05, 0.2, 0.3], &[0.5, 0.4, 0.0, 0.1]);
        truth.push("detached", Column::F64(vec![0.0, 0.0, 1.0, 1.0]), None).unwrap();
        let pred = table(
            &[10, 20, 30, 40],
            &["least", "least", "severe", "mild"],
            &[0.01, 0.02, 0.25, 0.1],
            &[0.6, 0.3, 0.05, 0.2],
        );
        // Truth 4 ↔ measured 40; truth 1..3 ↔ 10..30; a pair with an unknown id is skipped.
        let pairs = [(1, 10, 0.9), (2, 20, 0.8), (3, 30, 0.7), (4, 40, 0.6), (5, 50, 0.5)];
        let (s, t) = score_classes(&truth, &pred, &pairs).unwrap();
        assert_eq!((s.matched, t.rows()), (4, 4));
        assert_eq!(s.class_accuracy, 0.5);
        assert_eq!(s.confusion_rows_truth_cols_measured.counts, [[1, 0, 0], [1, 0, 0], [0, 1, 1]]);
        let dd = s.detachment.as_ref().and_then(|d| d.detached.as_ref()).unwrap();
        // Attached measured 0.6, 0.3 all above detached 0.05, 0.2: AUC 1.
        assert_eq!((dd.n_detached, dd.auc), (2, 1.0));
        assert!((dd.contact_attached - 0.45).abs() < 1e-12 && (dd.contact_detached - 0.125).abs() < 1e-12);
        // The JSON keys are those the reports and benches read.
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["detachment"]["auc_attached_above_detached"], 1.0);
        assert_eq!(v["confusion_rows_truth_cols_measured"]["classes"][2], "severe");
    }
}
