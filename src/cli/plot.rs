//! `neurocycle plot`: charts from sweep results and run reports.

use clap::{Args, Subcommand};
use neurocycle::error::{Error, Result};
use neurocycle::plot::report::{link_map, read_report, tile_heat_map, TileMetric};
use neurocycle::plot::sweep::{line_chart, pareto_chart, SweepPlot, Table};
use neurocycle::plot::write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct PlotArgs {
    #[command(subcommand)]
    pub chart: Chart,
}

#[derive(Subcommand)]
pub enum Chart {
    /// A metric against an axis of a sweep (results.csv or its folder).
    Sweep(SweepChart),
    /// A Pareto front: points of a CSV, lower x better, the front drawn.
    Pareto(ParetoArgs),
    /// A heat map over the mesh from a run's JSON report.
    Heatmap(HeatmapArgs),
}

#[derive(Args)]
pub struct SweepChart {
    /// results.csv, or the sweep folder holding it.
    pub results: PathBuf,
    /// Column on the x axis (an axis path, e.g. core.pes).
    #[arg(long)]
    pub x: String,
    /// Column on the y axis (a metric, e.g. energy_per_inference_pj).
    #[arg(long)]
    pub y: String,
    /// Columns whose values make separate series (default: model).
    #[arg(long)]
    pub series: Vec<String>,
    /// Only rows with COLUMN=VALUE (repeatable).
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,
    #[arg(long)]
    pub log_y: bool,
    /// Output file: .svg, .png, or no extension for both.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct ParetoArgs {
    /// A CSV with a header row (results.csv of a sweep or a study).
    pub results: PathBuf,
    /// Column on the x axis, lower is better (e.g. energy_per_inference_pj).
    #[arg(long, default_value = "energy_per_inference_pj")]
    pub x: String,
    /// Column on the y axis, higher is better unless --minimize-y.
    #[arg(long, default_value = "accuracy")]
    pub y: String,
    /// Columns whose values make separate series (default: model).
    #[arg(long)]
    pub series: Vec<String>,
    #[arg(long)]
    pub minimize_y: bool,
    #[arg(long)]
    pub log_x: bool,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct HeatmapArgs {
    /// A JSON report written by `neurocycle run --report`.
    pub report: PathBuf,
    /// pe-utilization, busy-fraction, synops, spikes or link-load.
    #[arg(long, default_value = "pe-utilization")]
    pub metric: String,
    #[arg(long)]
    pub out: PathBuf,
}

fn table(path: &Path) -> Result<Table> {
    if path.is_dir() {
        Table::read(&path.join("results.csv"))
    } else {
        Table::read(path)
    }
}

fn default_series(t: &Table, given: &[String]) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    if t.header.iter().any(|h| h == "model") {
        vec!["model".into()]
    } else {
        vec![]
    }
}

fn done(files: Vec<PathBuf>) -> Result<i32> {
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(0)
}

pub fn main(a: &PlotArgs) -> Result<i32> {
    match &a.chart {
        Chart::Sweep(s) => {
            let t = table(&s.results)?;
            let filters = s
                .filters
                .iter()
                .map(|f| {
                    f.split_once('=')
                        .map(|(c, v)| (c.trim().to_string(), v.trim().to_string()))
                        .ok_or_else(|| Error::invalid("command line", "--where", f, "COLUMN=VALUE"))
                })
                .collect::<Result<Vec<_>>>()?;
            let chart = line_chart(
                &t,
                &SweepPlot {
                    x: s.x.clone(),
                    y: s.y.clone(),
                    series: default_series(&t, &s.series),
                    filters,
                    log_y: s.log_y,
                },
            )?;
            done(write(&chart, &s.out)?)
        }
        Chart::Pareto(p) => {
            let t = table(&p.results)?;
            let chart = pareto_chart(
                &t,
                &p.x,
                &p.y,
                &default_series(&t, &p.series),
                p.minimize_y,
                p.log_x,
            )?;
            done(write(&chart, &p.out)?)
        }
        Chart::Heatmap(h) => {
            let report = read_report(&h.report)?;
            if h.metric == "link-load" {
                done(write(&link_map(&report), &h.out)?)
            } else {
                let metric = TileMetric::parse(&h.metric)?;
                done(write(&tile_heat_map(&report, metric), &h.out)?)
            }
        }
    }
}
