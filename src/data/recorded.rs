//! Recorded input: spike trains per timestep, as other tools write them.
//!
//! - NumPy `.npy` (bool, integer or float): `(T, N)` is one sample; three
//!   and more axes are time first, `(T, B, ...)`, as snnTorch and the NIR
//!   fixtures write them, or batch first `(B, T, ...)` with `--batch-first`.
//!   The axes after T and B flatten in C order onto the model's inputs.
//!   A non-zero entry is an event whose payload is its value.
//! - CSV with a header: `t,neuron` (one sample), `sample,t,neuron`, or
//!   event-camera streams `t,x,y,p` (`sample,t,x,y,p`) whose times are
//!   binned into timesteps of `time_bin` time units; an event goes to input
//!   `(p * height + y) * width + x` of the model's `channels x height x
//!   width` input. Rows of a sample are in time order.
//!
//! Labels, one per sample: a `.npy` of integers, or text with one per line.

use crate::error::{read_bytes_capped, Error, Result};
use crate::model::stimulus::{InputEvent, Stimulus};
use crate::model::{InputEncoding, Model};
use std::path::Path;

/// Largest recording read (4 GiB).
pub const MAX_BYTES: u64 = 4 << 30;

/// How a recording's axes are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Layout {
    /// `(B, T, ...)` instead of `(T, B, ...)`.
    pub batch_first: bool,
    /// Time units per timestep for `t,x,y,p` event streams.
    pub time_bin: Option<f64>,
}

/// The samples of a recording, each a stimulus of `timesteps` steps.
#[derive(Clone, Debug)]
pub struct Recording {
    pub samples: Vec<Stimulus>,
    pub timesteps: u32,
    pub file: String,
    /// Read from an array, whose time axis sets the run's timesteps (CSV
    /// recordings take the model's).
    pub from_array: bool,
}

impl Recording {
    /// An array sets the run's timesteps: its T plus as many as the output
    /// lags the input, so that no input step is lost. Pads the samples and
    /// returns the model with those timesteps, with the lag (`None` when
    /// the model's timesteps stand).
    pub fn retime(&mut self, model: &Model) -> Option<(Model, u32)> {
        if !self.from_array {
            return None;
        }
        let lag = crate::model::Schedule::of(model)
            .ok()
            .and_then(|s| s.input_lag(model))
            .unwrap_or(0);
        let t = self.timesteps + lag;
        self.pad_to(t);
        (t != model.timesteps).then(|| {
            (
                Model {
                    timesteps: t,
                    ..model.clone()
                },
                lag,
            )
        })
    }

    /// Appends silent timesteps up to `t`.
    pub fn pad_to(&mut self, t: u32) {
        for s in &mut self.samples {
            while s.timesteps() < t as usize {
                s.offsets.push(s.events.len());
            }
        }
        self.timesteps = self.timesteps.max(t);
    }
}

/// Reads a recording for `model` (its input size, shape and encoding).
pub fn load(path: &Path, model: &Model, layout: Layout) -> Result<Recording> {
    let file = path.display().to_string();
    let bytes = read_bytes_capped(path, MAX_BYTES)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let is_array = ext == "npy";
    let (samples, timesteps) = if is_array {
        let (shape, values) = npy_values(&file, &bytes)?;
        from_array(&file, model, layout, &shape, &values)?
    } else {
        from_csv(&file, model, layout, &bytes)?
    };
    if samples.is_empty() || timesteps == 0 {
        return Err(Error::invalid(
            &file,
            "samples",
            0,
            "at least one sample of one timestep",
        ));
    }
    Ok(Recording {
        samples,
        timesteps,
        file,
        from_array: is_array,
    })
}

/// Reads labels (one per sample) and attaches them.
pub fn attach_labels(rec: &mut Recording, path: &Path, classes: usize) -> Result<()> {
    let file = path.display().to_string();
    let bytes = read_bytes_capped(path, 1 << 30)?;
    let labels: Vec<f64> = if path.extension().is_some_and(|e| e == "npy") {
        npy_values(&file, &bytes)?.1
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid(&file, "text", "not UTF-8", "one label per line"))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                l.trim().parse::<f64>().map_err(|_| {
                    Error::invalid(&file, format!("line {}", i + 1), l.trim(), "a class number")
                })
            })
            .collect::<Result<_>>()?
    };
    if labels.len() != rec.samples.len() {
        return Err(Error::invalid(
            &file,
            "labels",
            format!("{} labels", labels.len()),
            format!("{} (one per sample of {})", rec.samples.len(), rec.file),
        ));
    }
    for (i, (l, s)) in labels.iter().zip(&mut rec.samples).enumerate() {
        if l.fract() != 0.0 || *l < 0.0 || *l >= classes as f64 {
            return Err(Error::invalid(
                &file,
                format!("label {i}"),
                l,
                format!("0 ..= {} (the model's outputs)", classes - 1),
            ));
        }
        s.label = Some(*l as u32);
    }
    Ok(())
}

