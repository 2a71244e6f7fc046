//! Traces of one inference: what every core and router did, cycle by
//! cycle, written for the tools architects open them with: spikes as CSV,
//! signals as VCD (GTKWave), spans as Chrome trace-event JSON (Perfetto).
//!
//! `record` runs a sample with a `Recording` observer (events kept in
//! memory: one inference is bounded); `Selection` then cuts a time window
//! and a set of cores (with their tiles' routers) before writing.

pub mod chrome;
pub mod vcd;

use crate::engine::noc::{MeshParams, LOCAL};
use crate::engine::{run_sample, Activity, Chip, EngineOptions, Observer};
use crate::error::{write_atomic, Error, Result};
use crate::model::stimulus::Stimulus;
use std::path::{Path, PathBuf};

/// Everything observed in one inference, in the order it happened.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// (timestep, layer, neuron, core, cycle).
    pub spikes: Vec<(u32, u32, u32, u32, u64)>,
    /// (timestep, phase, start, end).
    pub phases: Vec<(u32, u32, u64, u64)>,
    /// (core, activity, start, cycles).
    pub busy: Vec<(u32, Activity, u64, u64)>,
    /// (core, arrival, start).
    pub queued: Vec<(u32, u64, u64)>,
    /// (core, cycle).
    pub injected: Vec<(u32, u64)>,
    /// (router, in port, out port, cycle, left its buffer).
    pub hops: Vec<(u32, u32, u32, u64, bool)>,
}

impl Observer for Recording {
    fn spike(&mut self, t: u32, layer: u32, neuron: u32, core: u32, cycle: u64) {
        self.spikes.push((t, layer, neuron, core, cycle));
    }
    fn phase(&mut self, t: u32, phase: u32, start: u64, end: u64) {
        self.phases.push((t, phase, start, end));
    }
    fn busy(&mut self, core: u32, activity: Activity, start: u64, cycles: u64) {
        self.busy.push((core, activity, start, cycles));
    }
    fn queued(&mut self, core: u32, arrival: u64, start: u64) {
        self.queued.push((core, arrival, start));
    }
    fn injected(&mut self, core: u32, cycle: u64) {
        self.injected.push((core, cycle));
    }
    fn hop(&mut self, router: u32, in_port: u32, out_port: u32, cycle: u64, left: bool) {
        self.hops.push((router, in_port, out_port, cycle, left));
    }
}

/// Runs one sample on the chip, recording everything.
pub fn record(chip: &Chip, stimulus: &Stimulus) -> Result<(Recording, u64)> {
    let mut rec = Recording::default();
    let run = run_sample(chip, stimulus, EngineOptions::default(), &mut rec)?;
    Ok((rec, run.counters.cycles))
}

/// Which part of a recording to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Cycles `[start, end)`; `None`: the whole inference.
    pub cycles: Option<(u64, u64)>,
    /// Timesteps `[first, last]`, turned into cycles from the phases.
    pub timesteps: Option<(u32, u32)>,
    /// Cores to keep (with the routers of their tiles); `None`: all.
    pub cores: Option<Vec<u32>>,
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kinds {
    pub spikes: bool,
    pub vcd: bool,
    pub chrome: bool,
    /// One Chrome event per flit hop (router tracks), not only core spans.
    pub flits: bool,
}

impl Default for Kinds {
    fn default() -> Kinds {
        Kinds {
            spikes: true,
            vcd: true,
            chrome: true,
            flits: false,
        }
    }
}

impl Kinds {
    /// Parses `spikes,vcd,chrome,flits` (any subset).
    pub fn parse(text: &str) -> Result<Kinds> {
        let mut k = Kinds {
            spikes: false,
            vcd: false,
            chrome: false,
            flits: false,
        };
        for w in text.split(',').map(str::trim) {
            match w {
                "spikes" => k.spikes = true,
                "vcd" => k.vcd = true,
                "chrome" => k.chrome = true,
                "flits" => {
                    k.chrome = true;
                    k.flits = true
                }
                _ => {
                    return Err(Error::invalid(
                        "command line",
                        "--trace-kinds",
                        w,
                        "a list of spikes, vcd, chrome, flits (chrome with per-flit events)",
                    ))
                }
            }
        }
        Ok(k)
    }
}

/// A recording cut to a selection, with what the writers need to know
/// about the chip.
pub struct View<'a> {
    pub rec: &'a Recording,
    pub mesh: MeshParams,
    pub clock_mhz: f64,
    /// Layer of each core in use.
    pub core_layer: Vec<u32>,
    /// Name of each population (layer).
    pub population_names: Vec<String>,
    /// `[start, end)` in cycles.
    pub window: (u64, u64),
    /// Cores kept (sorted).
    pub cores: Vec<u32>,
    /// Routers kept (sorted): the tiles of the kept cores.
    pub routers: Vec<u32>,
    pub end_cycle: u64,
}

