//! The few W3C WebDriver commands the console test needs, spoken to `chromedriver` over plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

/// The W3C key of an element reference in WebDriver replies.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Session {
    port: u16,
    id: String,
}

/// One request to chromedriver; returns the reply's `value`, or an error with chromedriver's message.
pub fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("chromedriver: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let raw = read_reply(&mut s).map_err(|e| format!("chromedriver {method} {path}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("chromedriver: bad reply {text:?}"))?;
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("chromedriver {method} {path}: {e}: {body}"))?;
    match v["value"].get("error") {
        Some(err) => Err(format!("{method} {path}: {err}: {}", v["value"]["message"])),
        None => Ok(v["value"].clone()),
    }
}

/// Read one reply: up to Content-Length when given (chromedriver may keep the connection open), else to EOF.
fn read_reply(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: Option<usize> =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
            if let Some(len) = len {
                if raw.len() >= end + 4 + len {
                    raw.truncate(end + 4 + len);
                    return Ok(raw);
                }
            }
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Session {
    /// A headless Chromium session: no network beyond the page, no GPU, a fresh profile in `profile`.
    pub fn start(port: u16, chromium: &str, profile: &std::path::Path) -> Result<Self, String> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1100",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let v = call(port, "POST", "/session", Some(&caps))?;
        let id = v["sessionId"].as_str().ok_or_else(|| format!("no session id in {v}"))?.to_string();
        Ok(Self { port, id })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(self.port, method, &format!("/session/{}{path}", self.id), body.as_ref())
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).map(|_| ())
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page and return its result.
    pub fn eval(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// The element for a CSS selector.
    pub fn find(&self, css: &str) -> Result<String, String> {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})))?;
        v[ELEMENT_KEY].as_str().map(str::to_string).ok_or_else(|| format!("{css}: no element in {v}"))
    }

    pub fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find(css)?;
        self.cmd("POST", &format!("/element/{e}/value"), Some(json!({ "text": text }))).map(|_| ())
    }

    pub fn click(&self, css: &str) -> Result<(), String> {
        let e = self.find(css)?;
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({}))).map(|_| ())
    }

    pub fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css)?;
        Ok(self.cmd("GET", &format!("/element/{e}/text"), None)?.as_str().unwrap_or_default().to_string())
    }

    /// A PNG screenshot of the page.
    pub fn screenshot(&self) -> Result<Vec<u8>, String> {
        let v = self.cmd("GET", "/screenshot", None)?;
        jamflow::daemon::voices::decode_base64(v.as_str().unwrap_or_default())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.cmd("DELETE", "", None);
    }
}
