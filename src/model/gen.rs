//! Synthetic model generator: seeded random sparse, quantized SNNs, the
//! workloads that architects, tests and benches run.

use super::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
    let mut layers = vec![];
    for tok in rest.split(',') {
        let num = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| bad(&format!("bad number in {tok:?}")))
        };
        let layer = if let Some(r) = tok.strip_prefix('c') {
            // cOkKsSpP
            let (o, r) = r
                .split_once('k')
                .ok_or_else(|| bad(&format!("{tok:?} lacks k")))?;
            let (k, r) = r
                .split_once('s')
                .ok_or_else(|| bad(&format!("{tok:?} lacks s")))?;
            let (s, p) = r
                .split_once('p')
                .ok_or_else(|| bad(&format!("{tok:?} lacks p")))?;
            ConvLayerSpec::Conv {
                out_ch: num(o)?,
                kernel: num(k)?,
                stride: num(s)?,
                padding: num(p)?,
            }
        } else if let Some(r) = tok.strip_prefix('p') {
            ConvLayerSpec::Pool(num(r)?)
        } else if let Some(r) = tok.strip_prefix('d') {
            ConvLayerSpec::Dense(num(r)?)
        } else {
            return Err(bad(&format!("unknown layer {tok:?}")));
        };
        layers.push(layer);
    }
    Ok(ConvSpec {
        input: Shape {
            c: dims[0],
            h: dims[1],
            w: dims[2],
        },
        layers,
    })
}

/// Generates a model; the result is validated by the caller.
pub fn generate(spec: &GenSpec) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let kinds = layer_kinds(spec);
    let input_size = match &spec.conv {
        Some(c) => c.input.len(),
        None => spec.layers[0],
    };
    let mut prev = Shape::flat(input_size);
    if let Some(c) = &spec.conv {
        prev = c.input;
    }
    let wmax = weight_max(spec.weight_bits);
    let mut layers = vec![];
    // Expected fraction of active inputs feeding a layer; starts at the
    // stimulus density and is assumed to stay near it downstream.
    let activity = match spec.graded_bits {
        Some(b) => spec.input_rate * ((1u32 << b) as f64 / 2.0),
        None => spec.input_rate,
    };
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
            LayerKind::Dense { inputs, .. } => inputs as f64,
            LayerKind::Conv2d { in_ch, kernel, .. } => (in_ch * kernel * kernel) as f64,
            LayerKind::SumPool2d { k } => (k * k) as f64,
        };
        let density = if matches!(kind, LayerKind::SumPool2d { .. }) {
            1.0
        } else {
            1.0 - spec.sparsity
        };
        let input_activity = if l == 0 { activity } else { spec.input_rate };
        let mean_w = if matches!(kind, LayerKind::SumPool2d { .. }) {
            1.0
        } else {
            0.3 * (wmax as f64 + 1.0) / 2.0
        };
        let drive = fan_in * density * input_activity * mean_w;
        let hi = (1i64 << (spec.state_bits - 1)) - 1;
        let threshold = ((drive * spec.threshold_scale).round() as i64).clamp(0, hi) as i32;
        let is_last = l + 1 == kinds.len();
        layers.push(Layer {
            name: format!("l{l}"),
            kind: *kind,
            weight_bits: spec.weight_bits,
            weights,
            stdp: None,
            lateral_inhibition: 0,
            neuron: Neuron {
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
                state_bits: spec.state_bits,
            },
        });
        prev = shape.output;
    }
    let mut metadata = BTreeMap::new();
    metadata.insert("generator".into(), "neurocycle gen".into());
    metadata.insert("seed".into(), spec.seed.to_string());
    metadata.insert("sparsity".into(), spec.sparsity.to_string());
    Chain {
        name: format!("synthetic-{}", arch_name(spec)),
        metadata,
        timesteps: spec.timesteps,
        semantics: spec.semantics,
        input: Input {
            size: input_size,
            encoding: match spec.graded_bits {
                Some(bits) => InputEncoding::Graded { bits },
                None => InputEncoding::Spikes,
            },
            rate: spec.input_rate,
            shape: None,
        },
        readout: spec.readout,
        early_exit: None,
        layers,
    }
    .into_model()
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
}
