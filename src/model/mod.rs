//! The SNN intermediate representation: what a model file (RON, `models/`)
//! holds, how it is checked on load, and the shapes of its layers.
//! The format is documented in `docs/model-format.md`.

pub mod gen;
pub mod neuron;
pub mod stimulus;

use crate::error::{check_range, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    /// Free-form provenance: data set, command, seed, measured accuracy.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub timesteps: u32,
    pub semantics: Semantics,
    pub input: Input,
    pub readout: Readout,
    pub layers: Vec<Layer>,
    /// Stop an inference before `timesteps` once its answer is settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_exit: Option<EarlyExit>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// Layers run in order within a timestep; a spike reaches the next layer
    /// in the same timestep.
    LayerSerial,
    /// Every layer updates once per timestep; each connection delays by one.
    Pipelined,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub size: usize,
    pub encoding: InputEncoding,
    /// Density of the synthetic stimulus used when no data set is given:
    /// the probability that an input is active in a timestep (spikes) or in
    /// the sample (graded).
    #[serde(default = "default_rate")]
    pub rate: f64,
}

fn default_rate() -> f64 {
    0.2
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InputEncoding {
    /// Binary spikes per timestep (rate code or sensor events).
    Spikes,
    /// Direct encoding: each input carries a `bits`-wide unsigned payload.
    Graded { bits: u8 },
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// Output class = argmax of output spike counts over all timesteps.
    SpikeCount,
    /// Output class = argmax of the output layer's final voltage `v`.
    Membrane,
}

/// Early exit: after each timestep the readout so far (spike counts, or
/// the output layer's membrane) is read; the inference ends once at least
/// `min_timesteps` have run and one output has strictly led the others
/// for the last `patience` timesteps in a row. The chip and the reference
/// executor apply the same rule.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EarlyExit {
    pub patience: u32,
    #[serde(default)]
    pub min_timesteps: u32,
}

/// The state of the early-exit rule during one inference.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitWatch {
    leader: Option<usize>,
    streak: u32,
}

impl ExitWatch {
    /// Feeds the readout after `done` timesteps; true when the inference
    /// may stop.
    pub fn settled(&mut self, rule: &EarlyExit, done: u32, readout: &[i64]) -> bool {
        let mut best: Option<usize> = None;
        let mut tie = false;
        for (i, v) in readout.iter().enumerate() {
            match best {
                Some(b) if *v < readout[b] => {}
                Some(b) if *v == readout[b] => tie = true,
                _ => {
                    best = Some(i);
                    tie = false;
                }
            }
        }
        let lead = if tie { None } else { best };
        if lead.is_some() && lead == self.leader {
            self.streak += 1;
        } else {
            self.leader = lead;
            self.streak = lead.is_some() as u32;
        }
        done >= rule.min_timesteps && self.streak >= rule.patience
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    #[serde(default)]
    pub name: String,
    pub kind: LayerKind,
    /// 1 = binary (+-1, 0 = pruned), 2 = ternary, up to 16.
    pub weight_bits: u8,
    /// Dense: `[outputs][inputs]`; Conv2d: `[out_ch][in_ch][kernel][kernel]`,
    /// both row-major. Empty for SumPool2d (unit weights).
    #[serde(default)]
    pub weights: Vec<i32>,
    pub neuron: Neuron,
    /// On-chip learning of this layer's weights (Dense, `layer_serial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdp: Option<Stdp>,
    /// Winner-take-all: each spike of a neuron of this layer adds
    /// `-lateral_inhibition` to the input of every other neuron of the layer
    /// in the next timestep (spikes travel the mesh back to the layer).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lateral_inhibition: i32,
}

fn is_zero(x: &i32) -> bool {
    *x == 0
}

/// Pair-based STDP with 8-bit traces (0..=255), all integer:
/// - each timestep a trace decays, `x = decay(x, d)`, and a spike adds its
///   increment (saturating at 255);
/// - a presynaptic spike depresses its row:
///   `w -= (a_minus * y_post) >> 8` with the post traces of the step before;
/// - a postsynaptic spike potentiates its column:
///   `w += (a_plus * (x_pre - pre_target)) >> 8` (arithmetic shift), with the
///   pre traces including this timestep's spikes;
/// - weights stay within `w_min ..= w_max`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Stdp {
    pub a_plus: i32,
    pub a_minus: i32,
    #[serde(default)]
    pub pre_target: i32,
    pub pre_increment: i32,
    pub post_increment: i32,
    /// 12-bit trace decays (as `du`, `dv`).
    pub pre_decay: u16,
    pub post_decay: u16,
    pub w_min: i32,
    pub w_max: i32,
}

