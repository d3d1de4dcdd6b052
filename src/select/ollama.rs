//! Prompt analysis by a local LLM through Ollama's `/api/generate`, with a
//! JSON schema as the answer format. Anything but a valid, sane answer within
//! the timeout (no server, a slow one, prose, out-of-range numbers) is an
//! error the caller turns into a warning and a keyword analysis: the LLM may
//! only ever improve a plan, never block one.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use thiserror::Error;

use super::analysis::{Analysis, AnalysisSource, normalise_style};
use crate::catalog::Base;

pub const DEFAULT_MODEL: &str = "llama3.2";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Error)]
pub enum OllamaError {
    #[error("Ollama at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Ollama answered status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Ollama's answer is not the JSON asked for: {0}")]
    Invalid(String),
}

/// What the model is asked to fill.
#[derive(Debug, Deserialize)]
struct Answer {
    style: String,
    content_type: String,
    #[serde(default)]
    concepts: Vec<String>,
    #[serde(default)]
    suggested_base: Option<String>,
    #[serde(default)]
    lora_tags: Vec<String>,
    #[serde(default)]
    steps: Option<f64>,
    #[serde(default)]
    cfg: Option<f64>,
}

const SYSTEM: &str = "You analyse prompts for a Stable Diffusion image generator. Answer with JSON only: \
style (one of realistic, anime, artistic, 3d, pixel art, line art, comic, or a short free-text style), \
content_type (portrait, landscape, animal, product, architecture, food, vehicle or general), \
concepts (the key subjects and attributes, short lower-case phrases), suggested_base (one of sd_1_5, sdxl, pony, \
illustrious, flux_dev, flux_schnell, sd3, or null), lora_tags (tags a helpful LoRA would carry), \
steps (integer or null) and cfg (number or null).";

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "style": {"type": "string"},
            "content_type": {"type": "string"},
            "concepts": {"type": "array", "items": {"type": "string"}},
            "suggested_base": {"type": ["string", "null"]},
            "lora_tags": {"type": "array", "items": {"type": "string"}},
            "steps": {"type": ["integer", "null"]},
            "cfg": {"type": ["number", "null"]}
        },
        "required": ["style", "content_type", "concepts"]
    })
}

/// Asks Ollama at `url` (e.g. `http://127.0.0.1:11434`) to analyse `prompt`.
/// `style` (from `--style`) still overrides the style it gives.
pub fn analyse(
    url: &str,
    model: &str,
    prompt: &str,
    style: Option<&str>,
    timeout: Duration,
) -> Result<Analysis, OllamaError> {
    let endpoint = format!("{}/api/generate", url.trim_end_matches('/'));
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let body = json!({
        "model": model,
        "system": SYSTEM,
        "prompt": prompt,
        "format": schema(),
        "stream": false,
        "options": {"temperature": 0}
    });
    let mut response = agent
        .post(&endpoint)
        .header("content-type", "application/json")
        .send(body.to_string())
        .map_err(|e| OllamaError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| OllamaError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    if status != 200 {
        return Err(OllamaError::Status {
            status,
            body: text.chars().take(200).collect(),
        });
    }
    let envelope: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| OllamaError::Invalid(format!("envelope: {e}")))?;
    let inner = envelope
        .get("response")
        .and_then(|r| r.as_str())
        .ok_or_else(|| OllamaError::Invalid("no `response` field".into()))?;
    let answer: Answer =
        serde_json::from_str(inner).map_err(|e| OllamaError::Invalid(e.to_string()))?;
    validate(answer, style)
}

fn clean_list(items: Vec<String>, what: &str) -> Result<Vec<String>, OllamaError> {
    if items.len() > 40 {
        return Err(OllamaError::Invalid(format!("{} {what}", items.len())));
    }
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty() && s.len() <= 80)
        .collect())
}

