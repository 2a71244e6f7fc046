//! `neurocycle study topspark`: adaptive timestep reduction for a network
//! that learns on the chip with STDP (TopSpark). At every candidate T the
//! chip learns from the same training images, then labels its neurons and
//! classifies test images with learning off, all on the chip:
//! - `unadjusted`: the full-T parameters, only T shortened;
//! - `adjusted`: TopSpark's analysis at that T: each parameter that may
//!   matter (`Knob`: threshold, membrane time constant, threshold
//!   adaptation, inhibition, learning rate) is scaled alone by each of
//!   `factors` in a shorter training (`analysis_samples` images) and scored
//!   on held-out training images (never the test images); the parameters
//!   that helped are then combined greedily, best first, each kept only if
//!   it still helps, and the combination learns from all the images.
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
use crate::error::{check_range, write_atomic, Error, Result};
use crate::mapping;
use crate::train::stdp::{self, Knob, StdpNet};
use crate::train::Progress;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone)]
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
    /// Scale factors each parameter is tried with at every shorter T.
    pub factors: Vec<f64>,
    /// Training images of each analysis run.
    pub analysis_samples: usize,
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
                "one or more parameter scale factors in (0, 4], e.g. 0.5,0.75,1.5",
            ));
        }
        check_range(
            "command line",
            "--train-samples",
            self.train_samples,
            1,
            10_000_000,
        )?;
        check_range(
            "command line",
            "--analysis-samples",
            self.analysis_samples,
            1,
            10_000_000,
        )?;
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
    /// On held-out training images; what the adjustment was chosen by.
    pub validation_accuracy: f64,
    /// The parameters scaled, and by what (empty: none).
    pub adjustment: Vec<(Knob, f64)>,
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
        "analysis_samples": spec.analysis_samples,
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
    progress: &(dyn Fn(&str, &Progress) + Sync),
) -> Result<Summary<Row>> {
    spec.validate()?;
    claim_folder(out, &config_of(spec, data))?;
    let mut rows: Vec<Row> = vec![];
    let mut probes: Vec<Probe> = vec![];
    let n = spec.candidates.len();
    for (i, &t) in spec.candidates.iter().enumerate() {
        let label = |what: &str| format!("{what} T={t} ({}/{n})", i + 1);
        let full = |method: &str, net: &StdpNet, adjustment: Vec<(Knob, f64)>| {
            let name = format!("{method}-t{t}");
            cached(&out.join(format!("points/{name}.json")), || {
                point(spec, data, out, method, &name, net, &adjustment, &|p| {
                    progress(&label(method), p)
                })
            })
        };
        let unadjusted = full("unadjusted", &spec.net.at(t), vec![])?;
        let adjusted = if i == 0 {
            // At the full T both are the same network.
            Row {
                method: "adjusted".into(),
                ..unadjusted.clone()
            }
        } else {
            let (net, adjustment) = analyse(spec, data, out, t, &mut probes, &|p| {
                progress(&label("analysis"), p)
            })?;
            full("adjusted", &net, adjustment)?
        };
        rows.extend([adjusted, unadjusted]);
    }
    write_probes(out, &probes)?;
    rows.sort_by(|a, b| (&a.method, b.timesteps).cmp(&(&b.method, a.timesteps)));
    let report_md = report_md(spec, data, &rows, &probes);
    PLOTS.finish(out, rows, &(), report_md)
}

/// What one network learned and scored on the chip.
struct Trial {
    learned: stdp::Learned,
    eval: stdp::Evaluation,
    train_flit_bits: u32,
    test_flit_bits: u32,
}

