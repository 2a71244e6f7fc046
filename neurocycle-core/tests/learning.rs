//! On-chip learning: STDP layers, adaptive thresholds and lateral
//! inhibition. The engine learning sample after sample equals the
//! reference executor learning the same samples: the same spikes in every
//! sample, the same final weights and thresholds; and the learning
//! counters follow their formulas.

mod common;

use neurocycle_core::engine::{
    run_sample, run_sample_learning, Chip, ChipLearner, EngineOptions, Quiet,
};
use neurocycle_core::mapping;
use neurocycle_core::model::gen::{generate, GenSpec};
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::model::{
    weight_max, Adaptation, Connectivity, Model, Readout, Semantics, Stdp,
};
use neurocycle_core::reference::{self, Learner};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Knobs {
    stdp: Stdp,
    adaptation: Option<Adaptation>,
    inhibition: i32,
    inhibit_second: bool,
}

fn knobs(bits: u8) -> impl Strategy<Value = Knobs> {
    let wmax = weight_max(bits);
    (
        (0i32..400, 0i32..400, 0i32..120),
        (1i32..256, 1i32..256, 0u16..4096, 0u16..4096),
        (-wmax..=0, 1..=wmax),
        prop::option::of((0i32..40, 0u16..600)),
        0i32..30,
        any::<bool>(),
    )
        .prop_map(
            move |((ap, am, tgt), (pi, qi, pd, qd), (lo, hi), adapt, inh, second)| Knobs {
                stdp: Stdp {
                    a_plus: ap,
                    a_minus: am,
                    pre_target: tgt,
                    pre_increment: pi,
                    post_increment: qi,
                    pre_decay: pd,
                    post_decay: qd,
                    w_min: lo,
                    w_max: hi,
                },
                adaptation: adapt.map(|(increment, decay)| Adaptation { increment, decay }),
                inhibition: inh,
                inhibit_second: second,
            },
        )
}

fn dense_weights(m: &mut Model, j: usize) -> &mut Vec<i32> {
    match &mut m.projections[j].conn {
        Connectivity::Dense { weights } => weights,
        _ => panic!("a dense projection"),
    }
}

fn learning_model(sizes: Vec<usize>, bits: u8, timesteps: u32, k: &Knobs, seed: u64) -> Model {
    let mut m = generate(&GenSpec {
        layers: sizes,
        sparsity: 0.3,
        weight_bits: bits,
        timesteps,
        input_rate: 0.4,
        semantics: Semantics::LayerSerial,
        readout: Readout::SpikeCount,
        threshold_scale: 0.8,
        seed,
        ..GenSpec::default()
    });
    m.projections[0].stdp = Some(k.stdp);
    for w in dense_weights(&mut m, 0).iter_mut() {
        *w = (*w).clamp(k.stdp.w_min, k.stdp.w_max);
    }
    m.populations[0].neuron.adaptation = k.adaptation;
    m.populations[0].lateral_inhibition = k.inhibition;
    if k.inhibit_second && m.populations.len() > 1 {
        m.populations[1].lateral_inhibition = k.inhibition / 2 + 1;
    }
    m.validate("case").unwrap();
    m
}

/// Learns `samples` samples with both executors; asserts they agree at
/// every sample and at the end. Returns the engine's learner.
fn learn_both(
    model: &Model,
    hw: &neurocycle_core::config::Checked<neurocycle_core::config::HwConfig>,
    samples: u64,
    seed: u64,
) {
    let map = mapping::map(model, hw, "case").unwrap();
    let chip = Chip::build(hw, model, &map);
    let mut on_chip = ChipLearner::new(&chip);
    let mut slow_chip = ChipLearner::new(&chip);
    let mut reference = Learner::new(model);
    for i in 0..samples {
        let stim = synthetic(model, seed, i);
        let want = reference::run_learning(model, &stim, &mut reference);
        let opts = |every_cycle| EngineOptions {
            every_cycle,
            record_spikes: true,
            ..EngineOptions::default()
        };
        let got = run_sample_learning(&chip, &stim, opts(false), &mut Quiet, &mut on_chip).unwrap();
        assert_eq!(got.spikes, want.spikes, "spikes, sample {i}");
        assert_eq!(got.readout, want.readout, "readout, sample {i}");
        let slow =
            run_sample_learning(&chip, &stim, opts(true), &mut Quiet, &mut slow_chip).unwrap();
        assert_eq!(
            slow.counters, got.counters,
            "every-cycle counters, sample {i}"
        );
        assert_eq!(
            on_chip.layer_weights(&chip)[0],
            reference.weights[0],
            "weights after sample {i}"
        );
    }
    assert_eq!(on_chip.layer_theta(&chip), reference.theta);
    assert_eq!(on_chip, slow_chip);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn learning_on_chip_matches_the_reference(
        sizes in prop::collection::vec(3usize..20, 2..4),
        bits in prop::sample::select(vec![4u8, 8]),
        timesteps in 1u32..8,
        k in (Just(8u8)).prop_flat_map(knobs),
        neurons in prop::sample::select(vec![4u32, 7, 16]),
        pes in prop::sample::select(vec![1u32, 3, 8]),
        multicast in prop::sample::select(vec!["source_replication", "xy_tree"]),
        seed in 0u64..1000,
    ) {
        let mut k = k;
        let wmax = weight_max(bits);
        k.stdp.w_min = k.stdp.w_min.max(-wmax);
        k.stdp.w_max = k.stdp.w_max.min(wmax);
        let model = learning_model(sizes, bits, timesteps, &k, seed);
        let hw = common::with(&common::preset("tiny"), &[
            &format!("core.neurons={neurons}"),
            &format!("core.pes={pes}"),
            &format!("router.multicast={multicast}"),
            "mesh=4x4",
            "synapse_memory.bytes=1048576",
            "routing_table.entries=4096",
        ]);
        prop_assume!(mapping::map(&model, &hw, "m").is_ok());
        learn_both(&model, &hw, 4, seed);
        // Inference (learning off) with inhibition and adaptation also agrees.
        common::check(&model, &hw, 2, seed);
    }
}

