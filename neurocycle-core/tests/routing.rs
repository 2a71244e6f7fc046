//! Routing properties of the mesh, driven alone with synthetic traffic:
//! every flit is delivered exactly once to the core and axon it was sent
//! to; routes are minimal and follow XY order (per-link counts equal the
//! XY paths' counts); flits are conserved every cycle; the network always
//! drains (no deadlock) under credits and back-pressured ejection.

use neurocycle_core::engine::noc::{Flit, Mesh, MeshParams, Sink};
use proptest::prelude::*;
use std::collections::VecDeque;

/// Ejection target: per-core queues of limited size, drained by the test
/// one flit every `drain_every` cycles (after the mesh's step), so
/// ejection back-pressure happens.
struct Cores {
    queues: Vec<VecDeque<Flit>>,
    cap: usize,
    drain_every: u64,
    got: Vec<(u32, Flit)>,
    eject_cycles: Vec<u64>,
}

impl Sink for Cores {
    fn room_at(&mut self, core: u32, now: u64) -> u64 {
        if self.queues[core as usize].len() < self.cap {
            now
        } else {
            now.next_multiple_of(self.drain_every) + 1
        }
    }
    fn accept(&mut self, core: u32, flit: Flit, now: u64) {
        self.eject_cycles.push(now);
        assert!(
            self.queues[core as usize].len() < self.cap,
            "ejected into a full queue"
        );
        self.queues[core as usize].push_back(flit);
        self.got.push((core, flit));
    }
}

#[derive(Clone, Copy, Debug)]
enum Traffic {
    Uniform,
    Hotspot,
    AllToOne,
    Transpose,
}

/// Destination of the k-th flit from `src` under a pattern.
fn destination(t: Traffic, src: u32, k: u32, p: &MeshParams, rng: &mut u64) -> u32 {
    let cores = p.x * p.y * p.cores_per_router;
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    match t {
        Traffic::Uniform => (*rng % cores as u64) as u32,
        Traffic::Hotspot => {
            if k.is_multiple_of(2) {
                cores / 2
            } else {
                (*rng % cores as u64) as u32
            }
        }
        Traffic::AllToOne => 0,
        Traffic::Transpose => {
            let tile = src / p.cores_per_router;
            let (x, y) = (tile % p.x, tile / p.x);
            let (tx, ty) = (y % p.x, x % p.y);
            (ty * p.x + tx) * p.cores_per_router + src % p.cores_per_router
        }
    }
}

fn tile(core: u32, p: &MeshParams) -> (i64, i64) {
    let t = core / p.cores_per_router;
    ((t % p.x) as i64, (t / p.x) as i64)
}

/// Expected flits per (router, direction) if every flit takes its XY path.
fn xy_link_counts(flits: &[(u32, u32)], p: &MeshParams) -> Vec<u64> {
    let mut counts = vec![0u64; (p.x * p.y * 4) as usize];
    for (src, dst) in flits {
        let (mut x, mut y) = tile(*src, p);
        let (dx, dy) = tile(*dst, p);
        while x != dx {
            let dir = if dx > x { 1 } else { 3 };
            counts[((y * p.x as i64 + x) * 4 + dir) as usize] += 1;
            x += if dx > x { 1 } else { -1 };
        }
        while y != dy {
            let dir = if dy > y { 2 } else { 0 };
            counts[((y * p.x as i64 + x) * 4 + dir) as usize] += 1;
            y += if dy > y { 1 } else { -1 };
        }
    }
    counts
}

/// Runs the mesh until every source queue and the mesh are empty: each
/// cycle the routers step, every source injects its next flit if it can,
/// and the sink drains; `each_cycle` checks an invariant after every cycle.
fn drive(
    mesh: &mut Mesh,
    sink: &mut Cores,
    pending: &mut [VecDeque<Flit>],
    limit: u64,
    mut each_cycle: impl FnMut(&Mesh),
) {
    let mut now = 0u64;
    while !(mesh.is_empty() && pending.iter().all(|q| q.is_empty())) {
        assert!(
            now < limit,
            "did not drain by cycle {now}: {}",
            mesh.describe_stuck()
        );
        mesh.step(now, sink, false);
        for (c, q) in pending.iter_mut().enumerate() {
            if !q.is_empty() && mesh.can_inject(c as u32) {
                mesh.inject(q.pop_front().unwrap(), now);
            }
        }
        if now.is_multiple_of(sink.drain_every) {
            for q in sink.queues.iter_mut() {
                q.pop_front();
            }
        }
        each_cycle(mesh);
        now += 1;
    }
}

struct Outcome {
    sent: Vec<(u32, u32)>,
    got: Vec<(u32, Flit)>,
    eject_cycles: Vec<u64>,
    mesh: Mesh,
}

