//! [`xanes_maps`]: the reference normalisation of the stack's mean
//! spectrum, the chunk loop over every pixel, and the maps and summary
//! assembled from the chunks' outputs.

use super::clusters::{Clustering, cluster_pixels};
use super::kernel::{ChunkBufs, ChunkOut, chunk};
use super::params::{MapParams, RefSpectrum, SocScale, check_params, check_stack};
use super::plan::{Plan, build_plan};
use super::{MapSummary, XanesMaps};
use crate::larch::{PreEdge, PreEdgeParams, pre_edge};
use crate::lcf::{LcfOptions, Reference, lcf};
use chemomech_core::{Error, Progress, Result};
use ndarray::{ArrayD, ArrayView2, ArrayViewD, IxDyn};
use rayon::prelude::*;

/// Pixels sampled to fix the reference E0 and windows, in runs of PREPASS_RUN.
const PREPASS_SAMPLE: usize = 16_384;
const PREPASS_RUN: usize = 256;

/// Per-pixel XANES maps of an optical-density stack `od` (energy first,
/// then any pixel grid: 2-D images or 3-D volumes). NaN pixels (outside the
/// field of view) give NaN everywhere.
///
/// ```
/// use chemomech_xas::maps::{xanes_maps, MapParams, RefSpectrum};
/// let e: Vec<f64> = (0..90).map(|i| 8250.0 + 4.0 * i as f64).collect();
/// let edge = |x: f64, e0: f64| 1.0 / (1.0 + (-(x - e0) / 2.0).exp());
/// let a = RefSpectrum { name: "NiO".into(), energy_ev: e.clone(), mu: e.iter().map(|&x| edge(x, 8342.0)).collect() };
/// let b = RefSpectrum { name: "LiNiO2".into(), energy_ev: e.clone(), mu: e.iter().map(|&x| edge(x, 8346.0)).collect() };
/// // 4 pixels: background, then 25 %, 50 % and 75 % LiNiO2 on a pre-edge slope.
/// let od = ndarray::Array2::from_shape_fn((90, 4), |(k, p)| {
///     let f = p as f64 * 0.25;
///     0.3 - 1e-4 * (e[k] - 8250.0) + if p == 0 { 0.0 } else { (1.0 - f) * a.mu[k] + f * b.mu[k] }
/// }).mapv(|v| v as f32).into_dyn();
/// let m = xanes_maps(od.view(), &e, &[a.clone(), b.clone()], &MapParams { clusters: None, ..Default::default() }, &chemomech_core::NoProgress).unwrap();
/// assert_eq!(m.mask.as_slice().unwrap(), &[0, 1, 1, 1]);
/// assert!((m.fractions[1].1[[2]] - 0.5).abs() < 0.01);
/// ```
pub fn xanes_maps(
    od: ArrayViewD<f32>,
    energies: &[f64],
    refs: &[RefSpectrum],
    p: &MapParams,
    progress: &dyn Progress,
) -> Result<XanesMaps> {
    maps_with(od, energies, refs, p, None, progress)
}

/// The flat pixel indices (C order over the pixel grid) of the prepass
/// sample of a stack of `np` pixels: the spectra [`xanes_maps`] averages to
/// fix the reference E0 and windows (seeded, so always the same).
pub fn prepass_pixels(np: usize) -> Vec<usize> {
    let run = PREPASS_RUN.min(np);
    if run == 0 {
        return Vec::new();
    }
    crate::cluster::sample_indices(np / run, PREPASS_SAMPLE.div_ceil(run), 0)
        .into_iter()
        .flat_map(|b| b * run..(b + 1) * run)
        .collect()
}

/// [`xanes_maps`] of one piece of a larger stack (e.g. a Dask chunk): the
/// reference E0, windows and shift come from `sample`, the spectra of the
/// whole stack's [`prepass_pixels`] (`stack_pixels` of them in all) in
/// that order, so every piece gets the maps the whole stack would. Clustering is refused (it needs every
/// pixel). Errors also when too few sampled spectra are finite: the whole
/// stack would then sample its finite pixels instead, which one piece
/// cannot know.
pub fn xanes_maps_sampled(
    od: ArrayViewD<f32>,
    energies: &[f64],
    refs: &[RefSpectrum],
    p: &MapParams,
    sample: &[Vec<f64>],
    stack_pixels: usize,
    progress: &dyn Progress,
) -> Result<XanesMaps> {
    if p.clusters.is_some() {
        return Err(Error::param("maps of a piece of a stack cannot cluster its spectra: set clusters to none"));
    }
    maps_with(od, energies, refs, p, Some((sample, stack_pixels)), progress)
}

