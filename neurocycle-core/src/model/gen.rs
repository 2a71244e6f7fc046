//! Synthetic model generator: seeded random sparse, quantized SNNs, the
//! workloads that architects, tests and benches run.
//!
//! Dense storage draws every weight of `inputs x outputs` (a pruned one is
//! 0). List storage draws each target neuron's sources instead (a fixed
//! fan-in, or gaps of the geometric distribution for a density), from a
//! window around the target's position when locality is asked, so time and
//! memory grow with the synapses; it can add a recurrent projection to
//! every population but the output.

use super::*;
use crate::error::{check_range, Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How generated dense layers store their synapses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Storage {
    /// Every weight, zeros included (`dense` projections).
    #[default]
    Dense,
    /// Synapse lists (`sparse` projections), drawn per target neuron.
    Lists,
}

/// What `neurocycle gen` takes.
#[derive(Clone, Debug)]
pub struct GenSpec {
    /// Input size then the size of every Dense layer, e.g. `[784, 512, 10]`.
    /// Ignored when `conv` is given.
    pub layers: Vec<usize>,
    /// A conv net: input shape then layers (see `parse_conv`).
    pub conv: Option<ConvSpec>,
    pub sparsity: f64,
    pub weight_bits: u8,
    pub timesteps: u32,
    pub input_rate: f64,
    pub graded_bits: Option<u8>,
    pub semantics: Semantics,
    pub readout: Readout,
    pub du: u16,
    pub dv: u16,
    pub reset: Reset,
    pub state_bits: u8,
    /// Threshold as a multiple of the expected drive of one active input;
    /// chosen so that layers keep spiking at moderate rates.
    pub threshold_scale: f64,
    pub seed: u64,
    pub storage: Storage,
    /// Lists: sources per neuron (instead of `1 - sparsity` of them).
    pub fan_in: Option<usize>,
    /// Lists: a neuron's sources lie within this many neurons around its
    /// position in the source population (scaled to the source's size).
    pub locality: Option<usize>,
    /// Lists: sources per neuron of a recurrent projection (delay 1) on
    /// every population but the output; 0 for none.
    pub recurrent: usize,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            layers: vec![784, 512, 10],
            conv: None,
            sparsity: 0.9,
            weight_bits: 4,
            timesteps: 8,
            input_rate: 0.2,
            graded_bits: None,
            semantics: Semantics::LayerSerial,
            readout: Readout::SpikeCount,
            du: 4096,
            dv: 256,
            reset: Reset::Subtract,
            state_bits: 16,
            threshold_scale: 1.0,
            seed: 1,
            storage: Storage::Dense,
            fan_in: None,
            locality: None,
            recurrent: 0,
        }
    }
}

/// The workload of `benches/engine.rs` (and of the profiling example):
/// 784-512-512-10, 90% sparse, 4-bit weights, T = 16.
pub fn bench_spec() -> GenSpec {
    GenSpec {
        layers: vec![784, 512, 512, 10],
        sparsity: 0.9,
        weight_bits: 4,
        timesteps: 16,
        ..GenSpec::default()
    }
}

/// The Loihi-size workload of `benches/engine.rs` and `benches/loihi.sh`:
/// 4096 inputs, two populations of 60,000 neurons (120,000 in all, 118
/// of the 128 cores of `hw_configs/loihi.ron`), 52 sources per neuron
/// drawn within 2,048 neurons of its position (6.24 M synapses; local, so
/// Loihi's 4,096-entry axon and fan-out tables hold them), 4-bit weights,
/// T = 16, thresholds at 3x the expected drive (28% and 41% of neurons fire
/// per timestep). The same as `neurocycle gen --layers 4096,60000,60000
/// --fan-in 52 --locality 2048 --weight-bits 4 --timesteps 16
/// --threshold-scale 3`.
pub fn loihi_spec() -> GenSpec {
    GenSpec {
        layers: vec![4096, 60000, 60000],
        storage: Storage::Lists,
        fan_in: Some(52),
        locality: Some(2048),
        weight_bits: 4,
        timesteps: 16,
        threshold_scale: 3.0,
        ..GenSpec::default()
    }
}

