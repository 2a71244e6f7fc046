//! Unsupervised learning on the chip itself (Diehl & Cook 2015, in the
//! chip's integer arithmetic): rate-coded input, one excitatory Dense layer
//! with adaptive thresholds, lateral inhibition and pair-based STDP. The
//! chip learns sample after sample (`engine::run_sample_learning`); then
//! learning is switched off, thresholds are frozen (`threshold + theta`),
//! each neuron is labelled with the class it answers most, and a test
//! sample's class is the one whose neurons fire most on average.
//!
//! Time constants are given in timesteps and turned into the chip's 12-bit
//! decays, so that `scaled` (TopSpark) can shorten them with T.

use crate::data::{Dataset, Split};
use crate::engine::{
    run_sample, run_sample_learning, Chip, ChipLearner, Counters, EngineOptions, Quiet,
};
use crate::error::{check_range, Result};
use crate::model::stimulus::from_image;
use crate::model::{
    Adaptation, Chain, Input, InputEncoding, Layer, LayerKind, Model, Neuron, Param, Readout,
    Reset, Semantics, Stdp,
};
use crate::train::Progress;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The network and its learning rule, at one timestep count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StdpNet {
    pub neurons: usize,
    pub timesteps: u32,
    /// Firing threshold, and the weight each spike of a rival subtracts.
    pub threshold: i32,
    pub inhibition: i32,
    /// Threshold increase per spike (the adaptive threshold, which never
    /// decays within training: homeostasis over samples).
    pub adaptation: i32,
    /// Membrane and trace time constants, in timesteps.
    pub tau_v: f64,
    pub tau_pre: f64,
    pub tau_post: f64,
    pub a_plus: i32,
    pub a_minus: i32,
    pub pre_increment: i32,
    pub post_increment: i32,
    pub pre_target: i32,
    /// Weights are 8-bit, 0..=w_max, drawn uniformly in 0..=init_max.
    pub w_max: i32,
    pub init_max: i32,
    /// Pixels are divided by this before rate coding (Diehl & Cook use 4:
    /// at most one spike every 4 timesteps per input).
    pub input_divisor: u8,
    /// Diehl & Cook's weight normalisation: after every training sample
    /// each neuron's incoming weights are scaled to sum to this (0: off).
    /// The default 10,000 is theirs (78 over 784 inputs of weight at most
    /// 1) at `w_max` 127.
    #[serde(default)]
    pub weight_sum: i32,
    /// Normalise after every this many training samples (and after the
    /// last): 1 is Diehl & Cook's. Its cost does not shrink with T, so it
    /// bounds the training-energy saving of fewer timesteps.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub normalize_every: u32,
}

fn one() -> u32 {
    1
}

fn is_one(x: &u32) -> bool {
    *x == 1
}

impl StdpNet {
    /// The defaults, for `timesteps` (the full T).
    pub fn new(neurons: usize, timesteps: u32) -> StdpNet {
        StdpNet {
            neurons,
            timesteps,
            threshold: 1500,
            inhibition: 6000,
            adaptation: 5,
            tau_v: 8.0,
            tau_pre: 4.0,
            tau_post: 4.0,
            a_plus: 8,
            a_minus: 2,
            pre_increment: 128,
            post_increment: 128,
            pre_target: 40,
            w_max: 127,
            init_max: 40,
            input_divisor: 4,
            weight_sum: 10_000,
            normalize_every: 8,
        }
    }

    /// This net with one parameter scaled by `factor` (integers rounded,
    /// at least 1).
    pub fn with(&self, knob: Knob, factor: f64) -> StdpNet {
        let s = |x: i32| ((x as f64 * factor).round() as i32).max(1);
        let mut n = self.clone();
        match knob {
            Knob::Threshold => n.threshold = s(n.threshold),
            Knob::Leak => n.tau_v *= factor,
            Knob::Adaptation => n.adaptation = s(n.adaptation),
            Knob::Inhibition => n.inhibition = s(n.inhibition),
            Knob::LearningRate => {
                n.a_plus = s(n.a_plus);
                n.a_minus = s(n.a_minus);
            }
        }
        n
    }

