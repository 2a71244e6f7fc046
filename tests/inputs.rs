//! Recorded inputs (`run --input`) and NIR import from the command line:
//! a Loihi network written by hand from Lava parameters gives the spikes
//! computed by hand, fixtures import and run with accuracy, and bad
//! recordings are one-line errors naming the file and the row or index.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurocycle"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neurocycle-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The traced spikes as (timestep, neuron), with the file's text.
fn traced_spikes(dir: &std::path::Path) -> (String, Vec<(u32, u32)>) {
    let spikes = std::fs::read_to_string(dir.join("spikes.csv")).unwrap();
    let got = spikes
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    (spikes, got)
}

/// A .npy file (format 1.0) of u8 values.
fn npy_u8(path: &PathBuf, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape_s}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// Lava's bit-accurate Loihi LIF (`PyLifModelBitAcc`) behind a bit-accurate
/// Dense (`PyDenseModelBitAcc`), written from Lava's parameters:
/// - Dense weights [[-128, 100], [50, 0]] (8-bit, mixed sign: even values
///   survive Lava's truncation), `weight_exp = -2`, and Dense's one-step
///   buffer: `delay: 1`;
/// - LIF du = 4095 (+ Lava's ds_offset 1 = 4096: no current memory),
///   dv = 0, vth = 2 (<< 6 = 128), bias 0, v_init = [0, 100];
/// - activation_in << 6 (input_shift 6) after the sum >> 2
///   (input_right_shift 2, a floor as numpy's right_shift).
const LAVA_NET: &str = r#"(
    name: "lava-by-hand",
    timesteps: 5,
    semantics: pipelined,
    input: (size: 2, encoding: spikes),
    readout: spike_count,
    populations: [
        (name: "lif", size: 2, neuron: (
            threshold: 128, du: 4096, dv: 0, reset: to_value, v_reset: 0,
            input_shift: 6, input_right_shift: 2, v_init: [0, 100],
            state_bits: 24, loihi_bounds: true,
        )),
    ],
    projections: [
        (source: "input", target: "lif", weight_bits: 8, full_range: true, delay: 1,
         kind: dense(weights: [-128, 100, 50, 0])),
    ],
)"#;

#[test]
fn a_lava_network_written_by_hand_spikes_as_computed_by_hand() {
    let model = tmp("lava.ron");
    std::fs::write(&model, LAVA_NET).unwrap();
    // Input 0 at t = 0, input 1 at t = 1, both at t = 2.
    let input = tmp("lava-input.csv");
    std::fs::write(&input, "t,neuron\n0,0\n1,1\n2,0\n2,1\n").unwrap();
    let trace = tmp("lava-trace");
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--check",
        "--trace",
        trace.to_str().unwrap(),
        "--trace-kinds",
        "spikes",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // By hand (Lava's step t sees Dense's sum of step t - 1):
    // t=1: in0: sums -128, 50 >> 2 = -32, 12 (floor of 12.5); << 6 = -2048, 768;
    //      v = [-2048, 100 + 768 = 868 > 128]: neuron 1 spikes, v1 = 0.
    // t=2: in1: 100 >> 2 = 25 -> 1600, 0: v = [-448, 0].
    // t=3: both: -28 >> 2 = -7 -> -448, 50 >> 2 = 12 -> 768: v = [-896, 768 > 128]: spike.
    // t=4: nothing.
    let (spikes, got) = traced_spikes(&trace);
    assert_eq!(got, vec![(1, 1), (3, 1)], "{spikes}");
}

