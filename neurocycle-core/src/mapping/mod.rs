//! The mapper: splits each population over as many cores as every per-core
//! limit needs (`split`), places the cores on the chip (`place`), encodes
//! every synapse row into synapse-memory words (`encoding`) and builds the
//! routing tables. It refuses a model only when the whole chip is too
//! small, naming what it would need.
//!
//! An axon is a (projection, source neuron, core) triple with at least one
//! synapse; a core numbers its axons in projection order, then source
//! order, then its lateral-inhibition rows. Cores are numbered row-major
//! over tiles, `core = (y * X + x) * cores_per_router + c`.

pub mod encoding;
pub mod place;
pub mod split;

use crate::config::{Checked, Encoding, HwConfig};
use crate::error::{Error, Result};
use crate::model::synapses::for_each;
use crate::model::{Connectivity, Model, Schedule, Source};
use bitvec::prelude::*;
pub use encoding::RowCode;
pub use split::Bound;

/// One routing-table entry: where a spike goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dest {
    /// Physical core id.
    pub core: u32,
    pub axon: u32,
}

/// Fan-out of every neuron of one source (the inputs, or a population):
/// `dests[offsets[s]..offsets[s + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    pub offsets: Vec<u32>,
    pub dests: Vec<Dest>,
}

impl Routes {
    #[inline]
    pub fn of(&self, source: usize) -> &[Dest] {
        &self.dests[self.offsets[source] as usize..self.offsets[source + 1] as usize]
    }
}

/// Where one axon's row lives in synapse memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// Source neuron (index within its source).
    pub source: u32,
    pub word_offset: u32,
    pub bits: u32,
    pub nnz: u32,
    /// Which of the core's codes (one per projection into the population).
    pub code: u16,
    /// Timesteps from the spike to its effect.
    pub delay: u16,
    /// A lateral-inhibition row: no synapse memory, every local neuron but
    /// the source gets the core's `inhibition` weight.
    pub implicit: bool,
}

/// What the mapper put on one physical core.
#[derive(Clone, Debug)]
pub struct CoreMapping {
    /// Physical core id.
    pub id: u32,
    pub population: u32,
    pub first_neuron: u32,
    pub n_neurons: u32,
    /// The encoding actually used (never `Auto`).
    pub encoding: Encoding,
    /// One code per projection into the population, in projection order.
    pub codes: Vec<RowCode>,
    /// Indexed by axon.
    pub rows: Vec<Row>,
    /// The synapse-memory image of the core.
    pub memory: BitVec<u64, Lsb0>,
    pub words_used: u32,
    /// Routing-table entries of the neurons on this core.
    pub routing_entries: u32,
    /// Weight of the implicit lateral-inhibition rows (negative), 0 if none.
    pub inhibition: i32,
    /// Rows of projections (the inhibition rows follow them).
    pub input_rows: u32,
    /// The per-core limit that ended the core's neuron range.
    pub bound: Bound,
}

/// A model placed on a chip: populations split over cores, cores placed on
/// tiles, synapse rows encoded, routing tables built. Made by [`map`].
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The cores in use, population after population.
    pub cores: Vec<CoreMapping>,
    /// The cores of every population: indices into `cores`.
    pub pop_cores: Vec<std::ops::Range<u32>>,
    /// `routes[0]`: the inputs; `routes[p + 1]`: the neurons of population p.
    pub routes: Vec<Routes>,
    /// Index into `cores` of every physical core (`u32::MAX` if unused).
    pub index_of: Vec<u32>,
    pub schedule: Schedule,
}

impl Mapping {
    /// (index into `cores`, local index) of neuron `neuron` of population `p`.
    pub fn place(&self, p: usize, neuron: u32) -> (u32, u32) {
        let r = self.pop_cores[p].clone();
        let cores = &self.cores[r.start as usize..r.end as usize];
        let k = cores.partition_point(|c| c.first_neuron <= neuron) - 1;
        (r.start + k as u32, neuron - cores[k].first_neuron)
    }
}

/// Rows and routes under construction.
struct Build {
    cores: Vec<CoreMapping>,
    /// (local target, weight) of every row, per core; `row_start[c][a]`
    /// is where axon a's begin.
    entries: Vec<Vec<(u32, i32)>>,
    row_start: Vec<Vec<u32>>,
    /// Per source slot (0 input, p + 1 population p): destinations, with
    /// the next free place of every neuron.
    dests: Vec<Vec<Dest>>,
    cursor: Vec<Vec<u32>>,
}

