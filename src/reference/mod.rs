//! The functional reference executor: runs the IR with the same integer
//! arithmetic as the chip and no notion of time or hardware. It computes
//! each layer by gathering over the IR's weights (the engine scatters over
//! encoded synapse rows), so agreement between the two proves the mapper,
//! the encodings and the engine, not a shared loop.

use crate::model::neuron::{
    adapt, depress, effective_threshold, potentiate, step, trace_bump, trace_step, LifConsts,
};
use crate::model::stimulus::Stimulus;
use crate::model::{LayerKind, LayerShape, Model, Readout, Semantics};

/// One spike: timestep, layer and neuron index within the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpikeRecord {
    pub t: u32,
    pub layer: u32,
    pub neuron: u32,
}

/// What an inference produces, in the chip's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every spike, sorted by (t, layer, neuron).
    pub spikes: Vec<SpikeRecord>,
    /// Output spike counts (spike-count readout) or final output voltages.
    pub readout: Vec<i64>,
    /// argmax of `readout`, lowest index on ties.
    pub prediction: u32,
    /// Timesteps run (fewer than the model's after an early exit).
    pub timesteps_run: u32,
}

pub fn argmax(values: &[i64]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// What persists from sample to sample while a model learns: the weights
/// of its STDP layers and every neuron's adaptive threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learner {
    /// Per layer, in the IR's order; empty for layers without STDP.
    pub weights: Vec<Vec<i32>>,
    pub theta: Vec<Vec<i32>>,
}

impl Learner {
    pub fn new(model: &Model) -> Learner {
        Learner {
            weights: model
                .layers
                .iter()
                .map(|l| {
                    if l.stdp.is_some() {
                        l.weights.clone()
                    } else {
                        vec![]
                    }
                })
                .collect(),
            theta: model
                .shapes()
                .iter()
                .map(|s| vec![0; s.output.len()])
                .collect(),
        }
    }

    /// The model with the learned weights (thresholds stay as they are).
    pub fn weights_into(&self, model: &mut Model) {
        for (layer, w) in model.layers.iter_mut().zip(&self.weights) {
            if layer.stdp.is_some() {
                layer.weights.clone_from(w);
            }
        }
    }
}

/// Runs one sample through the model (no learning; adaptive thresholds
/// start from zero).
pub fn run(model: &Model, stimulus: &Stimulus) -> Outcome {
    let mut fresh = Learner::new(model);
    execute(model, stimulus, &mut fresh, false)
}

/// Runs one sample with learning on: STDP layers update `learner`'s
/// weights, and adaptive thresholds carry over between samples.
pub fn run_learning(model: &Model, stimulus: &Stimulus, learner: &mut Learner) -> Outcome {
    execute(model, stimulus, learner, true)
}