#[test]
fn nir_fixtures_import_and_run_with_their_recorded_inputs_and_labels() {
    for (name, correct) in [("mlp_784_128_10", "7/8"), ("conv_8c5_pool_10", "8/8")] {
        let dir = PathBuf::from("tests/fixtures/nir");
        let model = tmp(&format!("{name}.ncm"));
        let o = run(&[
            "import",
            dir.join(format!("{name}.nir")).to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
            "--dt",
            "1e-4",
            "--reset",
            "delayed-subtract",
            "--weight-bits",
            "16",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let o = run(&[
            "run",
            "--hw",
            "hw_configs/loihi.ron",
            "--model",
            model.to_str().unwrap(),
            "--input",
            dir.join(format!("{name}_input_spikes.npy"))
                .to_str()
                .unwrap(),
            "--labels",
            dir.join(format!("{name}_labels.npy")).to_str().unwrap(),
            "--check",
        ]);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains(&format!("({correct})")), "{out}");
        assert!(out.contains("0 mismatched spikes"), "{out}");
        let o = run(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--input",
            dir.join(format!("{name}_input_spikes.npy"))
                .to_str()
                .unwrap(),
            "--labels",
            dir.join(format!("{name}_labels.npy")).to_str().unwrap(),
        ]);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains(&format!("{correct} correct")), "{out}");
    }
}

#[test]
fn batch_first_arrays_give_the_same_run_as_time_first() {
    let model = tmp("bf.ron");
    std::fs::write(&model, LAVA_NET).unwrap();
    // (T = 3, B = 2, N = 2) and the same spikes as (B, T, N).
    let tf: Vec<u8> = vec![1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0];
    let mut bf = vec![0u8; 12];
    for t in 0..3 {
        for b in 0..2 {
            for n in 0..2 {
                bf[(b * 3 + t) * 2 + n] = tf[(t * 2 + b) * 2 + n];
            }
        }
    }
    let (p1, p2) = (tmp("tf.npy"), tmp("bf.npy"));
    npy_u8(&p1, &[3, 2, 2], &tf);
    npy_u8(&p2, &[2, 3, 2], &bf);
    let (r1, r2) = (tmp("tf.json"), tmp("bf.json"));
    let m = model.to_str().unwrap();
    for (p, r, extra) in [(&p1, &r1, None), (&p2, &r2, Some("--batch-first"))] {
        let mut args = vec![
            "run",
            "--hw",
            "hw_configs/loihi.ron",
            "--model",
            m,
            "--input",
            p.to_str().unwrap(),
            "--report",
            r.to_str().unwrap(),
            "--check",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let strip = |p: &PathBuf| {
        let mut j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let run = j.as_object_mut().unwrap().remove("run").unwrap();
        assert!(
            run["input_file"].as_str().unwrap().ends_with(".npy"),
            "{run}"
        );
        j
    };
    assert_eq!(strip(&r1), strip(&r2));
}

#[test]
fn bad_recordings_are_one_line_errors_naming_file_and_place() {
    let model = tmp("small.ron");
    std::fs::write(&model, LAVA_NET).unwrap();
    let m = model.to_str().unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        ("unsorted.csv", "t,neuron\n2,0\n1,1\n", "line 3"),
        ("range.csv", "t,neuron\n0,5\n", "line 2, neuron"),
        ("late.csv", "t,neuron\n9,0\n", "timestep T = 5"),
        ("header.csv", "time,id\n0,0\n", "header"),
        ("no-bin.csv", "t,x,y,p\n0,0,0,0\n", "--time-bin"),
    ];
    for (file, body, want) in cases {
        let p = tmp(file);
        std::fs::write(&p, body).unwrap();
        let o = run(&[
            "run",
            "--hw",
            "hw_configs/loihi.ron",
            "--model",
            m,
            "--input",
            p.to_str().unwrap(),
        ]);
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{file}: {e}");
        assert!(e.contains(file) && e.contains(want), "{file}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
    }
    // An array of the wrong width, a value that is not a spike, and labels
    // that do not match the samples.
    let wide = tmp("wide.npy");
    npy_u8(&wide, &[3, 1, 4], &[0; 12]);
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        m,
        "--input",
        wide.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        e.contains("wide.npy") && e.contains("2 values per timestep"),
        "{e}"
    );
    let two = tmp("two.npy");
    npy_u8(&two, &[3, 1, 2], &[0, 0, 0, 2, 0, 0]);
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        m,
        "--input",
        two.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(e.contains("[t = 1, sample = 0, input = 1]"), "{e}");
    let ok = tmp("ok.npy");
    npy_u8(&ok, &[3, 2, 2], &[1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0]);
    let labels = tmp("labels.txt");
    std::fs::write(&labels, "1\n").unwrap();
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        m,
        "--input",
        ok.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        e.contains("labels.txt") && e.contains("2 (one per sample"),
        "{e}"
    );
    // A correct one runs both samples, one timestep longer than recorded:
    // the output lags the input by the projection's delay.
    std::fs::write(&labels, "1\n0\n").unwrap();
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/loihi.ron",
        "--model",
        m,
        "--input",
        ok.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--check",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("running 4"), "{out}");
    assert!(
        out.contains("(1/2)") || out.contains("(2/2)") || out.contains("(0/2)"),
        "{out}"
    );
}

