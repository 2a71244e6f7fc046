//! Synthetic traffic on the mesh alone, to characterize a network before
//! anything is mapped on it: every tile is a node with an infinite source
//! queue fed by a Bernoulli process, packets are single flits, and the
//! routers and links are the chip's own ([`crate::engine::noc::Mesh`]).
//!
//! A run has a warm-up, a measurement window and a drain. Statistics cover
//! the packets created in the window, each followed to its delivery while
//! the sources keep injecting (so the last measured packets still see the
//! offered load). The drain is capped: a run far above saturation ends and
//! says so.

pub mod search;

use crate::engine::iq::{HEAD, TAIL};
use crate::engine::noc::{Flit, Mesh, MeshParams, Sink};
use crate::error::{check_range, Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Where a node sends its packets. Nodes are tiles, `node = y * X + x`;
/// a node injects through the first core of its tile and packets eject to
/// the first core of the destination tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pattern {
    /// Uniformly over all nodes, the sender included (it ejects at once).
    Uniform,
    /// (x, y) to (y, x); square meshes only.
    Transpose,
    /// (x, y) to (X-1-x, Y-1-y): the bit complement of the node index when
    /// X and Y are powers of two.
    BitComplement,
    /// (x, y) to ((x+1) mod X, (y+1) mod Y), as in BookSim.
    Neighbor,
    /// A `fraction` of the packets go to `node`, the rest uniformly.
    Hotspot { node: u32, fraction: f64 },
}

impl Pattern {
    pub fn name(&self) -> &'static str {
        match self {
            Pattern::Uniform => "uniform",
            Pattern::Transpose => "transpose",
            Pattern::BitComplement => "bit-complement",
            Pattern::Neighbor => "neighbor",
            Pattern::Hotspot { .. } => "hotspot",
        }
    }

    fn destination(&self, src: u32, mx: u32, my: u32, rng: &mut ChaCha8Rng) -> u32 {
        let (x, y) = (src % mx, src / mx);
        match *self {
            Pattern::Uniform => rng.random_range(0..mx * my),
            Pattern::Transpose => x * mx + y,
            Pattern::BitComplement => (my - 1 - y) * mx + (mx - 1 - x),
            Pattern::Neighbor => ((y + 1) % my) * mx + (x + 1) % mx,
            Pattern::Hotspot { node, fraction } => {
                if fraction >= 1.0 || rng.random::<f64>() < fraction {
                    node
                } else {
                    rng.random_range(0..mx * my)
                }
            }
        }
    }
}