/// A conv net description: `1x28x28:c8k3s1p1,p2,c16k3s2p0,d10`
/// (input CxHxW; `cOkKsSpP` Conv2d with O channels, kernel K, stride S,
/// padding P; `pK` SumPool2d; `dN` Dense with N outputs).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    pub input: Shape,
    pub layers: Vec<ConvLayerSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConvLayerSpec {
    Conv {
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    Pool(usize),
    Dense(usize),
}

pub fn parse_conv(spec: &str) -> std::result::Result<ConvSpec, String> {
    let bad =
        |what: &str| format!("--conv {spec:?}: {what}; expected e.g. 1x28x28:c8k3s1p1,p2,d10");
    let (shape, rest) = spec.split_once(':').ok_or_else(|| bad("missing ':'"))?;
    let dims: Vec<usize> = shape
        .split('x')
        .map(|d| d.parse().map_err(|_| bad("input shape must be CxHxW")))
        .collect::<std::result::Result<_, _>>()?;
    if dims.len() != 3 || dims.contains(&0) {
        return Err(bad("input shape must be CxHxW"));
    }
    let size = |s: &Shape| s.c.checked_mul(s.h).and_then(|x| x.checked_mul(s.w));
    let mut at = Shape {
        c: dims[0],
        h: dims[1],
        w: dims[2],
    };
    let input = at;
    if size(&at).is_none_or(|n| n > MAX_NEURONS) {
        return Err(bad(&format!("an input of more than {MAX_NEURONS} values")));
    }
    let mut layers = vec![];
    for tok in rest.split(',') {
        let num = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| bad(&format!("bad number in {tok:?}")))
        };
        let range = |what: &str, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(bad(&format!(
                    "{tok:?}: {what} {v} is outside {lo} ..= {hi}"
                )))
            } else {
                Ok(v)
            }
        };
        let layer = if let Some(r) = tok.strip_prefix('c') {
            // cOkKsSpP
            let (o, r) = r
                .split_once('k')
                .ok_or_else(|| bad(&format!("{tok:?} lacks k")))?;
            let (k, r) = r
                .split_once('s')
                .ok_or_else(|| bad(&format!("{tok:?} lacks s")))?;
            let (st, p) = r
                .split_once('p')
                .ok_or_else(|| bad(&format!("{tok:?} lacks p")))?;
            let out_ch = range("channels", num(o)?, 1, 1 << 16)?;
            let kernel = range("kernel", num(k)?, 1, 64)?;
            let stride = range("stride", num(st)?, 1, 64)?;
            let padding = range("padding", num(p)?, 0, kernel - 1)?;
            range(
                "kernel",
                kernel,
                1,
                (at.h + 2 * padding).min(at.w + 2 * padding),
            )?;
            at = Shape {
                c: out_ch,
                h: (at.h + 2 * padding - kernel) / stride + 1,
                w: (at.w + 2 * padding - kernel) / stride + 1,
            };
            ConvLayerSpec::Conv {
                out_ch,
                kernel,
                stride,
                padding,
            }
        } else if let Some(r) = tok.strip_prefix('p') {
            let k = range("pooling size", num(r)?, 1, at.h.min(at.w))?;
            at = Shape {
                c: at.c,
                h: at.h / k,
                w: at.w / k,
            };
            ConvLayerSpec::Pool(k)
        } else if let Some(r) = tok.strip_prefix('d') {
            let n = range("outputs", num(r)?, 1, MAX_NEURONS)?;
            at = Shape::flat(n);
            ConvLayerSpec::Dense(n)
        } else {
            return Err(bad(&format!("unknown layer {tok:?}")));
        };
        if size(&at).is_none_or(|n| n > MAX_NEURONS) {
            return Err(bad(&format!("{tok:?} has more than {MAX_NEURONS} outputs")));
        }
        layers.push(layer);
    }
    Ok(ConvSpec { input, layers })
}

