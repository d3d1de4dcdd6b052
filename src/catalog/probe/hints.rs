//! What header metadata and, last, the file name add to the tensors' word.
//!
//! Metadata (`modelspec.architecture`, kohya's `ss_base_model_version`,
//! `modelspec.predict_key`) may refine a family into a fine-tune the tensors
//! cannot see (SDXL → Pony or Illustrious, Flux dev → Krea), choose among
//! bases the tensors left open, or decide a file whose tensors said nothing.
//! It never overrules the tensors: a contradiction is recorded and ignored.
//! The file name is only consulted for what is still open, and never for
//! Pony, Illustrious or Krea, which only metadata or CivitAI may decide.

use std::path::Path;

use serde_json::{Map, Value};

use super::Verdict;
use crate::catalog::{Base, Kind};

/// What one metadata value says about the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    base: Base,
    /// Names the family but not the variant ("flux-1", kohya "flux1").
    family_only: bool,
    prediction: Option<&'static str>,
}

impl Claim {
    fn exact(base: Base) -> Claim {
        Claim {
            base,
            family_only: false,
            prediction: None,
        }
    }
}

/// Reads a `modelspec.architecture` or `ss_base_model_version` value.
fn claim_of(value: &str) -> Option<Claim> {
    let lower = value.to_ascii_lowercase();
    let arch = lower.split('/').next().unwrap_or_default();
    if arch.contains("pony") {
        return Some(Claim::exact(Base::Pony));
    }
    if arch.contains("illustrious") || arch.contains("noobai") {
        return Some(Claim::exact(Base::Illustrious));
    }
    if arch.contains("krea") {
        return Some(Claim::exact(Base::FluxKrea));
    }
    let v = arch.ends_with("_v") || arch.ends_with("-v");
    let claim = |base| Claim {
        prediction: v.then_some("v"),
        ..Claim::exact(base)
    };
    let family = |base| Claim {
        family_only: true,
        ..Claim::exact(base)
    };
    Some(match arch {
        "flux-1-dev" => claim(Base::FluxDev),
        "flux-1-schnell" => claim(Base::FluxSchnell),
        "flux1" | "flux-1" => family(Base::FluxDev),
        "sdxl_base_v1-0" => claim(Base::Sdxl),
        a if a.starts_with("sd_v1") || a.starts_with("stable-diffusion-v1") => claim(Base::Sd15),
        a if a.starts_with("sd_v2") || a.starts_with("stable-diffusion-v2") => claim(Base::Sd21),
        a if a.starts_with("stable-diffusion-xl-v1-refiner") => claim(Base::SdxlRefiner),
        a if a.starts_with("stable-diffusion-xl") => claim(Base::Sdxl),
        a if a.starts_with("stable-diffusion-3") || a.starts_with("stable-diffusion-v3") => {
            claim(Base::Sd3)
        }
        a if a.contains("hidream") => claim(Base::HiDream),
        _ => return None,
    })
}

/// Applies the header metadata to the tensors' verdict.
pub(super) fn apply_metadata(v: &mut Verdict, metadata: Option<&Map<String, Value>>) {
    let Some(meta) = metadata else { return };
    for key in ["modelspec.predict_key", "modelspec.prediction_type"] {
        if let Some(value) = meta.get(key).and_then(Value::as_str) {
            apply_prediction(v, key, value);
        }
    }
    for key in ["modelspec.architecture", "ss_base_model_version"] {
        let Some(value) = meta.get(key).and_then(Value::as_str) else {
            continue;
        };
        let said = format!("metadata {key}={value}");
        if v.kind.is_none() && key == "modelspec.architecture" {
            adopt_kind(v, value, &said);
        }
        match claim_of(value) {
            Some(claim) => apply_claim(v, claim, &said),
            None => v
                .reasons
                .push(format!("{said} names no family gen knows; ignored")),
        }
    }
}

fn apply_prediction(v: &mut Verdict, key: &str, value: &str) {
    if !v.unet || v.prediction.is_some() {
        return;
    }
    let prediction = match value.to_ascii_lowercase().as_str() {
        "v" | "v_prediction" | "v-prediction" => "v",
        "epsilon" | "eps" => "eps",
        _ => return,
    };
    v.prediction = Some(prediction);
    v.reasons
        .push(format!("metadata {key}={value} → {prediction}-prediction"));
}

