//! Presets: which steps, CFG, sampler, size and family-specific settings a
//! generation uses when the user says only `--quality high` (DESIGN §3).
//!
//! Three layers hold them, each a plain [`Preset`]:
//! - the base presets in `presets.toml` ([`table`]), one per base model and
//!   [`Level`], compiled in and overlaid by the user's copy, because the
//!   families differ more than any formula could say and the sources for
//!   each value belong next to it;
//! - one stored row per (model, level) in SQLite ([`db`]), written by
//!   `gen presets populate` from the base preset tuned by the model's CivitAI
//!   example images ([`tune`]), because a fine-tune often wants other CFG or
//!   clip skip than its family;
//! - the command line, which [`resolve`] puts on top, recording where every
//!   value came from so the plan can say it.
//!
//! [`required`] checks, before any weight is loaded, that the separate VAE,
//! text encoders, LoRA or refiner a preset relies on are in the catalogue.
//! Samplers and schedulers are ComfyUI's names ([`names`]); A1111's are
//! understood where users and CivitAI write them.

pub mod db;
mod error;
pub mod names;
pub mod required;
pub mod resolve;
pub mod table;
pub mod tune;
mod validate;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::Base;

pub use error::PresetError;
pub use required::{MissingFile, Need, NeedRole, check_required_files};
pub use resolve::{ArchDefaults, Overrides, Resolved, Source, resolve};
pub use table::PresetTable;
pub use tune::{ExampleStats, tune};

/// A quality level. `speed` and `quality` are accepted for fast and high,
/// the names of the preset collection this grew from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Level {
    Fast,
    Balanced,
    High,
    Ultra,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Fast, Level::Balanced, Level::High, Level::Ultra];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Fast => "fast",
            Level::Balanced => "balanced",
            Level::High => "high",
            Level::Ultra => "ultra",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = PresetError;
    fn from_str(s: &str) -> Result<Self, PresetError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fast" | "speed" => Ok(Level::Fast),
            "balanced" => Ok(Level::Balanced),
            "high" | "quality" => Ok(Level::High),
            "ultra" => Ok(Level::Ultra),
            _ => Err(PresetError::UnknownLevel(s.to_string())),
        }
    }
}

impl From<Level> for &'static str {
    fn from(l: Level) -> &'static str {
        l.as_str()
    }
}

impl TryFrom<String> for Level {
    type Error = PresetError;
    fn try_from(s: String) -> Result<Self, PresetError> {
        s.parse()
    }
}

impl From<crate::cli::Quality> for Level {
    fn from(q: crate::cli::Quality) -> Level {
        use crate::cli::Quality;
        match q {
            Quality::Fast => Level::Fast,
            Quality::Balanced => Level::Balanced,
            Quality::High => Level::High,
            Quality::Ultra => Level::Ultra,
        }
    }
}

/// Everything a generation needs to know for one (base, level), complete and
/// validated. Also the shape of a stored row and of a resolved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub base: Base,
    pub level: Level,
    pub steps: u32,
    pub cfg_scale: f64,
    /// A ComfyUI sampler name (see [`names::SAMPLERS`]).
    pub sampler: String,
    /// A ComfyUI scheduler name (see [`names::SCHEDULERS`]).
    pub scheduler: String,
    pub model_specific_params: Params,
}

/// What only some families use. Width and height are always there; the rest
/// only where the family needs it (see presets.toml's header for each).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_skip: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shift: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_shift: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denoise: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_fps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_frames: Option<u32>,
    /// Name pattern of the VAE a diffusion-model-only file needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_vae: Option<String>,
    /// Name patterns, one per text encoder needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_encoders: Vec<String>,
    /// False where even single-file checkpoints ship without their text
    /// encoders (SD3.5). Absent means true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_encoders_in_checkpoint: Option<bool>,
    /// Name pattern of the step-distillation LoRA this level relies on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightning_lora: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refiner: Option<Refiner>,
}

/// SDXL's two-stage "ensemble of experts": the base model denoises the
/// first `switch_at` of the schedule, the refiner the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refiner {
    pub switch_at: f64,
    pub base_steps: u32,
    pub refiner_steps: u32,
    /// Name pattern of the refiner checkpoint.
    pub model: String,
}

impl Refiner {
    /// Splits `steps` at `switch_at`, keeping at least one step per stage.
    pub fn split(&mut self, steps: u32) {
        let base = (f64::from(steps) * self.switch_at).round() as u32;
        self.base_steps = base.clamp(1, steps.saturating_sub(1).max(1));
        self.refiner_steps = steps.saturating_sub(self.base_steps);
    }
}

