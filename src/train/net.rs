//! The float network the trainer optimizes: dense layers of LIF neurons
//! with subtractive reset, the chip's dynamics in real numbers, and their
//! gradients by backpropagation through time with a surrogate spike
//! derivative. Weights are stored `[input][output]` so that a sparse input
//! (spikes) costs one row per active input.

/// Synapses by source, for layers that are not fully connected (conv,
/// pooling): input `i` reaches `out[k]` through weight `widx[k]` for `k` in
/// `start[i]..start[i + 1]`; `UNIT` marks a fixed weight of 1 (pooling).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    pub start: Vec<u32>,
    pub out: Vec<u32>,
    pub widx: Vec<u32>,
}

pub const UNIT: u32 = u32::MAX;

/// One layer's effective parameters for a forward pass (already quantized
/// by the caller when training is quantization-aware).
#[derive(Clone, Debug)]
pub struct LayerParams {
    pub inputs: usize,
    pub outputs: usize,
    /// Dense layers (`fanout` None): `[input][output]`. Others: indexed by
    /// the fanout's `widx`.
    pub w: Vec<f32>,
    pub fanout: Option<std::sync::Arc<Fanout>>,
    pub b: Vec<f32>,
    pub threshold: f32,
    /// Voltage kept per timestep: `(4096 - dv) / 4096`.
    pub leak: f32,
    /// Whether the layer spikes (false: the membrane readout layer).
    pub spikes: bool,
    /// An ANN layer instead: emits `max(0, v)` and keeps no state (for
    /// ANN-to-SNN conversion; used with one timestep and no leak).
    pub relu: bool,
    /// Gradient checking only: emit the smooth `f(v - threshold)` whose
    /// derivative is the surrogate, and do not reset, so that finite
    /// differences of the loss equal the backward pass exactly.
    pub smooth: bool,
}

/// Slope of the surrogate derivative `1 / (1 + k |v - threshold|)^2`.
pub const SURROGATE_K: f32 = 2.0;

fn surrogate(v: f32, threshold: f32) -> f32 {
    let d = 1.0 + SURROGATE_K * (v - threshold).abs() / threshold.max(1e-6);
    1.0 / (d * d)
}

/// The function whose derivative is `surrogate`.
fn smooth_spike(v: f32, threshold: f32) -> f32 {
    (v - threshold) / (1.0 + SURROGATE_K * (v - threshold).abs() / threshold.max(1e-6))
}

/// What a forward pass keeps for the backward pass: per layer and
/// timestep, the active inputs (index, value), the voltage before reset
/// and the spikes.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub inputs: Vec<Vec<Vec<(u32, f32)>>>,
    pub v: Vec<Vec<Vec<f32>>>,
    pub s: Vec<Vec<Vec<f32>>>,
}

/// Runs one sample: `input[t]` holds the active inputs of timestep t.
/// Returns the logits (final voltage or spike counts of the last layer).
pub fn forward(layers: &[LayerParams], input: &[Vec<(u32, f32)>], tr: &mut Trace) -> Vec<f32> {
    let n = layers.len();
    tr.inputs = vec![vec![]; n];
    tr.v = vec![vec![]; n];
    tr.s = vec![vec![]; n];
    let mut state: Vec<Vec<f32>> = layers.iter().map(|l| vec![0.0; l.outputs]).collect();
    let mut counts = vec![0.0f32; layers[n - 1].outputs];
    for x_t in input {
        let mut x: Vec<(u32, f32)> = x_t.clone();
        for (l, p) in layers.iter().enumerate() {
            let mut cur = p.b.clone();
            match &p.fanout {
                None => {
                    for &(i, xv) in &x {
                        let row = &p.w[i as usize * p.outputs..(i as usize + 1) * p.outputs];
                        for (c, w) in cur.iter_mut().zip(row) {
                            *c += xv * w;
                        }
                    }
                }
                Some(f) => {
                    for &(i, xv) in &x {
                        for k in f.start[i as usize] as usize..f.start[i as usize + 1] as usize {
                            let w = match f.widx[k] {
                                UNIT => 1.0,
                                j => p.w[j as usize],
                            };
                            cur[f.out[k] as usize] += xv * w;
                        }
                    }
                }
            }
            let v = &mut state[l];
            let mut v_pre = vec![0.0; p.outputs];
            let mut s = vec![0.0; p.outputs];
            let mut next = vec![];
            for o in 0..p.outputs {
                let nv = p.leak * v[o] + cur[o];
                v_pre[o] = nv;
                if p.relu {
                    s[o] = nv.max(0.0);
                    v[o] = 0.0;
                    if s[o] > 0.0 {
                        next.push((o as u32, s[o]));
                    }
                } else if p.smooth && p.spikes {
                    s[o] = smooth_spike(nv, p.threshold);
                    v[o] = nv;
                    next.push((o as u32, s[o]));
                } else if p.spikes && nv > p.threshold {
                    s[o] = 1.0;
                    v[o] = nv - p.threshold;
                    next.push((o as u32, 1.0));
                } else {
                    v[o] = nv;
                }
            }
            if l + 1 == n {
                for (c, si) in counts.iter_mut().zip(&s) {
                    *c += si;
                }
            }
            tr.inputs[l].push(std::mem::replace(&mut x, next));
            tr.v[l].push(v_pre);
            tr.s[l].push(s);
        }
    }
    if layers[n - 1].spikes {
        counts
    } else {
        state[n - 1].clone()
    }
}

