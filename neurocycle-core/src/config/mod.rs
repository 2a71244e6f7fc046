//! Hardware configuration: load a RON chip description, apply `--set`
//! overrides by parameter path, validate once into a `Checked<HwConfig>`,
//! the only form the mapper and the engine accept. Each parameter's path,
//! unit, range and doc line are declared once in `params.rs` (which also
//! writes the table of `docs/hw-config.md`); the structs here give the
//! types.

pub mod params;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One chip: mesh, cores, memories, routers, energy table. Loaded from RON
/// and validated into a [`Checked`] before anything runs on it; every field
/// is listed with unit and range in `docs/hw-config.md`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HwConfig {
    pub name: String,
    /// Tiles in x and y.
    pub mesh: (u32, u32),
    /// Neurocores per router (concentration).
    pub cores_per_router: u32,
    pub clock_mhz: f64,
    pub core: Core,
    pub synapse_memory: SynapseMemory,
    pub membrane_sram: MembraneSram,
    pub routing_table: RoutingTable,
    pub router: Router,
    /// Cost of the global barrier that ends a phase.
    pub barrier_cycles: u32,
    pub mapping: MappingPolicy,
    pub energy: EnergyTable,
}

/// How the mapper places populations on cores.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MappingPolicy {
    pub policy: Placement,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Populations in order from core 0, each on consecutive cores.
    Contiguous,
    /// Greedy: each core's neurons go to the free core that shortens the
    /// hop-weighted traffic (routing entries x hops) to the cores placed
    /// before it.
    Locality,
}

/// A neurocore: neurons, PEs, work queue, axons, accumulator banks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Core {
    /// Neuron capacity of one core.
    pub neurons: u32,
    /// Processing elements (synapse lanes).
    pub pes: u32,
    pub pe_assignment: PeAssignment,
    /// Work-queue capacity in spike events.
    pub queue_depth: u32,
    /// Input axons (synapse rows) a core can hold.
    pub axons: u32,
    /// Accumulator banks per neuron: a spike may land up to
    /// `accumulator_banks - 1` timesteps ahead (delays, recurrence).
    pub accumulator_banks: u32,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeAssignment {
    /// Neuron n belongs to PE n mod P.
    Interleaved,
    /// PE p owns the p-th contiguous block of ceil(n / P) neurons.
    Blocked,
}

/// A core's synapse memory: size, word width, read latency, row encoding.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SynapseMemory {
    /// Capacity per core.
    pub bytes: u64,
    pub word_bits: u32,
    /// Cycles from an event's start to its first word.
    pub read_latency_cycles: u32,
    pub encoding: Encoding,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Dense,
    Bitmask,
    Csr,
    /// The smallest of the three, chosen per core.
    Auto,
}

/// A core's membrane-state SRAM.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MembraneSram {
    pub word_bits: u32,
    /// Bits of state stored per neuron (u and v; v only for plain LIF).
    pub state_bits: u32,
}

/// A core's routing table: one entry per (projection, destination core).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// Destination entries (destination core, axon) per core.
    pub entries: u32,
    pub entry_bits: u32,
}

/// A mesh router and its links.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// Flits per input port.
    pub buffer_depth: u32,
    /// Pipeline cycles through one router.
    pub latency_cycles: u32,
    pub link_latency_cycles: u32,
    /// A flit wider than the link is serialized over several cycles.
    pub link_width_bits: u32,
    pub multicast: Multicast,
    /// Present: the input-queued router with virtual channels (after
    /// BookSim2's `iq_router`); absent: the pipelined router above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_queued: Option<InputQueued>,
}