/// A `/lora` or `/textual-inversion` suffix names the kind of a file whose
/// tensors did not.
fn adopt_kind(v: &mut Verdict, value: &str, said: &str) {
    let kind = match value.rsplit_once('/').map(|(_, k)| k) {
        Some("lora" | "lycoris") => Kind::Lora,
        Some("textual-inversion") => Kind::Embedding,
        _ => return,
    };
    v.kind = Some(kind);
    v.reasons.push(format!("{said} → {kind}"));
}

fn apply_claim(v: &mut Verdict, claim: Claim, said: &str) {
    let base = claim.base;
    if let Some(p) = claim
        .prediction
        .filter(|_| v.unet && v.prediction.is_none())
    {
        v.prediction = Some(p);
        v.reasons.push(format!("{said} → {p}-prediction"));
    }
    let agrees = base == v.base
        || base == v.base.family()
        || (claim.family_only && v.base.family() == base.family())
        || (claim.family_only && v.base == Base::FluxSchnell && base == Base::FluxDev);
    if agrees && v.base != Base::Unknown {
        v.reasons.push(format!("{said} agrees"));
        if !claim.family_only {
            v.open = &[];
        }
        return;
    }
    let refines = v.base != Base::Unknown && base.family() == v.base && base != v.base;
    let chooses = v.open.contains(&base) || v.open.contains(&base.family());
    if refines || (chooses && !claim.family_only) || (v.base == Base::Unknown && chooses) {
        v.reasons.push(if refines {
            format!(
                "{said} → {base} (a {} fine-tune the tensors cannot tell)",
                v.base
            )
        } else {
            format!("{said} → {base}")
        });
        v.base = base;
        v.open = &[];
        return;
    }
    v.reasons.push(if v.base == Base::Unknown {
        format!("{said} ignored: the tensors leave no room for {base}")
    } else {
        format!(
            "{said} contradicts the tensors' {}; the tensors win",
            v.base
        )
    });
}

/// ComfyUI-GGUF's `general.architecture` names the family of a diffusion
/// model; llama.cpp names (t5encoder, llama, ...) mark text encoders.
pub(super) fn apply_gguf_architecture(v: &mut Verdict, arch: Option<&str>) {
    let Some(arch) = arch else { return };
    let said = format!("GGUF general.architecture={arch}");
    let (kind, base): (Kind, Base) = match arch {
        "flux" => (Kind::DiffusionModel, Base::FluxDev),
        "sd1" => (Kind::DiffusionModel, Base::Sd15),
        "sdxl" => (Kind::DiffusionModel, Base::Sdxl),
        "sd3" => (Kind::DiffusionModel, Base::Sd3),
        "wan" => (Kind::DiffusionModel, Base::Wan21),
        "hidream" => (Kind::DiffusionModel, Base::HiDream),
        "t5" | "t5encoder" | "umt5" | "llama" | "qwen2" | "qwen2vl" | "qwen3" | "gemma2"
        | "gemma3" => (Kind::TextEncoder, Base::Unknown),
        _ => (Kind::DiffusionModel, Base::Unknown),
    };
    if v.kind.is_some() {
        let fits = v.kind == Some(kind)
            && (base == Base::Unknown
                || v.base.family() == base.family()
                || (arch == "sd1" && v.base == Base::Sd21)
                || (arch == "flux" && v.base == Base::FluxSchnell)
                || (arch == "wan" && v.base == Base::Wan22));
        v.reasons.push(if fits {
            format!("{said} agrees")
        } else {
            format!("{said} contradicts the tensors; the tensors win")
        });
        return;
    }
    *v = Verdict::new(kind, base).because(format!("{said} → {kind}"));
    match arch {
        "flux" => {
            v.open = &[Base::FluxDev, Base::FluxSchnell];
            v.reasons.push(
                "flux_dev assumed: the architecture name does not tell dev from schnell".into(),
            );
        }
        "wan" => v.open = &[Base::Wan21, Base::Wan22],
        _ if base == Base::Unknown => {
            v.reasons.push(format!(
                "'{arch}' is not a family gen knows; base left unknown"
            ));
        }
        _ => {}
    }
}

/// File-name hints, most specific first. Pony, Illustrious and Krea are
/// deliberately absent: names do not decide fine-tunes.
const NAME_HINTS: &[(&str, Base)] = &[
    ("wan22", Base::Wan22),
    ("wan21", Base::Wan21),
    ("schnell", Base::FluxSchnell),
    ("flux", Base::FluxDev),
    ("hidream", Base::HiDream),
    ("sdxl", Base::Sdxl),
    ("sd3", Base::Sd3),
    ("sd15", Base::Sd15),
    ("sd21", Base::Sd21),
    ("ftmse", Base::Sd15),
    ("ftema", Base::Sd15),
];

