//! The cycle-level chip. Runs one inference (a stimulus) through the
//! compiled chip phase by phase, cycle by cycle, and returns counters and
//! the readout. Does no IO and knows no file format.
//!
//! A phase (one per level of the model's schedule per timestep: one per
//! layer of a `layer_serial` chain, one for `pipelined`): in phase 0 the
//! host writes the timestep's input events into the queues of the cores
//! its projections reach; cores integrate what arrives; the cores of the
//! phase's populations update once everything sent to them has been
//! integrated; their spikes travel the mesh and are integrated on arrival,
//! into the accumulator bank of the timestep they act in (the spike's
//! timestep plus its row's delay); the phase ends when every queue,
//! pipeline and router is empty, and the barrier follows.
//!
//! Event driven: each core and router knows the next cycle it can act,
//! and the clock jumps to the earliest one. `every_cycle` visits every
//! core and router at every cycle instead; both give identical counters.

pub mod chip;
pub mod core;
pub mod counters;
pub mod noc;
mod wheel;

use self::core::{step_core, CoreEvents, CoreState, PhaseCtx, StepEnv};
use crate::error::{Error, Result};
use crate::model::stimulus::Stimulus;
use crate::model::{argmax, Readout, SpikeRecord};
pub use chip::Chip;
pub use counters::{CoreCounters, Counters};
use noc::{Flit, Mesh, Sink};

#[derive(Clone, Copy, Debug, Default)]
pub struct EngineOptions {
    /// Visit every core and router at every cycle (slow; for checking).
    pub every_cycle: bool,
    /// Record every spike (for `--check` and traces).
    pub record_spikes: bool,
}

/// The result of one inference on the chip.
#[derive(Clone, Debug)]
pub struct SampleRun {
    pub counters: Counters,
    pub readout: Vec<i64>,
    pub prediction: u32,
    /// Sorted by (t, layer, neuron); empty unless recorded.
    pub spikes: Vec<SpikeRecord>,
}

/// What a kind of activity a core is busy with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Activity {
    /// Reading a synapse row and accumulating (one event).
    Integrate,
    /// The update walk over the core's neurons.
    Update,
    /// On-chip learning after an update (column updates, trace walk).
    Learn,
}

/// Observes the run (traces build on this). Every method has an empty
/// default, and the engine is generic over the observer, so `Quiet`
/// compiles to nothing.
pub trait Observer {
    /// A neuron fired in timestep `t`; its spike is ready at `cycle`.
    fn spike(&mut self, _t: u32, _layer: u32, _neuron: u32, _core: u32, _cycle: u64) {}
    /// Phase `phase` of timestep `t` ran from `start_cycle` to `end_cycle`
    /// (the barrier follows).
    fn phase(&mut self, _t: u32, _phase: u32, _start_cycle: u64, _end_cycle: u64) {}
    /// `core` was busy with `activity` from `start` for `cycles` cycles.
    /// Spans of one core never overlap; they sum to its busy cycles.
    fn busy(&mut self, _core: u32, _activity: Activity, _start: u64, _cycles: u64) {}
    /// An event waited in `core`'s work queue from `arrival` to `start`.
    fn queued(&mut self, _core: u32, _arrival: u64, _start: u64) {}
    /// A flit entered `core`'s injection buffer at `cycle`.
    fn injected(&mut self, _core: u32, _cycle: u64) {}
    /// A flit crossed `router` from `in_port` to `out_port` at `cycle`
    /// (`engine::noc` port numbers); `left_buffer` once its last copy left.
    fn hop(
        &mut self,
        _router: u32,
        _in_port: u32,
        _out_port: u32,
        _cycle: u64,
        _left_buffer: bool,
    ) {
    }
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

struct Recorder<'a, O: Observer> {
    record: bool,
    spikes: Vec<SpikeRecord>,
    inner: &'a mut O,
}

impl<O: Observer> CoreEvents for Recorder<'_, O> {
    #[inline]
    fn spike(&mut self, t: u32, layer: u32, neuron: u32, core: u32, cycle: u64) {
        if self.record {
            self.spikes.push(SpikeRecord { t, layer, neuron });
        }
        self.inner.spike(t, layer, neuron, core, cycle);
    }
    #[inline]
    fn event(&mut self, core: u32, arrival: u64, start: u64, cycles: u64) {
        self.inner.queued(core, arrival, start);
        self.inner.busy(core, Activity::Integrate, start, cycles);
    }
    #[inline]
    fn update(&mut self, core: u32, start: u64, cycles: u64) {
        self.inner.busy(core, Activity::Update, start, cycles);
    }
    #[inline]
    fn learn(&mut self, core: u32, start: u64, cycles: u64) {
        self.inner.busy(core, Activity::Learn, start, cycles);
    }
    #[inline]
    fn injected(&mut self, core: u32, cycle: u64) {
        self.inner.injected(core, cycle);
    }
}

