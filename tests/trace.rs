//! Traces: the VCD parses and its signals integrate to the report's
//! counters; the Chrome trace's spans sum to busy cycles; spikes.csv holds
//! the reference's spikes; selections cut what they say.

use neurocycle::config::{Checked, HwConfig};
use neurocycle::engine::{run_sample, Chip, Counters, EngineOptions, Quiet};
use neurocycle::mapping;
use neurocycle::model::gen::{generate, GenSpec};
use neurocycle::model::stimulus::synthetic;
use neurocycle::model::{Model, Semantics};
use neurocycle::trace::{chrome, record, spikes_csv, vcd, Selection, View};
use std::collections::HashMap;

/// A parsed VCD: variables by (scope, name), and per id its changes.
struct Vcd {
    period_ps: u64,
    vars: HashMap<(String, String), String>,
    /// id -> (time in ps, value) in file order, the first at the dump.
    changes: HashMap<String, Vec<(u64, u64)>>,
    end_ps: u64,
}

fn parse_vcd(text: &str) -> Vcd {
    let mut vars = HashMap::new();
    let mut scope = String::new();
    let mut period_ps = 0;
    let mut tokens = text.split_whitespace().peekable();
    let mut changes: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    let mut now = 0u64;
    let mut in_header = true;
    while let Some(tok) = tokens.next() {
        if in_header {
            match tok {
                "$comment" => {
                    let words: Vec<&str> = tokens.by_ref().take_while(|t| *t != "$end").collect();
                    assert_eq!(&words[..3], ["one", "cycle", "="]);
                    period_ps = words[3].parse().unwrap();
                    assert_eq!(words[4], "ps");
                }
                "$scope" => {
                    assert_eq!(tokens.next(), Some("module"));
                    scope = tokens.next().unwrap().to_string();
                    assert_eq!(tokens.next(), Some("$end"));
                }
                "$var" => {
                    let kind = tokens.next().unwrap();
                    assert!(["wire", "reg", "integer"].contains(&kind), "{kind}");
                    let _width: u32 = tokens.next().unwrap().parse().unwrap();
                    let id = tokens.next().unwrap().to_string();
                    let name = tokens.next().unwrap().to_string();
                    assert_eq!(tokens.next(), Some("$end"));
                    assert!(vars.insert((scope.clone(), name), id.clone()).is_none());
                    changes.insert(id, vec![]);
                }
                "$enddefinitions" => {
                    assert_eq!(tokens.next(), Some("$end"));
                    in_header = false;
                }
                "$version" | "$timescale" | "$upscope" => {
                    for t in tokens.by_ref() {
                        if t == "$end" {
                            break;
                        }
                    }
                }
                other => panic!("unexpected header token {other}"),
            }
            continue;
        }
        match tok {
            "$dumpvars" | "$end" => {}
            t if t.starts_with('#') => {
                let t: u64 = t[1..].parse().unwrap();
                assert!(t >= now, "time goes forward");
                now = t;
            }
            t if t.starts_with('b') => {
                let v = u64::from_str_radix(&t[1..], 2).unwrap();
                let id = tokens.next().unwrap();
                changes.get_mut(id).expect("declared id").push((now, v));
            }
            t => {
                let (v, id) = t.split_at(1);
                let v: u64 = v.parse().unwrap();
                changes.get_mut(id).expect("declared id").push((now, v));
            }
        }
    }
    Vcd {
        period_ps,
        vars,
        changes,
        end_ps: now,
    }
}

