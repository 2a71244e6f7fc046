//! Sweeps: expansion and filters, identical results for any job count and
//! sharding, resuming after a kill, failed points, merge checks, plots.

use neurocycle::sweep::spec::Sweep;
use neurocycle::sweep::{self, merge, Prepared, Shard};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neurocycle"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("neurocycle-sweep-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder with a small generated model and a sweep file over it.
fn setup(name: &str, samples: u64, axes: &str, filter: &str) -> (PathBuf, PathBuf) {
    let dir = tmp(name);
    let model = dir.join("m.ron");
    let out = bin()
        .args([
            "gen",
            "--layers",
            "64,48,10",
            "--sparsity",
            "0.5",
            "--timesteps",
            "4",
            "--seed",
            "3",
            "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("hw_configs/tiny.ron");
    let text = format!(
        "Sweep(name: \"t\", hw: {:?}, models: [\"m.ron\"], samples: {samples}, axes: [{axes}], filter: [{filter}])",
        tiny.display().to_string()
    );
    let file = dir.join("sweep.ron");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

const AXES: &str = r#"Axis(path: "core.pes", values: List([1, 2, 4])), Axis(path: "synapse_memory.word_bits", values: Geometric(start: 16, end: 64, factor: 2))"#;

fn run_sweep(file: &Path, out: &Path, jobs: usize, shard: Shard) -> sweep::Outcome {
    let p = Prepared::new(Sweep::load(file).unwrap(), None).unwrap();
    sweep::run(&p, out, jobs, shard, &|_, _| {}).unwrap()
}

fn csv(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("results.csv")).unwrap()
}

#[test]
fn points_are_the_filtered_cartesian_product_last_axis_fastest() {
    let (_, file) = setup(
        "expand",
        1,
        AXES,
        r#""core.pes * 16 <= synapse_memory.word_bits""#,
    );
    let s = Sweep::load(&file).unwrap();
    let got: Vec<Vec<String>> = s
        .points
        .iter()
        .map(|p| p.axes.iter().map(|a| a.1.clone()).collect())
        .collect();
    let want: Vec<Vec<String>> = [
        ("1", "16"),
        ("1", "32"),
        ("1", "64"),
        ("2", "32"),
        ("2", "64"),
        ("4", "64"),
    ]
    .iter()
    .map(|(a, b)| vec![a.to_string(), b.to_string()])
    .collect();
    assert_eq!(got, want);
    assert!(s.points.iter().enumerate().all(|(i, p)| p.index == i));
}

#[test]
fn bad_sweep_files_name_the_field() {
    for (axes, filter, needle) in [
        (
            r#"Axis(path: "core.nope", values: List([1]))"#,
            "",
            "axes.path",
        ),
        (
            r#"Axis(path: "core.pes", values: Range(start: 4, end: 1, step: 1))"#,
            "",
            "axes[core.pes].values",
        ),
        (
            r#"Axis(path: "core.pes", values: List([1]))"#,
            r#""core.pes ~ 2""#,
            "filter",
        ),
        (
            r#"Axis(path: "core.pes", values: List([1]))"#,
            r#""core.pes > 9""#,
            "keeps at least one point",
        ),
    ] {
        let (_, file) = setup("bad", 1, axes, filter);
        let err = Sweep::load(&file).unwrap_err().to_string();
        assert!(err.contains("sweep.ron") && err.contains(needle), "{err}");
    }
}

#[test]
fn same_csv_for_any_jobs_and_for_merged_shards() {
    let (dir, file) = setup("jobs", 2, AXES, "");
    let one = dir.join("one");
    let two = dir.join("two");
    let o = run_sweep(&file, &one, 1, Shard::ALL);
    assert_eq!((o.points, o.ran, o.skipped, o.failed), (9, 9, 0, 0));
    run_sweep(&file, &two, 2, Shard::ALL);
    assert_eq!(csv(&one), csv(&two));
    assert_eq!(csv(&one).lines().count(), 10);

    let shards: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("shard{i}"))).collect();
    for (i, d) in shards.iter().enumerate() {
        let o = run_sweep(&file, d, 2, Shard { index: i, count: 3 });
        assert_eq!(o.points, 3);
    }
    let merged = dir.join("merged");
    let m = merge(&shards, &merged).unwrap();
    assert_eq!(m.points, 9);
    assert_eq!(csv(&merged), csv(&one));

    // Two shards only: the third one's points are missing.
    let err = merge(&shards[..2], &dir.join("partial"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 of 9 points missing"), "{err}");
    // The same shard twice: duplicated points.
    let err = merge(
        &[shards[0].clone(), shards[0].clone(), shards[1].clone()],
        &dir.join("dup"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is in both"), "{err}");
}

#[test]
fn rerun_skips_finished_points_and_refuses_another_sweep() {
    let (dir, file) = setup("resume", 1, AXES, "");
    let out = dir.join("out");
    run_sweep(&file, &out, 2, Shard { index: 0, count: 2 });
    let o = run_sweep(&file, &out, 2, Shard::ALL);
    assert_eq!((o.points, o.skipped, o.ran), (9, 5, 4));
    let o = run_sweep(&file, &out, 2, Shard::ALL);
    assert_eq!((o.skipped, o.ran), (9, 0));
    // A changed sweep into the same folder is refused.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("samples: 1", "samples: 2");
    std::fs::write(&file, text).unwrap();
    let p = Prepared::new(Sweep::load(&file).unwrap(), None).unwrap();
    let err = sweep::run(&p, &out, 1, Shard::ALL, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("fresh --out"), "{err}");
}

#[test]
fn a_point_that_does_not_fit_is_recorded_and_the_others_run() {
    // 48 hidden neurons on cores of 8 need more cores than the tiny chip has.
    let (dir, file) = setup(
        "fail",
        1,
        r#"Axis(path: "core.neurons", values: List([8, 64]))"#,
        "",
    );
    let out = dir.join("out");
    let o = run_sweep(&file, &out, 2, Shard::ALL);
    assert_eq!((o.ran, o.failed), (2, 1));
    let text = csv(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[1].contains(",failed,") && rows[1].contains("does not fit"),
        "{}",
        rows[1]
    );
    assert!(rows[2].contains(",ok,"), "{}", rows[2]);
}

#[test]
fn killed_sweep_rerun_ends_with_every_point_once() {
    // Enough samples that the sweep is still running when killed; on a
    // starved machine it may finish first, so retry with longer points.
    for samples in [1500, 6000, 24000] {
        if killed_and_resumed(samples) {
            return;
        }
    }
    panic!("the sweep always finished before it could be killed");
}

/// Kills a sweep after its first point and reruns it; false when every
/// point had finished before the kill (nothing to check).
fn killed_and_resumed(samples: u64) -> bool {
    let (dir, file) = setup(&format!("kill-{samples}"), samples, AXES, "");
    let out = dir.join("out");
    let mut child = bin()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "1", "--no-plots"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let points = out.join("points");
    // Finished points only, not a temporary file still being written
    // (waiting on any entry let the kill land between the two).
    let finished = || {
        std::fs::read_dir(&points).map_or(0, |d| {
            d.filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
        })
    };
    let started = std::time::Instant::now();
    while finished() == 0 && started.elapsed().as_secs() <= 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = finished();
    if before == 9 {
        return false;
    }
    let o = bin()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "2", "--no-plots"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = csv(&out);
    let indices: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(indices, (0..9).map(|i| i.to_string()).collect::<Vec<_>>());
    // Points finished before the kill were not run again.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(before >= 1, "killed after {before} points");
    assert!(
        stderr.contains(&format!("{before} already done")),
        "{stderr}"
    );
    // The same as a sweep never interrupted.
    let clean = dir.join("clean");
    run_sweep(&file, &clean, 2, Shard::ALL);
    assert_eq!(csv(&clean), text);
    true
}

#[test]
fn cli_sweep_writes_csv_reports_and_plots() {
    let (dir, file) = setup("cli", 1, AXES, "");
    let out = dir.join("out");
    let o = bin()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--shard", "0/1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let point: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("points/000004.json")).unwrap())
            .unwrap();
    assert_eq!(point["status"], "ok");
    assert_eq!(point["axes"]["core.pes"], "2");
    assert_eq!(point["report"]["run"]["overrides"][0], "core.pes=2");
    // The CSV's numbers are the report's.
    let cycles = point["report"]["latency"]["cycles_per_inference"]
        .as_f64()
        .unwrap();
    let row = csv(&out).lines().nth(5).unwrap().to_string();
    let header = csv(&out).lines().next().unwrap().to_string();
    let col = header
        .split(',')
        .position(|h| h == "cycles_per_inference")
        .unwrap();
    assert_eq!(
        row.split(',').nth(col).unwrap().parse::<f64>().unwrap(),
        cycles
    );
    let plots: Vec<PathBuf> = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(plots.len() >= 8, "{plots:?}");
    for p in plots {
        let bytes = std::fs::read(&p).unwrap();
        match p.extension().unwrap().to_str().unwrap() {
            "svg" => {
                assert!(String::from_utf8_lossy(&bytes).contains("<svg") && bytes.len() > 2000)
            }
            "png" => assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 2000),
            e => panic!("unexpected plot file .{e}"),
        }
    }
    let bad = bin()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--shard", "2/2"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--shard"));
}

