//! The trainer: BPTT gradients against finite differences, the exported
//! integer model against the reference executor sample by sample, the
//! quantization levels and pruning masks of exported models, determinism.
//! Training runs here are tiny; the accuracy targets are measured by hand
//! (see the README).

use neurocycle::data::{load, Dataset};
use neurocycle::model::{InputEncoding, Model, Readout};
use neurocycle::train::net::{backward, cross_entropy, forward, LayerGrads, LayerParams, Trace};
use neurocycle::train::{evaluate, parse_arch, train, TrainSpec};
use rand::{RngExt, SeedableRng};

fn layer(inputs: usize, outputs: usize, spikes: bool, seed: u64) -> LayerParams {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    LayerParams {
        inputs,
        outputs,
        w: (0..inputs * outputs)
            .map(|_| rng.random_range(-0.8f32..0.8))
            .collect(),
        b: (0..outputs)
            .map(|_| rng.random_range(-0.2f32..0.2))
            .collect(),
        fanout: None,
        threshold: 1.0,
        leak: 0.75,
        spikes,
        smooth: true,
        relu: false,
    }
}

fn loss_of(layers: &[LayerParams], input: &[Vec<(u32, f32)>], label: usize) -> f64 {
    let logits = forward(layers, input, &mut Trace::default());
    cross_entropy(&logits, label).0 as f64
}

/// Central differences in f64 of the loss, against the backward pass, for
/// every weight and bias of a 3-layer net over 4 timesteps.
fn check_gradients(readout_spikes: bool) {
    let mut layers = vec![
        layer(5, 4, true, 1),
        layer(4, 3, true, 2),
        layer(3, 3, readout_spikes, 3),
    ];
    let input: Vec<Vec<(u32, f32)>> = (0..4)
        .map(|t| {
            (0..5u32)
                .filter(|i| (i + t) % 2 == 0)
                .map(|i| (i, 0.5 + 0.4 * i as f32))
                .collect()
        })
        .collect();
    let label = 1;
    let mut tr = Trace::default();
    let logits = forward(&layers, &input, &mut tr);
    let (_, g) = cross_entropy(&logits, label);
    let mut grads: Vec<LayerGrads> = layers.iter().map(LayerGrads::zeros).collect();
    backward(&layers, &tr, &g, &mut grads);
    let h = 1e-2f32;
    let mut worst = 0.0f64;
    for l in 0..layers.len() {
        for k in 0..layers[l].w.len() + layers[l].b.len() {
            let nw = layers[l].w.len();
            fn get(ls: &mut [LayerParams], l: usize, k: usize, nw: usize) -> &mut f32 {
                if k < nw {
                    &mut ls[l].w[k]
                } else {
                    &mut ls[l].b[k - nw]
                }
            }
            let x0 = *get(&mut layers, l, k, nw);
            *get(&mut layers, l, k, nw) = x0 + h;
            let up = loss_of(&layers, &input, label);
            *get(&mut layers, l, k, nw) = x0 - h;
            let down = loss_of(&layers, &input, label);
            *get(&mut layers, l, k, nw) = x0;
            let fd = (up - down) / (2.0 * h as f64);
            let bp = if k < nw {
                grads[l].w[k]
            } else {
                grads[l].b[k - nw]
            } as f64;
            let err = (fd - bp).abs() / (fd.abs() + bp.abs()).max(1e-3);
            worst = worst.max(err);
            assert!(
                err < 0.02,
                "layer {l} param {k}: finite difference {fd:.6}, backward {bp:.6}"
            );
        }
    }
    // Not all zero: the check saw real gradients.
    assert!(grads.iter().all(|g| g.w.iter().any(|x| x.abs() > 1e-4)));
    eprintln!("worst relative error {worst:.2e}");
}

#[test]
fn bptt_gradients_match_finite_differences_membrane_readout() {
    check_gradients(false);
}

