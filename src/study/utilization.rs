//! `neurocycle study utilization`: workload imbalance of lottery tickets on
//! a chip, and u-Ticket. Per round, for plain LTH and for u-Ticket:
//! sparsity, accuracy, PE utilization, imbalance, cycles and energy on the
//! chip; plots against sparsity; `report.md` with the table and the
//! headline reductions.

use super::{
    accuracy_difference, cached, claim_folder, claims_md, network_sentence, pct, report_head,
    ChipSetup, Claim, Column, MetricPlots, Step,
};
use crate::data::Dataset;
use crate::error::Result;
use crate::report::headline::{metric, Headline};
use crate::train::lottery::{Lottery, LotterySpec, Method};
use crate::train::stage::State;
use crate::train::{arch_name, Progress};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone)]
pub struct UtilizationSpec {
    pub lottery: LotterySpec,
    pub chip: ChipSetup,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Dense {
    step: Step,
    rewind: State,
}

/// One measured point: a method's round on the chip.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub method: String,
    pub round: u32,
    pub target_sparsity: f64,
    pub sparsity: f64,
    pub accuracy: f64,
    /// Spike events integrated per inference, all cores.
    pub events_per_inference: f64,
    /// Integration cycles per inference, summed over cores (the work the
    /// events cost: events x cycles per event).
    pub integration_cycles_per_inference: f64,
    /// The chip report's headline metrics.
    pub chip: Headline,
}

/// What the study found.
pub type Summary = super::Summary<Row>;

fn config_of(spec: &UtilizationSpec, data: &Dataset) -> Value {
    let t = &spec.lottery.train;
    serde_json::json!({
        "study": "utilization",
        "dataset": data.name,
        "arch": arch_name(&t.arch),
        "timesteps": t.timesteps,
        "encoding": format!("{:?}", t.encoding),
        "bits": t.bits,
        "epochs_per_round": t.epochs,
        "batch": t.batch,
        "lr": t.lr,
        "seed": t.seed,
        "train_samples": t.train_samples,
        "test_samples": t.test_samples,
        "rounds": spec.lottery.rounds,
        "target": spec.lottery.target,
        "rewind_epoch": spec.lottery.rewind_epoch,
        "output_rate": spec.lottery.output_rate,
        "hw": spec.chip.hw,
        "chip_samples": spec.chip.samples,
    })
}

/// Runs (or resumes) the study into `out`. `progress(stage, p)` reports
/// training.
pub fn run(
    spec: &UtilizationSpec,
    data: &Dataset,
    out: &Path,
    progress: &dyn Fn(&str, &Progress),
) -> Result<Summary> {
    claim_folder(out, &config_of(spec, data))?;
    let lottery = Lottery::new(&spec.lottery, data)?;
    let dense: Dense = cached(&out.join("state/dense.json"), || {
        let (state, rewind, trained) = lottery.dense(&|p| progress("dense", p))?;
        Ok(Dense {
            step: Step {
                state,
                accuracy: trained.test_accuracy,
                model: trained.model,
            },
            rewind,
        })
    })?;
    let mut rows = vec![];
    for method in [Method::Lth, Method::UTicket] {
        let mut prev = dense.step.clone();
        for r in 0..=spec.lottery.rounds {
            let name = format!("{}-r{r}", method.name());
            let step = if r == 0 {
                dense.step.clone()
            } else {
                let stage = format!("{} round {r}/{}", method.name(), spec.lottery.rounds);
                cached(&out.join(format!("state/{name}.json")), || {
                    let (state, trained) = lottery.round(
                        &prev.state,
                        &dense.rewind,
                        r,
                        method,
                        &spec.chip.hw,
                        &|p| progress(&stage, p),
                    )?;
                    Ok(Step {
                        state,
                        accuracy: trained.test_accuracy,
                        model: trained.model,
                    })
                })?
            };
            let row = cached(&out.join(format!("points/{name}.json")), || {
                let report = spec.chip.measure_into(out, &name, &step.model, data)?;
                Ok(Row {
                    method: method.name().into(),
                    round: r,
                    target_sparsity: spec.lottery.sparsity(r),
                    sparsity: Lottery::sparsity_of(&step.state),
                    accuracy: step.accuracy,
                    events_per_inference: per_inference(&report, |c| c.events),
                    integration_cycles_per_inference: per_inference(&report, |c| {
                        c.integration_cycles
                    }),
                    chip: Headline::of(&report),
                })
            })?;
            tracing::info!(method = method.name(), round = r, "point done");
            rows.push(row);
            prev = step;
        }
    }
    let report_md = report_md(spec, data, &rows);
    PLOTS.finish(out, rows, &(), report_md)
}

