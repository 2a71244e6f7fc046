//! ANN-to-SNN conversion: a ReLU network of the chip's layers is trained
//! (float activations, one pass), then mapped onto integrate-and-fire
//! neurons whose firing rates stand for its activations (Diehl et al.
//! 2015; Rueckauer et al. 2017). Every deployment technique is a switch,
//! so that its effect can be measured:
//!
//! - threshold balancing (`Norm`): layer l's activations are divided by a
//!   scale `lambda_l` taken from training data (the maximum, or a
//!   percentile that ignores outliers), so that a rate of one spike per
//!   timestep stands for `lambda_l`: weights become
//!   `w * lambda_(l-1) / lambda_l`, biases `b / lambda_l`, thresholds 1;
//! - biases kept as a constant input current every timestep, or dropped;
//! - readout by the output layer's membrane (the summed logits) or by its
//!   spike counts (which cannot represent negative logits);
//! - reset by subtraction (keeps the residue, so rates stay linear) or to
//!   zero;
//! - early exit: the chip stops once the leading output has led for a
//!   number of timesteps (see `model::EarlyExit`).
//!
//! Input is direct (graded): each timestep injects the pixel as a current,
//! which removes the sampling noise of rate-coded input. Sum pooling in
//! the ANN becomes an IF pooling neuron of threshold about `k * k` on the
//! chip, a rate `sum / k^2`, which the next layer's weights compensate.
//! Weights are quantized to the chip's `weight_bits` on export, as the
//! trainer's other models are.

use super::net::{forward, Trace};
use super::stage::{Stages, State};
use super::{effective, finish_with, input_of, test_seed, Progress, TrainSpec, Trained};
use crate::error::{Error, Result};
use crate::model::{EarlyExit, LayerKind, Readout, Reset};
use serde::{Deserialize, Serialize};

/// How each layer's activation scale is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Norm {
    /// No balancing: thresholds equal the ANN's unit.
    None,
    /// The largest activation seen in the calibration data.
    Max,
    /// This percentile (e.g. 99.9) of the positive activations.
    Percentile(f64),
}

/// The deployment techniques of one converted model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Techniques {
    pub norm: Norm,
    pub keep_bias: bool,
    pub readout: Readout,
    pub reset_subtract: bool,
    pub early_exit: Option<EarlyExit>,
}

impl Default for Techniques {
    fn default() -> Self {
        Techniques {
            norm: Norm::Percentile(99.9),
            keep_bias: true,
            readout: Readout::Membrane,
            reset_subtract: true,
            early_exit: None,
        }
    }
}

/// A trained ANN and its float test accuracy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ann {
    pub state: State,
    pub accuracy: f64,
    pub test_samples: usize,
}

/// The ANN's training spec for an SNN spec: one timestep, graded input.
pub fn ann_spec(snn: &TrainSpec) -> TrainSpec {
    TrainSpec {
        ann: true,
        timesteps: 1,
        readout: Readout::Membrane,
        dv: 0,
        bits: vec![16],
        prune: 0.0,
        ..snn.clone()
    }
}

/// Trains the ReLU ANN of `stages`' network (whose spec must be an ANN
/// spec) and measures its float accuracy on the test split.
pub fn train_ann(stages: &Stages, progress: &dyn Fn(&Progress)) -> Result<Ann> {
    let spec = stages.spec;
    if !spec.ann {
        return Err(Error::Usage(
            "train_ann needs an ANN spec (ann_spec)".into(),
        ));
    }
    let mut masters = stages.fresh();
    stages.train(spec, &mut masters, 0, progress, |_, _| {});
    let state = State::of(&masters);
    let (params, _) = effective(spec, &stages.topo, &masters, false);
    let test = match spec.test_samples {
        Some(n) => stages.data.test.head(n),
        None => stages.data.test.clone(),
    };
    let shape = (stages.data.shape, stages.data.frames);
    let correct = (0..test.len())
        .filter(|&i| {
            let x = input_of(
                spec,
                shape,
                test.sample(i),
                test_seed(spec.seed),
                i as u64,
                false,
            );
            let logits = forward(&params, &x, &mut Trace::default());
            crate::reference::argmax_f32(&logits) == test.labels[i] as usize
        })
        .count();
    Ok(Ann {
        state,
        accuracy: correct as f64 / test.len().max(1) as f64,
        test_samples: test.len(),
    })
}

