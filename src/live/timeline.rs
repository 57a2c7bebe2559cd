//! The shared timelines of the live source: input audio by media sample ([`AudioLine`]), generated motion by
//! media frame ([`MotionLine`]), text-mode clips ([`SpeechLine`]), and the [`Anchor`] that places input blocks on
//! the media timeline.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::source::Shared;
use super::speech::{SayRequest, Speech};

/// Input audio by media sample index (unwritten gaps read as silence), with capture times for latency.
#[derive(Debug)]
pub(super) struct AudioLine {
    /// Media sample index of `data[0]`.
    pub(super) start: u64,
    pub(super) data: VecDeque<f32>,
    /// (media sample index one past a written block, when that block's last sample was captured), oldest first.
    captures: VecDeque<(u64, Instant)>,
    /// Samples kept behind the newest one.
    keep: usize,
}

/// Seconds of input audio kept behind the newest sample.
const KEEP_AUDIO_S: usize = 30;
/// Seconds of motion kept.
const KEEP_MOTION_S: usize = 60;

impl AudioLine {
    pub(super) fn new(sample_rate: u32) -> Self {
        Self { start: 0, data: VecDeque::new(), captures: VecDeque::new(), keep: KEEP_AUDIO_S * sample_rate as usize }
    }

    pub(super) fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    /// Write `x`, captured by `captured`, at media sample `at` (a gap before it becomes silence; samples before `start` are dropped).
    pub(super) fn write(&mut self, at: u64, x: &[f32], captured: Instant) {
        if self.data.is_empty() && self.start == 0 {
            self.start = at;
        }
        if at > self.end() + self.keep as u64 {
            self.data.clear();
            self.start = at;
        }
        while self.end() < at {
            self.data.push_back(0.0);
        }
        for (i, &v) in x.iter().enumerate() {
            let pos = at + i as u64;
            if pos < self.start {
                continue;
            }
            let idx = (pos - self.start) as usize;
            if idx < self.data.len() {
                self.data[idx] = v;
            } else {
                self.data.push_back(v);
            }
        }
        self.captures.push_back((at + x.len() as u64, captured));
        while self.data.len() > self.keep {
            self.data.pop_front();
            self.start += 1;
        }
        while self.captures.len() > 4096 {
            self.captures.pop_front();
        }
    }

    /// Samples `[from, from + out.len())`; returns whether all of them had been written.
    pub(super) fn read(&self, from: u64, out: &mut [f32]) -> bool {
        let mut all = true;
        for (i, o) in out.iter_mut().enumerate() {
            let pos = from + i as u64;
            if pos >= self.start && pos < self.end() {
                *o = self.data[(pos - self.start) as usize];
            } else {
                *o = 0.0;
                all = false;
            }
        }
        all
    }

    /// When the block holding the sample before `end` was captured (its last sample).
    pub(super) fn captured_by(&self, end: u64) -> Option<Instant> {
        self.captures.iter().find(|(e, _)| *e >= end).map(|&(_, t)| t)
    }
}

/// Generated motion by media frame.
#[derive(Debug)]
pub(super) struct MotionLine {
    /// Media frame of `frames[0]`.
    start: u64,
    frames: VecDeque<Vec<f32>>,
    /// Frames kept.
    keep: usize,
}

impl MotionLine {
    pub(super) fn new(fps: u32) -> Self {
        Self { start: 0, frames: VecDeque::new(), keep: KEEP_MOTION_S * fps as usize }
    }

    pub(super) fn get(&self, m: u64) -> Option<&Vec<f32>> {
        m.checked_sub(self.start).and_then(|i| self.frames.get(i as usize))
    }

