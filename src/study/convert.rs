//! `neurocycle study convert`: a ReLU ANN is trained, converted to an IF
//! SNN (`train::convert`) at every T of a list, and each model runs on the
//! chip; the same ANN runs on a DNN-accelerator baseline
//! (`accelerator`), so latency, power and energy sit side by side. At one
//! T every deployment technique is switched off in turn to measure what
//! it buys; the early-exit rule is measured at every T.

use super::{
    cached, claim_folder, claims_md, network_sentence, pct, report_head, results_header,
    results_row, write_csv, ChipSetup, Claim, Column, MetricPlots, ResultRow,
};
use crate::accelerator::{Accelerator, AcceleratorRun};
use crate::data::Dataset;
use crate::error::{write_atomic, Error, Result};
use crate::model::{EarlyExit, Readout};
use crate::report::headline::{self, Headline};
use crate::train::convert::{
    activation_scales, ann_spec, convert, train_ann, Ann, Norm, Techniques,
};
use crate::train::stage::Stages;
use crate::train::{arch_name, skeleton, Progress, TrainSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone)]
pub struct ConvertSpec {
    /// The network, the chip's weight bits, the ANN's epochs and data.
    pub train: TrainSpec,
    /// Timesteps of the converted models, increasing.
    pub timesteps: Vec<u32>,
    /// T at which each technique is switched off in turn.
    pub ablation_timesteps: u32,
    /// Percentile of threshold balancing.
    pub percentile: f64,
    /// The early-exit rule of the `early-exit` series.
    pub early_exit: EarlyExit,
    /// Training images the activation scales are taken from.
    pub calibration_samples: usize,
    pub chip: ChipSetup,
    pub accelerator: Accelerator,
}

impl ConvertSpec {
    pub fn validate(&self) -> Result<()> {
        let ok = !self.timesteps.is_empty()
            && self.timesteps.windows(2).all(|w| w[0] < w[1])
            && self.timesteps.iter().all(|t| (1..=4096).contains(t));
        if !ok {
            return Err(Error::invalid(
                "command line",
                "--timesteps",
                format!("{:?}", self.timesteps),
                "strictly increasing timesteps from 1 to 4096, e.g. 1,2,4,8",
            ));
        }
        if !self.timesteps.contains(&self.ablation_timesteps) {
            return Err(Error::invalid(
                "command line",
                "--ablation-timesteps",
                self.ablation_timesteps,
                "one of --timesteps",
            ));
        }
        if !(self.percentile > 0.0 && self.percentile <= 100.0) {
            return Err(Error::invalid(
                "command line",
                "--percentile",
                self.percentile,
                "0 < percentile <= 100",
            ));
        }
        crate::error::check_range(
            "command line",
            "--patience",
            self.early_exit.patience,
            1,
            4096,
        )
    }

    fn techniques(&self) -> Techniques {
        Techniques {
            norm: Norm::Percentile(self.percentile),
            ..Techniques::default()
        }
    }

    /// The variants measured at `t`: (name, techniques).
    fn variants(&self, t: u32) -> Vec<(&'static str, Techniques)> {
        let base = self.techniques();
        let mut v = vec![("default", base.clone())];
        if self.early_exit.patience <= t {
            v.push((
                "early-exit",
                Techniques {
                    early_exit: Some(self.early_exit),
                    ..base.clone()
                },
            ));
        }
        if t == self.ablation_timesteps {
            v.extend([
                (
                    "no-balancing",
                    Techniques {
                        norm: Norm::None,
                        ..base.clone()
                    },
                ),
                (
                    "max-balancing",
                    Techniques {
                        norm: Norm::Max,
                        ..base.clone()
                    },
                ),
                (
                    "no-bias",
                    Techniques {
                        keep_bias: false,
                        ..base.clone()
                    },
                ),
                (
                    "spike-count-readout",
                    Techniques {
                        readout: Readout::SpikeCount,
                        ..base.clone()
                    },
                ),
                (
                    "reset-to-zero",
                    Techniques {
                        reset_subtract: false,
                        ..base.clone()
                    },
                ),
            ]);
        }
        v
    }
}

