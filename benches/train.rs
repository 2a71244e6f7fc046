//! Training throughput: samples per host second for one epoch of the
//! trainer on the embedded MNIST subset, an MLP 784-256-10 and a small
//! conv net, T = 8, graded input, 8-bit QAT, on one thread and on all.
//!
//! cargo bench --bench train

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurocycle::data::load;
use neurocycle::model::InputEncoding;
use neurocycle::train::{parse_arch, train, TrainSpec};

fn bench(c: &mut Criterion) {
    let data = load("mnist", None).unwrap();
    let n = 512;
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (name, arch) in [
        ("mlp_784-256-10", "784-256-10"),
        (
            "conv_c8k5s2p2,c16k3s2p1,d10",
            "1x28x28:c8k5s2p2,c16k3s2p1,d10",
        ),
    ] {
        let mut g = c.benchmark_group(format!("train_{name}"));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        for threads in [1, all] {
            let spec = TrainSpec {
                arch: parse_arch(arch).unwrap(),
                encoding: InputEncoding::Graded { bits: 8 },
                epochs: 1,
                train_samples: Some(n),
                test_samples: Some(1),
                threads,
                ..TrainSpec::default()
            };
            g.bench_function(format!("{threads}_threads"), |b| {
                b.iter(|| train(&spec, &data, &|_| {}).unwrap().final_loss)
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
