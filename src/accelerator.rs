//! A DNN-accelerator baseline: an edge MAC-array accelerator running the
//! ANN an SNN was converted from, layer by layer, for side-by-side
//! latency, power and energy. It is an analytical model, not a simulator:
//!
//! - MACs per layer: Dense `inputs * outputs`; Conv2d
//!   `out_ch * out_h * out_w * in_ch * k * k`; sum pooling
//!   `outputs * k * k` additions, counted as MACs;
//! - cycles: `layer_overhead_cycles + ceil(MACs / (macs * utilization))`
//!   per layer;
//! - on-chip buffer traffic: every weight and input activation read once
//!   and every output written once per layer (an output-stationary array
//!   that reuses operands in its registers);
//! - DRAM traffic: the input image once; the weights once per inference
//!   only when they do not fit the buffer;
//! - energy: `MACs * mac_pj + buffer bytes * buffer_pj_per_byte + DRAM
//!   bytes * dram_pj_per_byte + static_mw * latency`.
//!
//! The defaults describe an Intel Neural Compute Stick 2 class device
//! (Movidius Myriad X); each number cites its source or says it is an
//! assumption, and all are data (`--baseline FILE`, RON).

use crate::error::{check_range, parse_ron, read_file, Error, Result};
use crate::model::{LayerKind, LayerShape};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    pub name: String,
    /// Parallel MAC units.
    pub macs: u32,
    pub clock_mhz: f64,
    /// Fraction of peak MAC throughput a layer sustains.
    pub utilization: f64,
    /// Fixed cost of starting a layer (configuration, DMA set-up).
    pub layer_overhead_cycles: u64,
    /// On-chip buffer (SRAM).
    pub buffer_bytes: u64,
    pub weight_bits: u8,
    pub activation_bits: u8,
    /// Energy of one multiply-accumulate.
    pub mac_pj: f64,
    pub buffer_pj_per_byte: f64,
    pub dram_pj_per_byte: f64,
    /// Power drawn whether computing or not (leakage, clocks, interface).
    pub static_mw: f64,
}

impl Default for Accelerator {
    fn default() -> Self {
        Accelerator {
            name: "ncs2-like edge DNN accelerator".into(),
            // Intel: the Myriad X's two Neural Compute Engines give 1 TOPS,
            // i.e. 5e11 MAC/s ("Optimize Networks for the Intel Neural
            // Compute Stick 2", Intel developer article, 2018); 700 MHz
            // (Myriad X clock, Intel product brief) x 714 MACs = 5e11 MAC/s.
            macs: 714,
            clock_mhz: 700.0,
            // Assumption: small networks keep a quarter of the array busy.
            utilization: 0.25,
            // Assumption: about 1.4 us to configure and start a layer.
            layer_overhead_cycles: 1000,
            // Myriad X: 2.5 MB of on-chip memory (Intel/Movidius launch, 2017).
            buffer_bytes: 2_500_000,
            weight_bits: 8,
            activation_bits: 8,
            // Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm):
            // 8-bit multiply 0.2 pJ + 8-bit add 0.03 pJ.
            mac_pj: 0.23,
            // Same source: 64-bit read of a 1 MB SRAM about 100 pJ.
            buffer_pj_per_byte: 12.5,
            // Same source: DRAM 1.3-2.6 nJ per 64-bit access; the low end.
            dram_pj_per_byte: 162.5,
            // Assumption: half of the ~1 W budget quoted for Myriad VPUs
            // (Movidius, Myriad 2 launch) is drawn when idle.
            static_mw: 500.0,
        }
    }
}

impl Accelerator {
    /// The first Movidius stick as Blouw et al. (2019) measured it, the
    /// embedded `hw_configs/baselines/ncs-measured-blouw2019.ron`.
    pub fn measured_stick() -> Accelerator {
        parse_ron(
            "hw_configs/baselines/ncs-measured-blouw2019.ron",
            include_str!("../hw_configs/baselines/ncs-measured-blouw2019.ron"),
        )
        .expect("the embedded baseline parses")
    }
}

