//! Control API and web console over HTTP (`[control]`: 127.0.0.1:8620 by default). Every request first passes
//! [`super::guard`] (Host names on loopback, the bearer token when set, JSON-only and same-origin POSTs).
//!
//! - `GET /` (+ `/console.css`, `/console.js`): the web console ([`super::console`]); public, like `/health`.
//! - `GET /health`: 200 `{"status":"ok",...}` while frames flow; 503 before the pipeline plays or when frames stall.
//! - `GET /metrics`: Prometheus text (frames out, late frames/chunks, dropped frames, RTSP clients, restarts).
//! - `GET /api/status`: health, counters and the per-second history the console plots; `GET /api/config`: the
//!   running configuration, secrets masked; `GET /voices`: reference voices of `control.voices_dir`.
//! - `GET /snapshot.jpg`: the newest preview picture; `GET /preview.mjpeg`: the preview as an MJPEG stream
//!   (multipart/x-mixed-replace, [`crate::stream::preview::PREVIEW_FPS`] pictures a second).
//! - `POST /say` `{"text": "...", "reference_voice": "NAME" | "reference_wav_base64": "...", "reference_text": ".."}`
//!   (reference optional): 202 `{"id": n}`; the speech plays as soon as it is synthesized, replacing the mic.
//!   400 bad JSON/fields, 409 no text model, 413 body too large, 429 queue full, 503 when the input has no model.
//! - `POST /interrupt`: 200 `{"interrupted": bool}`; stops speech at once and drops queued requests.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::console::History;
use super::guard::{Guard, Head};
use super::voices::{self, ReferenceSpec, MAX_REFERENCE_BYTES};
use crate::live::{LiveStats, SayError, SayRequest, SpeechControl};
use crate::stream::preview::Preview;
use crate::stream::{Metrics, Prom};

/// Largest request body accepted without a reference upload (`/say` text and options, `/interrupt`).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// Largest `/say` body with a base64 reference upload.
pub const MAX_SAY_BODY_BYTES: u64 = MAX_BODY_BYTES + (MAX_REFERENCE_BYTES as u64).div_ceil(3) * 4;
/// MJPEG preview streams served at once (each holds a thread).
pub const MAX_PREVIEW_CLIENTS: usize = 4;
/// How long `/snapshot.jpg` waits for a fresh picture when the preview encoder was idle.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(1);
/// Frames older than this make `/health` report a stall.
const STALL_MS: u64 = 2000;

/// Shared state the API reports.
#[derive(Debug)]
pub struct ControlState {
    pub metrics: Arc<Metrics>,
    /// The live source's counters and text mode (absent with the test source).
    pub live: Option<Arc<LiveStats>>,
    pub speech: Option<SpeechControl>,
    pub playing: AtomicBool,
    /// Who may call (token, loopback Host names).
    pub guard: Guard,
    /// The console's preview pictures (absent: `/snapshot.jpg` and `/preview.mjpeg` answer 503).
    pub preview: Option<Arc<Preview>>,
    /// The running configuration, secrets masked (`GET /api/config`).
    pub config: serde_json::Value,
    /// Reference voices by name (`control.voices_dir`).
    pub voices_dir: Option<PathBuf>,
    /// Per-second samples of the metrics for the console's plots.
    pub history: History,
    started: Instant,
    /// Milliseconds since `started` at the last pushed frame.
    last_frame_ms: AtomicU64,
}

impl ControlState {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            live: None,
            speech: None,
            playing: AtomicBool::new(false),
            guard: Guard::default(),
            preview: None,
            config: serde_json::Value::Null,
            voices_dir: None,
            history: History::default(),
            started: Instant::now(),
            last_frame_ms: AtomicU64::new(0),
        }
    }

    pub fn frame_pushed(&self) {
        self.last_frame_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn uptime_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn health(&self) -> (u16, String) {
        let now = self.started.elapsed().as_millis() as u64;
        let since = now.saturating_sub(self.last_frame_ms.load(Ordering::Relaxed));
        let playing = self.playing.load(Ordering::Relaxed);
        let frames = self.metrics.frames_out.load(Ordering::Relaxed);
        let ok = playing && frames > 0 && since < STALL_MS;
        let status = if ok {
            "ok"
        } else if !playing {
            "starting"
        } else {
            "stalled"
        };
        let body = format!(
            "{{\"status\":\"{status}\",\"playing\":{playing},\"frames_out\":{frames},\"ms_since_last_frame\":{since},\
             \"uptime_s\":{:.1}}}\n",
            now as f64 / 1000.0
        );
        (if ok { 200 } else { 503 }, body)
    }
}

