//! Splitting each population over cores so that every per-core limit
//! holds: neurons (`core.neurons`), membrane SRAM (neurons x state slots),
//! input axons (`core.axons`), synapse memory (`synapse_memory.bytes`, in
//! the best encoding allowed) and routing-table entries
//! (`routing_table.entries`, which depend on how the targets are split).
//!
//! A population is cut into consecutive neuron ranges greedily: a core
//! takes neurons while all limits hold, and the limit that stops it is
//! recorded (`Bound`). Routing entries of a neuron count the target cores
//! its spikes go to, so the split is repeated until no population needs
//! more cores for its entries (a finer split never raises any other
//! per-core figure).

use crate::config::{Encoding, HwConfig};
use crate::mapping::encoding::index_bits;
use crate::mapping::RowCode;
use crate::model::synapses::{for_each, Incoming};
use crate::model::{Connectivity, Model, Source};
use serde::Serialize;

/// The limit that ended a core's neuron range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// `core.neurons`.
    Neurons,
    /// Membrane SRAM: `core.neurons` state slots of `membrane_sram.state_bits`.
    MembraneSram,
    /// `core.axons`: the input axons (synapse rows) of the core.
    Axons,
    /// `synapse_memory.bytes`.
    SynapseMemory,
    /// `routing_table.entries`.
    RoutingTable,
    /// The population's last neurons: no limit was reached.
    PopulationEnd,
}

impl Bound {
    /// The name reports use (as in the JSON).
    pub fn name(self) -> &'static str {
        match self {
            Bound::Neurons => "neurons",
            Bound::MembraneSram => "membrane_sram",
            Bound::Axons => "axons",
            Bound::SynapseMemory => "synapse_memory",
            Bound::RoutingTable => "routing_table",
            Bound::PopulationEnd => "population_end",
        }
    }

    pub fn parameter(self, hw: &HwConfig) -> String {
        match self {
            Bound::Neurons => format!("core.neurons = {}", hw.core.neurons),
            Bound::MembraneSram => format!(
                "membrane_sram.state_bits = {} x core.neurons = {}",
                hw.membrane_sram.state_bits, hw.core.neurons
            ),
            Bound::Axons => format!("core.axons = {}", hw.core.axons),
            Bound::SynapseMemory => format!("synapse_memory.bytes = {}", hw.synapse_memory.bytes),
            Bound::RoutingTable => {
                format!("routing_table.entries = {}", hw.routing_table.entries)
            }
            Bound::PopulationEnd => "the population's end".into(),
        }
    }
}

/// Consecutive neurons of a population on one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub first: u32,
    pub n: u32,
    pub bound: Bound,
}

/// State slots of `membrane_sram.state_bits` one neuron of a population
/// takes (v; u when the current persists; theta with adaptation).
pub fn state_slots(model: &Model, p: usize, hw: &HwConfig) -> u32 {
    model.populations[p]
        .neuron
        .state_bits_needed()
        .div_ceil(hw.membrane_sram.state_bits)
        .max(1)
}

/// What an incoming projection contributes to a core's rows.
struct InSlot {
    incoming: Incoming,
    /// Sources (rows) of the projection.
    n_src: usize,
    weight_bits: u8,
    zeros: bool,
    /// Plastic: a dense row per source on every core, zeros included.
    plastic: bool,
}

/// Rows of the core being filled, per incoming projection: how many
/// synapses each source has on the core, and how many rows hold k.
struct Tally {
    nnz: Vec<Vec<u32>>,
    touched: Vec<Vec<u32>>,
    hist: Vec<Vec<u64>>,
    rows: Vec<u64>,
    synapses: Vec<u64>,
    max_nnz: Vec<usize>,
}

impl Tally {
    fn new(slots: &[InSlot], cap: usize) -> Tally {
        Tally {
            nnz: slots.iter().map(|s| vec![0; s.n_src]).collect(),
            touched: slots.iter().map(|_| vec![]).collect(),
            hist: slots.iter().map(|_| vec![0; cap + 2]).collect(),
            rows: vec![0; slots.len()],
            synapses: vec![0; slots.len()],
            max_nnz: vec![0; slots.len()],
        }
    }

