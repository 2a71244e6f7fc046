//! Heat maps of one run's report over the mesh: PE utilization and busy
//! fraction per tile, and flits per link. They read the typed `Report`
//! (a saved JSON report is deserialized into it first), so a saved report
//! draws the same pictures as the run that wrote it, and a renamed report
//! field fails to compile here rather than at run time.

use super::figures::{HeatMap, LinkMap};
use super::write;
use crate::error::{Error, Result};
use crate::report::{PerCore, Report};
use std::path::{Path, PathBuf};

/// A per-core metric a heat map can show.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TileMetric {
    PeUtilization,
    BusyFraction,
    Synops,
    Spikes,
}

impl TileMetric {
    pub const ALL: [TileMetric; 4] = [
        TileMetric::PeUtilization,
        TileMetric::BusyFraction,
        TileMetric::Synops,
        TileMetric::Spikes,
    ];

    /// The name `plot heatmap --metric` takes.
    pub fn name(self) -> &'static str {
        match self {
            TileMetric::PeUtilization => "pe-utilization",
            TileMetric::BusyFraction => "busy-fraction",
            TileMetric::Synops => "synops",
            TileMetric::Spikes => "spikes",
        }
    }

    fn label(self) -> &'static str {
        match self {
            TileMetric::PeUtilization => "PE utilization (synops / (PEs x integration cycles))",
            TileMetric::BusyFraction => "busy fraction (busy cycles / run cycles)",
            TileMetric::Synops => "synaptic operations",
            TileMetric::Spikes => "spikes emitted",
        }
    }

    /// A core's value; `cycles` is the run's length.
    fn of(self, c: &PerCore, cycles: u64) -> Option<f64> {
        match self {
            TileMetric::PeUtilization => c.pe_utilization,
            TileMetric::BusyFraction => (cycles > 0).then(|| c.busy_cycles as f64 / cycles as f64),
            TileMetric::Synops => Some(c.synops as f64),
            TileMetric::Spikes => Some(c.spikes as f64),
        }
    }

    /// The metric named `name` (command-line `--metric`).
    pub fn parse(name: &str) -> Result<TileMetric> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                Error::invalid(
                    "command line",
                    "--metric",
                    name,
                    Self::ALL
                        .iter()
                        .map(|m| m.name())
                        .chain(["link-load"])
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
    }
}

/// A heat map of `metric` per tile: the mean over the tile's cores in
/// use; tiles with none are blank.
pub fn tile_heat_map(report: &Report, metric: TileMetric) -> HeatMap {
    let [w, h] = report.cores.mesh;
    let mut sum = vec![0.0; (w * h) as usize];
    let mut n = vec![0u32; (w * h) as usize];
    for c in &report.cores.per_core {
        let [x, y] = c.tile;
        let i = (y * w + x) as usize;
        if let (Some(v), true) = (metric.of(c, report.latency.cycles), i < sum.len()) {
            sum[i] += v;
            n[i] += 1;
        }
    }
    let label = metric.label();
    HeatMap {
        title: format!(
            "{}{}",
            label.split(" (").next().unwrap_or(label),
            if report.cores.cores_per_router > 1 {
                ", mean of a tile's cores"
            } else {
                " per core"
            }
        ),
        value_label: label.to_string(),
        width: w,
        height: h,
        values: sum
            .iter()
            .zip(&n)
            .map(|(s, k)| (*k > 0).then(|| s / *k as f64))
            .collect(),
    }
}

/// Flits per directed link over the run.
pub fn link_map(report: &Report) -> LinkMap {
    let [w, h] = report.cores.mesh;
    LinkMap {
        title: "link load (flits per directed link)".into(),
        width: w,
        height: h,
        links: report
            .noc
            .per_link
            .iter()
            .map(|l| (l.from, l.to, l.flits as f64))
            .collect(),
    }
}

/// Reads a JSON report written by `run --report`.
pub fn read_report(path: &Path) -> Result<Report> {
    let file = path.display().to_string();
    let report: Report = serde_json::from_str(&crate::error::read_file(path)?).map_err(|e| {
        Error::invalid(
            &file,
            "report",
            e,
            format!(
                "a JSON report of neurocycle run --report (schema_version {})",
                crate::report::SCHEMA_VERSION
            ),
        )
    })?;
    let [w, h] = report.cores.mesh;
    if w == 0 || h == 0 {
        return Err(Error::invalid(
            &file,
            "cores.mesh",
            format!("[{w}, {h}]"),
            "[x, y] with x, y >= 1",
        ));
    }
    Ok(report)
}

/// Writes the PE-utilization, busy-fraction and link-load maps of a
/// report into `dir`.
pub fn write_heat_maps(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![];
    for metric in [TileMetric::PeUtilization, TileMetric::BusyFraction] {
        files.extend(write(
            &tile_heat_map(report, metric),
            &dir.join(metric.name()),
        )?);
    }
    files.extend(write(&link_map(report), &dir.join("link-load"))?);
    Ok(files)
}