fn validate(a: Answer, style: Option<&str>) -> Result<Analysis, OllamaError> {
    let bad = |m: String| Err(OllamaError::Invalid(m));
    let answer_style = a.style.trim();
    if answer_style.is_empty() || answer_style.len() > 40 {
        return bad(format!("style '{answer_style}'"));
    }
    let content = a.content_type.trim().to_lowercase();
    if content.is_empty() || content.len() > 40 {
        return bad(format!("content_type '{content}'"));
    }
    let suggested_base = match a
        .suggested_base
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "null")
    {
        Some(b) => match b.parse::<Base>() {
            Ok(base) => Some(base.as_str().to_string()),
            Err(_) => return bad(format!("suggested_base '{b}'")),
        },
        None => None,
    };
    let steps = match a.steps {
        Some(s) if (1.0..=150.0).contains(&s) && s.fract() == 0.0 => Some(s as u32),
        Some(s) => return bad(format!("steps {s}")),
        None => None,
    };
    let cfg = match a.cfg {
        Some(c) if (0.0..=30.0).contains(&c) => Some(c),
        Some(c) => return bad(format!("cfg {c}")),
        None => None,
    };
    let style_given = style.is_some_and(|s| !s.trim().is_empty());
    Ok(Analysis {
        style: normalise_style(style.filter(|_| style_given).unwrap_or(answer_style)),
        style_given,
        content,
        concepts: clean_list(a.concepts, "concepts")?,
        suggested_base,
        lora_tags: clean_list(a.lora_tags, "lora_tags")?,
        steps,
        cfg,
        source: AnalysisSource::Ollama,
        evidence: vec!["analysed by the local LLM".to_string()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: serde_json::Value) -> Answer {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_good_answer_is_normalised() {
        let a = validate(
            answer(
                json!({"style": "Photo", "content_type": "Portrait", "concepts": [" Red Fox ", ""],
                "suggested_base": "SDXL", "lora_tags": ["fur"], "steps": 30, "cfg": 6.5}),
            ),
            None,
        )
        .unwrap();
        assert_eq!(
            (a.style.as_str(), a.content.as_str()),
            ("realistic", "portrait")
        );
        assert_eq!(a.concepts, vec!["red fox"]);
        assert_eq!(
            (a.suggested_base.as_deref(), a.steps, a.cfg),
            (Some("sdxl"), Some(30), Some(6.5))
        );
        let given = validate(
            answer(json!({"style": "photo", "content_type": "x", "concepts": []})),
            Some("anime"),
        );
        assert_eq!(given.unwrap().style, "anime");
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in [
            json!({"style": "", "content_type": "x", "concepts": []}),
            json!({"style": "x", "content_type": "x", "concepts": [], "steps": 5000}),
            json!({"style": "x", "content_type": "x", "concepts": [], "steps": 2.5}),
            json!({"style": "x", "content_type": "x", "concepts": [], "cfg": -1}),
            json!({"style": "x", "content_type": "x", "concepts": [], "suggested_base": "sd_9"}),
        ] {
            assert!(validate(answer(bad.clone()), None).is_err(), "{bad}");
        }
    }

    /// Serves one canned HTTP answer on 127.0.0.1 after `delay`; returns the
    /// base URL and a handle that yields the request it received.
    fn stand_in(
        status: u16,
        body: String,
        delay: Duration,
    ) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut req = vec![0; len];
            reader.read_exact(&mut req).unwrap();
            std::thread::sleep(delay);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            head + &String::from_utf8_lossy(&req)
        });
        (url, handle)
    }

    fn envelope(inner: &str) -> String {
        json!({"model": "m", "response": inner, "done": true}).to_string()
    }

    #[test]
    fn stand_in_good_answer() {
        let inner = json!({"style": "anime", "content_type": "portrait", "concepts": ["fox girl"]})
            .to_string();
        let (url, req) = stand_in(200, envelope(&inner), Duration::ZERO);
        let a = analyse(&url, "tiny", "a fox girl", None, Duration::from_secs(5)).unwrap();
        assert_eq!(
            (a.style.as_str(), a.source),
            ("anime", AnalysisSource::Ollama)
        );
        let req = req.join().unwrap();
        assert!(req.starts_with("POST /api/generate"), "{req}");
        assert!(
            req.contains("\"model\":\"tiny\"")
                && req.contains("a fox girl")
                && req.contains("\"stream\":false")
        );
    }

    #[test]
    fn stand_in_malformed_slow_absent_and_error_status() {
        let (url, _) = stand_in(200, envelope("Sure! The style is anime."), Duration::ZERO);
        assert!(matches!(
            analyse(&url, "m", "p", None, Duration::from_secs(5)),
            Err(OllamaError::Invalid(_))
        ));
        let (url, _) = stand_in(200, "<html>".into(), Duration::ZERO);
        assert!(matches!(
            analyse(&url, "m", "p", None, Duration::from_secs(5)),
            Err(OllamaError::Invalid(_))
        ));
        let (url, _) = stand_in(200, envelope("{}"), Duration::from_millis(1500));
        let started = std::time::Instant::now();
        let slow = analyse(&url, "m", "p", None, Duration::from_millis(300));
        assert!(
            matches!(slow, Err(OllamaError::Unreachable { .. })),
            "{slow:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1400),
            "the timeout is honoured"
        );
        let (url, _) = stand_in(
            404,
            "{\"error\":\"model 'm' not found\"}".into(),
            Duration::ZERO,
        );
        let err = analyse(&url, "m", "p", None, Duration::from_secs(5)).unwrap_err();
        assert!(
            err.to_string().contains("404") && err.to_string().contains("not found"),
            "{err}"
        );
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let absent = analyse(
            &format!("http://{free}"),
            "m",
            "p",
            None,
            Duration::from_secs(2),
        );
        assert!(matches!(absent, Err(OllamaError::Unreachable { .. })));
    }
}
