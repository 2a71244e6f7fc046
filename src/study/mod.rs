//! Research studies: commands that train, compress, simulate on a chip and
//! write a report (`results.csv`, plots, `report.md`) into a folder. A
//! study is resumable: each finished step leaves a file, and a rerun into
//! the same folder loads it instead of recomputing.
//!
//! Every study follows one template, kept here: `claim_folder` (the
//! folder holds this configuration or nothing), `cached` steps and points,
//! `ChipSetup::measure_into` (model, report), a `ResultRow` per point, and
//! `finish` (`results.csv`, plots, `report.md`). A study module holds only
//! what is its own: the steps, the row's columns, the plots and the text.

/// `ResultRow` for a row whose own columns are its fields, in order, each
/// written with `to_string`, followed by the chip's headline (`chip`).
macro_rules! result_row {
    ($row:ty: $($field:ident),+ ; chip) => {
        impl $crate::study::ResultRow for $row {
            type Context = ();
            fn header() -> Vec<String> {
                $crate::study::results_header(&[$(stringify!($field)),+])
            }
            fn cells(&self, _: &()) -> Vec<String> {
                $crate::study::results_row(vec![$(self.$field.to_string()),+], &self.chip)
            }
        }

        impl $crate::study::PlottedRow for $row {
            fn headline(&self) -> Option<&$crate::report::headline::Headline> {
                Some(&self.chip)
            }
            fn accuracy(&self) -> Option<f64> {
                Some(self.accuracy)
            }
        }
    };
}

pub mod convert;
pub mod prune_quant;
pub mod seeds;
pub mod timesteps;
pub mod topspark;
pub mod utilization;

use crate::config::{Checked, HwConfig};
use crate::data::Dataset;
use crate::engine::EngineOptions;
use crate::error::{read_file, write_atomic, Error, Result};
use crate::inputs::Inputs;
use crate::job::{simulate, Job};
use crate::model::Model;
use crate::report::headline::{self, Headline};
use crate::report::Report;
use crate::run::RunOptions;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;

/// The chip a study measures on.
#[derive(Clone, Debug)]
pub struct ChipSetup {
    pub hw: Checked<HwConfig>,
    pub hw_file: String,
    pub overrides: Vec<String>,
    /// Test samples pushed through the chip per model.
    pub samples: u64,
    pub threads: usize,
    /// A `--quick` run: its report says at the top that it is a smoke test.
    pub smoke_test: bool,
}

impl ChipSetup {
    /// Runs `model` on the chip over the first test samples of `data`,
    /// with the stimulus seed the trainer measured with.
    pub fn measure(&self, model: &Model, name: &str, data: &Dataset) -> Result<Report> {
        let inputs = Inputs::Dataset(data);
        let samples = self.samples.min(data.test.len() as u64);
        let job = Job {
            hw: &self.hw,
            hw_file: &self.hw_file,
            overrides: &self.overrides,
            model,
            model_file: name,
            inputs,
            seed: inputs.default_seed(model),
            opts: RunOptions {
                samples,
                threads: self.threads,
                engine: EngineOptions::default(),
                check: false,
            },
        };
        Ok(simulate(&job, &|_| {})?.0)
    }
}

impl ChipSetup {
    /// Saves `model` as `models/{name}.ron` in `out`, runs it on the chip
    /// and keeps the full report as `reports/{name}.json`.
    pub fn measure_into(
        &self,
        out: &Path,
        name: &str,
        model: &Model,
        data: &Dataset,
    ) -> Result<Report> {
        let model_path = out.join(format!("models/{name}.ron"));
        write_atomic(&model_path, model.to_ron().as_bytes())?;
        let report = self.measure(model, &model_path.display().to_string(), data)?;
        write_atomic(
            &out.join(format!("reports/{name}.json")),
            report.to_json().as_bytes(),
        )?;
        Ok(report)
    }

    /// The config file and its overrides, for reports.
    pub fn source(&self) -> String {
        if self.overrides.is_empty() {
            self.hw_file.clone()
        } else {
            format!("{} with {}", self.hw_file, self.overrides.join(", "))
        }
    }
}

/// A trained network of one stage or round, as saved for resuming.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    pub state: crate::train::stage::State,
    /// Integer test accuracy (reference executor, the trainer's test set).
    pub accuracy: f64,
    pub model: Model,
}