/// The chip learns `net` from `train_samples` images, then labels its
/// neurons and classifies `test_samples` test images.
fn trial(
    spec: &TopSparkSpec,
    data: &Dataset,
    file: &str,
    net: &StdpNet,
    (train_samples, test_samples): (usize, usize),
    threads: usize,
    progress: &dyn Fn(&Progress),
) -> Result<Trial> {
    let model = stdp::learning_model(net, data.train.sample_len, spec.seed);
    let map = mapping::map(&model, &spec.chip.hw, file)?;
    let chip = Chip::build(&spec.chip.hw, &model, &map);
    let learned = stdp::learn_on_chip(&chip, net, &data.train, train_samples, spec.seed, progress)?;
    let map = mapping::map(&learned.model, &spec.chip.hw, file)?;
    let chip_inf = Chip::build(&spec.chip.hw, &learned.model, &map);
    let eval = stdp::evaluate(
        &chip_inf,
        net,
        data,
        train_samples,
        spec.label_samples,
        test_samples,
        spec.seed,
        threads,
    )?;
    Ok(Trial {
        train_flit_bits: chip.flit_bits,
        test_flit_bits: chip_inf.flit_bits,
        learned,
        eval,
    })
}

#[allow(clippy::too_many_arguments)]
fn point(
    spec: &TopSparkSpec,
    data: &Dataset,
    out: &Path,
    method: &str,
    file: &str,
    net: &StdpNet,
    adjustment: &[(Knob, f64)],
    progress: &dyn Fn(&Progress),
) -> Result<Row> {
    let samples = (spec.train_samples, spec.test_samples);
    let t = trial(spec, data, file, net, samples, spec.chip.threads, progress)?;
    write_atomic(
        &out.join(format!("models/{file}.ron")),
        t.learned.model.to_ron().as_bytes(),
    )?;
    Ok(Row {
        method: method.into(),
        timesteps: net.timesteps,
        accuracy: t.eval.accuracy,
        validation_accuracy: t.eval.validation_accuracy,
        adjustment: adjustment.to_vec(),
        net: net.clone(),
        training: Cost::of(
            &t.learned.counters,
            t.learned.samples,
            &spec.chip,
            t.train_flit_bits,
        ),
        inference: Cost::of(
            &t.eval.counters,
            t.eval.samples,
            &spec.chip,
            t.test_flit_bits,
        ),
    })
}

/// One run of the analysis: a shorter training of the unadjusted net at
/// T with some parameters scaled, scored on held-out training images.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Probe {
    pub timesteps: u32,
    /// The parameters scaled (empty: the unadjusted net itself).
    pub adjustment: Vec<(Knob, f64)>,
    pub validation_accuracy: f64,
    /// Output spikes per training image.
    pub train_spikes_per_sample: f64,
}

