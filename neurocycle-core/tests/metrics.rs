//! Metrics: small cases worked out by hand, and monotonicity properties.

mod common;

use neurocycle_core::engine::{run_sample, Chip, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::gen::{generate, GenSpec};
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::model::Model;
use neurocycle_core::report;
use neurocycle_core::run::{run, RunOptions};
use proptest::prelude::*;

fn hand_model() -> Model {
    // 1 input -> 16 neurons over two cores of 8: core 0 gets targets 0..=4,
    // core 1 gets target 8. The input spikes at every timestep (rate 1).
    let w: Vec<&str> = (0..16)
        .map(|t| if t < 5 || t == 8 { "1" } else { "0" })
        .collect();
    let text = format!(
        "(name: \"hand\", timesteps: 1, semantics: layer_serial, input: (size: 1, encoding: spikes, rate: 1.0), readout: spike_count,
          layers: [(kind: dense(inputs: 1, outputs: 16), weight_bits: 4, weights: [{}], neuron: (threshold: 100))])",
        w.join(",")
    );
    neurocycle_core::error::parse_ron("hand", &text).unwrap()
}

fn hand_hw() -> neurocycle_core::config::Checked<neurocycle_core::config::HwConfig> {
    common::with(
        &common::preset("tiny"),
        &[
            "core.neurons=8",
            "core.pes=4",
            "synapse_memory.encoding=csr",
            "synapse_memory.word_bits=32",
            "synapse_memory.read_latency_cycles=1",
            "membrane_sram.word_bits=32",
            "membrane_sram.state_bits=32",
            "barrier_cycles=4",
            "clock_mhz=100",
            "energy.synapse_memory.read_pj_per_bit=1",
            "energy.synapse_memory.write_pj_per_bit=2",
            "energy.synapse_memory.ref_bytes=16384",
            // The membrane SRAM has figures of its own.
            "energy.membrane_sram.read_pj_per_bit=3",
            "energy.membrane_sram.write_pj_per_bit=4",
            "energy.membrane_sram.ref_bytes=16384",
            "energy.synop.pj=0.5",
            "energy.neuron_update.pj=1",
            "energy.spike_out.pj=0.25",
            "energy.static_power.mw_per_core=0.05",
            "energy.static_power.mw_per_router=0.02",
        ],
    )
}

fn hand_report() -> report::Report {
    let (m, hw) = (hand_model(), hand_hw());
    let map = mapping::map(&m, &hw, "hand").unwrap();
    let chip = Chip::build(&hw, &m, &map);
    let stim = |i| synthetic(&m, 1, i);
    let opts = RunOptions {
        samples: 1,
        threads: 1,
        engine: EngineOptions::default(),
        check: true,
    };
    let s = run(&chip, &stim, &opts, &|_| {}).unwrap();
    report::build(
        &chip,
        &s,
        &report::Source {
            hw_file: "t",
            overrides: &[],
            model_file: "m",
            seed: 1,
            input_file: None,
        },
    )
}

#[test]
fn a_saved_report_reads_back_into_the_same_report() {
    // Tools (heat maps, studies) read saved reports through the typed
    // `Report`, never by looking fields up by name.
    let rep = hand_report();
    let json = serde_json::to_string_pretty(&rep).unwrap();
    let back: report::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    assert_eq!(back.cores.per_core.len(), rep.cores.per_core.len());
    assert!(back.energy.table.iter().any(|c| c.component == "synops"));
}

#[test]
fn imbalance_and_pe_utilization_by_hand() {
    let r = hand_report();
    // Core 0: csr row of 5 entries x (3 index + 4 weight bits) = 35 bits = 2
    // words of 32; PE loads (n mod 4) of targets 0..=4: 2,1,1,1 -> cost 2.
    // Core 1: 1 entry = 7 bits = 1 word, cost 1. Walk: 8 neurons / 4 PEs = 2.
    let c0 = &r.cores.per_core[0];
    let c1 = &r.cores.per_core[1];
    assert_eq!(
        (c0.integration_cycles, c0.update_cycles, c0.busy_cycles),
        (2, 2, 4)
    );
    assert_eq!(
        (c1.integration_cycles, c1.update_cycles, c1.busy_cycles),
        (1, 2, 3)
    );
    assert_eq!(c0.pe_utilization, Some(5.0 / (4.0 * 2.0)));
    assert_eq!(c1.pe_utilization, Some(1.0 / 4.0));
    assert!((r.cores.imbalance - 4.0 / 3.5).abs() < 1e-12);
    assert_eq!(r.cores.pe_utilization, Some(6.0 / (4.0 * 3.0)));
    assert_eq!(r.memory.synapse_word_reads, 3);
    assert_eq!(r.memory.synapse_read_bits, 96);
    // 8 neurons per core, 1 per 32-bit word.
    assert_eq!(r.memory.membrane_word_reads, 16);
    assert_eq!(r.memory.membrane_word_writes, 16);
    // Both cores: host write 0, pop 1; core 0 drains at 1 + 1 + 2 = 4 and
    // walks to 6; barrier 4.
    assert_eq!(r.latency.cycles, 10);
    assert_eq!(r.check.as_ref().unwrap().mismatched_spikes, 0);
}

