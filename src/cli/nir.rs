//! `import` and `export`: NIR graph files to and from model files.

use super::ResetArg;
use clap::Args;
use neurocycle::error::Result;
use neurocycle::model::{Model, Reset};
use neurocycle::nir::{self, import::ImportOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// NIR graph file (HDF5), as snnTorch, Norse, Lava-dl, Sinabs or
    /// Rockpool write it.
    pub input: PathBuf,
    /// Model file to write: binary for `.ncm`, RON otherwise.
    #[arg(long)]
    pub out: PathBuf,
    /// Time step in seconds: NIR files do not store it (snnTorch exports
    /// with 1e-4, Norse with 1e-3 by default).
    #[arg(long, default_value_t = 1e-4)]
    pub dt: f64,
    /// Reset on a spike: `to-value` is the NIR spec (v := v_reset at
    /// once); snnTorch's neurons subtract the threshold one step late
    /// (`delayed-subtract`), whatever v_reset the file holds.
    #[arg(long, value_enum, default_value = "to-value")]
    pub reset: ResetArg,
    /// Bits of every weight (2 ..= 16); thresholds and biases share the
    /// weights' scale.
    #[arg(long, default_value_t = 8)]
    pub weight_bits: u8,
    /// One scale per tensor (per target population) or per channel (per
    /// neuron; per output channel for a convolution).
    #[arg(long, value_enum, default_value = "tensor")]
    pub scale: ScaleArg,
    /// Width of the neurons' u and v (Loihi: 24).
    #[arg(long, default_value_t = 24)]
    pub state_bits: u8,
    /// Resolution of the decays du, dv (12 ..= 15 bits; Loihi: 12).
    /// Default: the fewest bits that hold every dt / tau within 1e-5, up
    /// to 15.
    #[arg(long)]
    pub decay_bits: Option<u8>,
    /// Inputs carry values of this many bits (direct encoding) instead of
    /// spikes.
    #[arg(long)]
    pub graded_bits: Option<u8>,
    /// Timesteps of an inference (`run --input` takes the recording's).
    #[arg(long, default_value_t = 16)]
    pub timesteps: u32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ScaleArg {
    Tensor,
    Channel,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Model file (RON or .ncm).
    pub model: PathBuf,
    /// NIR file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Time step in seconds the time constants are written for.
    #[arg(long, default_value_t = 1e-4)]
    pub dt: f64,
}

pub fn import_main(a: &ImportArgs) -> Result<i32> {
    let file = a.input.display().to_string();
    let graph = nir::file::read(&a.input)?;
    let opts = ImportOptions {
        dt: a.dt,
        reset: match a.reset {
            ResetArg::ToValue => Reset::ToValue,
            ResetArg::Subtract => Reset::Subtract,
            ResetArg::DelayedSubtract => Reset::DelayedSubtract,
        },
        weight_bits: a.weight_bits,
        per_channel: matches!(a.scale, ScaleArg::Channel),
        state_bits: a.state_bits,
        decay_bits: a.decay_bits,
        graded_bits: a.graded_bits,
        timesteps: a.timesteps,
    };
    let name = a
        .input
        .file_stem()
        .map_or("nir".into(), |s| s.to_string_lossy().to_string());
    let model = nir::import::import(&graph, &opts, &file, &name)?;
    model.save(&a.out)?;
    eprintln!(
        "imported {file} ({} nodes, {} edges) to {}: {} populations, {} projections, {} synapses, output `{}`",
        graph.nodes.len(),
        graph.edges.len(),
        a.out.display(),
        model.populations.len(),
        model.projections.len(),
        model.n_synapses(),
        model.populations[model.output].name
    );
    Ok(0)
}

pub fn export_main(a: &ExportArgs) -> Result<i32> {
    let model = Model::load(&a.model)?;
    let graph = nir::export::export(&model, a.dt, &a.model.display().to_string())?;
    nir::file::write(&graph, &a.out)?;
    eprintln!(
        "exported {} to {}: {} nodes, {} edges",
        a.model.display(),
        a.out.display(),
        graph.nodes.len(),
        graph.edges.len()
    );
    Ok(0)
}
