//! One `check` helper runs a case through every path (reference, event
//! driven engine, every-cycle engine, one and several threads) against one
//! expectation: the reference's spikes.
#![allow(dead_code)]

pub mod graph;

use neurocycle_core::config::{Checked, HwConfig};
use neurocycle_core::engine::{run_sample, Chip, Engine, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::model::Model;
use neurocycle_core::reference;
use neurocycle_core::run::{run, RunOptions};

pub fn preset(name: &str) -> Checked<HwConfig> {
    HwConfig::preset(name).unwrap()
}

pub fn with(hw: &Checked<HwConfig>, sets: &[&str]) -> Checked<HwConfig> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    hw.with_overrides("test", &sets).unwrap()
}

/// Runs `samples` synthetic samples through every path and asserts they
/// agree with the reference spike for spike and with each other counter
/// for counter. Returns the engine's counters.
pub fn check(
    model: &Model,
    hw: &Checked<HwConfig>,
    samples: u64,
    seed: u64,
) -> neurocycle_core::engine::Counters {
    model.validate("case").unwrap();
    let map = mapping::map(model, hw, "case").unwrap();
    let chip = Chip::build(hw, model, &map);
    let mut merged = neurocycle_core::engine::Counters::default();
    for i in 0..samples {
        let stim = synthetic(model, seed, i);
        let want = reference::run(model, &stim);
        let fast = run_sample(
            &chip,
            &stim,
            EngineOptions {
                every_cycle: false,
                record_spikes: true,
                ..EngineOptions::default()
            },
            &mut Quiet,
        )
        .unwrap();
        assert_eq!(
            fast.spikes, want.spikes,
            "engine vs reference spikes, sample {i}"
        );
        assert_eq!(fast.readout, want.readout, "readout, sample {i}");
        assert_eq!(fast.prediction, want.prediction);
        assert_eq!(fast.counters.timesteps_run, want.timesteps_run as u64);
        let slow = run_sample(
            &chip,
            &stim,
            EngineOptions {
                every_cycle: true,
                record_spikes: true,
                ..EngineOptions::default()
            },
            &mut Quiet,
        )
        .unwrap();
        assert_eq!(slow.spikes, fast.spikes);
        assert_eq!(
            slow.counters, fast.counters,
            "skipping idle cycles changed a counter, sample {i}"
        );
        // One inference split over threads (bands of mesh columns) gives
        // the same spikes and counters, event driven or every cycle.
        for (threads, every_cycle) in [(2, false), (3, false), (2, true)] {
            let mut engine = Engine::new(&chip, threads);
            let split = engine
                .run(
                    &stim,
                    EngineOptions {
                        every_cycle,
                        record_spikes: true,
                        threads,
                    },
                    &mut Quiet,
                )
                .unwrap();
            assert_eq!(split.spikes, fast.spikes, "{threads} threads, sample {i}");
            assert_eq!(split.readout, fast.readout, "{threads} threads, sample {i}");
            assert_eq!(
                split.counters,
                fast.counters,
                "{threads} threads ({} partitions) changed a counter, sample {i}",
                engine.partitions()
            );
        }
        merged.merge(&fast.counters);
    }
    let stim = |i: u64| synthetic(model, seed, i);
    let opts = |threads| RunOptions {
        samples,
        threads,
        engine: EngineOptions::default(),
        check: true,
    };
    let one = run(&chip, &stim, &opts(1), &|_| {}).unwrap();
    let many = run(&chip, &stim, &opts(3), &|_| {}).unwrap();
    assert_eq!(one.mismatched_spikes, Some(0));
    assert_eq!(
        one.counters, many.counters,
        "thread count changed the counters"
    );
    assert_eq!(one.predictions, many.predictions);
    assert_eq!(one.counters, merged);
    merged
}
