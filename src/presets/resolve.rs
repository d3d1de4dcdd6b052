//! Where each generation parameter comes from (DESIGN §3): the command line
//! beats the model's stored row, which beats the base preset, which beats
//! the built-in architecture defaults. The result keeps, for every
//! parameter, the layer that supplied it, so `--dry-run` can say why a value
//! is what it is.
//!
//! Layers are compared key by key on flat maps (the same form `set` edits),
//! so adding a parameter to [`Params`](super::Params) needs no change here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::{parse_sampler, parse_scheduler};
use super::validate::validate;
use super::{KEYS, Preset, PresetError};

/// The layer a value came from, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    CommandLine,
    ModelRow,
    BasePreset,
    Default,
}

/// The parameters the command line can set; `None` leaves them to the
/// layers below. Samplers and schedulers may be A1111 names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_skip: Option<u32>,
    /// img2img's denoising strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denoise: Option<f64>,
}

impl Overrides {
    /// ComfyUI names for A1111 ones; "DPM++ 2M Karras" also sets the
    /// scheduler unless one was given. Unknown names are left for
    /// validation to report.
    fn normalised(&self) -> Overrides {
        let mut o = self.clone();
        if let Some((sampler, schedule)) = o.sampler.as_deref().and_then(parse_sampler) {
            o.sampler = Some(sampler.to_string());
            if o.scheduler.is_none() {
                o.scheduler = schedule.map(str::to_string);
            }
        }
        if let Some(s) = o.scheduler.as_deref().and_then(parse_scheduler) {
            o.scheduler = Some(s.to_string());
        }
        o
    }
}

/// What the renderer assumes when no layer says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchDefaults {
    /// 1.0: text-to-image denoises the whole schedule.
    pub denoise: f64,
}

impl Default for ArchDefaults {
    fn default() -> Self {
        ArchDefaults { denoise: 1.0 }
    }
}

/// Every parameter of one generation with the layer it came from. Plain
/// data: the plan serialises it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub preset: Preset,
    /// Parameter name (as in [`KEYS`]) to the layer that supplied it.
    pub sources: BTreeMap<String, Source>,
}

/// One row of a plan's parameter table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub name: String,
    pub value: Value,
    pub source: Source,
}

impl Resolved {
    pub fn source(&self, key: &str) -> Option<Source> {
        self.sources.get(key).copied()
    }

    /// The parameters in [`KEYS`] order, each with its value and source.
    pub fn parameters(&self) -> Vec<Parameter> {
        let mut flat = self.preset.to_flat();
        KEYS.iter()
            .filter_map(|k| {
                let value = flat.remove(*k)?;
                Some(Parameter {
                    name: k.to_string(),
                    value,
                    source: self.sources[*k],
                })
            })
            .collect()
    }
}

/// Resolves every parameter: `cli` > `row` (the model's stored preset for
/// this level) > `base` (the base preset) > `defaults`. A command-line
/// `--steps` on a level with a refiner re-splits the two stages.
pub fn resolve(
    cli: &Overrides,
    row: Option<&Preset>,
    base: &Preset,
    defaults: &ArchDefaults,
) -> Result<Resolved, PresetError> {
    let layers = [
        (Some(to_map(&cli.normalised())), Source::CommandLine),
        (row.map(Preset::to_flat), Source::ModelRow),
        (Some(base.to_flat()), Source::BasePreset),
        (Some(to_map(defaults)), Source::Default),
    ];
    let mut merged = Map::new();
    let mut sources = BTreeMap::new();
    for (layer, source) in layers {
        for (k, v) in layer.into_iter().flatten() {
            if !merged.contains_key(&k) {
                sources.insert(k.clone(), source);
                merged.insert(k, v);
            }
        }
    }
    let origin = |key: &str, sources: &BTreeMap<String, Source>| match sources
        .get(key.split('.').next().unwrap_or(key))
    {
        Some(Source::CommandLine) => "command line",
        Some(Source::ModelRow) => "the model's stored preset",
        _ => "the base preset",
    };
    let mut preset = Preset::from_flat(base.base, base.level, merged).map_err(|message| {
        PresetError::Invalid {
            origin: "command line".into(),
            key: String::new(),
            message,
        }
    })?;
    resplit_refiner(&mut preset, &mut sources);
    validate(&preset).map_err(|(key, message)| PresetError::Invalid {
        origin: origin(&key, &sources).into(),
        key,
        message,
    })?;
    Ok(Resolved { preset, sources })
}

/// When steps came from a higher layer than the refiner split, the split
/// follows the steps (and says so).
fn resplit_refiner(preset: &mut Preset, sources: &mut BTreeMap<String, Source>) {
    let steps = preset.steps;
    let Some(r) = preset.model_specific_params.refiner.as_mut() else {
        return;
    };
    if r.base_steps + r.refiner_steps != steps {
        r.split(steps);
        let by = sources["steps"];
        sources.insert("refiner".into(), by);
    }
}

