//! chemomech-segment: phase segmentation of reconstructed volumes into
//! pore / carbon-binder / active material (thresholds and a random-forest
//! voxel classifier), on the filters of `chemomech-imgproc`.
//! Pure functions on `ndarray` views.

pub mod classify;
pub mod phases;
pub mod threshold;

pub use threshold::{iso50, iso50_3, multi_otsu, multi_otsu_histogram, otsu};
