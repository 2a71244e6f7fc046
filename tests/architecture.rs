//! ARCHITECTURE.md's structural invariants, checked on the source: data
//! flows one way (a module uses only modules below it), and the simulator
//! core does no IO.

use std::collections::BTreeSet;
use std::path::Path;

/// Modules from the bottom up: each may use only those before it (and
/// `error`, `limits` and `parallel`, the base every module may use).
const LAYERS: &[&str] = &[
    "model",
    "config",
    "mapping",
    "data",
    "nir",
    "reference",
    "engine",
    "energy",
    "traffic",
    "run",
    "train",
    "report",
    "accelerator",
    "job",
    "plot",
    "trace",
    "sweep",
    "study",
];

const BASE: &[&str] = &["error", "limits", "parallel"];

/// The source of a module: `src/NAME.rs` or every file under `src/NAME/`,
/// comment lines left out.
fn source(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let file = root.join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut dirs = vec![root.join(name)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty(), "module {name} has no source");
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("source reads"))
        .flat_map(|t| {
            t.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| l.to_string() + "\n")
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The crate modules a source names (`crate::NAME`).
fn uses(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[test]
fn data_flows_one_way() {
    let mut wrong = vec![];
    for (i, m) in LAYERS.iter().enumerate() {
        for used in uses(&source(m)) {
            if used == *m || BASE.contains(&used.as_str()) {
                continue;
            }
            match LAYERS.iter().position(|l| *l == used) {
                Some(j) if j < i => {}
                _ => wrong.push(format!("{m} uses {used}")),
            }
        }
    }
    assert!(wrong.is_empty(), "uses against the flow: {wrong:?}");
}

#[test]
fn run_and_report_do_not_use_each_other_both_ways() {
    // The edge this test was written for: run built reports and report
    // read run's summary. Now job sits above both.
    assert!(!uses(&source("run")).contains("report"));
    assert!(!uses(&source("run")).contains("job"));
}

#[test]
fn the_simulator_core_does_no_io() {
    for m in ["engine", "mapping", "reference", "energy", "run"] {
        let text = source(m);
        for io in [
            "std::fs",
            "write_atomic",
            "File::create",
            "println!",
            "eprintln!",
        ] {
            assert!(!text.contains(io), "{m} does IO: {io}");
        }
    }
}

#[test]
fn engine_shares_only_the_model_with_the_reference() {
    let engine = uses(&source("engine"));
    assert!(!engine.contains("reference"), "engine uses reference");
    let reference = uses(&source("reference"));
    assert!(!reference.contains("engine"), "reference uses engine");
    assert!(!reference.contains("mapping"), "reference uses mapping");
}

#[test]
fn threads_are_spread_in_one_place() {
    // Outside `parallel` and the engine's partitions (`engine::sync`), no
    // module starts threads of its own.
    for m in LAYERS {
        let text = source(m);
        for spawn in ["thread::scope", "crossbeam::scope", "thread::spawn"] {
            let allowed = *m == "engine";
            assert!(
                allowed || !text.contains(spawn),
                "{m} starts threads: {spawn}"
            );
        }
    }
}