impl Vcd {
    fn id(&self, scope: &str, name: &str) -> &str {
        self.vars
            .get(&(scope.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no signal {scope}.{name}"))
    }

    /// Cycles during which `f(value)` holds, times the weight `f` gives.
    fn integral(&self, scope: &str, name: &str, f: impl Fn(u64) -> u64) -> u64 {
        let ch = &self.changes[self.id(scope, name)];
        let mut total = 0;
        for (i, &(t, v)) in ch.iter().enumerate() {
            let end = ch.get(i + 1).map_or(self.end_ps, |c| c.0);
            total += f(v) * (end - t);
        }
        assert_eq!(total % self.period_ps, 0);
        total / self.period_ps
    }

    fn max(&self, scope: &str, name: &str) -> u64 {
        self.changes[self.id(scope, name)]
            .iter()
            .map(|c| c.1)
            .max()
            .unwrap()
    }

    fn last(&self, scope: &str, name: &str) -> u64 {
        self.changes[self.id(scope, name)].last().unwrap().1
    }
}

struct Case {
    model: Model,
    hw: Checked<HwConfig>,
}

fn cases() -> Vec<Case> {
    let default = HwConfig::preset("default").unwrap();
    let dense = generate(&GenSpec {
        layers: vec![200, 96, 10],
        sparsity: 0.6,
        timesteps: 4,
        input_rate: 0.3,
        seed: 5,
        ..GenSpec::default()
    });
    let pipelined = generate(&GenSpec {
        layers: vec![120, 64, 32, 10],
        sparsity: 0.5,
        timesteps: 3,
        semantics: Semantics::Pipelined,
        input_rate: 0.3,
        seed: 6,
        ..GenSpec::default()
    });
    let sets = |s: &[&str]| {
        let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        default.with_overrides("test", &s).unwrap()
    };
    vec![
        Case {
            model: dense.clone(),
            hw: sets(&[
                "core.neurons=32",
                "router.buffer_depth=2",
                "core.queue_depth=4",
            ]),
        },
        Case {
            model: pipelined,
            hw: sets(&["core.neurons=16", "cores_per_router=2", "mesh=3x3"]),
        },
        Case {
            model: dense.clone(),
            hw: sets(&[
                "core.neurons=32",
                "router.multicast=xy_tree",
                "router.link_width_bits=8",
            ]),
        },
        // The input-queued router: 2 VCs, 2-cycle crossbar, 2-flit buffers.
        Case {
            model: dense,
            hw: sets(&[
                "core.neurons=32",
                "router.buffer_depth=2",
                "core.queue_depth=4",
                "router.input_queued.vcs=2",
                "router.input_queued.crossbar_cycles=2",
                "router.latency_cycles=5",
            ]),
        },
    ]
}

fn map_of(c: &Case) -> mapping::Mapping {
    c.model.validate("case").unwrap();
    mapping::map(&c.model, &c.hw, "case").unwrap()
}

fn setup(c: &Case, chip: &Chip) -> (neurocycle::model::stimulus::Stimulus, Counters) {
    let stim = synthetic(&c.model, 3, 0);
    let counters = run_sample(chip, &stim, EngineOptions::default(), &mut Quiet)
        .unwrap()
        .counters;
    // Cases with traffic and stalls worth tracing.
    assert!(
        counters.noc.ejected > 100 && counters.noc.hops > 100,
        "{:?}",
        counters.noc
    );
    (stim, counters)
}

#[test]
fn vcd_signals_integrate_to_the_report_counters() {
    for c in cases() {
        let map = map_of(&c);
        let chip = Chip::build(&c.hw, &c.model, &map);
        let (stim, k) = setup(&c, &chip);
        let (rec, cycles) = record(&chip, &stim).unwrap();
        assert_eq!(cycles, k.cycles, "recording changes nothing");
        let view = View::new(&chip, &rec, cycles, &Selection::default()).unwrap();
        let v = parse_vcd(&vcd::write(&view));
        assert_eq!(v.period_ps, 5000);
        assert_eq!(v.end_ps, cycles * 5000);
        for (i, core) in k.cores.iter().enumerate() {
            let s = format!("core_{i}");
            assert_eq!(
                v.integral(&s, "busy", |x| x),
                core.busy_cycles(),
                "{s} busy"
            );
            assert_eq!(
                v.integral(&s, "state", |x| (x == 1) as u64),
                core.integration_cycles
            );
            assert_eq!(
                v.integral(&s, "state", |x| (x == 2) as u64),
                core.update_cycles
            );
            assert!(v.max(&s, "queue") <= c.hw.core.queue_depth as u64);
            assert_eq!(v.last(&s, "queue"), 0);
        }
        let (mx, my) = c.hw.mesh;
        let fc = chip.mesh.flit_cycles as u64;
        // A buffer's flits; with the input-queued router, every VC's, and
        // those past switch allocation until they leave (at most one per
        // output per crossbar cycle), and on the injection port those in
        // the network interface's queue.
        let depth = c.hw.router.buffer_depth as u64;
        let in_bound = match &c.hw.router.input_queued {
            None => depth,
            Some(q) => {
                let outputs = 4 + c.hw.cores_per_router as u64;
                (q.vcs as u64 + 1) * depth
                    + outputs * q.crossbar_cycles as u64 * q.output_speedup as u64
            }
        };
        let mut ejected = 0;
        for r in 0..mx * my {
            let s = format!("router_{}_{}", r % mx, r / mx);
            for (d, name) in ["N", "E", "S", "W"].iter().enumerate() {
                let flits = k.noc.per_link[(r * 4) as usize + d];
                match v.vars.get(&(s.clone(), format!("out_{name}_valid"))) {
                    Some(_) => {
                        assert_eq!(
                            v.integral(&s, &format!("out_{name}_valid"), |x| x),
                            flits * fc,
                            "{s} {name}"
                        );
                        assert!(v.max(&s, &format!("in_{name}")) <= in_bound);
                        assert_eq!(v.last(&s, &format!("in_{name}")), 0);
                    }
                    None => assert_eq!(flits, 0),
                }
            }
            for j in 0..c.hw.cores_per_router {
                let core = r * c.hw.cores_per_router + j;
                ejected += v.integral(&s, &format!("out_core{core}_valid"), |x| x);
                assert!(v.max(&s, &format!("in_core{core}")) <= in_bound);
            }
        }
        assert_eq!(ejected, k.noc.ejected);
        // One timestep value per timestep.
        let ts = &v.changes[v.id("chip", "timestep")];
        assert_eq!(ts.last().unwrap().1 + 1, c.model.timesteps as u64);
    }
}

#[test]
fn chrome_spans_sum_to_busy_cycles_and_hops_to_router_traversals() {
    for c in cases() {
        let map = map_of(&c);
        let chip = Chip::build(&c.hw, &c.model, &map);
        let (stim, k) = setup(&c, &chip);
        let (rec, cycles) = record(&chip, &stim).unwrap();
        let view = View::new(&chip, &rec, cycles, &Selection::default()).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&chrome::write(&view, true)).unwrap();
        let events = doc["traceEvents"].as_array().unwrap();
        let mut busy = vec![0u64; k.cores.len()];
        let (mut spikes, mut hops, mut phases) = (0u64, 0u64, 0u64);
        for e in events {
            let cycles = e["args"]["cycles"].as_u64();
            match (e["ph"].as_str().unwrap(), e["pid"].as_u64().unwrap()) {
                ("X", 0) => phases += 1,
                ("X", 1) => busy[e["tid"].as_u64().unwrap() as usize] += cycles.unwrap(),
                ("i", 1) => spikes += 1,
                ("X", 2) => hops += 1,
                ("M", _) => {}
                other => panic!("unexpected event {other:?}"),
            }
            if e["ph"] == "X" {
                let ts = e["ts"].as_f64().unwrap();
                let want = e["args"]["start_cycle"].as_f64().unwrap() / 200.0;
                assert!((ts - want).abs() < 1e-9);
            }
        }
        let want: Vec<u64> = k.cores.iter().map(|c| c.busy_cycles()).collect();
        assert_eq!(busy, want);
        assert_eq!(spikes, k.spikes_per_layer.iter().sum::<u64>());
        assert_eq!(hops, k.noc.router_traversals);
        assert_eq!(
            phases as usize,
            k.phase_cycles.len() * c.model.timesteps as usize
        );
    }
}

#[test]
fn spikes_csv_holds_the_reference_spikes() {
    for c in cases() {
        let map = map_of(&c);
        let chip = Chip::build(&c.hw, &c.model, &map);
        let (stim, _) = setup(&c, &chip);
        let (rec, cycles) = record(&chip, &stim).unwrap();
        let view = View::new(&chip, &rec, cycles, &Selection::default()).unwrap();
        let text = spikes_csv(&view);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("timestep,layer,neuron,core,cycle,population")
        );
        let mut got: Vec<(u32, u32, u32)> = vec![];
        let mut last_cycle = 0;
        for l in lines {
            let fields: Vec<&str> = l.split(',').collect();
            let f: Vec<u64> = fields[..5].iter().map(|x| x.parse().unwrap()).collect();
            // The last column names the population.
            assert_eq!(fields[5], c.model.populations[f[1] as usize].name);
            assert!(f[4] >= last_cycle, "in cycle order");
            last_cycle = f[4];
            got.push((f[0] as u32, f[1] as u32, f[2] as u32));
        }
        got.sort_unstable();
        let want: Vec<(u32, u32, u32)> = neurocycle::reference::run(&c.model, &stim)
            .spikes
            .iter()
            .map(|s| (s.t, s.layer, s.neuron))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn selections_keep_only_their_window_and_cores() {
    let c = &cases()[1];
    let map = map_of(c);
    let chip = Chip::build(&c.hw, &c.model, &map);
    let (stim, _) = setup(c, &chip);
    let (rec, cycles) = record(&chip, &stim).unwrap();
    let (a, b) = (cycles / 4, cycles / 2);
    let sel = Selection {
        cycles: Some((a, b)),
        timesteps: None,
        cores: Some(vec![3]),
    };
    let view = View::new(&chip, &rec, cycles, &sel).unwrap();
    let v = parse_vcd(&vcd::write(&view));
    let scopes: std::collections::BTreeSet<&str> = v.vars.keys().map(|k| k.0.as_str()).collect();
    // Core 3 sits on tile 1 (two cores per router): router (1, 0).
    assert_eq!(
        scopes,
        ["chip", "core_3", "router_1_0"].into_iter().collect()
    );
    for ch in v.changes.values() {
        assert!(ch.iter().all(|(t, _)| *t >= a * 5000 && *t < b * 5000));
    }
    let doc: serde_json::Value = serde_json::from_str(&chrome::write(&view, true)).unwrap();
    for e in doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] != "M")
    {
        let start = e["args"]["start_cycle"]
            .as_u64()
            .or(e["args"]["cycle"].as_u64())
            .unwrap();
        let len = e["args"]["cycles"].as_u64().unwrap_or(0);
        assert!(start >= a && start + len <= b, "{e}");
        if e["pid"] == 1 {
            assert_eq!(e["tid"], 3);
        }
    }
    for l in spikes_csv(&view).lines().skip(1) {
        let f: Vec<u64> = l.split(',').take(5).map(|x| x.parse().unwrap()).collect();
        assert_eq!(f[3], 3);
        assert!(f[4] >= a && f[4] < b);
    }
    // Timesteps 1..1: the window of timestep 1 exactly.
    let sel = Selection {
        timesteps: Some((1, 1)),
        ..Selection::default()
    };
    let view = View::new(&chip, &rec, cycles, &sel).unwrap();
    let t1: Vec<_> = rec.phases.iter().filter(|p| p.0 == 1).collect();
    let t2_start = rec
        .phases
        .iter()
        .filter(|p| p.0 == 2)
        .map(|p| p.2)
        .min()
        .unwrap();
    assert_eq!(view.window, (t1[0].2, t2_start));
    // Bad selections are errors that name the flag.
    let bad = Selection {
        cores: Some(vec![999]),
        ..Selection::default()
    };
    assert!(View::new(&chip, &rec, cycles, &bad)
        .err()
        .unwrap()
        .to_string()
        .contains("--trace-cores"));
    let bad = Selection {
        timesteps: Some((0, 9)),
        ..Selection::default()
    };
    assert!(View::new(&chip, &rec, cycles, &bad)
        .err()
        .unwrap()
        .to_string()
        .contains("--trace-timesteps"));
}
