//! chemomech-xas: X-ray absorption near-edge spectroscopy, from one
//! spectrum (Larch-compatible normalisation, linear-combination fitting,
//! PCA) to millions of pixels (per-pixel chemical maps of energy stacks).

pub mod cluster;
pub mod larch;
pub mod lcf;
pub mod linalg;
pub mod maps;
pub mod particle;
pub mod stack;

pub use larch::{PreEdge, PreEdgeParams, find_e0, pre_edge};
