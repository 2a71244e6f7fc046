//! The files users write, mutated: chip configs, models (RON and `.ncm`)
//! and sweep files with flipped bytes, cut and repeated spans and hostile
//! tokens (huge and negative numbers, NaN, a byte-order mark, unbalanced
//! brackets). Each must give a value or an error, never a panic; what
//! loads is mapped and, when small, run. 2,000 cases per `cargo test`.

use neurocycle::config::HwConfig;
use neurocycle::model::Model;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::Path;

const TOKENS: &[&str] = &[
    "-1",
    "0",
    "1",
    "65536",
    "4294967296",
    "99999999999999999999",
    "-9223372036854775809",
    "9223372036854775807",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "0.5",
    "[]",
    "()",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\u{feff}",
    "Some(",
    "None",
    "true",
    "x",
    "\n",
    "//",
    "/*",
    "-",
    ".",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Delete(Index, usize),
    Insert(Index, Index),
    Repeat(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), 1usize..60).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(base: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = base.to_vec();
    for m in ms {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, v) => {
                let at = i.index(b.len());
                b[at] = *v;
            }
            Mutation::Delete(i, n) => {
                let at = i.index(b.len());
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Mutation::Insert(i, t) => {
                let at = i.index(b.len() + 1);
                let token = TOKENS[t.index(TOKENS.len())].as_bytes();
                b.splice(at..at, token.iter().copied());
            }
            Mutation::Repeat(i, n) => {
                let at = i.index(b.len());
                let end = (at + n).min(b.len());
                let span: Vec<u8> = b[at..end].to_vec();
                b.splice(at..at, span);
            }
        }
    }
    b
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(repo(path)).unwrap()
}

/// Maps a model that loaded onto the tiny and default chips and, when it
/// is small, runs a sample through the reference and the engine.
fn exercise(model: &Model) {
    let small = model.n_synapses() < 20_000
        && model.timesteps <= 16
        && model
            .populations
            .iter()
            .map(|p| p.len() as u64)
            .sum::<u64>()
            < 4_096;
    for name in ["tiny", "default"] {
        let hw = HwConfig::preset(name).unwrap();
        let Ok(map) = neurocycle::mapping::map(model, &hw, "fuzz") else {
            continue;
        };
        if small {
            let chip = neurocycle::engine::Chip::build(&hw, model, &map);
            let stim = neurocycle::model::stimulus::synthetic(model, 1, 0);
            let _ = neurocycle::reference::run(model, &stim);
            let _ = neurocycle::engine::run_sample(
                &chip,
                &stim,
                neurocycle::engine::EngineOptions::default(),
                &mut neurocycle::engine::Quiet,
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_chip_configs_never_panic(
        which in 0usize..3,
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let base = read(["hw_configs/tiny.ron", "hw_configs/default.ron", "hw_configs/loihi.ron"][which]);
        let text = String::from_utf8_lossy(&mutate(&base, &ms)).into_owned();
        if let Ok(hw) = HwConfig::parse("fuzz.ron", &text) {
            let model = neurocycle::model::file::load(&repo("models/tiny.ron")).unwrap();
            let _ = neurocycle::mapping::map(&model, &hw, "tiny");
        }
    }

    #[test]
    fn mutated_models_never_panic(
        which in 0usize..2,
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let base = read(["models/tiny.ron", "models/mnist-mlp.ron"][which]);
        let bytes = mutate(&base, &ms);
        if let Ok(model) = neurocycle::model::file::from_bytes("fuzz.ron", &bytes) {
            if model.validate("fuzz.ron").is_ok() {
                exercise(&model);
            }
        }
    }

    #[test]
    fn mutated_sweep_files_never_panic(
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let base = format!(
            "Sweep(name: \"fuzz\", hw: \"{}\", models: [\"{}\"], samples: 1, set: [\"mesh=2x2\"],
              axes: [Axis(path: \"core.pes\", values: List([1, 4])), Axis(path: \"router.buffer_depth\", values: Range(start: 1, end: 3, step: 1))],
              filter: [\"core.pes <= core.neurons / 2\"])",
            repo("hw_configs/tiny.ron").display(),
            repo("models/tiny.ron").display()
        );
        let text = String::from_utf8_lossy(&mutate(base.as_bytes(), &ms)).into_owned();
        let spec = neurocycle::error::parse_ron::<neurocycle::sweep::spec::SweepSpec>("fuzz.ron", &text);
        if let Ok(spec) = spec {
            if let Ok(sweep) = neurocycle::sweep::spec::Sweep::resolve("fuzz.ron", spec, Path::new("/")) {
                if let Ok(prepared) = neurocycle::sweep::Prepared::new(sweep, None) {
                    if let Some(p) = prepared.sweep.points.first() {
                        let _ = prepared.run_point(p);
                    }
                }
            }
        }
    }
}

/// `.ncm` bytes with the same mutations (the model-file tests also cover
/// truncations and lying headers).
#[test]
fn mutated_binary_models_never_panic() {
    use proptest::test_runner::{Config, TestRunner};
    let model = neurocycle::model::file::load(&repo("models/tiny.ron")).unwrap();
    let base = neurocycle::model::ncm::encode(&model);
    let mut runner = TestRunner::new(Config {
        cases: 500,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(mutation(), 1..6), |ms| {
            let bytes = mutate(&base, &ms);
            if let Ok(m) = neurocycle::model::ncm::decode("fuzz.ncm", &bytes) {
                if m.validate("fuzz.ncm").is_ok() {
                    exercise(&m);
                }
            }
            Ok(())
        })
        .unwrap();
}
