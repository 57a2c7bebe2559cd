//! ALSA microphone capture (crate `alsa`): opens the configured device, negotiates what it offers (S16, S32 or
//! F32 interleaved; the preferred rate or the nearest the device has; mono, stereo or more channels), reads one
//! period at a time and converts to mono f32 at the device rate (channels averaged). Resample to the model rate
//! with [`super::resample::StreamResampler`].
//!
//! Robustness: an overrun (xrun, `EPIPE`) is recovered with `snd_pcm_recover`, counted ([`Capture::xruns`],
//! shared for metrics) and reported as [`CaptureEvent::Xrun`]; a device that disappears (`ENODEV`, `ENXIO`,
//! `EBADFD`, `ESHUTDOWN`, `EIO`) is reported as [`CaptureEvent::DeviceLost`] instead of failing, and
//! [`Capture::reopen`] opens and negotiates it again.
//!
//! Timestamps: each chunk carries the monotonic time (`std::time::Instant`, CLOCK_MONOTONIC) at which its first
//! frame was captured, estimated as the read's return time minus the frames read and the frames still queued in
//! the device buffer (`snd_pcm_avail`) at the negotiated rate; and the index of its first frame among the frames
//! delivered since the source was created (contiguous; it continues across xruns and [`Capture::reopen`], which
//! is why A/V sync should use the timestamp, not the index, across such gaps).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};

use super::resample::StreamResampler;
use super::AudioError;

/// Sample formats the capture source can convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleFormat {
    S16,
    S32,
    F32,
}

impl SampleFormat {
    fn alsa(self) -> Format {
        match self {
            SampleFormat::S16 => Format::s16(),
            SampleFormat::S32 => Format::s32(),
            SampleFormat::F32 => Format::float(),
        }
    }
}

/// Capture settings (e.g. from the daemon's configuration file).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// ALSA PCM name (`default`, `hw:1,0`, `plughw:CARD=Mic,DEV=0`, or one from `~/.asoundrc`).
    pub device: String,
    /// Preferred rate; the device's nearest supported rate is used.
    pub rate: u32,
    /// Preferred channel count; otherwise the nearest the device supports (then averaged to mono).
    pub channels: u32,
    /// Force a sample format; `None` tries S16, S32, F32 in that order.
    pub format: Option<SampleFormat>,
    /// Period (frames per read); 10 ms at 48 kHz by default for low latency.
    pub period_frames: u32,
    /// Buffer size in periods (4: 40 ms of slack before an overrun).
    pub periods: u32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self { device: "default".into(), rate: 48_000, channels: 1, format: None, period_frames: 480, periods: 4 }
    }
}

/// What the device agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub format: SampleFormat,
    pub rate: u32,
    pub channels: u32,
    pub period_frames: u32,
    pub buffer_frames: u32,
}

/// A block of captured audio: mono f32 at [`Negotiated::rate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub samples: Vec<f32>,
    /// Monotonic capture time of the first sample.
    pub timestamp: Instant,
    /// Index of the first sample among the frames delivered since open.
    pub frame_index: u64,
}

/// One result of [`Capture::read`].
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureEvent {
    Audio(Chunk),
    /// An overrun was recovered; `total` xruns since the source was created.
    Xrun {
        total: u64,
    },
    /// The device went away; call [`Capture::reopen`] (e.g. after a back-off) to continue.
    DeviceLost {
        reason: String,
    },
}

/// How a read error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Xrun,
    Suspended,
    DeviceLost,
    Other,
}

/// Classify an ALSA errno (positive) from a read.
pub fn classify(errno: i32) -> ErrorKind {
    match errno {
        libc_errno::EPIPE => ErrorKind::Xrun,
        libc_errno::ESTRPIPE => ErrorKind::Suspended,
        libc_errno::ENODEV | libc_errno::ENXIO | libc_errno::EBADFD | libc_errno::ESHUTDOWN | libc_errno::EIO => {
            ErrorKind::DeviceLost
        }
        _ => ErrorKind::Other,
    }
}

/// Linux errno values (asm-generic).
mod libc_errno {
    pub const EIO: i32 = 5;
    pub const ENXIO: i32 = 6;
    pub const ENODEV: i32 = 19;
    pub const EPIPE: i32 = 32;
    pub const ESTRPIPE: i32 = 86;
    pub const EBADFD: i32 = 77;
    pub const ESHUTDOWN: i32 = 108;
}

/// An open ALSA capture stream.
pub struct Capture {
    cfg: CaptureConfig,
    pcm: Option<PCM>,
    neg: Negotiated,
    xruns: Arc<AtomicU64>,
    frames: u64,
    raw16: Vec<i16>,
    raw32: Vec<i32>,
    rawf: Vec<f32>,
}

fn cap_err(device: &str, msg: impl Into<String>) -> AudioError {
    AudioError::Capture { device: device.to_string(), msg: msg.into() }
}

