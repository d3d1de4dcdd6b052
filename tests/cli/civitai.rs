//! Metadata (issue 3): sidecars and CivitAI, against a CivitAI stand-in on
//! 127.0.0.1 that serves answers shaped like shared/samples/civitai and
//! records every request with its time and headers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Env, by_path, safetensors_bytes, stderr, stdout};

// ---- the stand-in ----

#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    /// "/api/..." for a GET, "POST /api/..." otherwise.
    path: String,
    auth: Option<String>,
}

/// A request as the handler sees it.
struct Req {
    /// As in [`Seen`].
    path: String,
    body: String,
    /// How many requests for this path came before.
    nth: usize,
}

struct Reply {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: impl ToString) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
            delay: Duration::ZERO,
        }
    }
    fn not_found() -> Reply {
        Reply::json(404, sample("civitai/by-hash_not-found.body.json"))
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Reply {
        self.headers.push((k, v.into()));
        self
    }
    fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

type Handler = dyn Fn(&Req) -> Reply + Send + Sync;

struct Mock {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Mock {
    fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Mock {
        Mock::start_on("127.0.0.1", handler)
    }

    fn start_on(host: &str, handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Mock {
        let server = Arc::new(tiny_http::Server::http(format!("{host}:0")).unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
        let in_flight = Arc::new(Mutex::new((0usize, 0usize)));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (server, seen, in_flight) = (server.clone(), seen.clone(), in_flight.clone());
            std::thread::spawn(move || {
                for mut req in server.incoming_requests() {
                    let path = match req.method() {
                        tiny_http::Method::Get => req.url().to_string(),
                        m => format!("{m} {}", req.url()),
                    };
                    let mut body = String::new();
                    let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
                    let auth = req
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Authorization"))
                        .map(|h| h.value.as_str().to_string());
                    let nth = {
                        let mut seen = seen.lock().unwrap();
                        let nth = seen.iter().filter(|s| s.path == path).count();
                        seen.push(Seen {
                            at: Instant::now(),
                            path: path.clone(),
                            auth,
                        });
                        nth
                    };
                    let (handler, in_flight) = (handler.clone(), in_flight.clone());
                    std::thread::spawn(move || {
                        {
                            let mut f = in_flight.lock().unwrap();
                            f.0 += 1;
                            f.1 = f.1.max(f.0);
                        }
                        let reply = handler(&Req { path, body, nth });
                        std::thread::sleep(reply.delay);
                        in_flight.lock().unwrap().0 -= 1;
                        let mut resp = tiny_http::Response::from_string(reply.body)
                            .with_status_code(reply.status);
                        for (k, v) in reply.headers {
                            resp.add_header(
                                tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap(),
                            );
                        }
                        let _ = req.respond(resp);
                    });
                }
            })
        };
        Mock {
            url,
            seen,
            in_flight,
            server,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path_part: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.contains(path_part))
            .count()
    }

    fn max_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A stand-in that knows `answers` (sha256 → by-hash answer) and `models`
/// (id → models answer); anything else is CivitAI's 404.
fn civitai(answers: HashMap<String, Value>, models: HashMap<u64, Value>) -> Mock {
    Mock::start(move |r| {
        let path = r.path.as_str();
        if path == "POST /api/v1/model-versions/by-hash" {
            // Versions whose files carry an asked hash; unknown ones absent.
            let asked: Vec<String> = serde_json::from_str(&r.body).unwrap();
            let versions: Vec<Value> = asked
                .iter()
                .filter_map(|h| {
                    let mut v = answers.get(&h.to_ascii_lowercase())?.clone();
                    v["files"][0]["hashes"]["SHA256"] = json!(h.to_ascii_uppercase());
                    Some(v)
                })
                .collect();
            return Reply::json(200, json!(versions));
        }
        if let Some(h) = path.strip_prefix("/api/v1/model-versions/by-hash/") {
            return match answers.get(&h.to_ascii_lowercase()) {
                Some(v) => Reply::json(200, v),
                None => Reply::not_found(),
            };
        }
        if let Some(id) = path.strip_prefix("/api/v1/models/") {
            return match id.parse().ok().and_then(|id: u64| models.get(&id)) {
                Some(v) => Reply::json(200, v),
                None => Reply::json(404, json!({"error": format!("No model with id {id}")})),
            };
        }
        Reply::json(404, json!({"error": "no such route"}))
    })
}

// ---- helpers ----

fn sample(rel: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes a small valid safetensors model and returns (path, sha256).
fn model(env: &Env, rel: &str, seed: u8) -> (PathBuf, String) {
    let bytes = safetensors_bytes("w", 64, seed);
    (env.write(rel, &bytes), sha256(&bytes))
}

/// A config file pointing at the stand-in.
fn config(env: &Env, mock_url: &str, extra: &str) -> PathBuf {
    let p = env.root().join("test-config.toml");
    // 5 requests a second unless the test says otherwise.
    let rate = if extra.contains("requests_per_second") {
        ""
    } else {
        "requests_per_second = 5.0\n"
    };
    std::fs::write(
        &p,
        format!("[civitai]\nurl = \"{mock_url}\"\n{rate}{extra}"),
    )
    .unwrap();
    p
}

/// `gen --config CFG --json index ARGS` with the network allowed.
fn index_online(env: &Env, cfg: &Path, args: &[&str]) -> (Value, Output) {
    let mut c = env.cmd();
    c.env_remove("GEN_OFFLINE")
        .arg("--models")
        .arg(env.models())
        .arg("--config")
        .arg(cfg)
        .args(["--json", "index"])
        .args(args);
    let out = c.output().unwrap();
    let report = completed(&out);
    (report, out)
}

/// The index ran to its end (exit 0) and reported as JSON.
fn completed(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "index did not complete: {}",
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(out)))
}

fn info_of(env: &Env, path: &Path) -> Value {
    by_path(&env.list(), path)["info"].clone()
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

// ---- tests ----

#[test]
fn civitai_fields_are_stored_and_shown() {
    let env = Env::new();
    let (lora, lora_sha) = model(&env, "loras/add-detail-xl.safetensors", 1);
    let (ckpt, ckpt_sha) = model(&env, "checkpoints/pony.safetensors", 2);
    let (lora2, lora2_sha) = model(&env, "loras/add-detail-xl-v2.safetensors", 3);
    let mut v2 = sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json");
    v2["id"] = json!(999);
    v2["name"] = json!("v2.0");
    let mock = civitai(
        HashMap::from([
            (
                lora_sha.clone(),
                sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json"),
            ),
            (
                ckpt_sha.clone(),
                sample("civitai/by-hash_pony-checkpoint_pony-v6.json"),
            ),
            (lora2_sha.clone(), v2),
        ]),
        HashMap::from([(
            122359,
            sample("civitai/models_122359_detail-tweaker-xl.json"),
        )]),
    );
    let cfg = config(&env, &mock.url, "");
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["found"], 3, "{report:#}");

    let i = info_of(&env, &lora);
    assert_eq!(i["source"], "civitai");
    assert_eq!(i["status"], "found");
    assert_eq!(
        (i["model_id"].as_u64(), i["version_id"].as_u64()),
        (Some(122359), Some(135867))
    );
    assert_eq!(i["model_name"], "Detail Tweaker XL");
    assert_eq!(i["version_name"], "v1.0");
    assert_eq!(i["model_type"], "LORA");
    assert_eq!(
        (&i["base_model"], &i["base"]),
        (&json!("SDXL 1.0"), &json!("sdxl"))
    );
    assert_eq!(
        i["tags"],
        json!(["detailed", "tool", "enhancer", "slider", "detail"])
    );
    assert_eq!(
        (i["downloads"].as_u64(), i["thumbs_up"].as_u64()),
        (Some(448464), Some(31877))
    );
    assert_eq!(i["nsfw"], false);
    assert_eq!(i["examples"]["steps"], 30);
    assert_eq!(i["examples"]["cfg"], 7.0);
    assert_eq!(i["examples"]["sampler"], "DPM++ 2M Karras");
    assert_eq!(
        (&i["examples"]["width"], &i["examples"]["height"]),
        (&json!(832), &json!(1216))
    );
    assert_eq!(i["lookup"]["status"], "found");

    // The civitai base decides what tensors cannot: stored as "pony".
    let p = info_of(&env, &ckpt);
    assert_eq!(
        (&p["base_model"], &p["base"]),
        (&json!("Pony"), &json!("pony"))
    );
    assert_eq!(p["examples"]["clip_skip"], 2);
    assert!(
        p["reason"]
            .as_str()
            .unwrap()
            .contains("No model with id 257749"),
        "a missing model answer is said: {p:#}"
    );
    assert_eq!(info_of(&env, &lora2)["version_name"], "v2.0");

    // One by-hash request per file; the model answer once for both LoRAs.
    for sha in [&lora_sha, &ckpt_sha, &lora2_sha] {
        assert_eq!(mock.count(sha), 1, "{sha}");
    }
    assert_eq!(mock.count("/api/v1/models/122359"), 1);
    assert!(
        mock.seen().iter().all(|s| s.auth.is_none()),
        "no key, no header"
    );

    // Shown readably, and carried by show --json.
    let text = stdout(&env.run(&["models", "show", lora.to_str().unwrap()]));
    for want in [
        "Detail Tweaker XL — v1.0",
        "model 122359, version 135867",
        "SDXL 1.0 (sdxl)",
        "detailed, tool, enhancer",
        "448464 downloads",
        "30 steps, CFG 7, DPM++ 2M Karras, 832x1216",
        "civitai     found, just now",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let shown: Value =
        serde_json::from_slice(&env.run(&["--json", "models", "show", &ckpt_sha]).stdout).unwrap();
    assert_eq!(shown["info"]["base"], "pony");
    assert_eq!(shown["path"], ckpt.to_str().unwrap());

    // A second index asks nothing: every file was found.
    let before = mock.seen().len();
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["due"], 0);
    assert_eq!(mock.seen().len(), before);
}

#[test]
fn a_429_with_retry_after_is_waited_for_then_succeeds() {
    let env = Env::new();
    let (lora, sha) = model(&env, "loras/a.safetensors", 1);
    let answer = sample("civitai/by-hash_sd15-lora_watercolor.json");
    let mock = Mock::start(move |r| {
        let (path, nth) = (r.path.as_str(), r.nth);
        if path.contains("by-hash") && nth == 0 {
            Reply::json(429, json!({"error": "Too Many Requests"})).header("Retry-After", "2")
        } else if path.contains("by-hash") {
            Reply::json(200, &answer)
        } else {
            Reply::json(404, json!({"error": "No model"}))
        }
    });
    let cfg = config(&env, &mock.url, "requests_per_second = 50.0\n");
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["found"], 1, "{report:#}");
    let i = info_of(&env, &lora);
    assert_eq!(
        (&i["base"], &i["trained_words"]),
        (&json!("sd_1_5"), &json!(["watercolor"]))
    );
    let times: Vec<Instant> = mock
        .seen()
        .iter()
        .filter(|s| s.path.contains(&sha))
        .map(|s| s.at)
        .collect();
    assert_eq!(times.len(), 2);
    let gap = gaps(&times)[0];
    assert!(
        gap >= Duration::from_millis(1950),
        "Retry-After: 2 honoured, waited {gap:?}"
    );
}

#[test]
fn a_cloudflare_refusal_is_retried_not_taken_as_data() {
    let env = Env::new();
    let (lora, _) = model(&env, "loras/a.safetensors", 1);
    let answer = sample("civitai/by-hash_sd15-lora_watercolor.json");
    let mock = Mock::start(move |r| {
        let (path, nth) = (r.path.as_str(), r.nth);
        if path.contains("by-hash") && nth == 0 {
            Reply {
                status: 403,
                body: "<!DOCTYPE html><html><title>Just a moment...</title> cf-chl</html>".into(),
                headers: vec![("Content-Type", "text/html; charset=UTF-8".into())],
                delay: Duration::ZERO,
            }
        } else if path.contains("by-hash") {
            Reply::json(200, &answer)
        } else {
            Reply::json(404, json!({"error": "No model"}))
        }
    });
    let cfg = config(&env, &mock.url, "requests_per_second = 50.0\n");
    index_online(&env, &cfg, &[]);
    assert_eq!(info_of(&env, &lora)["status"], "found");
    assert_eq!(mock.count("by-hash"), 2);
}

#[test]
fn a_server_failing_every_time_is_recorded_and_the_index_completes() {
    let env = Env::new();
    let (lora, _) = model(&env, "loras/a.safetensors", 1);
    let mock = Mock::start(|_| {
        Reply::json(
            500,
            json!({"error": "Failed to fetch model version details"}),
        )
    });
    let cfg = config(&env, &mock.url, "requests_per_second = 50.0\n");
    let started = Instant::now();
    let (report, out) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["failed"], 1, "{report:#}");
    assert_eq!(mock.count("by-hash"), 4, "one try and three retries");
    // Exponential backoff: 1 + 2 + 4 s between the tries.
    let times: Vec<Instant> = mock.seen().iter().map(|s| s.at).collect();
    let g = gaps(&times);
    assert!(
        g[0] >= Duration::from_millis(950)
            && g[1] >= Duration::from_millis(1950)
            && g[2] >= Duration::from_millis(3950),
        "{g:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let i = info_of(&env, &lora);
    assert_eq!(
        (&i["status"], &i["lookup"]["status"]),
        (&json!("failed"), &json!("failed"))
    );
    let reason = i["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 500")
            && reason.contains("Failed to fetch model version details")
            && reason.contains("after 4 tries"),
        "{reason}"
    );
    assert!(
        stderr(&out).contains("CivitAI lookup failed"),
        "{}",
        stderr(&out)
    );
    let shown = stdout(&env.run(&["models", "show", lora.to_str().unwrap()]));
    assert!(
        shown.contains("civitai     failed, just now: ") && shown.contains("HTTP 500"),
        "{shown}"
    );
}

#[test]
fn malformed_json_is_a_failure_with_its_reason() {
    let env = Env::new();
    let (lora, _) = model(&env, "loras/a.safetensors", 1);
    let mock = Mock::start(|_| Reply::json(200, "{\"id\": 5, \"modelId\": "));
    let cfg = config(&env, &mock.url, "");
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["failed"], 1);
    assert_eq!(
        mock.count("by-hash"),
        1,
        "a malformed answer is not retried"
    );
    let i = info_of(&env, &lora);
    assert_eq!(i["status"], "failed");
    assert!(
        i["reason"].as_str().unwrap().contains("malformed JSON"),
        "{i:#}"
    );
}

