//! The 2D mesh: input-buffered routers with dimension-order (XY) routing,
//! credit flow control, round-robin output arbitration, a router pipeline of
//! `latency_cycles` and links of `link_latency_cycles`.
//!
//! ```text
//!            N(0)
//!             |
//!    W(3) -- [R] -- E(1)      ports 0..4: mesh links
//!           / | \             ports 4..4+C: one injection/ejection
//!       core0 ... coreC-1     port per core of the tile
//! ```
//!
//! Timing: a flit that enters a router's input buffer at cycle c may leave
//! it at c + router_latency; leaving through a mesh port it occupies the
//! link for `flit_cycles` cycles (flit bits / link width) and enters the
//! next router's buffer `flit_cycles - 1 + link_latency` cycles later.
//! Zero-load latency over h hops, injection to ejection:
//! `h * (router_latency + link_latency + flit_cycles - 1) + router_latency`.
//!
//! Multicast (`xy_tree`): a flit carries a destination set (its group)
//! and, at each router, requests every output on the union of the XY paths
//! from its source to its destinations that pass there; each granted output
//! gets a copy, and the flit leaves the buffer once all its outputs have
//! been served (asynchronous replication). A link carries one copy per
//! flit, and a destination core finds its axon from the group.
//!
//! Every cycle reads state as of the start of the cycle: a flit sent at
//! cycle c is visible downstream at c + 1 at the earliest, and a freed
//! buffer slot returns its credit upstream after `link_latency` cycles, so
//! the order in which routers are stepped never matters. Idle routers are
//! not visited; a router whose flits wait (for their pipeline, a credit, a
//! free link or room in a work queue) sleeps until the earliest of those
//! can change; a credit sent back later wakes it.
//! Stall cycles are counted at departure from timestamps, so sleeping
//! counts them exactly as visiting every cycle would.
//!
//! Partitions: one inference may run on several threads, each stepping the
//! routers of a band of mesh columns (`Mesh::partitioned`). A flit sent to
//! a router of another band, and the credit a departure returns to one,
//! become messages (`Msg`) that the other band applies before its next
//! cycle; an upstream router reads its credits from a mirror of the
//! downstream buffer that its own sends and the returned credits keep
//! exact. Since a pushed flit is ready two cycles later at the earliest
//! and a credit returns a link latency later, applying them one cycle late
//! changes nothing (the order of routers within a cycle never matters).

use std::hint::select_unpredictable;

use super::wheel::Wheel;

pub const NORTH: usize = 0;
pub const EAST: usize = 1;
pub const SOUTH: usize = 2;
pub const WEST: usize = 3;
pub const LOCAL: usize = 4;

/// N (0) and S (2), E (1) and W (3) differ in bit 1.
fn opposite(dir: usize) -> usize {
    dir ^ 2
}

/// A port's name in messages: its mesh direction, or `other` for the
/// ports of the tile's cores.
pub fn port_name(port: usize, other: &'static str) -> &'static str {
    ["N", "E", "S", "W"].get(port).copied().unwrap_or(other)
}

/// `Flit::group` of a unicast flit.
pub const UNICAST: u32 = u32::MAX;

/// One spike packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flit {
    /// Destination of a unicast flit.
    pub dest_core: u32,
    /// Axon at the destination (set at ejection for a multicast flit).
    pub axon: u32,
    /// Multicast group (destination set), or `UNICAST`.
    pub group: u32,
    /// Graded payload (1 for a binary spike).
    pub payload: u16,
    /// Free for the sender (the engine stores the accumulator bank).
    pub tag: u8,
    pub src_core: u32,
    pub inject_cycle: u64,
    /// `iq::HEAD` and / or `iq::TAIL`: its place in a packet (both for a
    /// single-flit packet; the pipelined router sends single flits only).
    pub packet: u8,
    /// When the flit may leave the router it sits in.
    ready_cycle: u64,
    /// Output ports still to serve at the router it sits in (routed on
    /// entry; one bit for a unicast flit).
    out_mask: u32,
}

impl Flit {
    pub fn new(src_core: u32, dest_core: u32, axon: u32, payload: u16, tag: u8) -> Flit {
        Flit {
            dest_core,
            axon,
            group: UNICAST,
            payload,
            tag,
            src_core,
            inject_cycle: 0,
            packet: super::iq::HEAD | super::iq::TAIL,
            ready_cycle: 0,
            out_mask: 0,
        }
    }

    /// A multicast flit to every destination of `group`.
    pub fn multicast(src_core: u32, group: u32, payload: u16, tag: u8) -> Flit {
        Flit {
            group,
            ..Flit::new(src_core, u32::MAX, u32::MAX, payload, tag)
        }
    }
}

/// Destination sets of multicast flits: group g goes to
/// `(cores[i], axons[i])` for i in `offsets[g]..offsets[g + 1]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Groups {
    pub offsets: Vec<u32>,
    pub cores: Vec<u32>,
    pub axons: Vec<u32>,
}

impl Groups {
    fn range(&self, g: u32) -> std::ops::Range<usize> {
        self.offsets[g as usize] as usize..self.offsets[g as usize + 1] as usize
    }
    /// Destinations of group `g`.
    pub fn len(&self, g: u32) -> u32 {
        self.offsets[g as usize + 1] - self.offsets[g as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.offsets.len() <= 1
    }
}

/// What one partition of the mesh tells another (see the top).
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    /// A flit for input `port` of `router`.
    Flit { router: u32, port: u32, flit: Flit },
    /// Input buffer `q` (router * ports + port) freed `slot`; its credit
    /// reaches the upstream router at cycle `at`.
    Credit { q: u32, slot: u32, at: u64 },
}

