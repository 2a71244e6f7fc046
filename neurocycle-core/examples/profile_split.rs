//! Times one inference of a model file split over 1..=N threads (the
//! chip built once), for profilers and quick checks:
//! cargo run --release --example profile_split -- MODEL.ncm HW.ron N [REPEATS]
use neurocycle_core::config::HwConfig;
use neurocycle_core::engine::{Chip, Engine, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::model::Model;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = Model::load(std::path::Path::new(&args[1])).unwrap();
    let hw = HwConfig::load(std::path::Path::new(&args[2])).unwrap();
    let max: usize = args[3].parse().unwrap();
    let repeats: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(3);
    let map = mapping::map(&model, &hw, "m").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 1, 0);
    for threads in 1..=max {
        let mut engine = Engine::new(&chip, threads);
        let mut best = f64::MAX;
        let mut cycles = 0;
        for _ in 0..repeats {
            let t = std::time::Instant::now();
            let out = engine
                .run(&stim, EngineOptions::default(), &mut Quiet)
                .unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            cycles = out.counters.cycles;
        }
        println!(
            "{threads} thread(s), {} partitions: {best:.3} s per inference ({cycles} cycles)",
            engine.partitions()
        );
    }
}