#[test]
fn a_server_slower_than_the_timeout_fails_in_time() {
    let env = Env::new();
    let (lora, _) = model(&env, "loras/a.safetensors", 1);
    let mock = Mock::start(|_| Reply::not_found().delayed(Duration::from_secs(4)));
    let cfg = config(
        &env,
        &mock.url,
        "timeout_secs = 1\nrequests_per_second = 50.0\n",
    );
    let started = Instant::now();
    let (report, _) = index_online(&env, &cfg, &[]);
    let took = started.elapsed();
    assert_eq!(report["metadata"]["failed"], 1, "{report:#}");
    assert_eq!(mock.count("by-hash"), 2, "a timeout is retried once");
    assert!(
        took < Duration::from_secs(8),
        "gave up after the timeout: {took:?}"
    );
    let reason = info_of(&env, &lora)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("no answer within 1 s"), "{reason}");
}

#[test]
fn an_unknown_hash_is_not_asked_again_within_the_ttl_but_is_with_refresh() {
    let env = Env::new();
    let (lora, sha) = model(&env, "loras/unknown.safetensors", 1);
    let mock = civitai(HashMap::new(), HashMap::new());
    let cfg = config(&env, &mock.url, "");
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["not_found"], 1);
    let i = info_of(&env, &lora);
    assert_eq!(
        (&i["status"], &i["lookup"]["status"]),
        (&json!("not_found"), &json!("not_found"))
    );
    assert!(i["reason"].as_str().unwrap().contains("Model not found"));
    assert_eq!(mock.count(&sha), 1);

    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["due"], 0);
    assert_eq!(mock.count(&sha), 1, "remembered for the TTL");

    index_online(&env, &cfg, &["--refresh"]);
    assert_eq!(mock.count(&sha), 2, "--refresh asks again");

    // With a TTL of 0 hours the not-found has expired at once.
    let cfg0 = config(&env, &mock.url, "cache_ttl_hours = 0\n");
    index_online(&env, &cfg0, &[]);
    assert_eq!(mock.count(&sha), 3);
}

