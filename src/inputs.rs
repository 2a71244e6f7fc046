//! Where the samples of a run come from: synthetic events, the test split
//! of a data set, or a recording. The simulator core (`run`) takes any
//! `Fn(u64) -> Stimulus`; this is the one the CLI, sweeps and studies pass.

use crate::data::Dataset;
use crate::error::{check_range, Result};
use crate::model::stimulus::{self, Stimulus};
use crate::model::Model;

/// Where the samples of a run come from.
#[derive(Clone, Copy, Debug)]
pub enum Inputs<'a> {
    /// Random input events at the model's input rate.
    Synthetic,
    /// The test split of a labelled data set, in order.
    Dataset(&'a Dataset),
    /// Spike trains read from a file, in order.
    Recorded(&'a crate::data::recorded::Recording),
}

impl Inputs<'_> {
    /// The seed used when the user gives none: 1, or with a data set the
    /// seed the trainer measured its accuracy with (so the chip sees the
    /// same stimuli).
    pub fn default_seed(&self, model: &Model) -> u64 {
        match self {
            Inputs::Synthetic | Inputs::Recorded(_) => 1,
            Inputs::Dataset(_) => crate::data::recorded_seed(model),
        }
    }

    /// Sample `i`.
    pub fn sample(&self, model: &Model, seed: u64, i: u64) -> Stimulus {
        match self {
            Inputs::Synthetic => stimulus::synthetic(model, seed, i),
            Inputs::Dataset(d) => crate::data::stimulus(
                model.input.encoding,
                model.timesteps,
                d.frames,
                d.test.sample(i as usize),
                seed,
                i,
                Some(d.test.labels[i as usize] as u32),
            ),
            Inputs::Recorded(r) => r.samples[i as usize].clone(),
        }
    }

    /// Checks that `samples` samples exist and fit the model.
    pub fn check(&self, model: &Model, model_file: &str, samples: u64) -> Result<()> {
        check_range("command line", "--samples", samples, 1, 1 << 32)?;
        if let Inputs::Dataset(d) = self {
            d.check_model(model, model_file)?;
            check_range("command line", "--samples", samples, 1, d.test.len() as u64)?;
        }
        if let Inputs::Recorded(r) = self {
            if r.timesteps != model.timesteps {
                return Err(crate::error::Error::invalid(
                    &r.file,
                    "timesteps",
                    r.timesteps,
                    format!("{} (the timesteps of {model_file})", model.timesteps),
                ));
            }
            let n = r.samples.len() as u64;
            check_range("command line", "--samples", samples, 1, n)?;
        }
        Ok(())
    }
}
