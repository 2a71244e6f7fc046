//! Chrome trace-event JSON (the "JSON Array/Object" format), which
//! Perfetto (ui.perfetto.dev) and chrome://tracing open. Time stamps are
//! microseconds of chip time (cycle / clock_mhz); every span also carries
//! its exact `start_cycle` and `cycles` in `args`.
//!
//! Tracks: process "chip" holds the phases; process "cores" one track per
//! core with its busy spans (back-to-back integrations merge into one
//! span that counts its events) and its spikes as instant events; with
//! per-flit detail, process "routers" one track per router with a span
//! per flit sent through each output.

use super::View;
use crate::engine::Activity;
use serde_json::{json, Value};

pub fn write(v: &View, flits: bool) -> String {
    let us = |cycle: u64| cycle as f64 / v.clock_mhz;
    let (w0, w1) = v.window;
    let clip = |start: u64, end: u64| (start.max(w0), end.min(w1));
    let mut ev: Vec<Value> = vec![
        json!({"name": "process_name", "ph": "M", "pid": 0, "args": {"name": "chip"}}),
        json!({"name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "phases"}}),
        json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "cores"}}),
    ];
    for &(t, p, start, end) in &v.rec.phases {
        if v.overlaps(start, end) {
            let (a, b) = clip(start, end);
            ev.push(json!({
                "name": format!("t{t} phase {p}"), "ph": "X", "pid": 0, "tid": 0,
                "ts": us(a), "dur": us(b) - us(a),
                "args": {"timestep": t, "phase": p, "start_cycle": a, "cycles": b - a},
            }));
        }
    }
    for &c in &v.cores {
        ev.push(json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": c,
            "args": {"name": format!("core {c} (layer {})", v.core_layer[c as usize])},
        }));
    }
    // Busy spans per core in time order, back-to-back integrations merged.
    let mut spans: Vec<(u32, u64, u64, Activity)> = v
        .rec
        .busy
        .iter()
        .filter(|b| v.keeps_core(b.0) && b.3 > 0)
        .map(|&(c, a, s, n)| (c, s, s + n, a))
        .collect();
    spans.sort_unstable_by_key(|s| (s.0, s.1));
    let mut i = 0;
    while i < spans.len() {
        let (core, start, mut end, act) = spans[i];
        let mut events = 1;
        i += 1;
        while act == Activity::Integrate
            && i < spans.len()
            && spans[i].0 == core
            && spans[i].3 == act
            && spans[i].1 == end
        {
            end = spans[i].2;
            events += 1;
            i += 1;
        }
        if !v.overlaps(start, end) {
            continue;
        }
        let (a, b) = clip(start, end);
        let (name, args) = match act {
            Activity::Integrate => (
                "integrate",
                json!({"start_cycle": a, "cycles": b - a, "events": events}),
            ),
            Activity::Update => ("update", json!({"start_cycle": a, "cycles": b - a})),
            Activity::Learn => ("learn", json!({"start_cycle": a, "cycles": b - a})),
        };
        ev.push(json!({
            "name": name, "ph": "X", "pid": 1, "tid": core,
            "ts": us(a), "dur": us(b) - us(a), "args": args,
        }));
    }
    for &(t, layer, neuron, core, cycle) in &v.rec.spikes {
        if v.keeps_core(core) && v.in_window(cycle) {
            ev.push(json!({
                "name": "spike", "ph": "i", "s": "t", "pid": 1, "tid": core, "ts": us(cycle),
                "args": {"timestep": t, "layer": layer, "neuron": neuron, "cycle": cycle},
            }));
        }
    }
    if flits {
        ev.push(json!({"name": "process_name", "ph": "M", "pid": 2, "args": {"name": "routers"}}));
        for &r in &v.routers {
            ev.push(json!({
                "name": "thread_name", "ph": "M", "pid": 2, "tid": r,
                "args": {"name": format!("router ({}, {})", r % v.mesh.x, r / v.mesh.x)},
            }));
        }
        for &(r, inp, out, cycle, _) in &v.rec.hops {
            let end = cycle + v.send_cycles(out);
            if v.keeps_router(r) && v.overlaps(cycle, end) {
                let (a, b) = clip(cycle, end);
                ev.push(json!({
                    "name": format!("{} > {}", v.port_name(r, inp), v.port_name(r, out)),
                    "ph": "X", "pid": 2, "tid": r, "ts": us(a), "dur": us(b) - us(a),
                    "args": {"start_cycle": a, "cycles": b - a},
                }));
            }
        }
    }
    let doc = json!({
        "displayTimeUnit": "ns",
        "otherData": {
            "tool": format!("neurocycle {}", env!("CARGO_PKG_VERSION")),
            "clock_mhz": v.clock_mhz,
            "window_cycles": [w0, w1],
        },
        "traceEvents": ev,
    });
    serde_json::to_string(&doc).expect("trace serializes") + "\n"
}