/// Softmax cross-entropy of `logits` against `label`: (loss, dL/dlogits).
pub fn cross_entropy(logits: &[f32], label: usize) -> (f32, Vec<f32>) {
    let m = logits.iter().fold(f32::MIN, |a, b| a.max(*b));
    let e: Vec<f32> = logits.iter().map(|z| (z - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    let mut g: Vec<f32> = e.iter().map(|x| x / sum).collect();
    let loss = -(g[label].max(1e-12)).ln();
    g[label] -= 1.0;
    (loss, g)
}

/// Gradients of one layer, same layout as its parameters.
#[derive(Clone, Debug)]
pub struct LayerGrads {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl LayerGrads {
    pub fn zeros(p: &LayerParams) -> LayerGrads {
        LayerGrads {
            w: vec![0.0; p.w.len()],
            b: vec![0.0; p.b.len()],
        }
    }
}

/// Backpropagation through time from `g_logits`, adding into `grads`.
/// The reset is treated as a constant (its gradient is detached), as is
/// usual for surrogate-gradient SNNs.
pub fn backward(layers: &[LayerParams], tr: &Trace, g_logits: &[f32], grads: &mut [LayerGrads]) {
    let n = layers.len();
    let t_steps = tr.v[0].len();
    // dL/ds of layer l at each timestep, filled from the layer above.
    let mut g_s: Vec<Vec<f32>> = vec![vec![0.0; layers[n - 1].outputs]; t_steps];
    for l in (0..n).rev() {
        let p = &layers[l];
        let last = l + 1 == n;
        let mut g_below: Vec<Vec<f32>> = if l > 0 {
            vec![vec![0.0; p.inputs]; t_steps]
        } else {
            vec![]
        };
        let mut g_v_next = vec![0.0f32; p.outputs];
        for t in (0..t_steps).rev() {
            let mut g_v = vec![0.0f32; p.outputs];
            for o in 0..p.outputs {
                let mut g = p.leak * g_v_next[o];
                if last && !p.spikes {
                    if t + 1 == t_steps {
                        g += g_logits[o];
                    }
                } else {
                    let gs = if last { g_logits[o] } else { g_s[t][o] };
                    g += gs
                        * if p.relu {
                            (tr.v[l][t][o] > 0.0) as u8 as f32
                        } else {
                            surrogate(tr.v[l][t][o], p.threshold)
                        };
                }
                g_v[o] = g;
            }
            let gr = &mut grads[l];
            for (gb, g) in gr.b.iter_mut().zip(&g_v) {
                *gb += g;
            }
            match &p.fanout {
                None => {
                    for &(i, xv) in &tr.inputs[l][t] {
                        let row = &mut gr.w[i as usize * p.outputs..(i as usize + 1) * p.outputs];
                        for (gw, g) in row.iter_mut().zip(&g_v) {
                            *gw += xv * g;
                        }
                    }
                    if l > 0 {
                        let gb = &mut g_below[t];
                        for (i, gi) in gb.iter_mut().enumerate() {
                            let row = &p.w[i * p.outputs..(i + 1) * p.outputs];
                            *gi = row.iter().zip(&g_v).map(|(w, g)| w * g).sum();
                        }
                    }
                }
                Some(f) => {
                    for &(i, xv) in &tr.inputs[l][t] {
                        for k in f.start[i as usize] as usize..f.start[i as usize + 1] as usize {
                            if f.widx[k] != UNIT {
                                gr.w[f.widx[k] as usize] += xv * g_v[f.out[k] as usize];
                            }
                        }
                    }
                    if l > 0 {
                        let gb = &mut g_below[t];
                        for (i, gi) in gb.iter_mut().enumerate() {
                            let mut sum = 0.0;
                            for k in f.start[i] as usize..f.start[i + 1] as usize {
                                let w = match f.widx[k] {
                                    UNIT => 1.0,
                                    j => p.w[j as usize],
                                };
                                sum += w * g_v[f.out[k] as usize];
                            }
                            *gi = sum;
                        }
                    }
                }
            }
            g_v_next = g_v;
        }
        g_s = g_below;
    }
}
