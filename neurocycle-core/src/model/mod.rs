//! The SNN intermediate representation: a directed graph of neuron
//! populations joined by projections, each with a delay in timesteps.
//! A chain of layers (`chain.rs`) is its simplest case and the form the
//! trainer writes; files are RON (`file.rs`, readable, both forms) or the
//! binary `.ncm` (`ncm.rs`, compact, for large models). The formats are
//! documented in `docs/model-format.md`.
//!
//! Sparse projections are synapse lists (compressed by source), never
//! expanded: a model's memory grows with its synapses, not with
//! sources x targets.

pub mod chain;
pub mod file;
pub mod gen;
pub mod ncm;
pub mod neuron;
pub mod schedule;
pub mod stimulus;
pub mod synapses;

use crate::error::{check_range, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use chain::{layer_shape, Chain, Layer, LayerKind, LayerShape};
pub use schedule::Schedule;

/// A compressed SNN as the simulator runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    /// Free-form provenance: data set, command, seed, measured accuracy.
    pub metadata: BTreeMap<String, String>,
    pub timesteps: u32,
    pub semantics: Semantics,
    pub input: Input,
    pub readout: Readout,
    /// Stop an inference before `timesteps` once its answer is settled.
    pub early_exit: Option<EarlyExit>,
    pub populations: Vec<Population>,
    pub projections: Vec<Projection>,
    /// The population whose spikes or membrane give the readout.
    pub output: usize,
}

/// A group of neurons with one set of LIF parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    pub name: String,
    pub shape: Shape,
    pub neuron: Neuron,
    /// Winner-take-all: each spike adds `-lateral_inhibition` to the input
    /// of every other neuron of the population in the next timestep (the
    /// spikes travel the mesh back to the population's cores).
    pub lateral_inhibition: i32,
}

impl Population {
    pub fn len(&self) -> usize {
        self.shape.len()
    }
    pub fn is_empty(&self) -> bool {
        self.shape.is_empty()
    }
}

/// Where a projection's spikes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The model's input (written by the host; no neuron state).
    Input,
    Population(usize),
}

/// Synapses from one source to one target population.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub name: String,
    pub source: Source,
    pub target: usize,
    /// 1 = binary (+-1, 0 = pruned), 2 = ternary, up to 16.
    pub weight_bits: u8,
    /// Weights span the full two's-complement range, down to
    /// `-2^(weight_bits-1)` (Loihi's 8-bit -128); otherwise the range is
    /// symmetric. Needs `weight_bits >= 3`.
    pub full_range: bool,
    /// Timesteps between a spike and its effect; `None` takes the
    /// semantics' default (see `schedule`).
    pub delay: Option<u32>,
    pub conn: Connectivity,
    /// On-chip learning of the weights (Dense, delay 0, `layer_serial`).
    pub stdp: Option<Stdp>,
}

/// How a projection's synapses are laid out.
#[derive(Clone, Debug, PartialEq)]
pub enum Connectivity {
    /// Every (source, target) pair; `weights[target][source]` row-major,
    /// zeros are pruned synapses.
    Dense { weights: Vec<i32> },
    /// An explicit synapse list; a stored zero weight is a synapse.
    Sparse(Sparse),
    /// A convolution over the source viewed as `in_ch x in_h x in_w`;
    /// `weights[out_ch][in_ch][kernel][kernel]`.
    Conv2d { conv: Conv2d, weights: Vec<i32> },
    /// Non-overlapping k x k sum pooling with unit weights over the
    /// source's shape.
    SumPool2d { k: usize },
    /// Source neuron i to target neuron i, `weights[i]` (0 = none).
    OneToOne { weights: Vec<i32> },
}

/// The geometry of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub in_h: usize,
    pub in_w: usize,
}

impl Conv2d {
    pub fn input(&self) -> Shape {
        Shape {
            c: self.in_ch,
            h: self.in_h,
            w: self.in_w,
        }
    }
    /// Needs a validated geometry (stride >= 1, kernel within the padded input).
    pub fn output(&self) -> Shape {
        Shape {
            c: self.out_ch,
            h: (self.in_h + 2 * self.padding - self.kernel) / self.stride + 1,
            w: (self.in_w + 2 * self.padding - self.kernel) / self.stride + 1,
        }
    }
    pub fn n_weights(&self) -> usize {
        self.out_ch * self.in_ch * self.kernel * self.kernel
    }
}