/// Sorted ids as ranges: `0-3, 7, 9-10`.
fn ranges(ids: &[u32]) -> String {
    let mut out: Vec<String> = vec![];
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

impl<'a> View<'a> {
    pub fn new(
        chip: &Chip,
        rec: &'a Recording,
        end_cycle: u64,
        sel: &Selection,
    ) -> Result<View<'a>> {
        let used = cores_in_use(chip.cores.iter().map(|c| c.phys));
        check_cores(&used, sel)?;
        let cores: Vec<u32> = match &sel.cores {
            Some(c) => {
                let mut c = c.clone();
                c.sort_unstable();
                c.dedup();
                c
            }
            None => used,
        };
        let cpr = chip.mesh.cores_per_router;
        let mut routers: Vec<u32> = match &sel.cores {
            Some(_) => cores.iter().map(|c| c / cpr).collect(),
            None => (0..chip.mesh.x * chip.mesh.y).collect(),
        };
        routers.dedup();
        let mut window = sel.cycles.unwrap_or((0, end_cycle));
        if let Some((a, b)) = sel.timesteps {
            let t_max = rec.phases.iter().map(|p| p.0).max().unwrap_or(0);
            if a > b || b > t_max {
                return Err(Error::invalid(
                    "command line",
                    "--trace-timesteps",
                    format!("{a}..{b}"),
                    format!("FIRST..LAST within 0..{t_max}"),
                ));
            }
            let start = rec
                .phases
                .iter()
                .filter(|p| p.0 == a)
                .map(|p| p.2)
                .min()
                .unwrap_or(0);
            // The timestep ends where the next begins (barrier included).
            let end = rec
                .phases
                .iter()
                .filter(|p| p.0 == b + 1)
                .map(|p| p.2)
                .min()
                .unwrap_or(end_cycle);
            window = (window.0.max(start), window.1.min(end));
        }
        if window.0 >= window.1 {
            return Err(Error::invalid(
                "command line",
                "--trace-window",
                format!("{}..{}", window.0, window.1),
                format!("a non-empty window within 0..{end_cycle}"),
            ));
        }
        Ok(View {
            rec,
            mesh: chip.mesh,
            clock_mhz: chip.hw.clock_mhz,
            core_layer: {
                let mut by_id = vec![u32::MAX; chip.hw.n_cores() as usize];
                for c in &chip.cores {
                    by_id[c.phys as usize] = c.population;
                }
                by_id
            },
            population_names: (0..chip.model.populations.len())
                .map(|p| chip.model.population_name(p))
                .collect(),
            window,
            cores,
            routers,
            end_cycle,
        })
    }

    pub fn keeps_core(&self, core: u32) -> bool {
        self.cores.binary_search(&core).is_ok()
    }

    pub fn keeps_router(&self, router: u32) -> bool {
        self.routers.binary_search(&router).is_ok()
    }

    /// Whether `[start, end)` overlaps the window.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.window.1 && end > self.window.0 || (start == end && self.in_window(start))
    }

    pub fn in_window(&self, cycle: u64) -> bool {
        cycle >= self.window.0 && cycle < self.window.1
    }

    /// The router of a core, and the core's local port on it.
    pub fn core_port(&self, core: u32) -> (u32, u32) {
        (
            core / self.mesh.cores_per_router,
            LOCAL as u32 + core % self.mesh.cores_per_router,
        )
    }

    /// Name of a router port: N, E, S, W or the core it serves.
    pub fn port_name(&self, router: u32, port: u32) -> String {
        match port {
            0 => "N".into(),
            1 => "E".into(),
            2 => "S".into(),
            3 => "W".into(),
            p => format!(
                "core{}",
                router * self.mesh.cores_per_router + p - LOCAL as u32
            ),
        }
    }

    /// Whether a mesh port of a router leads to another tile.
    pub fn port_exists(&self, router: u32, port: u32) -> bool {
        let (x, y) = (router % self.mesh.x, router / self.mesh.x);
        match port {
            0 => y > 0,
            1 => x + 1 < self.mesh.x,
            2 => y + 1 < self.mesh.y,
            3 => x > 0,
            _ => true,
        }
    }

    /// The router and input port a flit sent from `router` through mesh
    /// output `out` enters, and the cycle it arrives there.
    pub fn downstream(&self, router: u32, out: u32, sent: u64) -> (u32, u32, u64) {
        let x = self.mesh.x;
        let next = match out {
            0 => router - x,
            1 => router + 1,
            2 => router + x,
            _ => router - 1,
        };
        let arrive = sent + (self.mesh.flit_cycles - 1) as u64 + self.mesh.link_latency as u64;
        (next, (out + 2) % 4, arrive)
    }

    /// Cycles an output port is busy sending one flit.
    pub fn send_cycles(&self, out: u32) -> u64 {
        if (out as usize) < LOCAL {
            self.mesh.flit_cycles as u64
        } else {
            1
        }
    }
}

