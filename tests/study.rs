//! Studies in quick mode, as CI runs them: the report's structure and the
//! directions that must hold.

use neurocycle::config::{Checked, HwConfig};
use neurocycle::model::InputEncoding;
use neurocycle::study::utilization::{run, UtilizationSpec};
use neurocycle::study::ChipSetup;
use neurocycle::train::lottery::{balanced_mask, pe_group, Lottery, LotterySpec, Method};
use neurocycle::train::{parse_arch, TrainSpec};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("neurocycle-study-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A report's comparison with its paper: the section's table, one row per
/// claim, every cell filled, the first `claims` with a measured figure.
fn assert_claims(report_md: &str, claims: usize) {
    let section = report_md
        .split("## Against the paper")
        .nth(1)
        .expect("the report has its paper comparison");
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| the paper reports"))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .collect();
    assert!(rows.len() >= claims, "{rows:?}");
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<&str> = r.split(" | ").collect();
        assert_eq!(cells.len(), 3, "{r}");
        assert!(cells.iter().all(|c| c.trim().len() > 1), "{r}");
        if i < claims {
            assert!(
                cells[1].chars().any(|c| c.is_ascii_digit()),
                "a measured figure: {r}"
            );
        }
    }
}

fn quick_spec(hw: &Checked<HwConfig>) -> UtilizationSpec {
    UtilizationSpec {
        lottery: LotterySpec {
            train: TrainSpec {
                arch: parse_arch("784-48-10").unwrap(),
                timesteps: 3,
                encoding: InputEncoding::Graded { bits: 8 },
                bits: vec![4],
                epochs: 2,
                threads: 2,
                train_samples: Some(600),
                test_samples: Some(100),
                ..TrainSpec::default()
            },
            rewind_epoch: 1,
            rounds: 3,
            output_rate: 0.5,
            target: 0.9,
        },
        chip: ChipSetup {
            hw: hw.clone(),
            hw_file: "hw_configs/default.ron".into(),
            overrides: vec![],
            samples: 8,
            threads: 2,
            smoke_test: true,
        },
    }
}

#[test]
fn u_ticket_masks_hold_equal_counts_per_pe_in_every_row() {
    let hw = HwConfig::preset("default")
        .unwrap()
        .with_overrides("t", &["core.neurons=20".into()])
        .unwrap();
    // 2 inputs x 40 outputs: cores of 20 neurons, 8 PEs interleaved (PEs 0-3
    // hold 3 neurons, 4-7 hold 2).
    let (inputs, outputs) = (2, 40);
    let w: Vec<f32> = (0..inputs * outputs)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let mask = vec![true; w.len()];
    for keep in [8, 16, 30, 64] {
        let m = balanced_mask(&w, &mask, inputs, outputs, keep, &hw);
        let kept = m.iter().filter(|k| **k).count();
        assert!(kept >= keep && kept < keep + 8, "{keep}: kept {kept}");
        for i in 0..inputs {
            for core in 0..2 {
                let mut per_pe = [0usize; 8];
                for o in 0..outputs {
                    let (c, p) = pe_group(o, outputs, &hw);
                    if c == core && m[i * outputs + o] {
                        per_pe[p as usize] += 1;
                    }
                }
                assert!(
                    per_pe.iter().all(|n| *n == per_pe[0]),
                    "row {i} core {core}: {per_pe:?}"
                );
            }
        }
    }
}

#[test]
fn the_output_layer_is_pruned_at_its_own_rate_and_the_network_at_the_target() {
    let hw = HwConfig::preset("default").unwrap();
    let mut spec = quick_spec(&hw).lottery;
    spec.target = 0.98;
    spec.rounds = 6;
    // 784-256-10 with a pooling layer's zero weights in the middle.
    let sizes = [784 * 256, 0, 256 * 10];
    let per_round = 1.0 - 0.02f64.powf(1.0 / 6.0);
    for r in 0..=6 {
        let keeps = spec.layer_keeps(r, &sizes);
        let total: usize = sizes.iter().sum();
        let want = ((1.0 - spec.sparsity(r)) * total as f64).round() as usize;
        let got: usize = keeps.iter().sum();
        assert!(
            got.abs_diff(want) <= 1,
            "round {r}: {got} kept, want {want}"
        );
        assert_eq!(keeps[1], 0);
        let last = (1.0 - 0.5 * per_round).powi(r as i32) * 2560.0;
        assert_eq!(keeps[2], last.round() as usize, "round {r}");
        // Every layer keeps at most what it has.
        assert!(keeps.iter().zip(&sizes).all(|(k, n)| k <= n));
    }
    // At rate 1 every layer is pruned alike.
    spec.output_rate = 1.0;
    let keeps = spec.layer_keeps(6, &sizes);
    let frac = |l: usize| keeps[l] as f64 / sizes[l] as f64;
    assert!((frac(0) - frac(2)).abs() < 0.002, "{keeps:?}");
    // One weighted layer takes the whole budget.
    assert_eq!(spec.layer_keeps(6, &[1000]), vec![20]);
}

