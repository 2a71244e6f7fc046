//! Training in stages: a network's weights, biases and masks as a value
//! (`State`) that one stage hands the next, and a stage that trains a
//! state for a spec's epochs. Lottery tickets rewind and retrain with it;
//! IIR retrains at fewer timesteps from the previous stage's state.

use super::{finish, EpochRun, Master, Progress, Topology, TrainSpec, Trained};
use crate::data::{Dataset, Split};
use crate::error::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Weights, biases and masks of every layer: what a stage hands the next
/// (and what a resumed study reloads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
    pub mask: Vec<Vec<bool>>,
}

impl State {
    pub(super) fn of(masters: &[Master]) -> State {
        State {
            w: masters.iter().map(|m| m.w.clone()).collect(),
            b: masters.iter().map(|m| m.b.clone()).collect(),
            mask: masters.iter().map(|m| m.mask.clone()).collect(),
        }
    }

    /// Masters holding `w` under `mask`, with fresh optimizer state.
    pub(super) fn masters(&self, mask: &[Vec<bool>]) -> Vec<Master> {
        self.w
            .iter()
            .zip(&self.b)
            .zip(mask)
            .map(|((w, b), mask)| Master {
                w: w.iter()
                    .zip(mask)
                    .map(|(w, k)| if *k { *w } else { 0.0 })
                    .collect(),
                b: b.clone(),
                mask: mask.clone(),
                m_w: vec![0.0; w.len()],
                v_w: vec![0.0; w.len()],
                m_b: vec![0.0; b.len()],
                v_b: vec![0.0; b.len()],
            })
            .collect()
    }

    /// Fraction of zero weights (by the masks).
    pub fn sparsity(&self) -> f64 {
        let total: usize = self.mask.iter().map(|m| m.len()).sum();
        let zeros: usize = self
            .mask
            .iter()
            .map(|m| m.iter().filter(|k| !**k).count())
            .sum();
        zeros as f64 / total.max(1) as f64
    }
}

/// A network and data set that stages train on.
pub struct Stages<'a> {
    pub(super) spec: &'a TrainSpec,
    pub(super) data: &'a Dataset,
    pub(super) topo: Topology,
    split: Split,
}

impl<'a> Stages<'a> {
    pub fn new(spec: &'a TrainSpec, data: &'a Dataset) -> Result<Stages<'a>> {
        super::validate(spec, data)?;
        let (shapes, fanouts) = super::skeleton(&spec.arch);
        let split = match spec.train_samples {
            Some(n) => data.train.head(n),
            None => data.train.clone(),
        };
        Ok(Stages {
            spec,
            data,
            topo: Topology { shapes, fanouts },
            split,
        })
    }

    /// Fresh masters from the spec's seed.
    pub(super) fn fresh(&self) -> Vec<Master> {
        super::init_masters(self.spec, &self.topo)
    }

    /// Trains `masters` for `spec.epochs` epochs of `spec` (which may
    /// differ from the network's spec in timesteps, epochs or learning
    /// rate, not in architecture), quantization-aware throughout. `stage`
    /// seeds the shuffles and stimuli so that every stage differs and each
    /// is reproducible on its own. Calls `after(epoch, masters)` after
    /// every epoch (and with epoch 0 before the first). Returns the last
    /// epoch's loss.
    pub(super) fn train(
        &self,
        spec: &TrainSpec,
        masters: &mut [Master],
        stage: u64,
        progress: &dyn Fn(&Progress),
        mut after: impl FnMut(u32, &[Master]),
    ) -> f32 {
        debug_assert_eq!(spec.arch, self.spec.arch);
        let seed = crate::model::stimulus::sample_seed(spec.seed, 1_000_003 * (stage + 1));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = self.split.len();
        let total_steps = (n.div_ceil(spec.batch) * spec.epochs as usize).max(1);
        let mut order: Vec<usize> = (0..n).collect();
        let mut step = 0;
        let mut p = Progress {
            samples_total: (n * spec.epochs as usize) as u64,
            ..Progress::default()
        };
        after(0, masters);
        for epoch in 0..spec.epochs {
            p.epoch = epoch;
            let run = EpochRun {
                spec,
                topo: &self.topo,
                split: &self.split,
                data: self.data,
                epoch_seed: crate::model::stimulus::sample_seed(seed, 1 + epoch as u64),
                quantized: true,
                total_steps,
            };
            run.run(masters, &mut order, &mut rng, &mut step, &mut p, progress);
            after(epoch + 1, masters);
        }
        p.loss
    }

    /// One stage under `spec` (same architecture as the network's):
    /// starts from `init` (fresh weights when None), trains, exports and
    /// measures the integer model. Zero epochs export `init` as it is, at
    /// the spec's timesteps.
    pub fn run(
        &self,
        spec: &TrainSpec,
        init: Option<&State>,
        stage: u64,
        progress: &dyn Fn(&Progress),
    ) -> Result<(State, Trained)> {
        super::validate(
            &TrainSpec {
                epochs: spec.epochs.max(1),
                ..spec.clone()
            },
            self.data,
        )?;
        let mut masters = match init {
            Some(s) => s.masters(&s.mask),
            None => self.fresh(),
        };
        let loss = self.train(spec, &mut masters, stage, progress, |_, _| {});
        let trained = self.finish(spec, &masters, loss)?;
        Ok((State::of(&masters), trained))
    }

    /// Exports `masters` under `spec` and measures the integer model.
    pub(super) fn finish(
        &self,
        spec: &TrainSpec,
        masters: &[Master],
        loss: f32,
    ) -> Result<Trained> {
        finish(spec, &self.topo, masters, self.data, loss)
    }
}
