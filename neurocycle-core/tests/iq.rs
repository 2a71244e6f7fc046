//! The input-queued router (`router.input_queued`): packets alone in the
//! mesh take exactly the zero-load latency of `docs/noc.md`; under random
//! traffic, multi-flit packets and back-pressured ejection, every flit
//! arrives once, in order within its packet, and credits are conserved at
//! every cycle; a mesh whose ejection never drains reports where it stopped.

use neurocycle_core::config::{Allocator, InputQueued};
use neurocycle_core::engine::iq::{HEAD, TAIL};
use neurocycle_core::engine::noc::{Flit, Mesh, MeshParams, Sink};
use proptest::prelude::*;

/// Records deliveries; a core's work queue has room at the cycles
/// `blocked` lets through (every cycle when `blocked` is 0).
struct Recorder {
    got: Vec<(u32, Flit, u64)>,
    blocked: u64,
}

impl Sink for Recorder {
    fn room_at(&mut self, core: u32, now: u64) -> u64 {
        if self.blocked == u64::MAX {
            return u64::MAX;
        }
        // Room at cycles where (core + t) mod (blocked + 1) == 0.
        let m = self.blocked + 1;
        let r = (core as u64 + now) % m;
        if r == 0 {
            now
        } else {
            now + (m - r)
        }
    }
    fn accept(&mut self, core: u32, flit: Flit, now: u64) {
        self.got.push((core, flit, now));
    }
}

fn iq_params() -> impl Strategy<Value = InputQueued> {
    (
        (1u32..5, 0u32..3, 1u32..3, 1u32..3, 1u32..3, any::<bool>()),
        (any::<bool>(), 0u32..3, 1u32..3, 1u32..3),
        (0u32..3, 0u32..3, 0u32..3, 1u32..5),
    )
        .prop_map(
            |((vcs, rc, va, sa, xb, spec), (islip, cd, is, os), (ni, inj, ej, ejb))| InputQueued {
                vcs,
                routing_cycles: rc,
                vc_alloc_cycles: va,
                // Speculation shares one allocation stage.
                switch_alloc_cycles: if spec { va } else { sa },
                crossbar_cycles: xb,
                speculative: spec,
                allocator: if islip {
                    Allocator::Islip
                } else {
                    Allocator::SeparableInputFirst
                },
                credit_delay_cycles: cd,
                input_speedup: is,
                output_speedup: os,
                ni_latency_cycles: ni,
                injection_latency_cycles: inj,
                ejection_latency_cycles: ej,
                ejection_buffer_flits: ejb,
            },
        )
}

fn mesh_params(
    x: u32,
    y: u32,
    cpr: u32,
    depth: u32,
    link: u32,
    fc: u32,
    q: InputQueued,
) -> MeshParams {
    MeshParams {
        x,
        y,
        cores_per_router: cpr,
        buffer_depth: depth,
        router_latency: q.pipeline_cycles(),
        link_latency: link,
        flit_cycles: fc,
        iq: Some(q),
    }
}

/// A packet of `len` flits: `axon` carries the packet id, `payload` the
/// flit's place in it.
fn packet(id: u32, src: u32, dest: u32, len: u16) -> Vec<Flit> {
    (0..len)
        .map(|i| {
            let mut f = Flit::new(src, dest, id, i, 0);
            f.packet = (if i == 0 { HEAD } else { 0 }) | (if i + 1 == len { TAIL } else { 0 });
            f
        })
        .collect()
}

fn hops(p: &MeshParams, a: u32, b: u32) -> u64 {
    let (ta, tb) = (a / p.cores_per_router, b / p.cores_per_router);
    ((ta % p.x).abs_diff(tb % p.x) + (ta / p.x).abs_diff(tb / p.x)) as u64
}

