//! The headline metrics of a report: one typed number per column, for
//! sweep results (CSV), studies and plots. Each metric is declared once
//! below (name, type, how it is read from the report); the CSV columns and
//! cells follow from it. Units are in the names; `docs/report.md` gives
//! each one's formula under the report field it copies.

use super::Report;
use serde::{Deserialize, Serialize};

/// A metric's CSV cell: its number as Rust prints it, empty for none.
trait Cell {
    fn cell(&self) -> String;
}

impl Cell for u32 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for u64 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for f64 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for Option<f64> {
    fn cell(&self) -> String {
        self.map_or_else(String::new, |v| v.to_string())
    }
}

/// A metric's value as a number for charts (`None`: undefined).
trait Number {
    fn number(&self) -> Option<f64>;
}

impl Number for u32 {
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl Number for u64 {
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl Number for f64 {
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl Number for Option<f64> {
    fn number(&self) -> Option<f64> {
        *self
    }
}

/// One headline metric for charts: its column name and its number.
#[derive(Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub value: fn(&Headline) -> Option<f64>,
}

macro_rules! headline {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = |$r:ident| $value:expr;)*) => {
        /// The headline metrics of one run.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct Headline {
            $($(#[$doc])* pub $name: $ty,)*
        }

        /// Column names, in the order of [`Headline::cells`].
        pub const COLUMNS: &[&str] = &[$(stringify!($name)),*];

        /// Each column's name as a constant named like its field, so code
        /// that names a column fails to compile when the field is renamed.
        #[allow(non_upper_case_globals)]
        pub mod column {
            $(pub const $name: &str = stringify!($name);)*
        }

        /// Each metric's name and number, for charts of headlines.
        #[allow(non_upper_case_globals)]
        pub mod metric {
            use super::{Headline, Metric, Number};
            $(pub const $name: Metric = Metric {
                name: stringify!($name),
                value: |h: &Headline| h.$name.number(),
            };)*
        }

        impl Headline {
            /// The headline metrics of a report.
            pub fn of(report: &Report) -> Headline {
                Headline {
                    $($name: {
                        let $r = report;
                        $value
                    },)*
                }
            }

            /// The CSV cells, in `COLUMNS` order.
            pub fn cells(&self) -> Vec<String> {
                vec![$(self.$name.cell()),*]
            }
        }
    };
}

headline! {
    cores_in_use: u32 = |r| r.cores.in_use;
    cycles_per_inference: f64 = |r| r.latency.cycles_per_inference;
    seconds_per_inference: f64 = |r| r.latency.seconds_per_inference;
    timesteps_per_inference: f64 = |r| r.latency.timesteps_per_inference;
    max_inference_cycles: u64 = |r| r.latency.max_inference_cycles;
    imbalance: f64 = |r| r.cores.imbalance;
    /// None without integration.
    pe_utilization: Option<f64> = |r| r.cores.pe_utilization;
    synops_per_inference: f64 = |r| r.activity.synops as f64 / samples(r);
    spikes_per_inference: f64 =
        |r| r.activity.spikes_per_layer.iter().sum::<u64>() as f64 / samples(r);
    synapse_word_reads: u64 = |r| r.memory.synapse_word_reads;
    synapse_read_bits: u64 = |r| r.memory.synapse_read_bits;
    synapse_memory_bits_stored: u64 = |r| r.memory.synapse_memory_bits_stored;
    membrane_word_reads: u64 = |r| r.memory.membrane_word_reads;
    membrane_word_writes: u64 = |r| r.memory.membrane_word_writes;
    routing_table_reads: u64 = |r| r.memory.routing_table_reads;
    flits_injected: u64 = |r| r.noc.flits_injected;
    flits_ejected: u64 = |r| r.noc.flits_ejected;
    hops: u64 = |r| r.noc.hops;
    mean_flit_latency_cycles: Option<f64> = |r| r.noc.mean_flit_latency_cycles;
    max_flit_latency_cycles: u64 = |r| r.noc.max_flit_latency_cycles;
    noc_stall_cycles: u64 = |r| r.noc.stall_cycles;
    energy_total_pj: f64 = |r| r.energy.total_pj;
    energy_per_inference_pj: f64 = |r| r.energy.per_inference_pj;
    energy_synapse_memory_pj: f64 = |r| r.energy.breakdown_pj.synapse_memory;
    energy_membrane_sram_pj: f64 = |r| r.energy.breakdown_pj.membrane_sram;
    energy_routing_table_pj: f64 = |r| r.energy.breakdown_pj.routing_table;
    energy_synops_pj: f64 = |r| r.energy.breakdown_pj.synops;
    energy_neuron_updates_pj: f64 = |r| r.energy.breakdown_pj.neuron_updates;
    energy_routers_pj: f64 = |r| r.energy.breakdown_pj.routers;
    energy_links_pj: f64 = |r| r.energy.breakdown_pj.links;
    energy_static_pj: f64 = |r| r.energy.breakdown_pj.static_;
    /// None without labels.
    accuracy: Option<f64> = |r| r.accuracy.top1;
}

fn samples(r: &Report) -> f64 {
    r.run.samples.max(1) as f64
}

/// The cells of `COLUMNS` for a report; empty text where undefined
/// (PE utilization without integration, accuracy without labels).
pub fn values(r: &Report) -> Vec<String> {
    Headline::of(r).cells()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_serialized_field_names() {
        let h = Headline {
            cores_in_use: 1,
            cycles_per_inference: 2.0,
            seconds_per_inference: 3.0,
            timesteps_per_inference: 4.0,
            max_inference_cycles: 5,
            imbalance: 6.0,
            pe_utilization: None,
            synops_per_inference: 7.0,
            spikes_per_inference: 8.0,
            synapse_word_reads: 9,
            synapse_read_bits: 10,
            synapse_memory_bits_stored: 11,
            membrane_word_reads: 12,
            membrane_word_writes: 13,
            routing_table_reads: 14,
            flits_injected: 15,
            flits_ejected: 16,
            hops: 17,
            mean_flit_latency_cycles: Some(18.5),
            max_flit_latency_cycles: 19,
            noc_stall_cycles: 20,
            energy_total_pj: 21.0,
            energy_per_inference_pj: 22.0,
            energy_synapse_memory_pj: 23.0,
            energy_membrane_sram_pj: 24.0,
            energy_routing_table_pj: 25.0,
            energy_synops_pj: 26.0,
            energy_neuron_updates_pj: 27.0,
            energy_routers_pj: 28.0,
            energy_links_pj: 29.0,
            energy_static_pj: 30.0,
            accuracy: Some(0.5),
        };
        let json = serde_json::to_value(&h).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut cols = COLUMNS.to_vec();
        keys.sort_unstable();
        cols.sort_unstable();
        assert_eq!(keys, cols);
        let cells = h.cells();
        assert_eq!(cells.len(), COLUMNS.len());
        assert_eq!(cells[0], "1");
        assert_eq!(cells[6], "", "None is an empty cell");
        assert_eq!(cells[18], "18.5");
        let back: Headline = serde_json::from_value(json).unwrap();
        assert_eq!(back, h);
    }
}
