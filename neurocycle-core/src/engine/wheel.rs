//! A timing wheel of wake-ups: which routers are due at which cycle, so
//! that a cycle visits only the routers that can act in it instead of
//! testing every busy router.
//!
//! A wake-up is entered whenever a router's wake cycle is set or lowered;
//! the entry it replaces stays behind, stale, and is recognised when its
//! cycle comes because the router's wake cycle no longer matches (the
//! caller checks). Cycles less than `SLOTS` ahead go into a bucket per
//! cycle; later ones wait in a short unsorted list and move into their
//! bucket as the horizon reaches them.

const SLOTS: usize = 256;
const WORDS: usize = SLOTS / 64;

#[derive(Clone, Debug)]
pub struct Wheel {
    buckets: Vec<Vec<u32>>,
    /// Bit b: bucket b holds entries.
    occupied: [u64; WORDS],
    /// Wake-ups at least `SLOTS` cycles ahead when entered.
    far: Vec<(u64, u32)>,
    far_min: u64,
    /// The last cycle taken: buckets hold cycles after it.
    now: u64,
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            buckets: vec![Vec::new(); SLOTS],
            occupied: [0; WORDS],
            far: Vec::new(),
            far_min: u64::MAX,
            now: 0,
        }
    }
}

impl Wheel {
    /// Empties the wheel for a new run from cycle 0, keeping every bucket's
    /// capacity.
    pub fn reset(&mut self) {
        self.clear();
        self.now = 0;
    }

    /// Gives every bucket room for `n` entries, so that entering wake-ups
    /// does not allocate while fewer than `n` share a cycle.
    pub fn reserve(&mut self, n: usize) {
        for b in self.buckets.iter_mut() {
            b.reserve(n);
        }
        self.far.reserve(n);
    }

    /// Enters a wake-up of `id` at `cycle`, after the last cycle taken.
    #[inline]
    pub fn insert(&mut self, cycle: u64, id: u32) {
        debug_assert!(cycle > self.now || (self.now == 0 && cycle == 0));
        if cycle - self.now < SLOTS as u64 {
            let b = (cycle % SLOTS as u64) as usize;
            self.buckets[b].push(id);
            self.occupied[b / 64] |= 1 << (b % 64);
        } else if cycle != u64::MAX {
            self.far.push((cycle, id));
            self.far_min = self.far_min.min(cycle);
        }
    }

    /// Moves the wake-ups entered for `cycle` (stale ones included) into
    /// `due`, which is cleared first. Cycles are taken in increasing order;
    /// none that holds entries may be passed over (see `next`).
    #[inline]
    pub fn take(&mut self, cycle: u64, due: &mut Vec<u32>) {
        debug_assert!(cycle >= self.now);
        self.now = cycle;
        if self.far_min < cycle + SLOTS as u64 {
            self.pull_in(cycle);
        }
        let b = (cycle % SLOTS as u64) as usize;
        due.clear();
        std::mem::swap(&mut self.buckets[b], due);
        self.occupied[b / 64] &= !(1 << (b % 64));
    }

    /// Moves the far wake-ups that are now within the horizon into buckets.
    fn pull_in(&mut self, cycle: u64) {
        let mut far = std::mem::take(&mut self.far);
        self.far_min = u64::MAX;
        far.retain(|&(t, id)| {
            if t < cycle + SLOTS as u64 {
                let b = (t % SLOTS as u64) as usize;
                self.buckets[b].push(id);
                self.occupied[b / 64] |= 1 << (b % 64);
                false
            } else {
                self.far_min = self.far_min.min(t);
                true
            }
        });
        self.far = far;
    }

    /// The earliest cycle after the last one taken that holds entries (it
    /// may hold only stale ones), or `u64::MAX`.
    pub fn next(&self) -> u64 {
        let start = ((self.now + 1) % SLOTS as u64) as usize;
        // Scan the bitmap from `start` around the wheel once.
        for k in 0..=WORDS {
            let w = (start / 64 + k) % WORDS;
            let mut bits = self.occupied[w];
            if k == 0 {
                bits &= u64::MAX << (start % 64);
            } else if k == WORDS {
                bits &= !(u64::MAX << (start % 64));
            }
            if bits != 0 {
                let b = w * 64 + bits.trailing_zeros() as usize;
                let ahead = (b + SLOTS - start) % SLOTS;
                return (self.now + 1 + ahead as u64).min(self.far_min);
            }
        }
        self.far_min
    }

    /// Forgets every entry (all stale, as no router holds flits).
    pub fn clear(&mut self) {
        for w in 0..WORDS {
            let mut bits = self.occupied[w];
            while bits != 0 {
                self.buckets[w * 64 + bits.trailing_zeros() as usize].clear();
                bits &= bits - 1;
            }
            self.occupied[w] = 0;
        }
        self.far.clear();
        self.far_min = u64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Near and far wake-ups come out at their cycles, `next` names the
    /// earliest pending cycle exactly, and nothing is lost or duplicated.
    #[test]
    fn wake_ups_come_out_at_their_cycle() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut wheel = Wheel::default();
        let mut pending: Vec<(u64, u32)> = vec![];
        let mut now = 0;
        let mut due = vec![];
        for id in 0..30u32 {
            let t = 1 + rng.random_range(0..1000u64);
            wheel.insert(t, id);
            pending.push((t, id));
        }
        while !pending.is_empty() {
            let earliest = pending.iter().map(|p| p.0).min().unwrap();
            assert_eq!(wheel.next(), earliest, "after cycle {now}");
            now = earliest;
            wheel.take(now, &mut due);
            let mut want: Vec<u32> = pending.iter().filter(|p| p.0 == now).map(|p| p.1).collect();
            pending.retain(|p| p.0 != now);
            due.sort_unstable();
            want.sort_unstable();
            assert_eq!(due, want, "cycle {now}");
            // Each one due comes back later, sometimes far later.
            for &id in &want {
                if now < 5_000 {
                    let t = now + 1 + rng.random_range(0..600u64);
                    wheel.insert(t, id);
                    pending.push((t, id));
                }
            }
        }
        assert_eq!(wheel.next(), u64::MAX);
    }
}