/// Generates a model from a spec that `check` accepted.
pub fn generate(spec: &GenSpec) -> Model {
    if spec.storage == Storage::Lists {
        return generate_lists(spec);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let kinds = layer_kinds(spec);
    let mut prev = input_shape(spec);
    let wmax = weight_max(spec.weight_bits);
    let mut layers = vec![];
    for (l, kind) in kinds.iter().enumerate() {
        let shape = layer_shape(kind, prev);
        let weights: Vec<i32> = (0..kind.n_weights())
            .map(|_| {
                if rng.random_bool(spec.sparsity.clamp(0.0, 1.0)) {
                    0
                } else {
                    // Positive-leaning weights keep deep synthetic nets active.
                    let mag = rng.random_range(1..=wmax);
                    if rng.random_bool(0.35) {
                        -mag
                    } else {
                        mag
                    }
                }
            })
            .collect();
        let fan_in = match *kind {
            LayerKind::Dense { inputs, .. } => inputs as f64 * (1.0 - spec.sparsity),
            LayerKind::Conv2d { in_ch, kernel, .. } => {
                (in_ch * kernel * kernel) as f64 * (1.0 - spec.sparsity)
            }
            LayerKind::SumPool2d { k } => (k * k) as f64,
        };
        layers.push(Layer {
            name: format!("l{l}"),
            kind: *kind,
            weight_bits: spec.weight_bits,
            weights,
            stdp: None,
            lateral_inhibition: 0,
            neuron: neuron(spec, l, kind, fan_in, l + 1 == kinds.len()),
        });
        prev = shape.output;
    }
    Chain {
        name: format!("synthetic-{}", arch_name(spec)),
        metadata: metadata(spec),
        timesteps: spec.timesteps,
        semantics: spec.semantics,
        input: input(spec),
        readout: spec.readout,
        early_exit: None,
        layers,
    }
    .into_model()
}

fn input_shape(spec: &GenSpec) -> Shape {
    match &spec.conv {
        Some(c) => c.input,
        None => Shape::flat(spec.layers[0]),
    }
}

fn input(spec: &GenSpec) -> Input {
    Input {
        size: input_shape(spec).len(),
        encoding: match spec.graded_bits {
            Some(bits) => InputEncoding::Graded { bits },
            None => InputEncoding::Spikes,
        },
        rate: spec.input_rate,
        shape: None,
    }
}

fn metadata(spec: &GenSpec) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    metadata.insert("generator".into(), "neurocycle gen".into());
    metadata.insert("seed".into(), spec.seed.to_string());
    metadata.insert("sparsity".into(), spec.sparsity.to_string());
    if spec.storage == Storage::Lists {
        if let Some(k) = spec.fan_in {
            metadata.insert("fan_in".into(), k.to_string());
        }
        if let Some(w) = spec.locality {
            metadata.insert("locality".into(), w.to_string());
        }
        if spec.recurrent > 0 {
            metadata.insert("recurrent_fan_in".into(), spec.recurrent.to_string());
        }
    }
    metadata
}

/// The neurons of layer `l`: the threshold is `threshold_scale` times the
/// expected drive of `fan_in` synapses (sources active at the input rate,
/// or the graded input's mean payload, times the mean weight).
fn neuron(spec: &GenSpec, l: usize, kind: &LayerKind, fan_in: f64, is_last: bool) -> Neuron {
    let wmax = weight_max(spec.weight_bits);
    // Expected fraction of active inputs feeding a layer; starts at the
    // stimulus density and is assumed to stay near it downstream.
    let activity = match (l, spec.graded_bits) {
        (0, Some(b)) => spec.input_rate * ((1u32 << b) as f64 / 2.0),
        _ => spec.input_rate,
    };
    let mean_w = if matches!(kind, LayerKind::SumPool2d { .. }) {
        1.0
    } else {
        0.3 * (wmax as f64 + 1.0) / 2.0
    };
    let drive = fan_in * activity * mean_w;
    let hi = (1i64 << (spec.state_bits - 1)) - 1;
    let threshold = ((drive * spec.threshold_scale).round() as i64).clamp(0, hi) as i32;
    Neuron {
        adaptation: None,
        threshold: Param::Scalar(threshold),
        bias: Param::Scalar(0),
        du: spec.du,
        dv: if is_last && spec.readout == Readout::Membrane {
            0
        } else {
            spec.dv
        },
        v_reset: 0,
        reset: spec.reset,
        input_shift: 0,
        input_right_shift: 0,
        u_init: crate::model::Param::Scalar(0),
        v_init: crate::model::Param::Scalar(0),
        loihi_bounds: false,
        state_bits: spec.state_bits,
        decay_bits: 12,
    }
}

/// Draws the sorted, distinct sources of one target neuron at a time.
struct Sampler {
    /// `marks[s] == stamp`: source s is taken for the current target.
    marks: Vec<u64>,
    stamp: u64,
    picks: Vec<u32>,
}

