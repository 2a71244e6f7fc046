//! The mapper splits populations by every per-core limit: whatever it
//! returns holds each limit on each core, places every neuron exactly
//! once, and routes every synapse; when it refuses, the chip is too small
//! or one neuron alone exceeds a limit.

mod common;

use neurocycle_core::mapping::{decode_row, map, Bound};
use neurocycle_core::model::synapses::for_each;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn limits() -> impl Strategy<Value = Vec<String>> {
    (
        2u32..12,
        prop::sample::select(vec![64u64, 128, 256, 1024, 65536]),
        prop::sample::select(vec![8u32, 16, 32, 64]),
        4u32..200,
        4u32..200,
        prop::sample::select(vec!["dense", "bitmask", "csr", "auto"]),
        prop::sample::select(vec!["contiguous", "locality"]),
        prop::sample::select(vec![16u32, 32, 48, 64]),
    )
        .prop_map(|(neurons, bytes, wb, entries, axons, enc, policy, state)| {
            vec![
                format!("core.neurons={neurons}"),
                format!("synapse_memory.bytes={bytes}"),
                format!("synapse_memory.word_bits={wb}"),
                format!("routing_table.entries={entries}"),
                format!("core.axons={axons}"),
                format!("synapse_memory.encoding={enc}"),
                format!("mapping.policy={policy}"),
                format!("membrane_sram.state_bits={state}"),
                "membrane_sram.word_bits=64".into(),
                "mesh=8x8".into(),
                "cores_per_router=2".into(),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_limit_holds_on_every_core_and_no_neuron_is_lost(
        case in common::graph::graph_case(),
        sets in limits(),
    ) {
        let model = case.build();
        let refs: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
        let hw = common::with(&common::preset("tiny"), &refs);
        let m = match map(&model, &hw, "m") {
            Ok(m) => m,
            Err(e) => {
                let e = e.to_string();
                prop_assert!(
                    e.contains("the chip has") || e.contains("alone needs") || e.contains("cannot hold"),
                    "unexpected refusal: {}", e
                );
                return Ok(());
            }
        };
        let mut phys = BTreeSet::new();
        for (p, pop) in model.populations.iter().enumerate() {
            // Cores of a population cover its neurons once, in order.
            let mut next = 0;
            for c in &m.cores[m.pop_cores[p].start as usize..m.pop_cores[p].end as usize] {
                prop_assert_eq!(c.population as usize, p);
                prop_assert_eq!(c.first_neuron, next);
                next += c.n_neurons;
                prop_assert!(c.n_neurons >= 1);
            }
            prop_assert_eq!(next as usize, pop.len());
        }
        for c in &m.cores {
            prop_assert!(phys.insert(c.id), "core {} placed twice", c.id);
            prop_assert!(c.id < hw.n_cores());
            prop_assert_eq!(m.index_of[c.id as usize] as usize, m.cores.iter().position(|x| x.id == c.id).unwrap());
            prop_assert!(c.n_neurons <= hw.core.neurons);
            let need = model.populations[c.population as usize].neuron.state_bits_needed();
            let slots = need.div_ceil(hw.membrane_sram.state_bits).max(1);
            prop_assert!(c.n_neurons * slots <= hw.core.neurons, "membrane");
            prop_assert!(c.rows.len() as u32 <= hw.core.axons, "{} axons", c.rows.len());
            prop_assert!(
                c.words_used as u64 * hw.synapse_memory.word_bits as u64 <= hw.synapse_memory.bytes * 8,
                "synapse memory"
            );
            prop_assert!(c.routing_entries <= hw.routing_table.entries, "routing entries");
            // A core ended by a limit could not have taken its next neuron.
            if c.bound != Bound::PopulationEnd {
                let p = c.population as usize;
                prop_assert!((c.first_neuron + c.n_neurons) < model.populations[p].len() as u32);
            }
        }
        // Every synapse is in a row reached by its source's routes.
        for (j, proj) in model.projections.iter().enumerate() {
            let slot = match proj.source {
                neurocycle_core::model::Source::Input => 0,
                neurocycle_core::model::Source::Population(s) => s + 1,
            };
            let mut want = vec![];
            for_each(
                proj.conn.view(),
                model.source_shape(proj.source),
                model.populations[proj.target].shape,
                |s, t, w| want.push((s as u32, t as u32, w)),
            );
            want.sort_unstable();
            let mut got = vec![];
            for (s, dests) in (0..model.source_len(proj.source)).map(|s| (s, m.routes[slot].of(s))) {
                for d in dests {
                    let core = &m.cores[m.index_of[d.core as usize] as usize];
                    let row = core.rows[d.axon as usize];
                    prop_assert_eq!(row.source as usize, s);
                    if row.implicit || core.population as usize != proj.target {
                        continue;
                    }
                    // Rows of this projection carry its code slot.
                    let slot_of_j = model
                        .projections
                        .iter()
                        .take(j)
                        .filter(|o| o.target == proj.target)
                        .count();
                    if row.code as usize != slot_of_j {
                        continue;
                    }
                    for (t, w) in decode_row(core, d.axon, hw.synapse_memory.word_bits) {
                        got.push((s as u32, core.first_neuron + t, w));
                    }
                }
            }
            got.sort_unstable();
            // Dense rows drop stored zeros (they cost nothing there); every
            // other synapse arrives exactly once.
            let nonzero = |v: &[(u32, u32, i32)]| -> Vec<(u32, u32, i32)> {
                v.iter().copied().filter(|x| x.2 != 0).collect()
            };
            prop_assert_eq!(nonzero(&got), nonzero(&want), "projection {}", j);
            prop_assert!(got.iter().filter(|x| x.2 == 0).all(|z| want.binary_search(z).is_ok()));
        }
    }
}

#[test]
fn locality_placement_shortens_hops_on_a_layered_net() {
    use neurocycle_core::model::gen::{generate, GenSpec};
    let model = generate(&GenSpec {
        layers: vec![64, 256, 256, 256, 10],
        sparsity: 0.5,
        ..GenSpec::default()
    });
    let base = common::with(
        &common::preset("default"),
        &[
            "core.neurons=32",
            "mesh=6x6",
            "synapse_memory.bytes=1048576",
        ],
    );
    let local = common::with(&base, &["mapping.policy=locality"]);
    let hops = |hw: &neurocycle_core::config::Checked<neurocycle_core::config::HwConfig>| {
        let c = common::check(&model, hw, 2, 3);
        (c.noc.hops, c.noc.ejected)
    };
    let (h_contig, e_contig) = hops(&base);
    let (h_local, e_local) = hops(&local);
    assert_eq!(e_contig, e_local, "placement moves flits, not spikes");
    assert!(
        h_local < h_contig,
        "locality {h_local} hops, contiguous {h_contig}"
    );
}