/// The running API server.
pub struct ControlServer {
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// Errors starting the API.
#[derive(Debug, thiserror::Error)]
#[error("control API on {addr}: {message}")]
pub struct ControlError {
    pub addr: String,
    pub message: String,
}

const NO_MODEL: &str = "text mode (/say, /interrupt) needs a model: the daemon streams its test source \
                        (set input.kind to alsa, wav or none with model.package)";

impl std::fmt::Debug for SpeechControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpeechControl")
    }
}

/// The `/say` body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SayBody {
    text: String,
    #[serde(default)]
    reference_voice: Option<String>,
    #[serde(default)]
    reference_wav_base64: Option<String>,
    #[serde(default)]
    reference_text: Option<String>,
    /// Refused with a clear message: a path from the request is never opened.
    #[serde(default)]
    reference_wav: Option<serde_json::Value>,
}

fn say(state: &ControlState, speech: &SpeechControl, body: &[u8]) -> (u16, String) {
    let b: SayBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return json_error(400, &format!("body: expected JSON {{\"text\": \"...\"}}: {e}")),
    };
    if b.reference_wav.is_some() {
        return json_error(
            400,
            "reference_wav: file paths are not accepted; name a voice of control.voices_dir (reference_voice) or \
             upload the WAV (reference_wav_base64 + reference_text)",
        );
    }
    let spec = ReferenceSpec {
        voice: b.reference_voice.as_deref(),
        wav_base64: b.reference_wav_base64.as_deref(),
        text: b.reference_text.as_deref(),
    };
    let reference = match voices::resolve(state.voices_dir.as_deref(), &spec, speech.sample_rate()) {
        Ok(r) => r,
        Err(e) => return json_error(400, &e),
    };
    match speech.say(SayRequest { text: b.text, reference }) {
        Ok(id) => (202, format!("{{\"id\":{id},\"queued\":true}}\n")),
        Err(e @ SayError::Invalid(_)) => json_error(400, &e.to_string()),
        Err(e @ SayError::NoTextModel) => json_error(409, &e.to_string()),
        Err(e @ SayError::Busy) => json_error(429, &e.to_string()),
    }
}

fn json_error(code: u16, message: &str) -> (u16, String) {
    (code, format!("{{\"error\":{}}}\n", serde_json::Value::String(message.to_string())))
}

/// The console's status: health, counters and the history it plots.
fn status(state: &ControlState) -> String {
    let (_, health) = state.health();
    let m = &state.metrics;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let live = state.live.as_ref().map(|l| {
        let ms = |q| l.latency_quantile(q).filter(|v| v.is_finite()).map(|v| v * 1000.0);
        serde_json::json!({
            "rtf": l.rtf(),
            "latency_p50_ms": ms(0.5),
            "latency_p95_ms": ms(0.95),
            "windows": g(&l.windows),
            "late_frames": g(&l.late_frames),
            "input_samples": g(&l.input_samples),
            "input_opens": g(&l.input_opens),
            "say_requests": g(&l.say_requests),
            "speech_started": g(&l.speech_started),
            "speech_frames": g(&l.speech_frames),
            "speech_errors": g(&l.speech_errors),
            "speech_gap_frames": g(&l.speech_gap_frames),
            "delay_frames": g(&l.delay_frames),
        })
    });
    let v = serde_json::json!({
        "health": serde_json::from_str::<serde_json::Value>(&health).unwrap_or_default(),
        "stream": {
            "frames_out": g(&m.frames_out),
            "late_frames": g(&m.late_frames),
            "late_chunks": g(&m.late_chunks),
            "dropped_frames": g(&m.dropped_frames),
            "rtsp_clients": m.rtsp_clients.load(Ordering::Relaxed),
            "pipeline_restarts": g(&m.pipeline_restarts),
            "level_dbfs": m.audio_level_mb.load(Ordering::Relaxed) as f64 / 100.0,
        },
        "live": live,
        "text_mode": state.speech.is_some(),
        "speaking": state.speech.as_ref().is_some_and(|s| s.busy()),
        "preview": state.preview.is_some(),
        "history": state.history.samples(),
    });
    v.to_string()
}

/// What a request gets.
struct Reply {
    code: u16,
    body: Vec<u8>,
    ctype: &'static str,
}

impl Reply {
    fn json((code, body): (u16, String)) -> Self {
        Self { code, body: body.into_bytes(), ctype: "application/json" }
    }
}

