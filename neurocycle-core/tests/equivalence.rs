//! The central correctness test: random models on random configs give the
//! same spikes in the cycle-level engine as in the reference executor,
//! whatever the encoding, weight width, semantics, neuron or chip.

mod common;

use neurocycle_core::model::gen::{generate, ConvLayerSpec, ConvSpec, GenSpec};
use neurocycle_core::model::{EarlyExit, Readout, Reset, Semantics, Shape};
use proptest::prelude::*;

fn semantics() -> impl Strategy<Value = Semantics> {
    prop_oneof![Just(Semantics::LayerSerial), Just(Semantics::Pipelined)]
}

fn neuron_knobs() -> impl Strategy<Value = (u16, u16, Reset, Readout, f64)> {
    (
        prop_oneof![Just(4096u16), 0u16..4096],
        prop_oneof![Just(0u16), 0u16..2048],
        prop_oneof![Just(Reset::ToValue), Just(Reset::Subtract)],
        prop_oneof![Just(Readout::SpikeCount), Just(Readout::Membrane)],
        0.3f64..1.5,
    )
}

fn chip_sets() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::select(vec!["dense", "bitmask", "csr", "auto"]),
        prop::sample::select(vec![1u32, 2, 3, 4, 8]),
        prop::sample::select(vec!["interleaved", "blocked"]),
        1u32..6,
        1u32..4,
        prop::sample::select(vec![16u32, 24, 32, 64]),
        prop::sample::select(vec!["3x3", "4x2", "1x8"]),
        1u32..3,
        (
            0u32..3,
            1u32..3,
            1u32..3,
            prop::sample::select(vec![4u32, 8, 32]),
            prop::sample::select(vec!["source_replication", "xy_tree"]),
        ),
    )
        .prop_map(
            |(enc, pes, assign, qd, bd, wb, mesh, cpr, (rl, rlat, llat, lw, mc))| {
                vec![
                    format!("synapse_memory.encoding={enc}"),
                    format!("core.pes={pes}"),
                    format!("core.pe_assignment={assign}"),
                    format!("core.queue_depth={qd}"),
                    format!("router.buffer_depth={bd}"),
                    format!("synapse_memory.word_bits={wb}"),
                    format!("mesh={mesh}"),
                    format!("cores_per_router={cpr}"),
                    format!("synapse_memory.read_latency_cycles={rl}"),
                    format!("router.latency_cycles={rlat}"),
                    format!("router.link_latency_cycles={llat}"),
                    format!("router.link_width_bits={lw}"),
                    format!("router.multicast={mc}"),
                    "core.neurons=16".to_string(),
                    "synapse_memory.bytes=1048576".to_string(),
                ]
            },
        )
}