#[test]
fn requests_are_spaced_by_the_rate_limit_and_at_most_four_fly() {
    let env = Env::new();
    for i in 0..8 {
        model(&env, &format!("loras/l{i}.safetensors"), i);
    }
    let mock = civitai(HashMap::new(), HashMap::new());
    let cfg = config(&env, &mock.url, ""); // 5 requests/s
    index_online(&env, &cfg, &[]);
    let times: Vec<Instant> = mock.seen().iter().map(|s| s.at).collect();
    assert_eq!(times.len(), 8);
    let g = gaps(&times);
    let min = *g.iter().min().unwrap();
    eprintln!("5 rps gaps: {g:?}");
    assert!(
        min >= Duration::from_millis(180),
        "200 ms apart at 5/s, saw {min:?}"
    );

    // A slow server: in flight at once, never more than four.
    let env = Env::new();
    for i in 0..10 {
        model(&env, &format!("loras/l{i}.safetensors"), i);
    }
    let slow = Mock::start(|_| Reply::not_found().delayed(Duration::from_millis(600)));
    let cfg = config(&env, &slow.url, "requests_per_second = 100.0\n");
    index_online(&env, &cfg, &[]);
    assert_eq!(slow.count("by-hash"), 10);
    assert!(
        (2..=4).contains(&slow.max_in_flight()),
        "in flight: {}",
        slow.max_in_flight()
    );
}

