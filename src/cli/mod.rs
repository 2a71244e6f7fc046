//! The command line: parses arguments into library calls and prints.
//! Nothing here simulates, maps or serializes results.

use clap::{Args, Parser, Subcommand, ValueEnum};
use neurocycle::config::HwConfig;
use neurocycle::data::recorded;
use neurocycle::engine::EngineOptions;
use neurocycle::error::{write_atomic, Error, Result};
use neurocycle::inputs::Inputs;
use neurocycle::job::{simulate as simulate_job, Job};
use neurocycle::model::gen::{generate, parse_conv, GenSpec, Storage};
use neurocycle::model::{Model, Readout, Reset, Semantics};
use neurocycle::run::RunOptions;
use neurocycle::trace;
use std::path::PathBuf;

mod nir;
mod noc;
mod plot;
mod study;
mod sweep;
mod train;

#[derive(Parser)]
#[command(
    name = "neurocycle",
    version,
    about = "Cycle-level simulator of neuromorphic (SNN) chips"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run input samples of a model through a chip and report.
    Run(RunArgs),
    /// Write a synthetic model (random sparse quantized SNN).
    Gen(GenArgs),
    /// Convert a model file between RON and the binary `.ncm` (by OUT's extension).
    Convert(ConvertArgs),
    /// Import a NIR graph (snnTorch, Norse, Lava-dl, ...) as a model file.
    Import(nir::ImportArgs),
    /// Export a model file as a NIR graph.
    Export(nir::ExportArgs),
    /// Run a built-in model on the built-in default chip, no files needed.
    Demo(DemoArgs),
    /// Characterize the mesh alone with synthetic traffic (latency, throughput, saturation).
    Noc(noc::NocArgs),
    /// Train a compressed SNN on a data set and export it as a model file.
    Train(train::TrainArgs),
    /// Test accuracy of a model file (reference executor) on a data set.
    Eval(train::EvalArgs),
    /// Run a design-space sweep (sweep file: base chip, models, axes) on all cores.
    Sweep(sweep::SweepArgs),
    /// Join the output folders of a sharded sweep into one.
    Merge(sweep::MergeArgs),
    /// Draw a chart (SVG, PNG) from sweep results or a run report.
    Plot(plot::PlotArgs),
    /// Research studies: train, compress, simulate on a chip, report.
    Study(study::StudyArgs),
}

