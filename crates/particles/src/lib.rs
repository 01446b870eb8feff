//! chemomech-particles: from a phase volume to labelled particles and their
//! metrics. Hand-written kernels (no kept crate does these in 3-D at this
//! speed): parallel connected components, exact anisotropic Euclidean
//! distance transform, h-maxima markers, priority-flood watershed.
//! Every function is a pure function on `ndarray` views.

pub mod compare;
pub mod edt;
mod grid;
pub mod label;
pub mod metrics;
pub mod morph;
pub mod separate;
pub mod spheres;
pub mod watershed;

pub use edt::edt;
pub use label::{label, Connectivity};