/// Activation scale of every layer by `norm`, from the first `samples`
/// training images (the output layer's from its positive logits).
pub fn activation_scales(stages: &Stages, ann: &Ann, norm: Norm, samples: usize) -> Vec<f64> {
    let spec = stages.spec;
    let n = spec.arch.len();
    if norm == Norm::None {
        return vec![1.0; n];
    }
    let masters = ann.state.masters(&ann.state.mask);
    let (params, _) = effective(spec, &stages.topo, &masters, false);
    let train = &stages.data.train;
    let shape = (stages.data.shape, stages.data.frames);
    let mut acts: Vec<Vec<f32>> = vec![vec![]; n];
    for i in 0..samples.min(train.len()) {
        let x = input_of(spec, shape, train.sample(i), spec.seed, i as u64, false);
        let mut tr = Trace::default();
        forward(&params, &x, &mut tr);
        for (l, a) in acts.iter_mut().enumerate() {
            let out = if l + 1 == n { &tr.v[l][0] } else { &tr.s[l][0] };
            a.extend(out.iter().filter(|v| **v > 0.0));
        }
    }
    acts.into_iter()
        .map(|mut a| {
            if a.is_empty() {
                return 1.0;
            }
            a.sort_unstable_by(f32::total_cmp);
            let q = match norm {
                Norm::Max => 1.0,
                Norm::Percentile(p) => p / 100.0,
                Norm::None => unreachable!("handled above"),
            };
            a[((a.len() - 1) as f64 * q).round() as usize] as f64
        })
        .collect()
}

/// Converts `ann` to the SNN of `snn` (timesteps, weight bits; its
/// readout is the technique's) with `tech`, exports it and measures the
/// integer model on the test split with the reference executor.
pub fn convert(
    stages: &Stages,
    ann: &Ann,
    scales: &[f64],
    snn: &TrainSpec,
    tech: &Techniques,
) -> Result<Trained> {
    let spec = TrainSpec {
        ann: false,
        dv: 0,
        readout: tech.readout,
        encoding: stages.spec.encoding,
        ..snn.clone()
    };
    super::validate(&spec, stages.data)?;
    let mut masters = ann.state.masters(&ann.state.mask);
    // Scale of the rate arriving at the current layer (input: pixels in [0, 1]).
    let mut arriving = 1.0f64;
    for (l, m) in masters.iter_mut().enumerate() {
        if let LayerKind::SumPool2d { k } = spec.arch[l] {
            arriving *= (k * k) as f64;
            continue;
        }
        let lambda = scales[l];
        let gain = (arriving / lambda) as f32;
        m.w.iter_mut().for_each(|w| *w *= gain);
        m.b.iter_mut().for_each(|b| {
            *b = if tech.keep_bias {
                *b / lambda as f32
            } else {
                0.0
            }
        });
        arriving = lambda;
    }
    let n = spec.arch.len();
    finish_with(&spec, &stages.topo, &masters, stages.data, 0.0, |model| {
        for (l, layer) in model.layers.iter_mut().enumerate() {
            if let LayerKind::SumPool2d { k } = layer.kind {
                // Integrate-and-fire average pooling: fires once per k*k
                // input spikes (`v > threshold` is strict).
                layer.neuron.threshold = crate::model::Param::Scalar((k * k) as i32 - 1);
                layer.neuron.dv = 0;
                layer.neuron.reset = Reset::Subtract;
            } else if !tech.reset_subtract && l + 1 < n {
                layer.neuron.reset = Reset::ToValue;
                layer.neuron.v_reset = 0;
            }
        }
        model.early_exit = tech.early_exit;
        model
            .metadata
            .insert("conversion".into(), format!("{tech:?}"));
        model
            .metadata
            .insert("ann_test_accuracy".into(), format!("{:.4}", ann.accuracy));
    })
}
