//! `neurocycle study timesteps`: iterative initialization and retraining
//! (IIR) down to few timesteps. An SNN with direct (graded) input is
//! trained at the first T of the schedule; each later stage retrains at the
//! next, smaller T starting from the previous stage's weights. For
//! comparison the same network is trained from scratch at every T, for as
//! many epochs as the IIR chain spent to reach that T (same budget), and
//! at the first T for the whole chain's budget (`full-budget`), so the
//! largest T is not handicapped by fewer epochs. Each model runs on the
//! chip with `layer_serial` semantics, where T = 1 is a single pass through
//! the layers; the same network as a DNN runs on the accelerator baseline
//! for the energy comparison.

use super::{
    accuracy_difference, cached, claim_folder, claims_md, network_sentence, pct, report_head,
    ChipSetup, Claim, Column, MetricPlots, Step,
};
use crate::data::Dataset;
use crate::error::Result;
use crate::report::headline::{metric, Headline};
use crate::train::stage::Stages;
use crate::train::{arch_name, Progress, TrainSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone)]
pub struct TimestepsSpec {
    /// The network; `timesteps` is ignored (the schedule gives them) and
    /// `epochs` is the length of the first stage.
    pub train: TrainSpec,
    /// Timesteps of the stages, strictly decreasing (e.g. 5, 4, 3, 2, 1).
    pub schedule: Vec<u32>,
    /// Epochs of every IIR stage after the first.
    pub stage_epochs: u32,
    pub chip: ChipSetup,
    /// The DNN the SNNs' energy is compared with.
    pub accelerator: crate::accelerator::Accelerator,
}

impl TimestepsSpec {
    pub fn validate(&self) -> Result<()> {
        super::check_decreasing(
            "--schedule",
            &self.schedule,
            256,
            "strictly decreasing timesteps from 256 down to 1, e.g. 5,4,3,2,1",
        )?;
        crate::error::check_range("command line", "--stage-epochs", self.stage_epochs, 1, 1000)?;
        self.accelerator.validate("--baseline")
    }

    /// Epochs of the whole IIR chain.
    pub fn budget(&self) -> u32 {
        self.train.epochs + (self.schedule.len() as u32 - 1) * self.stage_epochs
    }

    fn at(&self, timesteps: u32, epochs: u32) -> TrainSpec {
        TrainSpec {
            timesteps,
            epochs,
            ..self.train.clone()
        }
    }
}

/// One measured point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `iir`, `scratch` or `full-budget`.
    pub method: String,
    pub timesteps: u32,
    /// Epochs of this stage, and of every stage that led to it.
    pub epochs: u32,
    pub total_epochs: u32,
    pub accuracy: f64,
    /// The chip report's headline metrics.
    pub chip: Headline,
}

pub type Summary = super::Summary<Row>;

fn config_of(spec: &TimestepsSpec, data: &Dataset) -> Value {
    let t = &spec.train;
    serde_json::json!({
        "study": "timesteps",
        "dataset": data.name,
        "arch": arch_name(&t.arch),
        "encoding": format!("{:?}", t.encoding),
        "readout": format!("{:?}", t.readout),
        "bits": t.bits,
        "epochs": t.epochs,
        "batch": t.batch,
        "lr": t.lr,
        "seed": t.seed,
        "train_samples": t.train_samples,
        "test_samples": t.test_samples,
        "schedule": spec.schedule,
        "stage_epochs": spec.stage_epochs,
        "accelerator": spec.accelerator,
        "hw": spec.chip.hw,
        "chip_samples": spec.chip.samples,
    })
}