/// `threshold x0.5 + learning rate x1.5`, or `none`.
pub fn describe(adjustment: &[(Knob, f64)]) -> String {
    if adjustment.is_empty() {
        return "none".into();
    }
    adjustment
        .iter()
        .map(|(k, f)| format!("{} x{f}", k.name()))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// TopSpark's analysis at `t`: every parameter alone at every factor, then
/// the helpful ones combined greedily (best first, each kept only if the
/// combination scores higher on the held-out images). Returns the adjusted
/// net and what was scaled; every run goes into `probes`.
fn analyse(
    spec: &TopSparkSpec,
    data: &Dataset,
    out: &Path,
    t: u32,
    probes: &mut Vec<Probe>,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(StdpNet, Vec<(Knob, f64)>)> {
    let unadjusted = spec.net.at(t);
    let net_of = |adj: &[(Knob, f64)]| {
        adj.iter()
            .fold(unadjusted.clone(), |n, &(k, f)| n.with(k, f))
    };
    // One run; `threads` for its inferences (1 when runs share the cores).
    let run =
        |adj: &[(Knob, f64)], threads: usize, progress: &dyn Fn(&Progress)| -> Result<Probe> {
            let name = adj.iter().fold(format!("probe-t{t}"), |n, (k, f)| {
                format!("{n}-{}{f}", k.column().trim_end_matches("factor"))
            });
            cached(&out.join(format!("points/{name}.json")), || {
                let samples = (spec.analysis_samples, 0);
                let r = trial(spec, data, &name, &net_of(adj), samples, threads, progress)?;
                Ok(Probe {
                    timesteps: t,
                    adjustment: adj.to_vec(),
                    validation_accuracy: r.eval.validation_accuracy,
                    train_spikes_per_sample: r.learned.counters.spikes_per_layer.iter().sum::<u64>()
                        as f64
                        / r.learned.samples.max(1) as f64,
                })
            })
        };
    // The unadjusted net and every parameter alone: independent runs,
    // spread over the cores.
    let mut plan: Vec<Vec<(Knob, f64)>> = vec![vec![]];
    for knob in Knob::ALL {
        for &f in spec.factors.iter().filter(|&&f| f != 1.0) {
            plan.push(vec![(knob, f)]);
        }
    }
    let threads = spec.chip.threads.max(1);
    // One bar over all of them: images learned by finished runs plus the
    // latest report of a running one.
    let finished = std::sync::atomic::AtomicU64::new(0);
    let total = (plan.len() * spec.analysis_samples) as u64;
    let done = crate::parallel::map(plan.len(), threads, |i| {
        let r = run(&plan[i], 1, &|p: &Progress| {
            let before = finished.load(std::sync::atomic::Ordering::Relaxed);
            progress(&Progress {
                samples_done: (before + p.samples_done).min(total),
                samples_total: total,
                ..*p
            })
        });
        finished.fetch_add(
            spec.analysis_samples as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        r
    });
    let mut first = vec![];
    for p in done {
        first.push(p?);
    }
    let base = first[0].validation_accuracy;
    let mut singles: Vec<(Knob, f64, f64)> = vec![];
    for knob in Knob::ALL {
        let best = first[1..]
            .iter()
            .filter(|p| p.adjustment[0].0 == knob)
            .fold(None::<&Probe>, |b, p| match b {
                Some(b) if b.validation_accuracy >= p.validation_accuracy => Some(b),
                _ => Some(p),
            });
        if let Some(p) = best {
            singles.push((knob, p.adjustment[0].1, p.validation_accuracy));
        }
    }
    probes.extend(first);
    // Best first; ties keep `Knob::ALL`'s order.
    singles.sort_by(|a, b| b.2.total_cmp(&a.2));
    let (mut adjustment, mut score) = (vec![], base);
    for (knob, f, alone) in singles.into_iter().filter(|s| s.2 > base) {
        let mut candidate = adjustment.clone();
        candidate.push((knob, f));
        let with = if adjustment.is_empty() {
            alone
        } else {
            let p = run(&candidate, threads, progress)?;
            let v = p.validation_accuracy;
            probes.push(p);
            v
        };
        if with > score {
            (adjustment, score) = (candidate, with);
        }
    }
    Ok((net_of(&adjustment), adjustment))
}

const PROBE_COLUMNS: &[&str] = &[
    "timesteps",
    "adjustment",
    "validation_accuracy",
    "change_points",
    "train_spikes_per_sample",
];

/// `analysis.csv`: every analysis run, with its held-out accuracy's change
/// from the unadjusted net's at the same T (same training length).
fn write_probes(out: &Path, probes: &[Probe]) -> Result<()> {
    let header: Vec<String> = PROBE_COLUMNS.iter().map(|c| c.to_string()).collect();
    let rows: Vec<Vec<String>> = probes
        .iter()
        .map(|p| {
            let base = probe_base(probes, p.timesteps);
            vec![
                p.timesteps.to_string(),
                describe(&p.adjustment),
                p.validation_accuracy.to_string(),
                base.map_or(String::new(), |b| {
                    (100.0 * (p.validation_accuracy - b)).to_string()
                }),
                p.train_spikes_per_sample.to_string(),
            ]
        })
        .collect();
    super::write_csv(&out.join("analysis.csv"), &header, &rows)
}

/// The held-out accuracy of the unadjusted analysis run at `t`.
fn probe_base(probes: &[Probe], t: u32) -> Option<f64> {
    probes
        .iter()
        .find(|p| p.timesteps == t && p.adjustment.is_empty())
        .map(|p| p.validation_accuracy)
}

const COLUMNS: &[&str] = &[
    "method",
    "timesteps",
    "accuracy",
    "validation_accuracy",
    "threshold_factor",
    "tau_v_factor",
    "adaptation_factor",
    "inhibition_factor",
    "learning_rate_factor",
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
        ]
        .into_iter()
        .chain(Knob::ALL.iter().map(|k| self.factor(*k).to_string()))
        .chain([self.net.threshold.to_string()])
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

impl Row {
    /// The factor `knob` was scaled by (1: not adjusted).
    pub fn factor(&self, knob: Knob) -> f64 {
        self.adjustment
            .iter()
            .filter(|(k, _)| *k == knob)
            .map(|(_, f)| f)
            .product()
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

fn report_md(spec: &TopSparkSpec, data: &Dataset, rows: &[Row], probes: &[Probe]) -> String {
    let full = spec.candidates[0];
    let normalising = match (spec.net.weight_sum, spec.net.normalize_every) {
        (0, _) => "without weight normalisation".to_string(),
        (w, 1) => format!("normalising each neuron's weights to sum {w} after each"),
        (w, k) => format!(
            "normalising each neuron's weights to sum {w} after every {k} and after the last"
        ),
    };
    let mut s = report_head(
        "TopSpark: timestep reduction for STDP learning on the chip",
        &spec.chip,
        &format!(
            "Data set {}: the chip learns from {} training images (one after the other, learning on; {} distinct), {normalising}, labels its {} neurons on the next {}, and classifies {} test images (learning off). Chip: {}. Full T = {full}; tolerance {} points. Adjusted: at each shorter T, each parameter ({}) is scaled alone by each of {:?} in a training on {} images and scored on the second half of the label images (labelled on the first half); those that help are combined, best first, each kept only if the combination still scores higher; the result learns from all the images.",
            data.name,
            spec.train_samples,
            spec.train_samples.min(data.train.len()),
            spec.net.neurons,
            spec.label_samples,
            spec.test_samples.min(data.test.len()),
            spec.chip.source(),
            spec.tolerance,
            Knob::ALL.map(|k| k.name()).join(", "),
            spec.factors,
            spec.analysis_samples,
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
                                "adjusted ({}) against unadjusted at T = {}: {}",
                                describe(&c.adjustment),
                                c.timesteps,
                                accuracy_difference(u.accuracy, c.accuracy, n)
                            )
                        },
                    ),
                    driver: "the parameters the analysis found to help at that T (section Analysis), chosen on held-out images".into(),
                },
            ],
        );
        let _ = writeln!(s);
    }
    trade_off_md(&mut s, spec, data, rows);
    analysis_md(&mut s, spec, rows, probes);
    let _ = writeln!(s, "## Every point\n");
    let _ = writeln!(s, "| method | T | accuracy | held-out | adjustment | spikes per training image | inference cycles | inference nJ | training cycles/sample | training nJ/sample | learning nJ/sample |");
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} |",
            r.method,
            r.timesteps,
            pct(r.accuracy),
            pct(r.validation_accuracy),
            describe(&r.adjustment),
            r.training.spikes,
            r.inference.cycles,
            r.inference.energy_pj / 1e3,
            r.training.cycles,
            r.training.energy_pj / 1e3,
            r.training.learning_energy_pj / 1e3
        );
    }
    let _ = writeln!(s, "\nPlots: `plots/*-vs-timesteps.{{svg,png}}`. Models: `models/` (learned weights, frozen thresholds). Every analysis run: `analysis.csv`.");
    s
}

