//! The one integer LIF arithmetic, shared by the reference executor and the
//! engine (and nothing else is shared between them). Loihi's fixed-point form
//! (Davies et al. 2018): 12-bit decay constants, current `u` that wraps and
//! voltage `v` that saturates at `state_bits`, strict threshold.

use super::{Adaptation, Neuron, Reset, Stdp, TRACE_MAX};

/// Full scale of the 12-bit decay constants `du`, `dv`.
pub const DECAY_ONE: i64 = 4096;

/// `x * (4096 - d) / 4096`, truncated toward zero (Rust's `/` on integers).
#[inline]
pub fn decay(x: i32, d: u16) -> i64 {
    (x as i64 * (DECAY_ONE - d as i64)) / DECAY_ONE
}

/// [`decay`] with `d` out of `2^bits` instead of 4096.
#[inline]
pub fn decay_in(x: i32, d: u16, bits: u8) -> i64 {
    let one = 1i64 << bits;
    let p = x as i64 * (one - d as i64);
    // `p / one` as a shift: `bits` is only known at run time, and a
    // division there is the update walk's slowest instruction. Adding
    // `one - 1` to a negative `p` makes the shift truncate toward zero.
    (p + ((p >> 63) & (one - 1))) >> bits
}

/// Two's-complement wrap of `x` to `bits` bits.
#[inline]
pub fn wrap(x: i64, bits: u8) -> i32 {
    let sh = 64 - bits as u32;
    ((x << sh) >> sh) as i32
}

/// Lava's bit-accurate wrap of Loihi's current (`PyLifModelBitAcc`): with
/// `m = 2^(bits-1)`, a value above `m` loses `2m`, then one at or below
/// `-m` gains `2m` (computed from the value before the first step), so
/// the range is (-m, m] rather than two's complement's [-m, m).
#[inline]
pub fn loihi_wrap(x: i64, bits: u8) -> i32 {
    let m = 1i64 << (bits - 1);
    let w = if x > m { x - 2 * m } else { x };
    (if w <= -m { x + 2 * m } else { w }) as i32
}

#[inline]
pub fn saturate(x: i64, bits: u8) -> i32 {
    let hi = (1i64 << (bits - 1)) - 1;
    x.clamp(-hi - 1, hi) as i32
}

/// The per-layer constants of the update, resolved once from the IR.
#[derive(Clone, Debug)]
pub struct LifConsts {
    pub du: u16,
    pub dv: u16,
    pub v_reset: i32,
    pub reset: Reset,
    pub input_shift: u8,
    pub input_right_shift: u8,
    pub state_bits: u8,
    pub decay_bits: u8,
    pub loihi_bounds: bool,
    pub adaptation: Option<Adaptation>,
}

impl LifConsts {
    pub fn of(n: &Neuron) -> LifConsts {
        LifConsts {
            du: n.du,
            dv: n.dv,
            v_reset: n.v_reset,
            reset: n.reset,
            input_shift: n.input_shift,
            input_right_shift: n.input_right_shift,
            state_bits: n.state_bits,
            decay_bits: n.decay_bits,
            loihi_bounds: n.loihi_bounds,
            adaptation: n.adaptation,
        }
    }
}

