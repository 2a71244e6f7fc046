//! Runs many inferences through the chip on a pool of threads. Each sample
//! is independent (its stimulus comes from the seed and its index), and
//! results are merged in sample order, so the report is the same for any
//! thread count.

use crate::engine::{run_sample, Chip, Counters, EngineOptions, Quiet};
use crate::error::Result;
use crate::model::stimulus::Stimulus;
use crate::reference::{self, SpikeRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub samples: u64,
    pub threads: usize,
    pub engine: EngineOptions,
    /// Also run the reference executor and count mismatched spikes.
    pub check: bool,
}

#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    pub counters: Counters,
    pub predictions: Vec<u32>,
    pub labels: Vec<Option<u32>>,
    /// Spikes present in one of engine and reference but not the other,
    /// summed over samples (when checked).
    pub mismatched_spikes: Option<u64>,
}

impl RunSummary {
    pub fn accuracy(&self) -> Option<(u64, u64)> {
        let labelled: Vec<_> = self
            .labels
            .iter()
            .zip(&self.predictions)
            .filter_map(|(l, p)| l.map(|l| (l, *p)))
            .collect();
        if labelled.is_empty() {
            return None;
        }
        let correct = labelled.iter().filter(|(l, p)| l == p).count() as u64;
        Some((correct, labelled.len() as u64))
    }
}

/// Size of the symmetric difference of two sorted spike lists.
pub fn spike_mismatches(a: &[SpikeRecord], b: &[SpikeRecord]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                n += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                n += 1;
                j += 1;
            }
        }
    }
    n + (a.len() - i) as u64 + (b.len() - j) as u64
}

struct SampleResult {
    counters: Counters,
    prediction: u32,
    label: Option<u32>,
    mismatches: u64,
}

/// Runs `opts.samples` inferences; `stimulus(i)` gives sample i.
/// `progress(done)` is called after every finished sample.
pub fn run(
    chip: &Chip,
    stimulus: &(dyn Fn(u64) -> Stimulus + Sync),
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunSummary> {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<Option<Result<SampleResult>>>> =
        Mutex::new((0..opts.samples).map(|_| None).collect());
    let threads = opts.threads.clamp(1, opts.samples.max(1) as usize);
    let one = |i: u64| -> Result<SampleResult> {
        let stim = stimulus(i);
        let engine = EngineOptions {
            record_spikes: opts.check,
            ..opts.engine
        };
        let out = run_sample(chip, &stim, engine, &mut Quiet)?;
        let mismatches = if opts.check {
            let r = reference::run(chip.model, &stim);
            spike_mismatches(&out.spikes, &r.spikes) + (r.readout != out.readout) as u64
        } else {
            0
        };
        Ok(SampleResult {
            counters: out.counters,
            prediction: out.prediction,
            label: stim.label,
            mismatches,
        })
    };
    crossbeam::scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= opts.samples {
                    break;
                }
                let r = one(i);
                let failed = r.is_err();
                results.lock().expect("no thread panics holding the lock")[i as usize] = Some(r);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                if failed {
                    next.store(opts.samples, Ordering::Relaxed);
                }
            });
        }
    })
    .expect("worker threads do not panic");

    let mut summary = RunSummary {
        mismatched_spikes: opts.check.then_some(0),
        ..RunSummary::default()
    };
    for r in results
        .into_inner()
        .expect("lock not poisoned")
        .into_iter()
        .flatten()
    {
        let r = r?;
        summary.counters.merge(&r.counters);
        summary.predictions.push(r.prediction);
        summary.labels.push(r.label);
        if let Some(m) = summary.mismatched_spikes.as_mut() {
            *m += r.mismatches;
        }
    }
    Ok(summary)
}
