//! Idle life: blinks and a small head/breathing motion, so a silent avatar is never frozen.
//!
//! Everything is a deterministic function of the frame index (25 fps) and a seed: blinks every 2.5-5.5 s
//! (close in 80 ms, hold 30 ms, open in 140 ms), head roll within about ±1.2° and sway within about ±0.04
//! inter-ocular distances (two slow sines each), breathing at 0.25 Hz (±0.4 % scale, a little vertical motion).

use super::warp::{smoothstep, Pt};
use super::FPS;
use crate::rng::SplitMix64;

/// What idle life to add.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleOptions {
    pub blink: bool,
    /// Head roll/sway and breathing.
    pub head: bool,
    pub seed: u64,
}

impl Default for IdleOptions {
    fn default() -> Self {
        Self { blink: true, head: true, seed: 0 }
    }
}

/// Idle state of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleState {
    /// Eye closure, 0 open .. 1 closed.
    pub blink: f32,
    /// Head roll (radians).
    pub roll: f32,
    /// Head shift in inter-ocular units.
    pub shift: Pt,
    /// Scale about the face centre (breathing).
    pub scale: f32,
}

impl Default for IdleState {
    fn default() -> Self {
        Self { blink: 0.0, roll: 0.0, shift: Pt::default(), scale: 1.0 }
    }
}

impl IdleState {
    /// Whether the head moves at all (the whole-frame resample can be skipped otherwise).
    pub fn moves(&self) -> bool {
        self.roll != 0.0 || self.shift != Pt::default() || self.scale != 1.0
    }
}

/// A seeded idle-life generator.
#[derive(Debug, Clone)]
pub struct Idle {
    opts: IdleOptions,
    /// Blink start times (s), extended as frames ask for later times.
    blinks: Vec<f64>,
    rng: SplitMix64,
    phases: [f64; 6],
}

const BLINK_CLOSE: f64 = 0.08;
const BLINK_HOLD: f64 = 0.03;
const BLINK_OPEN: f64 = 0.14;

impl Idle {
    pub fn new(opts: IdleOptions) -> Self {
        let mut rng = SplitMix64(opts.seed ^ 0x5EED_1D1E);
        let mut phases = [0.0; 6];
        for p in &mut phases {
            *p = rng.uniform() * std::f64::consts::TAU;
        }
        // The first blink comes 1-3 s in.
        let first = 1.0 + 2.0 * rng.uniform();
        Self { opts, blinks: vec![first], rng, phases }
    }

    /// The state at frame `index`.
    pub fn state(&mut self, index: u64) -> IdleState {
        let t = index as f64 / FPS;
        let mut st = IdleState::default();
        if self.opts.blink {
            while *self.blinks.last().unwrap() <= t {
                let last = *self.blinks.last().unwrap();
                let gap = 2.5 + 3.0 * self.rng.uniform();
                self.blinks.push(last + gap);
            }
            // The latest blink that started at or before t.
            let i = self.blinks.partition_point(|&b| b <= t);
            if i > 0 {
                let dt = t - self.blinks[i - 1];
                st.blink = if dt < BLINK_CLOSE {
                    smoothstep(0.0, BLINK_CLOSE as f32, dt as f32)
                } else if dt < BLINK_CLOSE + BLINK_HOLD {
                    1.0
                } else {
                    1.0 - smoothstep(0.0, BLINK_OPEN as f32, (dt - BLINK_CLOSE - BLINK_HOLD) as f32)
                };
            }
        }
        if self.opts.head {
            let p = &self.phases;
            let tau = std::f64::consts::TAU;
            let s = |f: f64, ph: f64| (tau * f * t + ph).sin();
            st.roll = (1.2f64.to_radians() * (0.6 * s(0.13, p[0]) + 0.4 * s(0.29, p[1]))) as f32;
            let breath = s(0.25, p[4]);
            st.shift = Pt::new(
                (0.04 * (0.6 * s(0.09, p[2]) + 0.4 * s(0.21, p[3]))) as f32,
                (0.03 * s(0.17, p[5]) + 0.015 * breath) as f32,
            );
            st.scale = (1.0 + 0.004 * breath) as f32;
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blinks_happen_every_few_seconds_and_are_deterministic() {
        let mut a = Idle::new(IdleOptions { blink: true, head: false, seed: 3 });
        let mut b = Idle::new(IdleOptions { blink: true, head: false, seed: 3 });
        let states: Vec<f32> = (0..25 * 20).map(|i| a.state(i).blink).collect();
        let again: Vec<f32> = (0..25 * 20).map(|i| b.state(i).blink).collect();
        assert_eq!(states, again);
        // Count closures (frames where the eye is at least 90 % closed, grouped).
        let mut closures = 0;
        for w in states.windows(2) {
            if w[0] < 0.9 && w[1] >= 0.9 {
                closures += 1;
            }
        }
        assert!((3..=8).contains(&closures), "{closures} blinks in 20 s");
        assert!(states.iter().all(|&b| (0.0..=1.0).contains(&b)));
        // Without head motion nothing else moves.
        assert!(!a.state(77).moves());
    }

    #[test]
    fn head_motion_is_small() {
        let mut a = Idle::new(IdleOptions::default());
        for i in 0..1000 {
            let s = a.state(i);
            assert!(s.roll.abs() <= 1.3f32.to_radians());
            assert!(s.shift.x.abs() <= 0.05 && s.shift.y.abs() <= 0.05);
            assert!((s.scale - 1.0).abs() <= 0.005);
        }
    }
}
