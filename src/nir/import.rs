//! A NIR graph onto the model IR. Every neuron node (LIF, IF, CubaLIF, LI,
//! I, Threshold) becomes a population; every path of linear nodes (Affine,
//! Linear, Scale, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay) from the
//! Input or a neuron node to a neuron node becomes one projection, its
//! nodes composed into one map. Discretisation is forward Euler with the
//! user's `dt`; weights, thresholds and biases are scaled to integers of
//! `weight_bits` per population or per neuron (channel).
//!
//! Timing follows the frameworks that write NIR: every feed-forward path
//! acts within the timestep, a path that closes a cycle without a Delay
//! node carries the step before (delay 1), and Delay nodes add
//! `round(delay / dt)` steps.

use super::{Graph, Node, Tensor, NODE_TYPES};
use crate::error::{Error, Result};
use crate::model::{
    Connectivity, Conv2d, Input, InputEncoding, Model, Neuron, Param, Population, Projection,
    Readout, Reset, Semantics, Shape, Source, Sparse,
};
use std::collections::{BTreeMap, BTreeSet};

/// What the file does not say, and how to make integers of it.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The time step in seconds (snnTorch exports with 1e-4, Norse 1e-3).
    pub dt: f64,
    pub reset: Reset,
    /// Bits of every weight (2 ..= 16).
    pub weight_bits: u8,
    /// One scale per neuron (per output channel of a convolution) instead
    /// of one per population.
    pub per_channel: bool,
    /// Width of u and v.
    pub state_bits: u8,
    /// Resolution of the decays (12 ..= 15); `None`: the fewest bits that
    /// hold every `dt / tau` within 1e-5 of its value, else 15.
    pub decay_bits: Option<u8>,
    pub timesteps: u32,
    /// Input values of this many bits (direct encoding) instead of spikes.
    pub graded_bits: Option<u8>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dt: 1e-4,
            reset: Reset::ToValue,
            weight_bits: 8,
            per_channel: false,
            state_bits: 24,
            decay_bits: None,
            timesteps: 16,
            graded_bits: None,
        }
    }
}

/// Largest composed map computed column by column (sources x work).
const MAX_COMPOSE_WORK: f64 = 2e10;

/// What a neuron node does per step, in floats, before scaling.
struct NeuronF {
    shape: Vec<usize>,
    /// `dt / tau` of the current and the voltage (1 = no memory, 0 = none).
    du: f64,
    dv: f64,
    /// Input gain per neuron (what one unit of x adds to v or u).
    gain: Vec<f64>,
    /// Constant drive per neuron (the leak towards v_leak).
    bias: Vec<f64>,
    threshold: Option<Vec<f64>>,
    v_reset: Vec<f64>,
    /// Whether an input bias can be folded into the voltage bias.
    bias_ok: bool,
}

/// A linear node, parsed.
#[derive(Clone, Debug)]
enum Lin {
    Affine {
        w: Tensor,
        b: Option<Vec<f64>>,
    },
    Scale(Vec<f64>),
    Conv(ConvF),
    Pool {
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        avg: bool,
    },
    Pass,
    Delay(u32),
}

#[derive(Clone, Debug)]
struct ConvF {
    w: Tensor,
    b: Option<Vec<f64>>,
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
}

/// A projection in floats.
enum FConn {
    /// `w[target][source]`.
    Dense(Vec<f64>),
    Conv(Conv2d, Vec<f64>),
    /// (source, target, weight).
    Triples(Vec<(u32, u32, f64)>),
}

struct FProj {
    name: String,
    source: Option<String>, // None = the Input
    target: String,
    steps: u32,
    conn: FConn,
    /// Bias reaching each target neuron through this path.
    bias: Option<Vec<f64>>,
}

fn bad(file: &str, node: &str, field: &str, value: impl std::fmt::Display, exp: &str) -> Error {
    Error::invalid(file, format!("node `{node}`.{field}"), value, exp)
}

fn field<'a>(file: &str, name: &str, n: &'a Node, f: &str) -> Result<&'a Tensor> {
    n.fields.get(f).ok_or_else(|| {
        bad(
            file,
            name,
            f,
            "missing",
            &format!("the `{f}` field of a {} node", n.kind),
        )
    })
}

fn pair(file: &str, name: &str, n: &Node, f: &str, default: usize) -> Result<(usize, usize)> {
    let Some(t) = n.fields.get(f) else {
        return Ok((default, default));
    };
    let ok = |x: f64| x >= 0.0 && x.fract() == 0.0 && x < 1e6;
    match t.data.as_slice() {
        [a] if ok(*a) => Ok((*a as usize, *a as usize)),
        [a, b] if ok(*a) && ok(*b) => Ok((*a as usize, *b as usize)),
        _ => Err(bad(
            file,
            name,
            f,
            format!("{:?}", t.data),
            "an integer or a pair of integers >= 0",
        )),
    }
}

fn is_neuron(kind: &str) -> bool {
    matches!(kind, "LIF" | "IF" | "CubaLIF" | "LI" | "I" | "Threshold")
}

