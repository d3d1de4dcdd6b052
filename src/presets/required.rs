//! The separate files a preset relies on — a VAE, text encoders, a
//! step-distillation LoRA, the SDXL refiner — checked against the catalogue
//! before any weight is loaded, so a missing one is a clear message naming
//! what to download rather than a failure halfway through a render.
//!
//! Presets name files by pattern (`*`, `?`, `|` for alternatives, ignoring
//! case) because the same weights circulate under many names
//! (`t5xxl_fp16`, `t5xxl_fp8_e4m3fn_scaled`, ...). A single-file checkpoint
//! carries its own VAE and, unless the preset says otherwise, its text
//! encoders; a diffusion-model file carries neither.

use std::path::Path;

use serde::Serialize;

use super::Preset;
use crate::catalog::{Base, CatalogEntry, Category, Kind};

/// What a needed file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedRole {
    Vae,
    TextEncoder,
    LightningLora,
    Refiner,
}

impl NeedRole {
    fn describe(self) -> &'static str {
        match self {
            NeedRole::Vae => "VAE",
            NeedRole::TextEncoder => "text encoder",
            NeedRole::LightningLora => "lightning LoRA",
            NeedRole::Refiner => "SDXL refiner",
        }
    }

    fn kind(self) -> Kind {
        match self {
            NeedRole::Vae => Kind::Vae,
            NeedRole::TextEncoder => Kind::TextEncoder,
            NeedRole::LightningLora => Kind::Lora,
            NeedRole::Refiner => Kind::Checkpoint,
        }
    }

    fn folder(self) -> Category {
        match self {
            NeedRole::Vae => Category::Vae,
            NeedRole::TextEncoder => Category::TextEncoders,
            NeedRole::LightningLora => Category::Loras,
            NeedRole::Refiner => Category::Checkpoints,
        }
    }
}

/// One file a preset needs: a catalogue entry of `kind` whose file name
/// matches `pattern` and, when `base` is set, whose base model is that
/// family (or unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Need {
    pub role: NeedRole,
    pub kind: Kind,
    pub pattern: String,
    pub base: Option<Base>,
}

/// A needed file the catalogue lacks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{base} at {level} needs a {role} file matching '{pattern}' (kind {kind}), and none is in the catalogue",
    role = .need.role.describe(), pattern = .need.pattern, kind = .need.kind
)]
pub struct MissingFile {
    pub need: Need,
    pub base: Base,
    pub level: super::Level,
}

impl MissingFile {
    /// What to do about it.
    pub fn hint(&self) -> String {
        let folder = self.need.role.folder();
        let lower = match self.need.role {
            NeedRole::LightningLora | NeedRole::Refiner => ", or choose another --quality",
            _ => "",
        };
        format!("put it in the models' {folder}/ folder and run `gen index`{lower}")
    }
}

/// The files `preset` needs when rendering with `model`.
pub fn needs(preset: &Preset, model: &CatalogEntry) -> Vec<Need> {
    let p = &preset.model_specific_params;
    let separate = model.kind != Kind::Checkpoint;
    let need = |role: NeedRole, pattern: &str, base: Option<Base>| Need {
        role,
        kind: role.kind(),
        pattern: pattern.to_string(),
        base,
    };
    let mut out = Vec::new();
    if separate {
        out.extend(p.requires_vae.iter().map(|v| need(NeedRole::Vae, v, None)));
    }
    if separate || p.text_encoders_in_checkpoint == Some(false) {
        out.extend(
            p.text_encoders
                .iter()
                .map(|t| need(NeedRole::TextEncoder, t, None)),
        );
    }
    out.extend(
        p.lightning_lora
            .iter()
            .map(|l| need(NeedRole::LightningLora, l, Some(preset.base))),
    );
    out.extend(
        p.refiner
            .iter()
            .map(|r| need(NeedRole::Refiner, &r.model, Some(Base::SdxlRefiner))),
    );
    out
}

/// Checks that every file `preset` needs with `model` is in `catalogue`
/// (active, readable); returns each need with the entry that meets it, the
/// first in catalogue order.
pub fn check_required_files<'a>(
    preset: &Preset,
    model: &CatalogEntry,
    catalogue: &'a [CatalogEntry],
) -> Result<Vec<(Need, &'a CatalogEntry)>, MissingFile> {
    needs(preset, model)
        .into_iter()
        .map(|need| match catalogue.iter().find(|e| meets(&need, e)) {
            Some(entry) => Ok((need, entry)),
            None => Err(MissingFile {
                need,
                base: preset.base,
                level: preset.level,
            }),
        })
        .collect()
}

fn meets(need: &Need, e: &CatalogEntry) -> bool {
    let base_ok = match need.base {
        Some(b) => e.base == Base::Unknown || e.base.family() == b.family(),
        None => true,
    };
    e.active
        && e.error.is_none()
        && e.kind == need.kind
        && base_ok
        && name_matches(&need.pattern, e)
}

