//! A model as a NIR graph, in the chip's integer units (weights,
//! thresholds and biases are the model's integers, as floats), so that
//! importing the file again with the same `--dt`, `--reset` and
//! `--state-bits` gives the same model: a tensor that is already integral
//! and within the weight range keeps scale 1 on import.
//!
//! Each population becomes a LIF (an IF when `dv = 0`, a CubaLIF when the
//! current persists, an LI when it never spikes); each projection becomes
//! its linear node (Affine, Linear for synapse lists, Conv2d, SumPool2d,
//! Scale for one-to-one), a Flatten before a dense map from a 3-D source,
//! and a Delay node for a delay of one step or more.

use super::{Graph, Node, Tensor};
use crate::error::{Error, Result};
use crate::model::{Connectivity, Model, Shape, Source};
use std::collections::BTreeSet;

/// Largest dense matrix written for a synapse list (NIR has no sparse node).
const MAX_DENSE: usize = 1 << 26;

/// `tau / dt` of an IF written as a LIF to hold a bias.
const NO_LEAK: f64 = (1u64 << 20) as f64;

/// Whether the first projection into `p` can carry its bias: a dense map
/// (the Affine's bias), or a convolution when the bias is the same over
/// each output channel.
fn input_holds_bias(model: &Model, p: usize, bias: &[f64]) -> bool {
    match model
        .projections
        .iter()
        .find(|j| j.target == p)
        .map(|j| &j.conn)
    {
        Some(Connectivity::Dense { .. } | Connectivity::Sparse(_)) => true,
        Some(Connectivity::Conv2d { conv, .. }) => {
            let per = conv.output().h * conv.output().w;
            bias.chunks(per).all(|c| c.iter().all(|x| *x == c[0]))
        }
        _ => false,
    }
}

fn shape_of(s: Shape) -> Vec<usize> {
    if s.h == 1 && s.w == 1 {
        vec![s.c]
    } else {
        vec![s.c, s.h, s.w]
    }
}

fn filled(shape: &[usize], v: f64) -> Tensor {
    Tensor {
        shape: shape.to_vec(),
        data: vec![v; shape.iter().product()],
    }
}

fn ints(v: &[usize]) -> Tensor {
    Tensor::vector(v.iter().map(|x| *x as f64).collect())
}

