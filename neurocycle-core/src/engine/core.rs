//! One neurocore: a work queue of spike events, an integration pipeline
//! that reads synapse rows and hands synapses to PEs, banks of input
//! accumulators (one per timestep a spike can land ahead: delays), the
//! membrane state,
//! and the update walk that emits spikes toward the router.
//!
//! The queue is first in, first out and nothing overtakes in the pipeline,
//! so the cycle at which an event will start integrating is known the
//! moment it arrives: one cycle after its arrival at the earliest, once the
//! previous event has issued all its words and synapses, and never during
//! the update walk. `admit` therefore integrates an event on arrival and
//! keeps only its start cycle, which is when it leaves the queue; the
//! queue's occupancy at any cycle follows from those start cycles. This
//! saves visiting the core at every event without changing a count.
//!
//! A visit (`step_core`) writes the phase's host input events, starts the
//! update once everything sent to the core has been integrated, and sends
//! one flit per cycle to the router.

use super::chip::CoreTables;
use super::counters::CoreCounters;
use super::noc::{Flit, Mesh};
use crate::mapping::Routes;
use crate::model::neuron::{
    adapt, decay_traces, depress, effective_threshold, potentiate, step, trace_bump, LifConsts,
};

/// Start cycles of the events in a work queue: a fixed-capacity FIFO.
#[derive(Clone, Debug)]
pub struct Queue {
    start: Vec<u64>,
    head: usize,
    len: usize,
}

impl Queue {
    pub fn new(depth: usize) -> Queue {
        Queue {
            start: vec![0; depth],
            head: 0,
            len: 0,
        }
    }

    /// Events still in the queue at `now` (as routers see it at the start
    /// of the cycle: an event leaves the queue during its start cycle).
    pub fn occupancy(&mut self, now: u64) -> usize {
        while self.len > 0 && self.start[self.head] < now {
            self.head += 1;
            if self.head == self.start.len() {
                self.head = 0;
            }
            self.len -= 1;
        }
        self.len
    }

    /// First cycle, `now` or later, at which the queue has room.
    pub fn room_at(&mut self, now: u64) -> u64 {
        if self.occupancy(now) < self.start.len() {
            now
        } else {
            self.start[self.head] + 1
        }
    }

    fn push(&mut self, start: u64) {
        debug_assert!(self.len < self.start.len(), "work queue overflow");
        let mut at = self.head + self.len;
        if at >= self.start.len() {
            at -= self.start.len();
        }
        self.start[at] = start;
        self.len += 1;
    }
}

/// What a phase asks of the cores; the same for all of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseCtx {
    pub t: u32,
    pub phase: usize,
    /// Accumulator banks of every core.
    pub banks: u32,
    /// `t mod banks`: the bank the update consumes, and the tag of this
    /// timestep's host events and flits; an event lands in bank
    /// `(tag + delay of its row) mod banks`.
    pub bank: u32,
    pub read_latency: u64,
    /// STDP layers learn (otherwise their weights are only read).
    pub learn: bool,
}

#[derive(Clone, Debug)]
pub struct CoreState {
    pub queue: Queue,
    pub acc: Vec<i32>,
    pub u: Vec<i32>,
    pub v: Vec<i32>,
    /// What a new inference starts u and v from (empty: 0).
    u_init: Vec<i32>,
    v_init: Vec<i32>,
    /// The pipeline accepts the next event from this cycle on.
    pub integ_free_at: u64,
    /// The last admitted event's accumulates are all done at this cycle.
    pub drain_at: u64,
    pub must_update: bool,
    pub updated: bool,
    pub update_end: u64,
    pub host_done: bool,
    /// Spikes of the current update: (cycle available, local neuron).
    pub out: Vec<(u64, u32)>,
    pub out_head: usize,
    pub dest_next: u32,
    /// The sender's next free cycle (one flit per cycle).
    pub next_send_at: u64,
    pub wake: u64,
    pub cnt: CoreCounters,
    /// Adaptive thresholds (zeros without adaptation).
    pub theta: Vec<i32>,
    /// A plastic core's own weights (the tables' are the initial ones);
    /// empty otherwise.
    pub weights: Vec<i16>,
    /// STDP traces: one per input row, one per neuron.
    pub pre_trace: Vec<i32>,
    pub post_trace: Vec<i32>,
    /// Some post trace is large enough for a presynaptic spike to depress
    /// (`a_minus * y >= 256`). When none is, depression would leave every
    /// weight as it is (they are validated in range and every write
    /// clamps), so the row walk is skipped; its cycles are still counted.
    pub depressing: bool,
}