/// Imports a graph read from `file`.
pub fn import(g: &Graph, o: &ImportOptions, file: &str, name: &str) -> Result<Model> {
    crate::error::check_range("command line", "--weight-bits", o.weight_bits, 2, 16)?;
    crate::error::check_range("command line", "--state-bits", o.state_bits, 8, 32)?;
    crate::error::check_range("command line", "--timesteps", o.timesteps, 1, 1 << 20)?;
    if !(o.dt > 0.0 && o.dt.is_finite()) {
        return Err(Error::invalid(
            "command line",
            "--dt",
            o.dt,
            "a time step > 0 in seconds",
        ));
    }
    for (n, node) in &g.nodes {
        if !NODE_TYPES.contains(&node.kind.as_str()) && node.kind != "Identity" {
            return Err(bad(
                file,
                n,
                "type",
                &node.kind,
                &format!("a node the chip can run: {}", NODE_TYPES.join(", ")),
            ));
        }
        if n.contains('/') {
            return Err(bad(file, n, "name", n, "a name without `/`"));
        }
    }
    let mut preds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in &g.edges {
        for x in [a, b] {
            if !g.nodes.contains_key(x) {
                return Err(Error::invalid(
                    file,
                    "edges",
                    format!("{a} -> {b}"),
                    format!("edges between the file's nodes (no node `{x}`)"),
                ));
            }
        }
        preds.entry(b.as_str()).or_default().push(a.as_str());
    }
    for v in preds.values_mut() {
        v.sort_unstable();
    }
    let of_kind = |k: &str| -> Vec<&String> {
        g.nodes
            .iter()
            .filter(|(_, n)| n.kind == k)
            .map(|(n, _)| n)
            .collect()
    };
    let (inputs, outputs) = (of_kind("Input"), of_kind("Output"));
    if inputs.len() != 1 || outputs.len() != 1 {
        return Err(Error::invalid(
            file,
            "nodes",
            format!("{} Input and {} Output nodes", inputs.len(), outputs.len()),
            "one Input node and one Output node",
        ));
    }
    let (input, output) = (inputs[0].as_str(), outputs[0].as_str());
    let in_shape = g.nodes[input]
        .fields
        .get("shape")
        .map(|t| t.data.iter().map(|x| *x as usize).collect::<Vec<_>>())
        .ok_or_else(|| bad(file, input, "shape", "missing", "the input's shape"))?;

    // Neuron nodes, in name order until they are sorted by time below.
    let neurons: Vec<&str> = g
        .nodes
        .iter()
        .filter(|(_, n)| is_neuron(&n.kind))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut nf: BTreeMap<&str, NeuronF> = BTreeMap::new();
    for n in &neurons {
        nf.insert(n, neuron_f(file, n, &g.nodes[*n], o)?);
    }
    let shape_of = |src: Option<&str>| -> Vec<usize> {
        match src {
            None => in_shape.clone(),
            Some(n) => nf[n].shape.clone(),
        }
    };

    // Paths of linear nodes into every neuron node.
    let mut fprojs = vec![];
    for n in &neurons {
        let mut paths = vec![];
        walk(file, g, &preds, n, input, &mut vec![], &mut paths)?;
        for (src, ops) in paths {
            let lins: Vec<(String, Lin)> = ops
                .iter()
                .map(|op| Ok((op.to_string(), lin(file, op, &g.nodes[*op], o.dt)?)))
                .collect::<Result<_>>()?;
            fprojs.push(compose(file, src, n, &shape_of(src), &nf[n].shape, &lins)?);
        }
    }
    // The output population.
    let mut out_src = output;
    let mut seen = 0;
    loop {
        let p = preds.get(out_src).map(|v| v.as_slice()).unwrap_or(&[]);
        if p.len() != 1 || seen > g.nodes.len() {
            return Err(bad(
                file,
                output,
                "edges",
                format!("{} incoming edges", p.len()),
                "one edge from a neuron node (through Flatten or Identity)",
            ));
        }
        out_src = p[0];
        seen += 1;
        let k = g.nodes[out_src].kind.as_str();
        if is_neuron(k) {
            break;
        }
        if !matches!(k, "Flatten" | "Identity") {
            return Err(bad(
                file,
                out_src,
                "type",
                k,
                "a neuron node feeding the Output",
            ));
        }
    }
    // Non-spiking nodes only feed the Output.
    for p in &fprojs {
        if let Some(s) = &p.source {
            if nf[s.as_str()].threshold.is_none() {
                return Err(bad(
                    file,
                    s,
                    "type",
                    &g.nodes[s].kind,
                    "a spiking node: the chip sends spikes, not membrane values, to other nodes",
                ));
            }
        }
    }

    let order = time_order(file, &neurons, &fprojs)?;
    let pos: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    // Delays: Delay nodes, or one step on a path that closes a cycle.
    let delays: Vec<u32> = fprojs
        .iter()
        .map(|p| match &p.source {
            Some(s) if p.steps == 0 && pos[s.as_str()] >= pos[p.target.as_str()] => 1,
            _ => p.steps,
        })
        .collect();

    let decay_bits = match o.decay_bits {
        Some(b) => {
            crate::error::check_range("command line", "--decay-bits", b, 12, 15)?;
            b
        }
        None => auto_decay_bits(nf.values().flat_map(|f| [f.du, f.dv])),
    };
    let one = (1u32 << decay_bits) as f64;
    // Scales, then integers, population by population.
    let qmax = crate::model::weight_max(o.weight_bits) as f64;
    let vmax = ((1i64 << (o.state_bits - 1)) - 1) as f64;
    let mut pops = vec![];
    let mut projections: Vec<(usize, Projection)> = vec![];
    for (pi, n) in order.iter().enumerate() {
        let f = &nf[n];
        let size = f.gain.len();
        let incoming: Vec<usize> = (0..fprojs.len())
            .filter(|j| fprojs[*j].target == *n)
            .collect();
        // Weights into each neuron, gains applied.
        let mut bias = f.bias.clone();
        for &j in &incoming {
            if let Some(b) = &fprojs[j].bias {
                if b.iter().any(|x| *x != 0.0) && !f.bias_ok {
                    return Err(bad(file, &fprojs[j].name, "bias", "non-zero", &format!("zero: a bias into the synaptic current of {} node `{n}` has no integer equivalent", g.nodes[*n].kind)));
                }
                for (i, x) in b.iter().enumerate() {
                    bias[i] += x * f.gain[i];
                }
            }
        }
        let mut maxw = vec![0f64; size];
        let mut conv_channels: Vec<usize> = vec![];
        for &j in &incoming {
            scale_conn(&mut fprojs[j].conn, &f.gain, &f.shape)?;
            for_each_f(&fprojs[j].conn, &f.shape, |_, t, w| {
                maxw[t] = maxw[t].max(w.abs())
            });
            if let FConn::Conv(c, _) = &fprojs[j].conn {
                conv_channels.push(c.out_ch);
            }
        }
        let thr: Vec<f64> = f.threshold.clone().unwrap_or_else(|| vec![0.0; size]);
        let integral = incoming.iter().all(|j| {
            let mut ok = true;
            for_each_f(&fprojs[*j].conn, &f.shape, |_, _, w| {
                ok &= w.fract() == 0.0 && w.abs() <= qmax
            });
            ok
        }) && thr
            .iter()
            .chain(&bias)
            .chain(&f.v_reset)
            .all(|x| x.fract() == 0.0 && x.abs() <= vmax);
        let mut scale = vec![1f64; size];
        if !integral {
            let per_pop = maxw.iter().cloned().fold(0.0, f64::max);
            for i in 0..size {
                let m = if o.per_channel { maxw[i] } else { per_pop };
                let head = thr[i].abs().max(f.v_reset[i].abs()).max(bias[i].abs());
                let mut s = if m > 0.0 { qmax / m } else { 1.0 };
                if head > 0.0 {
                    s = s.min(vmax / (4.0 * head));
                }
                scale[i] = s;
            }
            if !o.per_channel {
                let s = scale.iter().cloned().fold(f64::INFINITY, f64::min);
                scale.iter_mut().for_each(|x| *x = s);
            } else if let Some(&ch) = conv_channels.first() {
                // A convolution shares its kernel over a channel's neurons.
                let per = size / ch.max(1);
                for c in 0..ch {
                    let r = c * per..(c + 1) * per;
                    let m = scale[r.clone()]
                        .iter()
                        .cloned()
                        .fold(f64::INFINITY, f64::min);
                    scale[r].iter_mut().for_each(|x| *x = m);
                }
            }
        }
        let q = |x: f64, s: f64| (x * s).round() as i64;
        let fit = |v: i64, what: &str, i: usize| -> Result<i32> {
            if v.unsigned_abs() as f64 > vmax {
                return Err(bad(
                    file,
                    n,
                    what,
                    format!("{v} at neuron {i} after scaling"),
                    &format!(
                        "a value within +-{vmax} (state_bits = {}); raise --state-bits",
                        o.state_bits
                    ),
                ));
            }
            Ok(v as i32)
        };
        let threshold: Vec<i32> = match &f.threshold {
            Some(t) => t
                .iter()
                .enumerate()
                .map(|(i, x)| fit(q(*x, scale[i]), "v_threshold", i))
                .collect::<Result<_>>()?,
            None => vec![vmax as i32; size], // never spikes
        };
        let bias_q: Vec<i32> = bias
            .iter()
            .enumerate()
            .map(|(i, x)| fit(q(*x, scale[i]), "bias", i))
            .collect::<Result<_>>()?;
        let resets: BTreeSet<i64> = f
            .v_reset
            .iter()
            .enumerate()
            .map(|(i, x)| q(*x, scale[i]))
            .collect();
        if resets.len() > 1 {
            return Err(bad(
                file,
                n,
                "v_reset",
                "values that differ between neurons",
                "one v_reset per node (after scaling: use per-tensor scales)",
            ));
        }
        let v_reset = fit(resets.into_iter().next().unwrap_or(0), "v_reset", 0)?;
        let shape = match f.shape.as_slice() {
            [c, h, w] => Shape {
                c: *c,
                h: *h,
                w: *w,
            },
            _ => Shape::flat(size),
        };
        pops.push(Population {
            name: n.to_string(),
            shape,
            neuron: Neuron {
                threshold: compact(threshold),
                bias: compact(bias_q),
                du: (f.du * one).round() as u16,
                dv: (f.dv * one).round() as u16,
                decay_bits,
                v_reset,
                reset: if f.threshold.is_some() {
                    o.reset
                } else {
                    Reset::ToValue
                },
                input_shift: 0,
                input_right_shift: 0,
                u_init: crate::model::Param::Scalar(0),
                v_init: crate::model::Param::Scalar(0),
                loihi_bounds: false,
                state_bits: o.state_bits,
                adaptation: None,
            },
            lateral_inhibition: 0,
        });
        for &j in &incoming {
            let p = &fprojs[j];
            let src_len = match &p.source {
                None => in_shape.iter().product(),
                Some(s) => nf[s.as_str()].gain.len(),
            };
            let conn = quantize(&p.conn, &scale, src_len, size);
            projections.push((
                j,
                Projection {
                    full_range: false,
                    name: p.name.clone(),
                    source: match &p.source {
                        None => Source::Input,
                        Some(s) => Source::Population(pos[s.as_str()]),
                    },
                    target: pi,
                    weight_bits: o.weight_bits,
                    delay: Some(delays[j]),
                    conn,
                    stdp: None,
                },
            ));
        }
    }
    projections.sort_by_key(|(j, _)| *j);
    let in_len: usize = in_shape.iter().product();
    let model = Model {
        name: name.to_string(),
        metadata: BTreeMap::from([
            ("source".to_string(), format!("NIR import of {file}")),
            (
                "import".to_string(),
                format!(
                    "dt = {} s, reset = {:?}, weight_bits = {}, scale = {}, state_bits = {}, decay_bits = {}",
                    o.dt,
                    o.reset,
                    o.weight_bits,
                    if o.per_channel { "per channel" } else { "per tensor" },
                    o.state_bits,
                    decay_bits
                ),
            ),
        ]),
        timesteps: o.timesteps,
        semantics: Semantics::LayerSerial,
        input: Input {
            size: in_len,
            encoding: match o.graded_bits {
                Some(bits) => InputEncoding::Graded { bits },
                None => InputEncoding::Spikes,
            },
            rate: 0.2,
            shape: match in_shape.as_slice() {
                [c, h, w] => Some((*c, *h, *w)),
                [h, w] => Some((1, *h, *w)),
                _ => None,
            },
        },
        readout: if nf[out_src].threshold.is_some() { Readout::SpikeCount } else { Readout::Membrane },
        early_exit: None,
        output: pos[out_src],
        populations: pops,
        projections: projections.into_iter().map(|(_, p)| p).collect(),
    };
    model.validate(file)?;
    Ok(model)
}