/// One measured point: a converted model on the chip, or the baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `default`, `early-exit`, an ablation, or `dnn-accelerator`.
    pub variant: String,
    pub timesteps: u32,
    /// Integer test accuracy (reference executor), or the ANN's float
    /// accuracy for the baseline.
    pub accuracy: f64,
    /// Energy and latency per inference: the chip's, or the baseline's.
    pub energy_pj: f64,
    pub seconds: f64,
    /// The chip report's headline metrics (none for the baseline).
    pub chip: Option<Headline>,
}

impl Row {
    /// The `energy_per_inference_pj` cell: the chip report's, or the
    /// baseline's.
    fn energy_per_inference_pj(&self) -> f64 {
        self.chip
            .as_ref()
            .map_or(self.energy_pj, |h| h.energy_per_inference_pj)
    }

    /// The `seconds_per_inference` cell.
    fn seconds_per_inference(&self) -> f64 {
        self.chip
            .as_ref()
            .map_or(self.seconds, |h| h.seconds_per_inference)
    }

    pub fn energy_pj(&self) -> f64 {
        self.energy_pj
    }

    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Mean timesteps run per inference (NaN for the baseline).
    pub fn timesteps_run(&self) -> f64 {
        self.chip
            .as_ref()
            .map_or(f64::NAN, |h| h.timesteps_per_inference)
    }

    /// Mean power over an inference.
    pub fn power_mw(&self) -> f64 {
        self.energy_pj() * 1e-9 / self.seconds()
    }
}

pub struct Summary {
    pub rows: Vec<Row>,
    pub ann: Ann,
    pub baseline: AcceleratorRun,
    /// The baseline-over-chip ratios with each assumed baseline parameter
    /// scaled, against the headline chip point.
    pub sensitivity: Vec<Sensitivity>,
    pub report_md: String,
}

/// The baseline's parameters a reader may doubt, each scaled by
/// `SENSITIVITY_FACTORS` in turn (the others at their values).
pub const SENSITIVITY_PARAMETERS: &[&str] = &[
    "utilization",
    "layer_overhead_cycles",
    "static_mw",
    "mac_pj",
    "buffer_pj_per_byte",
    "dram_pj_per_byte",
];
pub const SENSITIVITY_FACTORS: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

impl super::PlottedRow for Sensitivity {}

impl super::PlottedRow for Row {
    fn headline(&self) -> Option<&Headline> {
        self.chip.as_ref()
    }
    fn accuracy(&self) -> Option<f64> {
        Some(self.accuracy)
    }
}

/// One baseline parameter scaled: the baseline's figures and its ratios to
/// the chip's headline point.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensitivity {
    pub parameter: &'static str,
    pub factor: f64,
    pub value: f64,
    pub baseline: AcceleratorRun,
    pub energy_ratio: f64,
    pub power_ratio: f64,
    pub latency_ratio: f64,
}

/// `acc` with one parameter scaled by `factor` (utilization at most 1),
/// and the scaled value.
fn scaled(acc: &Accelerator, parameter: &str, factor: f64) -> (Accelerator, f64) {
    let mut a = acc.clone();
    if parameter == "layer_overhead_cycles" {
        let cycles = (acc.layer_overhead_cycles as f64 * factor).round();
        a.layer_overhead_cycles = cycles as u64;
        return (a, cycles);
    }
    let slot = match parameter {
        "utilization" => &mut a.utilization,
        "static_mw" => &mut a.static_mw,
        "mac_pj" => &mut a.mac_pj,
        "buffer_pj_per_byte" => &mut a.buffer_pj_per_byte,
        "dram_pj_per_byte" => &mut a.dram_pj_per_byte,
        other => unreachable!("no sensitivity parameter {other}"),
    };
    *slot *= factor;
    if parameter == "utilization" {
        *slot = slot.min(1.0);
    }
    let value = *slot;
    (a, value)
}

