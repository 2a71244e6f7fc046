//! NoC mode throughput: an 8x8 mesh of the default chip's routers under
//! uniform traffic at 0.1 flits per node per cycle, one thread; then the
//! same on the input-queued router with 2 VCs and a 3-stage pipeline
//! (lookahead routing, VC allocation, switch allocation, crossbar). Criterion's
//! "elements/s" is router-cycles simulated per host second in the first
//! group and flits delivered per host second in the second (same run).
//! The delivered count is checked, so a fast wrong answer fails.
//!
//! cargo bench --bench noc

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neurocycle_core::config::HwConfig;
use neurocycle_core::engine::chip::{mesh_params, unicast_flit_bits};
use neurocycle_core::traffic::{simulate, TrafficSpec};

fn bench(c: &mut Criterion) {
    for (label, sets) in [
        ("8x8_uniform_0.1", vec!["mesh=8x8"]),
        (
            "8x8_uniform_0.1_iq_2vc_3stage",
            vec![
                "mesh=8x8",
                "router.input_queued.vcs=2",
                "router.input_queued.routing_cycles=0",
                "router.latency_cycles=3",
            ],
        ),
    ] {
        let sets: Vec<String> = sets.into_iter().map(String::from).collect();
        let hw = HwConfig::preset("default")
            .unwrap()
            .with_overrides("default", &sets)
            .unwrap();
        let p = mesh_params(&hw, unicast_flit_bits(&hw, hw.core.neurons));
        let spec = TrafficSpec {
            rate: 0.1,
            warmup_cycles: 1_000,
            measure_cycles: 10_000,
            ..TrafficSpec::default()
        };
        let first = simulate(p, &spec);
        assert!(!first.saturated);
        eprintln!(
            "{label}: {} cycles x {} routers, {} flits delivered, mean latency {:.2}",
            first.cycles,
            first.nodes,
            first.flits_delivered,
            first.packet_latency_mean.unwrap_or(f64::NAN)
        );
        let run = || {
            let r = simulate(p, &spec);
            assert_eq!(r.flits_delivered, first.flits_delivered);
            r.cycles
        };
        for (name, n) in [
            ("router_cycles", first.router_cycles()),
            ("flits_delivered", first.flits_delivered),
        ] {
            let mut g = c.benchmark_group(format!("noc_{name}"));
            g.throughput(Throughput::Elements(n));
            // This VM's speed drifts by 10-30% over seconds: a longer window
            // averages over it.
            g.sample_size(30);
            g.warm_up_time(std::time::Duration::from_secs(5));
            g.measurement_time(std::time::Duration::from_secs(10));
            g.bench_function(label, |b| b.iter(run));
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
