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
