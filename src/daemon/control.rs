//! Control API over HTTP on 127.0.0.1 (no authentication: keep it on loopback).
//!
//! - `GET /health`: 200 `{"status":"ok",...}` while frames flow; 503 before the pipeline plays or when frames stall.
//! - `GET /metrics`: Prometheus text (frames out, late frames/chunks, dropped frames, RTSP clients, restarts).
//! - `POST /say` `{"text": "...", "reference_wav": "/path.wav", "reference_text": "..."}` (reference optional):
//!   202 `{"id": n}`; the speech plays as soon as it is synthesized, replacing the mic. 400 bad JSON/fields,
//!   409 no text model, 413 body too large, 429 queue full, 503 when the input has no model (test source).
//! - `POST /interrupt`: 200 `{"interrupted": bool}`; stops speech at once and drops queued requests.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::stream::live::{self, LiveStats, SayError, SayRequest, SpeechControl};
use crate::stream::{Metrics, OUTPUT_FPS};

/// Largest request body accepted (`/say` text and options).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
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
            started: Instant::now(),
            last_frame_ms: AtomicU64::new(0),
        }
    }

    pub fn frame_pushed(&self) {
        self.last_frame_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
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
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
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
    reference_wav: Option<std::path::PathBuf>,
    #[serde(default)]
    reference_text: Option<String>,
}

fn say(speech: &SpeechControl, body: &[u8]) -> (u16, String) {
    let b: SayBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return json_error(400, &format!("body: expected JSON {{\"text\": \"...\"}}: {e}")),
    };
    let reference = match (b.reference_wav, b.reference_text) {
        (None, None) => None,
        (Some(p), Some(t)) => {
            let rate = crate::model::config::AudioConfig::default().sample_rate;
            match live::load_reference(&p, rate) {
                Ok(a) => Some((a, t)),
                Err(e) => return json_error(400, &format!("reference_wav: {e}")),
            }
        }
        _ => return json_error(400, "reference_wav and reference_text go together"),
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

fn route(state: &ControlState, req: &mut tiny_http::Request) -> (u16, String, &'static str) {
    use tiny_http::Method;
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let json = "application/json";
    let (code, body) = match (req.method(), path.as_str()) {
        (Method::Get, "/health") => state.health(),
        (Method::Get, "/metrics") => {
            let up = "# HELP jamflow_up The daemon is running.\n# TYPE jamflow_up gauge\njamflow_up 1\n".to_string();
            let live = state.live.as_ref().map(|l| l.prometheus(OUTPUT_FPS)).unwrap_or_default();
            return (200, up + &state.metrics.prometheus() + &live, "text/plain; version=0.0.4");
        }
        (Method::Post, "/say") | (Method::Post, "/interrupt") => {
            if req.body_length().is_some_and(|n| n as u64 > MAX_BODY_BYTES) {
                json_error(413, &format!("request body larger than {MAX_BODY_BYTES} bytes"))
            } else {
                let mut body = Vec::new();
                let _ = req.as_reader().take(MAX_BODY_BYTES + 1).read_to_end(&mut body);
                match (&state.speech, path.as_str()) {
                    _ if body.len() as u64 > MAX_BODY_BYTES => {
                        json_error(413, &format!("request body larger than {MAX_BODY_BYTES} bytes"))
                    }
                    (None, _) => json_error(503, NO_MODEL),
                    (Some(sp), "/say") => say(sp, &body),
                    (Some(sp), _) => (200, format!("{{\"interrupted\":{}}}\n", sp.interrupt())),
                }
            }
        }
        (_, "/health") | (_, "/metrics") | (_, "/say") | (_, "/interrupt") => json_error(405, "method not allowed"),
        _ => json_error(404, "unknown endpoint; try GET /health, GET /metrics, POST /say, POST /interrupt"),
    };
    (code, body, json)
}

impl ControlServer {
    /// Bind `address:port` (port 0: any free port; see [`ControlServer::addr`]) and serve on a thread.
    pub fn start(address: &str, port: u16, state: Arc<ControlState>) -> Result<Self, ControlError> {
        let bind = format!("{address}:{port}");
        let server = tiny_http::Server::http(&bind)
            .map_err(|e| ControlError { addr: bind.clone(), message: format!("cannot listen: {e}") })?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| ControlError { addr: bind.clone(), message: "not an IP address".into() })?;
        let server = Arc::new(server);
        let srv = server.clone();
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for mut req in srv.incoming_requests() {
                    let (code, body, ctype) = route(&state, &mut req);
                    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes())
                        .expect("static header is valid");
                    let resp = tiny_http::Response::from_string(body).with_status_code(code).with_header(header);
                    let _ = req.respond(resp);
                }
            })
            .map_err(|e| ControlError { addr: bind.clone(), message: format!("cannot start thread: {e}") })?;
        tracing::info!(url = %format!("http://{addr}"), "control API listening");
        Ok(Self { server, thread: Some(thread), addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
