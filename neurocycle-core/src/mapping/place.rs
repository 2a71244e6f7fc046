//! Placement: which physical core (tile and port) holds each of the
//! mapper's cores. The mapper numbers its cores in population order; a
//! policy assigns each one a free physical core.
//!
//! - `contiguous`: core k on physical core k (populations in order from
//!   core 0, row-major over tiles).
//! - `locality`: the cores in order, each on the free physical core with
//!   the least hop-weighted traffic to the cores placed before it (traffic
//!   = routing entries between the two, both ways; ties to the lowest
//!   core id). A core with no placed partner takes the lowest free id.

use crate::config::{HwConfig, Placement};

/// Traffic between cores: for core a, (b, routing entries between a and b
/// in both directions), sorted by b.
pub type Traffic = Vec<Vec<(u32, u64)>>;

/// Hops between the tiles of two physical cores (XY routing).
pub fn hops(hw: &HwConfig, a: u32, b: u32) -> u64 {
    let (ax, ay) = hw.tile_of(a);
    let (bx, by) = hw.tile_of(b);
    (ax.abs_diff(bx) + ay.abs_diff(by)) as u64
}

/// The physical core of each of `traffic.len()` cores; there are enough
/// physical cores (checked by the caller).
pub fn place(hw: &HwConfig, traffic: &Traffic) -> Vec<u32> {
    let n = traffic.len();
    match hw.mapping.policy {
        Placement::Contiguous => (0..n as u32).collect(),
        Placement::Locality => {
            let total = hw.n_cores();
            let mut phys = vec![u32::MAX; n];
            let mut free = vec![true; total as usize];
            for a in 0..n {
                let placed: Vec<(u32, u64)> = traffic[a]
                    .iter()
                    .filter(|(b, _)| phys[*b as usize] != u32::MAX)
                    .map(|(b, w)| (phys[*b as usize], *w))
                    .collect();
                let mut best = (u64::MAX, u32::MAX);
                for c in 0..total {
                    if !free[c as usize] {
                        continue;
                    }
                    let cost: u64 = placed.iter().map(|(pb, w)| w * hops(hw, c, *pb)).sum();
                    if cost < best.0 {
                        best = (cost, c);
                    }
                    if placed.is_empty() {
                        break;
                    }
                }
                phys[a] = best.1;
                free[best.1 as usize] = false;
            }
            phys
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_pulls_partners_together() {
        let hw = HwConfig::preset("default")
            .unwrap()
            .with_overrides("t", &["mapping.policy=locality".into()])
            .unwrap();
        // Core 0 talks to core 2 only, core 1 to nobody: 2 lands next to 0.
        let traffic: Traffic = vec![vec![(2, 10)], vec![], vec![(0, 10)]];
        let phys = place(&hw, &traffic);
        assert_eq!(phys[0], 0);
        assert_eq!(phys[1], 1);
        assert_eq!(hops(&hw, phys[0], phys[2]), 1);
        assert_ne!(phys[2], phys[1]);
        let contiguous = HwConfig::preset("default").unwrap();
        assert_eq!(place(&contiguous, &traffic), vec![0, 1, 2]);
    }
}