impl CoreState {
    pub fn new(t: &CoreTables, queue_depth: u32, n_phases: usize, banks: u32) -> CoreState {
        let n = t.n_neurons as usize;
        CoreState {
            queue: Queue::new(queue_depth as usize),
            acc: vec![0; banks as usize * n],
            u: if t.u_init.is_empty() {
                vec![0; n]
            } else {
                t.u_init.clone()
            },
            v: if t.v_init.is_empty() {
                vec![0; n]
            } else {
                t.v_init.clone()
            },
            u_init: t.u_init.clone(),
            v_init: t.v_init.clone(),
            integ_free_at: 0,
            drain_at: 0,
            must_update: false,
            updated: false,
            update_end: 0,
            host_done: true,
            out: Vec::with_capacity(n),
            out_head: 0,
            dest_next: 0,
            next_send_at: 0,
            wake: u64::MAX,
            cnt: CoreCounters {
                busy_cycles_by_phase: vec![0; n_phases],
                ..CoreCounters::default()
            },
            theta: vec![0; n],
            weights: if t.stdp.is_some() {
                t.weights.clone()
            } else {
                vec![]
            },
            pre_trace: vec![
                0;
                if t.stdp.is_some() {
                    t.input_rows as usize
                } else {
                    0
                }
            ],
            post_trace: vec![0; if t.stdp.is_some() { n } else { 0 }],
            depressing: false,
        }
    }

    /// Back to the state of a new inference, keeping every allocation.
    /// Plastic weights and thresholds are the caller's (learning swaps its
    /// own in; without learning they never change).
    pub fn reset(&mut self) {
        self.queue.head = 0;
        self.queue.len = 0;
        self.acc.fill(0);
        for (x, init) in [(&mut self.u, &self.u_init), (&mut self.v, &self.v_init)] {
            if init.is_empty() {
                x.fill(0);
            } else {
                x.copy_from_slice(init);
            }
        }
        self.theta.fill(0);
        self.pre_trace.fill(0);
        self.post_trace.fill(0);
        self.depressing = false;
        self.integ_free_at = 0;
        self.drain_at = 0;
        self.must_update = false;
        self.updated = false;
        self.update_end = 0;
        self.host_done = true;
        self.out.clear();
        self.out_head = 0;
        self.dest_next = 0;
        self.next_send_at = 0;
        self.wake = u64::MAX;
        let mut by_phase = std::mem::take(&mut self.cnt.busy_cycles_by_phase);
        by_phase.fill(0);
        self.cnt = CoreCounters {
            busy_cycles_by_phase: by_phase,
            ..CoreCounters::default()
        };
    }

    pub fn begin_phase(&mut self, must_update: bool, has_host_input: bool, now: u64) {
        self.must_update = must_update;
        self.updated = false;
        self.host_done = !has_host_input;
        self.out.clear();
        self.out_head = 0;
        self.dest_next = 0;
        self.wake = now;
    }

    /// Nothing left to start in this phase: what remains is only waiting
    /// for the pipeline and the walk to finish (`busy_until`).
    pub fn quiescent(&self) -> bool {
        self.host_done && (!self.must_update || self.updated) && self.out_head == self.out.len()
    }

    /// The cycle at which the core's last integration and walk are done
    /// (its queue is then empty: every event starts before it drains).
    pub fn busy_until(&self) -> u64 {
        self.drain_at.max(self.update_end)
    }

    /// An event arrives in the work queue at cycle `arrival`: schedule its
    /// integration and perform it. `tag`: the spike's timestep mod banks.
    /// The caller has checked for room.
    pub fn admit(
        &mut self,
        tb: &CoreTables,
        axon: u32,
        payload: u32,
        tag: u32,
        arrival: u64,
        ctx: &PhaseCtx,
    ) -> (u64, u64) {
        let start = (arrival + 1).max(self.integ_free_at).max(self.update_end);
        self.queue.occupancy(arrival);
        self.queue.push(start);
        let a = axon as usize;
        // tag and delay are both below `banks`.
        let mut bank = tag + tb.row_delay[a] as u32;
        if bank >= ctx.banks {
            bank -= ctx.banks;
        }
        let (lo, hi) = (tb.row_start[a] as usize, tb.row_start[a + 1] as usize);
        let n = tb.n_neurons as usize;
        let acc = &mut self.acc[bank as usize * n..(bank as usize + 1) * n];
        let payload = payload as i32;
        let weights = if self.weights.is_empty() {
            &tb.weights[lo..hi]
        } else {
            &self.weights[lo..hi]
        };
        if tb.row_full[a] {
            // Same sums as the indexed loop below, without the gather.
            for (slot, w) in acc.iter_mut().zip(weights) {
                *slot = slot.wrapping_add((*w as i32).wrapping_mul(payload));
            }
        } else {
            for (t, w) in tb.targets[lo..hi].iter().zip(weights) {
                let slot = &mut acc[*t as usize];
                *slot = slot.wrapping_add((*w as i32).wrapping_mul(payload));
            }
        }
        let mut cost = tb.row_cost[a] as u64;
        if let (true, Some(rule)) = (ctx.learn, &tb.stdp) {
            if axon < tb.input_rows {
                // Depression by the post traces of the step before, written
                // back word by word after the accumulates.
                trace_bump(&mut self.pre_trace[a], rule.pre_increment);
                if self.depressing {
                    for (w, y) in self.weights[lo..hi].iter_mut().zip(&self.post_trace) {
                        *w = depress(rule, *w as i32, *y) as i16;
                    }
                }
                cost = tb.learn_row_cost[a] as u64;
                self.cnt.synapse_word_writes += tb.row_words[a] as u64;
                self.cnt.weight_updates += (hi - lo) as u64;
                self.cnt.trace_accesses += 2 + (hi - lo) as u64;
            }
        }
        self.integ_free_at = start + cost;
        self.drain_at = start + ctx.read_latency + cost;
        self.cnt.events += 1;
        self.cnt.synops += (hi - lo) as u64;
        self.cnt.integration_cycles += cost;
        self.cnt.busy_cycles_by_phase[ctx.phase] += cost;
        self.cnt.synapse_word_reads += tb.row_words[a] as u64;
        (start, cost)
    }
}