#[test]
fn energy_by_hand() {
    let r = hand_report();
    let b = &r.energy.breakdown_pj;
    // Synapse memory: 3 words x 32 bits x 1 pJ x sqrt(16384 / 16384).
    assert!((b.synapse_memory - 96.0).abs() < 1e-9);
    // Membrane SRAM of 8 x 32 bits = 32 bytes: factor sqrt(32 / 16384).
    let f = (32.0f64 / 16384.0).sqrt();
    let membrane = 16.0 * 32.0 * f * 3.0 + 16.0 * 32.0 * f * 4.0;
    assert!((b.membrane_sram - membrane).abs() < 1e-9);
    assert!((b.synops - 6.0 * 0.5).abs() < 1e-12);
    assert!((b.neuron_updates - 16.0).abs() < 1e-12);
    let spikes: u64 = r.activity.spikes_per_layer.iter().sum();
    assert!((b.spike_out - spikes as f64 * 0.25).abs() < 1e-12);
    assert_eq!((b.routers, b.links, b.routing_table), (0.0, 0.0, 0.0));
    // Static: (4 cores x 0.05 + 4 routers x 0.02) mW x 10 cycles / 100 MHz = 28 pJ.
    assert!((b.static_ - 28.0).abs() < 1e-9);
    let total = 96.0 + membrane + 3.0 + 16.0 + spikes as f64 * 0.25 + 28.0;
    assert!((r.energy.total_pj - total).abs() < 1e-9);
    assert!((r.energy.per_synop_pj.unwrap() - total / 6.0).abs() < 1e-9);
    // The table in the report: every entry sourced, count x each = charged
    // (static: power x time), and its sum by component is the breakdown.
    let table = &r.energy.table;
    assert!(table.iter().all(|c| !c.source.is_empty()));
    for c in table.iter().filter(|c| c.component != "static") {
        assert!((c.pj - c.count as f64 * c.pj_each).abs() < 1e-12, "{c:?}");
    }
    let st = table.iter().find(|c| c.component == "static").unwrap();
    assert!((st.pj - st.count as f64 * st.pj_each).abs() < 1e-9);
    assert_eq!(&neurocycle_core::energy::of_charges(table), b);
    let json = r.to_json();
    assert!(
        json.contains("\"table\"") && json.contains("Horowitz"),
        "sources in JSON"
    );
}