fn compact(v: Vec<i32>) -> Param {
    if v.windows(2).all(|w| w[0] == w[1]) && !v.is_empty() {
        Param::Scalar(v[0])
    } else {
        Param::PerNeuron(v)
    }
}

/// One value of a per-neuron parameter for every neuron.
fn per_neuron(
    file: &str,
    name: &str,
    n: &Node,
    f: &str,
    size: usize,
    default: Option<f64>,
) -> Result<Vec<f64>> {
    match n.fields.get(f) {
        None => default
            .map(|d| vec![d; size])
            .ok_or_else(|| bad(file, name, f, "missing", "a value per neuron")),
        Some(t) if t.len() == size => Ok(t.data.clone()),
        Some(t) if t.len() == 1 => Ok(vec![t.data[0]; size]),
        Some(t) => Err(bad(
            file,
            name,
            f,
            format!("{} values", t.len()),
            &format!("one value or {size} (one per neuron)"),
        )),
    }
}

/// The decay rate `dt / tau`, the same for every neuron.
fn decay_of(file: &str, name: &str, f: &str, tau: &[f64], dt: f64) -> Result<f64> {
    let mut out: Option<f64> = None;
    for t in tau {
        if t.is_nan() || *t <= 0.0 || !t.is_finite() {
            return Err(bad(file, name, f, t, "a time constant > 0 in seconds"));
        }
        if *t < dt * (1.0 - 1e-9) {
            return Err(bad(file, name, f, t, &format!("a time constant >= dt = {dt} s (check --dt; Norse 1.1 writes tau = dt / tau_mem_inv, norse#411)")));
        }
        let d = (dt / t).min(1.0);
        match out {
            None => out = Some(d),
            Some(o) if (o - d).abs() > 1e-6 * o.max(d) => {
                return Err(bad(
                    file,
                    name,
                    f,
                    "values that differ between neurons",
                    "one decay per population (the chip's du, dv are per population)",
                ))
            }
            _ => {}
        }
    }
    Ok(out.unwrap_or(1.0))
}