/// Every parameter of `SENSITIVITY_PARAMETERS` at every factor, against
/// the chip's `point`.
pub fn sensitivity(
    acc: &Accelerator,
    arch: &[crate::model::LayerKind],
    shapes: &[crate::model::LayerShape],
    point: &Row,
) -> Vec<Sensitivity> {
    let mut out = vec![];
    for &parameter in SENSITIVITY_PARAMETERS {
        for factor in SENSITIVITY_FACTORS {
            let (a, value) = scaled(acc, parameter, factor);
            let b = a.run(arch, shapes);
            out.push(Sensitivity {
                parameter,
                factor,
                value,
                energy_ratio: b.energy_pj / point.energy_pj(),
                power_ratio: b.power_mw / point.power_mw(),
                latency_ratio: b.seconds / point.seconds(),
                baseline: b,
            });
        }
    }
    out
}

/// The chip point the headline (and the sensitivity) compares with: the
/// first T whose converted SNN is within 1 point of the ANN, else the
/// largest T.
pub fn headline_point<'a>(spec: &ConvertSpec, rows: &'a [Row], ann: &Ann) -> Option<&'a Row> {
    let get = |ts: u32| {
        rows.iter()
            .find(|r| r.variant == "default" && r.timesteps == ts)
    };
    spec.timesteps
        .iter()
        .filter_map(|&ts| get(ts))
        .find(|r| r.accuracy >= ann.accuracy - 0.01)
        .or_else(|| spec.timesteps.last().and_then(|&ts| get(ts)))
}

fn write_sensitivity(out: &Path, rows: &[Sensitivity], point: &Row) -> Result<()> {
    let header: Vec<String> = [
        "parameter",
        "factor",
        "log2_factor",
        "value",
        "baseline_energy_pj",
        "baseline_power_mw",
        "baseline_seconds",
        "energy_ratio",
        "power_ratio",
        "latency_ratio",
        "chip_variant",
        "chip_timesteps",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.parameter.to_string(),
                r.factor.to_string(),
                r.factor.log2().to_string(),
                r.value.to_string(),
                r.baseline.energy_pj.to_string(),
                r.baseline.power_mw.to_string(),
                r.baseline.seconds.to_string(),
                r.energy_ratio.to_string(),
                r.power_ratio.to_string(),
                r.latency_ratio.to_string(),
                point.variant.clone(),
                point.timesteps.to_string(),
            ]
        })
        .collect();
    let path = out.join("sensitivity.csv");
    write_csv(&path, &header, &body)?;
    MetricPlots::<Sensitivity>::new(
        Column::row("log2_factor", |r, _| Some(r.factor.log2())),
        "log2 of the factor applied to one baseline parameter (others at their values)",
        |r| format!("parameter={}", r.parameter),
        "baseline / chip as each assumed baseline parameter moves",
        &[
            (
                Column::row("energy_ratio", |r, _| Some(r.energy_ratio)),
                true,
            ),
            (Column::row("power_ratio", |r, _| Some(r.power_ratio)), true),
        ],
    )
    .file_x("baseline-parameter")
    .write(rows, &(), out, &path.display().to_string())
}

