//! `neurocycle study`: research studies that train, compress, simulate and
//! report.

use clap::{Args, Subcommand};
use neurocycle::config::HwConfig;
use neurocycle::error::Result;
use neurocycle::model::InputEncoding;
use neurocycle::study::utilization::{self, UtilizationSpec};
use neurocycle::study::ChipSetup;
use neurocycle::train::lottery::LotterySpec;
use neurocycle::train::{parse_arch, TrainSpec};
use std::path::PathBuf;

#[derive(Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub study: Study,
}

#[derive(Subcommand)]
pub enum Study {
    /// PE utilization of lottery tickets (LTH) and of u-Ticket, round by round, on a chip.
    Utilization(UtilizationArgs),
    /// Pruning and quantization alone, cumulative (both orders) and joint: accuracy-energy Pareto front.
    PruneQuant(PruneQuantArgs),
    /// ANN-to-SNN conversion: accuracy, chip latency, power and energy against T, and a DNN-accelerator baseline.
    Convert(ConvertArgs),
    /// IIR: retrain at fewer timesteps (5 to 1) from the previous stage, against training from scratch at each T.
    Timesteps(TimestepsArgs),
    /// TopSpark: the chip learns with STDP at shorter T, parameters adjusted; pick T within a tolerance.
    Topspark(TopSparkArgs),
}

#[derive(Args)]
pub struct TopSparkArgs {
    #[command(flatten)]
    pub common: Common,
    /// Excitatory neurons (default 200; --quick 20).
    #[arg(long)]
    pub neurons: Option<usize>,
    /// Candidate timesteps, strictly decreasing; the first is the full T
    /// (default 96,64,48,32,24; --quick 16,8,4).
    #[arg(long, value_delimiter = ',')]
    pub candidates: Option<Vec<u32>>,
    /// Training images the chip learns from, coming round to the start
    /// past the end of the split (default 8000; --quick 200).
    #[arg(long)]
    pub train_samples: Option<usize>,
    /// Training images of each run of the parameter analysis (default: as
    /// many as --train-samples).
    #[arg(long)]
    pub analysis_samples: Option<usize>,
    /// Training images that label the neurons, the ones after those learned
    /// from (default 4000; --quick 100).
    #[arg(long)]
    pub label_samples: Option<usize>,
    /// Accuracy loss allowed at the chosen T, in points.
    #[arg(long, default_value_t = 2.0)]
    pub tolerance: f64,
    /// Firing threshold at the full T (default 1500).
    #[arg(long)]
    pub threshold: Option<i32>,
    /// Potentiation and depression rates (a_plus, a_minus; default 8 and 2).
    #[arg(long)]
    pub a_plus: Option<i32>,
    #[arg(long)]
    pub a_minus: Option<i32>,
    /// Threshold increase per spike at the full T (default 5).
    #[arg(long)]
    pub adaptation: Option<i32>,
    /// Lateral inhibition weight at the full T (default 6000).
    #[arg(long)]
    pub inhibition: Option<i32>,
    /// Scale factors each parameter (threshold, membrane time constant,
    /// adaptation, inhibition, learning rate) is tried with at every
    /// shorter T.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.75,1.5")]
    pub factors: Vec<f64>,
    /// Pixels are divided by this before rate coding (default 4).
    #[arg(long)]
    pub input_divisor: Option<u8>,
    /// Potentiation offset: pre traces below it depress on a post spike
    /// (default 40).
    #[arg(long)]
    pub pre_target: Option<i32>,
    /// Weight normalisation: each neuron's incoming weights are scaled to
    /// sum to this (default 10000; 0: off).
    #[arg(long)]
    pub weight_sum: Option<i32>,
    /// Normalise after every N training images and after the last
    /// (default 8; 1 is Diehl & Cook's, after each).
    #[arg(long)]
    pub normalize_every: Option<u32>,
}

