//! The web console served by the control API: a page embedded in the binary (`console/`: HTML, CSS, JS; plain
//! SVG plots, nothing fetched from elsewhere), the metric history it plots (one sample a second over the last
//! [`HISTORY_SECS`] s), the status it polls and the running configuration with secrets masked.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::live::LiveStats;
use crate::stream::Metrics;

/// Static files of the console: (URL path, content type, bytes).
pub const ASSETS: [(&str, &str, &str); 3] = [
    ("/", "text/html; charset=utf-8", include_str!("console/index.html")),
    ("/console.css", "text/css; charset=utf-8", include_str!("console/console.css")),
    ("/console.js", "text/javascript; charset=utf-8", include_str!("console/console.js")),
];

/// Seconds of history kept for the plots.
pub const HISTORY_SECS: usize = 600;

/// One second of the daemon, as the plots show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Sample {
    /// Seconds since the daemon started.
    pub t: f64,
    /// Model compute time over audio time in this second (0 when no window finished).
    pub rtf: f64,
    /// Mean mic-to-frame latency of the frames pushed in this second (ms; 0 when none was measured).
    pub latency_ms: f64,
    /// Late frames in this second: slot missed on the clock, plus frames shown before their motion was ready.
    pub late_frames: u64,
    /// Model windows skipped for lateness in this second.
    pub late_chunks: u64,
    /// Frames pushed in this second.
    pub frames: u64,
    /// Speech (text mode) frames in this second.
    pub speech_frames: u64,
    /// Output audio level (dBFS) at the sample.
    pub level_dbfs: f64,
}

/// Counter values at the previous sample.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    window_us: u64,
    chunk_audio_us: u64,
    latency_us: u64,
    latency_n: u64,
    late: u64,
    late_chunks: u64,
    frames: u64,
    speech_frames: u64,
}

fn totals(m: &Metrics, live: Option<&LiveStats>) -> Totals {
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let l = |f: fn(&LiveStats) -> &std::sync::atomic::AtomicU64| live.map_or(0, |s| g(f(s)));
    Totals {
        window_us: l(|s| &s.window_us),
        chunk_audio_us: l(|s| &s.chunk_audio_us),
        latency_us: l(|s| &s.latency_sum_us),
        latency_n: l(|s| &s.latency_count),
        late: g(&m.late_frames) + l(|s| &s.late_frames),
        late_chunks: g(&m.late_chunks),
        frames: g(&m.frames_out),
        speech_frames: l(|s| &s.speech_frames),
    }
}

/// The rolling history.
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<(Option<Totals>, VecDeque<Sample>)>,
}

impl History {
    /// Take one sample at `t` seconds from the counters.
    pub fn sample(&self, t: f64, m: &Metrics, live: Option<&LiveStats>) {
        let now = totals(m, live);
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let prev = g.0.unwrap_or(now);
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let audio_s = d(now.chunk_audio_us, prev.chunk_audio_us) as f64 / 1e6;
        let lat_n = d(now.latency_n, prev.latency_n);
        let s = Sample {
            t,
            rtf: if audio_s > 0.0 { d(now.window_us, prev.window_us) as f64 / 1e6 / audio_s } else { 0.0 },
            latency_ms: if lat_n > 0 { d(now.latency_us, prev.latency_us) as f64 / 1e3 / lat_n as f64 } else { 0.0 },
            late_frames: d(now.late, prev.late),
            late_chunks: d(now.late_chunks, prev.late_chunks),
            frames: d(now.frames, prev.frames),
            speech_frames: d(now.speech_frames, prev.speech_frames),
            level_dbfs: m.audio_level_mb.load(Ordering::Relaxed) as f64 / 100.0,
        };
        g.0 = Some(now);
        g.1.push_back(s);
        while g.1.len() > HISTORY_SECS {
            g.1.pop_front();
        }
    }

    /// All samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.iter().copied().collect()
    }
}

/// Keys whose values never leave the daemon.
const SECRET_KEYS: [&str; 3] = ["token", "password", "secret"];

/// The configuration as JSON with every secret replaced by `"***"` (absent ones stay `null`).
pub fn masked_config<T: serde::Serialize>(cfg: &T) -> serde_json::Value {
    fn mask(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if SECRET_KEYS.iter().any(|s| k.contains(s)) && !v.is_null() {
                        *v = serde_json::Value::String("***".into());
                    } else {
                        mask(v);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null);
    mask(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::Config;

    #[test]
    fn secrets_are_masked() {
        let mut cfg = Config::default();
        cfg.control.token = Some("0123456789abcdef-secret".into());
        cfg.outputs.rtsp =
            Some(crate::stream::RtspOutput { password: Some("pw".into()), ..crate::stream::RtspOutput::default() });
        let v = masked_config(&cfg);
        let text = v.to_string();
        assert!(!text.contains("0123456789abcdef") && !text.contains("\"pw\""), "{text}");
        assert_eq!(v["control"]["token"], "***");
        assert_eq!(v["outputs"]["rtsp"]["password"], "***");
        assert!(v["outputs"]["rtsp"]["username"].is_null());
        assert_eq!(v["control"]["port"], 8620);
    }

    #[test]
    fn history_takes_per_second_differences() {
        let m = Metrics::default();
        let live = LiveStats::default();
        let h = History::default();
        h.sample(0.0, &m, Some(&live));
        m.frames_out.store(25, Ordering::Relaxed);
        live.chunk_audio_us.store(1_000_000, Ordering::Relaxed);
        live.window_us.store(300_000, Ordering::Relaxed);
        live.latency_count.store(2, Ordering::Relaxed);
        live.latency_sum_us.store(1_000_000, Ordering::Relaxed);
        m.late_frames.store(1, Ordering::Relaxed);
        live.late_frames.store(2, Ordering::Relaxed);
        h.sample(1.0, &m, Some(&live));
        let s = h.samples();
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].frames, s[1].late_frames), (25, 3));
        assert!((s[1].rtf - 0.3).abs() < 1e-9 && (s[1].latency_ms - 500.0).abs() < 1e-9, "{:?}", s[1]);
        for i in 0..HISTORY_SECS + 5 {
            h.sample(2.0 + i as f64, &m, None);
        }
        assert_eq!(h.samples().len(), HISTORY_SECS);
        // Nothing is fetched from elsewhere: the only absolute URL is the SVG namespace name.
        for (path, _, body) in ASSETS {
            assert!(!body.replace("http://www.w3.org/2000/svg", "").contains("http"), "{path} refers to a URL");
        }
    }
}
