//! Energy: the config's energy table (one entry per action of each part of
//! the chip, each with its source) times the counted actions, plus static
//! power times time. A pure function of counters and config; every report
//! carries the charged table (`charges`) beside the breakdown it sums to.
//!
//! SRAM access energy per word = word_bits x pJ/bit x sqrt(array bytes /
//! ref_bytes), each array (synapse memory, membrane SRAM, routing table of
//! a core) with its own figures.

use crate::config::{HwConfig, SramEnergy};
use crate::engine::Counters;
use serde::{Deserialize, Serialize};

/// Energy by component, pJ: the sums of the charged table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub synapse_memory: f64,
    pub membrane_sram: f64,
    pub routing_table: f64,
    pub synops: f64,
    pub neuron_updates: f64,
    /// Spikes leaving their neurons; left out of serialized reports when
    /// zero (tables that fold it into the NoC energies).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spike_out: f64,
    pub routers: f64,
    pub links: f64,
    /// On-chip learning: synapse words read for columns and written back,
    /// weight updates (priced as synops), trace accesses. Left out of
    /// serialized reports when zero (an inference never learns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub learning: f64,
    #[serde(rename = "static")]
    pub static_: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Breakdown {
    /// The sum of every component, pJ.
    pub fn total(&self) -> f64 {
        self.synapse_memory
            + self.membrane_sram
            + self.routing_table
            + self.synops
            + self.neuron_updates
            + self.spike_out
            + self.routers
            + self.links
            + self.learning
            + self.static_
    }

    fn add(&mut self, c: &Charge) {
        let slot = match c.component.as_str() {
            "synapse_memory" => &mut self.synapse_memory,
            "membrane_sram" => &mut self.membrane_sram,
            "routing_table" => &mut self.routing_table,
            "synops" => &mut self.synops,
            "neuron_updates" => &mut self.neuron_updates,
            "spike_out" => &mut self.spike_out,
            "routers" => &mut self.routers,
            "links" => &mut self.links,
            "learning" => &mut self.learning,
            "static" => &mut self.static_,
            other => unreachable!("no breakdown component {other}"),
        };
        *slot += c.pj;
    }
}

/// One entry of the energy table as a run charged it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    /// The breakdown component it adds to.
    pub component: String,
    /// What one count is.
    pub action: String,
    pub count: u64,
    /// Energy of one count, pJ.
    pub pj_each: f64,
    /// Energy charged, pJ (`count x pj_each`, or power x time for static).
    pub pj: f64,
    pub source: String,
}

/// Energy of one SRAM word access, pJ.
pub fn sram_word_pj(table: &SramEnergy, word_bits: u32, array_bytes: f64, write: bool) -> f64 {
    let per_bit = if write {
        table.write_pj_per_bit
    } else {
        table.read_pj_per_bit
    };
    word_access_pj(per_bit, table.ref_bytes, word_bits, array_bytes)
}

/// `word_bits x per_bit x sqrt(array_bytes / ref_bytes)`.
fn word_access_pj(per_bit: f64, ref_bytes: f64, word_bits: u32, array_bytes: f64) -> f64 {
    word_bits as f64 * per_bit * (array_bytes / ref_bytes).sqrt()
}

/// Bytes of one core's membrane SRAM (neurons x state bits).
pub fn membrane_sram_bytes(hw: &HwConfig) -> f64 {
    hw.core.neurons as f64 * hw.membrane_sram.state_bits as f64 / 8.0
}

/// Bytes of one core's routing table.
pub fn routing_table_bytes(hw: &HwConfig) -> f64 {
    hw.routing_table.entries as f64 * hw.routing_table.entry_bits as f64 / 8.0
}

/// Wall time of `cycles` at the chip's clock.
pub fn seconds(hw: &HwConfig, cycles: u64) -> f64 {
    cycles as f64 / (hw.clock_mhz * 1e6)
}

fn charge(
    component: &'static str,
    action: String,
    count: u64,
    pj_each: f64,
    source: &str,
) -> Charge {
    Charge {
        component: component.to_string(),
        action,
        count,
        pj_each,
        pj: count as f64 * pj_each,
        source: source.to_string(),
    }
}