/// Largest value of an STDP trace.
pub const TRACE_MAX: i32 = 255;

/// Adaptive threshold: the neuron fires when `v > threshold + theta`; each
/// timestep `theta = decay(theta, decay) + increment * spiked`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Adaptation {
    pub increment: i32,
    pub decay: u16,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Dense {
        inputs: usize,
        outputs: usize,
    },
    Conv2d {
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        in_h: usize,
        in_w: usize,
    },
    /// Non-overlapping k x k sum pooling with unit weights; its input shape
    /// is the previous layer's output shape.
    SumPool2d {
        k: usize,
    },
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    #[default]
    ToValue,
    Subtract,
}

/// A per-layer scalar or one value per neuron.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Param {
    Scalar(i32),
    PerNeuron(Vec<i32>),
}

impl Default for Param {
    fn default() -> Self {
        Param::Scalar(0)
    }
}

impl Param {
    #[inline]
    pub fn at(&self, n: usize) -> i32 {
        match self {
            Param::Scalar(v) => *v,
            Param::PerNeuron(vs) => vs[n],
        }
    }
    fn values(&self) -> &[i32] {
        match self {
            Param::Scalar(v) => std::slice::from_ref(v),
            Param::PerNeuron(vs) => vs,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Neuron {
    /// Spike when `v > threshold`.
    pub threshold: Param,
    #[serde(default)]
    pub bias: Param,
    /// Current decay, 12-bit: 4096 = the current does not persist (plain LIF).
    #[serde(default = "full_decay")]
    pub du: u16,
    /// Voltage decay, 12-bit: 0 = no leak (IF).
    #[serde(default)]
    pub dv: u16,
    #[serde(default)]
    pub v_reset: i32,
    #[serde(default)]
    pub reset: Reset,
    #[serde(default)]
    pub input_shift: u8,
    /// Width of `u` and `v` (u wraps, v saturates).
    #[serde(default = "default_state_bits")]
    pub state_bits: u8,
    /// An adaptive threshold (one more state word per neuron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<Adaptation>,
}

fn full_decay() -> u16 {
    4096
}
fn default_state_bits() -> u8 {
    16
}

/// Channels, height, width; a flat vector is (n, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn flat(n: usize) -> Shape {
        Shape { c: n, h: 1, w: 1 }
    }
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    pub fn index(&self, c: usize, y: usize, x: usize) -> usize {
        (c * self.h + y) * self.w + x
    }
}

/// Input and output shape of every layer, derived once on validation.
#[derive(Clone, Debug)]
pub struct LayerShape {
    pub input: Shape,
    pub output: Shape,
}

/// Largest magnitude of a `bits`-wide weight (symmetric range).
pub fn weight_max(bits: u8) -> i32 {
    if bits <= 2 {
        1
    } else {
        (1 << (bits - 1)) - 1
    }
}

impl Model {
    pub fn load(path: &std::path::Path) -> Result<Model> {
        let text = crate::error::read_file(path)?;
        let name = path.display().to_string();
        let model: Model = crate::error::parse_ron(&name, &text)?;
        model.validate(&name)?;
        Ok(model)
    }

