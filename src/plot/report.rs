//! Heat maps of one run's report over the mesh: PE utilization and busy
//! fraction per tile, and flits per link. They read the report's JSON, so
//! a saved report draws the same pictures as the run that wrote it.

use super::figures::{HeatMap, LinkMap};
use super::write;
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Per-core metrics a heat map can show.
pub const TILE_METRICS: &[(&str, &str)] = &[
    (
        "pe-utilization",
        "PE utilization (synops / (PEs x integration cycles))",
    ),
    ("busy-fraction", "busy fraction (busy cycles / run cycles)"),
    ("synops", "synaptic operations"),
    ("spikes", "spikes emitted"),
];

fn field<'a>(report: &'a Value, path: &str, file: &str) -> Result<&'a Value> {
    let mut v = report;
    for k in path.split('.') {
        v = v.get(k).ok_or_else(|| {
            Error::invalid(
                file,
                path,
                "missing",
                "a report written by neurocycle run --report",
            )
        })?;
    }
    Ok(v)
}

fn mesh_of(report: &Value, file: &str) -> Result<(u32, u32)> {
    let m = field(report, "cores.mesh", file)?;
    match (m[0].as_u64(), m[1].as_u64()) {
        (Some(x), Some(y)) if x > 0 && y > 0 => Ok((x as u32, y as u32)),
        _ => Err(Error::invalid(
            file,
            "cores.mesh",
            m,
            "[x, y] with x, y >= 1",
        )),
    }
}

/// A heat map of `metric` (one of `TILE_METRICS`) per tile: the mean over
/// the tile's cores in use; tiles with none are blank.
pub fn tile_heat_map(report: &Value, metric: &str, file: &str) -> Result<HeatMap> {
    let (w, h) = mesh_of(report, file)?;
    let label = TILE_METRICS
        .iter()
        .find(|m| m.0 == metric)
        .map(|m| m.1)
        .ok_or_else(|| {
            Error::invalid(
                "command line",
                "--metric",
                metric,
                TILE_METRICS
                    .iter()
                    .map(|m| m.0)
                    .chain(["link-load"])
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let cycles = field(report, "latency.cycles", file)?
        .as_f64()
        .unwrap_or(0.0);
    let mut sum = vec![0.0; (w * h) as usize];
    let mut n = vec![0u32; (w * h) as usize];
    for c in field(report, "cores.per_core", file)?
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(x), Some(y)) = (c["tile"][0].as_u64(), c["tile"][1].as_u64()) else {
            continue;
        };
        let v = match metric {
            "pe-utilization" => c["pe_utilization"].as_f64(),
            "busy-fraction" => c["busy_cycles"]
                .as_f64()
                .filter(|_| cycles > 0.0)
                .map(|b| b / cycles),
            other => c[other].as_f64(),
        };
        let i = (y * w as u64 + x) as usize;
        if let (Some(v), true) = (v, i < sum.len()) {
            sum[i] += v;
            n[i] += 1;
        }
    }
    let per_tile = field(report, "cores.cores_per_router", file)?
        .as_u64()
        .unwrap_or(1);
    Ok(HeatMap {
        title: format!(
            "{}{}",
            label.split(" (").next().unwrap_or(label),
            if per_tile > 1 {
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
    })
}

/// Flits per directed link over the run.
pub fn link_map(report: &Value, file: &str) -> Result<LinkMap> {
    let (w, h) = mesh_of(report, file)?;
    let tile =
        |v: &Value| -> Option<[u32; 2]> { Some([v[0].as_u64()? as u32, v[1].as_u64()? as u32]) };
    let links = field(report, "noc.per_link", file)?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((tile(&l["from"])?, tile(&l["to"])?, l["flits"].as_f64()?)))
        .collect();
    Ok(LinkMap {
        title: "link load (flits per directed link)".into(),
        width: w,
        height: h,
        links,
    })
}

/// Writes the PE-utilization, busy-fraction and link-load maps of a
/// report (as JSON) into `dir`.
pub fn write_heat_maps_json(report: &Value, file: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![];
    for metric in ["pe-utilization", "busy-fraction"] {
        files.extend(write(
            &tile_heat_map(report, metric, file)?,
            &dir.join(metric),
        )?);
    }
    files.extend(write(&link_map(report, file)?, &dir.join("link-load"))?);
    Ok(files)
}

pub fn write_heat_maps(report: &crate::report::Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let v = serde_json::to_value(report).expect("report serializes");
    write_heat_maps_json(&v, "report", dir)
}
