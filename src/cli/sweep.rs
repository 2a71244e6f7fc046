//! `neurocycle sweep` and `neurocycle merge`.

use clap::Args;
use neurocycle::error::{check_range, Result};
use neurocycle::sweep::spec::Sweep;
use neurocycle::sweep::{self, Prepared, Shard};
use std::path::PathBuf;

#[derive(Args)]
pub struct SweepArgs {
    /// Sweep file (RON), e.g. hw_configs/sweeps/cores-x-word-bits.ron.
    pub file: PathBuf,
    /// Output folder (created); rerunning into it skips finished points.
    #[arg(long)]
    pub out: PathBuf,
    /// Points run at once (default: all cores); results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only the points whose index is I modulo N (a job array's task).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Inferences per point (overrides the sweep file's `samples`).
    #[arg(long)]
    pub samples: Option<u64>,
    /// Directory of the data set's files (fashion-mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Do not draw the plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Run nothing: print the batch script of a Slurm job array of N tasks,
    /// one shard each into OUT/shardI (and the merge into OUT/all).
    #[arg(long, value_name = "N", conflicts_with_all = ["shard", "jobs"])]
    pub slurm: Option<usize>,
}

#[derive(Args)]
pub struct MergeArgs {
    /// Output folders of the shards of one sweep.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the joined results.
    #[arg(long)]
    pub out: PathBuf,
    /// Do not draw the plots.
    #[arg(long)]
    pub no_plots: bool,
}

/// `--slurm N`: the sweep is loaded and checked (so a bad one fails here,
/// not in N tasks), then its job array printed.
fn print_slurm_script(a: &SweepArgs, loaded: &Sweep, n: usize) -> Result<i32> {
    let points = loaded.points.len();
    check_range("command line", "--slurm", n, 1, points)?;
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p)
            .map_err(|e| neurocycle::error::Error::Usage(format!("{}: {e}", p.display())))
    };
    let binary = std::env::current_exe()
        .map_err(|e| neurocycle::error::Error::Usage(format!("the running binary: {e}")))?;
    let mut flags = vec![];
    if let Some(s) = a.samples {
        flags.extend(["--samples".to_string(), s.to_string()]);
    }
    if let Some(d) = &a.data_dir {
        flags.extend(["--data-dir".to_string(), absolute(d)?.display().to_string()]);
    }
    if a.no_plots {
        flags.push("--no-plots".into());
    }
    print!(
        "{}",
        neurocycle::sweep::slurm::script(&neurocycle::sweep::slurm::ArrayJob {
            binary: &binary,
            sweep_file: &absolute(&a.file)?,
            out: &absolute(&a.out)?,
            shards: n,
            points,
            flags: &flags,
        })
    );
    Ok(0)
}

pub fn sweep_main(a: &SweepArgs) -> Result<i32> {
    let mut loaded = Sweep::load(&a.file)?;
    if let Some(n) = a.samples {
        check_range("command line", "--samples", n, 1, 1 << 32)?;
        loaded.spec.samples = n;
    }
    let shard = match &a.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::ALL,
    };
    if let Some(n) = a.slurm {
        return print_slurm_script(a, &loaded, n);
    }
    let jobs = super::workers("--jobs", a.jobs)?;
    let prepared = Prepared::new(loaded, a.data_dir.as_deref())?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} points  {per_sec}  eta {eta}  {msg}",
        )
        .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let outcome = sweep::run(&prepared, &a.out, jobs, shard, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    eprintln!(
        "sweep {:?}: {} points{}, {} run now ({:.1} s on {jobs} jobs), {} already done, {} failed; results in {}",
        prepared.sweep.spec.name,
        outcome.points,
        if shard.count > 1 {
            format!(" in shard {}/{}", shard.index, shard.count)
        } else {
            String::new()
        },
        outcome.ran,
        started.elapsed().as_secs_f64(),
        outcome.skipped,
        outcome.failed,
        a.out.join("results.csv").display()
    );
    if !a.no_plots {
        let written = neurocycle::plot::sweep::write_default_plots(&a.out)?;
        eprintln!("{} plots in {}", written, a.out.join("plots").display());
    }
    Ok(0)
}

pub fn merge_main(a: &MergeArgs) -> Result<i32> {
    let m = sweep::merge(&a.dirs, &a.out)?;
    eprintln!(
        "merged {} folders: {} points ({} failed) into {}",
        a.dirs.len(),
        m.points,
        m.failed,
        a.out.join("results.csv").display()
    );
    if !a.no_plots {
        neurocycle::plot::sweep::write_default_plots(&a.out)?;
    }
    Ok(0)
}