    fn reset(&mut self) {
        for k in 0..self.nnz.len() {
            for &s in &self.touched[k] {
                self.nnz[k][s as usize] = 0;
            }
            self.touched[k].clear();
            let m = self.max_nnz[k];
            self.hist[k][..=m].fill(0);
            self.rows[k] = 0;
            self.synapses[k] = 0;
            self.max_nnz[k] = 0;
        }
    }

    fn add(&mut self, slots: &[InSlot], t: usize) {
        for (k, slot) in slots.iter().enumerate() {
            if slot.plastic {
                continue;
            }
            for &s in slot.incoming.of_target(t) {
                let old = self.nnz[k][s as usize] as usize;
                if old == 0 {
                    self.rows[k] += 1;
                    self.touched[k].push(s);
                } else {
                    self.hist[k][old] -= 1;
                }
                self.nnz[k][s as usize] = old as u32 + 1;
                self.hist[k][old + 1] += 1;
                self.max_nnz[k] = self.max_nnz[k].max(old + 1);
                self.synapses[k] += 1;
            }
        }
    }

    fn remove(&mut self, slots: &[InSlot], t: usize) {
        for (k, slot) in slots.iter().enumerate() {
            if slot.plastic {
                continue;
            }
            for &s in slot.incoming.of_target(t) {
                let old = self.nnz[k][s as usize] as usize;
                self.hist[k][old] -= 1;
                if old == 1 {
                    self.rows[k] -= 1;
                } else {
                    self.hist[k][old - 1] += 1;
                }
                self.nnz[k][s as usize] = old as u32 - 1;
                self.synapses[k] -= 1;
            }
        }
    }

    /// Input axons of the core (plastic projections: every source).
    fn axons(&self, slots: &[InSlot]) -> u64 {
        slots
            .iter()
            .enumerate()
            .map(|(k, s)| {
                if s.plastic {
                    s.n_src as u64
                } else {
                    self.rows[k]
                }
            })
            .sum()
    }

    /// Synapse-memory words of the core's rows at `n` neurons in encoding
    /// `enc`, or `None` when the encoding cannot hold them. `exact`: sum
    /// over rows; else an upper bound from the totals.
    fn words(&self, slots: &[InSlot], n: u32, enc: Encoding, wb: u64, exact: bool) -> Option<u64> {
        let mut total = 0u64;
        let ib = index_bits(n) as u64;
        for (k, s) in slots.iter().enumerate() {
            let code = RowCode::with_zeros(enc, s.weight_bits, n, s.zeros);
            let (db, nzb) = (code.dense_bits as u64, code.nz_bits as u64);
            let n64 = n as u64;
            if s.plastic {
                if enc != Encoding::Dense {
                    return None;
                }
                total += s.n_src as u64 * (n64 * db).div_ceil(wb);
                continue;
            }
            let (rows, syn) = (self.rows[k], self.synapses[k]);
            let hist = &self.hist[k][..=self.max_nnz[k].min(n as usize)];
            total += match enc {
                Encoding::Dense | Encoding::Auto => {
                    let full = hist.get(n as usize).copied().unwrap_or(0) == rows;
                    if !RowCode::dense_holds(s.weight_bits, full, s.zeros) {
                        return None;
                    }
                    rows * (n64 * db).div_ceil(wb)
                }
                Encoding::Bitmask if exact => hist
                    .iter()
                    .enumerate()
                    .map(|(v, h)| h * (n64 + v as u64 * nzb).div_ceil(wb))
                    .sum(),
                Encoding::Bitmask => (rows * (n64 + wb - 1) + syn * nzb) / wb,
                Encoding::Csr if exact => hist
                    .iter()
                    .enumerate()
                    .map(|(v, h)| h * (v as u64 * (ib + nzb)).div_ceil(wb))
                    .sum(),
                Encoding::Csr => (syn * (ib + nzb) + rows * (wb - 1)) / wb,
            };
        }
        Some(total)
    }

    /// Whether the rows fit synapse memory at `n` neurons in one of the
    /// allowed encodings; `None` when no allowed encoding can hold them.
    fn fits(&self, slots: &[InSlot], n: u32, allowed: &[Encoding], hw: &HwConfig) -> Option<bool> {
        let wb = hw.synapse_memory.word_bits as u64;
        let cap = hw.synapse_memory.bytes * 8;
        let mut any = false;
        for exact in [false, true] {
            for &enc in allowed {
                if let Some(w) = self.words(slots, n, enc, wb, exact) {
                    any = true;
                    if w * wb <= cap {
                        return Some(true);
                    }
                }
            }
        }
        any.then_some(false)
    }
}