/// The same check through a conv layer, a sum-pooling layer (fixed unit
/// weights) and a dense readout, connected by the IR's own synapse lists.
#[test]
fn bptt_gradients_match_finite_differences_conv_and_pool() {
    let arch = parse_arch("1x4x4:c2k3s1p1,p2,d3").unwrap();
    let (shapes, fanouts) = neurocycle::train::skeleton(&arch);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut layers: Vec<LayerParams> = arch
        .iter()
        .zip(shapes.iter().zip(fanouts))
        .enumerate()
        .map(|(l, (kind, (shape, fanout)))| {
            let n_w = match kind {
                neurocycle::model::LayerKind::SumPool2d { .. } => 0,
                neurocycle::model::LayerKind::Dense { inputs, outputs } => inputs * outputs,
                k => k.n_weights(),
            };
            LayerParams {
                inputs: shape.input.len(),
                outputs: shape.output.len(),
                w: (0..n_w).map(|_| rng.random_range(-0.9f32..0.9)).collect(),
                fanout,
                b: (0..shape.output.len())
                    .map(|_| rng.random_range(-0.2f32..0.2))
                    .collect(),
                threshold: if n_w == 0 { 0.5 } else { 1.0 },
                leak: if n_w == 0 { 0.0 } else { 0.75 },
                spikes: l + 1 < arch.len(),
                smooth: true,
                relu: false,
            }
        })
        .collect();
    let input: Vec<Vec<(u32, f32)>> = (0..3)
        .map(|t| {
            (0..16u32)
                .filter(|i| (i * 7 + t) % 3 != 0)
                .map(|i| (i, 0.9))
                .collect()
        })
        .collect();
    let mut tr = Trace::default();
    let logits = forward(&layers, &input, &mut tr);
    let (_, g) = cross_entropy(&logits, 2);
    let mut grads: Vec<LayerGrads> = layers.iter().map(LayerGrads::zeros).collect();
    backward(&layers, &tr, &g, &mut grads);
    let h = 1e-2f32;
    for l in [0usize, 2] {
        for k in 0..layers[l].w.len() {
            let x0 = layers[l].w[k];
            layers[l].w[k] = x0 + h;
            let up = loss_of(&layers, &input, 2);
            layers[l].w[k] = x0 - h;
            let down = loss_of(&layers, &input, 2);
            layers[l].w[k] = x0;
            let fd = (up - down) / (2.0 * h as f64);
            let bp = grads[l].w[k] as f64;
            let err = (fd - bp).abs() / (fd.abs() + bp.abs()).max(1e-3);
            assert!(err < 0.02, "layer {l} weight {k}: fd {fd:.6} bp {bp:.6}");
        }
    }
    assert!(grads[0].w.iter().any(|x| x.abs() > 1e-4));
}

#[test]
fn bptt_gradients_match_finite_differences_spike_count_readout() {
    check_gradients(true);
}

fn mnist() -> Dataset {
    load("mnist", None).unwrap()
}

fn tiny(bits: u8) -> TrainSpec {
    TrainSpec {
        arch: parse_arch("784-32-10").unwrap(),
        timesteps: 4,
        bits: vec![bits],
        epochs: 2,
        batch: 32,
        lr: 5e-3,
        train_samples: Some(400),
        test_samples: Some(100),
        threads: 2,
        ..TrainSpec::default()
    }
}