/// The last resort, for bases the tensors and metadata left open.
pub(super) fn apply_name(v: &mut Verdict, path: &Path) {
    if v.open.is_empty() {
        return;
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match name_hint(&stem, v.open) {
        Some((hint, base)) => {
            v.reasons.push(format!(
                "file name contains '{hint}' → {base} (a last resort: the tensors cannot tell)"
            ));
            v.base = base;
            v.open = &[];
        }
        None if v.base == Base::Unknown && v.kind.is_some() => {
            let open: Vec<&str> = v.open.iter().map(|b| b.as_str()).collect();
            v.reasons.push(format!(
                "base unknown: the tensors fit {} and neither metadata nor the file name says which",
                open.join(" or ")
            ));
        }
        None => {}
    }
}

/// The first hint in a lower-case file stem that names one of `open`: a
/// known word with separators removed, Flux's VAE name "ae", or a word
/// ending in "xl" (e.g. "sdxl_vae", "ponyv6xl", but not "t5xxl").
fn name_hint(stem: &str, open: &[Base]) -> Option<(String, Base)> {
    let squashed: String = stem.chars().filter(char::is_ascii_alphanumeric).collect();
    let known = NAME_HINTS
        .iter()
        .find(|(h, b)| open.contains(b) && squashed.contains(h))
        .map(|(h, b)| (h.to_string(), *b));
    let ae = (stem == "ae").then(|| ("ae".to_string(), Base::FluxDev));
    let xl = || {
        stem.split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| w.ends_with("xl") && !w.ends_with("xxl"))
            .map(|w| (w.to_string(), Base::Sdxl))
    };
    known.or(ae).or_else(xl).filter(|(_, b)| open.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_metadata_values() {
        assert_eq!(claim_of("sdxl_base_v1-0"), Some(Claim::exact(Base::Sdxl)));
        assert_eq!(
            claim_of("stable-diffusion-xl-v1-base/lora"),
            Some(Claim::exact(Base::Sdxl))
        );
        assert_eq!(
            claim_of("stable-diffusion-v2-768-v").map(|c| (c.base, c.prediction)),
            Some((Base::Sd21, Some("v")))
        );
        assert_eq!(
            claim_of("sd_v2_v").map(|c| (c.base, c.prediction)),
            Some((Base::Sd21, Some("v")))
        );
        assert_eq!(claim_of("sd_v1"), Some(Claim::exact(Base::Sd15)));
        assert_eq!(
            claim_of("stable-diffusion-v3-medium"),
            Some(Claim::exact(Base::Sd3))
        );
        assert_eq!(
            claim_of("flux-1-schnell/lora"),
            Some(Claim::exact(Base::FluxSchnell))
        );
        assert_eq!(claim_of("flux1").map(|c| c.family_only), Some(true));
        assert_eq!(
            claim_of("pony-diffusion-v6-xl"),
            Some(Claim::exact(Base::Pony))
        );
        assert_eq!(claim_of("chroma"), None);
    }

    #[test]
    fn reads_name_hints() {
        let sd = &[Base::Sd15, Base::Sdxl];
        assert_eq!(name_hint("sdxl_vae", sd), Some(("sdxl".into(), Base::Sdxl)));
        assert_eq!(
            name_hint("wan2.2_t2v_14b", &[Base::Wan21, Base::Wan22]),
            Some(("wan22".into(), Base::Wan22))
        );
        assert_eq!(
            name_hint("vae-ft-mse-840000-ema-pruned", sd),
            Some(("ftmse".into(), Base::Sd15))
        );
        assert_eq!(
            name_hint("juggernautxl_v9", sd),
            Some(("juggernautxl".into(), Base::Sdxl))
        );
        assert_eq!(
            name_hint("flux_to_sdxl_vae", sd),
            Some(("sdxl".into(), Base::Sdxl))
        );
        assert_eq!(
            name_hint("ae", &[Base::FluxDev, Base::Sd3]),
            Some(("ae".into(), Base::FluxDev))
        );
        assert_eq!(name_hint("t5xxl_fp16", sd), None);
        assert_eq!(name_hint("my_vae", sd), None);
        assert_eq!(name_hint("sdxl_vae", &[Base::FluxDev, Base::Sd3]), None);
    }
}