/// The cores' work queues, as the mesh's ejection target: an ejected flit
/// is admitted (scheduled and integrated) on arrival.
struct Queues<'a, E: CoreEvents + RouterEvents> {
    cores: &'a mut [CoreState],
    tables: &'a [chip::CoreTables],
    /// Index into `cores` of every physical core.
    index_of: &'a [u32],
    ctx: &'a PhaseCtx,
    events: &'a mut E,
    /// The earliest wake-up this step gave a core.
    woke: u64,
}

/// Router activity, forwarded to the observer.
trait RouterEvents {
    fn hop(&mut self, router: usize, in_port: usize, out_port: usize, cycle: u64, left: bool);
}

impl<O: Observer> RouterEvents for Recorder<'_, O> {
    #[inline]
    fn hop(&mut self, router: usize, in_port: usize, out_port: usize, cycle: u64, left: bool) {
        self.inner
            .hop(router as u32, in_port as u32, out_port as u32, cycle, left);
    }
}

impl<E: CoreEvents + RouterEvents> Sink for Queues<'_, E> {
    fn room_at(&mut self, core: u32, now: u64) -> u64 {
        let c = self.index_of[core as usize] as usize;
        self.cores[c].queue.room_at(now)
    }
    fn accept(&mut self, core: u32, flit: Flit, now: u64) {
        let i = self.index_of[core as usize] as usize;
        let tables = &self.tables[i];
        let c = &mut self.cores[i];
        let (start, cycles) = c.admit(
            tables,
            flit.axon,
            flit.payload as u32,
            flit.tag as u32,
            now,
            self.ctx,
        );
        self.events.event(core, now, start, cycles);
        // A core that still has to update does so when this event drains.
        if c.must_update && !c.updated {
            c.wake = c.wake.min(c.drain_at);
            self.woke = self.woke.min(c.wake);
        }
    }
    #[inline]
    fn injection_freed(&mut self, core: u32, now: u64) {
        // A core with spikes left to send waits for this (see `next_wake`);
        // routers step before cores, so it sends in this very cycle.
        let c = &mut self.cores[self.index_of[core as usize] as usize];
        if c.out_head < c.out.len() {
            c.wake = c.wake.min(now);
            self.woke = self.woke.min(now);
        }
    }
    #[inline]
    fn hop(&mut self, router: usize, in_port: usize, out_port: usize, cycle: u64, left: bool) {
        self.events.hop(router, in_port, out_port, cycle, left);
    }
}

/// The readout so far: output spike counts, or the output population's
/// membrane.
fn readout_of(
    model: &crate::model::Model,
    chip: &Chip,
    cores: &[CoreState],
    out_counts: &[i64],
) -> Vec<i64> {
    match model.readout {
        Readout::SpikeCount => out_counts.to_vec(),
        Readout::Membrane => {
            let mut v = vec![0i64; model.output_size()];
            for (c, s) in cores.iter().enumerate() {
                let t = &chip.cores[c];
                if t.population as usize == model.output {
                    for i in 0..t.n_neurons as usize {
                        v[t.first_neuron as usize + i] = s.v[i] as i64;
                    }
                }
            }
            v
        }
    }
}

/// What persists from sample to sample while the chip learns: the
/// weights of plastic cores and every core's adaptive thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChipLearner {
    /// Per core; empty for cores without STDP.
    pub weights: Vec<Vec<i16>>,
    pub theta: Vec<Vec<i32>>,
}

impl ChipLearner {
    pub fn new(chip: &Chip) -> ChipLearner {
        ChipLearner {
            weights: chip
                .cores
                .iter()
                .map(|t| {
                    if t.stdp.is_some() {
                        t.weights.clone()
                    } else {
                        vec![]
                    }
                })
                .collect(),
            theta: chip
                .cores
                .iter()
                .map(|t| vec![0; t.n_neurons as usize])
                .collect(),
        }
    }