/// The fewest decay bits (12 ..= 15) that hold every rate within 1e-5.
fn auto_decay_bits(rates: impl Iterator<Item = f64> + Clone) -> u8 {
    (12..=15u8)
        .find(|b| {
            let one = (1u32 << b) as f64;
            rates
                .clone()
                .all(|r| ((r * one).round() / one - r).abs() <= 1e-5 * r.max(1e-12))
        })
        .unwrap_or(15)
}

fn neuron_f(file: &str, name: &str, n: &Node, o: &ImportOptions) -> Result<NeuronF> {
    let key = match n.kind.as_str() {
        "Threshold" => "threshold",
        "CubaLIF" | "LIF" | "IF" => "v_threshold",
        _ => "r",
    };
    let t = field(file, name, n, key)?;
    let shape = t.shape.clone();
    let size = t.len();
    let pn = |f: &str, d: Option<f64>| per_neuron(file, name, n, f, size, d);
    let dt = o.dt;
    let zeros = vec![0.0; size];
    Ok(match n.kind.as_str() {
        "LIF" | "LI" => {
            let tau = pn("tau", None)?;
            let r = pn("r", Some(1.0))?;
            let leak = pn("v_leak", Some(0.0))?;
            let dv = decay_of(file, name, "tau", &tau, dt)?;
            NeuronF {
                shape,
                du: 1.0,
                dv,
                gain: r.iter().zip(&tau).map(|(r, t)| r * dt / t).collect(),
                bias: leak.iter().zip(&tau).map(|(l, t)| l * dt / t).collect(),
                threshold: if n.kind == "LIF" {
                    Some(pn("v_threshold", None)?)
                } else {
                    None
                },
                v_reset: if n.kind == "LIF" {
                    pn("v_reset", Some(0.0))?
                } else {
                    zeros
                },
                bias_ok: true,
            }
        }
        "IF" | "I" => NeuronF {
            shape,
            du: 1.0,
            dv: 0.0,
            gain: pn("r", Some(1.0))?.iter().map(|r| r * dt).collect(),
            bias: zeros.clone(),
            threshold: if n.kind == "IF" {
                Some(pn("v_threshold", None)?)
            } else {
                None
            },
            v_reset: if n.kind == "IF" {
                pn("v_reset", Some(0.0))?
            } else {
                zeros
            },
            bias_ok: true,
        },
        "CubaLIF" => {
            let (ts, tm) = (pn("tau_syn", None)?, pn("tau_mem", None)?);
            let (r, w_in) = (pn("r", Some(1.0))?, pn("w_in", Some(1.0))?);
            let leak = pn("v_leak", Some(0.0))?;
            NeuronF {
                shape,
                du: decay_of(file, name, "tau_syn", &ts, dt)?,
                dv: decay_of(file, name, "tau_mem", &tm, dt)?,
                gain: (0..size)
                    .map(|i| (dt / tm[i]) * r[i] * (dt / ts[i]) * w_in[i])
                    .collect(),
                bias: leak.iter().zip(&tm).map(|(l, t)| l * dt / t).collect(),
                threshold: Some(pn("v_threshold", None)?),
                v_reset: pn("v_reset", Some(0.0))?,
                bias_ok: false,
            }
        }
        _ => NeuronF {
            // Threshold: a stateless comparison, v = x every step.
            shape,
            du: 1.0,
            dv: 1.0,
            gain: vec![1.0; size],
            bias: zeros.clone(),
            threshold: Some(pn("threshold", None)?),
            v_reset: zeros,
            bias_ok: true,
        },
    })
}

