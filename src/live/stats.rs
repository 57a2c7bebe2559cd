//! Counters of the live source: latency (histogram and exact samples), model windows and RTF, input, text mode
//! and the UDP motion stream; exported on the daemon's `/metrics` through the one Prometheus writer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::stream::{Metrics, Prom};

/// Latencies kept for exact quantiles (10 minutes at 25 fps).
pub const MAX_LATENCY_SAMPLES: usize = 15_000;

/// Latency histogram bucket bounds (seconds) of mic-to-frame latency.
pub const LATENCY_BUCKETS: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 3.0];

/// Counters of the live source (exported by the daemon's `/metrics`).
#[derive(Debug, Default)]
pub struct LiveStats {
    /// The output side's counters (the daemon passes its own; a default one otherwise).
    pub stream: Arc<Metrics>,
    /// Mic-to-frame latency: buckets (cumulative at export), count and sum in microseconds.
    pub latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    pub latency_count: AtomicU64,
    pub latency_sum_us: AtomicU64,
    /// The first [`MAX_LATENCY_SAMPLES`] latencies (seconds), for exact quantiles in benchmarks.
    pub latency_samples: Mutex<Vec<f32>>,
    /// Model windows run, their total compute time and the audio time their chunks cover (RTF = compute / audio).
    pub windows: AtomicU64,
    pub window_us: AtomicU64,
    pub chunk_audio_us: AtomicU64,
    /// Frames whose motion was not ready (held). Windows skipped because they started too late count in the
    /// stream's `late_chunks` (`jamflow_late_chunks_total`).
    pub late_frames: AtomicU64,
    /// Model errors (the window is skipped; streaming goes on).
    pub model_errors: AtomicU64,
    /// Input: samples received, frames played without input audio while the input was live, device opens,
    /// losses, xruns, re-anchors of the input timeline (gaps or clock drift).
    pub input_samples: AtomicU64,
    pub input_underruns: AtomicU64,
    pub input_opens: AtomicU64,
    pub input_losses: AtomicU64,
    pub xruns: AtomicU64,
    pub input_reanchors: AtomicU64,
    /// Where the input plays: `(input sample index, media sample offset)` at the first block and at every
    /// re-anchor (the first [`MAX_ANCHORS`]); see [`LiveStats::media_sample`].
    pub input_anchors: Mutex<Vec<(u64, i64)>>,
    /// Text mode: requests accepted, utterances played (started), interrupted, frames of speech output, errors.
    pub say_requests: AtomicU64,
    pub speech_started: AtomicU64,
    pub speech_interrupted: AtomicU64,
    pub speech_frames: AtomicU64,
    pub speech_errors: AtomicU64,
    /// Frames between two pieces of one utterance when the next piece was not ready (synthesis fell behind).
    pub speech_gap_frames: AtomicU64,
    /// Output delay in frames (set once at start).
    pub delay_frames: AtomicU64,
    /// UDP motion datagrams sent / failed.
    pub udp_sent: AtomicU64,
    pub udp_errors: AtomicU64,
}

/// Input anchors kept (a re-anchor is rare: a gap or a stall of the input).
pub const MAX_ANCHORS: usize = 10_000;

impl LiveStats {
    pub(super) fn record_anchor(&self, index: u64, offset: i64) {
        let mut v = self.input_anchors.lock().expect("anchor lock");
        if v.len() < MAX_ANCHORS {
            v.push((index, offset));
        }
    }

    /// The media sample input sample `index` played as (`None` before the input was placed), e.g. to line a
    /// played file up with the frames that showed it.
    pub fn media_sample(&self, index: u64) -> Option<i64> {
        let v = self.input_anchors.lock().expect("anchor lock");
        let i = v.partition_point(|&(at, _)| at <= index);
        (i > 0).then(|| index as i64 + v[i - 1].1)
    }

    pub(super) fn observe_latency(&self, secs: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        let mut v = self.latency_samples.lock().expect("latency lock");
        if v.len() < MAX_LATENCY_SAMPLES {
            v.push(secs as f32);
        }
    }

    /// Exact latency quantile over the kept samples (`None` before any).
    pub fn latency_sample_quantile(&self, q: f64) -> Option<f64> {
        let v: Vec<f64> = self.latency_samples.lock().expect("latency lock").iter().map(|&x| x as f64).collect();
        quantile(&v, q)
    }

    /// Real-time factor of the model so far (compute time / audio time of the chunks produced).
    pub fn rtf(&self) -> f64 {
        let audio_us = self.chunk_audio_us.load(Ordering::Relaxed);
        if audio_us == 0 {
            return 0.0;
        }
        self.window_us.load(Ordering::Relaxed) as f64 / audio_us as f64
    }

