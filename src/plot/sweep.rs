//! Charts from a sweep's `results.csv`: any metric against any axis, one
//! series per model (and per value of the other axes), and Pareto fronts.

use super::figures::ParetoChart;
use super::{write, LineChart, Series};
use crate::error::{read_file, Error, Result};
use crate::report::headline::column;
use std::collections::BTreeMap;
use std::path::Path;

/// A CSV file as text cells.
#[derive(Clone, Debug)]
pub struct Table {
    pub file: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Table> {
        let file = path.display().to_string();
        let text = read_file(path)?;
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let bad = |e: csv::Error| Error::invalid(&file, "CSV", e, "a CSV file with a header row");
        let header = r.headers().map_err(bad)?.iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| rec.map(|rec| rec.iter().map(String::from).collect()))
            .collect::<std::result::Result<Vec<Vec<String>>, _>>()
            .map_err(bad)?;
        Ok(Table { file, header, rows })
    }

    pub fn column(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            Error::invalid(
                &self.file,
                "column",
                name,
                format!("one of: {}", self.header.join(", ")),
            )
        })
    }

    /// Rows that ran (`status` ok, when there is a status column) and
    /// match every `(column, value)`.
    /// Rows with status ok (if the table has one) matching the filters,
    /// with their 1-based line numbers in the file.
    fn selected(&self, filters: &[(String, String)]) -> Result<Vec<(usize, &Vec<String>)>> {
        let status = self.header.iter().position(|h| h == "status");
        let cols = filters
            .iter()
            .map(|(c, v)| Ok((self.column(c)?, v.as_str())))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i + 2, r))
            .filter(|(_, r)| status.is_none_or(|s| r[s] == "ok"))
            .filter(|(_, r)| cols.iter().all(|(c, v)| r[*c] == *v))
            .collect())
    }

    /// Distinct values of a column, in first-seen order.
    pub fn distinct(&self, column: usize) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for r in &self.rows {
            if !out.contains(&r[column]) {
                out.push(r[column].clone());
            }
        }
        out
    }
}

/// An axis or metric value as a number: `AxB` (a mesh) counts A x B.
pub fn number(v: &str) -> Option<f64> {
    if let Ok(x) = v.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    let (a, b) = v.split_once(['x', 'X'])?;
    Some(a.parse::<f64>().ok()? * b.parse::<f64>().ok()?)
}

/// An axis label with its unit, from a column name.
pub fn label(column: &str) -> String {
    let known = [
        ("mesh", "mesh (tiles, x times y)"),
        ("cores_per_router", "cores per router"),
        ("clock_mhz", "clock (MHz)"),
        ("core.neurons", "neurons per core"),
        ("core.pes", "PEs per core"),
        ("core.queue_depth", "work-queue depth (events)"),
        ("synapse_memory.bytes", "synapse memory (bytes)"),
        ("synapse_memory.word_bits", "synapse word width (bits)"),
        ("membrane_sram.word_bits", "membrane word width (bits)"),
        ("router.buffer_depth", "router buffer depth (flits)"),
        ("router.latency_cycles", "router latency (cycles)"),
        ("router.link_latency_cycles", "link latency (cycles)"),
        ("router.link_width_bits", "link width (bits)"),
        ("barrier_cycles", "barrier (cycles)"),
        ("imbalance", "load imbalance (max / mean busy cycles)"),
        ("pe_utilization", "PE utilization (fraction)"),
        ("accuracy", "accuracy (top-1, fraction)"),
        ("seconds_per_inference", "latency per inference (s)"),
    ];
    if let Some((_, l)) = known.iter().find(|(c, _)| *c == column) {
        return l.to_string();
    }
    let words = column.replace(['_', '.'], " ");
    for (suffix, unit) in [(" pj", "pJ"), (" cycles", "cycles"), (" bits", "bits")] {
        if let Some(stem) = words.strip_suffix(suffix) {
            return format!("{stem} ({unit})");
        }
    }
    if let Some(stem) = words.strip_suffix(" per inference") {
        return format!("{stem} per inference (cycles)").replace(
            "cycles per inference (cycles)",
            "latency per inference (cycles)",
        );
    }
    words
}

