//! Walking a projection's synapses, whatever its kind: source-major (the
//! order of synapse rows, what the mapper encodes) or target-major (what a
//! core's neurons receive, what the mapper sizes cores by). A synapse is a
//! stored sparse entry (zero weights included) or a non-zero weight of the
//! other kinds; pooling has unit weights.

use super::{Connectivity, Conv2d, Model, Projection, Shape, Sparse};

/// A borrowed look at a projection's connectivity.
#[derive(Clone, Copy, Debug)]
pub enum View<'a> {
    Dense(&'a [i32]),
    Sparse(&'a Sparse),
    Conv(&'a Conv2d, &'a [i32]),
    Pool(usize),
    OneToOne(&'a [i32]),
}

impl Connectivity {
    pub fn view(&self) -> View<'_> {
        match self {
            Connectivity::Dense { weights } => View::Dense(weights),
            Connectivity::Sparse(s) => View::Sparse(s),
            Connectivity::Conv2d { conv, weights } => View::Conv(conv, weights),
            Connectivity::SumPool2d { k } => View::Pool(*k),
            Connectivity::OneToOne { weights } => View::OneToOne(weights),
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

/// Calls `f(source, target, weight)` for every synapse, source-major (by
/// source, then by target for dense and sparse rows). `src` and `tgt` are
/// the shapes of the source and the target.
pub fn for_each(view: View, src: Shape, tgt: Shape, mut f: impl FnMut(usize, usize, i32)) {
    match view {
        View::Dense(weights) => {
            let (inputs, outputs) = (src.len(), tgt.len());
            for i in 0..inputs {
                for o in 0..outputs {
                    let w = weights[o * inputs + i];
                    if w != 0 {
                        f(i, o, w);
                    }
                }
            }
        }
        View::Sparse(s) => {
            for i in 0..s.n_sources() {
                let (targets, weights) = s.row(i);
                for (t, w) in targets.iter().zip(weights) {
                    f(i, *t as usize, *w);
                }
            }
        }
        View::OneToOne(weights) => {
            for (i, w) in weights.iter().enumerate() {
                if *w != 0 {
                    f(i, i, *w);
                }
            }
        }
        View::Conv(c, weights) => {
            let (is, os) = (c.input(), c.output());
            for ic in 0..c.in_ch {
                for iy in 0..is.h {
                    for ix in 0..is.w {
                        let s = is.index(ic, iy, ix);
                        // Output positions whose receptive field covers (iy, ix).
                        for oc in 0..os.c {
                            for ky in 0..c.kernel {
                                let Some(oy) = covering_output(iy, ky, c.padding, c.stride, os.h)
                                else {
                                    continue;
                                };
                                for kx in 0..c.kernel {
                                    let Some(ox) =
                                        covering_output(ix, kx, c.padding, c.stride, os.w)
                                    else {
                                        continue;
                                    };
                                    let w = weights
                                        [((oc * c.in_ch + ic) * c.kernel + ky) * c.kernel + kx];
                                    if w != 0 {
                                        f(s, os.index(oc, oy, ox), w);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        View::Pool(k) => {
            let os = Shape {
                c: src.c,
                h: src.h / k,
                w: src.w / k,
            };
            debug_assert_eq!(os.len(), tgt.len());
            for c in 0..src.c {
                for y in 0..src.h {
                    for x in 0..src.w {
                        let (oy, ox) = (y / k, x / k);
                        if oy < os.h && ox < os.w {
                            f(src.index(c, y, x), os.index(c, oy, ox), 1);
                        }
                    }
                }
            }
        }
    }
}

/// Synapses of a projection.
pub fn count(model: &Model, proj: &Projection) -> u64 {
    match &proj.conn {
        Connectivity::Sparse(s) => s.len() as u64,
        Connectivity::Dense { weights } | Connectivity::OneToOne { weights } => {
            weights.iter().filter(|w| **w != 0).count() as u64
        }
        _ => {
            let mut n = 0u64;
            for_each(
                proj.conn.view(),
                model.source_shape(proj.source),
                model.populations[proj.target].shape,
                |_, _, _| n += 1,
            );
            n
        }
    }
}

/// The sources of every target neuron's synapses (target-major, sources
/// in increasing order): `sources[offsets[t]..offsets[t + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    pub offsets: Vec<usize>,
    pub sources: Vec<u32>,
}

impl Incoming {
    pub fn of(view: View, src: Shape, tgt: Shape) -> Incoming {
        let mut offsets = vec![0usize; tgt.len() + 1];
        for_each(view, src, tgt, |_, t, _| offsets[t + 1] += 1);
        for t in 0..tgt.len() {
            offsets[t + 1] += offsets[t];
        }
        let mut fill = offsets.clone();
        let mut sources = vec![0u32; offsets[tgt.len()]];
        // Source-major order fills each target's list in increasing source order.
        for_each(view, src, tgt, |s, t, _| {
            sources[fill[t]] = s as u32;
            fill[t] += 1;
        });
        Incoming { offsets, sources }
    }

    #[inline]
    pub fn of_target(&self, t: usize) -> &[u32] {
        &self.sources[self.offsets[t]..self.offsets[t + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_synapses_match_a_direct_convolution() {
        let conv = Conv2d {
            in_ch: 1,
            out_ch: 1,
            kernel: 3,
            stride: 1,
            padding: 1,
            in_h: 3,
            in_w: 3,
        };
        let weights: Vec<i32> = (1..=9).collect();
        assert_eq!(conv.output(), Shape { c: 1, h: 3, w: 3 });
        let mut n = 0;
        let mut centre = vec![];
        for_each(
            View::Conv(&conv, &weights),
            conv.input(),
            conv.output(),
            |s, t, w| {
                n += 1;
                if t == 4 {
                    centre.push((s, w));
                }
            },
        );
        // 9 outputs: 4 corners see 4 inputs, 4 edges 6, the centre 9.
        assert_eq!(n, 4 * 4 + 4 * 6 + 9);
        assert_eq!(
            centre,
            (0..9).map(|s| (s, s as i32 + 1)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn incoming_lists_transpose_the_synapses() {
        let s = Sparse::from_triples(3, vec![(0, 1, 4), (2, 1, 0), (1, 0, -2), (2, 0, 1)]);
        let inc = Incoming::of(View::Sparse(&s), Shape::flat(3), Shape::flat(2));
        assert_eq!(inc.of_target(0), &[1, 2]);
        assert_eq!(inc.of_target(1), &[0, 2]);
        // A stored zero is a synapse; a dense zero is not.
        let dense = [0, 5, 0, 1, 0, 2];
        let inc = Incoming::of(View::Dense(&dense), Shape::flat(3), Shape::flat(2));
        assert_eq!(inc.of_target(0), &[1]);
        assert_eq!(inc.of_target(1), &[0, 2]);
    }
}