fn lin(file: &str, name: &str, n: &Node, dt: f64) -> Result<Lin> {
    Ok(match n.kind.as_str() {
        "Affine" | "Linear" => {
            let w = field(file, name, n, "weight")?.clone();
            if w.shape.len() != 2 {
                return Err(bad(
                    file,
                    name,
                    "weight",
                    format!("shape {:?}", w.shape),
                    "(out, in)",
                ));
            }
            let b = match (n.kind.as_str(), n.fields.get("bias")) {
                ("Affine", Some(b)) if b.len() == w.shape[0] => Some(b.data.clone()),
                ("Affine", Some(b)) => {
                    return Err(bad(
                        file,
                        name,
                        "bias",
                        format!("{} values", b.len()),
                        &format!("{} (one per output)", w.shape[0]),
                    ))
                }
                _ => None,
            };
            Lin::Affine { w, b }
        }
        "Scale" => Lin::Scale(field(file, name, n, "scale")?.data.clone()),
        "Conv2d" => {
            let w = field(file, name, n, "weight")?.clone();
            if w.shape.len() != 4 {
                return Err(bad(
                    file,
                    name,
                    "weight",
                    format!("shape {:?}", w.shape),
                    "(out_channels, in_channels / groups, kh, kw)",
                ));
            }
            let groups = n.fields.get("groups").map_or(1.0, |t| t.data[0]);
            if groups != 1.0 {
                return Err(bad(
                    file,
                    name,
                    "groups",
                    groups,
                    "1 (grouped convolutions are not supported)",
                ));
            }
            if !n.fields.contains_key("padding") && n.fields.contains_key("stride") {
                return Err(bad(
                    file,
                    name,
                    "padding",
                    "a string",
                    "integer padding (\"same\" and \"valid\" are not supported)",
                ));
            }
            let b = n.fields.get("bias").map(|t| t.data.clone());
            if let Some(b) = &b {
                if b.len() != w.shape[0] {
                    return Err(bad(
                        file,
                        name,
                        "bias",
                        format!("{} values", b.len()),
                        &format!("{} (one per output channel)", w.shape[0]),
                    ));
                }
            }
            Lin::Conv(ConvF {
                b,
                s: pair(file, name, n, "stride", 1)?,
                p: pair(file, name, n, "padding", 0)?,
                d: pair(file, name, n, "dilation", 1)?,
                w,
            })
        }
        "SumPool2d" | "AvgPool2d" => {
            let k = pair(file, name, n, "kernel_size", 1)?;
            Lin::Pool {
                k,
                s: pair(file, name, n, "stride", k.0)?,
                p: pair(file, name, n, "padding", 0)?,
                avg: n.kind == "AvgPool2d",
            }
        }
        "Delay" => {
            let d = field(file, name, n, "delay")?;
            let steps: BTreeSet<i64> = d.data.iter().map(|x| (x / dt).round() as i64).collect();
            match steps.iter().collect::<Vec<_>>().as_slice() {
                [s] if **s >= 0 && **s <= crate::model::schedule::MAX_DELAY as i64 => {
                    Lin::Delay(**s as u32)
                }
                _ => {
                    return Err(bad(
                        file,
                        name,
                        "delay",
                        format!("{:?} steps of dt = {dt}", steps),
                        "one delay for the whole node, 0 ..= 255 steps",
                    ))
                }
            }
        }
        _ => Lin::Pass, // Flatten, Identity: values unchanged, C order
    })
}

/// Every path of linear nodes ending at `at`: its source (None = Input)
/// and its nodes from the source's side.
fn walk<'a>(
    file: &str,
    g: &'a Graph,
    preds: &BTreeMap<&'a str, Vec<&'a str>>,
    at: &'a str,
    input: &str,
    stack: &mut Vec<&'a str>,
    out: &mut Vec<(Option<&'a str>, Vec<&'a str>)>,
) -> Result<()> {
    for &p in preds.get(at).map(|v| v.as_slice()).unwrap_or(&[]) {
        let kind = g.nodes[p].kind.as_str();
        if p == input {
            out.push((None, stack.iter().rev().copied().collect()));
        } else if is_neuron(kind) {
            out.push((Some(p), stack.iter().rev().copied().collect()));
        } else if kind == "Output" {
            return Err(bad(
                file,
                p,
                "edges",
                "an edge out of the Output",
                "edges into the Output only",
            ));
        } else {
            if stack.contains(&p) || stack.len() > g.nodes.len() {
                return Err(bad(
                    file,
                    p,
                    "edges",
                    "a cycle without a neuron node",
                    "every cycle to pass through a neuron node",
                ));
            }
            stack.push(p);
            walk(file, g, preds, p, input, stack, out)?;
            stack.pop();
        }
    }
    Ok(())
}

