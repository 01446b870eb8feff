//! chemomech-imgproc: primitives several stages share (FFTs, sub-pixel
//! shifts, Fresnel propagation kernels). Pure functions on `ndarray` views.

pub mod fft;
pub mod register;
pub mod resample;

pub use fft::{fft2, fourier_shift, frequencies, fresnel_propagate, ifft2, Fft2};
pub use register::register_translation;