fn topspark_main(a: &TopSparkArgs) -> Result<i32> {
    use neurocycle::study::topspark::{self, TopSparkSpec};
    use neurocycle::train::stdp::StdpNet;
    let c = &a.common;
    let q = c.quick;
    let (chip, data) = c.setup("default")?;
    let candidates = a.candidates.clone().unwrap_or_else(|| {
        if q {
            vec![16, 8, 4]
        } else {
            vec![96, 64, 48, 32, 24]
        }
    });
    let mut net = StdpNet::new(
        a.neurons.unwrap_or(if q { 20 } else { 200 }),
        candidates.first().copied().unwrap_or(1),
    );
    net.threshold = a.threshold.unwrap_or(net.threshold);
    net.inhibition = a.inhibition.unwrap_or(net.inhibition);
    net.a_plus = a.a_plus.unwrap_or(net.a_plus);
    net.a_minus = a.a_minus.unwrap_or(net.a_minus);
    net.adaptation = a.adaptation.unwrap_or(net.adaptation);
    net.input_divisor = a.input_divisor.unwrap_or(net.input_divisor);
    net.pre_target = a.pre_target.unwrap_or(net.pre_target);
    net.weight_sum = a.weight_sum.unwrap_or(net.weight_sum);
    net.normalize_every = a.normalize_every.unwrap_or(net.normalize_every);
    let train_samples = a.train_samples.unwrap_or(if q { 200 } else { 8000 });
    let spec = TopSparkSpec {
        net,
        candidates,
        train_samples,
        analysis_samples: a.analysis_samples.unwrap_or(train_samples),
        label_samples: a.label_samples.unwrap_or(if q { 100 } else { 4000 }),
        test_samples: chip.samples as usize,
        tolerance: a.tolerance,
        factors: a.factors.clone(),
        seed: c.seed,
        chip,
    };
    spec.validate()?;
    over_seeds(
        c,
        "TopSpark: timestep reduction for STDP learning on the chip",
        |seed, threads, out, progress| {
            let mut spec = spec.clone();
            (spec.seed, spec.chip.threads) = (seed, threads);
            topspark::run(&spec, &data, out, progress)
        },
        |s| s.report_md.clone(),
        |runs| {
            let rows: Vec<&[topspark::Row]> = runs.iter().map(|r| r.rows.as_slice()).collect();
            topspark::paired_over_seeds(&spec, &rows)
        },
        topspark::plot_over_seeds,
    )
}

/// Flags every study takes.
#[derive(Args)]
pub struct Common {
    /// Hardware config (RON) the models are measured on [default: the
    /// embedded loihi preset for `convert`, the default preset otherwise].
    #[arg(long)]
    pub hw: Option<PathBuf>,
    /// Override a config parameter, e.g. --set core.neurons=32.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// mnist, fashion-mnist or dvs-gestures.
    #[arg(long)]
    pub dataset: String,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Small and fast, what CI runs: 1,000 training and 200 test samples, a
    /// small network, few epochs, 16 chip samples (utilization: 3 rounds to
    /// 90%; prune-quant: bits 8 and ternary, sparsity 0.8).
    #[arg(long)]
    pub quick: bool,
    /// Test samples per model on the chip (default 100; --quick 16).
    #[arg(long)]
    pub samples: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Training seeds (default 3; --quick 1): with N > 1 the study runs
    /// once per seed (SEED, SEED+1, ...) into OUT/seed-S, and OUT/report.md,
    /// OUT/seeds.csv, OUT/paired.csv and OUT/plots give every row's mean,
    /// and the per-seed differences between rows, with 95% intervals. The
    /// seeds run side by side, sharing --threads.
    #[arg(long)]
    pub seeds: Option<u32>,
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder; a rerun into it resumes.
    #[arg(long)]
    pub out: PathBuf,
}

impl Common {
    /// Training seeds: `--seeds`, or 3 (1 with --quick).
    fn seeds(&self) -> u32 {
        self.seeds.unwrap_or(if self.quick { 1 } else { 3 })
    }

