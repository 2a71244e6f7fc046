//! The functional reference executor: runs the IR with the same integer
//! arithmetic as the chip and no notion of time or hardware. It computes a
//! projection's effect by gathering over the IR's weights for every target
//! (dense, conv, pooling; sparse lists are walked as stored), while the
//! engine scatters over encoded synapse rows, so agreement between the two
//! proves the mapper, the encodings and the engine, not a shared loop.
//!
//! Per timestep t: the input's projections add into their targets'
//! accumulator banks (bank t + delay), then the populations update level
//! by level (`model::schedule`); a population that fires adds through each
//! outgoing projection into bank t + delay of its target.

use crate::model::neuron::{
    adapt, depress, effective_threshold, potentiate, step, trace_bump, trace_step, LifConsts,
};
use crate::model::stimulus::Stimulus;
use crate::model::{
    argmax, Connectivity, Model, Projection, Readout, Schedule, Shape, Source, SpikeRecord,
};

/// What an inference produces, in the chip's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every spike, sorted by (t, population, neuron).
    pub spikes: Vec<SpikeRecord>,
    /// Output spike counts (spike-count readout) or final output voltages.
    pub readout: Vec<i64>,
    /// argmax of `readout`, lowest index on ties.
    pub prediction: u32,
    /// Timesteps run (fewer than the model's after an early exit).
    pub timesteps_run: u32,
}

/// What persists from sample to sample while a model learns: the weights
/// of its STDP projections and every neuron's adaptive threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learner {
    /// Per projection, dense `[target][source]`; empty without STDP.
    pub weights: Vec<Vec<i32>>,
    /// Per population.
    pub theta: Vec<Vec<i32>>,
}

impl Learner {
    pub fn new(model: &Model) -> Learner {
        Learner {
            weights: model
                .projections
                .iter()
                .map(|j| match (&j.stdp, &j.conn) {
                    (Some(_), Connectivity::Dense { weights }) => weights.clone(),
                    _ => vec![],
                })
                .collect(),
            theta: model.populations.iter().map(|p| vec![0; p.len()]).collect(),
        }
    }

