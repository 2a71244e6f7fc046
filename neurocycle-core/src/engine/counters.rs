//! Raw event counts of a run. The engine only counts; energy and report
//! turn counts into joules and documents.

use super::noc::NocStats;

/// One core's event counts over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Spike events integrated (one per axon activation).
    pub events: u64,
    /// Accumulates performed by the PEs (non-zero synapses touched).
    pub synops: u64,
    /// Cycles the integration pipeline was busy: sum over events of
    /// max(words, most synapses on one PE).
    pub integration_cycles: u64,
    /// Cycles of the update walk: ceil(neurons / pes) per update.
    pub update_cycles: u64,
    /// integration + update cycles, per phase index within a timestep.
    pub busy_cycles_by_phase: Vec<u64>,
    pub neuron_updates: u64,
    pub spikes: u64,
    pub synapse_word_reads: u64,
    pub membrane_word_reads: u64,
    pub membrane_word_writes: u64,
    pub routing_table_reads: u64,
    /// Input events the host wrote into this core's work queue.
    pub host_events: u64,
    /// On-chip learning (STDP): cycles of column updates and trace walks
    /// (row write-backs lengthen events instead and count as integration).
    pub learning_cycles: u64,
    /// Synapse words read for learning (columns of postsynaptic spikes).
    pub learn_synapse_word_reads: u64,
    /// Synapse words written back by learning.
    pub synapse_word_writes: u64,
    /// Synapses whose weight a learning rule recomputed.
    pub weight_updates: u64,
    /// 8-bit trace reads and writes.
    pub trace_accesses: u64,
}

impl CoreCounters {
    /// Cycles the core integrated, updated or learned.
    pub fn busy_cycles(&self) -> u64 {
        self.integration_cycles + self.update_cycles + self.learning_cycles
    }

    pub fn merge(&mut self, o: &CoreCounters) {
        self.events += o.events;
        self.synops += o.synops;
        self.integration_cycles += o.integration_cycles;
        self.update_cycles += o.update_cycles;
        if self.busy_cycles_by_phase.len() < o.busy_cycles_by_phase.len() {
            self.busy_cycles_by_phase
                .resize(o.busy_cycles_by_phase.len(), 0);
        }
        for (a, b) in self
            .busy_cycles_by_phase
            .iter_mut()
            .zip(&o.busy_cycles_by_phase)
        {
            *a += b;
        }
        self.neuron_updates += o.neuron_updates;
        self.spikes += o.spikes;
        self.synapse_word_reads += o.synapse_word_reads;
        self.membrane_word_reads += o.membrane_word_reads;
        self.membrane_word_writes += o.membrane_word_writes;
        self.routing_table_reads += o.routing_table_reads;
        self.host_events += o.host_events;
        self.learning_cycles += o.learning_cycles;
        self.learn_synapse_word_reads += o.learn_synapse_word_reads;
        self.synapse_word_writes += o.synapse_word_writes;
        self.weight_updates += o.weight_updates;
        self.trace_accesses += o.trace_accesses;
    }
}

/// Counts of one or more inferences (summed; maxima where named so).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub samples: u64,
    pub cycles: u64,
    /// Per timestep index, summed over samples.
    pub timestep_cycles: Vec<u64>,
    /// Per phase index within a timestep (one per layer for layer_serial,
    /// one for pipelined), summed over timesteps and samples, barrier included.
    pub phase_cycles: Vec<u64>,
    pub barrier_cycles: u64,
    pub max_inference_cycles: u64,
    /// One per core in use.
    pub cores: Vec<CoreCounters>,
    pub noc: NocStats,
    pub spikes_per_layer: Vec<u64>,
    /// Timesteps run, summed over samples (fewer than the model's with
    /// early exit).
    pub timesteps_run: u64,
}

impl Counters {
    pub fn merge(&mut self, o: &Counters) {
        fn add(a: &mut Vec<u64>, b: &[u64]) {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self.samples += o.samples;
        self.cycles += o.cycles;
        add(&mut self.timestep_cycles, &o.timestep_cycles);
        add(&mut self.phase_cycles, &o.phase_cycles);
        self.barrier_cycles += o.barrier_cycles;
        self.max_inference_cycles = self.max_inference_cycles.max(o.max_inference_cycles);
        if self.cores.len() < o.cores.len() {
            self.cores.resize(o.cores.len(), CoreCounters::default());
        }
        for (a, b) in self.cores.iter_mut().zip(&o.cores) {
            a.merge(b);
        }
        self.noc.merge(&o.noc);
        add(&mut self.spikes_per_layer, &o.spikes_per_layer);
        self.timesteps_run += o.timesteps_run;
    }

    /// The sum of one count over every core.
    pub fn total(&self, f: impl Fn(&CoreCounters) -> u64) -> u64 {
        self.cores.iter().map(f).sum()
    }
}
