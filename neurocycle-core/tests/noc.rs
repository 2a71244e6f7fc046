//! NoC characterization (`neurocycle noc`): synthetic traffic on the chip's
//! own mesh. Every packet is followed: created once, delivered once, to the
//! node its pattern names; zero-load latency is the documented formula;
//! throughput and saturation behave as queueing says they must.

use neurocycle_core::engine::noc::MeshParams;
use neurocycle_core::traffic::search::find_saturation;
use neurocycle_core::traffic::{
    simulate, simulate_observed, Pattern, TrafficObserver, TrafficSpec,
};
use proptest::prelude::*;
use std::collections::HashMap;

fn mesh(x: u32, y: u32) -> MeshParams {
    MeshParams {
        x,
        y,
        cores_per_router: 1,
        buffer_depth: 4,
        router_latency: 2,
        link_latency: 1,
        flit_cycles: 1,
        iq: None,
    }
}

/// A delivery: (core, injection cycle, ejection cycle).
type Delivery = (u32, u64, u64);

/// Every packet, by (source node, creation cycle): its destination node and
/// its deliveries.
#[derive(Default)]
struct Ledger {
    packets: HashMap<(u32, u64), (u32, Vec<Delivery>)>,
    duplicate_creations: u32,
}

impl TrafficObserver for Ledger {
    fn created(&mut self, node: u32, cycle: u64, dest: u32) {
        if self.packets.insert((node, cycle), (dest, vec![])).is_some() {
            self.duplicate_creations += 1;
        }
    }
    fn delivered(&mut self, src: u32, created: u64, core: u32, injected: u64, now: u64) {
        self.packets
            .get_mut(&(src, created))
            .expect("delivered packet was created")
            .1
            .push((core, injected, now));
    }
}

fn hops(a: u32, b: u32, p: &MeshParams) -> u64 {
    ((a % p.x).abs_diff(b % p.x) + (a / p.x).abs_diff(b / p.x)) as u64
}

/// The documented zero-load latency (docs/noc.md).
fn zero_load(p: &MeshParams, h: u64) -> u64 {
    (h + 1) * p.router_latency as u64 + h * (p.link_latency + p.flit_cycles - 1) as u64
}

fn pattern_strategy() -> impl Strategy<Value = u8> {
    0u8..5
}

fn pattern(k: u8, p: &MeshParams, hot: u32) -> Pattern {
    match k {
        0 => Pattern::Uniform,
        1 if p.x == p.y => Pattern::Transpose,
        1 | 2 => Pattern::BitComplement,
        3 => Pattern::Neighbor,
        _ => Pattern::Hotspot {
            node: hot % (p.x * p.y),
            fraction: 0.7,
        },
    }
}