fn to_map<T: Serialize>(v: &T) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => unreachable!("layers serialise as maps"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Base;
    use crate::presets::{Level, PresetTable};

    fn base(b: Base, l: Level) -> Preset {
        PresetTable::builtin().unwrap().get(b, l).clone()
    }

    #[test]
    fn each_source_wins_in_order() {
        let base = base(Base::Sdxl, Level::High);
        let mut row = base.clone();
        row.steps = 31;
        row.cfg_scale = 5.5;
        row.model_specific_params.clip_skip = Some(2);
        let cli = Overrides {
            steps: Some(18),
            ..Default::default()
        };
        let r = resolve(&cli, Some(&row), &base, &ArchDefaults::default()).unwrap();
        assert_eq!(
            (r.preset.steps, r.source("steps")),
            (18, Some(Source::CommandLine))
        );
        assert_eq!(
            (r.preset.cfg_scale, r.source("cfg_scale")),
            (5.5, Some(Source::ModelRow))
        );
        assert_eq!(r.source("clip_skip"), Some(Source::ModelRow));
        assert_eq!(r.preset.model_specific_params.denoise, Some(1.0));
        assert_eq!(r.source("denoise"), Some(Source::Default));

        let r = resolve(&Overrides::default(), None, &base, &ArchDefaults::default()).unwrap();
        assert_eq!(
            (r.preset.steps, r.source("steps")),
            (35, Some(Source::BasePreset))
        );
        assert_eq!(r.source("width"), Some(Source::BasePreset));
        assert!(
            r.sources
                .values()
                .all(|s| matches!(s, Source::BasePreset | Source::Default))
        );
    }

    #[test]
    fn a_row_value_beats_the_base_but_not_the_cli() {
        let base = base(Base::Pony, Level::Balanced);
        let mut row = base.clone();
        row.model_specific_params.width = 832;
        let cli = Overrides {
            width: Some(1216),
            height: Some(832),
            ..Default::default()
        };
        let r = resolve(
            &Overrides::default(),
            Some(&row),
            &base,
            &ArchDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            (r.preset.model_specific_params.width, r.source("width")),
            (832, Some(Source::ModelRow))
        );
        let r = resolve(&cli, Some(&row), &base, &ArchDefaults::default()).unwrap();
        assert_eq!(
            (r.preset.model_specific_params.width, r.source("width")),
            (1216, Some(Source::CommandLine))
        );
        assert_eq!(r.preset.model_specific_params.height, 832);
    }

    #[test]
    fn a1111_sampler_names_set_the_scheduler_too() {
        let base = base(Base::Pony, Level::Balanced);
        let cli = Overrides {
            sampler: Some("DPM++ 2M Karras".into()),
            ..Default::default()
        };
        let r = resolve(&cli, None, &base, &ArchDefaults::default()).unwrap();
        assert_eq!(
            (r.preset.sampler.as_str(), r.preset.scheduler.as_str()),
            ("dpmpp_2m", "karras")
        );
        assert_eq!(r.source("scheduler"), Some(Source::CommandLine));
        let cli = Overrides {
            sampler: Some("Euler a".into()),
            ..Default::default()
        };
        let r = resolve(&cli, None, &base, &ArchDefaults::default()).unwrap();
        assert_eq!(
            (r.preset.sampler.as_str(), r.source("scheduler")),
            ("euler_ancestral", Some(Source::BasePreset))
        );
    }

    #[test]
    fn bad_command_line_values_are_usage_errors() {
        let base = base(Base::Sd15, Level::Fast);
        for (cli, key) in [
            (
                Overrides {
                    steps: Some(0),
                    ..Default::default()
                },
                "steps",
            ),
            (
                Overrides {
                    width: Some(500),
                    ..Default::default()
                },
                "width",
            ),
            (
                Overrides {
                    sampler: Some("warp".into()),
                    ..Default::default()
                },
                "sampler",
            ),
        ] {
            let err = resolve(&cli, None, &base, &ArchDefaults::default()).unwrap_err();
            assert!(
                matches!(&err, PresetError::Invalid { origin, key: k, .. } if origin == "command line" && k == key),
                "{err}"
            );
            assert_eq!(
                crate::error::GenError::from(err).status,
                crate::error::Status::Usage
            );
        }
    }

    #[test]
    fn cli_steps_re_split_the_refiner() {
        let base = base(Base::Sdxl, Level::Ultra);
        let cli = Overrides {
            steps: Some(50),
            ..Default::default()
        };
        let r = resolve(&cli, None, &base, &ArchDefaults::default()).unwrap();
        let refiner = r.preset.model_specific_params.refiner.clone().unwrap();
        assert_eq!((refiner.base_steps, refiner.refiner_steps), (40, 10));
        assert_eq!(r.source("refiner"), Some(Source::CommandLine));
    }

    #[test]
    fn parameters_list_in_key_order_and_serialise() {
        let base = base(Base::FluxDev, Level::Balanced);
        let r = resolve(&Overrides::default(), None, &base, &ArchDefaults::default()).unwrap();
        let names: Vec<String> = r.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(
            &names[..6],
            [
                "steps",
                "cfg_scale",
                "sampler",
                "scheduler",
                "width",
                "height"
            ]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["sources"]["guidance"], "base_preset");
        assert_eq!(json["preset"]["model_specific_params"]["guidance"], 3.5);
    }
}
