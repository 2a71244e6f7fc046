//! The compiled chip: per-core tables the engine reads in its hot loop,
//! built once from the mapping (rows decoded from the synapse-memory image,
//! so the encodings are exercised by every run) and shared by all threads.
//! Cores are indexed as the mapping numbers them (population order); `phys`
//! is the id the mesh routes by.

use crate::config::{Checked, HwConfig, Multicast, PeAssignment};
use crate::mapping::{decode_row_with, Mapping, Routes};
use crate::model::neuron::LifConsts;
use crate::model::{Model, Stdp};

use super::noc::{Groups, MeshParams};

/// One core's compiled tables: decoded synapse rows, routing entries, neuron
/// range and parameters.
#[derive(Clone, Debug)]
pub struct CoreTables {
    /// Physical core id (the mesh's).
    pub phys: u32,
    pub population: u32,
    pub first_neuron: u32,
    pub n_neurons: u32,
    /// Rows by axon: `targets[row_start[a]..row_start[a + 1]]`.
    pub row_start: Vec<u32>,
    pub targets: Vec<u16>,
    pub weights: Vec<i16>,
    /// Rows whose targets are exactly `0..n` in order (dense and plastic
    /// rows): the engine accumulates them without indexing by target.
    pub row_full: Vec<bool>,
    /// Cycles an event holds the integration pipeline: max(words, busiest PE).
    pub row_cost: Vec<u32>,
    pub row_words: Vec<u32>,
    /// Timesteps from a spike to its effect, by axon.
    pub row_delay: Vec<u8>,
    /// Update walk: (local neuron, cycle offset k), in emission order.
    pub walk: Vec<(u32, u32)>,
    pub update_cycles: u32,
    pub membrane_words: u32,
    pub threshold: Vec<i32>,
    /// Initial u and v of each neuron; empty when all are 0.
    pub u_init: Vec<i32>,
    pub v_init: Vec<i32>,
    pub bias: Vec<i32>,
    /// The population's STDP rule: then rows `0..input_rows` hold every target
    /// `0..n` in order (zeros too) and learning may rewrite them.
    pub stdp: Option<Stdp>,
    pub input_rows: u32,
    /// Cycles of an event whose row is also written back (learning):
    /// max(2 x words, busiest PE), one single-ported synapse memory.
    pub learn_row_cost: Vec<u32>,
}

/// A model compiled onto a checked config by a mapping: what the engine
/// runs. Borrows all three; build one per (config, model) and reuse it.
#[derive(Clone, Debug)]
pub struct Chip<'a> {
    pub hw: &'a Checked<HwConfig>,
    pub model: &'a Model,
    pub mapping: &'a Mapping,
    pub cores: Vec<CoreTables>,
    /// Per population.
    pub consts: Vec<LifConsts>,
    /// Accumulator banks: a spike lands up to `banks - 1` timesteps ahead.
    pub banks: u32,
    pub mesh: MeshParams,
    /// Bits of a spike flit: destination tile x, y, core and axon; with
    /// tree multicast, a destination-core bitmap and the source's key.
    pub flit_bits: u32,
    /// Tree multicast: the destination sets of tree flits; neuron n of
    /// population p sends groups `group_start[p][n]..group_start[p][n + 1]`
    /// (one, unless two of its rows share a core). `None` with source
    /// replication.
    pub groups: Option<std::sync::Arc<Groups>>,
    pub group_start: Vec<Vec<u32>>,
}