/// The comparison with the paper: power and energy ratios at the headline
/// point and with early exit, and the baseline assumption that moves them.
fn claims(
    s: &mut String,
    spec: &ConvertSpec,
    rows: &[Row],
    ann: &Ann,
    b: &AcceleratorRun,
    sens: &[Sensitivity],
    point: &Row,
) {
    // The range of a ratio over the factors of the parameter that moves
    // the energy ratio most.
    let span = |f: fn(&Sensitivity) -> f64| {
        let widest = SENSITIVITY_PARAMETERS
            .iter()
            .map(|p| {
                let of: Vec<f64> = sens.iter().filter(|x| x.parameter == *p).map(f).collect();
                let lo = of.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = of.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (*p, lo, hi)
            })
            .max_by(|x, y| (x.2 / x.1).total_cmp(&(y.2 / y.1)));
        widest.map_or_else(String::new, |(p, lo, hi)| {
            format!("`{p}` x0.25..x4 moves it from {lo:.2}x to {hi:.2}x")
        })
    };
    let early = rows
        .iter()
        .filter(|r| r.variant == "early-exit")
        .max_by_key(|r| r.timesteps);
    claims_md(
        s,
        "DNN-to-SNN conversion deployed on Loihi against Intel's Neural Compute Stick 2 (an edge DNN accelerator).",
        &[
            Claim {
                paper: "up to 27x less power on Loihi",
                here: format!(
                    "{:.1}x at T = {} ({}, the first T within 1 point of the ANN's {})",
                    b.power_mw / point.power_mw(),
                    point.timesteps,
                    pct(point.accuracy),
                    pct(ann.accuracy)
                ),
                driver: format!(
                    "the baseline's assumed static power, {} of its power; {}",
                    pct(b.energy_static_pj / b.energy_pj),
                    span(|x| x.power_ratio)
                ),
            },
            Claim {
                paper: "up to 5x less energy on Loihi",
                here: format!(
                    "{:.2}x at T = {}{}",
                    b.energy_pj / point.energy_pj(),
                    point.timesteps,
                    early.map_or_else(String::new, |e| format!(
                        "; {:.2}x with early exit ({} after {:.1} timesteps)",
                        b.energy_pj / e.energy_pj(),
                        pct(e.accuracy),
                        e.timesteps_run()
                    ))
                ),
                driver: format!(
                    "the timesteps rate coding needs (chip energy grows with T; see the table) and the baseline's assumptions: {}; chip: {} ({})",
                    span(|x| x.energy_ratio),
                    spec.chip.hw.name,
                    spec.chip.source()
                ),
            },
            {
                let m = on_measured_stick(spec);
                Claim {
                    paper: "measured (Blouw et al. 2019, keyword spotter): Loihi 0.27 mJ, the first Movidius stick 1.5 mJ of dynamic energy per inference (5.5x); 0.110 W against 0.647 W running (5.9x)",
                    here: format!(
                        "against that stick as measured (`hw_configs/baselines/ncs-measured-blouw2019.ron`, same ANN: {:.2} ms, {:.0} uJ per inference): energy ratio {:.0}x, power ratio {:.1}x at T = {}",
                        m.seconds * 1e3,
                        m.energy_pj * 1e-6,
                        m.energy_pj / point.energy_pj(),
                        m.power_mw / point.power_mw(),
                        point.timesteps
                    ),
                    driver: "the stick's measured host round trip over USB (3.3 ms per inference, whatever the network's size) at its measured 0.647 W; the chip here is modelled alone, without host or interface, while Blouw's Loihi figure is a system's, so this ratio overstates a system comparison: their own measured ratio is 5.5x".into(),
                }
            },
        ],
    );
}

/// The report's section on the sensitivity: per parameter, the energy and
/// power ratios at every factor, and which parameter moves them most.
fn sensitivity_md(s: &mut String, rows: &[Sensitivity], point: &Row, acc: &Accelerator) {
    let _ = writeln!(
        s,
        "\n## How the ratios depend on the baseline's assumptions\n\nEach parameter of the baseline scaled in turn (the others at their values), against the chip at T = {} (`{}`). Files: `sensitivity.csv`, `plots/{{energy_ratio,power_ratio}}-vs-baseline-parameter.svg|png`.\n",
        point.timesteps, point.variant
    );
    let factors: Vec<String> = SENSITIVITY_FACTORS
        .iter()
        .map(|f| format!("x{f}"))
        .collect();
    for (what, pick) in [
        (
            "energy",
            (|r: &Sensitivity| r.energy_ratio) as fn(&Sensitivity) -> f64,
        ),
        ("power", |r: &Sensitivity| r.power_ratio),
    ] {
        let _ = writeln!(
            s,
            "| {what} ratio (baseline / chip) | value at x1 | {} |",
            factors.join(" | ")
        );
        let _ = writeln!(s, "| --- | --- |{}", " --- |".repeat(factors.len()));
        for &p in SENSITIVITY_PARAMETERS {
            let cells: Vec<String> = rows
                .iter()
                .filter(|r| r.parameter == p)
                .map(|r| format!("{:.2}", pick(r)))
                .collect();
            let _ = writeln!(
                s,
                "| `{p}` | {} | {} |",
                scaled(acc, p, 1.0).1,
                cells.join(" | ")
            );
        }
        let _ = writeln!(s);
    }
    let span = |p: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.parameter == p)
            .map(|r| r.energy_ratio)
            .collect();
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    if let Some(&widest) = SENSITIVITY_PARAMETERS.iter().max_by(|a, b| {
        let (sa, sb) = (span(a), span(b));
        (sa.1 / sa.0).total_cmp(&(sb.1 / sb.0))
    }) {
        let (lo, hi) = span(widest);
        let crosses = lo < 1.0 && hi > 1.0;
        let _ = writeln!(
            s,
            "The energy ratio depends most on `{widest}`: from {lo:.2}x to {hi:.2}x over x0.25 to x4{}.\n",
            if crosses {
                ", so which side of 1 it falls on (which deployment uses less energy) is decided by this assumption, not by the measurement"
            } else {
                ""
            }
        );
    }
}

