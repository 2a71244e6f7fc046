//! The report: the only module that serializes results. Builds a
//! versioned document from counters (JSON for tools, a table for people).
//! Every field is documented in `docs/report.md`; bump `SCHEMA_VERSION`
//! when a field changes meaning or goes away.

pub mod headline;
pub mod noc;

use crate::config::HwConfig;
use crate::energy::{self, Breakdown};
use crate::engine::Chip;
use crate::run::RunSummary;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Version of the JSON report; bumped when a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

/// The report of a run; each field's formula is in `docs/report.md`.
/// Serializes to the JSON of `run --report` and reads back from it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub run: RunInfo,
    pub latency: Latency,
    pub cores: Cores,
    pub memory: Memory,
    pub noc: Noc,
    pub energy: Energy,
    pub activity: Activity,
    pub accuracy: Accuracy,
    /// Present when the run was checked against the reference executor.
    pub check: Option<Check>,
}

/// What ran: config, model, semantics, samples, seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub hw: String,
    pub hw_file: String,
    pub overrides: Vec<String>,
    pub model: String,
    pub model_file: String,
    pub semantics: String,
    pub timesteps: u32,
    pub samples: u64,
    pub seed: u64,
    /// The recording the samples came from (`run --input`); the seed is
    /// then unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<String>,
}

/// Cycles and seconds, in total, per inference, timestep and phase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Latency {
    pub clock_mhz: f64,
    pub cycles: u64,
    pub seconds: f64,
    pub cycles_per_inference: f64,
    pub seconds_per_inference: f64,
    /// Mean timesteps run per inference (below the model's with early exit).
    pub timesteps_per_inference: f64,
    pub max_inference_cycles: u64,
    pub cycles_per_timestep: Vec<f64>,
    pub cycles_per_phase: Vec<f64>,
    pub barrier_cycles: u64,
}

/// Cores in use, load imbalance, PE utilization, and every core.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cores {
    pub total: u32,
    pub in_use: u32,
    pub imbalance: f64,
    pub pe_utilization: Option<f64>,
    pub pes_per_core: u32,
    /// Tiles of the mesh, [x, y].
    pub mesh: [u32; 2],
    pub cores_per_router: u32,
    pub per_core: Vec<PerCore>,
}

/// One core's mapping and counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PerCore {
    /// Physical core id.
    pub core: u32,
    pub tile: [u32; 2],
    /// The population (a layer of a chain).
    pub layer: u32,
    /// The per-core limit that ended the core's neuron range
    /// (`population_end`: none did).
    pub bound_by: crate::mapping::Bound,
    pub neurons: u32,
    pub encoding: String,
    pub axons: u32,
    pub synapse_memory_bits: u64,
    pub routing_entries: u32,
    pub events: u64,
    pub synops: u64,
    pub integration_cycles: u64,
    pub update_cycles: u64,
    pub busy_cycles: u64,
    pub busy_cycles_per_phase: Vec<u64>,
    pub pe_utilization: Option<f64>,
    pub spikes: u64,
    pub synapse_word_reads: u64,
    pub membrane_word_reads: u64,
    pub membrane_word_writes: u64,
    pub routing_table_reads: u64,
}

/// Synapse memory, membrane SRAM and routing-table accesses.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Memory {
    pub synapse_word_bits: u32,
    pub synapse_word_reads: u64,
    pub synapse_read_bits: u64,
    pub synapse_memory_bits_stored: u64,
    pub membrane_word_bits: u32,
    pub membrane_word_reads: u64,
    pub membrane_read_bits: u64,
    pub membrane_word_writes: u64,
    pub membrane_write_bits: u64,
    pub routing_table_reads: u64,
    pub routing_table_read_bits: u64,
}

/// Flits over one directed link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    pub from: [u32; 2],
    pub to: [u32; 2],
    pub flits: u64,
}

/// Flits, hops, latency and stalls of the mesh.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Noc {
    pub flit_bits: u32,
    pub flit_cycles: u32,
    pub flits_injected: u64,
    pub flits_ejected: u64,
    pub hops: u64,
    pub router_traversals: u64,
    pub mean_hops: Option<f64>,
    pub mean_flit_latency_cycles: Option<f64>,
    pub max_flit_latency_cycles: u64,
    pub stall_cycles: u64,
    pub per_link: Vec<Link>,
}

/// Energy in total, per inference, by component, and the charged table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Energy {
    pub total_pj: f64,
    pub per_inference_pj: f64,
    pub per_synop_pj: Option<f64>,
    pub breakdown_pj: Breakdown,
    pub table_source: String,
    /// Every entry of the energy table: action, count, pJ each, pJ charged
    /// and source; `breakdown_pj` is their sum by component.
    pub table: Vec<energy::Charge>,
}

