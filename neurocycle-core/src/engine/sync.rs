//! How the partitions of one inference stay consistent: conservative
//! parallel discrete-event simulation with a lookahead of one cycle.
//!
//! A partition steps its own routers and cores at the cycles where they
//! can act. Whatever it sends another partition (a flit, a returned
//! credit) acts one cycle after it is sent at the earliest, so partition k
//! may step cycle c once every other partition j has promised that it will
//! send nothing more before cycle c (`first[j] >= c`: the first cycle at
//! which j may still send). After each cycle a partition posts its
//! messages, then promises: it sends next at its own next event, or when a
//! message arrives, which is no earlier than one cycle after the others'
//! first cycles.
//!
//! A phase ends when every partition is idle (nothing scheduled) and every
//! message sent has been received: each idle partition publishes its
//! counts of messages sent and received, its last cycle and when its cores
//! finish, and all of them find the same end. A barrier then starts the
//! next phase together. A partition idle with flits in its buffers while
//! all are idle means that nothing can ever move: a deadlock.
//!
//! One partition (`Solo`) needs none of this and runs the loop of the
//! single-threaded engine.

use super::noc::{Mesh, Msg};
use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most partitions one inference may use.
pub const MAX_PARTS: usize = 64;

/// What a partition does after stepping a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Step this cycle next.
    To(u64),
    /// The phase is over; its last cycle (pipelines and walks included).
    Done(u64),
    /// Nothing can ever move again.
    Stuck,
}

/// The state of a partition's cores the collective asks about.
pub trait Cores {
    /// The cycle at which their last pipeline and walk finish, if none of
    /// them has anything left to start.
    fn finished(&self) -> Option<u64>;
}

pub trait Collective {
    /// Every partition starts phase `epoch` at cycle `start` together.
    fn begin_phase(&mut self, epoch: u64, start: u64);
    /// After stepping cycle `now`: where to go next. `cores_wake` is the
    /// earliest wake-up of the partition's cores.
    fn advance(
        &mut self,
        mesh: &mut Mesh,
        now: u64,
        cores_wake: u64,
        every_cycle: bool,
        cores: &dyn Cores,
    ) -> Advance;
    /// Sums a vector over the partitions (each adds its own part).
    fn sum(&mut self, mine: &[i64], out: &mut [i64]);
}

/// One partition: the single-threaded engine's loop.
pub struct Solo;

impl Collective for Solo {
    fn begin_phase(&mut self, _epoch: u64, _start: u64) {}

    #[inline(always)]
    fn advance(
        &mut self,
        mesh: &mut Mesh,
        now: u64,
        cores_wake: u64,
        every_cycle: bool,
        cores: &dyn Cores,
    ) -> Advance {
        if mesh.is_empty() {
            if let Some(busy) = cores.finished() {
                // Only pipelines and walks are left to finish.
                return Advance::Done(busy.max(now));
            }
        }
        // Read after the cores ran: they may have injected flits. A core
        // due next cycle makes the mesh's wake-up moot.
        let mut next = cores_wake;
        if next > now + 1 {
            next = next.min(mesh.next_wake());
        }
        // Every wait has a known end (a pipeline, a credit on its way, a
        // queue slot freeing), so a phase that is not over but has no next
        // cycle can never finish.
        if next == u64::MAX {
            return Advance::Stuck;
        }
        Advance::To(if every_cycle {
            now + 1
        } else {
            next.max(now + 1)
        })
    }

    fn sum(&mut self, mine: &[i64], out: &mut [i64]) {
        out.copy_from_slice(mine);
    }
}

/// A barrier for threads that each own a core: they spin (yielding after a
/// while) rather than sleep.
pub struct SpinBarrier {
    n: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    pub fn new(n: usize) -> SpinBarrier {
        SpinBarrier {
            n,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    pub fn wait(&self, poisoned: &AtomicBool) {
        let g = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spin = Spin::new();
        while self.generation.load(Ordering::Acquire) == g {
            spin.wait(poisoned);
        }
    }
}

/// Partition threads running in the process, over all inferences.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts a partition thread as running while it lives.
pub struct Running;

impl Running {
    pub fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()))
}

/// Spins a while, then yields the core: waits are short while every
/// partition thread has a core of its own (a yield costs more than the
/// wait), but a spinning thread must not hold up the one it waits for
/// when they share a core.
struct Spin {
    spins: u32,
    limit: u32,
}

impl Spin {
    fn new() -> Spin {
        let crowded = RUNNING.load(Ordering::Relaxed) > cores();
        Spin {
            spins: 0,
            limit: if crowded { 16 } else { 1 << 14 },
        }
    }