#[derive(Args)]
pub struct SimArgs {
    /// Number of input samples (inferences); default 8, or every sample
    /// of --input.
    #[arg(long)]
    pub samples: Option<u64>,
    /// Seed of the stimulus (synthetic, or rate-coded data set samples;
    /// default 1, or with --dataset the seed the trainer measured with).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Push the first --samples test samples of this labelled data set
    /// (mnist, fashion-mnist, dvs-gestures) through the chip and report accuracy.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Directory of the data set's files (fashion-mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub recorded: RecordedArgs,
    /// Worker threads (default: all cores): samples run in parallel, and
    /// with fewer samples than threads each inference is split over the
    /// rest (by bands of mesh columns; not with `router.input_queued`, whose
    /// mesh steps whole). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Override a config parameter, e.g. --set core.pes=16 --set mesh=8x8.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also run the reference executor; exit 1 on any mismatched spike.
    #[arg(long)]
    pub check: bool,
    /// Visit every cycle instead of jumping over idle ones (slow; for checking).
    #[arg(long)]
    pub every_cycle: bool,
    /// Write traces of one sample into this folder: spikes.csv, cycles.vcd
    /// (GTKWave), trace.json (Perfetto).
    #[arg(long, value_name = "DIR")]
    pub trace: Option<PathBuf>,
    /// The sample to trace (0-based).
    #[arg(long, default_value_t = 0)]
    pub trace_sample: u64,
    /// Trace only cycles FIRST..LAST of the sample.
    #[arg(long, value_name = "FIRST..LAST")]
    pub trace_window: Option<String>,
    /// Trace only timesteps FIRST..LAST (both included).
    #[arg(long, value_name = "FIRST..LAST")]
    pub trace_timesteps: Option<String>,
    /// Trace only these cores and their tiles' routers, e.g. 0,3,5-7.
    #[arg(long, value_name = "LIST")]
    pub trace_cores: Option<String>,
    /// Which traces: any of spikes, vcd, chrome, flits (chrome with a
    /// span per flit per router).
    #[arg(long, default_value = "spikes,vcd,chrome")]
    pub trace_kinds: String,
    /// Draw heat maps of the run (PE utilization, busy fraction, link load)
    /// into this folder, as SVG and PNG.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

/// Recorded inputs, for `run`, `demo` (refused there) and `eval`.
#[derive(Args)]
pub struct RecordedArgs {
    /// Recorded input spike trains: .npy ((T, N) or (T, B, ...)), or CSV
    /// (t,neuron / sample,t,neuron / event stream t,x,y,p). A .npy sets
    /// the timesteps of the run.
    #[arg(long, value_name = "PATH", conflicts_with = "dataset")]
    pub input: Option<PathBuf>,
    /// Class labels of the --input samples (.npy or one per line), for
    /// accuracy.
    #[arg(long, value_name = "FILE", requires = "input")]
    pub labels: Option<PathBuf>,
    /// The --input array is batch first, (B, T, ...).
    #[arg(long, requires = "input")]
    pub batch_first: bool,
    /// Time units per timestep of an --input event stream (t,x,y,p).
    #[arg(long, requires = "input")]
    pub time_bin: Option<f64>,
}

impl RecordedArgs {
    /// The recording for `model`, labels attached (`None` without --input).
    pub fn load(&self, model: &Model) -> Result<Option<recorded::Recording>> {
        let Some(path) = &self.input else {
            return Ok(None);
        };
        let layout = recorded::Layout {
            batch_first: self.batch_first,
            time_bin: self.time_bin,
        };
        let mut rec = recorded::load(path, model, layout)?;
        if let Some(l) = &self.labels {
            recorded::attach_labels(&mut rec, l, model.output_size())?;
        }
        Ok(Some(rec))
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// Hardware config (RON), e.g. hw_configs/default.ron.
    #[arg(long)]
    pub hw: PathBuf,
    /// Model (RON or binary .ncm), e.g. models/tiny.ron.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(Args)]
pub struct ConvertArgs {
    /// Model to read (RON or .ncm).
    pub input: PathBuf,
    /// Model to write: binary for `.ncm`, RON otherwise.
    pub output: PathBuf,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Which built-in workload.
    #[arg(long, value_enum, default_value = "mnist-conv")]
    pub workload: DemoWorkload,
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DemoWorkload {
    /// models/mnist-conv.ron, trained by neurocycle, on MNIST test images.
    MnistConv,
    /// models/mnist-mlp.ron, trained by neurocycle, on MNIST test images.
    MnistMlp,
    /// models/dvs-gestures-conv.ron on the synthetic event-camera gestures.
    DvsGestures,
    /// A synthetic 784-512-256-10 SNN, 90% sparse, 4-bit, on random input.
    Synthetic,
}

const MNIST_CONV: &str = include_str!("../../models/mnist-conv.ron");
const MNIST_MLP: &str = include_str!("../../models/mnist-mlp.ron");
const DVS_GESTURES: &str = include_str!("../../models/dvs-gestures-conv.ron");

#[derive(Clone, Copy, ValueEnum)]
pub enum SemanticsArg {
    LayerSerial,
    Pipelined,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ReadoutArg {
    SpikeCount,
    Membrane,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ResetArg {
    /// v := v_reset in the step of the spike (NIR's spec; alias `zero`).
    #[value(alias = "zero")]
    ToValue,
    Subtract,
    /// snnTorch's default: subtract the threshold one step late.
    DelayedSubtract,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConnectivityArg {
    /// Dense storage up to 4,194,304 weights per layer, synapse lists
    /// above it or when --fan-in, --locality or --recurrent is given.
    Auto,
    /// Every weight of every dense layer, zeros included.
    Dense,
    /// Synapse lists: memory and file grow with the synapses.
    Sparse,
}

#[derive(Args)]
pub struct GenArgs {
    /// Dense layer sizes, input first: 784,512,10.
    #[arg(long, value_delimiter = ',', conflicts_with = "conv")]
    pub layers: Option<Vec<usize>>,
    /// Conv net: CxHxW:layers, e.g. 1x28x28:c8k3s1p1,p2,c16k3s2p0,d10
    /// (cOkKsSpP = Conv2d, pK = SumPool2d, dN = Dense).
    #[arg(long)]
    pub conv: Option<String>,
    /// Fraction of zero weights, 0..1 (with synapse lists: the chance that
    /// a source is not drawn).
    #[arg(long, default_value_t = 0.9)]
    pub sparsity: f64,
    /// How dense layers store their synapses.
    #[arg(long, value_enum, default_value = "auto")]
    pub connectivity: ConnectivityArg,
    /// Sources per neuron, exactly (synapse lists; instead of --sparsity).
    #[arg(long)]
    pub fan_in: Option<usize>,
    /// Draw a neuron's sources from the WIDTH neurons around its position
    /// in the source population (synapse lists), as mapped networks are
    /// local; keeps routing tables and axon counts small.
    #[arg(long, value_name = "WIDTH")]
    pub locality: Option<usize>,
    /// Add a recurrent projection (delay 1) with this many sources per
    /// neuron to every population but the output (synapse lists).
    #[arg(long, value_name = "FAN_IN", default_value_t = 0)]
    pub recurrent: usize,
    /// Refuse to generate a model needing more memory than this (e.g. 2G);
    /// default: the memory available.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// 1 (binary), 2 (ternary) .. 16.
    #[arg(long, default_value_t = 4)]
    pub weight_bits: u8,
    #[arg(long, default_value_t = 8)]
    pub timesteps: u32,
    /// Density of the synthetic input stimulus.
    #[arg(long, default_value_t = 0.2)]
    pub input_rate: f64,
    /// Graded (direct) input of this many bits instead of spikes.
    #[arg(long)]
    pub graded_bits: Option<u8>,
    #[arg(long, value_enum, default_value = "layer-serial")]
    pub semantics: SemanticsArg,
    #[arg(long, value_enum, default_value = "spike-count")]
    pub readout: ReadoutArg,
    /// Current decay (12-bit; 4096 = no persistent current).
    #[arg(long, default_value_t = 4096)]
    pub du: u16,
    /// Voltage decay (12-bit; 0 = IF).
    #[arg(long, default_value_t = 256)]
    pub dv: u16,
    #[arg(long, value_enum, default_value = "subtract")]
    pub reset: ResetArg,
    #[arg(long, default_value_t = 16)]
    pub state_bits: u8,
    /// Threshold as a multiple of the expected drive of a neuron.
    #[arg(long, default_value_t = 1.0)]
    pub threshold_scale: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output model file: binary for `.ncm`, RON otherwise.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses the command line. Every option that takes a value takes a
/// negative number too (`--rate -0.1`), so the range check that follows
/// names the flag and its range instead of clap reading `-0.1` as a flag.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    fn negatives(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| {
            if a.get_action().takes_values() {
                a.allow_negative_numbers(true)
            } else {
                a
            }
        })
        .mut_subcommands(negatives)
    }
    negatives(Cli::command())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
        .unwrap_or_else(|e| usage_error(e))
}

/// Help and version print as clap prints them; a usage error prints as
/// every other error does, on one line with exit code 2.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    // Rust's number-parse messages name no range a user can act on.
    let message = message
        .join(" ")
        .replace(
            "invalid digit found in string",
            "expected a whole number, 0 or more",
        )
        .replace(
            "number too large to fit in target type",
            "too large for this flag",
        )
        .replace("invalid float literal", "expected a number");
    eprintln!("{message} (--help for usage)");
    std::process::exit(2)
}

pub fn main(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(a) => {
            let hw = HwConfig::load(&a.hw)?;
            let model = Model::load(&a.model)?;
            simulate(
                &hw,
                &a.hw.display().to_string(),
                &model,
                &a.model.display().to_string(),
                &a.sim,
            )
        }
        Command::Gen(a) => gen(&a),
        Command::Convert(a) => {
            let model = Model::load(&a.input)?;
            model.save(&a.output)?;
            let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
            eprintln!(
                "converted {} ({} bytes) to {} ({} bytes): {} populations, {} projections, {} synapses",
                a.input.display(),
                size(&a.input),
                a.output.display(),
                size(&a.output),
                model.populations.len(),
                model.projections.len(),
                model.n_synapses()
            );
            Ok(0)
        }
        Command::Import(a) => nir::import_main(&a),
        Command::Export(a) => nir::export_main(&a),
        Command::Noc(a) => noc::main(&a),
        Command::Train(a) => {
            let line = std::env::args().collect::<Vec<_>>().join(" ");
            train::train_main(&a, &line)
        }
        Command::Eval(a) => train::eval_main(&a),
        Command::Sweep(a) => sweep::sweep_main(&a),
        Command::Merge(a) => sweep::merge_main(&a),
        Command::Plot(a) => plot::main(&a),
        Command::Study(a) => study::main(&a),
        Command::Demo(a) => {
            let hw = HwConfig::preset("default")?;
            let mut sim = a.sim;
            if sim.dataset.is_some() || sim.data_dir.is_some() || sim.recorded.input.is_some() {
                return Err(Error::Usage(
                    "demo picks its inputs by --workload (mnist-conv, mnist-mlp, dvs-gestures, synthetic); use `run` for --dataset, --data-dir or --input".into(),
                ));
            }
            sim.check = true;
            let (model, file) = match a.workload {
                DemoWorkload::Synthetic => (generate(&demo_spec()), "<generated>"),
                DemoWorkload::MnistConv => (
                    Model::parse("models/mnist-conv.ron", MNIST_CONV)?,
                    "models/mnist-conv.ron (built in)",
                ),
                DemoWorkload::MnistMlp => (
                    Model::parse("models/mnist-mlp.ron", MNIST_MLP)?,
                    "models/mnist-mlp.ron (built in)",
                ),
                DemoWorkload::DvsGestures => (
                    Model::parse("models/dvs-gestures-conv.ron", DVS_GESTURES)?,
                    "models/dvs-gestures-conv.ron (built in)",
                ),
            };
            model.validate(file)?;
            match a.workload {
                DemoWorkload::Synthetic => println!(
                    "demo: {} on the built-in default chip (hw_configs/default.ron); same as\n  neurocycle gen --layers 784,512,256,10 --sparsity 0.9 --weight-bits 4 --timesteps 8 --out m.ron\n  neurocycle run --hw hw_configs/default.ron --model m.ron --check\n",
                    model.name
                ),
                _ => {
                    let data = model
                        .metadata
                        .get("dataset")
                        .cloned()
                        .unwrap_or_else(|| "mnist".into());
                    sim.dataset = Some(data.clone());
                    println!(
                        "demo: {} (trained by neurocycle; trainer's integer test accuracy {} on {} samples) on the built-in default chip, {data} test samples; same as\n  neurocycle run --hw hw_configs/default.ron --model {} --dataset {data} --samples {} --check\n",
                        model.name,
                        model.metadata.get("test_accuracy").map_or("?", |s| s.as_str()),
                        model.metadata.get("test_samples").map_or("?", |s| s.as_str()),
                        file.trim_end_matches(" (built in)"),
                        sim.samples.unwrap_or(8)
                    );
                }
            }
            simulate(&hw, "hw_configs/default.ron (built in)", &model, file, &sim)
        }
    }
}

/// A worker-count flag: 1 or more, default all cores.
pub fn workers(flag: &str, n: Option<usize>) -> Result<usize> {
    match n {
        Some(0) => Err(Error::invalid("command line", flag, 0, "1 or more")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The workload of `neurocycle demo`.
pub fn demo_spec() -> GenSpec {
    GenSpec {
        layers: vec![784, 512, 256, 10],
        sparsity: 0.9,
        weight_bits: 4,
        timesteps: 8,
        ..GenSpec::default()
    }
}

fn simulate(
    hw: &HwConfig,
    hw_file: &str,
    model: &Model,
    model_file: &str,
    a: &SimArgs,
) -> Result<i32> {
    let hw = hw.with_overrides(hw_file, &a.sets)?;
    let dataset = match &a.dataset {
        Some(name) => Some(neurocycle::data::load(name, a.data_dir.as_deref())?),
        None => None,
    };
    let mut recording = a.recorded.load(model)?;
    let retimed = recording.as_mut().and_then(|r| {
        let (m, lag) = r.retime(model)?;
        eprintln!("{}", retime_note(r, lag, model.timesteps));
        Some(m)
    });
    let model = retimed.as_ref().unwrap_or(model);
    let inputs = match (&dataset, &recording) {
        (Some(d), _) => Inputs::Dataset(d),
        (_, Some(r)) => Inputs::Recorded(r),
        _ => Inputs::Synthetic,
    };
    let samples = match (a.samples, &recording) {
        (Some(n), _) => n,
        (None, Some(r)) => r.samples.len() as u64,
        (None, None) => 8,
    };
    let job = Job {
        hw: &hw,
        hw_file,
        overrides: &a.sets,
        model,
        model_file,
        inputs,
        seed: a.seed.unwrap_or_else(|| inputs.default_seed(model)),
        opts: RunOptions {
            samples,
            threads: workers("--threads", a.threads)?,
            engine: EngineOptions {
                every_cycle: a.every_cycle,
                ..EngineOptions::default()
            },
            check: a.check,
        },
    };
    let bar = indicatif::ProgressBar::new(samples);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} samples  {per_sec}  eta {eta}",
        )
        .expect("valid template"),
    );
    // Check the trace options before the long part.
    let trace = match &a.trace {
        Some(dir) => Some((
            dir,
            trace_selection(a)?,
            trace::Kinds::parse(&a.trace_kinds)?,
        )),
        None => None,
    };
    if let Some((_, sel, _)) = &trace {
        trace::check_job(&job, a.trace_sample, sel)?;
    }
    let (rep, summary) = simulate_job(&job, &|done| bar.set_position(done))?;
    bar.finish_and_clear();
    print!("{}", rep.table());
    if let Some(path) = &a.report {
        write_atomic(path, rep.to_json().as_bytes())?;
        eprintln!("report written to {}", path.display());
    }
    if let Some((dir, sel, kinds)) = trace {
        let files = trace::trace_job(&job, a.trace_sample, &sel, kinds, dir)?;
        eprintln!(
            "traces of sample {} written: {}",
            a.trace_sample,
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(dir) = &a.plots {
        let files = neurocycle::plot::report::write_heat_maps(&rep, dir)?;
        eprintln!("{} plots written to {}", files.len(), dir.display());
    }
    Ok(summary.exit_code())
}

/// What `--input` did to the timesteps.
pub fn retime_note(r: &recorded::Recording, lag: u32, model_t: u32) -> String {
    format!(
        "{}: {} timesteps per sample{}: running {} (the model says {model_t})",
        r.file,
        r.timesteps - lag,
        if lag > 0 {
            format!(", and the output lags the input by {lag}")
        } else {
            String::new()
        },
        r.timesteps
    )
}

fn trace_selection(a: &SimArgs) -> Result<trace::Selection> {
    let timesteps = match &a.trace_timesteps {
        Some(t) => {
            let (x, y) = trace::parse_range("--trace-timesteps", t)?;
            let max = u32::MAX as u64;
            neurocycle::error::check_range("command line", "--trace-timesteps", y, 0, max)?;
            Some((x as u32, y as u32))
        }
        None => None,
    };
    Ok(trace::Selection {
        cycles: a
            .trace_window
            .as_deref()
            .map(|w| trace::parse_range("--trace-window", w))
            .transpose()?,
        timesteps,
        cores: a
            .trace_cores
            .as_deref()
            .map(trace::parse_cores)
            .transpose()?,
    })
}

fn gen(a: &GenArgs) -> Result<i32> {
    let conv = match &a.conv {
        Some(s) => Some(parse_conv(s).map_err(Error::Usage)?),
        None => None,
    };
    let layers = a.layers.clone().unwrap_or_else(|| vec![784, 512, 10]);
    let lists_asked = a.fan_in.is_some() || a.locality.is_some() || a.recurrent > 0;
    if a.connectivity == ConnectivityArg::Dense && lists_asked {
        return Err(Error::Usage(
            "--fan-in, --locality and --recurrent draw synapse lists; use --connectivity sparse or auto".into(),
        ));
    }
    let mut spec = GenSpec {
        layers,
        conv,
        sparsity: a.sparsity,
        weight_bits: a.weight_bits,
        timesteps: a.timesteps,
        input_rate: a.input_rate,
        graded_bits: a.graded_bits,
        semantics: match a.semantics {
            SemanticsArg::LayerSerial => Semantics::LayerSerial,
            SemanticsArg::Pipelined => Semantics::Pipelined,
        },
        readout: match a.readout {
            ReadoutArg::SpikeCount => Readout::SpikeCount,
            ReadoutArg::Membrane => Readout::Membrane,
        },
        du: a.du,
        dv: a.dv,
        reset: match a.reset {
            ResetArg::ToValue => Reset::ToValue,
            ResetArg::Subtract => Reset::Subtract,
            ResetArg::DelayedSubtract => Reset::DelayedSubtract,
        },
        state_bits: a.state_bits,
        threshold_scale: a.threshold_scale,
        seed: a.seed,
        storage: Storage::Dense,
        fan_in: a.fan_in,
        locality: a.locality,
        recurrent: a.recurrent,
    };
    spec.storage = match a.connectivity {
        ConnectivityArg::Dense => Storage::Dense,
        ConnectivityArg::Sparse => Storage::Lists,
        ConnectivityArg::Auto => {
            // Sizes are checked below; saturate until then.
            let big = spec.conv.is_none()
                && spec
                    .layers
                    .windows(2)
                    .any(|w| w[0].saturating_mul(w[1]) > 1 << 22);
            if big || lists_asked {
                Storage::Lists
            } else {
                Storage::Dense
            }
        }
    };
    spec.check(neurocycle::limits::max_bytes("--max-memory", a.max_memory.as_deref())? as f64)?;
    let model = generate(&spec);
    model.validate("<generated>")?;
    model.save(&a.out)?;
    eprintln!(
        "wrote {} ({} populations, {} synapses, T = {})",
        a.out.display(),
        model.populations.len(),
        model.n_synapses(),
        model.timesteps
    );
    Ok(0)
}
