//! How the partitions of one inference agree, cycle by cycle. Every
//! partition steps its routers and cores for the same cycle, then all of
//! them meet (`Collective::exchange`): each publishes what it sent to the
//! others and a summary (its next cycle, the flits it holds, whether its
//! cores are done), waits for the rest, applies what was sent to it, and
//! all read the same global view, so they take the same decision.
//!
//! Published data is double-buffered by the parity of the meeting's
//! number: what a partition writes after meeting i is read by the others
//! only after meeting i + 1, and it is overwritten two meetings later,
//! when everyone has read it.

use super::noc::{Mesh, Msg};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most partitions one inference may use.
pub const MAX_PARTS: usize = 64;

/// A partition's state after stepping a cycle.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// The earliest cycle at which something of this partition may act,
    /// messages it sent included.
    pub next: u64,
    /// Flits in its buffers or sent and not yet applied.
    pub flits: u64,
    /// All its cores have nothing left to start.
    pub quiescent: bool,
    /// When its last pipeline and walk finish.
    pub busy_until: u64,
}

/// What every partition learns at a meeting.
#[derive(Clone, Copy, Debug)]
pub struct Global {
    pub next: u64,
    pub done: bool,
    pub busy_until: u64,
}

impl Global {
    fn of(summaries: impl Iterator<Item = Summary>) -> Global {
        let mut g = Global {
            next: u64::MAX,
            done: true,
            busy_until: 0,
        };
        for s in summaries {
            g.next = g.next.min(s.next);
            g.done &= s.flits == 0 && s.quiescent;
            g.busy_until = g.busy_until.max(s.busy_until);
        }
        g
    }
}

pub trait Collective {
    /// Publishes this partition's messages and summary, waits for the
    /// others, applies their messages to `mesh`, and returns the global view.
    fn exchange(&mut self, mesh: &mut Mesh, summary: Summary) -> Global;
    /// Sums a vector over the partitions (each adds its own part).
    fn sum(&mut self, mine: &[i64], out: &mut [i64]);
}

/// One partition: nothing to exchange.
pub struct Solo;

impl Collective for Solo {
    #[inline]
    fn exchange(&mut self, _mesh: &mut Mesh, summary: Summary) -> Global {
        Global::of(std::iter::once(summary))
    }
    fn sum(&mut self, mine: &[i64], out: &mut [i64]) {
        out.copy_from_slice(mine);
    }
}

/// A barrier for threads that each own a core: they spin (yielding after a
/// while) rather than sleep, since a meeting happens every simulated cycle.
pub struct SpinBarrier {
    n: usize,
    /// Spins before yielding: few when there are more threads than cores
    /// (a spinning thread would hold up the one it waits for).
    spins: u32,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a partition's thread panicked: the others stop waiting.
    poisoned: AtomicBool,
}

impl SpinBarrier {
    pub fn new(n: usize) -> SpinBarrier {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        SpinBarrier {
            n,
            spins: if n <= cores { 256 } else { 8 },
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    pub fn wait(&self) {
        let g = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == g {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "another partition of the inference failed"
            );
            if spins < self.spins {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
}

/// What a partition publishes, twice (by meeting parity).
#[derive(Default)]
struct Board {
    msgs: [Vec<Msg>; 2],
    summary: [Summary; 2],
    sums: Vec<i64>,
}

/// The meeting place of the partitions of one inference.
pub struct Shared {
    barrier: SpinBarrier,
    boards: Vec<Mutex<Board>>,
}

impl Shared {
    pub fn new(parts: usize, sum_len: usize) -> Shared {
        Shared {
            barrier: SpinBarrier::new(parts),
            boards: (0..parts)
                .map(|_| {
                    Mutex::new(Board {
                        sums: vec![0; sum_len],
                        ..Board::default()
                    })
                })
                .collect(),
        }
    }

    pub fn poison(&self) {
        self.barrier.poison();
    }
}

/// Partition `me`'s side of a `Shared`.
pub struct Member<'s> {
    pub shared: &'s Shared,
    pub me: usize,
    /// Meetings so far.
    round: usize,
}

impl<'s> Member<'s> {
    pub fn new(shared: &'s Shared, me: usize) -> Member<'s> {
        assert!(
            shared.boards.len() <= MAX_PARTS,
            "at most {MAX_PARTS} partitions"
        );
        Member {
            shared,
            me,
            round: 0,
        }
    }

    fn board(&self, k: usize) -> std::sync::MutexGuard<'_, Board> {
        self.shared.boards[k]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Collective for Member<'_> {
    fn exchange(&mut self, mesh: &mut Mesh, summary: Summary) -> Global {
        let side = self.round % 2;
        self.round += 1;
        {
            // The buffer published two meetings ago (read by everyone since)
            // becomes the mesh's outbox; its messages are published.
            let mut board = self.board(self.me);
            let mut buf = std::mem::take(&mut board.msgs[side]);
            mesh.take_outbox(&mut buf);
            board.msgs[side] = buf;
            board.summary[side] = summary;
        }
        self.shared.barrier.wait();
        let n = self.shared.boards.len();
        let mut summaries = [Summary::default(); MAX_PARTS];
        for (k, slot) in summaries.iter_mut().enumerate().take(n) {
            let board = self.board(k);
            *slot = board.summary[side];
            if k != self.me {
                mesh.apply(&board.msgs[side]);
            }
        }
        Global::of(summaries[..n].iter().copied())
    }

    fn sum(&mut self, mine: &[i64], out: &mut [i64]) {
        self.board(self.me).sums.copy_from_slice(mine);
        self.shared.barrier.wait();
        out.iter_mut().for_each(|x| *x = 0);
        for k in 0..self.shared.boards.len() {
            for (o, v) in out.iter_mut().zip(&self.board(k).sums) {
                *o += v;
            }
        }
        // Nobody may overwrite its sums before everyone has read them.
        self.shared.barrier.wait();
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
