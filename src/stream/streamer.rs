//! The streamer: paces a source at exactly `fps` on the pipeline clock, stamps video and audio from frame and
//! sample counters, watches the bus, rebuilds the pipeline after errors, and finishes with EOS so files are
//! finalized.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::metrics::{level_mb, Metrics};
use super::pipeline::{self, Built, EncoderSettings, Outputs, VideoEncoder};
use super::rtsp::RtspServer;
use super::source::{AvChunk, AvSource, ChunkTime};
use super::StreamError;

/// Settings of the output side.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub outputs: Outputs,
    pub encoder: VideoEncoder,
    pub bitrate_kbps: u32,
    /// Latency reported by the sources (ms), used by syncing sinks (display).
    pub latency_ms: u32,
    /// Stop (with EOS) after this many frames; `None` runs until told to stop.
    pub max_frames: Option<u64>,
    /// Keep JPEG pictures of the output here (the web console's preview).
    pub preview: Option<Arc<super::preview::Preview>>,
}

/// Callbacks from the streaming loop (the daemon's systemd notify / watchdog live here).
pub trait StreamHooks {
    /// The pipeline reached PLAYING (first time only).
    fn playing(&mut self, _rtsp_url: Option<&str>) {}
    /// A frame was pushed (called from the loop that pushes frames: a stall stops these calls).
    fn frame(&mut self, _index: u64) {}
    /// Stop now (EOS, finalize, return).
    fn should_stop(&self) -> bool;
    /// Look at the running pipeline after each frame (diagnostics; tests inject bus errors here).
    fn inspect(&mut self, _pipeline: &gst::Pipeline) {}
}

/// Outcome of [`Streamer::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub frames: u64,
    /// Whether EOS reached all sinks in time (files finalized).
    pub clean_eos: bool,
    /// MP4 files written (more than one after rebuilds).
    pub mp4_files: Vec<PathBuf>,
}

/// Time allowed for EOS to reach all sinks at stop.
const EOS_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for EOS through a pipeline that failed (before it is rebuilt).
const FAILED_EOS_TIMEOUT: Duration = Duration::from_secs(1);
/// Time allowed for the first start to reach PLAYING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Drives one source into the outputs.
pub struct Streamer {
    cfg: StreamConfig,
    metrics: Arc<Metrics>,
}

/// `out.mp4` -> `out-1.mp4` for the first rebuild, and so on: a rebuild never overwrites a finished file.
fn rotated(path: &Path, n: u64) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

struct Running {
    built: Built,
    clock: gst::Clock,
    base: gst::ClockTime,
    /// Frames pushed into this pipeline (its PTS restart at 0 after a rebuild).
    frame: u64,
}

impl Streamer {
    pub fn new(cfg: StreamConfig, metrics: Arc<Metrics>) -> Self {
        Self { cfg, metrics }
    }

    fn start(
        &self,
        format: &super::StreamFormat,
        generation: u64,
        rtsp: Option<&RtspServer>,
        files: &mut Vec<PathBuf>,
    ) -> Result<Running, StreamError> {
        let enc = EncoderSettings {
            encoder: self.cfg.encoder,
            bitrate_kbps: self.cfg.bitrate_kbps,
            latency_ms: self.cfg.latency_ms,
        };
        let mp4 = self.cfg.outputs.mp4.as_ref().map(|m| rotated(&m.path, generation));
        let built = pipeline::build(format, &self.cfg.outputs, &enc, mp4.as_deref(), self.cfg.preview.is_some())?;
        if let (Some(p), Some(sink)) = (&self.cfg.preview, &built.preview_sink) {
            p.attach(sink);
        }
        if let (Some(server), Some((v, a))) = (rtsp, &built.rtsp_sinks) {
            server.reset_timing();
            server.attach_sinks(v, a);
        }
        // Live pipeline: the sinks finish PLAYING only once data arrives, so don't wait here. Clock and base time
        // are chosen at the start of the PAUSED -> PLAYING transition.
        if let Err(e) = built.pipeline.set_state(gst::State::Playing) {
            let _ = built.pipeline.set_state(gst::State::Null);
            return Err(StreamError::Gst(format!("cannot start the pipeline: {e}")));
        }
        if let Some(p) = mp4 {
            files.push(p);
        }
        let clock = built.pipeline.clock().ok_or_else(|| StreamError::Gst("playing pipeline has no clock".into()))?;
        let base = built.pipeline.base_time().ok_or_else(|| StreamError::Gst("pipeline has no base time".into()))?;
        Ok(Running { built, clock, base, frame: 0 })
    }

