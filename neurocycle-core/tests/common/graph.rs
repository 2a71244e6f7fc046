//! Random graph models for property tests: populations joined by dense,
//! sparse (with stored zero weights) and one-to-one projections, with
//! recurrence (self and backward), skips from the input, and delays.

use neurocycle_core::model::{
    Connectivity, Input, InputEncoding, Model, Neuron, Param, Population, Projection, Readout,
    Reset, Semantics, Shape, Source, Sparse,
};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a case draws; `build` turns it into a valid model.
#[derive(Clone, Debug)]
pub struct GraphCase {
    pub sizes: Vec<usize>,
    /// (source slot, target, kind, delay or none, weight bits)
    pub extra: Vec<(usize, usize, u8, Option<u32>, u8)>,
    pub semantics: Semantics,
    pub readout: Readout,
    pub timesteps: u32,
    pub rate: f64,
    pub graded: Option<u8>,
    pub lateral: bool,
    pub du: u16,
    pub dv: u16,
    pub reset: Reset,
    /// du and dv count in 2^decay_bits (du, dv above are 12-bit, scaled).
    pub decay_bits: u8,
    pub seed: u64,
}

pub fn graph_case() -> impl Strategy<Value = GraphCase> {
    (
        prop::collection::vec(2usize..14, 1..5),
        prop::collection::vec(
            (
                0usize..8,
                0usize..8,
                0u8..3,
                prop::option::of(0u32..4),
                prop::sample::select(vec![2u8, 4, 8]),
            ),
            0..6,
        ),
        prop_oneof![Just(Semantics::LayerSerial), Just(Semantics::Pipelined)],
        prop_oneof![Just(Readout::SpikeCount), Just(Readout::Membrane)],
        1u32..7,
        0.2f64..0.8,
        prop::option::of(1u8..5),
        any::<bool>(),
        (
            prop_oneof![Just(4096u16), 0u16..4096],
            prop_oneof![Just(0u16), 0u16..2048],
            prop_oneof![
                Just(Reset::ToValue),
                Just(Reset::Subtract),
                Just(Reset::DelayedSubtract)
            ],
            12u8..=15,
        ),
        0u64..10_000,
    )
        .prop_map(
            |(
                sizes,
                extra,
                semantics,
                readout,
                timesteps,
                rate,
                graded,
                lateral,
                (du, dv, reset, decay_bits),
                seed,
            )| {
                GraphCase {
                    sizes,
                    extra,
                    semantics,
                    readout,
                    timesteps,
                    rate,
                    graded,
                    lateral,
                    du,
                    dv,
                    reset,
                    decay_bits,
                    seed,
                }
            },
        )
}

fn weight(rng: &mut ChaCha8Rng, bits: u8, full_range: bool) -> i32 {
    let max = neurocycle_core::model::weight_max(bits);
    if full_range && rng.random_bool(0.1) {
        return -max - 1;
    }
    let m = rng.random_range(1..=max);
    if rng.random_bool(0.3) {
        -m
    } else {
        m
    }
}

