//! Lottery tickets: iterative magnitude pruning with weight rewinding
//! (Frankle et al.), and u-Ticket, which balances each round's mask over
//! the processing elements of the chip the network will run on.
//!
//! A dense network trains for `epochs`; its weights after `rewind_epoch`
//! epochs are kept. Each round prunes the previous round's trained weights
//! to the round's sparsity (a fixed fraction of the survivors), rewinds the
//! survivors to the kept weights, and retrains `epochs` epochs. As in
//! Frankle & Carbin, the output layer is pruned at a lower rate
//! (`output_rate`, half by default); the other layers make up the
//! difference, so the network reaches the round's sparsity.
//!
//! u-Ticket keeps the same number of weights per layer, but chooses them so
//! that every synapse row of every core holds the same count on each of the
//! core's PEs: by the contract an event costs as many cycles as its busiest
//! PE needs, so a balanced row leaves no PE idle. The choice is greedy: a
//! "slot" of a (row, core) group is its k-th largest surviving weight on
//! every PE at once, worth the sum of their magnitudes, and the largest
//! slots are kept. Dense layers are balanced; conv layers share kernel
//! weights across rows and are pruned by magnitude only.

use super::quant::magnitude_mask;
use super::stage::{Stages, State};
use super::{effective, Progress, TrainSpec, Trained};
use crate::config::HwConfig;
use crate::data::Dataset;
use crate::engine::chip::pe_of;
use crate::error::Result;
use crate::model::LayerKind;
use serde::{Deserialize, Serialize};

/// How a round chooses its mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Magnitude per layer (lottery ticket hypothesis).
    Lth,
    /// Magnitude, balanced over the PEs of every row (u-Ticket).
    UTicket,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Lth => "lth",
            Method::UTicket => "u-ticket",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LotterySpec {
    /// Architecture, bits, timesteps, learning rate, batch, seed, threads,
    /// data subsets; `epochs` is the length of the dense run and of every
    /// round's retraining.
    pub train: TrainSpec,
    /// The weights rewound to are those after this many epochs.
    pub rewind_epoch: u32,
    pub rounds: u32,
    /// Sparsity after the last round.
    pub target: f64,
    /// The output layer is pruned at this fraction of the other layers'
    /// per-round rate (Frankle & Carbin prune it at half the rate: with few
    /// outputs, every weight there carries a whole class's evidence).
    pub output_rate: f64,
}

impl LotterySpec {
    /// Sparsity after round `r` (0: dense): each round prunes the same
    /// fraction of the survivors.
    pub fn sparsity(&self, r: u32) -> f64 {
        1.0 - (1.0 - self.target).powf(r as f64 / self.rounds as f64)
    }

    /// Weights to keep per layer after round `r`, for layers of `sizes`
    /// weights (0 for layers without weights): the last weighted layer keeps
    /// `(1 - output_rate * p)^r` of its weights, where `p` is the per-round
    /// rate, and the others share the rest of the overall budget equally,
    /// so that the network as a whole reaches `sparsity(r)`.
    pub fn layer_keeps(&self, r: u32, sizes: &[usize]) -> Vec<usize> {
        let total: usize = sizes.iter().sum();
        let budget = ((1.0 - self.sparsity(r)) * total as f64).round() as usize;
        let Some(last) = sizes.iter().rposition(|n| *n > 0) else {
            return vec![0; sizes.len()];
        };
        let per_round = 1.0 - (1.0 - self.target).powf(1.0 / self.rounds as f64);
        let kept_last = 1.0 - self.output_rate * per_round;
        let rest: usize = total - sizes[last];
        let last_keep = if rest == 0 {
            budget
        } else {
            ((kept_last.powi(r as i32) * sizes[last] as f64).round() as usize).min(budget)
        }
        .min(sizes[last]);
        let rest_keep = budget - last_keep;
        let mut keeps: Vec<usize> = sizes
            .iter()
            .map(|n| (*n as f64 * rest_keep as f64 / rest.max(1) as f64).round() as usize)
            .map(|k| k.min(rest_keep))
            .collect();
        keeps[last] = last_keep;
        for (k, n) in keeps.iter_mut().zip(sizes) {
            *k = (*k).min(*n);
        }
        keeps
    }
}

/// A lottery-ticket run on one data set.
pub struct Lottery<'a> {
    spec: &'a LotterySpec,
    stages: Stages<'a>,
}

