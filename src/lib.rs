//! neurocycle: a cycle-level simulator of neuromorphic chips, with its
//! trainer, research studies, sweeps, traces, plots, data sets and NIR
//! import and export.
//!
//! The simulator itself is the `neurocycle-core` crate, re-exported here
//! under the same module names ([`config`], [`model`], [`mapping`],
//! [`engine`], [`mod@reference`], [`energy`], [`report`], [`run`],
//! [`traffic`]); this crate adds what sits above it: where the samples come
//! from ([`inputs`], [`data`]), the trainer ([`train`]), one job from config
//! to report ([`job`]), sweeps, studies, traces, plots and NIR.

pub use neurocycle_core::{
    config, energy, engine, error, limits, mapping, model, parallel, reference, report, run,
    traffic,
};

pub mod accelerator;
pub mod data;
pub mod inputs;
pub mod job;
pub mod nir;
pub mod plot;
pub mod study;
pub mod sweep;
pub mod trace;
pub mod train;