impl GraphCase {
    pub fn build(&self) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let n_in = 3 + (self.seed % 12) as usize;
        let pops = self.sizes.len();
        // A backbone input -> 0 -> 1 -> ... keeps every population driven;
        // the extra projections add skips, recurrence and other kinds.
        let mut edges: Vec<(Source, usize, u8, Option<u32>, u8)> = (0..pops)
            .map(|p| {
                let src = if p == 0 {
                    Source::Input
                } else {
                    Source::Population(p - 1)
                };
                (src, p, 0, None, 4)
            })
            .collect();
        for &(s, t, kind, delay, bits) in &self.extra {
            let slot = s % (pops + 1);
            let src = if slot == 0 {
                Source::Input
            } else {
                Source::Population(slot - 1)
            };
            let tgt = t % pops;
            // A zero delay may not close a cycle: back and self edges wait.
            let backward = matches!(src, Source::Population(q) if q >= tgt);
            let delay = match delay {
                Some(0) if backward => Some(1),
                d => d,
            };
            edges.push((src, tgt, kind, delay, bits));
        }
        let size_of = |s: Source| match s {
            Source::Input => n_in,
            Source::Population(p) => self.sizes[p],
        };
        let mut projections = vec![];
        let mut drive = vec![0f64; pops];
        for (src, tgt, kind, delay, bits) in edges {
            let (ns, nt) = (size_of(src), self.sizes[tgt]);
            let full_range = bits >= 3 && self.seed % 2 == 1;
            let density = rng.random_range(0.3..0.9);
            let conn = match kind {
                2 if ns == nt => Connectivity::OneToOne {
                    weights: (0..nt)
                        .map(|_| weight(&mut rng, bits, full_range))
                        .collect(),
                },
                1 | 2 => {
                    let mut triples = vec![];
                    for s in 0..ns as u32 {
                        for t in 0..nt as u32 {
                            if rng.random_bool(density) {
                                // Some stored synapses weigh nothing.
                                let w = if rng.random_bool(0.15) {
                                    0
                                } else {
                                    weight(&mut rng, bits, full_range)
                                };
                                triples.push((s, t, w));
                            }
                        }
                    }
                    Connectivity::Sparse(Sparse::from_triples(ns, triples))
                }
                _ => Connectivity::Dense {
                    weights: (0..ns * nt)
                        .map(|_| {
                            if rng.random_bool(density) {
                                weight(&mut rng, bits, full_range)
                            } else {
                                0
                            }
                        })
                        .collect(),
                },
            };
            let activity = match (src, self.graded) {
                (Source::Input, Some(b)) => self.rate * ((1u32 << b) as f64 / 2.0),
                _ => self.rate,
            };
            drive[tgt] += ns as f64 * density * activity * 0.3 * (1 << (bits - 1)) as f64;
            projections.push(Projection {
                name: String::new(),
                source: src,
                target: tgt,
                weight_bits: bits,
                full_range,
                delay,
                conn,
                stdp: None,
            });
        }
        // Some cases start from a non-zero state, shift the input right,
        // and take Loihi's bounds (u wraps at 16 bits here, so they matter).
        let s = self.seed;
        let init = |p: usize, k: u64, thr: i32| -> Param {
            if s % 3 != k {
                return Param::Scalar(0);
            }
            let span = 2 * thr as u64 + 1;
            Param::PerNeuron(
                (0..self.sizes[p] as u64)
                    .map(|i| ((s * 31 + p as u64 * 7 + i * 13) % span) as i32 - thr)
                    .collect(),
            )
        };
        let populations = (0..pops)
            .map(|p| {
                let thr = (drive[p] * 0.6).round().clamp(1.0, 20_000.0) as i32;
                Population {
                    name: format!("p{p}"),
                    shape: Shape::flat(self.sizes[p]),
                    neuron: Neuron {
                        threshold: Param::Scalar(thr),
                        bias: Param::Scalar(0),
                        du: self.du << (self.decay_bits - 12),
                        dv: if p + 1 == pops && self.readout == Readout::Membrane {
                            0
                        } else {
                            // An odd low bit, so the finer resolution is used.
                            (self.dv << (self.decay_bits - 12)) | (self.decay_bits > 12) as u16
                        },
                        v_reset: 0,
                        reset: self.reset,
                        input_shift: (s % 5 == 2) as u8 * 2,
                        input_right_shift: (s % 4 == 1) as u8,
                        u_init: init(p, 1, thr),
                        v_init: init(p, 0, thr),
                        loihi_bounds: s.is_multiple_of(2),
                        state_bits: 16,
                        decay_bits: self.decay_bits,
                        adaptation: None,
                    },
                    lateral_inhibition: if self.lateral && p == 0 { 2 } else { 0 },
                }
            })
            .collect();
        let m = Model {
            name: "random-graph".into(),
            metadata: Default::default(),
            timesteps: self.timesteps,
            semantics: self.semantics,
            input: Input {
                size: n_in,
                encoding: match self.graded {
                    Some(bits) => InputEncoding::Graded { bits },
                    None => InputEncoding::Spikes,
                },
                rate: self.rate,
                shape: None,
            },
            readout: self.readout,
            early_exit: None,
            populations,
            projections,
            output: pops - 1,
        };
        m.validate("random graph").unwrap();
        m
    }
}