/// The shape and values of a `.npy` file, as f64.
pub fn npy_values(file: &str, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>)> {
    let bad =
        |e: std::io::Error| Error::invalid(file, "npy", e, "a NumPy .npy array (format 1.0-3.0)");
    let npy = npyz::NpyFile::new(bytes).map_err(bad)?;
    let shape: Vec<usize> = npy.shape().iter().map(|d| *d as usize).collect();
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(Error::invalid(
            file,
            "dtype",
            "a structured type",
            "bool, integer or float",
        ));
    };
    let n = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d as u64));
    if n.is_none_or(|n| n > bytes.len() as u64) {
        return Err(Error::invalid(
            file,
            "shape",
            format!("{shape:?}"),
            format!("no more values than the file's {} bytes hold", bytes.len()),
        ));
    }
    if npy.order() == npyz::Order::Fortran && shape.len() > 1 {
        return Err(Error::invalid(
            file,
            "fortran_order",
            "True",
            "C order (np.ascontiguousarray)",
        ));
    }
    use npyz::TypeChar as C;
    let v: Vec<f64> = match (ts.type_char(), ts.size_field()) {
        (C::Bool, 1) => npy
            .into_vec::<bool>()
            .map_err(bad)?
            .into_iter()
            .map(|b| b as u8 as f64)
            .collect(),
        (C::Uint, 1) => npy
            .into_vec::<u8>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Uint, 2) => npy
            .into_vec::<u16>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Uint, 4) => npy
            .into_vec::<u32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Uint, 8) => npy
            .into_vec::<u64>()
            .map_err(bad)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        (C::Int, 1) => npy
            .into_vec::<i8>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Int, 2) => npy
            .into_vec::<i16>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Int, 4) => npy
            .into_vec::<i32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Int, 8) => npy
            .into_vec::<i64>()
            .map_err(bad)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        (C::Float, 4) => npy
            .into_vec::<f32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (C::Float, 8) => npy.into_vec::<f64>().map_err(bad)?,
        _ => return Err(Error::invalid(file, "dtype", ts, "bool, integer or float")),
    };
    Ok((shape, v))
}

/// The payload of a recorded value, checked against the input encoding.
fn payload(file: &str, at: impl Fn() -> String, v: f64, enc: InputEncoding) -> Result<u32> {
    let max = match enc {
        InputEncoding::Spikes => 1.0,
        InputEncoding::Graded { bits } => ((1u64 << bits) - 1) as f64,
    };
    if v.fract() != 0.0 || v < 0.0 || v > max {
        return Err(Error::invalid(
            file,
            at(),
            v,
            format!("an integer 0 ..= {max} (the model's input encoding)"),
        ));
    }
    Ok(v as u32)
}

fn from_array(
    file: &str,
    model: &Model,
    layout: Layout,
    shape: &[usize],
    values: &[f64],
) -> Result<(Vec<Stimulus>, u32)> {
    let n_in = model.input.size;
    let (t_len, b_len, rest): (usize, usize, usize) = match shape {
        [t, n] => (*t, 1, *n),
        [a, b, more @ ..] => {
            let rest = more.iter().product();
            if layout.batch_first {
                (*b, *a, rest)
            } else {
                (*a, *b, rest)
            }
        }
        _ => {
            return Err(Error::invalid(
                file,
                "shape",
                format!("{shape:?}"),
                "(T, N), or (T, B, ...) time first (--batch-first: (B, T, ...))",
            ))
        }
    };
    if rest != n_in {
        return Err(Error::invalid(
            file,
            "shape",
            format!("{shape:?}"),
            format!("{n_in} values per timestep after the time and batch axes (the model's input)"),
        ));
    }
    let idx = |t: usize, b: usize| -> usize {
        if layout.batch_first && shape.len() > 2 {
            (b * t_len + t) * rest
        } else {
            (t * b_len + b) * rest
        }
    };
    let mut out = Vec::with_capacity(b_len);
    for b in 0..b_len {
        let mut steps = Vec::with_capacity(t_len);
        for t in 0..t_len {
            let row = &values[idx(t, b)..idx(t, b) + rest];
            let mut ev = vec![];
            for (i, v) in row.iter().enumerate() {
                if *v != 0.0 {
                    let p = payload(
                        file,
                        || format!("[t = {t}, sample = {b}, input = {i}]"),
                        *v,
                        model.input.encoding,
                    )?;
                    ev.push(InputEvent {
                        input: i as u32,
                        payload: p,
                    });
                }
            }
            steps.push(ev);
        }
        out.push(Stimulus::from_timesteps(steps, None));
    }
    Ok((out, t_len as u32))
}