    /// The chip (config with overrides, samples per model) and the data set,
    /// after checking the flags every study shares.
    /// Without `--hw`, the embedded preset `default_preset`.
    fn setup(&self, default_preset: &str) -> Result<(ChipSetup, neurocycle::data::Dataset)> {
        neurocycle::error::check_range("command line", "--seeds", self.seeds(), 1, 32)?;
        let (base, hw_file) = match &self.hw {
            Some(path) => (HwConfig::load(path)?, path.display().to_string()),
            None => (
                HwConfig::preset(default_preset)?,
                format!("preset {default_preset}"),
            ),
        };
        let hw = base.with_overrides(&hw_file, &self.sets)?;
        let data = neurocycle::data::load(&self.dataset, self.data_dir.as_deref())?;
        let chip = ChipSetup {
            hw,
            hw_file,
            overrides: self.sets.clone(),
            samples: self.samples.unwrap_or(if self.quick { 16 } else { 100 }),
            threads: super::workers("--threads", self.threads)?,
            smoke_test: self.quick,
        };
        Ok((chip, data))
    }
}

impl Common {
    /// The training spec shared by the timestep studies: `arch` or the
    /// default conv net (an MLP for --quick or other image sizes), direct
    /// 8-bit input, `bits`-bit weights, `epochs` (or 6; --quick 2), and
    /// --quick's data subsets.
    fn direct_input_spec(
        &self,
        data: &neurocycle::data::Dataset,
        arch: Option<&str>,
        bits: u8,
        epochs: Option<u32>,
        threads: usize,
    ) -> Result<TrainSpec> {
        let q = self.quick;
        let (ch, h, w) = data.shape;
        let arch = arch.map(str::to_string).unwrap_or_else(|| {
            if q || (h, w) != (28, 28) {
                format!("{}-48-10", ch * h * w)
            } else {
                format!("{ch}x28x28:c8k5s2p2,c16k3s2p1,d{}", data.classes)
            }
        });
        neurocycle::error::check_range("command line", "--bits", bits, 1, 16)?;
        Ok(TrainSpec {
            arch: parse_arch(&arch)?,
            encoding: InputEncoding::Graded { bits: 8 },
            bits: vec![bits],
            epochs: epochs.unwrap_or(if q { 2 } else { 6 }),
            seed: self.seed,
            threads,
            train_samples: q.then_some(1000),
            test_samples: q.then_some(200),
            ..TrainSpec::default()
        })
    }
}

#[derive(Args)]
pub struct PruneQuantArgs {
    #[command(flatten)]
    pub common: Common,
    /// Network (default: 784-128-10, or for dvs-gestures 2048-128-10; --quick 784-48-10).
    #[arg(long)]
    pub arch: Option<String>,
    /// Weight bits of the grid, widest first (default 16,8,4,2,1; 2 = ternary, 1 = binary).
    #[arg(long, value_delimiter = ',')]
    pub bits: Option<Vec<u8>>,
    /// Sparsities of the grid (default 0.5,0.8,0.9,0.95).
    #[arg(long, value_delimiter = ',')]
    pub sparsities: Option<Vec<f64>>,
    /// Epochs per point (default 12; --quick 3); one pruning round per 4 epochs (at 12: the target reached in 3 rounds, then fine-tuning).
    #[arg(long)]
    pub epochs: Option<u32>,
    #[arg(long, default_value_t = 8)]
    pub timesteps: u32,
}

