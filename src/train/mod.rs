//! The built-in trainer: surrogate-gradient BPTT for dense SNNs of the
//! chip's LIF neurons, with quantization-aware training and magnitude
//! pruning, exported to the model IR with integer weights, thresholds and
//! biases folded from the float scales. The accuracy it reports is the
//! integer model's, measured with the reference executor on the same
//! stimuli `eval` and `run --dataset` use.

pub mod net;
pub mod quant;

use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::model::stimulus::{encode_image, from_image, graded_payload};
use crate::model::{
    InputEncoding, Layer, LayerKind, Model, Neuron, Param, Readout, Reset, Semantics,
};
use net::{backward, cross_entropy, forward, LayerGrads, LayerParams, Trace};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Everything that defines a training run (and its exported model).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// Layer sizes, input first: `[784, 256, 10]`.
    pub arch: Vec<usize>,
    pub timesteps: u32,
    pub encoding: InputEncoding,
    pub readout: Readout,
    /// Voltage decay of every layer, 12-bit (0 = IF).
    pub dv: u16,
    /// Weight bits of every layer, 1 (binary) to 16.
    pub bits: u8,
    /// Target fraction of zero weights, reached in `prune_rounds` equal
    /// steps at the ends of the first epochs, then fine-tuned.
    pub prune: f64,
    pub prune_rounds: u32,
    pub prune_global: bool,
    pub epochs: u32,
    pub batch: usize,
    pub lr: f32,
    pub seed: u64,
    pub threads: usize,
    /// Use only the first N training / test samples (None: all).
    pub train_samples: Option<usize>,
    pub test_samples: Option<usize>,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            arch: vec![784, 256, 10],
            timesteps: 8,
            encoding: InputEncoding::Spikes,
            readout: Readout::Membrane,
            dv: 0,
            bits: 8,
            prune: 0.0,
            prune_rounds: 1,
            prune_global: false,
            epochs: 4,
            batch: 64,
            lr: 2e-3,
            seed: 1,
            threads: 1,
            train_samples: None,
            test_samples: None,
        }
    }
}

/// Parses `784-256-10`.
pub fn parse_arch(s: &str) -> Result<Vec<usize>> {
    let bad = || {
        Error::invalid(
            "command line",
            "--arch",
            s,
            "layer sizes joined by '-', input first, at least two, e.g. 784-256-10",
        )
    };
    let v: Vec<usize> = s
        .split('-')
        .map(|x| x.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    if v.len() < 2 || v.contains(&0) {
        return Err(bad());
    }
    Ok(v)
}

/// Master weights, masks and Adam state of one layer.
#[derive(Clone, Debug)]
struct Master {
    w: Vec<f32>,
    b: Vec<f32>,
    mask: Vec<bool>,
    m_w: Vec<f32>,
    v_w: Vec<f32>,
    m_b: Vec<f32>,
    v_b: Vec<f32>,
}

/// Progress of training, reported after every batch.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub epoch: u32,
    pub samples_done: u64,
    pub samples_total: u64,
    pub loss: f32,
    pub train_accuracy: f32,
}

/// A trained model and what was measured on it.
#[derive(Clone, Debug)]
pub struct Trained {
    pub model: Model,
    /// Integer model on the test split (reference executor).
    pub test_accuracy: f64,
    pub test_samples: usize,
    /// Predictions of the integer model, test sample by test sample.
    pub predictions: Vec<u32>,
    pub sparsity: f64,
    pub final_loss: f32,
}

/// Scale from float units to the integer units of layer `l` (weights are
/// `scale * q`, graded input arrives as `payload = x * P`).
fn int_scale(spec: &TrainSpec, l: usize, weight_scale: f32) -> f64 {
    let input = match (l, spec.encoding) {
        (0, InputEncoding::Graded { bits }) => graded_payload(255, bits) as f64,
        _ => 1.0,
    };
    input / weight_scale as f64
}

/// The effective (quantized) parameters the forward pass uses: weights
/// `scale * q` and thresholds and biases rounded to the integer grid they
/// will have on the chip, so training sees the exported model.
fn effective(spec: &TrainSpec, masters: &[Master]) -> (Vec<LayerParams>, Vec<quant::Quantized>) {
    let n = masters.len();
    let leak = (4096 - spec.dv as i32) as f32 / 4096.0;
    let mut out = vec![];
    let mut qs = vec![];
    for (l, m) in masters.iter().enumerate() {
        let (inputs, outputs) = (spec.arch[l], spec.arch[l + 1]);
        let q = quant::quantize(&m.w, &m.mask, spec.bits);
        let s = int_scale(spec, l, q.scale);
        let threshold = ((s.round().max(1.0)) / s) as f32;
        let b =
            m.b.iter()
                .map(|x| ((*x as f64 * s).round() / s) as f32)
                .collect();
        out.push(LayerParams {
            inputs,
            outputs,
            w: q.q.iter().map(|x| *x as f32 * q.scale).collect(),
            b,
            threshold,
            leak,
            spikes: !(l + 1 == n && spec.readout == Readout::Membrane),
            smooth: false,
        });
        qs.push(q);
    }
    (out, qs)
}

