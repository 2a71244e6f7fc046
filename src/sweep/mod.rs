//! Design-space sweeps: many points (a model and config overrides each)
//! run on a pool of threads, each written to its own file as it ends, so a
//! sweep can be interrupted, resumed, sharded over machines and merged.
//!
//! An output folder holds `sweep.json` (the sweep's fingerprint and its
//! full point list), `points/NNNNNN.json` (one per finished point: its
//! headline metrics and full report, or its error) and `results.csv`
//! (rebuilt from the point files, in point order). Points run with one
//! thread each and do not depend on each other, so results are the same
//! for any `--jobs` and any sharding.

pub mod slurm;
pub mod spec;

use crate::data::Dataset;
use crate::engine::EngineOptions;
use crate::error::{read_file, write_atomic, Error, Result};
use crate::inputs::Inputs;
use crate::job::{simulate, Job};
use crate::model::Model;
use crate::report::headline;
use crate::run::RunOptions;
use serde::{Deserialize, Serialize};
use spec::{Point, Sweep};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;

/// Which points of the sweep this process runs: index % count == index_.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            Error::invalid(
                "command line",
                "--shard",
                text,
                "I/N with N >= 1 and 0 <= I < N, e.g. 3/8",
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn holds(&self, point: usize) -> bool {
        point % self.count == self.index
    }
}

/// FNV-1a, 64 bits: a fingerprint that tells sweeps apart (not a defence
/// against tampering).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A loaded sweep, ready to run: its models read and checked.
pub struct Prepared {
    pub sweep: Sweep,
    models: Vec<(Model, String)>,
    dataset: Option<Dataset>,
    /// The `input` recording, one per model (empty without).
    recordings: Vec<crate::data::recorded::Recording>,
    /// Identifies the sweep (spec, base config, model contents): an output
    /// folder holds the points of one fingerprint only.
    pub fingerprint: String,
}

impl Prepared {
    pub fn new(sweep: Sweep, data_dir: Option<&Path>) -> Result<Prepared> {
        let mut hash_input = serde_json::to_vec(&sweep.spec).expect("spec serializes");
        hash_input.extend(serde_json::to_vec(&sweep.hw).expect("config serializes"));
        let mut models = vec![];
        for (path, name) in sweep.model_paths.iter().zip(&sweep.spec.models) {
            let bytes = crate::error::read_bytes(path)?;
            hash_input.extend(fnv(&bytes).to_le_bytes());
            let model = crate::model::file::from_bytes(&path.display().to_string(), &bytes)?;
            models.push((model, name.clone()));
        }
        let dataset = match &sweep.spec.dataset {
            Some(d) => Some(
                crate::data::load(d, data_dir)
                    .map_err(|e| Error::Usage(format!("{}: dataset: {e}", sweep.file)))?,
            ),
            None => None,
        };
        // A recording per model (its input size and timesteps check it).
        let mut recordings = vec![];
        if let Some(path) = &sweep.input_path {
            hash_input.extend(fnv(&crate::error::read_bytes(path)?).to_le_bytes());
            for (model, _) in models.iter_mut() {
                let wrap = |e: Error| Error::Usage(format!("{}: {e}", sweep.file));
                let mut rec =
                    crate::data::recorded::load(path, model, Default::default()).map_err(wrap)?;
                if let Some(l) = &sweep.labels_path {
                    crate::data::recorded::attach_labels(&mut rec, l, model.output_size())
                        .map_err(wrap)?;
                }
                if let Some((m, _)) = rec.retime(model) {
                    *model = m;
                }
                recordings.push(rec);
            }
            if let Some(l) = &sweep.labels_path {
                hash_input.extend(fnv(&crate::error::read_bytes(l)?).to_le_bytes());
            }
        }
        for (i, (model, name)) in models.iter().enumerate() {
            let inputs = match (&dataset, recordings.get(i)) {
                (Some(d), _) => Inputs::Dataset(d),
                (_, Some(r)) => Inputs::Recorded(r),
                _ => Inputs::Synthetic,
            };
            inputs
                .check(model, name, sweep.spec.samples)
                .map_err(|e| Error::Usage(format!("{}: {e}", sweep.file)))?;
        }
        Ok(Prepared {
            fingerprint: format!("{:016x}", fnv(&hash_input)),
            sweep,
            models,
            dataset,
            recordings,
        })
    }