    /// The same parameters at another T, unadjusted.
    pub fn at(&self, timesteps: u32) -> StdpNet {
        StdpNet {
            timesteps,
            ..self.clone()
        }
    }
}

/// A parameter TopSpark's analysis may adjust for a shorter T.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Knob {
    /// The firing threshold.
    Threshold,
    /// The membrane time constant (`tau_v`; larger leaks less).
    Leak,
    /// The adaptive threshold's increment per spike.
    Adaptation,
    /// The lateral inhibition weight.
    Inhibition,
    /// STDP's potentiation and depression rates together.
    LearningRate,
}

impl Knob {
    pub const ALL: [Knob; 5] = [
        Knob::Threshold,
        Knob::Leak,
        Knob::Adaptation,
        Knob::Inhibition,
        Knob::LearningRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Knob::Threshold => "threshold",
            Knob::Leak => "membrane time constant",
            Knob::Adaptation => "threshold adaptation",
            Knob::Inhibition => "inhibition",
            Knob::LearningRate => "learning rate",
        }
    }

    /// Its factor's column in `results.csv`.
    pub fn column(self) -> &'static str {
        match self {
            Knob::Threshold => "threshold_factor",
            Knob::Leak => "tau_v_factor",
            Knob::Adaptation => "adaptation_factor",
            Knob::Inhibition => "inhibition_factor",
            Knob::LearningRate => "learning_rate_factor",
        }
    }
}

/// A time constant in timesteps as a 12-bit decay: `4096 (1 - e^(-1/tau))`.
pub fn decay_of(tau: f64) -> u16 {
    (4096.0 * (1.0 - (-1.0 / tau).exp()))
        .round()
        .clamp(0.0, 4096.0) as u16
}

/// The learning model: random initial weights from `seed`.
pub fn learning_model(net: &StdpNet, inputs: usize, seed: u64) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let weights = (0..inputs * net.neurons)
        .map(|_| rng.random_range(0..=net.init_max))
        .collect();
    Chain {
        name: format!("stdp-{}-T{}", net.neurons, net.timesteps),
        metadata: [(
            "input_divisor".to_string(),
            format!("pixels / {} before rate coding", net.input_divisor),
        )]
        .into(),
        timesteps: net.timesteps,
        semantics: Semantics::LayerSerial,
        input: Input {
            size: inputs,
            encoding: InputEncoding::Spikes,
            rate: 0.2,
            shape: None,
        },
        readout: Readout::SpikeCount,
        layers: vec![Layer {
            name: "excitatory".into(),
            kind: LayerKind::Dense {
                inputs,
                outputs: net.neurons,
            },
            weight_bits: 8,
            weights,
            neuron: Neuron {
                threshold: Param::Scalar(net.threshold),
                bias: Param::Scalar(0),
                du: 4096,
                dv: decay_of(net.tau_v),
                v_reset: 0,
                reset: Reset::ToValue,
                input_shift: 0,
                input_right_shift: 0,
                u_init: crate::model::Param::Scalar(0),
                v_init: crate::model::Param::Scalar(0),
                loihi_bounds: false,
                // Inhibition from many rivals at once must not wrap `u`.
                state_bits: 24,
                decay_bits: 12,
                adaptation: Some(Adaptation {
                    increment: net.adaptation,
                    decay: 0,
                }),
            },
            stdp: Some(Stdp {
                a_plus: net.a_plus,
                a_minus: net.a_minus,
                pre_target: net.pre_target,
                pre_increment: net.pre_increment,
                post_increment: net.post_increment,
                pre_decay: decay_of(net.tau_pre),
                post_decay: decay_of(net.tau_post),
                w_min: 0,
                w_max: net.w_max,
            }),
            lateral_inhibition: net.inhibition,
        }],
        early_exit: None,
    }
    .into_model()
}

/// The inference model after learning: the learned weights, thresholds
/// frozen at `threshold + theta`, no learning rule.
pub fn frozen(model: &Model, weights: Vec<i32>, theta: &[i32]) -> Model {
    let mut m = model.clone();
    let neuron = &mut m.populations[0].neuron;
    let base = neuron.threshold.at(0) as i64;
    let hi = (1i64 << (neuron.state_bits - 1)) - 1;
    neuron.threshold = Param::PerNeuron(
        theta
            .iter()
            .map(|t| (base + *t as i64).min(hi) as i32)
            .collect(),
    );
    neuron.adaptation = None;
    let proj = &mut m.projections[0];
    proj.stdp = None;
    proj.conn = crate::model::Connectivity::Dense { weights };
    m
}