/// The input-queued router: per-VC input buffers of `Router::buffer_depth`
/// flits, routing, VC allocation (per packet) and switch allocation (per
/// flit) as separate stages, a crossbar stage, credit flow control per VC
/// and a network interface per core. `docs/noc.md` maps every field to
/// BookSim2's option of the same meaning.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct InputQueued {
    /// Virtual channels per input port.
    pub vcs: u32,
    /// Route computation; 0 is lookahead routing.
    pub routing_cycles: u32,
    pub vc_alloc_cycles: u32,
    pub switch_alloc_cycles: u32,
    /// Switch traversal, up to the output port.
    pub crossbar_cycles: u32,
    /// Switch allocation in the same cycles as VC allocation, for heads
    /// that have no output VC yet; non-speculative requests win.
    pub speculative: bool,
    pub allocator: Allocator,
    /// From a credit's arrival to its use, on top of the link latency.
    pub credit_delay_cycles: u32,
    /// Crossbar inputs per input port (VC v uses input `v mod speedup`).
    pub input_speedup: u32,
    /// Crossbar outputs per output port (input port p uses `p mod speedup`).
    pub output_speedup: u32,
    /// From a core handing a flit to its network interface to the
    /// interface sending it.
    pub ni_latency_cycles: u32,
    /// The channel from the network interface to the router.
    pub injection_latency_cycles: u32,
    /// The channel from the router to the network interface.
    pub ejection_latency_cycles: u32,
    /// The interface's ejection buffer per VC (the router's credits for it).
    pub ejection_buffer_flits: u32,
}

impl Default for InputQueued {
    /// BookSim2's defaults, except 2 VCs (BookSim: 16); its 1-cycle
    /// injection and ejection channels take 2 cycles here, as BookSim2's
    /// channel of latency d delivers d + 1 cycles after the send
    /// (`docs/noc.md`).
    fn default() -> Self {
        InputQueued {
            vcs: 2,
            routing_cycles: 1,
            vc_alloc_cycles: 1,
            switch_alloc_cycles: 1,
            crossbar_cycles: 1,
            speculative: false,
            allocator: Allocator::Islip,
            credit_delay_cycles: 0,
            input_speedup: 1,
            output_speedup: 1,
            ni_latency_cycles: 0,
            injection_latency_cycles: 2,
            ejection_latency_cycles: 2,
            ejection_buffer_flits: 8,
        }
    }
}

impl InputQueued {
    /// Cycles from a head's arrival at a router to its leaving the
    /// crossbar, with no contention, plus one: what `router.latency_cycles`
    /// must say.
    pub fn pipeline_cycles(&self) -> u32 {
        let alloc = if self.speculative {
            self.vc_alloc_cycles.max(self.switch_alloc_cycles)
        } else {
            self.vc_alloc_cycles + self.switch_alloc_cycles
        };
        self.routing_cycles + alloc + self.crossbar_cycles
    }
}

/// A separable allocator with round-robin arbiters, used for VC and for
/// switch allocation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    /// Each input picks one of its requests, then each output one of the
    /// inputs that picked it.
    SeparableInputFirst,
    /// iSLIP, one iteration: each output grants one request, each input
    /// accepts one grant; pointers move only past accepted grants.
    Islip,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Multicast {
    /// One flit per destination core, replicated at the source core.
    SourceReplication,
    /// One flit per spike carrying its destination set, replicated in the
    /// routers where the XY paths to its destinations part.
    XyTree,
}

/// The energy table, after Accelergy: one entry per action of each part of
/// the chip, each with its value, its unit (in the field name) and its
/// source, all of which go into every report. `source` names the basis of
/// the table as a whole (process node, main references).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnergyTable {
    pub source: String,
    /// One PE accumulate (read-modify-write of a neuron's input current).
    pub synop: PerAction,
    /// One neuron's LIF update arithmetic (membrane access charged apart).
    pub neuron_update: PerAction,
    /// A neuron's spike leaving its core: packet formation and injection,
    /// once per spike (the routing-table reads and flits are charged apart).
    pub spike_out: PerAction,
    pub synapse_memory: SramEnergy,
    pub membrane_sram: SramEnergy,
    pub routing_table: SramReadEnergy,
    /// One flit through one router (buffer write, route, switch).
    pub router: PerAction,
    /// One flit over one inter-tile link: a fixed part and a part per bit
    /// of the flit.
    pub link: LinkEnergy,
    pub static_power: StaticPower,
}

/// The energy of one action, pJ.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PerAction {
    pub pj: f64,
    pub source: String,
}

/// An SRAM array: access energy per bit for an array of `ref_bytes`;
/// other sizes scale with sqrt(bytes / ref_bytes).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SramEnergy {
    pub read_pj_per_bit: f64,
    pub write_pj_per_bit: f64,
    pub ref_bytes: f64,
    pub source: String,
}