#[test]
fn exported_model_round_trips_and_the_reference_agrees_sample_for_sample() {
    let data = mnist();
    for (encoding, readout) in [
        (InputEncoding::Spikes, Readout::Membrane),
        (InputEncoding::Graded { bits: 8 }, Readout::SpikeCount),
    ] {
        let spec = TrainSpec {
            encoding,
            readout,
            dv: 256,
            ..tiny(4)
        };
        let t = train(&spec, &data, &|_| {}).unwrap();
        // It learned something: well above the 10% of chance.
        assert!(t.test_accuracy > 0.3, "{encoding:?}: {}", t.test_accuracy);
        let text = t.model.to_ron();
        let path = std::env::temp_dir().join(format!("nc-train-{}.ron", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let back = Model::load(&path).unwrap();
        assert_eq!(back, t.model);
        let test = data.test.head(100);
        let again = evaluate(&back, &test, 1, spec.seed, 1);
        assert_eq!(again, t.predictions, "{encoding:?}");
        // The trainer's quantized float forward pass and the integer model
        // decide alike (they differ only by the integer leak's truncation
        // and ties in the strict threshold).
        let agree = t
            .float_predictions
            .iter()
            .zip(&t.predictions)
            .filter(|(a, b)| a == b)
            .count();
        assert!(agree >= 90, "{encoding:?}: {agree} of 100 agree");
        let correct = again
            .iter()
            .zip(&test.labels)
            .filter(|(p, l)| **p == **l as u32)
            .count();
        assert_eq!(
            back.metadata["test_accuracy"],
            format!("{:.4}", correct as f64 / 100.0)
        );
        for key in [
            "dataset",
            "arch",
            "timesteps",
            "weight_bits",
            "sparsity",
            "seed",
        ] {
            assert!(back.metadata.contains_key(key), "metadata lacks {key}");
        }
    }
}

fn levels(m: &Model) -> Vec<usize> {
    m.as_chain()
        .expect("a trained model is a chain")
        .layers
        .iter()
        .map(|l| {
            let mut w = l.weights.clone();
            w.sort();
            w.dedup();
            w.len()
        })
        .collect()
}

#[test]
fn quantized_layers_use_at_most_their_levels() {
    let data = mnist();
    for (bits, most) in [(1u8, 2usize), (2, 3), (3, 7), (4, 15)] {
        let t = train(
            &TrainSpec {
                epochs: 1,
                ..tiny(bits)
            },
            &data,
            &|_| {},
        )
        .unwrap();
        for (l, n) in levels(&t.model).into_iter().enumerate() {
            assert!(n <= most, "{bits} bits, layer {l}: {n} levels");
            assert!(n >= most.min(2), "{bits} bits, layer {l}: degenerate");
        }
        assert!(t.model.projections.iter().all(|l| l.weight_bits == bits));
    }
    // Per-layer bits: 6 for the hidden layer, ternary for the readout.
    let t = train(
        &TrainSpec {
            epochs: 1,
            bits: vec![6, 2],
            ..tiny(8)
        },
        &data,
        &|_| {},
    )
    .unwrap();
    let l = levels(&t.model);
    assert!(l[0] <= 63 && l[0] > 3 && l[1] <= 3, "{l:?}");
    assert_eq!(
        t.model
            .projections
            .iter()
            .map(|l| l.weight_bits)
            .collect::<Vec<_>>(),
        [6, 2]
    );
}

#[test]
fn pruning_masks_hold_after_fine_tuning() {
    use neurocycle::train::Order;
    let data = mnist();
    for (global, order, bits) in [
        (false, Order::Joint, 8),
        (true, Order::Joint, 8),
        (false, Order::PruneThenQuant, 2),
        (false, Order::QuantThenPrune, 2),
    ] {
        let spec = TrainSpec {
            prune: 0.8,
            prune_rounds: 2,
            prune_global: global,
            order,
            epochs: 4,
            ..tiny(bits)
        };
        let t = train(&spec, &data, &|_| {}).unwrap();
        let layers = t.model.as_chain().expect("a chain").layers;
        let zeros: usize = layers
            .iter()
            .map(|l| l.weights.iter().filter(|w| **w == 0).count())
            .sum();
        let total: usize = layers.iter().map(|l| l.weights.len()).sum();
        assert!(levels(&t.model).iter().all(|n| *n < (1 << bits)));
        // Fine-tuning after the last round revived nothing.
        assert!(
            zeros as f64 >= 0.8 * total as f64 - 1.0,
            "global {global}: {zeros} of {total} zero"
        );
        if !global {
            for l in &layers {
                let z = l.weights.iter().filter(|w| **w == 0).count();
                assert!(z as f64 >= 0.8 * l.weights.len() as f64 - 1.0);
            }
        }
    }
}

#[test]
fn training_is_deterministic_whatever_the_thread_count() {
    let data = mnist();
    let one = train(
        &TrainSpec {
            threads: 1,
            epochs: 1,
            ..tiny(8)
        },
        &data,
        &|_| {},
    )
    .unwrap();
    let two = train(
        &TrainSpec {
            threads: 2,
            epochs: 1,
            ..tiny(8)
        },
        &data,
        &|_| {},
    )
    .unwrap();
    assert_eq!(one.model, two.model);
    let other = train(
        &TrainSpec {
            seed: 2,
            epochs: 1,
            ..tiny(8)
        },
        &data,
        &|_| {},
    )
    .unwrap();
    assert_ne!(
        one.model.projections[0].conn,
        other.model.projections[0].conn
    );
}
