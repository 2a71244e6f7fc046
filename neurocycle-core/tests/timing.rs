//! Timing rules checked on cases small enough to work out by hand.

mod common;

use neurocycle_core::engine::{run_sample, Chip, EngineOptions, Quiet};
use neurocycle_core::mapping;
use neurocycle_core::model::stimulus::{InputEvent, Stimulus};
use neurocycle_core::model::Model;

/// A model from its layers' RON, one spiking input, T = 1.
fn model(layers: &str, inputs: usize) -> Model {
    let text = format!(
        "(name: \"hand\", timesteps: 1, semantics: layer_serial, input: (size: {inputs}, encoding: spikes), readout: spike_count, layers: [{layers}])"
    );
    let m: Model = neurocycle_core::error::parse_ron("hand", &text).unwrap();
    m.validate("hand").unwrap();
    m
}

fn one_spike() -> Stimulus {
    Stimulus::from_timesteps(
        vec![vec![InputEvent {
            input: 0,
            payload: 1,
        }]],
        None,
    )
}

fn run(
    m: &Model,
    hw: &neurocycle_core::config::Checked<neurocycle_core::config::HwConfig>,
) -> neurocycle_core::engine::Counters {
    let map = mapping::map(m, hw, "hand").unwrap();
    let chip = Chip::build(hw, m, &map);
    run_sample(&chip, &one_spike(), EngineOptions::default(), &mut Quiet)
        .unwrap()
        .counters
}

#[test]
fn one_spike_into_a_row_of_known_size() {
    // 1 input -> 16 neurons; weights on targets 0..=6 (7 non-zeros, 4-bit).
    let w: Vec<String> = (0..16)
        .map(|t| if t < 7 { "3".into() } else { "0".into() })
        .collect();
    let m = model(
        &format!("(kind: dense(inputs: 1, outputs: 16), weight_bits: 4, weights: [{}], neuron: (threshold: 100))", w.join(",")),
        1,
    );
    for (enc, word_bits, pes, rl) in [
        ("dense", 16u32, 4u32, 1u32),
        ("dense", 64, 2, 0),
        ("bitmask", 8, 4, 2),
        ("csr", 8, 8, 1),
        ("csr", 32, 1, 3),
    ] {
        let hw = common::with(
            &common::preset("tiny"),
            &[
                &format!("synapse_memory.encoding={enc}"),
                &format!("synapse_memory.word_bits={word_bits}"),
                &format!("core.pes={pes}"),
                &format!("synapse_memory.read_latency_cycles={rl}"),
                "core.neurons=16",
                "barrier_cycles=5",
            ],
        );
        let row_bits = match enc {
            "dense" => 16 * 4,
            "bitmask" => 16 + 7 * 4,
            _ => 7 * (4 + 4), // 4 index bits for 16 neurons
        };
        let words = (row_bits as u32).div_ceil(word_bits) as u64;
        // Interleaved: targets 0..=6 over `pes` PEs.
        let busiest = (0..7u32).filter(|t| t % pes == 0).count() as u64;
        let cost = words.max(busiest);
        let walk = 16u64.div_ceil(pes as u64);
        let c = run(&m, &hw);
        let core = &c.cores[0];
        assert_eq!(core.synapse_word_reads, words, "{enc} {word_bits}");
        assert_eq!(core.integration_cycles, cost, "{enc} {word_bits} pes {pes}");
        assert_eq!(core.synops, 7);
        assert_eq!(core.update_cycles, walk);
        // Host write (cycle 0), pop (cycle 1), read latency, event, walk, barrier.
        assert_eq!(
            c.cycles,
            1 + rl as u64 + cost + walk + 5,
            "{enc} {word_bits} pes {pes} rl {rl}"
        );
    }
}

#[test]
fn spike_across_h_hops_costs_the_zero_load_latency() {
    for (h, r, l) in [(1u32, 1u32, 1u32), (3, 2, 1), (5, 1, 3), (7, 3, 2)] {
        // Layer 0 has h neurons on h cores (one per core); only neuron 0 is
        // wired, so its spike goes to layer 1 on core h, h hops east.
        let w0: Vec<&str> = (0..h).map(|i| if i == 0 { "1" } else { "0" }).collect();
        let w1: Vec<&str> = (0..h).map(|i| if i == 0 { "1" } else { "0" }).collect();
        let m = model(
            &format!(
                "(kind: dense(inputs: 1, outputs: {h}), weight_bits: 2, weights: [{}], neuron: (threshold: 0)),
                 (kind: dense(inputs: {h}, outputs: 1), weight_bits: 2, weights: [{}], neuron: (threshold: 0))",
                w0.join(","),
                w1.join(",")
            ),
            1,
        );
        let hw = common::with(
            &common::preset("tiny"),
            &[
                "mesh=8x1",
                "core.neurons=1",
                "core.pes=1",
                "synapse_memory.read_latency_cycles=1",
                &format!("router.latency_cycles={r}"),
                &format!("router.link_latency_cycles={l}"),
                "barrier_cycles=3",
            ],
        );
        let c = run(&m, &hw);
        assert_eq!(c.noc.ejected, 1);
        let zero_load = (h * (r + l) + r) as u64;
        assert_eq!(c.noc.latency_max, zero_load);
        // Phase 0: host write, pop, read latency 1, 1-cycle event, 1-cycle
        // walk (spike ready after it), the flit, pop, read latency, event;
        // barrier; phase 1: 1-cycle walk; barrier.
        let expected = (1 + 1 + 1) + 1 + zero_load + (1 + 1 + 1) + 3 + 1 + 3;
        assert_eq!(c.cycles, expected, "h={h} r={r} l={l}");
        assert_eq!(c.phase_cycles, vec![expected - 4, 4]);
    }
}

