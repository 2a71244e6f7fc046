//! Data set loaders: the embedded MNIST subset splits by its documented
//! rule, Fashion-MNIST loads when installed, and bad files are refused
//! with a message naming the file and what was wrong.

use neurocycle::data::idx::{encode, parse};
use neurocycle::data::{images_and_labels, load};
use neurocycle::error::Error;

fn class_counts(labels: &[u8]) -> [usize; 10] {
    let mut c = [0; 10];
    for l in labels {
        c[*l as usize] += 1;
    }
    c
}

#[test]
fn mnist_subset_splits_8000_2000_with_its_documented_class_counts() {
    let d = load("mnist", None).unwrap();
    assert_eq!(d.shape, (1, 28, 28));
    assert_eq!((d.train.len(), d.test.len()), (8_000, 2_000));
    assert_eq!(d.train.sample(0).len(), 784);
    // The per-class counts data/mnist10k/README.md gives for each split.
    assert_eq!(
        class_counts(&d.train.labels),
        [810, 913, 786, 805, 799, 685, 807, 862, 745, 788]
    );
    assert_eq!(
        class_counts(&d.test.labels),
        [191, 214, 205, 227, 181, 178, 207, 208, 199, 190]
    );
    // Digits: mostly background, some full ink.
    let img = d.train.sample(0);
    assert!(img.iter().filter(|p| **p == 0).count() > 400);
    assert!(img.iter().any(|p| *p > 200));
}

#[test]
fn fashion_mnist_loads_when_installed_and_says_how_when_not() {
    let dir = std::path::Path::new(neurocycle::data::FASHION_MNIST_DIR);
    if dir.join("train-images-idx3-ubyte.gz").exists() {
        let d = load("fashion-mnist", None).unwrap();
        assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
        assert_eq!(class_counts(&d.test.labels), [1_000; 10]);
    }
    let empty = std::env::temp_dir().join(format!("nc-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let e = load("fashion-mnist", Some(&empty)).unwrap_err().to_string();
    assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
    let e = load("cifar", None).unwrap_err().to_string();
    assert!(
        e.contains("--dataset = cifar") && e.contains("mnist"),
        "{e}"
    );
}

fn err(images: &[u8], labels: &[u8]) -> String {
    match images_and_labels((images, "img.idx"), (labels, "lab.idx"), 10) {
        Err(e @ Error::Invalid { .. }) => e.to_string(),
        other => panic!("expected an invalid-file error, got {other:?}"),
    }
}

#[test]
fn bad_files_are_refused_with_file_field_and_expectation() {
    let images = encode(&[3, 2, 2], &[0; 12]);
    let labels = encode(&[3], &[1, 2, 3]);
    assert!(images_and_labels((&images, "i"), (&labels, "l"), 10).is_ok());

    // Truncated: one image short of its header's count.
    let e = err(&images[..images.len() - 4], &labels);
    assert!(
        e.contains("img.idx") && e.contains("8 bytes") && e.contains("truncated"),
        "{e}"
    );
    // Mislabelled: a class that does not exist.
    let e = err(&images, &encode(&[3], &[1, 12, 3]));
    assert!(
        e.contains("lab.idx: label[1] = 12: expected 0 ..= 9"),
        "{e}"
    );
    // Labels that do not match the images.
    let e = err(&images, &encode(&[2], &[1, 2]));
    assert!(
        e.contains("lab.idx: count = 2") && e.contains("3 labels"),
        "{e}"
    );
    // Not an IDX file at all, or the wrong element type.
    let e = err(b"hello world", &labels);
    assert!(e.contains("magic number"), "{e}");
    let mut wrong_type = images.clone();
    wrong_type[2] = 0x0D;
    assert!(err(&wrong_type, &labels).contains("0x0d"));
    // Images and labels swapped.
    let e = err(&labels, &images);
    assert!(e.contains("img.idx: dimensions"), "{e}");
    // A gzip stream cut short.
    let gz = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&images).unwrap();
        enc.finish().unwrap()
    };
    assert_eq!(parse(&gz, "x").unwrap().dims, vec![3, 2, 2]);
    let e = parse(&gz[..gz.len() / 2], "cut.gz")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.gz: gzip stream"), "{e}");
}

#[test]
fn dvs_gestures_are_seeded_balanced_event_frames() {
    use neurocycle::data::gestures;
    let d = load("dvs-gestures", None).unwrap();
    assert!(d.classes >= 8);
    assert_eq!(d.shape, (2, 32, 32));
    assert_eq!(d.frames, gestures::FRAMES);
    assert_eq!(
        class_counts(&d.test.labels[..])
            .iter()
            .filter(|c| **c == gestures::TEST / gestures::CLASSES)
            .count(),
        10
    );
    assert_eq!((d.train.len(), d.test.len()), (1600, 2000));
    // Seeded: the same sample twice; ON and OFF events both occur.
    assert_eq!(gestures::sample(7, 3), gestures::sample(7, 3));
    let s = d.train.sample(0);
    let px = 32 * 32;
    let on: u32 = (0..gestures::FRAMES)
        .flat_map(|f| s[f * 2 * px..(f * 2 + 1) * px].iter())
        .map(|c| *c as u32)
        .sum();
    let off: u32 = (0..gestures::FRAMES)
        .flat_map(|f| s[(f * 2 + 1) * px..(f * 2 + 2) * px].iter())
        .map(|c| *c as u32)
        .sum();
    assert!(on > 20 && off > 20, "on {on} off {off}");
    // Motion direction is in the events: a bar sweeping right lights its
    // left half first, one sweeping left its right half.
    let centre_x = |s: &[u8], f: usize| {
        let (mut m, mut n) = (0.0, 0.0);
        for p in 0..2 * px {
            let c = s[f * 2 * px + p] as f64;
            m += c * (p % 32) as f64;
            n += c;
        }
        m / n.max(1.0)
    };
    let right = gestures::sample(1000, 0);
    let left = gestures::sample(1000, 1);
    let drift = |s: &[u8]| {
        (1..gestures::FRAMES)
            .map(|f| centre_x(s, f) - centre_x(s, f - 1))
            .filter(|d| d.abs() < 10.0) // skip the wrap-around
            .sum::<f64>()
    };
    assert!(drift(&right) > 0.0 && drift(&left) < 0.0);
}