fn hw(sets: &[String]) -> neurocycle_core::config::Checked<neurocycle_core::config::HwConfig> {
    let refs: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
    common::with(&common::preset("tiny"), &refs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn dense_models_match_the_reference(
        sizes in prop::collection::vec(2usize..24, 2..5),
        sparsity in 0.0f64..0.95,
        bits in prop::sample::select(vec![1u8, 2, 3, 4, 8, 16]),
        timesteps in 1u32..6,
        sem in semantics(),
        (du, dv, reset, readout, scale) in neuron_knobs(),
        graded in prop::option::of(1u8..8),
        rate in 0.1f64..0.9,
        sets in chip_sets(),
        seed in 0u64..1000,
        early_exit in prop::option::of((1u32..4, 0u32..3)),
    ) {
        let spec = GenSpec {
            layers: sizes,
            sparsity: if bits == 1 { sparsity.min(0.5) } else { sparsity },
            weight_bits: bits,
            timesteps,
            input_rate: rate,
            graded_bits: graded,
            semantics: sem,
            readout,
            du,
            dv,
            reset,
            state_bits: 16,
            threshold_scale: scale,
            seed,
            ..GenSpec::default()
        };
        let mut model = generate(&spec);
        model.early_exit = early_exit.map(|(patience, min_timesteps)| EarlyExit {
            patience: patience.min(timesteps),
            min_timesteps: min_timesteps.min(timesteps),
        });
        let mut sets = sets;
        if bits == 1 && sets[0].ends_with("dense") {
            sets[0] = "synapse_memory.encoding=auto".into();
        }
        // state_bits 16 with a persistent current needs 32 bits per neuron.
        sets.push("membrane_sram.state_bits=32".into());
        sets.push("membrane_sram.word_bits=64".into());
        let hw = hw(&sets);
        prop_assume!(neurocycle_core::mapping::map(&model, &hw, "m").is_ok());
        common::check(&model, &hw, 2, seed);
    }

    #[test]
    fn conv_models_match_the_reference(
        in_ch in 1usize..3,
        side in 4usize..9,
        out_ch in 1usize..4,
        kernel in 1usize..4,
        stride in 1usize..3,
        pool in any::<bool>(),
        bits in prop::sample::select(vec![2u8, 4, 8]),
        sem in semantics(),
        sets in chip_sets(),
        seed in 0u64..1000,
    ) {
        let padding = (kernel - 1).min(1);
        let mut layers = vec![ConvLayerSpec::Conv { out_ch, kernel, stride, padding }];
        let out_side = (side + 2 * padding - kernel) / stride + 1;
        if pool && out_side >= 2 {
            layers.push(ConvLayerSpec::Pool(2));
        }
        layers.push(ConvLayerSpec::Dense(3));
        let spec = GenSpec {
            conv: Some(ConvSpec { input: Shape { c: in_ch, h: side, w: side }, layers }),
            sparsity: 0.3,
            weight_bits: bits,
            timesteps: 3,
            input_rate: 0.4,
            semantics: sem,
            threshold_scale: 0.5,
            seed,
            ..GenSpec::default()
        };
        let model = generate(&spec);
        let mut sets = sets;
        sets.push("membrane_sram.state_bits=32".into());
        sets.push("membrane_sram.word_bits=64".into());
        sets.push("mesh=6x6".into());
        let hw = hw(&sets);
        prop_assume!(neurocycle_core::mapping::map(&model, &hw, "m").is_ok());
        common::check(&model, &hw, 2, seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Graphs with recurrence (self and backward), skips from the input,
    /// explicit delays, sparse projections with stored zero weights and
    /// one-to-one projections, on random chips.
    #[test]
    fn graphs_match_the_reference(case in common::graph::graph_case(), sets in chip_sets()) {
        let model = case.build();
        let mut sets = sets;
        sets.push("membrane_sram.state_bits=32".into());
        sets.push("membrane_sram.word_bits=64".into());
        sets.push("mesh=4x4".into());
        let hw = hw(&sets);
        prop_assume!(neurocycle_core::mapping::map(&model, &hw, "m").is_ok());
        let c = common::check(&model, &hw, 2, case.seed);
        prop_assert_eq!(c.spikes_per_layer.len(), model.populations.len());
    }
}

#[test]
fn hand_written_example_matches_on_every_preset() {
    let model: neurocycle_core::model::Model = neurocycle_core::model::Model::load(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/tiny.ron")),
    )
    .unwrap();
    for p in ["tiny", "default", "loihi"] {
        common::check(&model, &common::preset(p), 4, 7);
    }
}

#[test]
fn demo_sized_model_matches_on_the_default_chip() {
    let model = generate(&GenSpec {
        layers: vec![784, 300, 100, 10],
        timesteps: 4,
        ..GenSpec::default()
    });
    let c = common::check(&model, &common::preset("default"), 2, 3);
    // Activity reaches the last layer, so the comparison covers real traffic.
    assert!(
        c.spikes_per_layer.iter().all(|s| *s > 0),
        "{:?}",
        c.spikes_per_layer
    );
    assert!(c.noc.ejected > 1000);
}

#[test]
fn back_pressure_heavy_config_still_matches() {
    // Queue of 1 event and 1-flit buffers: every path stalls.
    let model = generate(&GenSpec {
        layers: vec![64, 48, 32, 8],
        sparsity: 0.5,
        timesteps: 3,
        semantics: Semantics::Pipelined,
        ..GenSpec::default()
    });
    let hw = common::with(
        &common::preset("tiny"),
        &[
            "core.queue_depth=1",
            "router.buffer_depth=1",
            "core.neurons=16",
            "mesh=3x3",
            "router.link_width_bits=4",
        ],
    );
    let c = common::check(&model, &hw, 2, 11);
    assert!(c.noc.stall_cycles > 0);
}

#[test]
fn early_exit_stops_both_executors_at_the_same_timestep() {
    let mut model = generate(&GenSpec {
        layers: vec![64, 32, 4],
        timesteps: 24,
        input_rate: 0.6,
        readout: Readout::Membrane,
        seed: 5,
        ..GenSpec::default()
    });
    let hw = common::preset("default");
    let full = common::check(&model, &hw, 3, 11);
    assert_eq!(full.timesteps_run, 3 * 24);
    model.early_exit = Some(EarlyExit {
        patience: 2,
        min_timesteps: 3,
    });
    let early = common::check(&model, &hw, 3, 11);
    assert!(
        early.timesteps_run < full.timesteps_run && early.timesteps_run >= 3 * 3,
        "{} of {}",
        early.timesteps_run,
        full.timesteps_run
    );
    assert!(early.cycles < full.cycles);
    assert_eq!(early.timestep_cycles.len(), 24);
}

/// `--set`s of a random input-queued router (stages, VCs, speculation,
/// allocator, credit delay, speedups, network-interface channels).
fn input_queued_sets() -> impl Strategy<Value = Vec<String>> {
    (
        (1u32..4, 0u32..3, 1u32..3, 1u32..3, 1u32..3, any::<bool>()),
        (
            prop::sample::select(vec!["islip", "separable_input_first"]),
            0u32..3,
            1u32..3,
            1u32..3,
        ),
        (0u32..3, 0u32..3, 0u32..3, 1u32..4),
    )
        .prop_map(
            |((vcs, rc, va, sa, xb, spec), (alloc, cd, is, os), (ni, inj, ej, ejb))| {
                let sa = if spec { va } else { sa };
                let stages = rc + if spec { va } else { va + sa } + xb;
                let iq = |k: &str, v: String| format!("router.input_queued.{k}={v}");
                vec![
                    iq("vcs", vcs.to_string()),
                    iq("routing_cycles", rc.to_string()),
                    iq("vc_alloc_cycles", va.to_string()),
                    iq("switch_alloc_cycles", sa.to_string()),
                    iq("crossbar_cycles", xb.to_string()),
                    iq("speculative", spec.to_string()),
                    iq("allocator", alloc.to_string()),
                    iq("credit_delay_cycles", cd.to_string()),
                    iq("input_speedup", is.to_string()),
                    iq("output_speedup", os.to_string()),
                    iq("ni_latency_cycles", ni.to_string()),
                    iq("injection_latency_cycles", inj.to_string()),
                    iq("ejection_latency_cycles", ej.to_string()),
                    iq("ejection_buffer_flits", ejb.to_string()),
                    format!("router.latency_cycles={stages}"),
                    "router.multicast=source_replication".to_string(),
                ]
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The input-queued router delivers the same spikes: random models on
    /// random chips with random router microarchitectures.
    #[test]
    fn models_match_the_reference_on_the_input_queued_router(
        sizes in prop::collection::vec(2usize..24, 2..5),
        sparsity in 0.0f64..0.9,
        timesteps in 1u32..5,
        sem in semantics(),
        sets in chip_sets(),
        iq in input_queued_sets(),
        seed in 0u64..1000,
    ) {
        let spec = GenSpec {
            layers: sizes,
            sparsity,
            weight_bits: 4,
            timesteps,
            input_rate: 0.5,
            semantics: sem,
            seed,
            ..GenSpec::default()
        };
        let model = generate(&spec);
        let mut sets = sets;
        sets.extend(iq);
        let hw = hw(&sets);
        prop_assume!(neurocycle_core::mapping::map(&model, &hw, "m").is_ok());
        common::check(&model, &hw, 2, seed);
    }
}
