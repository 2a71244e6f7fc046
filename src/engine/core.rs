//! One neurocore: a work queue of spike events, an integration pipeline
//! that reads synapse rows and hands synapses to PEs, two banks of input
//! accumulators (the current and the next timestep), the membrane state,
//! and the update walk that emits spikes toward the router.
//!
//! Per cycle, in this order: the host writes one input event if the queue
//! has room; integration starts one event if it is free and not updating;
//! the update starts once everything the phase sends this core has been
//! integrated; one flit leaves for the router's injection port.
//! An event or flit written in cycle c is visible from cycle c + 1.

use super::chip::CoreTables;
use super::counters::CoreCounters;
use super::noc::{Flit, Mesh};
use crate::mapping::Routes;
use crate::model::neuron::{step, LifConsts};

#[derive(Clone, Copy, Debug, Default)]
pub struct Event {
    pub axon: u32,
    pub payload: u32,
    /// Accumulator bank (timestep parity) the event adds to.
    pub bank: u32,
    pub arrival: u64,
}

/// A fixed-capacity FIFO, allocated once.
#[derive(Clone, Debug)]
pub struct Ring {
    buf: Vec<Event>,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            buf: vec![Event::default(); cap],
            head: 0,
            len: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }
    pub fn front(&self) -> Option<&Event> {
        (self.len > 0).then(|| &self.buf[self.head])
    }
    pub fn push(&mut self, e: Event) {
        debug_assert!(!self.is_full());
        let mut at = self.head + self.len;
        if at >= self.buf.len() {
            at -= self.buf.len();
        }
        self.buf[at] = e;
        self.len += 1;
    }
    pub fn pop(&mut self) -> Event {
        let e = self.buf[self.head];
        self.head += 1;
        if self.head == self.buf.len() {
            self.head = 0;
        }
        self.len -= 1;
        e
    }
}

/// What a phase asks of the cores; the same for all of them.
#[derive(Clone, Copy, Debug)]
pub struct PhaseCtx {
    pub t: u32,
    pub phase: usize,
    /// Accumulator bank the update consumes.
    pub update_bank: u32,
    /// Bank of host input events.
    pub host_bank: u32,
    /// Bank (tag) of the flits this phase's updates emit.
    pub emit_bank: u32,
    pub read_latency: u64,
    pub is_last_layer_phase: bool,
}

#[derive(Clone, Debug)]
pub struct CoreState {
    pub queue: Ring,
    pub acc: Vec<i32>,
    pub u: Vec<i32>,
    pub v: Vec<i32>,
    pub integ_free_at: u64,
    pub drain_at: u64,
    pub must_update: bool,
    pub updated: bool,
    pub update_end: u64,
    pub host_next: usize,
    /// Spikes of the current update: (cycle available, local neuron).
    pub out: Vec<(u64, u32)>,
    pub out_head: usize,
    pub dest_next: u32,
    pub wake: u64,
    pub cnt: CoreCounters,
}

impl CoreState {
    pub fn new(t: &CoreTables, queue_depth: u32, n_phases: usize) -> CoreState {
        let n = t.n_neurons as usize;
        CoreState {
            queue: Ring::new(queue_depth as usize),
            acc: vec![0; 2 * n],
            u: vec![0; n],
            v: vec![0; n],
            integ_free_at: 0,
            drain_at: 0,
            must_update: false,
            updated: false,
            update_end: 0,
            host_next: 0,
            out: Vec::with_capacity(n),
            out_head: 0,
            dest_next: 0,
            wake: u64::MAX,
            cnt: CoreCounters {
                busy_cycles_by_phase: vec![0; n_phases],
                ..CoreCounters::default()
            },
        }
    }

    pub fn begin_phase(&mut self, must_update: bool, now: u64) {
        self.must_update = must_update;
        self.updated = false;
        self.host_next = 0;
        self.out.clear();
        self.out_head = 0;
        self.dest_next = 0;
        self.wake = now;
    }

    /// Nothing left to do in this phase.
    pub fn idle(&self, host_len: usize, now: u64) -> bool {
        self.host_next == host_len
            && self.queue.is_empty()
            && now >= self.drain_at
            && now >= self.update_end
            && (!self.must_update || self.updated)
            && self.out_head == self.out.len()
    }
}

/// Everything a core step reads besides its own state.
pub struct StepEnv<'a> {
    pub core: u32,
    pub tables: &'a CoreTables,
    pub consts: &'a LifConsts,
    pub routes: &'a Routes,
    pub host: &'a [(u32, u32)],
    pub ctx: PhaseCtx,
}

/// Observes spikes as the update walk emits them.
pub trait SpikeSink {
    fn spike(&mut self, t: u32, layer: u32, neuron: u32, core: u32, cycle: u64);
}

