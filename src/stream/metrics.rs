//! Counters of the output side and the one Prometheus text writer ([`Prom`]) every `/metrics` section goes
//! through (the output side's [`Metrics`], the live source's stats, the daemon's own lines).

use std::fmt::Display;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Prometheus text exposition format, one metric at a time (`# HELP`, `# TYPE`, then the samples).
#[derive(Debug, Default)]
pub struct Prom {
    text: String,
}

impl Prom {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        self.text += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.head(name, "counter", help);
        self.text += &format!("{name} {value}\n");
    }

    /// A gauge; `value` as it should be printed (format floats to the precision wanted).
    pub fn gauge(&mut self, name: &str, help: &str, value: impl Display) {
        self.head(name, "gauge", help);
        self.text += &format!("{name} {value}\n");
    }

    /// A histogram from per-bucket (not cumulative) `counts` for the upper `bounds`; `count` includes the
    /// observations above the last bound.
    pub fn histogram(&mut self, name: &str, help: &str, bounds: &[f64], counts: &[u64], sum: f64, count: u64) {
        self.head(name, "histogram", help);
        let mut acc = 0;
        for (b, c) in bounds.iter().zip(counts) {
            acc += c;
            self.text += &format!("{name}_bucket{{le=\"{b}\"}} {acc}\n");
        }
        self.text += &format!("{name}_bucket{{le=\"+Inf\"}} {count}\n");
        self.text += &format!("{name}_sum {sum}\n{name}_count {count}\n");
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub frames_out: AtomicU64,
    pub audio_samples_out: AtomicU64,
    /// Frames the source delivered after their slot on the clock had passed (pushed anyway, timeline kept).
    pub late_frames: AtomicU64,
    /// Model windows the live source skipped because they started too late (stays 0 with the test source).
    pub late_chunks: AtomicU64,
    /// Frames dropped by sinks (QoS messages on the bus).
    pub dropped_frames: AtomicU64,
    pub rtsp_clients: AtomicI64,
    pub pipeline_restarts: AtomicU64,
    pub pipeline_errors: AtomicU64,
    /// RMS level of the last frame's audio going out, in millibel below full scale (0 = full scale; silence
    /// reads [`SILENCE_MB`]). With the mic input this is the mic's audio, delayed by the output delay.
    pub audio_level_mb: AtomicI64,
}

/// Level reported for digital silence (-100 dBFS).
pub const SILENCE_MB: i64 = -10_000;

/// RMS of `audio` in millibel relative to full scale, floored at [`SILENCE_MB`].
pub fn level_mb(audio: &[f32]) -> i64 {
    if audio.is_empty() {
        return SILENCE_MB;
    }
    let ms = audio.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>() / audio.len() as f64;
    if ms <= 0.0 {
        return SILENCE_MB;
    }
    ((1000.0 * ms.log10()).round() as i64).max(SILENCE_MB)
}

impl Metrics {
    /// Write the output side's counters.
    pub fn write_prometheus(&self, p: &mut Prom) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        p.counter("jamflow_frames_out_total", "Video frames pushed into the pipeline.", g(&self.frames_out));
        p.counter(
            "jamflow_audio_samples_out_total",
            "Audio samples pushed into the pipeline.",
            g(&self.audio_samples_out),
        );
        p.counter("jamflow_late_frames_total", "Frames produced after their slot on the clock.", g(&self.late_frames));
        p.counter("jamflow_late_chunks_total", "Model chunks that missed their deadline.", g(&self.late_chunks));
        p.counter("jamflow_dropped_frames_total", "Frames dropped by sinks (QoS).", g(&self.dropped_frames));
        p.gauge("jamflow_rtsp_clients", "Connected RTSP clients.", self.rtsp_clients.load(Ordering::Relaxed));
        p.counter("jamflow_pipeline_errors_total", "Errors seen on the pipeline bus.", g(&self.pipeline_errors));
        p.counter("jamflow_pipeline_restarts_total", "Pipeline rebuilds after errors.", g(&self.pipeline_restarts));
        let dbfs = self.audio_level_mb.load(Ordering::Relaxed) as f64 / 100.0;
        p.gauge("jamflow_audio_level_dbfs", "RMS level of the last frame of output audio.", format!("{dbfs:.2}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_and_levels() {
        let m = Metrics::default();
        m.frames_out.store(7, Ordering::Relaxed);
        let mut p = Prom::default();
        m.write_prometheus(&mut p);
        p.histogram("h_seconds", "A histogram.", &[0.1, 1.0], &[2, 1], 0.5, 4);
        let text = p.finish();
        assert!(text.contains("jamflow_frames_out_total 7"), "{text}");
        assert!(text.contains("# TYPE jamflow_rtsp_clients gauge"));
        assert!(text.contains("h_seconds_bucket{le=\"0.1\"} 2\nh_seconds_bucket{le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"+Inf\"} 4\nh_seconds_sum 0.5\nh_seconds_count 4\n"), "{text}");
        assert_eq!(level_mb(&[0.0; 960]), SILENCE_MB);
        assert_eq!(level_mb(&[1.0, -1.0]), 0);
        assert_eq!(level_mb(&[0.1; 960]), -2000, "0.1 RMS is -20 dBFS");
    }
}