    /// Run until `hooks.should_stop()` (or `max_frames`), then send EOS and wait for it (files finalized).
    /// Pipeline errors are logged and the pipeline rebuilt; only a pipeline that cannot be built at all, or a
    /// failing source, ends the run with an error.
    pub fn run(&self, source: &mut dyn AvSource, hooks: &mut dyn StreamHooks) -> Result<RunSummary, StreamError> {
        let format = source.format();
        format.check()?;
        if self.cfg.outputs.is_empty() {
            return self.run_on_system_clock(source, hooks, &format);
        }
        if !format.has_video() {
            return Err(StreamError::Config(
                "the source renders no video (motion only), but A/V outputs are configured".into(),
            ));
        }
        super::init()?;
        let rtsp = match &self.cfg.outputs.rtsp {
            Some(r) => Some(RtspServer::start(r, self.metrics.clone())?),
            None => None,
        };
        let mut files = Vec::new();
        let mut generation = 0u64;
        let mut run = self.start(&format, generation, rtsp.as_ref(), &mut files)?;
        let mut announced = false;
        let started = Instant::now();
        let frame_ns = format.frame_pts_ns(1);
        let mut chunk = AvChunk::default();
        let mut total = 0u64;
        loop {
            if hooks.should_stop() || self.cfg.max_frames.is_some_and(|m| total >= m) {
                break;
            }
            // Wait for this frame's slot on the pipeline clock.
            let pts = run.frame * frame_ns;
            let target = run.base + gst::ClockTime::from_nseconds(pts);
            let _ = run.clock.new_single_shot_id(target).wait();
            let time = ChunkTime { index: run.frame, pts_ns: pts };
            source.fill(time, &mut chunk)?;
            check_chunk(&format, run.frame, &chunk)?;
            if run.clock.time() > target + gst::ClockTime::from_nseconds(frame_ns) {
                self.metrics.late_frames.fetch_add(1, Ordering::Relaxed);
            }
            if rtsp.as_ref().is_some_and(|r| r.take_keyframe_request()) {
                if let Some((v, _)) = &run.built.rtsp_sinks {
                    v.send_event(gstreamer_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build());
                }
            }
            let pushed = push(&run.built, &format, run.frame, &chunk);
            if pushed.is_ok() {
                run.frame += 1;
                total += 1;
                self.count_frame(&chunk);
                hooks.frame(total - 1);
            }
            if !announced && run.built.pipeline.current_state() == gst::State::Playing {
                announced = true;
                tracing::info!(
                    width = format.width,
                    height = format.height,
                    fps = format.fps,
                    sample_rate = format.sample_rate,
                    "pipeline playing"
                );
                hooks.playing(rtsp.as_ref().map(|r| r.url()));
            }
            if !announced && started.elapsed() > START_TIMEOUT {
                let _ = run.built.pipeline.set_state(gst::State::Null);
                return Err(StreamError::Gst(format!(
                    "pipeline did not reach PLAYING within {} s (an output cannot start?)",
                    START_TIMEOUT.as_secs()
                )));
            }
            hooks.inspect(&run.built.pipeline);
            let failed = self.drain_bus(&run.built.pipeline) || pushed.is_err();
            if failed {
                // Try to finalize what the failed pipeline wrote (EOS through the branches that still work).
                finish(&run.built, FAILED_EOS_TIMEOUT);
                run = loop {
                    if hooks.should_stop() {
                        return Ok(RunSummary { frames: total, clean_eos: false, mp4_files: files });
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    generation += 1;
                    self.metrics.pipeline_restarts.fetch_add(1, Ordering::Relaxed);
                    match self.start(&format, generation, rtsp.as_ref(), &mut files) {
                        Ok(r) => {
                            tracing::warn!(generation, "pipeline rebuilt");
                            break r;
                        }
                        Err(e) => tracing::error!(error = %e, "pipeline rebuild failed; retrying"),
                    }
                };
            }
        }
        let clean_eos = finish(&run.built, EOS_TIMEOUT);
        tracing::info!(frames = total, clean_eos, "stream finished");
        Ok(RunSummary { frames: total, clean_eos, mp4_files: files })
    }

    /// No A/V output (a robot face taking only the motion stream): no GStreamer at all. Frame `n` is asked for when
    /// the monotonic clock reaches `n / fps` after the first frame; its audio is metered and dropped.
    fn run_on_system_clock(
        &self,
        source: &mut dyn AvSource,
        hooks: &mut dyn StreamHooks,
        format: &super::StreamFormat,
    ) -> Result<RunSummary, StreamError> {
        tracing::info!(fps = format.fps, sample_rate = format.sample_rate, "no A/V output: paced by the system clock");
        let frame = Duration::from_nanos(format.frame_pts_ns(1));
        let mut chunk = AvChunk::default();
        let mut total = 0u64;
        let t0 = Instant::now();
        hooks.playing(None);
        while !hooks.should_stop() && self.cfg.max_frames.is_none_or(|m| total < m) {
            let pts = format.frame_pts_ns(total);
            let due = t0 + Duration::from_nanos(pts);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            source.fill(ChunkTime { index: total, pts_ns: pts }, &mut chunk)?;
            check_chunk(format, total, &chunk)?;
            if Instant::now() > due + frame {
                self.metrics.late_frames.fetch_add(1, Ordering::Relaxed);
            }
            self.count_frame(&chunk);
            hooks.frame(total);
            total += 1;
        }
        tracing::info!(frames = total, "stream finished");
        Ok(RunSummary { frames: total, clean_eos: true, mp4_files: Vec::new() })
    }

    /// One frame went out: the output counters and the level meter.
    fn count_frame(&self, chunk: &AvChunk) {
        self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        self.metrics.audio_samples_out.fetch_add(chunk.audio.len() as u64, Ordering::Relaxed);
        self.metrics.audio_level_mb.store(level_mb(&chunk.audio), Ordering::Relaxed);
    }

    /// Handle pending bus messages; true when the pipeline failed and must be rebuilt.
    fn drain_bus(&self, pipeline: &gst::Pipeline) -> bool {
        let Some(bus) = pipeline.bus() else { return true };
        let mut failed = false;
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Error(e) => {
                    self.metrics.pipeline_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        source = ?e.src().map(|s| s.path_string()),
                        error = %e.error(),
                        debug = ?e.debug(),
                        "pipeline error; rebuilding"
                    );
                    failed = true;
                }
                gst::MessageView::Warning(w) => {
                    tracing::warn!(source = ?w.src().map(|s| s.path_string()), warning = %w.error(), "pipeline warning")
                }
                gst::MessageView::Qos(q) => {
                    let (_, dropped) = q.stats();
                    if let gst::GenericFormattedValue::Buffers(Some(_)) = dropped {
                        self.metrics.dropped_frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                gst::MessageView::Eos(_) => {
                    tracing::error!("unexpected EOS while streaming; rebuilding");
                    failed = true;
                }
                _ => {}
            }
        }
        failed
    }
}