/// The channel-load bound of a pattern under XY routing: the highest
/// offered rate (flits per node per cycle) at which no link carries more
/// than one flit per flit time, no ejection port more than one flit per
/// cycle and no node offers more than one flit per cycle. No network
/// sustains more, so the saturation search starts there (hotspot traffic
/// is bound by the hotspot's ejection port, uniform traffic by the
/// bisection links).
pub fn capacity_bound(pattern: Pattern, p: &MeshParams) -> f64 {
    let (mx, my) = (p.x as usize, p.y as usize);
    let nodes = mx * my;
    // Flits per cycle on each link (`node * 4 + dir`, dir 0 N, 1 E, 2 S,
    // 3 W) and ejection port, per unit of offered rate.
    let mut link = vec![0.0f64; nodes * 4];
    let mut eject = vec![0.0f64; nodes];
    let path = |src: usize, dst: usize, w: f64, link: &mut [f64], eject: &mut [f64]| {
        let (mut x, mut y) = (src % mx, src / mx);
        let (dx, dy) = (dst % mx, dst / mx);
        while x != dx {
            let dir = if dx > x { 1 } else { 3 };
            link[(y * mx + x) * 4 + dir] += w;
            x = if dx > x { x + 1 } else { x - 1 };
        }
        while y != dy {
            let dir = if dy > y { 2 } else { 0 };
            link[(y * mx + x) * 4 + dir] += w;
            y = if dy > y { y + 1 } else { y - 1 };
        }
        eject[dst] += w;
    };
    let uniform = |w: f64, link: &mut [f64], eject: &mut [f64]| {
        // Closed forms of every source sending to every node alike.
        let (fx, fy) = (mx as f64, my as f64);
        for y in 0..my {
            for x in 0..mx {
                let (xf, yf) = (x as f64, y as f64);
                let n = (y * mx + x) * 4;
                link[n + 1] += w * (xf + 1.0) * (fx - 1.0 - xf) / fx;
                link[n + 3] += w * (fx - xf) * xf / fx;
                link[n + 2] += w * (yf + 1.0) * (fy - 1.0 - yf) / fy;
                link[n] += w * (fy - yf) * yf / fy;
                eject[y * mx + x] += w;
            }
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    match pattern {
        Pattern::Uniform => uniform(1.0, &mut link, &mut eject),
        Pattern::Hotspot { node, fraction } => {
            let f = fraction.clamp(0.0, 1.0);
            uniform(1.0 - f, &mut link, &mut eject);
            for src in 0..nodes {
                path(src, node as usize, f, &mut link, &mut eject);
            }
        }
        deterministic => {
            for src in 0..nodes {
                let dst = deterministic.destination(src as u32, p.x, p.y, &mut rng) as usize;
                path(src, dst, 1.0, &mut link, &mut eject);
            }
        }
    }
    let link_capacity = 1.0 / p.flit_cycles as f64;
    let busiest_link = link.iter().fold(0.0f64, |a, &b| a.max(b));
    let busiest_port = eject.iter().fold(0.0f64, |a, &b| a.max(b));
    let mut bound = 1.0f64;
    if busiest_link > 0.0 {
        bound = bound.min(link_capacity / busiest_link);
    }
    if busiest_port > 0.0 {
        bound = bound.min(1.0 / busiest_port);
    }
    bound
}

/// One run of synthetic traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficSpec {
    pub pattern: Pattern,
    /// Offered load: packets (= flits) per node per cycle, 0 ..= 1.
    pub rate: f64,
    pub warmup_cycles: u64,
    pub measure_cycles: u64,
    /// Most cycles spent after the window delivering measured packets.
    pub max_drain_cycles: u64,
    /// Follow the measured packets to delivery (off: stop at the window's
    /// end, enough to tell saturation).
    pub drain: bool,
    pub seed: u64,
    /// Flits per packet (BookSim2's `packet_size`): a head, body flits and
    /// a tail, sent back to back by wormhole; more than 1 needs the
    /// input-queued router. `rate` stays in flits: packets are created at
    /// `rate / packet_flits` per node per cycle.
    pub packet_flits: u32,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            pattern: Pattern::Uniform,
            rate: 0.1,
            warmup_cycles: 2_000,
            measure_cycles: 10_000,
            max_drain_cycles: 100_000,
            drain: true,
            seed: 1,
            packet_flits: 1,
        }
    }
}