#[test]
fn quick_utilization_study_reports_and_resumes() {
    let hw = HwConfig::preset("default").unwrap();
    let spec = quick_spec(&hw);
    let data = neurocycle::data::load("mnist", None).unwrap();
    let out = tmp("utilization");
    let s = run(&spec, &data, &out, &|_, _| {}).unwrap();
    assert_eq!(s.rows.len(), 8);
    let row = |m: &str, r: u32| {
        s.rows
            .iter()
            .find(|x| x.method == m && x.round == r)
            .unwrap()
    };
    for r in 1..=3 {
        let (a, b) = (row("lth", r), row("u-ticket", r));
        let want = spec.lottery.sparsity(r);
        assert!(
            (a.sparsity - want).abs() < 0.002,
            "LTH round {r}: {} vs {want}",
            a.sparsity
        );
        assert!(
            (b.sparsity - want).abs() < 0.002,
            "u-Ticket round {r}: {} vs {want}",
            b.sparsity
        );
        let (ua, ub) = (
            a.chip.pe_utilization.unwrap(),
            b.chip.pe_utilization.unwrap(),
        );
        assert!(ub >= ua, "round {r}: u-Ticket utilization {ub} < LTH {ua}");
        assert!(b.chip.cycles_per_inference > 0.0);
    }
    // Work per event: an event costs at least its synapses spread over all
    // PEs, and at least one cycle; PE utilization is synops over PE-cycles
    // of integration, so it follows from the same two counts.
    let pes = hw.core.pes as f64;
    for r in &s.rows {
        let (events, work) = (r.events_per_inference, r.integration_cycles_per_inference);
        assert!(events > 0.0 && work >= events, "{} r{}", r.method, r.round);
        assert!(work >= r.chip.synops_per_inference / pes - 1e-9);
        let util = r.chip.synops_per_inference / (pes * work);
        assert!((util - r.chip.pe_utilization.unwrap()).abs() < 1e-9);
    }
    // LTH's utilization falls as sparsity grows.
    assert!(
        row("lth", 3).chip.pe_utilization.unwrap() < row("lth", 0).chip.pe_utilization.unwrap()
    );
    // Round 0 is the dense network for both.
    assert_eq!(row("lth", 0).chip, row("u-ticket", 0).chip);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in [
        "method",
        "round",
        "sparsity",
        "accuracy",
        "pe_utilization",
        "imbalance",
        "cycles_per_inference",
        "energy_per_inference_pj",
    ] {
        assert!(
            header.split(',').any(|h| h == col),
            "{col} missing from {header}"
        );
    }
    assert_eq!(csv.lines().count(), 9);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| round |") && md.contains("## Headline") && md.contains("PE utilization:")
    );
    assert!(md.contains("## Where u-Ticket's gain comes from"));
    assert!(md
        .lines()
        .nth(2)
        .unwrap()
        .contains("Smoke test (`--quick`)"));
    for p in [
        "pe_utilization",
        "cycles_per_inference",
        "energy_per_inference_pj",
    ] {
        for ext in ["svg", "png"] {
            let f = out.join(format!("plots/{p}-vs-sparsity.{ext}"));
            assert!(
                std::fs::metadata(&f).unwrap().len() > 2000,
                "{}",
                f.display()
            );
        }
    }
    // A rerun loads every step and writes the same results.
    let again = run(&spec, &data, &out, &|_, _| {
        panic!("nothing retrains on a rerun")
    })
    .unwrap();
    assert_eq!(again.report_md, s.report_md);
    assert_claims(&s.report_md, 4);
    assert_eq!(
        std::fs::read_to_string(out.join("results.csv")).unwrap(),
        csv
    );
    // Another configuration into the same folder is refused.
    let mut other = quick_spec(&hw);
    other.lottery.target = 0.8;
    let err = run(&other, &data, &out, &|_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("fresh --out"), "{err}");
}