/// Push one frame and its audio, stamped from the counters.
/// A filled chunk must match the source's format: one frame of RGB (none for a motion-only source) and one
/// frame's audio.
fn check_chunk(format: &super::StreamFormat, index: u64, chunk: &AvChunk) -> Result<(), StreamError> {
    let spf = format.samples_per_frame();
    if chunk.rgb.len() != format.frame_bytes() || chunk.audio.len() != spf {
        return Err(StreamError::Source(format!(
            "chunk {index} has {} RGB bytes and {} samples; expected {} and {spf}",
            chunk.rgb.len(),
            chunk.audio.len(),
            format.frame_bytes(),
        )));
    }
    Ok(())
}

pub(crate) fn push(
    built: &Built,
    format: &super::StreamFormat,
    frame: u64,
    chunk: &AvChunk,
) -> Result<(), StreamError> {
    let spf = format.samples_per_frame() as u64;
    let mut audio = gst::Buffer::with_size(chunk.audio.len() * 4).map_err(|e| StreamError::Gst(e.to_string()))?;
    {
        let b = audio.get_mut().expect("new buffer is writable");
        b.set_pts(gst::ClockTime::from_nseconds(format.sample_pts_ns(frame * spf)));
        b.set_duration(gst::ClockTime::from_nseconds(
            format.sample_pts_ns((frame + 1) * spf) - format.sample_pts_ns(frame * spf),
        ));
        b.set_offset(frame * spf);
        let mut map = b.map_writable().map_err(|e| StreamError::Gst(e.to_string()))?;
        for (dst, s) in map.chunks_exact_mut(4).zip(&chunk.audio) {
            dst.copy_from_slice(&s.to_le_bytes());
        }
    }
    let mut video = gst::Buffer::from_mut_slice(chunk.rgb.clone());
    {
        let b = video.get_mut().expect("new buffer is writable");
        b.set_pts(gst::ClockTime::from_nseconds(format.frame_pts_ns(frame)));
        b.set_duration(gst::ClockTime::from_nseconds(format.frame_pts_ns(frame + 1) - format.frame_pts_ns(frame)));
        b.set_offset(frame);
    }
    built.audio_src.push_buffer(audio).map_err(|e| StreamError::Gst(format!("audio push: {e:?}")))?;
    built.video_src.push_buffer(video).map_err(|e| StreamError::Gst(format!("video push: {e:?}")))?;
    Ok(())
}

/// Send EOS on both sources and wait until it reached every sink (MP4 moov written), then stop the pipeline.
pub(crate) fn finish(built: &Built, timeout: Duration) -> bool {
    let _ = built.video_src.end_of_stream();
    let _ = built.audio_src.end_of_stream();
    let deadline = Instant::now() + timeout;
    let mut clean = false;
    if let Some(bus) = built.pipeline.bus() {
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { break };
            match msg.view() {
                gst::MessageView::Eos(_) => {
                    clean = true;
                    break;
                }
                gst::MessageView::Error(e) => {
                    tracing::error!(error = %e.error(), "error while finishing the stream");
                    break;
                }
                _ => {}
            }
        }
    }
    if !clean {
        tracing::error!("EOS did not reach all outputs in time; files may be incomplete");
    }
    let _ = built.pipeline.set_state(gst::State::Null);
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_never_overwrites() {
        assert_eq!(rotated(Path::new("/a/out.mp4"), 0), PathBuf::from("/a/out.mp4"));
        assert_eq!(rotated(Path::new("/a/out.mp4"), 2), PathBuf::from("/a/out-2.mp4"));
    }
}