#[derive(Args)]
pub struct UtilizationArgs {
    #[command(flatten)]
    pub common: Common,
    /// Network (default 784-256-10; --quick: 784-64-10).
    #[arg(long)]
    pub arch: Option<String>,
    /// Pruning rounds (default 6).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Sparsity after the last round (default 0.98).
    #[arg(long)]
    pub target: Option<f64>,
    /// Epochs of the dense run and of every round (default 5; --quick 2).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Rewind to the weights after this many epochs.
    #[arg(long, default_value_t = 1)]
    pub rewind_epoch: u32,
    /// The output layer is pruned at this fraction of the per-round rate
    /// (0.5 as in Frankle & Carbin; 1 prunes every layer alike).
    #[arg(long, default_value_t = 0.5)]
    pub output_rate: f64,
    /// Weight bits (default 4).
    #[arg(long, default_value_t = 4)]
    pub bits: u8,
    #[arg(long, default_value_t = 4)]
    pub timesteps: u32,
}

#[derive(Args)]
pub struct TimestepsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Network (default 1x28x28:c8k5s2p2,c16k3s2p1,d10 for 28x28 images; --quick 784-48-10).
    #[arg(long)]
    pub arch: Option<String>,
    /// Timesteps of the stages, strictly decreasing.
    #[arg(long, value_delimiter = ',', default_value = "5,4,3,2,1")]
    pub schedule: Vec<u32>,
    /// Epochs of the first stage and of every run from scratch (default 6; --quick 2).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Epochs of every later IIR stage (default 3; --quick 1).
    #[arg(long)]
    pub stage_epochs: Option<u32>,
    /// Weight bits.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// DNN-accelerator baseline the SNNs' energy is compared with (RON;
    /// default: the built-in NCS2-like one, see src/accelerator.rs).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Training images used, the first N of the training split (default:
    /// all; --quick 1000).
    #[arg(long)]
    pub train_samples: Option<usize>,
}

/// `--baseline FILE`, or the built-in accelerator.
fn accelerator(path: &Option<PathBuf>) -> Result<neurocycle::accelerator::Accelerator> {
    match path {
        Some(p) => neurocycle::accelerator::Accelerator::load(p),
        None => Ok(Default::default()),
    }
}

pub fn main(a: &StudyArgs) -> Result<i32> {
    match &a.study {
        Study::Utilization(u) => utilization_main(u),
        Study::PruneQuant(p) => prune_quant_main(p),
        Study::Timesteps(t) => timesteps_main(t),
        Study::Convert(c) => convert_main(c),
        Study::Topspark(t) => topspark_main(t),
    }
}

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub common: Common,
    /// Network (default 1x28x28:c8k5s2p2,c16k3s2p1,d10 for 28x28 images; --quick 784-48-10).
    #[arg(long)]
    pub arch: Option<String>,
    /// Timesteps of the converted models (default 1,2,4,...,256; --quick 1,4,16).
    #[arg(long, value_delimiter = ',')]
    pub timesteps: Option<Vec<u32>>,
    /// T at which each technique is switched off in turn (default 32; --quick 16).
    #[arg(long)]
    pub ablation_timesteps: Option<u32>,
    /// ANN training epochs (default 6; --quick 2).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Weight bits on the chip.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// Percentile of the activations that threshold balancing maps to one spike per timestep.
    #[arg(long, default_value_t = 99.9)]
    pub percentile: f64,
    /// Early exit: timesteps the leading output must lead in a row.
    #[arg(long, default_value_t = 8)]
    pub patience: u32,
    /// Early exit: timesteps run before the rule may stop an inference.
    #[arg(long, default_value_t = 4)]
    pub min_timesteps: u32,
    /// Training images the activation scales are taken from.
    #[arg(long, default_value_t = 1000)]
    pub calibration_samples: usize,
    /// DNN-accelerator baseline (RON; default: the built-in NCS2-like one, see src/accelerator.rs).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