/// What a study found: its points and its `report.md`.
pub struct Summary<R> {
    pub rows: Vec<R>,
    pub report_md: String,
}

/// A point of a study as a line of `results.csv`.
pub trait ResultRow {
    /// What the cells need beyond the row (a baseline to divide by), or `()`.
    type Context;
    /// Column names.
    fn header() -> Vec<String>;
    /// Cells in `header` order.
    fn cells(&self, context: &Self::Context) -> Vec<String>;
}

/// The end every study shares: `results.csv` from `rows`, then `plot` on
/// the rows, then `report.md`.
pub fn finish<R: ResultRow>(
    out: &Path,
    rows: Vec<R>,
    context: &R::Context,
    plot: impl FnOnce(&[R]) -> Result<()>,
    report_md: String,
) -> Result<Summary<R>> {
    let body: Vec<Vec<String>> = rows.iter().map(|r| r.cells(context)).collect();
    write_csv(&out.join("results.csv"), &R::header(), &body)?;
    plot(&rows)?;
    write_atomic(&out.join("report.md"), report_md.as_bytes())?;
    Ok(Summary { rows, report_md })
}

/// "Network A on D (n training, m test samples)", how every trained
/// study's report begins.
pub fn network_sentence(train: &crate::train::TrainSpec, data: &Dataset) -> String {
    format!(
        "Network {} on {} ({} training, {} test samples)",
        crate::train::arch_name(&train.arch),
        data.name,
        train.train_samples.unwrap_or(data.train.len()),
        train.test_samples.unwrap_or(data.test.len()),
    )
}

/// How every `report.md` begins: its title, a warning for smoke tests,
/// then what was run on what.
pub fn report_head(title: &str, chip: &ChipSetup, setup: &str) -> String {
    let smoke = if chip.smoke_test {
        "> **Smoke test (`--quick`)**: small data, few epochs and few chip samples. These figures show that the study runs, not what it finds; run without `--quick` for results.\n\n"
    } else {
        ""
    };
    format!("# {title}\n\n{smoke}{setup}\n\n")
}

/// How two accuracies measured on the same `n` test images compare, in
/// points, with the 95% interval of their difference from test-set
/// sampling alone (normal approximation, the two treated as independent,
/// which overstates the noise of a paired comparison; one training seed,
/// so seed-to-seed spread is not in it).
pub fn accuracy_difference(a: f64, b: f64, n: usize) -> String {
    let n = n.max(1) as f64;
    let half = 1.96 * ((a * (1.0 - a) + b * (1.0 - b)) / n).sqrt();
    let d = b - a;
    format!(
        "{:+.2} points, 95% interval {:+.2} to {:+.2} from the {} test images: {}",
        100.0 * d,
        100.0 * (d - half),
        100.0 * (d + half),
        n as usize,
        if d.abs() <= half {
            "inside the test-set noise"
        } else {
            "outside the test-set noise"
        }
    )
}

/// One line of a report's comparison with the paper it follows.
pub struct Claim {
    /// What the paper reports.
    pub paper: &'static str,
    /// What this run measured (with its interval where there is one).
    pub here: String,
    /// What the measured figure depends on.
    pub driver: String,
}

/// The section of a `report.md` that sets the paper's claims beside this
/// run's figures and says what drives each.
pub fn claims_md(s: &mut String, paper: &str, claims: &[Claim]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "\n## Against the paper\n\n{paper}\n\n| the paper reports | this run | what drives it |\n| --- | --- | --- |"
    );
    for c in claims {
        let _ = writeln!(s, "| {} | {} | {} |", c.paper, c.here, c.driver);
    }
    let _ = writeln!(
        s,
        "\nAccuracy intervals are 95% intervals over the test set for one training seed. Chip figures come from a deterministic simulation of each trained model, so their spread over training seeds is not measured here."
    );
}

/// A fraction as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Loads `path` if a previous run left it, else computes and saves it.
pub fn cached<T: Serialize + DeserializeOwned>(
    path: &Path,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if path.exists() {
        let file = path.display().to_string();
        return serde_json::from_str(&read_file(path)?).map_err(|e| {
            Error::invalid(
                &file,
                "saved step",
                e,
                "a file written by this study; delete it to recompute",
            )
        });
    }
    let value = compute()?;
    let text = serde_json::to_string(&value).expect("serializes");
    write_atomic(path, text.as_bytes())?;
    Ok(value)
}

