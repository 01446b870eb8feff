//! Scoring a segmentation against ground truth: one-to-one matching of
//! particles by intersection over union.

use ndarray::ArrayView3;
use std::collections::HashMap;

/// A matched pair: (true id, predicted id, IoU).
pub type Match = (u32, u32, f64);

/// Matching summary.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MatchReport {
    /// Labelled particles in the truth.
    pub true_particles: usize,
    /// Labelled particles in the prediction.
    pub predicted_particles: usize,
    /// Pairs matched one-to-one with IoU ≥ the threshold.
    pub matched: usize,
    /// matched / true particles.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub matched_fraction: f64,
    /// Mean IoU of the matched pairs (0 when none).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_iou: f64,
    /// IoU threshold the matching used.
    pub iou_threshold: f64,
    /// True particles that touch no face of the volume (whole particles, as
    /// in a guard-frame count), and how many of them were matched: the
    /// fragments cut by the faces are the hardest to seed.
    pub true_interior: usize,
    /// Interior true particles that were matched.
    pub matched_interior: usize,
    /// matched_interior / true_interior (0 when there are no interior particles).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub matched_fraction_interior: f64,
}

/// Greedy one-to-one matching (highest IoU first) of `pred` to `truth` labels.
///
/// ```
/// use ndarray::{s, Array3};
/// let mut truth = Array3::<u32>::zeros((8, 8, 8));
/// truth.slice_mut(s![0..2, 0..2, 0..2]).fill(1); // cut by the faces
/// truth.slice_mut(s![3..6, 3..6, 3..6]).fill(2); // whole
/// let mut pred = Array3::<u32>::zeros((8, 8, 8));
/// pred.slice_mut(s![3..6, 3..6, 3..7]).fill(5);
/// let (m, rep) = chemomech_particles::compare::match_labels(truth.view(), pred.view(), 0.5);
/// assert_eq!(m, vec![(2, 5, 0.75)]);
/// assert_eq!((rep.matched_fraction, rep.true_interior, rep.matched_fraction_interior), (0.5, 1, 1.0));
/// ```
pub fn match_labels(truth: ArrayView3<u32>, pred: ArrayView3<u32>, threshold: f64) -> (Vec<Match>, MatchReport) {
    let mut inter: HashMap<(u32, u32), u64> = HashMap::new();
    let mut st: HashMap<u32, u64> = HashMap::new();
    let mut sp: HashMap<u32, u64> = HashMap::new();
    let mut border = std::collections::HashSet::new();
    let (nz, ny, nx) = truth.dim();
    for (((z, y, x), &t), &p) in truth.indexed_iter().zip(pred.iter()) {
        if t > 0 {
            *st.entry(t).or_default() += 1;
            if chemomech_imgproc::grid::on_face([z, y, x], [nz, ny, nx]) {
                border.insert(t);
            }
        }
        if p > 0 {
            *sp.entry(p).or_default() += 1;
        }
        if t > 0 && p > 0 {
            *inter.entry((t, p)).or_default() += 1;
        }
    }
    let mut cand: Vec<Match> = inter
        .iter()
        .map(|(&(t, p), &i)| {
            let u = st[&t] + sp[&p] - i;
            (t, p, i as f64 / u as f64)
        })
        .filter(|m| m.2 >= threshold)
        .collect();
    cand.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let (mut used_t, mut used_p) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    let mut out = Vec::new();
    for m in cand {
        if used_t.contains(&m.0) || used_p.contains(&m.1) {
            continue;
        }
        used_t.insert(m.0);
        used_p.insert(m.1);
        out.push(m);
    }
    out.sort_by_key(|m| m.0);
    let interior = st.len() - border.len();
    let matched_interior = out.iter().filter(|m| !border.contains(&m.0)).count();
    let mean = if out.is_empty() { 0.0 } else { out.iter().map(|m| m.2).sum::<f64>() / out.len() as f64 };
    let rep = MatchReport {
        true_particles: st.len(),
        predicted_particles: sp.len(),
        matched: out.len(),
        matched_fraction: if st.is_empty() { 0.0 } else { out.len() as f64 / st.len() as f64 },
        mean_iou: mean,
        iou_threshold: threshold,
        true_interior: interior,
        matched_interior,
        matched_fraction_interior: if interior == 0 { 0.0 } else { matched_interior as f64 / interior as f64 },
    };
    (out, rep)
}