/// What to draw from a table.
#[derive(Clone, Debug, Default)]
pub struct SweepPlot {
    pub x: String,
    pub y: String,
    /// Columns whose values tell series apart (default: none, one series).
    pub series: Vec<String>,
    /// Only rows where each column has the value.
    pub filters: Vec<(String, String)>,
    pub log_y: bool,
}

fn series_key(row: &[String], cols: &[(usize, String)]) -> String {
    cols.iter()
        .map(|(c, name)| {
            if name == "model" {
                Path::new(&row[*c])
                    .file_stem()
                    .map_or(row[*c].clone(), |s| s.to_string_lossy().into_owned())
            } else if ["method", "regime", "variant"].contains(&name.as_str()) {
                row[*c].clone()
            } else {
                format!("{name}={}", row[*c])
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `y` against `x`, one series per distinct value of the series columns.
fn grouped(
    t: &Table,
    x: &str,
    y: &str,
    series: &[String],
    filters: &[(String, String)],
) -> Result<Vec<Series>> {
    let (xc, yc) = (t.column(x)?, t.column(y)?);
    let cols = series
        .iter()
        .map(|s| Ok((t.column(s)?, s.clone())))
        .collect::<Result<Vec<_>>>()?;
    let mut points = vec![];
    for (line, row) in t.selected(filters)? {
        // Empty cells (failed points) are skipped; a NaN or an infinity is
        // a broken table, not a point.
        for (c, name) in [(xc, x), (yc, y)] {
            if row[c].trim().parse::<f64>().is_ok_and(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    &t.file,
                    format!("line {line}, {name}"),
                    &row[c],
                    "a finite number, or empty for a failed point",
                ));
            }
        }
        let (Some(xv), Some(yv)) = (number(&row[xc]), number(&row[yc])) else {
            continue;
        };
        let key = series_key(row, &cols);
        points.push((if key.is_empty() { y.to_string() } else { key }, xv, yv));
    }
    Ok(series_of(points))
}

/// Series from `(series name, x, y)` points: one per distinct name, in
/// order of first appearance, each sorted by x.
pub fn series_of(points: impl IntoIterator<Item = (String, f64, f64)>) -> Vec<Series> {
    series_with_errors(points.into_iter().map(|(n, x, y)| (n, x, y, None)))
}

/// As `series_of`, each point with an optional error bar `(low, high)`
/// that stays with it through the sort (a series has bars when its points
/// do).
pub fn series_with_errors(
    points: impl IntoIterator<Item = (String, f64, f64, Option<(f64, f64)>)>,
) -> Vec<Series> {
    // Per series: its name and its (x, y, error bar) points.
    type Points = Vec<(f64, f64, Option<(f64, f64)>)>;
    let mut groups: Vec<(String, Points)> = vec![];
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (name, x, y, e) in points {
        let i = *index.entry(name.clone()).or_insert_with(|| {
            groups.push((name, vec![]));
            groups.len() - 1
        });
        groups[i].1.push((x, y, e));
    }
    groups
        .into_iter()
        .map(|(name, mut pts)| {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name,
                points: pts.iter().map(|p| (p.0, p.1)).collect(),
                errors: pts.iter().filter_map(|p| p.2).collect(),
            }
        })
        .collect()
}

pub fn line_chart(t: &Table, p: &SweepPlot) -> Result<LineChart> {
    let series = grouped(t, &p.x, &p.y, &p.series, &p.filters)?;
    if series.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no row has numbers in both {} and {} (after the filters)",
            t.file, p.x, p.y
        )));
    }
    Ok(line_chart_of(&p.x, &p.y, series, p.log_y))
}

