//! Simulator throughput: a synthetic 784-512-512-10 SNN at 90% sparsity,
//! 4-bit weights, T = 16, on the default chip, one thread. Criterion's
//! throughput is in synaptic operations per host second ("elements/s").
//! The count of synops is checked, so a fast wrong answer fails.
//!
//! cargo bench --bench engine

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurocycle::config::HwConfig;
use neurocycle::engine::{run_sample, Chip, EngineOptions, Quiet};
use neurocycle::mapping;
use neurocycle::model::gen::{bench_spec, generate};
use neurocycle::model::stimulus::synthetic;

fn bench(c: &mut Criterion) {
    let hw = HwConfig::preset("default").unwrap();
    let model = generate(&bench_spec());
    model.validate("bench").unwrap();
    let map = mapping::map(&model, &hw, "bench").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 1, 0);
    let first = run_sample(&chip, &stim, EngineOptions::default(), &mut Quiet).unwrap();
    let synops = first.counters.total(|k| k.synops);
    // The reference agrees on this workload (checked once, outside timing).
    let reference = neurocycle::reference::run(&model, &stim);
    let recorded = run_sample(
        &chip,
        &stim,
        EngineOptions {
            record_spikes: true,
            ..EngineOptions::default()
        },
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(recorded.spikes, reference.spikes);
    eprintln!(
        "workload: {synops} synops, {} spikes, {} flits, {} cycles per inference",
        first.counters.spikes_per_layer.iter().sum::<u64>(),
        first.counters.noc.injected,
        first.counters.cycles
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
            let out = run_sample(&chip, &stim, EngineOptions::default(), &mut Quiet).unwrap();
            assert_eq!(out.counters.total(|k| k.synops), synops);
            out.counters.cycles
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