    /// Append frames starting at media frame `at` (earlier frames already present are replaced).
    pub(super) fn put(&mut self, at: u64, frames: Vec<Vec<f32>>) {
        if self.frames.is_empty() || at < self.start || at > self.start + self.frames.len() as u64 {
            self.start = at;
            self.frames.clear();
        }
        self.frames.truncate((at - self.start) as usize);
        self.frames.extend(frames);
        while self.frames.len() > self.keep {
            self.frames.pop_front();
            self.start += 1;
        }
    }
}

/// Text-mode state: requests to synthesize and clips ready or playing.
#[derive(Debug, Default)]
pub(super) struct SpeechLine {
    pub(super) pending: VecDeque<(u64, SayRequest)>,
    pub(super) ready: VecDeque<(u64, Speech)>,
    /// Playing piece: its request, the clip and the next frame of it.
    pub(super) playing: Option<(u64, Speech, usize)>,
    /// The request being synthesized (more of its pieces may follow the ones ready).
    pub(super) synthesizing: Option<u64>,
    /// The request whose last piece played to its end (a frame with its next piece not ready is a gap).
    pub(super) finished: Option<u64>,
    /// Bumped by an interrupt: work for an older generation is discarded.
    pub(super) generation: u64,
    pub(super) next_id: u64,
}

/// Place input blocks on the media timeline: `index + offset`, re-anchored to "now" after gaps or drift, and
/// paced to real time when a device delivers faster than it captures.
#[derive(Debug, Default)]
pub(super) struct Anchor {
    pub(super) offset: Option<i64>,
}

/// Re-anchor when the input is this far behind real time (a gap: device lost and back, stall).
const BEHIND_S: f64 = 0.15;
/// Sleep when the input is this far ahead of real time (a source that is not paced by a clock).
const AHEAD_S: f64 = 0.02;

impl Anchor {
    /// Media sample index for a block of `len` samples whose stream index is `index`; may sleep to pace.
    pub(super) fn place(&mut self, sh: &Shared, index: u64, len: usize) -> Option<u64> {
        let sr = sh.format.sample_rate as f64;
        let now = sh.now_sample()? as i64;
        let end = index as i64 + len as i64;
        let off = match self.offset {
            Some(off) => off,
            None => {
                sh.stats.record_anchor(index, now - end);
                *self.offset.insert(now - end)
            }
        };
        let pos_end = end + off;
        if pos_end < now - (BEHIND_S * sr) as i64 {
            self.offset = Some(now - end);
            sh.stats.input_reanchors.fetch_add(1, Ordering::Relaxed);
            sh.stats.record_anchor(index, now - end);
        } else if pos_end > now + (AHEAD_S * sr) as i64 {
            std::thread::sleep(Duration::from_secs_f64((pos_end - now) as f64 / sr));
        }
        Some((index as i64 + self.offset.expect("set")).max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_line_fills_gaps_with_silence_and_tracks_capture_times() {
        let mut a = AudioLine::new(24_000);
        let t = Instant::now();
        a.write(100, &[1.0; 10], t);
        a.write(120, &[2.0; 10], t);
        let mut out = vec![9.0; 30];
        assert!(!a.read(95, &mut out), "samples before the first write are missing");
        assert_eq!(out[5..15], [1.0; 10]);
        assert_eq!(out[15..25], [0.0; 10], "the gap reads as silence");
        assert_eq!(out[25..30], [2.0; 5]);
        assert!(a.read(100, &mut out[..30]));
        assert_eq!(a.captured_by(110), Some(t));
        assert_eq!(a.captured_by(131), None);
    }

    #[test]
    fn motion_line_replaces_from_a_frame() {
        let mut m = MotionLine::new(25);
        m.put(10, vec![vec![1.0]; 5]);
        m.put(12, vec![vec![2.0]; 5]);
        assert_eq!(m.get(11), Some(&vec![1.0]));
        assert_eq!(m.get(12), Some(&vec![2.0]));
        assert_eq!(m.get(16), Some(&vec![2.0]));
        assert_eq!(m.get(17), None);
        assert_eq!(m.get(9), None);
    }
}
