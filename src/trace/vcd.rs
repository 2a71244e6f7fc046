//! Value change dump (IEEE 1364 VCD), for GTKWave and other waveform
//! viewers. Time is in picoseconds of the chip's clock (one cycle =
//! round(1e6 / clock_mhz) ps, stated in a `$comment`).
//!
//! Signals:
//! - `chip.timestep`, `chip.phase`: the phase running (set at its start);
//! - per core, scope `core_C`: `busy` (1 while integrating or updating),
//!   `state` (0 idle, 1 integrate, 2 update), `queue` (events waiting in
//!   the work queue; an event leaves it in its start cycle);
//! - per router, scope `router_X_Y`: `in_P` (flits in input buffer P,
//!   from arrival to departure) and `out_P_valid` (1 while output P
//!   sends: `flit_cycles` per flit on mesh links, one cycle per ejection),
//!   with P one of N, E, S, W or coreC.

use super::View;
use crate::engine::Activity;
use std::fmt::Write as _;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The running sum of the deltas.
    Count,
    /// 1 while the running sum is positive.
    Flag,
    /// 2 while the second sum is positive, else 1 while the first is.
    State,
    /// The value set last (deltas hold the value itself).
    Level,
}

struct Signal {
    scope: String,
    name: String,
    kind: Kind,
    width: u32,
    /// (time in cycles, delta a, delta b).
    changes: Vec<(u64, i64, i64)>,
}

fn id(mut i: usize) -> String {
    // Printable ASCII from '!' to '~', least significant first.
    let mut s = String::new();
    loop {
        s.push((b'!' + (i % 94) as u8) as char);
        i /= 94;
        if i == 0 {
            return s;
        }
    }
}

impl Signal {
    fn new(scope: &str, name: &str, kind: Kind, width: u32) -> Signal {
        Signal {
            scope: scope.to_string(),
            name: name.to_string(),
            kind,
            width,
            changes: vec![],
        }
    }

    /// (cycle, value) after every cycle at which the value changes, from
    /// cycle 0 (value 0) on.
    fn timeline(&mut self) -> Vec<(u64, u64)> {
        self.changes.sort_by_key(|c| c.0);
        let (mut a, mut b) = (0i64, 0i64);
        let mut last = 0u64;
        let mut out = vec![];
        let mut i = 0;
        while i < self.changes.len() {
            let t = self.changes[i].0;
            while i < self.changes.len() && self.changes[i].0 == t {
                match self.kind {
                    Kind::Level => a = self.changes[i].1,
                    _ => {
                        a += self.changes[i].1;
                        b += self.changes[i].2;
                    }
                }
                i += 1;
            }
            let v = match self.kind {
                Kind::Count | Kind::Level => a.max(0) as u64,
                Kind::Flag => (a > 0) as u64,
                Kind::State => {
                    if b > 0 {
                        2
                    } else {
                        (a > 0) as u64
                    }
                }
            };
            if v != last || out.is_empty() && t == 0 {
                out.push((t, v));
                last = v;
            }
        }
        out
    }
}

fn value(v: u64, width: u32, id: &str) -> String {
    if width == 1 {
        format!("{v}{id}")
    } else {
        format!("b{v:b} {id}")
    }
}

