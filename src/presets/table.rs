//! The base presets: `presets.toml` compiled in, overlaid by the user's
//! `$XDG_CONFIG_HOME/gen/presets.toml`.
//!
//! Both files are read into flat per-(base, level) maps (a base's `common`
//! table expanded into each level), merged key by key with the overlay on
//! top, then turned into typed [`Preset`]s and validated. Merging maps rather
//! than typed structs lets an overlay set any subset of any table, down to
//! one field of the refiner, without a second, all-optional copy of every
//! struct. The built-in file is checked first on its own, so any error left
//! after the overlay is the overlay's and is reported against its path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::validate::validate;
use super::{CORE_KEYS, Level, Preset, PresetError};
use crate::catalog::Base;

/// The built-in presets file.
pub const BUILTIN: &str = include_str!("../../presets.toml");

/// Where the built-in file's errors are said to come from.
const BUILTIN_NAME: &str = "presets.toml (built in)";

type Flat = Map<String, Value>;

/// Every (base, level) preset, complete and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetTable {
    presets: BTreeMap<(Base, Level), Preset>,
}

impl PresetTable {
    /// The built-in presets alone.
    pub fn builtin() -> Result<PresetTable, PresetError> {
        Self::from_sources(BUILTIN, None)
    }

    /// The built-in presets overlaid by `$XDG_CONFIG_HOME/gen/presets.toml`
    /// when that file exists.
    pub fn load() -> Result<PresetTable, PresetError> {
        Self::load_overlay(&crate::config::config_dir().join("presets.toml"))
    }

