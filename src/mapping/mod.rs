//! The mapper: places each layer's neurons on cores, encodes every synapse
//! row into synapse-memory words, and builds the routing tables. It refuses
//! a model that does not fit, naming the parameter and the numbers.
//!
//! Placement is contiguous: layer after layer from core 0, each layer on
//! cores of its own, in chunks of `core.neurons`. Cores are numbered
//! row-major over tiles, `core = (y * X + x) * cores_per_router + c`.

pub mod encoding;

use crate::config::{Encoding, HwConfig};
use crate::error::{Error, Result};
use crate::model::{for_each_synapse, Model};
use bitvec::prelude::*;
pub use encoding::RowCode;

/// One routing-table entry: where a spike goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dest {
    pub core: u32,
    pub axon: u32,
}

/// Fan-out of every source neuron of one population (the inputs, or a
/// layer's neurons): `dests[offsets[s]..offsets[s + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    pub offsets: Vec<u32>,
    pub dests: Vec<Dest>,
}

impl Routes {
    pub fn of(&self, source: usize) -> &[Dest] {
        &self.dests[self.offsets[source] as usize..self.offsets[source + 1] as usize]
    }
}

/// Where one axon's row lives in synapse memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// Source neuron (index within the previous population).
    pub source: u32,
    pub word_offset: u32,
    pub bits: u32,
    pub nnz: u32,
    /// A lateral-inhibition row: no synapse memory, every local neuron but
    /// the source gets the core's `inhibition` weight.
    pub implicit: bool,
}

#[derive(Clone, Debug)]
pub struct CoreMapping {
    pub layer: u32,
    pub first_neuron: u32,
    pub n_neurons: u32,
    /// The encoding actually used (never `Auto`).
    pub encoding: Encoding,
    pub code: RowCode,
    /// Indexed by axon.
    pub rows: Vec<Row>,
    /// The synapse-memory image of the core.
    pub memory: BitVec<u64, Lsb0>,
    pub words_used: u32,
    /// Routing-table entries of the neurons on this core.
    pub routing_entries: u32,
    /// Weight of the implicit lateral-inhibition rows (negative), 0 if none.
    pub inhibition: i32,
    /// Rows of the layer's input (the inhibition rows follow them).
    pub input_rows: u32,
}

#[derive(Clone, Debug)]
pub struct Mapping {
    /// The cores in use, core id = index.
    pub cores: Vec<CoreMapping>,
    /// First core of every layer; a layer's cores are consecutive.
    pub layer_first_core: Vec<u32>,
    pub layer_n_cores: Vec<u32>,
    /// Neurons per core used for every layer (its chunk size).
    pub chunk: u32,
    /// `routes[0]`: the inputs; `routes[l + 1]`: the neurons of layer l.
    pub routes: Vec<Routes>,
}

impl Mapping {
    /// (core, local index) of neuron `n` of layer `l`.
    pub fn place(&self, layer: usize, neuron: u32) -> (u32, u32) {
        (
            self.layer_first_core[layer] + neuron / self.chunk,
            neuron % self.chunk,
        )
    }
}

