//! ARCHITECTURE.md's structural invariants, checked on the source: data
//! flows one way (a module uses only modules below it), the simulator core
//! is a crate of its own that links none of the rest, and it does no IO.

use std::collections::BTreeSet;
use std::path::Path;

/// Modules from the bottom up: each may use only those before it (and
/// `error`, `limits` and `parallel`, the base every module may use).
const LAYERS: &[&str] = &[
    "model",
    "config",
    "mapping",
    "data",
    "inputs",
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

/// The modules of the core crate (`neurocycle-core/src`); the rest are the
/// `neurocycle` crate's (`src`), which re-exports these under their names.
const CORE: &[&str] = &[
    "error",
    "limits",
    "parallel",
    "model",
    "config",
    "mapping",
    "reference",
    "engine",
    "energy",
    "traffic",
    "run",
    "report",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The source of a module: `NAME.rs` or every file under `NAME/` in its
/// crate's `src`, comment lines left out.
fn source(name: &str) -> String {
    let root = if CORE.contains(&name) {
        root().join("neurocycle-core/src")
    } else {
        root().join("src")
    };
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
fn the_core_crate_holds_exactly_the_core_modules() {
    let mut modules: Vec<String> = std::fs::read_dir(root().join("neurocycle-core/src"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|m| m != "lib")
        .collect();
    modules.sort();
    let mut expected: Vec<String> = CORE.iter().map(|m| m.to_string()).collect();
    expected.sort();
    assert_eq!(modules, expected);
    for m in CORE {
        assert!(
            !root().join("src").join(format!("{m}.rs")).exists()
                && !root().join("src").join(m).exists(),
            "{m} is in both crates"
        );
    }
}

#[test]
fn the_core_crate_links_no_trainer_plot_data_or_cli_crate() {
    // The compiler already keeps the core from naming `neurocycle` (it is
    // not a dependency); this keeps the heavy crates of the rest out of it.
    let manifest = std::fs::read_to_string(root().join("neurocycle-core/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for heavy in [
        "plotters",
        "png",
        "clap",
        "indicatif",
        "csv",
        "hdf5",
        "npyz",
        "tracing-subscriber",
        "neurocycle =",
    ] {
        assert!(!deps.contains(heavy), "the core crate depends on {heavy}");
    }
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
    for m in ["engine", "mapping", "reference", "energy", "run", "traffic"] {
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