#[test]
fn lottery_rounds_keep_the_masks_nested() {
    let hw = HwConfig::preset("default").unwrap();
    let spec = quick_spec(&hw);
    let data = neurocycle::data::load("mnist", None).unwrap();
    let lot = Lottery::new(&spec.lottery, &data).unwrap();
    let (dense, rewind, _) = lot.dense(&|_| {}).unwrap();
    let (r1, _) = lot
        .round(&dense, &rewind, 1, Method::Lth, &hw, &|_| {})
        .unwrap();
    let (r2, _) = lot
        .round(&r1, &rewind, 2, Method::Lth, &hw, &|_| {})
        .unwrap();
    for (a, b) in r1.mask.iter().flatten().zip(r2.mask.iter().flatten()) {
        assert!(*a || !*b, "a weight pruned in round 1 came back in round 2");
    }
    // Pruned weights are zero; survivors start from the rewind point, so they moved.
    for (w, m) in r2.w.iter().flatten().zip(r2.mask.iter().flatten()) {
        assert!(*m || *w == 0.0);
    }
}

#[test]
fn quick_prune_quant_study_follows_the_chip() {
    use neurocycle::study::prune_quant::{points, run, PruneQuantSpec};
    let hw = HwConfig::preset("default").unwrap();
    let base = quick_spec(&hw);
    let spec = PruneQuantSpec {
        train: base.lottery.train.clone(),
        bits: vec![8, 2],
        sparsities: vec![0.8],
        chip: base.chip.clone(),
    };
    assert_eq!(points(&spec).len(), 2 + 1 + 3);
    let data = neurocycle::data::load("mnist", None).unwrap();
    let out = tmp("prune-quant");
    let s = run(&spec, &data, &out, &|_, _| {}).unwrap();
    let row = |regime: &str, bits: u8| {
        s.rows
            .iter()
            .find(|r| r.regime == regime && r.bits == bits)
            .unwrap()
    };
    let mem = |r: &neurocycle::study::prune_quant::Row| {
        r.chip.as_ref().unwrap().synapse_memory_bits_stored as f64
    };
    let energy =
        |r: &neurocycle::study::prune_quant::Row| r.chip.as_ref().unwrap().energy_per_inference_pj;
    assert!(s
        .rows
        .iter()
        .all(|r| r.error.is_none() && !r.encodings.is_empty()));
    // Fewer bits and more zeros shrink the stored rows and the energy.
    assert!(mem(row("quant", 2)) < mem(row("quant", 8)));
    assert!(mem(row("prune", 8)) < mem(row("quant", 8)));
    for regime in ["prune-then-quant", "quant-then-prune", "joint"] {
        let r = row(regime, 2);
        assert!(r.sparsity >= 0.79, "{regime}: sparsity {}", r.sparsity);
        assert!(mem(r) < mem(row("prune", 8)), "{regime}");
        assert!(energy(r) < energy(row("quant", 8)), "{regime}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Baseline: 8-bit dense")
            && md.contains("| joint |")
            && md.contains("## Every point")
    );
    for f in [
        "plots/pareto-accuracy-vs-energy.png",
        "plots/pareto-accuracy-vs-memory.svg",
        "results.csv",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 500, "{f}");
    }
    let again = run(&spec, &data, &out, &|_, _| {
        panic!("nothing retrains on a rerun")
    })
    .unwrap();
    assert_eq!(again.report_md, s.report_md);
    assert_claims(&s.report_md, 3);
}