    /// Latency quantile (upper bucket bound) from the histogram; `None` before any observation.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let n = self.latency_count.load(Ordering::Relaxed);
        if n == 0 {
            return None;
        }
        let want = (q * n as f64).ceil() as u64;
        let mut acc = 0;
        for (i, b) in self.latency_buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            if acc >= want {
                return Some(LATENCY_BUCKETS[i]);
            }
        }
        Some(f64::INFINITY)
    }

    /// Write the live counters (after the output side's, on the daemon's `/metrics`).
    pub fn write_prometheus(&self, p: &mut Prom) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counts: Vec<u64> = self.latency_buckets.iter().map(g).collect();
        p.histogram(
            "jamflow_mic_to_frame_seconds",
            "Time from capturing a frame's audio (ALSA timestamp) to the frame's slot on the pipeline clock.",
            &LATENCY_BUCKETS,
            &counts,
            g(&self.latency_sum_us) as f64 / 1e6,
            g(&self.latency_count),
        );
        p.gauge(
            "jamflow_model_rtf",
            "Model compute time over the audio time it covered.",
            format!("{:.4}", self.rtf()),
        );
        p.counter("jamflow_model_windows_total", "Model windows run.", g(&self.windows));
        p.counter("jamflow_model_errors_total", "Model windows that failed.", g(&self.model_errors));
        p.counter(
            "jamflow_live_late_frames_total",
            "Frames shown before their motion was ready.",
            g(&self.late_frames),
        );
        p.counter("jamflow_input_samples_total", "Input audio samples received.", g(&self.input_samples));
        p.counter("jamflow_input_underruns_total", "Frames without input audio while live.", g(&self.input_underruns));
        p.counter("jamflow_input_opens_total", "Input device opens.", g(&self.input_opens));
        p.counter("jamflow_input_losses_total", "Input device losses.", g(&self.input_losses));
        p.counter("jamflow_xruns_total", "Capture overruns recovered.", g(&self.xruns));
        p.counter(
            "jamflow_input_reanchors_total",
            "Input timeline re-anchors (gaps, drift).",
            g(&self.input_reanchors),
        );
        p.counter("jamflow_say_requests_total", "Accepted /say requests.", g(&self.say_requests));
        p.counter("jamflow_speech_started_total", "Utterances started.", g(&self.speech_started));
        p.counter("jamflow_speech_interrupted_total", "Utterances interrupted.", g(&self.speech_interrupted));
        p.counter("jamflow_speech_frames_total", "Frames of generated speech output.", g(&self.speech_frames));
        p.counter("jamflow_speech_errors_total", "Failed syntheses.", g(&self.speech_errors));
        p.counter(
            "jamflow_speech_gap_frames_total",
            "Frames of silence inside an utterance while its next piece was still being synthesized.",
            g(&self.speech_gap_frames),
        );
        p.gauge("jamflow_output_delay_frames", "Input-to-output delay in frames.", g(&self.delay_frames));
        p.counter("jamflow_motion_udp_sent_total", "Motion datagrams sent.", g(&self.udp_sent));
        p.counter("jamflow_motion_udp_errors_total", "Motion datagrams that failed.", g(&self.udp_errors));
    }
}

/// Exact quantile `q` of `values` (nearest rank: the smallest value with at least `q` of them at or below it);
/// `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_sample_follows_the_anchors() {
        let s = LiveStats::default();
        assert_eq!(s.media_sample(0), None, "not placed yet");
        s.record_anchor(0, 37);
        s.record_anchor(48_000, 9_000);
        assert_eq!(s.media_sample(100), Some(137));
        assert_eq!(s.media_sample(47_999), Some(48_036));
        assert_eq!(s.media_sample(48_000), Some(57_000), "re-anchored: the input plays later from here");
    }

    #[test]
    fn exact_quantiles_are_nearest_rank() {
        let v = [0.3, 0.1, 0.2, 0.4];
        assert_eq!(quantile(&v, 0.0), Some(0.1));
        assert_eq!(quantile(&v, 0.5), Some(0.2));
        assert_eq!(quantile(&v, 0.95), Some(0.4));
        assert_eq!(quantile(&v, 1.0), Some(0.4));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn latency_histogram_quantiles() {
        let s = LiveStats::default();
        assert_eq!(s.latency_quantile(0.5), None);
        for v in [0.05, 0.15, 0.15, 0.35, 2.0] {
            s.observe_latency(v);
        }
        assert_eq!(s.latency_quantile(0.5), Some(0.2));
        assert_eq!(s.latency_quantile(0.95), Some(3.0));
        assert!((s.latency_sample_quantile(0.5).unwrap() - 0.15).abs() < 1e-6);
        assert!((s.latency_sample_quantile(1.0).unwrap() - 2.0).abs() < 1e-6);
        let mut p = Prom::default();
        s.write_prometheus(&mut p);
        let text = p.finish();
        assert!(text.contains("jamflow_mic_to_frame_seconds_bucket{le=\"0.2\"} 3"), "{text}");
        assert!(text.contains("jamflow_mic_to_frame_seconds_count 5"), "{text}");
        s.window_us.store(100_000, Ordering::Relaxed);
        s.chunk_audio_us.store(400_000, Ordering::Relaxed);
        assert!((s.rtf() - 0.25).abs() < 1e-9);
    }
}