/// Header of a results CSV: `columns`, then every headline chip metric
/// (the chip's own accuracy as `chip_accuracy`, apart from the study's).
pub fn results_header(columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|c| c.to_string())
        .chain(headline::COLUMNS.iter().map(|c| {
            if *c == "accuracy" {
                "chip_accuracy".to_string()
            } else {
                c.to_string()
            }
        }))
        .collect()
}

/// A row of a results CSV: `cells`, then the chip's headline metrics in
/// `results_header` order.
pub fn results_row(mut cells: Vec<String>, chip: &Headline) -> Vec<String> {
    cells.extend(chip.cells());
    cells
}

/// What a study's row offers its charts beyond its own fields.
pub trait PlottedRow {
    /// The chip's headline metrics for the row, if it ran on the chip.
    fn headline(&self) -> Option<&Headline> {
        None
    }
    /// The row's own accuracy (the study's, not the chip report's).
    fn accuracy(&self) -> Option<f64> {
        None
    }
}

/// A number of a study's row that a chart draws: its column's name in
/// `results.csv` (which names the axis and the file) and where its value
/// comes from in the typed row (`None`: no point, as an empty cell).
pub struct Column<R, C = ()> {
    pub name: &'static str,
    pick: Pick<R, C>,
}

enum Pick<R, C> {
    Row(fn(&R, &C) -> Option<f64>),
    Chip(fn(&Headline) -> Option<f64>),
    Accuracy,
}

impl<R: PlottedRow, C> Column<R, C> {
    /// The study's accuracy column.
    pub const ACCURACY: Self = Column {
        name: "accuracy",
        pick: Pick::Accuracy,
    };

    /// A column of the row's own, read by `value`.
    pub const fn row(name: &'static str, value: fn(&R, &C) -> Option<f64>) -> Self {
        Column {
            name,
            pick: Pick::Row(value),
        }
    }

    /// A headline metric of the chip's report for the row.
    pub const fn chip(m: headline::Metric) -> Self {
        Column {
            name: m.name,
            pick: Pick::Chip(m.value),
        }
    }

    fn value(&self, r: &R, context: &C) -> Option<f64> {
        match self.pick {
            Pick::Row(f) => f(r, context),
            Pick::Chip(f) => r.headline().and_then(f),
            Pick::Accuracy => r.accuracy(),
        }
    }
}

/// Line charts of a study's metrics against one column, one series per
/// `series(row)`, written to `plots/{metric}-vs-{file_x}` (SVG, PNG).
pub struct MetricPlots<'a, R, C = ()> {
    pub x: Column<R, C>,
    pub x_label: &'a str,
    pub file_x: &'a str,
    pub series: fn(&R) -> String,
    /// Title after the metric's name.
    pub title: &'a str,
    /// Series drawn (all when empty).
    pub keep: &'a [&'a str],
    /// Fit the accuracy chart's y axis to its data.
    pub fit_accuracy: bool,
    /// One chart per `(metric, log_y)`.
    pub metrics: &'a [(Column<R, C>, bool)],
}

impl<'a, R: PlottedRow, C> MetricPlots<'a, R, C> {
    /// Every series, files named after `x`, the accuracy axis from 0 to 1.
    pub const fn new(
        x: Column<R, C>,
        x_label: &'a str,
        series: fn(&R) -> String,
        title: &'a str,
        metrics: &'a [(Column<R, C>, bool)],
    ) -> Self {
        MetricPlots {
            file_x: x.name,
            x,
            x_label,
            series,
            title,
            keep: &[],
            fit_accuracy: false,
            metrics,
        }
    }

    pub const fn file_x(self, file_x: &'a str) -> Self {
        MetricPlots { file_x, ..self }
    }