impl Sampler {
    fn new(n_sources: usize) -> Sampler {
        Sampler {
            marks: vec![0; n_sources],
            stamp: 0,
            picks: vec![],
        }
    }

    /// Every source of `lo..lo + width` with probability `density`
    /// (geometric gaps), or exactly `fan_in` of them (Floyd's sampling).
    fn draw(
        &mut self,
        rng: &mut ChaCha8Rng,
        lo: usize,
        width: usize,
        fan_in: Option<usize>,
        density: f64,
    ) {
        self.stamp += 1;
        let out = &mut self.picks;
        out.clear();
        match fan_in {
            Some(k) => {
                let k = k.min(width);
                for j in width - k..width {
                    let t = rng.random_range(0..=j);
                    let pick = if self.marks[lo + t] == self.stamp {
                        j
                    } else {
                        t
                    };
                    self.marks[lo + pick] = self.stamp;
                    out.push((lo + pick) as u32);
                }
                out.sort_unstable();
            }
            None if density >= 1.0 => out.extend((lo..lo + width).map(|s| s as u32)),
            None if density <= 0.0 => {}
            None => {
                let ln_q = (1.0 - density).ln();
                let mut at = 0usize;
                loop {
                    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                    let gap = (u.ln() / ln_q).floor();
                    if gap >= (width - at) as f64 {
                        break;
                    }
                    at += gap as usize;
                    out.push((lo + at) as u32);
                    at += 1;
                    if at >= width {
                        break;
                    }
                }
            }
        }
    }
}

/// The window of sources of target `o` of `n_out` over `n_in` sources.
fn window(o: usize, n_out: usize, n_in: usize, locality: Option<usize>) -> (usize, usize) {
    let w = locality.unwrap_or(n_in).clamp(1, n_in);
    let centre = ((o as f64 + 0.5) * n_in as f64 / n_out as f64) as usize;
    (centre.saturating_sub(w / 2).min(n_in - w), w)
}

/// A sparse projection drawn target by target, compressed by source
/// without a sort (targets come in order).
fn draw_projection(
    rng: &mut ChaCha8Rng,
    n_in: usize,
    n_out: usize,
    spec: &GenSpec,
    fan_in: Option<usize>,
    wmax: i32,
) -> Sparse {
    let density = 1.0 - spec.sparsity;
    let mut sampler = Sampler::new(n_in);
    let mut by_target: Vec<u32> = vec![];
    let mut target_start = Vec::with_capacity(n_out + 1);
    let mut weights_by_target: Vec<i32> = vec![];
    target_start.push(0usize);
    for o in 0..n_out {
        let (lo, w) = window(o, n_out, n_in, spec.locality);
        sampler.draw(rng, lo, w, fan_in, density);
        for &s in &sampler.picks {
            by_target.push(s);
            let mag = rng.random_range(1..=wmax);
            weights_by_target.push(if rng.random_bool(0.35) { -mag } else { mag });
        }
        target_start.push(by_target.len());
    }
    // Transpose by counting: sources ascending, each one's targets ascending.
    let mut offsets = vec![0usize; n_in + 1];
    for &s in &by_target {
        offsets[s as usize + 1] += 1;
    }
    for s in 0..n_in {
        offsets[s + 1] += offsets[s];
    }
    let mut fill = offsets.clone();
    let mut targets = vec![0u32; by_target.len()];
    let mut weights = vec![0i32; by_target.len()];
    for o in 0..n_out {
        for k in target_start[o]..target_start[o + 1] {
            let s = by_target[k] as usize;
            targets[fill[s]] = o as u32;
            weights[fill[s]] = weights_by_target[k];
            fill[s] += 1;
        }
    }
    Sparse {
        offsets,
        targets,
        weights,
    }
}