/// Applies a linear node to `x` of `shape`: the output and its shape.
fn apply(
    l: &Lin,
    shape: &[usize],
    x: &[f64],
) -> std::result::Result<(Vec<usize>, Vec<f64>), String> {
    let n: usize = shape.iter().product();
    Ok(match l {
        Lin::Pass | Lin::Delay(_) => (shape.to_vec(), x.to_vec()),
        Lin::Affine { w, .. } => {
            let (o, i) = (w.shape[0], w.shape[1]);
            if i != n {
                return Err(format!("a weight of {i} inputs on {n} values"));
            }
            let mut y = vec![0.0; o];
            for (s, xs) in x.iter().enumerate() {
                if *xs != 0.0 {
                    for (r, yr) in y.iter_mut().enumerate() {
                        *yr += w.data[r * i + s] * xs;
                    }
                }
            }
            (vec![o], y)
        }
        Lin::Scale(s) => {
            if s.len() != n && s.len() != 1 {
                return Err(format!("{} scales on {n} values", s.len()));
            }
            (
                shape.to_vec(),
                x.iter()
                    .enumerate()
                    .map(|(i, v)| v * s[i % s.len()])
                    .collect(),
            )
        }
        Lin::Conv(c) => {
            let [c_in, h, w] = chw(shape)?;
            let [co, ci, kh, kw] = [c.w.shape[0], c.w.shape[1], c.w.shape[2], c.w.shape[3]];
            if ci != c_in {
                return Err(format!("a kernel of {ci} input channels on {c_in}"));
            }
            let oh = conv_len(h, kh, c.s.0, c.p.0, c.d.0)?;
            let ow = conv_len(w, kw, c.s.1, c.p.1, c.d.1)?;
            let mut y = vec![0.0; co * oh * ow];
            for o in 0..co {
                for yy in 0..oh {
                    for xx in 0..ow {
                        let mut acc = 0.0;
                        for i in 0..ci {
                            for a in 0..kh {
                                let iy = (yy * c.s.0 + a * c.d.0) as isize - c.p.0 as isize;
                                if iy < 0 || iy >= h as isize {
                                    continue;
                                }
                                for b in 0..kw {
                                    let ix = (xx * c.s.1 + b * c.d.1) as isize - c.p.1 as isize;
                                    if ix < 0 || ix >= w as isize {
                                        continue;
                                    }
                                    acc += c.w.data[((o * ci + i) * kh + a) * kw + b]
                                        * x[(i * h + iy as usize) * w + ix as usize];
                                }
                            }
                        }
                        y[(o * oh + yy) * ow + xx] = acc;
                    }
                }
            }
            (vec![co, oh, ow], y)
        }
        Lin::Pool { k, s, p, avg } => {
            let [c, h, w] = chw(shape)?;
            let oh = conv_len(h, k.0, s.0, p.0, 1)?;
            let ow = conv_len(w, k.1, s.1, p.1, 1)?;
            let f = if *avg { 1.0 / (k.0 * k.1) as f64 } else { 1.0 };
            let mut y = vec![0.0; c * oh * ow];
            for ch in 0..c {
                for yy in 0..oh {
                    for xx in 0..ow {
                        let mut acc = 0.0;
                        for a in 0..k.0 {
                            for b in 0..k.1 {
                                let iy = (yy * s.0 + a) as isize - p.0 as isize;
                                let ix = (xx * s.1 + b) as isize - p.1 as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += x[(ch * h + iy as usize) * w + ix as usize];
                                }
                            }
                        }
                        y[(ch * oh + yy) * ow + xx] = acc * f;
                    }
                }
            }
            (vec![c, oh, ow], y)
        }
    })
}

fn chw(shape: &[usize]) -> std::result::Result<[usize; 3], String> {
    match shape {
        [c, h, w] => Ok([*c, *h, *w]),
        [h, w] => Ok([1, *h, *w]),
        _ => Err(format!("a 2-D operation on shape {shape:?}")),
    }
}

fn conv_len(
    n: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
) -> std::result::Result<usize, String> {
    let span = d * (k.max(1) - 1) + 1;
    if s == 0 || n + 2 * p < span {
        return Err(format!(
            "a window of {span} (stride {s}) over {n} + 2 x {p} padding"
        ));
    }
    Ok((n + 2 * p - span) / s + 1)
}

