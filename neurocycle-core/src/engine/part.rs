//! One partition of the chip for one inference: the cores and routers of a
//! band of mesh columns (the whole chip on one thread), and the phase and
//! cycle loop that steps them. Several partitions step the same cycles in
//! lockstep, meeting after each (`sync`).

use super::chip::CoreTables;
use super::core::{step_core, CoreEvents, CoreState, PhaseCtx, StepEnv};
use super::noc::{Flit, Mesh, Sink};
use super::sync::{Advance, Collective};
use super::{EngineOptions, Observer, Recorder, RouterEvents};
use crate::error::{Error, Result};
use crate::model::stimulus::Stimulus;
use crate::model::{ExitWatch, Readout, SpikeRecord};

/// The state one partition keeps from inference to inference.
pub(super) struct Part<'c> {
    /// Chip core index (`Chip::cores`) of each of its cores, by physical id.
    pub slots: Vec<u32>,
    pub cores: Vec<CoreState>,
    pub envs: Vec<StepEnv<'c>>,
    /// Host input events of the phase per core: (axon, payload).
    pub host: Vec<Vec<(u32, u32)>>,
    /// Its slot of every physical core (`u32::MAX`: another partition's).
    pub slot_of_phys: Vec<u32>,
    pub mesh: Mesh,
    /// Spike counts of the output neurons it holds.
    pub out_counts: Vec<i64>,
    pub spikes: Vec<SpikeRecord>,
    /// Scratch for readouts (the output population's size).
    pub partial: Vec<i64>,
    pub total: Vec<i64>,
}

/// A partition's cores, as the collective asks about them.
struct Finished<'a>(&'a [CoreState]);

impl super::sync::Cores for Finished<'_> {
    fn finished(&self) -> Option<u64> {
        self.0
            .iter()
            .all(|s| s.quiescent())
            .then(|| self.0.iter().map(|s| s.busy_until()).max().unwrap_or(0))
    }
}

/// What a partition measured that is the same in every partition.
#[derive(Clone, Debug, Default)]
pub(super) struct Timing {
    pub cycles: u64,
    pub timestep_cycles: Vec<u64>,
    pub phase_cycles: Vec<u64>,
    pub barrier_cycles: u64,
    pub timesteps_run: u64,
}

/// The cores' work queues, as the mesh's ejection target: an ejected flit
/// is admitted (scheduled and integrated) on arrival.
struct Queues<'a, 'c, E: CoreEvents + RouterEvents> {
    cores: &'a mut [CoreState],
    envs: &'a [StepEnv<'c>],
    slot_of_phys: &'a [u32],
    ctx: &'a PhaseCtx,
    events: &'a mut E,
    /// The earliest wake-up this step gave a core.
    woke: u64,
}

