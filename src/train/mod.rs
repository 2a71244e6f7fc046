//! The built-in trainer: surrogate-gradient BPTT for dense SNNs of the
//! chip's LIF neurons, with quantization-aware training and magnitude
//! pruning, exported to the model IR with integer weights, thresholds and
//! biases folded from the float scales. The accuracy it reports is the
//! integer model's, measured with the reference executor on the same
//! stimuli `eval` and `run --dataset` use.

pub mod convert;
pub mod lottery;
pub mod net;
pub mod quant;
pub mod stage;
pub mod stdp;

use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::model::gen::{conv_kinds, parse_conv};
use crate::model::stimulus::graded_payload;
use crate::model::LayerShape;
use crate::model::{
    Chain, InputEncoding, Layer, LayerKind, Model, Neuron, Param, Readout, Reset, Semantics,
};
use net::{backward, cross_entropy, forward, Fanout, LayerGrads, LayerParams, Trace, UNIT};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Everything that defines a training run (and its exported model).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// The layers: Dense, Conv2d and SumPool2d, shapes chained from the
    /// first layer's input.
    pub arch: Vec<LayerKind>,
    pub timesteps: u32,
    pub encoding: InputEncoding,
    pub readout: Readout,
    /// Voltage decay of every layer, 12-bit (0 = IF).
    pub dv: u16,
    /// Weight bits, 1 (binary) to 16: one value for every layer, or one
    /// per weighted (dense or conv) layer in order.
    pub bits: Vec<u8>,
    /// Target fraction of zero weights, reached in `prune_rounds` equal
    /// steps at the ends of the first epochs, then fine-tuned.
    pub prune: f64,
    pub prune_rounds: u32,
    pub prune_global: bool,
    /// Training images shifted by up to this many pixels in x and y
    /// (random per sample and epoch, zero fill); 0 = no augmentation.
    pub shift: u32,
    /// How quantization and pruning combine.
    pub order: Order,
    pub epochs: u32,
    pub batch: usize,
    pub lr: f32,
    pub seed: u64,
    pub threads: usize,
    /// Use only the first N training / test samples (None: all).
    pub train_samples: Option<usize>,
    pub test_samples: Option<usize>,
    /// Train the ReLU ANN of the same layers instead (float activations,
    /// one timestep, graded input), for ANN-to-SNN conversion.
    pub ann: bool,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            arch: parse_arch("784-256-10").expect("valid"),
            timesteps: 8,
            encoding: InputEncoding::Spikes,
            readout: Readout::Membrane,
            dv: 0,
            bits: vec![8],
            prune: 0.0,
            prune_rounds: 1,
            prune_global: false,
            shift: 0,
            order: Order::Joint,
            epochs: 4,
            batch: 64,
            lr: 2e-3,
            seed: 1,
            threads: 1,
            train_samples: None,
            test_samples: None,
            ann: false,
        }
    }
}

impl TrainSpec {
    /// Weight bits of layer `l` of `arch` (a weighted layer).
    pub fn bits_of(&self, l: usize) -> u8 {
        if self.bits.len() == 1 {
            return self.bits[0];
        }
        let k = self.arch[..l]
            .iter()
            .filter(|k| !matches!(k, LayerKind::SumPool2d { .. }))
            .count();
        self.bits[k]
    }
}

fn bits_name(bits: &[u8]) -> String {
    bits.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// How quantization and pruning are combined over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Quantization-aware from the start, pruning rounds in the first epochs.
    Joint,
    /// First half: float training with the pruning rounds; second half:
    /// quantization-aware fine-tuning with the masks kept.
    PruneThenQuant,
    /// First half: quantization-aware training; second half: pruning
    /// rounds with quantization-aware fine-tuning.
    QuantThenPrune,
}

impl Order {
    /// (quantization on, pruning round after this epoch) for `epoch`.
    fn schedule(self, epoch: u32, epochs: u32, rounds: u32) -> (bool, Option<u32>) {
        let half = epochs / 2;
        let round = |first: u32| (epoch >= first && epoch < first + rounds).then(|| epoch - first);
        match self {
            Order::Joint => (true, round(0)),
            Order::PruneThenQuant => (epoch >= half, round(0)),
            Order::QuantThenPrune => (true, round(half)),
        }
    }
}