/// Active inputs of each timestep of a sample, as the trainer sees them.
fn input_of(spec: &TrainSpec, image: &[u8], seed: u64, sample: u64) -> Vec<Vec<(u32, f32)>> {
    let stim = encode_image(spec.encoding, spec.timesteps, image, seed, sample, None);
    let full = match spec.encoding {
        InputEncoding::Graded { bits } => graded_payload(255, bits) as f32,
        InputEncoding::Spikes => 1.0,
    };
    (0..stim.timesteps())
        .map(|t| {
            stim.at(t)
                .iter()
                .map(|e| (e.input, e.payload as f32 / full))
                .collect()
        })
        .collect()
}

/// Fixed number of gradient chunks per batch, so the sum order (and the
/// result) does not depend on the thread count.
const CHUNKS: usize = 8;

/// Seed of the test stimuli: `eval` and `run --dataset` use the same.
pub fn test_seed(spec_seed: u64) -> u64 {
    spec_seed
}

pub fn train(spec: &TrainSpec, data: &Dataset, progress: &dyn Fn(&Progress)) -> Result<Trained> {
    validate(spec, data)?;
    let train_split = match spec.train_samples {
        Some(n) => data.train.head(n),
        None => data.train.clone(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut masters: Vec<Master> = (0..spec.arch.len() - 1)
        .map(|l| {
            let (i, o) = (spec.arch[l], spec.arch[l + 1]);
            // Uniform fan-in initialization, scaled up for thresholds of 1.
            let a = (6.0 / i as f32).sqrt();
            Master {
                w: (0..i * o).map(|_| rng.random_range(-a..a)).collect(),
                b: vec![0.0; o],
                mask: vec![true; i * o],
                m_w: vec![0.0; i * o],
                v_w: vec![0.0; i * o],
                m_b: vec![0.0; o],
                v_b: vec![0.0; o],
            }
        })
        .collect();
    let n_train = train_split.len();
    let batches_per_epoch = n_train.div_ceil(spec.batch);
    let total_steps = (batches_per_epoch * spec.epochs as usize).max(1);
    let mut step = 0usize;
    let mut p = Progress {
        samples_total: (n_train * spec.epochs as usize) as u64,
        ..Progress::default()
    };
    let mut order: Vec<usize> = (0..n_train).collect();
    let mut final_loss = 0.0;
    for epoch in 0..spec.epochs {
        p.epoch = epoch;
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for batch in order.chunks(spec.batch) {
            let (params, _) = effective(spec, &masters);
            let epoch_seed = crate::model::stimulus::sample_seed(spec.seed, 1 + epoch as u64);
            let (grads, loss, ok) = batch_grads(spec, &params, &train_split, batch, epoch_seed);
            let lr = spec.lr
                * 0.5
                * (1.0 + (std::f32::consts::PI * step as f32 / total_steps as f32).cos());
            adam(&mut masters, &grads, lr, step + 1, batch.len());
            step += 1;
            loss_sum += loss as f64;
            correct += ok;
            seen += batch.len();
            p.samples_done += batch.len() as u64;
            p.loss = (loss_sum / seen as f64) as f32;
            p.train_accuracy = correct as f32 / seen as f32;
            progress(&p);
        }
        final_loss = p.loss;
        // Pruning rounds at the ends of the first epochs, masks kept after.
        if spec.prune > 0.0 && epoch < spec.prune_rounds {
            let target = spec.prune * (epoch + 1) as f64 / spec.prune_rounds as f64;
            prune(&mut masters, target, spec.prune_global);
        }
        tracing::info!(epoch, loss = p.loss, acc = p.train_accuracy, "epoch done");
    }
    let (_, qs) = effective(spec, &masters);
    let model = export(spec, &masters, &qs, data);
    let test = match spec.test_samples {
        Some(n) => data.test.head(n),
        None => data.test.clone(),
    };
    let predictions = evaluate(&model, &test, test_seed(spec.seed), spec.threads);
    let correct = predictions
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| **p == **l as u32)
        .count();
    let test_accuracy = correct as f64 / test.len().max(1) as f64;
    let total: usize = masters.iter().map(|m| m.mask.len()).sum();
    let zeros: usize = qs
        .iter()
        .map(|q| q.q.iter().filter(|x| **x == 0).count())
        .sum();
    let mut model = model;
    model
        .metadata
        .insert("test_accuracy".into(), format!("{test_accuracy:.4}"));
    model
        .metadata
        .insert("test_samples".into(), test.len().to_string());
    Ok(Trained {
        model,
        test_accuracy,
        test_samples: test.len(),
        predictions,
        sparsity: zeros as f64 / total as f64,
        final_loss,
    })
}

fn validate(spec: &TrainSpec, data: &Dataset) -> Result<()> {
    let f = "command line";
    let (c, h, w) = data.shape;
    if spec.arch[0] != c * h * w {
        return Err(Error::invalid(
            f,
            "--arch",
            spec.arch[0],
            format!("{} inputs for {} ({c}x{h}x{w})", c * h * w, data.name),
        ));
    }
    let last = *spec.arch.last().expect("arch has layers");
    if last != data.classes {
        return Err(Error::invalid(
            f,
            "--arch",
            last,
            format!("{} outputs, one per class of {}", data.classes, data.name),
        ));
    }
    crate::error::check_range(f, "--bits", spec.bits, 1, 16)?;
    crate::error::check_range(f, "--timesteps", spec.timesteps, 1, 256)?;
    crate::error::check_range(f, "--batch", spec.batch, 1, 1 << 16)?;
    crate::error::check_range(f, "--epochs", spec.epochs, 1, 10_000)?;
    if !(0.0..1.0).contains(&spec.prune) {
        return Err(Error::invalid(f, "--prune", spec.prune, "0.0 ..< 1.0"));
    }
    if !(spec.lr > 0.0 && spec.lr < 1.0) {
        return Err(Error::invalid(f, "--lr", spec.lr, "0 < lr < 1"));
    }
    Ok(())
}

/// Gradients of a batch, summed over fixed chunks in order: (grads, loss
/// sum, correct count).
fn batch_grads(
    spec: &TrainSpec,
    params: &[LayerParams],
    split: &Split,
    batch: &[usize],
    epoch_seed: u64,
) -> (Vec<LayerGrads>, f32, usize) {
    let chunk_len = batch.len().div_ceil(CHUNKS).max(1);
    let chunks: Vec<&[usize]> = batch.chunks(chunk_len).collect();
    let mut results: Vec<Option<(Vec<LayerGrads>, f32, usize)>> = vec![None; chunks.len()];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots = std::sync::Mutex::new(&mut results);
    let work = |c: &[usize]| {
        let mut grads: Vec<LayerGrads> = params.iter().map(LayerGrads::zeros).collect();
        let (mut loss, mut ok) = (0.0f32, 0usize);
        let mut tr = Trace::default();
        for &i in c {
            let input = input_of(spec, split.sample(i), epoch_seed, i as u64);
            let logits = forward(params, &input, &mut tr);
            let label = split.labels[i] as usize;
            let (l, g) = cross_entropy(&logits, label);
            loss += l;
            ok += (crate::reference::argmax_f32(&logits) == label) as usize;
            backward(params, &tr, &g, &mut grads);
        }
        (grads, loss, ok)
    };
    crossbeam::scope(|s| {
        for _ in 0..spec.threads.max(1).min(chunks.len()) {
            s.spawn(|_| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= chunks.len() {
                    break;
                }
                let r = work(chunks[k]);
                slots.lock().expect("no worker panics")[k] = Some(r);
            });
        }
    })
    .expect("no worker panics");
    let mut it = results.into_iter().map(|r| r.expect("every chunk ran"));
    let (mut grads, mut loss, mut ok) = it.next().expect("a batch has a chunk");
    for (g, l, k) in it {
        for (a, b) in grads.iter_mut().zip(&g) {
            a.w.iter_mut().zip(&b.w).for_each(|(x, y)| *x += y);
            a.b.iter_mut().zip(&b.b).for_each(|(x, y)| *x += y);
        }
        loss += l;
        ok += k;
    }
    (grads, loss, ok)
}

