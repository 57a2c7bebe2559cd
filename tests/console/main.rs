//! The web console and the control surface of a running jamflowd: the guard over the real server (token, Host,
//! JSON-only and same-origin POSTs, masked config, refusal to bind beyond loopback without a token), the preview
//! endpoints, and the page in a real headless Chromium driven through chromedriver (Debian `chromium` +
//! `chromium-driver`, installed by `scripts/setup.sh --dev`): it loads, the preview changes, text typed into the
//! say box and a click on Say produce speech frames, and a reference voice uploaded from the page is accepted.
//! Screenshots are kept in `target/test-artifacts/console/`.

mod webdriver;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const JAMFLOWD: &str = env!("CARGO_BIN_EXE_jamflowd");
const TOKEN: &str = "console-test-token-0123456789";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process killed when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}")))
}

/// One HTTP/1.0 request with extra header lines; returns (status, headers, body bytes).
fn http(port: u16, method: &str, path: &str, extra: &[&str], body: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n", body.len());
    if !extra.iter().any(|h| h.starts_with("Host:")) {
        head += "Host: 127.0.0.1\r\n";
    }
    for h in extra {
        head += &format!("{h}\r\n");
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP reply");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, head, raw[split + 4..].to_vec())
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() >= limit {
            eprintln!("{what} not within {limit:?}");
        }
        assert!(start.elapsed() < limit, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bearer() -> String {
    format!("Authorization: Bearer {TOKEN}")
}

#[test]
fn control_surface_needs_the_token_json_and_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (ctl, rtsp) = (free_port(), free_port());
    let cfg = dir.path().join("c.toml");
    let text = format!(
        "[outputs.rtsp]\nport = {rtsp}\npassword = \"rtsp-secret\"\nusername = \"viewer\"\n\
         [control]\nport = {ctl}\ntoken = \"{TOKEN}\"\n"
    );
    std::fs::write(&cfg, text).unwrap();
    // Beyond loopback without a token: refused before anything starts.
    let open = dir.path().join("open.toml");
    std::fs::write(&open, format!("[outputs.rtsp]\nport = {rtsp}\n[control]\naddress = \"0.0.0.0\"\n")).unwrap();
    let out = Command::new(JAMFLOWD).args(["--check", "--config", open.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("control.token"), "{err}");

    let _d = spawn(Command::new(JAMFLOWD).args(["--config", cfg.to_str().unwrap()]).env_remove("NOTIFY_SOCKET"));
    wait_for("health", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", ctl)).is_ok() && http(ctl, "GET", "/health", &[], "").0 == 200
    });
    let b = bearer();
    // Public: /health and the page. Everything else needs the token, by header or by the console's cookie.
    let (code, _, page) = http(ctl, "GET", "/", &[], "");
    assert!(code == 200 && String::from_utf8_lossy(&page).contains("/console.js"));
    assert_eq!(http(ctl, "GET", "/console.js", &[], "").0, 200);
    assert_eq!(http(ctl, "GET", "/api/status", &[], "").0, 401);
    assert_eq!(http(ctl, "GET", "/metrics", &["Authorization: Bearer wrong-token-0123456789"], "").0, 401);
    assert_eq!(http(ctl, "GET", "/metrics", &[&b], "").0, 200);
    let cookie = format!("Cookie: jamflow_token={TOKEN}");
    let (code, _, status) = http(ctl, "GET", "/api/status", &[&cookie], "");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["health"]["status"], "ok", "{status}");
    assert_eq!(status["text_mode"], false);
    // DNS rebinding: a foreign Host name is refused even with the token.
    assert_eq!(http(ctl, "GET", "/api/status", &[&b, "Host: evil.example"], "").0, 403);
    // The running config, secrets masked.
    let (code, _, cfg) = http(ctl, "GET", "/api/config", &[&b], "");
    let cfg = String::from_utf8_lossy(&cfg);
    assert!(code == 200 && !cfg.contains(TOKEN) && !cfg.contains("rtsp-secret") && cfg.contains("***"), "{cfg}");
    // POST: JSON only, same origin only. (The test source has no model: a POST that passes the guard is 503.)
    let json = "Content-Type: application/json";
    assert_eq!(http(ctl, "POST", "/interrupt", &[&b, "Content-Type: text/plain"], "{}").0, 415);
    assert_eq!(http(ctl, "POST", "/interrupt", &[&b], "{}").0, 415);
    assert_eq!(http(ctl, "POST", "/interrupt", &[&b, json, "Origin: http://evil.example"], "{}").0, 403);
    assert_eq!(http(ctl, "POST", "/interrupt", &[&b, json, "Sec-Fetch-Site: cross-site"], "{}").0, 403);
    assert_eq!(http(ctl, "POST", "/interrupt", &[json], "{}").0, 401);
    let own = format!("Origin: http://127.0.0.1:{ctl}");
    let host = format!("Host: 127.0.0.1:{ctl}");
    assert_eq!(http(ctl, "POST", "/interrupt", &[&b, json, &own, &host], "{}").0, 503);
    // The preview: a JPEG snapshot, and an MJPEG stream of them.
    wait_for("a preview picture", Duration::from_secs(10), || http(ctl, "GET", "/snapshot.jpg", &[&b], "").0 == 200);
    let (_, head, jpeg) = http(ctl, "GET", "/snapshot.jpg", &[&b], "");
    assert!(head.contains("image/jpeg") && jpeg.starts_with(&[0xFF, 0xD8]), "{head}");
    let mut s = TcpStream::connect(("127.0.0.1", ctl)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /preview.mjpeg HTTP/1.1\r\nHost: 127.0.0.1\r\n{b}\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.windows(12).filter(|w| w == b"jamflowframe").count() < 3 {
        let n = s.read(&mut buf).expect("MJPEG bytes");
        assert!(n > 0, "MJPEG stream ended");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("multipart/x-mixed-replace") && text.contains("Content-Type: image/jpeg"), "{text:.300}");
}

/// chromedriver and Chromium (Debian `chromium-driver`, `chromium`; override with JAMFLOW_CHROMEDRIVER /
/// JAMFLOW_CHROMIUM).
fn browser_paths() -> (String, String) {
    let driver = std::env::var("JAMFLOW_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("JAMFLOW_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    for p in [&driver, &chromium] {
        assert!(
            Path::new(p).exists(),
            "{p} missing: scripts/setup.sh --dev installs the Debian packages chromium and chromium-driver"
        );
    }
    (driver, chromium)
}

/// A checksum of the pixels the page's preview <img> shows now (null before its first picture).
const PREVIEW_HASH: &str = "const img = document.getElementById('preview');\
    if (!img || !img.naturalWidth) return null;\
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;\
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);\
    const d = g.getImageData(0, 0, c.width, c.height).data; let h = 0;\
    for (let i = 0; i < d.length; i += 3) h = (Math.imul(h, 31) + d[i]) >>> 0;\
    return h;";

fn keep(name: &str, png: &[u8]) -> PathBuf {
    let dir = root().join("target/test-artifacts/console");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    path
}

#[test]
fn console_in_headless_chromium_previews_and_speaks() {
    let (driver, chromium) = browser_paths();
    let dir = tempfile::tempdir().unwrap();
    let pkg = jamflow::daemon::default_package(&root()).expect("a default package in engines/");
    let portrait = root().join("assets/portraits/astronaut.png");
    let (ctl, wd) = (free_port(), free_port());
    let mp4 = dir.path().join("console.mp4");
    let _d = spawn(
        Command::new(JAMFLOWD)
            // The joint model speaks: the page uploads a reference voice, which a Piper voice cannot follow.
            .args(["--input", "none", "--no-rtsp", "--speech-engine", "model", "--control-port", &ctl.to_string()])
            .arg("--package")
            .arg(&pkg)
            .arg("--portrait")
            .arg(&portrait)
            .arg("--mp4")
            .arg(&mp4)
            .env_remove("NOTIFY_SOCKET"),
    );
    let _cd = spawn(Command::new(&driver).arg(format!("--port={wd}")));
    wait_for("chromedriver", Duration::from_secs(20), || webdriver::call(wd, "GET", "/status", None).is_ok());
    wait_for("jamflowd health", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", ctl)).is_ok() && http(ctl, "GET", "/health", &[], "").0 == 200
    });
    let session = webdriver::Session::start(wd, &chromium, &dir.path().join("profile")).expect("browser session");
    session.goto(&format!("http://127.0.0.1:{ctl}/")).unwrap();
    let mut badge = Err(String::new());
    wait_for("the page's health badge", Duration::from_secs(30), || {
        let now = session.text("#health");
        if now != badge {
            eprintln!("health badge: {now:?}");
            badge = now;
        }
        badge.as_deref() == Ok("ok")
    });
    // The preview changes (idle animation: blinks, head and breathing motion).
    let hash = || session.eval(PREVIEW_HASH, json!([])).unwrap().as_u64();
    wait_for("the first preview picture", Duration::from_secs(20), || hash().is_some());
    let first = hash().unwrap();
    wait_for("a changed preview", Duration::from_secs(20), || hash().is_some_and(|h| h != first));
    wait_for("plotted history", Duration::from_secs(10), || {
        session.eval("return document.querySelectorAll('#plot-rtf polyline').length", json!([])).unwrap() == 1
    });
    let config = session.text("#config").unwrap();
    assert!(config.contains("\"control\""), "{config:.200}");
    let idle = keep("console-idle.png", &session.screenshot().unwrap());
    // Type, click Say, and the metrics the page shows count speech frames.
    session.type_into("#say-text", "Hello from the web console.").unwrap();
    session.click("#say-button").unwrap();
    wait_for("the say result", Duration::from_secs(10), || {
        session.text("#say-result").is_ok_and(|t| t.starts_with("queued"))
    });
    wait_for("speech frames on the page", Duration::from_secs(90), || {
        session.text("#speech-frames").ok().and_then(|t| t.parse::<u64>().ok()).is_some_and(|n| n >= 10)
    });
    let speaking = keep("console-speaking.png", &session.screenshot().unwrap());
    let (_, _, metrics) = http(ctl, "GET", "/metrics", &[], "");
    let metrics = String::from_utf8_lossy(&metrics);
    let frames: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("jamflow_speech_frames_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("speech frame counter");
    assert!(frames >= 10.0, "{frames} speech frames in /metrics");
    session.click("#interrupt-button").unwrap();
    wait_for("the interrupt result", Duration::from_secs(10), || {
        session.text("#say-result").is_ok_and(|t| t == "interrupted" || t == "nothing to stop")
    });
    upload_reference_voice(&session, dir.path());
    let uploaded = keep("console-upload.png", &session.screenshot().unwrap());
    session.click("#interrupt-button").unwrap();
    eprintln!("screenshots: {} {} {}", idle.display(), speaking.display(), uploaded.display());
}

/// Choose "upload…" in the voice picker, attach a WAV and its transcript, click Say: the upload (bytes, never a
/// path) is decoded, validated and queued.
fn upload_reference_voice(session: &webdriver::Session, dir: &Path) {
    let wav = dir.join("my-voice.wav");
    let voice: Vec<f32> = (0..48_000).map(|i| 0.2 * (i as f32 * 0.05).sin() * ((i / 2400) % 2) as f32).collect();
    jamflow::audio::wav::write(&wav, 24_000, &voice, jamflow::audio::wav::WavFormat::Pcm16).unwrap();
    session.click("#say-voice option[value='@upload']").unwrap();
    wait_for("the upload form", Duration::from_secs(5), || {
        session.eval("return !document.getElementById('upload').hidden", json!([])).unwrap() == true
    });
    session.type_into("#say-file", wav.to_str().unwrap()).unwrap();
    session.type_into("#say-ref-text", "A test recording.").unwrap();
    session.click("#say-button").unwrap();
    let mut result = String::new();
    wait_for("the upload's say result", Duration::from_secs(10), || {
        result = session.text("#say-result").unwrap_or_default();
        result.starts_with("queued") || result.starts_with("refused")
    });
    assert!(result.starts_with("queued"), "upload refused: {result}");
}