/// Everything a core step reads besides its own state and the phase's
/// host input: built once per run, `ctx` set at each phase.
pub struct StepEnv<'a> {
    /// The physical core id.
    pub core: u32,
    pub tables: &'a CoreTables,
    pub consts: &'a LifConsts,
    pub routes: &'a Routes,
    pub is_output: bool,
    pub pes: u32,
    /// Tree multicast: the groups of the population's neurons
    /// (`Chip::group_start`) and their destination sets. `None`: one flit
    /// per destination.
    pub groups: Option<(&'a [u32], &'a super::noc::Groups)>,
    pub ctx: PhaseCtx,
}

/// What a core does, for recording and traces (the engine's `Observer`
/// sees it through this).
pub trait CoreEvents {
    /// The update walk emitted a spike, ready for the router at `cycle`.
    fn spike(&mut self, t: u32, layer: u32, neuron: u32, core: u32, cycle: u64);
    /// An event entered the work queue at `arrival` and integrates from
    /// `start` for `cycles`.
    fn event(&mut self, core: u32, arrival: u64, start: u64, cycles: u64);
    /// The update walk ran from `start` for `cycles`.
    fn update(&mut self, core: u32, start: u64, cycles: u64);
    /// Learning (column updates, trace walk) ran from `start` for `cycles`.
    fn learn(&mut self, core: u32, start: u64, cycles: u64);
    /// A flit entered the core's injection buffer at `cycle`.
    fn injected(&mut self, core: u32, cycle: u64);
}