/// List storage: dense layers become synapse lists drawn per target
/// (conv and pooling layers stay what they are), plus the recurrent
/// projections.
fn generate_lists(spec: &GenSpec) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let kinds = layer_kinds(spec);
    let wmax = weight_max(spec.weight_bits);
    let mut prev = input_shape(spec);
    let mut populations = vec![];
    let mut projections = vec![];
    let density = 1.0 - spec.sparsity;
    let sources_of = |n_in: usize, fan_in: Option<usize>| match fan_in {
        Some(k) => k.min(spec.locality.unwrap_or(n_in).min(n_in)) as f64,
        None => spec.locality.unwrap_or(n_in).min(n_in) as f64 * density,
    };
    for (l, kind) in kinds.iter().enumerate() {
        let shape = layer_shape(kind, prev);
        let source = if l == 0 {
            Source::Input
        } else {
            Source::Population(l - 1)
        };
        let (conn, mut fan_in) = match *kind {
            LayerKind::Dense { inputs, outputs } => (
                Connectivity::Sparse(draw_projection(
                    &mut rng,
                    inputs,
                    outputs,
                    spec,
                    spec.fan_in,
                    wmax,
                )),
                sources_of(inputs, spec.fan_in),
            ),
            LayerKind::SumPool2d { k } => (Connectivity::SumPool2d { k }, (k * k) as f64),
            LayerKind::Conv2d { in_ch, kernel, .. } => {
                let layer = Layer {
                    name: String::new(),
                    kind: *kind,
                    weight_bits: spec.weight_bits,
                    weights: (0..kind.n_weights())
                        .map(|_| {
                            if rng.random_bool(spec.sparsity.clamp(0.0, 1.0)) {
                                0
                            } else {
                                let mag = rng.random_range(1..=wmax);
                                if rng.random_bool(0.35) {
                                    -mag
                                } else {
                                    mag
                                }
                            }
                        })
                        .collect(),
                    neuron: neuron(spec, l, kind, 0.0, false),
                    stdp: None,
                    lateral_inhibition: 0,
                };
                (layer.conn(), (in_ch * kernel * kernel) as f64 * density)
            }
        };
        projections.push(Projection {
            full_range: false,
            name: String::new(),
            source,
            target: l,
            weight_bits: spec.weight_bits,
            delay: None,
            conn,
            stdp: None,
        });
        let is_last = l + 1 == kinds.len();
        if spec.recurrent > 0 && !is_last {
            let n = shape.output.len();
            let k = spec.recurrent.min(n);
            let sparse = draw_projection(&mut rng, n, n, spec, Some(k), wmax);
            fan_in += sources_of(n, Some(k));
            projections.push(Projection {
                full_range: false,
                name: format!("l{l}-recurrent"),
                source: Source::Population(l),
                target: l,
                weight_bits: spec.weight_bits,
                delay: Some(1),
                conn: Connectivity::Sparse(sparse),
                stdp: None,
            });
        }
        populations.push(Population {
            name: format!("l{l}"),
            shape: shape.output,
            neuron: neuron(spec, l, kind, fan_in, is_last),
            lateral_inhibition: 0,
        });
        prev = shape.output;
    }
    Model {
        name: format!("synthetic-{}", arch_name(spec)),
        metadata: metadata(spec),
        timesteps: spec.timesteps,
        semantics: spec.semantics,
        input: input(spec),
        readout: spec.readout,
        early_exit: None,
        output: populations.len() - 1,
        populations,
        projections,
    }
}

impl GenSpec {
    /// Synapses the spec will draw (an estimate for densities), and the
    /// bytes generating and writing the model takes at most (about).
    pub fn estimate(&self) -> (f64, f64) {
        let kinds = layer_kinds(self);
        let mut prev = input_shape(self);
        let (mut synapses, mut bytes) = (0f64, 0f64);
        for kind in &kinds {
            let out = layer_shape(kind, prev).output.len() as f64;
            match (*kind, self.storage) {
                (LayerKind::Dense { inputs, .. }, Storage::Lists) => {
                    let w = self.locality.unwrap_or(inputs).min(inputs) as f64;
                    let per = self
                        .fan_in
                        .map_or(w * (1.0 - self.sparsity), |k| (k as f64).min(w));
                    synapses += per * out;
                    // Two lists of (source, weight) while drawing, the model's
                    // own, and the written file.
                    bytes += per * out * 28.0 + inputs as f64 * 16.0;
                }
                (k, _) => {
                    let n = k.n_weights() as f64;
                    synapses += n * (1.0 - self.sparsity);
                    // The weights, and about 4 bytes each of RON text.
                    bytes += n * 12.0;
                }
            }
            if self.storage == Storage::Lists && self.recurrent > 0 {
                let r = (self.recurrent as f64).min(out);
                synapses += r * out;
                bytes += r * out * 28.0;
            }
            prev = layer_shape(kind, prev).output;
        }
        (synapses, bytes)
    }

