//! chemomech-imgproc: the n-dimensional image layer that every stage sits
//! on. Pure functions on `ndarray` views, parallel with rayon where it pays.
//!
//! - filters: Gaussian and derivative-of-Gaussian filters, median,
//!   bilateral, gradient magnitude ([`filters`]);
//! - labelling: parallel connected components ([`label`]);
//! - distance: exact anisotropic Euclidean distance transform ([`edt`]);
//! - morphology: closings by distance, hole filling, h-maxima ([`morph`]);
//! - neighbours: k nearest points by k-d tree ([`neighbours`]);
//! - watershed: marker-controlled priority-flood watershed ([`watershed`]);
//! - lattice geometry: the padded grid the flood kernels walk ([`grid`]) and
//!   Crofton surface weights ([`crofton`]);
//! - Fourier: 2-D FFTs, sub-pixel shifts, Fresnel propagation ([`fft`]),
//!   translation registration ([`register`]) and resampling ([`resample`]).
//!
//! The 3-D kernels are hand-written: no kept crate does connected
//! components, exact EDT or watershed in 3-D at this speed.

pub mod crofton;
pub mod edt;
pub mod fft;
pub mod filters;
pub mod grid;
pub mod hull;
pub mod label;
pub mod morph;
pub mod neighbours;
pub mod register;
pub mod resample;
pub mod watershed;

pub use edt::edt;
pub use fft::{Fft2, fft2, fourier_shift, frequencies, fresnel_propagate, ifft2};
pub use label::{Connectivity, label};
pub use register::{Translation, register_translation, register_translation_scored};