    fn manifest(&self, shard: Shard) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            tool: format!("neurocycle {}", env!("CARGO_PKG_VERSION")),
            name: self.sweep.spec.name.clone(),
            sweep_file: self.sweep.file.clone(),
            fingerprint: self.fingerprint.clone(),
            shard: format!("{}/{}", shard.index, shard.count),
            spec: self.sweep.spec.clone(),
            points: self.sweep.points.clone(),
        }
    }

    /// Runs one point; a point that cannot run (does not fit, invalid
    /// combination of values) gives a record with its error.
    pub fn run_point(&self, point: &Point) -> PointRecord {
        let result = (|| {
            let m = self
                .sweep
                .spec
                .models
                .iter()
                .position(|m| *m == point.model)
                .expect("points name the sweep's models");
            let (model, name) = &self.models[m];
            let sets = point.sets(&self.sweep.spec.set);
            let hw = self.sweep.hw.with_overrides(&self.sweep.hw_file, &sets)?;
            let inputs = match (&self.dataset, self.recordings.get(m)) {
                (Some(d), _) => Inputs::Dataset(d),
                (_, Some(r)) => Inputs::Recorded(r),
                _ => Inputs::Synthetic,
            };
            let job = Job {
                hw: &hw,
                hw_file: &self.sweep.hw_file,
                overrides: &sets,
                model,
                model_file: name,
                inputs,
                seed: self
                    .sweep
                    .spec
                    .seed
                    .unwrap_or_else(|| inputs.default_seed(model)),
                opts: RunOptions {
                    samples: self.sweep.spec.samples,
                    threads: 1,
                    engine: EngineOptions::default(),
                    check: false,
                },
            };
            simulate(&job, &|_| {})
        })();
        let mut record = PointRecord {
            schema_version: SCHEMA_VERSION,
            fingerprint: self.fingerprint.clone(),
            index: point.index,
            model: point.model.clone(),
            axes: point.axes.iter().cloned().collect(),
            status: Status::Failed,
            headline: None,
            report: None,
            error: None,
        };
        match result {
            Ok((report, _)) => {
                record.status = Status::Ok;
                record.headline = Some(
                    headline::COLUMNS
                        .iter()
                        .map(|c| c.to_string())
                        .zip(headline::values(&report))
                        .collect(),
                );
                record.report = Some(report);
            }
            Err(e) => record.error = Some(e.to_string()),
        }
        record
    }
}

/// `sweep.json`: what the folder holds (the sweep, its points, the shard).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool: String,
    pub name: String,
    pub sweep_file: String,
    pub fingerprint: String,
    /// `I/N`: shard I of N (`0/1`: the whole sweep).
    pub shard: String,
    pub spec: spec::SweepSpec,
    pub points: Vec<Point>,
}

/// Whether a point ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
}

impl Status {
    /// As in `results.csv` and the point file.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
}

/// `points/NNNNNN.json`: one point's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PointRecord {
    pub schema_version: u32,
    pub fingerprint: String,
    pub index: usize,
    pub model: String,
    /// Axis path -> value.
    pub axes: BTreeMap<String, String>,
    pub status: Status,
    /// The headline's CSV cells by column (`headline::COLUMNS`), as they go
    /// into `results.csv`: the numbers are never parsed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::report::Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The text of a file this module writes: pretty JSON with its keys in
/// alphabetical order at every level (through `Value`, whose maps are
/// sorted), so a file does not depend on field declaration order.
fn json_text<T: Serialize>(value: &T) -> String {
    let sorted = serde_json::to_value(value).expect("sweep files serialize");
    serde_json::to_string_pretty(&sorted).expect("json") + "\n"
}

/// Reads a JSON file this module wrote; `what` names it in errors.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    serde_json::from_str(&read_file(path)?).map_err(|e| {
        Error::invalid(
            &path.display().to_string(),
            what,
            e,
            "JSON written by neurocycle sweep",
        )
    })
}

fn point_path(dir: &Path, index: usize) -> PathBuf {
    dir.join("points").join(format!("{index:06}.json"))
}

