//! The GStreamer pipeline: two appsrcs (RGB video, mono f32 audio), raw tees, one H.264 encoder teed to the
//! encoded outputs (MP4 via mp4mux with AAC; RTSP via appsinks feeding [`super::rtsp`] with Opus), and raw
//! branches for a display and a v4l2 virtual camera.

use std::path::PathBuf;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde::{Deserialize, Serialize};

use super::{StreamError, StreamFormat};

/// H.264 encoder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoEncoder {
    /// Software x264 (`tune=zerolatency`, ultrafast).
    #[default]
    X264,
    /// Jetson hardware encoder (`nvvidconv ! nvv4l2h264enc`).
    Nvv4l2h264enc,
}

/// Video sink of the display output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplaySink {
    #[default]
    Auto,
    /// DRM/KMS directly on HDMI (no X/Wayland).
    Kms,
    /// Jetson `nv3dsink`.
    Nv3d,
}

/// RTSP server output (gst-rtsp-server, one shared media for all clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtspOutput {
    #[serde(default = "default_rtsp_address")]
    pub address: String,
    #[serde(default = "default_rtsp_port")]
    pub port: u16,
    #[serde(default = "default_rtsp_mount")]
    pub mount: String,
    /// Basic auth: both set, or neither.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

fn default_rtsp_address() -> String {
    "127.0.0.1".into()
}
fn default_rtsp_port() -> u16 {
    8554
}
fn default_rtsp_mount() -> String {
    "/jamflow".into()
}

impl Default for RtspOutput {
    fn default() -> Self {
        Self {
            address: default_rtsp_address(),
            port: default_rtsp_port(),
            mount: default_rtsp_mount(),
            username: None,
            password: None,
        }
    }
}

/// MP4 file output (H.264 + AAC). Fragmented by default: the header (moov) goes first and each fragment is complete
/// on disk once written, so a file cut by SIGKILL or a power loss plays up to its last fragment; EOS (SIGTERM)
/// finishes it normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mp4Output {
    pub path: PathBuf,
    /// Fragment length in ms (mp4mux `fragment-duration`): at most this much (plus the muxer's queue) is lost on a
    /// power cut. 0 writes a classic MP4 whose index is written only at EOS (all of it lost without EOS).
    #[serde(default = "default_fragment_ms")]
    pub fragment_ms: u32,
}

/// Default MP4 fragment length (ms).
pub const DEFAULT_FRAGMENT_MS: u32 = 1000;

fn default_fragment_ms() -> u32 {
    DEFAULT_FRAGMENT_MS
}

impl Mp4Output {
    /// A fragmented MP4 at `path` ([`DEFAULT_FRAGMENT_MS`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), fragment_ms: DEFAULT_FRAGMENT_MS }
    }
}

/// Local display (video sink + optionally ALSA audio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayOutput {
    #[serde(default)]
    pub video: DisplaySink,
    /// Play the audio on ALSA too.
    #[serde(default = "yes")]
    pub audio: bool,
    /// ALSA device for the audio (default: `default`).
    #[serde(default)]
    pub alsa_device: Option<String>,
}

fn yes() -> bool {
    true
}

/// v4l2loopback virtual camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V4l2Output {
    pub device: PathBuf,
}

/// Any set of outputs (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    #[serde(default)]
    pub rtsp: Option<RtspOutput>,
    #[serde(default)]
    pub mp4: Option<Mp4Output>,
    #[serde(default)]
    pub display: Option<DisplayOutput>,
    #[serde(default)]
    pub v4l2: Option<V4l2Output>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.rtsp.is_none() && self.mp4.is_none() && self.display.is_none() && self.v4l2.is_none()
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    pub encoder: VideoEncoder,
    pub bitrate_kbps: u32,
    /// Latency the sources report (ms): how far behind real time sinks that sync (display) render.
    pub latency_ms: u32,
}

/// A built (not yet playing) pipeline and the handles the streamer needs.
pub struct Built {
    pub pipeline: gst::Pipeline,
    pub video_src: gst_app::AppSrc,
    pub audio_src: gst_app::AppSrc,
    /// Encoded H.264 / Opus for the RTSP server (when RTSP is on).
    pub rtsp_sinks: Option<(gst_app::AppSink, gst_app::AppSink)>,
    /// JPEG pictures for the web console (when a preview was asked for; [`super::preview`]).
    pub preview_sink: Option<gst_app::AppSink>,
}