/// Every shorter T against the full one (savings and accuracy), and the
/// adjusted network against the unadjusted one at each T.
fn trade_off_md(s: &mut String, spec: &TopSparkSpec, data: &Dataset, rows: &[Row]) {
    let full = spec.candidates[0];
    let at = |method: &str, t: u32| rows.iter().find(|r| r.method == method && r.timesteps == t);
    let Some(b) = at("adjusted", full) else {
        return;
    };
    let n = spec.test_samples.min(data.test.len());
    let _ = writeln!(s, "## Every T against the full T\n");
    let _ = writeln!(s, "Savings of the adjusted network at each T over the full T = {full} (ratios full / shorter), its test accuracy change, and adjusted against unadjusted at the same T (95% intervals from the {n} test images).\n");
    let _ = writeln!(s, "| T | inference latency | inference energy | training latency | training energy | accuracy change from T = {full} | adjusted - unadjusted |");
    let _ = writeln!(s, "| ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for &t in spec.candidates.iter().skip(1) {
        let (Some(a), Some(u)) = (at("adjusted", t), at("unadjusted", t)) else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {t} | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {} | {} |",
            b.inference.cycles / a.inference.cycles,
            b.inference.energy_pj / a.inference.energy_pj,
            b.training.cycles / a.training.cycles,
            b.training.energy_pj / a.training.energy_pj,
            accuracy_difference(b.accuracy, a.accuracy, n),
            accuracy_difference(u.accuracy, a.accuracy, n)
        );
    }
    let _ = writeln!(s);
}