#[test]
fn event_streams_are_binned_into_timesteps() {
    // A 2 x 2 x 2 (polarity x y x x) input: events at time 0.0 .. 0.9 in
    // bins of 0.25 time units; two events of one pixel in one bin are one spike.
    let model = tmp("events.ron");
    std::fs::write(
        &model,
        r#"(name: "ev", timesteps: 4, semantics: layer_serial,
            input: (size: 8, encoding: spikes, shape: (2, 2, 2)), readout: spike_count,
            populations: [(name: "o", size: 8, neuron: (threshold: 0, dv: 4096))],
            projections: [(source: "input", target: "o", weight_bits: 4,
                           kind: one_to_one(weights: [1, 1, 1, 1, 1, 1, 1, 1]))])"#,
    )
    .unwrap();
    let ev = tmp("events.csv");
    std::fs::write(&ev, "t,x,y,p\n0.0,1,0,0\n0.1,1,0,0\n0.3,0,1,1\n0.9,1,1,1\n").unwrap();
    let trace = tmp("ev-trace");
    let o = run(&[
        "run",
        "--hw",
        "hw_configs/tiny.ron",
        "--model",
        model.to_str().unwrap(),
        "--input",
        ev.to_str().unwrap(),
        "--time-bin",
        "0.25",
        "--trace",
        trace.to_str().unwrap(),
        "--trace-kinds",
        "spikes",
        "--check",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (spikes, got) = traced_spikes(&trace);
    // (p, y, x) = (0, 0, 1) -> 1 at bin 0; (1, 1, 0) -> 6 at bin 1; (1, 1, 1) -> 7 at bin 3.
    assert_eq!(got, vec![(0, 1), (1, 6), (3, 7)], "{spikes}");
}

#[test]
fn a_sweep_runs_every_point_on_a_recording() {
    let dir = tmp("sweep");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lava.ron"), LAVA_NET).unwrap();
    npy_u8(
        &dir.join("rec.npy"),
        &[3, 2, 2],
        &[1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0],
    );
    std::fs::write(dir.join("labels.txt"), "1\n0\n").unwrap();
    std::fs::write(
        dir.join("s.ron"),
        r#"Sweep(name: "rec", hw: "preset:loihi", models: ["lava.ron"], samples: 2,
                 input: Some("rec.npy"), labels: Some("labels.txt"),
                 axes: [Axis(path: "core.pes", values: List([1, 2]))])"#,
    )
    .unwrap();
    let out = dir.join("out");
    let o = run(&[
        "sweep",
        dir.join("s.ron").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let acc = header.iter().position(|h| *h == "accuracy").unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for r in &rows {
        assert!(!r[acc].is_empty(), "{csv}");
    }
    // A recording that does not fit a model is an error naming the sweep file.
    std::fs::write(dir.join("labels.txt"), "1\n").unwrap();
    let o = run(&[
        "sweep",
        dir.join("s.ron").to_str().unwrap(),
        "--out",
        dir.join("out2").to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("s.ron") && e.contains("labels.txt"), "{e}");
}

#[test]
fn reset_zero_is_the_nir_spec_reading() {
    let nir = "tests/fixtures/nir/mlp_784_128_10.nir";
    let (a, b) = (tmp("zero.ron"), tmp("to-value.ron"));
    for (reset, out) in [("zero", &a), ("to-value", &b)] {
        let o = run(&[
            "import",
            nir,
            "--out",
            out.to_str().unwrap(),
            "--reset",
            reset,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (a, b) = (
        std::fs::read_to_string(a).unwrap(),
        std::fs::read_to_string(b).unwrap(),
    );
    assert_eq!(a, b);
    assert!(a.contains("reset: to_value"));
}