impl Capture {
    /// Open and configure the device. A missing device is `AudioError::Capture` with "cannot open".
    pub fn open(cfg: &CaptureConfig) -> Result<Self, AudioError> {
        if cfg.period_frames == 0 || cfg.periods < 2 || cfg.rate == 0 || cfg.channels == 0 {
            return Err(cap_err(
                &cfg.device,
                format!(
                    "invalid settings: expected rate > 0, channels > 0, period_frames > 0, periods >= 2; got {} Hz, \
                     {} ch, period {}, {} periods",
                    cfg.rate, cfg.channels, cfg.period_frames, cfg.periods
                ),
            ));
        }
        let (pcm, neg) = open_pcm(cfg)?;
        tracing::info!(device = %cfg.device, ?neg, "ALSA capture opened");
        Ok(Self {
            cfg: cfg.clone(),
            pcm: Some(pcm),
            neg,
            xruns: Arc::new(AtomicU64::new(0)),
            frames: 0,
            raw16: Vec::new(),
            raw32: Vec::new(),
            rawf: Vec::new(),
        })
    }

    pub fn negotiated(&self) -> Negotiated {
        self.neg
    }

    /// Xruns since creation (a shared counter for metrics).
    pub fn xruns(&self) -> Arc<AtomicU64> {
        self.xruns.clone()
    }

    /// Close and open the device again (after it was lost, or to pick up a re-plugged mic). The frame index
    /// continues; the xrun count is kept.
    pub fn reopen(&mut self) -> Result<Negotiated, AudioError> {
        self.pcm = None;
        let (pcm, neg) = open_pcm(&self.cfg)?;
        self.pcm = Some(pcm);
        self.neg = neg;
        Ok(neg)
    }

    /// Block until one period is captured (or an xrun / device loss happens).
    pub fn read(&mut self) -> Result<CaptureEvent, AudioError> {
        let Some(pcm) = self.pcm.as_ref() else {
            return Err(cap_err(&self.cfg.device, "device is closed after it was lost; call reopen()"));
        };
        let ch = self.neg.channels as usize;
        let n = self.neg.period_frames as usize * ch;
        let res = match self.neg.format {
            SampleFormat::S16 => {
                self.raw16.resize(n, 0);
                pcm.io_i16().and_then(|io| io.readi(&mut self.raw16))
            }
            SampleFormat::S32 => {
                self.raw32.resize(n, 0);
                pcm.io_i32().and_then(|io| io.readi(&mut self.raw32))
            }
            SampleFormat::F32 => {
                self.rawf.resize(n, 0.0);
                pcm.io_f32().and_then(|io| io.readi(&mut self.rawf))
            }
        };
        let now = Instant::now();
        let frames = match res {
            Ok(f) => f,
            Err(e) => return self.on_error(e),
        };
        let queued = pcm.avail().map(|a| a.max(0) as u64).unwrap_or(0);
        let samples = match self.neg.format {
            SampleFormat::S16 => to_mono(&self.raw16[..frames * ch], ch, |v| v as f32 / 32_768.0),
            SampleFormat::S32 => to_mono(&self.raw32[..frames * ch], ch, |v| v as f32 / 2_147_483_648.0),
            SampleFormat::F32 => to_mono(&self.rawf[..frames * ch], ch, |v| v),
        };
        let age = Duration::from_secs_f64((frames as u64 + queued) as f64 / self.neg.rate as f64);
        let chunk = Chunk { samples, timestamp: now.checked_sub(age).unwrap_or(now), frame_index: self.frames };
        self.frames += frames as u64;
        Ok(CaptureEvent::Audio(chunk))
    }

    fn on_error(&mut self, e: alsa::Error) -> Result<CaptureEvent, AudioError> {
        let pcm = self.pcm.as_ref().expect("open");
        match classify(e.errno()) {
            ErrorKind::Xrun | ErrorKind::Suspended => match pcm.try_recover(e, true) {
                Ok(()) => {
                    let total = self.xruns.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(device = %self.cfg.device, total, "capture overrun recovered");
                    Ok(CaptureEvent::Xrun { total })
                }
                Err(e2) => self.lost(format!("recovery after {e} failed: {e2}")),
            },
            ErrorKind::DeviceLost => self.lost(e.to_string()),
            ErrorKind::Other => Err(cap_err(&self.cfg.device, format!("read failed: {e}"))),
        }
    }

    fn lost(&mut self, reason: String) -> Result<CaptureEvent, AudioError> {
        tracing::warn!(device = %self.cfg.device, %reason, "capture device lost");
        self.pcm = None;
        Ok(CaptureEvent::DeviceLost { reason })
    }
}

/// A microphone at the model rate: [`Capture`] followed by a streaming resampler to `rate` (24 kHz for the model).
/// Chunks' `frame_index` counts output samples; their timestamps are the capture time of the input frame each
/// first output sample corresponds to (the resampler is delay-compensated). After a device loss the live path
/// opens a new `MicStream` (so the resampler starts afresh at whatever rate the device then offers).
pub struct MicStream {
    cap: Capture,
    rate: u32,
    resampler: StreamResampler,
    /// Output samples delivered.
    out_frames: u64,
}