/// One inference of the ANN on the accelerator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AcceleratorRun {
    pub macs: u64,
    pub cycles: u64,
    pub seconds: f64,
    pub buffer_bytes: u64,
    pub dram_bytes: u64,
    pub energy_mac_pj: f64,
    pub energy_buffer_pj: f64,
    pub energy_dram_pj: f64,
    pub energy_static_pj: f64,
    pub energy_pj: f64,
    /// Mean power over the inference.
    pub power_mw: f64,
}

impl Accelerator {
    pub fn load(path: &std::path::Path) -> Result<Accelerator> {
        let file = path.display().to_string();
        let a: Accelerator = parse_ron(&file, &read_file(path)?)?;
        a.validate(&file)?;
        Ok(a)
    }

    pub fn validate(&self, file: &str) -> Result<()> {
        check_range(file, "macs", self.macs, 1, 1 << 24)?;
        check_range(file, "weight_bits", self.weight_bits, 1, 32)?;
        check_range(file, "activation_bits", self.activation_bits, 1, 32)?;
        for (field, v, lo, hi) in [
            ("clock_mhz", self.clock_mhz, 1e-3, 1e5),
            ("utilization", self.utilization, 1e-6, 1.0),
            ("mac_pj", self.mac_pj, 0.0, 1e6),
            ("buffer_pj_per_byte", self.buffer_pj_per_byte, 0.0, 1e6),
            ("dram_pj_per_byte", self.dram_pj_per_byte, 0.0, 1e6),
            ("static_mw", self.static_mw, 0.0, 1e9),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(Error::invalid(file, field, v, format!("{lo} ..= {hi}")));
            }
        }
        Ok(())
    }

    /// One inference of the network with `arch` and `shapes` (from
    /// `train::skeleton`).
    pub fn run(&self, arch: &[LayerKind], shapes: &[LayerShape]) -> AcceleratorRun {
        let (wb, ab) = (self.weight_bits as u64, self.activation_bits as u64);
        let bytes = |n: u64, bits: u64| (n * bits).div_ceil(8);
        let mut r = AcceleratorRun::default();
        let mut weights = 0u64;
        let rate = self.macs as f64 * self.utilization;
        for (kind, shape) in arch.iter().zip(shapes) {
            let (inputs, outputs) = (shape.input.len() as u64, shape.output.len() as u64);
            let (macs, w) = match *kind {
                LayerKind::Dense { inputs, outputs } => {
                    let n = (inputs * outputs) as u64;
                    (n, n)
                }
                LayerKind::Conv2d { .. } => {
                    let per_output = (kind.n_weights() / kind_out_ch(kind)) as u64;
                    (outputs * per_output, kind.n_weights() as u64)
                }
                LayerKind::SumPool2d { k } => (outputs * (k * k) as u64, 0),
            };
            r.macs += macs;
            r.cycles += self.layer_overhead_cycles + (macs as f64 / rate).ceil() as u64;
            r.buffer_bytes += bytes(w, wb) + bytes(inputs, ab) + bytes(outputs, ab);
            weights += bytes(w, wb);
        }
        let input = shapes.first().map_or(0, |s| s.input.len() as u64);
        r.dram_bytes = bytes(input, ab)
            + if weights > self.buffer_bytes {
                weights
            } else {
                0
            };
        r.seconds = r.cycles as f64 / (self.clock_mhz * 1e6);
        r.energy_mac_pj = r.macs as f64 * self.mac_pj;
        r.energy_buffer_pj = r.buffer_bytes as f64 * self.buffer_pj_per_byte;
        r.energy_dram_pj = r.dram_bytes as f64 * self.dram_pj_per_byte;
        r.energy_static_pj = self.static_mw * 1e-3 * r.seconds * 1e12;
        r.energy_pj = r.energy_mac_pj + r.energy_buffer_pj + r.energy_dram_pj + r.energy_static_pj;
        r.power_mw = if r.seconds > 0.0 {
            r.energy_pj * 1e-12 / r.seconds * 1e3
        } else {
            0.0
        };
        r
    }
}