    pub fn to_ron(&self) -> String {
        let cfg = ron::ser::PrettyConfig::new()
            .depth_limit(3)
            .compact_arrays(true);
        ron::ser::to_string_pretty(self, cfg).expect("a model always serializes")
    }

    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    pub fn output_size(&self) -> usize {
        self.shapes().last().map(|s| s.output.len()).unwrap_or(0)
    }

    /// Shapes of all layers; only meaningful on a validated model.
    pub fn shapes(&self) -> Vec<LayerShape> {
        let mut prev = Shape::flat(self.input.size);
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let s = layer_shape(&layer.kind, prev);
            prev = s.output;
            out.push(s);
        }
        out
    }

    /// Checks everything a later stage relies on; `file` names the source
    /// in the errors.
    pub fn validate(&self, file: &str) -> Result<()> {
        check_range(file, "timesteps", self.timesteps, 1, 1 << 20)?;
        if let Some(e) = &self.early_exit {
            check_range(file, "early_exit.patience", e.patience, 1, self.timesteps)?;
            check_range(
                file,
                "early_exit.min_timesteps",
                e.min_timesteps,
                0,
                self.timesteps,
            )?;
        }
        check_range(file, "input.size", self.input.size, 1, 1 << 24)?;
        if !(0.0..=1.0).contains(&self.input.rate) {
            return Err(Error::invalid(
                file,
                "input.rate",
                self.input.rate,
                "0.0 ..= 1.0",
            ));
        }
        if let InputEncoding::Graded { bits } = self.input.encoding {
            check_range(file, "input.encoding.graded.bits", bits, 1, 16)?;
        }
        if self.layers.is_empty() {
            return Err(Error::invalid(file, "layers", "[]", "at least one layer"));
        }
        let mut prev = Shape::flat(self.input.size);
        for (l, layer) in self.layers.iter().enumerate() {
            let f = |field: &str| format!("layers[{l}].{field}");
            check_range(file, &f("weight_bits"), layer.weight_bits, 1, 16)?;
            let shape = match layer.kind {
                LayerKind::Dense { inputs, outputs } => {
                    if inputs != prev.len() {
                        return Err(Error::invalid(
                            file,
                            f("kind.inputs"),
                            inputs,
                            format!("{} (the size of the layer's input)", prev.len()),
                        ));
                    }
                    check_range(file, &f("kind.outputs"), outputs, 1, 1 << 24)?;
                    layer_shape(&layer.kind, prev)
                }
                LayerKind::Conv2d {
                    in_ch,
                    out_ch,
                    kernel,
                    stride,
                    padding,
                    in_h,
                    in_w,
                } => {
                    check_range(file, &f("kind.kernel"), kernel, 1, 64)?;
                    check_range(file, &f("kind.stride"), stride, 1, 64)?;
                    check_range(file, &f("kind.padding"), padding, 0, kernel - 1)?;
                    check_range(file, &f("kind.out_ch"), out_ch, 1, 1 << 16)?;
                    if in_ch * in_h * in_w != prev.len() || in_ch == 0 {
                        return Err(Error::invalid(
                            file,
                            f("kind"),
                            format!("in_ch*in_h*in_w = {}", in_ch * in_h * in_w),
                            format!("{} (the size of the layer's input)", prev.len()),
                        ));
                    }
                    if in_h + 2 * padding < kernel || in_w + 2 * padding < kernel {
                        return Err(Error::invalid(
                            file,
                            f("kind.kernel"),
                            kernel,
                            format!("at most the padded input ({in_h}x{in_w} + 2*{padding})"),
                        ));
                    }
                    layer_shape(&layer.kind, prev)
                }
                LayerKind::SumPool2d { k } => {
                    if l == 0 {
                        return Err(Error::invalid(
                            file,
                            f("kind"),
                            "sum_pool2d",
                            "a Dense or Conv2d first layer (pooling takes its shape from the layer before)",
                        ));
                    }
                    check_range(file, &f("kind.k"), k, 1, prev.h.min(prev.w).max(1))?;
                    layer_shape(&layer.kind, prev)
                }
            };
            let expected_weights = layer.kind.n_weights();
            if layer.weights.len() != expected_weights {
                return Err(Error::invalid(
                    file,
                    f("weights"),
                    format!("{} values", layer.weights.len()),
                    format!("{expected_weights} values"),
                ));
            }
            let wmax = weight_max(layer.weight_bits);
            if let Some((i, w)) = layer
                .weights
                .iter()
                .enumerate()
                .find(|(_, w)| w.abs() > wmax)
            {
                return Err(Error::invalid(
                    file,
                    format!("layers[{l}].weights[{i}]"),
                    w,
                    format!("-{wmax} ..= {wmax} for weight_bits = {}", layer.weight_bits),
                ));
            }
            validate_neuron(file, l, &layer.neuron, shape.output.len())?;
            validate_learning(file, l, layer, self)?;
            prev = shape.output;
        }
        Ok(())
    }
}

