//! The catalog: dataset profiles (`catalog/*.toml`, embedded), a STAC catalog of the store kept
//! up to date by every ingest, and search by area and time.
//!
//! ```
//! let p = hod_catalog::profile::find("era5-land").unwrap();
//! let tp = p.variable("tp").unwrap();
//! assert_eq!(tp.long_name, "Total precipitation");
//! assert_eq!(tp.convention.as_str(), "accumulated_since_00utc");
//! ```

mod conform;
mod error;
pub mod extent;
pub mod profile;
pub mod search;
pub mod stac;

pub use conform::Hooks;
pub use error::CatalogError;
pub use profile::{Convention, Profile, VariableSpec};
