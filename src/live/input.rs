//! Input threads: the ALSA microphone (the [`Mic`] trait, reopened through a [`MicOpener`] whenever the device is
//! lost) and a WAV file played in real time, both writing onto the shared input timeline.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::source::Shared;
use super::timeline::Anchor;
use crate::audio::capture::{CaptureEvent, MicStream};

/// Write a block onto the input timeline; `captured`: when its last sample was captured (latency starts there).
fn push_audio(sh: &Shared, at: u64, x: &[f32], captured: Instant) {
    sh.audio.lock().expect("audio lock").write(at, x, captured);
    sh.stats.input_samples.fetch_add(x.len() as u64, Ordering::Relaxed);
    sh.audio_cv.notify_all();
}

/// Back-off between attempts to (re)open a capture device.
const REOPEN_EVERY: Duration = Duration::from_millis(500);

/// A capture stream at the stream rate: the ALSA [`MicStream`] (or a scripted one in tests).
pub trait Mic: Send {
    fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError>;
}

impl Mic for MicStream {
    fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError> {
        MicStream::read(self)
    }
}

/// Opens the capture device; called again after the device was lost.
pub type MicOpener = Box<dyn FnMut() -> Result<Box<dyn Mic>, crate::audio::AudioError> + Send>;

pub(super) fn mic_thread(sh: &Shared, device: &str, mut open: MicOpener) {
    let mut mic: Option<Box<dyn Mic>> = None;
    let mut anchor = Anchor::default();
    let mut warned = false;
    // Open the device once the media timeline starts (the first frame): what a device captured before then
    // would be stale or, from a source without a clock, consumed ahead of time.
    while sh.origin.get().is_none() && !sh.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    while !sh.stop.load(Ordering::SeqCst) {
        let Some(m) = mic.as_mut() else {
            match open() {
                Ok(m) => {
                    tracing::info!(device, "capture device open");
                    sh.stats.input_opens.fetch_add(1, Ordering::Relaxed);
                    sh.input_live.store(true, Ordering::Relaxed);
                    anchor.offset = None;
                    mic = Some(m);
                    warned = false;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(device, error = %e, "capture device unavailable; idle until it appears");
                        warned = true;
                    }
                    std::thread::sleep(REOPEN_EVERY);
                }
            }
            continue;
        };
        match m.read() {
            Ok(CaptureEvent::Audio(c)) => {
                if c.samples.is_empty() {
                    continue;
                }
                if let Some(at) = anchor.place(sh, c.frame_index, c.samples.len()) {
                    // The ALSA capture time of the block's end (device buffering included), not when it was read.
                    let span = Duration::from_secs_f64(c.samples.len() as f64 / sh.format.sample_rate as f64);
                    push_audio(sh, at, &c.samples, c.timestamp + span);
                }
            }
            Ok(CaptureEvent::Xrun { total }) => {
                sh.stats.xruns.store(total, Ordering::Relaxed);
            }
            Ok(CaptureEvent::DeviceLost { reason }) => {
                tracing::warn!(device, %reason, "capture device lost; streaming idle, reopening");
                sh.stats.input_losses.fetch_add(1, Ordering::Relaxed);
                sh.input_live.store(false, Ordering::Relaxed);
                mic = None;
                std::thread::sleep(REOPEN_EVERY);
            }
            Err(e) => {
                tracing::warn!(device, error = %e, "capture read failed; reopening");
                sh.stats.input_losses.fetch_add(1, Ordering::Relaxed);
                sh.input_live.store(false, Ordering::Relaxed);
                mic = None;
                std::thread::sleep(REOPEN_EVERY);
            }
        }
    }
}

/// Block size of the real-time WAV input (10 ms).
const WAV_BLOCK_S: f64 = 0.01;

pub(super) fn wav_thread(sh: &Shared, x: &[f32], looped: bool) {
    let block = (sh.format.sample_rate as f64 * WAV_BLOCK_S) as usize;
    let mut anchor = Anchor::default();
    let mut index = 0u64;
    // Wait for the first frame (the origin of the media timeline).
    while sh.origin.get().is_none() && !sh.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    sh.input_live.store(true, Ordering::Relaxed);
    sh.stats.input_opens.fetch_add(1, Ordering::Relaxed);
    let mut buf = vec![0.0; block];
    while !sh.stop.load(Ordering::SeqCst) {
        if !looped && index >= x.len() as u64 {
            // Played once: the input ends (idle from here on).
            sh.input_live.store(false, Ordering::Relaxed);
            return;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let j = index + i as u64;
            *b = if looped || j < x.len() as u64 { x[(j % x.len() as u64) as usize] } else { 0.0 };
        }
        // A file is captured "as it plays": block k is available once its last sample's time has passed.
        let due = *sh.origin.get().expect("origin set")
            + Duration::from_secs_f64((index + block as u64) as f64 / sh.format.sample_rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if let Some(at) = anchor.place(sh, index, block) {
            push_audio(sh, at, &buf, due);
        }
        index += block as u64;
    }
}