fn validate_neuron(file: &str, l: usize, n: &Neuron, size: usize) -> Result<()> {
    let f = |field: &str| format!("layers[{l}].neuron.{field}");
    check_range(file, &f("state_bits"), n.state_bits, 2, 32)?;
    check_range(file, &f("du"), n.du, 0, 4096)?;
    check_range(file, &f("dv"), n.dv, 0, 4096)?;
    check_range(file, &f("input_shift"), n.input_shift, 0, 31)?;
    let hi = ((1i64 << (n.state_bits - 1)) - 1) as i32;
    let lo = -hi - 1;
    check_range(file, &f("v_reset"), n.v_reset, lo, hi)?;
    for (name, p) in [("threshold", &n.threshold), ("bias", &n.bias)] {
        if let Param::PerNeuron(vs) = p {
            if vs.len() != size {
                return Err(Error::invalid(
                    file,
                    f(name),
                    format!("{} values", vs.len()),
                    format!("one value or {size} (one per neuron)"),
                ));
            }
        }
        for (i, v) in p.values().iter().enumerate() {
            if *v < lo || *v > hi {
                return Err(Error::invalid(
                    file,
                    format!("{}[{i}]", f(name)),
                    v,
                    format!("{lo} ..= {hi} (state_bits = {})", n.state_bits),
                ));
            }
        }
    }
    Ok(())
}

fn validate_learning(file: &str, l: usize, layer: &Layer, model: &Model) -> Result<()> {
    let f = |field: &str| format!("layers[{l}].{field}");
    let dense = matches!(layer.kind, LayerKind::Dense { .. });
    let hi = (1i32 << (layer.neuron.state_bits - 1)) - 1;
    if layer.lateral_inhibition != 0 {
        if !dense {
            return Err(Error::invalid(
                file,
                f("lateral_inhibition"),
                layer.lateral_inhibition,
                "0 on a layer that is not Dense",
            ));
        }
        check_range(
            file,
            &f("lateral_inhibition"),
            layer.lateral_inhibition,
            0,
            hi,
        )?;
    }
    if let Some(a) = &layer.neuron.adaptation {
        check_range(file, &f("neuron.adaptation.increment"), a.increment, 0, hi)?;
        check_range(file, &f("neuron.adaptation.decay"), a.decay, 0, 4096)?;
    }
    let Some(s) = &layer.stdp else { return Ok(()) };
    if !dense {
        return Err(Error::invalid(
            file,
            f("stdp"),
            "Some(..)",
            "None on a layer that is not Dense",
        ));
    }
    if model.semantics != Semantics::LayerSerial {
        return Err(Error::invalid(
            file,
            f("stdp"),
            "Some(..)",
            "None unless semantics is layer_serial",
        ));
    }
    check_range(file, &f("weight_bits"), layer.weight_bits, 3, 16)?;
    let wmax = weight_max(layer.weight_bits);
    check_range(file, &f("stdp.w_max"), s.w_max, -wmax, wmax)?;
    check_range(file, &f("stdp.w_min"), s.w_min, -wmax, s.w_max)?;
    check_range(file, &f("stdp.a_plus"), s.a_plus, 0, 1 << 16)?;
    check_range(file, &f("stdp.a_minus"), s.a_minus, 0, 1 << 16)?;
    check_range(file, &f("stdp.pre_target"), s.pre_target, 0, TRACE_MAX)?;
    check_range(
        file,
        &f("stdp.pre_increment"),
        s.pre_increment,
        0,
        TRACE_MAX,
    )?;
    check_range(
        file,
        &f("stdp.post_increment"),
        s.post_increment,
        0,
        TRACE_MAX,
    )?;
    check_range(file, &f("stdp.pre_decay"), s.pre_decay, 0, 4096)?;
    check_range(file, &f("stdp.post_decay"), s.post_decay, 0, 4096)?;
    if let Some((i, w)) = layer
        .weights
        .iter()
        .enumerate()
        .find(|(_, w)| **w < s.w_min || **w > s.w_max)
    {
        return Err(Error::invalid(
            file,
            format!("layers[{l}].weights[{i}]"),
            w,
            format!("{} ..= {} (stdp.w_min ..= stdp.w_max)", s.w_min, s.w_max),
        ));
    }
    Ok(())
}