impl MicStream {
    pub fn open(cfg: &CaptureConfig, rate: u32) -> Result<Self, AudioError> {
        let cap = Capture::open(cfg)?;
        let resampler = StreamResampler::new(cap.negotiated().rate, rate)?;
        Ok(Self { cap, rate, resampler, out_frames: 0 })
    }

    /// The next event; audio chunks are mono f32 at the stream's rate (possibly empty while the resampler fills).
    pub fn read(&mut self) -> Result<CaptureEvent, AudioError> {
        match self.cap.read()? {
            CaptureEvent::Audio(c) => {
                let from = self.cap.negotiated().rate as f64;
                let samples = self.resampler.push(&c.samples)?;
                // Output sample k sits at input frame k * from / to; time it from this chunk's first frame.
                let in_frame = self.out_frames as f64 * from / self.rate as f64;
                let dt = (in_frame - c.frame_index as f64) / from;
                let timestamp = if dt >= 0.0 {
                    c.timestamp + Duration::from_secs_f64(dt)
                } else {
                    c.timestamp.checked_sub(Duration::from_secs_f64(-dt)).unwrap_or(c.timestamp)
                };
                let chunk = Chunk { samples, timestamp, frame_index: self.out_frames };
                self.out_frames += chunk.samples.len() as u64;
                Ok(CaptureEvent::Audio(chunk))
            }
            other => Ok(other),
        }
    }
}

fn to_mono<T: Copy>(x: &[T], ch: usize, conv: impl Fn(T) -> f32) -> Vec<f32> {
    if ch == 1 {
        return x.iter().map(|&v| conv(v)).collect();
    }
    x.chunks_exact(ch).map(|f| f.iter().map(|&v| conv(v)).sum::<f32>() / ch as f32).collect()
}

fn open_pcm(cfg: &CaptureConfig) -> Result<(PCM, Negotiated), AudioError> {
    let dev = cfg.device.as_str();
    let pcm = PCM::new(dev, Direction::Capture, false).map_err(|e| {
        cap_err(dev, format!("cannot open capture device: {e} (list devices with `arecord -L`; check the name)"))
    })?;
    let neg = {
        let hw = HwParams::any(&pcm).map_err(|e| cap_err(dev, format!("no hardware parameters: {e}")))?;
        hw.set_access(Access::RWInterleaved).map_err(|e| cap_err(dev, format!("no interleaved access: {e}")))?;
        let candidates = match cfg.format {
            Some(f) => vec![f],
            None => vec![SampleFormat::S16, SampleFormat::S32, SampleFormat::F32],
        };
        let format = candidates.iter().copied().find(|f| hw.test_format(f.alsa()).is_ok()).ok_or_else(|| {
            cap_err(
                dev,
                format!("offers none of the sample formats {candidates:?} (use a `plughw:` device to convert)"),
            )
        })?;
        hw.set_format(format.alsa()).map_err(|e| cap_err(dev, format!("format {format:?}: {e}")))?;
        let channels = if hw.test_channels(cfg.channels).is_ok() {
            cfg.channels
        } else {
            let (lo, hi) = (hw.get_channels_min().unwrap_or(1), hw.get_channels_max().unwrap_or(2));
            cfg.channels.clamp(lo, hi)
        };
        hw.set_channels(channels).map_err(|e| cap_err(dev, format!("{channels} channel(s): {e}")))?;
        let rate = hw.set_rate_near(cfg.rate, ValueOr::Nearest).map_err(|e| cap_err(dev, format!("rate: {e}")))?;
        let period = hw
            .set_period_size_near(cfg.period_frames as alsa::pcm::Frames, ValueOr::Nearest)
            .map_err(|e| cap_err(dev, format!("period size: {e}")))?;
        let buffer = hw
            .set_buffer_size_near(period * cfg.periods as alsa::pcm::Frames)
            .map_err(|e| cap_err(dev, format!("buffer size: {e}")))?;
        pcm.hw_params(&hw).map_err(|e| cap_err(dev, format!("applying hardware parameters: {e}")))?;
        Negotiated { format, rate, channels, period_frames: period as u32, buffer_frames: buffer as u32 }
    };
    pcm.prepare().map_err(|e| cap_err(dev, format!("prepare: {e}")))?;
    pcm.start().map_err(|e| cap_err(dev, format!("start: {e}")))?;
    Ok((pcm, neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_classes() {
        assert_eq!(classify(32), ErrorKind::Xrun);
        assert_eq!(classify(86), ErrorKind::Suspended);
        assert_eq!(classify(19), ErrorKind::DeviceLost);
        assert_eq!(classify(22), ErrorKind::Other);
    }

    #[test]
    fn downmix_averages() {
        assert_eq!(to_mono(&[100i16, 300, -32768, 0], 2, |v| v as f32), vec![200.0, -16384.0]);
    }

    #[test]
    fn bad_settings_are_errors() {
        let cfg = CaptureConfig { periods: 1, ..Default::default() };
        let e = Capture::open(&cfg).err().unwrap().to_string();
        assert!(e.contains("`default`") && e.contains("periods >= 2"), "{e}");
    }
}