/// Top-1 accuracy over the labelled samples, and every prediction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Accuracy {
    pub labelled_samples: u64,
    pub correct: u64,
    pub top1: Option<f64>,
    pub predictions: Vec<u32>,
}

/// Spikes per layer, synaptic operations, host input events.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Activity {
    pub spikes_per_layer: Vec<u64>,
    pub synops: u64,
    pub host_events: u64,
}

/// The comparison with the reference executor (`--check`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub mismatched_spikes: u64,
}

/// Names of the inputs, for the report's `run` section.
pub struct Source<'a> {
    pub hw_file: &'a str,
    pub overrides: &'a [String],
    pub model_file: &'a str,
    pub seed: u64,
    pub input_file: Option<&'a str>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// The report of a run of `chip`: counters priced by the energy table.
pub fn build(chip: &Chip, summary: &RunSummary, src: &Source) -> Report {
    let hw: &HwConfig = chip.hw;
    let c = &summary.counters;
    let samples = c.samples.max(1) as f64;
    let per_core: Vec<PerCore> = c
        .cores
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let m = &chip.mapping.cores[i];
            let (x, y) = hw.tile_of(m.id);
            PerCore {
                core: m.id,
                tile: [x, y],
                layer: m.population,
                bound_by: m.bound,
                neurons: m.n_neurons,
                encoding: format!("{:?}", m.encoding).to_lowercase(),
                axons: m.rows.len() as u32,
                synapse_memory_bits: m.words_used as u64 * hw.synapse_memory.word_bits as u64,
                routing_entries: m.routing_entries,
                events: k.events,
                synops: k.synops,
                integration_cycles: k.integration_cycles,
                update_cycles: k.update_cycles,
                busy_cycles: k.busy_cycles(),
                busy_cycles_per_phase: k.busy_cycles_by_phase.clone(),
                pe_utilization: ratio(
                    k.synops as f64,
                    (hw.core.pes as u64 * k.integration_cycles) as f64,
                ),
                spikes: k.spikes,
                synapse_word_reads: k.synapse_word_reads,
                membrane_word_reads: k.membrane_word_reads,
                membrane_word_writes: k.membrane_word_writes,
                routing_table_reads: k.routing_table_reads,
            }
        })
        .collect();
    let busy: Vec<f64> = per_core.iter().map(|p| p.busy_cycles as f64).collect();
    let mean_busy = busy.iter().sum::<f64>() / busy.len().max(1) as f64;
    let max_busy = busy.iter().cloned().fold(0.0, f64::max);
    let synops = c.total(|k| k.synops);
    let integ = c.total(|k| k.integration_cycles);
    let wb = hw.synapse_memory.word_bits as u64;
    let mwb = hw.membrane_sram.word_bits as u64;
    let mut per_link = vec![];
    for (i, flits) in c.noc.per_link.iter().enumerate() {
        let r = (i / 4) as u32;
        let (x, y) = (r % hw.mesh.0, r / hw.mesh.0);
        let (tx, ty) = match i % 4 {
            0 => (x as i64, y as i64 - 1),
            1 => (x as i64 + 1, y as i64),
            2 => (x as i64, y as i64 + 1),
            _ => (x as i64 - 1, y as i64),
        };
        if tx >= 0 && ty >= 0 && (tx as u32) < hw.mesh.0 && (ty as u32) < hw.mesh.1 {
            per_link.push(Link {
                from: [x, y],
                to: [tx as u32, ty as u32],
                flits: *flits,
            });
        }
    }
    let charges = energy::charges(c, hw, chip.flit_bits);
    let breakdown = energy::of_charges(&charges);
    let total_pj = breakdown.total();
    let (correct, labelled) = summary.accuracy().unwrap_or((0, 0));
    Report {
        schema_version: SCHEMA_VERSION,
        tool: format!("neurocycle {}", env!("CARGO_PKG_VERSION")),
        run: RunInfo {
            hw: hw.name.clone(),
            hw_file: src.hw_file.to_string(),
            overrides: src.overrides.to_vec(),
            model: chip.model.name.clone(),
            model_file: src.model_file.to_string(),
            semantics: format!("{:?}", chip.model.semantics),
            timesteps: chip.model.timesteps,
            samples: c.samples,
            seed: src.seed,
            input_file: src.input_file.map(str::to_string),
        },
        latency: Latency {
            clock_mhz: hw.clock_mhz,
            cycles: c.cycles,
            seconds: energy::seconds(hw, c.cycles),
            cycles_per_inference: c.cycles as f64 / samples,
            seconds_per_inference: energy::seconds(hw, c.cycles) / samples,
            timesteps_per_inference: c.timesteps_run as f64 / samples,
            max_inference_cycles: c.max_inference_cycles,
            cycles_per_timestep: c
                .timestep_cycles
                .iter()
                .map(|x| *x as f64 / samples)
                .collect(),
            cycles_per_phase: c
                .phase_cycles
                .iter()
                .map(|x| *x as f64 / (c.timesteps_run as f64).max(1.0))
                .collect(),
            barrier_cycles: c.barrier_cycles,
        },
        cores: Cores {
            total: hw.n_cores(),
            in_use: per_core.len() as u32,
            imbalance: ratio(max_busy, mean_busy).unwrap_or(1.0),
            pe_utilization: ratio(synops as f64, (hw.core.pes as u64 * integ) as f64),
            pes_per_core: hw.core.pes,
            mesh: [hw.mesh.0, hw.mesh.1],
            cores_per_router: hw.cores_per_router,
            per_core,
        },
        memory: Memory {
            synapse_word_bits: hw.synapse_memory.word_bits,
            synapse_word_reads: c.total(|k| k.synapse_word_reads),
            synapse_read_bits: c.total(|k| k.synapse_word_reads) * wb,
            synapse_memory_bits_stored: chip
                .mapping
                .cores
                .iter()
                .map(|m| m.words_used as u64 * wb)
                .sum(),
            membrane_word_bits: hw.membrane_sram.word_bits,
            membrane_word_reads: c.total(|k| k.membrane_word_reads),
            membrane_read_bits: c.total(|k| k.membrane_word_reads) * mwb,
            membrane_word_writes: c.total(|k| k.membrane_word_writes),
            membrane_write_bits: c.total(|k| k.membrane_word_writes) * mwb,
            routing_table_reads: c.total(|k| k.routing_table_reads),
            routing_table_read_bits: c.total(|k| k.routing_table_reads)
                * hw.routing_table.entry_bits as u64,
        },
        noc: Noc {
            flit_bits: chip.flit_bits,
            flit_cycles: chip.mesh.flit_cycles,
            flits_injected: c.noc.injected,
            flits_ejected: c.noc.ejected,
            hops: c.noc.hops,
            router_traversals: c.noc.router_traversals,
            mean_hops: ratio(c.noc.hops as f64, c.noc.ejected as f64),
            mean_flit_latency_cycles: ratio(c.noc.latency_sum as f64, c.noc.ejected as f64),
            max_flit_latency_cycles: c.noc.latency_max,
            stall_cycles: c.noc.stall_cycles,
            per_link,
        },
        energy: Energy {
            total_pj,
            per_inference_pj: total_pj / samples,
            per_synop_pj: ratio(total_pj, synops as f64),
            breakdown_pj: breakdown,
            table_source: hw.energy.source.clone(),
            table: charges,
        },
        accuracy: Accuracy {
            labelled_samples: labelled,
            correct,
            top1: ratio(correct as f64, labelled as f64),
            predictions: summary.predictions.clone(),
        },
        activity: Activity {
            spikes_per_layer: c.spikes_per_layer.clone(),
            synops,
            host_events: c.total(|k| k.host_events),
        },
        check: summary.mismatched_spikes.map(|m| Check {
            mismatched_spikes: m,
        }),
    }
}