fn fixed_case() -> (
    Model,
    neurocycle_core::config::Checked<neurocycle_core::config::HwConfig>,
) {
    let k = Knobs {
        stdp: Stdp {
            a_plus: 200,
            a_minus: 60,
            pre_target: 20,
            pre_increment: 200,
            post_increment: 200,
            pre_decay: 600,
            post_decay: 600,
            w_min: 0,
            w_max: 127,
        },
        adaptation: Some(Adaptation {
            increment: 4,
            decay: 0,
        }),
        inhibition: 6,
        inhibit_second: false,
    };
    let model = learning_model(vec![24, 10], 8, 12, &k, 5);
    let hw = common::with(
        &common::preset("tiny"),
        &["core.neurons=4", "core.pes=2", "mesh=4x4"],
    );
    (model, hw)
}

#[test]
fn learning_counters_follow_their_formulas() {
    let (model, hw) = fixed_case();
    let map = mapping::map(&model, &hw, "case").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 9, 0);
    let opts = EngineOptions {
        every_cycle: false,
        record_spikes: true,
        ..EngineOptions::default()
    };
    let plain = run_sample(&chip, &stim, opts, &mut Quiet).unwrap();
    let mut learner = ChipLearner::new(&chip);
    let learned = run_sample_learning(&chip, &stim, opts, &mut Quiet, &mut learner).unwrap();
    let c = &plain.counters;
    for k in &c.cores {
        assert_eq!(
            (
                k.learning_cycles,
                k.synapse_word_writes,
                k.weight_updates,
                k.trace_accesses
            ),
            (0, 0, 0, 0),
            "learning counters without learning"
        );
    }
    let e_plain = neurocycle_core::energy::breakdown(c, &hw, 1);
    assert_eq!(e_plain.learning, 0.0);
    let e_learn = neurocycle_core::energy::breakdown(&learned.counters, &hw, 1);
    assert!(e_learn.learning > 0.0);
    // Per plastic core: each presynaptic event updates its whole row, each
    // postsynaptic spike its whole column.
    let inputs = 24u64;
    let mut any_post = false;
    for (core, k) in learned.counters.cores.iter().enumerate() {
        let t = &chip.cores[core];
        let n = t.n_neurons as u64;
        let pre_events = (0..t.input_rows)
            .map(|a| t.row_words[a as usize] as u64)
            .sum::<u64>();
        assert!(pre_events > 0);
        // Events on input rows: host events (layer 0 has only host input
        // and inhibition events).
        let input_events = k.host_events;
        let post = k.spikes;
        any_post |= post > 0;
        assert_eq!(
            k.weight_updates,
            input_events * n + post * inputs,
            "core {core}"
        );
        assert_eq!(
            k.learn_synapse_word_reads,
            post * inputs,
            "column reads, core {core}"
        );
        let trace_walks = model.timesteps as u64 * (inputs + n).div_ceil(2);
        assert_eq!(
            k.learning_cycles,
            post * 2 * inputs + trace_walks,
            "learning cycles, core {core}"
        );
    }
    assert!(any_post, "the case should spike");
    assert!(learned.counters.cycles > plain.counters.cycles);
    // Learning changed the weights.
    assert_ne!(
        learner.layer_weights(&chip)[0],
        *dense_weights(&mut model.clone(), 0)
    );
}