/// The encodings the chip may choose for a population's cores.
pub fn allowed_encodings(hw: &HwConfig, plastic: bool) -> &'static [Encoding] {
    match hw.synapse_memory.encoding {
        _ if plastic => &[Encoding::Dense],
        Encoding::Auto => &[Encoding::Csr, Encoding::Bitmask, Encoding::Dense],
        Encoding::Dense => &[Encoding::Dense],
        Encoding::Bitmask => &[Encoding::Bitmask],
        Encoding::Csr => &[Encoding::Csr],
    }
}

/// Whether projection `j` stores a zero-valued synapse.
pub fn stores_zeros(model: &Model, j: usize) -> bool {
    match &model.projections[j].conn {
        Connectivity::Sparse(s) => s.weights.contains(&0),
        _ => false,
    }
}

/// Splits population `p`. `entries[i]`: routing-table entries of neuron i
/// (from the current split of its targets). `Err` when one neuron alone
/// exceeds a limit.
pub fn split(model: &Model, p: usize, hw: &HwConfig, entries: &[u32]) -> Result<Vec<Span>, String> {
    let n_p = model.populations[p].len();
    let slots: Vec<InSlot> = model
        .projections
        .iter()
        .enumerate()
        .filter(|(_, j)| j.target == p)
        .map(|(j, proj)| {
            let src = model.source_shape(proj.source);
            let tgt = model.populations[p].shape;
            InSlot {
                incoming: if proj.stdp.is_some() {
                    Incoming::default()
                } else {
                    Incoming::of(proj.conn.view(), src, tgt)
                },
                n_src: src.len(),
                weight_bits: proj.weight_bits,
                zeros: stores_zeros(model, j),
                plastic: proj.stdp.is_some(),
            }
        })
        .collect();
    let plastic = slots.iter().any(|s| s.plastic);
    let allowed = allowed_encodings(hw, plastic);
    let slots_per_neuron = state_slots(model, p, hw);
    let max_n = hw.core.neurons / slots_per_neuron;
    // Implicit rows of lateral inhibition: one per neuron of the population.
    let lateral_rows = if model.populations[p].lateral_inhibition != 0 {
        n_p as u64
    } else {
        0
    };
    let name = model.population_name(p);
    if max_n == 0 {
        return Err(format!(
            "population {name}: a neuron needs {} bits of state, more than {}",
            model.populations[p].neuron.state_bits_needed(),
            Bound::MembraneSram.parameter(hw)
        ));
    }
    let mut tally = Tally::new(&slots, hw.core.neurons as usize);
    let mut spans = vec![];
    let mut a = 0usize;
    while a < n_p {
        tally.reset();
        let mut b = a;
        let mut routing = 0u64;
        let mut bound = Bound::PopulationEnd;
        while b < n_p {
            let n = (b - a + 1) as u32;
            if n > hw.core.neurons {
                bound = Bound::Neurons;
                break;
            }
            if n > max_n {
                bound = Bound::MembraneSram;
                break;
            }
            if routing + entries[b] as u64 > hw.routing_table.entries as u64 {
                bound = Bound::RoutingTable;
                break;
            }
            tally.add(&slots, b);
            if tally.axons(&slots) + lateral_rows > hw.core.axons as u64 {
                tally.remove(&slots, b);
                bound = Bound::Axons;
                break;
            }
            match tally.fits(&slots, n, allowed, hw) {
                Some(true) => {}
                Some(false) => {
                    tally.remove(&slots, b);
                    bound = Bound::SynapseMemory;
                    break;
                }
                None => {
                    return Err(format!(
                        "population {name}: dense encoding cannot hold pruned binary weights; set synapse_memory.encoding to bitmask, csr or auto"
                    ))
                }
            }
            routing += entries[b] as u64;
            b += 1;
        }
        if b == a {
            let what = match bound {
                Bound::RoutingTable => format!("{} routing-table entries", entries[a]),
                Bound::Axons => "more input axons (synapse rows)".to_string(),
                Bound::SynapseMemory => "more synapse memory".to_string(),
                _ => "more room".to_string(),
            };
            return Err(format!(
                "population {name}: neuron {a} alone needs {what} than {}",
                bound.parameter(hw)
            ));
        }
        spans.push(Span {
            first: a as u32,
            n: (b - a) as u32,
            bound,
        });
        a = b;
    }
    Ok(spans)
}

