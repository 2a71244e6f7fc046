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
pub mod iq;
pub mod noc;
mod part;
pub mod sync;
mod wheel;

use self::core::{CoreEvents, CoreState, PhaseCtx, StepEnv};
use crate::error::Result;
use crate::model::stimulus::Stimulus;
use crate::model::{argmax, SpikeRecord};
pub use chip::Chip;
pub use counters::{CoreCounters, Counters};
use noc::Mesh;
use part::Part;

/// How the engine runs an inference (what it records, whether it skips
/// idle cycles); the defaults are what `run` uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineOptions {
    /// Visit every core and router at every cycle (slow; for checking).
    pub every_cycle: bool,
    /// Record every spike (for `--check` and traces).
    pub record_spikes: bool,
    /// Threads one inference is split over (0 or 1: one). Each steps the
    /// routers and cores of a band of mesh columns (rows when the mesh is
    /// taller than wide); results do not depend on it. Traces and on-chip
    /// learning run on one.
    pub threads: usize,
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
    /// Whether it wants events at all (`Quiet` does not, so an inference it
    /// watches may use several threads).
    const ENABLED: bool = true;
    /// The inference's first cycle is about to run (set-up is done).
    fn start(&mut self) {}
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
impl Observer for Quiet {
    const ENABLED: bool = false;
}

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
    /// back at its end (no copies); `slots[i]` is the chip core of `cores[i]`.
    fn exchange(&mut self, cores: &mut [CoreState], slots: &[u32]) {
        for (s, &c) in cores.iter_mut().zip(slots) {
            std::mem::swap(&mut s.theta, &mut self.theta[c as usize]);
            if !s.weights.is_empty() {
                std::mem::swap(&mut s.weights, &mut self.weights[c as usize]);
            }
        }
    }

    /// Diehl & Cook's weight normalisation, as each plastic core can do it
    /// alone between samples: every neuron's incoming weights are scaled
    /// so they sum to `target` (`w * target / sum`, rounded to nearest, clamped
    /// to the rule's range; a neuron whose weights sum to 0 is left). The
    /// core reads and writes back each of its input rows once, and its PEs
    /// sum and then scale their neurons' columns. Returns what it cost,
    /// counted into `counters` (the cores work in parallel, so the chip's
    /// cycles grow by the slowest core's).
    pub fn normalize(&mut self, chip: &Chip, target: i32, counters: &mut Counters) {
        if counters.cores.len() < chip.cores.len() {
            counters
                .cores
                .resize_with(chip.cores.len(), CoreCounters::default);
        }
        let mut slowest = 0u64;
        for (c, t) in chip.cores.iter().enumerate() {
            let Some(rule) = &t.stdp else { continue };
            let w = &mut self.weights[c];
            let (n, rows) = (t.n_neurons as usize, t.input_rows as usize);
            let mut sums = vec![0i64; n];
            for a in 0..rows {
                let start = t.row_start[a] as usize;
                for (k, s) in sums.iter_mut().enumerate() {
                    *s += w[start + k] as i64;
                }
            }
            for a in 0..rows {
                let start = t.row_start[a] as usize;
                for (k, &s) in sums.iter().enumerate() {
                    if s > 0 {
                        let v = (w[start + k] as i64 * target as i64 + s / 2) / s;
                        w[start + k] = v.clamp(rule.w_min as i64, rule.w_max as i64) as i16;
                    }
                }
            }
            let words: u64 = t.row_words[..rows].iter().map(|&x| x as u64).sum();
            let pes = chip.hw.core.pes.max(1) as usize;
            // Two passes over the rows (sum, then scale), each a read and,
            // in the second, a write per word; the PEs take their columns.
            let cycles = 3 * words + 2 * (rows * n).div_ceil(pes) as u64;
            let k = &mut counters.cores[c];
            k.learn_synapse_word_reads += 2 * words;
            k.synapse_word_writes += words;
            k.weight_updates += (rows * n) as u64;
            k.learning_cycles += cycles;
            slowest = slowest.max(cycles);
        }
        counters.cycles += slowest;
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

/// Runs one inference (on a fresh engine; reuse an `Engine` to run many).
pub fn run_sample<O: Observer>(
    chip: &Chip,
    stimulus: &Stimulus,
    opts: EngineOptions,
    observer: &mut O,
) -> Result<SampleRun> {
    Engine::new(chip, opts.threads).run(stimulus, opts, observer)
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
    Engine::new(chip, 1).run_learning(stimulus, opts, observer, learner)
}

/// The cycle-level chip, ready to run inference after inference: its state
/// is allocated once, reset between samples, and the cycle loop allocates
/// nothing once the first inference has sized its buffers.
pub struct Engine<'c> {
    chip: &'c Chip<'c>,
    parts: Vec<Part<'c>>,
    /// Partition of every router.
    owner: Vec<u8>,
    /// (partition, slot) of every chip core.
    place: Vec<(u32, u32)>,
}