/// Runs (or resumes) the study into `out`. `progress(stage, p)` reports
/// training.
pub fn run(
    spec: &TimestepsSpec,
    data: &Dataset,
    out: &Path,
    progress: &dyn Fn(&str, &Progress),
) -> Result<Summary> {
    spec.validate()?;
    claim_folder(out, &config_of(spec, data))?;
    let first = spec.at(spec.schedule[0], spec.train.epochs);
    let stages = Stages::new(&first, data)?;
    let n = spec.schedule.len();
    let mut rows = vec![];
    let mut prev: Option<Step> = None;
    let mut total = 0;
    // The IIR chain; its first stage is also the from-scratch run at that T.
    for (i, &t) in spec.schedule.iter().enumerate() {
        let epochs = if i == 0 {
            spec.train.epochs
        } else {
            spec.stage_epochs
        };
        total += epochs;
        let name = format!("iir-t{t}");
        let label = format!("IIR T={t} ({}/{n})", i + 1);
        let step = cached(&out.join(format!("state/{name}.json")), || {
            train_step(&stages, &spec.at(t, epochs), prev.as_ref(), i, &|p| {
                progress(&label, p)
            })
        })?;
        rows.push(measure(
            spec, data, out, &name, "iir", t, epochs, total, &step,
        )?);
        if i == 0 {
            let mut scratch = rows[0].clone();
            scratch.method = "scratch".into();
            rows.push(scratch);
        }
        prev = Some(step);
    }
    for (i, &t) in spec.schedule.iter().enumerate().skip(1) {
        let name = format!("scratch-t{t}");
        let label = format!("scratch T={t} ({i}/{})", n - 1);
        let e = spec.train.epochs + i as u32 * spec.stage_epochs;
        let step = cached(&out.join(format!("state/{name}.json")), || {
            train_step(&stages, &spec.at(t, e), None, 100 + i, &|p| {
                progress(&label, p)
            })
        })?;
        rows.push(measure(spec, data, out, &name, "scratch", t, e, e, &step)?);
    }
    // The first T with the whole chain's budget, from scratch.
    let (t, e) = (spec.schedule[0], spec.budget());
    let name = format!("full-budget-t{t}");
    let step = cached(&out.join(format!("state/{name}.json")), || {
        train_step(&stages, &spec.at(t, e), None, 200, &|p| {
            progress(&format!("T={t}, {e} epochs from scratch"), p)
        })
    })?;
    rows.push(measure(
        spec,
        data,
        out,
        &name,
        "full-budget",
        t,
        e,
        e,
        &step,
    )?);
    rows.sort_by(|a, b| (&a.method, b.timesteps).cmp(&(&b.method, a.timesteps)));
    let (shapes, _) = crate::train::skeleton(&spec.train.arch);
    let dnn = spec.accelerator.run(&spec.train.arch, &shapes);
    let report_md = report_md(spec, data, &rows, &dnn);
    PLOTS.finish(out, rows, &(), report_md)
}

fn train_step(
    stages: &Stages,
    spec: &TrainSpec,
    init: Option<&Step>,
    stage: usize,
    progress: &dyn Fn(&Progress),
) -> Result<Step> {
    let (state, trained) = stages.run(spec, init.map(|s| &s.state), stage as u64, progress)?;
    Ok(Step {
        state,
        accuracy: trained.test_accuracy,
        model: trained.model,
    })
}

#[allow(clippy::too_many_arguments)]
fn measure(
    spec: &TimestepsSpec,
    data: &Dataset,
    out: &Path,
    name: &str,
    method: &str,
    timesteps: u32,
    epochs: u32,
    total_epochs: u32,
    step: &Step,
) -> Result<Row> {
    cached(&out.join(format!("points/{name}.json")), || {
        let report = spec.chip.measure_into(out, name, &step.model, data)?;
        Ok(Row {
            method: method.into(),
            timesteps,
            epochs,
            total_epochs,
            accuracy: step.accuracy,
            chip: Headline::of(&report),
        })
    })
}

result_row!(Row: method, timesteps, epochs, total_epochs, accuracy; chip);

const PLOTS: MetricPlots<Row> = MetricPlots::<Row>::new(
    Column::row("timesteps", |r, _| Some(r.timesteps as f64)),
    "timesteps T",
    |r| r.method.clone(),
    "IIR and training from scratch",
    &[
        (Column::ACCURACY, false),
        (Column::chip(metric::cycles_per_inference), false),
        (Column::chip(metric::energy_per_inference_pj), false),
        (Column::chip(metric::spikes_per_inference), false),
    ],
)
.fit_accuracy();