fn execute(model: &Model, stimulus: &Stimulus, learner: &mut Learner, learn: bool) -> Outcome {
    let shapes = model.shapes();
    let n_layers = model.layers.len();
    let consts: Vec<LifConsts> = model
        .layers
        .iter()
        .map(|l| LifConsts::of(&l.neuron))
        .collect();
    let mut u: Vec<Vec<i32>> = shapes.iter().map(|s| vec![0; s.output.len()]).collect();
    let mut v = u.clone();
    let mut post_trace = u.clone();
    let mut pre_trace: Vec<Vec<i32>> = shapes.iter().map(|s| vec![0; s.input.len()]).collect();
    // Activity of each layer's input in the current timestep (payloads;
    // 0 = silent); index 0 is the stimulus, l + 1 the output of layer l.
    let mut act: Vec<Vec<i64>> = std::iter::once(model.input.size)
        .chain(shapes.iter().map(|s| s.output.len()))
        .map(|n| vec![0; n])
        .collect();
    let mut spikes = vec![];
    let out_len = shapes[n_layers - 1].output.len();
    let mut counts = vec![0i64; out_len];
    let mut watch = crate::model::ExitWatch::default();
    let readout_of = |counts: &[i64], v: &[Vec<i32>]| match model.readout {
        Readout::SpikeCount => counts.to_vec(),
        Readout::Membrane => v[n_layers - 1].iter().map(|x| *x as i64).collect(),
    };
    let mut timesteps_run = 0;
    for t in 0..model.timesteps as usize {
        act[0].iter_mut().for_each(|a| *a = 0);
        if t < stimulus.timesteps() {
            for ev in stimulus.at(t) {
                act[0][ev.input as usize] = ev.payload as i64;
            }
        }
        // Pipelined: layer l sees what layer l - 1 emitted in the previous
        // timestep, so walk the layers from the last one back.
        let order: Vec<usize> = match model.semantics {
            Semantics::LayerSerial => (0..n_layers).collect(),
            Semantics::Pipelined => (0..n_layers).rev().collect(),
        };
        for l in order {
            let layer = &model.layers[l];
            let weights = if layer.stdp.is_some() {
                &learner.weights[l]
            } else {
                &layer.weights
            };
            let mut input = weighted_input(layer, weights, &shapes[l], &act[l]);
            if layer.lateral_inhibition != 0 {
                // act[l + 1] still holds the layer's spikes of the step before.
                let fired: i64 = act[l + 1].iter().sum();
                for (x, own) in input.iter_mut().zip(&act[l + 1]) {
                    *x -= layer.lateral_inhibition as i64 * (fired - own);
                }
            }
            let (before, after) = act.split_at_mut(l + 1);
            let (pre, out) = (&before[l], &mut after[0]);
            for n in 0..out.len() {
                let theta = &mut learner.theta[l][n];
                let fired = step(
                    &consts[l],
                    &mut u[l][n],
                    &mut v[l][n],
                    input[n],
                    effective_threshold(&consts[l], layer.neuron.threshold.at(n), *theta),
                    layer.neuron.bias.at(n),
                );
                adapt(&consts[l], theta, fired);
                out[n] = fired as i64;
                if fired {
                    spikes.push(SpikeRecord {
                        t: t as u32,
                        layer: l as u32,
                        neuron: n as u32,
                    });
                    if l + 1 == n_layers {
                        counts[n] += 1;
                    }
                }
            }
            if let (true, Some(rule)) = (learn, &layer.stdp) {
                let w = &mut learner.weights[l];
                let inputs = pre.len();
                for (i, &a) in pre.iter().enumerate() {
                    if a != 0 {
                        trace_bump(&mut pre_trace[l][i], rule.pre_increment);
                        for (j, y) in post_trace[l].iter().enumerate() {
                            let k = j * inputs + i;
                            w[k] = depress(rule, w[k], *y);
                        }
                    }
                }
                for (j, &z) in out.iter().enumerate() {
                    if z != 0 {
                        for (i, x) in pre_trace[l].iter().enumerate() {
                            let k = j * inputs + i;
                            w[k] = potentiate(rule, w[k], *x);
                        }
                    }
                }
                for (y, &z) in post_trace[l].iter_mut().zip(out.iter()) {
                    trace_step(y, rule.post_decay, rule.post_increment, z != 0);
                }
                for x in pre_trace[l].iter_mut() {
                    trace_step(x, rule.pre_decay, 0, false);
                }
            }
        }
        timesteps_run += 1;
        if let Some(rule) = &model.early_exit {
            if watch.settled(rule, timesteps_run, &readout_of(&counts, &v)) {
                break;
            }
        }
    }
    spikes.sort_unstable();
    let readout = readout_of(&counts, &v);
    Outcome {
        prediction: argmax(&readout),
        spikes,
        readout,
        timesteps_run,
    }
}