fn counters_with(m: &Model, sets: &[String]) -> Option<neurocycle_core::engine::Counters> {
    let refs: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
    let hw = common::with(&common::preset("tiny"), &refs);
    let map = mapping::map(m, &hw, "m").ok()?;
    let chip = Chip::build(&hw, m, &map);
    let mut total = neurocycle_core::engine::Counters::default();
    for i in 0..2 {
        total.merge(
            &run_sample(
                &chip,
                &synthetic(m, 3, i),
                EngineOptions::default(),
                &mut Quiet,
            )
            .unwrap()
            .counters,
        );
    }
    Some(total)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn wider_words_never_add_synapse_word_reads(
        sizes in prop::collection::vec(4usize..40, 2..4),
        sparsity in 0.0f64..0.97,
        bits in prop::sample::select(vec![2u8, 4, 8, 16]),
        enc in prop::sample::select(vec!["dense", "bitmask", "csr"]),
        seed in 0u64..100,
    ) {
        let m = generate(&GenSpec { layers: sizes, sparsity, weight_bits: bits, timesteps: 2, seed, ..GenSpec::default() });
        let mut last = u64::MAX;
        for wb in [16u32, 24, 32, 64, 128, 512] {
            let sets = vec![format!("synapse_memory.word_bits={wb}"), format!("synapse_memory.encoding={enc}"), "mesh=4x4".into(), "synapse_memory.bytes=1000000".into()];
            let c = counters_with(&m, &sets).unwrap();
            let reads = c.total(|k| k.synapse_word_reads);
            prop_assert!(reads <= last, "word_bits {wb}: {reads} > {last}");
            last = reads;
        }
    }

    #[test]
    fn more_pes_never_slow_an_event_when_lanes_split(
        n in 4u32..64,
        targets in prop::collection::btree_set(0u32..64, 1..40),
        pes in prop::sample::select(vec![1u32, 2, 3, 4, 5]),
        assignment in prop::sample::select(vec!["interleaved", "blocked"]),
        words in 0u32..4,
    ) {
        // Integration cost of one event: max(words, busiest PE). Multiplying
        // the PEs splits every interleaved lane, so no lane gets busier.
        use neurocycle_core::config::PeAssignment;
        use neurocycle_core::engine::chip::pe_of;
        let a = if assignment == "interleaved" { PeAssignment::Interleaved } else { PeAssignment::Blocked };
        let ts: Vec<u32> = targets.into_iter().filter(|t| *t < n).collect();
        let cost = |p: u32| {
            let mut load = vec![0u32; p as usize];
            for t in &ts { load[pe_of(*t, n, p, a) as usize] += 1; }
            words.max(*load.iter().max().unwrap())
        };
        if a == PeAssignment::Interleaved {
            for k in [2u32, 3, 4] {
                prop_assert!(cost(pes * k) <= cost(pes));
            }
        } else {
            // Blocked lanes split when the block size divides evenly.
            for k in [2u32, 4] {
                if n % (pes * k) == 0 {
                    prop_assert!(cost(pes * k) <= cost(pes));
                }
            }
        }
    }
}

#[test]
fn interleaving_is_not_monotone_between_non_multiples() {
    // Targets 0 and 3: with 2 PEs they fall on PEs 0 and 1 (cost 1); with
    // 3 PEs both land on PE 0 (cost 2). The property holds for multiples
    // only; docs/hardware-model.md says so.
    use neurocycle_core::config::PeAssignment::Interleaved;
    use neurocycle_core::engine::chip::pe_of;
    assert_ne!(pe_of(0, 8, 2, Interleaved), pe_of(3, 8, 2, Interleaved));
    assert_eq!(pe_of(0, 8, 3, Interleaved), pe_of(3, 8, 3, Interleaved));
}