/// Which parameters matter at each T: per parameter, the best change of
/// held-out accuracy over its factors, the one that moves it most, and
/// what the adjusted network combined.
fn analysis_md(s: &mut String, spec: &TopSparkSpec, rows: &[Row], probes: &[Probe]) {
    if probes.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Analysis: which parameters matter at each T\n");
    let _ = writeln!(
        s,
        "Held-out accuracy change (points) from the unadjusted net at the same T, after {} training images, for the best factor of each parameter alone (its factor in brackets); one held-out image is {:.2} points, so a change of a point or two is within the noise of these runs.\n",
        spec.analysis_samples,
        100.0 / (spec.label_samples / 2).max(1) as f64
    );
    let _ = writeln!(
        s,
        "| T | unadjusted | {} | most sensitive (widest change over its factors) | adjusted with |",
        Knob::ALL.map(|k| k.name()).join(" | ")
    );
    let _ = writeln!(
        s,
        "| ---: | ---: |{} --- | --- |",
        " ---: |".repeat(Knob::ALL.len())
    );
    for &t in spec.candidates.iter().skip(1) {
        let Some(base) = probe_base(probes, t) else {
            continue;
        };
        let mut cells = vec![];
        let mut most: Option<(Knob, f64)> = None;
        for knob in Knob::ALL {
            let singles = probes.iter().filter(|p| {
                p.timesteps == t && p.adjustment.len() == 1 && p.adjustment[0].0 == knob
            });
            let best =
                singles.max_by(|a, b| a.validation_accuracy.total_cmp(&b.validation_accuracy));
            let widest = probes
                .iter()
                .filter(|p| {
                    p.timesteps == t && p.adjustment.len() == 1 && p.adjustment[0].0 == knob
                })
                .map(|p| (100.0 * (p.validation_accuracy - base)).abs())
                .fold(0.0, f64::max);
            if most.is_none_or(|(_, m)| widest > m) {
                most = Some((knob, widest));
            }
            cells.push(best.map_or("-".into(), |p| {
                format!(
                    "{:+.1} (x{})",
                    100.0 * (p.validation_accuracy - base),
                    p.adjustment[0].1
                )
            }));
        }
        let adjusted = rows
            .iter()
            .find(|r| r.method == "adjusted" && r.timesteps == t)
            .map_or("-".into(), |r| describe(&r.adjustment));
        let _ = writeln!(
            s,
            "| {t} | {} | {} | {} | {adjusted} |",
            pct(base),
            cells.join(" | "),
            most.map_or("-".into(), |(k, m)| format!("{} ({m:.1} points)", k.name()))
        );
    }
    let _ = writeln!(s);
}

/// The charts over several seeds' runs: means with 95% intervals.
pub fn plot_over_seeds(out: &Path, runs: &[Summary<Row>]) -> Result<()> {
    let runs: Vec<(&[Row], &())> = runs.iter().map(|s| (s.rows.as_slice(), &())).collect();
    PLOTS.write_over_seeds(&runs, out)
}