impl Report {
    /// Pretty JSON, as `run --report` writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes") + "\n"
    }

    /// The readable table printed on the terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let r = &self.run;
        let l = &self.latency;
        let _ = writeln!(s, "neurocycle report (schema {})", self.schema_version);
        let _ = writeln!(
            s,
            "  chip     {} ({}){}",
            r.hw,
            r.hw_file,
            if r.overrides.is_empty() {
                String::new()
            } else {
                format!(" with {}", r.overrides.join(" "))
            }
        );
        let _ = writeln!(
            s,
            "  model    {} ({}), {}, T = {}",
            r.model, r.model_file, r.semantics, r.timesteps
        );
        match &r.input_file {
            Some(f) => {
                let _ = writeln!(s, "  samples  {} (recorded in {f})", r.samples);
            }
            None => {
                let _ = writeln!(s, "  samples  {} (seed {})", r.samples, r.seed);
            }
        }
        let all = if r.samples == 1 {
            "1 sample".to_string()
        } else {
            format!("all {} samples", r.samples)
        };
        let _ = writeln!(s, "latency");
        let _ = writeln!(
            s,
            "  cycles / inference        {:>14.1}   ({:.3} us at {} MHz)",
            l.cycles_per_inference,
            l.seconds_per_inference * 1e6,
            l.clock_mhz
        );
        let _ = writeln!(
            s,
            "  max cycles / inference    {:>14}",
            l.max_inference_cycles
        );
        let phases: Vec<String> = l
            .cycles_per_phase
            .iter()
            .map(|c| format!("{c:.0}"))
            .collect();
        let _ = writeln!(s, "  cycles / phase (mean)     {:>14}", phases.join(" "));
        let c = &self.cores;
        let _ = writeln!(s, "cores (per-core counts: total over {all})");
        let _ = writeln!(
            s,
            "  in use                    {:>14}   of {}",
            c.in_use, c.total
        );
        let _ = writeln!(s, "  load imbalance (max/mean) {:>14.3}", c.imbalance);
        let _ = writeln!(
            s,
            "  PE utilization            {:>14}",
            fmt_pct(c.pe_utilization)
        );
        let _ = writeln!(
            s,
            "  {:>4} {:>5} {:>6} {:>8} {:>11} {:>12} {:>12} {:>7}  bound by",
            "core", "layer", "enc", "neurons", "events", "synops", "busy cyc", "PE util"
        );
        for p in &c.per_core {
            let _ = writeln!(
                s,
                "  {:>4} {:>5} {:>6} {:>8} {:>11} {:>12} {:>12} {:>7}  {}",
                p.core,
                p.layer,
                p.encoding,
                p.neurons,
                p.events,
                p.synops,
                p.busy_cycles,
                fmt_pct(p.pe_utilization),
                p.bound_by.name()
            );
        }
        let m = &self.memory;
        let _ = writeln!(s, "memory (word accesses, total over {all})");
        let _ = writeln!(
            s,
            "  synapse reads             {:>14}   ({} bits/word)",
            m.synapse_word_reads, m.synapse_word_bits
        );
        let _ = writeln!(
            s,
            "  membrane reads / writes   {:>14} / {}",
            m.membrane_word_reads, m.membrane_word_writes
        );
        let _ = writeln!(
            s,
            "  routing-table reads       {:>14}",
            m.routing_table_reads
        );
        let n = &self.noc;
        let _ = writeln!(s, "noc (total over {all})");
        let _ = writeln!(
            s,
            "  flits injected / ejected  {:>14} / {}",
            n.flits_injected, n.flits_ejected
        );
        let _ = writeln!(
            s,
            "  hops (mean)               {:>14}   ({})",
            n.hops,
            n.mean_hops.map(|h| format!("{h:.2}")).unwrap_or("-".into())
        );
        let _ = writeln!(
            s,
            "  flit latency mean / max   {:>14} / {} cycles",
            n.mean_flit_latency_cycles
                .map(|h| format!("{h:.2}"))
                .unwrap_or("-".into()),
            n.max_flit_latency_cycles
        );
        let _ = writeln!(s, "  stall cycles              {:>14}", n.stall_cycles);
        let e = &self.energy;
        let b = &e.breakdown_pj;
        let per = r.samples.max(1) as f64;
        let _ = writeln!(
            s,
            "energy (per inference: mean over {all}; share of the total)"
        );
        let _ = writeln!(
            s,
            "  per inference             {:>14.1} pJ   ({} per synop)",
            e.per_inference_pj,
            e.per_synop_pj
                .map(|x| format!("{x:.2} pJ"))
                .unwrap_or("-".into())
        );
        let rows = [
            ("synapse memory", b.synapse_memory),
            ("membrane SRAM", b.membrane_sram),
            ("routing table", b.routing_table),
            ("synops", b.synops),
            ("neuron updates", b.neuron_updates),
            ("spike out", b.spike_out),
            ("routers", b.routers),
            ("links", b.links),
            ("learning", b.learning),
            ("static", b.static_),
        ];
        for (name, v) in rows
            .into_iter()
            .filter(|(n, v)| !matches!(*n, "learning" | "spike out") || *v != 0.0)
        {
            let _ = writeln!(
                s,
                "  {:<25} {:>14.1} pJ   {:>5.1}%",
                format!("  {name}"),
                v / per,
                100.0 * v / e.total_pj.max(f64::MIN_POSITIVE)
            );
        }
        let _ = writeln!(
            s,
            "  total over {:<14} {:>14.1} pJ",
            if r.samples == 1 {
                "1 sample".to_string()
            } else {
                format!("{} samples", r.samples)
            },
            e.total_pj
        );
        let _ = writeln!(
            s,
            "  energy table: {} (each entry's source: energy.table in the JSON report)",
            e.table_source
        );
        let a = &self.accuracy;
        let _ = writeln!(s, "activity (total over {all})");
        let _ = writeln!(
            s,
            "  spikes per layer          {:>14}",
            self.activity
                .spikes_per_layer
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(t) = a.top1 {
            let _ = writeln!(
                s,
                "accuracy                    {:>13.2}%   ({}/{})",
                100.0 * t,
                a.correct,
                a.labelled_samples
            );
        }
        if let Some(ch) = &self.check {
            let _ = writeln!(
                s,
                "check vs reference          {:>14}",
                if ch.mismatched_spikes == 0 {
                    "0 mismatched spikes".to_string()
                } else {
                    format!("{} MISMATCHED spikes", ch.mismatched_spikes)
                }
            );
        }
        s
    }
}

fn fmt_pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", 100.0 * v))
        .unwrap_or_else(|| "-".into())
}
