//! Settings from three layers: command line (and its environment variables,
//! which clap reads), then the config file, then defaults. The result is a
//! plain [`Settings`] that the commands use; nothing else reads the
//! environment or the config file.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::error::GenError;

pub const DEFAULT_CIVITAI_URL: &str = "https://civitai.com";

/// A secret (an API key): usable, never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The config file as written by the user (`config.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub comfyui: Option<PathBuf>,
    #[serde(default)]
    pub models: Vec<PathBuf>,
    pub db: Option<PathBuf>,
    #[serde(default)]
    pub offline: bool,
    #[serde(default)]
    pub civitai: FileCivitai,
    #[serde(default)]
    pub ollama: FileOllama,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCivitai {
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub requests_per_second: Option<f64>,
    pub timeout_secs: Option<u64>,
    pub cache_ttl_hours: Option<u64>,
}

impl fmt::Debug for FileCivitai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCivitai")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOllama {
    pub url: Option<String>,
    pub model: Option<String>,
}

/// How a setting was decided, for `gen system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The command line or its environment variable.
    Flag,
    Config,
    Default,
}

#[derive(Debug, Clone)]
pub struct CivitaiSettings {
    pub url: String,
    pub api_key: Option<Secret>,
    pub requests_per_second: f64,
    pub timeout_secs: u64,
    pub cache_ttl_hours: u64,
}

/// Everything a command needs to know about where things are.
#[derive(Debug, Clone)]
pub struct Settings {
    pub comfyui: Option<(PathBuf, Source)>,
    pub models: Vec<(PathBuf, Source)>,
    pub db: PathBuf,
    pub config_path: PathBuf,
    pub config_loaded: bool,
    pub offline: bool,
    pub civitai: CivitaiSettings,
    pub ollama_url: Option<String>,
    pub ollama_model: Option<String>,
    /// Where to load NVIDIA's libnvidia-ml from (`GEN_NVML_LIBRARY`), for
    /// drivers installed outside the loader's search path.
    pub nvml_library: Option<PathBuf>,
}

fn default_config_path() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("gen")
        .join("config.toml")
}

fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("gen")
        .join("catalog.sqlite")
}

/// The user's config folder (`$XDG_CONFIG_HOME/gen`), where an overlay
/// `presets.toml` may live.
pub fn config_dir() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("gen")
}

/// Reads the config file; a missing file is an empty config, a broken one
/// is a usage error naming the file.
pub fn read_file_config(path: &Path) -> anyhow::Result<Option<FileConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    let cfg: FileConfig = toml::from_str(&text).map_err(|e| {
        GenError::usage(format!("config file {} is not valid: {e}", path.display()))
            .with_hint("see the Configuration section of the README")
    })?;
    Ok(Some(cfg))
}

impl Settings {
    /// Merges the command line (with environment) over the config file over
    /// the defaults.
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Settings> {
        let config_path = args.config.clone().unwrap_or_else(default_config_path);
        let file = read_file_config(&config_path)?;
        let config_loaded = file.is_some();
        let file = file.unwrap_or_default();

        let comfyui = match (&args.comfyui, &file.comfyui) {
            (Some(p), _) => Some((p.clone(), Source::Flag)),
            (None, Some(p)) => Some((expand_home(p), Source::Config)),
            _ => None,
        };
        let models = if !args.models.is_empty() {
            args.models
                .iter()
                .map(|p| (p.clone(), Source::Flag))
                .collect()
        } else {
            file.models
                .iter()
                .map(|p| (expand_home(p), Source::Config))
                .collect()
        };
        let db = args
            .db
            .clone()
            .or_else(|| file.db.as_deref().map(expand_home))
            .unwrap_or_else(default_db_path);
        let api_key = std::env::var("CIVITAI_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .or(file.civitai.api_key.clone())
            .map(Secret::new);
        let civitai = CivitaiSettings {
            url: args
                .civitai_url
                .clone()
                .or(file.civitai.url.clone())
                .unwrap_or_else(|| DEFAULT_CIVITAI_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            api_key,
            requests_per_second: file.civitai.requests_per_second.unwrap_or(1.0),
            timeout_secs: file.civitai.timeout_secs.unwrap_or(30),
            cache_ttl_hours: file.civitai.cache_ttl_hours.unwrap_or(24),
        };
        if civitai.requests_per_second.is_nan() || civitai.requests_per_second <= 0.0 {
            return Err(GenError::usage(format!(
                "civitai.requests_per_second in {} must be above 0",
                config_path.display()
            ))
            .into());
        }
        Ok(Settings {
            comfyui,
            models,
            db,
            config_path,
            config_loaded,
            offline: args.offline || file.offline,
            civitai,
            ollama_url: args.ollama_url.clone().or(file.ollama.url),
            ollama_model: args.ollama_model.clone().or(file.ollama.model),
            nvml_library: std::env::var_os("GEN_NVML_LIBRARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// `~/x` → `$HOME/x`; other paths unchanged.
pub fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| p.to_path_buf()),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_shows() {
        let s = Secret::new("abc123");
        assert!(!format!("{s:?} {s}").contains("abc123"));
        let c: FileConfig = toml::from_str("[civitai]\napi_key = \"abc123\"\n").unwrap();
        assert!(!format!("{c:?}").contains("abc123"));
    }

    #[test]
    fn flag_beats_config_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            "models = [\"/from/config\"]\ndb = \"/cfg.sqlite\"\n[civitai]\nurl = \"http://x/\"\n",
        )
        .unwrap();
        let args = GlobalArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(
            s.models,
            vec![(PathBuf::from("/from/config"), Source::Config)]
        );
        assert_eq!(s.db, PathBuf::from("/cfg.sqlite"));
        assert_eq!(s.civitai.url, "http://x");
        let args = GlobalArgs {
            config: Some(cfg),
            models: vec!["/flag".into()],
            db: Some("/flag.sqlite".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.models, vec![(PathBuf::from("/flag"), Source::Flag)]);
        assert_eq!(s.db, PathBuf::from("/flag.sqlite"));
    }

    #[test]
    fn broken_config_is_a_usage_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "modles = 3").unwrap();
        let args = GlobalArgs {
            config: Some(cfg),
            ..Default::default()
        };
        let err = Settings::resolve(&args).unwrap_err();
        assert_eq!(crate::error::status_of(&err).0, crate::error::Status::Usage);
        assert!(err.to_string().contains("config.toml"));
    }
}