/// Where ejected flits go: the cores' work queues, or a test's recorder.
pub trait Sink {
    /// The first cycle, `now` or later, at which the work queue of `core`
    /// has room for a flit. It must not change unless `accept` is called.
    fn room_at(&mut self, core: u32, now: u64) -> u64;
    fn accept(&mut self, core: u32, flit: Flit, now: u64);
    /// The router took a flit out of the injection buffer of `core` at
    /// `now`: the core has room again (and need not look every cycle).
    #[inline]
    fn injection_freed(&mut self, _core: u32, _now: u64) {}
    /// A flit (or a multicast copy) went from input `in_port` to output
    /// `out_port` of `router` at `cycle`; `left_buffer` when it was the
    /// last copy, freeing its input slot. For traces; free when unused.
    #[inline]
    fn hop(
        &mut self,
        _router: usize,
        _in_port: usize,
        _out_port: usize,
        _cycle: u64,
        _left_buffer: bool,
    ) {
    }
}

/// Mesh-wide traffic counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NocStats {
    pub injected: u64,
    pub ejected: u64,
    /// Inter-tile links crossed, summed over flits.
    pub hops: u64,
    /// Routers passed through, summed over flits (hops + 1 per flit).
    pub router_traversals: u64,
    /// Cycles a ready flit at the head of an input buffer did not move,
    /// summed over input ports.
    pub stall_cycles: u64,
    pub latency_sum: u64,
    pub latency_max: u64,
    /// Flits sent per (router, direction): index `router * 4 + dir`.
    pub per_link: Vec<u64>,
}

impl NocStats {
    pub fn merge(&mut self, o: &NocStats) {
        self.injected += o.injected;
        self.ejected += o.ejected;
        self.hops += o.hops;
        self.router_traversals += o.router_traversals;
        self.stall_cycles += o.stall_cycles;
        self.latency_sum += o.latency_sum;
        self.latency_max = self.latency_max.max(o.latency_max);
        if self.per_link.len() < o.per_link.len() {
            self.per_link.resize(o.per_link.len(), 0);
        }
        for (a, b) in self.per_link.iter_mut().zip(&o.per_link) {
            *a += b;
        }
    }
}

/// Router and link parameters of a mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeshParams {
    pub x: u32,
    pub y: u32,
    pub cores_per_router: u32,
    pub buffer_depth: u32,
    pub router_latency: u32,
    pub link_latency: u32,
    pub flit_cycles: u32,
    /// The input-queued router (`router.input_queued`), or `None`: the
    /// pipelined one.
    pub iq: Option<crate::config::InputQueued>,
}

impl MeshParams {
    /// Latency of a single-flit packet alone in the mesh over `hops` links.
    pub fn zero_load_latency(&self, hops: u64) -> u64 {
        if let Some(q) = &self.iq {
            return super::iq::IqMesh::zero_load_latency(self, q, hops);
        }
        hops * (self.router_latency + self.link_latency + self.flit_cycles - 1) as u64
            + self.router_latency as u64
    }
}

#[cold]
fn outside_the_mesh(flit: &Flit) -> ! {
    panic!("flit names a core or group outside the mesh: {flit:?}")
}

/// Most ports a router may have: four mesh directions and up to 16 cores.
pub const MAX_PORTS: usize = LOCAL + 16;

/// An input port: a FIFO of `buffer_depth` flits in `Mesh::slots`. The
/// head's timing and outputs are kept here, so that scanning a router's
/// ports reads one small array and no flit.
#[derive(Clone, Copy, Debug, Default)]
struct InPort {
    /// Earliest cycle the head may leave: its ready cycle, and the cycle
    /// after the previous departure. While the port is empty: the cycle
    /// after its last departure.
    head_at: u64,
    /// Outputs the head still has to be sent to.
    head_outs: u32,
    head: u16,
    len: u16,
}

/// What the scheduler keeps per router.
#[derive(Clone, Copy, Debug, Default)]
struct RouterState {
    /// Earliest cycle at which the router may act.
    wake: u64,
    /// Input ports holding flits (bitmask).
    nonempty: u32,
    /// Mesh outputs a ready head waits on for a credit not yet sent back;
    /// only a departure downstream of those wakes the router.
    blocked: u32,
    /// The router's position, for routing without a division.
    x: u32,
    y: u32,
    /// Mesh directions whose neighbour belongs to another partition.
    foreign: u32,
}

/// An output port: its link and its round-robin pointer. Its credits are
/// the free-slot times of the downstream input buffer (`Mesh::slot_free`).
#[derive(Clone, Copy, Debug, Default)]
struct OutPort {
    /// The link is busy serializing a flit until this cycle.
    free_at: u64,
    /// Round-robin pointer: the input port served first next time.
    rr: u32,
}

/// A vector the router step indexes without bounds checks: they were
/// about 8% of the mesh's instructions. Every index into one is formed
/// from a router (< routers), a port (< ports) and a slot (< depth), or
/// from a core that `Mesh::inject` and `Mesh::with_groups` have checked,
/// so it is in range by construction; debug builds (and so the tests)
/// still check each access.
#[derive(Clone, Debug)]
struct Unchecked<T>(Vec<T>);