    /// The built-in presets overlaid by `path`; a missing file is no overlay.
    pub fn load_overlay(path: &Path) -> Result<PresetTable, PresetError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_sources(BUILTIN, Some((path, &text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::builtin(),
            Err(e) => Err(PresetError::File {
                file: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    /// `builtin` (which must cover every base and level) overlaid by
    /// `overlay` (path for messages, text).
    pub fn from_sources(
        builtin: &str,
        overlay: Option<(&Path, &str)>,
    ) -> Result<PresetTable, PresetError> {
        let builtin_path = PathBuf::from(BUILTIN_NAME);
        let base_layer = parse_file(builtin, &builtin_path)?;
        let top_layer = match overlay {
            Some((path, text)) => Some((path, parse_file(text, path)?)),
            None => None,
        };
        let mut presets = BTreeMap::new();
        for base in Base::ALL {
            for level in Level::ALL {
                let mut flat = base_layer.get(&(*base, level)).cloned().unwrap_or_default();
                let built = build(*base, level, flat.clone(), &builtin_path, None)?;
                let preset = match top_layer
                    .as_ref()
                    .and_then(|(p, l)| l.get(&(*base, level)).map(|f| (p, f)))
                {
                    Some((path, over)) => {
                        merge(&mut flat, over);
                        build(*base, level, flat, path, Some(&built))?
                    }
                    None => built,
                };
                presets.insert((*base, level), preset);
            }
        }
        Ok(PresetTable { presets })
    }

    /// The preset of one base and level (all exist: loading checks it).
    pub fn get(&self, base: Base, level: Level) -> &Preset {
        &self.presets[&(base, level)]
    }

    /// Every preset, by base then level.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values()
    }
}

/// Deep-merges `from` into `into`: tables merge, anything else replaces.
pub(crate) fn merge(into: &mut Flat, from: &Flat) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Types and validates one merged (base, level); errors name `file`, the
/// table and the key. `known_good` is the same preset without the overlay,
/// used to find which overlay key a type error comes from.
fn build(
    base: Base,
    level: Level,
    flat: Flat,
    file: &Path,
    known_good: Option<&Preset>,
) -> Result<Preset, PresetError> {
    let table = format!("{base}.{level}");
    let invalid = |key: String, message: String| PresetError::Invalid {
        origin: format!("presets file {}", file.display()),
        key: if key.is_empty() {
            table.clone()
        } else {
            format!("{table}.{key}")
        },
        message,
    };
    let preset = Preset::from_flat(base, level, flat.clone()).map_err(|message| {
        let key = known_good
            .and_then(|good| blame(good, &flat))
            .unwrap_or_default();
        invalid(key, message)
    })?;
    validate(&preset).map_err(|(key, message)| invalid(key, message))?;
    Ok(preset)
}

/// The first key of `flat` that `good` cannot take.
fn blame(good: &Preset, flat: &Flat) -> Option<String> {
    flat.iter().find_map(|(k, v)| {
        let mut probe = good.to_flat();
        probe.insert(k.clone(), v.clone());
        Preset::from_flat(good.base, good.level, probe)
            .err()
            .map(|_| k.clone())
    })
}

/// Reads one presets file into flat maps per (base, level), `common`
/// already expanded into each level it touches.
fn parse_file(text: &str, file: &Path) -> Result<BTreeMap<(Base, Level), Flat>, PresetError> {
    let err = |message: String| PresetError::File {
        file: file.to_path_buf(),
        message,
    };
    let doc: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (base_key, tables) in &doc {
        let base = canonical_base(base_key).map_err(&err)?;
        let tables = as_table(tables, base_key).map_err(&err)?;
        let mut common = Flat::new();
        let mut levels: BTreeMap<Level, Flat> = BTreeMap::new();
        for (key, table) in tables {
            let path = format!("{base_key}.{key}");
            let flat = flatten(table, &path).map_err(&err)?;
            if key == "common" {
                common = flat;
                continue;
            }
            let level: Level = key
                .parse()
                .map_err(|e: PresetError| err(format!("[{path}]: {e}")))?;
            if levels.insert(level, flat).is_some() {
                return Err(err(format!(
                    "[{base_key}] sets {level} twice (an alias is the same level)"
                )));
            }
        }
        for level in Level::ALL {
            let mut flat = common.clone();
            match levels.get(&level) {
                Some(own) => merge(&mut flat, own),
                None if common.is_empty() => continue,
                None => {}
            }
            out.insert((base, level), flat);
        }
    }
    Ok(out)
}

/// A level's table with `model_specific_params` lifted beside the core keys.
fn flatten(table: &toml::Value, path: &str) -> Result<Flat, String> {
    let mut flat = Flat::new();
    for (key, value) in as_table(table, path)? {
        if key == "model_specific_params" {
            let params = as_table(value, &format!("{path}.{key}"))?;
            for (k, v) in params {
                flat.insert(k.clone(), to_json(v));
            }
        } else if CORE_KEYS.contains(&key.as_str()) {
            flat.insert(key.clone(), to_json(value));
        } else {
            return Err(format!(
                "[{path}]: unknown key '{key}' (expected {} or model_specific_params)",
                CORE_KEYS.join(", ")
            ));
        }
    }
    Ok(flat)
}

fn as_table<'a>(v: &'a toml::Value, path: &str) -> Result<&'a toml::Table, String> {
    v.as_table()
        .ok_or_else(|| format!("'{path}' must be a table"))
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).expect("TOML values are JSON values")
}

/// Base names in presets files are spelled as in DESIGN §2, so a table can
/// be found by searching for its id.
fn canonical_base(key: &str) -> Result<Base, String> {
    match key.parse::<Base>() {
        Ok(base) if base.as_str() == key => Ok(base),
        Ok(base) => Err(format!("[{key}]: write the base model as '{base}'")),
        Err(e) => Err(format!("[{key}]: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> PresetTable {
        PresetTable::builtin().expect("the shipped presets.toml loads")
    }

    fn overlay(text: &str) -> Result<PresetTable, PresetError> {
        PresetTable::from_sources(
            BUILTIN,
            Some((Path::new("/home/u/.config/gen/presets.toml"), text)),
        )
    }

    #[test]
    fn every_level_of_every_base_is_complete_and_in_range() {
        let table = builtin();
        for base in Base::ALL {
            for level in Level::ALL {
                let p = table.get(*base, level);
                assert_eq!((p.base, p.level), (*base, level));
                assert!(validate(p).is_ok(), "{base}.{level}: {:?}", validate(p));
                assert!(p.steps >= 1 && p.model_specific_params.width >= 64);
            }
        }
        assert_eq!(table.iter().count(), Base::ALL.len() * 4);
    }

    #[test]
    fn fast_is_two_to_four_times_quicker_than_high() {
        let table = builtin();
        for base in Base::ALL {
            let fast = table.get(*base, Level::Fast).steps;
            let high = table.get(*base, Level::High).steps;
            assert!(
                high >= 2 * fast && high <= 4 * fast,
                "{base}: fast {fast} vs high {high}"
            );
            let steps: Vec<u32> = Level::ALL
                .iter()
                .map(|l| table.get(*base, *l).steps)
                .collect();
            assert!(
                steps.windows(2).all(|w| w[0] <= w[1]),
                "{base}: steps not rising {steps:?}"
            );
        }
    }

    #[test]
    fn published_values_are_kept() {
        let t = builtin();
        let sd15 = t.get(Base::Sd15, Level::Balanced);
        assert_eq!(
            (
                sd15.model_specific_params.width,
                sd15.model_specific_params.height
            ),
            (512, 512)
        );
        let pony = &t.get(Base::Pony, Level::High).model_specific_params;
        assert_eq!(
            (pony.width, pony.height, pony.clip_skip),
            (1024, 1024, Some(2))
        );
        let dev = t.get(Base::FluxDev, Level::Balanced);
        assert_eq!(dev.cfg_scale, 1.0);
        let m = &dev.model_specific_params;
        assert_eq!(
            (m.guidance, m.max_shift, m.base_shift),
            (Some(3.5), Some(1.15), Some(0.5))
        );
        assert_eq!(m.text_encoders.len(), 2);
        let schnell = t.get(Base::FluxSchnell, Level::Balanced);
        assert_eq!((schnell.steps, schnell.cfg_scale), (4, 1.0));
        let sd3 = t.get(Base::Sd3, Level::Balanced);
        assert_eq!((sd3.steps, sd3.cfg_scale), (28, 4.5));
        let wan = t.get(Base::Wan21, Level::Fast);
        let m = &wan.model_specific_params;
        assert_eq!((m.video_fps, m.video_frames), (Some(16), Some(81)));
        assert!(m.lightning_lora.is_some() && wan.cfg_scale == 1.0);
        assert!(
            t.get(Base::Wan21, Level::Balanced)
                .model_specific_params
                .lightning_lora
                .is_none()
        );
        assert_eq!(
            t.get(Base::Wan22, Level::High)
                .model_specific_params
                .video_fps,
            Some(24)
        );
        let r = t
            .get(Base::Sdxl, Level::Ultra)
            .model_specific_params
            .refiner
            .clone()
            .unwrap();
        assert_eq!((r.switch_at, r.base_steps, r.refiner_steps), (0.8, 32, 8));
        assert!(
            t.get(Base::Sdxl, Level::High)
                .model_specific_params
                .refiner
                .is_none()
        );
    }

    #[test]
    fn overlay_beats_builtin_and_keeps_the_rest() {
        let t =
            overlay("[sdxl.fast]\nsteps = 10\n[sdxl.common.model_specific_params]\nwidth = 896\n")
                .unwrap();
        let fast = t.get(Base::Sdxl, Level::Fast);
        assert_eq!(fast.steps, 10);
        assert_eq!(fast.model_specific_params.width, 896);
        assert_eq!(fast.model_specific_params.height, 1024);
        assert_eq!(fast.sampler, "dpmpp_2m");
        // The overlay's common beats the built-in level, for every level.
        assert_eq!(
            t.get(Base::Sdxl, Level::Ultra).model_specific_params.width,
            896
        );
        assert_eq!(t.get(Base::Sdxl, Level::Ultra).steps, 40);
        assert_eq!(
            t.get(Base::Pony, Level::Fast),
            builtin().get(Base::Pony, Level::Fast)
        );
    }

    #[test]
    fn overlay_can_set_one_field_of_a_nested_table_and_use_aliases() {
        let t = overlay("[sdxl.ultra.model_specific_params.refiner]\nswitch_at = 0.75\nbase_steps = 30\nrefiner_steps = 10\n[pony.speed]\nsteps = 8\n[pony.quality]\nsteps = 30\n")
            .unwrap();
        let r = t
            .get(Base::Sdxl, Level::Ultra)
            .model_specific_params
            .refiner
            .clone()
            .unwrap();
        assert_eq!((r.switch_at, r.base_steps, r.refiner_steps), (0.75, 30, 10));
        assert_eq!(r.model, "sd_xl_refiner*|*xl*refiner*");
        assert_eq!(t.get(Base::Pony, Level::Fast).steps, 8);
        assert_eq!(t.get(Base::Pony, Level::High).steps, 30);
    }

    #[test]
    fn overlay_errors_name_the_file_and_the_key() {
        let cases = [
            (
                "[sdxl.fast.model_specific_params]\nwidht = 512\n",
                "sdxl.fast.widht",
            ),
            ("[sdxl.fast]\nsteps = \"many\"\n", "sdxl.fast.steps"),
            ("[sdxl.fast]\nsteps = 0\n", "sdxl.fast.steps"),
            (
                "[sdxl.common]\nsampler = \"Euler a\"\n",
                "sdxl.fast.sampler",
            ),
            (
                "[flux_dev.high.model_specific_params]\nwidth = 1020\n",
                "flux_dev.high.width",
            ),
        ];
        for (text, key) in cases {
            let err = overlay(text).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, PresetError::Invalid { key: k, .. } if k == key),
                "{text}: {msg}"
            );
            assert!(
                msg.starts_with("presets file /home/u/.config/gen/presets.toml: "),
                "{msg}"
            );
        }
    }

    #[test]
    fn overlay_shape_errors_name_the_file() {
        for (text, needle) in [
            ("[sdxxl.fast]\nsteps = 3\n", "unknown base 'sdxxl'"),
            (
                "[sd15.fast]\nsteps = 3\n",
                "write the base model as 'sd_1_5'",
            ),
            ("[sdxl.fastest]\nsteps = 3\n", "unknown level 'fastest'"),
            ("[sdxl.fast]\nstep = 3\n", "unknown key 'step'"),
            (
                "[sdxl.fast]\nsteps = 3\n[sdxl.speed]\nsteps = 4\n",
                "sets fast twice",
            ),
            ("[sdxl.fast\nsteps = 3\n", "TOML parse error"),
        ] {
            let msg = overlay(text).unwrap_err().to_string();
            assert!(
                msg.contains("/home/u/.config/gen/presets.toml") && msg.contains(needle),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn a_missing_overlay_file_is_no_overlay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("presets.toml");
        assert_eq!(PresetTable::load_overlay(&path).unwrap(), builtin());
        std::fs::write(&path, "[sd_1_5.balanced]\nsteps = 22\n").unwrap();
        assert_eq!(
            PresetTable::load_overlay(&path)
                .unwrap()
                .get(Base::Sd15, Level::Balanced)
                .steps,
            22
        );
    }

    #[test]
    fn an_incomplete_builtin_is_refused() {
        let err = PresetTable::from_sources("[sd_1_5.fast]\nsteps = 3\n", None).unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
