//! RTSP output: a gst-rtsp-server with one shared media per mount. The main pipeline encodes once; its appsinks
//! hand H.264 and Opus buffers to the appsrcs of the media (re-based onto the media's running time, one offset for
//! both streams so their sync is kept). New clients join the shared media; a keyframe is requested on (re)start.
//! The media's appsrcs are bounded and leaky (oldest dropped), so a stalled client can't grow memory.
//!
//! The feed ends when its media is unprepared (the last client left), never on a refused push: a media may refuse
//! buffers for a while (flushing) and then take them again, and a feed dropped then starved every client of the
//! media for good. After a refusal the feed restarts at the next keyframe, on the media's clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use super::metrics::Metrics;
use super::pipeline::RtspOutput;
use super::StreamError;

/// The appsrcs of the currently prepared shared media.
struct MediaFeed {
    element: gst::Element,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    /// Added to upstream PTS to place buffers on the media's running time; set by the first buffer.
    offset_ns: Option<i64>,
    /// Drop video until a keyframe (a client cannot decode from a delta frame).
    waiting_key: bool,
    video_caps: bool,
    audio_caps: bool,
}

impl MediaFeed {
    fn new(element: gst::Element, video: gst_app::AppSrc, audio: gst_app::AppSrc) -> Self {
        Self { element, video, audio, offset_ns: None, waiting_key: true, video_caps: false, audio_caps: false }
    }
}

#[derive(Default)]
struct Shared {
    feed: Mutex<Option<MediaFeed>>,
    want_keyframe: AtomicBool,
}

/// A running RTSP server (its own GLib main loop thread).
pub struct RtspServer {
    shared: Arc<Shared>,
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    _server: rtsp::RTSPServer,
    url: String,
}

const LAUNCH: &str = "( appsrc name=v is-live=true format=time do-timestamp=false \
                      max-bytes=4000000 leaky-type=downstream ! h264parse ! \
                      video/x-h264,stream-format=avc,alignment=au ! rtph264pay name=pay0 pt=96 config-interval=0 \
                      appsrc name=a is-live=true format=time do-timestamp=false leaky-type=downstream ! opusparse ! \
                      rtpopuspay name=pay1 pt=97 )";