impl<T> std::ops::Index<usize> for Unchecked<T> {
    type Output = T;
    #[inline(always)]
    fn index(&self, i: usize) -> &T {
        debug_assert!(i < self.0.len(), "index {i} of {}", self.0.len());
        // SAFETY: in range by construction (see the type).
        unsafe { self.0.get_unchecked(i) }
    }
}

impl<T> std::ops::IndexMut<usize> for Unchecked<T> {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut T {
        debug_assert!(i < self.0.len(), "index {i} of {}", self.0.len());
        // SAFETY: in range by construction (see the type).
        unsafe { self.0.get_unchecked_mut(i) }
    }
}

#[derive(Clone, Debug)]
pub struct Pipelined {
    /// Private: the tables below are sized from it (see `Unchecked`).
    p: MeshParams,
    ports: usize,
    depth: usize,
    /// Buffer slots, `depth` per (router, input port).
    slots: Unchecked<Flit>,
    /// Per buffer slot (as `slots`): the cycle its credit reaches the
    /// upstream router, i.e. its last departure plus the link latency.
    /// The upstream router fills a buffer's slots in FIFO order, so it has
    /// a credit exactly when the slot after the tail is free and its credit
    /// has arrived: the oldest freed slot.
    slot_free: Unchecked<u64>,
    inp: Unchecked<InPort>,
    out: Unchecked<OutPort>,
    routers: Unchecked<RouterState>,
    /// Per core: its tile's (x, y) and its ejection port, so routing
    /// needs no division in the hot loop.
    core_at: Unchecked<(u32, u32, u32)>,
    groups: std::sync::Arc<Groups>,
    /// Router index step to the neighbor in each mesh direction.
    step_of: [usize; 4],
    /// Routers by wake cycle.
    wheel: Wheel,
    /// Routers taken from the wheel for the current cycle.
    due: Vec<u32>,
    in_flight: u64,
    /// From leaving a router to being ready to leave the next one.
    hop_cycles: u64,
    pub stats: NocStats,
    /// Partition of every router, and this mesh's (0 when whole).
    owner: Unchecked<u8>,
    me: u8,
    /// Some routers belong to other partitions.
    partitioned: bool,
    /// Messages for other partitions since `take_outbox`, the flits among
    /// them, and the earliest cycle at which one acts.
    outbox: Vec<Msg>,
    outbox_flits: u64,
    outbox_at: u64,
}

impl Pipelined {
    pub fn new(p: MeshParams) -> Pipelined {
        Pipelined::with_groups(p, Default::default())
    }

    /// A mesh that can carry multicast flits of `groups`.
    pub fn with_groups(p: MeshParams, groups: std::sync::Arc<Groups>) -> Pipelined {
        let routers = (p.x * p.y) as usize;
        let ports = LOCAL + p.cores_per_router as usize;
        assert!(
            ports <= MAX_PORTS,
            "cores_per_router is validated to 16 at most"
        );
        let depth = p.buffer_depth as usize;
        let n_cores = routers as u32 * p.cores_per_router;
        assert!(
            groups.cores.iter().all(|&c| c < n_cores),
            "a multicast group names a core outside the mesh"
        );
        Pipelined {
            p,
            ports,
            depth,
            slots: Unchecked(vec![Flit::default(); routers * ports * depth]),
            slot_free: Unchecked(vec![0; routers * ports * depth]),
            inp: Unchecked(vec![InPort::default(); routers * ports]),
            out: Unchecked(vec![OutPort::default(); routers * ports]),
            routers: Unchecked(
                (0..routers as u32)
                    .map(|r| RouterState {
                        wake: u64::MAX,
                        x: r % p.x,
                        y: r / p.x,
                        ..RouterState::default()
                    })
                    .collect(),
            ),
            core_at: Unchecked(
                (0..routers as u32 * p.cores_per_router)
                    .map(|c| {
                        let t = c / p.cores_per_router;
                        (t % p.x, t / p.x, (LOCAL as u32) + c % p.cores_per_router)
                    })
                    .collect(),
            ),
            groups,
            step_of: [(p.x as usize).wrapping_neg(), 1, p.x as usize, usize::MAX],
            wheel: {
                // Room for the wake-ups of a busy cycle: entering them then
                // never allocates (stale entries may share a cycle).
                let mut w = Wheel::default();
                w.reserve((4 * routers).min(1024));
                w
            },
            due: Vec::with_capacity((4 * routers).min(1024)),
            in_flight: 0,
            hop_cycles: (p.flit_cycles - 1 + p.link_latency + p.router_latency) as u64,
            stats: NocStats {
                per_link: vec![0; routers * 4],
                ..NocStats::default()
            },
            owner: Unchecked(vec![0; routers]),
            me: 0,
            partitioned: false,
            outbox: vec![],
            outbox_flits: 0,
            outbox_at: u64::MAX,
        }
    }

    /// The part of a mesh that partition `me` steps, the routers of every
    /// partition given by `owner` (router index -> partition).
    pub fn partitioned(
        p: MeshParams,
        groups: std::sync::Arc<Groups>,
        owner: &[u8],
        me: u8,
    ) -> Pipelined {
        let mut mesh = Pipelined::with_groups(p, groups);
        assert_eq!(owner.len(), mesh.n_routers(), "one owner per router");
        mesh.owner = Unchecked(owner.to_vec());
        mesh.me = me;
        mesh.partitioned = owner.iter().any(|o| *o != me);
        for r in 0..mesh.n_routers() {
            let (x, y) = (r as u32 % p.x, r as u32 / p.x);
            let mut foreign = 0;
            for (dir, inside) in [
                (NORTH, y > 0),
                (EAST, x + 1 < p.x),
                (SOUTH, y + 1 < p.y),
                (WEST, x > 0),
            ] {
                if inside && owner[mesh.neighbor(r, dir)] != owner[r] {
                    foreign |= 1 << dir;
                }
            }
            mesh.routers[r].foreign = foreign;
        }
        // Room for a cycle's messages without growing later.
        mesh.outbox.reserve(4 * mesh.n_routers());
        mesh
    }