/// The T one chip would be built for, from every seed's run: [`chosen`]
/// on the held-out accuracies averaged over the seeds (a seed's own choice
/// follows its own held-out noise, and the seeds may disagree).
pub fn chosen_over_seeds(runs: &[&[Row]], full: u32, tolerance: f64) -> Option<u32> {
    let first = runs.first()?;
    let mean: Vec<Row> = first
        .iter()
        .map(|r| {
            let (n, sum) = runs
                .iter()
                .filter_map(|rows| {
                    rows.iter()
                        .find(|x| x.method == r.method && x.timesteps == r.timesteps)
                })
                .fold((0, 0.0), |(n, sum), x| (n + 1, sum + x.validation_accuracy));
            Row {
                validation_accuracy: sum / n as f64,
                ..r.clone()
            }
        })
        .collect();
    chosen(&mean, full, tolerance).map(|r| r.timesteps)
}

/// Every seed's paired figures ([`paired`]), plus, at the T chosen over
/// the seeds ([`chosen_over_seeds`]), that T against the full T and the
/// adjusted network against the unadjusted one.
pub fn paired_over_seeds(spec: &TopSparkSpec, runs: &[&[Row]]) -> Vec<Vec<super::seeds::Paired>> {
    let full = spec.candidates[0];
    let common = chosen_over_seeds(runs, full, spec.tolerance);
    runs.iter()
        .map(|rows| {
            let mut out = paired(spec, rows);
            let at = |m: &str, t: u32| rows.iter().find(|r| r.method == m && r.timesteps == t);
            if let Some(t) = common {
                if let (Some(b), Some(c)) = (at("adjusted", full), at("adjusted", t)) {
                    let name = format!("T = {t}, chosen on the seeds' mean held-out accuracy");
                    out.extend(against_full(&name, b, c));
                    if let Some(u) = at("unadjusted", t) {
                        let mut p = super::seeds::Paired::points(&name, u.accuracy, c.accuracy);
                        p.figure = "accuracy change, adjusted against unadjusted (points)".into();
                        out.push(p);
                    }
                }
            }
            out
        })
        .collect()
}

/// A shorter T `c` against the full T `b`: accuracy change and the
/// latency and energy ratios (full / shorter).
fn against_full(name: &str, b: &Row, c: &Row) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let mut out = vec![Paired::points(name, b.accuracy, c.accuracy)];
    for (figure, x, y) in [
        (
            "inference latency ratio",
            b.inference.cycles,
            c.inference.cycles,
        ),
        (
            "inference energy ratio",
            b.inference.energy_pj,
            c.inference.energy_pj,
        ),
        (
            "training latency ratio",
            b.training.cycles,
            c.training.cycles,
        ),
        (
            "training energy ratio",
            b.training.energy_pj,
            c.training.energy_pj,
        ),
    ] {
        out.push(Paired::ratio(name, figure, x, y));
    }
    out
}

/// Per seed: the chosen T against the full T (what TopSpark claims), and
/// the adjusted network against the unadjusted one at every shorter T.
pub fn paired(spec: &TopSparkSpec, rows: &[Row]) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let full = spec.candidates[0];
    let at = |method: &str, t: u32| rows.iter().find(|r| r.method == method && r.timesteps == t);
    let mut out = vec![];
    if let (Some(b), Some(c)) = (at("adjusted", full), chosen(rows, full, spec.tolerance)) {
        let name = "chosen T against the full T";
        out.push(Paired {
            comparison: name.into(),
            figure: "chosen T".into(),
            value: c.timesteps as f64,
            null: f64::NAN,
        });
        out.extend(against_full(name, b, c));
    }
    for &t in spec.candidates.iter().skip(1) {
        if let (Some(a), Some(u)) = (at("adjusted", t), at("unadjusted", t)) {
            let name = format!("adjusted against unadjusted, T = {t}");
            out.push(Paired::points(&name, u.accuracy, a.accuracy));
        }
    }
    out
}