#[test]
fn the_default_rate_is_one_request_a_second() {
    let env = Env::new();
    for i in 0..3 {
        model(&env, &format!("loras/l{i}.safetensors"), i);
    }
    let mock = civitai(HashMap::new(), HashMap::new());
    let cfg = env.root().join("default-rate.toml");
    std::fs::write(&cfg, format!("[civitai]\nurl = \"{}\"\n", mock.url)).unwrap();
    index_online(&env, &cfg, &[]);
    let times: Vec<Instant> = mock.seen().iter().map(|s| s.at).collect();
    assert_eq!(times.len(), 3);
    let g = gaps(&times);
    eprintln!("default gaps: {g:?}");
    assert!(g.iter().all(|d| *d >= Duration::from_millis(980)), "{g:?}");
}

const KEY: &str = "sk-gen-test-5ecret-0123456789abcdef";

#[test]
fn the_key_is_sent_as_bearer_to_that_host_only_and_never_shown() {
    let env = Env::new();
    let (lora, sha) = model(&env, "loras/a.safetensors", 1);
    let (moved, moved_sha) = model(&env, "loras/b.safetensors", 2);
    // Another host (127.0.0.2 is loopback too) to which one answer redirects.
    let elsewhere = Mock::start_on("127.0.0.2", |_| Reply::not_found());
    let target = format!(
        "{}/api/v1/model-versions/by-hash/{moved_sha}",
        elsewhere.url
    );
    let answer = sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json");
    let (sha_c, moved_c) = (sha.clone(), moved_sha.clone());
    let mock = Mock::start(move |r| {
        let path = r.path.as_str();
        if path.ends_with(&sha_c) {
            Reply::json(200, &answer)
        } else if path.ends_with(&moved_c) {
            Reply::json(302, "{}").header("Location", target.clone())
        } else {
            Reply::json(401, json!({"error": "Unauthorized"}))
        }
    });
    let cfg = config(&env, &mock.url, "");
    let mut all_output = String::new();
    for args in [
        &["-vv", "index"][..],
        &["-v", "index", "--refresh"],
        &["--json", "index", "--refresh"],
    ] {
        let out = env
            .cmd()
            .env_remove("GEN_OFFLINE")
            .env("CIVITAI_API_KEY", KEY)
            .arg("--models")
            .arg(env.models())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        all_output.push_str(&stdout(&out));
        all_output.push_str(&stderr(&out));
    }
    assert!(
        all_output.contains("civitai: GET"),
        "-v logs requests: {all_output}"
    );
    let seen = mock.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            s.auth.as_deref(),
            Some(format!("Bearer {KEY}").as_str()),
            "{}",
            s.path
        );
    }
    assert!(
        elsewhere.count(&moved_sha) >= 1,
        "the redirect was followed"
    );
    assert!(
        elsewhere.seen().iter().all(|s| s.auth.is_none()),
        "never sent to another host"
    );
    // The model answer was refused with 401: said, without the key.
    let i = info_of(&env, &lora);
    assert!(i["reason"].as_str().unwrap().contains("401"), "{i:#}");
    for args in [
        &["-v", "models", "show", lora.to_str().unwrap()][..],
        &["--json", "models", "show", moved.to_str().unwrap()],
        &["--json", "models", "list"],
        &["models", "list"],
    ] {
        let out = env
            .cmd()
            .env("CIVITAI_API_KEY", KEY)
            .arg("--models")
            .arg(env.models())
            .args(args)
            .output()
            .unwrap();
        all_output.push_str(&stdout(&out));
        all_output.push_str(&stderr(&out));
    }
    assert!(
        !all_output.contains(KEY) && !all_output.contains("5ecret"),
        "the key leaked:\n{all_output}"
    );
    let db = std::fs::read(env.db()).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains("5ecret"),
        "the key is not stored"
    );
}

