//! The input-queued router with virtual channels, after BookSim2's
//! `iq_router`: per-VC input buffers with credits, route computation, VC
//! allocation once per packet, switch allocation once per flit, switch
//! traversal, an output link per port, and a network interface (NI) per
//! core with its own injection and ejection channels and credits.
//!
//! A stage of `d` cycles that starts at cycle `e` decides then and takes
//! effect at `e + d - 1`; a request that failed tries again the cycle
//! after. With no contention a head that arrives at cycle `a` leaves the
//! crossbar at `a + R - 1`, `R = routing + allocation + crossbar` (the
//! allocation is VA + SA, or one shared stage when speculative), and the
//! next router sees it `flit_cycles - 1 + link_latency` cycles later. A
//! packet alone in the mesh, over `h` links, from the core handing its
//! single flit to the NI at `c` to the NI handing it to the core:
//!
//! `T0(h) = ni + injection + h * (R + link + flit_cycles - 2) + R - 1 + ejection`
//!
//! (`zero_load_latency`). Every interaction between two routers, or a
//! router and an NI, crosses a channel of one cycle or more, except the
//! injection and ejection channels, which may take 0 cycles: NIs send
//! before the routers step and take delivery after, so the order in which
//! routers are stepped never matters.
//!
//! Packets are wormhole: the head is routed and allocates an output VC,
//! body flits follow it through the same VCs, the tail frees each VC as it
//! leaves it. A VC holds one packet at a time, so a packet's flits never
//! interleave with another's. XY routing on a mesh cannot deadlock; a
//! mesh that stops moving while holding flits (an ejection port whose
//! core never takes them) reports itself through `next_wake` and
//! `describe_stuck` names the router, port, VC and flit.

use std::collections::VecDeque;

use super::noc::{
    port_name, Flit, MeshParams, NocStats, Sink, EAST, LOCAL, NORTH, SOUTH, UNICAST, WEST,
};
use crate::config::{Allocator, InputQueued};

/// `Flit::packet` bits.
pub const HEAD: u8 = 1;
pub const TAIL: u8 = 2;

const NONE: u16 = u16::MAX;
const NO_VC: u8 = u8::MAX;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum VcState {
    #[default]
    Idle,
    /// The front is a head waiting for (or in) VC allocation.
    VcAlloc,
    /// The front packet holds output VC `out_vc` of port `route`.
    Active,
}

/// An input VC: its buffer is `depth` slots of `IqMesh::slots`.
#[derive(Clone, Copy, Debug)]
struct InVc {
    state: VcState,
    head: u16,
    len: u16,
    /// Output port of the front packet (routed when its head arrives).
    route: u8,
    out_vc: u8,
    /// First cycle a new allocation attempt may start.
    next: u64,
    /// The VA / SA attempt in progress takes effect at this cycle.
    va_done: u64,
    sa_done: u64,
    /// Output VC won in VA; expanded output won in SA.
    va_grant: u8,
    sa_grant: u16,
    /// Earliest cycle the front could have left with no contention.
    ready: u64,
}

impl Default for InVc {
    fn default() -> Self {
        InVc {
            state: VcState::Idle,
            head: 0,
            len: 0,
            route: 0,
            out_vc: NO_VC,
            next: 0,
            va_done: u64::MAX,
            sa_done: u64::MAX,
            va_grant: NO_VC,
            sa_grant: NONE,
            ready: 0,
        }
    }
}

/// Round-robin pointers of one separable allocator of one router.
#[derive(Clone, Debug)]
struct Arbiters {
    n_in: usize,
    n_out: usize,
    /// Per router: `n_in` input pointers then `n_out` output pointers.
    ptr: Vec<u16>,
}

impl Arbiters {
    fn new(routers: usize, n_in: usize, n_out: usize) -> Arbiters {
        Arbiters {
            n_in,
            n_out,
            ptr: vec![0; routers * (n_in + n_out)],
        }
    }
}

/// Allocation scratch, sized once for the largest allocator.
#[derive(Clone, Debug)]
struct Scratch {
    reqs: Vec<(u16, u16)>,
    pick_in: Vec<u16>,
    pick_out: Vec<u16>,
    /// Per input: the output it was granted (NONE: none).
    grant_in: Vec<u16>,
    /// Per output: the input granted it.
    grant_out: Vec<u16>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            reqs: Vec::with_capacity(n * 16),
            pick_in: vec![NONE; n],
            pick_out: vec![NONE; n],
            grant_in: vec![NONE; n],
            grant_out: vec![NONE; n],
        }
    }

    /// Forgets the last allocation's grants.
    fn clear_grants(&mut self) {
        for &(i, o) in &self.reqs {
            self.grant_in[i as usize] = NONE;
            self.grant_out[o as usize] = NONE;
        }
        self.reqs.clear();
    }
}

/// Round-robin distance of `x` from pointer `p` among `n`.
#[inline]
fn dist(x: u16, p: u16, n: usize) -> usize {
    (x as usize + n - p as usize) % n
}

