//! `neurocycle study topspark`: adaptive timestep reduction for a network
//! that learns on the chip with STDP (TopSpark). At every candidate T the
//! chip learns from the same training images, then labels its neurons and
//! classifies test images with learning off, all on the chip:
//! - `adjusted`: the threshold, the inhibition and the threshold adaptation
//!   scaled for T (`StdpNet::scaled`) by the factor, among `factors`, that
//!   scores best on held-out training images (never the test images);
//! - `unadjusted`: the full-T parameters, only T shortened.
//!
//! The chosen T is the smallest adjusted one whose held-out accuracy is
//! within the tolerance of the full T's; it is used for both training and
//! inference, and its test accuracy is reported beside.

use super::{
    accuracy_difference, cached, claim_folder, claims_md, pct, report_head, ChipSetup, Claim,
    Column, MetricPlots, ResultRow, Summary,
};
use crate::data::Dataset;
use crate::energy;
use crate::engine::{Chip, Counters};
use crate::error::{write_atomic, Error, Result};
use crate::mapping;
use crate::train::stdp::{self, StdpNet};
use crate::train::Progress;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

pub struct TopSparkSpec {
    /// The network at the full T (the first candidate).
    pub net: StdpNet,
    /// Candidate timesteps, strictly decreasing; the first is the full T.
    pub candidates: Vec<u32>,
    pub train_samples: usize,
    /// Training images (after the learned ones) that label the neurons.
    pub label_samples: usize,
    pub test_samples: usize,
    /// Accuracy loss allowed at the chosen T, in points.
    pub tolerance: f64,
    /// Threshold scale factors tried at every shorter T (adjusted).
    pub factors: Vec<f64>,
    pub seed: u64,
    pub chip: ChipSetup,
}

impl TopSparkSpec {
    pub fn validate(&self) -> Result<()> {
        let expected =
            "strictly decreasing timesteps from 1024 down to 1, the first one the full T";
        super::check_decreasing("--candidates", &self.candidates, 1024, expected)?;
        if self.candidates[0] != self.net.timesteps {
            return Err(Error::invalid(
                "command line",
                "--candidates",
                format!("{:?}", self.candidates),
                expected,
            ));
        }
        if !(0.0..=100.0).contains(&self.tolerance) {
            return Err(Error::invalid(
                "command line",
                "--tolerance",
                self.tolerance,
                "0 ..= 100 (accuracy points)",
            ));
        }
        if self.factors.is_empty() || self.factors.iter().any(|f| !(*f > 0.0 && *f <= 4.0)) {
            return Err(Error::invalid(
                "command line",
                "--factors",
                format!("{:?}", self.factors),
                "one or more threshold scale factors in (0, 4], e.g. 1,0.75,0.5",
            ));
        }
        stdp::validate(&self.net)
    }
}

/// Cost of a phase (learning or inference) per sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cost {
    pub cycles: f64,
    pub seconds: f64,
    pub energy_pj: f64,
    pub learning_energy_pj: f64,
    pub learning_cycles: f64,
    pub synapse_word_writes: f64,
    pub spikes: f64,
}

impl Cost {
    fn of(c: &Counters, samples: u64, chip: &ChipSetup, flit_bits: u32) -> Cost {
        let n = samples.max(1) as f64;
        let b = energy::breakdown(c, &chip.hw, flit_bits);
        Cost {
            cycles: c.cycles as f64 / n,
            seconds: energy::seconds(&chip.hw, c.cycles) / n,
            energy_pj: b.total() / n,
            learning_energy_pj: b.learning / n,
            learning_cycles: c.total(|k| k.learning_cycles) as f64 / n,
            synapse_word_writes: c.total(|k| k.synapse_word_writes) as f64 / n,
            spikes: c.spikes_per_layer.iter().sum::<u64>() as f64 / n,
        }
    }
}

/// One measured point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `adjusted` or `unadjusted`.
    pub method: String,
    pub timesteps: u32,
    pub accuracy: f64,
    /// On held-out training images; what the threshold factor was chosen by.
    pub validation_accuracy: f64,
    pub factor: f64,
    pub net: StdpNet,
    pub training: Cost,
    pub inference: Cost,
}

