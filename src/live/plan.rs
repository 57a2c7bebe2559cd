//! The chunk plan: the frames of one model window `[history | chunk | look-ahead]`, what the window knows of its
//! history's motion, and the output delay it implies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    pub history: usize,
    pub chunk: usize,
    pub lookahead: usize,
    pub history_motion: HistoryMotion,
}

/// What each window knows of its history's motion (`[streaming] history_motion`; docs/daemon.md, "Where the live
/// gap lay").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum HistoryMotion {
    /// Nothing: every window samples its whole motion from its audio (the history's audio is context only), and
    /// its chunk is shown as sampled. Fed its own output back as known motion, the model drifts after it and lags
    /// the speech (live lip-sync r 0.696 against 0.725 this way, the 2-step student at look-ahead 80 ms).
    #[default]
    Generated,
    /// The motion already shown, given as known (inpainting continuation); the chunk's first frames are
    /// cross-faded with the previous window's look-ahead.
    Known,
}

impl ChunkPlan {
    /// From milliseconds at `fps` (each rounded down to whole frames; the chunk is at least one frame), the
    /// history's motion generated.
    pub fn from_ms(chunk_ms: u32, history_ms: u32, lookahead_ms: u32, fps: u32) -> Self {
        let f = |ms: u32| (ms as u64 * fps as u64 / 1000) as usize;
        Self {
            history: f(history_ms),
            chunk: f(chunk_ms).max(1),
            lookahead: f(lookahead_ms),
            history_motion: HistoryMotion::default(),
        }
    }

    /// The same plan with the history's motion `known` or generated.
    pub fn with_history_motion(self, history_motion: HistoryMotion) -> Self {
        Self { history_motion, ..self }
    }

    /// Frames of known motion a window starting at `h0` for the chunk at `c0` is given.
    pub fn known_frames(&self, h0: u64, c0: u64) -> usize {
        match self.history_motion {
            HistoryMotion::Known => (c0 - h0) as usize,
            HistoryMotion::Generated => 0,
        }
    }

    /// The window of the chunk starting at frame `c0`: its first frame (the history is shorter at the start of
    /// the timeline) and its length in frames.
    pub fn span(&self, c0: u64) -> (u64, usize) {
        let h0 = c0.saturating_sub(self.history as u64);
        (h0, (c0 - h0) as usize + self.chunk + self.lookahead)
    }

    /// Frames of a full window.
    pub fn window(&self) -> usize {
        self.history + self.chunk + self.lookahead
    }

    /// Output delay (frames) for a processing time of `processing_frames`: the chunk's first frame waits for the
    /// chunk and its look-ahead to be captured, then for the model.
    pub fn delay(&self, processing_frames: usize, margin_frames: usize) -> usize {
        self.chunk + self.lookahead + processing_frames + margin_frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_from_ms_and_delay() {
        let p = ChunkPlan::from_ms(400, 800, 160, 25);
        assert_eq!((p.history, p.chunk, p.lookahead), (20, 10, 4));
        assert_eq!(p.window(), 34);
        assert_eq!(p.delay(3, 1), 18);
        assert_eq!(p.span(5), (0, 19), "a short history at the start");
        assert_eq!(p.span(30), (10, 34));
        assert_eq!(p.history_motion, HistoryMotion::Generated);
        assert_eq!(p.known_frames(10, 30), 0);
        assert_eq!(p.with_history_motion(HistoryMotion::Known).known_frames(10, 30), 20);
    }
}