fn config_of(spec: &ConvertSpec, data: &Dataset) -> Value {
    let t = &spec.train;
    serde_json::json!({
        "study": "convert",
        "dataset": data.name,
        "arch": arch_name(&t.arch),
        "bits": t.bits,
        "epochs": t.epochs,
        "batch": t.batch,
        "lr": t.lr,
        "seed": t.seed,
        "train_samples": t.train_samples,
        "test_samples": t.test_samples,
        "timesteps": spec.timesteps,
        "ablation_timesteps": spec.ablation_timesteps,
        "percentile": spec.percentile,
        "early_exit": spec.early_exit,
        "calibration_samples": spec.calibration_samples,
        "hw": spec.chip.hw,
        "chip_samples": spec.chip.samples,
        "accelerator": spec.accelerator,
    })
}

/// Runs (or resumes) the study into `out`. `progress(stage, p)` reports
/// training.
pub fn run(
    spec: &ConvertSpec,
    data: &Dataset,
    out: &Path,
    progress: &dyn Fn(&str, &Progress),
) -> Result<Summary> {
    spec.validate()?;
    spec.accelerator.validate("accelerator")?;
    claim_folder(out, &config_of(spec, data))?;
    let ann_train = ann_spec(&spec.train);
    let stages = Stages::new(&ann_train, data)?;
    let ann: Ann = cached(&out.join("state/ann.json"), || {
        train_ann(&stages, &|p| progress("ANN", p))
    })?;
    let (shapes, _) = skeleton(&spec.train.arch);
    let baseline = spec.accelerator.run(&spec.train.arch, &shapes);
    let mut scales = std::collections::BTreeMap::new();
    let mut rows = vec![];
    let points: Vec<(u32, &str, Techniques)> = spec
        .timesteps
        .iter()
        .flat_map(|&t| {
            spec.variants(t)
                .into_iter()
                .map(move |(name, tech)| (t, name, tech))
        })
        .collect();
    for (i, (t, variant, tech)) in points.iter().enumerate() {
        let name = format!("{variant}-t{t}");
        // Conversions have no epochs: the bar counts points.
        progress(
            &format!("converted models ({name})"),
            &Progress {
                samples_done: i as u64,
                samples_total: points.len() as u64,
                ..Progress::default()
            },
        );
        let row = cached(&out.join(format!("points/{name}.json")), || {
            let key = format!("{:?}", tech.norm);
            if !scales.contains_key(&key) {
                let s = activation_scales(&stages, &ann, tech.norm, spec.calibration_samples);
                scales.insert(key.clone(), s);
            }
            let snn = TrainSpec {
                timesteps: *t,
                ..spec.train.clone()
            };
            let trained = convert(&stages, &ann, &scales[&key], &snn, tech)?;
            let report = spec.chip.measure_into(out, &name, &trained.model, data)?;
            let chip = Headline::of(&report);
            Ok(Row {
                variant: variant.to_string(),
                timesteps: *t,
                accuracy: trained.test_accuracy,
                energy_pj: chip.energy_per_inference_pj,
                seconds: chip.seconds_per_inference,
                chip: Some(chip),
            })
        })?;
        rows.push(row);
    }
    for &t in &spec.timesteps {
        rows.push(Row {
            variant: "dnn-accelerator".into(),
            timesteps: t,
            accuracy: ann.accuracy,
            energy_pj: baseline.energy_pj,
            seconds: baseline.seconds,
            chip: None,
        });
    }
    write_atomic(
        &out.join("baseline.json"),
        (serde_json::to_string_pretty(&serde_json::json!({
            "accelerator": spec.accelerator, "run": baseline, "ann_test_accuracy": ann.accuracy,
        }))
        .expect("json")
            + "\n")
            .as_bytes(),
    )?;
    let point = headline_point(spec, &rows, &ann)
        .expect("at least one T")
        .clone();
    let sensitivity = sensitivity(&spec.accelerator, &spec.train.arch, &shapes, &point);
    write_sensitivity(out, &sensitivity, &point)?;
    let mut report_md = report_md(spec, data, &rows, &ann, &baseline);
    sensitivity_md(&mut report_md, &sensitivity, &point, &spec.accelerator);
    claims(
        &mut report_md,
        spec,
        &rows,
        &ann,
        &baseline,
        &sensitivity,
        &point,
    );
    let done = PLOTS.finish(out, rows, &baseline, report_md)?;
    Ok(Summary {
        rows: done.rows,
        ann,
        baseline,
        sensitivity,
        report_md: done.report_md,
    })
}