/// Sample sidecars rewritten to describe `sha` (they describe the real files).
fn sidecar(sample_name: &str, sha: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v = sample(&format!("sidecars/{sample_name}"));
    if v.get("sha256").is_some() {
        v["sha256"] = json!(sha);
    }
    if v.get("Hashes").is_some() {
        v["Hashes"]["SHA256"] = json!(sha.to_ascii_uppercase());
    }
    if let Some(files) = v.get_mut("files").and_then(Value::as_array_mut) {
        files[0]["hashes"]["SHA256"] = json!(sha.to_ascii_uppercase());
    }
    edit(&mut v);
    v.to_string()
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn sidecars_are_imported_with_no_network() {
    let env = Env::new();
    let (lora, lora_sha) = model(&env, "loras/add-detail-xl.safetensors", 1);
    let (ckpt, ckpt_sha) = model(&env, "checkpoints/pony.safetensors", 2);
    let (info_file, info_sha) = model(&env, "loras/helper.safetensors", 3);
    let (skel, _) = model(&env, "loras/unknown.safetensors", 4);
    let (stale, _) = model(&env, "loras/stale.safetensors", 5);
    let dir = env.models();
    std::fs::write(
        dir.join("loras/add-detail-xl.metadata.json"),
        sidecar(
            "lora-manager_add-detail-xl.metadata.json",
            &lora_sha,
            |_| {},
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("loras/add-detail-xl.json"),
        sidecar("a1111-user-metadata_add-detail-xl.json", &lora_sha, |v| {
            v["activation text"] = json!("add detail, sharp");
        }),
    )
    .unwrap();
    std::fs::write(
        dir.join("checkpoints/pony.cm-info.json"),
        sidecar(
            "stability-matrix_ponyDiffusionV6XL.cm-info.json",
            &ckpt_sha,
            |_| {},
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("loras/helper.civitai.info"),
        sidecar(
            "civitai-helper_add-detail-xl.civitai.info",
            &info_sha,
            |_| {},
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("loras/unknown.civitai.info"),
        sidecar(
            "civitai-helper_not-on-civitai.skeleton.civitai.info",
            "",
            |_| {},
        ),
    )
    .unwrap();
    // Describes another file: ignored with a warning.
    std::fs::write(
        dir.join("loras/stale.metadata.json"),
        sidecar(
            "lora-manager_add-detail-xl.metadata.json",
            &"0".repeat(64),
            |_| {},
        ),
    )
    .unwrap();

    let out = env.run(&["--json", "index"]); // GEN_OFFLINE is set
    let report = completed(&out);
    let meta = &report["metadata"];
    assert_eq!(meta["sidecars_imported"], 4, "{meta:#}");
    assert_eq!(meta["skipped_offline"], 5);
    assert!(
        meta["problems"]
            .to_string()
            .contains("describes another file"),
        "{meta:#}"
    );

    let list = env.list();
    let i = &by_path(&list, &lora)["info"];
    assert_eq!(
        (&i["source"], &i["base"]),
        (&json!("lora_manager"), &json!("sdxl"))
    );
    assert_eq!(i["model_id"], 122359);
    assert_eq!(i["tags"].as_array().unwrap().len(), 5);
    assert_eq!(
        i["trained_words"],
        json!(["add detail", "sharp"]),
        "A1111 activation text"
    );
    assert_eq!(i["preferred_weight"], 1.0);
    assert!(i["lookup"].is_null(), "CivitAI not asked");
    let p = &by_path(&list, &ckpt)["info"];
    assert_eq!(
        (&p["source"], &p["base"]),
        (&json!("stability_matrix"), &json!("pony"))
    );
    assert_eq!(p["examples"]["sampler"], "euler_ancestral");
    assert_eq!(by_path(&list, &info_file)["info"]["source"], "civitai_info");
    let s = &by_path(&list, &skel)["info"];
    assert_eq!(
        (&s["source"], &s["status"]),
        (&json!("civitai_info"), &json!("not_found"))
    );
    assert!(by_path(&list, &stale)["info"].is_null());

    let text = stdout(&env.run(&["models", "show", lora.to_str().unwrap()]));
    assert!(
        text.contains("Lora-Manager sidecar") && text.contains("add detail, sharp"),
        "{text}"
    );
    let summary = stderr(&env.run(&["index"]));
    assert!(summary.contains("skipped offline 5"), "{summary}");
    // --no-fetch asks nothing either, even with the network allowed.
    let mock = civitai(HashMap::new(), HashMap::new());
    let cfg = config(&env, &mock.url, "");
    index_online(&env, &cfg, &["--no-fetch"]);
    assert_eq!(mock.seen().len(), 0);
}

#[test]
fn civitai_replaces_an_older_sidecar_and_a_newer_sidecar_wins() {
    let env = Env::new();
    let (lora, sha) = model(&env, "loras/add-detail-xl.safetensors", 1);
    let side = env.models().join("loras/add-detail-xl.cm-info.json");
    std::fs::write(
        &side,
        sidecar("stability-matrix_add-detail-xl.cm-info.json", &sha, |v| {
            v["ModelName"] = json!("Named By The Sidecar");
        }),
    )
    .unwrap();
    set_mtime(&side, SystemTime::now() - Duration::from_secs(3600));
    let mock = civitai(
        HashMap::from([(
            sha.clone(),
            sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json"),
        )]),
        HashMap::from([(
            122359,
            sample("civitai/models_122359_detail-tweaker-xl.json"),
        )]),
    );
    let cfg = config(&env, &mock.url, "");
    index_online(&env, &cfg, &[]);
    let i = info_of(&env, &lora);
    assert_eq!(
        (&i["source"], &i["model_name"]),
        (&json!("civitai"), &json!("Detail Tweaker XL"))
    );

    // Indexed again: the older sidecar does not come back.
    index_online(&env, &cfg, &[]);
    assert_eq!(info_of(&env, &lora)["source"], "civitai");

    // Edited after the answer was fetched: the sidecar wins, nothing asked.
    let asked = mock.seen().len();
    set_mtime(&side, SystemTime::now() + Duration::from_secs(120));
    index_online(&env, &cfg, &[]);
    let i = info_of(&env, &lora);
    assert_eq!(
        (&i["source"], &i["model_name"]),
        (&json!("stability_matrix"), &json!("Named By The Sidecar"))
    );
    assert_eq!(i["lookup"]["status"], "found", "the lookup record is kept");
    assert_eq!(mock.seen().len(), asked);
}

#[test]
fn many_files_are_asked_in_bulk() {
    let env = Env::new();
    let shas: Vec<(PathBuf, String)> = (0..20)
        .map(|i| model(&env, &format!("loras/l{i:02}.safetensors"), i))
        .collect();
    let mut v2 = sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json");
    v2["id"] = json!(999);
    let mock = civitai(
        HashMap::from([
            (
                shas[3].1.clone(),
                sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json"),
            ),
            (shas[7].1.clone(), v2),
            (
                shas[19].1.clone(),
                sample("civitai/by-hash_sd15-lora_watercolor.json"),
            ),
        ]),
        HashMap::from([(
            122359,
            sample("civitai/models_122359_detail-tweaker-xl.json"),
        )]),
    );
    let cfg = config(&env, &mock.url, "");
    let (report, _) = index_online(&env, &cfg, &[]);
    let meta = &report["metadata"];
    assert_eq!(
        (meta["found"].as_u64(), meta["not_found"].as_u64()),
        (Some(3), Some(17)),
        "{meta:#}"
    );
    assert_eq!(mock.count("POST /api/v1/model-versions/by-hash"), 1);
    assert_eq!(mock.count("by-hash/"), 0, "no single lookups");
    assert_eq!(mock.count("/api/v1/models/122359"), 1);
    assert_eq!(mock.count("/api/v1/models/105784"), 1);
    let list = env.list();
    let i = &by_path(&list, &shas[3].0)["info"];
    assert_eq!(
        (&i["model_name"], &i["base"]),
        (&json!("Detail Tweaker XL"), &json!("sdxl"))
    );
    assert_eq!(i["tags"].as_array().unwrap().len(), 5);
    assert_eq!(by_path(&list, &shas[7].0)["info"]["version_id"], 999);
    assert_eq!(by_path(&list, &shas[19].0)["info"]["base"], "sd_1_5");
    let unknown = &by_path(&list, &shas[0].0)["info"];
    assert_eq!(unknown["status"], "not_found");
    assert!(unknown["reason"].as_str().unwrap().contains("bulk answer"));
    let asked = mock.seen().len();
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["due"], 0);
    assert_eq!(mock.seen().len(), asked);
}

#[test]
fn a_refused_bulk_request_falls_back_to_single_lookups() {
    let env = Env::new();
    for i in 0..16 {
        model(&env, &format!("loras/l{i:02}.safetensors"), i);
    }
    let mock = Mock::start(|r| {
        if r.path.starts_with("POST") {
            Reply::json(405, json!({"error": "Method Not Allowed"}))
        } else {
            Reply::not_found()
        }
    });
    let cfg = config(&env, &mock.url, "requests_per_second = 50.0\n");
    let (report, _) = index_online(&env, &cfg, &[]);
    assert_eq!(report["metadata"]["not_found"], 16, "{report:#}");
    assert_eq!(mock.count("POST"), 1);
    assert_eq!(mock.count("by-hash/"), 16);
}