/// Reads the point records in `dir/points` that belong to `fingerprint`
/// (index -> record); leftovers of interrupted writes are ignored.
fn read_points(dir: &Path, fingerprint: &str) -> Result<BTreeMap<usize, PointRecord>> {
    let mut out = BTreeMap::new();
    let points = dir.join("points");
    let entries = match std::fs::read_dir(&points) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => {
            return Err(Error::Read {
                path: points,
                source,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: points.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let Ok(index) = stem.parse::<usize>() else {
            continue;
        };
        let path = entry.path();
        let record: PointRecord = read_json(&path, "point record")?;
        if record.fingerprint != fingerprint || record.index != index {
            return Err(Error::invalid(
                &path.display().to_string(),
                "fingerprint",
                &record.fingerprint,
                format!("{fingerprint} (this folder's sweep); use a fresh --out folder"),
            ));
        }
        out.insert(index, record);
    }
    Ok(out)
}

/// Writes `dir/results.csv`: one row per record, in point order.
pub fn write_results(
    dir: &Path,
    sweep_axes: &[String],
    records: &BTreeMap<usize, PointRecord>,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<&str> = vec!["index", "model"];
    header.extend(sweep_axes.iter().map(|s| s.as_str()));
    header.push("status");
    header.extend(headline::COLUMNS);
    header.push("error");
    let csv_err = |e: csv::Error| Error::Usage(format!("results.csv: {e}"));
    w.write_record(&header).map_err(csv_err)?;
    for (index, r) in records {
        let cell = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
        let mut row = vec![index.to_string(), r.model.clone()];
        row.extend(sweep_axes.iter().map(|a| cell(&r.axes, a)));
        row.push(r.status.name().to_string());
        let cells = r.headline.clone().unwrap_or_default();
        row.extend(headline::COLUMNS.iter().map(|c| cell(&cells, c)));
        row.push(r.error.clone().unwrap_or_default());
        w.write_record(&row).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Usage(format!("results.csv: {e}")))?;
    write_atomic(&dir.join("results.csv"), &bytes)
}

/// What a sweep run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Points of this shard.
    pub points: usize,
    /// Already done by an earlier run, skipped.
    pub skipped: usize,
    pub ran: usize,
    /// Points (this run's or earlier) recorded as failed.
    pub failed: usize,
}

/// Runs the points of `shard` not yet in `out`, on `jobs` threads,
/// calling `progress(done, total)` as points end; then rewrites
/// `results.csv`.
pub fn run(
    prepared: &Prepared,
    out: &Path,
    jobs: usize,
    shard: Shard,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Outcome> {
    let manifest_path = out.join("sweep.json");
    if manifest_path.exists() {
        let old: Manifest = read_json(&manifest_path, "sweep.json")?;
        let shard_text = format!("{}/{}", shard.index, shard.count);
        // The whole sweep may finish a shard's folder; another shard may not
        // add its points to it (the folder would hold two shards and name one).
        if old.fingerprint == prepared.fingerprint && old.shard != shard_text && shard != Shard::ALL
        {
            return Err(Error::invalid(
                &manifest_path.display().to_string(),
                "shard",
                &old.shard,
                format!("{shard_text} (the shard given), or no --shard to finish the whole sweep here: each shard writes its own --out folder, joined by `neurocycle merge`"),
            ));
        }
        if old.fingerprint != prepared.fingerprint {
            return Err(Error::invalid(
                &manifest_path.display().to_string(),
                "fingerprint",
                &old.fingerprint,
                format!(
                    "{} (the sweep given); this folder holds another sweep or an older version of its files: use a fresh --out",
                    prepared.fingerprint
                ),
            ));
        }
    }
    write_atomic(
        &manifest_path,
        json_text(&prepared.manifest(shard)).as_bytes(),
    )?;
    let done = read_points(out, &prepared.fingerprint)?;
    let mine: Vec<&Point> = prepared
        .sweep
        .points
        .iter()
        .filter(|p| shard.holds(p.index))
        .collect();
    let todo: Vec<&Point> = mine
        .iter()
        .copied()
        .filter(|p| !done.contains_key(&p.index))
        .collect();
    let skipped = mine.len() - todo.len();
    progress(skipped, mine.len());
    // Each point's file is written as it ends; a folder that cannot be
    // written stops the sweep (the first error in point order is reported).
    let written = crate::parallel::map_indexed(
        todo.len(),
        jobs,
        || (),
        |_, i| {
            let point = todo[i];
            let record = prepared.run_point(point);
            write_atomic(&point_path(out, point.index), json_text(&record).as_bytes())?;
            if let Some(error) = &record.error {
                tracing::warn!(point = point.index, error = %error, "point failed");
            }
            Ok(())
        },
        |finished, r: &Result<()>| {
            progress(skipped + finished, mine.len());
            r.is_ok()
        },
    );
    for r in written.into_iter().flatten() {
        r?;
    }
    let records = read_points(out, &prepared.fingerprint)?;
    write_results(out, &axis_paths(&prepared.sweep), &records)?;
    Ok(Outcome {
        points: mine.len(),
        skipped,
        ran: todo.len(),
        failed: records.values().filter(|r| r.status != Status::Ok).count(),
    })
}

fn axis_paths(sweep: &Sweep) -> Vec<String> {
    sweep.spec.axes.iter().map(|a| a.path.clone()).collect()
}

/// What `merge` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub points: usize,
    pub failed: usize,
}

/// Joins the outputs of shards of one sweep into `out`: checks they share
/// a fingerprint, that no point is in two of them and none is missing,
/// then copies the point records and writes `sweep.json` and `results.csv`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<Merged> {
    let mut manifest: Option<(Manifest, PathBuf)> = None;
    let mut records: BTreeMap<usize, (PointRecord, PathBuf)> = BTreeMap::new();
    for dir in inputs {
        let path = dir.join("sweep.json");
        let m: Manifest = read_json(&path, "sweep.json")?;
        if let Some((first, first_dir)) = &manifest {
            if first.fingerprint != m.fingerprint {
                return Err(Error::invalid(
                    &path.display().to_string(),
                    "fingerprint",
                    &m.fingerprint,
                    format!(
                        "{} as in {}: shards of one sweep",
                        first.fingerprint,
                        first_dir.display()
                    ),
                ));
            }
        }
        for (index, r) in read_points(dir, &m.fingerprint)? {
            if let Some((_, other)) = records.get(&index) {
                return Err(Error::Usage(format!(
                    "point {index} is in both {} and {}: shards must not overlap",
                    other.display(),
                    dir.display()
                )));
            }
            records.insert(index, (r, dir.clone()));
        }
        if manifest.is_none() {
            manifest = Some((m, dir.clone()));
        }
    }
    let Some((mut manifest, _)) = manifest else {
        return Err(Error::Usage("merge: give at least one sweep folder".into()));
    };
    let all: Vec<usize> = manifest.points.iter().map(|p| p.index).collect();
    let missing: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| !records.contains_key(i))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        return Err(Error::Usage(format!(
            "merge: {} of {} points missing (indices {}{}): run the shards that hold them, or rerun one to finish it",
            missing.len(),
            all.len(),
            shown.join(", "),
            if missing.len() > 20 { ", ..." } else { "" }
        )));
    }
    if let Some(stray) = records.keys().find(|i| !all.contains(i)) {
        return Err(Error::Usage(format!(
            "merge: point {stray} is not in the sweep's point list"
        )));
    }
    manifest.shard = "0/1".into();
    write_atomic(&out.join("sweep.json"), json_text(&manifest).as_bytes())?;
    // Byte for byte: a merged sweep is the shards' files, not a re-encoding.
    for (index, (_, dir)) in &records {
        let bytes = crate::error::read_bytes(&point_path(dir, *index))?;
        write_atomic(&point_path(out, *index), &bytes)?;
    }
    let axes: Vec<String> = manifest.spec.axes.iter().map(|a| a.path.clone()).collect();
    let plain: BTreeMap<usize, PointRecord> =
        records.into_iter().map(|(i, (r, _))| (i, r)).collect();
    write_results(out, &axes, &plain)?;
    Ok(Merged {
        points: plain.len(),
        failed: plain.values().filter(|r| r.status != Status::Ok).count(),
    })
}
