//! Live preview of the output video for the web console: a branch of the raw video tee, rate-limited to
//! [`PREVIEW_FPS`] and JPEG-encoded by GStreamer, ends in an appsink whose newest picture is kept here.
//! Readers take the newest JPEG (`/snapshot.jpg`) or wait for the next one (`/preview.mjpeg`). Pictures are only
//! encoded while someone looked in the last [`IDLE_AFTER`] (no JPEG work on a kiosk nobody watches).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Preview frames per second (the output runs at 25; a console needs far fewer).
pub const PREVIEW_FPS: u32 = 5;
/// JPEG quality of the preview (0..=100).
pub const PREVIEW_QUALITY: u32 = 75;
/// Name of the preview appsink in the pipeline description.
pub const PREVIEW_SINK: &str = "preview";
/// Name of the valve that shuts the preview branch while nobody watches.
const PREVIEW_GATE: &str = "preview_gate";
/// Encoding stops this long after the last reader.
pub const IDLE_AFTER: Duration = Duration::from_secs(10);

/// The `gst-launch` branch from the raw video tee `vraw` into the preview appsink (leaky: never slows the stream).
pub fn branch() -> String {
    format!(
        "vraw. ! queue leaky=downstream max-size-buffers=2 ! videorate drop-only=true max-rate={PREVIEW_FPS} ! \
         valve name={PREVIEW_GATE} drop=true drop-mode=forward-sticky-events ! \
         videoconvert ! jpegenc quality={PREVIEW_QUALITY} ! \
         appsink name={PREVIEW_SINK} sync=false async=false max-buffers=1 drop=true "
    )
}

/// The newest preview picture, shared between the pipeline (writer) and the control API (readers).
#[derive(Debug, Default)]
pub struct Preview {
    latest: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
    changed: Condvar,
    /// When a reader last asked for pictures.
    wanted: Mutex<Option<Instant>>,
}

impl Preview {
    /// Store a new JPEG and wake the waiting readers.
    pub fn publish(&self, jpeg: Vec<u8>) {
        let mut g = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let seq = g.as_ref().map_or(1, |(s, _)| s + 1);
        *g = Some((seq, Arc::new(jpeg)));
        self.changed.notify_all();
    }

    /// The newest picture and its sequence number (1, 2, ...); `None` before the first.
    pub fn latest(&self) -> Option<(u64, Arc<Vec<u8>>)> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A reader wants pictures (keeps the encoder running for [`IDLE_AFTER`]).
    pub fn want(&self) {
        *self.wanted.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a reader asked within [`IDLE_AFTER`].
    pub fn active(&self) -> bool {
        self.wanted.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|t| t.elapsed() < IDLE_AFTER)
    }

    /// A picture encoded at most about one preview interval ago: wakes the encoder when idle and waits up to
    /// `timeout` for a fresh one (else the newest there is).
    pub fn fresh(&self, timeout: Duration) -> Option<(u64, Arc<Vec<u8>>)> {
        let was_active = self.active();
        self.want();
        match (was_active, self.latest()) {
            (true, Some(p)) => Some(p),
            (_, newest) => self.wait_newer(newest.as_ref().map_or(0, |p| p.0), timeout).or(newest),
        }
    }

    /// Wait up to `timeout` for a picture newer than `seq`; `None` on timeout.
    pub fn wait_newer(&self, seq: u64, timeout: Duration) -> Option<(u64, Arc<Vec<u8>>)> {
        let g = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, timeout, |v| v.as_ref().is_none_or(|(s, _)| *s <= seq))
            .unwrap_or_else(|e| e.into_inner());
        g.as_ref().filter(|(s, _)| *s > seq).cloned()
    }

    /// Feed this preview from the pipeline's appsink; frames pass the branch's valve only while
    /// [`Preview::active`]. (A probe that drops the buffers instead makes GStreamer 1.22 log a critical for each.)
    pub fn attach(self: &Arc<Self>, sink: &gst_app::AppSink) {
        let gate = sink.parent().and_then(|p| p.downcast::<gst::Bin>().ok()).and_then(|b| b.by_name(PREVIEW_GATE));
        if let Some((gate, pad)) = gate.and_then(|g| g.static_pad("sink").map(|pad| (g, pad))) {
            let me = self.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                let drop = !me.active();
                if gate.property::<bool>("drop") != drop {
                    gate.set_property("drop", drop);
                }
                gst::PadProbeReturn::Ok
            });
        }
        let me = self.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                        me.publish(map.as_slice().to_vec());
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_newer_pictures_only() {
        let p = Arc::new(Preview::default());
        assert!(p.latest().is_none());
        assert!(p.wait_newer(0, Duration::from_millis(10)).is_none());
        p.publish(vec![1]);
        let (s, j) = p.latest().unwrap();
        assert_eq!((s, j.as_slice()), (1, &[1u8][..]));
        assert!(p.wait_newer(1, Duration::from_millis(10)).is_none());
        let q = p.clone();
        let t = std::thread::spawn(move || q.wait_newer(1, Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(50));
        p.publish(vec![2]);
        let (s, j) = t.join().unwrap().expect("woken by the new picture");
        assert_eq!((s, j.as_slice()), (2, &[2u8][..]));
        assert!(branch().contains("jpegenc") && branch().contains(PREVIEW_SINK));
        assert!(!p.active());
        assert_eq!(p.fresh(Duration::from_millis(10)).unwrap().0, 2, "idle: the newest there is after the wait");
        assert!(p.active(), "a reader woke the encoder");
    }
}