/// One allocation over `s.reqs` (no duplicates) with router `r`'s arbiters
/// of `a`; fills `grant_in` / `grant_out`. Pointers move past granted
/// requests only (BookSim2's separable allocators and iSLIP alike).
fn allocate(kind: Allocator, a: &mut Arbiters, r: usize, s: &mut Scratch) {
    let (n_in, n_out) = (a.n_in, a.n_out);
    let base = r * (n_in + n_out);
    let (pin, pout) = a.ptr[base..base + n_in + n_out].split_at_mut(n_in);
    let closer =
        |x: u16, best: u16, p: u16, n: usize| best == NONE || dist(x, p, n) < dist(best, p, n);
    match kind {
        Allocator::SeparableInputFirst => {
            for &(i, o) in &s.reqs {
                let (i, o) = (i as usize, o);
                if closer(o, s.pick_in[i], pin[i], n_out) {
                    s.pick_in[i] = o;
                }
            }
            for &(i, _) in &s.reqs {
                let o = s.pick_in[i as usize];
                if o != NONE && closer(i, s.pick_out[o as usize], pout[o as usize], n_in) {
                    s.pick_out[o as usize] = i;
                }
            }
        }
        Allocator::Islip => {
            for &(i, o) in &s.reqs {
                if closer(i, s.pick_out[o as usize], pout[o as usize], n_in) {
                    s.pick_out[o as usize] = i;
                }
            }
            for &(i, o) in &s.reqs {
                if s.pick_out[o as usize] == i
                    && closer(o, s.pick_in[i as usize], pin[i as usize], n_out)
                {
                    s.pick_in[i as usize] = o;
                }
            }
        }
    }
    for &(i, o) in &s.reqs {
        let (iu, ou) = (i as usize, o as usize);
        if s.pick_in[iu] == o && s.pick_out[ou] == i && s.grant_in[iu] == NONE {
            s.grant_in[iu] = o;
            s.grant_out[ou] = i;
            pin[iu] = ((ou + 1) % n_out) as u16;
            pout[ou] = ((iu + 1) % n_in) as u16;
        }
    }
    for &(i, o) in &s.reqs {
        s.pick_in[i as usize] = NONE;
        s.pick_out[o as usize] = NONE;
    }
}

/// The credits of an output VC of port `port` when its downstream buffer is
/// empty: a neighbour's input buffer, or a network interface's ejection
/// buffer.
fn full_credits(port: usize, buffer_depth: u32, q: &InputQueued) -> u16 {
    if port < LOCAL {
        buffer_depth as u16
    } else {
        q.ejection_buffer_flits as u16
    }
}

/// A network interface: the core's side of its router port.
#[derive(Clone, Debug, Default)]
struct Ni {
    /// Flits from the core, with the cycle each was handed over.
    inject: VecDeque<(u64, Flit)>,
    /// Free slots per VC of the router's injection buffer, and credits
    /// on their way back.
    credits: Vec<u16>,
    credits_back: VecDeque<(u64, u8)>,
    /// The VC of the packet being sent.
    sending_vc: u8,
    /// VC taken by a packet whose tail has not been sent.
    vc_busy: Vec<bool>,
    rr: u8,
    free_at: u64,
    /// Flits from the router, with their arrival cycle and VC.
    eject: VecDeque<(u64, u8, Flit)>,
}

#[derive(Clone, Debug)]
pub struct IqMesh {
    p: MeshParams,
    q: InputQueued,
    ports: usize,
    vcs: usize,
    depth: usize,
    /// Per (router, input port, VC).
    vc: Vec<InVc>,
    slots: Vec<Flit>,
    /// Per (router, input port): flits on the channel, with arrival cycle and VC.
    chan: Vec<VecDeque<(u64, u8, Flit)>>,
    /// Per (router, output port): credits on their way back, usable from a cycle.
    credits_back: Vec<VecDeque<(u64, u8)>>,
    /// Per (router, output port, VC): free downstream slots, and whether a
    /// packet holds the VC.
    credits: Vec<u16>,
    out_busy: Vec<bool>,
    /// Per (router, output port): flits past the crossbar, ready from a
    /// cycle, with their output VC and the input port they came from; and
    /// when the link is next free.
    outq: Vec<VecDeque<(u64, u8, Flit, u8)>>,
    link_free: Vec<u64>,
    /// Per router: flits on channels into it, in its buffers and output queues.
    work: Vec<u32>,
    /// Per (router, crossbar input): the VC preferred next.
    sw_rr: Vec<u8>,
    va: Arbiters,
    sa: Arbiters,
    sa_spec: Arbiters,
    scratch: Scratch,
    /// Per (crossbar input, output port) while building requests: the VC
    /// chosen (non-speculative, speculative).
    sa_vc: Vec<(u8, u8)>,
    /// Switch-allocation scratch: the VCs bidding (and whether
    /// speculatively), the cells of `sa_vc` they set, per crossbar input its
    /// non-speculative and speculative grant, per crossbar output whether a
    /// non-speculative grant took it.
    sa_cands: Vec<(u16, bool)>,
    sa_cells: Vec<u16>,
    grant_ns: Vec<u16>,
    grant_sp: Vec<u16>,
    out_taken: Vec<bool>,
    ni: Vec<Ni>,
    /// Per core: its tile's (x, y) and its ejection port.
    core_at: Vec<(u32, u32, u32)>,
    in_flight: u64,
    /// The last cycle stepped and the last at which a flit moved.
    last_step: u64,
    last_move: u64,
    /// The cycle a flit was handed to an empty mesh: none moves before.
    wake_floor: u64,
    /// Earliest cycle a full work queue said it has room.
    sink_wake: u64,
    pub stats: NocStats,
}

