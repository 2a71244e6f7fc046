//! The binary model file (`.ncm`): the same model as RON, compact and
//! quick to load. Layout (little-endian throughout):
//!
//! ```text
//! header    magic "NCMODEL\0" (8 bytes), version u32 (= 1), flags u32 (= 0),
//!           skeleton length u64
//! skeleton  JSON: everything but the weights (names, neurons, shapes,
//!           delays, projection kinds; populations and sources by index)
//! blobs     one per projection, in order: byte length u64, then
//!             dense, conv2d, one_to_one: count u64, bits u8, the values
//!               packed LSB-first in `bits`-bit two's complement
//!             sparse: sources u64, synapses u64, bits u8, then per source
//!               its synapse count (LEB128), then per source its targets
//!               as LEB128 gaps (first target, then target - previous - 1),
//!               then every weight packed as above
//!             sum_pool2d: empty
//! trailer   CRC-32 (IEEE) of every byte before it, u32
//! ```
//!
//! Reading checks the checksum first, then every count against the bytes
//! that remain before allocating anything, so a truncated, corrupted or
//! lying file is a one-line error.

use super::*;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;
const HEADER_BYTES: usize = 24;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Skeleton {
    name: String,
    metadata: BTreeMap<String, String>,
    timesteps: u32,
    semantics: Semantics,
    input: Input,
    readout: Readout,
    early_exit: Option<EarlyExit>,
    populations: Vec<PopulationSkel>,
    projections: Vec<ProjectionSkel>,
    output: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationSkel {
    name: String,
    shape: (usize, usize, usize),
    neuron: Neuron,
    lateral_inhibition: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectionSkel {
    name: String,
    /// `None`: the input.
    source: Option<usize>,
    target: usize,
    weight_bits: u8,
    #[serde(default, skip_serializing_if = "is_false")]
    full_range: bool,
    delay: Option<u32>,
    kind: KindSkel,
    stdp: Option<Stdp>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindSkel {
    Dense,
    Sparse,
    Conv2d(Conv2d),
    SumPool2d { k: usize },
    OneToOne,
}

/// Bits a weight is stored in: two's complement wide enough for a
/// `weight_bits` weight and for 0 (binary weights are +-1 or pruned).
fn packed_bits(weight_bits: u8) -> u8 {
    weight_bits.max(2)
}

/// The file's bytes.
pub fn encode(model: &Model) -> Vec<u8> {
    let skel = Skeleton {
        name: model.name.clone(),
        metadata: model.metadata.clone(),
        timesteps: model.timesteps,
        semantics: model.semantics,
        input: model.input.clone(),
        readout: model.readout,
        early_exit: model.early_exit,
        populations: model
            .populations
            .iter()
            .map(|p| PopulationSkel {
                name: p.name.clone(),
                shape: (p.shape.c, p.shape.h, p.shape.w),
                neuron: p.neuron.clone(),
                lateral_inhibition: p.lateral_inhibition,
            })
            .collect(),
        projections: model
            .projections
            .iter()
            .map(|j| ProjectionSkel {
                name: j.name.clone(),
                source: match j.source {
                    Source::Input => None,
                    Source::Population(p) => Some(p),
                },
                target: j.target,
                weight_bits: j.weight_bits,
                full_range: j.full_range,
                delay: j.delay,
                kind: match &j.conn {
                    Connectivity::Dense { .. } => KindSkel::Dense,
                    Connectivity::Sparse(_) => KindSkel::Sparse,
                    Connectivity::Conv2d { conv, .. } => KindSkel::Conv2d(*conv),
                    Connectivity::SumPool2d { k } => KindSkel::SumPool2d { k: *k },
                    Connectivity::OneToOne { .. } => KindSkel::OneToOne,
                },
                stdp: j.stdp,
            })
            .collect(),
        output: model.output,
    };
    let json = serde_json::to_vec(&skel).expect("a skeleton always serializes");
    let mut out = Vec::with_capacity(HEADER_BYTES + json.len() + 3 * model.n_synapses() as usize);
    out.extend_from_slice(super::file::NCM_MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for j in &model.projections {
        let mut blob = Vec::new();
        let bits = packed_bits(j.weight_bits);
        match &j.conn {
            Connectivity::Dense { weights }
            | Connectivity::Conv2d { weights, .. }
            | Connectivity::OneToOne { weights } => {
                blob.extend_from_slice(&(weights.len() as u64).to_le_bytes());
                blob.push(bits);
                pack(weights, bits, &mut blob);
            }
            Connectivity::Sparse(s) => {
                blob.extend_from_slice(&(s.n_sources() as u64).to_le_bytes());
                blob.extend_from_slice(&(s.len() as u64).to_le_bytes());
                blob.push(bits);
                for i in 0..s.n_sources() {
                    put_varint(&mut blob, (s.offsets[i + 1] - s.offsets[i]) as u64);
                }
                for i in 0..s.n_sources() {
                    let mut next = 0u64;
                    for &t in s.row(i).0 {
                        put_varint(&mut blob, t as u64 - next);
                        next = t as u64 + 1;
                    }
                }
                pack(&s.weights, bits, &mut blob);
            }
            Connectivity::SumPool2d { .. } => {}
        }
        out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        out.extend_from_slice(&blob);
    }
    let mut crc = flate2::Crc::new();
    crc.update(&out);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pack(values: &[i32], bits: u8, out: &mut Vec<u8>) {
    let mask = (1u64 << bits) - 1;
    let mut acc = 0u64;
    let mut n = 0u32;
    for v in values {
        acc |= ((*v as i64 as u64) & mask) << n;
        n += bits as u32;
        while n >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            n -= 8;
        }
    }
    if n > 0 {
        out.push(acc as u8);
    }
}

/// A cursor over a byte slice whose every read is checked.
struct Reader<'a> {
    file: &'a str,
    what: String,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::Parse {
            path: self.file.to_string(),
            line: 0,
            col: 0,
            msg: format!("{} at byte {}: {msg}", self.what, self.at),
        }
    }
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(self.err(format!(
                "needs {n} bytes, {} remain (the file is truncated or corrupt)",
                self.left()
            )));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("a variable-length number longer than 64 bits"))
    }
    /// `count` values of `bits` bits, after checking the bytes are there.
    fn packed(&mut self, count: u64, bits: u8) -> Result<Vec<i32>> {
        if !(2..=32).contains(&bits) {
            return Err(self.err(format!("weights of {bits} bits (2 ..= 32 expected)")));
        }
        let bytes = count
            .checked_mul(bits as u64)
            .map(|b| b.div_ceil(8))
            .filter(|b| *b <= self.left() as u64)
            .ok_or_else(|| {
                self.err(format!(
                    "{count} weights of {bits} bits do not fit in the {} bytes left",
                    self.left()
                ))
            })?;
        let raw = self.take(bytes as usize)?;
        let mut out = Vec::with_capacity(count as usize);
        let (mut acc, mut n, mut i) = (0u64, 0u32, 0usize);
        let sh = 64 - bits as u32;
        for _ in 0..count {
            while n < bits as u32 {
                acc |= (raw[i] as u64) << n;
                i += 1;
                n += 8;
            }
            out.push((((acc << sh) as i64) >> sh) as i32);
            acc >>= bits;
            n -= bits as u32;
        }
        Ok(out)
    }
}

