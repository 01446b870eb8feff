//! chemomech-segment: denoising filters and phase segmentation of
//! reconstructed volumes into pore / carbon-binder / active material.
//! Pure functions on `ndarray` views.

pub mod classify;
pub mod filters;
pub mod threshold;

pub use threshold::{iso50, iso50_3, multi_otsu, otsu};
