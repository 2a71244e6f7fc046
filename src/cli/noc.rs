//! `neurocycle noc`: synthetic traffic on a config's mesh.

use clap::{Args, ValueEnum};
use neurocycle::config::HwConfig;
use neurocycle::engine::chip::{mesh_params, unicast_flit_bits};
use neurocycle::error::{check_range, write_atomic, Error, Result};
use neurocycle::plot::{line_chart_svg, LineChart, Series};
use neurocycle::report::noc::{build, CurveSaturation, NocCurve, NocSource};
use neurocycle::traffic::search::{default_rates, find_saturation, run_rates};
use neurocycle::traffic::{simulate, Pattern, TrafficSpec};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum PatternArg {
    Uniform,
    Transpose,
    BitComplement,
    Neighbor,
    Hotspot,
}

#[derive(Args)]
pub struct NocArgs {
    /// Hardware config (RON); only its mesh, router, clock and energy matter.
    #[arg(long)]
    pub hw: PathBuf,
    /// Override a config parameter, e.g. --set mesh=8x8 --set router.buffer_depth=8.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    #[arg(long, value_enum, default_value = "uniform")]
    pub traffic: PatternArg,
    /// Offered load, flits per node per cycle (0..1): one run.
    #[arg(long, conflicts_with_all = ["rates", "sweep_rates", "out", "jobs"])]
    pub rate: Option<f64>,
    /// A latency curve at these rates, e.g. 0.05,0.1,0.2 (needs --out).
    #[arg(long, value_delimiter = ',')]
    pub rates: Option<Vec<f64>>,
    /// Find the saturation rate by bisection, then run a latency curve up to
    /// and past it (needs --out).
    #[arg(long)]
    pub sweep_rates: bool,
    /// Width of the final saturation bracket, flits per node per cycle
    /// (default: 0.002, or 2% of the channel-load bound if that is smaller).
    #[arg(long)]
    pub precision: Option<f64>,
    #[arg(long, default_value_t = 2_000)]
    pub warmup_cycles: u64,
    #[arg(long, default_value_t = 10_000)]
    pub measure_cycles: u64,
    /// Most cycles spent after the window delivering measured packets.
    #[arg(long, default_value_t = 100_000)]
    pub max_drain_cycles: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hotspot node as X,Y (default: the mesh centre).
    #[arg(long)]
    pub hotspot: Option<String>,
    /// Fraction of packets sent to the hotspot; the rest go uniformly.
    #[arg(long, default_value_t = 1.0)]
    pub hotspot_fraction: f64,
    /// Bits per flit (default: a unicast spike flit of the config, with an
    /// axon field for `core.neurons` axons).
    #[arg(long)]
    pub flit_bits: Option<u32>,
    /// Flits per packet (wormhole; more than 1 needs the input-queued
    /// router, `--set router.input_queued.vcs=N`). `--rate` stays in flits.
    #[arg(long, default_value_t = 1)]
    pub packet_flits: u32,
    /// Write the JSON report of the run (or of the curve) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Directory for a curve's CSV, JSON and latency-versus-load plot.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads for the curve's runs (default: all cores); results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
}

const CMD: &str = "command line";

fn pattern(a: &NocArgs, hw: &HwConfig) -> Result<Pattern> {
    let hotspot_flags = a.hotspot.is_some() || a.hotspot_fraction != 1.0;
    if hotspot_flags && !matches!(a.traffic, PatternArg::Hotspot) {
        return Err(Error::Usage(
            "--hotspot and --hotspot-fraction need --traffic hotspot".into(),
        ));
    }
    Ok(match a.traffic {
        PatternArg::Uniform => Pattern::Uniform,
        PatternArg::Transpose => Pattern::Transpose,
        PatternArg::BitComplement => Pattern::BitComplement,
        PatternArg::Neighbor => Pattern::Neighbor,
        PatternArg::Hotspot => {
            let (mx, my) = hw.mesh;
            let (x, y) = match &a.hotspot {
                None => (mx / 2, my / 2),
                Some(s) => {
                    let bad = || {
                        Error::invalid(CMD, "--hotspot", s, format!("X,Y with X < {mx}, Y < {my}"))
                    };
                    let (x, y) = s.split_once(',').ok_or_else(bad)?;
                    let x: u32 = x.trim().parse().map_err(|_| bad())?;
                    let y: u32 = y.trim().parse().map_err(|_| bad())?;
                    if x >= mx || y >= my {
                        return Err(bad());
                    }
                    (x, y)
                }
            };
            Pattern::Hotspot {
                node: y * mx + x,
                fraction: a.hotspot_fraction,
            }
        }
    })
}