/// An SRAM array that a run only reads (the routing table is written at
/// load), so it has no write figure to ignore.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SramReadEnergy {
    pub read_pj_per_bit: f64,
    pub ref_bytes: f64,
    pub source: String,
}

/// Energy of a flit over a link: per flit plus per bit, with its source.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkEnergy {
    pub pj_per_flit: f64,
    pub pj_per_bit: f64,
    pub source: String,
}

/// Leakage, charged for every core and router of the chip for the whole run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticPower {
    pub mw_per_core: f64,
    pub mw_per_router: f64,
    pub source: String,
}

/// The presets shipped in `hw_configs/`, embedded so `demo` needs no files.
pub const PRESETS: &[(&str, &str)] = &[
    ("tiny", include_str!("../../../hw_configs/tiny.ron")),
    ("default", include_str!("../../../hw_configs/default.ron")),
    ("loihi", include_str!("../../../hw_configs/loihi.ron")),
];

/// A value that passed its checks. Only the checks make one, and it gives
/// read-only access, so nothing runs on a config changed after validation:
/// to change one, take it out (`into_inner`) and check it again.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Checked<T>(T);

impl<T> std::ops::Deref for Checked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Checked<T> {
    /// The checked value, no longer marked as checked.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl HwConfig {
    /// Validates; `file` names the source in errors.
    pub fn check(self, file: &str) -> Result<Checked<HwConfig>> {
        self.validate(file)?;
        Ok(Checked(self))
    }

    /// Reads and validates a RON config file.
    pub fn load(path: &std::path::Path) -> Result<Checked<HwConfig>> {
        let text = crate::error::read_file(path)?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and validates; `file` names the source in errors.
    pub fn parse(file: &str, text: &str) -> Result<Checked<HwConfig>> {
        let cfg: HwConfig = crate::error::parse_ron(file, text)?;
        cfg.check(file)
    }

    /// An embedded preset: `tiny`, `default` or `loihi` (`hw_configs/`).
    pub fn preset(name: &str) -> Result<Checked<HwConfig>> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            Error::Usage(format!(
                "unknown preset {name:?}; known: {}",
                PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
            ))
        })?;
        Self::parse(&format!("<preset {name}>"), text)
    }

    /// Routers (tiles) of the mesh.
    pub fn n_tiles(&self) -> u32 {
        self.mesh.0 * self.mesh.1
    }
    /// Cores of the chip: tiles x cores per router.
    pub fn n_cores(&self) -> u32 {
        self.n_tiles() * self.cores_per_router
    }
    /// (x, y) of the tile that holds `core` (row-major tiles, cores
    /// consecutive within a tile).
    pub fn tile_of(&self, core: u32) -> (u32, u32) {
        let tile = core / self.cores_per_router;
        (tile % self.mesh.0, tile / self.mesh.0)
    }
    pub fn neurons_per_membrane_word(&self) -> u32 {
        self.membrane_sram.word_bits / self.membrane_sram.state_bits
    }

    /// Applies `PATH=VALUE` overrides (the paths of `params::PARAMS`), then
    /// validates. `file` names the base config in errors.
    pub fn with_overrides(&self, file: &str, sets: &[String]) -> Result<Checked<HwConfig>> {
        let value = self.overridden_value(sets)?;
        let cfg: HwConfig =
            serde_json::from_value(value).map_err(|e| Error::Usage(format!("--set: {e}")))?;
        cfg.check(&format!("{file} (with --set)"))
    }

    /// The config as JSON with `PATH=VALUE` overrides applied, each value
    /// parsed by its kind but the whole not yet validated (sweep filters
    /// read it).
    pub fn overridden_value(&self, sets: &[String]) -> Result<serde_json::Value> {
        let mut value = serde_json::to_value(self).expect("config serializes");
        for set in sets {
            let (path, raw) = set.split_once('=').ok_or_else(|| {
                Error::Usage(format!(
                    "--set {set:?}: expected PATH=VALUE, e.g. core.pes=16"
                ))
            })?;
            let path = path.trim();
            let kind = params::find(path).map(|p| p.kind).ok_or_else(|| {
                Error::Usage(format!(
                    "--set {path}: unknown parameter; known: {}",
                    params::paths()
                ))
            })?;
            let new = parse_value(path, raw.trim(), kind)?;
            let mut slot = &mut value;
            for key in path.split('.') {
                // An optional section absent from the file starts empty:
                // its other fields take their defaults.
                slot = slot
                    .as_object_mut()
                    .expect("PARAMS paths run through sections")
                    .entry(key)
                    .or_insert_with(|| serde_json::json!({}));
            }
            *slot = new;
        }
        Ok(value)
    }

    /// Checks every parameter's range (`params::PARAMS`).
    fn validate(&self, file: &str) -> Result<()> {
        params::check_ranges(
            &serde_json::to_value(self).expect("config serializes"),
            file,
        )?;
        if let Some(iq) = &self.router.input_queued {
            if iq.speculative && iq.vc_alloc_cycles != iq.switch_alloc_cycles {
                return Err(Error::invalid(
                    file,
                    "router.input_queued.switch_alloc_cycles",
                    iq.switch_alloc_cycles,
                    format!(
                        "with speculative = true, the same as vc_alloc_cycles ({}): both allocations share one stage",
                        iq.vc_alloc_cycles
                    ),
                ));
            }
            if self.router.latency_cycles != iq.pipeline_cycles() {
                return Err(Error::invalid(
                    file,
                    "router.latency_cycles",
                    self.router.latency_cycles,
                    format!(
                        "{}: the stages of router.input_queued (routing {} + allocation {} + crossbar {}); set router.latency_cycles={} or change the stages",
                        iq.pipeline_cycles(),
                        iq.routing_cycles,
                        iq.pipeline_cycles() - iq.routing_cycles - iq.crossbar_cycles,
                        iq.crossbar_cycles,
                        iq.pipeline_cycles()
                    ),
                ));
            }
            if self.router.multicast == Multicast::XyTree {
                return Err(Error::invalid(
                    file,
                    "router.multicast",
                    "xy_tree",
                    "source_replication with router.input_queued (the input-queued router carries unicast packets only)",
                ));
            }
        }
        Ok(())
    }
}

