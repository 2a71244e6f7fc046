//! A sweep file: a base chip, models, and axes over config parameters by
//! their `--set` paths. Its points are the cartesian product of models and
//! axis values (the last axis varies fastest), minus those a filter drops;
//! a point's index is its position in that list, so it never depends on how
//! the sweep is run.

use crate::config::{params, Checked, HwConfig};
use crate::error::{parse_ron, read_file, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Sweep")]
pub struct SweepSpec {
    pub name: String,
    /// Base hw config: a path relative to the sweep file, or `preset:NAME`.
    pub hw: String,
    /// Model files, relative to the sweep file.
    pub models: Vec<String>,
    /// Inferences per point.
    #[serde(default = "default_samples")]
    pub samples: u64,
    /// Stimulus seed (default: as `neurocycle run`).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Labelled test samples of this data set instead of synthetic input.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Recorded spike trains instead (as `run --input`), relative to the
    /// sweep file; every model reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Labels of the `input` samples (as `run --labels`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// Overrides applied to every point before the axes.
    #[serde(default)]
    pub set: Vec<String>,
    pub axes: Vec<Axis>,
    /// Conditions every point must meet, e.g. `"core.pes <= core.neurons"`.
    #[serde(default)]
    pub filter: Vec<String>,
}

fn default_samples() -> u64 {
    4
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// A `--set` path, e.g. `mesh` or `synapse_memory.word_bits`.
    pub path: String,
    pub values: AxisValues,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub enum AxisValues {
    /// `List([16, 32])`, `List(["2x2", "4x4"])`.
    List(Vec<AxisValue>),
    /// `Range(start: 1, end: 16, step: 1)`, both ends included.
    Range { start: i64, end: i64, step: i64 },
    /// `Geometric(start: 8, end: 256, factor: 2)`, both ends included.
    Geometric { start: i64, end: i64, factor: i64 },
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum AxisValue {
    Int(i64),
    Float(f64),
    Text(String),
}

impl AxisValue {
    fn render(&self) -> String {
        match self {
            AxisValue::Int(i) => i.to_string(),
            AxisValue::Float(f) => f.to_string(),
            AxisValue::Text(s) => s.clone(),
        }
    }
}

/// Most points a sweep may have (a typo in a range should not queue
/// billions of runs).
pub const MAX_POINTS: usize = 1_000_000;

impl Axis {
    /// The axis values as `--set` text.
    pub fn expand(&self, file: &str) -> Result<Vec<String>> {
        let field = format!("axes[{}].values", self.path);
        let v: Vec<String> = match &self.values {
            AxisValues::List(v) => v.iter().map(AxisValue::render).collect(),
            AxisValues::Range { start, end, step } => {
                if *step <= 0 || end < start {
                    return Err(Error::invalid(
                        file,
                        field,
                        format!("Range(start: {start}, end: {end}, step: {step})"),
                        "step >= 1 and end >= start",
                    ));
                }
                (0..)
                    .map(|i| start + i * step)
                    .take_while(|v| v <= end)
                    .take(MAX_POINTS + 1)
                    .map(|v| v.to_string())
                    .collect()
            }
            AxisValues::Geometric { start, end, factor } => {
                if *start < 1 || *factor < 2 || end < start {
                    return Err(Error::invalid(
                        file,
                        field,
                        format!("Geometric(start: {start}, end: {end}, factor: {factor})"),
                        "start >= 1, factor >= 2 and end >= start",
                    ));
                }
                std::iter::successors(Some(*start), |v| v.checked_mul(*factor))
                    .take_while(|v| v <= end)
                    .map(|v| v.to_string())
                    .collect()
            }
        };
        if v.is_empty() {
            return Err(Error::invalid(file, field, "[]", "at least one value"));
        }
        Ok(v)
    }
}

/// One point: a model and a value per axis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub index: usize,
    /// Model file as the sweep names it.
    pub model: String,
    /// `(path, value)` per axis, in axis order.
    pub axes: Vec<(String, String)>,
}

impl Point {
    /// The `--set` overrides of this point (after the sweep's fixed ones).
    pub fn sets(&self, fixed: &[String]) -> Vec<String> {
        fixed
            .iter()
            .cloned()
            .chain(self.axes.iter().map(|(p, v)| format!("{p}={v}")))
            .collect()
    }
}

/// A loaded sweep: the spec, its base config and the paths it names.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub file: String,
    pub spec: SweepSpec,
    pub hw: Checked<HwConfig>,
    pub hw_file: String,
    /// Model paths resolved against the sweep file's folder.
    pub model_paths: Vec<PathBuf>,
    /// `input` and `labels`, resolved the same way.
    pub input_path: Option<PathBuf>,
    pub labels_path: Option<PathBuf>,
    pub points: Vec<Point>,
}

impl Sweep {
    pub fn load(path: &Path) -> Result<Sweep> {
        let file = path.display().to_string();
        let spec: SweepSpec = parse_ron(&file, &read_file(path)?)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Sweep::resolve(&file, spec, dir)
    }

    /// Checks a spec and expands its points; relative paths are taken
    /// from `dir`.
    pub fn resolve(file: &str, spec: SweepSpec, dir: &Path) -> Result<Sweep> {
        let (hw, hw_file) = match spec.hw.strip_prefix("preset:") {
            Some(name) => (HwConfig::preset(name)?, spec.hw.clone()),
            None => {
                let p = dir.join(&spec.hw);
                (HwConfig::load(&p)?, p.display().to_string())
            }
        };
        if spec.models.is_empty() {
            return Err(Error::invalid(
                file,
                "models",
                "[]",
                "at least one model file",
            ));
        }
        if let Some(d) = spec
            .dataset
            .as_ref()
            .filter(|d| !crate::data::NAMES.contains(&d.as_str()))
        {
            return Err(Error::invalid(
                file,
                "dataset",
                d,
                crate::data::NAMES.join(", "),
            ));
        }
        if spec.samples == 0 {
            return Err(Error::invalid(file, "samples", 0, "1 or more"));
        }
        let mut seen = vec![];
        for a in &spec.axes {
            if params::find(&a.path).is_none() {
                return Err(Error::invalid(
                    file,
                    "axes.path",
                    &a.path,
                    format!("a --set path: {}", params::paths()),
                ));
            }
            if seen.contains(&a.path) {
                return Err(Error::invalid(file, "axes.path", &a.path, "each path once"));
            }
            seen.push(a.path.clone());
        }
        // The fixed overrides must hold on their own.
        hw.with_overrides(&hw_file, &spec.set)
            .map_err(|e| Error::Usage(format!("{file}: set: {e}")))?;
        let filters = spec
            .filter
            .iter()
            .map(|f| Condition::parse(file, f))
            .collect::<Result<Vec<_>>>()?;
        let values = spec
            .axes
            .iter()
            .map(|a| a.expand(file))
            .collect::<Result<Vec<_>>>()?;
        let total = values
            .iter()
            .try_fold(spec.models.len(), |n, v| n.checked_mul(v.len()))
            .filter(|n| *n <= MAX_POINTS)
            .ok_or_else(|| {
                Error::invalid(
                    file,
                    "axes",
                    "more points than allowed",
                    format!("at most {MAX_POINTS} points (models x axis values)"),
                )
            })?;
        let mut points = vec![];
        for n in 0..total {
            // Mixed radix: the last axis varies fastest, models slowest.
            let mut rest = n;
            let mut axes = vec![(String::new(), String::new()); values.len()];
            for (i, v) in values.iter().enumerate().rev() {
                axes[i] = (spec.axes[i].path.clone(), v[rest % v.len()].clone());
                rest /= v.len();
            }
            let point = Point {
                index: points.len(),
                model: spec.models[rest].clone(),
                axes,
            };
            // Every point's config is checked before any runs, naming the
            // sweep file and the point's axis values.
            let at = |e: Error| {
                let axes: Vec<String> =
                    point.axes.iter().map(|(p, v)| format!("{p}={v}")).collect();
                Error::Usage(format!("{file}: axes {}: {e}", axes.join(", ")))
            };
            let sets = point.sets(&spec.set);
            let config = hw.overridden_value(&sets).map_err(at)?;
            let mut keep = true;
            for c in &filters {
                keep &= c
                    .holds(&config)
                    .map_err(|e| Error::Usage(format!("{file}: {e}")))?;
            }
            if keep {
                hw.with_overrides(&hw_file, &sets).map_err(at)?;
                points.push(point);
            }
        }
        if points.is_empty() {
            return Err(Error::invalid(
                file,
                "filter",
                format!("{:?}", spec.filter),
                "a filter that keeps at least one point",
            ));
        }
        let model_paths = spec.models.iter().map(|m| dir.join(m)).collect();
        if spec.input.is_some() && spec.dataset.is_some() {
            return Err(Error::invalid(
                file,
                "input",
                "set with dataset",
                "one of `input` and `dataset`",
            ));
        }
        if spec.labels.is_some() && spec.input.is_none() {
            return Err(Error::invalid(
                file,
                "labels",
                "set without input",
                "`labels` only with `input`",
            ));
        }
        let input_path = spec.input.as_ref().map(|p| dir.join(p));
        let labels_path = spec.labels.as_ref().map(|p| dir.join(p));
        Ok(Sweep {
            input_path,
            labels_path,
            file: file.to_string(),
            spec,
            hw,
            hw_file,
            model_paths,
            points,
        })
    }
}

/// A filter condition: `EXPR OP EXPR`, where OP is one of `<= >= == != < >`
/// and EXPR a product or quotient of numbers and config paths
/// (`core.neurons * mesh`; `mesh` is x times y, `mesh.x` and `mesh.y` its
/// sides). Text parameters compare with `==` and `!=` against a word.
#[derive(Clone, Debug)]
pub struct Condition {
    text: String,
    lhs: String,
    op: &'static str,
    rhs: String,
}

const OPS: [&str; 6] = ["<=", ">=", "==", "!=", "<", ">"];

impl Condition {
    pub fn parse(file: &str, text: &str) -> Result<Condition> {
        for op in OPS {
            if let Some((l, r)) = text.split_once(op) {
                if !l.trim().is_empty() && !r.trim().is_empty() {
                    return Ok(Condition {
                        text: text.to_string(),
                        lhs: l.trim().to_string(),
                        op,
                        rhs: r.trim().to_string(),
                    });
                }
            }
        }
        Err(Error::invalid(
            file,
            "filter",
            text,
            "EXPR OP EXPR with OP one of <= >= == != < >, e.g. \"core.pes <= core.neurons\"",
        ))
    }

    /// Whether the condition holds on a config (as JSON).
    pub fn holds(&self, config: &serde_json::Value) -> std::result::Result<bool, String> {
        let texts = (text_of(config, &self.lhs), text_of(config, &self.rhs));
        if let (Some(a), _) | (_, Some(a)) = &texts {
            let other = if texts.0.is_some() {
                &self.rhs
            } else {
                &self.lhs
            };
            let b = text_of(config, other).unwrap_or_else(|| other.clone());
            return match self.op {
                "==" => Ok(*a == b),
                "!=" => Ok(*a != b),
                _ => Err(format!(
                    "filter {:?}: text parameters compare only with == and !=",
                    self.text
                )),
            };
        }
        let a = self.eval(config, &self.lhs)?;
        let b = self.eval(config, &self.rhs)?;
        Ok(match self.op {
            "<=" => a <= b,
            ">=" => a >= b,
            "==" => a == b,
            "!=" => a != b,
            "<" => a < b,
            _ => a > b,
        })
    }

    fn eval(&self, config: &serde_json::Value, expr: &str) -> std::result::Result<f64, String> {
        let mut value = 1.0;
        let mut divide = false;
        for token in expr.split_inclusive(['*', '/']) {
            let (term, next_divides) = match token.strip_suffix('*') {
                Some(t) => (t, false),
                None => match token.strip_suffix('/') {
                    Some(t) => (t, true),
                    None => (token, false),
                },
            };
            let term = term.trim();
            let v = match term.parse::<f64>() {
                Ok(v) => v,
                Err(_) => number_of(config, term).ok_or_else(|| {
                    format!(
                        "filter {:?}: {term:?} is neither a number nor a numeric config path",
                        self.text
                    )
                })?,
            };
            if divide && v == 0.0 {
                return Err(format!(
                    "filter {:?}: divides by zero ({term:?} is 0)",
                    self.text
                ));
            }
            value = if divide { value / v } else { value * v };
            divide = next_divides;
        }
        Ok(value)
    }
}

fn lookup<'a>(config: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let mut v = config;
    for key in path.split('.') {
        v = match (v, key) {
            (serde_json::Value::Array(a), "x") => a.first()?,
            (serde_json::Value::Array(a), "y") => a.get(1)?,
            _ => v.get(key)?,
        };
    }
    Some(v)
}

fn number_of(config: &serde_json::Value, path: &str) -> Option<f64> {
    match lookup(config, path)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Array(a) => a.iter().map(|v| v.as_f64()).product(),
        _ => None,
    }
}

fn text_of(config: &serde_json::Value, path: &str) -> Option<String> {
    match lookup(config, path)? {
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