impl IqMesh {
    pub fn new(p: MeshParams, q: InputQueued) -> IqMesh {
        let routers = (p.x * p.y) as usize;
        let ports = LOCAL + p.cores_per_router as usize;
        let vcs = q.vcs as usize;
        let depth = p.buffer_depth as usize;
        let n_cores = routers * p.cores_per_router as usize;
        let (is, os) = (q.input_speedup as usize, q.output_speedup as usize);
        let chan_cap = vcs * depth.max(q.ejection_buffer_flits as usize) + 1;
        let largest = (ports * vcs).max(ports * is.max(os));
        IqMesh {
            p,
            q,
            ports,
            vcs,
            depth,
            vc: vec![InVc::default(); routers * ports * vcs],
            slots: vec![Flit::default(); routers * ports * vcs * depth],
            chan: (0..routers * ports)
                .map(|_| VecDeque::with_capacity(chan_cap))
                .collect(),
            credits_back: (0..routers * ports)
                .map(|_| VecDeque::with_capacity(chan_cap))
                .collect(),
            credits: (0..routers * ports * vcs)
                .map(|i| full_credits(i / vcs % ports, p.buffer_depth, &q))
                .collect(),
            out_busy: vec![false; routers * ports * vcs],
            outq: (0..routers * ports)
                .map(|_| VecDeque::with_capacity(chan_cap + ports * is))
                .collect(),
            link_free: vec![0; routers * ports],
            work: vec![0; routers],
            sw_rr: vec![0; routers * ports * is],
            va: Arbiters::new(routers, ports * vcs, ports * vcs),
            sa: Arbiters::new(routers, ports * is, ports * os),
            sa_spec: Arbiters::new(routers, ports * is, ports * os),
            scratch: Scratch::new(largest),
            sa_vc: vec![(NO_VC, NO_VC); ports * is * ports],
            sa_cands: Vec::with_capacity(ports * vcs),
            sa_cells: Vec::with_capacity(ports * is * ports),
            grant_ns: vec![NONE; ports * is],
            grant_sp: vec![NONE; ports * is],
            out_taken: vec![false; ports * os],
            ni: (0..n_cores)
                .map(|_| Ni {
                    inject: VecDeque::with_capacity(depth),
                    credits: vec![depth as u16; vcs],
                    credits_back: VecDeque::with_capacity(chan_cap),
                    sending_vc: NO_VC,
                    vc_busy: vec![false; vcs],
                    eject: VecDeque::with_capacity(chan_cap),
                    ..Ni::default()
                })
                .collect(),
            core_at: (0..n_cores as u32)
                .map(|c| {
                    let t = c / p.cores_per_router;
                    (t % p.x, t / p.x, LOCAL as u32 + c % p.cores_per_router)
                })
                .collect(),
            in_flight: 0,
            last_step: 0,
            last_move: 0,
            wake_floor: 0,
            sink_wake: u64::MAX,
            stats: NocStats {
                per_link: vec![0; routers * 4],
                ..NocStats::default()
            },
        }
    }

    /// Latency of a single-flit packet alone in the mesh over `hops`
    /// links, from the core handing it over to its delivery (see the top).
    pub fn zero_load_latency(p: &MeshParams, q: &InputQueued, hops: u64) -> u64 {
        let r = q.pipeline_cycles() as u64;
        q.ni_latency_cycles as u64
            + q.injection_latency_cycles as u64
            + hops * (r + p.link_latency as u64 + p.flit_cycles as u64 - 2)
            + r
            - 1
            + q.ejection_latency_cycles as u64
    }

    pub fn n_routers(&self) -> usize {
        (self.p.x * self.p.y) as usize
    }