fn simulate(
    p: MeshParams,
    traffic: Traffic,
    per_core: u32,
    cap: usize,
    drain_every: u64,
    seed: u64,
) -> Outcome {
    let cores = p.x * p.y * p.cores_per_router;
    let mut mesh = Mesh::new(p);
    let mut sink = Cores {
        queues: vec![VecDeque::new(); cores as usize],
        cap,
        drain_every,
        got: vec![],
        eject_cycles: vec![],
    };
    let mut rng = seed | 1;
    let mut pending: Vec<VecDeque<Flit>> = (0..cores)
        .map(|src| {
            (0..per_core)
                .map(|k| {
                    let dst = destination(traffic, src, k, &p, &mut rng);
                    // The axon carries a unique id so delivery is checked exactly.
                    Flit::new(src, dst, src * per_core + k, 1, 0)
                })
                .collect()
        })
        .collect();
    let sent: Vec<(u32, u32)> = pending
        .iter()
        .flatten()
        .map(|f| (f.src_core, f.dest_core))
        .collect();
    let total = sent.len() as u64;
    drive(
        &mut mesh,
        &mut sink,
        &mut pending,
        200_000 + total * 200,
        |mesh| {
            // Conservation, every cycle.
            assert_eq!(
                mesh.stats().injected,
                mesh.stats().ejected + mesh.in_flight()
            );
        },
    );
    assert_eq!(mesh.stats().injected, total);
    Outcome {
        sent,
        got: sink.got,
        eject_cycles: sink.eject_cycles,
        mesh,
    }
}

fn params() -> impl Strategy<Value = MeshParams> {
    (
        1u32..7,
        1u32..7,
        1u32..4,
        1u32..5,
        1u32..4,
        1u32..4,
        1u32..3,
    )
        .prop_map(|(x, y, c, d, rl, ll, fc)| MeshParams {
            x,
            y,
            cores_per_router: c,
            buffer_depth: d,
            router_latency: rl,
            link_latency: ll,
            flit_cycles: fc,
            iq: None,
        })
}