result_row!(Row: method, round, target_sparsity, sparsity, accuracy, events_per_inference, integration_cycles_per_inference; chip);

/// A per-core count of a report, summed over cores, per inference.
fn per_inference(report: &crate::report::Report, f: fn(&crate::report::PerCore) -> u64) -> f64 {
    report.cores.per_core.iter().map(f).sum::<u64>() as f64 / report.run.samples.max(1) as f64
}

impl Row {
    fn cycles_per_event(&self) -> f64 {
        self.integration_cycles_per_inference / self.events_per_inference
    }

    fn synapses_per_event(&self) -> f64 {
        self.chip.synops_per_inference / self.events_per_inference
    }
}

/// Where u-Ticket's cut in integration work comes from, round by round:
/// work = events x cycles per event, so the LTH / u-Ticket work ratio is
/// the events ratio times the cycles-per-event ratio (balancing); each
/// one's share is its part of the log of the whole.
fn gain_split_md(s: &mut String, rows: &[Row], rounds: u32, pes: u32) {
    let get = |m: &str, r: u32| rows.iter().find(|x| x.method == m && x.round == r);
    let _ = writeln!(
        s,
        "\n## Where u-Ticket's gain comes from: fewer events or balancing\n\nIntegration work (cycles summed over cores) = events x cycles per event, so LTH's work over u-Ticket's is the events ratio times the cycles-per-event ratio; the share of each is its part of the log of the whole. Cycles per event fall by balancing and rise with the synapses an event carries (an event costs `max(words read, synapses on the busiest PE)`), so where u-Ticket's events carry more synapses (the third column) the cycles-per-event ratio understates what balancing buys; a row of `s` synapses over {pes} PEs takes at least `ceil(s / {pes})` cycles, so with the mean row PE utilization is at most `s / ({pes} x ceil(s / {pes}))`.\n"
    );
    let _ = writeln!(s, "| round | sparsity LTH | synapses per event LTH / u-Ticket | utilization bound at the mean row, LTH | events LTH / u-Ticket | cycles per event LTH / u-Ticket | work LTH / u-Ticket | from fewer events | from cycles per event | dominant |");
    let _ = writeln!(
        s,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in 1..=rounds {
        let (Some(a), Some(b)) = (get("lth", r), get("u-ticket", r)) else {
            continue;
        };
        let events = a.events_per_inference / b.events_per_inference;
        let balance = a.cycles_per_event() / b.cycles_per_event();
        let work = events * balance;
        let share = |x: f64| {
            if work.ln().abs() < 1e-12 {
                f64::NAN
            } else {
                x.ln() / work.ln()
            }
        };
        let sa = a.synapses_per_event();
        let bound = sa / (pes as f64 * (sa / pes as f64).ceil().max(1.0));
        let _ = writeln!(
            s,
            "| {r} | {} | {:.2} / {:.2} | {} | {:.2}x | {:.2}x | {:.2}x | {} | {} | {} |",
            pct(a.sparsity),
            sa,
            b.synapses_per_event(),
            pct(bound),
            events,
            balance,
            work,
            pct(share(events)),
            pct(share(balance)),
            if (events.ln().abs() - balance.ln().abs()).abs() < 1e-12 {
                "neither"
            } else if events.ln().abs() > balance.ln().abs() {
                "fewer events"
            } else {
                "cycles per event"
            }
        );
    }
}

const PLOTS: MetricPlots<Row> = MetricPlots::<Row>::new(
    Column::row("sparsity", |r, _| Some(r.sparsity)),
    "weight sparsity (fraction of zero weights)",
    |r| r.method.clone(),
    "LTH and u-Ticket",
    &[
        (Column::chip(metric::pe_utilization), false),
        (Column::chip(metric::cycles_per_inference), false),
        (Column::chip(metric::energy_per_inference_pj), false),
        (Column::chip(metric::imbalance), false),
        (Column::ACCURACY, false),
    ],
);

fn report_md(spec: &UtilizationSpec, data: &Dataset, rows: &[Row]) -> String {
    let t = &spec.lottery.train;
    let get = |m: &str, r: u32| rows.iter().find(|x| x.method == m && x.round == r);
    let mut s = report_head(
        "PE utilization of lottery tickets: LTH and u-Ticket",
        &spec.chip,
        &format!(
            "{}, T = {}, {}-bit weights; {} rounds of iterative magnitude pruning to {} sparsity, rewinding to the weights after epoch {}, {} epochs per round; the output layer is pruned at {} times the other layers' per-round rate. Chip: {} ({}), {} PEs per core, {} neurons per core, {}-bit synapse words; {} test samples per model on the chip.",
            network_sentence(t, data),
            t.timesteps,
            t.bits.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(","),
            spec.lottery.rounds,
            pct(spec.lottery.target),
            spec.lottery.rewind_epoch,
            t.epochs,
            spec.lottery.output_rate,
            spec.chip.hw.name,
            spec.chip.source(),
            spec.chip.hw.core.pes,
            spec.chip.hw.core.neurons,
            spec.chip.hw.synapse_memory.word_bits,
            spec.chip.samples,
        ),
    );
    let _ = writeln!(s, "| round | sparsity (LTH / u-Ticket) | accuracy LTH | accuracy u-Ticket | PE utilization LTH | PE utilization u-Ticket | cycles / inference LTH | cycles / inference u-Ticket | energy / inference LTH (nJ) | energy / inference u-Ticket (nJ) |");
    let _ = writeln!(
        s,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    // A metric of a row; `f` picks it from the headline.
    type Pick = fn(&Headline) -> f64;
    let util: Pick = |h| h.pe_utilization.unwrap_or(f64::NAN);
    let cycles: Pick = |h| h.cycles_per_inference;
    let energy: Pick = |h| h.energy_per_inference_pj;
    let m = |r: &Row, f: Pick| f(&r.chip);
    for r in 0..=spec.lottery.rounds {
        if let (Some(a), Some(b)) = (get("lth", r), get("u-ticket", r)) {
            let _ = writeln!(
                s,
                "| {r} | {} / {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} |",
                pct(a.sparsity),
                pct(b.sparsity),
                pct(a.accuracy),
                pct(b.accuracy),
                pct(m(a, util)),
                pct(m(b, util)),
                m(a, cycles),
                m(b, cycles),
                m(a, energy) / 1e3,
                m(b, energy) / 1e3,
            );
        }
    }
    let last = spec.lottery.rounds;
    if let (Some(a), Some(b)) = (get("lth", last), get("u-ticket", last)) {
        let cut = |f: Pick| 1.0 - m(b, f) / m(a, f);
        let _ = writeln!(
            s,
            "\n## Headline, at the last round ({} sparsity)\n",
            pct(a.sparsity)
        );
        let _ = writeln!(
            s,
            "- PE utilization: {} with LTH, {} with u-Ticket.",
            pct(m(a, util)),
            pct(m(b, util))
        );
        let _ = writeln!(
            s,
            "- Latency: {} fewer cycles per inference with u-Ticket.",
            pct(cut(cycles))
        );
        let _ = writeln!(
            s,
            "- Energy: {} less per inference with u-Ticket.",
            pct(cut(energy))
        );
        let _ = writeln!(
            s,
            "- Accuracy: {} with LTH, {} with u-Ticket ({}; one seed).",
            pct(a.accuracy),
            pct(b.accuracy),
            accuracy_difference(
                a.accuracy,
                b.accuracy,
                t.test_samples.unwrap_or(data.test.len())
            )
        );
        let best = |f: Pick| {
            (1..=last)
                .filter_map(|r| Some(1.0 - m(get("u-ticket", r)?, f) / m(get("lth", r)?, f)))
                .fold(f64::MIN, f64::max)
        };
        let _ = writeln!(
            s,
            "- Over all rounds, u-Ticket cut latency by up to {} and energy by up to {}.",
            pct(best(cycles)),
            pct(best(energy))
        );
    }
    gain_split_md(&mut s, rows, spec.lottery.rounds, spec.chip.hw.core.pes);
    if let (Some(a), Some(b)) = (get("lth", last), get("u-ticket", last)) {
        let work = a.integration_cycles_per_inference / b.integration_cycles_per_inference;
        let events = a.events_per_inference / b.events_per_inference;
        let (pes, bits) = (spec.chip.hw.core.pes, spec.chip.hw.synapse_memory.word_bits);
        let sa = a.synapses_per_event();
        let bound = sa / (pes as f64 * (sa / pes as f64).ceil().max(1.0));
        claims_md(
            &mut s,
            "Utilization-aware lottery tickets (u-Ticket) against LTH on a PE-array SNN accelerator.",
            &[
                Claim {
                    paper: "LTH at about 98% sparsity leaves the PEs about 59% utilized",
                    here: format!("LTH at {}: {}", pct(a.sparsity), pct(m(a, util))),
                    driver: format!(
                        "synapses an event gives each PE: {sa:.2} per event over {pes} PEs ({bits}-bit words), so even a balanced mean row reaches at most {}{}",
                        pct(bound),
                        if bound < 0.59 {
                            "; fewer PEs or wider rows put the chip in the paper's regime"
                        } else {
                            ""
                        }
                    ),
                },
                Claim {
                    paper: "u-Ticket restores about 100% utilization",
                    here: pct(m(b, util)),
                    driver: "u-Ticket's masks give every PE of a row the same synapse count; the mean-row bound above still applies".into(),
                },
                Claim {
                    paper: "latency -76.9%, energy -63.8%",
                    here: format!(
                        "latency -{}, energy -{}",
                        pct(1.0 - m(b, cycles) / m(a, cycles)),
                        pct(1.0 - m(b, energy) / m(a, energy))
                    ),
                    driver: format!(
                        "integration work {work:.2}x lower: {events:.2}x fewer input events times {:.2}x fewer cycles per event (split above)",
                        work / events
                    ),
                },
                Claim {
                    paper: "accuracy comparable to LTH",
                    here: accuracy_difference(
                        a.accuracy,
                        b.accuracy,
                        t.test_samples.unwrap_or(data.test.len()),
                    ),
                    driver: "the masks u-Ticket constrains; one seed".into(),
                },
            ],
        );
    }
    let _ = writeln!(
        s,
        "\nPE utilization is `synops / (PEs x integration cycles)`: an event costs `max(words read, synapses on the busiest PE)` cycles, so when a row's words outnumber its synapses per PE the memory, not the PEs, bounds it and balancing cannot help. Files: `results.csv` (every metric of every point), `plots/`, `models/` (each round's model), `reports/` (each model's chip report)."
    );
    s
}

/// The charts over several seeds' runs: means with 95% intervals.
pub fn plot_over_seeds(out: &Path, runs: &[Summary]) -> Result<()> {
    let runs: Vec<(&[Row], &())> = runs.iter().map(|s| (s.rows.as_slice(), &())).collect();
    PLOTS.write_over_seeds(&runs, out)
}

/// Per seed: u-Ticket against LTH at every pruning round.
pub fn paired(rows: &[Row]) -> Vec<super::seeds::Paired> {
    use super::seeds::Paired;
    let mut out = vec![];
    for u in rows
        .iter()
        .filter(|r| r.method == "u-ticket" && r.round > 0)
    {
        let Some(l) = rows
            .iter()
            .find(|r| r.method == "lth" && r.round == u.round)
        else {
            continue;
        };
        let name = format!(
            "u-ticket against lth, round {} ({} sparse)",
            u.round,
            pct(u.target_sparsity)
        );
        out.push(Paired::points(&name, l.accuracy, u.accuracy));
        if let (Some(a), Some(b)) = (l.chip.pe_utilization, u.chip.pe_utilization) {
            out.push(Paired {
                comparison: name.clone(),
                figure: "PE utilization change (points)".into(),
                value: 100.0 * (b - a),
                null: 0.0,
            });
        }
        out.extend(Paired::chip_costs(&name, &l.chip, &u.chip));
    }
    out
}
