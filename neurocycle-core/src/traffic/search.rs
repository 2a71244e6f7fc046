//! Latency against offered load: the saturation rate by bisection, and a
//! curve of runs at chosen rates (in parallel; each run is independent and
//! seeded alike, so the results do not depend on the thread count).

use super::{simulate, TrafficResult, TrafficSpec};
use crate::engine::noc::MeshParams;

/// The saturation rate lies in `(below, above]`: a run at `below` did not
/// saturate, one at `above` did. `above` is `None` when even a rate of 1
/// flit per node per cycle does not saturate.
#[derive(Clone, Debug, PartialEq)]
pub struct Saturation {
    pub below: f64,
    pub above: Option<f64>,
    pub precision: f64,
    /// Every probe, in order: (rate, saturated).
    pub probes: Vec<(f64, bool)>,
    /// The channel-load bound ([`super::capacity_bound`]), the search's top.
    pub bound: f64,
}

impl Saturation {
    /// Midpoint of the bracket (the estimate, within `precision / 2`).
    pub fn estimate(&self) -> f64 {
        match self.above {
            Some(a) => (self.below + a) / 2.0,
            None => self.below,
        }
    }
}

/// Bisects the offered load, from the channel-load bound down, until the
/// bracket is at most `precision` wide. Probes stop at the window's end
/// (no drain) and decide saturation as a single run does: the backlog grew
/// ([`super::backlog_grew`]) or the source queues overflowed.
pub fn find_saturation(p: MeshParams, spec: &TrafficSpec, precision: f64) -> Saturation {
    let probe = |rate: f64| {
        simulate(
            p,
            &TrafficSpec {
                rate,
                drain: false,
                ..spec.clone()
            },
        )
        .saturated
    };
    let mut probes = vec![];
    // No network carries more than the channel-load bound: below 1 it is
    // the top of the search (saturated by construction, not probed).
    let bound = super::capacity_bound(spec.pattern, &p);
    if bound >= 1.0 {
        let top = probe(1.0);
        probes.push((1.0, top));
        if !top {
            return Saturation {
                below: 1.0,
                above: None,
                precision,
                probes,
                bound,
            };
        }
    }
    let (mut lo, mut hi) = (0.0f64, bound.min(1.0));
    while hi - lo > precision {
        let mid = (lo + hi) / 2.0;
        let s = probe(mid);
        probes.push((mid, s));
        if s {
            hi = mid;
        } else {
            lo = mid;
        }
        tracing::debug!(rate = mid, saturated = s, "saturation probe");
    }
    Saturation {
        below: lo,
        above: Some(hi),
        precision,
        probes,
        bound,
    }
}

/// Default rates of a latency curve: tenths of the saturation estimate up
/// to it, then 10% and 20% beyond (capped at 1).
pub fn default_rates(sat: &Saturation) -> Vec<f64> {
    let s = sat.estimate();
    let mut rates: Vec<f64> = (1..=10).map(|k| s * k as f64 / 10.0).collect();
    if sat.above.is_some() {
        rates.extend([s * 1.1, s * 1.2].map(|r| r.min(1.0)));
    }
    rates.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    rates
}

/// Runs `spec` at each rate on `jobs` threads; results in rate order.
pub fn run_rates(
    p: MeshParams,
    spec: &TrafficSpec,
    rates: &[f64],
    jobs: usize,
    progress: &(dyn Fn() + Sync),
) -> Vec<TrafficResult> {
    crate::parallel::map_indexed(
        rates.len(),
        jobs,
        || (),
        |_, i| {
            simulate(
                p,
                &TrafficSpec {
                    rate: rates[i],
                    ..spec.clone()
                },
            )
        },
        |_, _| {
            progress();
            true
        },
    )
    .into_iter()
    .map(|r| r.expect("every rate ran"))
    .collect()
}
