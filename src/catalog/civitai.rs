//! The CivitAI client: by-hash lookups and model answers (for tags), polite
//! enough to run unattended over a library of thousands of files.
//!
//! CivitAI is a shared service behind Cloudflare, so the client paces every
//! request (one a second by default, all endpoints together), keeps at most
//! four in flight, gives up on a request after a timeout, retries 429, 5xx
//! and Cloudflare's HTML refusals with exponential backoff honouring
//! Retry-After, and stops asking for the rest of the run when the service
//! keeps failing. Every lookup still ends found, not found or failed with a
//! reason; no answer, however odd, panics. The API key goes only to the
//! configured host as a Bearer token (never on a redirect) and never into a
//! message or log line.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::metadata::u64_of;
use crate::config::{CivitaiSettings, Secret};

/// Answers larger than this are refused (a by-hash answer is a few KiB).
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// The most hashes one bulk request may carry (CivitAI's limit).
pub const BULK_MAX: usize = 100;
/// After this many lookups in a row failed for a retryable reason, the rest
/// of the run asks nothing.
const BREAKER: u32 = 5;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://civitai.com`, without a trailing slash.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub requests_per_second: f64,
    pub timeout: Duration,
    /// Retries of a 429, 5xx or refusal (a timeout or network error is
    /// retried once).
    pub max_retries: u32,
    /// The first backoff, doubled at each retry, when no Retry-After says.
    pub backoff: Duration,
    /// A Retry-After longer than this ends the run's lookups as failed.
    pub max_wait: Duration,
    pub max_in_flight: usize,
}

impl ClientConfig {
    pub fn from_settings(s: &CivitaiSettings) -> ClientConfig {
        ClientConfig {
            base_url: s.url.trim_end_matches('/').to_string(),
            api_key: s.api_key.clone(),
            requests_per_second: s.requests_per_second,
            timeout: Duration::from_secs(s.timeout_secs.max(1)),
            max_retries: 3,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
            max_in_flight: 4,
        }
    }
}

/// Why a request got no usable answer. Messages name the URL, never the key.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not found (HTTP 404: {message})")]
    NotFound { url: String, message: String },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "{url}: refused (HTTP {status} with an HTML page, CivitAI's Cloudflare front); try again later"
    )]
    Refused { url: String, status: u16 },
    #[error("{url}: no answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    #[error("{url}: malformed JSON: {source}")]
    Malformed {
        url: String,
        source: serde_json::Error,
    },
    #[error("{url}: told to wait {secs} s (Retry-After), longer than the {max} s gen waits")]
    WaitTooLong { url: String, secs: u64, max: u64 },
}

impl FetchError {
    /// Worth another try later in the same run.
    fn retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::Refused { .. }
            | FetchError::Timeout { .. }
            | FetchError::Network { .. } => true,
            _ => false,
        }
    }
    /// A network-level failure, retried only once.
    fn transport(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout { .. } | FetchError::Network { .. }
        )
    }
}

/// How one file's lookup ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Found {
        version: Value,
        /// The `/api/v1/models/{id}` answer, or why it is missing.
        model: Result<Value, String>,
    },
    NotFound(String),
    Failed(String),
}

/// Spaces requests: each takes the next free slot, `interval` after the
/// previous one; a server's "slow down" pushes every later slot back.
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(Instant::now()));
    }

    fn hold_off(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(until);
    }
}

/// At most `max` requests in flight, whoever calls.
struct Gate {
    max: usize,
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    fn enter(&self) -> GateGuard<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        GateGuard(self)
    }
}

struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut busy = self.0.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy -= 1;
        self.0.freed.notify_one();
    }
}

type ModelCache = Mutex<HashMap<u64, Arc<OnceLock<Result<Value, String>>>>>;

pub struct Client {
    agent: ureq::Agent,
    cfg: ClientConfig,
    pacer: Pacer,
    gate: Gate,
    models: ModelCache,
    failing: AtomicU32,
    stopped: Mutex<Option<String>>,
    log: Box<dyn Fn(&str) + Send + Sync>,
}