pub fn layer_shape(kind: &LayerKind, prev: Shape) -> LayerShape {
    let output = match *kind {
        LayerKind::Dense { outputs, .. } => Shape::flat(outputs),
        LayerKind::Conv2d {
            out_ch,
            kernel,
            stride,
            padding,
            in_h,
            in_w,
            ..
        } => Shape {
            c: out_ch,
            h: (in_h + 2 * padding - kernel) / stride + 1,
            w: (in_w + 2 * padding - kernel) / stride + 1,
        },
        LayerKind::SumPool2d { k } => Shape {
            c: prev.c,
            h: prev.h / k,
            w: prev.w / k,
        },
    };
    let input = match *kind {
        LayerKind::Conv2d {
            in_ch, in_h, in_w, ..
        } => Shape {
            c: in_ch,
            h: in_h,
            w: in_w,
        },
        _ => prev,
    };
    LayerShape { input, output }
}

impl LayerKind {
    /// Length of the layer's `weights` list.
    pub fn n_weights(&self) -> usize {
        match *self {
            LayerKind::Dense { inputs, outputs } => inputs * outputs,
            LayerKind::Conv2d {
                in_ch,
                out_ch,
                kernel,
                ..
            } => out_ch * in_ch * kernel * kernel,
            LayerKind::SumPool2d { .. } => 0,
        }
    }
}

/// The output position along one axis whose kernel tap `k` covers input
/// position `i`, if any.
fn covering_output(
    i: usize,
    k: usize,
    padding: usize,
    stride: usize,
    out_len: usize,
) -> Option<usize> {
    let p = i + padding;
    if p < k || !(p - k).is_multiple_of(stride) {
        return None;
    }
    let o = (p - k) / stride;
    (o < out_len).then_some(o)
}