    /// The router upstream of input buffer `q` (router * ports + port).
    pub fn upstream_of(&self, q: usize) -> usize {
        self.neighbor(q / self.ports, q % self.ports)
    }

    /// Whether router `r` belongs to this partition.
    #[inline]
    pub fn owns(&self, r: usize) -> bool {
        self.owner[r] == self.me
    }

    /// Empties the mesh and its counters for a new inference, keeping every
    /// allocation (so a reused mesh allocates nothing).
    pub fn reset(&mut self) {
        for f in self.slot_free.0.iter_mut() {
            *f = 0;
        }
        for ip in self.inp.0.iter_mut() {
            *ip = InPort::default();
        }
        for op in self.out.0.iter_mut() {
            *op = OutPort::default();
        }
        for rs in self.routers.0.iter_mut() {
            rs.wake = u64::MAX;
            rs.nonempty = 0;
            rs.blocked = 0;
        }
        self.wheel.reset();
        self.due.clear();
        self.in_flight = 0;
        self.outbox.clear();
        self.outbox_flits = 0;
        self.outbox_at = u64::MAX;
        let per_link = std::mem::take(&mut self.stats.per_link);
        self.stats = NocStats {
            per_link,
            ..NocStats::default()
        };
        self.stats.per_link.iter_mut().for_each(|x| *x = 0);
    }

    /// The messages for other partitions since the last call, with the
    /// flits among them and the earliest cycle one acts at; `swap` receives
    /// them (and gives back an empty buffer).
    pub fn take_outbox(&mut self, swap: &mut Vec<Msg>) -> (u64, u64) {
        swap.clear();
        std::mem::swap(&mut self.outbox, swap);
        let out = (self.outbox_flits, self.outbox_at);
        self.outbox_flits = 0;
        self.outbox_at = u64::MAX;
        out
    }

    /// Applies another partition's messages that concern this one (before
    /// the next cycle is stepped).
    pub fn apply(&mut self, msgs: &[Msg]) {
        for m in msgs {
            match *m {
                Msg::Flit { router, port, flit } => {
                    if self.owns(router as usize) {
                        self.push(router as usize, port as usize, flit);
                    }
                }
                Msg::Credit { q, slot, at } => {
                    let (q, slot) = (q as usize, slot as usize);
                    let port = q % self.ports;
                    let up = self.upstream_of(q);
                    if !self.owns(up) {
                        continue;
                    }
                    // The mirror of the downstream buffer loses its head.
                    let ip = &mut self.inp[q];
                    ip.head = if ip.head as usize + 1 == self.depth {
                        0
                    } else {
                        ip.head + 1
                    };
                    ip.len -= 1;
                    self.slot_free[q * self.depth + slot] = at;
                    let us = &mut self.routers[up];
                    if us.blocked & (1 << opposite(port)) != 0 && at < us.wake {
                        us.wake = at;
                        self.wheel.insert(at, up as u32);
                    }
                }
            }
        }
    }

    /// Flits in this partition's buffers plus those sent to other
    /// partitions and not yet taken.
    pub fn flits_held(&self) -> u64 {
        self.in_flight + self.outbox_flits
    }

    /// The earliest cycle at which a message not yet taken acts.
    pub fn outbox_at(&self) -> u64 {
        self.outbox_at
    }

    pub fn n_routers(&self) -> usize {
        (self.p.x * self.p.y) as usize
    }

