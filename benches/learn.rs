//! On-chip learning throughput (TopSpark's workload): Diehl & Cook's
//! network learning MNIST images on the default chip, one image at a time
//! with STDP on, as `study topspark` trains it (200 neurons, T = 64, 32
//! neurons per core, 48-bit membrane state). Throughput is in training
//! images per host second. Every iteration checks the counters' cycles
//! and weight updates against the first run's.
//!
//! cargo bench --bench learn

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurocycle::config::HwConfig;
use neurocycle::data::load;
use neurocycle::engine::{run_sample_learning, Chip, ChipLearner, EngineOptions, Quiet};
use neurocycle::train::stdp::{learning_model, stimulus, StdpNet};

fn bench(c: &mut Criterion) {
    let data = load("mnist", None).unwrap();
    let hw = HwConfig::preset("default")
        .unwrap()
        .with_overrides(
            "bench",
            &[
                "core.neurons=32".to_string(),
                "membrane_sram.state_bits=48".to_string(),
            ],
        )
        .unwrap();
    let net = StdpNet::new(200, 64);
    let model = learning_model(&net, data.train.sample_len, 1);
    let map = neurocycle::mapping::map(&model, &hw, "bench").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let images = 16;
    let stims: Vec<_> = (0..images)
        .map(|i| {
            let label = Some(data.train.labels[i] as u32);
            stimulus(
                &model,
                data.train.sample(i),
                net.input_divisor,
                1,
                i as u64,
                label,
            )
        })
        .collect();
    let learn_all = || {
        let mut learner = ChipLearner::new(&chip);
        let (mut cycles, mut updates) = (0, 0);
        for s in &stims {
            let r =
                run_sample_learning(&chip, s, EngineOptions::default(), &mut Quiet, &mut learner)
                    .unwrap();
            cycles += r.counters.cycles;
            updates += r.counters.total(|k| k.weight_updates);
        }
        (cycles, updates)
    };
    let first = learn_all();
    eprintln!(
        "workload: {images} images, {} chip cycles, {} weight updates",
        first.0, first.1
    );
    let mut g = c.benchmark_group("learn");
    g.throughput(Throughput::Elements(images as u64));
    g.sample_size(10);
    g.bench_function("stdp_784-200_T64_default_chip", |b| {
        b.iter(|| {
            let got = learn_all();
            assert_eq!(got, first);
            got.0
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