#[test]
fn quick_timesteps_study_retrains_down_to_one_timestep() {
    use neurocycle::study::timesteps::{run, TimestepsSpec};
    let hw = HwConfig::preset("default").unwrap();
    let base = quick_spec(&hw);
    let spec = TimestepsSpec {
        train: TrainSpec {
            bits: vec![8],
            ..base.lottery.train.clone()
        },
        schedule: vec![3, 2, 1],
        stage_epochs: 1,
        chip: base.chip.clone(),
        accelerator: Default::default(),
    };
    let data = neurocycle::data::load("mnist", None).unwrap();
    let out = tmp("timesteps");
    let s = run(&spec, &data, &out, &|_, _| {}).unwrap();
    assert_eq!(s.rows.len(), 7);
    let row = |m: &str, t: u32| {
        s.rows
            .iter()
            .find(|r| r.method == m && r.timesteps == t)
            .unwrap()
    };
    let cycles = |r: &neurocycle::study::timesteps::Row| r.chip.cycles_per_inference;
    let energy = |r: &neurocycle::study::timesteps::Row| r.chip.energy_per_inference_pj;
    // Under layer_serial every timestep is a full pass: latency and energy
    // fall with T, about in proportion.
    for m in ["iir", "scratch"] {
        assert!(cycles(row(m, 3)) > cycles(row(m, 2)) && cycles(row(m, 2)) > cycles(row(m, 1)));
        assert!(energy(row(m, 3)) > energy(row(m, 1)));
        assert!(cycles(row(m, 1)) * 2.0 < cycles(row(m, 3)), "{m}");
    }
    // The IIR chain spends 2 + 1 + 1 epochs; scratch gets the same budget.
    assert_eq!(row("iir", 1).total_epochs, 4);
    assert_eq!(row("scratch", 1).epochs, 4);
    assert_eq!(row("iir", 3).accuracy, row("scratch", 3).accuracy);
    // T = 3 also trains for the whole chain's budget, from scratch.
    let full = row("full-budget", 3);
    assert_eq!((full.epochs, full.total_epochs), (4, 4));
    assert_eq!(spec.budget(), 4);
    let model = neurocycle::model::Model::load(&out.join("models/iir-t1.ron")).unwrap();
    assert_eq!(model.timesteps, 1);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Headline: at T = 1, IIR reaches") && md.contains("| 1 |"));
    assert!(md.contains("## Equal budgets") && md.contains("## Against the same network as a DNN"));
    // The paper's arithmetic-only ratio, from the counts in the table.
    let macs = (784 * 48 + 48 * 10) as f64;
    let want = macs * 4.6 / (row("iir", 1).chip.synops_per_inference * 0.9);
    assert!(md.contains(&format!("= {want:.1}x")), "{want:.1}");
    for f in [
        "plots/accuracy-vs-timesteps.png",
        "plots/cycles_per_inference-vs-timesteps.svg",
        "results.csv",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 500, "{f}");
    }
    let again = run(&spec, &data, &out, &|_, _| {
        panic!("nothing retrains on a rerun")
    })
    .unwrap();
    assert_eq!(again.report_md, s.report_md);
    assert_claims(&s.report_md, 2);
    let bad = TimestepsSpec {
        schedule: vec![2, 3],
        ..spec
    };
    let e = run(&bad, &data, &tmp("timesteps-bad"), &|_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("--schedule") && e.contains("strictly decreasing"),
        "{e}"
    );
}

#[test]
fn a_stage_starts_from_the_state_it_is_given() {
    use neurocycle::train::stage::Stages;
    let hw = HwConfig::preset("default").unwrap();
    let spec = TrainSpec {
        timesteps: 2,
        ..quick_spec(&hw).lottery.train
    };
    let data = neurocycle::data::load("mnist", None).unwrap();
    let stages = Stages::new(&spec, &data).unwrap();
    let (trained, first) = stages.run(&spec, None, 0, &|_| {}).unwrap();
    // Zero further epochs at T = 1 keep the weights: the stage began from them.
    let none = TrainSpec {
        epochs: 0,
        timesteps: 1,
        ..spec.clone()
    };
    let (kept, at_one) = stages.run(&none, Some(&trained), 1, &|_| {}).unwrap();
    assert_eq!(kept, trained);
    assert_eq!(at_one.model.timesteps, 1);
    assert_eq!(first.model.timesteps, 2);
    let (fresh, _) = stages.run(&none, None, 1, &|_| {}).unwrap();
    assert_ne!(fresh, trained);
}

