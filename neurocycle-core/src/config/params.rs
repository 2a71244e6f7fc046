//! Every chip parameter declared once: its `--set` path, unit, kind, range
//! and doc line. `--set` parsing, sweeps' axis checks, range validation and
//! the table of `docs/hw-config.md` (checked by a test to be current) all
//! come from `PARAMS`; the config structs give only the types. A test
//! holds the two together: every field of the serialized config has one
//! entry and every entry one field.

use crate::error::{check_range, Error, Result};

/// What a value is and how `--set` reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Text,
    /// `XxY`.
    Mesh,
    Integer,
    Number,
    /// `true` or `false`.
    Flag,
    Choice(&'static [&'static str]),
}

impl Kind {
    /// What `--set` expects, for messages.
    pub fn describe(&self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Mesh => "XxY, e.g. 4x4".into(),
            Kind::Integer => "whole number".into(),
            Kind::Number => "finite number".into(),
            Kind::Flag => "true | false".into(),
            Kind::Choice(c) => c.join(" | "),
        }
    }
}

/// The values a parameter may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    Any,
    /// `lo ..= hi`.
    Whole(u64, u64),
    /// Both sides of a mesh, `lo ..= hi` each.
    EachSide(u64, u64),
    /// `2 ..= membrane_sram.word_bits`.
    UpToWordBits,
    /// `(0, hi]`.
    PositiveUpTo(f64),
    /// `>= 0`, finite.
    NonNegative,
    /// `> 0`, finite.
    Positive,
}

impl Range {
    /// The range as `docs/hw-config.md` writes it.
    pub fn text(&self) -> String {
        let n = |v: u64| {
            if v.is_power_of_two() && v >= 1 << 20 {
                format!("2^{}", v.trailing_zeros())
            } else {
                v.to_string()
            }
        };
        match *self {
            Range::Any => String::new(),
            Range::Whole(lo, hi) => format!("{} ..= {}", n(lo), n(hi)),
            Range::EachSide(lo, hi) => format!("{lo} ..= {hi} each; `--set mesh=8x4`"),
            Range::UpToWordBits => "2 ..= word_bits".into(),
            Range::PositiveUpTo(hi) => format!("(0, {hi}]"),
            Range::NonNegative => ">= 0".into(),
            Range::Positive => "> 0".into(),
        }
    }
}

/// One parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// The `--set` path, also the field's place in the file.
    pub path: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
    pub range: Range,
    pub doc: &'static str,
    /// In a section a config may leave out (`router.input_queued`): absent,
    /// it is not checked; `--set` creates the section with its defaults.
    pub optional: bool,
}

const fn p(
    path: &'static str,
    unit: &'static str,
    kind: Kind,
    range: Range,
    doc: &'static str,
) -> Param {
    Param {
        path,
        unit,
        kind,
        range,
        doc,
        optional: false,
    }
}

/// A parameter of the optional `router.input_queued` section.
const fn iq(
    path: &'static str,
    unit: &'static str,
    kind: Kind,
    range: Range,
    doc: &'static str,
) -> Param {
    Param {
        optional: true,
        ..p(path, unit, kind, range, doc)
    }
}

use Kind::{Choice, Flag, Integer, Mesh, Number, Text};
use Range::{Any, EachSide, NonNegative, Positive, PositiveUpTo, UpToWordBits};