impl Client {
    /// `log` receives one line per request (method, URL, status), never
    /// the key.
    pub fn new(cfg: ClientConfig, log: Box<dyn Fn(&str) + Send + Sync>) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            // The Authorization header is never carried over a redirect
            // (ureq's default, said here so it stays so).
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never)
            .user_agent(format!("gen/{}", env!("CARGO_PKG_VERSION")))
            .build();
        let rps = if cfg.requests_per_second.is_finite() && cfg.requests_per_second > 0.0 {
            cfg.requests_per_second
        } else {
            1.0
        };
        Client {
            agent: ureq::Agent::new_with_config(config),
            pacer: Pacer {
                interval: Duration::from_secs_f64(1.0 / rps),
                next: Mutex::new(Instant::now()),
            },
            gate: Gate {
                max: cfg.max_in_flight.max(1),
                busy: Mutex::new(0),
                freed: Condvar::new(),
            },
            cfg,
            models: Mutex::new(HashMap::new()),
            failing: AtomicU32::new(0),
            stopped: Mutex::new(None),
            log,
        }
    }

    pub fn max_in_flight(&self) -> usize {
        self.cfg.max_in_flight.max(1)
    }

    /// Asks CivitAI about the file with this SHA-256, then about its model
    /// (once per model id and client) for the tags.
    pub fn lookup(&self, sha256: &str) -> Outcome {
        if let Some(why) = self.stopped() {
            return Outcome::Failed(format!("not asked: {why}"));
        }
        let url = format!(
            "{}/api/v1/model-versions/by-hash/{}",
            self.cfg.base_url,
            sha256.to_ascii_lowercase()
        );
        let outcome = match self.call_json(&url, None) {
            Ok(version)
                if version.is_object()
                    && (version.get("id").is_some() || version.get("modelId").is_some()) =>
            {
                self.complete(version)
            }
            Ok(_) => Outcome::Failed(format!("{url}: the answer is not a model version")),
            Err((FetchError::NotFound { message, .. }, _)) => {
                Outcome::NotFound(format!("CivitAI does not know this file ({message})"))
            }
            Err((e, tries)) => {
                let reason = with_tries(&e, tries);
                if e.retryable() {
                    let n = self.failing.fetch_add(1, Ordering::SeqCst) + 1;
                    if n >= BREAKER {
                        self.stop(format!("the last {n} lookups failed (last: {reason})"));
                    }
                }
                if let FetchError::WaitTooLong { .. } = e {
                    self.stop(reason.clone());
                }
                return Outcome::Failed(reason);
            }
        };
        self.failing.store(0, Ordering::SeqCst);
        outcome
    }

    /// A found version with its model answer (for the tags).
    pub fn complete(&self, version: Value) -> Outcome {
        let model = match u64_of(version.get("modelId")) {
            Some(id) => self.model(id),
            None => Err("the answer names no model id".into()),
        };
        Outcome::Found { version, model }
    }

    /// Asks about up to [`BULK_MAX`] files in one request
    /// (`POST /api/v1/model-versions/by-hash`): the versions found, by the
    /// SHA-256 (lower-case) of theirs we asked about. A hash absent from the
    /// map is unknown to CivitAI. `Err` when the request got no usable
    /// answer; the caller then asks file by file.
    pub fn lookup_bulk(&self, sha256s: &[String]) -> Result<HashMap<String, Value>, String> {
        if let Some(why) = self.stopped() {
            return Err(format!("not asked: {why}"));
        }
        if sha256s.len() > BULK_MAX {
            return Err(format!("more than {BULK_MAX} hashes in one bulk request"));
        }
        let url = format!("{}/api/v1/model-versions/by-hash", self.cfg.base_url);
        let asked: Vec<String> = sha256s.iter().map(|s| s.to_ascii_lowercase()).collect();
        let body = Value::from(
            asked
                .iter()
                .map(|s| s.to_ascii_uppercase())
                .collect::<Vec<_>>(),
        )
        .to_string();
        let answer = match self.call_json(&url, Some(&body)) {
            Ok(v) => v,
            Err((e, tries)) => {
                if let FetchError::WaitTooLong { .. } = e {
                    self.stop(e.to_string());
                }
                let why = with_tries(&e, tries);
                (self.log)(&format!(
                    "civitai: bulk lookup failed ({why}); asking file by file"
                ));
                return Err(why);
            }
        };
        let Some(versions) = answer.as_array() else {
            return Err(format!("{url}: the answer is not a list of model versions"));
        };
        let mut found = HashMap::new();
        for v in versions.iter().filter(|v| v.is_object()) {
            let files = v.get("files").and_then(Value::as_array);
            for f in files.into_iter().flatten() {
                if let Some(h) = f.pointer("/hashes/SHA256").and_then(Value::as_str) {
                    let h = h.to_ascii_lowercase();
                    if asked.contains(&h) {
                        found.insert(h, v.clone());
                    }
                }
            }
        }
        self.failing.store(0, Ordering::SeqCst);
        Ok(found)
    }

    /// Why the run's lookups stopped, if they did.
    fn stopped(&self) -> Option<String> {
        self.stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn stop(&self, why: String) {
        let mut s = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            (self.log)(&format!("civitai: stopping lookups for this run: {why}"));
            *s = Some(why);
        }
    }

    /// The model answer, fetched once per id however many files share it.
    fn model(&self, id: u64) -> Result<Value, String> {
        let cell = {
            let mut cache = self.models.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(id).or_default().clone()
        };
        cell.get_or_init(|| {
            let url = format!("{}/api/v1/models/{id}", self.cfg.base_url);
            match self.call_json(&url, None) {
                Ok(v) if v.is_object() => Ok(v),
                Ok(_) => Err(format!("{url}: the answer is not a JSON object")),
                Err((e, tries)) => Err(with_tries(&e, tries)),
            }
        })
        .clone()
    }

    /// GET (or POST `body`) with pacing, retries and backoff; the JSON
    /// answer, or why not and after how many tries.
    fn call_json(&self, url: &str, body: Option<&str>) -> Result<Value, (FetchError, u32)> {
        let mut attempt = 0u32;
        loop {
            let (err, retry_after) = match self.request_once(url, body) {
                Ok(v) => return Ok(v),
                Err((e, _)) if !e.retryable() => return Err((e, attempt + 1)),
                Err(e) => e,
            };
            let limit = if err.transport() {
                self.cfg.max_retries.min(1)
            } else {
                self.cfg.max_retries
            };
            if attempt >= limit {
                return Err((err, attempt + 1));
            }
            let wait = match retry_after {
                Some(w) if w > self.cfg.max_wait => {
                    let e = FetchError::WaitTooLong {
                        url: url.to_string(),
                        secs: w.as_secs(),
                        max: self.cfg.max_wait.as_secs(),
                    };
                    return Err((e, attempt + 1));
                }
                Some(w) => w,
                None => (self.cfg.backoff * 2u32.saturating_pow(attempt)).min(self.cfg.max_wait),
            };
            (self.log)(&format!(
                "civitai: {err}; retrying in {:.1} s",
                wait.as_secs_f64()
            ));
            // Everyone waits: a 429 or a refusal is about us, not this file.
            self.pacer.hold_off(Instant::now() + wait);
            attempt += 1;
        }
    }

    /// One paced request. On a retryable error, the wait the server asked for.
    fn request_once(
        &self,
        url: &str,
        body: Option<&str>,
    ) -> Result<Value, (FetchError, Option<Duration>)> {
        let _in_flight = self.gate.enter();
        self.pacer.wait();
        let auth = self
            .cfg
            .api_key
            .as_ref()
            .map(|key| format!("Bearer {}", key.expose().trim()));
        let method = if body.is_some() { "POST" } else { "GET" };
        let started = Instant::now();
        let sent = match body {
            None => {
                let mut req = self.agent.get(url).header("Accept", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call()
            }
            Some(body) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.send(body)
            }
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                (self.log)(&format!("civitai: {method} {url} -> {}", short(&e)));
                return Err((self.transport_error(url, e), None));
            }
        };
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after =
            header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let html = header("content-type").is_some_and(|c| c.contains("text/html"));
        let body = resp.body_mut().with_config().limit(MAX_BODY).read_to_vec();
        (self.log)(&format!(
            "civitai: {method} {url} -> {status} in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
        let body = body.map_err(|e| (self.transport_error(url, e), None))?;
        let html = html || looks_like_html(&body);
        let url = url.to_string();
        match status {
            200..=299 => {
                let v: Value = serde_json::from_slice(&body).map_err(|source| {
                    (
                        FetchError::Malformed {
                            url: url.clone(),
                            source,
                        },
                        None,
                    )
                })?;
                Ok(v)
            }
            404 if !html => Err((
                FetchError::NotFound {
                    url,
                    message: error_message(&body),
                },
                None,
            )),
            403 | 503 if html => Err((FetchError::Refused { url, status }, retry_after)),
            _ => {
                let mut message = if html {
                    "an HTML page, not an API answer".to_string()
                } else {
                    error_message(&body)
                };
                if status == 401 {
                    message.push_str(" (check the CivitAI API key)");
                }
                Err((
                    FetchError::Status {
                        url,
                        status,
                        message,
                    },
                    retry_after,
                ))
            }
        }
    }

    fn transport_error(&self, url: &str, e: ureq::Error) -> FetchError {
        match e {
            ureq::Error::Timeout(_) => FetchError::Timeout {
                url: url.to_string(),
                secs: self.cfg.timeout.as_secs(),
            },
            ureq::Error::BodyExceedsLimit(n) => FetchError::Status {
                url: url.to_string(),
                status: 200,
                message: format!("the answer is larger than {n} bytes"),
            },
            e => FetchError::Network {
                url: url.to_string(),
                message: short(&e),
            },
        }
    }
}