enum Routed {
    Reply(Reply),
    /// Hand the request to an MJPEG streaming thread.
    Mjpeg,
}

const ENDPOINTS: &str = "GET / (console), /health, /metrics, /api/status, /api/config, /voices, /snapshot.jpg, \
                         /preview.mjpeg; POST /say, /interrupt";

/// Every endpoint path besides the console's static files.
const KNOWN: [&str; 9] = [
    "/health",
    "/metrics",
    "/api/status",
    "/api/config",
    "/voices",
    "/snapshot.jpg",
    "/preview.mjpeg",
    "/say",
    "/interrupt",
];

fn is_public(path: &str) -> bool {
    path == "/health" || super::console::ASSETS.iter().any(|(p, _, _)| *p == path)
}

fn route(state: &ControlState, req: &mut tiny_http::Request) -> Routed {
    use tiny_http::Method;
    let path = req.url().split('?').next().unwrap_or("").to_string();
    if let Err(refusal) = state.guard.check(&Head::of(req), is_public(&path)) {
        return Routed::Reply(Reply::json(json_error(refusal.0, &refusal.1)));
    }
    let reply = match (req.method(), path.as_str()) {
        (Method::Get, "/health") => state.health(),
        (Method::Get, "/metrics") => {
            let mut p = Prom::default();
            p.gauge("jamflow_up", "The daemon is running.", 1);
            state.metrics.write_prometheus(&mut p);
            if let Some(l) = &state.live {
                l.write_prometheus(&mut p);
            }
            let body = p.finish();
            return Routed::Reply(Reply { code: 200, body: body.into_bytes(), ctype: "text/plain; version=0.0.4" });
        }
        (Method::Get, "/api/status") => (200, status(state)),
        (Method::Get, "/api/config") => (200, state.config.to_string()),
        (Method::Get, "/voices") => {
            (200, serde_json::json!({ "voices": voices::list(state.voices_dir.as_deref()) }).to_string())
        }
        (Method::Get, "/snapshot.jpg") => match state.preview.as_ref().and_then(|p| p.fresh(SNAPSHOT_WAIT)) {
            Some((_, jpeg)) => return Routed::Reply(Reply { code: 200, body: jpeg.to_vec(), ctype: "image/jpeg" }),
            None => json_error(503, "no preview picture yet (the control API is on, the pipeline not yet)"),
        },
        (Method::Get, "/preview.mjpeg") if state.preview.is_some() => return Routed::Mjpeg,
        (Method::Get, "/preview.mjpeg") => json_error(503, "no preview in this daemon"),
        (Method::Get, p) if is_public(p) => {
            let (_, ctype, body) = super::console::ASSETS.iter().find(|(a, _, _)| *a == p).expect("public asset");
            return Routed::Reply(Reply { code: 200, body: body.as_bytes().to_vec(), ctype });
        }
        (Method::Post, "/say") | (Method::Post, "/interrupt") => post(state, req, &path),
        (_, p) if is_public(p) || KNOWN.contains(&p) => json_error(405, "method not allowed"),
        _ => json_error(404, &format!("unknown endpoint; try {ENDPOINTS}")),
    };
    Routed::Reply(Reply::json(reply))
}

