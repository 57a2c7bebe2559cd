//! The stream module through the real GStreamer pipeline, driven from the library: an error on the pipeline bus
//! mid-stream makes the streamer rebuild the pipeline and keep going; the MP4 of the failed pipeline is finalized
//! and the rebuilt one writes `NAME-1.mp4`. Frames are stamped from counters, so both files are whole.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;
use jamflow::stream::source::{AudioKind, TestSource, TestSourceConfig, VideoKind};
use jamflow::stream::{Metrics, Mp4Output, Outputs, StreamConfig, StreamHooks, Streamer, VideoEncoder};

/// Injects one bus error after `at` frames.
struct Inject {
    at: u64,
    frames: u64,
    done: bool,
    playing: u32,
}

impl StreamHooks for Inject {
    fn playing(&mut self, _rtsp: Option<&str>) {
        self.playing += 1;
    }
    fn frame(&mut self, _index: u64) {
        self.frames += 1;
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn inspect(&mut self, pipeline: &gst::Pipeline) {
        if !self.done && self.frames == self.at {
            self.done = true;
            let msg = gst::message::Error::builder(gst::CoreError::Failed, "injected test fault").src(pipeline).build();
            pipeline.post_message(msg).unwrap();
        }
    }
}

fn duration_of(path: &Path, stream: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-show_entries", "stream=duration", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe (scripts/setup.sh installs ffmpeg)");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no {stream} duration in {}", path.display()))
}

/// A small test pattern with a 440 Hz tone at the live rates.
fn test_source() -> TestSource {
    TestSource::new(TestSourceConfig {
        width: 160,
        height: 120,
        rates: jamflow::live::rates(None).unwrap(),
        video: VideoKind::Pattern,
        audio: AudioKind::Tone { hz: 440.0 },
        sync_probe: None,
    })
    .unwrap()
}

#[test]
fn bus_error_rebuilds_the_pipeline_and_both_files_are_playable() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("rec.mp4");
    let metrics = Arc::new(Metrics::default());
    let preview = Arc::new(jamflow::stream::preview::Preview::default());
    preview.want(); // a viewer: the encoder runs (it idles without one)
    let streamer = Streamer::new(
        StreamConfig {
            outputs: Outputs { mp4: Some(Mp4Output::new(mp4.clone())), ..Default::default() },
            encoder: VideoEncoder::X264,
            bitrate_kbps: 500,
            latency_ms: 100,
            max_frames: Some(75),
            preview: Some(preview.clone()),
        },
        metrics.clone(),
    );
    let mut source = test_source();
    let mut hooks = Inject { at: 25, frames: 0, done: false, playing: 0 };
    let summary = streamer.run(&mut source, &mut hooks).expect("the streamer survives a bus error");
    assert_eq!(summary.frames, 75);
    assert!(summary.clean_eos);
    assert_eq!(hooks.playing, 1, "READY is announced once, not per rebuild");
    assert_eq!(metrics.pipeline_errors.load(Ordering::Relaxed), 1);
    assert_eq!(metrics.pipeline_restarts.load(Ordering::Relaxed), 1);
    assert_eq!(summary.mp4_files, vec![mp4.clone(), dir.path().join("rec-1.mp4")]);
    // The console preview (a JPEG branch of the raw video) kept publishing across the rebuild: 3 s at 5 fps.
    let (seq, jpeg) = preview.latest().expect("preview pictures");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]), "not a JPEG");
    assert!(seq >= 8, "only {seq} preview pictures in 3 s");
    // 25 frames before the fault (finalized by EOS before the rebuild), 50 after.
    for (file, secs) in [(&summary.mp4_files[0], 1.0), (&summary.mp4_files[1], 2.0)] {
        let v = duration_of(file, "v");
        let a = duration_of(file, "a");
        assert!((v - secs).abs() <= 0.04, "{}: video {v} s, expected {secs}", file.display());
        assert!((a - secs).abs() <= 0.04, "{}: audio {a} s, expected {secs}", file.display());
    }
}

/// Asks for preview pictures from frame `at` on and notes whether any was encoded before.
struct Viewer {
    preview: Arc<jamflow::stream::preview::Preview>,
    at: u64,
    before: Option<u64>,
}

impl StreamHooks for Viewer {
    fn playing(&mut self, _rtsp: Option<&str>) {}
    fn frame(&mut self, index: u64) {
        if index == self.at {
            self.before = Some(self.preview.latest().map_or(0, |(seq, _)| seq));
            self.preview.want();
        }
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn inspect(&mut self, _pipeline: &gst::Pipeline) {}
}

#[test]
fn preview_encodes_only_while_someone_watches_and_eos_passes_its_gate() {
    let dir = tempfile::tempdir().unwrap();
    let preview = Arc::new(jamflow::stream::preview::Preview::default());
    let streamer = Streamer::new(
        StreamConfig {
            outputs: Outputs { mp4: Some(Mp4Output::new(dir.path().join("rec.mp4"))), ..Default::default() },
            encoder: VideoEncoder::X264,
            bitrate_kbps: 500,
            latency_ms: 100,
            max_frames: Some(60),
            preview: Some(preview.clone()),
        },
        Arc::new(Metrics::default()),
    );
    let mut source = test_source();
    let mut hooks = Viewer { preview: preview.clone(), at: 30, before: None };
    let summary = streamer.run(&mut source, &mut hooks).unwrap();
    assert!(summary.clean_eos, "EOS must pass the closed preview branch");
    assert_eq!(hooks.before, Some(0), "pictures were encoded while nobody watched");
    let (seq, _) = preview.latest().expect("pictures once someone watches");
    assert!((2..=8).contains(&seq), "{seq} pictures in 1.2 s at 5 fps (the rate limit holds after the gate opens)");
}