/// Maps `model` onto `hw`; `file` names the model in errors.
pub fn map(model: &Model, hw: &HwConfig, file: &str) -> Result<Mapping> {
    let shapes = model.shapes();
    let chunk = hw.core.neurons;
    let fit = |msg: String| Error::DoesNotFit {
        file: file.to_string(),
        msg,
    };

    // Placement.
    let mut layer_first_core = vec![];
    let mut layer_n_cores = vec![];
    let mut next = 0u32;
    for s in &shapes {
        let n = s.output.len() as u32;
        layer_first_core.push(next);
        let k = n.div_ceil(chunk);
        layer_n_cores.push(k);
        next += k;
    }
    if next > hw.n_cores() {
        let per_layer: Vec<String> = shapes
            .iter()
            .zip(&layer_n_cores)
            .map(|(s, k)| format!("{} neurons -> {k}", s.output.len()))
            .collect();
        return Err(fit(format!(
            "needs {next} cores at core.neurons = {chunk} ({}), the chip has {} (mesh {}x{} x cores_per_router {})",
            per_layer.join(", "),
            hw.n_cores(),
            hw.mesh.0,
            hw.mesh.1,
            hw.cores_per_router
        )));
    }

    let mut cores = vec![];
    for (l, s) in shapes.iter().enumerate() {
        let n = s.output.len() as u32;
        let layer = &model.layers[l];
        let words_of_state =
            1 + (layer.neuron.du != 4096) as u32 + layer.neuron.adaptation.is_some() as u32;
        let bits_needed = words_of_state * layer.neuron.state_bits as u32;
        if bits_needed > hw.membrane_sram.state_bits {
            return Err(fit(format!(
                "layer {l} needs {bits_needed} bits of neuron state (state_bits {} for v{}{}), membrane_sram.state_bits is {}",
                layer.neuron.state_bits,
                if layer.neuron.du == 4096 { "" } else { ", u" },
                if layer.neuron.adaptation.is_some() { ", theta" } else { "" },
                hw.membrane_sram.state_bits
            )));
        }
        if hw.synapse_memory.word_bits < layer.weight_bits as u32 {
            return Err(fit(format!(
                "layer {l} has {}-bit weights, synapse_memory.word_bits is {}",
                layer.weight_bits, hw.synapse_memory.word_bits
            )));
        }
        for k in 0..layer_n_cores[l] {
            let first = k * chunk;
            cores.push(CoreMapping {
                layer: l as u32,
                first_neuron: first,
                n_neurons: chunk.min(n - first),
                encoding: Encoding::Dense,
                code: RowCode::new(Encoding::Dense, layer.weight_bits, chunk.min(n - first)),
                rows: vec![],
                memory: BitVec::new(),
                words_used: 0,
                routing_entries: 0,
                inhibition: -layer.lateral_inhibition,
                input_rows: 0,
            });
        }
    }

    // Rows and routes, layer by layer, source-major.
    let mut routes = vec![];
    let mut row_entries: Vec<Vec<Vec<(u32, i32)>>> = vec![vec![]; cores.len()];
    for (l, s) in shapes.iter().enumerate() {
        let layer = &model.layers[l];
        let mut per_src: Vec<Vec<(u32, i32)>> = vec![vec![]; s.input.len()];
        if layer.stdp.is_some() {
            // Learning may turn any synapse on: every one is stored, zeros too.
            let n_out = s.output.len();
            for (src, syn) in per_src.iter_mut().enumerate() {
                syn.extend((0..n_out).map(|o| (o as u32, layer.weights[o * s.input.len() + src])));
            }
        } else {
            for_each_synapse(layer, s, |src, dst, w| per_src[src].push((dst as u32, w)));
        }
        let mut r = Routes {
            offsets: vec![0],
            dests: vec![],
        };
        for (src, syn) in per_src.iter_mut().enumerate() {
            syn.sort_unstable_by_key(|e| e.0);
            let mut i = 0;
            while i < syn.len() {
                let core_k = syn[i].0 / chunk;
                let core = layer_first_core[l] + core_k;
                let mut j = i;
                while j < syn.len() && syn[j].0 / chunk == core_k {
                    j += 1;
                }
                let entries: Vec<(u32, i32)> =
                    syn[i..j].iter().map(|(t, w)| (t % chunk, *w)).collect();
                let axon = cores[core as usize].rows.len() as u32;
                cores[core as usize].rows.push(Row {
                    source: src as u32,
                    word_offset: 0,
                    bits: 0,
                    nnz: entries.len() as u32,
                    implicit: false,
                });
                row_entries[core as usize].push(entries);
                r.dests.push(Dest { core, axon });
                i = j;
            }
            r.offsets.push(r.dests.len() as u32);
        }
        // The routing table of layer l - 1's neurons lives on their cores.
        if l > 0 {
            for src in 0..s.input.len() {
                let (core, _) = place_raw(&layer_first_core, chunk, l - 1, src as u32);
                cores[core as usize].routing_entries += r.offsets[src + 1] - r.offsets[src];
            }
        }
        routes.push(r);
    }
    routes.push(Routes {
        offsets: vec![0; shapes.last().map(|s| s.output.len() + 1).unwrap_or(1)],
        dests: vec![],
    });
    for core in cores.iter_mut() {
        core.input_rows = core.rows.len() as u32;
    }

    // Lateral inhibition: each neuron's spike also goes to every core of
    // its own layer, to an implicit row of its own.
    for (l, s) in shapes.iter().enumerate() {
        if model.layers[l].lateral_inhibition == 0 {
            continue;
        }
        let n = s.output.len();
        let layer_cores = layer_first_core[l]..layer_first_core[l] + layer_n_cores[l];
        let old = std::mem::take(&mut routes[l + 1]);
        let mut r = Routes {
            offsets: vec![0],
            dests: vec![],
        };
        for src in 0..n {
            r.dests.extend_from_slice(old.of(src));
            for core in layer_cores.clone() {
                let cm = &mut cores[core as usize];
                let own = place_raw(&layer_first_core, chunk, l, src as u32).0 == core;
                cm.rows.push(Row {
                    source: src as u32,
                    word_offset: 0,
                    bits: 0,
                    nnz: cm.n_neurons - own as u32,
                    implicit: true,
                });
                r.dests.push(Dest {
                    core,
                    axon: cm.input_rows + src as u32,
                });
                row_entries[core as usize].push(vec![]);
            }
            let (src_core, _) = place_raw(&layer_first_core, chunk, l, src as u32);
            cores[src_core as usize].routing_entries += layer_n_cores[l];
            r.offsets.push(r.dests.len() as u32);
        }
        routes[l + 1] = r;
    }

    // Encode every core with its chosen encoding.
    let word_bits = hw.synapse_memory.word_bits;
    for (c, core) in cores.iter_mut().enumerate() {
        let layer = &model.layers[core.layer as usize];
        let entries = &row_entries[c];
        let plastic = layer.stdp.is_some();
        let candidates: &[Encoding] = match hw.synapse_memory.encoding {
            _ if plastic => &[Encoding::Dense],
            Encoding::Auto => &[Encoding::Csr, Encoding::Bitmask, Encoding::Dense],
            Encoding::Dense => &[Encoding::Dense],
            Encoding::Bitmask => &[Encoding::Bitmask],
            Encoding::Csr => &[Encoding::Csr],
        };
        let binary_pruned =
            layer.weight_bits == 1 && entries.iter().any(|e| e.len() < core.n_neurons as usize);
        let mut best: Option<(u64, Encoding)> = None;
        for &enc in candidates {
            if enc == Encoding::Dense && binary_pruned {
                continue;
            }
            let code = RowCode::new(enc, layer.weight_bits, core.n_neurons);
            let words: u64 = entries
                .iter()
                .zip(&core.rows)
                .filter(|(_, r)| !r.implicit)
                .map(|(e, _)| code.row_bits(e.len() as u32).div_ceil(word_bits) as u64)
                .sum();
            if best.is_none_or(|(w, _)| words < w) {
                best = Some((words, enc));
            }
        }
        let Some((words, enc)) = best else {
            return Err(fit(format!(
                "core {c} (layer {}): dense encoding cannot hold pruned binary weights; set synapse_memory.encoding to bitmask, csr or auto",
                core.layer
            )));
        };
        let capacity_bits = hw.synapse_memory.bytes * 8;
        if words * word_bits as u64 > capacity_bits {
            return Err(fit(format!(
                "core {c} (layer {}): synapse rows need {} bytes ({words} words of {word_bits} bits, {enc:?} encoding), synapse_memory.bytes is {}",
                core.layer,
                words * word_bits as u64 / 8,
                hw.synapse_memory.bytes
            )));
        }
        core.encoding = enc;
        core.code = RowCode::new(enc, layer.weight_bits, core.n_neurons);
        core.memory = bitvec![u64, Lsb0; 0; (words * word_bits as u64) as usize];
        let mut word = 0u32;
        for (row, e) in core.rows.iter_mut().zip(entries) {
            if row.implicit {
                continue;
            }
            row.word_offset = word;
            row.bits = core.code.row_bits(e.len() as u32);
            let start = word as usize * word_bits as usize;
            core.code
                .encode(e, &mut core.memory[start..start + row.bits as usize]);
            word += row.bits.div_ceil(word_bits);
        }
        core.words_used = word;
        if core.routing_entries > hw.routing_table.entries {
            return Err(fit(format!(
                "core {c} (layer {}): its neurons need {} routing-table entries, routing_table.entries is {}",
                core.layer, core.routing_entries, hw.routing_table.entries
            )));
        }
    }

    Ok(Mapping {
        cores,
        layer_first_core,
        layer_n_cores,
        chunk,
        routes,
    })
}