fn config_of(spec: &TopSparkSpec, data: &Dataset) -> serde_json::Value {
    serde_json::json!({
        "study": "topspark",
        "dataset": data.name,
        "net": spec.net,
        "candidates": spec.candidates,
        "factors": spec.factors,
        "train_samples": spec.train_samples,
        "label_samples": spec.label_samples,
        "test_samples": spec.test_samples,
        "seed": spec.seed,
        "hw": spec.chip.hw,
    })
}

pub fn run(
    spec: &TopSparkSpec,
    data: &Dataset,
    out: &Path,
    progress: &dyn Fn(&str, &Progress),
) -> Result<Summary<Row>> {
    spec.validate()?;
    claim_folder(out, &config_of(spec, data))?;
    let mut rows: Vec<Row> = vec![];
    let n = spec.candidates.len();
    for (i, &t) in spec.candidates.iter().enumerate() {
        for method in ["adjusted", "unadjusted"] {
            if i == 0 && method == "unadjusted" {
                // At the full T both are the same network.
                let mut same = rows[0].clone();
                same.method = method.into();
                rows.push(same);
                continue;
            }
            let factors: Vec<f64> = if method == "adjusted" && i > 0 {
                spec.factors.clone()
            } else {
                vec![1.0]
            };
            let mut best: Option<Row> = None;
            for &f in &factors {
                let net = spec.net.scaled(t, f);
                let label = format!("{method} T={t} ({}/{n}) x{f}", i + 1);
                let name = if factors.len() > 1 {
                    format!("{method}-t{t}-x{f}")
                } else {
                    format!("{method}-t{t}")
                };
                let row = cached(&out.join(format!("points/{name}.json")), || {
                    point(spec, data, out, method, &name, &net, f, &|p| {
                        progress(&label, p)
                    })
                })?;
                if best
                    .as_ref()
                    .is_none_or(|b| row.validation_accuracy > b.validation_accuracy)
                {
                    best = Some(row);
                }
            }
            let row = best.expect("at least one factor");
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| (&a.method, b.timesteps).cmp(&(&b.method, a.timesteps)));
    let report_md = report_md(spec, data, &rows);
    PLOTS.finish(out, rows, &(), report_md)
}

#[allow(clippy::too_many_arguments)]
fn point(
    spec: &TopSparkSpec,
    data: &Dataset,
    out: &Path,
    method: &str,
    file: &str,
    net: &StdpNet,
    factor: f64,
    progress: &dyn Fn(&Progress),
) -> Result<Row> {
    let inputs = data.train.sample_len;
    let model = stdp::learning_model(net, inputs, spec.seed);
    let map = mapping::map(&model, &spec.chip.hw, file)?;
    let chip = Chip::build(&spec.chip.hw, &model, &map);
    let learned = stdp::learn_on_chip(
        &chip,
        net.input_divisor,
        &data.train,
        spec.train_samples,
        spec.seed,
        progress,
    )?;
    let frozen = learned.model;
    write_atomic(
        &out.join(format!("models/{file}.ron")),
        frozen.to_ron().as_bytes(),
    )?;
    let map = mapping::map(&frozen, &spec.chip.hw, file)?;
    let chip_inf = Chip::build(&spec.chip.hw, &frozen, &map);
    let eval = stdp::evaluate(
        &chip_inf,
        net.input_divisor,
        data,
        spec.train_samples,
        spec.label_samples,
        spec.test_samples,
        spec.seed,
        spec.chip.threads,
    )?;
    Ok(Row {
        method: method.into(),
        timesteps: net.timesteps,
        accuracy: eval.accuracy,
        validation_accuracy: eval.validation_accuracy,
        factor,
        net: net.clone(),
        training: Cost::of(
            &learned.counters,
            learned.samples,
            &spec.chip,
            chip.flit_bits,
        ),
        inference: Cost::of(&eval.counters, eval.samples, &spec.chip, chip_inf.flit_bits),
    })
}

const COLUMNS: &[&str] = &[
    "method",
    "timesteps",
    "accuracy",
    "validation_accuracy",
    "threshold_factor",
    "threshold",
    "train_cycles_per_sample",
    "train_energy_per_sample_pj",
    "train_learning_energy_per_sample_pj",
    "train_synapse_word_writes_per_sample",
    "train_spikes_per_sample",
    "inference_cycles",
    "inference_seconds",
    "inference_energy_pj",
    "inference_learning_energy_pj",
    "inference_spikes",
];

impl ResultRow for Row {
    type Context = ();
    fn header() -> Vec<String> {
        COLUMNS.iter().map(|c| c.to_string()).collect()
    }
    fn cells(&self, _: &()) -> Vec<String> {
        let (t, i) = (&self.training, &self.inference);
        [
            self.method.clone(),
            self.timesteps.to_string(),
            self.accuracy.to_string(),
            self.validation_accuracy.to_string(),
            self.factor.to_string(),
            self.net.threshold.to_string(),
        ]
        .into_iter()
        .chain(
            [
                t.cycles,
                t.energy_pj,
                t.learning_energy_pj,
                t.synapse_word_writes,
                t.spikes,
                i.cycles,
                i.seconds,
                i.energy_pj,
                i.learning_energy_pj,
                i.spikes,
            ]
            .iter()
            .map(|x| x.to_string()),
        )
        .collect()
    }
}

impl super::PlottedRow for Row {
    fn accuracy(&self) -> Option<f64> {
        Some(self.accuracy)
    }
}

const PLOTS: MetricPlots<Row> = MetricPlots::<Row>::new(
    Column::row("timesteps", |r, _| Some(r.timesteps as f64)),
    "timesteps T",
    |r| r.method.clone(),
    "STDP on the chip, TopSpark",
    &[
        (Column::ACCURACY, false),
        (
            Column::row("inference_cycles", |r, _| Some(r.inference.cycles)),
            false,
        ),
        (
            Column::row("inference_energy_pj", |r, _| Some(r.inference.energy_pj)),
            false,
        ),
        (
            Column::row("train_energy_per_sample_pj", |r, _| {
                Some(r.training.energy_pj)
            }),
            false,
        ),
        (
            Column::row("train_cycles_per_sample", |r, _| Some(r.training.cycles)),
            false,
        ),
    ],
)
.fit_accuracy();

/// The smallest adjusted T whose held-out accuracy is within `tolerance`
/// points of the full T's (test images play no part in the choice).
pub fn chosen(rows: &[Row], full: u32, tolerance: f64) -> Option<&Row> {
    let base = rows
        .iter()
        .find(|r| r.method == "adjusted" && r.timesteps == full)?;
    rows.iter()
        .filter(|r| r.method == "adjusted")
        .filter(|r| 100.0 * (base.validation_accuracy - r.validation_accuracy) <= tolerance + 1e-9)
        .min_by_key(|r| r.timesteps)
}

fn report_md(spec: &TopSparkSpec, data: &Dataset, rows: &[Row]) -> String {
    let full = spec.candidates[0];
    let mut s = report_head(
        "TopSpark: timestep reduction for STDP learning on the chip",
        &spec.chip,
        &format!(
            "Data set {}: the chip learns from {} training images (one after the other, learning on), labels its {} neurons on the next {}, and classifies {} test images (learning off). Chip: {}. Full T = {full}; tolerance {} points. Adjusted: threshold, inhibition and adaptation scaled by the factor among {:?} that scores best on the second half of the label images (labelled on the first half).",
            data.name,
            spec.train_samples.min(data.train.len()),
            spec.net.neurons,
            spec.label_samples,
            spec.test_samples.min(data.test.len()),
            spec.chip.source(),
            spec.tolerance,
            spec.factors
        ),
    );
    let base = rows
        .iter()
        .find(|r| r.method == "adjusted" && r.timesteps == full);
    if let (Some(b), Some(c)) = (base, chosen(rows, full, spec.tolerance)) {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        let _ = writeln!(s, "## Headline\n");
        let _ = writeln!(
            s,
            "| | full T = {} | chosen T = {} | saving |",
            b.timesteps, c.timesteps
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
        let _ = writeln!(
            s,
            "| test accuracy | {} | {} | {:+.1} points |",
            pct(b.accuracy),
            pct(c.accuracy),
            100.0 * (c.accuracy - b.accuracy)
        );
        let _ = writeln!(
            s,
            "| held-out accuracy (chooses T) | {} | {} | {:+.1} points |",
            pct(b.validation_accuracy),
            pct(c.validation_accuracy),
            100.0 * (c.validation_accuracy - b.validation_accuracy)
        );
        let rows3 = [
            (
                "inference latency (cycles)",
                b.inference.cycles,
                c.inference.cycles,
            ),
            (
                "inference energy (nJ)",
                b.inference.energy_pj / 1e3,
                c.inference.energy_pj / 1e3,
            ),
            (
                "training latency per sample (cycles)",
                b.training.cycles,
                c.training.cycles,
            ),
            (
                "training energy per sample (nJ)",
                b.training.energy_pj / 1e3,
                c.training.energy_pj / 1e3,
            ),
            (
                "of which learning (nJ)",
                b.training.learning_energy_pj / 1e3,
                c.training.learning_energy_pj / 1e3,
            ),
        ];
        for (name, x, y) in rows3 {
            let _ = writeln!(s, "| {name} | {x:.1} | {y:.1} | {:.2}x |", ratio(x, y));
        }
        let _ = writeln!(s);
    }
    if let (Some(b), Some(c)) = (base, chosen(rows, full, spec.tolerance)) {
        let unadjusted = rows
            .iter()
            .find(|r| r.method == "unadjusted" && r.timesteps == c.timesteps);
        let n = spec.test_samples.min(data.test.len());
        claims_md(
            &mut s,
            "TopSpark: adaptive timestep reduction for STDP-learning SNNs, in training and inference.",
            &[
                Claim {
                    paper: "3.9x lower latency",
                    here: format!(
                        "{:.2}x (inference cycles, T = {} -> {})",
                        b.inference.cycles / c.inference.cycles,
                        b.timesteps,
                        c.timesteps
                    ),
                    driver: format!(
                        "the timesteps alone: {full} / {} = {:.2}x",
                        c.timesteps,
                        full as f64 / c.timesteps as f64
                    ),
                },
                Claim {
                    paper: "3.5x lower training energy, 3.3x lower inference energy",
                    here: format!(
                        "{:.2}x training, {:.2}x inference",
                        b.training.energy_pj / c.training.energy_pj,
                        b.inference.energy_pj / c.inference.energy_pj
                    ),
                    driver: "timesteps, and the spikes per timestep the adjusted parameters leave".into(),
                },
                Claim {
                    paper: "accuracy within 2% of the full T",
                    here: accuracy_difference(b.accuracy, c.accuracy, n),
                    driver: format!(
                        "T chosen on {} held-out images ({} there)",
                        spec.label_samples / 2,
                        pct(c.validation_accuracy)
                    ),
                },
                Claim {
                    paper: "neuron parameters adapted to the shorter T learn and infer better",
                    here: unadjusted.map_or_else(
                        || "no unadjusted run at the chosen T".into(),
                        |u| {
                            format!(
                                "adjusted (threshold factor x{}) against unadjusted at T = {}: {}",
                                c.factor,
                                c.timesteps,
                                accuracy_difference(u.accuracy, c.accuracy, n)
                            )
                        },
                    ),
                    driver: "only the threshold, inhibition and adaptation scale (one factor, chosen on held-out images); x1 means no adjustment".into(),
                },
            ],
        );
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Every point\n");
    let _ = writeln!(s, "| method | T | accuracy | held-out | threshold | inference cycles | inference nJ | training cycles/sample | training nJ/sample | learning nJ/sample |");
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} (x{}) | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} |",
            r.method,
            r.timesteps,
            pct(r.accuracy),
            pct(r.validation_accuracy),
            r.net.threshold,
            r.factor,
            r.inference.cycles,
            r.inference.energy_pj / 1e3,
            r.training.cycles,
            r.training.energy_pj / 1e3,
            r.training.learning_energy_pj / 1e3
        );
    }
    let _ = writeln!(s, "\nPlots: `plots/*-vs-timesteps.{{svg,png}}`. Models: `models/` (learned weights, frozen thresholds).");
    s
}

/// The charts over several seeds' runs: means with 95% intervals.
pub fn plot_over_seeds(out: &Path, runs: &[Summary<Row>]) -> Result<()> {
    let runs: Vec<(&[Row], &())> = runs.iter().map(|s| (s.rows.as_slice(), &())).collect();
    PLOTS.write_over_seeds(&runs, out)
}
