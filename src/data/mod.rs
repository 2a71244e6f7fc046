//! Labelled data sets behind one interface: a train and a test split of
//! fixed-shape 8-bit samples with class labels. The trainer, `eval` and
//! `run --dataset` read only this.
//!
//! - `mnist`: the 10,000-image MNIST subset embedded from `data/mnist10k`
//!   (provenance in its README), split by a fixed rule: the first 8,000
//!   train, the last 2,000 test.
//! - `fashion-mnist`: the full set (60,000 + 10,000) in IDX files, from
//!   Debian's `dataset-fashion-mnist` or a directory the user gives.

pub mod gestures;
pub mod idx;
pub mod recorded;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One split: `n` samples of `sample_len` bytes each, and their labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub samples: Vec<u8>,
    pub labels: Vec<u8>,
    pub sample_len: usize,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn sample(&self, i: usize) -> &[u8] {
        &self.samples[i * self.sample_len..(i + 1) * self.sample_len]
    }

    /// The first `n` samples (all if fewer).
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split {
            samples: self.samples[..n * self.sample_len].to_vec(),
            labels: self.labels[..n].to_vec(),
            sample_len: self.sample_len,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    /// Channels, height, width of a sample.
    pub shape: (usize, usize, usize),
    pub classes: usize,
    pub train: Split,
    pub test: Split,
    /// Where the data came from, for model metadata and reports.
    pub source: String,
    /// 1 for images; for event data the frames of a sample, each
    /// `shape` (polarity channels x height x width) of event counts.
    pub frames: usize,
}

/// Names `load` accepts.
pub const NAMES: [&str; 3] = ["mnist", "fashion-mnist", "dvs-gestures"];

/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

const MNIST_IMAGES: &[u8] = include_bytes!("../../data/mnist10k/images-idx3-ubyte.gz");
const MNIST_LABELS: &[u8] = include_bytes!("../../data/mnist10k/labels-idx1-ubyte.gz");

/// Loads data set `name`; `dir` overrides where its files are (ignored by
/// the embedded `mnist`).
pub fn load(name: &str, dir: Option<&Path>) -> Result<Dataset> {
    if let (Some(d), "mnist" | "dvs-gestures") = (dir, name) {
        return Err(Error::Usage(format!(
            "--data-dir {}: {name} is built in; --data-dir is for fashion-mnist",
            d.display()
        )));
    }
    match name {
        "mnist" => {
            let (shape, all) = images_and_labels(
                (
                    MNIST_IMAGES,
                    "data/mnist10k/images-idx3-ubyte.gz (embedded)",
                ),
                (
                    MNIST_LABELS,
                    "data/mnist10k/labels-idx1-ubyte.gz (embedded)",
                ),
                10,
            )?;
            let cut = 8_000;
            let (train, test) = (all.head(cut), tail(&all, cut));
            Ok(Dataset {
                name: name.into(),
                shape,
                classes: 10,
                train,
                test,
                source: "MNIST 10,000-image subset (data/mnist10k/README.md); first 8,000 train, last 2,000 test".into(),
                frames: 1,
            })
        }
        "fashion-mnist" => {
            let dir = dir.map_or_else(|| PathBuf::from(FASHION_MNIST_DIR), Path::to_path_buf);
            let read = |stem: &str| -> Result<(Vec<u8>, String)> {
                for name in [format!("{stem}.gz"), stem.to_string()] {
                    let p = dir.join(&name);
                    if p.exists() {
                        let bytes = std::fs::read(&p).map_err(|source| Error::Read {
                            path: p.clone(),
                            source,
                        })?;
                        return Ok((bytes, p.display().to_string()));
                    }
                }
                Err(Error::Usage(format!(
                    "fashion-mnist: {} has no {stem}(.gz); install it with `apt-get install dataset-fashion-mnist` or pass the directory that holds the IDX files",
                    dir.display()
                )))
            };
            let mut splits = vec![];
            let mut shape = (0, 0, 0);
            for prefix in ["train", "t10k"] {
                let (img, img_file) = read(&format!("{prefix}-images-idx3-ubyte"))?;
                let (lab, lab_file) = read(&format!("{prefix}-labels-idx1-ubyte"))?;
                let (s, split) = images_and_labels((&img, &img_file), (&lab, &lab_file), 10)?;
                shape = s;
                splits.push(split);
            }
            let test = splits.pop().expect("two splits");
            let train = splits.pop().expect("two splits");
            Ok(Dataset {
                name: name.into(),
                shape,
                classes: 10,
                train,
                test,
                source: format!(
                    "Fashion-MNIST, {} (train 60,000, t10k 10,000)",
                    dir.display()
                ),
                frames: 1,
            })
        }
        "dvs-gestures" => {
            let (train, test) = gestures::generate();
            Ok(Dataset {
                name: name.into(),
                shape: (2, gestures::SIZE, gestures::SIZE),
                classes: gestures::CLASSES,
                train,
                test,
                source: format!(
                    "SYNTHETIC event-camera gestures from neurocycle's emulator (src/data/gestures.rs), seed {:#x}; {} train, {} test, {} frames",
                    gestures::SEED,
                    gestures::TRAIN,
                    gestures::TEST,
                    gestures::FRAMES
                ),
                frames: gestures::FRAMES,
            })
        }
        other => Err(Error::invalid(
            "command line",
            "--dataset",
            other,
            NAMES.join(", "),
        )),
    }
}