    #[inline]
    pub fn router_of(&self, core: u32) -> usize {
        // Checked: `core` comes from the caller.
        let (x, y, _) = self.core_at.0[core as usize];
        (y * self.p.x + x) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.in_flight == 0
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Earliest cycle at which some router may act (a cycle in which none
    /// does is possible: a router's wake-up that was moved earlier leaves
    /// its old entry behind).
    pub fn next_wake(&self) -> u64 {
        if self.in_flight == 0 {
            return u64::MAX;
        }
        self.wheel.next()
    }

    pub fn can_inject(&self, core: u32) -> bool {
        self.injection_room(core) > 0
    }

    /// Free slots in the injection buffer of `core`.
    #[inline]
    pub fn injection_room(&self, core: u32) -> u32 {
        let q = self.router_of(core) * self.ports + self.core_at.0[core as usize].2 as usize;
        self.p.buffer_depth - self.inp[q].len as u32
    }

    /// Puts a flit into the injection port of its source core, entering at
    /// cycle `now` (which may lie ahead of the simulation's current cycle
    /// when the caller has proven there will be room then; see
    /// `core::step_core`).
    pub fn inject(&mut self, mut flit: Flit, now: u64) {
        // The router step trusts every core a flit names (see `Unchecked`).
        let n_cores = self.core_at.0.len();
        let known = if flit.group == UNICAST {
            (flit.dest_core as usize) < n_cores
        } else {
            (flit.group as usize) + 1 < self.groups.offsets.len()
        };
        if (flit.src_core as usize) >= n_cores || !known {
            outside_the_mesh(&flit);
        }
        assert!(
            (flit.src_core as usize) < n_cores
                && if flit.group == UNICAST {
                    (flit.dest_core as usize) < n_cores
                } else {
                    (flit.group as usize) + 1 < self.groups.offsets.len()
                },
            "flit names a core or group outside the mesh: {flit:?}"
        );
        let r = self.router_of(flit.src_core);
        let port = self.core_at[flit.src_core as usize].2 as usize;
        flit.inject_cycle = now;
        flit.ready_cycle = now + self.p.router_latency as u64;
        self.push(r, port, flit);
        self.stats.injected += 1;
    }

    #[inline(always)]
    fn push(&mut self, r: usize, port: usize, mut flit: Flit) {
        flit.out_mask = if flit.group == UNICAST {
            1 << self.route(r, flit.dest_core)
        } else {
            self.tree_outputs(r, &flit)
        };
        self.in_flight += 1;
        let q = r * self.ports + port;
        let ip = &mut self.inp[q];
        debug_assert!((ip.len as usize) < self.depth, "credit protocol violated");
        let mut slot = (ip.head + ip.len) as usize;
        if slot >= self.depth {
            slot -= self.depth;
        }
        let rs = &mut self.routers[r];
        // Selects, not branches: whether the port was empty is data.
        let was_empty = ip.len == 0;
        ip.head_at = select_unpredictable(was_empty, flit.ready_cycle.max(ip.head_at), ip.head_at);
        ip.head_outs = select_unpredictable(was_empty, flit.out_mask, ip.head_outs);
        rs.nonempty |= 1 << port;
        ip.len += 1;
        if flit.ready_cycle < rs.wake {
            rs.wake = flit.ready_cycle;
            self.wheel.insert(flit.ready_cycle, r as u32);
        }
        self.slots[q * self.depth + slot] = flit;
    }

    /// A flit for router `r` of another partition: it goes as a message,
    /// and this partition's mirror of the buffer counts it at once.
    #[cold]
    fn send_foreign(&mut self, r: usize, port: usize, flit: Flit) {
        let q = r * self.ports + port;
        debug_assert!(
            (self.inp[q].len as usize) < self.depth,
            "credit protocol violated"
        );
        self.inp[q].len += 1;
        self.outbox.push(Msg::Flit {
            router: r as u32,
            port: port as u32,
            flit,
        });
        self.outbox_flits += 1;
        self.outbox_at = self.outbox_at.min(flit.ready_cycle);
    }

    #[inline]
    fn route(&self, r: usize, dest_core: u32) -> usize {
        let (x, y) = (self.routers[r].x, self.routers[r].y);
        let (dx, dy, eject) = self.core_at[dest_core as usize];
        // XY order as a table lookup on the signs of the offsets: the
        // direction is data-dependent, and a chain of compares mispredicts.
        // LOCAL stands for the destination's ejection port, selected
        // arithmetically for the same reason.
        const XY: [u8; 9] = [
            WEST as u8,
            WEST as u8,
            WEST as u8,
            NORTH as u8,
            LOCAL as u8,
            SOUTH as u8,
            EAST as u8,
            EAST as u8,
            EAST as u8,
        ];
        let sx = (dx > x) as usize + (dx >= x) as usize;
        let sy = (dy > y) as usize + (dy >= y) as usize;
        // (A `%` or `&` on a table index here and in the port scan never
        // changes it: it shows the compiler the bound, so it checks nothing.)
        let dir = XY[(sx * 3 + sy) % XY.len()] as usize;
        dir + (dir == LOCAL) as usize * (eject as usize - LOCAL)
    }

    /// Outputs of router `r` on the XY tree of a multicast flit: for every
    /// destination whose XY path from the source passes `r`, the next step.
    fn tree_outputs(&self, r: usize, flit: &Flit) -> u32 {
        let (x, y, _) = self.core_at[r * self.p.cores_per_router as usize];
        let (sx, sy, _) = self.core_at[flit.src_core as usize];
        let between = |v: u32, a: u32, b: u32| a.min(b) <= v && v <= a.max(b);
        let mut mask = 0;
        for i in self.groups.range(flit.group) {
            let d = self.groups.cores[i];
            let (dx, dy, _) = self.core_at[d as usize];
            // The path runs along the source's row to dx, then along column dx.
            if (y == sy && between(x, sx, dx)) || (x == dx && between(y, sy, dy)) {
                mask |= 1 << self.route(r, d);
            }
        }
        mask
    }

    #[inline]
    fn neighbor(&self, r: usize, dir: usize) -> usize {
        // Arithmetic, not a match: the direction is data-dependent and a
        // jump table mispredicts about every other hop.
        r.wrapping_add(self.step_of[dir & 3])
    }

    /// When mesh output `dir` of router `r` next has a credit: a cycle
    /// (`now` or earlier when it has one), or `None` while the downstream
    /// buffer is full (a departure there will tell).
    #[inline]
    fn credit_at(&self, r: usize, dir: usize) -> Option<u64> {
        let q = self.neighbor(r, dir) * self.ports + opposite(dir);
        let ip = &self.inp[q];
        if ip.len as usize == self.depth {
            return None;
        }
        let mut tail = (ip.head + ip.len) as usize;
        if tail >= self.depth {
            tail -= self.depth;
        }
        Some(self.slot_free[q * self.depth + tail])
    }

    /// Advances every router that can act at `now` (all routers holding
    /// flits when `every_cycle`, to check that skipping changes nothing).
    /// The order in which routers are stepped never matters (see the top).
    #[inline]
    pub fn step(&mut self, now: u64, sink: &mut impl Sink, every_cycle: bool) {
        if self.in_flight == 0 {
            // The wheel is empty (it is cleared when the last flit leaves).
            return;
        }
        // A whole mesh compiles without the partition checks.
        if self.partitioned {
            self.step_routers::<true>(now, sink, every_cycle);
        } else {
            self.step_routers::<false>(now, sink, every_cycle);
        }
    }

    #[inline(always)]
    fn step_routers<const PART: bool>(
        &mut self,
        now: u64,
        sink: &mut impl Sink,
        every_cycle: bool,
    ) {
        let mut due = std::mem::take(&mut self.due);
        self.wheel.take(now, &mut due);
        if every_cycle {
            for r in 0..self.n_routers() {
                if self.routers[r].nonempty != 0 && self.owns(r) {
                    self.step_router::<PART>(r, now, sink);
                }
            }
        } else {
            for &r in &due {
                // Entries left behind when a wake-up moved earlier do not match.
                if self.routers[r as usize].wake == now {
                    self.step_router::<PART>(r as usize, now, sink);
                }
            }
        }
        self.due = due;
    }

    #[inline(always)]
    fn step_router<const PART: bool>(&mut self, r: usize, now: u64, sink: &mut impl Sink) {
        let ports = self.ports;
        let base = r * ports;
        let nonempty = self.routers[r].nonempty;
        let mut wake = u64::MAX;
        let mut blocked = 0u32;
        if nonempty & nonempty.wrapping_sub(1) == 0 {
            // One port holds flits (the common case on a lightly loaded
            // chip): its head is the only requester of its outputs.
            // `% ports` keeps an index in range should `nonempty` be 0.
            let port = nonempty.trailing_zeros() as usize % ports;
            let ip = &self.inp[base + port];
            if ip.head_at > now {
                wake = ip.head_at;
            } else {
                let mut outs = ip.head_outs;
                while outs != 0 {
                    let out = outs.trailing_zeros() as usize;
                    outs &= outs - 1;
                    self.serve::<PART>(r, out, 1 << port, now, sink, &mut wake, &mut blocked);
                }
            }
        } else {
            // requests[out]: input ports whose ready head wants `out` (entry
            // 31, never an output, collects the ports that want nothing).
            let mut requests = [0u32; 32];
            let mut wanted = 0u32;
            // Every port is looked at, with selects instead of branches:
            // which ports hold a ready head is data, and a branch on it
            // mispredicts.
            let inp = &self.inp;
            let mut scan = |port: usize| {
                let ip = &inp[base + port];
                let holds = (nonempty >> port) & 1 != 0;
                let ready = holds & (ip.head_at <= now);
                wake = wake.min(select_unpredictable(holds & !ready, ip.head_at, u64::MAX));
                let outs = select_unpredictable(ready, ip.head_outs, 0);
                wanted |= outs;
                if outs & outs.wrapping_sub(1) == 0 {
                    requests[(outs | 1 << 31).trailing_zeros() as usize % 32] |=
                        (ready as u32) << port;
                } else {
                    // A multicast head wanting several outputs.
                    let mut rest = outs;
                    while rest != 0 {
                        requests[rest.trailing_zeros() as usize % 32] |= 1 << port;
                        rest &= rest - 1;
                    }
                }
            };
            // The mesh ports in a loop of fixed length (unrolled), then the
            // local ones: a loop whose length is data mispredicts its exit.
            for port in 0..LOCAL {
                scan(port);
            }
            for port in LOCAL..ports {
                scan(port);
            }
            while wanted != 0 {
                let out = wanted.trailing_zeros() as usize;
                wanted &= wanted - 1;
                self.serve::<PART>(
                    r,
                    out,
                    requests[out % 32],
                    now,
                    sink,
                    &mut wake,
                    &mut blocked,
                );
            }
        }
        self.routers[r].wake = wake;
        self.routers[r].blocked = blocked;
        self.wheel.insert(wake, r as u32);
    }

    /// Output `out` of router `r` at `now`, requested by the input ports of
    /// `req`: sends the round-robin winner's head if the output can take a
    /// flit, else lowers `wake` to when it may (or marks it in `blocked`
    /// when only a departure downstream can tell).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn serve<const PART: bool>(
        &mut self,
        r: usize,
        out: usize,
        req: u32,
        now: u64,
        sink: &mut impl Sink,
        wake: &mut u64,
        blocked: &mut u32,
    ) {
        let ports = self.ports;
        let base = r * ports;
        let oq = base + out;
        // A head that cannot go sleeps until what blocks it changes: a
        // busy link frees at a known cycle, a credit comes back at a known
        // cycle (or wakes us when sent), a work queue has room at a known cycle.
        if self.out[oq].free_at > now {
            *wake = (*wake).min(self.out[oq].free_at);
            return;
        }
        if out < LOCAL {
            match self.credit_at(r, out) {
                Some(t) if t <= now => {}
                Some(t) => {
                    *blocked |= 1 << out;
                    *wake = (*wake).min(t);
                    return;
                }
                None => {
                    *blocked |= 1 << out;
                    return;
                }
            }
        } else {
            let core = (r * self.p.cores_per_router as usize + out - LOCAL) as u32;
            let room = sink.room_at(core, now);
            if room > now {
                *wake = (*wake).min(room);
                return;
            }
        }
        // Round robin: the first requester at or after the pointer.
        let winner = if req & (req - 1) == 0 {
            req.trailing_zeros()
        } else {
            *wake = (*wake).min(now + 1);
            let at_or_after = req & !((1u32 << self.out[oq].rr) - 1);
            if at_or_after != 0 {
                at_or_after.trailing_zeros()
            } else {
                req.trailing_zeros()
            }
        } as usize;
        self.out[oq].rr = if winner + 1 == ports {
            0
        } else {
            winner as u32 + 1
        };

        let iq = base + winner;
        let ip = &mut self.inp[iq];
        ip.head_outs &= !(1 << out);
        let last_copy = ip.head_outs == 0;
        let mut copy = self.slots[iq * self.depth + ip.head as usize];
        self.stats.router_traversals += 1;
        // A flit leaves its buffer once every output it needs has its
        // copy; later outputs of this cycle never name it, as they are
        // visited in order and it requested none of them.
        if last_copy {
            // The port's next head may leave from the next cycle on.
            *wake = (*wake).min(self.depart::<PART>(r, winner, now));
            if winner >= LOCAL {
                let core = (r * self.p.cores_per_router as usize + winner - LOCAL) as u32;
                sink.injection_freed(core, now);
            }
        }
        sink.hop(r, winner, out, now, last_copy);
        if out < LOCAL {
            self.out[oq].free_at = now + self.p.flit_cycles as u64;
            self.stats.per_link[r * 4 + out] += 1;
            self.stats.hops += 1;
            copy.ready_cycle = now + self.hop_cycles;
            let next = self.neighbor(r, out);
            if !PART || self.routers[r].foreign & (1 << out) == 0 {
                self.push(next, opposite(out), copy);
            } else {
                self.send_foreign(next, opposite(out), copy);
            }
        } else {
            let core = (r * self.p.cores_per_router as usize + out - LOCAL) as u32;
            if copy.group != UNICAST {
                let g = &self.groups;
                let i = g
                    .range(copy.group)
                    .find(|i| g.cores[*i] == core)
                    .expect("ejected at a destination");
                copy.dest_core = core;
                copy.axon = g.axons[i];
            }
            let latency = now - copy.inject_cycle;
            self.stats.ejected += 1;
            self.stats.latency_sum += latency;
            self.stats.latency_max = self.stats.latency_max.max(latency);
            sink.accept(core, copy, now);
        }
    }

    /// Removes the head of input `port` of router `r` at `now`, freeing its
    /// slot (its credit reaches the upstream router a link latency later).
    /// Returns the earliest cycle the port's next head may leave (`u64::MAX`
    /// when the port is now empty).
    #[inline(always)]
    fn depart<const PART: bool>(&mut self, r: usize, port: usize, now: u64) -> u64 {
        let iq = r * self.ports + port;
        let ip = &mut self.inp[iq];
        // Stalled from when it was a ready head until now.
        self.stats.stall_cycles += now - ip.head_at;
        let freed = iq * self.depth + ip.head as usize;
        ip.head += 1;
        if ip.head as usize == self.depth {
            ip.head = 0;
        }
        ip.len -= 1;
        // Selects, not branches, on whether the port is now empty (the
        // slot read is then stale and unused).
        let rs = &mut self.routers[r];
        let empty = ip.len == 0;
        let f = &self.slots[iq * self.depth + ip.head as usize];
        let next_at = f.ready_cycle.max(now + 1);
        ip.head_at = select_unpredictable(empty, now + 1, next_at);
        ip.head_outs = f.out_mask;
        rs.nonempty &= !((empty as u32) << port);
        self.in_flight -= 1;
        if self.in_flight == 0 {
            // Whatever the wheel still holds is stale.
            self.wheel.clear();
        }
        // The freed slot's credit travels back to the upstream router, which
        // waits for it only if it found none. An injection port has no
        // upstream router: it names its own router, and a bit (`port ^ 2`
        // >= 4) that `blocked`, holding mesh outputs only, never has.
        let at = now + self.p.link_latency as u64;
        self.slot_free[freed] = at;
        let up = select_unpredictable(port < LOCAL, r.wrapping_add(self.step_of[port & 3]), r);
        if PART && port < LOCAL && self.routers[r].foreign & (1 << port) != 0 {
            self.outbox.push(Msg::Credit {
                q: iq as u32,
                slot: (freed - iq * self.depth) as u32,
                at,
            });
            self.outbox_at = self.outbox_at.min(at);
        } else {
            let us = &mut self.routers[up];
            if us.blocked & (1 << opposite(port)) != 0 && at < us.wake {
                us.wake = at;
                self.wheel.insert(at, up as u32);
            }
        }
        select_unpredictable(empty, u64::MAX, next_at)
    }

    /// Describes the first blocked flit, for deadlock reports.
    pub fn describe_stuck(&self) -> String {
        for r in 0..self.n_routers() {
            for port in 0..self.ports {
                let q = r * self.ports + port;
                if self.inp[q].len > 0 {
                    let f = &self.slots[q * self.depth + self.inp[q].head as usize];
                    let name = port_name(port, "local");
                    return format!(
                        "router ({}, {}) input port {name} holds a flit from core {} to core {} axon {} (injected at cycle {})",
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
        "no flit in the mesh; a core is waiting".to_string()
    }
}

/// The chip's mesh: the pipelined router, or the input-queued one with
/// virtual channels (`router.input_queued`). One inference steps one of
/// them; the engine and the NoC mode see only this type.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Mesh {
    Pipelined(Pipelined),
    InputQueued(super::iq::IqMesh),
}

#[cold]
#[inline(never)]
fn iq_step(m: &mut super::iq::IqMesh, now: u64, sink: &mut impl Sink) {
    m.step(now, sink, false)
}

#[cold]
#[inline(never)]
fn iq_inject(m: &mut super::iq::IqMesh, flit: Flit, now: u64) {
    m.inject(flit, now)
}

#[cold]
#[inline(never)]
fn iq_room(m: &super::iq::IqMesh, core: u32) -> u32 {
    m.injection_room(core)
}

#[cold]
#[inline(never)]
fn iq_wake(m: &super::iq::IqMesh) -> u64 {
    m.next_wake()
}

/// Forwards a call to whichever router the mesh has.
macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            Mesh::Pipelined($m) => $e,
            Mesh::InputQueued($m) => $e,
        }
    };
}

impl Mesh {
    pub fn new(p: MeshParams) -> Mesh {
        Mesh::with_groups(p, Default::default())
    }