impl RtspServer {
    /// Bind `cfg.address:cfg.port` and serve `cfg.mount`. Port 0 binds a free port (see [`RtspServer::url`]).
    pub fn start(cfg: &RtspOutput, metrics: Arc<Metrics>) -> Result<Self, StreamError> {
        if !cfg.mount.starts_with('/') {
            return Err(StreamError::Config(format!("rtsp mount must start with '/', found {:?}", cfg.mount)));
        }
        let server = rtsp::RTSPServer::new();
        server.set_address(&cfg.address);
        server.set_service(&cfg.port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(LAUNCH);
        factory.set_shared(true);
        match (&cfg.username, &cfg.password) {
            (Some(user), Some(pass)) => {
                let auth = rtsp::RTSPAuth::new();
                let token = rtsp::RTSPToken::builder().field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user").build();
                auth.add_basic(rtsp::RTSPAuth::make_basic(user, pass).as_str(), &token);
                server.set_auth(Some(&auth));
                factory.add_role_from_structure(
                    &gst::Structure::builder("user")
                        .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                        .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                        .build(),
                );
            }
            (None, None) => {}
            _ => return Err(StreamError::Config("rtsp basic auth needs both username and password".into())),
        }
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        factory.connect_media_configure(move |_, media| {
            let element = media.element();
            let bin = match element.clone().downcast::<gst::Bin>() {
                Ok(b) => b,
                Err(_) => return,
            };
            let get = |n: &str| bin.by_name(n).and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
            let (Some(video), Some(audio)) = (get("v"), get("a")) else {
                tracing::error!("RTSP media has no appsrcs");
                return;
            };
            tracing::info!("RTSP media configured (first client of the shared media)");
            match element.parent().and_then(|p| p.downcast::<gst::Bin>().ok()) {
                Some(pipeline) => no_async_sinks(&pipeline),
                None => tracing::warn!("RTSP media element has no pipeline yet; its sinks keep async state changes"),
            }
            let sh2 = sh.clone();
            media.connect_unprepared(move |media| {
                let mut feed = sh2.feed.lock().unwrap();
                if feed.as_ref().is_some_and(|f| f.element == media.element()) {
                    tracing::info!("RTSP media stopped (last client left)");
                    *feed = None;
                }
            });
            *sh.feed.lock().unwrap() = Some(MediaFeed::new(element, video, audio));
            sh.want_keyframe.store(true, Ordering::SeqCst);
        });
        server
            .mount_points()
            .ok_or_else(|| StreamError::Gst("RTSP server has no mount points".into()))?
            .add_factory(&cfg.mount, factory);
        let m = metrics.clone();
        server.connect_client_connected(move |_, client| {
            m.rtsp_clients.fetch_add(1, Ordering::SeqCst);
            let m2 = m.clone();
            client.connect_closed(move |_| {
                m2.rtsp_clients.fetch_sub(1, Ordering::SeqCst);
            });
        });
        let ctx = glib::MainContext::new();
        server.attach(Some(&ctx)).map_err(|e| {
            StreamError::Config(format!("cannot serve RTSP on {}:{}: {e} (port in use?)", cfg.address, cfg.port))
        })?;
        let port = server.bound_port();
        let url = format!("rtsp://{}:{}{}", cfg.address, port, cfg.mount);
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new()
            .name("rtsp".into())
            .spawn(move || {
                let _guard = ctx.acquire();
                ml.run();
            })
            .map_err(|e| StreamError::Gst(format!("cannot start the RTSP thread: {e}")))?;
        tracing::info!(%url, "RTSP server listening");
        Ok(Self { shared, main_loop, thread: Some(thread), _server: server, url })
    }

    /// The URL clients open (with the bound port).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True once per new media: the streamer then asks the encoder for a keyframe.
    pub fn take_keyframe_request(&self) -> bool {
        self.shared.want_keyframe.swap(false, Ordering::SeqCst)
    }

    /// Forget timing of the current media (the main pipeline was rebuilt and its PTS restart at 0).
    pub fn reset_timing(&self) {
        if let Some(f) = self.shared.feed.lock().unwrap().as_mut() {
            f.offset_ns = None;
            f.waiting_key = true;
        }
        self.shared.want_keyframe.store(true, Ordering::SeqCst);
    }

    /// Connect the main pipeline's encoded appsinks to the media.
    pub fn attach_sinks(&self, video: &gst_app::AppSink, audio: &gst_app::AppSink) {
        for (sink, is_video) in [(video, true), (audio, false)] {
            let sh = self.shared.clone();
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        forward(&sh, &sample, is_video);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
    }
}

/// From now on, every sink added anywhere inside `pipeline` changes state without prerolling (`async=false`), so
/// a client's sink joining the PLAYING media cannot take the media back to PAUSED.
fn no_async_sinks(pipeline: &gst::Bin) {
    pipeline.connect_deep_element_added(|_, _, element| {
        if element.element_flags().contains(gst::ElementFlags::SINK) && element.find_property("async").is_some() {
            element.set_property("async", false);
        }
    });
}

/// Push one encoded buffer into the shared media (if a client is watching), re-stamped.
fn forward(shared: &Shared, sample: &gst::Sample, is_video: bool) {
    let mut guard = shared.feed.lock().unwrap();
    let Some(feed) = guard.as_mut() else { return };
    let Some(buffer) = sample.buffer() else { return };
    if is_video && feed.waiting_key {
        if buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            return;
        }
        if feed.element.current_state() != gst::State::Playing {
            // Before the media first plays its base time is unset and its "running time" is the clock's own
            // (hours): a feed started then stamped every buffer that far ahead and the media's sinks waited for
            // it forever. Start at a keyframe once it plays; ask for another, this one is dropped.
            shared.want_keyframe.store(true, Ordering::SeqCst);
            return;
        }
        feed.waiting_key = false;
        tracing::debug!("RTSP feed: first keyframe");
    }
    if !is_video && feed.waiting_key {
        return; // start both streams together, at the keyframe
    }
    // Buffer times are segment times (x264enc shifts its segment by 1000 h): compare running times.
    let Some(pts) = buffer.pts() else { return };
    let Some(pts) =
        sample.segment().and_then(|seg| seg.downcast_ref::<gst::ClockTime>().and_then(|seg| seg.to_running_time(pts)))
    else {
        return;
    };
    let offset = *feed.offset_ns.get_or_insert_with(|| {
        let now = feed.element.current_running_time().map(|t| t.nseconds() as i64).unwrap_or(0);
        now - pts.nseconds() as i64
    });
    let new_pts = pts.nseconds() as i64 + offset;
    if new_pts < 0 {
        return;
    }
    let mut out = buffer.copy();
    {
        let b = out.make_mut();
        b.set_pts(gst::ClockTime::from_nseconds(new_pts as u64));
        b.set_dts(gst::ClockTime::NONE);
    }
    let (src, caps_done) =
        if is_video { (&feed.video, &mut feed.video_caps) } else { (&feed.audio, &mut feed.audio_caps) };
    if !*caps_done {
        if let Some(caps) = sample.caps() {
            src.set_caps(Some(&caps.to_owned()));
        }
        *caps_done = true;
    }
    tracing::trace!(is_video, new_pts, "RTSP push");
    if let Err(e) = src.push_buffer(out) {
        tracing::debug!(error = ?e, "RTSP media refused a buffer; restarting at the next keyframe");
        feed.waiting_key = true;
        feed.offset_ns = None;
        shared.want_keyframe.store(true, Ordering::SeqCst);
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyframe(pts_ms: u64) -> gst::Sample {
        let mut buffer = gst::Buffer::with_size(4).unwrap();
        buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(pts_ms));
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        gst::Sample::builder().buffer(&buffer).segment(&segment).build()
    }

    /// A stand-in for the shared media (two appsrcs into sinks that change state at once) with a feed into it.
    fn media_with_feed() -> (gst::Element, Shared) {
        gst::init().unwrap();
        let media = gst::parse::launch(
            "appsrc name=v format=time ! fakesink sync=false async=false \
             appsrc name=a format=time ! fakesink sync=false async=false",
        )
        .unwrap();
        let bin = media.clone().downcast::<gst::Bin>().unwrap();
        let src = |n: &str| bin.by_name(n).unwrap().downcast::<gst_app::AppSrc>().unwrap();
        let shared = Shared::default();
        *shared.feed.lock().unwrap() = Some(MediaFeed::new(media.clone(), src("v"), src("a")));
        (media, shared)
    }

    /// A media that refuses buffers for a while (a flush) keeps its feed and takes buffers again from the next
    /// keyframe; dropping the feed on the first refusal starved its clients for good.
    #[test]
    fn a_refused_push_restarts_the_feed_at_a_keyframe_instead_of_ending_it() {
        let (media, shared) = media_with_feed();
        media.set_state(gst::State::Playing).unwrap();
        let started = |sh: &Shared| sh.feed.lock().unwrap().as_ref().map(|f| !f.waiting_key && f.offset_ns.is_some());

        forward(&shared, &keyframe(40), true);
        assert_eq!(started(&shared), Some(true));
        shared.want_keyframe.store(false, Ordering::SeqCst);

        let video = shared.feed.lock().unwrap().as_ref().unwrap().video.clone();
        assert!(video.send_event(gst::event::FlushStart::new()));
        forward(&shared, &keyframe(80), true); // refused while flushing
        assert_eq!(started(&shared), Some(false), "the feed is kept and waits for a keyframe");
        assert!(shared.want_keyframe.load(Ordering::SeqCst), "a new keyframe is requested");

        assert!(video.send_event(gst::event::FlushStop::new(true)));
        forward(&shared, &keyframe(120), true);
        assert_eq!(started(&shared), Some(true), "buffers flow again after the flush");
        media.set_state(gst::State::Null).unwrap();
    }

    /// A keyframe that arrives while the media is not yet PLAYING does not start the feed (its running time would
    /// be the clock's, hours ahead) and asks for another keyframe; once the media plays, the feed starts on the
    /// media's running time.
    #[test]
    fn the_feed_starts_only_once_the_media_plays() {
        let (media, shared) = media_with_feed();
        media.set_state(gst::State::Paused).unwrap();
        let offset = |sh: &Shared| sh.feed.lock().unwrap().as_ref().and_then(|f| f.offset_ns);

        forward(&shared, &keyframe(40), true);
        assert_eq!(offset(&shared), None, "no feed before the media plays");
        assert!(shared.want_keyframe.swap(false, Ordering::SeqCst), "another keyframe is asked for");

        media.set_state(gst::State::Playing).unwrap();
        forward(&shared, &keyframe(80), true);
        let first_pts = offset(&shared).expect("the feed starts once playing") + 80_000_000;
        assert!((0..10_000_000_000).contains(&first_pts), "stamped on the media's running time: {first_pts} ns");
        media.set_state(gst::State::Null).unwrap();
    }

    /// Sinks added to the media after the hook (at any depth) lose their async state change; other elements and
    /// sinks added before are left as they are. A sink added to the PLAYING pipeline then leaves it PLAYING.
    #[test]
    fn sinks_added_to_the_media_do_not_preroll() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch("fakesrc is-live=true ! tee name=t ! queue ! fakesink name=first")
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        no_async_sinks(pipeline.upcast_ref());
        pipeline.set_state(gst::State::Playing).unwrap();
        let (res, state, _) = pipeline.state(gst::ClockTime::from_seconds(5));
        assert!(res.is_ok() && state == gst::State::Playing, "{res:?} {state:?}");
        let async_of = |e: &gst::Element| e.property::<bool>("async");
        assert!(async_of(&pipeline.by_name("first").unwrap()), "a sink present before the hook is untouched");

        let nested = gst::Bin::new();
        pipeline.add(&nested).unwrap();
        let sink = gst::ElementFactory::make("fakesink").build().unwrap();
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        nested.add_many([&queue, &sink]).unwrap();
        assert!(!async_of(&sink), "a sink added inside a child bin no longer prerolls");
        assert!(queue.find_property("async").is_none());

        queue.link(&sink).unwrap();
        let ghost = gst::GhostPad::with_target(&queue.static_pad("sink").unwrap()).unwrap();
        nested.add_pad(&ghost).unwrap();
        pipeline.by_name("t").unwrap().link(&nested).unwrap();
        nested.sync_state_with_parent().unwrap();
        let (res, state, pending) = pipeline.state(gst::ClockTime::from_seconds(5));
        assert!(res.is_ok() && state == gst::State::Playing, "{res:?} {state:?} {pending:?}");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