/// The maps, with the prepass spectra given (`sample`) or taken from `od`.
fn maps_with(
    od: ArrayViewD<f32>,
    energies: &[f64],
    refs: &[RefSpectrum],
    p: &MapParams,
    sample: Option<(&[Vec<f64>], usize)>,
    progress: &dyn Progress,
) -> Result<XanesMaps> {
    check_stack(od.shape(), energies)?;
    check_params(p, refs)?;
    let pix_shape: Vec<usize> = od.shape()[1..].to_vec();
    let np: usize = pix_shape.iter().product();
    let ne = energies.len();
    let flat2 =
        od.to_shape((ne, np)).map_err(|e| Error::shape(format!("stack cannot be viewed as energies × pixels: {e}")))?;
    let od2 = flat2.view();

    // 1. Reference E0 and windows, and the references' common shift.
    let spectra = match sample {
        Some((s, stack_pixels)) => finite_sample(s, ne, stack_pixels)?,
        None => prepass_spectra(od2, p.chunk_pixels)?,
    };
    let bulk = bulk_normalisation(spectra, energies, refs, p)?;
    let plan = build_plan(energies, &bulk.pe, refs, bulk.shift, p)?;

    // 2. Every pixel, written into its chunk of every map (fixed chunks:
    // the result does not depend on the thread count).
    let shape = IxDyn(&pix_shape);
    let MapFields {
        edge_jump,
        pre_edge_sigma,
        mask,
        e0_half,
        e0_derivative,
        white_line_energy,
        white_line_height,
        r_factor,
        reduced_chi2,
        fractions,
        fraction_errors,
    } = pixel_maps(&plan, od2, &shape, refs.len(), p.chunk_pixels, progress);
    if progress.cancelled() {
        return Err(Error::cancelled("XANES maps cancelled"));
    }
    let mask = mask.mapv(|v| v as u8);
    let fractions: Vec<(String, ArrayD<f32>, ArrayD<f32>)> =
        refs.iter().zip(fractions.into_iter().zip(fraction_errors)).map(|(r, (f, s))| (r.name.clone(), f, s)).collect();
    let soc = soc_map(&p.soc, &fractions, &e0_half, &shape);
    let mask_sl = mask.as_slice().expect("standard layout");
    let masked_idx: Vec<usize> = (0..np).filter(|&i| mask_sl[i] == 1).collect();

    // 3. PCA and clusters of normalised μ in the LCF (or edge) window.
    let mut clustering = match &p.clusters {
        Some(cp) if masked_idx.len() >= 10 => cluster_pixels(&plan, od2, &masked_idx, cp, &shape)?,
        _ => Clustering::default(),
    };
    let stats = MaskStats::new(&masked_idx, &edge_jump, &e0_half, &r_factor, &fractions, soc.as_ref());
    let cluster = clustering.map.take();
    let summary = summarise(bulk, &plan, refs, stats, clustering);
    Ok(XanesMaps {
        edge_jump,
        pre_edge_sigma,
        mask,
        e0_half,
        e0_derivative,
        white_line_energy,
        white_line_height,
        fractions,
        r_factor,
        reduced_chi2,
        soc,
        cluster,
        summary,
    })
}

/// What the mean spectrum fixes for the whole stack: Larch's E0 and
/// windows (and its normalisation, `pe.flat`), and the references' shift.
struct BulkFit {
    /// Larch on the mean spectrum of the masked pixels (of the field of
    /// view when none passes the mask).
    pe: PreEdge,
    /// Common energy shift of the references (eV; 0 when not fitted).
    shift: f64,
}

