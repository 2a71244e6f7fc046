//! `neurocycle study prune-quant`: pruning and quantization in isolation,
//! one after the other (both orders) and jointly, each point trained,
//! exported and measured on a chip; the accuracy-energy Pareto front.

use super::{
    accuracy_difference, cached, claim_folder, claims_md, finish, network_sentence, pct,
    report_head, ChipSetup, Claim, Column, ResultRow,
};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::plot::sweep::{pareto_chart_of, series_of};
use crate::report::headline::{metric, Headline};
use crate::train::{arch_name, train, Order, Progress, TrainSpec};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// How a point compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// Weight bits only, no pruning.
    Quant,
    /// Pruning only, at the widest bits of the grid.
    Prune,
    /// Pruning with float weights, then quantization-aware fine-tuning.
    PruneThenQuant,
    /// Quantization-aware training, then pruning.
    QuantThenPrune,
    /// Both from the start.
    Joint,
}

impl Regime {
    pub fn name(self) -> &'static str {
        match self {
            Regime::Quant => "quant",
            Regime::Prune => "prune",
            Regime::PruneThenQuant => "prune-then-quant",
            Regime::QuantThenPrune => "quant-then-prune",
            Regime::Joint => "joint",
        }
    }
}

#[derive(Clone)]
pub struct PruneQuantSpec {
    /// Architecture, timesteps, epochs, ... of every point.
    pub train: TrainSpec,
    /// Weight bits of the grid, widest first (2 = ternary, 1 = binary).
    pub bits: Vec<u8>,
    /// Sparsities of the grid (above 0).
    pub sparsities: Vec<f64>,
    pub chip: ChipSetup,
}

/// One point of the grid.
#[derive(Clone, Debug)]
pub struct Point {
    pub regime: Regime,
    pub bits: u8,
    pub sparsity: f64,
}

impl Point {
    pub fn id(&self) -> String {
        format!(
            "{}-b{}-s{:.0}",
            self.regime.name(),
            self.bits,
            self.sparsity * 100.0
        )
    }
}

/// The grid: quantization alone at every width, pruning alone at the
/// widest, and the three combinations at every narrower width and sparsity.
pub fn points(spec: &PruneQuantSpec) -> Vec<Point> {
    let widest = spec.bits[0];
    let mut out: Vec<Point> = spec
        .bits
        .iter()
        .map(|&bits| Point {
            regime: Regime::Quant,
            bits,
            sparsity: 0.0,
        })
        .collect();
    out.extend(spec.sparsities.iter().map(|&sparsity| Point {
        regime: Regime::Prune,
        bits: widest,
        sparsity,
    }));
    for regime in [
        Regime::PruneThenQuant,
        Regime::QuantThenPrune,
        Regime::Joint,
    ] {
        for &bits in &spec.bits[1..] {
            for &sparsity in &spec.sparsities {
                out.push(Point {
                    regime,
                    bits,
                    sparsity,
                });
            }
        }
    }
    out
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub regime: String,
    pub bits: u8,
    pub target_sparsity: f64,
    pub sparsity: f64,
    /// Integer test accuracy (reference executor, the trainer's test set).
    pub accuracy: f64,
    /// Synapse-row encodings the mapper chose, with their core counts.
    pub encodings: String,
    /// Headline chip metrics, or none with `error` when it did not fit.
    pub chip: Option<Headline>,
    pub error: Option<String>,
}

impl Row {
    /// A chip metric, picked by `f`; none when the model did not fit.
    pub fn metric(&self, f: Pick) -> Option<f64> {
        self.chip.as_ref().and_then(f)
    }
}

/// Picks a metric from the headline.
type Pick = fn(&Headline) -> Option<f64>;
const CYCLES: Pick = |h| Some(h.cycles_per_inference);
const ENERGY: Pick = |h| Some(h.energy_per_inference_pj);
const STORED_BITS: Pick = |h| Some(h.synapse_memory_bits_stored as f64);

/// What the study found.
pub type Summary = super::Summary<Row>;

/// Pruning rounds of a point: one per four epochs, so that every order
/// leaves epochs to fine-tune after its last round.
fn rounds(epochs: u32) -> u32 {
    (epochs / 4).max(1)
}

fn point_spec(base: &TrainSpec, p: &Point) -> TrainSpec {
    let rounds = rounds(base.epochs);
    TrainSpec {
        bits: vec![p.bits],
        prune: p.sparsity,
        prune_rounds: rounds,
        order: match p.regime {
            Regime::PruneThenQuant => Order::PruneThenQuant,
            Regime::QuantThenPrune => Order::QuantThenPrune,
            _ => Order::Joint,
        },
        ..base.clone()
    }
}