    /// Checks every option against its range and the memory the model
    /// would need against `max_bytes`; errors name the option.
    pub fn check(&self, max_bytes: f64) -> Result<()> {
        let cl = "command line";
        match &self.conv {
            None => {
                if self.layers.len() < 2 {
                    return Err(Error::Usage(
                        "--layers needs the input size and at least one layer, e.g. 784,10".into(),
                    ));
                }
                for n in &self.layers {
                    check_range(cl, "--layers", *n, 1, MAX_NEURONS)?;
                }
            }
            Some(c) => {
                check_range(cl, "--conv input size", c.input.len(), 1, MAX_NEURONS)?;
                for kind in conv_kinds(c) {
                    check_range(cl, "--conv layer size", kind.n_weights(), 0, 1 << 32)?;
                }
            }
        }
        if !(0.0..=1.0).contains(&self.sparsity) {
            return Err(Error::invalid(
                cl,
                "--sparsity",
                self.sparsity,
                "0.0 ..= 1.0",
            ));
        }
        if !(0.0..=1.0).contains(&self.input_rate) {
            return Err(Error::invalid(
                cl,
                "--input-rate",
                self.input_rate,
                "0.0 ..= 1.0",
            ));
        }
        if !(self.threshold_scale.is_finite() && self.threshold_scale >= 0.0) {
            return Err(Error::invalid(
                cl,
                "--threshold-scale",
                self.threshold_scale,
                "a finite number >= 0",
            ));
        }
        check_range(cl, "--weight-bits", self.weight_bits, 1, 16)?;
        check_range(cl, "--state-bits", self.state_bits, 2, 32)?;
        check_range(cl, "--timesteps", self.timesteps, 1, 1 << 20)?;
        check_range(cl, "--du", self.du, 0, 4096)?;
        check_range(cl, "--dv", self.dv, 0, 4096)?;
        if let Some(b) = self.graded_bits {
            check_range(cl, "--graded-bits", b, 1, 16)?;
        }
        if let Some(k) = self.fan_in {
            check_range(cl, "--fan-in", k, 1, MAX_NEURONS)?;
        }
        if let Some(w) = self.locality {
            check_range(cl, "--locality", w, 1, MAX_NEURONS)?;
        }
        let (synapses, bytes) = self.estimate();
        if bytes > max_bytes {
            return Err(Error::invalid(
                cl,
                "model size",
                format!(
                    "about {:.3e} synapses needing about {:.1} GiB",
                    synapses,
                    bytes / (1u64 << 30) as f64
                ),
                format!(
                    "at most {:.1} GiB (--max-memory; default: the memory available){}",
                    max_bytes / (1u64 << 30) as f64,
                    if self.storage == Storage::Dense && self.conv.is_none() {
                        "; --connectivity sparse stores only the synapses"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(())
    }
}

fn arch_name(spec: &GenSpec) -> String {
    match &spec.conv {
        Some(c) => format!("conv{}", c.layers.len()),
        None => spec
            .layers
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("-"),
    }
}

fn layer_kinds(spec: &GenSpec) -> Vec<LayerKind> {
    match &spec.conv {
        None => spec
            .layers
            .windows(2)
            .map(|w| LayerKind::Dense {
                inputs: w[0],
                outputs: w[1],
            })
            .collect(),
        Some(c) => conv_kinds(c),
    }
}

/// The layer kinds of a conv spec, shapes chained from its input.
pub fn conv_kinds(c: &ConvSpec) -> Vec<LayerKind> {
    let mut prev = c.input;
    let mut kinds = vec![];
    for l in &c.layers {
        let kind = match *l {
            ConvLayerSpec::Conv {
                out_ch,
                kernel,
                stride,
                padding,
            } => LayerKind::Conv2d {
                in_ch: prev.c,
                out_ch,
                kernel,
                stride,
                padding,
                in_h: prev.h,
                in_w: prev.w,
            },
            ConvLayerSpec::Pool(k) => LayerKind::SumPool2d { k },
            ConvLayerSpec::Dense(n) => LayerKind::Dense {
                inputs: prev.len(),
                outputs: n,
            },
        };
        prev = layer_shape(&kind, prev).output;
        kinds.push(kind);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_models_validate() {
        let m = generate(&GenSpec::default());
        m.validate("gen").unwrap();
        let Connectivity::Dense { weights } = &m.projections[0].conn else {
            panic!("dense")
        };
        let zeros = weights.iter().filter(|w| **w == 0).count();
        let frac = zeros as f64 / weights.len() as f64;
        assert!((frac - 0.9).abs() < 0.01, "sparsity {frac}");
    }

    #[test]
    fn conv_spec_parses_and_generates() {
        let c = parse_conv("1x12x12:c4k3s1p1,p2,d10").unwrap();
        assert_eq!(c.layers.len(), 3);
        let m = generate(&GenSpec {
            conv: Some(c),
            ..GenSpec::default()
        });
        m.validate("gen").unwrap();
        assert_eq!(m.output_size(), 10);
        assert!(parse_conv("1x12:c4").is_err());
    }

    #[test]
    fn same_seed_same_model() {
        let a = generate(&GenSpec::default());
        let b = generate(&GenSpec::default());
        assert_eq!(a, b);
        let c = generate(&GenSpec {
            seed: 2,
            ..GenSpec::default()
        });
        assert_ne!(a.projections[0].conn, c.projections[0].conn);
    }

    fn lists(fan_in: Option<usize>, locality: Option<usize>, recurrent: usize) -> GenSpec {
        GenSpec {
            layers: vec![300, 1000, 200],
            storage: Storage::Lists,
            fan_in,
            locality,
            recurrent,
            ..GenSpec::default()
        }
    }

    fn sparse(m: &Model, j: usize) -> &Sparse {
        match &m.projections[j].conn {
            Connectivity::Sparse(s) => s,
            _ => panic!("a sparse projection"),
        }
    }

    #[test]
    fn synapse_lists_keep_fan_in_locality_and_recurrence() {
        let m = generate(&lists(Some(17), Some(40), 5));
        m.validate("gen").unwrap();
        // input -> l0, l0 -> l0 (recurrent), l0 -> l1; the output has none.
        assert_eq!(m.projections.len(), 3);
        assert_eq!(m.projections[1].delay, Some(1));
        assert_eq!(m.projections[1].source, Source::Population(0));
        for (j, n_src, n_out, k) in [(0, 300, 1000, 17), (1, 1000, 1000, 5), (2, 1000, 200, 17)] {
            let inc = synapses::Incoming::of(
                m.projections[j].conn.view(),
                Shape::flat(n_src),
                Shape::flat(n_out),
            );
            for o in 0..n_out {
                let srcs = inc.of_target(o);
                assert_eq!(srcs.len(), k, "projection {j} target {o}");
                // Within 40 sources around the target's position.
                let centre = (o as f64 + 0.5) * n_src as f64 / n_out as f64;
                for &s in srcs {
                    assert!(
                        (s as f64 - centre).abs() <= 40.0,
                        "projection {j}: {s} for {o}"
                    );
                }
            }
        }
        assert_eq!(
            m,
            generate(&lists(Some(17), Some(40), 5)),
            "same seed, same model"
        );
    }

    #[test]
    fn synapse_lists_by_density_match_the_sparsity() {
        let m = generate(&lists(None, None, 0));
        let s = sparse(&m, 0);
        let density = s.len() as f64 / (300.0 * 1000.0);
        assert!((density - 0.1).abs() < 0.005, "{density}");
        let (estimate, _) = lists(None, None, 0).estimate();
        assert!((estimate - m.n_synapses() as f64).abs() < 0.05 * estimate);
    }

    #[test]
    fn bad_specs_and_oversized_models_are_refused_before_drawing() {
        let e = GenSpec {
            layers: vec![200_000, 200_000],
            ..GenSpec::default()
        }
        .check(8e9)
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("GiB") && e.contains("--max-memory") && e.contains("--connectivity sparse"),
            "{e}"
        );
        for bad in [
            "1x28x28:c8k3s0p1,d10",
            "1x28x28:p0,d10",
            "1x28x28:c8k3s1p1,p0,d10",
            "1x4x4:c2k9s1p0,d3",
        ] {
            assert!(parse_conv(bad).is_err(), "{bad}");
        }
        assert!(lists(Some(0), None, 0).check(8e9).is_err());
    }
}