/// The `gst-launch` description of the pipeline for `outputs` (locations and devices set later as properties),
/// with the console's JPEG preview branch when `preview`.
pub fn describe(format: &StreamFormat, outputs: &Outputs, enc: &EncoderSettings, preview: bool) -> String {
    let lat_ns = enc.latency_ms as u64 * 1_000_000;
    let mut d = format!(
        "appsrc name=vsrc is-live=true format=time do-timestamp=false block=false leaky-type=downstream \
         max-bytes={maxb} min-latency={lat_ns} \
         caps=video/x-raw,format=RGB,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1 ! \
         tee name=vraw allow-not-linked=true \
         appsrc name=asrc is-live=true format=time do-timestamp=false block=false leaky-type=downstream \
         min-latency={lat_ns} caps=audio/x-raw,format=F32LE,rate={sr},channels=1,layout=interleaved ! \
         tee name=araw allow-not-linked=true ",
        maxb = format.frame_bytes() * 16,
        w = format.width,
        h = format.height,
        fps = format.fps,
        sr = format.sample_rate,
    );
    if outputs.mp4.is_some() || outputs.rtsp.is_some() {
        let kbps = enc.bitrate_kbps;
        let gop = format.fps;
        let encoder = match enc.encoder {
            VideoEncoder::X264 => format!(
                "videoconvert ! video/x-raw,format=I420 ! x264enc name=venc tune=zerolatency speed-preset=ultrafast \
                 bitrate={kbps} key-int-max={gop}"
            ),
            VideoEncoder::Nvv4l2h264enc => format!(
                "nvvidconv ! video/x-raw(memory:NVMM),format=I420 ! nvv4l2h264enc name=venc bitrate={} \
                 iframeinterval={gop} insert-sps-pps=true",
                kbps * 1000
            ),
        };
        d += &format!("vraw. ! queue ! {encoder} ! h264parse ! tee name=vtee ");
    }
    if let Some(mp4) = &outputs.mp4 {
        d += &format!(
            "vtee. ! queue ! mux.video_0 \
             araw. ! queue ! audioconvert ! avenc_aac bitrate=96000 ! aacparse name=aacparse ! queue ! mux.audio_0 \
             mp4mux name=mux fragment-duration={} ! filesink name=mp4sink sync=false ",
            mp4.fragment_ms
        );
    }
    if outputs.rtsp.is_some() {
        d += "vtee. ! queue ! appsink name=rtsp_v sync=false \
              araw. ! queue ! audioconvert ! audioresample ! audio/x-raw,rate=48000 ! opusenc bitrate=64000 ! \
              appsink name=rtsp_a sync=false ";
    }
    if let Some(disp) = &outputs.display {
        let sink = match disp.video {
            DisplaySink::Auto => "autovideosink",
            DisplaySink::Kms => "kmssink",
            DisplaySink::Nv3d => "nv3dsink",
        };
        d += &format!("vraw. ! queue leaky=downstream max-size-buffers=5 ! videoconvert ! {sink} ");
        if disp.audio {
            d += "araw. ! queue ! audioconvert ! audioresample ! alsasink name=alsa ";
        }
    }
    if preview {
        d += &super::preview::branch();
    }
    if outputs.v4l2.is_some() {
        d += "vraw. ! queue leaky=downstream max-size-buffers=5 ! videoconvert ! video/x-raw,format=YUY2 ! \
              v4l2sink name=v4l2 sync=false ";
    }
    d
}

fn by_name<T: IsA<gst::Element>>(pipeline: &gst::Pipeline, name: &str) -> Result<T, StreamError> {
    pipeline
        .by_name(name)
        .ok_or_else(|| StreamError::Gst(format!("pipeline has no element `{name}`")))?
        .downcast::<T>()
        .map_err(|_| StreamError::Gst(format!("element `{name}` has an unexpected type")))
}

