//! Reports of `neurocycle noc`: one run (JSON and a table) and a latency
//! curve (CSV and JSON). Fields are documented in `docs/noc.md`.

use super::SCHEMA_VERSION;
use crate::config::HwConfig;
use crate::engine::noc::MeshParams;
use crate::traffic::search::Saturation;
use crate::traffic::{Pattern, TrafficResult, TrafficSpec};
use serde::Serialize;
use std::fmt::Write as _;

/// Where a run came from.
pub struct NocSource<'a> {
    pub hw_file: &'a str,
    pub overrides: &'a [String],
    pub flit_bits: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocReport {
    pub schema_version: u32,
    pub tool: String,
    pub kind: &'static str,
    pub run: NocRun,
    pub latency: NocLatency,
    pub throughput: NocThroughput,
    pub saturation: NocSaturation,
    pub links: NocLinks,
    pub energy: NocEnergy,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocRun {
    pub hw: String,
    pub hw_file: String,
    pub overrides: Vec<String>,
    pub mesh: (u32, u32),
    pub nodes: u32,
    pub pattern: String,
    pub hotspot_node: Option<u32>,
    pub hotspot_fraction: Option<f64>,
    pub rate: f64,
    pub warmup_cycles: u64,
    pub measure_cycles: u64,
    pub max_drain_cycles: u64,
    pub cycles_simulated: u64,
    pub seed: u64,
    pub flit_bits: u32,
    pub flit_cycles: u32,
    pub buffer_depth: u32,
    pub router_latency_cycles: u32,
    pub link_latency_cycles: u32,
    /// The input-queued router's parameters (absent: the pipelined router).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_queued: Option<crate::config::InputQueued>,
    /// Flits per packet (absent: 1).
    #[serde(skip_serializing_if = "is_one")]
    pub packet_flits: u32,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Clone, Debug, Serialize)]