pub fn main(a: &NocArgs) -> Result<i32> {
    let hw_file = a.hw.display().to_string();
    let hw = HwConfig::load(&a.hw)?.with_overrides(&hw_file, &a.sets)?;
    let flit_bits = match a.flit_bits {
        Some(b) => {
            check_range(CMD, "--flit-bits", b, 1, 65_536)?;
            b
        }
        None => unicast_flit_bits(&hw, hw.core.neurons),
    };
    let p = mesh_params(&hw, flit_bits);
    let mut spec = TrafficSpec {
        pattern: pattern(a, &hw)?,
        rate: a.rate.unwrap_or(0.0),
        warmup_cycles: a.warmup_cycles,
        measure_cycles: a.measure_cycles,
        max_drain_cycles: a.max_drain_cycles,
        drain: true,
        seed: a.seed,
        packet_flits: a.packet_flits,
    };
    spec.validate(&p, CMD)?;
    // A window shorter than a packet's trip measures almost nothing.
    let far = neurocycle::report::noc::zero_load_latency(&p, (p.x - 1 + p.y - 1) as f64);
    if (a.measure_cycles as f64) < far {
        tracing::warn!(
            "--measure-cycles {} is shorter than the zero-load latency across the mesh ({far:.0} cycles): few packets are measured",
            a.measure_cycles
        );
    }
    let src = NocSource {
        hw_file: &hw_file,
        overrides: &a.sets,
        flit_bits,
    };
    if let Some(rate) = a.rate {
        spec.rate = rate;
        let r = simulate(p, &spec);
        let rep = build(&hw, &p, &spec, &r, &src);
        print!("{}", rep.table());
        if let Some(path) = &a.report {
            write_atomic(path, rep.to_json().as_bytes())?;
            eprintln!("report written to {}", path.display());
        }
        return Ok(0);
    }
    if a.rates.is_none() && !a.sweep_rates {
        return Err(Error::Usage(
            "give --rate R for one run, or --sweep-rates / --rates LIST with --out DIR for a curve"
                .into(),
        ));
    }
    let out = a.out.as_ref().ok_or_else(|| {
        Error::Usage("a latency curve (--sweep-rates or --rates) needs --out DIR".into())
    })?;
    let precision = match a.precision {
        Some(p) if !(1e-6..=0.5).contains(&p) => {
            return Err(Error::invalid(
                CMD,
                "--precision",
                p,
                "1e-6 ..= 0.5 flits/node/cycle",
            ))
        }
        Some(p) => p,
        None => (0.02 * neurocycle::traffic::capacity_bound(spec.pattern, &p)).clamp(1e-6, 0.002),
    };
    if let Some(rates) = &a.rates {
        for r in rates {
            spec.rate = *r;
            spec.validate(&p, CMD)?;
        }
    }
    let jobs = super::workers("--jobs", a.jobs)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let saturation = a.sweep_rates.then(|| {
        bar.set_message("bisecting for the saturation rate");
        find_saturation(p, &spec, precision)
    });
    let rates = match (&a.rates, &saturation) {
        (Some(r), _) => r.clone(),
        (None, Some(s)) => default_rates(s),
        (None, None) => unreachable!("checked above"),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rates  {elapsed}  eta {eta}")
            .expect("valid template"),
    );
    bar.set_length(rates.len() as u64);
    bar.set_position(0);
    let results = run_rates(p, &spec, &rates, jobs, &|| bar.inc(1));
    bar.finish_and_clear();
    let curve = NocCurve {
        schema_version: neurocycle::report::SCHEMA_VERSION,
        kind: "noc_curve",
        saturation: saturation.as_ref().map(CurveSaturation::of),
        points: results
            .iter()
            .zip(&rates)
            .map(|(r, rate)| {
                let s = TrafficSpec {
                    rate: *rate,
                    ..spec.clone()
                };
                build(&hw, &p, &s, r, &src)
            })
            .collect(),
    };
    print!("{}", curve.table());
    let pts = |f: &dyn Fn(&neurocycle::report::noc::NocReport) -> Option<f64>| {
        curve
            .points
            .iter()
            .filter_map(|r| Some((r.throughput.offered, f(r)?)))
            .collect::<Vec<_>>()
    };
    let chart = LineChart {
        title: format!(
            "{} traffic, {}x{} mesh ({})",
            spec.pattern.name(),
            p.x,
            p.y,
            hw.name
        ),
        x_label: "offered load (flits/node/cycle)".into(),
        y_label: "latency (cycles, log scale)".into(),
        series: vec![
            Series {
                name: "packet latency, mean".into(),
                points: pts(&|r| r.latency.packet_mean),
                ..Series::default()
            },
            Series {
                name: "packet latency, p99".into(),
                points: pts(&|r| r.latency.packet_p99.map(|v| v as f64)),
                ..Series::default()
            },
            Series {
                name: "network latency, mean".into(),
                points: pts(&|r| r.latency.network_mean),
                ..Series::default()
            },
        ],
        log_y: true,
        markers: saturation
            .iter()
            .filter(|s| s.above.is_some())
            .map(|s| (s.estimate(), format!("saturation {:.3}", s.estimate())))
            .collect(),
        fit_y: false,
    };
    let files = [
        ("noc_curve.csv", curve.to_csv()),
        ("noc_curve.json", curve.to_json()),
        ("latency_vs_load.svg", line_chart_svg(&chart)?),
    ];
    for (name, text) in &files {
        write_atomic(&out.join(name), text.as_bytes())?;
    }
    if let Some(path) = &a.report {
        write_atomic(path, curve.to_json().as_bytes())?;
    }
    eprintln!(
        "wrote {} in {}",
        files.map(|f| f.0).join(", "),
        out.display()
    );
    Ok(0)
}