/// Writes `spikes.csv`: timestep, layer, neuron, core, cycle, population
/// (the layer's name), in cycle order.
pub fn spikes_csv(v: &View) -> String {
    let mut rows: Vec<_> = v
        .rec
        .spikes
        .iter()
        .filter(|s| v.keeps_core(s.3) && v.in_window(s.4))
        .collect();
    rows.sort_by_key(|s| (s.4, s.1, s.2));
    let mut out = String::from("timestep,layer,neuron,core,cycle,population\n");
    for (t, layer, neuron, core, cycle) in rows {
        let name = v
            .population_names
            .get(*layer as usize)
            .map_or("", |n| n.as_str());
        // A name with a comma or quote is quoted, as CSV does.
        let name = if name.contains([',', '"', '\n']) {
            format!("\"{}\"", name.replace('"', "\"\""))
        } else {
            name.to_string()
        };
        out.push_str(&format!("{t},{layer},{neuron},{core},{cycle},{name}\n"));
    }
    out
}

/// Writes the selected kinds into `dir`; returns the files written.
pub fn write(v: &View, dir: &Path, kinds: Kinds) -> Result<Vec<PathBuf>> {
    let mut files = vec![];
    if kinds.spikes {
        let p = dir.join("spikes.csv");
        write_atomic(&p, spikes_csv(v).as_bytes())?;
        files.push(p);
    }
    if kinds.vcd {
        let p = dir.join("cycles.vcd");
        write_atomic(&p, vcd::write(v).as_bytes())?;
        files.push(p);
    }
    if kinds.chrome {
        let p = dir.join("trace.json");
        write_atomic(&p, chrome::write(v, kinds.flits).as_bytes())?;
        files.push(p);
    }
    Ok(files)
}

/// Records sample `sample` of a job and writes its traces into `dir`.
fn cores_in_use(phys: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut used: Vec<u32> = phys.collect();
    used.sort_unstable();
    used
}

fn check_cores(used: &[u32], sel: &Selection) -> Result<()> {
    for &core in sel.cores.iter().flatten() {
        if used.binary_search(&core).is_err() {
            return Err(Error::invalid(
                "command line",
                "--trace-cores",
                core,
                format!("a core in use: {}", ranges(used)),
            ));
        }
    }
    Ok(())
}

/// Checks the trace options against the job before anything runs: the
/// sample exists, the cores are in use, the timesteps are the model's.
pub fn check_job(job: &crate::job::Job, sample: u64, sel: &Selection) -> Result<()> {
    crate::error::check_range(
        "command line",
        "--trace-sample",
        sample,
        0,
        job.opts.samples - 1,
    )?;
    let map = crate::mapping::map(job.model, job.hw, job.model_file)?;
    check_cores(&cores_in_use(map.cores.iter().map(|c| c.id)), sel)?;
    if let Some((a, b)) = sel.timesteps {
        let last = job.model.timesteps.saturating_sub(1);
        if b > last {
            return Err(Error::invalid(
                "command line",
                "--trace-timesteps",
                format!("{a}..{b}"),
                format!(
                    "FIRST..LAST within 0..{last} (the model runs {} timesteps)",
                    job.model.timesteps
                ),
            ));
        }
    }
    Ok(())
}

pub fn trace_job(
    job: &crate::job::Job,
    sample: u64,
    sel: &Selection,
    kinds: Kinds,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    check_job(job, sample, sel)?;
    let map = crate::mapping::map(job.model, job.hw, job.model_file)?;
    let chip = Chip::build(job.hw, job.model, &map);
    let stim = job.inputs.sample(job.model, job.seed, sample);
    let (rec, cycles) = record(&chip, &stim)?;
    let view = View::new(&chip, &rec, cycles, sel)?;
    write(&view, dir, kinds)
}

/// Parses `A..B` (cycles or timesteps) for the flag `flag`.
pub fn parse_range(flag: &str, text: &str) -> Result<(u64, u64)> {
    let bad = || Error::invalid("command line", flag, text, "FIRST..LAST, e.g. 100..2000");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b) = (
        a.trim().parse::<u64>().map_err(|_| bad())?,
        b.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses a core list: `0,3,5-7`.
pub fn parse_cores(text: &str) -> Result<Vec<u32>> {
    let bad = || {
        Error::invalid(
            "command line",
            "--trace-cores",
            text,
            "core ids and ranges, e.g. 0,3,5-7",
        )
    };
    let mut out = vec![];
    for part in text.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.parse::<u32>().map_err(|_| bad())?,
                    b.parse::<u32>().map_err(|_| bad())?,
                );
                if a > b || b - a > 1 << 20 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}