impl ResultRow for Row {
    type Context = AcceleratorRun;
    fn header() -> Vec<String> {
        results_header(&[
            "variant",
            "timesteps",
            "log2_timesteps",
            "accuracy",
            "power_mw",
            "energy_ratio_baseline_over_chip",
            "power_ratio_baseline_over_chip",
        ])
    }
    fn cells(&self, baseline: &AcceleratorRun) -> Vec<String> {
        let cells = vec![
            self.variant.clone(),
            self.timesteps.to_string(),
            (self.timesteps as f64).log2().to_string(),
            self.accuracy.to_string(),
            self.power_mw().to_string(),
            (baseline.energy_pj / self.energy_pj()).to_string(),
            (baseline.power_mw / self.power_mw()).to_string(),
        ];
        match &self.chip {
            Some(h) => results_row(cells, h),
            // The baseline fills only the chip columns it has.
            None => {
                let mut cells = cells;
                cells.extend(headline::COLUMNS.iter().map(|c| match *c {
                    headline::column::energy_per_inference_pj => self.energy_pj.to_string(),
                    headline::column::seconds_per_inference => self.seconds.to_string(),
                    _ => String::new(),
                }));
                cells
            }
        }
    }
}

const PLOTS: MetricPlots<Row, AcceleratorRun> = MetricPlots::<Row, AcceleratorRun>::new(
    Column::row("log2_timesteps", |r, _| Some((r.timesteps as f64).log2())),
    "log2 of timesteps T",
    |r| r.variant.clone(),
    "converted SNN on the chip and the DNN accelerator",
    &[
        (Column::ACCURACY, false),
        // The baseline's rows fill these cells too, so they are the row's.
        (
            Column::row("energy_per_inference_pj", |r, _| {
                Some(r.energy_per_inference_pj())
            }),
            true,
        ),
        (
            Column::row("seconds_per_inference", |r, _| {
                Some(r.seconds_per_inference())
            }),
            true,
        ),
        (Column::row("power_mw", |r, _| Some(r.power_mw())), true),
    ],
)
.file_x("timesteps")
// Ablations are single points at one T: the report's table shows them.
.keep(&["default", "early-exit", "dnn-accelerator"]);