/// The graph of `model`, for a time step of `dt` seconds.
pub fn export(model: &Model, dt: f64, file: &str) -> Result<Graph> {
    if !(dt > 0.0 && dt.is_finite()) {
        return Err(Error::invalid(
            "command line",
            "--dt",
            dt,
            "a time step > 0 in seconds",
        ));
    }
    let mut g = Graph::default();
    let mut used: BTreeSet<String> = ["input".into(), "output".into()].into();
    let mut fresh = |want: &str| -> String {
        let base: String = want
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        let base = if base.is_empty() {
            "node".to_string()
        } else {
            base
        };
        let mut name = base.clone();
        let mut k = 1;
        while used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        used.insert(name.clone());
        name
    };
    // A flat input that feeds a convolution or pooling takes its 3-D shape.
    let mut in_shape = shape_of(model.input.shape());
    for proj in model
        .projections
        .iter()
        .filter(|p| p.source == Source::Input)
    {
        match &proj.conn {
            Connectivity::Conv2d { conv, .. } if in_shape.len() == 1 => {
                in_shape = shape_of(conv.input())
            }
            _ => {}
        }
    }
    g.nodes.insert(
        "input".into(),
        Node::new("Input").with("shape", ints(&in_shape)),
    );
    let pop_names: Vec<String> = model.populations.iter().map(|p| fresh(&p.name)).collect();
    let bad = |at: String, v: &str, exp: &str| Error::invalid(file, at, v, exp);

    // Biases an IF cannot hold itself go onto its first dense input.
    let mut if_bias: Vec<Option<Vec<f64>>> = vec![None; model.populations.len()];
    for (p, pop) in model.populations.iter().enumerate() {
        let n = &pop.neuron;
        let at = |f: &str| format!("populations[{p}].{f}");
        if n.adaptation.is_some() {
            return Err(bad(
                at("neuron.adaptation"),
                "set",
                "none: NIR has no adaptive threshold",
            ));
        }
        if pop.lateral_inhibition != 0 {
            return Err(bad(
                at("lateral_inhibition"),
                &pop.lateral_inhibition.to_string(),
                "0: write the inhibition as a projection to export it",
            ));
        }
        let shape = shape_of(pop.shape);
        let size = pop.len();
        let per = |f: &dyn Fn(usize) -> f64| Tensor {
            shape: shape.clone(),
            data: (0..size).map(f).collect(),
        };
        let thr = per(&|i| n.threshold.at(i) as f64);
        let bias: Vec<f64> = (0..size).map(|i| n.bias.at(i) as f64).collect();
        let gain = (1u64 << n.input_shift) as f64;
        let never = pop
            .neuron
            .threshold
            .values()
            .iter()
            .all(|t| *t as i64 >= (1i64 << (n.state_bits - 1)) - 1);
        let one = (1u32 << n.decay_bits) as f64;
        let node = if n.du as f64 != one {
            if n.dv == 0 {
                return Err(bad(at("neuron.dv"), "0", "1 ..= 2^decay_bits with a persistent current (CubaLIF needs a membrane time constant)"));
            }
            if bias.iter().any(|b| *b != 0.0) {
                return Err(bad(
                    at("neuron.bias"),
                    "non-zero",
                    "0 with a persistent current (a CubaLIF's input bias enters its current)",
                ));
            }
            let (ts, tm) = (dt * one / n.du.max(1) as f64, dt * one / n.dv as f64);
            if n.du == 0 {
                return Err(bad(
                    at("neuron.du"),
                    "0",
                    "1 ..= 2^decay_bits: a current that never decays has no NIR time constant",
                ));
            }
            Node::new("CubaLIF")
                .with("tau_syn", filled(&shape, ts))
                .with("tau_mem", filled(&shape, tm))
                .with("r", filled(&shape, tm / dt * gain))
                .with("w_in", filled(&shape, ts / dt))
                .with("v_leak", filled(&shape, 0.0))
                .with("v_threshold", thr)
                .with("v_reset", filled(&shape, n.v_reset as f64))
        } else if n.dv == 0 && bias.iter().any(|b| *b != 0.0) && !input_holds_bias(model, p, &bias)
        {
            // No input can hold the bias: a LIF whose leak rounds to 0 at
            // any decay resolution (dt / tau = 2^-20) holds it as v_leak.
            let k = NO_LEAK;
            Node::new(if never { "LI" } else { "LIF" })
                .with("tau", filled(&shape, dt * k))
                .with("r", filled(&shape, k * gain))
                .with("v_leak", per(&|i| bias[i] * k))
                .with("v_threshold", thr)
                .with("v_reset", filled(&shape, n.v_reset as f64))
        } else if n.dv == 0 {
            if bias.iter().any(|b| *b != 0.0) {
                if_bias[p] = Some(bias.iter().map(|b| b / gain).collect());
            }
            let node =
                Node::new(if never { "I" } else { "IF" }).with("r", filled(&shape, gain / dt));
            if never {
                node
            } else {
                node.with("v_threshold", thr)
                    .with("v_reset", filled(&shape, n.v_reset as f64))
            }
        } else {
            let k = one / n.dv as f64;
            let mut node = Node::new(if never { "LI" } else { "LIF" })
                .with("tau", filled(&shape, dt * k))
                .with("r", filled(&shape, k * gain))
                .with("v_leak", per(&|i| bias[i] * k));
            if !never {
                node = node
                    .with("v_threshold", thr)
                    .with("v_reset", filled(&shape, n.v_reset as f64));
            }
            node
        };
        g.nodes.insert(pop_names[p].clone(), node);
    }

    let delays = crate::model::Schedule::of(model)
        .map_err(|m| bad("projections".into(), &m, "no cycle of zero delay"))?
        .delay;
    for (j, proj) in model.projections.iter().enumerate() {
        if proj.stdp.is_some() {
            return Err(bad(
                format!("projections[{j}].stdp"),
                "set",
                "none: NIR has no on-chip learning",
            ));
        }
        let src_shape = model.source_shape(proj.source);
        let tgt = &model.populations[proj.target];
        let (n_src, n_tgt) = (src_shape.len(), tgt.len());
        let mut prev = match proj.source {
            Source::Input => "input".to_string(),
            Source::Population(s) => pop_names[s].clone(),
        };
        let mut chain = vec![];
        let dense_from_3d = matches!(
            proj.conn,
            Connectivity::Dense { .. } | Connectivity::Sparse(_)
        ) && shape_of(src_shape).len() == 3;
        if dense_from_3d {
            chain.push((
                fresh(&format!("{}.flatten", proj.name)),
                Node::new("Flatten")
                    .with("start_dim", Tensor::scalar(0.0))
                    .with("end_dim", Tensor::scalar(-1.0))
                    .with("input_type", ints(&shape_of(src_shape))),
            ));
        }
        // An IF's bias goes onto its first input (see `input_holds_bias`).
        let mut bias = if_bias[proj.target].take();
        let mut bias_here = |n_out: usize| -> Tensor {
            match bias.take() {
                Some(b) => Tensor::vector(b),
                None => Tensor::vector(vec![0.0; n_out]),
            }
        };
        let main = match &proj.conn {
            Connectivity::Dense { weights } => Node::new("Affine")
                .with(
                    "weight",
                    Tensor {
                        shape: vec![n_tgt, n_src],
                        data: weights.iter().map(|w| *w as f64).collect(),
                    },
                )
                .with("bias", bias_here(n_tgt)),
            Connectivity::Sparse(s) => {
                if n_src.saturating_mul(n_tgt) > MAX_DENSE {
                    return Err(bad(
                        format!("projections[{j}]"),
                        &format!("{n_src} x {n_tgt} synapse list"),
                        &format!(
                            "at most {MAX_DENSE} entries as a dense matrix: NIR has no sparse node"
                        ),
                    ));
                }
                let mut w = vec![0.0; n_src * n_tgt];
                for src in 0..s.n_sources() {
                    let (ts, ws) = s.row(src);
                    for (t, x) in ts.iter().zip(ws) {
                        w[*t as usize * n_src + src] = *x as f64;
                    }
                }
                Node::new("Affine")
                    .with(
                        "weight",
                        Tensor {
                            shape: vec![n_tgt, n_src],
                            data: w,
                        },
                    )
                    .with("bias", bias_here(n_tgt))
            }
            Connectivity::Conv2d { conv, weights } => Node::new("Conv2d")
                .with(
                    "weight",
                    Tensor {
                        shape: vec![conv.out_ch, conv.in_ch, conv.kernel, conv.kernel],
                        data: weights.iter().map(|w| *w as f64).collect(),
                    },
                )
                .with("bias", {
                    // A bias the same over each output channel is the conv's.
                    let per = conv.output().h * conv.output().w;
                    let channel_bias = bias.as_ref().and_then(|b| {
                        let ok = b.chunks(per).all(|c| c.iter().all(|x| *x == c[0]));
                        ok.then(|| b.chunks(per).map(|c| c[0]).collect::<Vec<f64>>())
                    });
                    match channel_bias {
                        Some(cb) => {
                            bias = None;
                            Tensor::vector(cb)
                        }
                        None => Tensor::vector(vec![0.0; conv.out_ch]),
                    }
                })
                .with("stride", ints(&[conv.stride, conv.stride]))
                .with("padding", ints(&[conv.padding, conv.padding]))
                .with("dilation", ints(&[1, 1]))
                .with("groups", Tensor::scalar(1.0))
                .with("input_shape", ints(&[conv.in_h, conv.in_w])),
            Connectivity::SumPool2d { k } => Node::new("SumPool2d")
                .with("kernel_size", ints(&[*k, *k]))
                .with("stride", ints(&[*k, *k]))
                .with("padding", ints(&[0, 0])),
            Connectivity::OneToOne { weights } => Node::new("Scale").with(
                "scale",
                Tensor {
                    shape: shape_of(tgt.shape),
                    data: weights.iter().map(|w| *w as f64).collect(),
                },
            ),
        };
        chain.push((fresh(&proj.name), main));
        debug_assert!(bias.is_none(), "input_holds_bias chose this input");
        let delay = delays[j];
        if delay > 0 {
            chain.push((
                fresh(&format!("{}.delay", proj.name)),
                Node::new("Delay").with("delay", filled(&shape_of(tgt.shape), delay as f64 * dt)),
            ));
        }
        for (name, node) in chain {
            g.edges.push((prev, name.clone()));
            g.nodes.insert(name.clone(), node);
            prev = name;
        }
        g.edges.push((prev, pop_names[proj.target].clone()));
    }
    if let Some(p) = if_bias.iter().position(|b| b.is_some()) {
        return Err(bad(
            format!("populations[{p}].neuron.bias"),
            "non-zero",
            "0 for an IF population without inputs (NIR's IF has no leak term to hold it)",
        ));
    }
    let out_shape = shape_of(model.populations[model.output].shape);
    g.nodes.insert(
        "output".into(),
        Node::new("Output").with("shape", ints(&out_shape)),
    );
    g.edges
        .push((pop_names[model.output].clone(), "output".into()));
    Ok(g)
}