/// One Adam step on the mean gradient of a batch; pruned weights stay 0.
fn adam(masters: &mut [Master], grads: &[LayerGrads], lr: f32, t: usize, batch: usize) {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let c1 = 1.0 - b1.powi(t as i32);
    let c2 = 1.0 - b2.powi(t as i32);
    let inv = 1.0 / batch as f32;
    let upd = |p: &mut f32, m: &mut f32, v: &mut f32, g: f32| {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
    };
    for (m, g) in masters.iter_mut().zip(grads) {
        for i in 0..m.w.len() {
            if m.mask[i] {
                upd(&mut m.w[i], &mut m.m_w[i], &mut m.v_w[i], g.w[i] * inv);
            } else {
                m.w[i] = 0.0;
            }
        }
        for i in 0..m.b.len() {
            upd(&mut m.b[i], &mut m.m_b[i], &mut m.v_b[i], g.b[i] * inv);
        }
    }
}

/// Magnitude pruning to `target` sparsity, per layer or globally.
fn prune(masters: &mut [Master], target: f64, global: bool) {
    if global {
        let all: Vec<f32> = masters.iter().flat_map(|m| m.w.iter().copied()).collect();
        let mask: Vec<bool> = masters
            .iter()
            .flat_map(|m| m.mask.iter().copied())
            .collect();
        let new = quant::magnitude_mask(&all, &mask, target);
        let mut at = 0;
        for m in masters.iter_mut() {
            let len = m.mask.len();
            m.mask.copy_from_slice(&new[at..at + len]);
            at += len;
        }
    } else {
        for m in masters.iter_mut() {
            m.mask = quant::magnitude_mask(&m.w, &m.mask, target);
        }
    }
    for m in masters.iter_mut() {
        for (w, keep) in m.w.iter_mut().zip(&m.mask) {
            if !keep {
                *w = 0.0;
            }
        }
    }
}