/// The partition of every router. Routers are taken column by column (row
/// by row on a mesh taller than wide) and cut into consecutive runs of
/// about equal work, the work of a router being its cores' synapses and
/// neurons plus a share for the router itself: bands of columns, with a
/// step where a cut falls inside a column.
fn bands(chip: &Chip, parts: usize) -> Vec<u8> {
    let (x, y) = (chip.mesh.x, chip.mesh.y);
    let n = (x * y) as usize;
    // The input-queued router steps the whole mesh each cycle, on one thread.
    let most = if chip.mesh.iq.is_some() {
        1
    } else {
        n.min(sync::MAX_PARTS)
    };
    let parts = parts.clamp(1, most);
    let mut load = vec![0u64; n];
    for t in &chip.cores {
        load[(t.phys / chip.mesh.cores_per_router) as usize] +=
            t.targets.len() as u64 + t.n_neurons as u64;
    }
    let total: u64 = load.iter().sum();
    let router_share = (total / n as u64).max(1);
    let total = total + router_share * n as u64;
    let order: Vec<u32> = if x >= y {
        (0..x)
            .flat_map(|c| (0..y).map(move |r| r * x + c))
            .collect()
    } else {
        (0..n as u32).collect()
    };
    let mut owner = vec![0u8; n];
    let (mut k, mut acc) = (0u64, 0u64);
    for (i, &r) in order.iter().enumerate() {
        // Move on once this run holds its share, keeping a router for
        // every run still to come.
        let left = (n - i) as u64;
        let runs_left = parts as u64 - 1 - k;
        if runs_left > 0 && acc > 0 && (acc >= total * (k + 1) / parts as u64 || left <= runs_left)
        {
            k += 1;
        }
        owner[r as usize] = k as u8;
        acc += load[r as usize] + router_share;
    }
    owner
}

