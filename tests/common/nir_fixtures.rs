//! The NIR fixtures of `tests/fixtures/nir` (snnTorch 1.0 exports with
//! their input spikes and snnTorch's own output and hidden spikes): import
//! one, run every sample through the chip, and compare spike sets.
#![allow(dead_code)]

use neurocycle::config::{Checked, HwConfig};
use neurocycle::data::recorded::{self, Layout};
use neurocycle::engine::{Chip, Engine, EngineOptions, Quiet};
use neurocycle::mapping;
use neurocycle::model::{Model, Reset};
use neurocycle::nir::{self, import::ImportOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const FIXTURES: [&str; 2] = ["mlp_784_128_10", "conv_8c5_pool_10"];

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nir")
}

/// The agreement of the chip with one reference, over every sample.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Samples whose predicted class (most output spikes, lowest index on
    /// ties) equals the reference's.
    pub same_class: usize,
    pub samples: usize,
    /// Smallest per-sample Jaccard index of the output spike sets.
    pub output_min: f64,
    /// Jaccard index of all output spikes (pooled over samples).
    pub output_all: f64,
    /// The same for the hidden layer (only against snnTorch's spikes).
    pub hidden_min: Option<f64>,
    pub hidden_all: Option<f64>,
    /// Correct predictions against the labels.
    pub correct: usize,
}

/// (sample, t, neuron) of every non-zero entry of a (T, B, ...) array.
fn spike_set(path: &Path) -> (Vec<usize>, BTreeSet<(usize, usize, usize)>) {
    let bytes = std::fs::read(path).unwrap();
    let (shape, v) = recorded::npy_values(&path.display().to_string(), &bytes).unwrap();
    let (t_len, b_len) = (shape[0], shape[1]);
    let n = v.len() / (t_len * b_len);
    let mut s = BTreeSet::new();
    for t in 0..t_len {
        for b in 0..b_len {
            for i in 0..n {
                if v[(t * b_len + b) * n + i] != 0.0 {
                    s.insert((b, t, i));
                }
            }
        }
    }
    (shape, s)
}

fn jaccard(a: &BTreeSet<(usize, usize, usize)>, b: &BTreeSet<(usize, usize, usize)>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        1.0
    } else {
        a.intersection(b).count() as f64 / union as f64
    }
}

fn argmax(counts: &[usize]) -> usize {
    let mut best = 0;
    for (i, c) in counts.iter().enumerate() {
        if *c > counts[best] {
            best = i;
        }
    }
    best
}

/// Import options at `dt = 1e-4` (snnTorch's).
pub fn options(weight_bits: u8, reset: Reset, decay_bits: Option<u8>) -> ImportOptions {
    ImportOptions {
        dt: 1e-4,
        reset,
        weight_bits,
        decay_bits,
        ..ImportOptions::default()
    }
}

/// Imports fixture `name` with these options, runs every sample on
/// `hw`, and compares with snnTorch's spikes (`nirspec = false`) or with
/// the literal NIR-spec reading (`nirspec = true`, output only).
pub fn figures(name: &str, hw: &Checked<HwConfig>, opts: &ImportOptions, nirspec: bool) -> Figures {
    let d = dir();
    let file = d.join(format!("{name}.nir"));
    let graph = nir::file::read(&file).unwrap();
    let mut model: Model = nir::import::import(&graph, opts, "fixture", name).unwrap();
    let mut rec = recorded::load(
        &d.join(format!("{name}_input_spikes.npy")),
        &model,
        Layout::default(),
    )
    .unwrap();
    recorded::attach_labels(&mut rec, &d.join(format!("{name}_labels.npy")), 10).unwrap();
    model.timesteps = rec.timesteps;
    let map = mapping::map(&model, hw, "fixture").unwrap();
    let chip = Chip::build(hw, &model, &map);
    let mut engine = Engine::new(&chip, 1);
    let out_pop = model.output as u32;
    let hidden_pop = (0..model.populations.len() as u32)
        .find(|p| *p != out_pop)
        .unwrap();
    let (mut got_out, mut got_hidden) = (BTreeSet::new(), BTreeSet::new());
    let mut predictions = vec![];
    let mut correct = 0;
    for (b, stim) in rec.samples.iter().enumerate() {
        let opts = EngineOptions {
            record_spikes: true,
            ..EngineOptions::default()
        };
        let run = engine.run(stim, opts, &mut Quiet).unwrap();
        for s in &run.spikes {
            let key = (b, s.t as usize, s.neuron as usize);
            if s.layer == out_pop {
                got_out.insert(key);
            } else if s.layer == hidden_pop {
                got_hidden.insert(key);
            }
        }
        predictions.push(run.prediction as usize);
        correct += (Some(run.prediction) == stim.label) as usize;
    }
    let reference = if nirspec {
        "nirspec_output_spikes"
    } else {
        "output_spikes"
    };
    let (shape, want_out) = spike_set(&d.join(format!("{name}_{reference}.npy")));
    let want_hidden = (!nirspec).then(|| spike_set(&d.join(format!("{name}_lif1_spikes.npy"))).1);
    let b_len = shape[1];
    let per_sample = |got: &BTreeSet<(usize, usize, usize)>,
                      want: &BTreeSet<(usize, usize, usize)>| {
        (0..b_len)
            .map(|b| {
                let pick = |s: &BTreeSet<(usize, usize, usize)>| {
                    s.iter()
                        .filter(|k| k.0 == b)
                        .copied()
                        .collect::<BTreeSet<_>>()
                };
                jaccard(&pick(got), &pick(want))
            })
            .fold(1.0, f64::min)
    };
    let mut same_class = 0;
    for (b, p) in predictions.iter().enumerate() {
        let mut counts = vec![0; 10];
        for k in want_out.iter().filter(|k| k.0 == b) {
            counts[k.2] += 1;
        }
        same_class += (argmax(&counts) == *p) as usize;
    }
    Figures {
        same_class,
        samples: b_len,
        output_min: per_sample(&got_out, &want_out),
        output_all: jaccard(&got_out, &want_out),
        hidden_min: want_hidden.as_ref().map(|w| per_sample(&got_hidden, w)),
        hidden_all: want_hidden.as_ref().map(|w| jaccard(&got_hidden, w)),
        correct,
    }
}
