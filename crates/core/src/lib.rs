//! chemomech-core: the data model every stage shares.
//!
//! Conventions (kept everywhere in chemomech):
//! - arrays are C-ordered `ndarray`s; volumes are `(z, y, x)`, projections
//!   `(angle, row, column)`, energy stacks `(energy, row, column)` or
//!   `(energy, z, y, x)`;
//! - canonical units are carried in names: lengths in micrometres (`_um`),
//!   energies in electronvolts (`_ev`), angles in degrees (`_deg`); readers and
//!   writers convert at the edges ([`units`]);
//! - for electrodes z = 0 is the separator side, z = max the current collector.
//!
//! ```
//! use chemomech_core::{Volume, units};
//! let v = Volume::new(ndarray::Array3::<f32>::zeros((4, 5, 6)), [0.5, 0.5, 0.5]);
//! assert_eq!(v.voxel_volume_um3(), 0.125);
//! assert_eq!(units::length_to_um(21.3, "nm").unwrap(), 0.0213);
//! ```

pub mod array;
pub mod bigmem;
pub mod damage;
pub mod error;
pub mod math;
pub mod nan;
pub mod progress;
pub mod provenance;
pub mod table;
pub mod testdata;
pub mod types;
pub mod units;

pub use array::{DType, DynArray};
pub use damage::DamageClass;
pub use error::{Error, Result};
pub use progress::{NoProgress, Progress};
pub use provenance::{InputRecord, Provenance};
pub use table::{Column, Table};
pub use types::{EnergyStack, Image, Metadata, ProjectionSet, Raster, Spectrum, SpectrumColumn, Volume};

/// chemomech's version, as recorded in provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