    /// A mesh that can carry multicast flits of `groups` (the pipelined
    /// router only: the config refuses tree multicast with the other).
    pub fn with_groups(p: MeshParams, groups: std::sync::Arc<Groups>) -> Mesh {
        match p.iq {
            Some(q) => Mesh::InputQueued(super::iq::IqMesh::new(p, q)),
            None => Mesh::Pipelined(Pipelined::with_groups(p, groups)),
        }
    }

    /// The part of a pipelined mesh that partition `me` steps (the engine
    /// runs an input-queued mesh whole, on one thread).
    pub fn partitioned(
        p: MeshParams,
        groups: std::sync::Arc<Groups>,
        owner: &[u8],
        me: u8,
    ) -> Mesh {
        assert!(p.iq.is_none(), "an input-queued mesh is not partitioned");
        Mesh::Pipelined(Pipelined::partitioned(p, groups, owner, me))
    }

    pub fn stats(&self) -> &NocStats {
        each!(self, m => &m.stats)
    }

    // The pipelined router's calls stay inline in the engine's loop; the
    // input-queued router's are out of line (`cold`), so the default
    // router's loop costs one predictable branch per call.
    #[inline]
    pub fn step(&mut self, now: u64, sink: &mut impl Sink, every_cycle: bool) {
        match self {
            Mesh::Pipelined(m) => m.step(now, sink, every_cycle),
            Mesh::InputQueued(m) => iq_step(m, now, sink),
        }
    }