/// Runs `packets` (source core, flits), each source sending its packets in
/// order as fast as its NI takes them, until the mesh is empty; checks
/// credits every cycle. Returns the deliveries.
fn run(p: MeshParams, packets: &[(u32, Vec<Flit>)], blocked: u64, limit: u64) -> (Mesh, Recorder) {
    let mut mesh = Mesh::new(p);
    let cores = p.x * p.y * p.cores_per_router;
    let mut queues: Vec<std::collections::VecDeque<Flit>> =
        vec![Default::default(); cores as usize];
    for (src, flits) in packets {
        queues[*src as usize].extend(flits.iter().copied());
    }
    let total: usize = packets.iter().map(|(_, f)| f.len()).sum();
    let mut sink = Recorder {
        got: vec![],
        blocked,
    };
    let mut now = 0;
    while (sink.got.len() < total) && now < limit {
        for (c, q) in queues.iter_mut().enumerate() {
            if !q.is_empty() && mesh.injection_room(c as u32) > 0 {
                mesh.inject(q.pop_front().unwrap(), now);
            }
        }
        mesh.step(now, &mut sink, false);
        if let Err(e) = mesh.input_queued().unwrap().check_credits() {
            panic!("cycle {now}: {e}");
        }
        now += 1;
    }
    (mesh, sink)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A single-flit packet alone in the mesh arrives exactly at the
    /// zero-load latency, for every pipeline setting.
    #[test]
    fn a_packet_alone_takes_the_zero_load_latency(
        q in iq_params(),
        (x, y, cpr) in (1u32..5, 1u32..5, 1u32..3),
        depth in 1u32..4,
        link in 1u32..4,
        fc in 1u32..3,
        (a, b) in (0u32..1000, 0u32..1000),
        start in 0u64..50,
    ) {
        let p = mesh_params(x, y, cpr, depth, link, fc, q);
        let cores = x * y * cpr;
        let (src, dest) = (a % cores, b % cores);
        let mut mesh = Mesh::new(p);
        let mut sink = Recorder { got: vec![], blocked: 0 };
        mesh.inject(packet(7, src, dest, 1)[0], start);
        let mut now = start;
        while sink.got.is_empty() && now < start + 10_000 {
            mesh.step(now, &mut sink, false);
            now = mesh.next_wake().max(now + 1);
        }
        prop_assert_eq!(sink.got.len(), 1);
        let (core, f, at) = sink.got[0];
        prop_assert_eq!(core, dest);
        prop_assert_eq!(f.axon, 7);
        prop_assert_eq!(at - start, p.zero_load_latency(hops(&p, src, dest)));
        prop_assert_eq!(mesh.stats().hops, hops(&p, src, dest));
        prop_assert_eq!(mesh.stats().router_traversals, hops(&p, src, dest) + 1);
        prop_assert_eq!(mesh.stats().stall_cycles, 0);
    }

    /// Random multi-flit traffic with back-pressured ejection: every flit
    /// arrives once, at its destination, in order within its packet; credits
    /// are conserved at every cycle.
    #[test]
    fn no_flit_is_lost_duplicated_or_reordered(
        q in iq_params(),
        (x, y, cpr) in (1u32..4, 1u32..4, 1u32..3),
        depth in 1u32..4,
        link in 1u32..3,
        fc in 1u32..3,
        blocked in prop_oneof![Just(0u64), 1u64..4],
        traffic in prop::collection::vec((0u32..100, 0u32..100, 1u16..5), 1..40),
    ) {
        let p = mesh_params(x, y, cpr, depth, link, fc, q);
        let cores = x * y * cpr;
        let packets: Vec<(u32, Vec<Flit>)> = traffic
            .iter()
            .enumerate()
            .map(|(id, &(a, b, len))| (a % cores, packet(id as u32, a % cores, b % cores, len)))
            .collect();
        let (mesh, sink) = run(p, &packets, blocked, 200_000);
        let total: usize = packets.iter().map(|(_, f)| f.len()).sum();
        prop_assert_eq!(sink.got.len(), total, "{}", mesh.describe_stuck());
        // Per packet: its flits in order 0, 1, ... at its destination.
        let mut next = vec![0u16; packets.len()];
        for (core, f, _) in &sink.got {
            let (src, flits) = &packets[f.axon as usize];
            prop_assert_eq!(*core, flits[0].dest_core);
            prop_assert_eq!(f.src_core, *src);
            prop_assert_eq!(f.payload, next[f.axon as usize], "packet {} out of order", f.axon);
            next[f.axon as usize] += 1;
        }
        prop_assert!(mesh.is_empty());
        prop_assert_eq!(mesh.stats().injected, total as u64);
        prop_assert_eq!(mesh.stats().ejected, total as u64);
        let manhattan: u64 = packets.iter().map(|(s, f)| hops(&p, *s, f[0].dest_core) * f.len() as u64).sum();
        prop_assert_eq!(mesh.stats().hops, manhattan);
    }
}

/// One VC and the default stages: a port moves a packet per VC-allocation
/// round (routing, VA, SA) at most, BookSim2's behaviour that the pipelined
/// router does not have; a second VC lifts it.
#[test]
fn one_vc_limits_a_port_to_one_packet_per_allocation_round() {
    let q = |vcs| InputQueued {
        vcs,
        ..InputQueued::default()
    };
    let stream = |p: MeshParams| {
        // 60 single-flit packets from core 0 to its east neighbour.
        let packets: Vec<_> = (0..60).map(|i| (0, packet(i, 0, 1, 1))).collect();
        let (_, sink) = run(p, &packets, 0, 10_000);
        assert_eq!(sink.got.len(), 60);
        let times: Vec<u64> = sink.got.iter().map(|g| g.2).collect();
        (times[59] - times[10]) as f64 / 49.0
    };
    let one = stream(mesh_params(2, 1, 1, 8, 1, 1, q(1)));
    let two = stream(mesh_params(2, 1, 1, 8, 1, 1, q(2)));
    // Routing 1 + VA 1 + SA 1: a head every 3 cycles in one VC.
    assert!((one - 3.0).abs() < 0.05, "one VC: {one} cycles per packet");
    assert!(two < 2.0, "two VCs: {two} cycles per packet");
}