    /// The learned weights in the IR's layout (`[target][source]` per
    /// dense projection) for the projections with STDP; empty for the
    /// others.
    pub fn layer_weights(&self, chip: &Chip) -> Vec<Vec<i32>> {
        let model = chip.model;
        let mut out: Vec<Vec<i32>> = model
            .projections
            .iter()
            .map(|j| match (&j.stdp, &j.conn) {
                (Some(_), crate::model::Connectivity::Dense { weights }) => vec![0; weights.len()],
                _ => vec![],
            })
            .collect();
        for (c, t) in chip.cores.iter().enumerate() {
            if t.stdp.is_none() {
                continue;
            }
            let p = t.population as usize;
            let j = model
                .projections
                .iter()
                .position(|j| j.target == p && j.stdp.is_some())
                .expect("a plastic core has a plastic projection");
            let inputs = model.source_len(model.projections[j].source);
            let cm = &chip.mapping.cores[c];
            for a in 0..t.input_rows as usize {
                let src = cm.rows[a].source as usize;
                for (k, w) in self.weights[c][t.row_start[a] as usize..t.row_start[a + 1] as usize]
                    .iter()
                    .enumerate()
                {
                    out[j][(t.first_neuron as usize + k) * inputs + src] = *w as i32;
                }
            }
        }
        out
    }

    /// Swaps the carried-over state into the cores at a sample's start and
    /// back at its end (no copies).
    fn exchange(&mut self, cores: &mut [CoreState]) {
        for (c, s) in cores.iter_mut().enumerate() {
            std::mem::swap(&mut s.theta, &mut self.theta[c]);
            if !s.weights.is_empty() {
                std::mem::swap(&mut s.weights, &mut self.weights[c]);
            }
        }
    }

    /// Adaptive thresholds per population, in neuron order.
    pub fn layer_theta(&self, chip: &Chip) -> Vec<Vec<i32>> {
        let mut out: Vec<Vec<i32>> = chip
            .model
            .populations
            .iter()
            .map(|p| vec![0; p.len()])
            .collect();
        for (c, t) in chip.cores.iter().enumerate() {
            let f = t.first_neuron as usize;
            out[t.population as usize][f..f + t.n_neurons as usize].copy_from_slice(&self.theta[c]);
        }
        out
    }
}

/// Runs one inference.
pub fn run_sample<O: Observer>(
    chip: &Chip,
    stimulus: &Stimulus,
    opts: EngineOptions,
    observer: &mut O,
) -> Result<SampleRun> {
    run(chip, stimulus, opts, observer, None)
}

/// Runs one sample with learning on: STDP layers rewrite `learner`'s
/// weights (their cost is counted and timed), and adaptive thresholds
/// carry over from sample to sample.
pub fn run_sample_learning<O: Observer>(
    chip: &Chip,
    stimulus: &Stimulus,
    opts: EngineOptions,
    observer: &mut O,
    learner: &mut ChipLearner,
) -> Result<SampleRun> {
    run(chip, stimulus, opts, observer, Some(learner))
}

