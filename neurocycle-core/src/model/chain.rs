//! The layer form of a model: a chain of layers, each one population fed
//! by the one before (the input first). It is what the trainer writes and
//! what most hand-written files use; it becomes a graph with `into_model`
//! (population l fed by projection l), and `Model::as_chain` gives it back
//! when a graph is a chain. Its checks name layers (`layers[2].weights[5]`).

use super::*;
use crate::error::{check_range, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A model in the layer form.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Chain {
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

/// Input and output shape of every layer, derived once on validation.
#[derive(Clone, Debug)]
pub struct LayerShape {
    pub input: Shape,
    pub output: Shape,
}

impl Chain {
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
                    let in_len = in_ch.checked_mul(in_h).and_then(|x| x.checked_mul(in_w));
                    if in_len != Some(prev.len()) || in_ch == 0 {
                        return Err(Error::invalid(
                            file,
                            f("kind"),
                            format!("in_ch x in_h x in_w = {in_ch} x {in_h} x {in_w}"),
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
            super::validate_neuron(
                file,
                &format!("layers[{l}].neuron"),
                &layer.neuron,
                shape.output.len(),
            )?;
            validate_learning(file, l, layer, self)?;
            prev = shape.output;
        }
        Ok(())
    }
}

fn validate_learning(file: &str, l: usize, layer: &Layer, model: &Chain) -> Result<()> {
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

impl Layer {
    /// The layer's incoming projection's connectivity (weights cloned).
    pub fn conn(&self) -> Connectivity {
        match self.kind {
            LayerKind::Dense { .. } => Connectivity::Dense {
                weights: self.weights.clone(),
            },
            LayerKind::Conv2d {
                in_ch,
                out_ch,
                kernel,
                stride,
                padding,
                in_h,
                in_w,
            } => Connectivity::Conv2d {
                conv: Conv2d {
                    in_ch,
                    out_ch,
                    kernel,
                    stride,
                    padding,
                    in_h,
                    in_w,
                },
                weights: self.weights.clone(),
            },
            LayerKind::SumPool2d { k } => Connectivity::SumPool2d { k },
        }
    }
}

/// Calls `f(source, target, weight)` for every non-zero synapse of a layer,
/// in source-major order (the order of synapse rows).
pub fn for_each_synapse(layer: &Layer, shape: &LayerShape, f: impl FnMut(usize, usize, i32)) {
    let conn = layer.conn();
    super::synapses::for_each(conn.view(), shape.input, shape.output, f);
}

impl Chain {
    /// The graph of a chain: population l holds layer l's neurons and is
    /// fed by projection l (from the input, or from population l - 1), with
    /// the semantics' default delays. Needs a validated chain.
    pub fn into_model(self) -> Model {
        let shapes = self.shapes();
        let n = self.layers.len();
        let mut populations = Vec::with_capacity(n);
        let mut projections = Vec::with_capacity(n);
        for (l, (layer, shape)) in self.layers.into_iter().zip(&shapes).enumerate() {
            projections.push(Projection {
                full_range: false,
                name: String::new(),
                source: if l == 0 {
                    Source::Input
                } else {
                    Source::Population(l - 1)
                },
                target: l,
                weight_bits: layer.weight_bits,
                delay: None,
                conn: match layer.kind {
                    // Moved, not cloned: a chain's weights can be large.
                    LayerKind::Dense { .. } => Connectivity::Dense {
                        weights: layer.weights,
                    },
                    LayerKind::Conv2d { .. } => layer.conn(),
                    LayerKind::SumPool2d { k } => Connectivity::SumPool2d { k },
                },
                stdp: layer.stdp,
            });
            populations.push(Population {
                name: layer.name,
                shape: shape.output,
                neuron: layer.neuron,
                lateral_inhibition: layer.lateral_inhibition,
            });
        }
        Model {
            name: self.name,
            metadata: self.metadata,
            timesteps: self.timesteps,
            semantics: self.semantics,
            input: self.input,
            readout: self.readout,
            early_exit: self.early_exit,
            populations,
            projections,
            output: n.saturating_sub(1),
        }
    }
}

impl Model {
    /// The layer form of the model, when it is a chain: population l fed
    /// only by projection l from the population before (the input first),
    /// default delays, the last population read out, and nothing the layer
    /// form cannot say (sparse or one-to-one projections, shapes it would
    /// not derive, names of projections).
    pub fn as_chain(&self) -> Option<Chain> {
        let n = self.populations.len();
        if self.projections.len() != n || self.output + 1 != n || self.input.shape.is_some() {
            return None;
        }
        let mut layers = Vec::with_capacity(n);
        let mut prev = Shape::flat(self.input.size);
        for (l, (pop, proj)) in self.populations.iter().zip(&self.projections).enumerate() {
            let source = if l == 0 {
                Source::Input
            } else {
                Source::Population(l - 1)
            };
            if proj.source != source
                || proj.target != l
                || proj.delay.is_some()
                || !proj.name.is_empty()
                || proj.full_range
            {
                return None;
            }
            let (kind, weights) = match &proj.conn {
                Connectivity::Dense { weights } => (
                    LayerKind::Dense {
                        inputs: prev.len(),
                        outputs: pop.len(),
                    },
                    weights.clone(),
                ),
                Connectivity::Conv2d { conv, weights } => (
                    LayerKind::Conv2d {
                        in_ch: conv.in_ch,
                        out_ch: conv.out_ch,
                        kernel: conv.kernel,
                        stride: conv.stride,
                        padding: conv.padding,
                        in_h: conv.in_h,
                        in_w: conv.in_w,
                    },
                    weights.clone(),
                ),
                Connectivity::SumPool2d { k } if l > 0 => (LayerKind::SumPool2d { k: *k }, vec![]),
                _ => return None,
            };
            let shape = layer_shape(&kind, prev);
            let dense = matches!(kind, LayerKind::Dense { .. });
            if shape.output != pop.shape || (pop.lateral_inhibition != 0 && !dense) {
                return None;
            }
            prev = shape.output;
            layers.push(Layer {
                name: pop.name.clone(),
                kind,
                weight_bits: proj.weight_bits,
                weights,
                neuron: pop.neuron.clone(),
                stdp: proj.stdp,
                lateral_inhibition: pop.lateral_inhibition,
            });
        }
        Some(Chain {
            name: self.name.clone(),
            metadata: self.metadata.clone(),
            timesteps: self.timesteps,
            semantics: self.semantics,
            input: self.input.clone(),
            readout: self.readout,
            layers,
            early_exit: self.early_exit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> Chain {
        let text = include_str!("../../../models/tiny.ron");
        crate::error::parse_ron("tiny.ron", text).unwrap()
    }

    #[test]
    fn hand_written_example_loads_and_validates() {
        let m = tiny();
        m.validate("tiny.ron").unwrap();
        assert_eq!(m.output_size(), 2);
        let g = m.into_model();
        g.validate("tiny.ron").unwrap();
        assert_eq!(g.output_size(), 2);
        assert_eq!(g.populations.len(), 2);
    }

    #[test]
    fn a_chain_is_a_graph_and_back() {
        let m = tiny();
        let g = m.clone().into_model();
        assert_eq!(g.as_chain(), Some(m));
        // A delay the semantics would not give is not a chain any more.
        let mut d = g.clone();
        d.projections[1].delay = Some(1);
        assert!(d.as_chain().is_none());
        d.validate("d").unwrap();
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
        let text = include_str!("../../../models/tiny.ron").replacen("timesteps:", "timestep:", 1);
        let e = crate::error::parse_ron::<Chain>("t.ron", &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.ron:") && e.contains("timestep"), "{e}");
    }
}
