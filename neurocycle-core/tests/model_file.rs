//! Model files: RON and binary (`.ncm`) round trips are lossless, and a
//! truncated, corrupted or lying binary file is a one-line error that
//! allocates no more than a small multiple of the file's size.

mod common;

use neurocycle_core::model::{file, ncm, Model};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the bytes of the largest single allocation made by a thread
/// that asked to be watched (this test binary's allocator): the other
/// tests run on threads of their own at the same time and allocate freely.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note(size: usize) {
    if WATCHED.try_with(|w| w.get()).unwrap_or(false) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

fn decode_checked(bytes: &[u8]) -> Result<Model, String> {
    file::from_bytes("case.ncm", bytes).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ron_and_binary_round_trips_are_lossless(case in common::graph::graph_case()) {
        let model = case.build();
        let bytes = ncm::encode(&model);
        prop_assert_eq!(&decode_checked(&bytes).unwrap(), &model);
        let text = model.to_ron();
        let back = Model::parse("case.ron", &text).unwrap();
        prop_assert_eq!(&back, &model);
        prop_assert_eq!(ncm::encode(&back), bytes);
    }

    /// A changed byte or a truncation anywhere gives an error, never a
    /// panic.
    #[test]
    fn damaged_binary_files_are_refused(
        case in common::graph::graph_case(),
        at in any::<prop::sample::Index>(),
        x in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = ncm::encode(&case.build());
        let mut flipped = bytes.clone();
        flipped[at.index(bytes.len())] ^= x;
        let e = decode_checked(&flipped).unwrap_err();
        prop_assert!(e.starts_with("case.ncm") && !e.contains('\n'), "{}", e);
        let short = &bytes[..cut.index(bytes.len())];
        let e = decode_checked(short).unwrap_err();
        prop_assert!(e.starts_with("case.ncm") && !e.contains('\n'), "{}", e);
    }
}

/// Re-seals a file after editing its body, so the checksum passes and the
/// lie reaches the size checks.
fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    body.extend_from_slice(&crc.sum().to_le_bytes());
    body
}

#[test]
fn a_header_that_lies_about_its_sizes_allocates_nothing_big() {
    let text = include_str!("../../models/tiny.ron");
    let model = Model::parse("tiny.ron", text).unwrap();
    let bytes = ncm::encode(&model);
    let body = bytes[..bytes.len() - 4].to_vec();
    // The skeleton's length, then the first blob's length and its weight
    // count, each claimed to be about 10^12.
    let skel = u64::from_le_bytes(body[16..24].try_into().unwrap()) as usize;
    let first_blob = 24 + skel;
    for (at, what) in [
        (16, "skeleton"),
        (first_blob, "projection 0"),
        (first_blob + 8, "projection 0"),
    ] {
        let mut lie = body.clone();
        lie[at..at + 8].copy_from_slice(&1_000_000_000_000u64.to_le_bytes());
        let sealed = reseal(lie);
        LARGEST.store(0, Ordering::Relaxed);
        WATCHED.with(|w| w.set(true));
        let e = decode_checked(&sealed).unwrap_err();
        WATCHED.with(|w| w.set(false));
        assert!(e.contains(what) && !e.contains('\n'), "{e}");
        assert!(
            LARGEST.load(Ordering::Relaxed) < 64 * bytes.len() + (1 << 16),
            "allocated {} bytes for a {}-byte file",
            LARGEST.load(Ordering::Relaxed),
            bytes.len()
        );
    }
    // A wrong version and a wrong magic name themselves.
    let mut v2 = body.clone();
    v2[8] = 2;
    assert!(decode_checked(&reseal(v2))
        .unwrap_err()
        .contains("version 2"));
    let e = decode_checked(b"NCMODEL\0short").unwrap_err();
    assert!(e.contains("shorter than"), "{e}");
}

#[test]
fn a_large_sparse_model_is_compact_and_loads_back() {
    use neurocycle_core::model::gen::{generate, GenSpec, Storage};
    let spec = GenSpec {
        layers: vec![512, 4096, 4096],
        storage: Storage::Lists,
        fan_in: Some(40),
        locality: Some(512),
        recurrent: 8,
        ..GenSpec::default()
    };
    let model = generate(&spec);
    let synapses = model.n_synapses();
    assert_eq!(synapses, (4096 * 40 + 4096 * 40 + 4096 * 8) as u64);
    let bytes = ncm::encode(&model);
    // 4-bit weights and target gaps of a local fan-in: under 3 bytes each.
    assert!(
        (bytes.len() as f64) < 3.0 * synapses as f64,
        "{} bytes for {synapses} synapses",
        bytes.len()
    );
    assert_eq!(decode_checked(&bytes).unwrap(), model);
}