/// Synapses compressed by source: source s reaches
/// `targets[offsets[s]..offsets[s + 1]]` (strictly increasing) with the
/// same range of `weights`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sparse {
    pub offsets: Vec<usize>,
    pub targets: Vec<u32>,
    pub weights: Vec<i32>,
}

impl Sparse {
    pub fn n_sources(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    pub fn len(&self) -> usize {
        self.targets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
    /// The (target, weight) pairs of source `s`.
    #[inline]
    pub fn row(&self, s: usize) -> (&[u32], &[i32]) {
        let r = self.offsets[s]..self.offsets[s + 1];
        (&self.targets[r.clone()], &self.weights[r])
    }

    /// Builds the lists from (source, target, weight) triples in any order.
    pub fn from_triples(n_sources: usize, mut triples: Vec<(u32, u32, i32)>) -> Sparse {
        triples.sort_unstable_by_key(|t| (t.0, t.1));
        let mut offsets = Vec::with_capacity(n_sources + 1);
        offsets.push(0);
        let mut s = 0usize;
        for (i, t) in triples.iter().enumerate() {
            while s < t.0 as usize {
                offsets.push(i);
                s += 1;
            }
        }
        while offsets.len() < n_sources + 1 {
            offsets.push(triples.len());
        }
        Sparse {
            offsets,
            targets: triples.iter().map(|t| t.1).collect(),
            weights: triples.iter().map(|t| t.2).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// Populations run in order within a timestep; a spike reaches the next
    /// population in the same timestep (feed-forward delay 0).
    LayerSerial,
    /// Every population updates once per timestep; each connection between
    /// populations delays by one.
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
    /// The input viewed as channels x height x width (pooling from the
    /// input needs it); absent: a flat vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<(usize, usize, usize)>,
}

impl Input {
    pub fn shape(&self) -> Shape {
        match self.shape {
            Some((c, h, w)) => Shape { c, h, w },
            None => Shape::flat(self.size),
        }
    }
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
    /// Output class = argmax of the output population's final voltage `v`.
    Membrane,
}

/// Early exit: after each timestep the readout so far (spike counts, or
/// the output population's membrane) is read; the inference ends once at
/// least `min_timesteps` have run and one output has strictly led the
/// others for the last `patience` timesteps in a row. The chip and the
/// reference executor apply the same rule.
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

/// argmax of a readout, lowest index on ties: the predicted class.
pub fn argmax(values: &[i64]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// One spike: timestep, population and neuron index within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpikeRecord {
    pub t: u32,
    /// The population (a layer of a chain).
    pub layer: u32,
    pub neuron: u32,
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

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// `v := v_reset` in the step of the spike (the NIR spec's reading).
    #[default]
    ToValue,
    /// `v -= threshold` in the step of the spike.
    Subtract,
    /// The spike is reported from the un-reset voltage, and the threshold
    /// is subtracted in the next step, after the leak (snnTorch's default
    /// `reset_mechanism = "subtract"`, `reset_delay = True`).
    DelayedSubtract,
}

/// A per-population scalar or one value per neuron.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Param {
    Scalar(i32),
    PerNeuron(Vec<i32>),
}

/// A number or a list of numbers, each a 32-bit whole number; written by
/// hand so a bad value is named with its range (an untagged derive says
/// only that no variant matched).
impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Param, D::Error> {
        struct Visit;
        const EXPECTED: &str =
            "a whole number in -2147483648 ..= 2147483647, or a list of them (one per neuron)";
        fn narrow<E: serde::de::Error>(v: i128) -> std::result::Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom(format_args!("expected {EXPECTED}")))
        }
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Param;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Param, E> {
                narrow(v as i128).map(Param::Scalar)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Param, E> {
                narrow(v as i128).map(Param::Scalar)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Param, A::Error> {
                // No capacity from the input's size hint: a file could lie.
                let mut out = vec![];
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(narrow(v as i128)?);
                }
                Ok(Param::PerNeuron(out))
            }
        }
        d.deserialize_any(Visit)
    }
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
    pub fn values(&self) -> &[i32] {
        match self {
            Param::Scalar(v) => std::slice::from_ref(v),
            Param::PerNeuron(vs) => vs,
        }
    }
    pub fn is_zero(&self) -> bool {
        self.values().iter().all(|v| *v == 0)
    }
    /// The default, left out of files (a list of zeros is kept as written).
    pub fn is_scalar_zero(&self) -> bool {
        *self == Param::Scalar(0)
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
    /// Arithmetic right shift (floor) of the summed input before
    /// `input_shift`: Lava's negative `weight_exp`.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub input_right_shift: u8,
    /// State at the start of an inference (Lava's `u_init`, `v_init`).
    #[serde(default, skip_serializing_if = "Param::is_scalar_zero")]
    pub u_init: Param,
    #[serde(default, skip_serializing_if = "Param::is_scalar_zero")]
    pub v_init: Param,
    /// Loihi's bounds (Lava's bit-accurate LIF): u wraps into
    /// (-2^(b-1), 2^(b-1)] and v saturates to +-(2^(b-1) - 1); otherwise
    /// u wraps as a b-bit two's-complement number and v saturates to
    /// -2^(b-1) ..= 2^(b-1) - 1.
    #[serde(default, skip_serializing_if = "is_false")]
    pub loihi_bounds: bool,
    /// Width of `u` and `v` (u wraps, v saturates).
    #[serde(default = "default_state_bits")]
    pub state_bits: u8,
    /// Resolution of `du` and `dv`: they count in `2^decay_bits` (Loihi:
    /// 12, so 4096 = full decay); up to 15 for decays finer than 1/4096.
    #[serde(
        default = "default_decay_bits",
        skip_serializing_if = "is_default_decay_bits"
    )]
    pub decay_bits: u8,
    /// An adaptive threshold (one more state word per neuron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<Adaptation>,
}