/// Runs (or resumes) the grid into `out`; `progress(stage, p)` reports
/// training.
pub fn run(
    spec: &PruneQuantSpec,
    data: &Dataset,
    out: &Path,
    progress: &dyn Fn(&str, &Progress),
) -> Result<Summary> {
    let t = &spec.train;
    claim_folder(
        out,
        &serde_json::json!({
            "study": "prune-quant", "dataset": data.name, "arch": arch_name(&t.arch),
            "timesteps": t.timesteps, "encoding": format!("{:?}", t.encoding), "epochs": t.epochs,
            "seed": t.seed, "train_samples": t.train_samples, "test_samples": t.test_samples,
            "bits": spec.bits, "sparsities": spec.sparsities, "hw": spec.chip.hw,
            "chip_samples": spec.chip.samples,
        }),
    )?;
    let grid = points(spec);
    let mut rows = vec![];
    for (i, p) in grid.iter().enumerate() {
        let id = p.id();
        let stage = format!("{}/{} {id}", i + 1, grid.len());
        let row = cached(&out.join(format!("points/{id}.json")), || {
            let trained = train(&point_spec(t, p), data, &|x| progress(&stage, x))?;
            let measured = spec.chip.measure_into(out, &id, &trained.model, data);
            let (chip, encodings, error) = match measured {
                Ok(report) => {
                    let mut counts: std::collections::BTreeMap<String, u32> = Default::default();
                    for c in &report.cores.per_core {
                        *counts.entry(c.encoding.clone()).or_default() += 1;
                    }
                    let enc = counts
                        .iter()
                        .map(|(k, n)| format!("{k}:{n}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    (Some(Headline::of(&report)), enc, None)
                }
                Err(e) => (None, String::new(), Some(e.to_string())),
            };
            Ok(Row {
                id: id.clone(),
                regime: p.regime.name().into(),
                bits: p.bits,
                target_sparsity: p.sparsity,
                sparsity: trained.sparsity,
                accuracy: trained.test_accuracy,
                encodings,
                chip,
                error,
            })
        })?;
        rows.push(row);
    }
    let report_md = report_md(spec, data, &rows);
    finish(out, rows, &(), |r| pareto_plots(out, r), report_md)
}

const COLUMNS: &[(&str, Pick)] = &[
    ("cycles_per_inference", CYCLES),
    ("energy_per_inference_pj", ENERGY),
    ("synapse_memory_bits_stored", STORED_BITS),
    ("synapse_word_reads", |h| Some(h.synapse_word_reads as f64)),
    ("energy_synapse_memory_pj", |h| {
        Some(h.energy_synapse_memory_pj)
    }),
    ("energy_static_pj", |h| Some(h.energy_static_pj)),
    ("pe_utilization", |h| h.pe_utilization),
];

impl ResultRow for Row {
    type Context = ();
    fn header() -> Vec<String> {
        let mut header: Vec<String> = [
            "id",
            "regime",
            "bits",
            "target_sparsity",
            "sparsity",
            "accuracy",
            "encodings",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        header.extend(COLUMNS.iter().map(|(c, _)| c.to_string()));
        header.push("error".into());
        header
    }
    fn cells(&self, _: &()) -> Vec<String> {
        let mut v = vec![
            self.id.clone(),
            self.regime.clone(),
            self.bits.to_string(),
            self.target_sparsity.to_string(),
            self.sparsity.to_string(),
            self.accuracy.to_string(),
            self.encodings.clone(),
        ];
        v.extend(
            COLUMNS
                .iter()
                .map(|(_, f)| self.metric(*f).map_or_else(String::new, |x| x.to_string())),
        );
        v.push(self.error.clone().unwrap_or_default());
        v
    }
}

impl super::PlottedRow for Row {
    fn headline(&self) -> Option<&Headline> {
        self.chip.as_ref()
    }
    fn accuracy(&self) -> Option<f64> {
        Some(self.accuracy)
    }
}

fn pareto_plots(out: &Path, rows: &[Row]) -> Result<()> {
    let csv = out.join("results.csv").display().to_string();
    let accuracy = Column::<Row>::ACCURACY;
    let fronts = [
        (
            Column::chip(metric::energy_per_inference_pj),
            "energy per inference",
            "energy",
        ),
        (
            Column::chip(metric::synapse_memory_bits_stored),
            "synapse memory",
            "memory",
        ),
    ];
    for (x, what, file) in fronts {
        let points = super::plot_points(rows, &(), &x, &accuracy, |r| r.regime.clone(), &csv)?;
        if points.is_empty() {
            return Err(Error::Usage(format!(
                "{csv}: no row has numbers in both {} and accuracy",
                x.name
            )));
        }
        let mut chart = pareto_chart_of(x.name, accuracy.name, series_of(points), false, true);
        chart.title = format!("accuracy against {what}: Pareto front");
        crate::plot::write(
            &chart,
            &out.join(format!("plots/pareto-accuracy-vs-{file}")),
        )?;
    }
    Ok(())
}

fn bits_name(b: u8) -> String {
    match b {
        1 => "binary".into(),
        2 => "ternary".into(),
        b => format!("{b}-bit"),
    }
}

/// The comparison with the paper, against the dense baseline `b`.
fn claims(s: &mut String, spec: &PruneQuantSpec, data: &Dataset, rows: &[Row], b: &Row) {
    let n = spec.train.test_samples.unwrap_or(data.test.len());
    let energy = |r: &Row| r.metric(ENERGY).unwrap_or(f64::INFINITY);
    let ran = |r: &&Row| r.error.is_none();
    let ternary = rows
        .iter()
        .filter(ran)
        .find(|r| r.regime == "quant" && r.bits == 2);
    // The pruned point nearest 80% sparsity.
    let pruned = rows
        .iter()
        .filter(ran)
        .filter(|r| r.regime == "prune")
        .min_by(|x, y| {
            (x.sparsity - 0.8)
                .abs()
                .total_cmp(&(y.sparsity - 0.8).abs())
        });
    let best_quant = rows
        .iter()
        .filter(ran)
        .filter(|r| r.regime == "quant" && r.accuracy >= b.accuracy - 0.01)
        .min_by(|x, y| energy(x).total_cmp(&energy(y)));
    // The accuracy / energy front: no other point is both cheaper and at
    // least as accurate.
    let mut front: Vec<&str> = rows
        .iter()
        .filter(ran)
        .filter(|r| {
            !rows.iter().filter(ran).any(|o| {
                energy(o) <= energy(r)
                    && o.accuracy >= r.accuracy
                    && (energy(o) < energy(r) || o.accuracy > r.accuracy)
            })
        })
        .map(|r| r.regime.as_str())
        .collect();
    front.sort_unstable();
    front.dedup();
    let none = || "not in this grid".to_string();
    claims_md(
        s,
        "Pruning and quantization, alone, one after the other and jointly, on a neuromorphic chip (DVS gestures in the paper).",
        &[
            Claim {
                paper: "ternary weights lose no accuracy",
                here: ternary.map_or_else(none, |t| {
                    format!(
                        "ternary {} against {} dense: {}",
                        pct(t.accuracy),
                        bits_name(b.bits),
                        accuracy_difference(b.accuracy, t.accuracy, n)
                    )
                }),
                driver: "quantization-aware training at the grid's epochs".into(),
            },
            Claim {
                paper: "pruning is iso-accurate up to 80% sparsity",
                here: pruned.map_or_else(none, |p| {
                    format!(
                        "{} sparse: {}",
                        pct(p.sparsity),
                        accuracy_difference(b.accuracy, p.accuracy, n)
                    )
                }),
                driver: format!(
                    "fine-tuning while pruning: {} epochs, the sparsity reached in {} step(s)",
                    spec.train.epochs,
                    rounds(spec.train.epochs)
                ),
            },
            Claim {
                paper: "pruned to 80%, 45% more energy than the best quantization",
                here: match (pruned, best_quant) {
                    (Some(p), Some(q)) => format!(
                        "{:.2}x the energy of {} by quantization alone ({:.1} against {:.1} nJ)",
                        energy(p) / energy(q),
                        bits_name(q.bits),
                        energy(p) / 1e3,
                        energy(q) / 1e3
                    ),
                    _ => none(),
                },
                driver: "synapse-memory reads per event: a pruned row keeps its weight width (the encodings the mapper chose are in the table below)".into(),
            },
            Claim {
                paper: "joint regimes lie on the energy / accuracy Pareto front",
                here: format!("regimes on the front: {}", front.join(", ")),
                driver: "which points the grid holds (one seed; points within the test-set noise can swap)".into(),
            },
        ],
    );
}

fn report_md(spec: &PruneQuantSpec, data: &Dataset, rows: &[Row]) -> String {
    let t = &spec.train;
    let energy = |r: &Row| r.metric(ENERGY).unwrap_or(f64::INFINITY);
    let mut s = report_head(
        "Pruning and quantization: alone, cumulative and joint",
        &spec.chip,
        &format!(
            "{}, T = {}, {} epochs per point ({} pruning rounds). Chip: {} ({}), {} test samples per model. Energy per inference on the chip; accuracy of the integer model on the test split.",
            network_sentence(t, data),
            t.timesteps,
            t.epochs,
            rounds(t.epochs),
            spec.chip.hw.name,
            spec.chip.source(),
            spec.chip.samples,
        ),
    );
    let baseline = rows
        .iter()
        .find(|r| r.regime == "quant" && r.bits == spec.bits[0]);
    if let Some(b) = baseline {
        let _ = writeln!(
            s,
            "Baseline: {} dense, accuracy {}, {:.1} nJ per inference. Iso-accuracy: within 1 point of it.\n",
            bits_name(b.bits),
            pct(b.accuracy),
            energy(b) / 1e3
        );
        let _ = writeln!(s, "| regime | most compressed point within 1 point | lowest-energy point within 1 point | its energy (nJ) | its accuracy | lowest-energy point overall | its energy (nJ) | its accuracy |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
        for regime in [
            "quant",
            "prune",
            "prune-then-quant",
            "quant-then-prune",
            "joint",
        ] {
            let of: Vec<&Row> = rows
                .iter()
                .filter(|r| r.regime == regime && r.error.is_none())
                .collect();
            let ok: Vec<&&Row> = of
                .iter()
                .filter(|r| r.accuracy >= b.accuracy - 0.01)
                .collect();
            // Compression: stored synapse bits, fewer is more compressed.
            let mem = |r: &Row| r.metric(STORED_BITS).unwrap_or(f64::INFINITY);
            let most = ok.iter().min_by(|x, y| mem(x).total_cmp(&mem(y)));
            let best = ok.iter().min_by(|x, y| energy(x).total_cmp(&energy(y)));
            let low = of.iter().min_by(|x, y| energy(x).total_cmp(&energy(y)));
            let name = |r: &Row| format!("{}, {} sparse", bits_name(r.bits), pct(r.sparsity));
            let cell = |r: Option<&Row>| {
                r.map_or(
                    ("none".to_string(), "-".to_string(), "-".to_string()),
                    |r| (name(r), format!("{:.1}", energy(r) / 1e3), pct(r.accuracy)),
                )
            };
            let (m, _, _) = cell(most.map(|r| **r));
            let (bn, be, ba) = cell(best.map(|r| **r));
            let (ln, le, la) = cell(low.copied());
            let _ = writeln!(
                s,
                "| {regime} | {m} | {bn} | {be} | {ba} | {ln} | {le} | {la} |"
            );
        }
    }
    let _ = writeln!(s, "\n## Every point\n");
    let _ = writeln!(s, "| regime | bits | sparsity | accuracy | energy / inference (nJ) | cycles / inference | synapse memory (bits) | encodings (cores) |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        match &r.error {
            None => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.1} | {:.0} | {:.0} | {} |",
                    r.regime,
                    bits_name(r.bits),
                    pct(r.sparsity),
                    pct(r.accuracy),
                    energy(r) / 1e3,
                    r.metric(CYCLES).unwrap_or(f64::NAN),
                    r.metric(STORED_BITS).unwrap_or(f64::NAN),
                    r.encodings
                );
            }
            Some(e) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | does not run: {} | | | |",
                    r.regime,
                    bits_name(r.bits),
                    pct(r.sparsity),
                    pct(r.accuracy),
                    e.replace('|', "/")
                );
            }
        }
    }
    if let Some(b) = baseline {
        claims(&mut s, spec, data, rows, b);
    }
    let _ = writeln!(s, "\nFiles: `results.csv`, `plots/pareto-accuracy-vs-energy.svg|png` and `plots/pareto-accuracy-vs-memory.svg|png` (regimes in colours, the front drawn), `models/`, `reports/`.");
    s
}

/// Per seed: every compressed point against the widest dense model (the
/// grid's first), in accuracy and energy.
pub fn paired(rows: &[Row]) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let Some(dense) = rows.first() else {
        return vec![];
    };
    let mut out = vec![];
    for r in rows.iter().skip(1) {
        let name = format!("{} against {}", r.id, dense.id);
        out.push(Paired::points(&name, dense.accuracy, r.accuracy));
        if let (Some(a), Some(b)) = (dense.metric(ENERGY), r.metric(ENERGY)) {
            out.push(Paired::ratio(&name, "energy ratio", a, b));
        }
    }
    out
}