    pub const fn keep(self, keep: &'a [&'a str]) -> Self {
        MetricPlots { keep, ..self }
    }

    pub const fn fit_accuracy(self) -> Self {
        MetricPlots {
            fit_accuracy: true,
            ..self
        }
    }

    /// The study's end (`finish`) with these charts of its rows.
    pub fn finish(
        &self,
        out: &Path,
        rows: Vec<R>,
        context: &C,
        report_md: String,
    ) -> Result<Summary<R>>
    where
        R: ResultRow<Context = C>,
    {
        let csv = out.join("results.csv").display().to_string();
        finish(
            out,
            rows,
            context,
            |r| self.write(r, context, out, &csv),
            report_md,
        )
    }

    /// Writes every chart of `rows` into `out/plots`; `csv` names the
    /// file the rows were written to, for errors.
    pub fn write(&self, rows: &[R], context: &C, out: &Path, csv: &str) -> Result<()> {
        for (y, log_y) in self.metrics {
            let points = plot_points(rows, context, &self.x, y, self.series, csv)?;
            let mut chart = crate::plot::sweep::line_chart_of(
                self.x.name,
                y.name,
                crate::plot::sweep::series_of(points),
                *log_y,
            );
            if chart.series.is_empty() {
                return Err(Error::Usage(format!(
                    "{csv}: no row has numbers in both {} and {}",
                    self.x.name, y.name
                )));
            }
            if !self.keep.is_empty() {
                chart
                    .series
                    .retain(|s| self.keep.contains(&s.name.as_str()));
            }
            chart.title = format!("{}: {}", chart.y_label, self.title);
            chart.x_label = self.x_label.into();
            chart.fit_y = self.fit_accuracy && y.name == "accuracy";
            crate::plot::write(
                &chart,
                &out.join(format!("plots/{}-vs-{}", y.name, self.file_x)),
            )?;
        }
        Ok(())
    }
}

/// `(series, x, y)` of every row with both numbers; a NaN or an infinity
/// is an error naming the row of `csv`, not a point.
pub fn plot_points<R: PlottedRow, C>(
    rows: &[R],
    context: &C,
    x: &Column<R, C>,
    y: &Column<R, C>,
    series: fn(&R) -> String,
    csv: &str,
) -> Result<Vec<(String, f64, f64)>> {
    let mut out = vec![];
    for (i, r) in rows.iter().enumerate() {
        let (xv, yv) = (x.value(r, context), y.value(r, context));
        for (v, name) in [(xv, x.name), (yv, y.name)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    csv,
                    format!("line {}, {name}", i + 2),
                    v,
                    "a finite number, or empty for a failed point",
                ));
            }
        }
        if let (Some(xv), Some(yv)) = (xv, yv) {
            out.push((series(r), xv, yv));
        }
    }
    Ok(out)
}

/// Writes a CSV of rows of text cells.
pub fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(vec![]);
    let err = |e: csv::Error| Error::Usage(format!("{}: {e}", path.display()));
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    write_atomic(path, &bytes)
}

/// Checks a command-line list of timesteps: non-empty, strictly
/// decreasing, each in `1..=max`; `expected` describes it in the error.
pub fn check_decreasing(flag: &str, timesteps: &[u32], max: u32, expected: &str) -> Result<()> {
    let ok = !timesteps.is_empty()
        && timesteps.windows(2).all(|w| w[0] > w[1])
        && timesteps.iter().all(|t| (1..=max).contains(t));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "command line",
            flag,
            format!("{timesteps:?}"),
            expected,
        ))
    }
}

/// Checks that `dir` holds no study of another configuration: the first
/// run writes `study.json` with `config`; later runs must match it.
pub fn claim_folder(dir: &Path, config: &serde_json::Value) -> Result<()> {
    let path = dir.join("study.json");
    if path.exists() {
        let old: serde_json::Value = serde_json::from_str(&read_file(&path)?).unwrap_or_default();
        if old != *config {
            return Err(Error::invalid(
                &path.display().to_string(),
                "study",
                "another configuration",
                "the same command as the run that made this folder; use a fresh --out",
            ));
        }
        return Ok(());
    }
    let text = serde_json::to_string_pretty(config).expect("json") + "\n";
    write_atomic(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_differences_are_judged_by_their_interval() {
        // 2 points on 2,000 images: the interval is about +-1.8 points.
        let big = accuracy_difference(0.90, 0.92, 2000);
        assert!(
            big.starts_with("+2.00 points, 95% interval +0.23 to +3.77"),
            "{big}"
        );
        assert!(big.ends_with("outside the test-set noise"));
        // The same 2 points on 400 images.
        let small = accuracy_difference(0.90, 0.92, 400);
        assert!(small.ends_with("inside the test-set noise"), "{small}");
    }
}