fn parse_value(path: &str, raw: &str, kind: params::Kind) -> Result<serde_json::Value> {
    use params::Kind;
    let bad = || Error::Usage(format!("--set {path}={raw}: expected {}", kind.describe()));
    Ok(match kind {
        Kind::Mesh => {
            let (x, y) = raw.split_once(['x', 'X']).ok_or_else(bad)?;
            let x: u32 = x.trim().parse().map_err(|_| bad())?;
            let y: u32 = y.trim().parse().map_err(|_| bad())?;
            serde_json::json!([x, y])
        }
        Kind::Integer => serde_json::json!(raw.parse::<u64>().map_err(|_| bad())?),
        Kind::Number => {
            // JSON, the override's carrier, has no inf or NaN.
            let v = raw.parse::<f64>().ok().filter(|v| v.is_finite());
            serde_json::json!(v.ok_or_else(bad)?)
        }
        Kind::Text => serde_json::json!(raw),
        Kind::Flag => serde_json::json!(raw.parse::<bool>().map_err(|_| bad())?),
        Kind::Choice(options) => {
            if !options.contains(&raw) {
                return Err(bad());
            }
            serde_json::json!(raw)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_load_and_validate() {
        for (name, _) in PRESETS {
            let cfg = HwConfig::preset(name).unwrap();
            assert!(cfg.n_cores() >= 1, "{name}");
        }
        assert_eq!(HwConfig::preset("loihi").unwrap().n_cores(), 128);
        assert_eq!(HwConfig::preset("default").unwrap().mesh, (4, 4));
    }

    #[test]
    fn set_overrides_every_settable_path() {
        let base = HwConfig::preset("default").unwrap();
        let cfg = base
            .with_overrides(
                "d",
                &[
                    "mesh=2x3".into(),
                    "core.pes=16".into(),
                    "synapse_memory.word_bits=128".into(),
                    "core.pe_assignment=blocked".into(),
                    "clock_mhz=500".into(),
                ],
            )
            .unwrap();
        assert_eq!(cfg.mesh, (2, 3));
        assert_eq!(cfg.core.pes, 16);
        assert_eq!(cfg.synapse_memory.word_bits, 128);
        assert_eq!(cfg.core.pe_assignment, PeAssignment::Blocked);
        assert_eq!(cfg.clock_mhz, 500.0);
        // Every listed path resolves in the serialized config (an optional
        // one once its section is present).
        let v = serde_json::to_value(&base).unwrap();
        let mut full = base.clone().into_inner();
        full.router.input_queued = Some(InputQueued::default());
        let full = serde_json::to_value(&full).unwrap();
        for p in params::PARAMS {
            let (path, v) = (p.path, if p.optional { &full } else { &v });
            let mut slot = v;
            for key in path.split('.') {
                slot = slot.get(key).unwrap_or_else(|| panic!("{path}"));
            }
        }
    }

    /// Setting one field of the input-queued router creates its section
    /// with the defaults; the pipeline must add up to `router.latency_cycles`;
    /// speculation needs equal allocation stages; tree multicast is refused.
    #[test]
    fn input_queued_router_is_set_field_by_field_and_checked() {
        let base = HwConfig::preset("default").unwrap();
        let cfg = base
            .with_overrides(
                "d",
                &[
                    "router.input_queued.vcs=4".into(),
                    "router.input_queued.speculative=true".into(),
                    "router.input_queued.allocator=separable_input_first".into(),
                    "router.latency_cycles=3".into(),
                ],
            )
            .unwrap();
        let q = cfg.router.input_queued.unwrap();
        assert_eq!(
            q,
            InputQueued {
                vcs: 4,
                speculative: true,
                allocator: Allocator::SeparableInputFirst,
                ..InputQueued::default()
            }
        );
        assert_eq!(q.pipeline_cycles(), 3);
        let err = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            base.with_overrides("d.ron", &sets).unwrap_err().to_string()
        };
        let e = err(&["router.input_queued.vcs=2"]);
        assert!(
            e.contains("router.latency_cycles = 2") && e.contains("set router.latency_cycles=4"),
            "{e}"
        );
        let e = err(&["router.input_queued.vcs=17"]);
        assert!(
            e.contains("router.input_queued.vcs = 17") && e.contains("1 ..= 16"),
            "{e}"
        );
        let e = err(&[
            "router.input_queued.speculative=true",
            "router.input_queued.switch_alloc_cycles=2",
        ]);
        assert!(e.contains("router.input_queued.switch_alloc_cycles"), "{e}");
        let e = err(&["router.input_queued.speculative=yes"]);
        assert!(e.contains("true | false"), "{e}");
        let e = err(&[
            "router.input_queued.vcs=2",
            "router.latency_cycles=4",
            "router.multicast=xy_tree",
        ]);
        assert!(
            e.contains("router.multicast") && e.contains("source_replication"),
            "{e}"
        );
        // The same in a file.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../hw_configs/default.ron"
        ))
        .unwrap()
        .replace(
            "multicast: source_replication,",
            "multicast: source_replication, input_queued: Some((vcs: 0)),",
        );
        let e = HwConfig::parse("x.ron", &text).unwrap_err().to_string();
        assert!(
            e.contains("x.ron") && e.contains("router.input_queued.vcs = 0"),
            "{e}"
        );
    }

    #[test]
    fn out_of_range_set_names_field_and_range() {
        let base = HwConfig::preset("default").unwrap();
        let e = base
            .with_overrides("d.ron", &["core.pes=0".into()])
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("core.pes = 0") && msg.contains("1 ..= 1024"),
            "{msg}"
        );
        assert!(base.with_overrides("d", &["core.bogus=1".into()]).is_err());
        assert!(base.with_overrides("d", &["mesh=4".into()]).is_err());
        assert!(base.with_overrides("d", &["core.pes=abc".into()]).is_err());
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let text = include_str!("../../../hw_configs/tiny.ron").replacen(
            "barrier_cycles",
            "barrier_cycle",
            1,
        );
        let e = HwConfig::parse("tiny.ron", &text).unwrap_err().to_string();
        assert!(
            e.starts_with("tiny.ron:") && e.contains("barrier_cycle"),
            "{e}"
        );
    }
}
