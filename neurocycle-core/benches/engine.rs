//! Simulator throughput, one inference at a time on a reused `Engine`:
//! - `engine`: a synthetic 784-512-512-10 SNN at 90% sparsity, 4-bit
//!   weights, T = 16, on the default chip, one thread; criterion's
//!   throughput is in synaptic operations per host second ("elements/s");
//! - `loihi_size`: a generated network of 120,000 neurons and 6.24 M
//!   synapses (4096-60000-60000, 52 sources each within 2,048 neurons,
//!   4-bit, T = 16) on `hw_configs/loihi.ron`, one inference on 1 and on 2
//!   threads.
//!
//! Every iteration checks a checksum of the counters (cycles, synops,
//! flits, hops, busy cycles) against the first run's, and the first run's
//! against a run that visits every cycle (`--every-cycle`), so a fast wrong
//! answer or a wrong timing fails.
//!
//! cargo bench --bench engine

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurocycle_core::config::HwConfig;
use neurocycle_core::engine::{Chip, Counters, Engine, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::gen::{bench_spec, generate, loihi_spec};
use neurocycle_core::model::stimulus::synthetic;

fn checksum(c: &Counters) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in [
        c.cycles,
        c.total(|k| k.synops),
        c.total(|k| k.busy_cycles()),
        c.total(|k| k.events),
        c.noc.injected,
        c.noc.hops,
        c.noc.stall_cycles,
        c.noc.latency_sum,
    ] {
        h = (h ^ v).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn bench(c: &mut Criterion) {
    let hw = HwConfig::preset("default").unwrap();
    let model = generate(&bench_spec());
    model.validate("bench").unwrap();
    let map = mapping::map(&model, &hw, "bench").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 1, 0);
    let mut engine = Engine::new(&chip, 1);
    let recorded = engine
        .run(
            &stim,
            EngineOptions {
                record_spikes: true,
                ..EngineOptions::default()
            },
            &mut Quiet,
        )
        .unwrap();
    // The reference agrees on this workload (checked once, outside timing).
    assert_eq!(
        recorded.spikes,
        neurocycle_core::reference::run(&model, &stim).spikes
    );
    let synops = recorded.counters.total(|k| k.synops);
    let sum = checksum(&recorded.counters);
    // Timing too: the event-driven loop's counters equal those of a loop
    // that visits every router and core every cycle (no skipping), so a
    // fast loop that skips wrongly fails here, not just a changed one.
    let every = engine
        .run(
            &stim,
            EngineOptions {
                every_cycle: true,
                ..EngineOptions::default()
            },
            &mut Quiet,
        )
        .unwrap();
    assert_eq!(
        checksum(&every.counters),
        sum,
        "event-driven vs every cycle"
    );
    eprintln!(
        "workload: {synops} synops, {} spikes, {} flits, {} cycles per inference",
        recorded.counters.spikes_per_layer.iter().sum::<u64>(),
        recorded.counters.noc.injected,
        recorded.counters.cycles
    );
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(synops));
    // This VM's speed drifts by 10-30% over seconds: a longer window
    // averages over it.
    g.sample_size(30);
    g.warm_up_time(std::time::Duration::from_secs(5));
    g.measurement_time(std::time::Duration::from_secs(10));
    g.bench_function("784-512-512-10_s90_w4_T16_default_chip", |b| {
        b.iter(|| {
            let out = engine
                .run(&stim, EngineOptions::default(), &mut Quiet)
                .unwrap();
            assert_eq!(checksum(&out.counters), sum);
            out.counters.cycles
        })
    });
    g.finish();

    // The Loihi-size workload, split over threads.
    let hw = HwConfig::preset("loihi").unwrap();
    let model = generate(&loihi_spec());
    let map = mapping::map(&model, &hw, "loihi-size").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 1, 0);
    let mut first = None;
    let mut g = c.benchmark_group("loihi_size");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(3));
    g.measurement_time(std::time::Duration::from_secs(20));
    for threads in [1, 2] {
        let mut engine = Engine::new(&chip, threads);
        let out = engine
            .run(&stim, EngineOptions::default(), &mut Quiet)
            .unwrap();
        let sum = checksum(&out.counters);
        assert_eq!(*first.get_or_insert(sum), sum, "{threads} threads");
        g.throughput(Throughput::Elements(out.counters.total(|k| k.synops)));
        g.bench_function(format!("one_inference_{threads}_threads"), |b| {
            b.iter(|| {
                let out = engine
                    .run(&stim, EngineOptions::default(), &mut Quiet)
                    .unwrap();
                assert_eq!(checksum(&out.counters), sum);
                out.counters.cycles
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
