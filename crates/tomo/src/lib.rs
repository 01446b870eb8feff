//! chemomech-tomo: from projections to a calibrated volume.
//!
//! Geometry (shared by the projector and every reconstruction): a slice is
//! indexed `(row, col)`; a point at (`col`, `row`) projects at angle θ onto the
//! detector coordinate
//! `u = (col − c_img)·cos θ − (row − c_img)·sin θ + center`,
//! with `c_img = n/2` (integer division, as scikit-image) and `center` the
//! rotation axis in detector-pixel units (default `n_det/2`, as TomoPy).
//! At θ = 0 the rays run down the columns.

pub mod align;
pub mod center;
pub mod fbp;
pub mod fourier;
pub mod geometry;
pub mod iterative;
pub mod phase;
pub mod preprocess;
pub mod project;
pub mod recon;

pub use geometry::Geometry;
pub use project::{project_slice, project_volume};