impl<'c> Engine<'c> {
    /// An engine splitting every inference over `threads` partitions (at
    /// most one per mesh column, or row on a tall mesh).
    pub fn new(chip: &'c Chip<'c>, threads: usize) -> Engine<'c> {
        let hw = chip.hw;
        let model = chip.model;
        let owner = bands(chip, threads);
        let n_parts = owner.iter().copied().max().unwrap_or(0) as usize + 1;
        let cpr = chip.mesh.cores_per_router;
        let n_phases = chip.mapping.schedule.n_phases;
        let mut place = vec![(0u32, 0u32); chip.cores.len()];
        let mut by_phys: Vec<u32> = (0..chip.cores.len() as u32).collect();
        by_phys.sort_by_key(|c| chip.cores[*c as usize].phys);
        let parts = (0..n_parts)
            .map(|me| {
                let slots: Vec<u32> = by_phys
                    .iter()
                    .copied()
                    .filter(|c| owner[(chip.cores[*c as usize].phys / cpr) as usize] as usize == me)
                    .collect();
                let mut slot_of_phys = vec![u32::MAX; hw.n_cores() as usize];
                for (k, &c) in slots.iter().enumerate() {
                    slot_of_phys[chip.cores[c as usize].phys as usize] = k as u32;
                    place[c as usize] = (me as u32, k as u32);
                }
                let groups = chip.groups.clone().unwrap_or_default();
                let mesh = if n_parts == 1 {
                    Mesh::with_groups(chip.mesh, groups)
                } else {
                    Mesh::partitioned(chip.mesh, groups, &owner, me as u8)
                };
                let out_len = model.output_size();
                Part {
                    cores: slots
                        .iter()
                        .map(|c| {
                            CoreState::new(
                                &chip.cores[*c as usize],
                                hw.core.queue_depth,
                                n_phases,
                                chip.banks,
                            )
                        })
                        .collect(),
                    envs: slots
                        .iter()
                        .map(|c| {
                            let tables = &chip.cores[*c as usize];
                            StepEnv {
                                core: tables.phys,
                                tables,
                                consts: &chip.consts[tables.population as usize],
                                routes: chip.routes_of(tables.population),
                                is_output: tables.population as usize == model.output,
                                pes: hw.core.pes,
                                groups: chip.groups.as_deref().map(|g| {
                                    (&chip.group_start[tables.population as usize][..], g)
                                }),
                                ctx: PhaseCtx::default(),
                            }
                        })
                        .collect(),
                    host: vec![vec![]; slots.len()],
                    slots,
                    slot_of_phys,
                    mesh,
                    out_counts: vec![0; out_len],
                    spikes: vec![],
                    partial: vec![0; out_len],
                    total: vec![0; out_len],
                }
            })
            .collect();
        Engine {
            chip,
            parts,
            owner,
            place,
        }
    }

    /// Partitions an inference is split over.
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// Runs one inference.
    pub fn run<O: Observer>(
        &mut self,
        stimulus: &Stimulus,
        opts: EngineOptions,
        observer: &mut O,
    ) -> Result<SampleRun> {
        self.execute(stimulus, opts, observer, None)
    }

    /// Runs one inference with learning on (see `run_sample_learning`).
    pub fn run_learning<O: Observer>(
        &mut self,
        stimulus: &Stimulus,
        opts: EngineOptions,
        observer: &mut O,
        learner: &mut ChipLearner,
    ) -> Result<SampleRun> {
        self.execute(stimulus, opts, observer, Some(learner))
    }

    #[inline(never)]
    fn execute<O: Observer>(
        &mut self,
        stimulus: &Stimulus,
        opts: EngineOptions,
        observer: &mut O,
        mut learner: Option<&mut ChipLearner>,
    ) -> Result<SampleRun> {
        let chip = self.chip;
        for p in self.parts.iter_mut() {
            p.reset();
            if let Some(l) = learner.as_deref_mut() {
                l.exchange(&mut p.cores, &p.slots);
            }
        }
        let learn = learner.is_some();
        let timing = if self.parts.len() == 1 {
            self.parts[0].run(
                chip,
                &self.place,
                0,
                stimulus,
                opts,
                learn,
                observer,
                &mut sync::Solo,
            )
        } else {
            assert!(
                !O::ENABLED && !learn,
                "observers and learning run on one partition (Engine::new(chip, 1))"
            );
            let shared = sync::Shared::new(&self.owner, chip.model.output_size());
            let place = &self.place;
            let results: Vec<Result<part::Timing>> = std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .parts
                    .iter_mut()
                    .enumerate()
                    .map(|(me, p)| {
                        let shared = &shared;
                        s.spawn(move || {
                            let _guard = sync::PoisonOnPanic(shared);
                            let _running = sync::Running::start();
                            let mut member = sync::Member::new(shared, me);
                            p.run(
                                chip,
                                place,
                                me as u32,
                                stimulus,
                                opts,
                                false,
                                &mut Quiet,
                                &mut member,
                            )
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a partition's thread panicked"))
                    .collect()
            });
            // Every partition reaches the same end; a deadlock is best
            // described by one that holds a stuck flit or spikes.
            let mut first = None;
            let mut ok = None;
            for r in results {
                match r {
                    Ok(t) => ok = ok.or(Some(t)),
                    Err(e) => {
                        if first.is_none() || e.to_string().contains(" holds ") {
                            first = first
                                .filter(|f: &crate::error::Error| f.to_string().contains(" holds "))
                                .or(Some(e));
                        }
                    }
                }
            }
            match (first, ok) {
                (Some(e), _) => Err(e),
                (None, Some(t)) => Ok(t),
                (None, None) => unreachable!("every partition returns"),
            }
        };
        if let Some(l) = learner {
            for p in self.parts.iter_mut() {
                l.exchange(&mut p.cores, &p.slots);
            }
        }
        let timing = timing?;
        let model = chip.model;
        let mut counters = Counters {
            samples: 1,
            cycles: timing.cycles,
            max_inference_cycles: timing.cycles,
            timestep_cycles: timing.timestep_cycles,
            phase_cycles: timing.phase_cycles,
            barrier_cycles: timing.barrier_cycles,
            timesteps_run: timing.timesteps_run,
            spikes_per_layer: vec![0; model.populations.len()],
            cores: vec![CoreCounters::default(); chip.cores.len()],
            ..Counters::default()
        };
        let mut spikes = vec![];
        for p in self.parts.iter_mut() {
            counters.noc.merge(p.mesh.stats());
            for (s, &c) in p.cores.iter().zip(&p.slots) {
                counters.spikes_per_layer[chip.cores[c as usize].population as usize] +=
                    s.cnt.spikes;
                counters.cores[c as usize] = s.cnt.clone();
            }
            spikes.append(&mut p.spikes);
        }
        spikes.sort_unstable();
        let readout = self.parts[0].total.clone();
        Ok(SampleRun {
            prediction: argmax(&readout),
            readout,
            spikes,
            counters,
        })
    }
}
