//! Weight quantization for quantization-aware training and export: each
//! layer's weights become `scale * q` with integer `q` in the range the
//! model IR allows for `weight_bits`. Pruned weights (mask 0) are 0.

/// Integer levels and the scale of one layer's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub q: Vec<i32>,
    pub scale: f32,
}

/// Quantizes `w` (masked by `mask`) to `bits`:
/// - 3 to 16 bits: symmetric uniform, `q = round(w / s)` in `[-L, L]`,
///   `L = 2^(bits-1) - 1`, `s = max|w| / L`;
/// - ternary (2): `q = sign(w)` where `|w| > 0.7 mean|w|`, else 0, with
///   `s` the mean `|w|` of the kept weights (ternary weight networks);
/// - binary (1): `q = sign(w)` (+1 for 0), `s = mean|w|`.
pub fn quantize(w: &[f32], mask: &[bool], bits: u8) -> Quantized {
    let live = || {
        w.iter()
            .zip(mask)
            .filter(|(_, m)| **m)
            .map(|(x, _)| x.abs())
    };
    let n = live().count().max(1) as f32;
    let mean = live().sum::<f32>() / n;
    let max = live().fold(0.0f32, f32::max);
    let tiny = 1e-8f32;
    match bits {
        1 => Quantized {
            q: w.iter()
                .zip(mask)
                .map(|(x, m)| {
                    if !m {
                        0
                    } else if *x < 0.0 {
                        -1
                    } else {
                        1
                    }
                })
                .collect(),
            scale: mean.max(tiny),
        },
        2 => {
            let th = 0.7 * mean;
            let kept: Vec<f32> = live().filter(|a| *a > th).collect();
            let scale = if kept.is_empty() {
                mean.max(tiny)
            } else {
                kept.iter().sum::<f32>() / kept.len() as f32
            };
            Quantized {
                q: w.iter()
                    .zip(mask)
                    .map(|(x, m)| {
                        if !m || x.abs() <= th {
                            0
                        } else if *x < 0.0 {
                            -1
                        } else {
                            1
                        }
                    })
                    .collect(),
                scale,
            }
        }
        _ => {
            let l = ((1i32 << (bits - 1)) - 1) as f32;
            let scale = (max / l).max(tiny);
            Quantized {
                q: w.iter()
                    .zip(mask)
                    .map(|(x, m)| {
                        if *m {
                            (x / scale).round().clamp(-l, l) as i32
                        } else {
                            0
                        }
                    })
                    .collect(),
                scale,
            }
        }
    }
}

/// Keeps the `1 - sparsity` largest-magnitude weights among those still
/// alive: returns the new mask. Ties break by index, so it is deterministic.
pub fn magnitude_mask(w: &[f32], mask: &[bool], sparsity: f64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..w.len()).filter(|i| mask[*i]).collect();
    order.sort_by(|a, b| w[*b].abs().total_cmp(&w[*a].abs()).then(a.cmp(b)));
    let keep = ((1.0 - sparsity) * w.len() as f64).round() as usize;
    let mut out = vec![false; w.len()];
    for i in order.into_iter().take(keep) {
        out[i] = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(q: &Quantized) -> usize {
        let mut v = q.q.clone();
        v.sort();
        v.dedup();
        v.len()
    }

    #[test]
    fn levels_fit_the_bits() {
        let w: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 1000) as f32 - 500.0) / 300.0)
            .collect();
        let m = vec![true; w.len()];
        assert_eq!(levels(&quantize(&w, &m, 1)), 2);
        assert_eq!(levels(&quantize(&w, &m, 2)), 3);
        for bits in 3..=8u8 {
            let q = quantize(&w, &m, bits);
            let l = (1 << (bits - 1)) - 1;
            assert!(levels(&q) < (1 << bits), "{bits} bits");
            assert!(q.q.iter().all(|x| x.abs() <= l));
            // Uniform quantization error is at most half a step.
            for (x, qi) in w.iter().zip(&q.q) {
                assert!((x - q.scale * *qi as f32).abs() <= q.scale * 0.5 + 1e-6);
            }
        }
    }

    #[test]
    fn masked_weights_quantize_to_zero_and_masks_keep_the_largest() {
        let w = vec![0.5, -2.0, 0.1, 3.0, -0.05, 1.0];
        let m = magnitude_mask(&w, &[true; 6], 0.5);
        assert_eq!(m, vec![false, true, false, true, false, true]);
        for bits in [1, 2, 4, 8] {
            let q = quantize(&w, &m, bits);
            for (qi, keep) in q.q.iter().zip(&m) {
                if !keep {
                    assert_eq!(*qi, 0);
                }
            }
        }
        // Iterating never revives a pruned weight.
        let m2 = magnitude_mask(&[9.0, -2.0, 9.0, 3.0, 9.0, 1.0], &m, 0.67);
        assert_eq!(m2, vec![false, true, false, true, false, false]);
    }
}