    #[inline]
    pub fn inject(&mut self, flit: Flit, now: u64) {
        match self {
            Mesh::Pipelined(m) => m.inject(flit, now),
            Mesh::InputQueued(m) => iq_inject(m, flit, now),
        }
    }

    #[inline]
    pub fn injection_room(&self, core: u32) -> u32 {
        match self {
            Mesh::Pipelined(m) => m.injection_room(core),
            Mesh::InputQueued(m) => iq_room(m, core),
        }
    }

    pub fn can_inject(&self, core: u32) -> bool {
        self.injection_room(core) > 0
    }

    #[inline]
    pub fn next_wake(&self) -> u64 {
        match self {
            Mesh::Pipelined(m) => m.next_wake(),
            Mesh::InputQueued(m) => iq_wake(m),
        }
    }

    pub fn in_flight(&self) -> u64 {
        each!(self, m => m.in_flight())
    }

    pub fn is_empty(&self) -> bool {
        self.in_flight() == 0
    }

    pub fn n_routers(&self) -> usize {
        each!(self, m => m.n_routers())
    }

    pub fn router_of(&self, core: u32) -> usize {
        each!(self, m => m.router_of(core))
    }

    pub fn reset(&mut self) {
        each!(self, m => m.reset())
    }

    pub fn describe_stuck(&self) -> String {
        each!(self, m => m.describe_stuck())
    }