/// Calls `f(source, target, weight)` for every non-zero synapse of a layer,
/// in source-major order (the order of synapse rows).
pub fn for_each_synapse(layer: &Layer, shape: &LayerShape, mut f: impl FnMut(usize, usize, i32)) {
    match layer.kind {
        LayerKind::Dense { inputs, outputs } => {
            for i in 0..inputs {
                for o in 0..outputs {
                    let w = layer.weights[o * inputs + i];
                    if w != 0 {
                        f(i, o, w);
                    }
                }
            }
        }
        LayerKind::Conv2d {
            in_ch,
            kernel,
            stride,
            padding,
            ..
        } => {
            let (is, os) = (shape.input, shape.output);
            for ic in 0..in_ch {
                for iy in 0..is.h {
                    for ix in 0..is.w {
                        let src = is.index(ic, iy, ix);
                        // Output positions whose receptive field covers (iy, ix).
                        for oc in 0..os.c {
                            for ky in 0..kernel {
                                let Some(oy) = covering_output(iy, ky, padding, stride, os.h)
                                else {
                                    continue;
                                };
                                for kx in 0..kernel {
                                    let Some(ox) = covering_output(ix, kx, padding, stride, os.w)
                                    else {
                                        continue;
                                    };
                                    let w = layer.weights
                                        [((oc * in_ch + ic) * kernel + ky) * kernel + kx];
                                    if w != 0 {
                                        f(src, os.index(oc, oy, ox), w);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        LayerKind::SumPool2d { k } => {
            let (is, os) = (shape.input, shape.output);
            for c in 0..is.c {
                for y in 0..is.h {
                    for x in 0..is.w {
                        let (oy, ox) = (y / k, x / k);
                        if oy < os.h && ox < os.w {
                            f(is.index(c, y, x), os.index(c, oy, ox), 1);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_exit_needs_a_strict_leader_for_patience_timesteps() {
        let rule = EarlyExit {
            patience: 2,
            min_timesteps: 3,
        };
        let mut w = ExitWatch::default();
        // A tie has no leader; then output 1 leads twice, but before min_timesteps.
        assert!(!w.settled(&rule, 1, &[3, 3, 0]));
        assert!(!w.settled(&rule, 2, &[3, 4, 0]));
        assert!(w.settled(&rule, 3, &[3, 5, 0]));
        // A change of leader starts the count again.
        let mut w = ExitWatch::default();
        assert!(!w.settled(&rule, 3, &[5, 4]));
        assert!(!w.settled(&rule, 4, &[5, 6]));
        assert!(!w.settled(&rule, 5, &[7, 7]));
        assert!(!w.settled(&rule, 6, &[8, 7]));
        assert!(w.settled(&rule, 7, &[9, 7]));
    }

    pub(crate) fn tiny() -> Model {
        let text = include_str!("../../models/tiny.ron");
        crate::error::parse_ron("tiny.ron", text).unwrap()
    }

    #[test]
    fn hand_written_example_loads_and_validates() {
        let m = tiny();
        m.validate("tiny.ron").unwrap();
        assert_eq!(m.output_size(), 2);
    }

    #[test]
    fn roundtrip_through_ron() {
        let m = tiny();
        let back: Model = crate::error::parse_ron("x", &m.to_ron()).unwrap();
        assert_eq!(m, back);
    }

    #[test]
    fn out_of_range_weight_names_its_index() {
        let mut m = tiny();
        m.layers[0].weights[3] = 9;
        let e = m.validate("t.ron").unwrap_err().to_string();
        assert!(
            e.contains("layers[0].weights[3]") && e.contains("-1 ..= 1"),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_is_an_error_with_position() {
        let text = include_str!("../../models/tiny.ron").replacen("timesteps:", "timestep:", 1);
        let e = crate::error::parse_ron::<Model>("t.ron", &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.ron:") && e.contains("timestep"), "{e}");
    }

    #[test]
    fn conv_synapses_match_a_direct_convolution() {
        let layer = Layer {
            name: String::new(),
            stdp: None,
            lateral_inhibition: 0,
            kind: LayerKind::Conv2d {
                in_ch: 1,
                out_ch: 1,
                kernel: 3,
                stride: 1,
                padding: 1,
                in_h: 3,
                in_w: 3,
            },
            weight_bits: 8,
            weights: (1..=9).collect(),
            neuron: tiny().layers[0].neuron.clone(),
        };
        let shape = layer_shape(&layer.kind, Shape::flat(9));
        assert_eq!(shape.output, Shape { c: 1, h: 3, w: 3 });
        let mut n = 0;
        let mut centre = vec![];
        for_each_synapse(&layer, &shape, |s, t, w| {
            n += 1;
            if t == 4 {
                centre.push((s, w));
            }
        });
        // 9 outputs: 4 corners see 4 inputs, 4 edges 6, the centre 9.
        assert_eq!(n, 4 * 4 + 4 * 6 + 9);
        assert_eq!(
            centre,
            (0..9).map(|s| (s, s as i32 + 1)).collect::<Vec<_>>()
        );
    }
}