fn report_md(
    spec: &TimestepsSpec,
    data: &Dataset,
    rows: &[Row],
    dnn: &crate::accelerator::AcceleratorRun,
) -> String {
    let t = &spec.train;
    let get = |m: &str, ts: u32| rows.iter().find(|r| r.method == m && r.timesteps == ts);
    let mut s = report_head(
        "Fewer timesteps: iterative initialization and retraining (IIR)",
        &spec.chip,
        &format!(
            "{}, direct (graded) input, {}-bit weights, {:?} readout. IIR: {} epochs at T = {}, then {} epochs at each of T = {}, each stage starting from the previous one's weights. From scratch: at each T, as many epochs as IIR spent to reach it. Chip: {} ({}), `layer_serial` semantics, {} test samples per model.",
            network_sentence(t, data),
            t.bits_of(0),
            t.readout,
            t.epochs,
            spec.schedule[0],
            spec.stage_epochs,
            spec.schedule[1..]
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            spec.chip.hw.name,
            spec.chip.source(),
            spec.chip.samples,
        ),
    );
    let (hi, lo) = (spec.schedule[0], *spec.schedule.last().expect("validated"));
    if let (Some(top), Some(iir), Some(scratch)) =
        (get("iir", hi), get("iir", lo), get("scratch", lo))
    {
        let (t, i) = (&top.chip, &iir.chip);
        let _ = writeln!(
            s,
            "Headline: at T = {lo}, IIR reaches {} against {} from scratch ({}; one seed); T = {hi} reaches {} ({:+.1} points from it to IIR at T = {lo}). From T = {hi} to T = {lo} the chip's latency falls from {:.0} to {:.0} cycles per inference ({:.1}x) and its energy from {:.1} to {:.1} nJ ({:.1}x).\n",
            pct(iir.accuracy),
            pct(scratch.accuracy),
            accuracy_difference(
                scratch.accuracy,
                iir.accuracy,
                spec.train.test_samples.unwrap_or(data.test.len())
            ),
            pct(top.accuracy),
            100.0 * (iir.accuracy - top.accuracy),
            t.cycles_per_inference,
            i.cycles_per_inference,
            t.cycles_per_inference / i.cycles_per_inference,
            t.energy_per_inference_pj / 1e3,
            i.energy_per_inference_pj / 1e3,
            t.energy_per_inference_pj / i.energy_per_inference_pj,
        );
    }
    let _ = writeln!(s, "| T | IIR accuracy | from-scratch accuracy | epochs (IIR total = scratch) | cycles / inference | latency (us) | spikes / inference | energy / inference (nJ) |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for &ts in &spec.schedule {
        let (Some(i), Some(sc)) = (get("iir", ts), get("scratch", ts)) else {
            continue;
        };
        let h = &i.chip;
        let _ = writeln!(
            s,
            "| {ts} | {} | {} | {} | {:.0} | {:.2} | {:.0} | {:.1} |",
            pct(i.accuracy),
            pct(sc.accuracy),
            i.total_epochs,
            h.cycles_per_inference,
            h.seconds_per_inference * 1e6,
            h.spikes_per_inference,
            h.energy_per_inference_pj / 1e3,
        );
    }
    if let (Some(full), Some(top), Some(iir)) =
        (get("full-budget", hi), get("iir", hi), get("iir", lo))
    {
        let _ = writeln!(
            s,
            "\n## Equal budgets\n\nT = {hi} trained from scratch for the whole chain's {} epochs reaches {} ({} after its first {} epochs); IIR at T = {lo}, after the same {} epochs in all, reaches {} (against T = {hi} with the same budget: {}; one seed).",
            full.epochs,
            pct(full.accuracy),
            pct(top.accuracy),
            top.epochs,
            iir.total_epochs,
            pct(iir.accuracy),
            accuracy_difference(
                full.accuracy,
                iir.accuracy,
                spec.train.test_samples.unwrap_or(data.test.len())
            ),
        );
    }
    if let Some(iir) = get("iir", lo) {
        let h = &iir.chip;
        let dynamic = dnn.energy_mac_pj + dnn.energy_buffer_pj + dnn.energy_dram_pj;
        // The arithmetic-only estimate SNN papers use (Horowitz, ISSCC
        // 2014, 45 nm, 32-bit float): a MAC 4.6 pJ, an accumulate 0.9 pJ.
        let (mac, ac) = (4.6, 0.9);
        let _ = writeln!(
            s,
            "\n## Against the same network as a DNN\n\nOn the accelerator baseline ({}): {} MACs, {:.2} us and {:.1} nJ per inference, of which {:.1} nJ dynamic (MACs, buffer, DRAM) and {:.1} nJ its static power. IIR at T = {lo} on the chip: {:.1} nJ. The DNN uses {:.2}x the chip's energy ({:.2}x counting its dynamic energy only). The arithmetic-only estimate SNN papers use (DNN MACs x {mac} pJ against SNN synaptic operations x {ac} pJ, 45 nm float): {} x {mac} / ({:.0} x {ac}) = {:.1}x. Which of these matches a deployment depends on the baseline's assumptions: see the conversion study's sensitivity table.",
            spec.accelerator.name,
            dnn.macs,
            dnn.seconds * 1e6,
            dnn.energy_pj / 1e3,
            dynamic / 1e3,
            dnn.energy_static_pj / 1e3,
            h.energy_per_inference_pj / 1e3,
            dnn.energy_pj / h.energy_per_inference_pj,
            dynamic / h.energy_per_inference_pj,
            dnn.macs,
            h.synops_per_inference,
            dnn.macs as f64 * mac / (h.synops_per_inference * ac),
        );
    }
    if let (Some(full), Some(top), Some(iir)) =
        (get("full-budget", hi), get("iir", hi), get("iir", lo))
    {
        let h = &iir.chip;
        let dynamic = dnn.energy_mac_pj + dnn.energy_buffer_pj + dnn.energy_dram_pj;
        claims_md(
            &mut s,
            "IIR-SNN: iterative initialization and retraining from T = 5 down to T = 1.",
            &[
                Claim {
                    paper: "T = 1 reaches accuracy comparable to T = 5",
                    here: format!(
                        "IIR at T = {lo} {} against T = {hi} trained as many epochs ({}) {}: {}",
                        pct(iir.accuracy),
                        full.epochs,
                        pct(full.accuracy),
                        accuracy_difference(
                            full.accuracy,
                            iir.accuracy,
                            spec.train.test_samples.unwrap_or(data.test.len())
                        )
                    ),
                    driver: format!(
                        "the epoch budget: T = {hi} with only its own {} epochs reaches {}",
                        top.epochs,
                        pct(top.accuracy)
                    ),
                },
                Claim {
                    paper: "T = 1 is 25-33x more energy-efficient than the same network as a DNN",
                    here: format!(
                        "{:.1}x on the accelerator baseline, {:.1}x counting its dynamic energy only, {:.1}x by the papers' arithmetic estimate",
                        dnn.energy_pj / h.energy_per_inference_pj,
                        dynamic / h.energy_per_inference_pj,
                        dnn.macs as f64 * 4.6 / (h.synops_per_inference * 0.9)
                    ),
                    driver: format!(
                        "the baseline's assumed static power ({} of its energy); the arithmetic estimate counts no memory or static energy",
                        pct(dnn.energy_static_pj / dnn.energy_pj)
                    ),
                },
            ],
        );
    }
    let _ = writeln!(s, "\nChip figures are those of the IIR model at each T; the from-scratch models' are in `results.csv`.\n\nFiles: `results.csv`, `plots/{{accuracy,cycles_per_inference,energy_per_inference_pj,spikes_per_inference}}-vs-timesteps.svg|png`, `models/`, `reports/`, `state/` (weights per stage, for resuming).");
    s
}