/// Diehl & Cook's normalisation, done by each plastic core between
/// samples: every neuron's weights scale to the target sum (rounded to
/// nearest), and its cost follows the formulas of `ChipLearner::normalize`.
#[test]
fn weight_normalisation_scales_columns_and_counts_its_cost() {
    let (model, hw) = fixed_case();
    let map = mapping::map(&model, &hw, "case").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let mut learner = ChipLearner::new(&chip);
    let stim = synthetic(&model, 9, 0);
    run_sample_learning(
        &chip,
        &stim,
        EngineOptions::default(),
        &mut Quiet,
        &mut learner,
    )
    .unwrap();
    let before = learner.layer_weights(&chip)[0].clone();
    let mut counters = neurocycle_core::engine::Counters::default();
    let target = 300;
    learner.normalize(&chip, target, &mut counters);
    let after = &learner.layer_weights(&chip)[0];
    let inputs = 24;
    let mut slowest = 0;
    for j in 0..before.len() / inputs {
        let col = &before[j * inputs..(j + 1) * inputs];
        let sum: i64 = col.iter().map(|&w| w as i64).sum();
        for (i, &w) in col.iter().enumerate() {
            let want = if sum > 0 {
                ((w as i64 * target as i64 + sum / 2) / sum).clamp(0, 127)
            } else {
                w as i64
            };
            assert_eq!(after[j * inputs + i] as i64, want, "neuron {j} input {i}");
        }
        if sum > 0 {
            let got: i64 = after[j * inputs..(j + 1) * inputs]
                .iter()
                .map(|&w| w as i64)
                .sum();
            assert!((got - target as i64).abs() <= inputs as i64 / 2, "{got}");
        }
    }
    for (core, k) in counters.cores.iter().enumerate() {
        let t = &chip.cores[core];
        let words: u64 = (0..t.input_rows)
            .map(|a| t.row_words[a as usize] as u64)
            .sum();
        let synapses = t.input_rows as u64 * t.n_neurons as u64;
        let cycles = 3 * words + 2 * synapses.div_ceil(2);
        assert_eq!(
            (
                k.learn_synapse_word_reads,
                k.synapse_word_writes,
                k.weight_updates,
                k.learning_cycles
            ),
            (2 * words, words, synapses, cycles),
            "core {core}"
        );
        slowest = slowest.max(cycles);
    }
    assert_eq!(counters.cycles, slowest);
    assert!(slowest > 0);
}

#[test]
fn inhibition_spikes_travel_the_mesh_and_act_next_timestep() {
    let (mut model, hw) = fixed_case();
    model.populations[0].neuron.adaptation = None;
    let map = mapping::map(&model, &hw, "case").unwrap();
    // 10 neurons on cores of 4: 3 cores; every neuron routes to all 3.
    assert_eq!(map.routes[1].of(0).len(), 3);
    let chip = Chip::build(&hw, &model, &map);
    let stim = synthetic(&model, 9, 0);
    let r = run_sample(&chip, &stim, EngineOptions::default(), &mut Quiet).unwrap();
    let spikes: u64 = r.counters.spikes_per_layer[0];
    assert!(spikes > 0);
    assert_eq!(r.counters.noc.ejected, spikes * 3);
    // Without inhibition the layer fires more.
    model.populations[0].lateral_inhibition = 0;
    let map = mapping::map(&model, &hw, "case").unwrap();
    let chip = Chip::build(&hw, &model, &map);
    let free = run_sample(&chip, &stim, EngineOptions::default(), &mut Quiet).unwrap();
    assert!(free.counters.spikes_per_layer[0] > spikes);
    assert_eq!(free.counters.noc.ejected, 0);
}

#[test]
fn learning_rules_are_refused_where_the_chip_cannot_learn() {
    let (mut model, _) = fixed_case();
    model.semantics = Semantics::Pipelined;
    let e = model.validate("m.ron").unwrap_err().to_string();
    assert!(
        e.contains("projections[0].stdp") && e.contains("layer_serial"),
        "{e}"
    );
    let (mut model, _) = fixed_case();
    dense_weights(&mut model, 0)[3] = -5;
    let e = model.validate("m.ron").unwrap_err().to_string();
    assert!(
        e.contains("projections[0].kind.dense.weights[3]") && e.contains("w_min"),
        "{e}"
    );
    let (mut model, _) = fixed_case();
    model.projections[0].stdp.as_mut().unwrap().pre_increment = 300;
    let e = model.validate("m.ron").unwrap_err().to_string();
    assert!(e.contains("stdp.pre_increment") && e.contains("255"), "{e}");
}