/// Weighted input of every neuron of a layer, by gathering.
fn weighted_input(
    layer: &crate::model::Layer,
    weights: &[i32],
    shape: &LayerShape,
    x: &[i64],
) -> Vec<i64> {
    let (is, os) = (shape.input, shape.output);
    let mut out = vec![0i64; os.len()];
    match layer.kind {
        LayerKind::Dense { inputs, .. } => {
            for (o, acc) in out.iter_mut().enumerate() {
                let row = &weights[o * inputs..(o + 1) * inputs];
                *acc = row.iter().zip(x).map(|(w, a)| *w as i64 * a).sum();
            }
        }
        LayerKind::Conv2d {
            in_ch,
            kernel,
            stride,
            padding,
            ..
        } => {
            for oc in 0..os.c {
                for oy in 0..os.h {
                    for ox in 0..os.w {
                        let mut acc = 0i64;
                        for ic in 0..in_ch {
                            for ky in 0..kernel {
                                let iy = (oy * stride + ky) as isize - padding as isize;
                                if iy < 0 || iy >= is.h as isize {
                                    continue;
                                }
                                for kx in 0..kernel {
                                    let ix = (ox * stride + kx) as isize - padding as isize;
                                    if ix < 0 || ix >= is.w as isize {
                                        continue;
                                    }
                                    let w =
                                        weights[((oc * in_ch + ic) * kernel + ky) * kernel + kx];
                                    acc += w as i64 * x[is.index(ic, iy as usize, ix as usize)];
                                }
                            }
                        }
                        out[os.index(oc, oy, ox)] = acc;
                    }
                }
            }
        }
        LayerKind::SumPool2d { k } => {
            for c in 0..os.c {
                for oy in 0..os.h {
                    for ox in 0..os.w {
                        let mut acc = 0;
                        for dy in 0..k {
                            for dx in 0..k {
                                acc += x[is.index(c, oy * k + dy, ox * k + dx)];
                            }
                        }
                        out[os.index(c, oy, ox)] = acc;
                    }
                }
            }
        }
    }
    out
}

/// argmax of float values, lowest index on ties (the trainer's logits).
pub fn argmax_f32(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stimulus::{InputEvent, Stimulus};

    fn ev(input: u32) -> InputEvent {
        InputEvent { input, payload: 1 }
    }

    /// The hand-written model, worked through by hand for one stimulus.
    #[test]
    fn tiny_model_by_hand() {
        let m: Model =
            crate::error::parse_ron("tiny", include_str!("../../models/tiny.ron")).unwrap();
        // t0: inputs 0 and 3 spike. Hidden inputs: [1+1, 0, 1-1] = [2, 0, 0].
        // Hidden 0: v = 2 > 1 -> spike, v = 1 (subtract). Output: [3, -1].
        // Out 0: v = 3 (not > 4). Out 1: v = -1.
        // t1: no input. Hidden 0: v = decay(1, 512) = 1 * 3584 / 4096 -> 0.
        //     Outputs get no input and keep 3 and -1 (dv = 0).
        // t2: input 1. Hidden inputs [0, 1, 1]: h1 and h2 reach v = 1, not > 1.
        // t3: nothing. Only one spike; the output never fired.
        let s =
            Stimulus::from_timesteps(vec![vec![ev(0), ev(3)], vec![], vec![ev(1)], vec![]], None);
        let out = run(&m, &s);
        assert_eq!(
            out.spikes,
            vec![SpikeRecord {
                t: 0,
                layer: 0,
                neuron: 0
            }]
        );
        assert_eq!(out.readout, vec![0, 0]);
        assert_eq!(out.prediction, 0);
    }

    #[test]
    fn pipelined_delays_each_layer_by_one_timestep() {
        let mut m: Model =
            crate::error::parse_ron("tiny", include_str!("../../models/tiny.ron")).unwrap();
        m.semantics = Semantics::Pipelined;
        // Make output 0 fire on any hidden-0 spike.
        m.layers[1].neuron.threshold = crate::model::Param::Scalar(0);
        let s = Stimulus::from_timesteps(vec![vec![ev(0), ev(3)], vec![], vec![], vec![]], None);
        let out = run(&m, &s);
        assert!(out.spikes.contains(&SpikeRecord {
            t: 0,
            layer: 0,
            neuron: 0
        }));
        assert!(out.spikes.contains(&SpikeRecord {
            t: 1,
            layer: 1,
            neuron: 0
        }));
        assert!(!out.spikes.iter().any(|s| s.t == 0 && s.layer == 1));
    }
}