/// Reference E0 and windows: Larch on the mean spectrum of the field of
/// view, then on the mean of the pixels that pass the mask — both from a
/// seeded sample of about PREPASS_SAMPLE pixels (a mean of 16 384
/// spectra is as good as of all, at a fraction of the cost). Then the bulk
/// LCF of the mean spectrum fixes a common energy shift, if asked.
fn bulk_normalisation(
    spectra: Vec<Vec<f64>>,
    energies: &[f64],
    refs: &[RefSpectrum],
    p: &MapParams,
) -> Result<BulkFit> {
    let ne = energies.len();
    let mean_all = mean_of_rows(&spectra.iter().collect::<Vec<_>>(), ne);
    let pe0 = larch_on_mean(energies, &mean_all, &p.pre_edge)?;
    let plan0 = build_plan(energies, &pe0, &[], 0.0, p)?;
    let passing: Vec<&Vec<f64>> = spectra
        .par_iter()
        .map_init(
            || (vec![0.0; ne], vec![0.0; ne], vec![0.0; ne]),
            |(nb, fb, pb), y| {
                let (step, sigma) = plan0.normalise(y, nb, fb, pb);
                (step > p.mask_sigma * sigma && step >= p.min_jump && step > 0.0).then_some(y)
            },
        )
        .flatten()
        .collect();
    let n_masked0 = passing.len();
    let mean_masked = mean_of_rows(&passing, ne);
    let pe = if n_masked0 >= 1 { larch_on_mean(energies, &mean_masked, &p.pre_edge)? } else { pe0 };
    // Bulk LCF of the mean spectrum fixes a common energy shift, if asked.
    let mut shift = 0.0;
    if !refs.is_empty() && p.lcf.max_shift_ev > 0.0 && n_masked0 > 0 {
        let rr: Vec<Reference> =
            refs.iter().map(|r| Reference { name: &r.name, energy: &r.energy_ev, mu: &r.mu }).collect();
        let o = LcfOptions {
            emin: Some(pe.e0 + p.lcf_window_ev.0),
            emax: Some(pe.e0 + p.lcf_window_ev.1),
            ..p.lcf.clone()
        };
        shift = lcf(&pe.energy, &pe.flat, &rr, &o)?.shift_ev;
    }
    Ok(BulkFit { pe, shift })
}

/// The spectra (finite at every energy) of the prepass sample of `od2`
/// (energies × pixels): a seeded sample of contiguous runs of pixels
/// (contiguous, so that the sample costs a fraction of the stack's memory
/// traffic); when too few sampled spectra are finite (a small common field
/// of view), a sample of the finite pixels.
fn prepass_spectra(od2: ArrayView2<f32>, chunk_px: usize) -> Result<Vec<Vec<f64>>> {
    let (ne, np) = od2.dim();
    let run = PREPASS_RUN.min(np);
    let nruns = np / run;
    let starts = crate::cluster::sample_indices(nruns, PREPASS_SAMPLE.div_ceil(run), 0);
    let gather = |pxs: &[usize]| -> Vec<Vec<f64>> {
        pxs.par_iter().map(|&px| (0..ne).map(|k| od2[[k, px]] as f64).collect()).collect()
    };
    let runs: Vec<Vec<Vec<f64>>> = starts
        .par_iter()
        .map(|&b| {
            let p0 = b * run;
            let mut sp = vec![vec![0.0f64; ne]; run];
            for k in 0..ne {
                let row = od2.row(k);
                row.slice(ndarray::s![p0..p0 + run]).iter().zip(sp.iter_mut()).for_each(|(x, y)| y[k] = *x as f64);
            }
            sp.into_iter().filter(|y| y.iter().all(|v| v.is_finite())).collect()
        })
        .collect();
    let mut spectra: Vec<Vec<f64>> = runs.into_iter().flatten().collect();
    if spectra.len() < PREPASS_SAMPLE.min(np) / 4 {
        let valid = finite_pixels(od2, chunk_px);
        let fov_idx: Vec<usize> = (0..np).filter(|&i| valid[i]).collect();
        let pick: Vec<usize> =
            crate::cluster::sample_indices(fov_idx.len(), PREPASS_SAMPLE, 0).into_iter().map(|i| fov_idx[i]).collect();
        spectra = gather(&pick);
    }
    if spectra.is_empty() {
        return Err(Error::data("every pixel has a NaN somewhere in its spectrum (no common field of view)"));
    }
    Ok(spectra)
}