/// The NoC's entries: `traversals` flits through routers and `hops` flits
/// of `flit_bits` over links.
pub fn noc_charges(hw: &HwConfig, traversals: u64, hops: u64, flit_bits: u32) -> [Charge; 2] {
    let e = &hw.energy;
    [
        charge(
            "routers",
            "flit through a router".into(),
            traversals,
            e.router.pj,
            &e.router.source,
        ),
        charge(
            "links",
            format!("{flit_bits}-bit flit over a link"),
            hops,
            e.link.pj_per_flit + flit_bits as f64 * e.link.pj_per_bit,
            &e.link.source,
        ),
    ]
}

/// Every entry of the table with what it charged, in breakdown order;
/// `flit_bits` is the width of the chip's flits.
pub fn charges(c: &Counters, hw: &HwConfig, flit_bits: u32) -> Vec<Charge> {
    let e = &hw.energy;
    let (syn, mem, rt) = (&e.synapse_memory, &e.membrane_sram, &e.routing_table);
    let syn_bits = hw.synapse_memory.word_bits;
    let syn_bytes = hw.synapse_memory.bytes as f64;
    let mem_bits = hw.membrane_sram.word_bits;
    let syn_word = sram_word_pj(syn, syn_bits, syn_bytes, false);
    let syn_word_wr = sram_word_pj(syn, syn_bits, syn_bytes, true);
    // 8-bit traces, in an array the size of the membrane SRAM; half of the
    // accesses are reads, half writes.
    let trace = (sram_word_pj(mem, 8, membrane_sram_bytes(hw), false)
        + sram_word_pj(mem, 8, membrane_sram_bytes(hw), true))
        / 2.0;
    let static_mw = hw.n_cores() as f64 * e.static_power.mw_per_core
        + hw.n_tiles() as f64 * e.static_power.mw_per_router;
    let [routers, links] = noc_charges(hw, c.noc.router_traversals, c.noc.hops, flit_bits);
    vec![
        charge(
            "synapse_memory",
            format!("{syn_bits}-bit word read"),
            c.total(|k| k.synapse_word_reads),
            syn_word,
            &syn.source,
        ),
        charge(
            "membrane_sram",
            format!("{mem_bits}-bit word read"),
            c.total(|k| k.membrane_word_reads),
            sram_word_pj(mem, mem_bits, membrane_sram_bytes(hw), false),
            &mem.source,
        ),
        charge(
            "membrane_sram",
            format!("{mem_bits}-bit word write"),
            c.total(|k| k.membrane_word_writes),
            sram_word_pj(mem, mem_bits, membrane_sram_bytes(hw), true),
            &mem.source,
        ),
        charge(
            "routing_table",
            format!("{}-bit entry read", hw.routing_table.entry_bits),
            c.total(|k| k.routing_table_reads),
            word_access_pj(
                rt.read_pj_per_bit,
                rt.ref_bytes,
                hw.routing_table.entry_bits,
                routing_table_bytes(hw),
            ),
            &rt.source,
        ),
        charge(
            "synops",
            "accumulate by a PE".into(),
            c.total(|k| k.synops),
            e.synop.pj,
            &e.synop.source,
        ),
        charge(
            "neuron_updates",
            "neuron update".into(),
            c.total(|k| k.neuron_updates),
            e.neuron_update.pj,
            &e.neuron_update.source,
        ),
        charge(
            "spike_out",
            "spike leaving its neuron".into(),
            c.total(|k| k.spikes),
            e.spike_out.pj,
            &e.spike_out.source,
        ),
        routers,
        links,
        charge(
            "learning",
            format!("{syn_bits}-bit synapse word read for a column"),
            c.total(|k| k.learn_synapse_word_reads),
            syn_word,
            &syn.source,
        ),
        charge(
            "learning",
            format!("{syn_bits}-bit synapse word write"),
            c.total(|k| k.synapse_word_writes),
            syn_word_wr,
            &syn.source,
        ),
        charge(
            "learning",
            "weight update (priced as an accumulate)".into(),
            c.total(|k| k.weight_updates),
            e.synop.pj,
            &e.synop.source,
        ),
        charge(
            "learning",
            "8-bit trace access (half reads, half writes)".into(),
            c.total(|k| k.trace_accesses),
            trace,
            &mem.source,
        ),
        Charge {
            component: "static".into(),
            action: format!(
                "cycle of leakage ({static_mw:.3} mW: {} cores, {} routers)",
                hw.n_cores(),
                hw.n_tiles()
            ),
            count: c.cycles,
            pj_each: static_mw / hw.clock_mhz * 1e3,
            // mW x s = mJ = 1e9 pJ.
            pj: static_mw * seconds(hw, c.cycles) * 1e9,
            source: e.static_power.source.clone(),
        },
    ]
}