pub fn write(v: &View) -> String {
    let rec = v.rec;
    let mut sigs: Vec<Signal> = vec![
        Signal::new("chip", "timestep", Kind::Level, 32),
        Signal::new("chip", "phase", Kind::Level, 32),
    ];
    for &(t, p, start, _) in &rec.phases {
        sigs[0].changes.push((start, t as i64, 0));
        sigs[1].changes.push((start, p as i64, 0));
    }
    // Core signals: busy, state, queue at index core_base + 3 * k.
    let core_base = sigs.len();
    let mut core_slot = vec![usize::MAX; v.core_layer.len()];
    for (k, &c) in v.cores.iter().enumerate() {
        let scope = format!("core_{c}");
        core_slot[c as usize] = core_base + 3 * k;
        sigs.push(Signal::new(&scope, "busy", Kind::Flag, 1));
        sigs.push(Signal::new(&scope, "state", Kind::State, 2));
        sigs.push(Signal::new(&scope, "queue", Kind::Count, 32));
    }
    for &(core, act, start, cycles) in &rec.busy {
        let s = core_slot[core as usize];
        if s == usize::MAX || cycles == 0 {
            continue;
        }
        let end = start + cycles;
        sigs[s].changes.extend([(start, 1, 0), (end, -1, 0)]);
        let (a, b) = match act {
            Activity::Integrate => (1, 0),
            // Learning follows the update walk and shows as part of it.
            Activity::Update | Activity::Learn => (0, 1),
        };
        sigs[s + 1].changes.extend([(start, a, b), (end, -a, -b)]);
    }
    for &(core, arrival, start) in &rec.queued {
        let s = core_slot[core as usize];
        if s != usize::MAX {
            sigs[s + 2]
                .changes
                .extend([(arrival, 1, 0), (start, -1, 0)]);
        }
    }
    // Router ports: in_P and out_P_valid per existing port.
    let ports = (crate::engine::noc::LOCAL as u32) + v.mesh.cores_per_router;
    let n_routers = (v.mesh.x * v.mesh.y) as usize;
    let mut port_slot = vec![usize::MAX; n_routers * ports as usize];
    for &r in &v.routers {
        let scope = format!("router_{}_{}", r % v.mesh.x, r / v.mesh.x);
        for p in 0..ports {
            if v.port_exists(r, p) {
                port_slot[(r * ports + p) as usize] = sigs.len();
                let name = v.port_name(r, p);
                sigs.push(Signal::new(&scope, &format!("in_{name}"), Kind::Count, 32));
                sigs.push(Signal::new(
                    &scope,
                    &format!("out_{name}_valid"),
                    Kind::Flag,
                    1,
                ));
            }
        }
    }
    let slot = |r: u32, p: u32| port_slot[(r * ports + p) as usize];
    for &(core, cycle) in &rec.injected {
        let (r, p) = v.core_port(core);
        if slot(r, p) != usize::MAX {
            sigs[slot(r, p)].changes.push((cycle, 1, 0));
        }
    }
    for &(r, inp, out, cycle, left) in &rec.hops {
        if left && slot(r, inp) != usize::MAX {
            sigs[slot(r, inp)].changes.push((cycle, -1, 0));
        }
        if slot(r, out) != usize::MAX {
            sigs[slot(r, out) + 1]
                .changes
                .extend([(cycle, 1, 0), (cycle + v.send_cycles(out), -1, 0)]);
        }
        if (out as usize) < crate::engine::noc::LOCAL {
            let (next, next_in, arrive) = v.downstream(r, out, cycle);
            if slot(next, next_in) != usize::MAX {
                sigs[slot(next, next_in)].changes.push((arrive, 1, 0));
            }
        }
    }

    let period_ps = (1e6 / v.clock_mhz).round().max(1.0) as u64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "$version neurocycle {} $end",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "$comment one cycle = {period_ps} ps (clock {} MHz); cycles {}..{} of one inference $end",
        v.clock_mhz, v.window.0, v.window.1
    );
    out.push_str("$timescale 1 ps $end\n");
    let mut scope = String::new();
    for (i, s) in sigs.iter().enumerate() {
        if s.scope != scope {
            if !scope.is_empty() {
                out.push_str("$upscope $end\n");
            }
            let _ = writeln!(out, "$scope module {} $end", s.scope);
            scope = s.scope.clone();
        }
        let kind = match s.kind {
            Kind::Flag => "wire",
            Kind::State => "reg",
            Kind::Count | Kind::Level => "integer",
        };
        let _ = writeln!(out, "$var {kind} {} {} {} $end", s.width, id(i), s.name);
    }
    out.push_str("$upscope $end\n$enddefinitions $end\n");

    let (w0, w1) = v.window;
    let mut initial = vec![0u64; sigs.len()];
    let mut changes: Vec<(u64, usize, u64)> = vec![];
    for (i, s) in sigs.iter_mut().enumerate() {
        for (t, val) in s.timeline() {
            if t <= w0 {
                initial[i] = val;
            } else if t < w1 {
                changes.push((t, i, val));
            }
        }
    }
    changes.sort_unstable();
    let _ = writeln!(out, "#{}\n$dumpvars", w0 * period_ps);
    for (i, s) in sigs.iter().enumerate() {
        let _ = writeln!(out, "{}", value(initial[i], s.width, &id(i)));
    }
    out.push_str("$end\n");
    let mut now = w0;
    for (t, i, val) in changes {
        if t != now {
            let _ = writeln!(out, "#{}", t * period_ps);
            now = t;
        }
        let _ = writeln!(out, "{}", value(val, sigs[i].width, &id(i)));
    }
    let _ = writeln!(out, "#{}", w1 * period_ps);
    out
}
