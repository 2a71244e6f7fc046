//! `neurocycle train` and `neurocycle eval`.

use clap::{Args, ValueEnum};
use neurocycle::data;
use neurocycle::error::Result;
use neurocycle::model::{InputEncoding, Model, Readout};
use neurocycle::train::{evaluate, parse_arch, train, Order, TrainSpec};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    /// Bernoulli spikes per timestep with probability pixel/255.
    Rate,
    /// The pixel's value (top --graded-bits bits) at every timestep.
    Graded,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OrderArg {
    /// Quantization-aware from the start, pruning in the first epochs.
    Joint,
    /// Float training with pruning, then quantization-aware fine-tuning.
    PruneThenQuant,
    /// Quantization-aware training, then pruning with fine-tuning.
    QuantThenPrune,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TrainReadout {
    Membrane,
    SpikeCount,
}

#[derive(Args)]
pub struct TrainArgs {
    /// mnist (embedded subset), fashion-mnist (--data-dir) or dvs-gestures (synthetic, built in).
    #[arg(long)]
    pub dataset: String,
    /// Directory of the data set's files (fashion-mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Layer sizes, input first, e.g. 784-256-10.
    #[arg(long, default_value = "784-256-10")]
    pub arch: String,
    #[arg(long, default_value_t = 8)]
    pub timesteps: u32,
    /// Weight bits: 16 down to 2 (ternary) and 1 (binary); one value, or
    /// one per dense/conv layer, e.g. 8,4,8.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    pub bits: Vec<u8>,
    /// Target weight sparsity (magnitude pruning), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub prune: f64,
    /// Pruning steps, one at the end of each of the first N epochs (1 = one-shot).
    #[arg(long, default_value_t = 1)]
    pub prune_rounds: u32,
    /// Prune by one global magnitude threshold instead of per layer.
    #[arg(long)]
    pub prune_global: bool,
    /// Augment training images with random shifts of up to N pixels.
    #[arg(long, default_value_t = 0)]
    pub shift: u32,
    /// How pruning and quantization combine over the epochs.
    #[arg(long, value_enum, default_value = "joint")]
    pub order: OrderArg,
    #[arg(long, default_value_t = 4)]
    pub epochs: u32,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f32,
    #[arg(long, value_enum, default_value = "rate")]
    pub encoding: EncodingArg,
    #[arg(long, default_value_t = 8)]
    pub graded_bits: u8,
    #[arg(long, value_enum, default_value = "membrane")]
    pub readout: TrainReadout,
    /// Voltage decay, 12-bit (0 = IF neurons).
    #[arg(long, default_value_t = 0)]
    pub dv: u16,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Train on the first N training samples only.
    #[arg(long)]
    pub train_samples: Option<usize>,
    /// Measure on the first N test samples only.
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Output model file (RON).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Model file to evaluate (.ron or .ncm).
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data set (mnist, fashion-mnist, dvs-gestures).
    #[arg(long, required_unless_present = "input", conflicts_with = "input")]
    pub dataset: Option<String>,
    /// Recorded inputs instead of a data set (as `run --input`; labels needed).
    #[command(flatten)]
    pub recorded: super::RecordedArgs,
    /// Directory of the data set's files (fashion-mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Evaluate the first N test samples (default: all).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Seed of the rate-coded stimuli (default: the one the trainer used).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn train_main(a: &TrainArgs, command_line: &str) -> Result<i32> {
    let data = data::load(&a.dataset, a.data_dir.as_deref())?;
    neurocycle::error::check_range("command line", "--graded-bits", a.graded_bits, 1, 16)?;
    if let Some(n) = a.train_samples {
        let max = data.train.len();
        neurocycle::error::check_range("command line", "--train-samples", n, 1, max)?;
    }
    let spec = TrainSpec {
        arch: parse_arch(&a.arch)?,
        timesteps: a.timesteps,
        encoding: match a.encoding {
            EncodingArg::Rate => InputEncoding::Spikes,
            EncodingArg::Graded => InputEncoding::Graded {
                bits: a.graded_bits,
            },
        },
        readout: match a.readout {
            TrainReadout::Membrane => Readout::Membrane,
            TrainReadout::SpikeCount => Readout::SpikeCount,
        },
        dv: a.dv,
        bits: a.bits.clone(),
        prune: a.prune,
        prune_rounds: a.prune_rounds.max(1),
        prune_global: a.prune_global,
        shift: a.shift,
        order: match a.order {
            OrderArg::Joint => Order::Joint,
            OrderArg::PruneThenQuant => Order::PruneThenQuant,
            OrderArg::QuantThenPrune => Order::QuantThenPrune,
        },
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
        threads: super::workers("--threads", a.threads)?,
        train_samples: a.train_samples,
        test_samples: a.test_samples,
        ann: false,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} samples  {per_sec}  eta {eta}  {msg}",
        )
        .expect("valid template"),
    );
    let start = std::time::Instant::now();
    let trained = train(&spec, &data, &|p| {
        bar.set_length(p.samples_total);
        bar.set_position(p.samples_done);
        bar.set_message(format!(
            "epoch {} loss {:.3} train acc {:.1}%",
            p.epoch + 1,
            p.loss,
            100.0 * p.train_accuracy
        ));
    })?;
    bar.finish_and_clear();
    let mut model = trained.model;
    model
        .metadata
        .insert("command".into(), command_line.to_string());
    model.validate(&a.out.display().to_string())?;
    model.save(&a.out)?;
    println!(
        "trained {} in {:.1} s: final loss {:.3}; integer model test accuracy {:.2}% on {} samples; sparsity {:.1}%; written to {}",
        model.name,
        start.elapsed().as_secs_f64(),
        trained.final_loss,
        100.0 * trained.test_accuracy,
        trained.test_samples,
        100.0 * trained.sparsity,
        a.out.display()
    );
    Ok(0)
}