fn from_csv(
    file: &str,
    model: &Model,
    layout: Layout,
    bytes: &[u8],
) -> Result<(Vec<Stimulus>, u32)> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::invalid(file, "header", e, "a CSV header"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let h: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    let (has_sample, events) = match h.as_slice() {
        ["t", "neuron"] => (false, false),
        ["sample", "t", "neuron"] => (true, false),
        ["t", "x", "y", "p"] => (false, true),
        ["sample", "t", "x", "y", "p"] => (true, true),
        _ => {
            return Err(Error::invalid(
                file,
                "header",
                h.join(","),
                "t,neuron or sample,t,neuron, or events t,x,y,p or sample,t,x,y,p",
            ))
        }
    };
    let bin = match (events, layout.time_bin) {
        (true, Some(b)) if b > 0.0 => b,
        (true, _) => {
            return Err(Error::Usage(format!(
                "{file}: an event stream (t,x,y,p) needs --time-bin, the time units per timestep"
            )))
        }
        (false, _) => 1.0,
    };
    let shape = model.input.shape();
    // (sample, timestep, input) of every row, in file order.
    let mut rows: Vec<(usize, usize, u32)> = vec![];
    let mut last: Option<(usize, f64)> = None;
    for (r, rec) in rdr.records().enumerate() {
        let line = r + 2;
        let rec = rec.map_err(|e| Error::invalid(file, format!("line {line}"), e, "a CSV row"))?;
        let num = |i: usize, what: &str| -> Result<f64> {
            rec.get(i)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    Error::invalid(
                        file,
                        format!("line {line}, {what}"),
                        rec.get(i).unwrap_or(""),
                        "a number >= 0",
                    )
                })
        };
        let k = has_sample as usize;
        let sample = if has_sample { num(0, "sample")? } else { 0.0 };
        let t = num(k, "t")?;
        if sample.fract() != 0.0 || (!events && t.fract() != 0.0) {
            return Err(Error::invalid(
                file,
                format!("line {line}"),
                format!("sample {sample}, t {t}"),
                "whole numbers",
            ));
        }
        let s = sample as usize;
        if let Some((ls, lt)) = last {
            if s < ls || (s == ls && t < lt) {
                return Err(Error::invalid(
                    file,
                    format!("line {line}"),
                    format!("sample {s}, t {t}"),
                    format!("rows in order of sample, then time (after sample {ls}, t {lt})"),
                ));
            }
        }
        last = Some((s, t));
        let input = if events {
            let (x, y, p) = (num(k + 1, "x")?, num(k + 2, "y")?, num(k + 3, "p")?);
            if x >= shape.w as f64 || y >= shape.h as f64 || p >= shape.c as f64 {
                return Err(Error::invalid(
                    file,
                    format!("line {line}"),
                    format!("x {x}, y {y}, p {p}"),
                    format!(
                        "within the input's {} x {} x {} (p x y x x)",
                        shape.c, shape.h, shape.w
                    ),
                ));
            }
            shape.index(p as usize, y as usize, x as usize) as f64
        } else {
            num(k + 1, "neuron")?
        };
        if input.fract() != 0.0 || input >= model.input.size as f64 {
            return Err(Error::invalid(
                file,
                format!("line {line}, neuron"),
                input,
                format!("0 ..= {} (the model's inputs)", model.input.size - 1),
            ));
        }
        let step = (t / bin).floor();
        if step >= model.timesteps as f64 {
            return Err(Error::invalid(
                file,
                format!("line {line}, t"),
                t,
                format!(
                    "a time before timestep T = {} of the model{}",
                    model.timesteps,
                    if events {
                        format!(" ({bin} time units per timestep)")
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        if s > 1 << 24 {
            return Err(Error::invalid(
                file,
                format!("line {line}, sample"),
                s,
                "a sample below 2^24",
            ));
        }
        rows.push((s, step as usize, input as u32));
    }
    let n_samples = rows.last().map_or(0, |r| r.0 + 1);
    let t_len = model.timesteps as usize;
    let mut out: Vec<Vec<Vec<InputEvent>>> = vec![vec![vec![]; t_len]; n_samples];
    for (s, t, i) in rows {
        out[s][t].push(InputEvent {
            input: i,
            payload: 1,
        });
    }
    for step in out.iter_mut().flatten() {
        // An event camera may fire a pixel twice within one bin: one spike.
        step.sort_unstable_by_key(|e| e.input);
        step.dedup();
    }
    Ok((
        out.into_iter()
            .map(|st| Stimulus::from_timesteps(st, None))
            .collect(),
        t_len as u32,
    ))
}
