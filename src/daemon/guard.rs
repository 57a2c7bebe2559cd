//! Who may use the control API: the checks every request passes before it is routed.
//!
//! - Host: on a loopback bind only `127.0.0.1`, `localhost` and `[::1]` (any port) are accepted, so a web page
//!   cannot reach the API through DNS rebinding.
//! - Token: with `control.token` set, every endpoint but the public ones (`/health`, the console's static page)
//!   needs `Authorization: Bearer TOKEN` or the console's cookie `jamflow_token=TOKEN` (compared in constant time).
//! - POST: the body must be `application/json` (a cross-site form cannot send that without a CORS preflight, which
//!   this API never grants), and a request whose `Origin` is not this server, or that the browser marks
//!   `Sec-Fetch-Site: cross-site`, is refused.

/// The request headers the checks look at.
#[derive(Debug, Default, Clone)]
pub struct Head {
    pub post: bool,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub sec_fetch_site: Option<String>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub cookie: Option<String>,
}

impl Head {
    /// The headers of a tiny_http request.
    pub fn of(req: &tiny_http::Request) -> Self {
        let get = |name: &str| {
            req.headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().trim().to_string())
        };
        Self {
            post: *req.method() == tiny_http::Method::Post,
            host: get("Host"),
            origin: get("Origin"),
            sec_fetch_site: get("Sec-Fetch-Site"),
            content_type: get("Content-Type"),
            authorization: get("Authorization"),
            cookie: get("Cookie"),
        }
    }
}

/// Name of the console's token cookie.
pub const TOKEN_COOKIE: &str = "jamflow_token";

/// The access policy of one server.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Required bearer token (`control.token`).
    pub token: Option<String>,
    /// The server listens on loopback only (Host names are then restricted).
    pub loopback: bool,
}

/// A refused request: HTTP status and the reason.
pub type Refusal = (u16, String);

fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Equal without an early exit on the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Guard {
    /// Check a request for a `public` (no token) or protected endpoint.
    pub fn check(&self, h: &Head, public: bool) -> Result<(), Refusal> {
        if self.loopback {
            let ok = h.host.as_deref().map(host_name).is_some_and(|n| ["127.0.0.1", "localhost", "::1"].contains(&n));
            if !ok {
                return Err((403, format!("Host {:?} refused: this API answers to 127.0.0.1 / localhost", h.host)));
            }
        }
        if !public {
            self.check_token(h)?;
        }
        if h.post {
            self.check_post(h)?;
        }
        Ok(())
    }

    fn check_token(&self, h: &Head) -> Result<(), Refusal> {
        let Some(want) = &self.token else { return Ok(()) };
        let bearer = h.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).map(str::trim);
        let cookie = h.cookie.as_deref().and_then(|c| {
            c.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == TOKEN_COOKIE).map(|(_, v)| v)
        });
        if [bearer, cookie].into_iter().flatten().any(|t| same(t.as_bytes(), want.as_bytes())) {
            Ok(())
        } else {
            Err((401, "missing or wrong token: send Authorization: Bearer TOKEN (control.token)".into()))
        }
    }

    fn check_post(&self, h: &Head) -> Result<(), Refusal> {
        if h.sec_fetch_site.as_deref() == Some("cross-site") {
            return Err((403, "cross-site request refused".into()));
        }
        if let Some(origin) = &h.origin {
            let own = h.host.as_deref().map(|host| format!("http://{host}"));
            if own.as_deref() != Some(origin.as_str()) {
                return Err((403, format!("cross-origin request from {origin:?} refused")));
            }
        }
        let json = h
            .content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err((
                415,
                format!("POST bodies must be Content-Type: application/json, found {:?}", h.content_type),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(host: &str) -> Head {
        Head { host: Some(host.into()), ..Head::default() }
    }

    fn post(host: &str) -> Head {
        Head { post: true, content_type: Some("application/json".into()), ..get(host) }
    }

    #[test]
    fn loopback_answers_only_to_local_host_names() {
        let g = Guard { token: None, loopback: true };
        for h in ["127.0.0.1", "127.0.0.1:8620", "localhost:1", "[::1]:8620", "[::1]"] {
            g.check(&get(h), false).unwrap_or_else(|e| panic!("{h}: {e:?}"));
        }
        assert_eq!(g.check(&get("evil.example:8620"), true).unwrap_err().0, 403);
        assert_eq!(g.check(&Head::default(), true).unwrap_err().0, 403);
        let wide = Guard { token: Some("t".repeat(16)), loopback: false };
        assert_eq!(wide.check(&get("kiosk7.lan:8620"), true), Ok(()));
    }

    #[test]
    fn token_by_bearer_or_cookie() {
        let g = Guard { token: Some("0123456789abcdef".into()), loopback: false };
        let mut h = get("k:1");
        assert_eq!(g.check(&h, true), Ok(()), "public endpoints need no token");
        assert_eq!(g.check(&h, false).unwrap_err().0, 401);
        h.authorization = Some("Bearer 0123456789abcdeX".into());
        assert_eq!(g.check(&h, false).unwrap_err().0, 401);
        h.authorization = Some("Bearer 0123456789abcdef".into());
        assert_eq!(g.check(&h, false), Ok(()));
        h.authorization = None;
        h.cookie = Some("a=b; jamflow_token=0123456789abcdef".into());
        assert_eq!(g.check(&h, false), Ok(()));
        h.cookie = Some("jamflow_token=0123456789abcde".into());
        assert_eq!(g.check(&h, false).unwrap_err().0, 401);
    }

    #[test]
    fn posts_are_json_and_same_origin() {
        let g = Guard { token: None, loopback: true };
        let mut h = post("127.0.0.1:8620");
        assert_eq!(g.check(&h, false), Ok(()));
        h.content_type = Some("application/json; charset=utf-8".into());
        assert_eq!(g.check(&h, false), Ok(()));
        h.content_type = Some("text/plain".into());
        assert_eq!(g.check(&h, false).unwrap_err().0, 415);
        h.content_type = None;
        assert_eq!(g.check(&h, false).unwrap_err().0, 415);
        let mut h = post("127.0.0.1:8620");
        h.origin = Some("http://127.0.0.1:8620".into());
        assert_eq!(g.check(&h, false), Ok(()));
        h.origin = Some("http://evil.example".into());
        assert_eq!(g.check(&h, false).unwrap_err().0, 403);
        let mut h = post("127.0.0.1:8620");
        h.sec_fetch_site = Some("cross-site".into());
        assert_eq!(g.check(&h, false).unwrap_err().0, 403);
    }
}