/// The rate-coded stimulus of an image, pixels divided by `divisor`.
pub fn stimulus(
    model: &Model,
    image: &[u8],
    divisor: u8,
    seed: u64,
    sample: u64,
    label: Option<u32>,
) -> crate::model::stimulus::Stimulus {
    let dim: Vec<u8> = image.iter().map(|p| p / divisor.max(1)).collect();
    from_image(model, &dim, seed, sample, label)
}

/// What learning on the chip cost and produced.
pub struct Learned {
    pub model: Model,
    /// Counters summed over the training samples.
    pub counters: Counters,
    pub samples: u64,
    /// Weight normalisations run.
    pub normalisations: u64,
}

/// Trains on the chip: `samples` training images, one after the other
/// (from the split's start, coming round again past its end), learning
/// on, the weights normalised after every `net.normalize_every` and after
/// the last when `net.weight_sum` > 0. The stimulus seed is `seed`.
pub fn learn_on_chip(
    chip: &Chip,
    net: &StdpNet,
    train: &Split,
    samples: usize,
    seed: u64,
    progress: &dyn Fn(&Progress),
) -> Result<Learned> {
    let model = chip.model;
    let mut learner = ChipLearner::new(chip);
    let mut counters = Counters::default();
    let mut normalisations = 0;
    // Past the end of the split the images come round again (another
    // pass, new spike trains).
    let n = if train.is_empty() { 0 } else { samples };
    for i in 0..n {
        let image = i % train.len();
        let stim = stimulus(
            model,
            train.sample(image),
            net.input_divisor,
            seed,
            i as u64,
            Some(train.labels[image] as u32),
        );
        let r = run_sample_learning(
            chip,
            &stim,
            EngineOptions::default(),
            &mut Quiet,
            &mut learner,
        )?;
        counters.merge(&r.counters);
        let due = (i + 1) % net.normalize_every.max(1) as usize == 0 || i + 1 == n;
        if net.weight_sum > 0 && due {
            learner.normalize(chip, net.weight_sum, &mut counters);
            normalisations += 1;
        }
        if i % 16 == 15 || i + 1 == n {
            progress(&Progress {
                epoch: 0,
                samples_done: i as u64 + 1,
                samples_total: n as u64,
                loss: 0.0,
                train_accuracy: 0.0,
            });
        }
    }
    let weights = learner.layer_weights(chip).swap_remove(0);
    let theta = learner.layer_theta(chip).swap_remove(0);
    Ok(Learned {
        model: frozen(model, weights, &theta),
        counters,
        samples: n as u64,
        normalisations,
    })
}

/// Spike counts of every output neuron for `samples` images of `split`
/// (learning off), on `threads` threads, and the counters summed.
pub fn responses(
    chip: &Chip,
    net: &StdpNet,
    split: &Split,
    samples: usize,
    seed: u64,
    threads: usize,
) -> Result<(Vec<Vec<i64>>, Counters)> {
    let n = samples.min(split.len());
    let parts = crate::parallel::map(n, threads, |i| {
        let stim = stimulus(
            chip.model,
            split.sample(i),
            net.input_divisor,
            seed,
            i as u64,
            None,
        );
        run_sample(chip, &stim, EngineOptions::default(), &mut Quiet)
            .map(|r| (r.readout, r.counters))
    });
    let mut all = vec![];
    let mut counters = Counters::default();
    for p in parts {
        let (r, c) = p?;
        all.push(r);
        counters.merge(&c);
    }
    Ok((all, counters))
}