/// A line chart of `series`, `y` against `x` (column names: the labels
/// come from them).
pub fn line_chart_of(x: &str, y: &str, series: Vec<Series>, log_y: bool) -> LineChart {
    LineChart {
        title: format!("{} against {}", label(y), label(x)),
        x_label: label(x),
        y_label: label(y),
        series,
        log_y,
        markers: vec![],
        fit_y: false,
    }
}

/// A Pareto chart of `y` against `x` (lower x better; higher y better
/// unless `minimize_y`), series by the given columns.
pub fn pareto_chart(
    t: &Table,
    x: &str,
    y: &str,
    series: &[String],
    minimize_y: bool,
    log_x: bool,
) -> Result<ParetoChart> {
    let groups = grouped(t, x, y, series, &[])?;
    if groups.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no row has numbers in both {x} and {y}",
            t.file
        )));
    }
    Ok(pareto_chart_of(x, y, groups, minimize_y, log_x))
}

/// A Pareto chart of `series`, `y` against `x` (column names).
pub fn pareto_chart_of(
    x: &str,
    y: &str,
    series: Vec<Series>,
    minimize_y: bool,
    log_x: bool,
) -> ParetoChart {
    ParetoChart {
        title: format!("{} against {}: Pareto front", label(y), label(x)),
        x_label: label(x),
        y_label: label(y),
        series,
        minimize_y,
        log_x,
    }
}

/// Metrics drawn against every numeric axis after a sweep.
pub const DEFAULT_METRICS: &[&str] = &[
    column::cycles_per_inference,
    column::energy_per_inference_pj,
    column::pe_utilization,
    column::imbalance,
];

/// Most series in one default chart; more would be unreadable.
pub const MAX_SERIES: usize = 10;

/// Draws the default charts of a sweep folder into `dir/plots`: each
/// metric of `DEFAULT_METRICS` against each axis with two or more numeric
/// values (series: model and the other axes), and, when points have
/// accuracy, accuracy against energy with its Pareto front. Returns the
/// number of charts.
pub fn write_default_plots(dir: &Path) -> Result<usize> {
    let t = Table::read(&dir.join("results.csv"))?;
    let first_metric = t.column("status")? + 1;
    let axes: Vec<String> = t.header[2..first_metric - 1].to_vec();
    let varied = |c: &str| {
        t.column(c)
            .map(|i| t.distinct(i).len() > 1)
            .unwrap_or(false)
    };
    let plots = dir.join("plots");
    let mut n = 0;
    for x in &axes {
        let xi = t.column(x)?;
        let values = t.distinct(xi);
        if values.len() < 2 || values.iter().any(|v| number(v).is_none()) {
            continue;
        }
        let mut series: Vec<String> = vec!["model".into()];
        series.extend(axes.iter().filter(|a| *a != x && varied(a)).cloned());
        if !varied("model") && series.len() > 1 {
            series.remove(0);
        }
        for y in DEFAULT_METRICS {
            let p = SweepPlot {
                x: x.clone(),
                y: y.to_string(),
                series: series.clone(),
                ..SweepPlot::default()
            };
            let Ok(chart) = line_chart(&t, &p) else {
                continue;
            };
            if chart.series.len() > MAX_SERIES {
                tracing::info!(x = %x, series = chart.series.len(), "too many series for a default chart; use neurocycle plot sweep --where");
                break;
            }
            write(
                &chart,
                &plots.join(format!("{y}-vs-{}", x.replace('.', "_"))),
            )?;
            n += 1;
        }
    }
    let acc = t.column(column::accuracy)?;
    if t.rows.iter().filter(|r| number(&r[acc]).is_some()).count() > 1 {
        let chart = pareto_chart(
            &t,
            column::energy_per_inference_pj,
            column::accuracy,
            &["model".into()],
            false,
            false,
        )?;
        write(&chart, &plots.join("pareto-accuracy-vs-energy"))?;
        n += 1;
    }
    Ok(n)
}
