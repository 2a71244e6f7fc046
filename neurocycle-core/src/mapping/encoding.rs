//! Synapse-row encodings, bit-exact. A row holds the fan-out of one axon on
//! one core (`n` neurons):
//! - dense: `n` weights of `weight_bits` each;
//! - bitmask: `n` presence bits, then the non-zero weights in target order;
//! - csr: per non-zero, a target index of `ceil(log2 n)` bits and a weight.
//!
//! Non-zero weights of binary and ternary projections are +-1 and take one
//! bit (1 = +1, 0 = -1) in bitmask and csr; dense binary uses the same one
//! bit, so it cannot hold a pruned (zero) weight. A sparse projection may
//! store zero-valued synapses: its bitmask and csr rows then give binary
//! and ternary weights two bits, so that 0 is a value; a dense row cannot
//! tell a stored zero from no synapse, and skips both.

use crate::config::Encoding;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowCode {
    pub encoding: Encoding,
    pub n: u32,
    /// Bits of a weight in a dense row.
    pub dense_bits: u32,
    /// Bits of a non-zero weight in a sparse row.
    pub nz_bits: u32,
    pub index_bits: u32,
    /// Sparse rows may hold zero weights (stored zero synapses).
    pub stores_zeros: bool,
}

impl RowCode {
    pub fn new(encoding: Encoding, weight_bits: u8, n: u32) -> RowCode {
        RowCode::with_zeros(encoding, weight_bits, n, false)
    }

    /// A code whose sparse rows can hold stored zero weights (`zeros`).
    pub fn with_zeros(encoding: Encoding, weight_bits: u8, n: u32, zeros: bool) -> RowCode {
        let wb = weight_bits as u32;
        RowCode {
            encoding,
            n,
            dense_bits: wb,
            nz_bits: if wb <= 2 && !zeros { 1 } else { wb.max(2) },
            index_bits: index_bits(n),
            stores_zeros: zeros,
        }
    }

    pub fn row_bits(&self, nnz: u32) -> u32 {
        match self.encoding {
            Encoding::Dense | Encoding::Auto => self.n * self.dense_bits,
            Encoding::Bitmask => self.n + nnz * self.nz_bits,
            Encoding::Csr => nnz * (self.index_bits + self.nz_bits),
        }
    }

    /// Whether a dense row can hold what a sparse row stores: not when a
    /// binary weight (one bit, +-1) would have to be 0.
    pub fn dense_holds(weight_bits: u8, full_rows: bool, zeros: bool) -> bool {
        weight_bits > 1 || (full_rows && !zeros)
    }

    /// The bits of weight `w` in a field of `width` (one bit: 1 = +1, 0 = -1).
    #[inline]
    fn weight_field(w: i32, width: u32) -> u64 {
        if width == 1 {
            (w > 0) as u64
        } else {
            (w as i64 as u64) & ((1u64 << width) - 1)
        }
    }

    #[inline]
    fn weight_of(raw: u64, width: u32) -> i32 {
        if width == 1 {
            if raw == 1 {
                1
            } else {
                -1
            }
        } else {
            let sh = 64 - width;
            (((raw << sh) as i64) >> sh) as i32
        }
    }

    /// Writes `entries` ((local target, weight), sorted; zero only as a
    /// stored sparse synapse) into the zeroed `row_bits(entries.len())`
    /// bits of `words` from bit `at` (bits LSB-first, as a
    /// `BitVec<u64, Lsb0>` holds them).
    pub fn encode(&self, entries: &[(u32, i32)], words: &mut [u64], at: usize) {
        match self.encoding {
            Encoding::Dense | Encoding::Auto => {
                let w = self.dense_bits;
                let mut next = entries.iter().peekable();
                for t in 0..self.n {
                    let weight = match next.peek() {
                        Some((tt, ww)) if *tt == t => {
                            next.next();
                            *ww
                        }
                        _ => 0,
                    };
                    put(
                        words,
                        at + (t * w) as usize,
                        Self::weight_field(weight, w),
                        w,
                    );
                }
            }
            Encoding::Bitmask => {
                for (t, _) in entries {
                    put(words, at + *t as usize, 1, 1);
                }
                let mut bit = at + self.n as usize;
                for (_, w) in entries {
                    put(
                        words,
                        bit,
                        Self::weight_field(*w, self.nz_bits),
                        self.nz_bits,
                    );
                    bit += self.nz_bits as usize;
                }
            }
            Encoding::Csr => {
                let mut bit = at;
                for (t, w) in entries {
                    put(words, bit, *t as u64, self.index_bits);
                    bit += self.index_bits as usize;
                    put(
                        words,
                        bit,
                        Self::weight_field(*w, self.nz_bits),
                        self.nz_bits,
                    );
                    bit += self.nz_bits as usize;
                }
            }
        }
    }