/// The finite spectra of a given prepass sample, as [`prepass_spectra`]
/// keeps them; an error where it would fall back to the finite pixels.
fn finite_sample(sample: &[Vec<f64>], ne: usize, stack_pixels: usize) -> Result<Vec<Vec<f64>>> {
    if let Some(bad) = sample.iter().find(|y| y.len() != ne) {
        return Err(Error::shape(format!("a sampled spectrum has {} energies, the stack {ne}", bad.len())));
    }
    let spectra: Vec<Vec<f64>> = sample.iter().filter(|y| y.iter().all(|v| v.is_finite())).cloned().collect();
    if spectra.is_empty() || spectra.len() < PREPASS_SAMPLE.min(stack_pixels) / 4 {
        return Err(Error::data(format!(
            "only {} of {} sampled spectra are finite: map the whole stack at once",
            spectra.len(),
            sample.len()
        )));
    }
    Ok(spectra)
}

/// Mean of spectra `rows` of `ne` energies (zeros for none).
fn mean_of_rows(rows: &[&Vec<f64>], ne: usize) -> Vec<f64> {
    let mut acc = vec![0.0; ne];
    for r in rows {
        acc.iter_mut().zip(r.iter()).for_each(|(a, v)| *a += v);
    }
    acc.iter().map(|a| a / rows.len().max(1) as f64).collect()
}

fn larch_on_mean(e: &[f64], mean: &[f64], p: &PreEdgeParams) -> Result<PreEdge> {
    pre_edge(e, mean, p).map_err(|err| err.context("normalising the stack's mean spectrum"))
}

/// Pixels whose spectrum is finite at every energy (energy rows read in order).
fn finite_pixels(od: ArrayView2<f32>, chunk: usize) -> Vec<bool> {
    let (ne, np) = od.dim();
    let mut ok = vec![true; np];
    ok.par_chunks_mut(chunk).enumerate().for_each(|(c, okc)| {
        let p0 = c * chunk;
        for k in 0..ne {
            let row = od.row(k);
            for (j, o) in okc.iter_mut().enumerate() {
                *o &= row[p0 + j].is_finite();
            }
        }
    });
    ok
}

/// The per-pixel maps as the kernel writes them (the mask as 0/1 in f32).
pub(super) struct MapFields {
    /// Edge jump.
    pub(super) edge_jump: ArrayD<f32>,
    /// Pre-edge noise σ.
    pub(super) pre_edge_sigma: ArrayD<f32>,
    /// 1 in the mask, else 0.
    pub(super) mask: ArrayD<f32>,
    /// Half-height edge energy.
    pub(super) e0_half: ArrayD<f32>,
    /// Maximum-derivative edge energy.
    pub(super) e0_derivative: ArrayD<f32>,
    /// White-line energy.
    pub(super) white_line_energy: ArrayD<f32>,
    /// White-line height.
    pub(super) white_line_height: ArrayD<f32>,
    /// LCF R-factor.
    pub(super) r_factor: ArrayD<f32>,
    /// LCF reduced χ².
    pub(super) reduced_chi2: ArrayD<f32>,
    /// Per reference: its fraction.
    pub(super) fractions: Vec<ArrayD<f32>>,
    /// Per reference: the standard error of its fraction.
    pub(super) fraction_errors: Vec<ArrayD<f32>>,
}

impl MapFields {
    /// Zeroed maps of pixel grid `shape` for `k` references.
    pub(super) fn new(shape: &IxDyn, k: usize) -> Self {
        let z = || ArrayD::<f32>::zeros(shape.clone());
        Self {
            edge_jump: z(),
            pre_edge_sigma: z(),
            mask: z(),
            e0_half: z(),
            e0_derivative: z(),
            white_line_energy: z(),
            white_line_height: z(),
            r_factor: z(),
            reduced_chi2: z(),
            fractions: (0..k).map(|_| z()).collect(),
            fraction_errors: (0..k).map(|_| z()).collect(),
        }
    }