#[test]
fn quick_convert_study_approaches_the_ann_and_prices_the_baseline() {
    use neurocycle::accelerator::Accelerator;
    use neurocycle::model::EarlyExit;
    use neurocycle::study::convert::{run, ConvertSpec};
    let hw = HwConfig::preset("default").unwrap();
    let base = quick_spec(&hw);
    let spec = ConvertSpec {
        train: TrainSpec {
            bits: vec![8],
            epochs: 2,
            train_samples: Some(1000),
            test_samples: Some(200),
            ..base.lottery.train.clone()
        },
        timesteps: vec![1, 4, 16],
        ablation_timesteps: 16,
        percentile: 99.9,
        early_exit: EarlyExit {
            patience: 3,
            min_timesteps: 2,
        },
        calibration_samples: 300,
        chip: base.chip.clone(),
        accelerator: Accelerator::default(),
    };
    let data = neurocycle::data::load("mnist", None).unwrap();
    let out = tmp("convert");
    let s = run(&spec, &data, &out, &|_, _| {}).unwrap();
    let row = |v: &str, t: u32| {
        s.rows
            .iter()
            .find(|r| r.variant == v && r.timesteps == t)
            .unwrap_or_else(|| panic!("{v} at {t}"))
    };
    let cycles =
        |r: &neurocycle::study::convert::Row| r.chip.as_ref().unwrap().cycles_per_inference;
    // Latency and energy grow with T; rates approximate the ANN better.
    assert!(cycles(row("default", 1)) < cycles(row("default", 4)));
    assert!(cycles(row("default", 4)) < cycles(row("default", 16)));
    assert!(row("default", 1).energy_pj() < row("default", 16).energy_pj());
    assert!(row("default", 16).accuracy > row("default", 1).accuracy);
    assert!(
        (row("default", 16).accuracy - s.ann.accuracy).abs() <= 0.05,
        "SNN {} vs ANN {}",
        row("default", 16).accuracy,
        s.ann.accuracy
    );
    // Early exit runs fewer timesteps for less energy.
    let ee = row("early-exit", 16);
    let mean_t = ee.timesteps_run();
    assert!((2.0..16.0).contains(&mean_t), "{mean_t}");
    assert_eq!(row("default", 16).timesteps_run(), 16.0);
    assert!(ee.energy_pj() < row("default", 16).energy_pj());
    // Every ablation is measured at the ablation T, and the baseline at every T.
    for v in [
        "no-balancing",
        "max-balancing",
        "no-bias",
        "spike-count-readout",
        "reset-to-zero",
    ] {
        row(v, 16);
    }
    for t in [1, 4, 16] {
        let b = row("dnn-accelerator", t);
        assert_eq!(b.energy_pj(), s.baseline.energy_pj);
        assert_eq!(b.accuracy, s.ann.accuracy);
    }
    assert!(s.baseline.macs > 784 * 48);
    let models = std::fs::read_to_string(out.join("models/early-exit-t16.ron")).unwrap();
    assert!(models.contains("early_exit"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Baseline: ") && md.contains("## Each technique switched off, at T = 16"));
    for f in [
        "plots/accuracy-vs-timesteps.png",
        "plots/power_mw-vs-timesteps.svg",
        "results.csv",
        "baseline.json",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 300, "{f}");
    }
    // Sensitivity: every parameter at every factor; at x1 the headline
    // ratios; more baseline static power, a larger energy ratio.
    use neurocycle::study::convert::{SENSITIVITY_FACTORS, SENSITIVITY_PARAMETERS};
    assert_eq!(
        s.sensitivity.len(),
        SENSITIVITY_PARAMETERS.len() * SENSITIVITY_FACTORS.len()
    );
    let point = neurocycle::study::convert::headline_point(&spec, &s.rows, &s.ann).unwrap();
    for x in s.sensitivity.iter().filter(|x| x.factor == 1.0) {
        assert_eq!(x.baseline, s.baseline, "{}", x.parameter);
        assert_eq!(x.energy_ratio, s.baseline.energy_pj / point.energy_pj());
    }
    let static_ratios: Vec<f64> = s
        .sensitivity
        .iter()
        .filter(|x| x.parameter == "static_mw")
        .map(|x| x.energy_ratio)
        .collect();
    assert!(
        static_ratios.windows(2).all(|w| w[0] < w[1]),
        "{static_ratios:?}"
    );
    assert!(md.contains("## How the ratios depend on the baseline's assumptions"));
    let csv = std::fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + s.sensitivity.len());
    assert!(std::fs::metadata(out.join("plots/energy_ratio-vs-baseline-parameter.svg")).is_ok());
    let again = run(&spec, &data, &out, &|stage, _| {
        assert!(
            stage.starts_with("converted"),
            "nothing retrains on a rerun ({stage})"
        )
    })
    .unwrap();
    assert_eq!(again.report_md, s.report_md);
    assert_claims(&s.report_md, 3);
    // The published measurement is set beside the analytical baseline.
    let (shapes, _) = neurocycle::train::skeleton(&spec.train.arch);
    let m = neurocycle::accelerator::Accelerator::measured_stick().run(&spec.train.arch, &shapes);
    let point = neurocycle::study::convert::headline_point(&spec, &s.rows, &s.ann).unwrap();
    let want = format!("energy ratio {:.0}x", m.energy_pj / point.energy_pj());
    assert!(
        md.contains("ncs-measured-blouw2019.ron") && md.contains(&want),
        "{want}\n{md}"
    );
}