/// Energy of everything counted, in pJ, by component: the sums of
/// `charges`.
pub fn breakdown(c: &Counters, hw: &HwConfig, flit_bits: u32) -> Breakdown {
    of_charges(&charges(c, hw, flit_bits))
}

/// The breakdown `charges` sum to.
pub fn of_charges(charges: &[Charge]) -> Breakdown {
    let mut b = Breakdown::default();
    for c in charges {
        b.add(c);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_priced_per_flit_and_per_bit() {
        let hw = HwConfig::preset("default")
            .unwrap()
            .with_overrides(
                "d",
                &[
                    "energy.link.pj_per_flit=2".into(),
                    "energy.link.pj_per_bit=0.5".into(),
                    "energy.router.pj=3".into(),
                ],
            )
            .unwrap();
        let mut c = Counters::default();
        c.noc.hops = 10;
        c.noc.router_traversals = 12;
        let b = breakdown(&c, &hw, 20);
        assert_eq!(b.links, 10.0 * (2.0 + 20.0 * 0.5));
        assert_eq!(b.routers, 36.0);
        // Wider flits cost more on links, not in routers.
        let wide = breakdown(&c, &hw, 40);
        assert_eq!(wide.links, 10.0 * (2.0 + 40.0 * 0.5));
        assert_eq!(wide.routers, b.routers);
    }

    #[test]
    fn the_loihi_preset_charges_its_cited_per_event_figures() {
        // Davies 2018 Table 2 per operation; SANA-FE (Boyle 2025) for the
        // spike-out and per-message costs the paper does not give.
        let hw = HwConfig::preset("loihi").unwrap();
        let mut c = Counters {
            cores: vec![Default::default()],
            ..Default::default()
        };
        c.cores[0].synops = 1;
        c.cores[0].neuron_updates = 1;
        c.cores[0].spikes = 1;
        c.cores[0].routing_table_reads = 1;
        c.noc.hops = 1;
        c.noc.router_traversals = 1;
        let each = |component: &str| -> f64 {
            charges(&c, &hw, 32)
                .iter()
                .filter(|x| x.component == component)
                .map(|x| x.pj)
                .sum()
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(each("synops"), 23.6));
        assert!(close(each("neuron_updates"), 81.0));
        assert!(close(each("spike_out"), 69.3));
        assert!(
            close(each("routing_table"), 111.0),
            "{}",
            each("routing_table")
        );
        // A hop: the router's within-tile share and the link's rest make
        // the mean of 3.0 and 4.0 pJ.
        assert!(close(each("routers") + each("links"), 3.5));
        assert_eq!(each("synapse_memory") + each("membrane_sram"), 0.0);
    }

    #[test]
    fn each_array_has_its_own_figures() {
        let hw = HwConfig::preset("default")
            .unwrap()
            .with_overrides(
                "d",
                &[
                    "energy.synapse_memory.read_pj_per_bit=1".into(),
                    "energy.membrane_sram.read_pj_per_bit=0".into(),
                    "energy.membrane_sram.write_pj_per_bit=0".into(),
                    "energy.routing_table.read_pj_per_bit=0".into(),
                    "energy.spike_out.pj=1.5".into(),
                ],
            )
            .unwrap();
        let mut c = Counters {
            cores: vec![Default::default()],
            ..Default::default()
        };
        c.cores[0].synapse_word_reads = 1;
        c.cores[0].membrane_word_reads = 5;
        c.cores[0].membrane_word_writes = 5;
        c.cores[0].routing_table_reads = 7;
        c.cores[0].spikes = 3;
        let b = breakdown(&c, &hw, 16);
        assert_eq!(b.spike_out, 3.0 * hw.energy.spike_out.pj);
        let expected = hw.synapse_memory.word_bits as f64
            * (hw.synapse_memory.bytes as f64 / hw.energy.synapse_memory.ref_bytes).sqrt();
        assert!((b.synapse_memory - expected).abs() < 1e-9);
        assert_eq!((b.membrane_sram, b.routing_table), (0.0, 0.0));
    }
}