/// `eval --input`: the reference executor on recorded samples.
fn eval_recorded(a: &EvalArgs, model: &Model) -> Result<i32> {
    if a.recorded.labels.is_none() {
        return Err(neurocycle::error::Error::Usage(
            "eval --input needs --labels (the accuracy is what eval measures)".into(),
        ));
    }
    let Some(mut rec) = a.recorded.load(model)? else {
        unreachable!("clap requires --dataset or --input");
    };
    let retimed = rec.retime(model).map(|(m, lag)| {
        eprintln!("{}", super::retime_note(&rec, lag, model.timesteps));
        m
    });
    let model = retimed.as_ref().unwrap_or(model);
    let n = match a.samples {
        Some(n) => {
            neurocycle::error::check_range("command line", "--samples", n, 1, rec.samples.len())?;
            n
        }
        None => rec.samples.len(),
    };
    let correct = rec.samples[..n]
        .iter()
        .filter(|s| Some(neurocycle::reference::run(model, s).prediction) == s.label)
        .count();
    println!(
        "{}: {correct}/{n} correct = {:.2}% accuracy on {} (reference executor)",
        model.name,
        100.0 * correct as f64 / n as f64,
        rec.file
    );
    Ok(0)
}

pub fn eval_main(a: &EvalArgs) -> Result<i32> {
    let model = Model::load(&a.model)?;
    let (Some(name), None) = (&a.dataset, &a.recorded.input) else {
        return eval_recorded(a, &model);
    };
    let data = data::load(name, a.data_dir.as_deref())?;
    data.check_model(&model, &a.model.display().to_string())?;
    let seed = a.seed.unwrap_or_else(|| data::recorded_seed(&model));
    let test = match a.samples {
        Some(n) => data.test.head(n),
        None => data.test.clone(),
    };
    let pred = evaluate(
        &model,
        &test,
        data.frames,
        seed,
        super::workers("--threads", a.threads)?,
    );
    let correct = pred
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| **p == **l as u32)
        .count();
    println!(
        "{}: {}/{} correct = {:.2}% test accuracy (reference executor, stimulus seed {seed})",
        model.name,
        correct,
        test.len(),
        100.0 * correct as f64 / test.len().max(1) as f64
    );
    Ok(0)
}
