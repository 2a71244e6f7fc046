//! The neurocycle simulator core: what a tool needs to simulate a
//! neuromorphic chip, without the trainer, studies, plots, data sets and
//! CLI of the `neurocycle` package.
//!
//! Data flows one way: a hardware config ([`config`], validated once into
//! [`config::Checked`]) and a model ([`model`]) go through the mapper
//! ([`mapping`]) into a compiled chip ([`engine::Chip`]); the engine runs
//! stimuli and counts events ([`engine::Counters`]); [`energy`] prices the
//! counts from a sourced energy table; [`report`] is the only module that
//! serializes results. [`mod@reference`] runs the same model without timing,
//! to check the engine spike for spike. [`run`] spreads many samples over
//! threads; [`traffic`] drives the mesh alone with synthetic traffic (NoC
//! mode).
//!
//! ```no_run
//! use neurocycle_core::{config::HwConfig, engine, mapping, model};
//! let hw = HwConfig::preset("default").unwrap();
//! let m = model::gen::generate(&model::gen::GenSpec::default());
//! let map = mapping::map(&m, &hw, "generated").unwrap();
//! let chip = engine::Chip::build(&hw, &m, &map);
//! let stim = model::stimulus::synthetic(&m, 1, 0);
//! let run = engine::run_sample(&chip, &stim, Default::default(), &mut engine::Quiet).unwrap();
//! println!("{} cycles", run.counters.cycles);
//! ```
//!
//! A whole program (config file, `--set` overrides, run, reference check,
//! energy) is `examples/embed.rs`:
//! `cargo run --release -p neurocycle-core --example embed -- default`.

pub mod config;
pub mod energy;
pub mod engine;
pub mod error;
pub mod limits;
pub mod mapping;
pub mod model;
pub mod parallel;
pub mod reference;
pub mod report;
pub mod run;
pub mod traffic;