/// Every parameter, in the order of the docs' table.
pub const PARAMS: &[Param] = &[
    p("name", "text", Text, Any, "shown in reports"),
    p("mesh", "tiles", Mesh, EachSide(1, 64), "(X, Y) tiles; tile (x, y) is router `y * X + x`"),
    p("cores_per_router", "cores", Integer, Range::Whole(1, 16), "concentration: cores per tile, each with its own router port; core id = `(y * X + x) * cores_per_router + c`"),
    p("clock_mhz", "MHz", Number, PositiveUpTo(100_000.0), "converts cycles to seconds (latency, static energy)"),
    p("core.neurons", "neurons", Integer, Range::Whole(1, 65_536), "neurons (state slots) per core"),
    p("core.pes", "PEs", Integer, Range::Whole(1, 1024), "synapse lanes per core: one accumulate per cycle each"),
    p("core.pe_assignment", "", Choice(&["interleaved", "blocked"]), Any, "neuron n on PE `n mod P`, or PE p owns the p-th block of `ceil(n / P)` neurons"),
    p("core.queue_depth", "events", Integer, Range::Whole(1, 1 << 20), "work-queue capacity; a full queue back-pressures the router's ejection port and the host"),
    p("core.axons", "rows", Integer, Range::Whole(1, 1 << 24), "input axons (synapse rows) a core holds: one per (projection, source neuron) with a synapse on the core, plus one per neuron of its population with lateral inhibition"),
    p("core.accumulator_banks", "banks", Integer, Range::Whole(1, crate::model::schedule::MAX_DELAY as u64 + 1), "accumulator banks per neuron: a spike may land up to `banks - 1` timesteps ahead, so the model's largest delay + 1 must fit (lateral inhibition has delay 1); fit-checked, not charged in energy"),
    p("synapse_memory.bytes", "bytes", Integer, Range::Whole(1, 1 << 32), "capacity per core; a population whose rows do not fit is spread over more cores"),
    p("synapse_memory.word_bits", "bits", Integer, Range::Whole(1, 8192), "one word read per cycle; a row of b bits costs `ceil(b / word_bits)` reads; narrower than a weight is refused"),
    p("synapse_memory.read_latency_cycles", "cycles", Integer, Range::Whole(0, 1024), "from an event's start to its first word"),
    p("synapse_memory.encoding", "", Choice(&["dense", "bitmask", "csr", "auto"]), Any, "row encoding; `auto` picks the smallest per core"),
    p("membrane_sram.word_bits", "bits", Integer, Range::Whole(1, 8192), "width of a word; every timestep, a core reads and writes back each word that holds its neurons' state"),
    p("membrane_sram.state_bits", "bits", Integer, UpToWordBits, "a state slot per neuron; `word_bits / state_bits` slots per word. A neuron needing more (its `state_bits` for v, again for u when `du < 4096` and for theta with adaptation) takes several slots, so fewer fit a core's `core.neurons` slots"),
    p("routing_table.entries", "entries", Integer, Range::Whole(1, 1 << 26), "(destination core, axon) entries per core for the fan-out of its neurons; a population whose neurons need more is spread over more cores"),
    p("routing_table.entry_bits", "bits", Integer, Range::Whole(1, 1024), "width of an entry (energy of a read)"),
    p("router.buffer_depth", "flits", Integer, Range::Whole(1, 256), "input buffer per port, with credit flow control (per VC with `router.input_queued`)"),
    p("router.latency_cycles", "cycles", Integer, Range::Whole(1, 1024), "pipeline depth of a router; with `router.input_queued`, the sum of its stages (routing + allocation + crossbar)"),
    p("router.link_latency_cycles", "cycles", Integer, Range::Whole(1, 1024), "per link; credits return over the link with the same latency"),
    p("router.link_width_bits", "bits", Integer, Range::Whole(1, 4096), "a flit of `flit_bits` takes `ceil(flit_bits / link_width_bits)` cycles on a link"),
    p("router.multicast", "", Choice(&["source_replication", "xy_tree"]), Any, "one flit per destination core, replicated at the source core; or one flit per spike, carrying a destination-core bitmap and the source's key, replicated in the routers where the XY paths to its destinations part (each destination core maps the key to its axon)"),
    iq("router.input_queued.vcs", "VCs", Integer, Range::Whole(1, 16), "virtual channels per input port, each with its own buffer of `router.buffer_depth` flits and credits; setting any `router.input_queued` field selects the input-queued router (BookSim2's `iq_router`), whose other fields take the defaults shown"),
    iq("router.input_queued.routing_cycles", "cycles", Integer, Range::Whole(0, 64), "route computation of a head flit; 0 is lookahead routing"),
    iq("router.input_queued.vc_alloc_cycles", "cycles", Integer, Range::Whole(1, 64), "VC allocation, once per packet (its head)"),
    iq("router.input_queued.switch_alloc_cycles", "cycles", Integer, Range::Whole(1, 64), "switch allocation, once per flit"),
    iq("router.input_queued.crossbar_cycles", "cycles", Integer, Range::Whole(1, 64), "switch traversal to the output port; `router.latency_cycles` must equal routing + allocation + crossbar cycles"),
    iq("router.input_queued.speculative", "", Flag, Any, "a head bids for the switch in the same cycles as for its output VC (allocation then takes `vc_alloc_cycles`, which must equal `switch_alloc_cycles`); non-speculative requests win"),
    iq("router.input_queued.allocator", "", Choice(&["separable_input_first", "islip"]), Any, "VC and switch allocator, round-robin arbiters: each input picks one request then each output one input; or iSLIP with one iteration (BookSim2's default)"),
    iq("router.input_queued.credit_delay_cycles", "cycles", Integer, Range::Whole(0, 1024), "from a credit's arrival over the link to its use; the credit round trip is `2 x link_latency_cycles + credit_delay_cycles` plus the pipeline"),
    iq("router.input_queued.input_speedup", "", Integer, Range::Whole(1, 4), "crossbar inputs per input port; VC v uses input `v mod speedup`"),
    iq("router.input_queued.output_speedup", "", Integer, Range::Whole(1, 4), "crossbar outputs per output port; input port p uses output `p mod speedup`; the link still sends one flit per flit time"),
    iq("router.input_queued.ni_latency_cycles", "cycles", Integer, Range::Whole(0, 1024), "network interface: from a core handing it a flit to sending it"),
    iq("router.input_queued.injection_latency_cycles", "cycles", Integer, Range::Whole(0, 1024), "the channel from a network interface to its router's injection port (credits return over it)"),
    iq("router.input_queued.ejection_latency_cycles", "cycles", Integer, Range::Whole(0, 1024), "the channel from a router's ejection port to the network interface (credits return over it)"),
    iq("router.input_queued.ejection_buffer_flits", "flits", Integer, Range::Whole(1, 256), "the interface's ejection buffer per VC, the router's credits for its ejection port; the interface hands one flit per cycle to the core's work queue when it has room"),
    p("barrier_cycles", "cycles", Integer, Range::Whole(0, 1 << 24), "cost of the barrier that ends every phase"),
    p("mapping.policy", "", Choice(&["contiguous", "locality"]), Any, "placement of the mapper's cores on the chip: populations in order from core 0; or each core, in order, on the free core with the least hop-weighted traffic (routing entries x hops) to the cores placed before it"),
    p("energy.source", "text", Text, Any, "the basis of the table as a whole (process node, main references)"),
    p("energy.synop.pj", "pJ", Number, NonNegative, "one accumulate by a PE"),
    p("energy.synop.source", "text", Text, Any, "where `energy.synop.pj` comes from (every entry has one; all go into reports)"),
    p("energy.neuron_update.pj", "pJ", Number, NonNegative, "one neuron update (arithmetic; membrane access charged apart)"),
    p("energy.neuron_update.source", "text", Text, Any, "its source"),
    p("energy.spike_out.pj", "pJ", Number, NonNegative, "a spike leaving its neuron: packet formation and injection, once per spike (routing-table reads and flits charged apart)"),
    p("energy.spike_out.source", "text", Text, Any, "its source"),
    p("energy.synapse_memory.read_pj_per_bit", "pJ/bit", Number, NonNegative, "synapse-memory read energy per bit at `ref_bytes`; scales with `sqrt(synapse_memory.bytes / ref_bytes)`"),
    p("energy.synapse_memory.write_pj_per_bit", "pJ/bit", Number, NonNegative, "same for writes (on-chip learning)"),
    p("energy.synapse_memory.ref_bytes", "bytes", Number, Positive, "array size of the per-bit figures"),
    p("energy.synapse_memory.source", "text", Text, Any, "their source"),
    p("energy.membrane_sram.read_pj_per_bit", "pJ/bit", Number, NonNegative, "membrane-SRAM read energy per bit at `ref_bytes`; scales with the square root of the array (`core.neurons x membrane_sram.state_bits / 8` bytes); also prices STDP trace accesses (8 bits each)"),
    p("energy.membrane_sram.write_pj_per_bit", "pJ/bit", Number, NonNegative, "same for writes"),
    p("energy.membrane_sram.ref_bytes", "bytes", Number, Positive, "array size of the per-bit figures"),
    p("energy.membrane_sram.source", "text", Text, Any, "their source"),
    p("energy.routing_table.read_pj_per_bit", "pJ/bit", Number, NonNegative, "routing-table read energy per bit at `ref_bytes`; scales with the square root of the table (`entries x entry_bits / 8` bytes); no write figure: tables are written at load, not during a run"),
    p("energy.routing_table.ref_bytes", "bytes", Number, Positive, "array size of the per-bit figures"),
    p("energy.routing_table.source", "text", Text, Any, "their source"),
    p("energy.router.pj", "pJ", Number, NonNegative, "one flit through one router"),
    p("energy.router.source", "text", Text, Any, "its source"),
    p("energy.link.pj_per_flit", "pJ", Number, NonNegative, "one flit over one inter-tile link, whatever its width"),
    p("energy.link.pj_per_bit", "pJ/bit", Number, NonNegative, "plus this per bit of the flit (`flit_bits` in the report), so wider flits (multicast bitmaps, graded payloads) cost more"),
    p("energy.link.source", "text", Text, Any, "their source"),
    p("energy.static_power.mw_per_core", "mW", Number, NonNegative, "leakage of a core, charged for every core of the chip for the whole run"),
    p("energy.static_power.mw_per_router", "mW", Number, NonNegative, "leakage of a router"),
    p("energy.static_power.source", "text", Text, Any, "their source"),
];