fn convert_main(a: &ConvertArgs) -> Result<i32> {
    use neurocycle::study::convert::{self, ConvertSpec};
    let c = &a.common;
    let (chip, data) = c.setup("loihi")?;
    let q = c.quick;
    let train = c.direct_input_spec(&data, a.arch.as_deref(), a.bits, a.epochs, chip.threads)?;
    let timesteps = a.timesteps.clone().unwrap_or(if q {
        vec![1, 4, 16]
    } else {
        (0..=8).map(|k| 1 << k).collect()
    });
    let accelerator = accelerator(&a.baseline)?;
    let spec = ConvertSpec {
        train: TrainSpec {
            // Accuracy of each conversion on 1,000 test images (--quick 200).
            test_samples: Some(if q { 200 } else { 1000 }),
            ..train
        },
        ablation_timesteps: a.ablation_timesteps.unwrap_or(if q { 16 } else { 32 }),
        timesteps,
        percentile: a.percentile,
        early_exit: neurocycle::model::EarlyExit {
            patience: a.patience,
            min_timesteps: a.min_timesteps,
        },
        calibration_samples: a.calibration_samples,
        chip,
        accelerator,
    };
    spec.validate()?;
    over_seeds(
        c,
        "ANN-to-SNN conversion on the chip, against a DNN accelerator",
        |seed, threads, out, progress| {
            let mut spec = spec.clone();
            (spec.train.seed, spec.train.threads, spec.chip.threads) = (seed, threads, threads);
            convert::run(&spec, &data, out, progress)
        },
        |s| s.report_md.clone(),
        |runs| runs.iter().map(|r| convert::paired(&spec, r)).collect(),
        convert::plot_over_seeds,
    )
}

fn timesteps_main(a: &TimestepsArgs) -> Result<i32> {
    use neurocycle::study::timesteps::{self, TimestepsSpec};
    let c = &a.common;
    let (chip, data) = c.setup("default")?;
    let mut train =
        c.direct_input_spec(&data, a.arch.as_deref(), a.bits, a.epochs, chip.threads)?;
    if let Some(n) = a.train_samples {
        neurocycle::error::check_range("command line", "--train-samples", n, 1, data.train.len())?;
        train.train_samples = Some(n);
    }
    let spec = TimestepsSpec {
        train: TrainSpec {
            timesteps: a.schedule.first().copied().unwrap_or(1),
            ..train
        },
        schedule: a.schedule.clone(),
        stage_epochs: a.stage_epochs.unwrap_or(if c.quick { 1 } else { 3 }),
        chip,
        accelerator: accelerator(&a.baseline)?,
    };
    spec.validate()?;
    over_seeds(
        c,
        "Fewer timesteps: iterative initialization and retraining (IIR)",
        |seed, threads, out, progress| {
            let mut spec = spec.clone();
            (spec.train.seed, spec.train.threads, spec.chip.threads) = (seed, threads, threads);
            timesteps::run(&spec, &data, out, progress)
        },
        |s| s.report_md.clone(),
        |runs| runs.iter().map(|r| timesteps::paired(&r.rows)).collect(),
        timesteps::plot_over_seeds,
    )
}

/// The regular files under `dir`, relative to it, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                _ => out.push(
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                ),
            }
        }
    }
    out.sort();
    out
}

/// What a study folder holds, as listed to the user (folders end in `/`).
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                name + "/"
            } else {
                name
            }
        })
        .collect();
    names.sort();
    names
}

