//! Runs the bench workload in a loop, for profilers (perf, callgrind):
//! cargo run --release --example profile_engine -- 50
use neurocycle_core::config::HwConfig;
use neurocycle_core::engine::{Chip, Engine, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::gen::{bench_spec, generate};
use neurocycle_core::model::stimulus::synthetic;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let hw = HwConfig::preset("default").unwrap();
    let model = generate(&bench_spec());
    let map = mapping::map(&model, &hw, "bench").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 1, 0);
    let mut engine = Engine::new(&chip, 1);
    let t = std::time::Instant::now();
    let mut synops = 0;
    for _ in 0..n {
        synops += engine
            .run(&stim, EngineOptions::default(), &mut Quiet)
            .unwrap()
            .counters
            .total(|k| k.synops);
    }
    let s = t.elapsed().as_secs_f64();
    println!("{:.1} M synops/s", synops as f64 / s / 1e6);
}