impl<E: CoreEvents + RouterEvents> Sink for Queues<'_, '_, E> {
    fn room_at(&mut self, core: u32, now: u64) -> u64 {
        let c = self.slot_of_phys[core as usize] as usize;
        self.cores[c].queue.room_at(now)
    }
    fn accept(&mut self, core: u32, flit: Flit, now: u64) {
        let i = self.slot_of_phys[core as usize] as usize;
        let tables: &CoreTables = self.envs[i].tables;
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
        let c = &mut self.cores[self.slot_of_phys[core as usize] as usize];
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

impl<'c> Part<'c> {
    pub fn reset(&mut self) {
        for c in self.cores.iter_mut() {
            c.reset();
        }
        self.mesh.reset();
        self.out_counts.fill(0);
        self.spikes.clear();
    }

    /// The readout so far of the output neurons this partition holds
    /// (into `partial`; zero elsewhere).
    fn readout_part(&mut self, readout: Readout) {
        match readout {
            Readout::SpikeCount => self.partial.copy_from_slice(&self.out_counts),
            Readout::Membrane => {
                self.partial.fill(0);
                for (s, env) in self.cores.iter().zip(&self.envs) {
                    if env.is_output {
                        let f = env.tables.first_neuron as usize;
                        for (i, v) in s.v.iter().enumerate() {
                            self.partial[f + i] = *v as i64;
                        }
                    }
                }
            }
        }
    }

    /// The first core that still has spikes to send, for deadlock reports.
    fn describe_waiting(&self) -> String {
        self.cores
            .iter()
            .zip(&self.envs)
            .find(|(s, _)| s.out_head < s.out.len())
            .map(|(s, env)| {
                format!(
                    "; core {} (population {}) holds {} spikes its router's injection port has no room for",
                    env.core,
                    env.tables.population,
                    s.out.len() - s.out_head
                )
            })
            .unwrap_or_default()
    }

    /// Runs one inference on this partition's cores and routers; `sync`
    /// keeps it in step with the others. The readout ends in `total`.
    #[allow(clippy::too_many_arguments)]
    pub fn run<O: Observer, C: Collective>(
        &mut self,
        chip: &super::Chip,
        host_of: &[(u32, u32)],
        me: u32,
        stimulus: &Stimulus,
        opts: EngineOptions,
        learn: bool,
        observer: &mut O,
        sync: &mut C,
    ) -> Result<Timing> {
        // Two loops, so the event-driven one tests nothing for the other.
        if opts.every_cycle {
            self.run_loop::<true, O, C>(chip, host_of, me, stimulus, opts, learn, observer, sync)
        } else {
            self.run_loop::<false, O, C>(chip, host_of, me, stimulus, opts, learn, observer, sync)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_loop<const EVERY: bool, O: Observer, C: Collective>(
        &mut self,
        chip: &super::Chip,
        host_of: &[(u32, u32)],
        me: u32,
        stimulus: &Stimulus,
        opts: EngineOptions,
        learn: bool,
        observer: &mut O,
        sync: &mut C,
    ) -> Result<Timing> {
        let model = chip.model;
        let hw = chip.hw;
        let schedule = &chip.mapping.schedule;
        let n_phases = schedule.n_phases;
        let mut timing = Timing {
            timestep_cycles: vec![0; model.timesteps as usize],
            phase_cycles: vec![0; n_phases],
            ..Timing::default()
        };
        let mut rec = Recorder {
            record: opts.record_spikes,
            spikes: std::mem::take(&mut self.spikes),
            inner: observer,
        };
        let input_routes = &chip.mapping.routes[0];
        let mut now = 0u64;
        let mut watch = ExitWatch::default();
        let mut epoch = 0u64;
        rec.inner.start();
        let result = 'run: {
            for t in 0..model.timesteps {
                let t_start = now;
                for phase in 0..n_phases {
                    let phase_start = now;
                    for h in self.host.iter_mut() {
                        h.clear();
                    }
                    if phase == 0 && (t as usize) < stimulus.timesteps() {
                        for ev in stimulus.at(t as usize) {
                            for d in input_routes.of(ev.input as usize) {
                                let c = chip.mapping.index_of[d.core as usize] as usize;
                                let (part, slot) = host_of[c];
                                if part == me {
                                    self.host[slot as usize].push((d.axon, ev.payload));
                                }
                            }
                        }
                    }
                    let ctx = PhaseCtx {
                        t,
                        phase,
                        banks: chip.banks,
                        bank: t % chip.banks,
                        read_latency: hw.synapse_memory.read_latency_cycles as u64,
                        learn,
                    };
                    for env in self.envs.iter_mut() {
                        env.ctx = ctx;
                    }
                    for ((s, env), host) in self.cores.iter_mut().zip(&self.envs).zip(&self.host) {
                        let updates =
                            schedule.level[env.tables.population as usize] as usize == phase;
                        s.begin_phase(updates, !host.is_empty(), now);
                    }

                    sync.begin_phase(epoch, now);
                    epoch += 1;
                    // The earliest core wake-up: the cores are looked at only then.
                    let mut cores_wake =
                        self.cores.iter().map(|s| s.wake).min().unwrap_or(u64::MAX);
                    loop {
                        {
                            let mut sink = Queues {
                                cores: &mut self.cores,
                                envs: &self.envs,
                                slot_of_phys: &self.slot_of_phys,
                                ctx: &ctx,
                                events: &mut rec,
                                woke: u64::MAX,
                            };
                            self.mesh.step(now, &mut sink, EVERY);
                            cores_wake = cores_wake.min(sink.woke);
                        }
                        if EVERY || cores_wake <= now {
                            cores_wake = u64::MAX;
                            for ((s, env), host) in
                                self.cores.iter_mut().zip(&self.envs).zip(&self.host)
                            {
                                if EVERY || s.wake <= now {
                                    step_core(
                                        s,
                                        env,
                                        host,
                                        now,
                                        &mut self.mesh,
                                        &mut rec,
                                        &mut self.out_counts,
                                    );
                                }
                                cores_wake = cores_wake.min(s.wake);
                            }
                        }
                        match sync.advance(
                            &mut self.mesh,
                            now,
                            cores_wake,
                            EVERY,
                            &Finished(&self.cores),
                        ) {
                            Advance::To(c) => now = c,
                            Advance::Done(end) => {
                                now = end;
                                break;
                            }
                            Advance::Stuck => {
                                break 'run Err(Error::Deadlock {
                                    cycle: now,
                                    msg: format!(
                                        "nothing can move in timestep {t} phase {phase}: {}{}",
                                        self.mesh.describe_stuck(),
                                        self.describe_waiting()
                                    ),
                                })
                            }
                        }
                    }
                    rec.inner.phase(t, phase as u32, phase_start, now);
                    now += hw.barrier_cycles as u64;
                    timing.barrier_cycles += hw.barrier_cycles as u64;
                    timing.phase_cycles[phase] += now - phase_start;
                }
                timing.timestep_cycles[t as usize] += now - t_start;
                timing.timesteps_run += 1;
                if let Some(rule) = &model.early_exit {
                    self.readout_part(model.readout);
                    sync.sum(&self.partial, &mut self.total);
                    if watch.settled(rule, t + 1, &self.total) {
                        break;
                    }
                }
            }
            Ok(())
        };
        self.spikes = rec.spikes;
        result?;
        self.readout_part(model.readout);
        sync.sum(&self.partial, &mut self.total);
        timing.cycles = now;
        Ok(timing)
    }
}
