//! Energy: action counts times the config's energy table, plus static
//! power times time. A pure function of counters and config.
//!
//! SRAM access energy per word = word_bits x pJ/bit x sqrt(array bytes /
//! sram_ref_bytes), for the synapse memory, the membrane SRAM and the
//! routing table of a core (each its own array).

use crate::config::HwConfig;
use crate::engine::Counters;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub synapse_memory: f64,
    pub membrane_sram: f64,
    pub routing_table: f64,
    pub synops: f64,
    pub neuron_updates: f64,
    pub routers: f64,
    pub links: f64,
    /// On-chip learning: synapse words read for columns and written back,
    /// weight updates (priced as synops), trace accesses. Left out of
    /// serialized reports when zero (an inference never learns).
    #[serde(skip_serializing_if = "is_zero")]
    pub learning: f64,
    #[serde(rename = "static")]
    pub static_: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Breakdown {
    pub fn total(&self) -> f64 {
        self.synapse_memory
            + self.membrane_sram
            + self.routing_table
            + self.synops
            + self.neuron_updates
            + self.routers
            + self.links
            + self.learning
            + self.static_
    }
}

/// Energy of one SRAM word access, pJ.
pub fn sram_word_pj(hw: &HwConfig, word_bits: u32, array_bytes: f64, write: bool) -> f64 {
    let e = &hw.energy;
    let per_bit = if write {
        e.sram_write_pj_per_bit
    } else {
        e.sram_read_pj_per_bit
    };
    word_bits as f64 * per_bit * (array_bytes / e.sram_ref_bytes).sqrt()
}

pub fn membrane_sram_bytes(hw: &HwConfig) -> f64 {
    hw.core.neurons as f64 * hw.membrane_sram.state_bits as f64 / 8.0
}

pub fn routing_table_bytes(hw: &HwConfig) -> f64 {
    hw.routing_table.entries as f64 * hw.routing_table.entry_bits as f64 / 8.0
}

pub fn seconds(hw: &HwConfig, cycles: u64) -> f64 {
    cycles as f64 / (hw.clock_mhz * 1e6)
}

/// Energy of everything counted, in pJ, by component.
pub fn breakdown(c: &Counters, hw: &HwConfig) -> Breakdown {
    let e = &hw.energy;
    let syn_word = sram_word_pj(
        hw,
        hw.synapse_memory.word_bits,
        hw.synapse_memory.bytes as f64,
        false,
    );
    let mem_rd = sram_word_pj(
        hw,
        hw.membrane_sram.word_bits,
        membrane_sram_bytes(hw),
        false,
    );
    let mem_wr = sram_word_pj(
        hw,
        hw.membrane_sram.word_bits,
        membrane_sram_bytes(hw),
        true,
    );
    let rt = sram_word_pj(
        hw,
        hw.routing_table.entry_bits,
        routing_table_bytes(hw),
        false,
    );
    let syn_word_wr = sram_word_pj(
        hw,
        hw.synapse_memory.word_bits,
        hw.synapse_memory.bytes as f64,
        true,
    );
    // 8-bit traces, in an array the size of the membrane SRAM; half of the
    // accesses are reads, half writes.
    let trace = (sram_word_pj(hw, 8, membrane_sram_bytes(hw), false)
        + sram_word_pj(hw, 8, membrane_sram_bytes(hw), true))
        / 2.0;
    let static_mw =
        hw.n_cores() as f64 * e.static_mw_per_core + hw.n_tiles() as f64 * e.static_mw_per_router;
    Breakdown {
        synapse_memory: c.total(|k| k.synapse_word_reads) as f64 * syn_word,
        membrane_sram: c.total(|k| k.membrane_word_reads) as f64 * mem_rd
            + c.total(|k| k.membrane_word_writes) as f64 * mem_wr,
        routing_table: c.total(|k| k.routing_table_reads) as f64 * rt,
        synops: c.total(|k| k.synops) as f64 * e.synop_pj,
        neuron_updates: c.total(|k| k.neuron_updates) as f64 * e.neuron_update_pj,
        routers: c.noc.router_traversals as f64 * e.router_pj_per_flit,
        links: c.noc.hops as f64 * e.link_pj_per_flit,
        learning: c.total(|k| k.learn_synapse_word_reads) as f64 * syn_word
            + c.total(|k| k.synapse_word_writes) as f64 * syn_word_wr
            + c.total(|k| k.weight_updates) as f64 * e.synop_pj
            + c.total(|k| k.trace_accesses) as f64 * trace,
        // mW x s = mJ = 1e9 pJ.
        static_: static_mw * seconds(hw, c.cycles) * 1e9,
    }
}