fn traffic() -> impl Strategy<Value = Traffic> {
    prop_oneof![
        Just(Traffic::Uniform),
        Just(Traffic::Hotspot),
        Just(Traffic::AllToOne),
        Just(Traffic::Transpose)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_flit_arrives_once_by_a_minimal_xy_route(
        p in params(),
        t in traffic(),
        per_core in 1u32..12,
        cap in 1usize..4,
        drain_every in 1u64..4,
        seed in any::<u64>(),
    ) {
        let out = simulate(p, t, per_core, cap, drain_every, seed);
        // Exactly once, to the right core and axon.
        let mut seen = vec![0u32; out.sent.len()];
        for (core, f) in &out.got {
            prop_assert_eq!(*core, f.dest_core);
            prop_assert_eq!(out.sent[f.axon as usize], (f.src_core, f.dest_core));
            seen[f.axon as usize] += 1;
        }
        prop_assert!(seen.iter().all(|n| *n == 1), "delivery counts {:?}", seen);
        // Minimal XY: the per-link loads are exactly those of the XY paths.
        prop_assert_eq!(&out.mesh.stats().per_link, &xy_link_counts(&out.sent, &p));
        let manhattan: u64 = out.sent.iter().map(|(s, d)| {
            let (a, b) = (tile(*s, &p), tile(*d, &p));
            ((a.0 - b.0).abs() + (a.1 - b.1).abs()) as u64
        }).sum();
        prop_assert_eq!(out.mesh.stats().hops, manhattan);
        prop_assert_eq!(out.mesh.stats().router_traversals, manhattan + out.sent.len() as u64);
        // Every flit's latency is at least the zero-load latency of its route.
        for (_, f) in &out.got {
            let (a, b) = (tile(f.src_core, &p), tile(f.dest_core, &p));
            let h = ((a.0 - b.0).abs() + (a.1 - b.1).abs()) as u64;
            prop_assert!(out.mesh.stats().latency_max >= p.zero_load_latency(h));
        }
    }
}

#[test]
fn zero_load_latency_matches_the_formula() {
    for (rl, ll, fc) in [(1, 1, 1), (2, 1, 1), (3, 2, 1), (1, 3, 1), (2, 2, 3)] {
        for h in 0..7u32 {
            let p = MeshParams {
                x: 8,
                y: 2,
                cores_per_router: 1,
                buffer_depth: 2,
                router_latency: rl,
                link_latency: ll,
                flit_cycles: fc,
                iq: None,
            };
            let mut mesh = Mesh::new(p);
            let mut sink = Cores {
                queues: vec![VecDeque::new(); 16],
                cap: 4,
                drain_every: 1,
                got: vec![],
                eject_cycles: vec![],
            };
            // From tile (0, 1) to tile (h - 1, 0) when h > 0: mixed X and Y hops.
            let (src, dst) = if h == 0 { (9, 9) } else { (8, h - 1) };
            mesh.inject(Flit::new(src, dst, 0, 1, 0), 5);
            let mut now = 5;
            while !mesh.is_empty() {
                mesh.step(now, &mut sink, false);
                now += 1;
            }
            let expected = h as u64 * (rl + ll + fc - 1) as u64 + rl as u64;
            assert_eq!(
                mesh.stats().latency_max,
                expected,
                "h={h} rl={rl} ll={ll} fc={fc}"
            );
            assert_eq!(mesh.stats().hops, h as u64);
            // The contract's formula, for one-cycle flits.
            if fc == 1 {
                assert_eq!(expected, h as u64 * (rl + ll) as u64 + rl as u64);
            }
        }
    }
}

#[test]
fn hotspot_ejection_is_one_flit_per_cycle() {
    // 16 sources send 20 flits each to core 0: the ejection port serializes
    // them at one flit per cycle, and keeps that rate once saturated.
    let p = MeshParams {
        x: 4,
        y: 4,
        cores_per_router: 1,
        buffer_depth: 4,
        router_latency: 1,
        link_latency: 1,
        flit_cycles: 1,
        iq: None,
    };
    let out = simulate(p, Traffic::AllToOne, 20, 1 << 20, 1, 3);
    assert_eq!(out.got.len(), 320);
    let mut cycles = out.eject_cycles.clone();
    cycles.dedup();
    assert_eq!(cycles.len(), 320, "two flits ejected in one cycle");
    let span = cycles.last().unwrap() - cycles.first().unwrap();
    assert!(span >= 319);
    // Saturated: the port is busy nearly every cycle once traffic arrives.
    assert!(span < 320 + 20, "ejection port idle too often: span {span}");
}

/// Links (router, direction) of the XY path from tile `s` to tile `d`.
fn xy_links(s: (i64, i64), d: (i64, i64), p: &MeshParams) -> Vec<usize> {
    let (mut x, mut y) = s;
    let mut links = vec![];
    while x != d.0 {
        let dir = if d.0 > x { 1 } else { 3 };
        links.push(((y * p.x as i64 + x) * 4 + dir) as usize);
        x += if d.0 > x { 1 } else { -1 };
    }
    while y != d.1 {
        let dir = if d.1 > y { 2 } else { 0 };
        links.push(((y * p.x as i64 + x) * 4 + dir) as usize);
        y += if d.1 > y { 1 } else { -1 };
    }
    links
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// Tree multicast: every destination of every flit gets exactly one
    /// copy with its own axon, and every link of the union of the XY paths
    /// carries exactly one copy per flit.
    #[test]
    fn multicast_copies_reach_every_destination_once_over_the_xy_tree(
        p in params(),
        per_core in 1u32..6,
        fanout in 1usize..6,
        cap in 1usize..4,
        drain_every in 1u64..3,
        seed in any::<u64>(),
    ) {
        use neurocycle_core::engine::noc::Groups;
        let cores = p.x * p.y * p.cores_per_router;
        let mut rng = seed | 1;
        let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        let mut groups = Groups { offsets: vec![0], ..Groups::default() };
        let mut flits: Vec<Flit> = vec![];
        for src in 0..cores {
            for _ in 0..per_core {
                let mut dests: Vec<u32> = (0..fanout).map(|_| (next() % cores as u64) as u32).collect();
                dests.sort_unstable();
                dests.dedup();
                let g = groups.offsets.len() as u32 - 1;
                for d in dests {
                    groups.axons.push(groups.cores.len() as u32); // unique id per delivery
                    groups.cores.push(d);
                }
                groups.offsets.push(groups.cores.len() as u32);
                flits.push(Flit::multicast(src, g, 1, 0));
            }
        }
        let mut mesh = Mesh::with_groups(p, std::sync::Arc::new(groups.clone()));
        let mut sink = Cores {
            queues: vec![VecDeque::new(); cores as usize],
            cap,
            drain_every,
            got: vec![],
            eject_cycles: vec![],
        };
        let mut pending: Vec<VecDeque<Flit>> = (0..cores).map(|c| flits.iter().filter(|f| f.src_core == c).copied().collect()).collect();
        drive(&mut mesh, &mut sink, &mut pending, 500_000, |_| {});
        let mut seen = vec![0u32; groups.cores.len()];
        for (core, f) in &sink.got {
            prop_assert_eq!(groups.cores[f.axon as usize], *core);
            seen[f.axon as usize] += 1;
        }
        prop_assert!(seen.iter().all(|n| *n == 1), "delivery counts {:?}", seen);
        prop_assert_eq!(mesh.stats().injected, flits.len() as u64);
        let mut expected = vec![0u64; (p.x * p.y * 4) as usize];
        for f in &flits {
            let members = groups.offsets[f.group as usize] as usize..groups.offsets[f.group as usize + 1] as usize;
            let mut links: Vec<usize> = members
                .flat_map(|i| xy_links(tile(f.src_core, &p), tile(groups.cores[i], &p), &p))
                .collect();
            links.sort_unstable();
            links.dedup();
            for l in links {
                expected[l] += 1;
            }
        }
        prop_assert_eq!(&mesh.stats().per_link, &expected);
    }
}