impl TrafficSpec {
    /// Checks the spec against a mesh; `file` names where the values came from.
    pub fn validate(&self, p: &MeshParams, file: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(Error::invalid(
                file,
                "--rate",
                self.rate,
                "0.0 ..= 1.0 flits per node per cycle",
            ));
        }
        check_range(file, "--measure-cycles", self.measure_cycles, 1, 1 << 40)?;
        check_range(file, "--packet-flits", self.packet_flits, 1, 64)?;
        if self.packet_flits > 1 && p.iq.is_none() {
            return Err(Error::invalid(
                file,
                "--packet-flits",
                self.packet_flits,
                "1 with the pipelined router, which carries single-flit packets; multi-flit (wormhole) packets need `--set router.input_queued.vcs=N`",
            ));
        }
        check_range(file, "--warmup-cycles", self.warmup_cycles, 0, 1 << 40)?;
        check_range(
            file,
            "--max-drain-cycles",
            self.max_drain_cycles,
            0,
            1 << 40,
        )?;
        match self.pattern {
            Pattern::Transpose if p.x != p.y => Err(Error::invalid(
                file,
                "mesh",
                format!("{}x{}", p.x, p.y),
                "a square mesh for the transpose pattern",
            )),
            Pattern::Hotspot { node, fraction } => {
                check_range(file, "hotspot node", node, 0, p.x * p.y - 1)?;
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(Error::invalid(
                        file,
                        "--hotspot-fraction",
                        fraction,
                        "0.0 ..= 1.0",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What a run measured. Latencies are in cycles, throughputs in flits per
/// node per cycle; "window" is the measurement window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficResult {
    pub nodes: u32,
    pub rate: f64,
    /// Cycles simulated, drain included.
    pub cycles: u64,
    /// Packets created in the window.
    pub measured: u64,
    /// Of those, delivered (all of them unless the drain hit its cap).
    pub delivered: u64,
    /// Creation to ejection (source queueing included); `None` when no
    /// measured packet was delivered.
    pub packet_latency_mean: Option<f64>,
    pub packet_latency_p50: Option<u64>,
    pub packet_latency_p99: Option<u64>,
    pub packet_latency_max: Option<u64>,
    /// Injection to ejection.
    pub network_latency_mean: Option<f64>,
    pub network_latency_max: Option<u64>,
    pub hops_mean: Option<f64>,
    /// Packets created in the window per node per cycle.
    pub offered: f64,
    /// Packets ejected in the window per node per cycle.
    pub accepted: f64,
    /// Flits created but not yet delivered (source queues and network),
    /// at the start and at the end of the window.
    pub backlog_start: u64,
    pub backlog_end: u64,
    pub saturated: bool,
    /// The cycle the run was stopped at because its source queues held more
    /// than [`MAX_QUEUED_PER_NODE`] packets per node (saturated; bounds the
    /// memory of a run far above saturation). Stopped before the window:
    /// no packet was measured, and offered, accepted and link loads cover
    /// the cycles run.
    pub stopped_at: Option<u64>,
    /// Flits sent per link in the window per cycle, index `router * 4 + dir`
    /// (dir 0 N, 1 E, 2 S, 3 W); links off the mesh edge stay 0.
    pub link_load: Vec<f64>,
    /// Router traversals and link hops in the window (for energy).
    pub window_router_traversals: u64,
    pub window_hops: u64,
    /// Over the whole run, in flits: created and delivered (the
    /// simulator's throughput), and at its end those still in source
    /// queues or in the network. Conservation: created = delivered +
    /// queued + in network.
    pub created_total: u64,
    pub flits_delivered: u64,
    pub queued_end: u64,
    pub in_network_end: u64,
}

impl TrafficResult {
    /// Router-cycles simulated: what the simulator's speed is measured in.
    pub fn router_cycles(&self) -> u64 {
        self.nodes as u64 * self.cycles
    }
}

/// Most packets waiting in source queues per node, on average, before a
/// run stops as saturated: far more than any stable queue holds (a queue
/// that long waits over a thousand cycles), and it caps a run's memory at
/// about 16 bytes x 1,024 x nodes for the queues (64 MiB on 64x64).
pub const MAX_QUEUED_PER_NODE: u64 = 1024;

/// Saturation test: the backlog (flits created, not yet delivered) grew
/// in the window by more than 1% of the flits created in it plus one per
/// node, i.e. accepted throughput fell about 1% below offered. (A run is
/// also saturated when its source queues overflow: `stopped_at`.)
pub fn backlog_grew(start: u64, end: u64, created: u64, nodes: u32) -> bool {
    end as f64 - start as f64 > 0.01 * created as f64 + nodes as f64
}

/// Sees every packet created and delivered (for tests and traces). A
/// packet is named by its source node and creation cycle: a node creates
/// at most one per cycle.
pub trait TrafficObserver {
    fn created(&mut self, _node: u32, _cycle: u64, _dest_node: u32) {}
    /// `core` is the core the packet ejected to.
    fn delivered(&mut self, _src_node: u32, _created: u64, _core: u32, _injected: u64, _now: u64) {}
}

impl TrafficObserver for () {}

/// The ejection side: every node accepts a flit per cycle per ejection
/// port (the router's output arbitration enforces that); it records
/// deliveries.
struct Deliveries<'o, O> {
    observer: &'o mut O,
    /// Creation cycle of each packet in the network, by slab id (`Flit::axon`).
    creation: Vec<u64>,
    /// When its head was handed to the network.
    head_injected: Vec<u64>,
    free: Vec<u32>,
    window: (u64, u64),
    /// Per core: its node and the node's (x, y), so that a delivery needs
    /// no division.
    node_of_core: Vec<(u32, u32, u32)>,
    /// Flits delivered over the run, and in the window.
    delivered_total: u64,
    ejected_in_window: u64,
    delivered_measured: u64,
    packet_latency_sum: u64,
    network_latency_sum: u64,
    network_latency_max: u64,
    hops_sum: u64,
    latencies: Histogram,
}

/// Packet latencies as counts per value (exact order statistics in memory
/// that does not grow with the packet count), values past the table kept
/// one by one.
struct Histogram {
    counts: Vec<u64>,
    over: Vec<u64>,
    n: u64,
}

impl Histogram {
    const TABLE: u64 = 1 << 16;

    fn new() -> Histogram {
        Histogram {
            counts: Vec::new(),
            over: Vec::new(),
            n: 0,
        }
    }

    fn add(&mut self, v: u64) {
        self.n += 1;
        if v < Self::TABLE {
            if self.counts.len() <= v as usize {
                self.counts.resize(v as usize + 1, 0);
            }
            self.counts[v as usize] += 1;
        } else {
            self.over.push(v);
        }
    }

    /// The k-th smallest value (0-based), k < n.
    fn nth(&mut self, k: u64) -> u64 {
        let mut seen = 0;
        for (v, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > k {
                return v as u64;
            }
        }
        let i = (k - seen) as usize;
        *self.over.select_nth_unstable(i).1
    }

    /// The `q` quantile by the nearest rank `round((n - 1) q)`.
    fn quantile(&mut self, q: f64) -> Option<u64> {
        (self.n > 0).then(|| self.nth(((self.n - 1) as f64 * q).round() as u64))
    }
}

impl<O> Deliveries<'_, O> {
    fn in_window(&self, c: u64) -> bool {
        self.window.0 <= c && c < self.window.1
    }

    fn admit(&mut self, creation: u64) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.creation[id as usize] = creation;
                id
            }
            None => {
                self.creation.push(creation);
                self.head_injected.push(0);
                self.creation.len() as u32 - 1
            }
        }
    }
}