/// Folds float scales into integer weights, thresholds and biases.
fn export(spec: &TrainSpec, masters: &[Master], qs: &[quant::Quantized], data: &Dataset) -> Model {
    let n = masters.len();
    let mut layers = vec![];
    for (l, (m, q)) in masters.iter().zip(qs).enumerate() {
        let (inputs, outputs) = (spec.arch[l], spec.arch[l + 1]);
        let s = int_scale(spec, l, q.scale);
        let threshold = s.round().max(1.0) as i64;
        let bias: Vec<i64> = m.b.iter().map(|b| (*b as f64 * s).round() as i64).collect();
        // Room for a few thresholds of swing, at least 16 bits.
        let need = 64 - (threshold * 16).unsigned_abs().leading_zeros() + 1;
        let state_bits = need.clamp(16, 32) as u8;
        let never = (1i64 << (state_bits - 1)) - 1;
        let membrane_out = l + 1 == n && spec.readout == Readout::Membrane;
        let mut weights = vec![0i32; inputs * outputs];
        for i in 0..inputs {
            for o in 0..outputs {
                weights[o * inputs + i] = q.q[i * outputs + o];
            }
        }
        layers.push(Layer {
            name: format!("fc{}", l + 1),
            kind: LayerKind::Dense { inputs, outputs },
            weight_bits: spec.bits,
            weights,
            neuron: Neuron {
                threshold: Param::Scalar(if membrane_out { never } else { threshold } as i32),
                bias: Param::PerNeuron(
                    bias.iter()
                        .map(|b| (*b).clamp(-never, never) as i32)
                        .collect(),
                ),
                du: 4096,
                dv: spec.dv,
                v_reset: 0,
                reset: Reset::Subtract,
                input_shift: 0,
                state_bits,
            },
        });
    }
    let arch = spec
        .arch
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join("-");
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert("dataset".into(), data.name.clone());
    metadata.insert("data_source".into(), data.source.clone());
    metadata.insert("arch".into(), arch.clone());
    metadata.insert("timesteps".into(), spec.timesteps.to_string());
    metadata.insert("weight_bits".into(), spec.bits.to_string());
    metadata.insert("seed".into(), spec.seed.to_string());
    metadata.insert("epochs".into(), spec.epochs.to_string());
    metadata.insert("prune_target".into(), spec.prune.to_string());
    let zeros: usize = qs
        .iter()
        .map(|q| q.q.iter().filter(|x| **x == 0).count())
        .sum();
    let total: usize = qs.iter().map(|q| q.q.len()).sum();
    metadata.insert(
        "sparsity".into(),
        format!("{:.4}", zeros as f64 / total as f64),
    );
    metadata.insert(
        "test_stimulus_seed".into(),
        test_seed(spec.seed).to_string(),
    );
    Model {
        name: format!("{}-{arch}-w{}-T{}", data.name, spec.bits, spec.timesteps),
        metadata,
        timesteps: spec.timesteps,
        semantics: Semantics::LayerSerial,
        input: crate::model::Input {
            size: spec.arch[0],
            encoding: spec.encoding,
            rate: 0.2,
        },
        readout: spec.readout,
        layers,
    }
}

/// Predictions of the integer model (reference executor) on `split`, with
/// the stimuli `eval` and `run --dataset` use.
pub fn evaluate(model: &Model, split: &Split, seed: u64, threads: usize) -> Vec<u32> {
    let n = split.len();
    let mut out = vec![0u32; n];
    let per = n.div_ceil(threads.max(1)).max(1);
    crossbeam::scope(|s| {
        for (k, chunk) in out.chunks_mut(per).enumerate() {
            s.spawn(move |_| {
                for (j, o) in chunk.iter_mut().enumerate() {
                    let i = k * per + j;
                    let stim = from_image(model, split.sample(i), seed, i as u64, None);
                    *o = crate::reference::run(model, &stim).prediction;
                }
            });
        }
    })
    .expect("no worker panics");
    out
}