/// Destinations (routing entries) of every source neuron, per source:
/// index 0 the input (the host's table), p + 1 population p. A neuron has
/// one per (projection, target core) its synapses reach, and with lateral
/// inhibition one per core of its population. `core_of[p][i]`: the core
/// of neuron i of population p, numbered over all populations;
/// `pop_cores[p]`: how many cores p has.
pub fn fanout(
    model: &Model,
    core_of: &[Vec<u32>],
    pop_cores: &[u32],
    n_cores: usize,
) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = std::iter::once(model.input.size)
        .chain(model.populations.iter().map(|p| p.len()))
        .map(|n| vec![0; n])
        .collect();
    let mut seen = vec![u64::MAX; n_cores];
    let mut stamp = 0u64;
    for proj in &model.projections {
        let slot = match proj.source {
            Source::Input => 0,
            Source::Population(s) => s + 1,
        };
        let tgt = &core_of[proj.target];
        if proj.stdp.is_some() {
            // Every source has a row on every core of the target.
            for e in out[slot].iter_mut() {
                *e += pop_cores[proj.target];
            }
            continue;
        }
        let mut cur = usize::MAX;
        let counts = &mut out[slot];
        for_each(
            proj.conn.view(),
            model.source_shape(proj.source),
            model.populations[proj.target].shape,
            |i, t, _| {
                if i != cur {
                    cur = i;
                    stamp += 1;
                }
                let c = tgt[t] as usize;
                if seen[c] != stamp {
                    seen[c] = stamp;
                    counts[i] += 1;
                }
            },
        );
        stamp += 1;
    }
    for (p, pop) in model.populations.iter().enumerate() {
        if pop.lateral_inhibition != 0 {
            for e in out[p + 1].iter_mut() {
                *e += pop_cores[p];
            }
        }
    }
    out
}

/// Splits every population, repeating until every core's routing entries
/// fit; returns the spans of each population.
pub fn split_all(model: &Model, hw: &HwConfig) -> Result<Vec<Vec<Span>>, String> {
    let n_pops = model.populations.len();
    let none: Vec<Vec<u32>> = model.populations.iter().map(|p| vec![0; p.len()]).collect();
    let mut spans: Vec<Vec<Span>> = (0..n_pops)
        .map(|p| split(model, p, hw, &none[p]))
        .collect::<Result<_, _>>()?;
    for _round in 0..64 {
        let (core_of, pop_cores, n_cores) = numbering(model, &spans);
        let entries = fanout(model, &core_of, &pop_cores, n_cores);
        let mut changed = false;
        for p in 0..n_pops {
            let mine = &entries[p + 1];
            let over = spans[p].iter().any(|s| {
                let r = s.first as usize..(s.first + s.n) as usize;
                mine[r].iter().map(|e| *e as u64).sum::<u64>() > hw.routing_table.entries as u64
            });
            if over {
                spans[p] = split(model, p, hw, mine)?;
                changed = true;
            }
        }
        if !changed {
            return Ok(spans);
        }
    }
    Err("splitting populations for routing-table entries did not settle after 64 rounds".into())
}

/// Cores numbered in population order: the core of every neuron, the
/// number of cores of every population, and the total.
pub fn numbering(model: &Model, spans: &[Vec<Span>]) -> (Vec<Vec<u32>>, Vec<u32>, usize) {
    let mut next = 0u32;
    let mut core_of = Vec::with_capacity(spans.len());
    for (p, sp) in spans.iter().enumerate() {
        let mut c = vec![0u32; model.populations[p].len()];
        for s in sp {
            c[s.first as usize..(s.first + s.n) as usize].fill(next);
            next += 1;
        }
        core_of.push(c);
    }
    (
        core_of,
        spans.iter().map(|s| s.len() as u32).collect(),
        next as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_names_are_the_json_names() {
        for b in [
            Bound::Neurons,
            Bound::MembraneSram,
            Bound::Axons,
            Bound::SynapseMemory,
            Bound::RoutingTable,
            Bound::PopulationEnd,
        ] {
            assert_eq!(
                serde_json::to_string(&b).unwrap(),
                format!("\"{}\"", b.name())
            );
        }
    }
}
