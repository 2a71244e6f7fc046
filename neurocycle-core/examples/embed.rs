//! Embedding the simulator in your own tool: a chip config and a model in,
//! cycles, spikes and energy out, checked against the reference executor.
//! cargo run --release -p neurocycle-core --example embed -- [preset] [--set PATH=VALUE ...]
use neurocycle_core::config::HwConfig;
use neurocycle_core::engine::{run_sample, Chip, EngineOptions, Quiet};
use neurocycle_core::model::gen::{generate, GenSpec};
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::{energy, mapping, reference};

fn main() {
    if let Err(e) = embed() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn embed() -> neurocycle_core::error::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = args.first().map_or("default", String::as_str);
    let sets: Vec<String> = args
        .iter()
        .skip(1)
        .filter(|a| *a != "--set")
        .cloned()
        .collect();
    // Only a validated config (`Checked<HwConfig>`) reaches the mapper.
    let hw = HwConfig::preset(preset)?.with_overrides(preset, &sets)?;
    let model = generate(&GenSpec::default());
    let map = mapping::map(&model, &hw, "generated")?;
    let chip = Chip::build(&hw, &model, &map);
    let stimulus = synthetic(&model, 1, 0);
    let opts = EngineOptions {
        record_spikes: true,
        ..EngineOptions::default()
    };
    let run = run_sample(&chip, &stimulus, opts, &mut Quiet)?;
    let expected = reference::run(&model, &stimulus);
    assert_eq!(run.spikes, expected.spikes, "engine and reference differ");
    let e = energy::breakdown(&run.counters, &hw, chip.flit_bits);
    println!(
        "{}: {} cores used, {} cycles, {} spikes (equal to the reference), {:.1} nJ ({:.0}% synapse memory)",
        hw.name,
        map.cores.len(),
        run.counters.cycles,
        run.spikes.len(),
        e.total() / 1e3,
        100.0 * e.synapse_memory / e.total()
    );
    Ok(())
}
