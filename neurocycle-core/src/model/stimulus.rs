//! Input stimulus: the events that enter the first layer, per timestep.
//! Synthetic stimuli are drawn from a seed and the sample index, so a sample
//! is the same whatever thread or order runs it.

use super::{InputEncoding, Model};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One input event: input index and payload (1 for a binary spike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputEvent {
    pub input: u32,
    pub payload: u32,
}

/// Events of every timestep, flat; `offsets[t]..offsets[t + 1]` is timestep t.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stimulus {
    pub events: Vec<InputEvent>,
    pub offsets: Vec<usize>,
    /// Class label, when the stimulus comes from a labelled data set.
    pub label: Option<u32>,
}

impl Stimulus {
    pub fn at(&self, t: usize) -> &[InputEvent] {
        &self.events[self.offsets[t]..self.offsets[t + 1]]
    }
    pub fn timesteps(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Builds a stimulus from per-timestep event lists.
    pub fn from_timesteps(steps: Vec<Vec<InputEvent>>, label: Option<u32>) -> Stimulus {
        let mut s = Stimulus {
            events: vec![],
            offsets: vec![0],
            label,
        };
        for step in steps {
            s.events.extend(step);
            s.offsets.push(s.events.len());
        }
        s
    }
}

/// Mixes the user's seed with the sample index (splitmix64), so samples
/// are independent streams.
pub fn sample_seed(seed: u64, sample: u64) -> u64 {
    let mut z = seed ^ sample.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A synthetic stimulus: Bernoulli(rate) spikes per input and timestep, or
/// for graded input one intensity vector (active with probability rate,
/// uniform 1..=max) presented at every timestep, as direct encoding does.
pub fn synthetic(model: &Model, seed: u64, sample: u64) -> Stimulus {
    let mut rng = ChaCha8Rng::seed_from_u64(sample_seed(seed, sample));
    let n = model.input.size;
    let rate = model.input.rate;
    let t_steps = model.timesteps as usize;
    let steps = match model.input.encoding {
        InputEncoding::Spikes => (0..t_steps)
            .map(|_| {
                (0..n)
                    .filter(|_| rng.random_bool(rate))
                    .map(|i| InputEvent {
                        input: i as u32,
                        payload: 1,
                    })
                    .collect()
            })
            .collect(),
        InputEncoding::Graded { bits } => {
            let max = (1u32 << bits) - 1;
            let mut frame = vec![];
            for i in 0..n {
                if rng.random_bool(rate) {
                    frame.push(InputEvent {
                        input: i as u32,
                        payload: rng.random_range(1..=max),
                    });
                }
            }
            vec![frame; t_steps]
        }
    };
    Stimulus::from_timesteps(steps, None)
}

/// The stimulus of an 8-bit image (or any 8-bit sample) under the model's
/// input encoding; the trainer, `eval` and `run --dataset` all use this, so
/// they see identical inputs.
///
/// - `spikes`: rate code, a Bernoulli spike per input and timestep with
///   probability `pixel / 255`, drawn from `(seed, sample)`;
/// - `graded { bits }`: direct code, the pixel's top `bits` bits as the
///   payload at every timestep (zero pixels send nothing).
pub fn from_image(
    model: &Model,
    image: &[u8],
    seed: u64,
    sample: u64,
    label: Option<u32>,
) -> Stimulus {
    encode_image(
        model.input.encoding,
        model.timesteps,
        image,
        seed,
        sample,
        label,
    )
}

/// [`from_image`] for an encoding and timestep count (the trainer's view,
/// before a model exists).
pub fn encode_image(
    encoding: InputEncoding,
    timesteps: u32,
    image: &[u8],
    seed: u64,
    sample: u64,
    label: Option<u32>,
) -> Stimulus {
    let t_steps = timesteps as usize;
    let steps = match encoding {
        InputEncoding::Spikes => {
            let mut rng = ChaCha8Rng::seed_from_u64(sample_seed(seed, sample));
            (0..t_steps)
                .map(|_| {
                    image
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| **p > 0 && rng.random_range(0..255u32) < **p as u32)
                        .map(|(i, _)| InputEvent {
                            input: i as u32,
                            payload: 1,
                        })
                        .collect()
                })
                .collect()
        }
        InputEncoding::Graded { bits } => {
            let frame: Vec<InputEvent> = image
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let payload = graded_payload(*p, bits);
                    (payload > 0).then_some(InputEvent {
                        input: i as u32,
                        payload,
                    })
                })
                .collect();
            vec![frame; t_steps]
        }
    };
    Stimulus::from_timesteps(steps, label)
}

/// The top `bits` bits of an 8-bit value (bits above 8 shift it up).
pub fn graded_payload(p: u8, bits: u8) -> u32 {
    if bits >= 8 {
        (p as u32) << (bits - 8)
    } else {
        (p >> (8 - bits)) as u32
    }
}
