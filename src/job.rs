//! One simulation from files to report: a `Job` (config, model, inputs,
//! options) is mapped, compiled, run (`run`) and reported (`report`). It
//! sits above both so that data flows one way: run -> report -> job.

use crate::config::{Checked, HwConfig};
use crate::engine::Chip;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::mapping;
use crate::model::Model;
use crate::report::{self, Report};
use crate::run::{run, RunOptions, RunSummary};

/// One simulation from files to report: `hw` (overrides applied) and
/// `model` are mapped, compiled and run on `inputs`.
pub struct Job<'a> {
    pub hw: &'a Checked<HwConfig>,
    pub hw_file: &'a str,
    pub overrides: &'a [String],
    pub model: &'a Model,
    pub model_file: &'a str,
    pub inputs: Inputs<'a>,
    pub seed: u64,
    pub opts: RunOptions,
}

/// Runs a job and builds its report.
pub fn simulate(job: &Job, progress: &(dyn Fn(u64) + Sync)) -> Result<(Report, RunSummary)> {
    job.inputs
        .check(job.model, job.model_file, job.opts.samples)?;
    let map = mapping::map(job.model, job.hw, job.model_file)?;
    let chip = Chip::build(job.hw, job.model, &map);
    tracing::info!(
        cores = map.cores.len(),
        flit_bits = chip.flit_bits,
        "mapped"
    );
    let stim = |i: u64| job.inputs.sample(job.model, job.seed, i);
    let summary = run(&chip, &stim, &job.opts, progress)?;
    let rep = report::build(
        &chip,
        &summary,
        &report::Source {
            hw_file: job.hw_file,
            overrides: job.overrides,
            model_file: job.model_file,
            seed: job.seed,
            input_file: match job.inputs {
                Inputs::Recorded(r) => Some(r.file.as_str()),
                _ => None,
            },
        },
    );
    Ok((rep, summary))
}