    /// Every map cut into chunks of `chunk` pixels (the last one shorter):
    /// the outputs of each chunk, in order.
    pub(super) fn chunks(&mut self, chunk: usize) -> Vec<ChunkOut<'_>> {
        fn cut(a: &mut ArrayD<f32>, chunk: usize) -> std::slice::ChunksMut<'_, f32> {
            a.as_slice_mut().expect("standard layout").chunks_mut(chunk)
        }
        let mut edge_jump = cut(&mut self.edge_jump, chunk);
        let mut pre_edge_sigma = cut(&mut self.pre_edge_sigma, chunk);
        let mut mask = cut(&mut self.mask, chunk);
        let mut e0_half = cut(&mut self.e0_half, chunk);
        let mut e0_derivative = cut(&mut self.e0_derivative, chunk);
        let mut white_line_energy = cut(&mut self.white_line_energy, chunk);
        let mut white_line_height = cut(&mut self.white_line_height, chunk);
        let mut r_factor = cut(&mut self.r_factor, chunk);
        let mut reduced_chi2 = cut(&mut self.reduced_chi2, chunk);
        let mut fractions: Vec<_> = self.fractions.iter_mut().map(|a| cut(a, chunk)).collect();
        let mut fraction_errors: Vec<_> = self.fraction_errors.iter_mut().map(|a| cut(a, chunk)).collect();
        std::iter::from_fn(|| {
            Some(ChunkOut {
                edge_jump: edge_jump.next()?,
                pre_edge_sigma: pre_edge_sigma.next()?,
                mask: mask.next()?,
                e0_half: e0_half.next()?,
                e0_derivative: e0_derivative.next()?,
                white_line_energy: white_line_energy.next()?,
                white_line_height: white_line_height.next()?,
                r_factor: r_factor.next()?,
                reduced_chi2: reduced_chi2.next()?,
                fractions: fractions.iter_mut().map(Iterator::next).collect::<Option<_>>()?,
                fraction_errors: fraction_errors.iter_mut().map(Iterator::next).collect::<Option<_>>()?,
            })
        })
        .collect()
    }
}

/// Every map of every pixel of `od2` (energies × pixels, on the pixel grid
/// `shape`) for `k` references, in parallel over fixed chunks of `chunk`
/// pixels.
fn pixel_maps(
    plan: &Plan,
    od2: ArrayView2<f32>,
    shape: &IxDyn,
    k: usize,
    chunk_px: usize,
    progress: &dyn Progress,
) -> MapFields {
    let (ne, np) = od2.dim();
    let nchunks = np.div_ceil(chunk_px);
    let mut fields = MapFields::new(shape, k);
    // Each work item gets its chunk of every output map.
    let per_chunk = fields.chunks(chunk_px);
    progress.start("xanes maps", nchunks as u64);
    // Rows of a standard-layout stack are read in place.
    let contiguous = od2.as_slice();
    // Scratch buffers are reused within each rayon job: allocating (and
    // page-faulting) megabytes per chunk cost more than the fitting.
    per_chunk.into_par_iter().enumerate().for_each_init(
        || None::<ChunkBufs>,
        |slot, (c, mut o)| {
            // Cancelled: the remaining chunks are skipped (the caller errs).
            if progress.cancelled() {
                return;
            }
            let p0 = c * chunk_px;
            let m = o.edge_jump.len();
            if slot.as_ref().is_none_or(|b| b.pixels() != m) {
                *slot = Some(ChunkBufs::new(ne, m));
            }
            let bufs = slot.as_mut().expect("just set");
            match &contiguous {
                Some(sl) => {
                    let ys: Vec<&[f32]> = (0..ne).map(|k| &sl[k * np + p0..k * np + p0 + m]).collect();
                    chunk(plan, &ys, bufs, &mut o)
                }
                None => {
                    let rows: Vec<Vec<f32>> =
                        (0..ne).map(|k| od2.row(k).slice(ndarray::s![p0..p0 + m]).to_vec()).collect();
                    let ys: Vec<&[f32]> = rows.iter().map(|r| &r[..]).collect();
                    chunk(plan, &ys, bufs, &mut o)
                }
            }
            progress.inc(1);
        },
    );
    progress.finish();
    fields
}

/// The state-of-charge map, from the `fractions` or the half-height edge
/// energy `e0_half` as `soc` says (`None` for [`SocScale::None`] or fractions
/// without references).
fn soc_map(
    soc: &SocScale,
    fractions: &[(String, ArrayD<f32>, ArrayD<f32>)],
    e0_half: &ArrayD<f32>,
    shape: &IxDyn,
) -> Option<ArrayD<f32>> {
    let k = fractions.len();
    match soc {
        SocScale::Fractions(s) if k > 0 => {
            let sv: Vec<f32> = s
                .clone()
                .unwrap_or_else(|| (0..k).map(|i| if k == 1 { 1.0 } else { i as f64 / (k - 1) as f64 }).collect())
                .iter()
                .map(|&v| v as f32)
                .collect();
            let mut acc = ArrayD::<f32>::zeros(shape.clone());
            for (i, (_, f, _)) in fractions.iter().enumerate() {
                acc.zip_mut_with(f, |a, &b| *a += b * sv[i]);
            }
            Some(acc)
        }
        SocScale::EdgeEnergy { e_soc0, e_soc1 } => {
            Some(e0_half.mapv(|e| ((e as f64 - e_soc0) / (e_soc1 - e_soc0)) as f32))
        }
        _ => None,
    }
}