    /// The model with the learned weights (thresholds stay as they are).
    pub fn weights_into(&self, model: &mut Model) {
        for (j, w) in model.projections.iter_mut().zip(&self.weights) {
            if let (Some(_), Connectivity::Dense { weights }) = (&j.stdp, &mut j.conn) {
                weights.clone_from(w);
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

/// Runs one sample with learning on: STDP projections update `learner`'s
/// weights, and adaptive thresholds carry over between samples.
pub fn run_learning(model: &Model, stimulus: &Stimulus, learner: &mut Learner) -> Outcome {
    execute(model, stimulus, learner, true)
}

fn execute(model: &Model, stimulus: &Stimulus, learner: &mut Learner, learn: bool) -> Outcome {
    let schedule = Schedule::of(model).expect("a validated model has a schedule");
    let banks = schedule.banks() as usize;
    let n_pops = model.populations.len();
    let consts: Vec<LifConsts> = model
        .populations
        .iter()
        .map(|p| LifConsts::of(&p.neuron))
        .collect();
    let sizes: Vec<usize> = model.populations.iter().map(|p| p.len()).collect();
    let init = |f: fn(&crate::model::Neuron) -> &crate::model::Param| -> Vec<Vec<i32>> {
        model
            .populations
            .iter()
            .map(|p| (0..p.len()).map(|i| f(&p.neuron).at(i)).collect())
            .collect()
    };
    let mut u = init(|n| &n.u_init);
    let mut v = init(|n| &n.v_init);
    // Input per population and bank: `pending[p][bank * n + i]`.
    let mut pending: Vec<Vec<i64>> = sizes.iter().map(|n| vec![0; banks * n]).collect();
    // Spikes (payloads) of this timestep and of the one before, per source:
    // index 0 is the input, p + 1 population p.
    let mut act: Vec<Vec<i64>> = std::iter::once(model.input.size)
        .chain(sizes.iter().copied())
        .map(|n| vec![0; n])
        .collect();
    let mut prev = act.clone();
    // STDP traces, per plastic projection: pre by source, post by target.
    let mut pre_trace: Vec<Vec<i32>> = model
        .projections
        .iter()
        .map(|j| {
            vec![
                0;
                if j.stdp.is_some() {
                    model.source_len(j.source)
                } else {
                    0
                }
            ]
        })
        .collect();
    let mut post_trace: Vec<Vec<i32>> = model
        .projections
        .iter()
        .map(|j| vec![0; if j.stdp.is_some() { sizes[j.target] } else { 0 }])
        .collect();
    let mut order: Vec<usize> = (0..n_pops).collect();
    order.sort_by_key(|p| (schedule.level[*p], *p));
    let slot = |s: Source| match s {
        Source::Input => 0,
        Source::Population(p) => p + 1,
    };
    let mut spikes = vec![];
    let out = model.output;
    let mut counts = vec![0i64; sizes[out]];
    let mut watch = crate::model::ExitWatch::default();
    let readout_of = |counts: &[i64], v: &[Vec<i32>]| match model.readout {
        Readout::SpikeCount => counts.to_vec(),
        Readout::Membrane => v[out].iter().map(|x| *x as i64).collect(),
    };
    let mut timesteps_run = 0;
    for t in 0..model.timesteps as usize {
        std::mem::swap(&mut act, &mut prev);
        act[0].iter_mut().for_each(|a| *a = 0);
        if t < stimulus.timesteps() {
            for ev in stimulus.at(t) {
                act[0][ev.input as usize] = ev.payload as i64;
            }
        }
        let spread =
            |from: Source, act: &[Vec<i64>], pending: &mut [Vec<i64>], learner: &Learner| {
                for (j, proj) in model.projections.iter().enumerate() {
                    if proj.source != from {
                        continue;
                    }
                    let x = &act[slot(from)];
                    if x.iter().all(|a| *a == 0) {
                        continue;
                    }
                    let n = sizes[proj.target];
                    let bank = (t + schedule.delay[j] as usize) % banks;
                    let weights = if proj.stdp.is_some() {
                        Some(&learner.weights[j][..])
                    } else {
                        None
                    };
                    add_input(
                        model,
                        proj,
                        weights,
                        x,
                        &mut pending[proj.target][bank * n..(bank + 1) * n],
                    );
                }
            };
        spread(Source::Input, &act, &mut pending, learner);
        for &p in &order {
            let pop = &model.populations[p];
            let n = sizes[p];
            let bank = t % banks;
            let mut input: Vec<i64> = pending[p][bank * n..(bank + 1) * n].to_vec();
            pending[p][bank * n..(bank + 1) * n].fill(0);
            if pop.lateral_inhibition != 0 {
                // Each spike of the step before inhibits every other neuron.
                let fired: i64 = prev[p + 1].iter().sum();
                for (x, own) in input.iter_mut().zip(&prev[p + 1]) {
                    *x -= pop.lateral_inhibition as i64 * (fired - own);
                }
            }
            for i in 0..n {
                let theta = &mut learner.theta[p][i];
                let fired = step(
                    &consts[p],
                    &mut u[p][i],
                    &mut v[p][i],
                    input[i],
                    effective_threshold(&consts[p], pop.neuron.threshold.at(i), *theta),
                    pop.neuron.bias.at(i),
                );
                adapt(&consts[p], theta, fired);
                act[p + 1][i] = fired as i64;
                if fired {
                    spikes.push(SpikeRecord {
                        t: t as u32,
                        layer: p as u32,
                        neuron: i as u32,
                    });
                    if p == out {
                        counts[i] += 1;
                    }
                }
            }
            if learn {
                for (j, proj) in model.projections.iter().enumerate() {
                    if let (Some(rule), true) = (&proj.stdp, proj.target == p) {
                        let (pre, post) = (&act[slot(proj.source)], &act[p + 1]);
                        let w = &mut learner.weights[j];
                        let inputs = pre.len();
                        for (i, &a) in pre.iter().enumerate() {
                            if a != 0 {
                                trace_bump(&mut pre_trace[j][i], rule.pre_increment);
                                for (o, y) in post_trace[j].iter().enumerate() {
                                    let k = o * inputs + i;
                                    w[k] = depress(rule, w[k], *y);
                                }
                            }
                        }
                        for (o, &z) in post.iter().enumerate() {
                            if z != 0 {
                                for (i, x) in pre_trace[j].iter().enumerate() {
                                    let k = o * inputs + i;
                                    w[k] = potentiate(rule, w[k], *x);
                                }
                            }
                        }
                        for (y, &z) in post_trace[j].iter_mut().zip(post.iter()) {
                            trace_step(y, rule.post_decay, rule.post_increment, z != 0);
                        }
                        for x in pre_trace[j].iter_mut() {
                            trace_step(x, rule.pre_decay, 0, false);
                        }
                    }
                }
            }
            spread(Source::Population(p), &act, &mut pending, learner);
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

/// Adds a projection's weighted input from source activity `x` into
/// `acc` (one value per target neuron), gathering per target. `learned`
/// replaces a plastic projection's dense weights.
fn add_input(
    model: &Model,
    proj: &Projection,
    learned: Option<&[i32]>,
    x: &[i64],
    acc: &mut [i64],
) {
    let is: Shape = model.source_shape(proj.source);
    let os: Shape = model.populations[proj.target].shape;
    match &proj.conn {
        Connectivity::Dense { weights } => {
            let weights = learned.unwrap_or(weights);
            let inputs = is.len();
            for (o, a) in acc.iter_mut().enumerate() {
                let row = &weights[o * inputs..(o + 1) * inputs];
                *a += row.iter().zip(x).map(|(w, a)| *w as i64 * a).sum::<i64>();
            }
        }
        Connectivity::Sparse(s) => {
            for (i, a) in x.iter().enumerate() {
                if *a != 0 {
                    let (targets, weights) = s.row(i);
                    for (t, w) in targets.iter().zip(weights) {
                        acc[*t as usize] += *w as i64 * a;
                    }
                }
            }
        }
        Connectivity::OneToOne { weights } => {
            for ((a, w), xi) in acc.iter_mut().zip(weights).zip(x) {
                *a += *w as i64 * xi;
            }
        }
        Connectivity::Conv2d { conv, weights } => {
            let (is, os) = (conv.input(), conv.output());
            let (k, stride, padding) = (conv.kernel, conv.stride, conv.padding);
            for oc in 0..os.c {
                for oy in 0..os.h {
                    for ox in 0..os.w {
                        let mut sum = 0i64;
                        for ic in 0..conv.in_ch {
                            for ky in 0..k {
                                let iy = (oy * stride + ky) as isize - padding as isize;
                                if iy < 0 || iy >= is.h as isize {
                                    continue;
                                }
                                for kx in 0..k {
                                    let ix = (ox * stride + kx) as isize - padding as isize;
                                    if ix < 0 || ix >= is.w as isize {
                                        continue;
                                    }
                                    let w = weights[((oc * conv.in_ch + ic) * k + ky) * k + kx];
                                    sum += w as i64 * x[is.index(ic, iy as usize, ix as usize)];
                                }
                            }
                        }
                        acc[os.index(oc, oy, ox)] += sum;
                    }
                }
            }
        }
        Connectivity::SumPool2d { k } => {
            for c in 0..os.c {
                for oy in 0..os.h {
                    for ox in 0..os.w {
                        let mut sum = 0;
                        for dy in 0..*k {
                            for dx in 0..*k {
                                sum += x[is.index(c, oy * k + dy, ox * k + dx)];
                            }
                        }
                        acc[os.index(c, oy, ox)] += sum;
                    }
                }
            }
        }
    }
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
    use crate::model::Semantics;

    fn ev(input: u32) -> InputEvent {
        InputEvent { input, payload: 1 }
    }

    fn tiny() -> Model {
        crate::model::file::parse("tiny", include_str!("../../../models/tiny.ron")).unwrap()
    }

    /// The hand-written model, worked through by hand for one stimulus.
    #[test]
    fn tiny_model_by_hand() {
        let m = tiny();
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
        let mut m = tiny();
        m.semantics = Semantics::Pipelined;
        // Make output 0 fire on any hidden-0 spike.
        m.populations[1].neuron.threshold = crate::model::Param::Scalar(0);
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

    /// A recurrent graph by hand: an integrate-and-fire neuron that excites
    /// itself with delay 2 keeps firing every other timestep after one input
    /// spike, and a skip projection from the input reaches the output with
    /// delay 1.
    #[test]
    fn recurrence_skip_and_delay_by_hand() {
        let text = r#"(
            name: "loop", timesteps: 7, semantics: layer_serial,
            input: (size: 1, encoding: spikes), readout: spike_count,
            populations: [
                (name: "a", size: 1, neuron: (threshold: 0, dv: 4096)),
                (name: "o", size: 1, neuron: (threshold: 0, dv: 4096)),
            ],
            projections: [
                (source: "input", target: "a", weight_bits: 4, kind: dense(weights: [1])),
                (source: "a", target: "a", weight_bits: 4, delay: 2, kind: one_to_one(weights: [1])),
                (source: "input", target: "o", weight_bits: 4, delay: 1, kind: sparse(synapses: [(0, 0, 1)])),
            ],
        )"#;
        let m = crate::model::file::parse("loop", text).unwrap();
        let s = Stimulus::from_timesteps(vec![vec![ev(0)]], None);
        let out = run(&m, &s);
        let fired = |p: u32| -> Vec<u32> {
            out.spikes
                .iter()
                .filter(|s| s.layer == p)
                .map(|s| s.t)
                .collect()
        };
        assert_eq!(fired(0), vec![0, 2, 4, 6]);
        assert_eq!(fired(1), vec![1]);
        assert_eq!(out.readout, vec![1]);
    }
}