/// One timestep of one neuron. `input` is the weighted input of this
/// timestep; only its value modulo 2^32 matters (state_bits <= 32), so a
/// wrapping 32-bit accumulator gives the same result as exact arithmetic.
/// Returns whether the neuron spiked.
#[inline]
pub fn step(
    c: &LifConsts,
    u: &mut i32,
    v: &mut i32,
    input: i64,
    threshold: i32,
    bias: i32,
) -> bool {
    let drive = ((input as i32 as i64) >> c.input_right_shift) << c.input_shift;
    let nu = decay_in(*u, c.du, c.decay_bits) + drive;
    *u = if c.loihi_bounds {
        loihi_wrap(nu, c.state_bits)
    } else {
        wrap(nu, c.state_bits)
    };
    // A delayed reset is due when the kept, un-reset voltage of the step
    // before was above threshold; it is subtracted after the leak.
    let late = match c.reset {
        Reset::DelayedSubtract if *v > threshold => threshold as i64,
        _ => 0,
    };
    let sum = decay_in(*v, c.dv, c.decay_bits) + *u as i64 + bias as i64 - late;
    let nv = if c.loihi_bounds {
        let hi = (1i64 << (c.state_bits - 1)) - 1;
        sum.clamp(-hi, hi) as i32
    } else {
        saturate(sum, c.state_bits)
    };
    if nv > threshold {
        *v = match c.reset {
            Reset::ToValue => c.v_reset,
            Reset::Subtract => saturate(nv as i64 - threshold as i64, c.state_bits),
            Reset::DelayedSubtract => nv,
        };
        true
    } else {
        *v = nv;
        false
    }
}

/// The threshold a neuron with adaptation `theta` compares against.
#[inline]
pub fn effective_threshold(c: &LifConsts, threshold: i32, theta: i32) -> i32 {
    saturate(threshold as i64 + theta as i64, c.state_bits)
}

/// The adaptive threshold's end-of-timestep update.
#[inline]
pub fn adapt(c: &LifConsts, theta: &mut i32, fired: bool) {
    if let Some(a) = c.adaptation {
        let inc = if fired { a.increment as i64 } else { 0 };
        *theta = saturate(decay(*theta, a.decay) + inc, c.state_bits);
    }
}

/// An STDP trace at the end of a timestep: decay, plus the increment when
/// its neuron spiked, saturating at `TRACE_MAX`.
#[inline]
pub fn trace_step(x: &mut i32, d: u16, increment: i32, spiked: bool) {
    let inc = if spiked { increment as i64 } else { 0 };
    *x = (decay(*x, d) + inc).min(TRACE_MAX as i64) as i32;
}

/// [`trace_step`] without spikes, over a whole array of traces. Traces lie
/// in `0..=TRACE_MAX` (increments are validated non-negative), so the
/// product fits 32 bits and the shift equals the division; the loop
/// vectorises, where `trace_step`'s 64-bit arithmetic does not.
#[inline]
pub fn decay_traces(xs: &mut [i32], d: u16) {
    let keep = (DECAY_ONE - d as i64) as i32;
    for x in xs {
        *x = (*x * keep) >> 12;
    }
}

/// A presynaptic trace when its neuron spikes (before the decay at the
/// end of the timestep, which a spike does not skip).
#[inline]
pub fn trace_bump(x: &mut i32, increment: i32) {
    *x = (*x + increment).min(TRACE_MAX);
}

/// Depression of one synapse by a presynaptic spike.
#[inline]
pub fn depress(s: &Stdp, w: i32, post_trace: i32) -> i32 {
    (w - ((s.a_minus * post_trace) >> 8)).clamp(s.w_min, s.w_max)
}

