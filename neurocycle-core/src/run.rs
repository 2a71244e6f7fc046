//! Runs many inferences through the chip on a pool of threads. Each sample
//! is independent (its stimulus comes from the seed and its index), and
//! results are merged in sample order, so the report is the same for any
//! thread count. With fewer samples than threads, each inference is split
//! over several threads (`engine::Engine` partitions the mesh).

use crate::engine::{Chip, Counters, Engine, EngineOptions, Quiet};
use crate::error::Result;
use crate::model::stimulus::Stimulus;
use crate::model::SpikeRecord;
use crate::reference;

/// How many samples, on how many threads, and whether to check them.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub samples: u64,
    pub threads: usize,
    pub engine: EngineOptions,
    /// Also run the reference executor and count mismatched spikes.
    pub check: bool,
}

/// What a run counted, predicted and (when checked) found different.
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
    /// The process exit code a run reports: 1 when `--check` found the
    /// chip disagreeing with the reference, else 0.
    pub fn exit_code(&self) -> i32 {
        match self.mismatched_spikes {
            Some(m) if m > 0 => 1,
            _ => 0,
        }
    }

    /// (correct, labelled) over the samples that have labels.
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
    let threads = opts.threads.max(1);
    let workers = threads.min(opts.samples.max(1) as usize);
    // Threads left over split each inference.
    let partitions = threads / workers;
    let one = |engine: &mut Engine, i: u64| -> Result<SampleResult> {
        let stim = stimulus(i);
        let options = EngineOptions {
            record_spikes: opts.check,
            ..opts.engine
        };
        let out = engine.run(&stim, options, &mut Quiet)?;
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
    // A failed sample stops the hand-out of new ones.
    let results = crate::parallel::map_indexed(
        opts.samples as usize,
        workers,
        || Engine::new(chip, partitions),
        |engine, i| one(engine, i as u64),
        |done, r| {
            progress(done as u64);
            r.is_ok()
        },
    );

    let mut summary = RunSummary {
        mismatched_spikes: opts.check.then_some(0),
        ..RunSummary::default()
    };
    for r in results.into_iter().flatten() {
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
