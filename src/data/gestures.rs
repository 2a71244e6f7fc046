//! `dvs-gestures`: a **synthetic** event-camera data set, made by a small
//! emulator, standing in for DVS gesture-recognition workloads. It is not
//! recorded data. Moving, rotating, waving and pulsing shapes are rendered
//! frame by frame (anti-aliased, 2x2 supersampling); each pixel emits an ON
//! or OFF event whenever its log intensity has moved by more than its
//! contrast threshold since its last event (per-pixel thresholds vary, as
//! in event-camera simulators such as ESIM and v2e), plus background noise
//! events. Events are counted per output frame, polarity and pixel.
//!
//! Classes: 0-3 a bar sweeping right, left, down, up; 4-5 a square
//! rotating clockwise, counter-clockwise; 6-7 a disk waving horizontally,
//! vertically; 8-9 a ring expanding, contracting.

use super::Split;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const SIZE: usize = 32;
pub const FRAMES: usize = 8;
pub const CLASSES: usize = 10;
/// Rendered sub-frames per output frame (events are finer than frames).
const SUB: usize = 4;
pub const TRAIN: usize = 1600;
/// 2,000 test gestures, so a point of accuracy is 20 of them.
pub const TEST: usize = 2000;
/// The data set's own seed: everyone gets the same samples.
pub const SEED: u64 = 0x06E5_70E5;

pub const CLASS_NAMES: [&str; CLASSES] = [
    "bar right",
    "bar left",
    "bar down",
    "bar up",
    "rotate cw",
    "rotate ccw",
    "wave horizontal",
    "wave vertical",
    "ring expand",
    "ring contract",
];

/// A sample's scene: the class's motion with drawn parameters.
struct Scene {
    class: usize,
    bright: f64,
    dark: f64,
    cx: f64,
    cy: f64,
    size: f64,
    speed: f64,
    phase: f64,
}

impl Scene {
    fn draw(class: usize, rng: &mut ChaCha8Rng) -> Scene {
        let s = SIZE as f64;
        let (bright, dark) = if rng.random_bool(0.5) {
            (rng.random_range(0.7..1.0), rng.random_range(0.05..0.25))
        } else {
            (rng.random_range(0.05..0.25), rng.random_range(0.7..1.0))
        };
        Scene {
            class,
            bright,
            dark,
            cx: s / 2.0 + rng.random_range(-4.0..4.0),
            cy: s / 2.0 + rng.random_range(-4.0..4.0),
            size: rng.random_range(5.0..9.0),
            speed: rng.random_range(0.7..1.3),
            phase: rng.random_range(0.0..std::f64::consts::TAU),
        }
    }

    /// Whether point (x, y) is inside the shape at time `tau` in [0, 1).
    fn inside(&self, x: f64, y: f64, tau: f64) -> bool {
        let s = SIZE as f64;
        let tau = tau * self.speed;
        match self.class {
            0..=3 => {
                // A bar across the frame, sweeping over it.
                let pos = -4.0 + tau * (s + 8.0) + self.phase;
                let pos = pos.rem_euclid(s + 8.0) - 4.0;
                let half = self.size / 4.0;
                match self.class {
                    0 => (x - pos).abs() < half,
                    1 => (x - (s - pos)).abs() < half,
                    2 => (y - pos).abs() < half,
                    _ => (y - (s - pos)).abs() < half,
                }
            }
            4 | 5 => {
                let dir = if self.class == 4 { 1.0 } else { -1.0 };
                let a = self.phase + dir * tau * std::f64::consts::PI;
                let (dx, dy) = (x - self.cx, y - self.cy);
                let (u, v) = (dx * a.cos() + dy * a.sin(), -dx * a.sin() + dy * a.cos());
                u.abs() < self.size && v.abs() < self.size
            }
            6 | 7 => {
                let off = 8.0 * (self.phase + tau * std::f64::consts::TAU * 1.5).sin();
                let (px, py) = if self.class == 6 {
                    (self.cx + off, self.cy)
                } else {
                    (self.cx, self.cy + off)
                };
                (x - px).powi(2) + (y - py).powi(2) < (self.size * 0.7).powi(2)
            }
            _ => {
                let grow = if self.class == 8 { tau } else { 1.0 - tau };
                let r = 2.0 + grow * 12.0;
                let d = ((x - self.cx).powi(2) + (y - self.cy).powi(2)).sqrt();
                (d - r).abs() < 1.5
            }
        }
    }

    /// Intensity of the frame at time `tau`, 2x2 supersampled.
    fn render(&self, tau: f64, out: &mut [f64]) {
        for y in 0..SIZE {
            for x in 0..SIZE {
                let mut cover = 0.0;
                for (oy, ox) in [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)] {
                    if self.inside(x as f64 + ox, y as f64 + oy, tau) {
                        cover += 0.25;
                    }
                }
                out[y * SIZE + x] = self.dark + (self.bright - self.dark) * cover;
            }
        }
    }
}

/// One sample: event counts `[frame][polarity][y][x]` (polarity 0 = ON).
pub fn sample(index: u64, class: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(crate::model::stimulus::sample_seed(SEED, index));
    let scene = Scene::draw(class, &mut rng);
    let px = SIZE * SIZE;
    let threshold: Vec<f64> = (0..px)
        .map(|_| (0.2f64 + rng.random_range(-0.03..0.03)).max(0.05))
        .collect();
    let mut frame = vec![0.0; px];
    scene.render(0.0, &mut frame);
    let mut reference: Vec<f64> = frame.iter().map(|i| i.ln()).collect();
    let mut out = vec![0u8; FRAMES * 2 * px];
    let steps = FRAMES * SUB;
    for k in 1..=steps {
        scene.render(k as f64 / steps as f64, &mut frame);
        let f = (k - 1) / SUB;
        for p in 0..px {
            let l = frame[p].ln();
            let th = threshold[p];
            while l - reference[p] > th {
                reference[p] += th;
                let c = &mut out[(f * 2) * px + p];
                *c = c.saturating_add(1);
            }
            while reference[p] - l > th {
                reference[p] -= th;
                let c = &mut out[(f * 2 + 1) * px + p];
                *c = c.saturating_add(1);
            }
            // Background activity: a noise event now and then.
            if rng.random_bool(0.0005) {
                let pol = rng.random_range(0..2usize);
                let c = &mut out[(f * 2 + pol) * px + p];
                *c = c.saturating_add(1);
            }
        }
    }
    out
}

/// The data set: classes in turn, so both splits are balanced.
pub fn generate() -> (Split, Split) {
    let make = |from: usize, n: usize| {
        let mut samples = Vec::with_capacity(n * FRAMES * 2 * SIZE * SIZE);
        let mut labels = Vec::with_capacity(n);
        for i in from..from + n {
            let class = i % CLASSES;
            samples.extend(sample(i as u64, class));
            labels.push(class as u8);
        }
        Split {
            samples,
            labels,
            sample_len: FRAMES * 2 * SIZE * SIZE,
        }
    };
    (make(0, TRAIN), make(TRAIN, TEST))
}