/// Potentiation of one synapse by a postsynaptic spike.
#[inline]
pub fn potentiate(s: &Stdp, w: i32, pre_trace: i32) -> i32 {
    (w + ((s.a_plus * (pre_trace - s.pre_target)) >> 8)).clamp(s.w_min, s.w_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decay_in_truncates_toward_zero_like_division(
            x in any::<i32>(),
            bits in 1u8..=16,
            d in any::<u16>(),
        ) {
            let one = 1i64 << bits;
            let d = (d as i64 % (one + 1)) as u16;
            prop_assert_eq!(decay_in(x, d, bits), (x as i64 * (one - d as i64)) / one);
        }
    }

    fn consts(du: u16, dv: u16, reset: Reset) -> LifConsts {
        LifConsts {
            du,
            dv,
            v_reset: 0,
            reset,
            input_shift: 0,
            input_right_shift: 0,
            state_bits: 16,
            decay_bits: 12,
            loihi_bounds: false,
            adaptation: None,
        }
    }

    #[test]
    fn decaying_a_trace_array_equals_trace_step_on_every_trace() {
        for d in 0..=4096u16 {
            let mut all: Vec<i32> = (0..=TRACE_MAX).collect();
            decay_traces(&mut all, d);
            for (x, got) in (0..=TRACE_MAX).zip(all) {
                let mut want = x;
                trace_step(&mut want, d, 0, false);
                assert_eq!(got, want, "trace {x}, decay {d}");
            }
        }
    }

    #[test]
    fn traces_decay_bump_and_saturate() {
        let mut x = 0;
        trace_bump(&mut x, 200);
        trace_bump(&mut x, 200);
        assert_eq!(x, TRACE_MAX);
        trace_step(&mut x, 2048, 0, false);
        assert_eq!(x, 127);
        trace_step(&mut x, 2048, 100, true);
        assert_eq!(x, 163); // 63 + 100
    }

    #[test]
    fn stdp_updates_by_hand_and_clamped() {
        let s = Stdp {
            a_plus: 64,
            a_minus: 32,
            pre_target: 40,
            pre_increment: 255,
            post_increment: 255,
            pre_decay: 0,
            post_decay: 0,
            w_min: 0,
            w_max: 100,
        };
        assert_eq!(potentiate(&s, 10, 200), 10 + ((64 * 160) >> 8)); // +40
        assert_eq!(potentiate(&s, 10, 0), 10 - 10); // (64 * -40) >> 8 = -10
        assert_eq!(potentiate(&s, 99, 255), 100);
        assert_eq!(depress(&s, 50, 255), 50 - 31);
        assert_eq!(depress(&s, 3, 255), 0);
    }

    #[test]
    fn adaptive_threshold_rises_on_spikes_and_decays() {
        let mut c = consts(4096, 0, Reset::ToValue);
        c.adaptation = Some(Adaptation {
            increment: 8,
            decay: 2048,
        });
        let mut theta = 0;
        adapt(&c, &mut theta, true);
        assert_eq!(theta, 8);
        adapt(&c, &mut theta, false);
        assert_eq!(theta, 4);
        assert_eq!(effective_threshold(&c, 32760, 100), 32767);
    }

    #[test]
    fn decay_truncates_toward_zero() {
        assert_eq!(decay(100, 2048), 50);
        assert_eq!(decay(-3, 2048), -1); // -1.5 -> -1
        assert_eq!(decay(3, 2048), 1);
        assert_eq!(decay(7, 0), 7);
        assert_eq!(decay(7, 4096), 0);
    }

    #[test]
    fn loihi_bounds_follow_lavas_bit_accurate_lif() {
        let m = 1i64 << 23;
        // Lava: u > 2^23 loses 2^24; u <= -2^23 gains 2^24.
        assert_eq!(loihi_wrap(m, 24), m as i32); // two's complement: -2^23
        assert_eq!(wrap(m, 24), -m as i32);
        assert_eq!(loihi_wrap(m + 5, 24), (-m + 5) as i32);
        assert_eq!(loihi_wrap(-m, 24), m as i32);
        assert_eq!(loihi_wrap(-m - 3, 24), (m - 3) as i32);
        assert_eq!(loihi_wrap(-m + 1, 24), (-m + 1) as i32);
        // v saturates at -(2^23 - 1), not -2^23.
        let mut c = consts(4096, 0, Reset::ToValue);
        c.state_bits = 24;
        c.loihi_bounds = true;
        let (mut u, mut v) = (0, -(m as i32) + 10);
        step(&c, &mut u, &mut v, -100, 1000, 0);
        assert_eq!(v, -(m as i32) + 1);
        c.loihi_bounds = false;
        let (mut u, mut v) = (0, -(m as i32) + 10);
        step(&c, &mut u, &mut v, -100, 1000, 0);
        assert_eq!(v, -(m as i32));
    }

    #[test]
    fn a_right_shift_floors_the_summed_input_before_the_left_shift() {
        let mut c = consts(4096, 0, Reset::ToValue);
        c.state_bits = 24;
        c.input_right_shift = 2;
        c.input_shift = 6;
        let (mut u, mut v) = (0, 0);
        step(&c, &mut u, &mut v, -5, 1 << 20, 0);
        assert_eq!(u, (-5i32 >> 2) << 6); // -2 * 64: floor, as numpy's right_shift
        assert_eq!(u, -128);
    }

    #[test]
    fn current_wraps_and_voltage_saturates() {
        assert_eq!(wrap(32768, 16), -32768);
        assert_eq!(wrap(-32769, 16), 32767);
        assert_eq!(saturate(40000, 16), 32767);
        assert_eq!(saturate(-40000, 16), -32768);
    }

    #[test]
    fn if_neuron_integrates_and_fires_strictly_above_threshold() {
        let c = consts(4096, 0, Reset::ToValue);
        let (mut u, mut v) = (0, 0);
        assert!(!step(&c, &mut u, &mut v, 5, 10, 0));
        assert_eq!(v, 5);
        assert!(!step(&c, &mut u, &mut v, 5, 10, 0)); // v = 10, not > 10
        assert_eq!(v, 10);
        assert!(step(&c, &mut u, &mut v, 1, 10, 0));
        assert_eq!(v, 0);
    }

    #[test]
    fn subtract_reset_keeps_the_residue() {
        let c = consts(4096, 0, Reset::Subtract);
        let (mut u, mut v) = (0, 0);
        assert!(step(&c, &mut u, &mut v, 25, 10, 0));
        assert_eq!(v, 15);
    }

    #[test]
    fn delayed_subtract_resets_one_step_late_after_the_leak() {
        // snnTorch's Leaky: mem[t] = beta*mem[t-1] + x[t] - H(mem[t-1] - thr)*thr.
        let c = consts(4096, 2048, Reset::DelayedSubtract);
        let (mut u, mut v) = (0, 0);
        assert!(step(&c, &mut u, &mut v, 25, 10, 0));
        assert_eq!(v, 25); // spike reported from the un-reset membrane
                           // The reset of that spike: 25 / 2 = 12 after the leak, minus 10.
        assert!(!step(&c, &mut u, &mut v, 0, 10, 0));
        assert_eq!(v, 2);
        assert!(!step(&c, &mut u, &mut v, 0, 10, 0));
        assert_eq!(v, 1); // no reset is due: the step before did not spike
                          // Two spikes in a row: the second is reported before the first's
                          // reset lowers the membrane below threshold.
        let (mut u, mut v) = (0, 0);
        assert!(step(&c, &mut u, &mut v, 50, 10, 0));
        assert!(step(&c, &mut u, &mut v, 0, 10, 0));
        assert_eq!(v, 15); // 25 - 10
        assert!(!step(&c, &mut u, &mut v, 0, 10, 0));
        assert_eq!(v, -3); // 7 - 10
    }

    #[test]
    fn current_persists_with_du_below_full_scale() {
        let c = consts(2048, 4096, Reset::ToValue);
        let (mut u, mut v) = (0, 0);
        step(&c, &mut u, &mut v, 100, 1000, 0);
        assert_eq!((u, v), (100, 100));
        step(&c, &mut u, &mut v, 0, 1000, 0);
        assert_eq!((u, v), (50, 50)); // dv = 4096: v forgets, u halves
    }

    #[test]
    fn wrapped_32_bit_input_equals_exact_input() {
        let c = consts(4096, 0, Reset::ToValue);
        let exact: i64 = (1 << 33) + 77;
        let (mut u1, mut v1, mut u2, mut v2) = (0, 0, 0, 0);
        step(&c, &mut u1, &mut v1, exact, 30000, 0);
        step(&c, &mut u2, &mut v2, exact as i32 as i64, 30000, 0);
        assert_eq!((u1, v1), (u2, v2));
    }
}
