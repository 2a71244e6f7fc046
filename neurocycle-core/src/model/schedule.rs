//! When things happen within a timestep: the delay of every projection and
//! the phase (level) in which every population updates.
//!
//! A projection without an explicit delay takes its semantics' default:
//! - `layer_serial`: 0 from the input and from a population listed before
//!   the target (feed-forward), 1 from the target itself or one listed
//!   after it (recurrent);
//! - `pipelined`: 1 between populations, 0 from the input (the first
//!   population integrates the timestep's input before it updates).
//!
//! A spike of timestep t on a projection of delay d lands in the target's
//! accumulator bank for t + d. Projections of delay 0 order the
//! populations: a population's level is 0 when nothing with delay 0 feeds
//! it from another population, else one more than the highest such
//! source. Level k updates in phase k of every timestep. A cycle of
//! zero-delay projections has no order and is refused.

use super::{Model, Semantics, Source};

/// Largest delay of a projection, in timesteps.
pub const MAX_DELAY: u32 = 255;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The delay of every projection.
    pub delay: Vec<u32>,
    /// The phase in which every population updates.
    pub level: Vec<u32>,
    /// Phases per timestep.
    pub n_phases: usize,
    /// Largest delay, lateral inhibition (delay 1) included.
    pub max_delay: u32,
}

impl Schedule {
    /// The schedule of a model whose projections name existing
    /// populations; `Err` names a cycle of zero-delay projections.
    pub fn of(model: &Model) -> Result<Schedule, String> {
        let n = model.populations.len();
        let delay: Vec<u32> = model
            .projections
            .iter()
            .map(|j| {
                j.delay.unwrap_or(match (model.semantics, j.source) {
                    (_, Source::Input) => 0,
                    (Semantics::Pipelined, _) => 1,
                    (Semantics::LayerSerial, Source::Population(s)) => (s >= j.target) as u32,
                })
            })
            .collect();
        // Kahn's algorithm over the zero-delay edges between populations.
        let mut indegree = vec![0usize; n];
        let mut out: Vec<Vec<usize>> = vec![vec![]; n];
        for (j, p) in model.projections.iter().enumerate() {
            if let (Source::Population(s), 0) = (p.source, delay[j]) {
                indegree[p.target] += 1;
                out[s].push(j);
            }
        }
        let mut level = vec![0u32; n];
        let mut ready: Vec<usize> = (0..n).filter(|p| indegree[*p] == 0).collect();
        let mut done = 0;
        while let Some(p) = ready.pop() {
            done += 1;
            for &j in &out[p] {
                let t = model.projections[j].target;
                level[t] = level[t].max(level[p] + 1);
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.push(t);
                }
            }
        }
        if done < n {
            return Err(describe_cycle(model, &delay, &indegree));
        }
        let lateral = model.populations.iter().any(|p| p.lateral_inhibition != 0) as u32;
        Ok(Schedule {
            max_delay: delay.iter().copied().max().unwrap_or(0).max(lateral),
            n_phases: level.iter().max().map_or(1, |l| *l as usize + 1),
            delay,
            level,
        })
    }

    /// Timesteps between an input spike and the earliest update of the
    /// output population it can reach: the fewest delay steps on a path
    /// from the input (`None`: no path). An input of T steps has acted on
    /// the output by timestep T - 1 + lag.
    pub fn input_lag(&self, model: &Model) -> Option<u32> {
        // Bellman-Ford over non-negative delays; populations are few.
        let n = model.populations.len();
        let mut best: Vec<Option<u32>> = vec![None; n];
        for _ in 0..=n {
            let mut changed = false;
            for (j, p) in model.projections.iter().enumerate() {
                let from = match p.source {
                    Source::Input => Some(0),
                    Source::Population(s) => best[s],
                };
                if let Some(d) = from.map(|f| f + self.delay[j]) {
                    if best[p.target].is_none_or(|b| d < b) {
                        best[p.target] = Some(d);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        best[model.output]
    }

    /// Accumulator banks a core needs: one per timestep a spike can be
    /// ahead of the update (t .. t + max_delay).
    pub fn banks(&self) -> u32 {
        self.max_delay + 1
    }
}

/// Names one cycle among the populations Kahn's algorithm could not order
/// (each still has a zero-delay predecessor in the cycle's part).
fn describe_cycle(model: &Model, delay: &[u32], indegree: &[usize]) -> String {
    // Walk backwards along zero-delay edges among the unordered populations
    // until a population repeats.
    let start = (0..indegree.len())
        .find(|p| indegree[*p] > 0)
        .expect("some population is unordered");
    let feeder = |t: usize| {
        model
            .projections
            .iter()
            .enumerate()
            .find_map(|(j, p)| match p.source {
                Source::Population(s) if p.target == t && delay[j] == 0 && indegree[s] > 0 => {
                    Some((s, j))
                }
                _ => None,
            })
    };
    let mut path = vec![start];
    let mut via = vec![];
    let mut p = start;
    loop {
        let (s, j) = feeder(p).expect("an unordered population has an unordered feeder");
        via.push(j);
        if let Some(k) = path.iter().position(|q| *q == s) {
            // path[k] <- ... <- path[last] <- s = path[k]: read it forwards.
            let mut names: Vec<String> = path[k..]
                .iter()
                .rev()
                .map(|q| model.population_name(*q))
                .collect();
            names.insert(0, model.population_name(s));
            let projs: Vec<String> = via[k..].iter().rev().map(|j| j.to_string()).collect();
            return format!(
                "populations {} form a cycle of zero-delay projections ({})",
                names.join(" -> "),
                projs
                    .iter()
                    .map(|j| format!("projections[{j}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        path.push(s);
        p = s;
    }
}
