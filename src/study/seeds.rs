//! A study over several training seeds (`--seeds N`): each seed's study
//! runs whole into `OUT/seed-S`, then every row's numbers are given as a
//! mean and a 95% interval over the seeds (Student's t), in
//! `OUT/seeds.csv`, `OUT/report.md` and as error bars in `OUT/plots`.
//! Rows are matched by position: every seed runs the same grid, and the
//! text cells that name a row (method, variant, regime: before the first
//! measured number) must agree; measured text (encodings) is kept per seed.

use super::{pct, MetricPlots, PlottedRow};
use crate::error::{write_atomic, Error, Result};
use crate::plot::sweep::{number, Table};
use crate::report::headline::{column, Headline};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where seed `seed`'s study goes.
pub fn seed_dir(out: &Path, seed: u64) -> PathBuf {
    out.join(format!("seed-{seed}"))
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= T.len() => T[d - 1],
        _ => 1.96,
    }
}

/// A mean with its 95% interval over the seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Seeds that gave a value.
    pub n: usize,
}

/// The mean of `values` and its 95% t-interval (none for no values; the
/// interval is the mean itself for one).
pub fn spread(values: &[f64]) -> Option<Spread> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Spread {
            mean,
            lo: mean,
            hi: mean,
            n,
        });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    Some(Spread {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    })
}