fn run<O: Observer>(
    chip: &Chip,
    stimulus: &Stimulus,
    opts: EngineOptions,
    observer: &mut O,
    mut learner: Option<&mut ChipLearner>,
) -> Result<SampleRun> {
    let model = chip.model;
    let hw = chip.hw;
    let schedule = &chip.mapping.schedule;
    let n_pops = model.populations.len();
    let n_phases = schedule.n_phases;
    let n_cores = chip.cores.len();
    let mut cores: Vec<CoreState> = chip
        .cores
        .iter()
        .map(|t| CoreState::new(t, hw.core.queue_depth, n_phases, chip.banks))
        .collect();
    if let Some(l) = learner.as_deref_mut() {
        l.exchange(&mut cores);
    }
    let mut mesh = match &chip.groups {
        Some(g) => Mesh::with_groups(chip.mesh, g.clone()),
        None => Mesh::new(chip.mesh),
    };
    let mut counters = Counters {
        samples: 1,
        timestep_cycles: vec![0; model.timesteps as usize],
        phase_cycles: vec![0; n_phases],
        spikes_per_layer: vec![0; n_pops],
        ..Counters::default()
    };
    let out_len = model.output_size();
    let mut out_counts = vec![0i64; out_len];
    let mut rec = Recorder {
        record: opts.record_spikes,
        spikes: vec![],
        inner: observer,
    };
    // Host input lists per core: (axon, payload).
    let mut host: Vec<Vec<(u32, u32)>> = vec![vec![]; n_cores];
    let input_routes = &chip.mapping.routes[0];
    let mut envs: Vec<StepEnv> = chip
        .cores
        .iter()
        .map(|tables| StepEnv {
            core: tables.phys,
            tables,
            consts: &chip.consts[tables.population as usize],
            routes: chip.routes_of(tables.population),
            is_output: tables.population as usize == model.output,
            pes: hw.core.pes,
            groups: chip
                .groups
                .as_deref()
                .map(|g| (&chip.group_start[tables.population as usize][..], g)),
            ctx: PhaseCtx::default(),
        })
        .collect();
    let mut now = 0u64;
    let mut watch = crate::model::ExitWatch::default();

    for t in 0..model.timesteps {
        let t_start = now;
        for phase in 0..n_phases {
            let phase_start = now;
            let with_input = phase == 0;
            for h in host.iter_mut() {
                h.clear();
            }
            if with_input && (t as usize) < stimulus.timesteps() {
                for ev in stimulus.at(t as usize) {
                    for d in input_routes.of(ev.input as usize) {
                        let c = chip.mapping.index_of[d.core as usize];
                        host[c as usize].push((d.axon, ev.payload));
                    }
                }
            }
            let ctx = PhaseCtx {
                t,
                phase,
                banks: chip.banks,
                bank: t % chip.banks,
                read_latency: hw.synapse_memory.read_latency_cycles as u64,
                learn: learner.is_some(),
            };
            for env in envs.iter_mut() {
                env.ctx = ctx;
            }
            for (c, s) in cores.iter_mut().enumerate() {
                let updates = schedule.level[chip.cores[c].population as usize] as usize == phase;
                s.begin_phase(updates, !host[c].is_empty(), now);
            }

            // The earliest core wake-up: the cores are looked at only then.
            let mut cores_wake = cores.iter().map(|s| s.wake).min().unwrap_or(u64::MAX);
            loop {
                {
                    let mut sink = Queues {
                        cores: &mut cores,
                        tables: &chip.cores,
                        index_of: &chip.mapping.index_of,
                        ctx: &ctx,
                        events: &mut rec,
                        woke: u64::MAX,
                    };
                    mesh.step(now, &mut sink, opts.every_cycle);
                    cores_wake = cores_wake.min(sink.woke);
                }
                if opts.every_cycle || cores_wake <= now {
                    cores_wake = u64::MAX;
                    for ((s, env), host) in cores.iter_mut().zip(&envs).zip(&host) {
                        if opts.every_cycle || s.wake <= now {
                            step_core(s, env, host, now, &mut mesh, &mut rec, &mut out_counts);
                        }
                        cores_wake = cores_wake.min(s.wake);
                    }
                }
                let mut next = cores_wake;
                if mesh.is_empty() && cores.iter().all(|s| s.quiescent()) {
                    // Only pipelines and walks are left to finish.
                    now = cores.iter().map(|s| s.busy_until()).fold(now, u64::max);
                    break;
                }
                // Read after the cores ran: they may have injected flits.
                // A core due next cycle makes the mesh's wake-up moot.
                if next > now + 1 {
                    next = next.min(mesh.next_wake());
                }
                // Every wait has a known end (a pipeline, a credit on its way,
                // a queue slot freeing), so a phase that is not over but has
                // no next cycle can never finish.
                if next == u64::MAX {
                    return Err(Error::Deadlock {
                        cycle: now,
                        msg: format!(
                            "nothing can move in timestep {t} phase {phase}: {}",
                            mesh.describe_stuck()
                        ),
                    });
                }
                now = if opts.every_cycle {
                    now + 1
                } else {
                    next.max(now + 1)
                };
            }
            rec.inner.phase(t, phase as u32, phase_start, now);
            now += hw.barrier_cycles as u64;
            counters.barrier_cycles += hw.barrier_cycles as u64;
            counters.phase_cycles[phase] += now - phase_start;
        }
        counters.timestep_cycles[t as usize] += now - t_start;
        counters.timesteps_run += 1;
        if let Some(rule) = &model.early_exit {
            let so_far = readout_of(model, chip, &cores, &out_counts);
            if watch.settled(rule, t + 1, &so_far) {
                break;
            }
        }
    }

    counters.cycles = now;
    counters.max_inference_cycles = now;
    counters.noc = mesh.stats.clone();
    for (c, s) in cores.iter().enumerate() {
        counters.spikes_per_layer[chip.cores[c].population as usize] += s.cnt.spikes;
    }
    let readout = readout_of(model, chip, &cores, &out_counts);
    if let Some(l) = learner {
        l.exchange(&mut cores);
    }
    counters.cores = cores.into_iter().map(|s| s.cnt).collect();
    let mut spikes = rec.spikes;
    spikes.sort_unstable();
    Ok(SampleRun {
        prediction: argmax(&readout),
        readout,
        spikes,
        counters,
    })
}