/// Build the pipeline for `outputs`; `mp4_path` is where the MP4 output writes this time (see rotation in the
/// streamer). Fails with the GStreamer parse error, which names a missing element/plugin.
pub fn build(
    format: &StreamFormat,
    outputs: &Outputs,
    enc: &EncoderSettings,
    mp4_path: Option<&std::path::Path>,
    preview: bool,
) -> Result<Built, StreamError> {
    format.check()?;
    if !format.has_video() {
        return Err(StreamError::Config("a pipeline needs a source with video (this one is motion only)".into()));
    }
    if outputs.is_empty() {
        return Err(StreamError::Config("no output enabled (rtsp, mp4, display or v4l2)".into()));
    }
    let desc = describe(format, outputs, enc, preview);
    tracing::debug!(pipeline = %desc, "building pipeline");
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| StreamError::Gst(format!("cannot build the pipeline: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| StreamError::Gst("parse result is not a pipeline".into()))?;
    if let Some(path) = mp4_path {
        let sink: gst::Element = by_name(&pipeline, "mp4sink")?;
        sink.set_property("location", path.to_string_lossy().as_ref());
    }
    if let Some(disp) = &outputs.display {
        if let (true, Some(dev)) = (disp.audio, &disp.alsa_device) {
            let sink: gst::Element = by_name(&pipeline, "alsa")?;
            sink.set_property("device", dev.as_str());
        }
    }
    if let Some(v) = &outputs.v4l2 {
        let sink: gst::Element = by_name(&pipeline, "v4l2")?;
        sink.set_property("device", v.device.to_string_lossy().as_ref());
    }
    if outputs.mp4.is_some() {
        trim_aac_priming(&by_name(&pipeline, "aacparse")?, format.sample_rate)?;
    }
    let video_src = by_name(&pipeline, "vsrc")?;
    let audio_src = by_name(&pipeline, "asrc")?;
    let rtsp_sinks = if outputs.rtsp.is_some() {
        Some((by_name(&pipeline, "rtsp_v")?, by_name(&pipeline, "rtsp_a")?))
    } else {
        None
    };
    let preview_sink = if preview { Some(by_name(&pipeline, super::preview::PREVIEW_SINK)?) } else { None };
    Ok(Built { pipeline, video_src, audio_src, rtsp_sinks, preview_sink })
}

/// Encoder delay of `avenc_aac` (libav's AAC encoder): its first packet holds 1024 samples of priming, so decoded
/// audio would lag the video by 1024 samples (43 ms at 24 kHz); mp4mux writes no edit list for it.
pub const AAC_PRIMING_SAMPLES: u64 = 1024;

/// Drop the priming packet and move the rest earlier by its duration, so the MP4's audio lines up with its video.
/// (The first real frame then decodes without the previous frame's overlap: a tiny artefact in the first 43 ms.)
fn trim_aac_priming(aacparse: &gst::Element, sample_rate: u32) -> Result<(), StreamError> {
    let shift = AAC_PRIMING_SAMPLES * 1_000_000_000 / sample_rate as u64;
    let pad = aacparse.static_pad("src").ok_or_else(|| StreamError::Gst("aacparse has no src pad".into()))?;
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        if pts.nseconds() < shift {
            return gst::PadProbeReturn::Drop;
        }
        let b = buffer.make_mut();
        b.set_pts(pts - gst::ClockTime::from_nseconds(shift));
        if let Some(dts) = b.dts() {
            b.set_dts(dts.checked_sub(gst::ClockTime::from_nseconds(shift)));
        }
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_has_only_enabled_branches() {
        let f = StreamFormat::new(64, 64, crate::stream::tests::RATES);
        let enc = EncoderSettings { encoder: VideoEncoder::X264, bitrate_kbps: 800, latency_ms: 100 };
        let only_mp4 = Outputs { mp4: Some(Mp4Output::new("x.mp4")), ..Default::default() };
        let d = describe(&f, &only_mp4, &enc, false);
        assert!(d.contains("mp4mux") && d.contains("x264enc") && d.contains("tune=zerolatency"));
        assert!(d.contains("fragment-duration=1000"), "fragmented by default: {d}");
        assert!(!d.contains("rtsp_v") && !d.contains("opusenc") && !d.contains("v4l2sink") && !d.contains("jpegenc"));
        assert!(describe(&f, &only_mp4, &enc, true).contains("jpegenc"));
        let jetson = EncoderSettings { encoder: VideoEncoder::Nvv4l2h264enc, ..enc };
        let rtsp = Outputs { rtsp: Some(RtspOutput::default()), ..Default::default() };
        let d = describe(&f, &rtsp, &jetson, false);
        assert!(d.contains("nvv4l2h264enc") && d.contains("opusenc") && !d.contains("mp4mux"));
    }
}