impl<R: PlottedRow, C> MetricPlots<'_, R, C> {
    /// The charts of one study run once per seed (`runs`, each with its
    /// context), each point the mean over the seeds with its 95% interval
    /// as an error bar; into `out/plots`.
    pub fn write_over_seeds(&self, runs: &[(&[R], &C)], out: &Path) -> Result<()> {
        let Some((first, _)) = runs.first() else {
            return Ok(());
        };
        for (y, log_y) in self.metrics {
            let mut points = vec![];
            for (i, row) in first.iter().enumerate() {
                let (mut xs, mut ys) = (vec![], vec![]);
                for (rows, context) in runs {
                    let Some(r) = rows.get(i) else { continue };
                    if let (Some(x), Some(v)) = (self.x.value(r, context), y.value(r, context)) {
                        xs.push(x);
                        ys.push(v);
                    }
                }
                if let (Some(x), Some(v)) = (spread(&xs), spread(&ys)) {
                    if x.mean.is_finite() && v.mean.is_finite() {
                        points.push(((self.series)(row), x.mean, v.mean, Some((v.lo, v.hi))));
                    }
                }
            }
            let series = crate::plot::sweep::series_with_errors(points);
            if series.is_empty() {
                continue;
            }
            let mut chart = crate::plot::sweep::line_chart_of(self.x.name, y.name, series, *log_y);
            if !self.keep.is_empty() {
                chart
                    .series
                    .retain(|s| self.keep.contains(&s.name.as_str()));
            }
            chart.title = format!(
                "{}: {}, mean and 95% interval over {} seeds",
                chart.y_label,
                self.title,
                runs.len()
            );
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

/// One seed's figure comparing two of its rows (or a row and a baseline);
/// the same `comparison` and `figure` in every seed make one line of the
/// paired table, so the spread is that of the per-seed difference, not of
/// two means.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    /// What is compared, e.g. `u-ticket against lth, round 6 (98% sparse)`.
    pub comparison: String,
    /// Which figure, e.g. `accuracy change (points)` or `latency ratio`.
    pub figure: String,
    pub value: f64,
    /// The value of no difference: 0 for a change, 1 for a ratio, NaN for
    /// a figure that is not a difference (a chosen T).
    pub null: f64,
}

impl Paired {
    /// `treated - base` accuracy, in points.
    pub fn points(comparison: &str, base: f64, treated: f64) -> Paired {
        Paired {
            comparison: comparison.into(),
            figure: "accuracy change (points)".into(),
            value: 100.0 * (treated - base),
            null: 0.0,
        }
    }

    /// `base / treated` of a cost (cycles, energy): how many times less
    /// the treated row spends.
    pub fn ratio(comparison: &str, figure: &str, base: f64, treated: f64) -> Paired {
        Paired {
            comparison: comparison.into(),
            figure: figure.into(),
            value: base / treated,
            null: 1.0,
        }
    }

    /// The latency and energy ratios of two chip measurements.
    pub fn chip_costs(comparison: &str, base: &Headline, treated: &Headline) -> [Paired; 2] {
        [
            Paired::ratio(
                comparison,
                "latency ratio",
                base.cycles_per_inference,
                treated.cycles_per_inference,
            ),
            Paired::ratio(
                comparison,
                "energy ratio",
                base.energy_per_inference_pj,
                treated.energy_per_inference_pj,
            ),
        ]
    }
}

/// The paired figures over seeds: `(comparison, figure, null, values)` in
/// order of first appearance (a seed that lacks one adds nothing to it).
fn pair_up(paired: &[Vec<Paired>]) -> Vec<(String, String, f64, Vec<Option<f64>>)> {
    let mut lines: Vec<(String, String, f64, Vec<Option<f64>>)> = vec![];
    for (k, seed) in paired.iter().enumerate() {
        for p in seed {
            let i = match lines
                .iter()
                .position(|l| l.0 == p.comparison && l.1 == p.figure)
            {
                Some(i) => i,
                None => {
                    lines.push((
                        p.comparison.clone(),
                        p.figure.clone(),
                        p.null,
                        vec![None; paired.len()],
                    ));
                    lines.len() - 1
                }
            };
            lines[i].3[k] = Some(p.value);
        }
    }
    lines
}

/// `paired.csv` and the report's section on the paired figures.
fn paired_md(out: &Path, seeds: &[u64], paired: &[Vec<Paired>], s: &mut String) -> Result<()> {
    let lines = pair_up(paired);
    if lines.is_empty() {
        return Ok(());
    }
    let mut header = vec!["comparison".to_string(), "figure".to_string()];
    header.extend(seeds.iter().map(|s| format!("seed_{s}")));
    header.extend(["mean", "lo", "hi", "no_difference", "beyond_noise"].map(String::from));
    let _ = writeln!(
        s,
        "\n## Paired differences\n\nEach figure is computed within each seed (the two rows share the seed's data order, initial weights and test images), then averaged with its 95% interval over the seeds; it is beyond the noise when the interval excludes no difference (0 for a change, 1 for a ratio). Also in `paired.csv`.\n"
    );
    let _ = writeln!(
        s,
        "| comparison | figure | per seed | mean (95% interval) | |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    let mut rows = vec![];
    for (comparison, figure, null, values) in &lines {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let Some(sp) = spread(&present) else { continue };
        let beyond = sp.n > 1 && (sp.lo > *null || sp.hi < *null);
        let fmt = |v: f64| {
            if *null == 1.0 {
                format!("{v:.2}x")
            } else if *null == 0.0 {
                format!("{v:+.2}")
            } else {
                format!("{v:.1}")
            }
        };
        let _ = writeln!(
            s,
            "| {comparison} | {figure} | {} | {} ({} to {}) | {} |",
            values
                .iter()
                .map(|v| v.map_or("-".into(), fmt))
                .collect::<Vec<_>>()
                .join(", "),
            fmt(sp.mean),
            fmt(sp.lo),
            fmt(sp.hi),
            if null.is_nan() {
                ""
            } else if sp.n < 2 {
                "one seed"
            } else if beyond {
                "beyond the noise"
            } else {
                "inside the noise"
            }
        );
        let mut row = vec![comparison.clone(), figure.clone()];
        row.extend(
            values
                .iter()
                .map(|v| v.map_or(String::new(), |v| v.to_string())),
        );
        row.extend([sp.mean, sp.lo, sp.hi, *null].map(|v| v.to_string()));
        row.push(beyond.to_string());
        rows.push(row);
    }
    super::write_csv(&out.join("paired.csv"), &header, &rows)
}

/// Columns `report.md` shows per row, when the study has them: its own
/// accuracy, then the chip's headline energy and latency.
const SHOWN: [&str; 4] = [
    "accuracy",
    column::pe_utilization,
    column::energy_per_inference_pj,
    column::cycles_per_inference,
];

/// Reads every seed's `results.csv`, writes `out/seeds.csv` (the text
/// columns, then per number column its mean, `_lo` and `_hi`),
/// `out/paired.csv` (the study's `paired` figures, one list per seed) and
/// `out/report.md`, and returns the report.
pub fn aggregate(out: &Path, seeds: &[u64], title: &str, paired: &[Vec<Paired>]) -> Result<String> {
    let tables = seeds
        .iter()
        .map(|s| Table::read(&seed_dir(out, *s).join("results.csv")))
        .collect::<Result<Vec<_>>>()?;
    let first = &tables[0];
    for t in tables.iter().skip(1) {
        if t.header != first.header || t.rows.len() != first.rows.len() {
            return Err(Error::invalid(
                &t.file,
                "rows",
                format!("{} rows of {} columns", t.rows.len(), t.header.len()),
                format!(
                    "the grid of seed {}: {} rows of {} columns",
                    seeds[0],
                    first.rows.len(),
                    first.header.len()
                ),
            ));
        }
    }
    // A column is text when a cell of it is neither empty nor a number.
    let text: Vec<bool> = (0..first.header.len())
        .map(|c| {
            tables.iter().any(|t| {
                t.rows
                    .iter()
                    .any(|r| !r[c].trim().is_empty() && number(&r[c]).is_none())
            })
        })
        .collect();
    // The leading columns every seed has alike (round, T, bits: the grid)
    // name the row in the report, with the text columns.
    let same = |c: usize| {
        tables
            .iter()
            .all(|t| t.rows.iter().zip(&first.rows).all(|(a, b)| a[c] == b[c]))
    };
    let grid = (0..first.header.len())
        .take_while(|&c| text[c] || same(c))
        .count();
    // A text column after the first measured number is measured too (the
    // encodings the mapper chose, an error): seeds may differ there, and
    // seeds.csv gives each seed's text. Before it, text names the row.
    let first_measured = (0..first.header.len())
        .find(|&c| !text[c] && !same(c))
        .unwrap_or(first.header.len());
    let measured_text = |c: usize| text[c] && c > first_measured && !same(c);
    let is_key = |c: usize| (text[c] && !measured_text(c)) || c < grid;
    let mut header = vec![];
    for (c, name) in first.header.iter().enumerate() {
        if text[c] {
            header.push(name.clone());
        } else {
            header.extend([name.clone(), format!("{name}_lo"), format!("{name}_hi")]);
        }
    }
    let mut rows = vec![];
    // Per row: its key cells, and the spread of each shown column.
    type Shown<'a> = (Vec<String>, Vec<(&'a str, Option<Spread>)>);
    let mut shown: Vec<Shown> = vec![];
    for (i, row) in first.rows.iter().enumerate() {
        let mut cells = vec![];
        let mut keys = vec![];
        let mut spreads = vec![];
        for (c, name) in first.header.iter().enumerate() {
            if is_key(c) && !text[c] {
                keys.push(match number(&row[c]) {
                    Some(v) if v.fract() != 0.0 => format!("{v:.4}"),
                    _ => row[c].clone(),
                });
            }
            if measured_text(c) {
                let each: Vec<&str> = tables.iter().map(|t| t.rows[i][c].as_str()).collect();
                cells.push(each.join(" / "));
            } else if text[c] {
                if let Some(t) = tables.iter().find(|t| t.rows[i][c] != row[c]) {
                    return Err(Error::invalid(
                        &t.file,
                        format!("row {}, {name}", i + 1),
                        &t.rows[i][c],
                        format!(
                            "{} as in {} (every seed runs the same grid)",
                            row[c], first.file
                        ),
                    ));
                }
                cells.push(row[c].clone());
                keys.push(row[c].clone());
            } else {
                let values: Vec<f64> = tables
                    .iter()
                    .filter_map(|t| number(&t.rows[i][c]))
                    .collect();
                match spread(&values) {
                    Some(s) => cells.extend([s.mean, s.lo, s.hi].map(|v| v.to_string())),
                    None => cells.extend([String::new(), String::new(), String::new()]),
                }
                if SHOWN.contains(&name.as_str()) {
                    spreads.push((name.as_str(), spread(&values)));
                }
            }
        }
        rows.push(cells);
        shown.push((keys, spreads));
    }
    super::write_csv(&out.join("seeds.csv"), &header, &rows)?;
    let key_names: Vec<&str> = first
        .header
        .iter()
        .enumerate()
        .filter(|(c, _)| is_key(*c))
        .map(|(_, n)| n.as_str())
        .collect();
    let shown_names: Vec<&str> = SHOWN
        .iter()
        .copied()
        .filter(|n| first.header.iter().any(|h| h == n))
        .collect();
    let mut s = format!(
        "# {title}, over {} seeds\n\nThe study ran once per training seed ({}), each into `seed-S/` with its own `report.md` (and its comparison with the paper). Here each row's numbers are the mean over the seeds with the 95% interval of the mean (Student's t, n - 1 = {} degrees of freedom); a difference between two rows is inside the noise where their intervals overlap. Every number column of `results.csv` is in `seeds.csv` (`COLUMN`, `COLUMN_lo`, `COLUMN_hi`); `plots/` draws the study's charts with the intervals as error bars.\n\n",
        seeds.len(),
        seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        seeds.len() - 1
    );
    let label = |n: &str| match n {
        "accuracy" => "accuracy (95% interval)".to_string(),
        column::pe_utilization => "PE utilization".to_string(),
        n if n.ends_with("_pj") => format!("{} (nJ)", n.trim_end_matches("_pj").replace('_', " ")),
        n => n.replace('_', " "),
    };
    let _ = writeln!(
        s,
        "| {} | {} |",
        key_names.join(" | "),
        shown_names
            .iter()
            .map(|n| label(n))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        s,
        "|{}",
        " --- |".repeat(key_names.len() + shown_names.len())
    );
    for (keys, spreads) in &shown {
        // In `SHOWN` order, whatever the columns' order in the CSV.
        let cells: Vec<String> = shown_names
            .iter()
            .map(|name| {
                let sp = spreads
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, s)| *s);
                (name, sp)
            })
            .map(|(name, sp)| match sp {
                // Shown within 0-100% (the t-interval of a fraction can
                // pass them); seeds.csv keeps the interval as computed.
                Some(sp) if *name == "accuracy" || *name == column::pe_utilization => format!(
                    "{} ({} to {})",
                    pct(sp.mean),
                    pct(sp.lo.max(0.0)),
                    pct(sp.hi.min(1.0))
                ),
                Some(sp) if name.ends_with("_pj") => format!(
                    "{:.1} nJ ({:.1} to {:.1})",
                    sp.mean / 1e3,
                    sp.lo / 1e3,
                    sp.hi / 1e3
                ),
                Some(sp) => format!("{:.0} ({:.0} to {:.0})", sp.mean, sp.lo, sp.hi),
                None => "-".into(),
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", keys.join(" | "), cells.join(" | "));
    }
    paired_md(out, seeds, paired, &mut s)?;
    write_atomic(&out.join("report.md"), s.as_bytes())?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_students_t_over_the_seeds() {
        // Three seeds: mean 2, sd 1, half-width 4.303 / sqrt(3).
        let s = spread(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.mean, 2.0);
        let half = 4.303 / 3f64.sqrt();
        assert!((s.hi - s.mean - half).abs() < 1e-12);
        assert!((s.mean - s.lo - half).abs() < 1e-12);
        assert_eq!(spread(&[5.0]).unwrap().lo, 5.0);
        assert!(spread(&[]).is_none());
        assert_eq!(t975(1), 12.706);
        assert_eq!(t975(100), 1.96);
    }

    #[test]
    fn measured_text_may_differ_between_seeds_but_the_grid_may_not() {
        let dir = std::env::temp_dir().join(format!("nc-seeds-text-{}", std::process::id()));
        let write = |seed: u64, regime: &str, encodings: &str| {
            let d = seed_dir(&dir, seed);
            std::fs::create_dir_all(&d).unwrap();
            let csv = format!(
                "regime,bits,sparsity,accuracy,encodings\n{regime},4,0.5{seed},0.9{seed},{encodings}\n"
            );
            std::fs::write(d.join("results.csv"), csv).unwrap();
        };
        write(1, "prune", "csr:2");
        write(2, "prune", "bitmask:1 csr:1");
        let md = aggregate(&dir, &[1, 2], "t", &[vec![], vec![]]).unwrap();
        let csv = std::fs::read_to_string(dir.join("seeds.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",encodings"), "{csv}");
        assert!(lines[1].starts_with("prune,4,"), "{csv}");
        assert!(lines[1].ends_with(",csr:2 / bitmask:1 csr:1"), "{csv}");
        // The row is named by its grid, not by what was measured.
        assert!(md.contains("| prune | 4 |"), "{md}");
        // Text before the first measured number names the row: a seed
        // that ran another regime is refused.
        write(2, "quant", "csr:2");
        let e = aggregate(&dir, &[1, 2], "t", &[vec![], vec![]]).unwrap_err();
        assert!(
            e.to_string().contains("every seed runs the same grid"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paired_figures_are_matched_by_name_and_spread_per_seed() {
        let dir = std::env::temp_dir().join(format!("nc-paired-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Two means whose intervals overlap, but whose per-seed
        // difference is always +1 point: beyond the noise when paired.
        let seed = |a: f64, extra: bool| {
            let mut v = vec![
                Paired::points("b against a", a, a + 0.01),
                Paired::ratio("b against a", "latency ratio", 2.0, 1.0),
            ];
            if extra {
                v.push(Paired::points("only once", 0.5, 0.6));
            }
            v
        };
        let paired = vec![seed(0.5, false), seed(0.7, true), seed(0.9, false)];
        let mut s = String::new();
        paired_md(&dir, &[1, 2, 3], &paired, &mut s).unwrap();
        let csv = std::fs::read_to_string(dir.join("paired.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(lines[1].starts_with("b against a,accuracy change (points),"));
        assert!(lines[1].ends_with(",0,true"), "{}", lines[1]);
        // A ratio of exactly 2 in every seed: no spread, beyond 1.
        assert!(lines[2].contains(",2,2,2,1,true"), "{}", lines[2]);
        // Present in one seed only: its value, never called beyond the noise.
        assert!(lines[3].starts_with("only once,accuracy change (points),,"));
        assert!(lines[3].ends_with(",0,false"), "{}", lines[3]);
        assert!(s.contains("| b against a | accuracy change (points) | +1.00, +1.00, +1.00 |"));
        assert!(s.contains("one seed"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