fn place_raw(first: &[u32], chunk: u32, layer: usize, neuron: u32) -> (u32, u32) {
    (first[layer] + neuron / chunk, neuron % chunk)
}

/// Decodes the row of `axon` on `core` from the memory image:
/// (local target, weight) pairs in target order.
pub fn decode_row(core: &CoreMapping, axon: u32, word_bits: u32) -> Vec<(u32, i32)> {
    let row = core.rows[axon as usize];
    if row.implicit {
        let own = row.source.checked_sub(core.first_neuron);
        return (0..core.n_neurons)
            .filter(|t| Some(*t) != own)
            .map(|t| (t, core.inhibition))
            .collect();
    }
    let start = row.word_offset as usize * word_bits as usize;
    core.code
        .decode(&core.memory[start..start + row.bits as usize], row.nnz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gen::{generate, GenSpec};

    fn hw() -> HwConfig {
        HwConfig::preset("tiny").unwrap()
    }

    #[test]
    fn every_encoding_decodes_to_the_model_weights() {
        let m = generate(&GenSpec {
            layers: vec![40, 50, 10],
            sparsity: 0.7,
            ..GenSpec::default()
        });
        for enc in ["dense", "bitmask", "csr", "auto"] {
            let hw = hw()
                .with_overrides("t", &[format!("synapse_memory.encoding={enc}")])
                .unwrap();
            let map = map(&m, &hw, "m").unwrap();
            let shapes = m.shapes();
            for (l, s) in shapes.iter().enumerate() {
                let mut expected = vec![];
                for_each_synapse(&m.layers[l], s, |src, dst, w| {
                    expected.push((src as u32, dst as u32, w))
                });
                expected.sort_unstable();
                let mut got = vec![];
                for (c, core) in map
                    .cores
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.layer == l as u32)
                {
                    for axon in 0..core.rows.len() as u32 {
                        let src = core.rows[axon as usize].source;
                        assert!(map.routes[l].of(src as usize).contains(&Dest {
                            core: c as u32,
                            axon
                        }));
                        for (t, w) in decode_row(core, axon, hw.synapse_memory.word_bits) {
                            got.push((src, core.first_neuron + t, w));
                        }
                    }
                }
                got.sort_unstable();
                assert_eq!(got, expected, "{enc} layer {l}");
            }
        }
    }

    #[test]
    fn too_many_neurons_names_the_parameter_and_numbers() {
        let m = generate(&GenSpec {
            layers: vec![10, 200, 10],
            ..GenSpec::default()
        });
        let e = map(&m, &hw(), "m.ron").unwrap_err().to_string();
        assert!(
            e.contains("needs 8 cores")
                && e.contains("core.neurons = 32")
                && e.contains("the chip has 4"),
            "{e}"
        );
    }

    #[test]
    fn rows_larger_than_synapse_memory_are_refused() {
        let m = generate(&GenSpec {
            layers: vec![400, 20, 10],
            sparsity: 0.0,
            weight_bits: 8,
            ..GenSpec::default()
        });
        let hw = hw()
            .with_overrides("t", &["synapse_memory.bytes=1024".into()])
            .unwrap();
        let e = map(&m, &hw, "m.ron").unwrap_err().to_string();
        assert!(
            e.contains("synapse_memory.bytes is 1024") && e.contains("core 0"),
            "{e}"
        );
    }

    #[test]
    fn auto_picks_the_smallest_encoding() {
        let m = generate(&GenSpec {
            layers: vec![64, 32, 10],
            sparsity: 0.95,
            ..GenSpec::default()
        });
        let map_with = |e: &str| {
            let hw = hw()
                .with_overrides("t", &[format!("synapse_memory.encoding={e}")])
                .unwrap();
            map(&m, &hw, "m").unwrap().cores[0].words_used
        };
        let auto = map_with("auto");
        assert_eq!(
            auto,
            ["dense", "bitmask", "csr"]
                .iter()
                .map(|e| map_with(e))
                .min()
                .unwrap()
        );
        assert!(map_with("csr") < map_with("dense"));
    }

    #[test]
    fn pruned_binary_weights_cannot_use_dense() {
        let m = generate(&GenSpec {
            layers: vec![16, 8, 2],
            sparsity: 0.5,
            weight_bits: 1,
            ..GenSpec::default()
        });
        let hw = hw()
            .with_overrides("t", &["synapse_memory.encoding=dense".into()])
            .unwrap();
        assert!(map(&m, &hw, "m")
            .unwrap_err()
            .to_string()
            .contains("binary"));
        let auto = map(&m, &HwConfig::preset("tiny").unwrap(), "m").unwrap();
        assert_ne!(auto.cores[0].encoding, Encoding::Dense);
    }
}