/// The maps' bulk values over the mask.
struct MaskStats {
    pixels: usize,
    pixels_in_fov: usize,
    pixels_masked: usize,
    mean_edge_jump: f64,
    median_e0_half_ev: f64,
    mean_fractions: Vec<f64>,
    mean_r_factor: f64,
    mean_soc: Option<f64>,
}

impl MaskStats {
    /// Counts, means and the median over the masked pixels `masked_idx`.
    fn new(
        masked_idx: &[usize],
        edge_jump: &ArrayD<f32>,
        e0_half: &ArrayD<f32>,
        r_factor: &ArrayD<f32>,
        fractions: &[(String, ArrayD<f32>, ArrayD<f32>)],
        soc: Option<&ArrayD<f32>>,
    ) -> Self {
        let mean_of = |a: &ArrayD<f32>| mean_over(masked_idx, a);
        Self {
            pixels: edge_jump.len(),
            pixels_in_fov: edge_jump.iter().filter(|q| q.is_finite()).count(),
            pixels_masked: masked_idx.len(),
            mean_edge_jump: mean_of(edge_jump),
            median_e0_half_ev: median_over(masked_idx, e0_half),
            mean_fractions: fractions.iter().map(|f| mean_of(&f.1)).collect(),
            mean_r_factor: mean_of(r_factor),
            mean_soc: soc.map(mean_of),
        }
    }
}

/// Mean of the finite values of `a` over the pixels `idx`, in fixed blocks
/// summed in order: the same result whatever the thread count.
fn mean_over(idx: &[usize], a: &ArrayD<f32>) -> f64 {
    let sl = a.as_slice().expect("standard layout");
    let parts: Vec<(f64, usize)> = idx
        .par_chunks(1 << 16)
        .map(|c| c.iter().map(|&i| sl[i] as f64).filter(|v| v.is_finite()).fold((0.0, 0), |(s, n), v| (s + v, n + 1)))
        .collect();
    let (s, n) = parts.iter().fold((0.0, 0), |(s, n), p| (s + p.0, n + p.1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Median of the finite values of `a` over the pixels `idx` (NaN: none).
fn median_over(idx: &[usize], a: &ArrayD<f32>) -> f64 {
    let mut v: Vec<f32> = idx.iter().map(|&i| a.as_slice().expect("standard")[i]).filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        let m = v.len() / 2;
        *v.select_nth_unstable_by(m, f32::total_cmp).1 as f64
    }
}

/// The summary: what the maps were made with and their bulk values.
fn summarise(bulk: BulkFit, plan: &Plan, refs: &[RefSpectrum], stats: MaskStats, c: Clustering) -> MapSummary {
    let pe = bulk.pe;
    MapSummary {
        energies_ev: plan.e.clone(),
        e0_ref_ev: pe.e0,
        pre1: pe.pre1,
        pre2: pe.pre2,
        norm1: pe.norm1,
        norm2: pe.norm2,
        nnorm: pe.nnorm,
        pre_edge_points: plan.pre.idx.len(),
        post_edge_points: plan.post.idx.len(),
        pixels: stats.pixels,
        pixels_in_fov: stats.pixels_in_fov,
        pixels_masked: stats.pixels_masked,
        mean_edge_jump: stats.mean_edge_jump,
        median_e0_half_ev: stats.median_e0_half_ev,
        reference_names: refs.iter().map(|r| r.name.clone()).collect(),
        lcf_points: plan.lcf_idx.len(),
        lcf_shift_ev: bulk.shift,
        mean_fractions: stats.mean_fractions,
        mean_r_factor: stats.mean_r_factor,
        mean_soc: stats.mean_soc,
        mean_spectrum_norm: pe.flat,
        pca_eigenvalues: c.pca_eigenvalues,
        pca_explained: c.pca_explained,
        pca_ind: c.pca_ind,
        pca_suggested_components: c.pca_suggested_components,
        cluster_components: c.cluster_components,
        silhouettes: c.silhouettes,
        clusters: c.clusters,
    }
}
