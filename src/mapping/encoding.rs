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
use bitvec::prelude::*;

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

    fn put_weight(bits: &mut BitSlice<u64, Lsb0>, w: i32, width: u32) {
        let raw = if width == 1 {
            (w > 0) as u64
        } else {
            (w as i64 as u64) & ((1u64 << width) - 1)
        };
        bits[..width as usize].store_le::<u64>(raw);
    }

    fn get_weight(bits: &BitSlice<u64, Lsb0>, width: u32) -> i32 {
        let raw = bits[..width as usize].load_le::<u64>();
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
    /// stored sparse synapse) into
    /// `bits`, which is exactly `row_bits(entries.len())` long.
    pub fn encode(&self, entries: &[(u32, i32)], bits: &mut BitSlice<u64, Lsb0>) {
        match self.encoding {
            Encoding::Dense | Encoding::Auto => {
                let w = self.dense_bits as usize;
                let mut next = entries.iter().peekable();
                for t in 0..self.n {
                    let weight = match next.peek() {
                        Some((tt, ww)) if *tt == t => {
                            next.next();
                            *ww
                        }
                        _ => 0,
                    };
                    Self::put_weight(&mut bits[t as usize * w..], weight, self.dense_bits);
                }
            }
            Encoding::Bitmask => {
                for (t, _) in entries {
                    bits.set(*t as usize, true);
                }
                let mut at = self.n as usize;
                for (_, w) in entries {
                    Self::put_weight(&mut bits[at..], *w, self.nz_bits);
                    at += self.nz_bits as usize;
                }
            }
            Encoding::Csr => {
                let mut at = 0usize;
                for (t, w) in entries {
                    bits[at..at + self.index_bits as usize].store_le::<u64>(*t as u64);
                    at += self.index_bits as usize;
                    Self::put_weight(&mut bits[at..], *w, self.nz_bits);
                    at += self.nz_bits as usize;
                }
            }
        }
    }

    /// Reads a row back: (local target, weight) for every stored synapse
    /// (dense rows: every non-zero).
    pub fn decode(&self, bits: &BitSlice<u64, Lsb0>, nnz: u32) -> Vec<(u32, i32)> {
        let mut out = Vec::with_capacity(nnz as usize);
        match self.encoding {
            Encoding::Dense | Encoding::Auto => {
                let w = self.dense_bits as usize;
                for t in 0..self.n {
                    let weight = Self::get_weight(&bits[t as usize * w..], self.dense_bits);
                    if weight != 0 {
                        out.push((t, weight));
                    }
                }
            }
            Encoding::Bitmask => {
                let mut at = self.n as usize;
                for t in bits[..self.n as usize].iter_ones() {
                    out.push((t as u32, Self::get_weight(&bits[at..], self.nz_bits)));
                    at += self.nz_bits as usize;
                }
            }
            Encoding::Csr => {
                let mut at = 0usize;
                for _ in 0..nnz {
                    let t = bits[at..at + self.index_bits as usize].load_le::<u64>() as u32;
                    at += self.index_bits as usize;
                    out.push((t, Self::get_weight(&bits[at..], self.nz_bits)));
                    at += self.nz_bits as usize;
                }
            }
        }
        out
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
                let mut bits = bitvec![u64, Lsb0; 0; code.row_bits(entries.len() as u32) as usize];
                code.encode(&entries, &mut bits);
                assert_eq!(
                    code.decode(&bits, entries.len() as u32),
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
                let mut bits = bitvec![u64, Lsb0; 0; code.row_bits(4) as usize];
                code.encode(&entries, &mut bits);
                assert_eq!(code.decode(&bits, 4), entries, "{enc:?} {wb}");
            }
        }
        assert!(!RowCode::dense_holds(1, true, true));
        assert!(!RowCode::dense_holds(1, false, false));
        assert!(RowCode::dense_holds(1, true, false));
        assert!(RowCode::dense_holds(2, false, true));
    }
}