impl Build {
    /// Adds the rows of source neuron `i` of `slot` from `syn`
    /// ((target, weight), any order) on the target's cores.
    #[allow(clippy::too_many_arguments)]
    fn rows_of(
        &mut self,
        slot: usize,
        i: usize,
        syn: &mut [(u32, i32)],
        core_of: &[u32],
        code: u16,
        delay: u16,
    ) {
        if !syn.is_sorted_by_key(|e| e.0) {
            syn.sort_unstable_by_key(|e| e.0);
        }
        let mut k = 0;
        while k < syn.len() {
            let c = core_of[syn[k].0 as usize] as usize;
            let first = self.cores[c].first_neuron;
            let start = self.entries[c].len() as u32;
            let mut nnz = 0;
            while k < syn.len() && core_of[syn[k].0 as usize] as usize == c {
                self.entries[c].push((syn[k].0 - first, syn[k].1));
                nnz += 1;
                k += 1;
            }
            self.push_row(slot, i, c, code, delay, nnz, start, false);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        slot: usize,
        i: usize,
        c: usize,
        code: u16,
        delay: u16,
        nnz: u32,
        start: u32,
        implicit: bool,
    ) {
        let core = &mut self.cores[c];
        let axon = core.rows.len() as u32;
        core.rows.push(Row {
            source: i as u32,
            word_offset: 0,
            bits: 0,
            nnz,
            code,
            delay,
            implicit,
        });
        self.row_start[c].push(start);
        let at = &mut self.cursor[slot][i];
        self.dests[slot][*at as usize] = Dest {
            core: c as u32,
            axon,
        };
        *at += 1;
    }
}

/// What to change so `cores` logical cores fit: the smallest near-square
/// mesh that holds them, or, past the largest mesh, the limits to raise.
fn what_fits(cores: u64, cores_per_router: u64) -> String {
    let tiles = cores.div_ceil(cores_per_router);
    let x = (1..=64u64).find(|x| x * x >= tiles).unwrap_or(65);
    if x > 64 {
        return format!("no mesh up to 64x64 holds them at cores_per_router {cores_per_router}: raise cores_per_router or the binding limits named above");
    }
    let y = tiles.div_ceil(x);
    format!("--set mesh={x}x{y} holds them, or raise the binding limits named above")
}

/// Maps `model` onto `hw`; `file` names the model in errors.
pub fn map(model: &Model, hw: &Checked<HwConfig>, file: &str) -> Result<Mapping> {
    let fit = |msg: String| Error::DoesNotFit {
        file: file.to_string(),
        msg,
    };
    let schedule = Schedule::of(model).map_err(fit)?;
    if schedule.banks() > hw.core.accumulator_banks {
        return Err(fit(format!(
            "its delays (up to {} timesteps) need {} accumulator banks, core.accumulator_banks is {}",
            schedule.max_delay,
            schedule.banks(),
            hw.core.accumulator_banks
        )));
    }
    for (j, proj) in model.projections.iter().enumerate() {
        if hw.synapse_memory.word_bits < proj.weight_bits as u32 {
            return Err(fit(format!(
                "projection {j} (into {}) has {}-bit weights, synapse_memory.word_bits is {}",
                model.population_name(proj.target),
                proj.weight_bits,
                hw.synapse_memory.word_bits
            )));
        }
    }

    // Split every population, then check the chip holds the cores.
    let spans = split::split_all(model, hw).map_err(fit)?;
    let (core_of, pop_n_cores, n_logical) = split::numbering(model, &spans);
    if n_logical as u32 > hw.n_cores() {
        let per_pop: Vec<String> = spans
            .iter()
            .enumerate()
            .map(|(p, sp)| {
                let mut bounds: Vec<String> = sp
                    .iter()
                    .filter(|s| s.bound != Bound::PopulationEnd)
                    .map(|s| s.bound.parameter(hw))
                    .collect();
                bounds.dedup();
                format!(
                    "{}: {} neurons -> {} cores{}",
                    model.population_name(p),
                    model.populations[p].len(),
                    sp.len(),
                    if bounds.is_empty() {
                        String::new()
                    } else {
                        format!(" (bound by {})", bounds.join(", "))
                    }
                )
            })
            .collect();
        return Err(fit(format!(
            "needs {n_logical} cores ({}), the chip has {} (mesh {}x{} x cores_per_router {}); {}",
            per_pop.join("; "),
            hw.n_cores(),
            hw.mesh.0,
            hw.mesh.1,
            hw.cores_per_router,
            what_fits(n_logical as u64, hw.cores_per_router as u64)
        )));
    }

    let plastic_pop: Vec<bool> = (0..model.populations.len())
        .map(|p| {
            model
                .projections
                .iter()
                .any(|j| j.target == p && j.stdp.is_some())
        })
        .collect();
    let mut pop_cores = vec![];
    let mut cores = Vec::with_capacity(n_logical);
    for (p, sp) in spans.iter().enumerate() {
        pop_cores.push(cores.len() as u32..(cores.len() + sp.len()) as u32);
        let codes: Vec<RowCode> = model
            .projections
            .iter()
            .enumerate()
            .filter(|(_, j)| j.target == p)
            .map(|(j, proj)| {
                RowCode::with_zeros(
                    Encoding::Dense,
                    proj.weight_bits,
                    0,
                    split::stores_zeros(model, j),
                )
            })
            .collect();
        for s in sp {
            cores.push(CoreMapping {
                id: 0,
                population: p as u32,
                first_neuron: s.first,
                n_neurons: s.n,
                encoding: Encoding::Dense,
                codes: codes
                    .iter()
                    .map(|c| RowCode {
                        n: s.n,
                        index_bits: encoding::index_bits(s.n),
                        ..*c
                    })
                    .collect(),
                rows: vec![],
                memory: BitVec::new(),
                words_used: 0,
                routing_entries: 0,
                inhibition: -model.populations[p].lateral_inhibition,
                input_rows: 0,
                bound: s.bound,
            });
        }
    }

    // Rows and routing tables, projection by projection, source-major.
    let counts = split::fanout(model, &core_of, &pop_n_cores, n_logical);
    let offsets: Vec<Vec<u32>> = counts
        .iter()
        .map(|c| {
            std::iter::once(0)
                .chain(c.iter().scan(0u32, |at, x| {
                    *at += x;
                    Some(*at)
                }))
                .collect()
        })
        .collect();
    let mut b = Build {
        entries: vec![vec![]; cores.len()],
        row_start: vec![vec![]; cores.len()],
        cores,
        dests: offsets
            .iter()
            .map(|o| {
                vec![Dest { core: 0, axon: 0 }; *o.last().expect("one offset at least") as usize]
            })
            .collect(),
        cursor: offsets.iter().map(|o| o[..o.len() - 1].to_vec()).collect(),
    };
    let mut code_slot = vec![0u16; model.populations.len()];
    for (j, proj) in model.projections.iter().enumerate() {
        let p = proj.target;
        let code = code_slot[p];
        code_slot[p] += 1;
        let delay = schedule.delay[j] as u16;
        let slot = match proj.source {
            Source::Input => 0,
            Source::Population(s) => s + 1,
        };
        let tgt_cores = &core_of[p];
        if let (Some(_), Connectivity::Dense { weights }) = (&proj.stdp, &proj.conn) {
            // Learning may turn any synapse on: every one is stored, zeros too.
            let inputs = model.source_len(proj.source);
            for i in 0..inputs {
                for c in pop_cores[p].clone() {
                    let c = c as usize;
                    let (first, n) = (b.cores[c].first_neuron, b.cores[c].n_neurons);
                    let start = b.entries[c].len() as u32;
                    for t in 0..n {
                        let w = weights[(first + t) as usize * inputs + i];
                        b.entries[c].push((t, w));
                    }
                    b.push_row(slot, i, c, code, delay, n, start, false);
                }
            }
            continue;
        }
        let mut buf: Vec<(u32, i32)> = vec![];
        let mut cur = usize::MAX;
        for_each(
            proj.conn.view(),
            model.source_shape(proj.source),
            model.populations[p].shape,
            |i, t, w| {
                if i != cur {
                    if cur != usize::MAX {
                        b.rows_of(slot, cur, &mut buf, tgt_cores, code, delay);
                    }
                    buf.clear();
                    cur = i;
                }
                buf.push((t as u32, w));
            },
        );
        if cur != usize::MAX {
            b.rows_of(slot, cur, &mut buf, tgt_cores, code, delay);
        }
    }
    for c in b.cores.iter_mut() {
        c.input_rows = c.rows.len() as u32;
    }
    // Lateral inhibition: each neuron's spike also goes to every core of
    // its own population, to an implicit row of its own (delay 1).
    for (p, pop) in model.populations.iter().enumerate() {
        if pop.lateral_inhibition == 0 {
            continue;
        }
        for (i, &own) in core_of[p].iter().enumerate() {
            for c in pop_cores[p].clone() {
                let nnz = b.cores[c as usize].n_neurons - (c == own) as u32;
                b.push_row(p + 1, i, c as usize, 0, 1, nnz, 0, true);
            }
        }
    }
    for (p, sp) in spans.iter().enumerate() {
        for (k, s) in sp.iter().enumerate() {
            let c = pop_cores[p].start as usize + k;
            let r = s.first as usize..(s.first + s.n) as usize;
            b.cores[c].routing_entries = counts[p + 1][r].iter().sum();
        }
    }

    // Encode every core with its chosen encoding.
    let word_bits = hw.synapse_memory.word_bits;
    for (c, core) in b.cores.iter_mut().enumerate() {
        let entries = &b.entries[c];
        let allowed = split::allowed_encodings(hw, plastic_pop[core.population as usize]);
        let mut best: Option<(u64, Encoding)> = None;
        for &enc in allowed {
            let codes: Vec<RowCode> = core
                .codes
                .iter()
                .map(|k| RowCode {
                    encoding: enc,
                    ..*k
                })
                .collect();
            let mut words = 0u64;
            let mut holds = true;
            for r in core.rows.iter().filter(|r| !r.implicit) {
                let code = &codes[r.code as usize];
                if enc == Encoding::Dense {
                    let full = r.nnz == core.n_neurons;
                    if !RowCode::dense_holds(code.dense_bits as u8, full, code.stores_zeros) {
                        holds = false;
                        break;
                    }
                }
                words += code.row_bits(r.nnz).div_ceil(word_bits) as u64;
            }
            if holds && best.is_none_or(|(w, _)| words < w) {
                best = Some((words, enc));
            }
        }
        let Some((words, enc)) = best else {
            return Err(fit(format!(
                "core {c} (population {}): dense encoding cannot hold pruned binary weights; set synapse_memory.encoding to bitmask, csr or auto",
                model.population_name(core.population as usize)
            )));
        };
        let capacity_bits = hw.synapse_memory.bytes * 8;
        if words * word_bits as u64 > capacity_bits {
            return Err(fit(format!(
                "core {c} (population {}): synapse rows need {} bytes ({words} words of {word_bits} bits, {enc:?} encoding), synapse_memory.bytes is {}",
                model.population_name(core.population as usize),
                words * word_bits as u64 / 8,
                hw.synapse_memory.bytes
            )));
        }
        core.encoding = enc;
        for code in core.codes.iter_mut() {
            code.encoding = enc;
        }
        core.memory = bitvec![u64, Lsb0; 0; (words * word_bits as u64) as usize];
        let mut word = 0u32;
        for (a, row) in core.rows.iter_mut().enumerate() {
            if row.implicit {
                continue;
            }
            let code = core.codes[row.code as usize];
            row.word_offset = word;
            row.bits = code.row_bits(row.nnz);
            let start = word as usize * word_bits as usize;
            let e0 = b.row_start[c][a] as usize;
            code.encode(
                &entries[e0..e0 + row.nnz as usize],
                core.memory.as_raw_mut_slice(),
                start,
            );
            word += row.bits.div_ceil(word_bits);
        }
        core.words_used = word;
        if core.routing_entries > hw.routing_table.entries {
            return Err(fit(format!(
                "core {c} (population {}): its neurons need {} routing-table entries, routing_table.entries is {}",
                model.population_name(core.population as usize),
                core.routing_entries,
                hw.routing_table.entries
            )));
        }
    }
    drop(b.entries);

    // Placement: traffic between cores is the routing entries from one
    // core's neurons to the other, both ways.
    let mut pairs: std::collections::HashMap<(u32, u32), u64> = Default::default();
    let locality = hw.mapping.policy == crate::config::Placement::Locality;
    for (p, d) in b.dests.iter().enumerate().skip(1).filter(|_| locality) {
        let offs = &offsets[p];
        for i in 0..offs.len() - 1 {
            let from = core_of[p - 1][i];
            for dest in &d[offs[i] as usize..offs[i + 1] as usize] {
                if dest.core != from {
                    let key = (from.min(dest.core), from.max(dest.core));
                    *pairs.entry(key).or_default() += 1;
                }
            }
        }
    }
    let mut traffic: place::Traffic = vec![vec![]; n_logical];
    for ((a, c), w) in pairs {
        traffic[a as usize].push((c, w));
        traffic[c as usize].push((a, w));
    }
    for t in traffic.iter_mut() {
        t.sort_unstable();
    }
    let phys = place::place(hw, &traffic);
    let mut index_of = vec![u32::MAX; hw.n_cores() as usize];
    for (c, core) in b.cores.iter_mut().enumerate() {
        core.id = phys[c];
        index_of[phys[c] as usize] = c as u32;
    }
    let routes = b
        .dests
        .into_iter()
        .zip(offsets)
        .map(|(mut dests, offsets)| {
            for d in dests.iter_mut() {
                d.core = phys[d.core as usize];
            }
            Routes { offsets, dests }
        })
        .collect();
    Ok(Mapping {
        cores: b.cores,
        pop_cores,
        routes,
        index_of,
        schedule,
    })
}

/// Decodes the row of `axon` on `core` from the memory image, calling
/// `f(local target, weight)` in target order.
pub fn decode_row_with(core: &CoreMapping, axon: u32, word_bits: u32, mut f: impl FnMut(u32, i32)) {
    let row = core.rows[axon as usize];
    if row.implicit {
        let own = row.source.checked_sub(core.first_neuron);
        for t in (0..core.n_neurons).filter(|t| Some(*t) != own) {
            f(t, core.inhibition);
        }
        return;
    }
    let start = row.word_offset as usize * word_bits as usize;
    core.codes[row.code as usize].decode_with(core.memory.as_raw_slice(), start, row.nnz, f);
}

/// [`decode_row_with`] into a list.
pub fn decode_row(core: &CoreMapping, axon: u32, word_bits: u32) -> Vec<(u32, i32)> {
    let mut out = vec![];
    decode_row_with(core, axon, word_bits, |t, w| out.push((t, w)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gen::{generate, GenSpec};

    fn hw() -> Checked<HwConfig> {
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
            for (j, proj) in m.projections.iter().enumerate() {
                let mut expected = vec![];
                for_each(
                    proj.conn.view(),
                    m.source_shape(proj.source),
                    m.populations[proj.target].shape,
                    |src, dst, w| expected.push((src as u32, dst as u32, w)),
                );
                expected.sort_unstable();
                let mut got = vec![];
                for core in map
                    .cores
                    .iter()
                    .filter(|c| c.population == proj.target as u32)
                {
                    for axon in 0..core.rows.len() as u32 {
                        let src = core.rows[axon as usize].source;
                        assert!(map.routes[j].of(src as usize).contains(&Dest {
                            core: core.id,
                            axon
                        }));
                        for (t, w) in decode_row(core, axon, hw.synapse_memory.word_bits) {
                            got.push((src, core.first_neuron + t, w));
                        }
                    }
                }
                got.sort_unstable();
                assert_eq!(got, expected, "{enc} projection {j}");
            }
        }
    }

    #[test]
    fn a_chip_too_small_names_the_cores_needed_and_the_bound() {
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
    fn a_population_too_big_for_synapse_memory_is_split_further() {
        let m = generate(&GenSpec {
            layers: vec![400, 20, 10],
            sparsity: 0.0,
            weight_bits: 8,
            ..GenSpec::default()
        });
        // 400 rows of 8-bit weights, one per input: up to 4 neurons a row
        // fits a 32-bit word (dense), so 400 words = 1,600 bytes of the
        // 2,048; a 5th neuron needs a second word per row in every encoding.
        let big = hw()
            .with_overrides(
                "t",
                &["synapse_memory.bytes=2048".into(), "mesh=4x4".into()],
            )
            .unwrap();
        let mapped = map(&m, &big, "m.ron").unwrap();
        let first: Vec<_> = mapped.cores.iter().filter(|c| c.population == 0).collect();
        assert_eq!(first.len(), 5);
        for (k, c) in first.iter().enumerate() {
            assert_eq!(c.n_neurons, 4);
            let want = if k == 4 {
                Bound::PopulationEnd
            } else {
                Bound::SynapseMemory
            };
            assert_eq!(c.bound, want, "core {k}");
        }
        for c in &mapped.cores {
            assert!(c.words_used as u64 * 32 <= 2048 * 8, "core {}", c.id);
        }
        // On the 2x2 chip it does not fit, and the error says why.
        let small = hw()
            .with_overrides("t", &["synapse_memory.bytes=2048".into()])
            .unwrap();
        let e = map(&m, &small, "m.ron").unwrap_err().to_string();
        assert!(
            e.contains("synapse_memory.bytes = 2048") && e.contains("needs 6 cores"),
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