fn kind_out_ch(kind: &LayerKind) -> usize {
    match *kind {
        LayerKind::Conv2d { out_ch, .. } => out_ch,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{parse_arch, skeleton};

    #[test]
    fn counts_macs_bytes_and_energy_by_hand() {
        let arch = parse_arch("4-3-2").unwrap();
        let (shapes, _) = skeleton(&arch);
        let a = Accelerator {
            macs: 2,
            clock_mhz: 1.0,
            utilization: 1.0,
            buffer_bytes: 100,
            mac_pj: 1.0,
            buffer_pj_per_byte: 10.0,
            dram_pj_per_byte: 100.0,
            static_mw: 1.0,
            layer_overhead_cycles: 0,
            ..Accelerator::default()
        };
        let r = a.run(&arch, &shapes);
        // 12 + 6 MACs at 2 per cycle.
        assert_eq!((r.macs, r.cycles), (18, 6 + 3));
        // Weights 12 + 6 bytes, inputs 4 + 3, outputs 3 + 2.
        assert_eq!(r.buffer_bytes, 12 + 4 + 3 + 6 + 3 + 2);
        // The weights fit: only the 4-byte input comes from DRAM.
        assert_eq!(r.dram_bytes, 4);
        assert!((r.seconds - 9e-6).abs() < 1e-15);
        let static_pj = 1e-3 * 9e-6 * 1e12;
        assert!((r.energy_pj - (18.0 + 300.0 + 400.0 + static_pj)).abs() < 1e-6);
        assert!((r.power_mw - r.energy_pj * 1e-9 / 9e-6).abs() < 1e-9);
        // Weights that do not fit come from DRAM every inference.
        let small = Accelerator {
            buffer_bytes: 10,
            ..a.clone()
        };
        assert_eq!(small.run(&arch, &shapes).dram_bytes, 4 + 18);
        // Each layer pays its start-up cycles.
        let slow = Accelerator {
            layer_overhead_cycles: 5,
            ..a.clone()
        };
        assert_eq!(slow.run(&arch, &shapes).cycles, 9 + 2 * 5);
        // A conv layer: 2 output channels of 3x3 kernels on 1x4x4, stride 1, no padding.
        let conv = parse_arch("1x4x4:c2k3s1p0").unwrap();
        let (shapes, _) = skeleton(&conv);
        assert_eq!(a.run(&conv, &shapes).macs, 2 * 2 * 2 * 9);
    }

    /// `hw_configs/baselines/ncs-measured-blouw2019.ron` gives back what
    /// Blouw et al. measured on their keyword spotter: 300 inferences per
    /// second at 0.647 W.
    #[test]
    fn the_measured_stick_baseline_reproduces_its_publication() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("hw_configs/baselines/ncs-measured-blouw2019.ron");
        let a = Accelerator::load(&path).unwrap();
        assert_eq!(a, Accelerator::measured_stick());
        let arch = parse_arch("390-256-256-29").unwrap();
        let (shapes, _) = skeleton(&arch);
        let r = a.run(&arch, &shapes);
        assert_eq!(r.macs, 172_800);
        let per_second = 1.0 / r.seconds;
        assert!(
            (per_second - 300.0).abs() < 0.5,
            "{per_second} inferences/s"
        );
        let joules = r.energy_pj * 1e-12;
        assert!(
            (joules - 0.647 / 300.0).abs() < 0.01 * 0.647 / 300.0,
            "{joules} J"
        );
        // Its dynamic energy above idle, the paper's 0.0015 J per inference.
        let dynamic = joules - 0.210 * r.seconds;
        assert!((dynamic - 0.0015).abs() < 0.0001, "{dynamic} J");
    }

    #[test]
    fn bad_values_name_their_field() {
        let a = Accelerator {
            utilization: 1.5,
            ..Accelerator::default()
        };
        let e = a.validate("b.ron").unwrap_err().to_string();
        assert!(e.contains("b.ron") && e.contains("utilization"), "{e}");
    }
}