pub struct NocLatency {
    /// Null when no measured packet was delivered.
    pub packet_mean: Option<f64>,
    pub packet_p50: Option<u64>,
    pub packet_p99: Option<u64>,
    pub packet_max: Option<u64>,
    pub network_mean: Option<f64>,
    pub network_max: Option<u64>,
    pub hops_mean: Option<f64>,
    /// The zero-load latency at the mean hop count: `(h + 1) *
    /// router_latency + h * (link_latency + flit_cycles - 1)` for the
    /// pipelined router, `docs/noc.md` gives the input-queued one's.
    pub zero_load_at_mean_hops: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocThroughput {
    pub offered: f64,
    pub accepted: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocSaturation {
    pub saturated: bool,
    pub measured_packets: u64,
    pub delivered_packets: u64,
    pub backlog_start: u64,
    pub backlog_end: u64,
    /// The cycle the run stopped at because its source queues outgrew
    /// `MAX_QUEUED_PER_NODE` packets per node (null: it ran to the end).
    pub stopped_at_cycle: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkLoad {
    pub x: u32,
    pub y: u32,
    pub dir: &'static str,
    pub load: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocLinks {
    pub mean_load: f64,
    pub max_load: f64,
    /// Every inter-tile link, flits per cycle in the window.
    pub per_link: Vec<LinkLoad>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NocEnergy {
    pub dynamic_pj: f64,
    pub pj_per_delivered_flit: Option<f64>,
    pub dynamic_mw: f64,
    pub static_mw: f64,
    pub table_source: String,
    /// The router and link entries of the energy table over the window.
    pub table: Vec<crate::energy::Charge>,
}

const DIRS: [&str; 4] = ["N", "E", "S", "W"];

/// A rate in flits per node per cycle with at least 4 significant digits
/// (hotspot rates on large meshes are below 0.001).
pub fn rate_text(r: f64) -> String {
    let digits = if r > 0.0 {
        (3 - r.log10().floor() as i32).clamp(4, 12) as usize
    } else {
        4
    };
    format!("{r:.digits$}")
}

/// A CSV cell: the value with `digits` decimals, or empty.
fn cell<T: std::fmt::Display>(v: Option<T>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// A value with `digits` decimals, or `n/a` when there is none.
fn or_na<T: std::fmt::Display>(v: Option<T>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// Whether link `dir` of the router at (x, y) leads to another router.
pub fn link_exists(x: u32, y: u32, dir: usize, mx: u32, my: u32) -> bool {
    match dir {
        0 => y > 0,
        1 => x + 1 < mx,
        2 => y + 1 < my,
        _ => x > 0,
    }
}

/// `MeshParams::zero_load_latency` at a fractional hop count (it is linear
/// in the hops).
pub fn zero_load_latency(p: &MeshParams, hops: f64) -> f64 {
    let at0 = p.zero_load_latency(0) as f64;
    at0 + hops * (p.zero_load_latency(1) - p.zero_load_latency(0)) as f64
}

pub fn build(
    hw: &HwConfig,
    p: &MeshParams,
    spec: &TrafficSpec,
    r: &TrafficResult,
    src: &NocSource,
) -> NocReport {
    let (hotspot_node, hotspot_fraction) = match spec.pattern {
        Pattern::Hotspot { node, fraction } => (Some(node), Some(fraction)),
        _ => (None, None),
    };
    let mut per_link = vec![];
    for (i, load) in r.link_load.iter().enumerate() {
        let (router, dir) = (i as u32 / 4, i % 4);
        let (x, y) = (router % p.x, router / p.x);
        if link_exists(x, y, dir, p.x, p.y) {
            per_link.push(LinkLoad {
                x,
                y,
                dir: DIRS[dir],
                load: *load,
            });
        }
    }
    let mean_load = if per_link.is_empty() {
        0.0
    } else {
        per_link.iter().map(|l| l.load).sum::<f64>() / per_link.len() as f64
    };
    let max_load = per_link.iter().map(|l| l.load).fold(0.0, f64::max);
    let e = &hw.energy;
    let table =
        crate::energy::noc_charges(hw, r.window_router_traversals, r.window_hops, src.flit_bits);
    let dynamic_pj = table[0].pj + table[1].pj;
    let window_s = spec.measure_cycles as f64 / (hw.clock_mhz * 1e6);
    let ejected = r.accepted * (r.nodes as u64 * spec.measure_cycles) as f64;
    NocReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("neurocycle {}", env!("CARGO_PKG_VERSION")),
        kind: "noc",
        run: NocRun {
            hw: hw.name.clone(),
            hw_file: src.hw_file.to_string(),
            overrides: src.overrides.to_vec(),
            mesh: (p.x, p.y),
            nodes: r.nodes,
            pattern: spec.pattern.name().to_string(),
            hotspot_node,
            hotspot_fraction,
            rate: spec.rate,
            warmup_cycles: spec.warmup_cycles,
            measure_cycles: spec.measure_cycles,
            max_drain_cycles: spec.max_drain_cycles,
            cycles_simulated: r.cycles,
            seed: spec.seed,
            flit_bits: src.flit_bits,
            flit_cycles: p.flit_cycles,
            buffer_depth: p.buffer_depth,
            router_latency_cycles: p.router_latency,
            link_latency_cycles: p.link_latency,
            input_queued: p.iq,
            packet_flits: spec.packet_flits,
        },
        latency: NocLatency {
            packet_mean: r.packet_latency_mean,
            packet_p50: r.packet_latency_p50,
            packet_p99: r.packet_latency_p99,
            packet_max: r.packet_latency_max,
            network_mean: r.network_latency_mean,
            network_max: r.network_latency_max,
            hops_mean: r.hops_mean,
            zero_load_at_mean_hops: r.hops_mean.map(|h| zero_load_latency(p, h)),
        },
        throughput: NocThroughput {
            offered: r.offered,
            accepted: r.accepted,
        },
        saturation: NocSaturation {
            saturated: r.saturated,
            measured_packets: r.measured,
            delivered_packets: r.delivered,
            backlog_start: r.backlog_start,
            backlog_end: r.backlog_end,
            stopped_at_cycle: r.stopped_at,
        },
        links: NocLinks {
            mean_load,
            max_load,
            per_link,
        },
        energy: NocEnergy {
            dynamic_pj,
            pj_per_delivered_flit: (ejected > 0.0).then(|| dynamic_pj / ejected),
            dynamic_mw: dynamic_pj * 1e-12 / window_s * 1e3,
            static_mw: e.static_power.mw_per_router * r.nodes as f64,
            table_source: e.source.clone(),
            table: table.to_vec(),
        },
    }
}

impl NocReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes") + "\n"
    }

    pub fn table(&self) -> String {
        let (r, l, t, s) = (&self.run, &self.latency, &self.throughput, &self.saturation);
        let mut o = String::new();
        let _ = writeln!(o, "neurocycle noc report (schema {})", self.schema_version);
        let _ = writeln!(
            o,
            "  mesh {}x{} ({}), {} traffic at {} flits/node/cycle, seed {}",
            r.mesh.0, r.mesh.1, r.hw, r.pattern, r.rate, r.seed
        );
        let _ = writeln!(
            o,
            "  window {} cycles after {} warm-up; {} cycles simulated",
            r.measure_cycles, r.warmup_cycles, r.cycles_simulated
        );
        let _ = writeln!(
            o,
            "  flit {} bits = {} link cycles; buffers {} flits; router {} + link {} cycles",
            r.flit_bits,
            r.flit_cycles,
            r.buffer_depth,
            r.router_latency_cycles,
            r.link_latency_cycles
        );
        if let Some(q) = &r.input_queued {
            let _ = writeln!(
                o,
                "  input-queued router: {} VCs of {} flits; stages routing {} + VC alloc {} + switch alloc {} + crossbar {}{}; {:?} allocator; credit delay {}; speedup in {} out {}; NI {} + injection {} / ejection {} cycles, ejection buffer {} flits per VC; {} flits per packet",
                q.vcs,
                r.buffer_depth,
                q.routing_cycles,
                q.vc_alloc_cycles,
                q.switch_alloc_cycles,
                q.crossbar_cycles,
                if q.speculative { " (speculative)" } else { "" },
                q.allocator,
                q.credit_delay_cycles,
                q.input_speedup,
                q.output_speedup,
                q.ni_latency_cycles,
                q.injection_latency_cycles,
                q.ejection_latency_cycles,
                q.ejection_buffer_flits,
                r.packet_flits
            );
        }
        let _ = writeln!(o, "latency (cycles)");
        let _ = writeln!(
            o,
            "  packet   mean {}  p50 {}  p99 {}  max {}",
            or_na(l.packet_mean, 2),
            or_na(l.packet_p50, 0),
            or_na(l.packet_p99, 0),
            or_na(l.packet_max, 0)
        );
        let _ = writeln!(
            o,
            "  network  mean {}  max {}",
            or_na(l.network_mean, 2),
            or_na(l.network_max, 0)
        );
        let _ = writeln!(
            o,
            "  hops     mean {}  (zero-load latency there {})",
            or_na(l.hops_mean, 3),
            or_na(l.zero_load_at_mean_hops, 2)
        );
        let _ = writeln!(o, "throughput (flits/node/cycle)");
        let _ = writeln!(o, "  offered {:.4}  accepted {:.4}", t.offered, t.accepted);
        let _ = writeln!(
            o,
            "  links: mean load {:.4}, max {:.4} flits/cycle",
            self.links.mean_load, self.links.max_load
        );
        let _ = writeln!(
            o,
            "saturation: {}  ({} of {} measured packets delivered; backlog {} -> {})",
            if s.saturated { "SATURATED" } else { "no" },
            s.delivered_packets,
            s.measured_packets,
            s.backlog_start,
            s.backlog_end
        );
        if let Some(c) = s.stopped_at_cycle {
            let _ = writeln!(
                o,
                "  stopped at cycle {c}: source queues held over {} packets per node",
                crate::traffic::MAX_QUEUED_PER_NODE
            );
        }
        let _ = writeln!(
            o,
            "energy: {} pJ per delivered flit, {:.4} mW dynamic, {:.4} mW static (routers)",
            or_na(self.energy.pj_per_delivered_flit, 3),
            self.energy.dynamic_mw,
            self.energy.static_mw
        );
        o
    }
}

/// A latency curve: the saturation search and one report per rate.
#[derive(Clone, Debug, Serialize)]
pub struct NocCurve {
    pub schema_version: u32,
    pub kind: &'static str,
    pub saturation: Option<CurveSaturation>,
    pub points: Vec<NocReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CurveSaturation {
    /// Highest rate found not to saturate, and lowest found to (null if
    /// even 1 flit per node per cycle does not).
    pub below: f64,
    pub above: Option<f64>,
    pub estimate: f64,
    pub precision: f64,
    pub probes: Vec<(f64, bool)>,
    /// The channel-load bound under XY routing: no rate above it is
    /// sustainable, and the search starts there.
    pub capacity_bound: f64,
}

impl CurveSaturation {
    pub fn of(s: &Saturation) -> CurveSaturation {
        CurveSaturation {
            below: s.below,
            above: s.above,
            estimate: s.estimate(),
            precision: s.precision,
            probes: s.probes.clone(),
            capacity_bound: s.bound,
        }
    }
}

pub const CSV_HEADER: &str = "rate,offered,accepted,packet_latency_mean,packet_latency_p50,packet_latency_p99,packet_latency_max,network_latency_mean,network_latency_max,hops_mean,max_link_load,saturated,measured_packets,delivered_packets,pj_per_flit";

impl NocCurve {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes") + "\n"
    }

    pub fn to_csv(&self) -> String {
        let mut o = String::from(CSV_HEADER);
        o.push('\n');
        for p in &self.points {
            let _ = writeln!(
                o,
                "{},{:.6},{:.6},{},{},{},{},{},{},{},{:.6},{},{},{},{}",
                p.run.rate,
                p.throughput.offered,
                p.throughput.accepted,
                cell(p.latency.packet_mean, 4),
                cell(p.latency.packet_p50, 0),
                cell(p.latency.packet_p99, 0),
                cell(p.latency.packet_max, 0),
                cell(p.latency.network_mean, 4),
                cell(p.latency.network_max, 0),
                cell(p.latency.hops_mean, 4),
                p.links.max_load,
                p.saturation.saturated,
                p.saturation.measured_packets,
                p.saturation.delivered_packets,
                p.energy
                    .pj_per_delivered_flit
                    .map(|e| format!("{e:.4}"))
                    .unwrap_or_default(),
            );
        }
        o
    }

    pub fn table(&self) -> String {
        let mut o = String::new();
        if let Some(s) = &self.saturation {
            match s.above {
                Some(a) => {
                    let _ = writeln!(
                        o,
                        "saturation rate: {} flits/node/cycle (between {} and {}; {} probes; channel-load bound {})",
                        rate_text(s.estimate),
                        rate_text(s.below),
                        rate_text(a),
                        s.probes.len(),
                        rate_text(s.capacity_bound)
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "no saturation up to 1 flit/node/cycle (the most a node can offer)"
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "{:>8} {:>9} {:>9} {:>10} {:>8} {:>10} {:>6} saturated",
            "rate", "offered", "accepted", "pkt lat", "p99", "net lat", "hops"
        );
        for p in &self.points {
            let _ = writeln!(
                o,
                "{:>8} {:>9.4} {:>9.4} {:>10} {:>8} {:>10} {:>6} {}",
                rate_text(p.run.rate),
                p.throughput.offered,
                p.throughput.accepted,
                or_na(p.latency.packet_mean, 2),
                or_na(p.latency.packet_p99, 0),
                or_na(p.latency.network_mean, 2),
                or_na(p.latency.hops_mean, 2),
                if p.saturation.saturated { "yes" } else { "no" }
            );
        }
        o
    }
}