/// A core that never takes flits: the mesh stops, says it can do nothing
/// more (no wake-up), and names the router, port, VC and flit.
#[test]
fn a_mesh_that_cannot_drain_says_where_it_stopped() {
    let p = mesh_params(3, 1, 1, 2, 1, 1, InputQueued::default());
    let mut mesh = Mesh::new(p);
    let mut sink = Recorder {
        got: vec![],
        blocked: u64::MAX,
    };
    let mut now = 0;
    let mut sent = 0;
    while now < 5_000 {
        if sent < 40 && mesh.injection_room(0) > 0 {
            mesh.inject(packet(sent, 0, 2, 1)[0], now);
            sent += 1;
        }
        mesh.step(now, &mut sink, false);
        now += 1;
    }
    assert!(sink.got.is_empty());
    assert_eq!(
        mesh.next_wake(),
        u64::MAX,
        "a stuck mesh must not ask to be stepped"
    );
    let msg = mesh.describe_stuck();
    assert!(
        msg.contains("router (")
            && msg.contains("input port")
            && msg.contains("VC 0")
            && msg.contains("from core 0 to core 2"),
        "{msg}"
    );
}

/// NoC mode with wormhole packets: rates stay in flits, every flit created
/// is delivered, queued or in the network, and below saturation accepted
/// equals offered. The pipelined router refuses them.
#[test]
fn multi_flit_packets_in_noc_mode_conserve_flits() {
    use neurocycle_core::traffic::{simulate, TrafficSpec};
    let p = mesh_params(4, 4, 1, 4, 1, 1, InputQueued::default());
    let spec = TrafficSpec {
        rate: 0.2,
        packet_flits: 4,
        warmup_cycles: 500,
        measure_cycles: 4_000,
        ..TrafficSpec::default()
    };
    spec.validate(&p, "t").unwrap();
    let r = simulate(p, &spec);
    assert!(!r.saturated);
    assert_eq!(
        r.created_total,
        r.flits_delivered + r.queued_end + r.in_network_end
    );
    assert!((r.offered - 0.2).abs() < 0.02, "offered {}", r.offered);
    assert!(
        (r.accepted - r.offered).abs() < 0.01,
        "{} vs {}",
        r.accepted,
        r.offered
    );
    assert_eq!(r.delivered, r.measured);
    // A packet's latency covers its four flits: at least the zero-load
    // latency plus three flit times.
    assert!(r.packet_latency_mean.unwrap() >= p.zero_load_latency(0) as f64 + 3.0);
    let mut pipelined = p;
    pipelined.iq = None;
    let e = spec.validate(&pipelined, "t").unwrap_err().to_string();
    assert!(
        e.contains("--packet-flits") && e.contains("router.input_queued"),
        "{e}"
    );
}

/// Ejection credits bound a hotspot: one VC, a 1-flit interface buffer
/// and a 4-cycle ejection channel let one flit into the hotspot every
/// 4 (there) + 4 (credit back) + 1 (crossbar) cycles, far below the
/// ejection port's 1 flit per cycle.
#[test]
fn ejection_credits_can_be_the_bottleneck() {
    use neurocycle_core::traffic::{simulate, Pattern, TrafficSpec};
    let q = InputQueued {
        vcs: 1,
        ejection_latency_cycles: 4,
        ejection_buffer_flits: 1,
        ..InputQueued::default()
    };
    let hotspot = |q: InputQueued| {
        let p = mesh_params(3, 3, 1, 4, 1, 1, q);
        let spec = TrafficSpec {
            pattern: Pattern::Hotspot {
                node: 4,
                fraction: 1.0,
            },
            rate: 1.0 / 9.0,
            warmup_cycles: 1_000,
            measure_cycles: 9_000,
            drain: false,
            ..TrafficSpec::default()
        };
        simulate(p, &spec).accepted * 9.0
    };
    let limited = hotspot(q);
    assert!(
        (limited - 1.0 / 9.0).abs() < 0.005,
        "hotspot takes {limited} flits/cycle"
    );
    // With credits to spare, one VC still allocates a packet per two
    // cycles (VA, then SA: BookSim2's 1/2 flit per cycle); four VCs
    // overlap the allocations and the port takes a flit per cycle.
    let one_vc = hotspot(InputQueued {
        ejection_buffer_flits: 16,
        ..q
    });
    assert!((one_vc - 0.5).abs() < 0.01, "one VC: {one_vc}");
    let four = hotspot(InputQueued {
        vcs: 4,
        ejection_buffer_flits: 16,
        ..q
    });
    assert!(four > 0.95, "four VCs: {four}");
}