impl Dataset {
    /// Checks that `model` (read from `file`) takes this data set's samples.
    pub fn check_model(&self, model: &crate::model::Model, file: &str) -> Result<()> {
        let (c, h, w) = self.shape;
        if model.input.size != c * h * w {
            return Err(Error::invalid(
                file,
                "input.size",
                model.input.size,
                format!("{} for {}", c * h * w, self.name),
            ));
        }
        Ok(())
    }
}

/// The stimulus seed the trainer measured a model's accuracy with (in its
/// metadata), so `eval` and `run --dataset` see the same inputs; else 1.
pub fn recorded_seed(model: &crate::model::Model) -> u64 {
    model
        .metadata
        .get("test_stimulus_seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// The stimulus of sample `i` of a split: an image through
/// [`from_image`](crate::model::stimulus::encode_image) when `frames` is 1;
/// event frames binned into the timesteps otherwise (frame f goes to
/// timestep `f * T / frames`; `spikes`: an input spikes if it had an event
/// in the bin; `graded`: the event count, capped, is the payload).
pub fn stimulus(
    encoding: crate::model::InputEncoding,
    timesteps: u32,
    frames: usize,
    sample: &[u8],
    seed: u64,
    index: u64,
    label: Option<u32>,
) -> crate::model::stimulus::Stimulus {
    use crate::model::stimulus::{encode_image, InputEvent, Stimulus};
    use crate::model::InputEncoding;
    if frames <= 1 {
        return encode_image(encoding, timesteps, sample, seed, index, label);
    }
    let per = sample.len() / frames;
    let t_steps = timesteps as usize;
    let mut bins = vec![vec![0u32; per]; t_steps];
    for f in 0..frames {
        let t = f * t_steps / frames;
        for (b, c) in bins[t].iter_mut().zip(&sample[f * per..(f + 1) * per]) {
            *b += *c as u32;
        }
    }
    let steps = bins
        .into_iter()
        .map(|bin| {
            bin.iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| InputEvent {
                    input: i as u32,
                    payload: match encoding {
                        InputEncoding::Spikes => 1,
                        InputEncoding::Graded { bits } => {
                            (*c).min(crate::model::stimulus::graded_payload(255, bits))
                        }
                    },
                })
                .collect()
        })
        .collect();
    Stimulus::from_timesteps(steps, label)
}

fn tail(s: &Split, from: usize) -> Split {
    Split {
        samples: s.samples[from * s.sample_len..].to_vec(),
        labels: s.labels[from..].to_vec(),
        sample_len: s.sample_len,
    }
}

/// Decodes an images file (N x H x W) and a labels file (N), checking that
/// they agree and that every label is a class.
pub fn images_and_labels(
    images: (&[u8], &str),
    labels: (&[u8], &str),
    classes: usize,
) -> Result<((usize, usize, usize), Split)> {
    let img = idx::parse(images.0, images.1)?;
    let lab = idx::parse(labels.0, labels.1)?;
    if img.dims.len() != 3 {
        return Err(Error::invalid(
            images.1,
            "dimensions",
            format!("{:?}", img.dims),
            "3 (count, height, width)",
        ));
    }
    if lab.dims.len() != 1 {
        return Err(Error::invalid(
            labels.1,
            "dimensions",
            format!("{:?}", lab.dims),
            "1 (count)",
        ));
    }
    if img.dims[0] != lab.dims[0] {
        return Err(Error::invalid(
            labels.1,
            "count",
            lab.dims[0],
            format!("{} labels, one per image of {}", img.dims[0], images.1),
        ));
    }
    if let Some(i) = lab.data.iter().position(|l| *l as usize >= classes) {
        return Err(Error::invalid(
            labels.1,
            format!("label[{i}]"),
            lab.data[i],
            format!("0 ..= {}", classes - 1),
        ));
    }
    let (h, w) = (img.dims[1], img.dims[2]);
    Ok((
        (1, h, w),
        Split {
            samples: img.data,
            labels: lab.data,
            sample_len: h * w,
        },
    ))
}
