//! neurocycle: a cycle-level simulator of neuromorphic chips.
//!
//! Data flows one way: a hardware config ([`config`]) and a model
//! ([`model`]) go through the mapper ([`mapping`]) into a compiled chip
//! ([`engine::Chip`]); the engine runs stimuli and counts events
//! ([`engine::Counters`]); [`energy`] prices the counts; [`report`] is the
//! only module that serializes results. [`mod@reference`] runs the same model
//! without timing, to check the engine spike for spike.
//!
//! ```no_run
//! use neurocycle::{config::HwConfig, engine, mapping, model};
//! let hw = HwConfig::preset("default").unwrap();
//! let m = model::gen::generate(&model::gen::GenSpec::default());
//! let map = mapping::map(&m, &hw, "generated").unwrap();
//! let chip = engine::Chip::build(&hw, &m, &map);
//! let stim = model::stimulus::synthetic(&m, 1, 0);
//! let run = engine::run_sample(&chip, &stim, Default::default(), &mut engine::Quiet).unwrap();
//! println!("{} cycles", run.counters.cycles);
//! ```

pub mod accelerator;
pub mod config;
pub mod data;
pub mod energy;
pub mod engine;
pub mod error;
pub mod job;
pub mod limits;
pub mod mapping;
pub mod model;
pub mod nir;
pub mod parallel;
pub mod plot;
pub mod reference;
pub mod report;
pub mod run;
pub mod study;
pub mod sweep;
pub mod trace;
pub mod traffic;
pub mod train;