fn name_matches(pattern: &str, e: &CatalogEntry) -> bool {
    let file = Path::new(&e.path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("");
    pattern
        .split('|')
        .any(|alt| glob(alt.trim(), &e.name) || glob(alt.trim(), file))
}

/// Case-insensitive wildcard match: `*` any run of characters, `?` one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::presets::{Level, PresetTable};

    pub(crate) fn entry(id: i64, path: &str, kind: Kind, base: Base) -> CatalogEntry {
        CatalogEntry {
            category: Category::Checkpoints,
            sha256: Some(format!("{id:064x}")),
            size: 1,
            ..CatalogEntry::new(id, path, kind, base)
        }
    }

    fn preset(b: Base, l: Level) -> Preset {
        PresetTable::builtin().unwrap().get(b, l).clone()
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("t5xxl*", "T5XXL_fp8_e4m3fn.safetensors"));
        assert!(glob("*umt5*", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"));
        assert!(glob("wan2?1*vae*", "Wan2_1_VAE_bf16.safetensors"));
        assert!(glob("ae.*", "ae.sft"));
        assert!(!glob("ae.*", "flux_ae"));
        assert!(!glob("t5xxl*", "umt5_xxl.safetensors"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbd"));
    }

    #[test]
    fn flux_diffusion_model_needs_vae_and_both_text_encoders() {
        let dev = preset(Base::FluxDev, Level::Balanced);
        let model = entry(
            1,
            "/m/diffusion_models/flux1-dev.safetensors",
            Kind::DiffusionModel,
            Base::FluxDev,
        );
        let mut cat = vec![
            entry(2, "/m/vae/ae.safetensors", Kind::Vae, Base::FluxDev),
            entry(
                3,
                "/m/text_encoders/clip_l.safetensors",
                Kind::TextEncoder,
                Base::Unknown,
            ),
        ];
        let err = check_required_files(&dev, &model, &cat).unwrap_err();
        assert_eq!(err.need.role, NeedRole::TextEncoder);
        assert_eq!(err.need.pattern, "*t5xxl*|t5-xxl*|t5_xxl*");
        let msg = err.to_string();
        assert!(
            msg.contains("flux_dev at balanced needs a text encoder file matching '*t5xxl*"),
            "{msg}"
        );
        assert!(err.hint().contains("text_encoders/"), "{}", err.hint());
        cat.push(entry(
            4,
            "/m/text_encoders/t5xxl_fp8_e4m3fn.safetensors",
            Kind::TextEncoder,
            Base::Unknown,
        ));
        let found = check_required_files(&dev, &model, &cat).unwrap();
        let ids: Vec<i64> = found.iter().map(|(_, e)| e.id).collect();
        assert_eq!(ids, [2, 3, 4]);
    }

    #[test]
    fn checkpoints_carry_their_parts_except_sd3_text_encoders() {
        let dev = preset(Base::FluxDev, Level::Balanced);
        let ckpt = entry(
            1,
            "/m/checkpoints/flux1-dev-fp8.safetensors",
            Kind::Checkpoint,
            Base::FluxDev,
        );
        assert!(needs(&dev, &ckpt).is_empty());
        let sd3 = preset(Base::Sd3, Level::Balanced);
        let ckpt = entry(
            1,
            "/m/checkpoints/sd3.5_large.safetensors",
            Kind::Checkpoint,
            Base::Sd3,
        );
        let roles: Vec<NeedRole> = needs(&sd3, &ckpt).iter().map(|n| n.role).collect();
        assert_eq!(roles, [NeedRole::TextEncoder; 3]);
        assert!(needs(&preset(Base::Sd15, Level::Ultra), &ckpt).is_empty());
    }

    #[test]
    fn wan_fast_needs_a_lightning_lora_of_its_own_family() {
        let fast = preset(Base::Wan21, Level::Fast);
        let model = entry(
            1,
            "/m/diffusion_models/wan2.1_t2v_14B_fp16.safetensors",
            Kind::DiffusionModel,
            Base::Wan21,
        );
        let mut cat = vec![
            entry(2, "/m/vae/wan_2.1_vae.safetensors", Kind::Vae, Base::Wan21),
            entry(
                3,
                "/m/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                Kind::TextEncoder,
                Base::Unknown,
            ),
            entry(
                4,
                "/m/loras/Wan22_lightx2v_4steps.safetensors",
                Kind::Lora,
                Base::Wan22,
            ),
        ];
        let err = check_required_files(&fast, &model, &cat).unwrap_err();
        assert_eq!(err.need.role, NeedRole::LightningLora);
        assert!(err.hint().contains("another --quality"));
        cat.push(entry(
            5,
            "/m/loras/Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank32.safetensors",
            Kind::Lora,
            Base::Wan21,
        ));
        assert!(check_required_files(&fast, &model, &cat).is_ok());
        assert!(check_required_files(&preset(Base::Wan21, Level::High), &model, &cat[..3]).is_ok());
    }

    #[test]
    fn sdxl_ultra_needs_the_refiner_and_skips_inactive_files() {
        let ultra = preset(Base::Sdxl, Level::Ultra);
        let model = entry(
            1,
            "/m/checkpoints/sd_xl_base_1.0.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        let mut refiner = entry(
            2,
            "/m/checkpoints/sd_xl_refiner_1.0.safetensors",
            Kind::Checkpoint,
            Base::SdxlRefiner,
        );
        refiner.active = false;
        let err = check_required_files(&ultra, &model, std::slice::from_ref(&refiner)).unwrap_err();
        assert_eq!(err.need.role, NeedRole::Refiner);
        refiner.active = true;
        assert_eq!(
            check_required_files(&ultra, &model, &[refiner])
                .unwrap()
                .len(),
            1
        );
    }
}
