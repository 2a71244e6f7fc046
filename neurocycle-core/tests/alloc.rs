//! The engine's steady state allocates nothing: once an `Engine` has run
//! an inference, running another allocates nothing between its first
//! cycle and its last phase's end (the cycle loop), whatever the model.

mod common;

use neurocycle_core::engine::{Chip, Engine, EngineOptions, Observer};
use neurocycle_core::mapping;
use neurocycle_core::model::gen::{bench_spec, generate};
use neurocycle_core::model::stimulus::synthetic;
use neurocycle_core::model::Model;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations from the first cycle to the end of the last phase.
#[derive(Default)]
struct InLoop {
    at_start: u64,
    at_last_phase: u64,
    phases: u64,
    /// Allocate in every phase callback (to see the count work).
    allocate: bool,
    kept: Vec<Vec<u8>>,
}

impl Observer for InLoop {
    fn start(&mut self) {
        self.at_start = ALLOCATIONS.load(Ordering::Relaxed);
    }
    fn phase(&mut self, _t: u32, _phase: u32, _start: u64, _end: u64) {
        if self.allocate {
            self.kept.push(Vec::with_capacity(8));
        }
        self.at_last_phase = ALLOCATIONS.load(Ordering::Relaxed);
        self.phases += 1;
    }
}

fn in_loop(
    model: &Model,
    hw: &neurocycle_core::config::Checked<neurocycle_core::config::HwConfig>,
    allocate: bool,
) -> (u64, u64) {
    let map = mapping::map(model, hw, "m").unwrap();
    let chip = Chip::build(hw, model, &map);
    let mut engine = Engine::new(&chip, 1);
    let stim = synthetic(model, 3, 0);
    let mut counts = vec![];
    for _ in 0..2 {
        let mut obs = InLoop {
            allocate,
            ..InLoop::default()
        };
        let out = engine
            .run(&stim, EngineOptions::default(), &mut obs)
            .unwrap();
        assert!(
            obs.phases > 0 && out.counters.noc.ejected > 0,
            "the case has traffic"
        );
        counts.push(obs.at_last_phase - obs.at_start);
    }
    (counts[0], counts[1])
}

#[test]
fn a_second_inference_allocates_nothing_in_the_cycle_loop() {
    // The bench workload on the default chip.
    let hw = common::preset("default");
    let model = generate(&bench_spec());
    let (_, second) = in_loop(&model, &hw, false);
    assert_eq!(
        second, 0,
        "allocations in the second inference's cycle loop"
    );
    // The count sees an allocation in the loop.
    let (_, counted) = in_loop(&model, &hw, true);
    assert!(counted > 0);
    // A graph with recurrence and delays, with tree multicast and tight
    // buffers (back-pressure everywhere).
    let mut case = None;
    for seed in 0..200 {
        let c = common::graph::GraphCase {
            sizes: vec![12, 9, 6],
            extra: vec![
                (2, 1, 1, Some(2), 4),
                (1, 0, 0, None, 8),
                (3, 2, 2, Some(1), 2),
            ],
            semantics: neurocycle_core::model::Semantics::LayerSerial,
            readout: neurocycle_core::model::Readout::SpikeCount,
            timesteps: 6,
            rate: 0.6,
            graded: None,
            lateral: true,
            du: 4096,
            dv: 0,
            reset: neurocycle_core::model::Reset::Subtract,
            decay_bits: 12,
            seed,
        };
        let m = c.build();
        if neurocycle_core::reference::run(&m, &synthetic(&m, 3, 0))
            .spikes
            .len()
            > 20
        {
            case = Some(m);
            break;
        }
    }
    let model = case.expect("an active case");
    let hw = common::with(
        &common::preset("tiny"),
        &[
            "router.multicast=xy_tree",
            "router.buffer_depth=1",
            "core.queue_depth=1",
            "core.neurons=4",
            "mesh=3x3",
            "membrane_sram.state_bits=32",
        ],
    );
    let (_, second) = in_loop(&model, &hw, false);
    assert_eq!(
        second, 0,
        "allocations in the second inference's cycle loop"
    );
    // The input-queued router, 4 VCs, multi-port speedup, on the bench
    // workload: its buffers, channels and allocator scratch are sized when
    // the mesh is built.
    let model = generate(&bench_spec());
    let hw = common::with(
        &common::preset("default"),
        &[
            "router.input_queued.vcs=4",
            "router.input_queued.input_speedup=2",
            "router.input_queued.output_speedup=2",
            "router.latency_cycles=4",
        ],
    );
    let (_, second) = in_loop(&model, &hw, false);
    assert_eq!(
        second, 0,
        "allocations in the second inference's cycle loop (input-queued router)"
    );
}