/// A sweep over the input-queued router's VCs and allocator: the axes
/// create the optional section, every point runs, and more VCs lower the
/// chip's latency.
#[test]
fn a_sweep_over_router_microarchitecture_runs_every_point() {
    let axes = r#"Axis(path: "router.input_queued.vcs", values: List([1, 4])), Axis(path: "router.input_queued.allocator", values: List(["islip", "separable_input_first"]))"#;
    let (dir, file) = setup("iq", 1, axes, "");
    // Every point's pipeline: routing 1 + VA 1 + SA 1 + crossbar 1.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("axes:", r#"set: ["router.latency_cycles=4"], axes:"#);
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let o = run_sweep(&file, &out, 2, Shard::ALL);
    assert_eq!((o.points, o.ran, o.failed), (4, 4, 0));
    let table = csv(&out);
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    let (vcs, cycles) = (col("router.input_queued.vcs"), col("cycles_per_inference"));
    let rows: Vec<Vec<String>> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 4);
    let mean = |v: &str| {
        let c: Vec<f64> = rows
            .iter()
            .filter(|r| r[vcs] == v)
            .map(|r| r[cycles].parse().unwrap())
            .collect();
        c.iter().sum::<f64>() / c.len() as f64
    };
    assert!(
        mean("4") < mean("1"),
        "4 VCs {} vs 1 VC {}",
        mean("4"),
        mean("1")
    );
}