/// The parameter at `path`.
pub fn find(path: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.path == path)
}

/// Every path, for messages.
pub fn paths() -> String {
    PARAMS.iter().map(|p| p.path).collect::<Vec<_>>().join(", ")
}

/// The value at a dotted path of a config serialized as JSON.
pub fn lookup<'a>(config: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(config, |v, k| v.get(k))
}

/// Checks every parameter's range on a config serialized as JSON; `file`
/// names where it came from. The first value out of range is the error.
pub fn check_ranges(config: &serde_json::Value, file: &str) -> Result<()> {
    let whole = |path: &str| lookup(config, path).and_then(|v| v.as_u64()).unwrap_or(0);
    // JSON has no inf or NaN: serde_json writes them as null.
    let number = |path: &str| lookup(config, path).and_then(|v| v.as_f64());
    let shown = |v: Option<f64>| v.map_or("a non-finite number".to_string(), |v| v.to_string());
    for p in PARAMS {
        if p.optional && lookup(config, p.path).is_none() {
            continue;
        }
        match p.range {
            Range::Any => {}
            Range::Whole(lo, hi) => check_range(file, p.path, whole(p.path), lo, hi)?,
            Range::EachSide(lo, hi) => {
                let side = |i: usize| {
                    lookup(config, p.path)
                        .and_then(|v| v.get(i))
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0)
                };
                check_range(file, &format!("{}.x", p.path), side(0), lo, hi)?;
                check_range(file, &format!("{}.y", p.path), side(1), lo, hi)?;
            }
            Range::UpToWordBits => {
                let hi = whole("membrane_sram.word_bits").max(2);
                check_range(file, p.path, whole(p.path), 2, hi)?;
            }
            Range::PositiveUpTo(hi) => {
                let v = number(p.path);
                if !v.is_some_and(|v| v > 0.0 && v <= hi) {
                    return Err(Error::invalid(
                        file,
                        p.path,
                        shown(v),
                        format!("0 < {} <= {hi}", p.path),
                    ));
                }
            }
            Range::NonNegative => {
                let v = number(p.path);
                if !v.is_some_and(|v| v.is_finite() && v >= 0.0) {
                    return Err(Error::invalid(
                        file,
                        p.path,
                        shown(v),
                        "a finite number >= 0",
                    ));
                }
            }
            Range::Positive => {
                let v = number(p.path);
                if !v.is_some_and(|v| v.is_finite() && v > 0.0) {
                    return Err(Error::invalid(file, p.path, shown(v), "a number > 0"));
                }
            }
        }
    }
    Ok(())
}

