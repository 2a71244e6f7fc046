//! The agreement of imported snnTorch networks with snnTorch, on the chip:
//! `cargo run --release --example nir_fixtures [HW_PRESET]` (default
//! loihi). Prints, for each fixture and weight width, how many samples get
//! snnTorch's class and the Jaccard index of the spike sets (smallest per
//! sample, and pooled), against snnTorch's own spikes (import with
//! `--reset delayed-subtract`) and against the literal NIR-spec reading
//! (`--reset to-value`).

#[path = "../tests/common/nir_fixtures.rs"]
mod fixtures;

use neurocycle::config::HwConfig;
use neurocycle::model::Reset;

fn main() {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "loihi".into());
    let hw = HwConfig::preset(&preset).expect("a preset name");
    println!("chip: hw_configs/{preset}.ron; dt = 1e-4 s; per-tensor scales");
    println!(
        "{:<18} {:<18} {:>4} {:>5} {:>11} {:>9} {:>14} {:>14} {:>14} {:>14}",
        "fixture",
        "against",
        "bits",
        "decay",
        "same class",
        "correct",
        "out J (min)",
        "out J (all)",
        "hid J (min)",
        "hid J (all)"
    );
    for name in fixtures::FIXTURES {
        for (against, reset, nirspec) in [
            ("snnTorch", Reset::DelayedSubtract, false),
            ("NIR spec", Reset::ToValue, true),
        ] {
            // Decays to 1e-5 (15 bits here), then Loihi's 12-bit decays.
            for (bits, decay) in [
                (16u8, None),
                (8, None),
                (4, None),
                (2, None),
                (16, Some(12)),
            ] {
                let f =
                    fixtures::figures(name, &hw, &fixtures::options(bits, reset, decay), nirspec);
                let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
                println!(
                    "{:<18} {:<18} {:>4} {:>5} {:>11} {:>9} {:>14.3} {:>14.3} {:>14} {:>14}",
                    name,
                    against,
                    bits,
                    decay.map_or("auto".to_string(), |d| d.to_string()),
                    format!("{}/{}", f.same_class, f.samples),
                    format!("{}/{}", f.correct, f.samples),
                    f.output_min,
                    f.output_all,
                    opt(f.hidden_min),
                    opt(f.hidden_all)
                );
            }
        }
    }
}