/// Each neuron's class: the one with the highest mean response (ties and
/// silent neurons: the lowest class).
pub fn assign_labels(responses: &[Vec<i64>], labels: &[u8], classes: usize) -> Vec<usize> {
    let neurons = responses.first().map_or(0, |r| r.len());
    let mut sum = vec![vec![0f64; classes]; neurons];
    let mut count = vec![0f64; classes];
    for (r, &l) in responses.iter().zip(labels) {
        count[l as usize] += 1.0;
        for (j, &x) in r.iter().enumerate() {
            sum[j][l as usize] += x as f64;
        }
    }
    sum.iter()
        .map(|s| {
            let mut best = 0;
            for c in 0..classes {
                let mean = |c: usize| s[c] / count[c].max(1.0);
                if mean(c) > mean(best) {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// The class whose neurons fire most on average (no spikes: class 0, so a
/// silent network is not rewarded).
pub fn classify(response: &[i64], assignment: &[usize], classes: usize) -> usize {
    let mut sum = vec![0f64; classes];
    let mut n = vec![0f64; classes];
    for (x, &c) in response.iter().zip(assignment) {
        sum[c] += *x as f64;
        n[c] += 1.0;
    }
    let mut best = 0;
    for c in 0..classes {
        let mean = |c: usize| if n[c] > 0.0 { sum[c] / n[c] } else { 0.0 };
        if mean(c) > mean(best) {
            best = c;
        }
    }
    best
}

/// How a learned network classifies.
pub struct Evaluation {
    pub accuracy: f64,
    /// Neurons labelled on the first half of the label images, scored on
    /// the second half: the held-out score parameters are chosen by.
    pub validation_accuracy: f64,
    /// Counters of the test inferences, summed.
    pub counters: Counters,
    pub samples: u64,
}

/// Labels the neurons on `label_samples` training images (the ones after
/// the `skip` used for learning), then classifies `test_samples` test
/// images; all inferences on the chip, learning off.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    chip: &Chip,
    net: &StdpNet,
    data: &Dataset,
    skip: usize,
    label_samples: usize,
    test_samples: usize,
    seed: u64,
    threads: usize,
) -> Result<Evaluation> {
    // The images after the `skip` learned from, coming round to the split's
    // start when learning used it all (then they were seen in learning).
    let len = data.train.len();
    let picked: Vec<usize> = (0..label_samples.min(len))
        .map(|j| (skip + j) % len)
        .collect();
    let label_split = Split {
        samples: picked
            .iter()
            .flat_map(|&i| data.train.sample(i).iter().copied())
            .collect(),
        labels: picked.iter().map(|&i| data.train.labels[i]).collect(),
        sample_len: data.train.sample_len,
    };
    let (resp, _) = responses(
        chip,
        net,
        &label_split,
        picked.len(),
        seed ^ 0x1abe1,
        threads,
    )?;
    let assignment = assign_labels(&resp, &label_split.labels, data.classes);
    let half = resp.len() / 2;
    let first = assign_labels(&resp[..half], &label_split.labels[..half], data.classes);
    let held_out = resp[half..]
        .iter()
        .zip(&label_split.labels[half..])
        .filter(|(r, &l)| classify(r, &first, data.classes) == l as usize)
        .count();
    let (test, counters) = responses(chip, net, &data.test, test_samples, seed ^ 0x7e57, threads)?;
    let correct = test
        .iter()
        .zip(&data.test.labels)
        .filter(|(r, &l)| classify(r, &assignment, data.classes) == l as usize)
        .count();
    Ok(Evaluation {
        accuracy: correct as f64 / test.len().max(1) as f64,
        validation_accuracy: held_out as f64 / (resp.len() - half).max(1) as f64,
        counters,
        samples: test.len() as u64,
    })
}

/// Checks a net's parameters (command-line values).
pub fn validate(net: &StdpNet) -> Result<()> {
    let f = "command line";
    check_range(f, "--neurons", net.neurons, 1, 4096)?;
    check_range(f, "--timesteps", net.timesteps, 1, 1024)?;
    check_range(f, "--threshold", net.threshold, 1, (1 << 23) - 1)?;
    // 0 switches normalisation off; a negative sum would be ignored.
    check_range(f, "--weight-sum", net.weight_sum, 0, 1_000_000)?;
    check_range(f, "--normalize-every", net.normalize_every, 1, 1_000_000)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_runs_every_k_samples_and_after_the_last() {
        let data = crate::data::load("mnist", None).unwrap();
        let hw = crate::config::HwConfig::preset("default")
            .unwrap()
            .with_overrides("test", &["membrane_sram.state_bits=48".to_string()])
            .unwrap();
        let mut net = StdpNet::new(8, 8);
        net.weight_sum = 3000;
        let train = data.train.head(7);
        let learn = |net: &StdpNet| {
            let model = learning_model(net, data.train.sample_len, 1);
            let map = crate::mapping::map(&model, &hw, "test").unwrap();
            let chip = Chip::build(&hw, &model, &map);
            learn_on_chip(&chip, net, &train, 7, 1, &|_| {}).unwrap()
        };
        let sums = |l: &Learned| {
            let crate::model::Connectivity::Dense { weights: w } = &l.model.projections[0].conn
            else {
                panic!("learned weights are dense")
            };
            // weights[target][source]: a neuron's incoming weights in a row.
            w.chunks(data.train.sample_len)
                .map(|row| row.iter().map(|&x| x as i64).sum::<i64>())
                .collect::<Vec<_>>()
        };
        for (every, runs) in [(1, 7), (3, 3), (7, 1), (100, 1)] {
            net.normalize_every = every;
            let l = learn(&net);
            assert_eq!(l.normalisations, runs, "every {every}");
            // Normalised after the last sample: each neuron's weights sum
            // to the target, but for rounding (half a unit per input).
            for s in sums(&l) {
                assert!((s - 3000).abs() <= 392, "every {every}: {s}");
            }
        }
        net.weight_sum = 0;
        assert_eq!(learn(&net).normalisations, 0);
    }

    #[test]
    fn labels_follow_the_strongest_mean_response() {
        // Neuron 0 answers class 1, neuron 1 class 0; class 0 is more
        // frequent, so means (not sums) decide.
        let resp = vec![vec![1, 3], vec![1, 3], vec![4, 0]];
        let labels = [0u8, 0, 1];
        let a = assign_labels(&resp, &labels, 2);
        assert_eq!(a, vec![1, 0]);
        assert_eq!(classify(&[5, 0], &a, 2), 1);
        assert_eq!(classify(&[0, 2], &a, 2), 0);
    }

    #[test]
    fn each_knob_scales_its_own_parameters_only() {
        let full = StdpNet::new(10, 32);
        let t = full.with(Knob::Threshold, 0.5);
        assert_eq!(
            t,
            StdpNet {
                threshold: full.threshold / 2,
                ..full.clone()
            }
        );
        let l = full.with(Knob::Leak, 2.0);
        assert_eq!(
            l,
            StdpNet {
                tau_v: full.tau_v * 2.0,
                ..full.clone()
            }
        );
        let a = full.with(Knob::Adaptation, 2.0);
        assert_eq!(
            a,
            StdpNet {
                adaptation: full.adaptation * 2,
                ..full.clone()
            }
        );
        let i = full.with(Knob::Inhibition, 0.5);
        assert_eq!(
            i,
            StdpNet {
                inhibition: full.inhibition / 2,
                ..full.clone()
            }
        );
        let r = full.with(Knob::LearningRate, 0.5);
        assert_eq!(
            r,
            StdpNet {
                a_plus: full.a_plus / 2,
                a_minus: full.a_minus / 2,
                ..full.clone()
            }
        );
        // Never below 1: a zero threshold or rate is another network.
        assert_eq!(full.with(Knob::Adaptation, 0.01).adaptation, 1);
        assert_eq!(full.at(8).timesteps, 8);
        assert_eq!(decay_of(1e12), 0);
        assert_eq!(decay_of(1.0), 2589);
    }

    #[test]
    fn frozen_thresholds_add_theta_and_drop_learning() {
        let net = StdpNet::new(3, 4);
        let m = learning_model(&net, 5, 1);
        let f = frozen(&m, vec![1; 15], &[0, 10, 34000]);
        assert_eq!(
            f.populations[0].neuron.threshold,
            Param::PerNeuron(vec![1500, 1510, 35500])
        );
        assert!(f.projections[0].stdp.is_none() && f.populations[0].neuron.adaptation.is_none());
        f.validate("f").unwrap();
    }
}