#[test]
fn skipping_idle_cycles_changes_no_counter() {
    // Long latencies leave many idle cycles to jump over.
    let m = neurocycle_core::model::gen::generate(&neurocycle_core::model::gen::GenSpec {
        layers: vec![30, 20, 12, 4],
        timesteps: 4,
        sparsity: 0.6,
        ..Default::default()
    });
    let hw = common::with(
        &common::preset("tiny"),
        &[
            "mesh=4x4",
            "core.neurons=8",
            "router.latency_cycles=7",
            "router.link_latency_cycles=13",
            "synapse_memory.read_latency_cycles=9",
            "barrier_cycles=50",
        ],
    );
    common::check(&m, &hw, 3, 5);
}

#[test]
fn a_full_injection_buffer_holds_the_sender() {
    // One neuron fans out to 5 cores on the same router (1x1 mesh, 6 cores
    // per router), so flits leave by distinct ejection ports and only the
    // injection buffer limits the sender. Router latency 3.
    let m = model(
        "(kind: dense(inputs: 1, outputs: 1), weight_bits: 2, weights: [1], neuron: (threshold: 0)),
         (kind: dense(inputs: 1, outputs: 5), weight_bits: 2, weights: [1, 1, 1, 1, 1], neuron: (threshold: 100))",
        1,
    );
    for (depth, expected) in [(2u32, 23u64), (4, 21)] {
        let hw = common::with(
            &common::preset("tiny"),
            &[
                "mesh=1x1",
                "cores_per_router=6",
                "core.neurons=1",
                "core.pes=1",
                "synapse_memory.read_latency_cycles=1",
                "router.latency_cycles=3",
                &format!("router.buffer_depth={depth}"),
                "barrier_cycles=3",
            ],
        );
        // Host write 0, start 1, 1-cycle event, drain 3; walk 3..4, spike
        // ready at 4. Injection, one per cycle while the buffer has room:
        // depth 4: 4, 5, 6, 7, 8; depth 2: 4, 5, then full until flit 0
        // leaves at 7 (4 + 3): 7, 8, then full until flit 2 leaves at 10: 10.
        // Each flit leaves 3 cycles after entering (one per cycle from the
        // port): last ejection 11 (depth 4) or 13 (depth 2); admitted, it
        // starts a cycle later and drains 2 cycles after: 14 or 16. Barrier
        // 3, walk of layer 1 (1 cycle), barrier 3.
        let c = run(&m, &hw);
        assert_eq!(c.noc.ejected, 5);
        assert_eq!(c.noc.stall_cycles, 0);
        assert_eq!(c.cycles, expected, "buffer depth {depth}");
    }
}

#[test]
fn a_million_quiet_cycles_are_not_a_deadlock() {
    // 16 input events, each a row of 65,536 non-zero synapses on one PE:
    // 65,536 cycles apiece, queued back to back, so the chip does nothing
    // visible for over a million cycles while the pipeline works.
    let m = neurocycle_core::model::gen::generate(&neurocycle_core::model::gen::GenSpec {
        layers: vec![16, 65_536],
        sparsity: 0.0,
        timesteps: 1,
        input_rate: 1.0,
        ..Default::default()
    });
    let hw = common::with(
        &common::preset("tiny"),
        &[
            "mesh=1x1",
            "core.neurons=65536",
            "core.pes=1",
            "synapse_memory.encoding=dense",
            "synapse_memory.word_bits=16",
            "synapse_memory.bytes=1048576",
            "synapse_memory.read_latency_cycles=1",
            "barrier_cycles=0",
        ],
    );
    let map = mapping::map(&m, &hw, "big").unwrap();
    let chip = Chip::build(&hw, &m, &map);
    let stim = neurocycle_core::model::stimulus::synthetic(&m, 1, 0);
    let c = run_sample(&chip, &stim, EngineOptions::default(), &mut Quiet)
        .unwrap()
        .counters;
    // Event k starts at 1 + 65,536 k; the last drains one read latency after
    // its 65,536 cycles; then the walk of 65,536 neurons on one PE.
    let per_event = 65_536u64;
    assert_eq!(c.cores[0].events, 16);
    assert_eq!(c.cycles, 1 + 15 * per_event + 1 + per_event + 65_536);
}