fn report_md(
    spec: &ConvertSpec,
    data: &Dataset,
    rows: &[Row],
    ann: &Ann,
    b: &AcceleratorRun,
) -> String {
    let t = &spec.train;
    let get = |v: &str, ts: u32| rows.iter().find(|r| r.variant == v && r.timesteps == ts);
    let mut s = report_head(
        "ANN-to-SNN conversion on the chip, against a DNN accelerator",
        &spec.chip,
        &format!(
            "{}: a ReLU ANN trained {} epochs reaches {} (float). Converted to IF neurons with reset by subtraction, threshold balancing at the {}th percentile of {} training images' activations, biases as currents, membrane readout, direct (graded) input, {}-bit weights. Chip: {} ({}), {} test samples per model; accuracy of the integer model on {} test samples (reference executor). Early exit: stop once one output has led for {} timesteps in a row (after at least {}).",
            network_sentence(t, data),
            t.epochs,
            pct(ann.accuracy),
            spec.percentile,
            spec.calibration_samples,
            t.bits_of(0),
            spec.chip.hw.name,
            spec.chip.source(),
            spec.chip.samples,
            ann.test_samples,
            spec.early_exit.patience,
            spec.early_exit.min_timesteps,
        ),
    );
    let _ = writeln!(
        s,
        "Baseline: {} ({} MACs at {} MHz, {:.0}% utilization): {} MACs per inference, {:.2} us, {:.1} nJ, {:.0} mW (MACs {:.1} nJ, buffer {:.1} nJ, DRAM {:.1} nJ, static {:.1} nJ). Its numbers and their sources: `src/accelerator.rs` and `baseline.json`.\n",
        spec.accelerator.name,
        spec.accelerator.macs,
        spec.accelerator.clock_mhz,
        spec.accelerator.utilization * 100.0,
        b.macs,
        b.seconds * 1e6,
        b.energy_pj / 1e3,
        b.power_mw,
        b.energy_mac_pj / 1e3,
        b.energy_buffer_pj / 1e3,
        b.energy_dram_pj / 1e3,
        b.energy_static_pj / 1e3,
    );
    let within = headline_point(spec, rows, ann).filter(|r| r.accuracy >= ann.accuracy - 0.01);
    match within {
        Some(r) => {
            let _ = writeln!(
                s,
                "Headline: the converted SNN comes within 1 point of the ANN at T = {} ({}); there the chip takes {:.2} us and {:.1} nJ at {:.1} mW per inference. Baseline over chip: power {:.1}x, energy {:.2}x, latency {:.3}x.\n",
                r.timesteps,
                pct(r.accuracy),
                r.seconds() * 1e6,
                r.energy_pj() / 1e3,
                r.power_mw(),
                b.power_mw / r.power_mw(),
                b.energy_pj / r.energy_pj(),
                b.seconds / r.seconds(),
            );
        }
        None => {
            let _ = writeln!(
                s,
                "Headline: no T of the list brings the converted SNN within 1 point of the ANN.\n"
            );
        }
    }
    let last = *spec.timesteps.last().expect("validated");
    if let Some(e) = get("early-exit", last) {
        let _ = writeln!(
            s,
            "With early exit at T = {last}: {} accuracy after {:.1} timesteps on average, {:.2} us and {:.1} nJ per inference. Baseline over chip: power {:.1}x, energy {:.2}x.\n",
            pct(e.accuracy),
            e.timesteps_run(),
            e.seconds() * 1e6,
            e.energy_pj() / 1e3,
            b.power_mw / e.power_mw(),
            b.energy_pj / e.energy_pj(),
        );
    }
    let _ = writeln!(s, "| T | accuracy | early exit: accuracy | mean T run | chip latency (us) | chip power (mW) | chip energy (nJ) | early exit: energy (nJ) | power ratio (baseline / chip) | energy ratio (baseline / chip) |");
    let _ = writeln!(
        s,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for &ts in &spec.timesteps {
        let Some(d) = get("default", ts) else {
            continue;
        };
        let ee = get("early-exit", ts);
        let _ = writeln!(
            s,
            "| {ts} | {} | {} | {} | {:.2} | {:.1} | {:.1} | {} | {:.1} | {:.2} |",
            pct(d.accuracy),
            ee.map_or("-".into(), |e| pct(e.accuracy)),
            ee.map_or("-".into(), |e| format!("{:.1}", e.timesteps_run())),
            d.seconds() * 1e6,
            d.power_mw(),
            d.energy_pj() / 1e3,
            ee.map_or("-".into(), |e| format!("{:.1}", e.energy_pj() / 1e3)),
            b.power_mw / d.power_mw(),
            b.energy_pj / d.energy_pj(),
        );
    }
    let at = spec.ablation_timesteps;
    let _ = writeln!(s, "\n## Each technique switched off, at T = {at}\n");
    let _ = writeln!(
        s,
        "| variant | accuracy | chip energy (nJ) | chip latency (us) | spikes / inference |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for v in [
        "default",
        "early-exit",
        "no-balancing",
        "max-balancing",
        "no-bias",
        "spike-count-readout",
        "reset-to-zero",
    ] {
        if let Some(r) = get(v, at) {
            let _ = writeln!(
                s,
                "| {v} | {} | {:.1} | {:.2} | {:.0} |",
                pct(r.accuracy),
                r.energy_pj() / 1e3,
                r.seconds() * 1e6,
                r.chip.as_ref().map_or(f64::NAN, |h| h.spikes_per_inference),
            );
        }
    }
    let _ = writeln!(s, "\nFiles: `results.csv`, `baseline.json`, `plots/{{accuracy,energy_per_inference_pj,seconds_per_inference,power_mw}}-vs-timesteps.svg|png`, `models/`, `reports/`, `state/ann.json`.");
    s
}

/// The charts over several seeds' runs: means with 95% intervals.
pub fn plot_over_seeds(out: &Path, runs: &[Summary]) -> Result<()> {
    let runs: Vec<(&[Row], &AcceleratorRun)> = runs
        .iter()
        .map(|s| (s.rows.as_slice(), &s.baseline))
        .collect();
    PLOTS.write_over_seeds(&runs, out)
}

/// Per seed: the chip at the headline T against the ANN and the
/// baseline; early exit and every ablation against the default at the
/// ablation T.
/// The study's ANN on the first stick as Blouw et al. measured it.
fn on_measured_stick(spec: &ConvertSpec) -> AcceleratorRun {
    let (shapes, _) = skeleton(&spec.train.arch);
    Accelerator::measured_stick().run(&spec.train.arch, &shapes)
}

pub fn paired(spec: &ConvertSpec, summary: &Summary) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let rows = &summary.rows;
    let mut out = vec![];
    if let Some(p) = headline_point(spec, rows, &summary.ann) {
        let name = "chip at the first T within 1 point of the ANN";
        out.push(Paired::points(name, summary.ann.accuracy, p.accuracy));
        out.push(Paired {
            comparison: name.into(),
            figure: "timesteps".into(),
            value: p.timesteps as f64,
            null: f64::NAN,
        });
        let measured = on_measured_stick(spec);
        for (who, b) in [
            ("baseline", &summary.baseline),
            ("measured stick (Blouw 2019)", &measured),
        ] {
            let energy = format!("energy ratio {who} / chip");
            out.push(Paired::ratio(name, &energy, b.energy_pj, p.energy_pj()));
            let power = format!("power ratio {who} / chip");
            out.push(Paired::ratio(name, &power, b.power_mw, p.power_mw()));
        }
    }
    let at = |variant: &str| {
        rows.iter()
            .find(|r| r.variant == variant && r.timesteps == spec.ablation_timesteps)
    };
    let Some(default) = at("default") else {
        return out;
    };
    for r in rows.iter().filter(|r| {
        r.timesteps == spec.ablation_timesteps && r.chip.is_some() && r.variant != "default"
    }) {
        let name = format!(
            "{} against default, T = {}",
            r.variant, spec.ablation_timesteps
        );
        out.push(Paired::points(&name, default.accuracy, r.accuracy));
        out.push(Paired::ratio(
            &name,
            "energy ratio",
            default.energy_pj(),
            r.energy_pj(),
        ));
    }
    out
}