impl<O: TrafficObserver> Sink for Deliveries<'_, O> {
    fn room_at(&mut self, _core: u32, now: u64) -> u64 {
        now
    }

    fn accept(&mut self, core: u32, flit: Flit, now: u64) {
        if self.in_window(now) {
            self.ejected_in_window += 1;
        }
        self.delivered_total += 1;
        // A packet is delivered with its tail.
        if flit.packet & TAIL == 0 {
            return;
        }
        let created = self.creation[flit.axon as usize];
        self.free.push(flit.axon);
        let (s, sx, sy) = self.node_of_core[flit.src_core as usize];
        self.observer.delivered(
            s,
            created,
            core,
            self.head_injected[flit.axon as usize],
            now,
        );
        if self.in_window(created) {
            let (_, dx, dy) = self.node_of_core[core as usize];
            let hops = sx.abs_diff(dx) + sy.abs_diff(dy);
            let packet = now - created;
            let network = now - self.head_injected[flit.axon as usize];
            self.delivered_measured += 1;
            self.packet_latency_sum += packet;
            self.network_latency_sum += network;
            self.network_latency_max = self.network_latency_max.max(network);
            self.hops_sum += hops as u64;
            self.latencies.add(packet);
        }
    }
}

/// Seeds node `n`'s generator so its stream does not depend on the others.
fn node_rng(seed: u64, node: u32) -> ChaCha8Rng {
    let mut z = seed ^ (node as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

/// Inter-arrival gaps of a Bernoulli(rate) process: cycles until the next
/// success, at least 1 (geometric), so idle cycles cost no draws.
#[derive(Clone, Copy)]
struct Gaps {
    rate: f64,
    /// `ln(1 - rate)`, computed once.
    log_miss: f64,
}

impl Gaps {
    fn new(rate: f64) -> Gaps {
        Gaps {
            rate,
            log_miss: (-rate).ln_1p(),
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> u64 {
        if self.rate >= 1.0 {
            return 1;
        }
        if self.rate <= 0.0 {
            return u64::MAX;
        }
        let u = 1.0 - rng.random::<f64>(); // in (0, 1]
        1 + (u.ln() / self.log_miss) as u64
    }
}

/// Pending arrivals, one per source: a timing wheel of one bucket per cycle
/// for the next `WHEEL` cycles, and a heap for later ones (rare at useful
/// rates). Arrivals of one cycle come out in no particular order: nodes
/// are independent (each has its own generator, source queue and
/// injection port).
struct Arrivals {
    buckets: Vec<Vec<u32>>,
    later: BinaryHeap<Reverse<(u64, u32)>>,
    /// Arrivals in the wheel.
    in_wheel: usize,
    /// No arrival in the wheel is earlier than this.
    cursor: u64,
}

const WHEEL: u64 = 256;

impl Arrivals {
    fn new() -> Arrivals {
        Arrivals {
            buckets: vec![vec![]; WHEEL as usize],
            later: BinaryHeap::new(),
            in_wheel: 0,
            cursor: 0,
        }
    }

    /// Adds an arrival at `t`, not earlier than the last `take_due`.
    fn push(&mut self, t: u64, node: u32) {
        if t < self.cursor + WHEEL {
            self.buckets[(t % WHEEL) as usize].push(node);
            self.in_wheel += 1;
        } else {
            self.later.push(Reverse((t, node)));
        }
    }

    /// Moves the arrivals due at `now` into `out`.
    fn take_due(&mut self, now: u64, out: &mut Vec<u32>) {
        out.clear();
        self.cursor = now;
        while let Some(&Reverse((t, n))) = self.later.peek() {
            if t >= now + WHEEL {
                break;
            }
            self.later.pop();
            self.buckets[(t % WHEEL) as usize].push(n);
            self.in_wheel += 1;
        }
        let b = &mut self.buckets[(now % WHEEL) as usize];
        std::mem::swap(b, out);
        self.in_wheel -= out.len();
    }

    /// The earliest pending arrival after `now`, if any.
    fn next_after(&self, now: u64) -> Option<u64> {
        if self.in_wheel > 0 {
            (now + 1..now + WHEEL)
                .find(|t| !self.buckets[(t % WHEEL) as usize].is_empty())
                .or_else(|| self.later.peek().map(|r| r.0 .0))
        } else {
            self.later.peek().map(|r| r.0 .0)
        }
    }
}

/// Runs `spec` on a mesh of parameters `p` (validated by the caller).
pub fn simulate(p: MeshParams, spec: &TrafficSpec) -> TrafficResult {
    simulate_observed(p, spec, &mut ())
}

/// [`simulate`], telling `observer` about every packet.
pub fn simulate_observed<O: TrafficObserver>(
    p: MeshParams,
    spec: &TrafficSpec,
    observer: &mut O,
) -> TrafficResult {
    let nodes = p.x * p.y;
    let cpr = p.cores_per_router;
    let mut mesh = Mesh::new(p);
    let window = (spec.warmup_cycles, spec.warmup_cycles + spec.measure_cycles);
    let mut rngs: Vec<ChaCha8Rng> = (0..nodes).map(|n| node_rng(spec.seed, n)).collect();
    // Packets per node per cycle.
    let gaps = Gaps::new(spec.rate / spec.packet_flits as f64);
    let mut arrivals = Arrivals::new();
    for (n, rng) in rngs.iter_mut().enumerate() {
        let first = gaps.draw(rng);
        if first != u64::MAX {
            arrivals.push(first - 1, n as u32);
        }
    }
    let mut due: Vec<u32> = Vec::with_capacity(nodes as usize);
    let mut queues: Vec<VecDeque<(u64, u32)>> = vec![VecDeque::new(); nodes as usize];
    let mut pending: Vec<u32> = Vec::with_capacity(nodes as usize);
    // Per node: flits of its front packet sent, and the packet's id.
    let mut sending: Vec<(u32, u32)> = vec![(0, 0); nodes as usize];
    let mut sink = Deliveries {
        observer,
        creation: Vec::new(),
        head_injected: Vec::new(),
        free: Vec::new(),
        window,
        node_of_core: (0..nodes * cpr)
            .map(|c| {
                let n = c / cpr;
                (n, n % p.x, n / p.x)
            })
            .collect(),
        delivered_total: 0,
        ejected_in_window: 0,
        delivered_measured: 0,
        packet_latency_sum: 0,
        network_latency_sum: 0,
        network_latency_max: 0,
        hops_sum: 0,
        latencies: Histogram::new(),
    };
    let mut created_total = 0u64;
    let mut created_measured = 0u64;
    // Mesh counters at the window's start and end.
    let mut at_start = None;
    let mut at_end = None;
    let mut backlog = (0, 0);
    let mut now = 0u64;
    let mut stopped_at = None;
    let mut queued = 0u64;
    let queue_cap = MAX_QUEUED_PER_NODE * nodes as u64;
    loop {
        if queued > queue_cap {
            stopped_at = Some(now);
            break;
        }
        // State between processed cycles does not change, so a boundary
        // crossed by a jump is seen exactly as at its own cycle.
        if now >= window.0 && at_start.is_none() {
            at_start = Some(mesh.stats().clone());
            backlog.0 = created_total - sink.delivered_total;
        }
        if now >= window.1 {
            if at_end.is_none() {
                at_end = Some(mesh.stats().clone());
                backlog.1 = created_total - sink.delivered_total;
            }
            if !spec.drain || sink.delivered_measured == created_measured {
                break;
            }
            if now >= window.1 + spec.max_drain_cycles {
                break;
            }
        }
        mesh.step(now, &mut sink, false);
        arrivals.take_due(now, &mut due);
        for &n in &due {
            let rng = &mut rngs[n as usize];
            let dest = spec.pattern.destination(n, p.x, p.y, rng);
            sink.observer.created(n, now, dest);
            let q = &mut queues[n as usize];
            if q.is_empty() {
                pending.push(n);
            }
            q.push_back((now, dest));
            queued += 1;
            created_total += spec.packet_flits as u64;
            if sink.in_window(now) {
                created_measured += 1;
            }
            let g = gaps.draw(rng);
            if g != u64::MAX {
                arrivals.push(now + g, n);
            }
        }
        // One flit per node per cycle into its injection buffer, if it has
        // room; a packet's flits go back to back.
        let mut i = 0;
        while i < pending.len() {
            let n = pending[i];
            let core = n * cpr;
            if mesh.injection_room(core) > 0 {
                let q = &mut queues[n as usize];
                let &(created, dest) = q.front().expect("pending queues are not empty");
                let (sent, id) = &mut sending[n as usize];
                if *sent == 0 {
                    *id = sink.admit(created);
                    sink.head_injected[*id as usize] = now;
                }
                let mut flit = Flit::new(core, dest * cpr, *id, 1, 0);
                flit.packet = (if *sent == 0 { HEAD } else { 0 })
                    | (if *sent + 1 == spec.packet_flits {
                        TAIL
                    } else {
                        0
                    });
                mesh.inject(flit, now);
                *sent += 1;
                if *sent == spec.packet_flits {
                    *sent = 0;
                    q.pop_front();
                    queued -= 1;
                    if q.is_empty() {
                        pending.swap_remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
        let mut next = mesh.next_wake();
        if let Some(t) = arrivals.next_after(now) {
            next = next.min(t);
        }
        if !pending.is_empty() {
            next = next.min(now + 1);
        }
        // Stop at the window's end even if nothing is left to happen.
        if now < window.1 {
            next = next.min(window.1);
        }
        now = next.max(now + 1);
    }
    // A run stopped early measures up to where it stopped; one stopped in
    // the warm-up measured no packet and reports rates over all its cycles.
    let (start, window_cycles, created_in, ejected_in) = match at_start {
        Some(s) => (
            s,
            now.min(window.1) - window.0,
            created_measured * spec.packet_flits as u64,
            sink.ejected_in_window,
        ),
        None => (
            crate::engine::noc::NocStats {
                per_link: vec![0; mesh.stats().per_link.len()],
                ..Default::default()
            },
            now,
            created_total,
            sink.delivered_total,
        ),
    };
    if at_end.is_none() {
        backlog.1 = created_total - sink.delivered_total;
    }
    let end = at_end.unwrap_or_else(|| mesh.stats().clone());
    let per_node_cycle = (nodes as u64 * window_cycles.max(1)) as f64;
    let delivered = sink.delivered_measured;
    let lat = &mut sink.latencies;
    let (p50, p99, p100) = (lat.quantile(0.5), lat.quantile(0.99), lat.quantile(1.0));
    let mean = |sum: u64| (delivered > 0).then(|| sum as f64 / delivered as f64);
    TrafficResult {
        nodes,
        rate: spec.rate,
        cycles: now,
        measured: created_measured,
        delivered,
        packet_latency_mean: mean(sink.packet_latency_sum),
        packet_latency_p50: p50,
        packet_latency_p99: p99,
        packet_latency_max: p100,
        network_latency_mean: mean(sink.network_latency_sum),
        network_latency_max: (delivered > 0).then_some(sink.network_latency_max),
        hops_mean: mean(sink.hops_sum),
        offered: created_in as f64 / per_node_cycle,
        accepted: ejected_in as f64 / per_node_cycle,
        backlog_start: backlog.0,
        backlog_end: backlog.1,
        // The same test as the saturation search's probes, which do not
        // drain: a drain cut short shows as `delivered < measured`.
        saturated: stopped_at.is_some()
            || backlog_grew(
                backlog.0,
                backlog.1,
                created_measured * spec.packet_flits as u64,
                nodes,
            ),
        stopped_at,
        link_load: end
            .per_link
            .iter()
            .zip(&start.per_link)
            .map(|(e, s)| (e - s) as f64 / window_cycles.max(1) as f64)
            .collect(),
        window_router_traversals: end.router_traversals - start.router_traversals,
        window_hops: end.hops - start.hops,
        created_total,
        flits_delivered: sink.delivered_total,
        queued_end: queues.iter().map(|q| q.len() as u64).sum::<u64>() * spec.packet_flits as u64
            - sending.iter().map(|s| s.0 as u64).sum::<u64>(),
        in_network_end: mesh.in_flight(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wheel hands out the arrivals a heap of (cycle, node) would, at
    /// the same cycles, near and far ones alike.
    #[test]
    fn arrivals_come_out_in_heap_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut wheel = Arrivals::new();
        let mut heap = BinaryHeap::new();
        for n in 0..40u32 {
            let t = rng.random_range(0..600u64);
            wheel.push(t, n);
            heap.push(Reverse((t, n)));
        }
        let mut now = 0;
        let mut due = vec![];
        while let Some(&Reverse((t, _))) = heap.peek() {
            now = t;
            wheel.take_due(now, &mut due);
            let mut want = vec![];
            while let Some(&Reverse((t2, n))) = heap.peek() {
                if t2 != now {
                    break;
                }
                heap.pop();
                want.push(n);
            }
            due.sort_unstable();
            assert_eq!(due, want, "cycle {now}");
            // Each source draws its next arrival, sometimes far ahead.
            for &n in &want {
                let g = if n % 3 == 0 { 700 } else { 1 + n as u64 % 5 };
                if now < 2000 {
                    wheel.push(now + g, n);
                    heap.push(Reverse((now + g, n)));
                }
            }
            if heap.is_empty() {
                break;
            }
            assert_eq!(wheel.next_after(now), heap.peek().map(|r| r.0 .0));
        }
        assert_eq!(wheel.next_after(now), None);
    }
}
