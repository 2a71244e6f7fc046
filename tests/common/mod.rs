//! The core crate's test helpers (one `check` through every engine path),
//! plus the NIR fixtures only this crate's tests read.
#![allow(dead_code, unused_imports)]

#[path = "../../neurocycle-core/tests/common/mod.rs"]
mod core;
pub mod nir_fixtures;

pub use self::core::*;