#[test]
fn quick_topspark_study_learns_on_chip_and_saves_with_fewer_timesteps() {
    use neurocycle::study::topspark::{
        chosen, chosen_over_seeds, paired_over_seeds, run, TopSparkSpec,
    };
    use neurocycle::train::stdp::StdpNet;
    let hw = HwConfig::preset("default")
        .unwrap()
        .with_overrides("test", &["membrane_sram.state_bits=48".to_string()])
        .unwrap();
    let mut chip = quick_spec(&hw).chip;
    chip.samples = 60;
    // 300 images: the faster learning rate of a short training (the
    // default's suits 8,000 images at T = 96).
    let net = StdpNet {
        a_plus: 16,
        a_minus: 4,
        ..StdpNet::new(20, 16)
    };
    let spec = TopSparkSpec {
        net,
        candidates: vec![16, 8, 4],
        train_samples: 300,
        analysis_samples: 300,
        label_samples: 200,
        test_samples: 60,
        tolerance: 2.0,
        factors: vec![0.5, 1.5],
        seed: 1,
        chip,
    };
    let data = neurocycle::data::load("mnist", None).unwrap();
    let out = tmp("topspark");
    let s = run(&spec, &data, &out, &|_, _| {}).unwrap();
    assert_eq!(s.rows.len(), 6);
    assert!(s.report_md.contains(
        "normalising each neuron's weights to sum 10000 after every 8 and after the last,"
    ));
    for method in ["adjusted", "unadjusted"] {
        let rows: Vec<_> = s.rows.iter().filter(|r| r.method == method).collect();
        assert_eq!(
            rows.iter().map(|r| r.timesteps).collect::<Vec<_>>(),
            [16, 8, 4]
        );
        for w in rows.windows(2) {
            assert!(
                w[1].inference.cycles < w[0].inference.cycles,
                "{method}: inference latency falls with T"
            );
            // Learning work has a part per spike (each spike rewrites its
            // column: 784 rows read and written) and a part per timestep
            // (the trace walk). Spikes per image need not fall with T (this
            // unadjusted net fires 4.7 per image at T = 4, 4.2 at T = 8);
            // the part per timestep must.
            let per_step = |r: &neurocycle::study::topspark::Row| {
                r.training.learning_cycles - 2.0 * 784.0 * r.training.spikes
            };
            assert!(
                per_step(w[1]) < per_step(w[0]),
                "{method}: less learning work per image besides the spikes' at shorter T"
            );
        }
        for r in rows {
            // Learning energy only where the chip learned.
            assert!(r.training.learning_energy_pj > 0.0);
            assert!(r.training.synapse_word_writes > 0.0);
            assert_eq!(r.inference.learning_energy_pj, 0.0);
            assert!(r.training.energy_pj > r.inference.energy_pj);
        }
    }
    let full = &s
        .rows
        .iter()
        .find(|r| r.method == "adjusted" && r.timesteps == 16)
        .unwrap();
    // The chip learned something: well above chance (10%) on 60 images.
    assert!(full.accuracy > 0.3, "accuracy {}", full.accuracy);
    let pick = chosen(&s.rows, 16, 2.0).unwrap();
    assert!(100.0 * (full.validation_accuracy - pick.validation_accuracy) <= 2.0 + 1e-9);
    // Over seeds, T is chosen on the mean held-out accuracy: seeds that
    // would each pick a shorter T (8 and 4) agree on none of them.
    let with = |held_out: [f64; 3]| -> Vec<neurocycle::study::topspark::Row> {
        let mut rows = s.rows.clone();
        for r in rows.iter_mut().filter(|r| r.method == "adjusted") {
            r.validation_accuracy =
                held_out[[16, 8, 4].iter().position(|&t| t == r.timesteps).unwrap()];
        }
        rows
    };
    let (a, b) = (with([0.80, 0.79, 0.70]), with([0.80, 0.76, 0.79]));
    assert_eq!(chosen(&a, 16, 2.0).unwrap().timesteps, 8);
    assert_eq!(chosen(&b, 16, 2.0).unwrap().timesteps, 4);
    assert_eq!(chosen_over_seeds(&[&a, &b], 16, 2.0), Some(16));
    assert_eq!(chosen_over_seeds(&[&a, &a], 16, 2.0), Some(8));
    // At that T: against the full T, and adjusted against unadjusted.
    let per_seed = paired_over_seeds(&spec, &[&a, &a]);
    assert_eq!(per_seed.len(), 2);
    let common: Vec<_> = per_seed[0]
        .iter()
        .filter(|p| p.comparison == "T = 8, chosen on the seeds' mean held-out accuracy")
        .collect();
    let at = |m: &str| {
        a.iter()
            .find(|r| r.method == m && r.timesteps == 8)
            .unwrap()
    };
    assert_eq!(common.len(), 6, "{common:?}");
    assert_eq!(
        common[0].value,
        100.0 * (at("adjusted").accuracy - full.accuracy)
    );
    assert_eq!(
        common[5].value,
        100.0 * (at("adjusted").accuracy - at("unadjusted").accuracy)
    );
    assert!(s.report_md.contains("chosen T ="));
    assert_claims(&s.report_md, 4);
    for f in [
        "results.csv",
        "report.md",
        "plots/accuracy-vs-timesteps.png",
        "models/adjusted-t8.ron",
        "models/unadjusted-t8.ron",
        "analysis.csv",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The analysis trains as long as the final runs, so the adjusted net
    // scores on the held-out images what its analysis run scored, which
    // the greedy combination only accepts above the unadjusted net's.
    let analysis = std::fs::read_to_string(out.join("analysis.csv")).unwrap();
    // The unadjusted net and 5 parameters x 2 factors at each shorter T,
    // plus the combinations tried.
    assert!(analysis.lines().count() > 1 + 2 * 11, "{analysis}");
    for t in [8, 4] {
        let get = |m: &str| {
            s.rows
                .iter()
                .find(|r| r.method == m && r.timesteps == t)
                .unwrap()
        };
        let (a, u) = (get("adjusted"), get("unadjusted"));
        assert!(a.validation_accuracy >= u.validation_accuracy, "T = {t}");
        let named = neurocycle::study::topspark::describe(&a.adjustment);
        let line = analysis
            .lines()
            .find(|l| {
                l.starts_with(&format!("{t},")) && l.split(',').nth(1) == Some(named.as_str())
            })
            .unwrap_or_else(|| panic!("T = {t}: {named} not in\n{analysis}"));
        let held: f64 = line.split(',').nth(2).unwrap().parse().unwrap();
        assert_eq!(held, a.validation_accuracy, "T = {t}: {line}");
        if a.adjustment.is_empty() {
            assert_eq!(a.validation_accuracy, u.validation_accuracy);
        } else {
            assert!(a.validation_accuracy > u.validation_accuracy);
        }
    }
    // Resumes: a rerun loads every point (JSON keeps floats to ~1e-15).
    let again = run(&spec, &data, &out, &|_, _| {}).unwrap();
    assert_eq!(again.rows.len(), 6);
    for (a, b) in s.rows.iter().zip(&again.rows) {
        assert_eq!(
            (&a.method, a.timesteps, a.accuracy),
            (&b.method, b.timesteps, b.accuracy)
        );
        assert!((a.training.energy_pj - b.training.energy_pj).abs() <= 1e-9 * a.training.energy_pj);
    }
}