/// Runs a study once, or with `--seeds N` once per seed into its own
/// folder and then over all of them (`study::seeds`), under progress bars,
/// and prints its report.
fn over_seeds<S: Send>(
    c: &Common,
    title: &str,
    one: impl Fn(
            u64,
            usize,
            &std::path::Path,
            &(dyn Fn(&str, &neurocycle::train::Progress) + Sync),
        ) -> Result<S>
        + Sync,
    report: impl Fn(&S) -> String,
    paired: impl FnOnce(&[S]) -> Vec<Vec<neurocycle::study::seeds::Paired>>,
    plots: impl FnOnce(&std::path::Path, &[S]) -> Result<()>,
) -> Result<i32> {
    use neurocycle::study::seeds;
    if c.seeds() == 1 {
        return run_study(&c.out, &[String::new()], |progress| {
            let threads = super::workers("--threads", c.threads)?;
            Ok(report(&one(c.seed, threads, &c.out, &|stage, p| {
                progress(0, stage, p)
            })?))
        });
    }
    let list: Vec<u64> = (0..c.seeds() as u64).map(|k| c.seed + k).collect();
    let lanes: Vec<String> = list.iter().map(|s| format!("seed {s}")).collect();
    run_study(&c.out, &lanes, |progress| {
        // Seeds run side by side, sharing the threads: independent runs
        // keep every core busy where one run's serial stretches (on-chip
        // learning one image after another, optimizer steps) would not.
        // Results do not depend on it: every seed's draws come from its own
        // seed, and no result depends on the thread count.
        let (all, n) = (super::workers("--threads", c.threads)?, list.len());
        let share = |k: usize| (all / n + usize::from(k < all % n)).max(1);
        let done = neurocycle::parallel::map(n, n, |k| {
            let out = seeds::seed_dir(&c.out, list[k]);
            one(list[k], share(k), &out, &|stage, p| progress(k, stage, p))
        });
        let runs = done.into_iter().collect::<Result<Vec<S>>>()?;
        plots(&c.out, &runs)?;
        seeds::aggregate(&c.out, &list, title, &paired(&runs))
    })
}

/// Runs `study` with one progress bar per lane (a seed, or one for the
/// whole study) and prints its report.
fn run_study(
    out: &std::path::Path,
    lanes: &[String],
    study: impl FnOnce(&(dyn Fn(usize, &str, &neurocycle::train::Progress) + Sync)) -> Result<String>,
) -> Result<i32> {
    let bars = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:8} {msg:32} {bar:30} {pos}/{len}  {per_sec}  eta {eta}",
    )
    .expect("valid template");
    let lane_bars: Vec<indicatif::ProgressBar> = lanes
        .iter()
        .map(|name| {
            bars.add(indicatif::ProgressBar::new(0))
                .with_style(style.clone())
                .with_prefix(name.clone())
        })
        .collect();
    let started = std::time::Instant::now();
    let (folder_existed, claimed_before) = (out.exists(), out.join("study.json").exists());
    let report_md = study(&|lane, stage, p| {
        let bar = &lane_bars[lane];
        bar.set_message(stage.to_string());
        bar.set_length(p.samples_total);
        bar.set_position(p.samples_done);
    })
    .inspect_err(|_| {
        // A start that failed before any result leaves nothing behind,
        // so the corrected command can use the same --out.
        if !claimed_before && files_under(out) == ["study.json"] {
            let _ = std::fs::remove_file(out.join("study.json"));
            if !folder_existed {
                let _ = std::fs::remove_dir_all(out);
            }
        }
    })?;
    bars.clear().ok();
    print!("{report_md}");
    eprintln!(
        "study written to {} in {:.0} s ({})",
        out.display(),
        started.elapsed().as_secs_f64(),
        entries(out).join(", ")
    );
    Ok(0)
}