/// Reads a model from the file's bytes (not yet validated as a model);
/// `file` names it in errors.
pub fn decode(file: &str, bytes: &[u8]) -> Result<Model> {
    let mut r = Reader {
        file,
        what: "header".into(),
        bytes,
        at: 0,
    };
    if bytes.len() < HEADER_BYTES + 4 {
        return Err(r.err(format!(
            "{} bytes is shorter than a binary model file's header and checksum",
            bytes.len()
        )));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 4);
    let mut crc = flate2::Crc::new();
    crc.update(body);
    let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
    if crc.sum() != stored {
        return Err(r.err(format!(
            "checksum {:08x} does not match the stored {stored:08x} (the file is truncated or corrupt)",
            crc.sum()
        )));
    }
    r.bytes = body;
    r.take(8)?;
    let version = r.u32()?;
    if version != VERSION {
        return Err(r.err(format!(
            "format version {version}; this neurocycle reads version {VERSION}"
        )));
    }
    let _flags = r.u32()?;
    let skel_len = r.u64()?;
    if skel_len > r.left() as u64 {
        return Err(r.err(format!(
            "a skeleton of {skel_len} bytes, {} remain",
            r.left()
        )));
    }
    r.what = "skeleton".into();
    let json = r.take(skel_len as usize)?;
    let skel: Skeleton = serde_json::from_slice(json).map_err(|e| r.err(e))?;
    let populations: Vec<Population> = skel
        .populations
        .into_iter()
        .map(|p| Population {
            name: p.name,
            shape: Shape {
                c: p.shape.0,
                h: p.shape.1,
                w: p.shape.2,
            },
            neuron: p.neuron,
            lateral_inhibition: p.lateral_inhibition,
        })
        .collect();
    let mut projections = Vec::with_capacity(skel.projections.len().min(r.left()));
    for (j, p) in skel.projections.into_iter().enumerate() {
        r.what = format!("projection {j}");
        let len = r.u64()?;
        if len > r.left() as u64 {
            return Err(r.err(format!("a blob of {len} bytes, {} remain", r.left())));
        }
        let start = r.at;
        let source = match p.source {
            None => Source::Input,
            Some(s) => Source::Population(s),
        };
        let n_sources = match source {
            Source::Input => Some(skel.input.size),
            Source::Population(s) => populations.get(s).and_then(|x| x.shape.checked_len()),
        }
        .ok_or_else(|| r.err("its source population does not exist or has no valid size"))?;
        let conn = match p.kind {
            KindSkel::SumPool2d { k } => Connectivity::SumPool2d { k },
            KindSkel::Dense | KindSkel::Conv2d(_) | KindSkel::OneToOne => {
                let count = r.u64()?;
                let bits = r.u8()?;
                let weights = r.packed(count, bits)?;
                match p.kind {
                    KindSkel::Dense => Connectivity::Dense { weights },
                    KindSkel::OneToOne => Connectivity::OneToOne { weights },
                    KindSkel::Conv2d(conv) => Connectivity::Conv2d { conv, weights },
                    KindSkel::SumPool2d { .. } | KindSkel::Sparse => unreachable!(),
                }
            }
            KindSkel::Sparse => {
                let sources = r.u64()?;
                let count = r.u64()?;
                let bits = r.u8()?;
                if sources != n_sources as u64 {
                    return Err(r.err(format!(
                        "{sources} sources; its source has {n_sources} neurons"
                    )));
                }
                // Every source takes at least one byte (its count) and every
                // synapse one (its target).
                if sources.saturating_add(count) > r.left() as u64 {
                    return Err(r.err(format!(
                        "{sources} sources and {count} synapses cannot fit in the {} bytes left",
                        r.left()
                    )));
                }
                let mut offsets = Vec::with_capacity(sources as usize + 1);
                offsets.push(0usize);
                let mut total = 0u64;
                for _ in 0..sources {
                    total = total.saturating_add(r.varint()?);
                    if total > count {
                        return Err(r.err(format!(
                            "per-source counts add up to more than the {count} synapses"
                        )));
                    }
                    offsets.push(total as usize);
                }
                if total != count {
                    return Err(r.err(format!("per-source counts add up to {total}, not {count}")));
                }
                let mut targets = Vec::with_capacity(count as usize);
                for s in 0..sources as usize {
                    let mut next = 0u64;
                    for _ in offsets[s]..offsets[s + 1] {
                        let t = next.saturating_add(r.varint()?);
                        if t > u32::MAX as u64 {
                            return Err(r.err(format!("target {t} of source {s} is out of range")));
                        }
                        targets.push(t as u32);
                        next = t + 1;
                    }
                }
                let weights = r.packed(count, bits)?;
                Connectivity::Sparse(Sparse {
                    offsets,
                    targets,
                    weights,
                })
            }
        };
        if r.at - start != len as usize {
            return Err(r.err(format!(
                "the blob is {len} bytes long but {} were read",
                r.at - start
            )));
        }
        projections.push(Projection {
            name: p.name,
            source,
            target: p.target,
            weight_bits: p.weight_bits,
            full_range: p.full_range,
            delay: p.delay,
            conn,
            stdp: p.stdp,
        });
    }
    if r.left() != 0 {
        r.what = "end".into();
        return Err(r.err(format!("{} bytes after the last projection", r.left())));
    }
    Ok(Model {
        name: skel.name,
        metadata: skel.metadata,
        timesteps: skel.timesteps,
        semantics: skel.semantics,
        input: skel.input,
        readout: skel.readout,
        early_exit: skel.early_exit,
        populations,
        projections,
        output: skel.output,
    })
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_every_width() {
        for bits in 2u8..=32 {
            let hi = ((1i64 << (bits - 1)) - 1) as i32;
            let lo = (-(1i64 << (bits - 1))) as i32;
            let values = vec![0, 1, -1, hi, lo, hi / 3, lo / 5, 0, 1];
            let mut out = vec![];
            pack(&values, bits, &mut out);
            let mut r = Reader {
                file: "t",
                what: "t".into(),
                bytes: &out,
                at: 0,
            };
            assert_eq!(
                r.packed(values.len() as u64, bits).unwrap(),
                values,
                "{bits}"
            );
            assert_eq!(r.left(), 0);
        }
    }

    #[test]
    fn chains_and_graphs_round_trip() {
        let chain = super::super::file::parse("tiny.ron", include_str!("../../../models/tiny.ron"))
            .unwrap();
        let bytes = encode(&chain);
        assert_eq!(decode("t.ncm", &bytes).unwrap(), chain);
    }
}