/// Visits one core at cycle `now`.
#[inline(always)]
pub fn step_core(
    s: &mut CoreState,
    env: &StepEnv,
    host: &[(u32, u32)],
    now: u64,
    mesh: &mut Mesh,
    events: &mut impl CoreEvents,
    out_counts: &mut [i64],
) {
    let tb = env.tables;
    let ctx = &env.ctx;

    // Host interface: one input event per cycle, while the queue has room.
    if !s.host_done {
        let mut at = now;
        for &(axon, payload) in host {
            at = s.queue.room_at(at);
            let (start, cycles) = s.admit(tb, axon, payload, ctx.bank, at, ctx);
            events.event(env.core, at, start, cycles);
            s.cnt.host_events += 1;
            at += 1;
        }
        s.host_done = true;
    }

    // Update: every PE walks its neurons, one per cycle; a spike of the
    // neuron walked at offset k is ready for the router at start + k + 1.
    if s.must_update && !s.updated && now >= s.drain_at && now >= s.update_end {
        let n = tb.n_neurons as usize;
        let base = ctx.bank as usize * n;
        let adaptive = env.consts.adaptation.is_some();
        for &(neuron, k) in &tb.walk {
            let i = neuron as usize;
            let input = std::mem::take(&mut s.acc[base + i]) as i64;
            let threshold = if adaptive {
                effective_threshold(env.consts, tb.threshold[i], s.theta[i])
            } else {
                tb.threshold[i]
            };
            let fired = step(
                env.consts,
                &mut s.u[i],
                &mut s.v[i],
                input,
                threshold,
                tb.bias[i],
            );
            if adaptive {
                adapt(env.consts, &mut s.theta[i], fired);
            }
            if fired {
                let at = now + k as u64 + 1;
                s.out.push((at, neuron));
                events.spike(ctx.t, tb.population, tb.first_neuron + neuron, env.core, at);
                if env.is_output {
                    out_counts[(tb.first_neuron + neuron) as usize] += 1;
                }
            }
        }
        s.cnt.spikes += s.out.len() as u64;
        s.updated = true;
        s.update_end = now + tb.update_cycles as u64;
        events.update(env.core, now, tb.update_cycles as u64);
        s.cnt.update_cycles += tb.update_cycles as u64;
        s.cnt.busy_cycles_by_phase[ctx.phase] += tb.update_cycles as u64;
        s.cnt.neuron_updates += n as u64;
        s.cnt.membrane_word_reads += tb.membrane_words as u64;
        s.cnt.membrane_word_writes += tb.membrane_words as u64;
        if let (true, Some(rule)) = (ctx.learn, &tb.stdp) {
            let cycles = learn(s, tb, rule, env.pes);
            events.learn(env.core, s.update_end, cycles);
            s.update_end += cycles;
            s.cnt.learning_cycles += cycles;
            s.cnt.busy_cycles_by_phase[ctx.phase] += cycles;
        }
    }

    // Sending: one flit per cycle, one routing-table read per flit. With
    // F free slots in the injection buffer now, the next F flits are sure
    // to find room at the cycles they go in (only the router takes flits
    // out, and only this core puts them in), so they are injected at once,
    // each stamped with its own cycle: max(previous + 1, spike ready).
    let mut room = mesh.injection_room(env.core);
    while room > 0 && s.out_head < s.out.len() {
        let (ready, neuron) = s.out[s.out_head];
        let dests = env.routes.of((tb.first_neuron + neuron) as usize);
        if dests.is_empty() {
            s.out_head += 1;
            continue;
        }
        let at = ready.max(s.next_send_at).max(now);
        s.next_send_at = at + 1;
        if let Some((starts, groups)) = env.groups {
            // One flit per destination set; the source reads every entry
            // of the set to build it.
            let i = (tb.first_neuron + neuron) as usize;
            let group = starts[i] + s.dest_next;
            mesh.inject(Flit::multicast(env.core, group, 1, ctx.bank as u8), at);
            events.injected(env.core, at);
            s.cnt.routing_table_reads += groups.len(group) as u64;
            s.dest_next += 1;
            if s.dest_next == starts[i + 1] - starts[i] {
                s.dest_next = 0;
                s.out_head += 1;
            }
        } else {
            let d = dests[s.dest_next as usize];
            mesh.inject(Flit::new(env.core, d.core, d.axon, 1, ctx.bank as u8), at);
            events.injected(env.core, at);
            s.cnt.routing_table_reads += 1;
            s.dest_next += 1;
            if s.dest_next as usize == dests.len() {
                s.dest_next = 0;
                s.out_head += 1;
            }
        }
        room -= 1;
    }

    s.wake = next_wake(s, now);
}

/// The learning step after an update: each spike of the update
/// potentiates its column (one word read and written per input row), then
/// the PEs walk the traces (decay; the post traces of spiking neurons also
/// step up). Returns its cycles.
fn learn(s: &mut CoreState, tb: &CoreTables, rule: &crate::model::Stdp, pes: u32) -> u64 {
    let n = tb.n_neurons as usize;
    let rows = tb.input_rows as usize;
    for &(_, j) in &s.out {
        let j = j as usize;
        for (a, x) in s.pre_trace.iter().enumerate() {
            // Plastic rows hold every target 0..n in order.
            let k = tb.row_start[a] as usize + j;
            s.weights[k] = potentiate(rule, s.weights[k] as i32, *x) as i16;
        }
    }
    decay_traces(&mut s.post_trace, rule.post_decay);
    for &(_, j) in &s.out {
        trace_bump(&mut s.post_trace[j as usize], rule.post_increment);
    }
    s.depressing = s.post_trace.iter().any(|&y| rule.a_minus * y >= 256);
    decay_traces(&mut s.pre_trace, rule.pre_decay);
    let spikes = s.out.len() as u64;
    s.cnt.learn_synapse_word_reads += spikes * rows as u64;
    s.cnt.synapse_word_writes += spikes * rows as u64;
    s.cnt.weight_updates += spikes * rows as u64;
    s.cnt.trace_accesses += 2 * (rows + n) as u64 + spikes * (rows as u64 + 2);
    spikes * 2 * rows as u64 + (rows + n).div_ceil(pes as usize) as u64
}

/// The next cycle at which this core can start anything (conservative:
/// a visit before it is a no-op). An arrival moves it earlier when the
/// core still has to update (see `Queues::accept`). Spikes left to send
/// mean the injection buffer is full: the router says when it takes a
/// flit out (`Queues::injection_freed`), so the core does not look every
/// cycle.
fn next_wake(s: &CoreState, now: u64) -> u64 {
    if s.must_update && !s.updated {
        s.busy_until().max(now + 1)
    } else {
        u64::MAX
    }
}