impl Neuron {
    /// State words kept per neuron: v, u when the current persists, theta
    /// with an adaptive threshold.
    pub fn state_words(&self) -> u32 {
        1 + (self.du as u32 != 1 << self.decay_bits) as u32 + self.adaptation.is_some() as u32
    }
    /// Bits of state per neuron.
    pub fn state_bits_needed(&self) -> u32 {
        self.state_words() * self.state_bits as u32
    }
}

fn full_decay() -> u16 {
    4096
}
fn default_state_bits() -> u8 {
    16
}
fn is_zero_u8(x: &u8) -> bool {
    *x == 0
}
fn is_false(x: &bool) -> bool {
    !*x
}
fn default_decay_bits() -> u8 {
    12
}
fn is_default_decay_bits(b: &u8) -> bool {
    *b == 12
}

/// Channels, height, width; a flat vector is (n, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// `len`, or `None` when it overflows (a file can claim any shape).
    pub fn checked_len(&self) -> Option<usize> {
        self.c.checked_mul(self.h)?.checked_mul(self.w)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    pub fn index(&self, c: usize, y: usize, x: usize) -> usize {
        (c * self.h + y) * self.w + x
    }
}

/// Largest magnitude of a `bits`-wide weight (symmetric range).
pub fn weight_max(bits: u8) -> i32 {
    if bits <= 2 {
        1
    } else {
        (1 << (bits - 1)) - 1
    }
}

/// Largest population, input or fan-in the IR accepts (2^24).
pub const MAX_NEURONS: usize = 1 << 24;

impl Model {
    /// Loads a model file: `.ncm` (binary) or RON (either form); `path`
    /// names the file in errors.
    pub fn load(path: &std::path::Path) -> Result<Model> {
        file::load(path)
    }

    /// Parses RON text of either form and checks it; `file` names it in
    /// errors.
    pub fn parse(file: &str, text: &str) -> Result<Model> {
        file::parse(file, text)
    }