/// Parses an MLP `784-256-10` (sizes, input first) or a conv net
/// `1x28x28:c8k3s1p1,p2,d10` (input CxHxW, then cOkKsSpP conv, pK sum
/// pooling, dN dense), the form `neurocycle gen --conv` takes.
pub fn parse_arch(s: &str) -> Result<Vec<LayerKind>> {
    let kinds = if s.contains(':') {
        conv_kinds(&parse_conv(s).map_err(|e| Error::invalid("command line", "--arch", s, e))?)
    } else {
        let bad = || {
            Error::invalid(
                "command line",
                "--arch",
                s,
                "layer sizes joined by '-', input first, at least two, e.g. 784-256-10; or a conv net, e.g. 1x28x28:c8k3s1p1,p2,d10",
            )
        };
        let v: Vec<usize> = s
            .split('-')
            .map(|x| x.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        if v.len() < 2 || v.contains(&0) {
            return Err(bad());
        }
        v.windows(2)
            .map(|w| LayerKind::Dense {
                inputs: w[0],
                outputs: w[1],
            })
            .collect()
    };
    if matches!(kinds.first(), Some(LayerKind::SumPool2d { .. }) | None) {
        return Err(Error::invalid(
            "command line",
            "--arch",
            s,
            "a first layer that is dense or conv",
        ));
    }
    Ok(kinds)
}

/// Inputs of the first layer.
pub fn input_size(arch: &[LayerKind]) -> usize {
    match arch[0] {
        LayerKind::Dense { inputs, .. } => inputs,
        LayerKind::Conv2d {
            in_ch, in_h, in_w, ..
        } => in_ch * in_h * in_w,
        LayerKind::SumPool2d { .. } => unreachable!("parse_arch refuses a pooling first layer"),
    }
}

/// A short name: `784-256-10` for an MLP, else the layers joined.
pub fn arch_name(arch: &[LayerKind]) -> String {
    if arch.iter().all(|k| matches!(k, LayerKind::Dense { .. })) {
        std::iter::once(input_size(arch))
            .chain(arch.iter().map(|k| match k {
                LayerKind::Dense { outputs, .. } => *outputs,
                _ => unreachable!(),
            }))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("-")
    } else {
        arch.iter()
            .map(|k| match *k {
                LayerKind::Dense { outputs, .. } => format!("d{outputs}"),
                LayerKind::Conv2d {
                    out_ch,
                    kernel,
                    stride,
                    padding,
                    ..
                } => format!("c{out_ch}k{kernel}s{stride}p{padding}"),
                LayerKind::SumPool2d { k } => format!("p{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The model's layers with placeholder weights and neurons: its shapes,
/// and for each non-dense layer the fanout the IR defines, so the trainer
/// connects exactly what the chip will.
pub fn skeleton(arch: &[LayerKind]) -> (Vec<LayerShape>, Vec<Option<Arc<Fanout>>>) {
    let layers: Vec<Layer> = arch
        .iter()
        .map(|k| Layer {
            name: String::new(),
            kind: *k,
            weight_bits: 16,
            // Weight j is j + 1, so a synapse names its weight index.
            weights: match k {
                LayerKind::SumPool2d { .. } => vec![],
                _ => (1..=k.n_weights() as i32).collect(),
            },
            stdp: None,
            lateral_inhibition: 0,
            neuron: Neuron {
                adaptation: None,
                threshold: Param::Scalar(1),
                bias: Param::Scalar(0),
                du: 4096,
                dv: 0,
                v_reset: 0,
                reset: Reset::Subtract,
                input_shift: 0,
                input_right_shift: 0,
                u_init: crate::model::Param::Scalar(0),
                v_init: crate::model::Param::Scalar(0),
                loihi_bounds: false,
                state_bits: 16,
                decay_bits: 12,
            },
        })
        .collect();
    let model = Chain {
        name: String::new(),
        metadata: Default::default(),
        timesteps: 1,
        semantics: Semantics::LayerSerial,
        input: crate::model::Input {
            size: input_size(arch),
            encoding: InputEncoding::Spikes,
            rate: 0.2,
            shape: None,
        },
        readout: Readout::Membrane,
        layers,
        early_exit: None,
    };
    let shapes = model.shapes();
    let fanouts = model
        .layers
        .iter()
        .zip(&shapes)
        .map(|(layer, shape)| {
            if matches!(layer.kind, LayerKind::Dense { .. }) {
                return None;
            }
            let n_in = shape.input.len();
            let mut lists: Vec<Vec<(u32, u32)>> = vec![vec![]; n_in];
            let pool = matches!(layer.kind, LayerKind::SumPool2d { .. });
            crate::model::chain::for_each_synapse(layer, shape, |src, tgt, w| {
                let widx = if pool { UNIT } else { (w - 1) as u32 };
                lists[src].push((tgt as u32, widx));
            });
            let mut f = Fanout {
                start: vec![0],
                ..Fanout::default()
            };
            for l in lists {
                for (o, w) in l {
                    f.out.push(o);
                    f.widx.push(w);
                }
                f.start.push(f.out.len() as u32);
            }
            Some(Arc::new(f))
        })
        .collect();
    (shapes, fanouts)
}

/// Shapes and (for conv and pooling) fanouts of the layers.
struct Topology {
    shapes: Vec<LayerShape>,
    fanouts: Vec<Option<Arc<Fanout>>>,
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
    /// Predictions of the trainer's own (quantized float) forward pass on
    /// the same stimuli: how faithfully the export folds the network.
    pub float_predictions: Vec<u32>,
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
fn effective(
    spec: &TrainSpec,
    topo: &Topology,
    masters: &[Master],
    quantized: bool,
) -> (Vec<LayerParams>, Vec<quant::Quantized>) {
    let n = masters.len();
    let leak = (4096 - spec.dv as i32) as f32 / 4096.0;
    let mut out = vec![];
    let mut qs = vec![];
    for (l, m) in masters.iter().enumerate() {
        let (inputs, outputs) = (topo.shapes[l].input.len(), topo.shapes[l].output.len());
        let fanout = topo.fanouts[l].clone();
        if matches!(spec.arch[l], LayerKind::SumPool2d { .. }) {
            // Unit weights, no leak, threshold between 0 and 1 spike: on the
            // chip `v > 0` with `dv = 4096` (v is this timestep's input).
            out.push(LayerParams {
                inputs,
                outputs,
                w: vec![],
                fanout,
                b: vec![0.0; outputs],
                threshold: 0.5,
                leak: 0.0,
                spikes: true,
                smooth: false,
                // Sum pooling in an ANN (its inputs are not negative).
                relu: spec.ann,
            });
            qs.push(quant::Quantized {
                q: vec![],
                scale: 1.0,
            });
            continue;
        }
        // Float phases train on a 16-bit grid, as close to float as the chip gets.
        let bits = if quantized { spec.bits_of(l) } else { 16 };
        let q = quant::quantize(&m.w, &m.mask, bits);
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
            fanout,
            b,
            threshold,
            leak: if spec.ann { 0.0 } else { leak },
            spikes: !(l + 1 == n && spec.readout == Readout::Membrane),
            smooth: false,
            relu: spec.ann && l + 1 < n,
        });
        qs.push(q);
    }
    (out, qs)
}

/// Active inputs of each timestep of a sample, as the trainer sees them.
fn input_of(
    spec: &TrainSpec,
    (shape, frames): ((usize, usize, usize), usize),
    image: &[u8],
    seed: u64,
    sample: u64,
    augment: bool,
) -> Vec<Vec<(u32, f32)>> {
    let shifted;
    let image = if augment && spec.shift > 0 && frames == 1 {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::model::stimulus::sample_seed(!seed, sample));
        let r = spec.shift as i64;
        let (dx, dy) = (rng.random_range(-r..=r), rng.random_range(-r..=r));
        shifted = shift_image(image, shape, dx, dy);
        &shifted[..]
    } else {
        image
    };
    let stim = crate::data::stimulus(
        spec.encoding,
        spec.timesteps,
        frames,
        image,
        seed,
        sample,
        None,
    );
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

/// `image` (channels x height x width) moved by (dx, dy), zero fill.
fn shift_image(image: &[u8], (c, h, w): (usize, usize, usize), dx: i64, dy: i64) -> Vec<u8> {
    let mut out = vec![0u8; image.len()];
    for ch in 0..c {
        for y in 0..h as i64 {
            let sy = y - dy;
            if sy < 0 || sy >= h as i64 {
                continue;
            }
            for x in 0..w as i64 {
                let sx = x - dx;
                if sx >= 0 && sx < w as i64 {
                    out[(ch * h + y as usize) * w + x as usize] =
                        image[(ch * h + sy as usize) * w + sx as usize];
                }
            }
        }
    }
    out
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
    let (shapes, fanouts) = skeleton(&spec.arch);
    let topo = Topology { shapes, fanouts };
    let mut masters = init_masters_with(spec, &topo, &mut rng);
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
        let (quantized, prune_round) = spec.order.schedule(epoch, spec.epochs, spec.prune_rounds);
        let run = EpochRun {
            spec,
            topo: &topo,
            split: &train_split,
            data,
            epoch_seed: crate::model::stimulus::sample_seed(spec.seed, 1 + epoch as u64),
            quantized,
            total_steps,
        };
        run.run(
            &mut masters,
            &mut order,
            &mut rng,
            &mut step,
            &mut p,
            progress,
        );
        final_loss = p.loss;
        // Pruning rounds at the ends of the first epochs, masks kept after.
        if let (true, Some(k)) = (spec.prune > 0.0, prune_round) {
            let target = spec.prune * (k + 1) as f64 / spec.prune_rounds as f64;
            prune(&mut masters, target, spec.prune_global);
        }
        tracing::info!(epoch, loss = p.loss, acc = p.train_accuracy, "epoch done");
    }
    finish(spec, &topo, &masters, data, final_loss)
}

/// Fresh masters: uniform fan-in initialization from the spec's seed.
fn init_masters(spec: &TrainSpec, topo: &Topology) -> Vec<Master> {
    init_masters_with(spec, topo, &mut ChaCha8Rng::seed_from_u64(spec.seed))
}

fn init_masters_with(spec: &TrainSpec, topo: &Topology, rng: &mut ChaCha8Rng) -> Vec<Master> {
    spec.arch
        .iter()
        .zip(&topo.shapes)
        .map(|(kind, shape)| {
            let o = shape.output.len();
            let (n_w, fan_in) = match *kind {
                LayerKind::Dense { inputs, outputs } => (inputs * outputs, inputs),
                LayerKind::Conv2d { in_ch, kernel, .. } => {
                    (kind.n_weights(), in_ch * kernel * kernel)
                }
                LayerKind::SumPool2d { .. } => (0, 1),
            };
            // Uniform fan-in initialization, scaled for thresholds of 1.
            let a = (6.0 / fan_in as f32).sqrt();
            Master {
                w: (0..n_w).map(|_| rng.random_range(-a..a)).collect(),
                b: vec![0.0; o],
                mask: vec![true; n_w],
                m_w: vec![0.0; n_w],
                v_w: vec![0.0; n_w],
                m_b: vec![0.0; o],
                v_b: vec![0.0; o],
            }
        })
        .collect()
}

/// One epoch of mini-batch training.
struct EpochRun<'a> {
    spec: &'a TrainSpec,
    topo: &'a Topology,
    split: &'a Split,
    data: &'a Dataset,
    /// Seed of the epoch's stimuli (rate coding, shifts).
    epoch_seed: u64,
    quantized: bool,
    /// Steps of the cosine learning-rate schedule.
    total_steps: usize,
}

impl EpochRun<'_> {
    /// Shuffles `order` and trains on it; `step` counts schedule steps.
    fn run(
        &self,
        masters: &mut [Master],
        order: &mut [usize],
        rng: &mut ChaCha8Rng,
        step: &mut usize,
        p: &mut Progress,
        progress: &dyn Fn(&Progress),
    ) {
        let spec = self.spec;
        order.shuffle(rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for batch in order.chunks(spec.batch) {
            let (params, _) = effective(spec, self.topo, masters, self.quantized);
            let (grads, loss, ok) = batch_grads(
                spec,
                &params,
                self.split,
                (self.data.shape, self.data.frames),
                batch,
                self.epoch_seed,
            );
            let lr = spec.lr
                * 0.5
                * (1.0 + (std::f32::consts::PI * *step as f32 / self.total_steps as f32).cos());
            adam(masters, &grads, lr, *step + 1, batch.len());
            *step += 1;
            loss_sum += loss as f64;
            correct += ok;
            seen += batch.len();
            p.samples_done += batch.len() as u64;
            p.loss = (loss_sum / seen as f64) as f32;
            p.train_accuracy = correct as f32 / seen as f32;
            progress(p);
        }
    }
}

/// Exports the trained masters and measures the integer model on the
/// test split.
fn finish(
    spec: &TrainSpec,
    topo: &Topology,
    masters: &[Master],
    data: &Dataset,
    final_loss: f32,
) -> Result<Trained> {
    finish_with(spec, topo, masters, data, final_loss, |_| {})
}

/// `finish`, with `adjust` applied to the exported model before it is
/// measured.
fn finish_with(
    spec: &TrainSpec,
    topo: &Topology,
    masters: &[Master],
    data: &Dataset,
    final_loss: f32,
    adjust: impl FnOnce(&mut Chain),
) -> Result<Trained> {
    let (params, qs) = effective(spec, topo, masters, true);
    let mut chain = export(spec, masters, &qs, data);
    adjust(&mut chain);
    let mut model = chain.into_model();
    let test = match spec.test_samples {
        Some(n) => data.test.head(n),
        None => data.test.clone(),
    };
    let predictions = evaluate(
        &model,
        &test,
        data.frames,
        test_seed(spec.seed),
        spec.threads,
    );
    let float_predictions: Vec<u32> = (0..test.len())
        .map(|i| {
            let input = input_of(
                spec,
                (data.shape, data.frames),
                test.sample(i),
                test_seed(spec.seed),
                i as u64,
                false,
            );
            let logits = forward(&params, &input, &mut Trace::default());
            crate::reference::argmax_f32(&logits) as u32
        })
        .collect();
    let agree = float_predictions
        .iter()
        .zip(&predictions)
        .filter(|(a, b)| a == b)
        .count();
    let correct = predictions
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| **p == **l as u32)
        .count();
    let test_accuracy = correct as f64 / test.len().max(1) as f64;
    model
        .metadata
        .insert("test_accuracy".into(), format!("{test_accuracy:.4}"));
    model
        .metadata
        .insert("test_samples".into(), test.len().to_string());
    model.metadata.insert(
        "float_integer_agreement".into(),
        format!("{:.4}", agree as f64 / test.len().max(1) as f64),
    );
    Ok(Trained {
        model,
        test_accuracy,
        test_samples: test.len(),
        predictions,
        float_predictions,
        sparsity: sparsity(&qs),
        final_loss,
    })
}

fn validate(spec: &TrainSpec, data: &Dataset) -> Result<()> {
    let f = "command line";
    let (c, h, w) = data.shape;
    if input_size(&spec.arch) != c * h * w {
        return Err(Error::invalid(
            f,
            "--arch",
            input_size(&spec.arch),
            format!("{} inputs for {} ({c}x{h}x{w})", c * h * w, data.name),
        ));
    }
    let (shapes, _) = skeleton(&spec.arch);
    let last = shapes.last().expect("arch has layers").output.len();
    if last != data.classes {
        return Err(Error::invalid(
            f,
            "--arch",
            last,
            format!("{} outputs, one per class of {}", data.classes, data.name),
        ));
    }
    let weighted = spec
        .arch
        .iter()
        .filter(|k| !matches!(k, LayerKind::SumPool2d { .. }))
        .count();
    if spec.bits.len() != 1 && spec.bits.len() != weighted {
        return Err(Error::invalid(
            f,
            "--bits",
            format!("{} values", spec.bits.len()),
            format!("one value, or one per weighted layer ({weighted})"),
        ));
    }
    for b in &spec.bits {
        crate::error::check_range(f, "--bits", *b, 1, 16)?;
    }
    crate::error::check_range(f, "--timesteps", spec.timesteps, 1, 256)?;
    crate::error::check_range(f, "--batch", spec.batch, 1, 1 << 16)?;
    crate::error::check_range(f, "--epochs", spec.epochs, 1, 10_000)?;
    if !(0.0..1.0).contains(&spec.prune) {
        return Err(Error::invalid(f, "--prune", spec.prune, "0.0 ..< 1.0"));
    }
    let rounds_fit = match spec.order {
        Order::Joint => spec.prune_rounds <= spec.epochs,
        Order::PruneThenQuant => spec.prune_rounds <= spec.epochs / 2,
        Order::QuantThenPrune => spec.prune_rounds <= spec.epochs - spec.epochs / 2,
    };
    if spec.prune > 0.0 && !rounds_fit {
        return Err(Error::invalid(
            f,
            "--prune-rounds",
            spec.prune_rounds,
            format!(
                "at most the epochs of the pruning phase ({:?} over {} epochs)",
                spec.order, spec.epochs
            ),
        ));
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
    layout: ((usize, usize, usize), usize),
    batch: &[usize],
    epoch_seed: u64,
) -> (Vec<LayerGrads>, f32, usize) {
    let chunk_len = batch.len().div_ceil(CHUNKS).max(1);
    let chunks: Vec<&[usize]> = batch.chunks(chunk_len).collect();
    let work = |c: &[usize]| {
        let mut grads: Vec<LayerGrads> = params.iter().map(LayerGrads::zeros).collect();
        let (mut loss, mut ok) = (0.0f32, 0usize);
        let mut tr = Trace::default();
        for &i in c {
            let input = input_of(spec, layout, split.sample(i), epoch_seed, i as u64, true);
            let logits = forward(params, &input, &mut tr);
            let label = split.labels[i] as usize;
            let (l, g) = cross_entropy(&logits, label);
            loss += l;
            ok += (crate::reference::argmax_f32(&logits) == label) as usize;
            backward(params, &tr, &g, &mut grads);
        }
        (grads, loss, ok)
    };
    let results = crate::parallel::map(chunks.len(), spec.threads, |k| work(chunks[k]));
    let mut it = results.into_iter();
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
        m.zero_pruned();
    }
}

impl Master {
    /// Zeroes the weights the mask prunes.
    fn zero_pruned(&mut self) {
        for (w, keep) in self.w.iter_mut().zip(&self.mask) {
            if !keep {
                *w = 0.0;
            }
        }
    }
}

/// Fraction of zero weights over all weighted layers.
fn sparsity(qs: &[quant::Quantized]) -> f64 {
    let zeros: usize = qs
        .iter()
        .map(|q| q.q.iter().filter(|x| **x == 0).count())
        .sum();
    let total: usize = qs.iter().map(|q| q.q.len()).sum();
    zeros as f64 / total.max(1) as f64
}

/// Folds float scales into integer weights, thresholds and biases.
fn export(spec: &TrainSpec, masters: &[Master], qs: &[quant::Quantized], data: &Dataset) -> Chain {
    let n = masters.len();
    let mut layers = vec![];
    for (l, (m, q)) in masters.iter().zip(qs).enumerate() {
        let kind = spec.arch[l];
        if let LayerKind::SumPool2d { .. } = kind {
            layers.push(Layer {
                name: format!("pool{}", l + 1),
                kind,
                weight_bits: 1,
                weights: vec![],
                // Fires when any input spiked this timestep (v forgets).
                stdp: None,
                lateral_inhibition: 0,
                neuron: Neuron {
                    adaptation: None,
                    threshold: Param::Scalar(0),
                    bias: Param::Scalar(0),
                    du: 4096,
                    dv: 4096,
                    v_reset: 0,
                    reset: Reset::ToValue,
                    input_shift: 0,
                    input_right_shift: 0,
                    u_init: crate::model::Param::Scalar(0),
                    v_init: crate::model::Param::Scalar(0),
                    loihi_bounds: false,
                    state_bits: 16,
                    decay_bits: 12,
                },
            });
            continue;
        }
        let s = int_scale(spec, l, q.scale);
        let threshold = s.round().max(1.0) as i64;
        let bias: Vec<i64> = m.b.iter().map(|b| (*b as f64 * s).round() as i64).collect();
        // Room for a few thresholds of swing, at least 16 bits.
        let need = 64 - (threshold * 16).unsigned_abs().leading_zeros() + 1;
        let state_bits = need.clamp(16, 32) as u8;
        let never = (1i64 << (state_bits - 1)) - 1;
        let membrane_out = l + 1 == n && spec.readout == Readout::Membrane;
        let (weights, name) = match kind {
            // The trainer keeps dense weights [input][output]; the IR [output][input].
            LayerKind::Dense { inputs, outputs } => {
                let mut w = vec![0i32; inputs * outputs];
                for i in 0..inputs {
                    for o in 0..outputs {
                        w[o * inputs + i] = q.q[i * outputs + o];
                    }
                }
                (w, format!("fc{}", l + 1))
            }
            _ => (q.q.clone(), format!("conv{}", l + 1)),
        };
        layers.push(Layer {
            name,
            kind,
            weight_bits: spec.bits_of(l),
            weights,
            stdp: None,
            lateral_inhibition: 0,
            neuron: Neuron {
                adaptation: None,
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
                input_right_shift: 0,
                u_init: crate::model::Param::Scalar(0),
                v_init: crate::model::Param::Scalar(0),
                loihi_bounds: false,
                state_bits,
                decay_bits: 12,
            },
        });
    }
    let arch = arch_name(&spec.arch);
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert("dataset".into(), data.name.clone());
    metadata.insert("data_source".into(), data.source.clone());
    metadata.insert("arch".into(), arch.clone());
    metadata.insert("timesteps".into(), spec.timesteps.to_string());
    metadata.insert("weight_bits".into(), bits_name(&spec.bits));
    metadata.insert("seed".into(), spec.seed.to_string());
    metadata.insert("epochs".into(), spec.epochs.to_string());
    metadata.insert("prune_target".into(), spec.prune.to_string());
    metadata.insert("compression_order".into(), format!("{:?}", spec.order));
    metadata.insert("sparsity".into(), format!("{:.4}", sparsity(qs)));
    metadata.insert(
        "test_stimulus_seed".into(),
        test_seed(spec.seed).to_string(),
    );
    Chain {
        name: format!(
            "{}-{arch}-w{}-T{}",
            data.name,
            bits_name(&spec.bits),
            spec.timesteps
        ),
        metadata,
        timesteps: spec.timesteps,
        semantics: Semantics::LayerSerial,
        input: crate::model::Input {
            size: input_size(&spec.arch),
            encoding: spec.encoding,
            rate: 0.2,
            shape: None,
        },
        readout: spec.readout,
        layers,
        early_exit: None,
    }
}

/// Predictions of the integer model (reference executor) on `split`, with
/// the stimuli `eval` and `run --dataset` use.
pub fn evaluate(
    model: &Model,
    split: &Split,
    frames: usize,
    seed: u64,
    threads: usize,
) -> Vec<u32> {
    crate::parallel::map(split.len(), threads, |i| {
        let stim = crate::data::stimulus(
            model.input.encoding,
            model.timesteps,
            frames,
            split.sample(i),
            seed,
            i as u64,
            None,
        );
        crate::reference::run(model, &stim).prediction
    })
}