fn expected_dest(pat: Pattern, src: u32, p: &MeshParams) -> Option<u32> {
    let (x, y) = (src % p.x, src / p.x);
    match pat {
        Pattern::Transpose => Some(x * p.x + y),
        Pattern::BitComplement => Some((p.y - 1 - y) * p.x + (p.x - 1 - x)),
        Pattern::Neighbor => Some(((y + 1) % p.y) * p.x + (x + 1) % p.x),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Exactly-once delivery to the right node, conservation, and a run
    /// that ends under any load (far above saturation included).
    #[test]
    fn every_packet_delivered_once_to_its_node(
        x in 1u32..6, y in 1u32..6, cpr in 1u32..3, depth in 1u32..5,
        rl in 1u32..4, ll in 1u32..3, fc in 1u32..3,
        k in pattern_strategy(), hot in 0u32..36,
        rate in prop_oneof![0.0f64..0.2, 0.2f64..1.0, Just(1.0)],
        seed in 0u64..1000,
    ) {
        let p = MeshParams { x, y, cores_per_router: cpr, buffer_depth: depth,
            router_latency: rl, link_latency: ll, flit_cycles: fc, iq: None };
        let pat = pattern(k, &p, hot);
        let spec = TrafficSpec { pattern: pat, rate, warmup_cycles: 100,
            measure_cycles: 400, max_drain_cycles: 300, drain: true, seed,
            packet_flits: 1 };
        let mut ledger = Ledger::default();
        let r = simulate_observed(p, &spec, &mut ledger);
        prop_assert_eq!(ledger.duplicate_creations, 0);
        prop_assert_eq!(ledger.packets.len() as u64, r.created_total);
        let mut delivered = 0;
        for (&(src, _), (dest, got)) in &ledger.packets {
            if let Some(d) = expected_dest(pat, src, &p) {
                prop_assert_eq!(*dest, d);
            }
            prop_assert!(*dest < x * y);
            prop_assert!(got.len() <= 1, "packet delivered {} times", got.len());
            for &(core, injected, now) in got {
                prop_assert_eq!(core, dest * cpr, "ejected at the wrong core");
                prop_assert!(now >= injected + zero_load(&p, hops(src, *dest, &p)));
                delivered += 1;
            }
        }
        prop_assert_eq!(delivered, r.flits_delivered);
        prop_assert_eq!(r.created_total, r.flits_delivered + r.queued_end + r.in_network_end);
        prop_assert_eq!(r.delivered, r.measured.min(r.delivered));
        // Latencies exist exactly when a measured packet was delivered.
        prop_assert_eq!(r.packet_latency_mean.is_some(), r.delivered > 0);
        prop_assert_eq!(r.packet_latency_p99.is_some(), r.delivered > 0);
        // Every node offering a flit per cycle to random nodes overloads
        // some ejection port: far above saturation, and reported so.
        if pat == Pattern::Uniform && rate == 1.0 && x * y >= 4 {
            prop_assert!(r.saturated, "uniform at 1 flit/node/cycle must saturate");
        }
        // Links never carry more than one flit per flit time.
        for load in &r.link_load {
            prop_assert!(*load <= 1.0 / fc as f64 + 1e-9);
        }
    }

    /// Zero-load latency equals the formula for every packet, over hop
    /// counts 0 to 8 and several router, link and flit timings.
    #[test]
    fn zero_load_latency_is_the_formula(
        x in 1u32..6, y in 1u32..6, rl in 1u32..5, ll in 1u32..4, fc in 1u32..4,
        k in 0u8..4, seed in 0u64..100,
    ) {
        let p = MeshParams { x, y, cores_per_router: 1, buffer_depth: 2,
            router_latency: rl, link_latency: ll, flit_cycles: fc, iq: None };
        let pat = pattern(k, &p, 0);
        // About one packet in the whole mesh at a time: no contention.
        let rate = 0.02 / (x * y) as f64 / (fc * 8) as f64;
        let spec = TrafficSpec { pattern: pat, rate, warmup_cycles: 0,
            measure_cycles: 20_000, max_drain_cycles: 1_000, drain: true, seed,
            packet_flits: 1 };
        let mut ledger = Ledger::default();
        let r = simulate_observed(p, &spec, &mut ledger);
        prop_assert!(r.measured > 0);
        // Packets are rare but random: the odd pair that is in flight at the
        // same time may meet and only then be slower than the formula.
        let mut lives: Vec<(u64, u64)> = ledger.packets.iter()
            .flat_map(|(&(_, created), (_, got))| got.iter().map(move |&(_, _, now)| (created, now)))
            .collect();
        lives.sort_unstable();
        let alone = |c: u64, n: u64| lives.iter().filter(|&&(c2, n2)| c2 <= n && c <= n2).count() == 1;
        let (mut seen, mut exact) = (0, 0);
        for (&(src, created), (dest, got)) in &ledger.packets {
            for &(_, injected, now) in got {
                let formula = zero_load(&p, hops(src, *dest, &p));
                seen += 1;
                if alone(created, now) {
                    prop_assert_eq!(injected, created, "no source queueing at zero load");
                    prop_assert_eq!(now - created, formula,
                        "{}x{} rl {} ll {} fc {}: {} hops", x, y, rl, ll, fc, hops(src, *dest, &p));
                    exact += 1;
                } else {
                    prop_assert!(now - created >= formula, "faster than the zero-load formula");
                }
            }
        }
        prop_assert!(exact * 2 >= seen, "only {} of {} packets were alone in the mesh", exact, seen);
        prop_assert_eq!(seen, r.flits_delivered);
    }
}

#[test]
fn zero_load_covers_zero_to_eight_hops() {
    // Corner to corner of a 5x5 mesh is 8 hops; bit complement sends every
    // node to its mirror, so hop counts 0 (the centre) to 8 all occur.
    let p = MeshParams {
        router_latency: 3,
        link_latency: 2,
        flit_cycles: 2,
        iq: None,
        ..mesh(5, 5)
    };
    let spec = TrafficSpec {
        pattern: Pattern::BitComplement,
        rate: 0.0005,
        warmup_cycles: 0,
        measure_cycles: 40_000,
        seed: 3,
        ..TrafficSpec::default()
    };
    let mut ledger = Ledger::default();
    simulate_observed(p, &spec, &mut ledger);
    // Per hop count: (fewest cycles, packets, packets at the formula).
    // The rare packet that meets another may only be slower.
    let mut by_hops = std::collections::BTreeMap::<u64, (u64, u32, u32)>::new();
    for (&(src, created), (dest, got)) in &ledger.packets {
        for &(_, _, now) in got {
            let h = hops(src, *dest, &p);
            let e = by_hops.entry(h).or_insert((u64::MAX, 0, 0));
            e.0 = e.0.min(now - created);
            e.1 += 1;
            e.2 += (now - created == zero_load(&p, h)) as u32;
        }
    }
    assert_eq!(by_hops.keys().copied().collect::<Vec<_>>(), [0, 2, 4, 6, 8]);
    for (h, (min, n, exact)) in by_hops {
        assert_eq!(min, zero_load(&p, h), "{h} hops");
        assert!(
            exact * 10 >= n * 9,
            "{h} hops: {exact} of {n} at zero-load latency"
        );
    }
}

#[test]
fn accepted_equals_offered_below_saturation() {
    let p = mesh(4, 4);
    for (pat, rate) in [
        (Pattern::Uniform, 0.2),
        (Pattern::Transpose, 0.15),
        (Pattern::Neighbor, 0.5),
        (Pattern::BitComplement, 0.1),
    ] {
        let spec = TrafficSpec {
            pattern: pat,
            rate,
            measure_cycles: 20_000,
            ..TrafficSpec::default()
        };
        let r = simulate(p, &spec);
        let n = (16 * spec.measure_cycles) as f64;
        let sigma = (rate * (1.0 - rate) / n).sqrt();
        assert!(
            (r.offered - rate).abs() < 4.0 * sigma,
            "{pat:?}: offered {} vs rate {rate}",
            r.offered
        );
        // What is in flight at the window's edges is all that may differ.
        assert!(
            (r.accepted - r.offered).abs() * n <= (r.backlog_start + r.backlog_end) as f64,
            "{pat:?}: accepted {} offered {}",
            r.accepted,
            r.offered
        );
        assert!(!r.saturated, "{pat:?} at {rate} should not saturate");
        assert_eq!(r.delivered, r.measured);
    }
}

#[test]
fn uniform_mean_hops_and_link_loads() {
    let p = mesh(8, 8);
    let spec = TrafficSpec {
        rate: 0.1,
        ..TrafficSpec::default()
    };
    let r = simulate(p, &spec);
    // Uniform over k x k, sender included: E[hops] = 2 (k^2 - 1) / (3 k).
    let expect = 2.0 * 63.0 / 24.0;
    assert!(
        (r.hops_mean.unwrap() - expect).abs() < 0.05,
        "mean hops {:?}",
        r.hops_mean
    );
    // Link loads are the window's hops, per cycle.
    let sum: f64 = r.link_load.iter().sum();
    assert_eq!(
        (sum * spec.measure_cycles as f64).round() as u64,
        r.window_hops
    );
    // Each flit crosses hops + 1 routers.
    assert!(r.window_router_traversals > r.window_hops);
}

#[test]
fn hotspot_saturates_at_its_ejection_bound() {
    // All 16 nodes send to one: its single ejection port takes 1 flit per
    // cycle, so saturation is at 1/16 flits per node per cycle.
    let p = mesh(4, 4);
    let spec = TrafficSpec {
        pattern: Pattern::Hotspot {
            node: 5,
            fraction: 1.0,
        },
        measure_cycles: 20_000,
        ..TrafficSpec::default()
    };
    let s = find_saturation(p, &spec, 0.0005);
    let bound = 1.0 / 16.0;
    let above = s.above.expect("saturates");
    assert!(above - s.below <= 0.0005);
    assert!(
        (s.estimate() - bound).abs() < 0.03 * bound,
        "saturation {} vs bound {bound}",
        s.estimate()
    );
    // Far above it, the node still ejects one flit per cycle, no more.
    let r = simulate(
        p,
        &TrafficSpec {
            rate: 0.5,
            drain: false,
            ..spec
        },
    );
    assert!(r.saturated);
    assert!((r.accepted * 16.0 - 1.0).abs() < 0.01, "{}", r.accepted);
}

#[test]
fn saturation_far_above_is_reported_and_ends() {
    let p = mesh(6, 6);
    // Above the bisection bound (4/6) but not so far that the source
    // queues reach their cap before the drain's.
    let spec = TrafficSpec {
        rate: 0.8,
        warmup_cycles: 100,
        measure_cycles: 1_000,
        max_drain_cycles: 500,
        ..TrafficSpec::default()
    };
    let r = simulate(p, &spec);
    assert!(r.saturated);
    assert!(r.delivered < r.measured, "the drain cap was reached");
    assert_eq!(r.stopped_at, None, "the queues stayed under their cap");
    assert!(r.backlog_end > r.backlog_start);
    assert!(r.accepted < 0.6, "{}", r.accepted);
}

#[test]
fn runs_are_deterministic_and_seeded() {
    let p = mesh(4, 4);
    let spec = TrafficSpec {
        rate: 0.3,
        ..TrafficSpec::default()
    };
    assert_eq!(simulate(p, &spec), simulate(p, &spec));
    let other = simulate(p, &TrafficSpec { seed: 2, ..spec });
    assert_ne!(
        simulate(p, &spec).packet_latency_mean,
        other.packet_latency_mean
    );
}

#[test]
fn curve_does_not_depend_on_jobs() {
    let p = mesh(4, 4);
    let spec = TrafficSpec {
        measure_cycles: 2_000,
        ..TrafficSpec::default()
    };
    let rates = [0.05, 0.2, 0.4, 0.6];
    let one = neurocycle_core::traffic::search::run_rates(p, &spec, &rates, 1, &|| {});
    let two = neurocycle_core::traffic::search::run_rates(p, &spec, &rates, 2, &|| {});
    assert_eq!(one, two);
    assert!(one.windows(2).all(|w| w[0].rate < w[1].rate));
}

/// The channel-load bound is the known capacity: 1/N at a hotspot of N
/// senders, 4/k for uniform traffic on an even k x k mesh (its bisection),
/// 1 (injection) for neighbour traffic.
#[test]
fn capacity_bound_is_the_known_capacity() {
    use neurocycle_core::traffic::capacity_bound;
    let hot = Pattern::Hotspot {
        node: 9,
        fraction: 1.0,
    };
    for k in [4u32, 8, 64] {
        let p = mesh(k, k);
        let n = (k * k) as f64;
        assert!(
            (capacity_bound(hot, &p) - 1.0 / n).abs() < 1e-12,
            "hotspot {k}x{k}"
        );
        assert!(
            (capacity_bound(Pattern::Uniform, &p) - (4.0 / k as f64).min(1.0)).abs() < 1e-12,
            "uniform {k}x{k}"
        );
    }
    assert_eq!(capacity_bound(Pattern::Neighbor, &mesh(4, 4)), 1.0);
    // Two link cycles per flit halve what a link carries.
    let slow = MeshParams {
        flit_cycles: 2,
        iq: None,
        ..mesh(8, 8)
    };
    assert!((capacity_bound(Pattern::Uniform, &slow) - 0.25).abs() < 1e-12);
}

/// The saturation search never lands above the channel-load bound (it did
/// for hotspot traffic: 0.0161 on 8x8, where the bound is 1/64).
#[test]
fn saturation_estimates_stay_under_the_bound() {
    use neurocycle_core::traffic::capacity_bound;
    let spec = TrafficSpec {
        measure_cycles: 4_000,
        ..TrafficSpec::default()
    };
    for (p, pattern) in [
        (
            mesh(8, 8),
            Pattern::Hotspot {
                node: 36,
                fraction: 1.0,
            },
        ),
        (mesh(4, 4), Pattern::Uniform),
        (mesh(4, 4), Pattern::Transpose),
    ] {
        let spec = TrafficSpec {
            pattern,
            ..spec.clone()
        };
        let bound = capacity_bound(pattern, &p);
        let s = find_saturation(p, &spec, 0.02 * bound);
        assert!(
            s.estimate() <= bound,
            "{pattern:?}: {} > {bound}",
            s.estimate()
        );
        assert!(s.above.unwrap() - s.below <= 0.02 * bound + 1e-12);
        // Only a bound of 1 (injection) is probed: below 1 it is known.
        assert!(
            s.probes.iter().all(|(r, _)| *r < bound || bound == 1.0),
            "{:?}",
            s.probes
        );
    }
}

/// Far above saturation a large mesh stops at the source-queue cap instead
/// of queueing without bound (64x64 at rate 1 reached 7.3 GB), and says so.
#[test]
fn a_run_far_above_saturation_stops_at_the_queue_cap() {
    use neurocycle_core::traffic::MAX_QUEUED_PER_NODE;
    let p = mesh(32, 32);
    let r = simulate(
        p,
        &TrafficSpec {
            rate: 1.0,
            ..TrafficSpec::default()
        },
    );
    let stop = r.stopped_at.expect("stopped at the cap");
    assert!(stop < 2_000, "stopped in the warm-up, at {stop}");
    assert!(r.saturated);
    assert!(r.queued_end <= MAX_QUEUED_PER_NODE * 1024 + 1024);
    assert_eq!((r.measured, r.delivered), (0, 0));
    assert_eq!((r.packet_latency_mean, r.packet_latency_max), (None, None));
    assert!(
        r.offered > 0.9 && r.accepted < 0.2,
        "{} {}",
        r.offered,
        r.accepted
    );
    assert_eq!(
        r.created_total,
        r.flits_delivered + r.queued_end + r.in_network_end
    );
}