    /// The input-queued mesh, for tests that look inside it.
    pub fn input_queued(&self) -> Option<&super::iq::IqMesh> {
        match self {
            Mesh::InputQueued(m) => Some(m),
            Mesh::Pipelined(_) => None,
        }
    }

    /// Flits held, messages to other partitions included.
    pub fn flits_held(&self) -> u64 {
        match self {
            Mesh::Pipelined(m) => m.flits_held(),
            Mesh::InputQueued(m) => m.in_flight(),
        }
    }

    pub fn take_outbox(&mut self, swap: &mut Vec<Msg>) -> (u64, u64) {
        match self {
            Mesh::Pipelined(m) => m.take_outbox(swap),
            Mesh::InputQueued(_) => {
                swap.clear();
                (0, u64::MAX)
            }
        }
    }

    pub fn apply(&mut self, msgs: &[Msg]) {
        if let Mesh::Pipelined(m) = self {
            m.apply(msgs)
        }
    }

    pub fn outbox_at(&self) -> u64 {
        match self {
            Mesh::Pipelined(m) => m.outbox_at(),
            Mesh::InputQueued(_) => u64::MAX,
        }
    }

    pub fn upstream_of(&self, q: usize) -> usize {
        match self {
            Mesh::Pipelined(m) => m.upstream_of(q),
            Mesh::InputQueued(_) => unreachable!("an input-queued mesh sends no messages"),
        }
    }
}