fn prune_quant_main(a: &PruneQuantArgs) -> Result<i32> {
    use neurocycle::study::prune_quant::{self, PruneQuantSpec};
    let c = &a.common;
    let (chip, data) = c.setup("default")?;
    let threads = chip.threads;
    let q = c.quick;
    let inputs = data.shape.0 * data.shape.1 * data.shape.2;
    let arch = a.arch.clone().unwrap_or_else(|| {
        if q {
            format!("{inputs}-48-10")
        } else {
            format!("{inputs}-128-10")
        }
    });
    let bits = a
        .bits
        .clone()
        .unwrap_or(if q { vec![8, 2] } else { vec![16, 8, 4, 2, 1] });
    if bits.len() < 2 {
        return Err(neurocycle::error::Error::invalid(
            "command line",
            "--bits",
            bits.len(),
            "two or more widths, widest first",
        ));
    }
    for b in &bits {
        neurocycle::error::check_range("command line", "--bits", *b, 1, 16)?;
    }
    let sparsities = a.sparsities.clone().unwrap_or(if q {
        vec![0.8]
    } else {
        vec![0.5, 0.8, 0.9, 0.95]
    });
    for s in &sparsities {
        if !(*s > 0.0 && *s < 1.0) {
            return Err(neurocycle::error::Error::invalid(
                "command line",
                "--sparsities",
                s,
                "0 < sparsity < 1",
            ));
        }
    }
    let spec = PruneQuantSpec {
        train: TrainSpec {
            arch: parse_arch(&arch)?,
            timesteps: a.timesteps,
            encoding: if data.frames > 1 {
                InputEncoding::Spikes
            } else {
                InputEncoding::Graded { bits: 8 }
            },
            epochs: a.epochs.unwrap_or(if q { 3 } else { 12 }),
            seed: c.seed,
            threads,
            train_samples: q.then_some(1000),
            test_samples: q.then_some(200),
            ..TrainSpec::default()
        },
        bits,
        sparsities,
        chip,
    };
    over_seeds(
        c,
        "Pruning and quantization: alone, cumulative and joint",
        |seed, threads, out, progress| {
            let mut spec = spec.clone();
            (spec.train.seed, spec.train.threads, spec.chip.threads) = (seed, threads, threads);
            prune_quant::run(&spec, &data, out, progress)
        },
        |s| s.report_md.clone(),
        |runs| runs.iter().map(|r| prune_quant::paired(&r.rows)).collect(),
        // Pareto fronts have no error bars: each seed's are in its folder.
        |_, _| Ok(()),
    )
}

fn utilization_main(a: &UtilizationArgs) -> Result<i32> {
    let c = &a.common;
    let (chip, data) = c.setup("default")?;
    let threads = chip.threads;
    let q = c.quick;
    let arch = a
        .arch
        .clone()
        .unwrap_or_else(|| if q { "784-64-10" } else { "784-256-10" }.into());
    let train = TrainSpec {
        arch: parse_arch(&arch)?,
        timesteps: a.timesteps,
        encoding: InputEncoding::Graded { bits: 8 },
        bits: vec![a.bits],
        epochs: a.epochs.unwrap_or(if q { 2 } else { 5 }),
        seed: c.seed,
        threads,
        train_samples: q.then_some(1000),
        test_samples: q.then_some(200),
        ..TrainSpec::default()
    };
    let target = a.target.unwrap_or(if q { 0.9 } else { 0.98 });
    if !(0.0..1.0).contains(&target) || target == 0.0 {
        return Err(neurocycle::error::Error::invalid(
            "command line",
            "--target",
            target,
            "0 < target < 1",
        ));
    }
    if !(0.0..=1.0).contains(&a.output_rate) {
        return Err(neurocycle::error::Error::invalid(
            "command line",
            "--output-rate",
            a.output_rate,
            "0 <= rate <= 1",
        ));
    }
    let rounds = a.rounds.unwrap_or(if q { 3 } else { 6 });
    neurocycle::error::check_range("command line", "--rounds", rounds, 1, 100)?;
    let spec = UtilizationSpec {
        lottery: LotterySpec {
            train,
            rewind_epoch: a.rewind_epoch,
            rounds,
            target,
            output_rate: a.output_rate,
        },
        chip,
    };
    over_seeds(
        c,
        "PE utilization of lottery tickets: LTH and u-Ticket",
        |seed, threads, out, progress| {
            let mut spec = spec.clone();
            let train = &mut spec.lottery.train;
            (train.seed, train.threads, spec.chip.threads) = (seed, threads, threads);
            utilization::run(&spec, &data, out, progress)
        },
        |s| s.report_md.clone(),
        |runs| runs.iter().map(|r| utilization::paired(&r.rows)).collect(),
        utilization::plot_over_seeds,
    )
}