/// Advances one core by one cycle. Returns whether it did anything.
pub fn step_core(
    s: &mut CoreState,
    env: &StepEnv,
    now: u64,
    mesh: &mut Mesh,
    spikes: &mut impl SpikeSink,
    out_counts: &mut [i64],
) -> bool {
    let tb = env.tables;
    let ctx = &env.ctx;
    let mut acted = false;
    let updating = now < s.update_end;

    // Host interface: one input event per cycle into the work queue.
    if s.host_next < env.host.len() && !s.queue.is_full() {
        let (axon, payload) = env.host[s.host_next];
        s.queue.push(Event {
            axon,
            payload,
            bank: ctx.host_bank,
            arrival: now,
        });
        s.host_next += 1;
        s.cnt.host_events += 1;
        acted = true;
    }

    // Integration: one event enters the pipeline when the previous one has
    // issued all its words and synapses.
    if !updating && now >= s.integ_free_at {
        if let Some(ev) = s.queue.front() {
            if ev.arrival < now {
                let ev = s.queue.pop();
                mesh.notify_queue_space(env.core, now);
                let a = ev.axon as usize;
                let (lo, hi) = (tb.row_start[a] as usize, tb.row_start[a + 1] as usize);
                let base = ev.bank as usize * tb.n_neurons as usize;
                let acc = &mut s.acc[base..base + tb.n_neurons as usize];
                let payload = ev.payload as i32;
                for (t, w) in tb.targets[lo..hi].iter().zip(&tb.weights[lo..hi]) {
                    let slot = &mut acc[*t as usize];
                    *slot = slot.wrapping_add((*w as i32).wrapping_mul(payload));
                }
                let cost = tb.row_cost[a] as u64;
                s.integ_free_at = now + cost;
                s.drain_at = now + ctx.read_latency + cost;
                s.cnt.events += 1;
                s.cnt.synops += (hi - lo) as u64;
                s.cnt.integration_cycles += cost;
                s.cnt.busy_cycles_by_phase[ctx.phase] += cost;
                s.cnt.synapse_word_reads += tb.row_words[a] as u64;
                acted = true;
            }
        }
    }

    // Update: every PE walks its neurons, one per cycle; a spike of the
    // neuron walked at offset k is ready for the router at start + k + 1.
    if s.must_update
        && !s.updated
        && s.host_next == env.host.len()
        && s.queue.is_empty()
        && now >= s.drain_at
        && !updating
    {
        let n = tb.n_neurons as usize;
        let base = ctx.update_bank as usize * n;
        for &(neuron, k) in &tb.walk {
            let i = neuron as usize;
            let input = std::mem::take(&mut s.acc[base + i]) as i64;
            if step(
                env.consts,
                &mut s.u[i],
                &mut s.v[i],
                input,
                tb.threshold[i],
                tb.bias[i],
            ) {
                let at = now + k as u64 + 1;
                s.out.push((at, neuron));
                spikes.spike(ctx.t, tb.layer, tb.first_neuron + neuron, env.core, at);
                if ctx.is_last_layer_phase {
                    out_counts[(tb.first_neuron + neuron) as usize] += 1;
                }
            }
        }
        s.cnt.spikes += s.out.len() as u64;
        s.updated = true;
        s.update_end = now + tb.update_cycles as u64;
        s.cnt.update_cycles += tb.update_cycles as u64;
        s.cnt.busy_cycles_by_phase[ctx.phase] += tb.update_cycles as u64;
        s.cnt.neuron_updates += n as u64;
        s.cnt.membrane_word_reads += tb.membrane_words as u64;
        s.cnt.membrane_word_writes += tb.membrane_words as u64;
        acted = true;
    }

    // Injection: one flit per cycle, one routing-table read per flit.
    while s.out_head < s.out.len() {
        let (at, neuron) = s.out[s.out_head];
        if at > now {
            break;
        }
        let dests = env.routes.of((tb.first_neuron + neuron) as usize);
        if dests.is_empty() {
            s.out_head += 1;
            continue;
        }
        if !mesh.can_inject(env.core) {
            break;
        }
        let d = dests[s.dest_next as usize];
        mesh.inject(Flit::new(env.core, d.core, d.axon, 1, ctx.emit_bank), now);
        s.cnt.routing_table_reads += 1;
        s.dest_next += 1;
        if s.dest_next as usize == dests.len() {
            s.dest_next = 0;
            s.out_head += 1;
        }
        acted = true;
        break;
    }

    s.wake = next_wake(s, env.host.len(), now);
    acted
}

/// The next cycle at which this core can change anything (conservative:
/// a visit before it is a no-op).
fn next_wake(s: &CoreState, host_len: usize, now: u64) -> u64 {
    let soon = now + 1;
    let mut w = u64::MAX;
    if s.host_next < host_len && !s.queue.is_full() {
        w = soon;
    }
    if let Some(head) = s.queue.front() {
        w = w.min(
            s.integ_free_at
                .max(head.arrival + 1)
                .max(s.update_end)
                .max(soon),
        );
    }
    if s.must_update && !s.updated {
        w = w.min(s.drain_at.max(s.update_end).max(soon));
    }
    if s.out_head < s.out.len() {
        w = w.min(s.out[s.out_head].0.max(soon));
    }
    if s.drain_at > now {
        w = w.min(s.drain_at);
    }
    if s.update_end > now {
        w = w.min(s.update_end);
    }
    w
}
