//! Per-pixel (or per-voxel) XANES chemical maps of an optical-density
//! stack: normalisation with fixed windows, edge jump and its mask, edge
//! energies, white line, linear-combination fractions with uncertainties,
//! state of charge, and PCA + k-means clusters.
//!
//! The windows are decided once, by Larch's `pre_edge` rules on the mean
//! spectrum of the sample (as TXM-Wizard and pyxas fix them for a whole
//! map), so that every pixel is normalised the same way and all the fits
//! reduce to fixed linear operators computed once: a pixel costs a few
//! hundred multiply–adds. Work runs over fixed chunks of pixels in
//! parallel; memory beyond the input and the output maps is a chunk per
//! thread, and results do not depend on the thread count.
//!
//! Written by hand: no crate does per-pixel spectroscopic fitting.

mod clusters;
mod driver;
mod kernel;
mod params;
mod plan;
#[cfg(test)]
mod scalar;
#[cfg(test)]
mod tests;
mod two_energy;

use ndarray::ArrayD;
use serde::Serialize;

pub use driver::{prepass_pixels, xanes_maps, xanes_maps_sampled};
pub use params::{ClusterParams, MapParams, RefSpectrum, SocScale, check_stack};
pub use two_energy::{remove_small_regions, two_energy_jump};

/// The maps (shape: the stack's pixel grid; NaN outside the mask or the
/// field of view) and a summary.
#[derive(Debug, Clone)]
pub struct XanesMaps {
    /// Edge jump of every pixel (optical density).
    pub edge_jump: ArrayD<f32>,
    /// Noise σ of every pixel: RMS residual of its pre-edge line (optical density).
    pub pre_edge_sigma: ArrayD<f32>,
    /// 1 where the pixel passes the edge-jump mask, else 0.
    pub mask: ArrayD<u8>,
    /// Edge energy at half height of smoothed normalised μ (eV).
    pub e0_half: ArrayD<f32>,
    /// Edge energy at the maximum derivative of smoothed normalised μ, refined by a parabola (eV).
    pub e0_derivative: ArrayD<f32>,
    /// White-line energy (eV).
    pub white_line_energy: ArrayD<f32>,
    /// White-line height (normalised μ).
    pub white_line_height: ArrayD<f32>,
    /// Per reference: (name, fraction, standard error).
    pub fractions: Vec<(String, ArrayD<f32>, ArrayD<f32>)>,
    /// R-factor of the pixel's linear-combination fit.
    pub r_factor: ArrayD<f32>,
    /// Reduced χ² of the pixel's linear-combination fit.
    pub reduced_chi2: ArrayD<f32>,
    /// State-of-charge map (`None` when [`SocScale::None`] or no references).
    pub soc: Option<ArrayD<f32>>,
    /// Cluster per pixel (1 … k, ordered by edge energy; 0 outside the mask).
    pub cluster: Option<ArrayD<u8>>,
    /// What the maps were made with, and their bulk values.
    pub summary: MapSummary,
}

/// Mean spectrum and count of one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSpectrum {
    /// Cluster number (1 … k, as in the cluster map).
    pub cluster: u8,
    /// Masked pixels assigned to the cluster (with a finite spectrum).
    pub pixels: usize,
    /// Half-height edge energy of the mean spectrum (eV; NaN when not found in the edge window).
    pub e0_half_ev: f64,
    /// Mean normalised μ at every energy.
    pub norm: Vec<f64>,
}

/// What the maps were made with, and what they say in bulk.
#[derive(Debug, Clone, Serialize)]
pub struct MapSummary {
    /// Energies of the stack (eV).
    pub energies_ev: Vec<f64>,
    /// Reference E0: Larch's E0 of the mean spectrum (eV).
    pub e0_ref_ev: f64,
    /// Start of the pre-edge window, relative to the reference E0 (eV).
    pub pre1: f64,
    /// End of the pre-edge window, relative to the reference E0 (eV).
    pub pre2: f64,
    /// Start of the post-edge window, relative to the reference E0 (eV).
    pub norm1: f64,
    /// End of the post-edge window, relative to the reference E0 (eV).
    pub norm2: f64,
    /// Degree of the post-edge polynomial.
    pub nnorm: usize,
    /// Energies in the pre-edge fit.
    pub pre_edge_points: usize,
    /// Energies in the post-edge fit.
    pub post_edge_points: usize,
    /// Pixels in the map.
    pub pixels: usize,
    /// Pixels in the field of view (finite edge jump).
    pub pixels_in_fov: usize,
    /// Pixels in the mask.
    pub pixels_masked: usize,
    /// Mean edge jump over the mask (optical density).
    pub mean_edge_jump: f64,
    /// Median half-height edge energy over the mask (eV).
    pub median_e0_half_ev: f64,
    /// Names of the references, in order.
    pub reference_names: Vec<String>,
    /// Energies in the linear-combination fit window.
    pub lcf_points: usize,
    /// Common energy shift of the references, fitted on the mean spectrum (eV; 0 when not fitted).
    pub lcf_shift_ev: f64,
    /// Mean fraction of each reference over the mask.
    pub mean_fractions: Vec<f64>,
    /// Mean R-factor over the mask.
    pub mean_r_factor: f64,
    /// Mean state of charge over the mask (`None` without a SoC map).
    pub mean_soc: Option<f64>,
    /// Larch normalisation of the mean spectrum of masked pixels.
    pub mean_spectrum_norm: Vec<f64>,
    /// PCA eigenvalues of the sampled pixel spectra (empty without clustering).
    pub pca_eigenvalues: Vec<f64>,
    /// Fraction of the variance explained by each principal component.
    pub pca_explained: Vec<f64>,
    /// Malinowski's indicator function IND(k).
    pub pca_ind: Vec<f64>,
    /// Number of components IND suggests.
    pub pca_suggested_components: usize,
    /// Principal components used for clustering.
    pub cluster_components: usize,
    /// Mean silhouette of every k tried, as (k, silhouette).
    pub silhouettes: Vec<(usize, f64)>,
    /// Mean spectrum of every cluster, ordered by edge energy.
    pub clusters: Vec<ClusterSpectrum>,
}
