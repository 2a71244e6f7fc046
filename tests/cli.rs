//! The binary as a user runs it: the README's demo, `run --check`,
//! `gen`, the JSON report, and one-line errors with exit code 2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neurocycle"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neurocycle-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

#[test]
fn demo_runs_and_matches_the_reference() {
    let o = run(&["demo", "--samples", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 mismatched spikes"), "{out}");
    assert!(out.contains("PE utilization"));
}

#[test]
fn run_check_and_json_report_with_documented_keys() {
    let report = tmp("report.json");
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/tiny.ron",
        "--model",
        "models/tiny.ron",
        "--samples",
        "3",
        "--check",
        "--set",
        "core.pes=2",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for key in [
        "schema_version",
        "latency",
        "cores",
        "memory",
        "noc",
        "energy",
        "accuracy",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for path in [
        "/latency/cycles",
        "/cores/imbalance",
        "/cores/pe_utilization",
        "/cores/per_core",
        "/memory/synapse_word_reads",
        "/memory/membrane_word_reads",
        "/memory/membrane_word_writes",
        "/noc/flits_injected",
        "/noc/flits_ejected",
        "/noc/max_flit_latency_cycles",
        "/energy/total_pj",
        "/energy/breakdown_pj",
    ] {
        assert!(v.pointer(path).is_some(), "missing {path}");
    }
    assert!(v["cores"]["per_core"].is_array());
    assert_eq!(v["run"]["samples"], 3);
    assert_eq!(v["check"]["mismatched_spikes"], 0);
    assert_documented(&v, "docs/report.md");
}

/// Every key of a JSON report (array elements by their first) is named
/// in backquotes in `doc`.
fn assert_documented(v: &serde_json::Value, doc: &str) {
    let text = std::fs::read_to_string(doc).unwrap();
    fn walk(prefix: &str, v: &serde_json::Value, doc: &str, text: &str) {
        if let Some(obj) = v.as_object() {
            for (k, child) in obj {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                assert!(
                    text.contains(&format!("`{path}`")),
                    "{doc} does not document `{path}`"
                );
                if !k.ends_with("breakdown_pj") {
                    walk(&path, child, doc, text);
                }
            }
        } else if let Some(first) = v.as_array().and_then(|a| a.first()) {
            walk(&format!("{prefix}[]"), first, doc, text);
        }
    }
    walk("", v, doc, &text);
}

#[test]
fn same_seed_same_report_whatever_the_thread_count() {
    let (a, b) = (tmp("t1.json"), tmp("t2.json"));
    for (threads, path) in [("1", &a), ("2", &b)] {
        let o = run(&[
            "run",
            "--hw",
            "hw_configs/default.ron",
            "--model",
            "models/tiny.ron",
            "--samples",
            "5",
            "--seed",
            "9",
            "--threads",
            threads,
            "--report",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&b).unwrap()
    );
}

#[test]
fn gen_then_run_every_cycle_agrees() {
    let model = tmp("gen.ron");
    let o = run(&[
        "gen",
        "--layers",
        "40,30,10",
        "--sparsity",
        "0.8",
        "--weight-bits",
        "2",
        "--timesteps",
        "3",
        "--semantics",
        "pipelined",
        "--seed",
        "4",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reports: Vec<String> = ["", "--every-cycle"]
        .iter()
        .enumerate()
        .map(|(i, flag)| {
            let report = tmp(&format!("ec{i}.json"));
            let mut args = vec![
                "run",
                "--hw",
                "hw_configs/tiny.ron",
                "--model",
                model.to_str().unwrap(),
                "--samples",
                "2",
                "--check",
                "--report",
                report.to_str().unwrap(),
            ];
            if !flag.is_empty() {
                args.push(flag);
            }
            let o = run(&args);
            assert!(o.status.success(), "{}", stderr(&o));
            std::fs::read_to_string(report).unwrap()
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    let conv = tmp("conv.ron");
    let o = run(&[
        "gen",
        "--conv",
        "1x8x8:c2k3s1p1,p2,d4",
        "--out",
        conv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        conv.to_str().unwrap(),
        "--samples",
        "2",
        "--check",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A copy of `file` in the temporary folder, as `name`, with `from` replaced.
fn edited(file: &str, name: &str, from: &str, to: &str) -> PathBuf {
    let path = tmp(name);
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{file} lacks {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

/// Asserts exit code 2 and a single error line containing every needle.
fn fails_with(args: &[&str], needles: &[&str]) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(!err.contains("panicked"));
}

#[test]
fn bad_input_gets_one_line_and_exit_code_2() {
    let m = "models/tiny.ron";
    fails_with(
        &["run", "--hw", "nope.ron", "--model", m],
        &["nope.ron", "cannot read"],
    );
    // A device where a file is expected is refused, not read for ever.
    fails_with(
        &["run", "--hw", "/dev/zero", "--model", m],
        &["/dev/zero", "not a regular file"],
    );
    let bad = tmp("bad.ron");
    std::fs::write(&bad, "(name: \"x\", mesh: (4, 4),, )").unwrap();
    fails_with(
        &["run", "--hw", bad.to_str().unwrap(), "--model", m],
        &["bad.ron:1:"],
    );
    let unknown = edited(
        "hw_configs/tiny.ron",
        "unknown.ron",
        "barrier_cycles",
        "barrier_cyclez",
    );
    fails_with(
        &["run", "--hw", unknown.to_str().unwrap(), "--model", m],
        &["unknown.ron:", "barrier_cyclez"],
    );
    let range = edited("hw_configs/tiny.ron", "range.ron", "pes: 4", "pes: 0");
    fails_with(
        &["run", "--hw", range.to_str().unwrap(), "--model", m],
        &["range.ron", "core.pes = 0", "1 ..= 1024"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            m,
            "--set",
            "router.buffer_depth=0",
        ],
        &["router.buffer_depth = 0", "1 ..= 256"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            m,
            "--set",
            "core.bogus=3",
        ],
        &["core.bogus", "unknown parameter"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            m,
            "--samples",
            "-1",
        ],
        &["'-1' for '--samples", "expected a whole number, 0 or more"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            m,
            "--set",
            "energy.synop.pj=inf",
        ],
        &["energy.synop.pj=inf", "expected finite number"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            m,
            "--samples",
            "0",
        ],
        &["--samples = 0", "1 ..= "],
    );
    let big = tmp("big.ron");
    let o = run(&[
        "gen",
        "--layers",
        "100,200,10",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            big.to_str().unwrap(),
        ],
        &[
            "big.ron",
            "does not fit",
            "core.neurons = 32",
            "the chip has 4",
        ],
    );
    let badmodel = edited(m, "badmodel.ron", "weight_bits: 4", "weight_bits: 2");
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/tiny.ron",
            "--model",
            badmodel.to_str().unwrap(),
        ],
        &["badmodel.ron", "layers[1].weights[0] = 3", "-1 ..= 1"],
    );
}

#[test]
fn noc_run_curve_and_errors() {
    let report = tmp("noc.json");
    let o = run(&[
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--traffic",
        "transpose",
        "--rate",
        "0.1",
        "--measure-cycles",
        "2000",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("saturation: no"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["kind"], "noc");
    assert_eq!(v["run"]["pattern"], "transpose");
    assert_documented(&v, "docs/noc.md");

    let dir = tmp("noc-curve");
    let o = run(&[
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--rates",
        "0.05,0.2,0.9",
        "--measure-cycles",
        "2000",
        "--max-drain-cycles",
        "2000",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.join("noc_curve.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[0].starts_with("rate,offered,accepted"));
    assert!(
        rows[3].starts_with("0.9,") && rows[3].contains(",true,"),
        "{csv}"
    );
    let svg = std::fs::read_to_string(dir.join("latency_vs_load.svg")).unwrap();
    // The first series' colour: a latency line was drawn.
    assert!(
        svg.starts_with("<svg") && svg.contains("#1F77B4"),
        "no plot"
    );
    let mut curve: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("noc_curve.json")).unwrap())
            .unwrap();
    assert_eq!(curve["points"].as_array().unwrap().len(), 3);
    assert_documented(&curve["points"][0], "docs/noc.md");
    curve["points"] = serde_json::Value::Null;
    assert_documented(&curve, "docs/noc.md");

    let hw = "hw_configs/default.ron";
    fails_with(
        &["noc", "--hw", hw, "--rate", "1.5"],
        &["--rate = 1.5", "0.0 ..= 1.0"],
    );
    fails_with(
        &[
            "noc",
            "--hw",
            hw,
            "--traffic",
            "transpose",
            "--set",
            "mesh=4x2",
            "--rate",
            "0.1",
        ],
        &["mesh = 4x2", "square mesh"],
    );
    fails_with(&["noc", "--hw", hw, "--sweep-rates"], &["--out DIR"]);
    fails_with(&["noc", "--hw", hw], &["--rate"]);
    fails_with(
        &[
            "noc",
            "--hw",
            hw,
            "--traffic",
            "hotspot",
            "--hotspot",
            "9,9",
            "--rate",
            "0.1",
        ],
        &["--hotspot = 9,9", "X < 4"],
    );
}

#[test]
fn train_then_eval_then_run_on_the_chip_agree() {
    let model = tmp("trained.ron");
    let o = run(&[
        "train",
        "--dataset",
        "mnist",
        "--arch",
        "784-24-10",
        "--timesteps",
        "4",
        "--bits",
        "4",
        "--epochs",
        "1",
        "--train-samples",
        "300",
        "--test-samples",
        "60",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // "integer model test accuracy 71.67% on 60 samples"
    let acc = out
        .split("test accuracy ")
        .nth(1)
        .and_then(|r| r.split('%').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let o = run(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "mnist",
        "--samples",
        "60",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval = String::from_utf8_lossy(&o.stdout);
    assert!(
        eval.contains(&format!("= {acc}% test accuracy")),
        "{eval} vs {acc}"
    );
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "mnist",
        "--samples",
        "60",
        "--check",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let chip = String::from_utf8_lossy(&o.stdout);
    assert!(chip.contains(&format!("{acc}%")), "{chip} vs {acc}");
    assert!(chip.contains("0 mismatched spikes"));
    fails_with(
        &[
            "train",
            "--dataset",
            "mnist",
            "--arch",
            "100-10",
            "--out",
            "x.ron",
        ],
        &["--arch = 100", "784 inputs"],
    );
    fails_with(
        &["eval", "--model", "models/tiny.ron", "--dataset", "mnist"],
        &["tiny.ron", "input.size", "784"],
    );
}

#[test]
fn run_writes_traces_and_heat_maps_and_plot_draws_from_files() {
    let dir = tmp("traces");
    let plots = tmp("run-plots");
    let report = tmp("traced.json");
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        "models/tiny.ron",
        "--samples",
        "2",
        "--trace",
        dir.to_str().unwrap(),
        "--trace-kinds",
        "spikes,vcd,flits",
        "--trace-sample",
        "1",
        "--plots",
        plots.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let vcd = std::fs::read_to_string(dir.join("cycles.vcd")).unwrap();
    assert!(vcd.contains("$enddefinitions $end") && vcd.contains("$scope module core_0 $end"));
    let chrome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trace.json")).unwrap()).unwrap();
    assert!(chrome["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["pid"] == 2 && e["ph"] == "X"));
    assert!(std::fs::read_to_string(dir.join("spikes.csv"))
        .unwrap()
        .starts_with("timestep,layer,neuron,core,cycle,population\n"));
    for name in ["pe-utilization", "busy-fraction", "link-load"] {
        for ext in ["svg", "png"] {
            let len = std::fs::metadata(plots.join(format!("{name}.{ext}")))
                .unwrap()
                .len();
            assert!(len > 1000, "{name}.{ext}: {len} bytes");
        }
    }
    let out = tmp("heat.svg");
    let o = run(&[
        "plot",
        "heatmap",
        report.to_str().unwrap(),
        "--metric",
        "link-load",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&out).unwrap().contains("<svg"));
    // The saved report draws the same pictures as the run that wrote it.
    for name in ["pe-utilization", "busy-fraction", "link-load"] {
        let again = tmp(&format!("again-{name}.svg"));
        let o = run(&[
            "plot",
            "heatmap",
            report.to_str().unwrap(),
            "--metric",
            name,
            "--out",
            again.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            std::fs::read(&again).unwrap(),
            std::fs::read(plots.join(format!("{name}.svg"))).unwrap(),
            "{name}"
        );
    }
    // A CSV of our own through `plot pareto`.
    let csv = tmp("points.csv");
    std::fs::write(
        &csv,
        "model,energy_per_inference_pj,accuracy\na,1,0.5\na,2,0.9\nb,3,0.8\nb,0.5,0.1\n",
    )
    .unwrap();
    let png = tmp("front.png");
    let o = run(&[
        "plot",
        "pareto",
        csv.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    // Bad selections and columns: one line naming the flag, exit 2.
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/default.ron",
            "--model",
            "models/tiny.ron",
            "--trace",
            dir.to_str().unwrap(),
            "--trace-cores",
            "0,x",
        ],
        &["--trace-cores"],
    );
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/default.ron",
            "--model",
            "models/tiny.ron",
            "--trace",
            dir.to_str().unwrap(),
            "--trace-window",
            "50..10",
        ],
        &["--trace-window", "FIRST..LAST"],
    );
    fails_with(
        &[
            "plot",
            "pareto",
            csv.to_str().unwrap(),
            "--x",
            "nope",
            "--out",
            png.to_str().unwrap(),
        ],
        &["points.csv", "column", "nope", "energy_per_inference_pj"],
    );
}

/// A quick utilization study from the command line into a fresh `name`
/// with `flags`: its folder and the command's output; fails the test if
/// the command fails.
fn quick_utilization_study(name: &str, flags: &[&str]) -> (PathBuf, Output) {
    let out = tmp(name);
    let _ = std::fs::remove_dir_all(&out);
    let mut args = vec![
        "study",
        "utilization",
        "--hw",
        "hw_configs/default.ron",
        "--dataset",
        "mnist",
        "--quick",
    ];
    args.extend_from_slice(flags);
    args.extend(["--out", out.to_str().unwrap()]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    (out, o)
}

#[test]
fn a_study_over_seeds_gives_each_row_an_interval_and_error_bars() {
    let (out, _) = quick_utilization_study("study-seeds", &["--seeds", "2", "--seed", "5"]);
    for f in [
        "seed-5/results.csv",
        "seed-6/results.csv",
        "seed-6/report.md",
        "seeds.csv",
        "report.md",
        "plots/pe_utilization-vs-sparsity.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("over 2 seeds"), "{md}");
    // The seeds trained differently, and each row's mean lies inside its
    // interval, which the two seeds' values span.
    let a = std::fs::read_to_string(out.join("seed-5/results.csv")).unwrap();
    let b = std::fs::read_to_string(out.join("seed-6/results.csv")).unwrap();
    assert_ne!(a, b);
    let csv = std::fs::read_to_string(out.join("seeds.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (m, lo, hi) = (col("accuracy"), col("accuracy_lo"), col("accuracy_hi"));
    let acc = |t: &str, row: usize| -> f64 {
        let h: Vec<&str> = t.lines().next().unwrap().split(',').collect();
        let c = h.iter().position(|x| *x == "accuracy").unwrap();
        t.lines()
            .nth(row + 1)
            .unwrap()
            .split(',')
            .nth(c)
            .unwrap()
            .parse()
            .unwrap()
    };
    for (i, line) in lines.enumerate() {
        let cells: Vec<f64> = line
            .split(',')
            .map(|c| c.parse().unwrap_or(f64::NAN))
            .collect();
        assert!(cells[lo] <= cells[m] && cells[m] <= cells[hi], "{line}");
        assert!((cells[m] - (acc(&a, i) + acc(&b, i)) / 2.0).abs() < 1e-12);
        assert!(cells[lo] <= acc(&a, i).min(acc(&b, i)) + 1e-12, "{line}");
    }
    let svg = std::fs::read_to_string(out.join("plots/accuracy-vs-sparsity.svg")).unwrap();
    assert!(svg.contains("95% interval over 2 seeds"));
    // Paired figures are computed within each seed: u-Ticket's latency
    // ratio over LTH at round 1 is each seed's own quotient of cycles.
    let cycles = |t: &str, method: &str| -> f64 {
        let h: Vec<&str> = t.lines().next().unwrap().split(',').collect();
        let c = h.iter().position(|x| *x == "cycles_per_inference").unwrap();
        let line = t
            .lines()
            .find(|l| l.starts_with(&format!("{method},1,")))
            .unwrap();
        line.split(',').nth(c).unwrap().parse().unwrap()
    };
    let paired = std::fs::read_to_string(out.join("paired.csv")).unwrap();
    assert!(paired
        .starts_with("comparison,figure,seed_5,seed_6,mean,lo,hi,no_difference,beyond_noise\n"));
    let line = paired
        .lines()
        .find(|l| {
            l.starts_with("\"u-ticket against lth, round 1 (") && l.contains(",latency ratio,")
        })
        .unwrap_or_else(|| panic!("{paired}"));
    // The quoted comparison holds a comma: the seeds follow the figure.
    let (_, rest) = line.split_once("\",").unwrap();
    let v: Vec<f64> = rest
        .split(',')
        .skip(1)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    for (got, t) in v.iter().zip([&a, &b]) {
        let want = cycles(t, "lth") / cycles(t, "u-ticket");
        assert!((got - want).abs() < 1e-9, "{got} {want}");
    }
    assert!(md.contains("## Paired differences"), "{md}");
    // The seeds ran side by side on shared threads; each equals its seed
    // run alone on all of them.
    let (alone, _) = quick_utilization_study(
        "study-seed-alone",
        &["--seeds", "1", "--seed", "6", "--threads", "2"],
    );
    assert_eq!(
        std::fs::read_to_string(alone.join("results.csv")).unwrap(),
        b
    );
}

#[test]
fn study_utilization_quick_runs_from_the_command_line() {
    let (out, o) = quick_utilization_study("study-quick", &[]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(md.lines().next().unwrap()));
    for f in [
        "results.csv",
        "models/u-ticket-r3.ron",
        "reports/lth-r3.json",
        "plots/pe_utilization-vs-sparsity.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    fails_with(
        &[
            "study",
            "utilization",
            "--hw",
            "hw_configs/default.ron",
            "--dataset",
            "mnist",
            "--quick",
            "--target",
            "1.5",
            "--out",
            out.to_str().unwrap(),
        ],
        &["--target", "0 < target < 1"],
    );
}

#[test]
fn study_convert_runs_on_the_loihi_preset_without_hw() {
    let out = tmp("study-convert-loihi");
    let _ = std::fs::remove_dir_all(&out);
    let o = run(&[
        "study",
        "convert",
        "--dataset",
        "mnist",
        "--quick",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("loihi-like (preset loihi)"), "{md}");
    assert!(out.join("sensitivity.csv").exists());
}

#[test]
fn timestep_and_conversion_studies_refuse_bad_lists() {
    let out = tmp("study-bad-lists");
    let o = out.to_str().unwrap();
    fails_with(
        &[
            "study",
            "timesteps",
            "--hw",
            "hw_configs/default.ron",
            "--dataset",
            "mnist",
            "--quick",
            "--schedule",
            "2,3",
            "--out",
            o,
        ],
        &["--schedule", "strictly decreasing"],
    );
    fails_with(
        &[
            "study",
            "convert",
            "--hw",
            "hw_configs/default.ron",
            "--dataset",
            "mnist",
            "--quick",
            "--ablation-timesteps",
            "5",
            "--out",
            o,
        ],
        &["--ablation-timesteps", "one of --timesteps"],
    );
    fails_with(
        &[
            "study",
            "convert",
            "--hw",
            "hw_configs/default.ron",
            "--dataset",
            "mnist",
            "--quick",
            "--baseline",
            "no/such.ron",
            "--out",
            o,
        ],
        &["no/such.ron"],
    );
}

/// A sparse recurrent local model written as `.ncm` runs on the chip and
/// matches the reference; `convert` to RON and back is lossless and runs
/// to the same report; one inference split over two threads gives the
/// same report byte for byte.
#[test]
fn binary_models_convert_and_split_inferences_agree() {
    let ncm = tmp("graph.ncm");
    let o = run(&[
        "gen",
        "--layers",
        "64,96,48",
        "--fan-in",
        "12",
        "--locality",
        "24",
        "--recurrent",
        "4",
        "--timesteps",
        "5",
        "--threshold-scale",
        "1.5",
        "--out",
        ncm.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 96 x 12 + 96 x 4 (recurrent) + 48 x 12 synapses.
    assert!(
        stderr(&o).contains("2 populations, 2112 synapses"),
        "{}",
        stderr(&o)
    );
    let ron = tmp("graph.ron");
    let back = tmp("graph-back.ncm");
    for (from, to) in [(&ncm, &ron), (&ron, &back)] {
        let o = run(&["convert", from.to_str().unwrap(), to.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&ncm).unwrap(), std::fs::read(&back).unwrap());
    let text = std::fs::read_to_string(&ron).unwrap();
    assert!(
        text.contains("sparse(") && text.contains("delay: 1"),
        "graph form"
    );
    let report = |model: &PathBuf, threads: &str, name: &str| {
        let path = tmp(name);
        let o = run(&[
            "run",
            "--hw",
            "hw_configs/default.ron",
            "--model",
            model.to_str().unwrap(),
            "--samples",
            "1",
            "--threads",
            threads,
            "--check",
            "--report",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(path).unwrap();
        // The reports name their model file; the rest must agree.
        text.replace(model.to_str().unwrap(), "MODEL")
    };
    let one = report(&ncm, "1", "g1.json");
    assert_eq!(one, report(&ncm, "2", "g2.json"));
    assert_eq!(one, report(&ron, "2", "g3.json"));
    assert!(one.contains("\"mismatched_spikes\": 0"));
}

#[test]
fn gen_refuses_what_would_crash_or_exhaust_memory() {
    let out = tmp("never.ron");
    let out = out.to_str().unwrap();
    fails_with(
        &["gen", "--conv", "1x28x28:c8k3s0p1,d10", "--out", out],
        &["stride 0", "1 ..= 64"],
    );
    fails_with(&["gen", "--conv", "1x28x28:p0,d10", "--out", out], &["p0"]);
    fails_with(
        &["gen", "--layers", "4294967297,10", "--out", out],
        &["--layers", "16777216"],
    );
    fails_with(
        &["gen", "--layers", "200000,200000", "--out", out],
        &["GiB", "--max-memory"],
    );
    fails_with(
        &[
            "gen",
            "--layers",
            "20000,20000",
            "--connectivity",
            "dense",
            "--max-memory",
            "1G",
            "--out",
            out,
        ],
        &["1.0 GiB", "--connectivity sparse"],
    );
    fails_with(
        &[
            "gen",
            "--layers",
            "784,10",
            "--sparsity",
            "-0.1",
            "--out",
            out,
        ],
        &["--sparsity", "0.0 ..= 1.0"],
    );
    assert!(!std::path::Path::new(out).exists());
}

#[test]
fn a_model_too_big_for_the_chip_names_the_cores_and_limits() {
    let m = tmp("wide.ron");
    let o = run(&[
        "gen",
        "--layers",
        "4096,2048,2048",
        "--sparsity",
        "0.5",
        "--out",
        m.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    fails_with(
        &[
            "run",
            "--hw",
            "hw_configs/default.ron",
            "--model",
            m.to_str().unwrap(),
        ],
        &["needs", "cores", "the chip has 16", "synapse_memory.bytes"],
    );
}

#[test]
fn flags_that_would_be_ignored_are_refused_and_negative_numbers_get_the_range() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["noc", "--hw", "hw_configs/default.ron", "--rate", "-0.1"],
            "expected 0.0 ..= 1.0",
        ),
        (
            vec![
                "noc",
                "--hw",
                "hw_configs/default.ron",
                "--traffic",
                "hotspot",
                "--hotspot-fraction",
                "-0.5",
                "--rate",
                "0.1",
            ],
            "--hotspot-fraction = -0.5",
        ),
        (
            vec![
                "noc",
                "--hw",
                "hw_configs/default.ron",
                "--set",
                "mesh=4x4",
                "--traffic",
                "uniform",
                "--hotspot",
                "9,9",
                "--rate",
                "0.1",
            ],
            "need --traffic hotspot",
        ),
        (
            vec![
                "noc",
                "--hw",
                "hw_configs/default.ron",
                "--rate",
                "0.1",
                "--out",
                "/tmp/never",
            ],
            "cannot be used with",
        ),
        (
            vec!["demo", "--dataset", "dvs-gestures"],
            "demo picks its inputs by --workload",
        ),
        (
            vec![
                "run",
                "--hw",
                "hw_configs/tiny.ron",
                "--model",
                "models/mnist-mlp.ron",
                "--dataset",
                "mnist",
                "--data-dir",
                "/no/such/dir",
            ],
            "mnist is built in",
        ),
        (
            vec![
                "train",
                "--dataset",
                "mnist",
                "--arch",
                "784-10",
                "--train-samples",
                "0",
                "--out",
                "/tmp/never.ron",
            ],
            "--train-samples = 0: expected 1 ..= 8000",
        ),
        (
            vec![
                "study",
                "timesteps",
                "--dataset",
                "mnist",
                "--quick",
                "--train-samples",
                "9000",
                "--out",
                "/tmp/never-study",
            ],
            "--train-samples = 9000: expected 1 ..= 8000",
        ),
        (
            vec![
                "study",
                "convert",
                "--dataset",
                "mnist",
                "--quick",
                "--seeds",
                "0",
                "--out",
                "/tmp/never-study",
            ],
            "--seeds = 0: expected 1 ..= 32",
        ),
        (
            vec![
                "study",
                "topspark",
                "--dataset",
                "mnist",
                "--quick",
                "--weight-sum=-5",
                "--out",
                "/tmp/never-study",
            ],
            "--weight-sum = -5: expected 0 ..= 1000000",
        ),
        (
            vec![
                "study",
                "topspark",
                "--dataset",
                "mnist",
                "--quick",
                "--normalize-every=0",
                "--out",
                "/tmp/never-study",
            ],
            "--normalize-every = 0: expected 1 ..= 1000000",
        ),
    ];
    for (args, want) in cases {
        let o = run(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn a_plot_with_an_unknown_extension_is_refused_not_renamed() {
    let report = tmp("plot-report.json");
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/tiny.ron",
        "--model",
        "models/tiny.ron",
        "--samples",
        "1",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let jpg = tmp("heat.jpg");
    let o = run(&[
        "plot",
        "heatmap",
        report.to_str().unwrap(),
        "--out",
        jpg.to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains(".svg, .png, or no extension"), "{e}");
    assert!(!tmp("heat.jpg.svg").exists() && !tmp("heat.jpg.png").exists());
}

/// The one-line error of a command that must fail with exit code 2.
fn refused(args: &[&str]) -> String {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    err
}

/// Numbers too large for their field name the file, line, field and the
/// field's range, instead of "Integer is out of bounds" or "data did not
/// match any variant of untagged enum Param".
#[test]
fn out_of_range_numbers_in_files_name_the_field_and_range() {
    let hw = std::fs::read_to_string("hw_configs/default.ron").unwrap();
    let model = std::fs::read_to_string("models/tiny.ron").unwrap();
    let cases = [
        (
            "oob-hw.ron",
            regex_like_replace(&hw, "pes: ", "99999999999999999999"),
            "models/tiny.ron",
            "pes = 99999999999999999999: expected a whole number in 0 ..= 4294967295",
        ),
        (
            "oob-neg.ron",
            regex_like_replace(&hw, "pes: ", "-3"),
            "models/tiny.ron",
            "pes = -3: expected a whole number in 0 ..= 4294967295",
        ),
    ];
    for (name, text, model_path, want) in cases {
        let path = tmp(name);
        std::fs::write(&path, text).unwrap();
        let err = refused(&["run", "--hw", path.to_str().unwrap(), "--model", model_path]);
        assert!(err.contains(want), "{err}");
        assert!(err.contains(name), "names the file: {err}");
    }
    let path = tmp("oob-threshold.ron");
    std::fs::write(
        &path,
        model.replacen("threshold: 1,", "threshold: 9223372036854775807,", 1),
    )
    .unwrap();
    let err = refused(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        path.to_str().unwrap(),
    ]);
    assert!(
        err.contains("threshold = 9223372036854775807: expected a whole number in -2147483648 ..= 2147483647"),
        "{err}"
    );
}

/// `text` with the number after the first `key` replaced by `value`.
fn regex_like_replace(text: &str, key: &str, value: &str) -> String {
    let at = text.find(key).unwrap() + key.len();
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{value}{}", &text[..at], &text[end..])
}

/// A sweep file's points are all checked before any runs: a bad axis value
/// or data set names the sweep file and the axis, and nothing is written.
#[test]
fn sweep_files_are_checked_whole_before_running() {
    let root = std::env::current_dir().unwrap();
    let write = |name: &str, body: &str| {
        let p = tmp(name);
        std::fs::write(
            &p,
            format!(
                "Sweep(name: \"t\", hw: \"{}/hw_configs/default.ron\", models: [\"{}/models/tiny.ron\"], samples: 1, {body})",
                root.display(),
                root.display()
            ),
        )
        .unwrap();
        p
    };
    let axis = write(
        "bad-axis.ron",
        "axes: [Axis(path: \"core.pes\", values: List([4, 0, 8]))]",
    );
    let out = tmp("bad-axis-out");
    let err = refused(&[
        "sweep",
        axis.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad-axis.ron") && err.contains("core.pes=0") && err.contains("1 ..= 1024"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written before the check");
    let data = write(
        "bad-data.ron",
        "dataset: Some(\"nope\"), axes: [Axis(path: \"core.pes\", values: List([4]))]",
    );
    let err = refused(&[
        "sweep",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad-data.ron") && err.contains("dataset = nope"),
        "{err}"
    );
    let zero = write(
        "zero-filter.ron",
        "axes: [Axis(path: \"core.pes\", values: List([4]))], filter: [\"core.neurons / 0 >= 1\"]",
    );
    let err = refused(&[
        "sweep",
        zero.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("divides by zero"), "{err}");
}

/// A shard refuses a folder that holds another shard, and merge copies the
/// shards' point files byte for byte.
#[test]
fn shards_keep_their_folders_and_merge_copies_bytes() {
    let root = std::env::current_dir().unwrap();
    let file = tmp("shards.ron");
    std::fs::write(
        &file,
        format!(
            "Sweep(name: \"s\", hw: \"{}/hw_configs/default.ron\", models: [\"{}/models/tiny.ron\"], samples: 2, axes: [Axis(path: \"core.pes\", values: List([2, 4, 8]))])",
            root.display(),
            root.display()
        ),
    )
    .unwrap();
    let (a, b, m) = (tmp("shard-a"), tmp("shard-b"), tmp("shard-merged"));
    for d in [&a, &b, &m] {
        let _ = std::fs::remove_dir_all(d);
    }
    let f = file.to_str().unwrap();
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    ok(&[
        "sweep",
        f,
        "--out",
        a.to_str().unwrap(),
        "--shard",
        "0/2",
        "--no-plots",
    ]);
    let err = refused(&[
        "sweep",
        f,
        "--out",
        a.to_str().unwrap(),
        "--shard",
        "1/2",
        "--no-plots",
    ]);
    assert!(err.contains("shard") && err.contains("0/2"), "{err}");
    ok(&[
        "sweep",
        f,
        "--out",
        b.to_str().unwrap(),
        "--shard",
        "1/2",
        "--no-plots",
    ]);
    ok(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--no-plots",
    ]);
    for (dir, i) in [(&a, 0), (&b, 1), (&a, 2)] {
        let name = format!("points/{i:06}.json");
        assert_eq!(
            std::fs::read(dir.join(&name)).unwrap(),
            std::fs::read(m.join(&name)).unwrap(),
            "{name} copied byte for byte"
        );
    }
}

/// Trace options are checked before the run (the README's example once
/// named cores the model does not use and failed only after it).
#[test]
fn trace_options_are_checked_before_the_run() {
    let dir = tmp("early-trace");
    let err = refused(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        "models/mnist-mlp.ron",
        "--samples",
        "100000",
        "--trace",
        dir.to_str().unwrap(),
        "--trace-cores",
        "0-3",
    ]);
    assert!(
        err.contains("--trace-cores = 2: expected a core in use: 0-1"),
        "{err}"
    );
    let err = refused(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        "models/mnist-mlp.ron",
        "--samples",
        "100000",
        "--trace",
        dir.to_str().unwrap(),
        "--trace-timesteps",
        "0..99",
    ]);
    assert!(err.contains("within 0..7"), "{err}");
}

/// A model that does not fit says which mesh would hold it.
#[test]
fn a_model_that_does_not_fit_says_what_to_change() {
    let err = refused(&[
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        "models/mnist-mlp.ron",
        "--set",
        "mesh=1x1",
    ]);
    assert!(
        err.contains("needs 2 cores") && err.contains("--set mesh=2x1 holds them"),
        "{err}"
    );
}

/// A study whose start fails leaves no `study.json` behind, so the
/// corrected command can use the same folder.
#[test]
fn a_failed_study_start_leaves_nothing() {
    let out = tmp("failed-study");
    let _ = std::fs::remove_dir_all(&out);
    let o = out.to_str().unwrap();
    let base = [
        "study",
        "topspark",
        "--quick",
        "--hw",
        "hw_configs/default.ron",
        "--dataset",
        "mnist",
        "--out",
        o,
    ];
    let mut bad = base.to_vec();
    bad.extend(["--set", "mesh=1x1", "--set", "core.neurons=4"]);
    let err = refused(&bad);
    assert!(err.contains("does not fit"), "{err}");
    assert!(
        !out.exists(),
        "a failed start left {:?}",
        std::fs::read_dir(&out).map(|d| d.count())
    );
    let ok = run(&base);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(out.join("study.json").exists());
}

/// `plot pareto` refuses NaN and infinite cells naming the line.
#[test]
fn pareto_plots_refuse_nan_rows() {
    let csv = tmp("nan.csv");
    std::fs::write(
        &csv,
        "model,energy_per_inference_pj,accuracy\na,1,0.5\nb,NaN,0.6\n",
    )
    .unwrap();
    let err = refused(&[
        "plot",
        "pareto",
        csv.to_str().unwrap(),
        "--out",
        tmp("nan.svg").to_str().unwrap(),
    ]);
    assert!(
        err.contains("line 3, energy_per_inference_pj = NaN"),
        "{err}"
    );
}

/// The text report labels scope: component energies are per inference and
/// the total over all samples is its own row; no learning row in a run.
#[test]
fn text_report_rows_say_their_scope() {
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/tiny.ron",
        "--model",
        "models/tiny.ron",
        "--samples",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("energy (per inference: mean over all 4 samples"),
        "{out}"
    );
    assert!(out.contains("total over 4 samples"), "{out}");
    assert!(
        out.contains("memory (word accesses, total over all 4 samples)"),
        "{out}"
    );
    assert!(!out.contains("learning"), "{out}");
    let per: f64 = out
        .lines()
        .find(|l| l.trim_start().starts_with("per inference"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .parse()
        .unwrap();
    let parts: f64 = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("per inference"))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("total over"))
        .map(|l| {
            l.split_whitespace()
                .rev()
                .nth(2)
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert!(
        (parts - per).abs() <= 0.1 * 9.0 + 1e-9,
        "rows {parts} vs per inference {per}"
    );
}

/// A NoC run far above saturation on a big mesh stops at the queue cap
/// and prints n/a for latencies it could not measure.
#[test]
fn noc_far_above_saturation_stops_and_prints_na() {
    let o = run(&[
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--set",
        "mesh=32x32",
        "--rate",
        "1.0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("packet   mean n/a"), "{out}");
    assert!(out.contains("stopped at cycle"), "{out}");
    let err = refused(&[
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--sweep-rates",
        "--out",
        tmp("p").to_str().unwrap(),
        "--precision",
        "1e-300",
    ]);
    assert!(err.contains("--precision"), "{err}");
}

/// Negative numbers reach the range check of every command, not clap's
/// "unexpected argument '-1' found".
#[test]
fn negative_numbers_reach_the_range_check_everywhere() {
    let err = refused(&[
        "gen",
        "--threshold-scale",
        "-1",
        "--out",
        tmp("neg.ron").to_str().unwrap(),
    ]);
    assert!(err.contains("--threshold-scale = -1"), "{err}");
    let err = refused(&[
        "train",
        "--dataset",
        "mnist",
        "--out",
        tmp("neg2.ron").to_str().unwrap(),
        "--lr",
        "-0.1",
    ]);
    assert!(err.contains("--lr = -0.1"), "{err}");
    // Unsigned flags: clap's message naming the flag, on one line too.
    let err = refused(&[
        "run",
        "--hw",
        "hw_configs/tiny.ron",
        "--model",
        "models/tiny.ron",
        "--samples",
        "-1",
    ]);
    assert!(err.contains("'-1' for '--samples"), "{err}");
    let err = refused(&[
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--rate",
        "0.1",
        "--out",
        "x",
        "--jobs",
        "3",
    ]);
    assert!(
        err.contains("cannot be used with: --out <OUT> --jobs <JOBS>"),
        "{err}"
    );
}

#[test]
fn sweep_writes_its_slurm_job_array_and_runs_nothing() {
    let out = tmp("slurm-script");
    let _ = std::fs::remove_dir_all(&out);
    let file = "hw_configs/sweeps/cores-x-word-bits.ron";
    let o = run(&[
        "sweep",
        file,
        "--out",
        out.to_str().unwrap(),
        "--slurm",
        "3",
        "--samples",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(script.starts_with("#!/bin/bash\n"));
    assert!(script.contains("#SBATCH --array=0-2\n"));
    assert!(script.contains("--shard \"$SLURM_ARRAY_TASK_ID/3\""));
    assert!(script.contains("'--samples' '2'"));
    let abs = std::path::absolute(file).unwrap();
    assert!(script.contains(&format!("'{}'", abs.display())));
    assert!(!out.exists(), "--slurm runs nothing");
    let o = out.to_str().unwrap();
    fails_with(
        &["sweep", file, "--out", o, "--slurm", "0"],
        &["--slurm = 0", "1 ..= "],
    );
    fails_with(
        &["sweep", file, "--out", o, "--slurm", "2", "--shard", "0/2"],
        &["--slurm", "--shard"],
    );
}

/// The input-queued router from the command line: a trained model runs on
/// a chip with 2 VCs per port and a 3-stage pipeline (lookahead routing,
/// VC allocation, switch allocation, crossbar) and matches the reference;
/// `noc` runs wormhole packets on it and documents every report key.
#[test]
fn input_queued_router_runs_models_and_traffic() {
    let report = tmp("iq-run.json");
    let iq = [
        "--set",
        "router.input_queued.vcs=2",
        "--set",
        "router.input_queued.routing_cycles=0",
        "--set",
        "router.latency_cycles=3",
    ];
    let mut args = vec![
        "run",
        "--hw",
        "hw_configs/default.ron",
        "--model",
        "models/mnist-mlp.ron",
        "--dataset",
        "mnist",
        "--samples",
        "4",
        "--check",
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend(iq);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["check"]["mismatched_spikes"], 0);
    assert!(v["noc"]["flits_ejected"].as_u64().unwrap() > 0);
    assert_documented(&v, "docs/report.md");

    let report = tmp("iq-noc.json");
    let mut args = vec![
        "noc",
        "--hw",
        "hw_configs/default.ron",
        "--rate",
        "0.1",
        "--packet-flits",
        "4",
        "--measure-cycles",
        "2000",
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend(iq);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("input-queued router: 2 VCs") && out.contains("4 flits per packet"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["run"]["input_queued"]["vcs"], 2);
    assert_eq!(v["run"]["packet_flits"], 4);
    assert_documented(&v, "docs/noc.md");
    fails_with(
        &[
            "noc",
            "--hw",
            "hw_configs/default.ron",
            "--rate",
            "0.1",
            "--packet-flits",
            "2",
        ],
        &["--packet-flits = 2", "router.input_queued"],
    );
    fails_with(
        &[
            "noc",
            "--hw",
            "hw_configs/default.ron",
            "--rate",
            "0.1",
            "--set",
            "router.input_queued.vcs=2",
        ],
        &["router.latency_cycles = 2", "set router.latency_cycles=4"],
    );
}