/// The parameter table of `docs/hw-config.md`, with the values of
/// `default.ron`.
pub fn markdown_table() -> String {
    let default = serde_json::to_value(crate::config::HwConfig::preset("default").expect("preset"))
        .expect("config serializes");
    // The optional section shows the defaults it takes when present.
    let mut with_iq = crate::config::HwConfig::preset("default")
        .expect("preset")
        .into_inner();
    with_iq.router.input_queued = Some(Default::default());
    let section = serde_json::to_value(with_iq).expect("config serializes");
    let mut s = String::from(
        "| path | unit | range | `default.ron` | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for p in PARAMS {
        let range = match p.kind {
            Kind::Choice(c) => c
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => p.range.text(),
        };
        let shown = |v: &serde_json::Value| match v {
            serde_json::Value::String(t) => t.clone(),
            serde_json::Value::Array(xy) => format!("{}x{}", xy[0], xy[1]),
            v => v.to_string(),
        };
        let value = match (lookup(&default, p.path), lookup(&section, p.path)) {
            (Some(v), _) => shown(v),
            // Not in default.ron: the section's default, in parentheses.
            (None, Some(v)) => format!("({})", shown(v)),
            (None, None) => String::new(),
        };
        s += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            p.path, p.unit, range, value, p.doc
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HwConfig;

    /// Every leaf of a serialized config, as dotted paths.
    fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &path, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }

    /// The default config with its optional sections present.
    fn with_every_section() -> HwConfig {
        let mut c = HwConfig::preset("default").unwrap().into_inner();
        c.router.input_queued = Some(Default::default());
        c
    }

    #[test]
    fn every_config_field_is_declared_once() {
        let cfg = serde_json::to_value(with_every_section()).unwrap();
        let mut fields = vec![];
        leaves(&cfg, "", &mut fields);
        let mut declared: Vec<String> = PARAMS.iter().map(|p| p.path.to_string()).collect();
        fields.sort();
        declared.sort();
        let n = declared.len();
        declared.dedup();
        assert_eq!(declared.len(), n, "a path is declared twice");
        assert_eq!(fields, declared, "config fields vs PARAMS");
        for p in PARAMS {
            assert!(!p.doc.is_empty(), "{} has no doc line", p.path);
        }
    }

    #[test]
    fn docs_table_is_generated_from_params() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/hw-config.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (start, end) = (
            "(PARAMS); `NEUROCYCLE_BLESS=1 cargo test --lib params` rewrites it -->\n",
            "<!-- end of generated table -->",
        );
        let a = doc.find(start).expect("start marker") + start.len();
        let b = doc.find(end).expect("end marker");
        let table = markdown_table();
        if doc[a..b] != table {
            if std::env::var_os("NEUROCYCLE_BLESS").is_some() {
                std::fs::write(path, format!("{}{}{}", &doc[..a], table, &doc[b..])).unwrap();
            } else {
                panic!(
                    "docs/hw-config.md is stale: run `NEUROCYCLE_BLESS=1 cargo test --lib params`"
                );
            }
        }
    }

    #[test]
    fn ranges_reject_each_parameter_out_of_range() {
        let cfg = serde_json::to_value(with_every_section()).unwrap();
        check_ranges(&cfg, "d").unwrap();
        for p in PARAMS {
            let bad = match p.range {
                Range::Any => continue,
                Range::Whole(lo, hi) if lo > 0 => {
                    [serde_json::json!(lo - 1), serde_json::json!(hi + 1)]
                }
                Range::Whole(_, hi) => [serde_json::json!(hi + 1), serde_json::json!(hi + 1)],
                Range::EachSide(lo, hi) => [
                    serde_json::json!([lo - 1, 1]),
                    serde_json::json!([1, hi + 1]),
                ],
                Range::UpToWordBits => [serde_json::json!(1), serde_json::json!(1 << 20)],
                Range::PositiveUpTo(hi) => [serde_json::json!(0.0), serde_json::json!(hi * 2.0)],
                Range::NonNegative => [serde_json::json!(-1.0), serde_json::Value::Null],
                Range::Positive => [serde_json::json!(0.0), serde_json::Value::Null],
            };
            for b in bad {
                let mut v = cfg.clone();
                let mut slot = &mut v;
                for k in p.path.split('.') {
                    slot = slot.get_mut(k).unwrap();
                }
                *slot = b.clone();
                let e = check_ranges(&v, "d").expect_err(p.path).to_string();
                assert!(e.contains(p.path), "{}: {e}", p.path);
            }
        }
    }
}