/// Composes a path's linear nodes into one projection.
fn compose(
    file: &str,
    src: Option<&str>,
    target: &str,
    src_shape: &[usize],
    tgt_shape: &[usize],
    ops: &[(String, Lin)],
) -> Result<FProj> {
    let name = match ops
        .iter()
        .find(|(_, l)| !matches!(l, Lin::Pass | Lin::Delay(_)))
    {
        Some((n, _)) => n.clone(),
        None => format!("{}->{target}", src.unwrap_or("input")),
    };
    let err = |msg: String| {
        bad(
            file,
            &name,
            "shape",
            msg,
            &format!("a path whose output has the shape of `{target}` {tgt_shape:?}"),
        )
    };
    let steps: u32 = ops
        .iter()
        .map(|(_, l)| if let Lin::Delay(d) = l { *d } else { 0 })
        .sum();
    let core: Vec<&Lin> = ops
        .iter()
        .map(|(_, l)| l)
        .filter(|l| !matches!(l, Lin::Pass | Lin::Delay(_)))
        .collect();
    let n_src: usize = src_shape.iter().product();
    let n_tgt: usize = tgt_shape.iter().product();
    // The bias: each node's bias pushed through the nodes after it.
    let mut bias: Option<Vec<f64>> = None;
    let mut shape = src_shape.to_vec();
    for l in &core {
        let (s2, b2) = match &bias {
            Some(b) => {
                let (s, y) = apply(l, &shape, b).map_err(&err)?;
                (s, Some(y))
            }
            None => (apply_shape(l, &shape).map_err(&err)?, None),
        };
        shape = s2;
        bias = b2;
        let own = match l {
            Lin::Affine { b: Some(b), .. } => Some(b.clone()),
            Lin::Conv(c) => c.b.as_ref().map(|b| {
                let per = shape.iter().product::<usize>() / b.len();
                b.iter()
                    .flat_map(|x| std::iter::repeat_n(*x, per))
                    .collect()
            }),
            _ => None,
        };
        if let Some(o) = own {
            bias = Some(match bias {
                Some(b) => b.iter().zip(&o).map(|(x, y)| x + y).collect(),
                None => o,
            });
        }
    }
    if shape.iter().product::<usize>() != n_tgt {
        return Err(err(format!("{shape:?}")));
    }
    let conn = match core.as_slice() {
        [Lin::Affine { w, .. }] => FConn::Dense(w.data.clone()),
        [Lin::Conv(c)] | [Lin::Conv(c), Lin::Pool { .. }]
            if c.d == (1, 1)
                && c.s.0 == c.s.1
                && c.p.0 == c.p.1
                && c.w.shape[2] == c.w.shape[3] =>
        {
            let pool = match core.get(1) {
                Some(Lin::Pool { k, s, p, avg }) if k.0 == k.1 && s.0 == s.1 && *p == (0, 0) => {
                    Some((k.0, s.0, *avg))
                }
                Some(_) => None,
                None => Some((1, 1, false)),
            };
            match (pool, chw(src_shape)) {
                (Some((kp, sp, avg)), Ok([ci, h, w])) => {
                    let (co, k, s) = (c.w.shape[0], c.w.shape[2], c.s.0);
                    let kk = k + (kp - 1) * s;
                    let f = if avg { 1.0 / (kp * kp) as f64 } else { 1.0 };
                    let mut wk = vec![0.0; co * ci * kk * kk];
                    for o in 0..co {
                        for i in 0..ci {
                            for dy in 0..kp {
                                for dx in 0..kp {
                                    for a in 0..k {
                                        for b in 0..k {
                                            wk[((o * ci + i) * kk + dy * s + a) * kk
                                                + dx * s
                                                + b] +=
                                                f * c.w.data[((o * ci + i) * k + a) * k + b];
                                        }
                                    }
                                }
                            }
                        }
                    }
                    let conv = Conv2d {
                        in_ch: ci,
                        out_ch: co,
                        kernel: kk,
                        stride: s * sp,
                        padding: c.p.0,
                        in_h: h,
                        in_w: w,
                    };
                    FConn::Conv(conv, wk)
                }
                _ => generic(src_shape, n_src, &core).map_err(&err)?,
            }
        }
        _ => generic(src_shape, n_src, &core).map_err(&err)?,
    };
    if let FConn::Conv(c, _) = &conn {
        if c.output().len() != n_tgt {
            return Err(err(format!("{:?}", c.output())));
        }
    }
    Ok(FProj {
        name,
        source: src.map(str::to_string),
        target: target.to_string(),
        steps,
        conn,
        bias,
    })
}

fn apply_shape(l: &Lin, shape: &[usize]) -> std::result::Result<Vec<usize>, String> {
    let n: usize = shape.iter().product();
    Ok(match l {
        Lin::Affine { w, .. } if w.shape[1] == n => vec![w.shape[0]],
        Lin::Affine { w, .. } => {
            return Err(format!("a weight of {} inputs on {n} values", w.shape[1]))
        }
        Lin::Conv(c) => {
            let [_, h, w] = chw(shape)?;
            vec![
                c.w.shape[0],
                conv_len(h, c.w.shape[2], c.s.0, c.p.0, c.d.0)?,
                conv_len(w, c.w.shape[3], c.s.1, c.p.1, c.d.1)?,
            ]
        }
        Lin::Pool { k, s, p, .. } => {
            let [c, h, w] = chw(shape)?;
            vec![
                c,
                conv_len(h, k.0, s.0, p.0, 1)?,
                conv_len(w, k.1, s.1, p.1, 1)?,
            ]
        }
        _ => shape.to_vec(),
    })
}

/// Any chain of linear nodes, column by column.
fn generic(src_shape: &[usize], n_src: usize, core: &[&Lin]) -> std::result::Result<FConn, String> {
    let mut work = 0f64;
    let mut shape = src_shape.to_vec();
    for l in core {
        let next = apply_shape(l, &shape)?;
        work +=
            shape.iter().product::<usize>() as f64 * next.iter().product::<usize>().max(1) as f64;
        shape = next;
    }
    if work * n_src as f64 > MAX_COMPOSE_WORK {
        return Err(format!(
            "a chain of {} nodes too large to compose ({:.1e} operations)",
            core.len(),
            work * n_src as f64
        ));
    }
    let mut triples = vec![];
    let mut x = vec![0.0; n_src];
    for s in 0..n_src {
        x[s] = 1.0;
        let mut v = x.clone();
        let mut sh = src_shape.to_vec();
        for l in core {
            let (s2, v2) = apply(l, &sh, &v)?;
            sh = s2;
            v = v2;
        }
        x[s] = 0.0;
        for (t, w) in v.iter().enumerate() {
            if *w != 0.0 {
                triples.push((s as u32, t as u32, *w));
            }
        }
    }
    Ok(FConn::Triples(triples))
}