/// The keys `gen presets set` accepts (besides `refiner.<field>`), in the
/// order plans list them. A test keeps this in step with the structs.
pub const KEYS: &[&str] = &[
    "steps",
    "cfg_scale",
    "sampler",
    "scheduler",
    "width",
    "height",
    "clip_skip",
    "guidance",
    "max_shift",
    "base_shift",
    "shift",
    "denoise",
    "video_fps",
    "video_frames",
    "requires_vae",
    "text_encoders",
    "text_encoders_in_checkpoint",
    "lightning_lora",
    "refiner",
];

/// The keys that sit at the top of a [`Preset`] rather than in its params.
const CORE_KEYS: [&str; 4] = ["steps", "cfg_scale", "sampler", "scheduler"];

impl Preset {
    /// Sets the step count, re-splitting the refiner stages to match.
    pub fn set_steps(&mut self, steps: u32) {
        self.steps = steps;
        if let Some(r) = self.model_specific_params.refiner.as_mut() {
            r.split(steps);
        }
    }

    /// The preset as one flat map: core keys and params side by side (the
    /// form layers are merged and `set` edits in).
    pub(crate) fn to_flat(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut flat = serde_json::Map::new();
        let value = serde_json::to_value(self).expect("a preset always serialises");
        let serde_json::Value::Object(mut top) = value else {
            unreachable!("a preset is a struct")
        };
        if let Some(serde_json::Value::Object(params)) = top.remove("model_specific_params") {
            flat.extend(params);
        }
        top.remove("base");
        top.remove("level");
        flat.extend(top);
        flat
    }

    /// Builds a preset back from a flat map (see [`Preset::to_flat`]);
    /// unknown keys and wrong types are errors naming the key.
    pub(crate) fn from_flat(
        base: Base,
        level: Level,
        flat: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Preset, String> {
        let mut top = serde_json::Map::new();
        let mut params = serde_json::Map::new();
        for (k, v) in flat {
            if CORE_KEYS.contains(&k.as_str()) {
                top.insert(k, v);
            } else {
                params.insert(k, v);
            }
        }
        top.insert("base".into(), base.as_str().into());
        top.insert("level".into(), level.as_str().into());
        top.insert("model_specific_params".into(), params.into());
        serde_json::from_value(top.into()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_with_aliases() {
        assert_eq!("speed".parse::<Level>().unwrap(), Level::Fast);
        assert_eq!("Quality".parse::<Level>().unwrap(), Level::High);
        assert_eq!("balanced".parse::<Level>().unwrap(), Level::Balanced);
        assert_eq!(" ultra ".parse::<Level>().unwrap(), Level::Ultra);
        let err = "best".parse::<Level>().unwrap_err().to_string();
        assert!(
            err.contains("'best'") && err.contains("fast, balanced, high, ultra"),
            "{err}"
        );
        assert_eq!(
            serde_json::from_str::<Level>("\"speed\"").unwrap(),
            Level::Fast
        );
        assert_eq!(serde_json::to_string(&Level::High).unwrap(), "\"high\"");
    }

    #[test]
    fn cli_quality_aliases_map_to_levels() {
        use clap::ValueEnum;
        let q = crate::cli::Quality::from_str("speed", true).unwrap();
        assert_eq!(Level::from(q), Level::Fast);
        let q = crate::cli::Quality::from_str("quality", true).unwrap();
        assert_eq!(Level::from(q), Level::High);
    }

    #[test]
    fn refiner_split_keeps_both_stages() {
        let mut r = Refiner {
            switch_at: 0.8,
            base_steps: 0,
            refiner_steps: 0,
            model: "x".into(),
        };
        r.split(40);
        assert_eq!((r.base_steps, r.refiner_steps), (32, 8));
        r.split(25);
        assert_eq!((r.base_steps, r.refiner_steps), (20, 5));
        r.split(1);
        assert_eq!((r.base_steps, r.refiner_steps), (1, 0));
        r.switch_at = 1.0;
        r.split(10);
        assert_eq!((r.base_steps, r.refiner_steps), (9, 1));
    }

    #[test]
    fn keys_cover_every_field() {
        let p = table::PresetTable::builtin()
            .unwrap()
            .get(Base::Sdxl, Level::Ultra)
            .clone();
        let mut flat = p.to_flat();
        // Fill every optional key so the round trip sees them all.
        for k in KEYS {
            flat.entry(k.to_string()).or_insert(match *k {
                "text_encoders" => serde_json::json!(["a"]),
                "text_encoders_in_checkpoint" => serde_json::json!(true),
                "requires_vae" | "lightning_lora" => serde_json::json!("a"),
                _ => serde_json::json!(1),
            });
        }
        let back = Preset::from_flat(p.base, p.level, flat.clone()).unwrap();
        let keys: Vec<String> = back.to_flat().keys().cloned().collect();
        let mut expected: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(keys, expected);
        flat.insert("widht".into(), serde_json::json!(1));
        let err = Preset::from_flat(p.base, p.level, flat).unwrap_err();
        assert!(err.contains("unknown field `widht`"), "{err}");
    }
}