/// The charts over several seeds' runs: means with 95% intervals.
pub fn plot_over_seeds(out: &Path, runs: &[Summary]) -> Result<()> {
    let runs: Vec<(&[Row], &())> = runs.iter().map(|s| (s.rows.as_slice(), &())).collect();
    PLOTS.write_over_seeds(&runs, out)
}

/// Per seed: IIR against training from scratch at every T, IIR's last T
/// against the first T trained the chain's whole budget, and what the
/// last T saves over the first on the chip.
pub fn paired(rows: &[Row]) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let mut out = vec![];
    let iir: Vec<&Row> = rows.iter().filter(|r| r.method == "iir").collect();
    for r in &iir {
        if let Some(s) = rows
            .iter()
            .find(|s| s.method == "scratch" && s.timesteps == r.timesteps)
        {
            let name = format!("iir against scratch (same epochs), T = {}", r.timesteps);
            out.push(Paired::points(&name, s.accuracy, r.accuracy));
        }
    }
    let (Some(first), Some(last)) = (iir.first(), iir.last()) else {
        return out;
    };
    if let Some(f) = rows.iter().find(|r| r.method == "full-budget") {
        let name = format!(
            "iir at T = {} against T = {} trained as many epochs",
            last.timesteps, f.timesteps
        );
        out.push(Paired::points(&name, f.accuracy, last.accuracy));
    }
    let name = format!("iir T = {} against T = {}", last.timesteps, first.timesteps);
    out.push(Paired::points(&name, first.accuracy, last.accuracy));
    out.extend(Paired::chip_costs(&name, &first.chip, &last.chip));
    out
}