impl<'a> Lottery<'a> {
    pub fn new(spec: &'a LotterySpec, data: &'a Dataset) -> Result<Lottery<'a>> {
        let stages = Stages::new(&spec.train, data)?;
        crate::error::check_range(
            "command line",
            "--rewind-epoch",
            spec.rewind_epoch,
            0,
            spec.train.epochs,
        )?;
        Ok(Lottery { spec, stages })
    }

    /// The dense network: (its trained state, the rewind state, the
    /// exported model and its accuracy).
    pub fn dense(&self, progress: &dyn Fn(&Progress)) -> Result<(State, State, Trained)> {
        let mut masters = self.stages.fresh();
        let mut rewind = None;
        let at = self.spec.rewind_epoch;
        let loss = self
            .stages
            .train(&self.spec.train, &mut masters, 0, progress, |e, m| {
                if e == at {
                    rewind = Some(State::of(m));
                }
            });
        let trained = self.stages.finish(&self.spec.train, &masters, loss)?;
        Ok((
            State::of(&masters),
            rewind.expect("the rewind epoch is within the run"),
            trained,
        ))
    }

    /// Round `r` (1-based): prunes `from` to the round's sparsity with
    /// `method` (u-Ticket balanced for `hw`), rewinds to `rewind` and
    /// retrains.
    pub fn round(
        &self,
        from: &State,
        rewind: &State,
        r: u32,
        method: Method,
        hw: &HwConfig,
        progress: &dyn Fn(&Progress),
    ) -> Result<(State, Trained)> {
        let mut pruned = from.masters(&from.mask);
        let sizes: Vec<usize> = pruned.iter().map(|m| m.w.len()).collect();
        for (m, keep) in pruned.iter_mut().zip(self.spec.layer_keeps(r, &sizes)) {
            let n = m.w.len().max(1) as f64;
            m.mask = magnitude_mask(&m.w, &m.mask, 1.0 - keep as f64 / n);
            m.zero_pruned();
        }
        if method == Method::UTicket {
            for (l, kind) in self.spec.train.arch.iter().enumerate() {
                if let LayerKind::Dense { inputs, outputs } = *kind {
                    let keep = pruned[l].mask.iter().filter(|k| **k).count();
                    pruned[l].mask =
                        balanced_mask(&from.w[l], &from.mask[l], inputs, outputs, keep, hw);
                }
            }
        }
        let masks: Vec<Vec<bool>> = pruned.iter().map(|m| m.mask.clone()).collect();
        let mut masters = rewind.masters(&masks);
        let loss = self.stages.train(
            &self.spec.train,
            &mut masters,
            r as u64 * 2 + (method == Method::UTicket) as u64,
            progress,
            |_, _| {},
        );
        let trained = self.stages.finish(&self.spec.train, &masters, loss)?;
        Ok((State::of(&masters), trained))
    }

    /// Fraction of zero weights in a state (its masks).
    pub fn sparsity_of(state: &State) -> f64 {
        state.sparsity()
    }

    /// Quantized float parameters are what the chip sees; exposed so tests
    /// can check a mask's balance on the exported weights.
    pub fn effective_masks(&self, state: &State) -> Vec<Vec<bool>> {
        let masters = state.masters(&state.mask);
        let (_, qs) = effective(&self.spec.train, &self.stages.topo, &masters, true);
        qs.iter()
            .map(|q| q.q.iter().map(|x| *x != 0).collect())
            .collect()
    }
}

/// The PE group of output `o` of a Dense layer with `outputs` neurons on
/// `hw`: (core within the layer, PE), by the mapper's contiguous
/// placement (`core.neurons` per core) and the config's PE assignment.
pub fn pe_group(o: usize, outputs: usize, hw: &HwConfig) -> (usize, u32) {
    let chunk = hw.core.neurons as usize;
    let core = o / chunk;
    let on_core = (outputs - core * chunk).min(chunk) as u32;
    let pe = pe_of(
        (o % chunk) as u32,
        on_core,
        hw.core.pes,
        hw.core.pe_assignment,
    );
    (core, pe)
}

/// u-Ticket's mask for a Dense layer (`w` as `[input][output]`): about
/// `keep` survivors of `mask`, chosen in whole slots (one weight per PE of
/// a row's core) by the sum of their magnitudes.
pub fn balanced_mask(
    w: &[f32],
    mask: &[bool],
    inputs: usize,
    outputs: usize,
    keep: usize,
    hw: &HwConfig,
) -> Vec<bool> {
    let pes = hw.core.pes as usize;
    let groups: Vec<(usize, u32)> = (0..outputs).map(|o| pe_group(o, outputs, hw)).collect();
    let n_cores = groups.last().map_or(0, |g| g.0 + 1);
    // Per (core, PE): the outputs it holds.
    let mut members: Vec<Vec<usize>> = vec![vec![]; n_cores * pes];
    for (o, (c, p)) in groups.iter().enumerate() {
        members[c * pes + *p as usize].push(o);
    }
    // Slots: (value, input, core, level) with the level's weight per PE.
    let mut slots: Vec<(f32, usize, usize, usize)> = vec![];
    let mut picks: Vec<Vec<Vec<usize>>> = vec![]; // per (input, core): per PE, candidates by magnitude
    for i in 0..inputs {
        for c in 0..n_cores {
            let mut per_pe: Vec<Vec<usize>> = vec![];
            for p in 0..pes {
                if members[c * pes + p].is_empty() {
                    continue;
                }
                let mut cand: Vec<usize> = members[c * pes + p]
                    .iter()
                    .map(|o| i * outputs + o)
                    .filter(|k| mask[*k])
                    .collect();
                cand.sort_by(|a, b| w[*b].abs().total_cmp(&w[*a].abs()).then(a.cmp(b)));
                per_pe.push(cand);
            }
            let levels = per_pe.iter().map(|c| c.len()).min().unwrap_or(0);
            let g = picks.len();
            for k in 0..levels {
                let value: f32 = per_pe.iter().map(|c| w[c[k]].abs()).sum();
                slots.push((value, g, c, k));
            }
            picks.push(per_pe);
        }
    }
    // Largest first; at equal value the lower level first, so a group's
    // levels are always taken in order.
    slots.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.3.cmp(&b.3)));
    let mut out = vec![false; w.len()];
    let mut kept = 0;
    for (_, g, _, k) in slots {
        if kept >= keep {
            break;
        }
        for cand in &picks[g] {
            out[cand[k]] = true;
            kept += 1;
        }
    }
    out
}
