//! The headline metrics of a report: one number per column, for sweep
//! results (CSV) and plots. Units are in the names; `docs/report.md` gives
//! each one's formula under the report field it copies.

use super::Report;

/// Column names, in order (`values` gives them in the same order).
pub const COLUMNS: &[&str] = &[
    "cores_in_use",
    "cycles_per_inference",
    "seconds_per_inference",
    "timesteps_per_inference",
    "max_inference_cycles",
    "imbalance",
    "pe_utilization",
    "synops_per_inference",
    "spikes_per_inference",
    "synapse_word_reads",
    "synapse_read_bits",
    "synapse_memory_bits_stored",
    "membrane_word_reads",
    "membrane_word_writes",
    "routing_table_reads",
    "flits_injected",
    "flits_ejected",
    "hops",
    "mean_flit_latency_cycles",
    "max_flit_latency_cycles",
    "noc_stall_cycles",
    "energy_total_pj",
    "energy_per_inference_pj",
    "energy_synapse_memory_pj",
    "energy_membrane_sram_pj",
    "energy_routing_table_pj",
    "energy_synops_pj",
    "energy_neuron_updates_pj",
    "energy_routers_pj",
    "energy_links_pj",
    "energy_static_pj",
    "accuracy",
];

/// The values of `COLUMNS` for a report; empty text where undefined
/// (PE utilization without integration, accuracy without labels).
pub fn values(r: &Report) -> Vec<String> {
    let samples = r.run.samples.max(1) as f64;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let e = &r.energy.breakdown_pj;
    let v = vec![
        r.cores.in_use.to_string(),
        r.latency.cycles_per_inference.to_string(),
        r.latency.seconds_per_inference.to_string(),
        r.latency.timesteps_per_inference.to_string(),
        r.latency.max_inference_cycles.to_string(),
        r.cores.imbalance.to_string(),
        opt(r.cores.pe_utilization),
        (r.activity.synops as f64 / samples).to_string(),
        (r.activity.spikes_per_layer.iter().sum::<u64>() as f64 / samples).to_string(),
        r.memory.synapse_word_reads.to_string(),
        r.memory.synapse_read_bits.to_string(),
        r.memory.synapse_memory_bits_stored.to_string(),
        r.memory.membrane_word_reads.to_string(),
        r.memory.membrane_word_writes.to_string(),
        r.memory.routing_table_reads.to_string(),
        r.noc.flits_injected.to_string(),
        r.noc.flits_ejected.to_string(),
        r.noc.hops.to_string(),
        opt(r.noc.mean_flit_latency_cycles),
        r.noc.max_flit_latency_cycles.to_string(),
        r.noc.stall_cycles.to_string(),
        r.energy.total_pj.to_string(),
        r.energy.per_inference_pj.to_string(),
        e.synapse_memory.to_string(),
        e.membrane_sram.to_string(),
        e.routing_table.to_string(),
        e.synops.to_string(),
        e.neuron_updates.to_string(),
        e.routers.to_string(),
        e.links.to_string(),
        e.static_.to_string(),
        opt(r.accuracy.top1),
    ];
    debug_assert_eq!(v.len(), COLUMNS.len());
    v
}