#[test]
fn more_pes_never_add_integration_cycles_on_a_real_model() {
    let m = generate(&GenSpec {
        layers: vec![64, 48, 10],
        sparsity: 0.9,
        timesteps: 3,
        ..GenSpec::default()
    });
    let mut last = u64::MAX;
    for pes in [1u32, 2, 4, 8, 16] {
        let sets = vec![
            format!("core.pes={pes}"),
            "mesh=4x4".into(),
            "core.neurons=16".into(),
        ];
        let c = counters_with(&m, &sets).unwrap();
        let integ = c.total(|k| k.integration_cycles);
        assert!(integ <= last, "pes {pes}: {integ} > {last}");
        last = integ;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Tree multicast sends each spike once and shares links among its
    /// destinations: never more link traversals or injected flits than
    /// replicating at the source, and the same deliveries.
    #[test]
    fn tree_multicast_never_adds_link_traversals(
        sizes in prop::collection::vec(8usize..60, 2..4),
        sparsity in 0.0f64..0.9,
        seed in 0u64..100,
    ) {
        let m = generate(&GenSpec { layers: sizes, sparsity, timesteps: 2, seed, ..GenSpec::default() });
        let run_with = |mc: &str| counters_with(&m, &[format!("router.multicast={mc}"), "mesh=4x4".into(), "core.neurons=8".into()]);
        let (Some(src), Some(tree)) = (run_with("source_replication"), run_with("xy_tree")) else {
            return Err(TestCaseError::reject("does not fit"));
        };
        prop_assert!(tree.noc.hops <= src.noc.hops);
        prop_assert!(tree.noc.injected <= src.noc.injected);
        prop_assert_eq!(tree.noc.ejected, src.noc.ejected);
        prop_assert_eq!(tree.total(|k| k.synops), src.total(|k| k.synops));
    }
}

/// `--check` fails when the chip is wrong: a fault injected into the
/// compiled synapse rows (the test's hook: the chip's tables are plain data)
/// makes the engine disagree with the reference, the summary counts the
/// mismatched spikes, the report says so and the run's exit code is 1.
#[test]
fn check_fails_when_the_compiled_chip_is_wrong() {
    let (m, hw) = (hand_model(), hand_hw());
    let map = mapping::map(&m, &hw, "hand").unwrap();
    let good = Chip::build(&hw, &m, &map);
    let stim = |i| synthetic(&m, 1, i);
    let opts = RunOptions {
        samples: 2,
        threads: 1,
        engine: EngineOptions::default(),
        check: true,
    };
    let ok = run(&good, &stim, &opts, &|_| {}).unwrap();
    assert_eq!((ok.mismatched_spikes, ok.exit_code()), (Some(0), 0));
    // The fault: every synapse of core 0 strong enough to fire at once.
    let mut bad = good.clone();
    bad.cores[0].weights.iter_mut().for_each(|w| *w = 7);
    bad.cores[0].threshold.iter_mut().for_each(|t| *t = 1);
    let wrong = run(&bad, &stim, &opts, &|_| {}).unwrap();
    let mismatched = wrong.mismatched_spikes.expect("checked");
    assert!(mismatched > 0, "the fault went unnoticed");
    assert_eq!(wrong.exit_code(), 1);
    let rep = report::build(
        &bad,
        &wrong,
        &report::Source {
            hw_file: "t",
            overrides: &[],
            model_file: "m",
            seed: 1,
            input_file: None,
        },
    );
    assert_eq!(rep.check.as_ref().unwrap().mismatched_spikes, mismatched);
    assert!(rep.table().contains("MISMATCHED"));
}

/// The input-queued router's watchdog: routers whose ejection ports have
/// no credit fill up and stop; the run ends in an error naming the router,
/// port, VC and flit instead of hanging.
#[test]
fn an_input_queued_chip_that_cannot_eject_is_a_deadlock_error_naming_the_vc() {
    use neurocycle_core::engine::{run_sample, Quiet};
    use neurocycle_core::model::gen::{generate, GenSpec};
    let hw = common::with(
        &common::preset("default"),
        &["router.input_queued.vcs=2", "router.latency_cycles=4"],
    );
    let m = generate(&GenSpec::default());
    let map = mapping::map(&m, &hw, "gen").unwrap();
    let good = Chip::build(&hw, &m, &map);
    let stim = synthetic(&m, 1, 0);
    let ok = run_sample(&good, &stim, EngineOptions::default(), &mut Quiet).unwrap();
    assert!(ok.counters.noc.hops > 0, "the case must route spikes");
    // The fault: network interfaces that give their routers no credit.
    let mut bad = good.clone();
    bad.mesh.iq.as_mut().unwrap().ejection_buffer_flits = 0;
    for every_cycle in [false, true] {
        let opts = EngineOptions {
            every_cycle,
            ..EngineOptions::default()
        };
        let e = run_sample(&bad, &stim, opts, &mut Quiet).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, neurocycle_core::error::Error::Deadlock { .. })
                && msg.contains("deadlock at cycle")
                && msg.contains("input port")
                && msg.contains(" VC ")
                && msg.contains("holds a flit from core")
                && msg.contains("waiting for a credit for VC"),
            "{msg}"
        );
    }
}

#[test]
fn a_chip_where_nothing_can_move_is_a_deadlock_error_not_a_hang() {
    use neurocycle_core::engine::{run_sample, Quiet};
    use neurocycle_core::model::gen::{generate, GenSpec};
    let hw = common::preset("default");
    let m = generate(&GenSpec::default());
    let map = mapping::map(&m, &hw, "gen").unwrap();
    let good = Chip::build(&hw, &m, &map);
    let stim = synthetic(&m, 1, 0);
    let ok = run_sample(&good, &stim, EngineOptions::default(), &mut Quiet).unwrap();
    assert!(ok.counters.noc.hops > 0, "the case must route spikes");
    // The fault: routers without buffer space, so no spike can enter the
    // mesh and the cores that hold spikes wait forever.
    let mut bad = good.clone();
    bad.mesh.buffer_depth = 0;
    for (every_cycle, threads) in [(false, 1), (true, 1), (false, 2)] {
        let opts = EngineOptions {
            every_cycle,
            threads,
            ..EngineOptions::default()
        };
        let e = run_sample(&bad, &stim, opts, &mut Quiet).unwrap_err();
        assert!(
            matches!(e, neurocycle_core::error::Error::Deadlock { .. }),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("deadlock at cycle")
                && msg.contains("nothing can move in timestep 0")
                && msg.contains("spikes its router's injection port has no room for"),
            "{msg}"
        );
    }
}