    /// Reads a row from bit `at` of `words` back, calling `f(local target,
    /// weight)` for every stored synapse (dense rows: every non-zero), in
    /// target order.
    pub fn decode_with(&self, words: &[u64], at: usize, nnz: u32, mut f: impl FnMut(u32, i32)) {
        match self.encoding {
            Encoding::Dense | Encoding::Auto => {
                let w = self.dense_bits;
                for t in 0..self.n {
                    let weight = Self::weight_of(get(words, at + (t * w) as usize, w), w);
                    if weight != 0 {
                        f(t, weight);
                    }
                }
            }
            Encoding::Bitmask => {
                let mut bit = at + self.n as usize;
                let end = at + self.n as usize;
                let mut p = at;
                while p < end {
                    // The presence bits a word at a time.
                    let take = (64 - p % 64).min(end - p);
                    let mut ones = get(words, p, take as u32);
                    while ones != 0 {
                        let t = (p - at) as u32 + ones.trailing_zeros();
                        ones &= ones - 1;
                        f(
                            t,
                            Self::weight_of(get(words, bit, self.nz_bits), self.nz_bits),
                        );
                        bit += self.nz_bits as usize;
                    }
                    p += take;
                }
            }
            Encoding::Csr => {
                let mut bit = at;
                for _ in 0..nnz {
                    let t = get(words, bit, self.index_bits) as u32;
                    bit += self.index_bits as usize;
                    f(
                        t,
                        Self::weight_of(get(words, bit, self.nz_bits), self.nz_bits),
                    );
                    bit += self.nz_bits as usize;
                }
            }
        }
    }

    /// [`decode_with`](Self::decode_with) into a list.
    pub fn decode(&self, words: &[u64], at: usize, nnz: u32) -> Vec<(u32, i32)> {
        let mut out = Vec::with_capacity(nnz as usize);
        self.decode_with(words, at, nnz, |t, w| out.push((t, w)));
        out
    }
}

/// ORs `v` (`width` bits, at most 64) into `words` at bit `at`.
#[inline]
fn put(words: &mut [u64], at: usize, v: u64, width: u32) {
    let (w, b) = (at / 64, (at % 64) as u32);
    words[w] |= v << b;
    if b + width > 64 {
        words[w + 1] |= v >> (64 - b);
    }
}

/// The `width` bits (1 ..= 64) of `words` at bit `at`.
#[inline]
fn get(words: &[u64], at: usize, width: u32) -> u64 {
    let (w, b) = (at / 64, (at % 64) as u32);
    let mut v = words[w] >> b;
    if b + width > 64 {
        v |= words[w + 1] << (64 - b);
    }
    if width == 64 {
        v
    } else {
        v & ((1u64 << width) - 1)
    }
}

/// Bits of a target index in a csr row of a core with `n` neurons.
pub fn index_bits(n: u32) -> u32 {
    (32 - (n.max(2) - 1).leading_zeros()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sizes_by_hand() {
        // 100 neurons, 4-bit weights, 7 non-zeros.
        let d = RowCode::new(Encoding::Dense, 4, 100);
        let b = RowCode::new(Encoding::Bitmask, 4, 100);
        let c = RowCode::new(Encoding::Csr, 4, 100);
        assert_eq!(d.row_bits(7), 400);
        assert_eq!(b.row_bits(7), 100 + 28);
        assert_eq!(c.index_bits, 7);
        assert_eq!(c.row_bits(7), 7 * 11);
        // Ternary non-zeros take one bit in sparse encodings.
        assert_eq!(RowCode::new(Encoding::Csr, 2, 256).row_bits(3), 3 * (8 + 1));
    }

    #[test]
    fn roundtrip_each_encoding_and_width() {
        for wb in [1u8, 2, 3, 8, 16] {
            let max = crate::model::weight_max(wb);
            let entries: Vec<(u32, i32)> = if wb == 1 {
                (0..37)
                    .map(|t| (t, if t % 3 == 0 { -1 } else { 1 }))
                    .collect()
            } else {
                vec![(0, max), (5, -max), (17, 1), (36, -1)]
            };
            for enc in [Encoding::Dense, Encoding::Bitmask, Encoding::Csr] {
                let code = RowCode::new(enc, wb, 37);
                // At an odd bit offset, so fields straddle words.
                let bits = code.row_bits(entries.len() as u32) as usize;
                let mut words = vec![0u64; (bits + 77).div_ceil(64)];
                code.encode(&entries, &mut words, 77);
                assert_eq!(
                    code.decode(&words, 77, entries.len() as u32),
                    entries,
                    "{enc:?} {wb}"
                );
            }
        }
    }

    #[test]
    fn stored_zeros_survive_sparse_rows() {
        for wb in [1u8, 2, 4] {
            let entries = vec![(0, 0), (3, 1), (9, -1), (12, 0)];
            for enc in [Encoding::Bitmask, Encoding::Csr] {
                let code = RowCode::with_zeros(enc, wb, 16, true);
                assert_eq!(code.nz_bits, (wb as u32).max(2));
                let mut words = vec![0u64; 2];
                code.encode(&entries, &mut words, 13);
                assert_eq!(code.decode(&words, 13, 4), entries, "{enc:?} {wb}");
            }
        }
        assert!(!RowCode::dense_holds(1, true, true));
        assert!(!RowCode::dense_holds(1, false, false));
        assert!(RowCode::dense_holds(1, true, false));
        assert!(RowCode::dense_holds(2, false, true));
    }
}