fn post(state: &ControlState, req: &mut tiny_http::Request, path: &str) -> (u16, String) {
    let limit = if path == "/say" { MAX_SAY_BODY_BYTES } else { MAX_BODY_BYTES };
    if req.body_length().is_some_and(|n| n as u64 > limit) {
        return json_error(413, &format!("request body larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    let _ = req.as_reader().take(limit + 1).read_to_end(&mut body);
    match (&state.speech, path) {
        _ if body.len() as u64 > limit => json_error(413, &format!("request body larger than {limit} bytes")),
        _ if oversized(&body) => {
            json_error(413, &format!("request body larger than {MAX_BODY_BYTES} bytes besides a reference upload"))
        }
        (None, _) => json_error(503, NO_MODEL),
        (Some(sp), "/say") => say(state, sp, &body),
        (Some(sp), _) => (200, format!("{{\"interrupted\":{}}}\n", sp.interrupt())),
    }
}

/// A body over [`MAX_BODY_BYTES`] that is not mostly a `/say` reference upload.
fn oversized(body: &[u8]) -> bool {
    if body.len() as u64 <= MAX_BODY_BYTES {
        return false;
    }
    let upload =
        serde_json::from_slice::<SayBody>(body).ok().and_then(|b| b.reference_wav_base64).map_or(0, |s| s.len() as u64);
    body.len() as u64 - upload > MAX_BODY_BYTES
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

/// Boundary between the pictures of `/preview.mjpeg`.
const MJPEG_BOUNDARY: &str = "jamflowframe";

/// The body of `/preview.mjpeg`: each new preview picture as one part; ends when the server stops.
struct MjpegBody {
    preview: Arc<Preview>,
    stop: Arc<AtomicBool>,
    seq: u64,
    part: Vec<u8>,
    pos: usize,
}

impl Read for MjpegBody {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.part.len() {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            self.preview.want();
            if let Some((seq, jpeg)) = self.preview.wait_newer(self.seq, Duration::from_millis(500)) {
                self.seq = seq;
                self.part =
                    format!("--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", jpeg.len())
                        .into_bytes();
                self.part.extend_from_slice(&jpeg);
                self.part.extend_from_slice(b"\r\n");
                self.pos = 0;
            }
        }
        let n = out.len().min(self.part.len() - self.pos);
        out[..n].copy_from_slice(&self.part[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn serve_mjpeg(req: tiny_http::Request, preview: Arc<Preview>, stop: Arc<AtomicBool>, clients: Arc<AtomicUsize>) {
    if clients.fetch_add(1, Ordering::SeqCst) >= MAX_PREVIEW_CLIENTS {
        clients.fetch_sub(1, Ordering::SeqCst);
        let (code, body) = json_error(503, &format!("at most {MAX_PREVIEW_CLIENTS} preview streams at once"));
        let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(code));
        return;
    }
    let spawned = std::thread::Builder::new().name("preview".into()).spawn({
        let clients = clients.clone();
        move || {
            let body = MjpegBody { preview, stop, seq: 0, part: Vec::new(), pos: 0 };
            let headers = vec![
                header("Content-Type", &format!("multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}")),
                header("Cache-Control", "no-store"),
            ];
            let _ = req.respond(tiny_http::Response::new(200.into(), headers, body, None, None));
            clients.fetch_sub(1, Ordering::SeqCst);
        }
    });
    if spawned.is_err() {
        clients.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve(srv: &tiny_http::Server, state: &Arc<ControlState>, stop: &Arc<AtomicBool>) {
    let clients = Arc::new(AtomicUsize::new(0));
    for mut req in srv.incoming_requests() {
        match route(state, &mut req) {
            Routed::Mjpeg => {
                let preview = state.preview.clone().expect("routed to MJPEG with a preview");
                serve_mjpeg(req, preview, stop.clone(), clients.clone());
            }
            Routed::Reply(r) => {
                let resp = tiny_http::Response::from_data(r.body)
                    .with_status_code(r.code)
                    .with_header(header("Content-Type", r.ctype))
                    .with_header(header("Cache-Control", "no-store"))
                    .with_header(header("X-Content-Type-Options", "nosniff"));
                let _ = req.respond(resp);
            }
        }
    }
}

/// Sample the metrics once a second into the console's history until `stop`.
fn sample_history(state: &ControlState, stop: &AtomicBool) {
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            state.history.sample(state.uptime_s(), &state.metrics, state.live.as_deref());
            next += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl ControlServer {
    /// Bind `address:port` (port 0: any free port; see [`ControlServer::addr`]) and serve on a thread.
    pub fn start(address: &str, port: u16, state: Arc<ControlState>) -> Result<Self, ControlError> {
        let host = if address.contains(':') && !address.starts_with('[') {
            format!("[{address}]")
        } else {
            address.to_string()
        };
        let bind = format!("{host}:{port}");
        let server = tiny_http::Server::http(&bind)
            .map_err(|e| ControlError { addr: bind.clone(), message: format!("cannot listen: {e}") })?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| ControlError { addr: bind.clone(), message: "not an IP address".into() })?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let spawn_err = |e: std::io::Error| ControlError { addr: bind.clone(), message: format!("cannot start: {e}") };
        let (srv, st, sp) = (server.clone(), state.clone(), stop.clone());
        let api = std::thread::Builder::new().name("control".into()).spawn(move || serve(&srv, &st, &sp));
        let api = api.map_err(spawn_err)?;
        let sp = stop.clone();
        let sampler = std::thread::Builder::new().name("history".into()).spawn(move || sample_history(&state, &sp));
        let sampler = sampler.map_err(spawn_err)?;
        tracing::info!(url = %format!("http://{addr}"), "control API and web console listening");
        Ok(Self { server, threads: vec![api, sampler], addr, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