/// Multiplies the weights into target neuron t by `gain[t]`.
fn scale_conn(c: &mut FConn, gain: &[f64], tgt_shape: &[usize]) -> Result<()> {
    match c {
        FConn::Dense(w) => {
            let n_src = w.len() / gain.len().max(1);
            for (t, row) in w.chunks_mut(n_src.max(1)).enumerate() {
                row.iter_mut().for_each(|x| *x *= gain[t]);
            }
        }
        FConn::Triples(tr) => tr.iter_mut().for_each(|(_, t, w)| *w *= gain[*t as usize]),
        FConn::Conv(conv, w) => {
            let per = conv.output().h * conv.output().w;
            let uniform = (0..conv.out_ch).all(|c| {
                gain[c * per..(c + 1) * per]
                    .iter()
                    .all(|g| *g == gain[c * per])
            });
            if uniform {
                let per_k = w.len() / conv.out_ch;
                for (c, ker) in w.chunks_mut(per_k).enumerate() {
                    ker.iter_mut().for_each(|x| *x *= gain[c * per]);
                }
            } else {
                let mut tr = vec![];
                for_each_f(c, tgt_shape, |s, t, w| {
                    tr.push((s as u32, t as u32, w * gain[t]))
                });
                *c = FConn::Triples(tr);
            }
        }
    }
    Ok(())
}

/// Calls `f(source, target, weight)` for every non-zero weight.
fn for_each_f(c: &FConn, tgt_shape: &[usize], mut f: impl FnMut(usize, usize, f64)) {
    match c {
        FConn::Dense(w) => {
            let n_tgt: usize = tgt_shape.iter().product();
            let n_src = w.len() / n_tgt.max(1);
            for (i, x) in w.iter().enumerate() {
                if *x != 0.0 {
                    f(i % n_src, i / n_src, *x);
                }
            }
        }
        FConn::Triples(tr) => tr
            .iter()
            .for_each(|(s, t, w)| f(*s as usize, *t as usize, *w)),
        FConn::Conv(conv, w) => {
            // Walk the kernel by index (1-based: the walk skips zeros).
            let wi: Vec<i32> = (1..=w.len() as i32).collect();
            crate::model::synapses::for_each(
                crate::model::synapses::View::Conv(conv, &wi),
                conv.input(),
                conv.output(),
                |s, t, k| {
                    let x = w[k as usize - 1];
                    if x != 0.0 {
                        f(s, t, x)
                    }
                },
            );
        }
    }
}

fn quantize(c: &FConn, scale: &[f64], n_src: usize, n_tgt: usize) -> Connectivity {
    let q = |w: f64, s: f64| (w * s).round() as i32;
    match c {
        FConn::Dense(w) => Connectivity::Dense {
            weights: w
                .iter()
                .enumerate()
                .map(|(i, x)| q(*x, scale[i / n_src.max(1)]))
                .collect(),
        },
        FConn::Conv(conv, w) => {
            let per = conv.output().h * conv.output().w;
            let per_k = w.len() / conv.out_ch;
            Connectivity::Conv2d {
                conv: *conv,
                weights: w
                    .iter()
                    .enumerate()
                    .map(|(i, x)| q(*x, scale[(i / per_k) * per]))
                    .collect(),
            }
        }
        FConn::Triples(tr) => {
            let _ = n_tgt;
            Connectivity::Sparse(Sparse::from_triples(
                n_src,
                tr.iter()
                    .map(|(s, t, w)| (*s, *t, q(*w, scale[*t as usize])))
                    .collect(),
            ))
        }
    }
}

/// Neuron nodes in the order they update within a timestep: a path of no
/// Delay is followed within the step unless it closes a cycle, which a
/// depth-first search from the input's populations breaks.
fn time_order<'a>(file: &str, neurons: &[&'a str], fp: &[FProj]) -> Result<Vec<&'a str>> {
    let idx: BTreeMap<&str, usize> = neurons.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let n = neurons.len();
    let mut out: Vec<Vec<usize>> = vec![vec![]; n];
    let mut fed_by_input = vec![false; n];
    for p in fp {
        let t = idx[p.target.as_str()];
        match &p.source {
            None => fed_by_input[t] = true,
            Some(s) if p.steps == 0 => out[idx[s.as_str()]].push(t),
            _ => {}
        }
    }
    out.iter_mut().for_each(|v| {
        v.sort_unstable();
        v.dedup()
    });
    // Depth-first post-order; reversed, it is a topological order of the
    // graph without its back edges.
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut post = vec![];
    let starts: Vec<usize> = (0..n).filter(|i| fed_by_input[*i]).chain(0..n).collect();
    for s in starts {
        if state[s] != 0 {
            continue;
        }
        let mut stack = vec![(s, 0usize)];
        state[s] = 1;
        while let Some((v, k)) = stack.pop() {
            if k < out[v].len() {
                stack.push((v, k + 1));
                let w = out[v][k];
                if state[w] == 0 {
                    state[w] = 1;
                    stack.push((w, 0));
                }
            } else {
                state[v] = 2;
                post.push(v);
            }
        }
    }
    if post.len() != n {
        return Err(Error::invalid(
            file,
            "edges",
            "unordered nodes",
            "a graph of reachable nodes",
        ));
    }
    post.reverse();
    Ok(post.into_iter().map(|i| neurons[i]).collect())
}