    /// Writes the model: `.ncm` by extension, RON otherwise.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        file::save(self, path)
    }

    /// The model as RON text: the layer form when it is a chain, the graph
    /// form otherwise.
    pub fn to_ron(&self) -> String {
        file::to_ron(self)
    }

    pub fn n_populations(&self) -> usize {
        self.populations.len()
    }

    /// Neurons of the output population.
    pub fn output_size(&self) -> usize {
        self.populations[self.output].len()
    }

    pub fn source_shape(&self, s: Source) -> Shape {
        match s {
            Source::Input => self.input.shape(),
            Source::Population(p) => self.populations[p].shape,
        }
    }

    pub fn source_len(&self, s: Source) -> usize {
        self.source_shape(s).len()
    }

    /// Name of a source, as the errors and reports use it.
    pub fn source_name(&self, s: Source) -> String {
        match s {
            Source::Input => "input".into(),
            Source::Population(p) => self.population_name(p),
        }
    }

    /// The population's name, or `#p` when it has none.
    pub fn population_name(&self, p: usize) -> String {
        let n = &self.populations[p].name;
        if n.is_empty() {
            format!("#{p}")
        } else {
            n.clone()
        }
    }

    /// Synapses stored: stored sparse synapses and non-zero weights.
    pub fn n_synapses(&self) -> u64 {
        self.projections
            .iter()
            .map(|j| synapses::count(self, j))
            .sum()
    }

    /// Checks everything a later stage relies on; `file` names the source
    /// in the errors. A chain's layer form is checked by `Chain::validate`
    /// before it becomes a graph, so its errors name layers.
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
        check_range(file, "input.size", self.input.size, 1, MAX_NEURONS)?;
        if self.input.shape().checked_len() != Some(self.input.size) {
            return Err(Error::invalid(
                file,
                "input.shape",
                format!("{:?}", self.input.shape),
                format!(
                    "channels x height x width = input.size ({})",
                    self.input.size
                ),
            ));
        }
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
        if self.populations.is_empty() {
            return Err(Error::invalid(
                file,
                "populations",
                "[]",
                "at least one population",
            ));
        }
        check_range(file, "output", self.output, 0, self.populations.len() - 1)?;
        for (p, pop) in self.populations.iter().enumerate() {
            let f = |field: &str| format!("populations[{p}].{field}");
            let size = pop.shape.checked_len().unwrap_or(usize::MAX);
            check_range(file, &f("size"), size, 1, MAX_NEURONS)?;
            validate_neuron(
                file,
                &format!("populations[{p}].neuron"),
                &pop.neuron,
                pop.len(),
            )?;
            let hi = (1i64 << (pop.neuron.state_bits - 1)) - 1;
            check_range(
                file,
                &f("lateral_inhibition"),
                pop.lateral_inhibition as i64,
                0,
                hi,
            )?;
            if let Some(a) = &pop.neuron.adaptation {
                check_range(
                    file,
                    &f("neuron.adaptation.increment"),
                    a.increment as i64,
                    0,
                    hi,
                )?;
                check_range(file, &f("neuron.adaptation.decay"), a.decay, 0, 4096)?;
            }
        }
        for (j, proj) in self.projections.iter().enumerate() {
            self.validate_projection(file, j, proj)?;
        }
        // Delays, levels and cycles of zero delay.
        let schedule = Schedule::of(self).map_err(|msg| {
            Error::invalid(
                file,
                "projections",
                msg,
                "every cycle of the graph to hold a projection with delay >= 1",
            )
        })?;
        for (j, proj) in self.projections.iter().enumerate() {
            if proj.stdp.is_some() {
                self.validate_plastic(file, j, proj, &schedule)?;
            }
        }
        Ok(())
    }

    fn validate_projection(&self, file: &str, j: usize, proj: &Projection) -> Result<()> {
        let f = |field: &str| format!("projections[{j}].{field}");
        if let Source::Population(p) = proj.source {
            check_range(file, &f("source"), p, 0, self.populations.len() - 1)?;
        }
        check_range(
            file,
            &f("target"),
            proj.target,
            0,
            self.populations.len() - 1,
        )?;
        check_range(file, &f("weight_bits"), proj.weight_bits, 1, 16)?;
        if let Some(d) = proj.delay {
            check_range(file, &f("delay"), d, 0, schedule::MAX_DELAY)?;
        }
        let src = self.source_shape(proj.source);
        let tgt = self.populations[proj.target].shape;
        let (n_src, n_tgt) = (src.len(), tgt.len());
        let wmax = weight_max(proj.weight_bits);
        if proj.full_range && proj.weight_bits < 3 {
            return Err(Error::invalid(
                file,
                f("full_range"),
                "true",
                format!(
                    "false for weight_bits = {} (binary and ternary weights are +-1)",
                    proj.weight_bits
                ),
            ));
        }
        let wmin = if proj.full_range { -wmax - 1 } else { -wmax };
        let check_weights = |field: &str, weights: &[i32]| -> Result<()> {
            if let Some((i, w)) = weights
                .iter()
                .enumerate()
                .find(|(_, w)| **w > wmax || **w < wmin)
            {
                return Err(Error::invalid(
                    file,
                    format!("projections[{j}].{field}[{i}]"),
                    w,
                    format!(
                        "{wmin} ..= {wmax} for weight_bits = {}{}",
                        proj.weight_bits,
                        if proj.full_range { ", full_range" } else { "" }
                    ),
                ));
            }
            Ok(())
        };
        let count = |field: &str, got: usize, want: usize| -> Result<()> {
            if got != want {
                return Err(Error::invalid(
                    file,
                    f(field),
                    format!("{got} values"),
                    format!("{want} values"),
                ));
            }
            Ok(())
        };
        match &proj.conn {
            Connectivity::Dense { weights } => {
                count("kind.dense.weights", weights.len(), n_src * n_tgt)?;
                check_weights("kind.dense.weights", weights)?;
            }
            Connectivity::OneToOne { weights } => {
                if n_src != n_tgt {
                    return Err(Error::invalid(
                        file,
                        f("kind"),
                        format!("one_to_one from {n_src} to {n_tgt} neurons"),
                        "a source and a target of the same size",
                    ));
                }
                count("kind.one_to_one.weights", weights.len(), n_tgt)?;
                check_weights("kind.one_to_one.weights", weights)?;
            }
            Connectivity::Sparse(s) => {
                if s.offsets.len() != n_src + 1
                    || s.targets.len() != s.weights.len()
                    || s.offsets.last() != Some(&s.targets.len())
                {
                    return Err(Error::invalid(
                        file,
                        f("kind.sparse"),
                        format!(
                            "{} offsets for {} synapses",
                            s.offsets.len(),
                            s.targets.len()
                        ),
                        format!(
                            "{} offsets (sources + 1) ending at the synapse count",
                            n_src + 1
                        ),
                    ));
                }
                for src_i in 0..n_src {
                    let (lo, hi) = (s.offsets[src_i], s.offsets[src_i + 1]);
                    if lo > hi {
                        return Err(Error::invalid(
                            file,
                            f("kind.sparse.offsets"),
                            format!("{lo} > {hi} at source {src_i}"),
                            "offsets that never decrease",
                        ));
                    }
                    let mut prev: Option<u32> = None;
                    for k in lo..hi {
                        let t = s.targets[k];
                        if t as usize >= n_tgt {
                            return Err(Error::invalid(
                                file,
                                format!("projections[{j}].kind.sparse.synapses[{k}]"),
                                format!("({src_i}, {t}, {})", s.weights[k]),
                                format!("a target below {n_tgt} (the size of the target)"),
                            ));
                        }
                        if prev.is_some_and(|p| p >= t) {
                            return Err(Error::invalid(
                                file,
                                format!("projections[{j}].kind.sparse.synapses[{k}]"),
                                format!("({src_i}, {t}, {})", s.weights[k]),
                                "one synapse per (source, target) pair",
                            ));
                        }
                        prev = Some(t);
                    }
                }
                check_weights("kind.sparse.weights", &s.weights)?;
            }
            Connectivity::Conv2d { conv, weights } => {
                check_range(file, &f("kind.conv2d.kernel"), conv.kernel, 1, 64)?;
                check_range(file, &f("kind.conv2d.stride"), conv.stride, 1, 64)?;
                check_range(
                    file,
                    &f("kind.conv2d.padding"),
                    conv.padding,
                    0,
                    conv.kernel - 1,
                )?;
                check_range(file, &f("kind.conv2d.out_ch"), conv.out_ch, 1, 1 << 16)?;
                if conv.in_ch == 0 || conv.input().checked_len() != Some(n_src) {
                    return Err(Error::invalid(
                        file,
                        f("kind.conv2d"),
                        format!(
                            "in_ch x in_h x in_w = {} x {} x {}",
                            conv.in_ch, conv.in_h, conv.in_w
                        ),
                        format!("{n_src} (the size of the source)"),
                    ));
                }
                // Sizes are now below 2^24: the arithmetic below cannot overflow.
                if conv.in_h + 2 * conv.padding < conv.kernel
                    || conv.in_w + 2 * conv.padding < conv.kernel
                {
                    return Err(Error::invalid(
                        file,
                        f("kind.conv2d.kernel"),
                        conv.kernel,
                        format!(
                            "at most the padded input ({}x{} + 2*{})",
                            conv.in_h, conv.in_w, conv.padding
                        ),
                    ));
                }
                if conv.output().len() != n_tgt {
                    return Err(Error::invalid(
                        file,
                        f("kind.conv2d"),
                        format!("an output of {} neurons", conv.output().len()),
                        format!("{n_tgt} (the size of the target)"),
                    ));
                }
                count("kind.conv2d.weights", weights.len(), conv.n_weights())?;
                check_weights("kind.conv2d.weights", weights)?;
            }
            Connectivity::SumPool2d { k } => {
                check_range(
                    file,
                    &f("kind.sum_pool2d.k"),
                    *k,
                    1,
                    src.h.min(src.w).max(1),
                )?;
                let out = Shape {
                    c: src.c,
                    h: src.h / k,
                    w: src.w / k,
                };
                if out.len() != n_tgt {
                    return Err(Error::invalid(
                        file,
                        f("kind.sum_pool2d"),
                        format!("an output of {} neurons", out.len()),
                        format!("{n_tgt} (the size of the target)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_plastic(
        &self,
        file: &str,
        j: usize,
        proj: &Projection,
        schedule: &Schedule,
    ) -> Result<()> {
        let f = |field: &str| format!("projections[{j}].{field}");
        let s = proj.stdp.as_ref().expect("called for plastic projections");
        let Connectivity::Dense { weights } = &proj.conn else {
            return Err(Error::invalid(
                file,
                f("stdp"),
                "Some(..)",
                "None on a projection that is not dense",
            ));
        };
        if self.semantics != Semantics::LayerSerial || schedule.delay[j] != 0 {
            return Err(Error::invalid(
                file,
                f("stdp"),
                "Some(..)",
                "None unless semantics is layer_serial and the delay is 0",
            ));
        }
        if self
            .projections
            .iter()
            .enumerate()
            .any(|(k, o)| k != j && o.target == proj.target)
        {
            return Err(Error::invalid(
                file,
                f("stdp"),
                "Some(..)",
                "None unless it is the only projection into its target",
            ));
        }
        check_range(file, &f("weight_bits"), proj.weight_bits, 3, 16)?;
        let wmax = weight_max(proj.weight_bits);
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
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| **w < s.w_min || **w > s.w_max)
        {
            return Err(Error::invalid(
                file,
                format!("projections[{j}].kind.dense.weights[{i}]"),
                w,
                format!("{} ..= {} (stdp.w_min ..= stdp.w_max)", s.w_min, s.w_max),
            ));
        }
        Ok(())
    }
}

/// Checks a neuron's parameters; `at` names it (`layers[2].neuron`).
pub fn validate_neuron(file: &str, at: &str, n: &Neuron, size: usize) -> Result<()> {
    let f = |field: &str| format!("{at}.{field}");
    check_range(file, &f("state_bits"), n.state_bits, 2, 32)?;
    check_range(file, &f("decay_bits"), n.decay_bits, 12, 15)?;
    let one = 1u16 << n.decay_bits;
    check_range(file, &f("du"), n.du, 0, one)?;
    check_range(file, &f("dv"), n.dv, 0, one)?;
    check_range(file, &f("input_shift"), n.input_shift, 0, 31)?;
    let hi = ((1i64 << (n.state_bits - 1)) - 1) as i32;
    let lo = -hi - 1;
    check_range(file, &f("v_reset"), n.v_reset, lo, hi)?;
    if n.reset == Reset::DelayedSubtract && n.adaptation.is_some() {
        return Err(Error::invalid(
            file,
            f("reset"),
            "delayed_subtract",
            "to_value or subtract with an adaptive threshold (a delayed reset needs the threshold of the step before)",
        ));
    }
    check_range(file, &f("input_right_shift"), n.input_right_shift, 0, 31)?;
    for (name, p) in [
        ("threshold", &n.threshold),
        ("bias", &n.bias),
        ("u_init", &n.u_init),
        ("v_init", &n.v_init),
    ] {
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

    #[test]
    fn sparse_lists_from_triples_in_any_order() {
        let s = Sparse::from_triples(4, vec![(2, 1, 5), (0, 3, -1), (0, 0, 0), (2, 0, 2)]);
        assert_eq!(s.offsets, vec![0, 2, 2, 4, 4]);
        assert_eq!(s.targets, vec![0, 3, 0, 1]);
        assert_eq!(s.weights, vec![0, -1, 2, 5]);
        assert_eq!(s.row(2), (&[0u32, 1][..], &[2, 5][..]));
    }
}