    pub fn router_of(&self, core: u32) -> usize {
        let (x, y, _) = self.core_at[core as usize];
        (y * self.p.x + x) as usize
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Free places in the NI's queue from `core`.
    pub fn injection_room(&self, core: u32) -> u32 {
        (self.depth - self.ni[core as usize].inject.len()) as u32
    }

    /// Hands a flit to the NI of its source core at cycle `now` (possibly
    /// ahead of the current cycle; see `Mesh::inject`).
    pub fn inject(&mut self, mut flit: Flit, now: u64) {
        let n_cores = self.core_at.len();
        assert!(
            (flit.src_core as usize) < n_cores
                && flit.group == UNICAST
                && (flit.dest_core as usize) < n_cores,
            "flit names a core outside the mesh, or a multicast group: {flit:?}"
        );
        if self.in_flight == 0 {
            // Idle until now: nothing to step before this cycle.
            self.wake_floor = now;
            self.last_move = now;
        } else {
            // Another core may hand a flit over earlier than the first.
            self.wake_floor = self.wake_floor.min(now);
        }
        let ni = &mut self.ni[flit.src_core as usize];
        assert!(ni.inject.len() < self.depth, "injection without room");
        flit.inject_cycle = now;
        ni.inject.push_back((now, flit));
        self.in_flight += 1;
        self.stats.injected += 1;
    }

    /// Empties the mesh for a new inference, keeping every allocation.
    pub fn reset(&mut self) {
        // Buffers keep their capacity; only state is reset.
        self.vc.iter_mut().for_each(|v| *v = InVc::default());
        self.chan.iter_mut().for_each(VecDeque::clear);
        self.credits_back.iter_mut().for_each(VecDeque::clear);
        let (ports, vcs) = (self.ports, self.vcs);
        for (i, c) in self.credits.iter_mut().enumerate() {
            *c = full_credits(i / vcs % ports, self.p.buffer_depth, &self.q);
        }
        self.out_busy.iter_mut().for_each(|b| *b = false);
        self.outq.iter_mut().for_each(VecDeque::clear);
        self.link_free.iter_mut().for_each(|t| *t = 0);
        self.work.iter_mut().for_each(|w| *w = 0);
        self.sw_rr.iter_mut().for_each(|v| *v = 0);
        for a in [&mut self.va, &mut self.sa, &mut self.sa_spec] {
            a.ptr.iter_mut().for_each(|p| *p = 0);
        }
        for ni in &mut self.ni {
            ni.inject.clear();
            ni.credits.iter_mut().for_each(|c| *c = self.depth as u16);
            ni.credits_back.clear();
            ni.sending_vc = NO_VC;
            ni.vc_busy.iter_mut().for_each(|b| *b = false);
            ni.rr = 0;
            ni.free_at = 0;
            ni.eject.clear();
        }
        self.in_flight = 0;
        self.last_step = 0;
        self.last_move = 0;
        self.wake_floor = 0;
        self.sink_wake = u64::MAX;
        self.stats.per_link.iter_mut().for_each(|x| *x = 0);
        let per_link = std::mem::take(&mut self.stats.per_link);
        self.stats = NocStats {
            per_link,
            ..NocStats::default()
        };
    }

    /// The earliest cycle at which something may move: the next cycle while
    /// flits move; when none has moved for longer than any flit or credit
    /// takes to arrive, only a work queue that gets room can change
    /// anything, at the cycle it said (or never: a deadlock).
    pub fn next_wake(&self) -> u64 {
        if self.in_flight == 0 {
            return u64::MAX;
        }
        if self.last_step.saturating_sub(self.last_move) > self.quiet_limit() {
            // Flits handed over for later cycles still go then.
            let later = self
                .ni
                .iter()
                .filter_map(|ni| ni.inject.front())
                .map(|(at, _)| at + self.q.ni_latency_cycles as u64)
                .filter(|&t| t > self.last_step)
                .min()
                .unwrap_or(u64::MAX);
            return self.sink_wake.min(later);
        }
        (self.last_step + 1).max(self.wake_floor)
    }

    fn quiet_limit(&self) -> u64 {
        let q = &self.q;
        2 * (self.p.link_latency as u64
            + self.p.flit_cycles as u64
            + q.pipeline_cycles() as u64
            + q.credit_delay_cycles as u64
            + q.ni_latency_cycles as u64
            + q.injection_latency_cycles as u64
            + q.ejection_latency_cycles as u64)
            + 8
    }

    #[inline]
    fn route(&self, r: usize, dest: u32) -> u8 {
        let (x, y) = (r as u32 % self.p.x, r as u32 / self.p.x);
        let (dx, dy, eject) = self.core_at[dest as usize];
        (if dx > x {
            EAST as u32
        } else if dx < x {
            WEST as u32
        } else if dy > y {
            SOUTH as u32
        } else if dy < y {
            NORTH as u32
        } else {
            eject
        }) as u8
    }

    #[inline]
    fn neighbor(&self, r: usize, dir: usize) -> usize {
        let x = self.p.x as usize;
        match dir {
            NORTH => r - x,
            EAST => r + 1,
            SOUTH => r + x,
            _ => r - 1,
        }
    }

    /// Advances the NIs and every router holding flits to cycle `now`.
    /// Cycles between two calls in which the mesh holds flits must each be
    /// stepped (`next_wake` says which); `_every_cycle` changes nothing, as
    /// every busy router is visited at every cycle.
    pub fn step(&mut self, now: u64, sink: &mut impl Sink, _every_cycle: bool) {
        if self.in_flight == 0 {
            return;
        }
        self.last_step = now;
        self.sink_wake = u64::MAX;
        for k in 0..self.ni.len() {
            if !self.ni[k].inject.is_empty() || !self.ni[k].credits_back.is_empty() {
                self.ni_send(k, now, sink);
            }
        }
        for r in 0..self.n_routers() {
            if self.work[r] > 0 {
                self.step_router(r, now, sink);
            }
        }
        for k in 0..self.ni.len() {
            if !self.ni[k].eject.is_empty() {
                self.ni_deliver(k, now, sink);
            }
        }
    }

    /// The NI of core `k` sends one flit to its router if the flit's VC
    /// (a free one with a credit, for a head) has a credit.
    fn ni_send(&mut self, k: usize, now: u64, sink: &mut impl Sink) {
        let vcs = self.vcs;
        let (ni_lat, inj_lat) = (
            self.q.ni_latency_cycles as u64,
            self.q.injection_latency_cycles as u64,
        );
        let ni = &mut self.ni[k];
        while let Some(&(t, v)) = ni.credits_back.front() {
            if t > now {
                break;
            }
            ni.credits_back.pop_front();
            ni.credits[v as usize] += 1;
        }
        let Some(&(at, flit)) = ni.inject.front() else {
            return;
        };
        if at + ni_lat > now || ni.free_at > now {
            return;
        }
        let v = if flit.packet & HEAD != 0 {
            (0..vcs)
                .map(|i| (ni.rr as usize + i) % vcs)
                .find(|&v| !ni.vc_busy[v] && ni.credits[v] > 0)
        } else {
            Some(ni.sending_vc as usize).filter(|&v| ni.credits[v] > 0)
        };
        let Some(v) = v else {
            return;
        };
        ni.inject.pop_front();
        ni.credits[v] -= 1;
        ni.free_at = now + 1;
        if flit.packet & HEAD != 0 {
            ni.vc_busy[v] = true;
            ni.sending_vc = v as u8;
            ni.rr = ((v + 1) % vcs) as u8;
        }
        if flit.packet & TAIL != 0 {
            ni.vc_busy[v] = false;
        }
        let r = self.router_of(k as u32);
        let port = self.core_at[k].2 as usize;
        self.chan[r * self.ports + port].push_back((now + inj_lat, v as u8, flit));
        self.work[r] += 1;
        self.last_move = now;
        sink.injection_freed(k as u32, now);
    }

    /// The NI of core `k` hands the oldest arrived flit to the core if its
    /// work queue has room, and returns the credit.
    fn ni_deliver(&mut self, k: usize, now: u64, sink: &mut impl Sink) {
        let Some(&(t, v, flit)) = self.ni[k].eject.front() else {
            return;
        };
        if t > now {
            return;
        }
        let room = sink.room_at(k as u32, now);
        if room > now {
            self.sink_wake = self.sink_wake.min(room);
            return;
        }
        self.ni[k].eject.pop_front();
        let r = self.router_of(k as u32);
        let port = self.core_at[k].2 as usize;
        let back = now + self.q.ejection_latency_cycles as u64 + self.q.credit_delay_cycles as u64;
        self.credits_back[r * self.ports + port].push_back((back, v));
        let latency = now - flit.inject_cycle;
        self.stats.ejected += 1;
        self.stats.latency_sum += latency;
        self.stats.latency_max = self.stats.latency_max.max(latency);
        self.in_flight -= 1;
        self.last_move = now;
        sink.accept(k as u32, flit, now);
    }

    fn step_router(&mut self, r: usize, now: u64, sink: &mut impl Sink) {
        let (ports, vcs, depth) = (self.ports, self.vcs, self.depth);
        let q = self.q;
        let (rd, va_d, sa_d) = (
            q.routing_cycles as u64,
            q.vc_alloc_cycles as u64,
            q.switch_alloc_cycles as u64,
        );
        let alloc_cycles = if q.speculative { va_d } else { va_d + sa_d };

        // Flits that reached the input buffers.
        for p in 0..ports {
            let c = r * ports + p;
            while let Some(&(t, v, flit)) = self.chan[c].front() {
                if t > now {
                    break;
                }
                self.chan[c].pop_front();
                let i = c * vcs + v as usize;
                let route = if flit.packet & HEAD != 0 {
                    self.route(r, flit.dest_core)
                } else {
                    0
                };
                let ivc = &mut self.vc[i];
                debug_assert!((ivc.len as usize) < depth, "credit protocol violated");
                let mut slot = ivc.head as usize + ivc.len as usize;
                if slot >= depth {
                    slot -= depth;
                }
                ivc.len += 1;
                self.slots[i * depth + slot] = flit;
                self.last_move = now;
                if ivc.len == 1 {
                    match ivc.state {
                        VcState::Idle => {
                            debug_assert!(flit.packet & HEAD != 0, "a packet starts with its head");
                            ivc.state = VcState::VcAlloc;
                            ivc.route = route;
                            ivc.next = now + rd;
                            ivc.ready = now + rd + alloc_cycles - 1;
                        }
                        VcState::Active => {
                            ivc.next = ivc.next.max(now);
                            ivc.ready = now + sa_d - 1;
                        }
                        VcState::VcAlloc => unreachable!("a VC in allocation holds its head"),
                    }
                }
            }
        }
        // Credits that came back.
        for o in 0..ports {
            let c = r * ports + o;
            while let Some(&(t, v)) = self.credits_back[c].front() {
                if t > now {
                    break;
                }
                self.credits_back[c].pop_front();
                self.credits[c * vcs + v as usize] += 1;
            }
        }

        let first = r * ports * vcs;
        // Which stages have work this cycle: a router whose flits only wait
        // out their stages' cycles goes straight to its links.
        let (mut va_ready, mut va_due, mut sa_ready, mut sa_due) = (false, false, false, false);
        for ivc in &self.vc[first..first + ports * vcs] {
            if ivc.len == 0 {
                continue;
            }
            va_due |= ivc.va_done == now;
            sa_due |= ivc.sa_done == now;
            let va_now =
                ivc.state == VcState::VcAlloc && ivc.va_done == u64::MAX && ivc.next <= now;
            va_ready |= va_now;
            sa_ready |= ivc.sa_done == u64::MAX
                && ((ivc.state == VcState::Active && ivc.next <= now) || (q.speculative && va_now));
        }
        va_due |= va_ready && va_d == 1;
        sa_due |= sa_ready && sa_d == 1;
        if va_ready {
            self.allocate_vcs(r, now);
        }
        if sa_ready {
            self.allocate_switch(r, now);
        }
        if va_due {
            self.vc_allocations_take_effect(r, now);
        }
        if sa_due {
            self.switch_allocations_take_effect(r, now);
        }
        self.send_on_links(r, now, sink);
    }

    /// VC allocation: each head waiting asks for every free VC of its
    /// output port.
    fn allocate_vcs(&mut self, r: usize, now: u64) {
        let (ports, vcs) = (self.ports, self.vcs);
        let q = self.q;
        let va_d = q.vc_alloc_cycles as u64;
        let first = r * ports * vcs;
        self.scratch.clear_grants();
        let mut va_started = false;
        for l in 0..ports * vcs {
            let ivc = &self.vc[first + l];
            if ivc.state != VcState::VcAlloc || ivc.va_done != u64::MAX || ivc.next > now {
                continue;
            }
            let o = ivc.route as usize;
            for w in 0..vcs {
                if !self.out_busy[(r * ports + o) * vcs + w] {
                    self.scratch.reqs.push((l as u16, (o * vcs + w) as u16));
                }
            }
            va_started = true;
        }
        if va_started {
            allocate(q.allocator, &mut self.va, r, &mut self.scratch);
            for l in 0..ports * vcs {
                let ivc = &mut self.vc[first + l];
                if ivc.state != VcState::VcAlloc || ivc.va_done != u64::MAX || ivc.next > now {
                    continue;
                }
                let g = self.scratch.grant_in[l];
                ivc.va_grant = if g == NONE {
                    NO_VC
                } else {
                    (g as usize % vcs) as u8
                };
                ivc.va_done = now + va_d - 1;
            }
            self.scratch.clear_grants();
        }
    }

    /// Switch allocation: per crossbar input and output port, one VC bids
    /// (round robin from `sw_rr`); speculative bids apart.
    fn allocate_switch(&mut self, r: usize, now: u64) {
        let (ports, vcs) = (self.ports, self.vcs);
        let q = self.q;
        let (va_d, sa_d) = (q.vc_alloc_cycles as u64, q.switch_alloc_cycles as u64);
        let (is, os) = (q.input_speedup as usize, q.output_speedup as usize);
        let first = r * ports * vcs;
        let mut cands = std::mem::take(&mut self.sa_cands);
        let mut cells = std::mem::take(&mut self.sa_cells);
        for l in 0..ports * vcs {
            let i = first + l;
            let ivc = &self.vc[i];
            if ivc.len == 0 || ivc.sa_done != u64::MAX {
                continue;
            }
            let (p, v) = (l / vcs, l % vcs);
            let spec = match ivc.state {
                VcState::Active if ivc.next <= now => {
                    let ovc = (r * ports + ivc.route as usize) * vcs + ivc.out_vc as usize;
                    if self.credits[ovc] == 0 {
                        // No credit: try again once this stage would have ended.
                        self.vc[i].next = now + sa_d;
                        continue;
                    }
                    false
                }
                // A head whose VC allocation starts this cycle.
                VcState::VcAlloc if q.speculative && ivc.va_done == now + va_d - 1 => true,
                _ => continue,
            };
            cands.push((l as u16, spec));
            let ei = p * is + v % is;
            let c = ei * ports + ivc.route as usize;
            let cell = &mut self.sa_vc[c];
            if *cell == (NO_VC, NO_VC) {
                cells.push(c as u16);
            }
            let pref = self.sw_rr[r * ports * is + ei] as usize;
            let slot = if spec { &mut cell.1 } else { &mut cell.0 };
            if *slot == NO_VC
                || dist(v as u16, pref as u16, vcs) < dist(*slot as u16, pref as u16, vcs)
            {
                *slot = v as u8;
            }
        }
        // Non-speculative grants, then speculative ones that no
        // non-speculative grant overrides.
        let request =
            |cells: &[u16], sa_vc: &[(u8, u8)], spec: bool, reqs: &mut Vec<(u16, u16)>| {
                for &c in cells {
                    let cell = sa_vc[c as usize];
                    if (if spec { cell.1 } else { cell.0 }) != NO_VC {
                        let (ei, o) = (c as usize / ports, c as usize % ports);
                        reqs.push((ei as u16, (o * os + (ei / is) % os) as u16));
                    }
                }
            };
        request(&cells, &self.sa_vc, false, &mut self.scratch.reqs);
        if !self.scratch.reqs.is_empty() {
            allocate(q.allocator, &mut self.sa, r, &mut self.scratch);
            for &(ei, eo) in &self.scratch.reqs {
                if self.scratch.grant_in[ei as usize] == eo {
                    self.grant_ns[ei as usize] = eo;
                    self.out_taken[eo as usize] = true;
                }
            }
            self.scratch.clear_grants();
        }
        if q.speculative {
            request(&cells, &self.sa_vc, true, &mut self.scratch.reqs);
            if !self.scratch.reqs.is_empty() {
                allocate(q.allocator, &mut self.sa_spec, r, &mut self.scratch);
                for &(ei, eo) in &self.scratch.reqs {
                    let (ei, eo) = (ei as usize, eo);
                    if self.scratch.grant_in[ei] == eo
                        && self.grant_ns[ei] == NONE
                        && !self.out_taken[eo as usize]
                    {
                        self.grant_sp[ei] = eo;
                    }
                }
                self.scratch.clear_grants();
            }
        }
        for &(l, spec) in &cands {
            let l = l as usize;
            let i = first + l;
            let (p, v) = (l / vcs, l % vcs);
            let ei = p * is + v % is;
            let route = self.vc[i].route as usize;
            let cell = self.sa_vc[ei * ports + route];
            let (chosen, granted) = if spec {
                (cell.1, self.grant_sp[ei])
            } else {
                (cell.0, self.grant_ns[ei])
            };
            let won = chosen as usize == v && granted != NONE && granted as usize / os == route;
            let ivc = &mut self.vc[i];
            ivc.sa_done = now + sa_d - 1;
            ivc.sa_grant = if won { granted } else { NONE };
            if won {
                self.sw_rr[r * ports * is + ei] = ((v + is) % vcs) as u8;
            }
        }
        // Leave the scratch as found.
        for &(l, _) in &cands {
            let ei = (l as usize / vcs) * is + (l as usize % vcs) % is;
            self.grant_ns[ei] = NONE;
            self.grant_sp[ei] = NONE;
        }
        for &c in &cells {
            self.sa_vc[c as usize] = (NO_VC, NO_VC);
        }
        self.out_taken.iter_mut().for_each(|t| *t = false);
        cands.clear();
        cells.clear();
        self.sa_cands = cands;
        self.sa_cells = cells;
    }

    /// VC allocations that take effect now.
    fn vc_allocations_take_effect(&mut self, r: usize, now: u64) {
        let (ports, vcs) = (self.ports, self.vcs);
        let first = r * ports * vcs;
        for l in 0..ports * vcs {
            let i = first + l;
            if self.vc[i].va_done != now {
                continue;
            }
            let ivc = self.vc[i];
            let ovc = (r * ports + ivc.route as usize) * vcs + ivc.va_grant as usize;
            let v = &mut self.vc[i];
            v.va_done = u64::MAX;
            if ivc.va_grant != NO_VC && !self.out_busy[ovc] {
                self.out_busy[ovc] = true;
                v.state = VcState::Active;
                v.out_vc = ivc.va_grant;
                v.next = now + 1;
                self.last_move = now;
            } else {
                v.next = now + 1;
            }
        }
    }

    /// Switch allocations that take effect now: the flit leaves its buffer
    /// for the crossbar.
    fn switch_allocations_take_effect(&mut self, r: usize, now: u64) {
        let (ports, vcs, depth) = (self.ports, self.vcs, self.depth);
        let q = self.q;
        let (rd, sa_d, xbar) = (
            q.routing_cycles as u64,
            q.switch_alloc_cycles as u64,
            q.crossbar_cycles as u64,
        );
        let alloc_cycles = if q.speculative {
            q.vc_alloc_cycles as u64
        } else {
            q.vc_alloc_cycles as u64 + sa_d
        };
        let first = r * ports * vcs;
        for l in 0..ports * vcs {
            let i = first + l;
            if self.vc[i].sa_done != now {
                continue;
            }
            let ivc = self.vc[i];
            self.vc[i].sa_done = u64::MAX;
            self.vc[i].next = now + 1;
            let o = ivc.route as usize;
            let ovc = (r * ports + o) * vcs + ivc.out_vc as usize;
            // A speculative grant stands only if the VC allocation won and
            // the VC has a credit.
            let good =
                ivc.sa_grant != NONE && ivc.state == VcState::Active && self.credits[ovc] > 0;
            if !good {
                continue;
            }
            let (p, v) = (l / vcs, l % vcs);
            let flit = self.slots[i * depth + ivc.head as usize];
            let iv = &mut self.vc[i];
            iv.head = if ivc.head as usize + 1 == depth {
                0
            } else {
                ivc.head + 1
            };
            iv.len -= 1;
            self.credits[ovc] -= 1;
            if flit.packet & TAIL != 0 {
                self.out_busy[ovc] = false;
            }
            self.stats.router_traversals += 1;
            self.stats.stall_cycles += now.saturating_sub(ivc.ready);
            self.last_move = now;
            // Its slot's credit goes back upstream.
            if p < LOCAL {
                let up = self.neighbor(r, p);
                let back = now + self.p.link_latency as u64 + q.credit_delay_cycles as u64;
                self.credits_back[up * ports + (p ^ 2)].push_back((back, v as u8));
            } else {
                let k = r * self.p.cores_per_router as usize + p - LOCAL;
                let back = now + q.injection_latency_cycles as u64 + q.credit_delay_cycles as u64;
                self.ni[k].credits_back.push_back((back, v as u8));
            }
            self.outq[r * ports + o].push_back((now + xbar, ivc.out_vc, flit, p as u8));
            // What the VC does next.
            let iv = &mut self.vc[i];
            if flit.packet & TAIL != 0 {
                iv.out_vc = NO_VC;
                if iv.len == 0 {
                    iv.state = VcState::Idle;
                } else {
                    let next = self.slots[i * depth + iv.head as usize];
                    let route = self.route(r, next.dest_core);
                    let iv = &mut self.vc[i];
                    iv.state = VcState::VcAlloc;
                    iv.route = route;
                    iv.next = now + 1 + rd;
                    iv.ready = now + rd + alloc_cycles;
                }
            } else if iv.len > 0 {
                iv.ready = now + sa_d;
            }
        }
    }

    /// Links: one flit per flit time per output.
    fn send_on_links(&mut self, r: usize, now: u64, sink: &mut impl Sink) {
        let ports = self.ports;
        let q = self.q;
        for o in 0..ports {
            let c = r * ports + o;
            let Some(&(t, w, flit, p)) = self.outq[c].front() else {
                continue;
            };
            if t > now || self.link_free[c] > now {
                continue;
            }
            self.outq[c].pop_front();
            // Traces see the flit leave the router here, as it goes onto
            // its link (its input slot was freed at switch allocation).
            sink.hop(r, p as usize, o, now, true);
            self.work[r] -= 1;
            self.last_move = now;
            if o < LOCAL {
                let fc = self.p.flit_cycles as u64;
                self.link_free[c] = now + fc;
                self.stats.per_link[r * 4 + o] += 1;
                self.stats.hops += 1;
                let next = self.neighbor(r, o);
                let arrive = now + fc - 1 + self.p.link_latency as u64;
                self.chan[next * ports + (o ^ 2)].push_back((arrive, w, flit));
                self.work[next] += 1;
            } else {
                self.link_free[c] = now + 1;
                let k = r * self.p.cores_per_router as usize + o - LOCAL;
                let arrive = now + q.ejection_latency_cycles as u64;
                self.ni[k].eject.push_back((arrive, w, flit));
            }
        }
    }

    /// Checks credit conservation: for every output VC, its credits plus
    /// the flits and credits between it and the buffer they count equal
    /// that buffer's depth (so no credit count leaves `0 ..= depth`). For
    /// tests; a description of the first violation.
    pub fn check_credits(&self) -> Result<(), String> {
        let (ports, vcs) = (self.ports, self.vcs);
        let count = |q: &VecDeque<(u64, u8, Flit)>, w: usize| {
            q.iter().filter(|e| e.1 as usize == w).count()
        };
        let queued = |q: &VecDeque<(u64, u8, Flit, u8)>, w: usize| {
            q.iter().filter(|e| e.1 as usize == w).count()
        };
        let back =
            |q: &VecDeque<(u64, u8)>, w: usize| q.iter().filter(|e| e.1 as usize == w).count();
        for r in 0..self.n_routers() {
            let (x, y) = (r as u32 % self.p.x, r as u32 / self.p.x);
            for o in 0..ports {
                let c = r * ports + o;
                for w in 0..vcs {
                    let (held, depth) = if o < LOCAL {
                        let inside = match o {
                            NORTH => y > 0,
                            EAST => x + 1 < self.p.x,
                            SOUTH => y + 1 < self.p.y,
                            _ => x > 0,
                        };
                        if !inside {
                            continue;
                        }
                        let d = self.neighbor(r, o) * ports + (o ^ 2);
                        (
                            count(&self.chan[d], w) + self.vc[d * vcs + w].len as usize,
                            self.depth,
                        )
                    } else {
                        let k = r * self.p.cores_per_router as usize + o - LOCAL;
                        (
                            count(&self.ni[k].eject, w),
                            self.q.ejection_buffer_flits as usize,
                        )
                    };
                    let total = self.credits[c * vcs + w] as usize
                        + queued(&self.outq[c], w)
                        + held
                        + back(&self.credits_back[c], w);
                    if total != depth {
                        return Err(format!(
                            "router {r} output {o} VC {w}: {} credits, {} accounted, depth {depth}",
                            self.credits[c * vcs + w],
                            total
                        ));
                    }
                }
            }
        }
        for (k, ni) in self.ni.iter().enumerate() {
            let c = self.router_of(k as u32) * ports + self.core_at[k].2 as usize;
            for w in 0..vcs {
                let total = ni.credits[w] as usize
                    + count(&self.chan[c], w)
                    + self.vc[c * vcs + w].len as usize
                    + back(&ni.credits_back, w);
                if total != self.depth {
                    return Err(format!(
                        "NI {k} VC {w}: {} credits, {total} accounted",
                        ni.credits[w]
                    ));
                }
            }
        }
        Ok(())
    }

    /// Describes the first flit that waits, for deadlock reports.
    pub fn describe_stuck(&self) -> String {
        let (ports, vcs) = (self.ports, self.vcs);
        for r in 0..self.n_routers() {
            for p in 0..ports {
                for v in 0..vcs {
                    let i = (r * ports + p) * vcs + v;
                    let ivc = &self.vc[i];
                    if ivc.len == 0 {
                        continue;
                    }
                    let f = &self.slots[i * self.depth + ivc.head as usize];
                    let port = port_name(p, "local");
                    let out = port_name(ivc.route as usize, "ejection");
                    let waits = match ivc.state {
                        VcState::VcAlloc => format!("a free VC of output {out}"),
                        _ => format!(
                            "a credit for VC {} of output {out} ({} free)",
                            ivc.out_vc,
                            self.credits
                                [(r * ports + ivc.route as usize) * vcs + ivc.out_vc as usize]
                        ),
                    };
                    return format!(
                        "router ({}, {}) input port {port} VC {v} holds a flit from core {} to core {} axon {} (injected at cycle {}), waiting for {waits}",
                        r as u32 % self.p.x,
                        r as u32 / self.p.x,
                        f.src_core,
                        f.dest_core,
                        f.axon,
                        f.inject_cycle
                    );
                }
            }
        }
        for (k, ni) in self.ni.iter().enumerate() {
            if let Some((_, f)) = ni.inject.front() {
                return format!(
                    "the network interface of core {k} holds {} flits for its router (the first to core {}, handed over at cycle {}), with credits {:?} for the injection port's VCs",
                    ni.inject.len(),
                    f.dest_core,
                    f.inject_cycle,
                    ni.credits
                );
            }
            if let Some((_, v, f)) = ni.eject.front() {
                return format!(
                    "the network interface of core {k} holds a flit on VC {v} from core {} (injected at cycle {}) that the core's work queue does not take",
                    f.src_core, f.inject_cycle
                );
            }
        }
        "no flit in the routers; a core is waiting".to_string()
    }
}