    #[inline]
    fn wait(&mut self, poisoned: &AtomicBool) {
        assert!(
            !poisoned.load(Ordering::Relaxed),
            "another partition of the inference failed"
        );
        if self.spins < self.limit {
            std::hint::spin_loop();
            self.spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// What an idle partition publishes (before its idle flag).
#[derive(Default)]
struct Snapshot {
    sent: AtomicU64,
    received: AtomicU64,
    last: AtomicU64,
    busy: AtomicU64,
    flits: AtomicU64,
}

/// Messages from one partition to another.
#[derive(Default)]
struct Queue {
    msgs: Mutex<Vec<Msg>>,
    /// Messages posted and not yet taken (to skip the lock when none).
    pending: AtomicUsize,
}

/// The meeting place of the partitions of one inference.
pub struct Shared {
    n: usize,
    barrier: SpinBarrier,
    /// Partition of every router (for addressing messages).
    owner: Vec<u8>,
    /// Per partition: (epoch << 48) | the first cycle at which it may still
    /// send (see the top).
    first: Vec<CachePadded<AtomicU64>>,
    /// Per partition: epoch + 1 while idle in that epoch, else 0.
    idle: Vec<CachePadded<AtomicU64>>,
    snapshot: Vec<CachePadded<Snapshot>>,
    /// `queues[from * n + to]`.
    queues: Vec<CachePadded<Queue>>,
    sums: Vec<Mutex<Vec<i64>>>,
    poisoned: AtomicBool,
}

const CYCLE_BITS: u32 = 48;
const CYCLE_MASK: u64 = (1 << CYCLE_BITS) - 1;

impl Shared {
    pub fn new(owner: &[u8], sum_len: usize) -> Shared {
        let n = owner.iter().copied().max().unwrap_or(0) as usize + 1;
        assert!(n <= MAX_PARTS, "at most {MAX_PARTS} partitions");
        Shared {
            n,
            barrier: SpinBarrier::new(n),
            owner: owner.to_vec(),
            first: (0..n)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            idle: (0..n)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            snapshot: (0..n)
                .map(|_| CachePadded::new(Snapshot::default()))
                .collect(),
            queues: (0..n * n)
                .map(|_| CachePadded::new(Queue::default()))
                .collect(),
            sums: (0..n).map(|_| Mutex::new(vec![0; sum_len])).collect(),
            poisoned: AtomicBool::new(false),
        }
    }

    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
}

/// Partition `me`'s side of a `Shared`.
pub struct Member<'s> {
    shared: &'s Shared,
    me: usize,
    epoch: u64,
    start: u64,
    sent: u64,
    received: u64,
    /// Messages taken from the mesh, by destination partition.
    out: Vec<Vec<Msg>>,
    inbox: Vec<Msg>,
}

impl<'s> Member<'s> {
    pub fn new(shared: &'s Shared, me: usize) -> Member<'s> {
        Member {
            shared,
            me,
            epoch: 0,
            start: 0,
            sent: 0,
            received: 0,
            out: (0..shared.n).map(|_| vec![]).collect(),
            inbox: vec![],
        }
    }

    /// The first cycle at which partition j may still send, in this epoch
    /// (its start until j has published one for it: it cannot send before).
    #[inline]
    fn first_of(&self, j: usize) -> u64 {
        let p = self.shared.first[j].load(Ordering::Acquire);
        if p >> CYCLE_BITS == self.epoch & 0xffff {
            p & CYCLE_MASK
        } else {
            self.start
        }
    }

    /// Promises to send nothing before `cycle` (after posting what was sent
    /// before it).
    fn promise(&self, cycle: u64) {
        let p = ((self.epoch & 0xffff) << CYCLE_BITS) | cycle.min(CYCLE_MASK);
        self.shared.first[self.me].store(p, Ordering::Release);
    }

    /// The earliest first cycle of the other partitions.
    fn others_first(&self) -> u64 {
        (0..self.shared.n)
            .filter(|j| *j != self.me)
            .map(|j| self.first_of(j))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Posts the messages the mesh produced since the last call.
    fn post(&mut self, mesh: &mut Mesh) {
        let mut all = std::mem::take(&mut self.inbox);
        mesh.take_outbox(&mut all);
        let n = self.shared.n;
        for m in all.drain(..) {
            let to = match m {
                Msg::Flit { router, .. } => self.shared.owner[router as usize],
                Msg::Credit { q, .. } => self.shared.owner[mesh.upstream_of(q as usize)],
            } as usize;
            self.out[to].push(m);
        }
        self.inbox = all;
        for to in 0..n {
            if self.out[to].is_empty() {
                continue;
            }
            let q = &self.shared.queues[self.me * n + to];
            let count = self.out[to].len();
            q.msgs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut self.out[to]);
            q.pending.fetch_add(count, Ordering::Release);
            self.sent += count as u64;
        }
    }

    /// Applies every message posted to this partition; returns how many.
    fn drain(&mut self, mesh: &mut Mesh) -> u64 {
        let n = self.shared.n;
        let mut got = 0;
        for from in 0..n {
            let q = &self.shared.queues[from * n + self.me];
            if q.pending.load(Ordering::Acquire) == 0 {
                continue;
            }
            {
                let mut msgs = q.msgs.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::swap(&mut *msgs, &mut self.inbox);
                q.pending.fetch_sub(self.inbox.len(), Ordering::Relaxed);
            }
            mesh.apply(&self.inbox);
            got += self.inbox.len() as u64;
            self.inbox.clear();
        }
        self.received += got;
        got
    }

    fn set_idle(&self, now: u64, busy: u64, flits: u64) {
        let s = &self.shared.snapshot[self.me];
        s.sent.store(self.sent, Ordering::Relaxed);
        s.received.store(self.received, Ordering::Relaxed);
        s.last.store(now, Ordering::Relaxed);
        s.busy.store(busy, Ordering::Relaxed);
        s.flits.store(flits, Ordering::Relaxed);
        self.shared.idle[self.me].store(self.epoch + 1, Ordering::Release);
    }

    /// When every partition is idle and every message sent was received:
    /// the phase's end, or `Stuck` if flits (or cores with work they cannot
    /// start) are left.
    fn ended(&self) -> Option<Advance> {
        let (mut sent, mut received, mut end, mut flits) = (0u64, 0u64, 0u64, 0u64);
        for j in 0..self.shared.n {
            if self.shared.idle[j].load(Ordering::Acquire) != self.epoch + 1 {
                return None;
            }
            let s = &self.shared.snapshot[j];
            sent += s.sent.load(Ordering::Relaxed);
            received += s.received.load(Ordering::Relaxed);
            end = end
                .max(s.last.load(Ordering::Relaxed))
                .max(s.busy.load(Ordering::Relaxed));
            flits += s.flits.load(Ordering::Relaxed);
        }
        if sent != received {
            return None;
        }
        Some(if flits > 0 {
            Advance::Stuck
        } else {
            Advance::Done(end)
        })
    }
}

impl Collective for Member<'_> {
    fn begin_phase(&mut self, epoch: u64, start: u64) {
        self.epoch = epoch;
        self.start = start;
        // Nothing of this phase is sent before it starts.
        self.promise(start);
    }

    fn advance(
        &mut self,
        mesh: &mut Mesh,
        now: u64,
        cores_wake: u64,
        every_cycle: bool,
        cores: &dyn Cores,
    ) -> Advance {
        self.post(mesh);
        let mut idle = false;
        let mut spin = Spin::new();
        let result = loop {
            // Read the others' promises before taking their messages: all
            // they sent before those cycles is then in the queues.
            let others = self.others_first();
            if self.drain(mesh) > 0 && idle {
                self.shared.idle[self.me].store(0, Ordering::Relaxed);
                idle = false;
            }
            let mut next = cores_wake.min(mesh.next_wake());
            if every_cycle && next != u64::MAX {
                next = now + 1;
            }
            if next == u64::MAX {
                // Nothing scheduled: act again only when a message comes,
                // which is sent at `others` or later and acts a cycle after.
                self.promise(others.saturating_add(1));
                if !idle {
                    let flits = mesh.flits_held();
                    let finished = cores.finished();
                    let busy = match (flits, finished) {
                        (0, Some(busy)) => busy,
                        _ => now,
                    };
                    // A core that still has work but no next cycle (spikes
                    // no router will take) holds the phase open as a stuck
                    // flit does: when all are idle that is a deadlock, not
                    // the phase's end.
                    self.set_idle(now, busy, flits + u64::from(finished.is_none()));
                    idle = true;
                }
                if let Some(end) = self.ended() {
                    break end;
                }
            } else {
                let c = next.max(now + 1);
                self.promise(c.min(others.saturating_add(1)));
                if others >= c {
                    break Advance::To(c);
                }
            }
            spin.wait(&self.shared.poisoned);
        };
        if let Advance::Done(_) = result {
            // The next phase starts together (see the top).
            self.shared.barrier.wait(&self.shared.poisoned);
        }
        result
    }

    fn sum(&mut self, mine: &[i64], out: &mut [i64]) {
        self.shared.sums[self.me]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .copy_from_slice(mine);
        self.shared.barrier.wait(&self.shared.poisoned);
        out.iter_mut().for_each(|x| *x = 0);
        for k in 0..self.shared.n {
            let sums = self.shared.sums[k]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (o, v) in out.iter_mut().zip(sums.iter()) {
                *o += v;
            }
        }
        // Nobody may overwrite its sums before everyone has read them.
        self.shared.barrier.wait(&self.shared.poisoned);
    }
}

/// Poisons the meeting place if the thread holding it panics, so the other
/// partitions fail instead of waiting for ever.
pub struct PoisonOnPanic<'s>(pub &'s Shared);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison();
        }
    }
}