fn bits_for(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

/// Bits of a unicast spike flit: destination tile x, y, core and axon.
pub fn unicast_flit_bits(hw: &HwConfig, axons: u32) -> u32 {
    (bits_for(hw.mesh.0) + bits_for(hw.mesh.1) + bits_for(hw.cores_per_router) + bits_for(axons))
        .max(1)
}

/// The mesh of a config carrying flits of `flit_bits`.
pub fn mesh_params(hw: &HwConfig, flit_bits: u32) -> MeshParams {
    MeshParams {
        x: hw.mesh.0,
        y: hw.mesh.1,
        cores_per_router: hw.cores_per_router,
        buffer_depth: hw.router.buffer_depth,
        router_latency: hw.router.latency_cycles,
        link_latency: hw.router.link_latency_cycles,
        flit_cycles: flit_bits.div_ceil(hw.router.link_width_bits),
        iq: hw.router.input_queued,
    }
}

/// Which PE owns local neuron `t` of a core with `n` neurons.
pub fn pe_of(t: u32, n: u32, pes: u32, assignment: PeAssignment) -> u32 {
    match assignment {
        PeAssignment::Interleaved => t % pes,
        PeAssignment::Blocked => t / n.div_ceil(pes),
    }
}

/// Update-walk cycles of a core: every PE walks its own neurons, one per cycle.
pub fn walk_cycles(n: u32, pes: u32) -> u32 {
    n.div_ceil(pes)
}

impl<'a> Chip<'a> {
    /// Compiles per-core tables from the mapping (rows decoded from the
    /// synapse-memory image the mapper encoded).
    pub fn build(hw: &'a Checked<HwConfig>, model: &'a Model, mapping: &'a Mapping) -> Chip<'a> {
        let word_bits = hw.synapse_memory.word_bits;
        let pes = hw.core.pes;
        let mut max_axons = 1;
        let cores = mapping
            .cores
            .iter()
            .map(|cm| {
                let n = cm.n_neurons;
                max_axons = max_axons.max(cm.rows.len() as u32);
                let pop = &model.populations[cm.population as usize];
                let slots = crate::mapping::split::state_slots(model, cm.population as usize, hw);
                let mut t = CoreTables {
                    phys: cm.id,
                    population: cm.population,
                    first_neuron: cm.first_neuron,
                    n_neurons: n,
                    row_start: vec![0],
                    targets: vec![],
                    weights: vec![],
                    row_full: Vec::with_capacity(cm.rows.len()),
                    row_cost: vec![],
                    row_words: vec![],
                    row_delay: cm.rows.iter().map(|r| r.delay as u8).collect(),
                    walk: vec![],
                    update_cycles: walk_cycles(n, pes),
                    membrane_words: (n * slots).div_ceil(hw.neurons_per_membrane_word().max(1)),
                    threshold: vec![],
                    u_init: vec![],
                    v_init: vec![],
                    bias: vec![],
                    stdp: model
                        .projections
                        .iter()
                        .find(|j| j.target == cm.population as usize && j.stdp.is_some())
                        .and_then(|j| j.stdp),
                    input_rows: cm.input_rows,
                    learn_row_cost: vec![],
                };
                let plastic = t.stdp.is_some();
                let mut load = vec![0u32; pes as usize];
                let synapses: usize = cm.rows.iter().map(|r| r.nnz as usize).sum();
                t.targets.reserve_exact(synapses);
                t.weights.reserve_exact(synapses);
                let mut full = vec![0i32; if plastic { n as usize } else { 0 }];
                for axon in 0..cm.rows.len() as u32 {
                    load.iter_mut().for_each(|l| *l = 0);
                    if plastic && axon < cm.input_rows {
                        // Every target, zeros too: learning may turn any on.
                        full.iter_mut().for_each(|w| *w = 0);
                        decode_row_with(cm, axon, word_bits, |target, w| full[target as usize] = w);
                        for (target, w) in full.iter().enumerate() {
                            t.targets.push(target as u16);
                            t.weights.push(*w as i16);
                            load[pe_of(target as u32, n, pes, hw.core.pe_assignment) as usize] += 1;
                        }
                    } else {
                        decode_row_with(cm, axon, word_bits, |target, w| {
                            t.targets.push(target as u16);
                            t.weights.push(w as i16);
                            load[pe_of(target, n, pes, hw.core.pe_assignment) as usize] += 1;
                        });
                    }
                    let lo = *t.row_start.last().unwrap_or(&0) as usize;
                    let row = &t.targets[lo..];
                    t.row_full.push(
                        row.len() == n as usize
                            && row.iter().enumerate().all(|(i, &x)| x as usize == i),
                    );
                    t.row_start.push(t.targets.len() as u32);
                    let words = cm.rows[axon as usize].bits.div_ceil(word_bits);
                    let busiest = *load.iter().max().unwrap_or(&0);
                    t.row_words.push(words);
                    t.row_cost.push(words.max(busiest));
                    t.learn_row_cost.push((2 * words).max(busiest));
                }
                for k in 0..t.update_cycles {
                    for p in 0..pes {
                        let neuron = match hw.core.pe_assignment {
                            PeAssignment::Interleaved => k * pes + p,
                            PeAssignment::Blocked => p * n.div_ceil(pes) + k,
                        };
                        let owned = match hw.core.pe_assignment {
                            PeAssignment::Interleaved => neuron < n,
                            PeAssignment::Blocked => k < n.div_ceil(pes) && neuron < n,
                        };
                        if owned {
                            t.walk.push((neuron, k));
                        }
                    }
                }
                for i in 0..n {
                    t.threshold
                        .push(pop.neuron.threshold.at((cm.first_neuron + i) as usize));
                    t.bias
                        .push(pop.neuron.bias.at((cm.first_neuron + i) as usize));
                }
                let init = |p: &crate::model::Param| -> Vec<i32> {
                    if p.is_zero() {
                        vec![]
                    } else {
                        (0..n)
                            .map(|i| p.at((cm.first_neuron + i) as usize))
                            .collect()
                    }
                };
                t.u_init = init(&pop.neuron.u_init);
                t.v_init = init(&pop.neuron.v_init);
                t
            })
            .collect();
        let multicast = hw.router.multicast == Multicast::XyTree;
        let mut group_start = vec![];
        let mut groups = Groups {
            offsets: vec![0],
            ..Groups::default()
        };
        for routes in &mapping.routes[1..] {
            let mut starts = Vec::with_capacity(routes.offsets.len());
            // A core keys a tree flit to one axon, so a neuron with two rows
            // on one core (two projections, or inhibition and a projection)
            // sends one tree flit per group of distinct cores.
            let mut open: Vec<Vec<crate::mapping::Dest>> = vec![];
            for src in 0..routes.offsets.len() - 1 {
                starts.push(groups.offsets.len() as u32 - 1);
                for d in routes.of(src) {
                    match open.iter_mut().find(|g| g.iter().all(|o| o.core != d.core)) {
                        Some(g) => g.push(*d),
                        None => open.push(vec![*d]),
                    }
                }
                // A neuron without destinations keeps an (empty) key too:
                // the key field counts every neuron.
                if open.is_empty() {
                    groups.offsets.push(groups.cores.len() as u32);
                }
                for g in open.drain(..) {
                    for d in g {
                        groups.cores.push(d.core);
                        groups.axons.push(d.axon);
                    }
                    groups.offsets.push(groups.cores.len() as u32);
                }
            }
            starts.push(groups.offsets.len() as u32 - 1);
            group_start.push(starts);
        }
        let n_groups = groups.offsets.len() as u32 - 1;
        let flit_bits = if multicast {
            hw.n_cores() + bits_for(n_groups)
        } else {
            unicast_flit_bits(hw, max_axons)
        };
        Chip {
            hw,
            model,
            mapping,
            cores,
            consts: model
                .populations
                .iter()
                .map(|p| LifConsts::of(&p.neuron))
                .collect(),
            banks: mapping.schedule.banks(),
            mesh: mesh_params(hw, flit_bits),
            flit_bits,
            groups: multicast.then(|| std::sync::Arc::new(groups)),
            group_start,
        }
    }

    /// Routes of the neurons of population `p`.
    pub fn routes_of(&self, p: u32) -> &Routes {
        &self.mapping.routes[p as usize + 1]
    }
}
