//! chemomech-particles: from a phase volume to labelled particles and their
//! metrics: separation of touching particles (on the image kernels of
//! `chemomech-imgproc`), per-particle metrics and matching against truth.
//! Every function is a pure function on `ndarray` views.

pub mod compare;
pub mod metrics;
pub mod separate;
pub mod spheres;
pub mod voids;