fn with_tries(e: &FetchError, tries: u32) -> String {
    if tries > 1 {
        format!("{e} (after {tries} tries)")
    } else {
        e.to_string()
    }
}

fn short(e: &ureq::Error) -> String {
    let s = e.to_string();
    s.chars().take(200).collect()
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype") || start.starts_with(b"<html")
}

/// The `error` of a JSON error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(e) = v.get("error").or_else(|| v.get("message"))
    {
        return match e {
            Value::String(s) => s.chars().take(200).collect(),
            other => other.to_string().chars().take(200).collect(),
        };
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if text.trim().is_empty() {
        "empty answer".into()
    } else {
        text
    }
}

/// Retry-After as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn error_bodies_read_well() {
        assert_eq!(
            error_message(br#"{"error": "Model not found"}"#),
            "Model not found"
        );
        assert_eq!(error_message(b""), "empty answer");
        assert!(looks_like_html(b"\n <!DOCTYPE html><html>cf-chl"));
        assert!(!looks_like_html(br#"{"a": "<html>"}"#));
    }

    /// A server answering every request with `status`, `body` and headers,
    /// counting requests; and a client for it with millisecond backoff.
    fn serve(
        status: u16,
        body: &'static str,
        headers: &'static [(&'static str, &'static str)],
    ) -> (Client, Arc<AtomicU32>, Arc<tiny_http::Server>) {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let count = Arc::new(AtomicU32::new(0));
        let (s, c) = (server.clone(), count.clone());
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                c.fetch_add(1, Ordering::SeqCst);
                let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
                for (k, v) in headers {
                    resp.add_header(tiny_http::Header::from_bytes(*k, *v).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        let cfg = ClientConfig {
            base_url: format!("http://{}", server.server_addr().to_ip().unwrap()),
            api_key: None,
            requests_per_second: 1000.0,
            timeout: Duration::from_secs(5),
            max_retries: 3,
            backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(5),
            max_in_flight: 4,
        };
        (Client::new(cfg, Box::new(|_| {})), count, server)
    }

    fn reason(o: Outcome) -> String {
        match o {
            Outcome::Failed(r) => r,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn a_failing_service_stops_being_asked() {
        let (client, count, server) = serve(502, "<html>bad gateway</html>", &[]);
        for i in 0..BREAKER {
            let r = reason(client.lookup(&format!("{i:064}")));
            assert!(r.contains("HTTP 502") && r.contains("after 4 tries"), "{r}");
        }
        assert_eq!(count.load(Ordering::SeqCst), 4 * BREAKER);
        let r = reason(client.lookup(&"f".repeat(64)));
        assert!(r.starts_with("not asked: the last 5 lookups failed"), "{r}");
        assert_eq!(count.load(Ordering::SeqCst), 4 * BREAKER, "nothing sent");
        server.unblock();
    }

    #[test]
    fn an_overlong_retry_after_ends_the_run_and_404_html_is_no_answer() {
        let (client, count, server) = serve(429, "{}", &[("Retry-After", "3600")]);
        let r = reason(client.lookup(&"a".repeat(64)));
        assert!(r.contains("told to wait 3600 s"), "{r}");
        assert!(reason(client.lookup(&"b".repeat(64))).starts_with("not asked"));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        server.unblock();
        // A wrong base URL answering an HTML 404 page is not "not found".
        let (client, _, server) = serve(404, "<!DOCTYPE html><html>nope</html>", &[]);
        let r = reason(client.lookup(&"c".repeat(64)));
        assert!(r.contains("HTTP 404: an HTML page"), "{r}");
        server.unblock();
        // Nothing listening: a network failure with the URL, retried once.
        let (client, _, server) = serve(200, "{}", &[]);
        let url = client.cfg.base_url.clone();
        server.unblock();
        drop(server);
        std::thread::sleep(Duration::from_millis(50));
        let r = reason(client.lookup(&"d".repeat(64)));
        assert!(r.contains(&url) && r.contains("after 2 tries"), "{r}");
    }

    #[test]
    fn the_pacer_spaces_slots_and_holds_off() {
        let p = Pacer {
            interval: Duration::from_millis(50),
            next: Mutex::new(Instant::now()),
        };
        let t = Instant::now();
        for _ in 0..3 {
            p.wait();
        }
        assert!(t.elapsed() >= Duration::from_millis(100));
        p.hold_off(Instant::now() + Duration::from_millis(120));
        let t = Instant::now();
        p.wait();
        assert!(t.elapsed() >= Duration::from_millis(100));
    }
}
