//! LoRA-family adapters and textual-inversion embeddings.
//!
//! An adapter's base is the model its matrices were shaped for. For the
//! UNet families that is the input width of the cross-attention key
//! projection (`attn2.to_k`), which equals the text context of the base:
//! 768 for SD1.x, 1024 for SD2.x, 2048 for SDXL (InvokeAI's
//! `lora_token_vector_length`). It is read from whichever matrix the
//! convention stores on the input side: kohya `lora_down` and PEFT `lora_A`
//! [rank, in], LoHa `hada_w1_b` [rank, in], LoKr `lokr_w1` ⊗ `lokr_w2`
//! (in = product of their column counts). DiT families are told by their
//! block names instead (Flux `double_blocks`, SD3 `joint_blocks`, ...).

use std::collections::BTreeSet;

use super::detect::context_family;
use super::keys::Keys;
use super::{ANY_BASE, Verdict};
use crate::catalog::{Base, Kind};

/// How a file stores its low-rank factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    Kohya,
    Peft,
    AttnProcessor,
    LoHa,
    LoKr,
}

impl Style {
    fn describe(self) -> &'static str {
        match self {
            Style::Kohya => "lora_down/lora_up → LoRA (kohya convention)",
            Style::Peft => "lora_A/lora_B → LoRA (diffusers/PEFT convention)",
            Style::AttnProcessor => "to_k_lora.down/up → LoRA (old diffusers attention processors)",
            Style::LoHa => "hada_w1_a/hada_w1_b/hada_w2_* → LyCORIS LoHa",
            Style::LoKr => "lokr_w1/lokr_w2 → LyCORIS LoKr",
        }
    }
}

/// Tensor-name endings of each convention.
const SUFFIXES: &[(&str, Style)] = &[
    (".lora_down.weight", Style::Kohya),
    (".lora_up.weight", Style::Kohya),
    (".lora_A.weight", Style::Peft),
    (".lora_B.weight", Style::Peft),
    (".hada_w1_a", Style::LoHa),
    (".hada_w1_b", Style::LoHa),
    (".hada_w2_a", Style::LoHa),
    (".hada_w2_b", Style::LoHa),
    (".lokr_w1", Style::LoKr),
    (".lokr_w1_a", Style::LoKr),
    (".lokr_w1_b", Style::LoKr),
    (".lokr_w2", Style::LoKr),
    (".lokr_w2_a", Style::LoKr),
    (".lokr_w2_b", Style::LoKr),
];

/// The module a tensor adapts and the convention, if it is an adapter factor.
fn module_of(name: &str) -> Option<(&str, Style)> {
    if let Some(found) = SUFFIXES
        .iter()
        .find_map(|(suffix, style)| name.strip_suffix(suffix).map(|m| (m, *style)))
    {
        return Some(found);
    }
    let module = name
        .strip_suffix(".down.weight")
        .or_else(|| name.strip_suffix(".up.weight"))?;
    module
        .ends_with("lora")
        .then_some((module, Style::AttnProcessor))
}

/// Input width of an adapted module, from whichever factor holds it.
fn in_features(keys: &Keys, module: &str) -> Option<u64> {
    let dim = |suffix: &str| keys.dim(&format!("{module}{suffix}"), 1);
    [
        ".lora_down.weight",
        ".lora_A.weight",
        ".down.weight",
        ".hada_w1_b",
    ]
    .iter()
    .find_map(|s| dim(s))
    .or_else(|| {
        let w1 = dim(".lokr_w1").or_else(|| dim(".lokr_w1_b"))?;
        let w2 = dim(".lokr_w2").or_else(|| dim(".lokr_w2_b"))?;
        Some(w1 * w2)
    })
}

/// A LoRA, LoCon, LoHa or LoKr file.
pub(super) fn lora(keys: &Keys) -> Option<Verdict> {
    let mut modules = BTreeSet::new();
    let mut styles = BTreeSet::new();
    for name in keys.names() {
        if let Some((module, style)) = module_of(name) {
            modules.insert(module);
            styles.insert(style);
        }
    }
    if modules.is_empty() {
        return None;
    }
    let mut v = Verdict::new(Kind::Lora, Base::Unknown);
    for style in &styles {
        v.reasons.push(format!(
            "{} modules with {}",
            modules.len(),
            style.describe()
        ));
    }
    if is_locon(keys) {
        v.reasons
            .push("lora_down on 3×3 convolutions → LyCORIS LoCon".into());
    }
    if keys.names().any(|n| n.ends_with(".dora_scale")) {
        v.reasons.push("dora_scale tensors → DoRA".into());
    }
    let family = lora_family(keys, &modules);
    v.base = family.base;
    v.open = family.open;
    v.reasons.extend(family.reasons);
    Some(v)
}

fn is_locon(keys: &Keys) -> bool {
    keys.names().any(|n| {
        n.ends_with(".lora_down.weight")
            && keys
                .shape(n)
                .is_some_and(|s| s.len() == 4 && (s[2] > 1 || s[3] > 1))
    })
}

struct Family {
    base: Base,
    open: &'static [Base],
    reasons: Vec<String>,
}

impl Family {
    fn new(base: Base, reason: String) -> Family {
        Family {
            base,
            open: &[],
            reasons: vec![reason],
        }
    }
}

/// Block names first (DiT families), then the UNet cross-attention width,
/// then the text encoders a text-encoder-only LoRA adapts.
fn lora_family(keys: &Keys, modules: &BTreeSet<&str>) -> Family {
    let any = |part: &str| modules.iter().any(|m| m.contains(part));
    if any("double_stream_blocks") || any("single_stream_blocks") {
        return Family::new(
            Base::HiDream,
            "double_stream/single_stream block modules → HiDream LoRA".into(),
        );
    }
    if any("double_blocks") || any("single_blocks") || any("single_transformer_blocks") {
        return flux_lora("double/single block modules");
    }
    if any("joint_blocks") {
        return Family::new(Base::Sd3, "joint_blocks modules → SD3 LoRA".into());
    }
    if let Some(f) = mmdit_lora(keys, modules) {
        return f;
    }
    if any("cross_attn") && !any("transformer_blocks") {
        return wan_lora(keys, modules);
    }
    if let Some(f) = unet_lora(keys, modules) {
        return f;
    }
    text_encoder_lora(keys, modules).unwrap_or(Family {
        base: Base::Unknown,
        open: ANY_BASE,
        reasons: vec!["no adapted module tells the family".into()],
    })
}

fn flux_lora(what: &str) -> Family {
    Family {
        base: Base::FluxDev,
        open: &[Base::FluxDev, Base::FluxSchnell],
        reasons: vec![format!(
            "{what} → Flux LoRA; dev and schnell LoRAs share this layout, flux_dev assumed"
        )],
    }
}

/// Diffusers `transformer_blocks.N.attn.add_k_proj`: Flux if 3072 wide,
/// else SD3.
fn mmdit_lora(keys: &Keys, modules: &BTreeSet<&str>) -> Option<Family> {
    let module = modules
        .iter()
        .find(|m| m.contains("transformer_blocks") && m.ends_with("add_k_proj"))?;
    let width = in_features(keys, module)?;
    Some(if width == 3072 {
        flux_lora("transformer_blocks with add_k_proj of width 3072")
    } else {
        Family::new(
            Base::Sd3,
            format!("transformer_blocks with add_k_proj of width {width} → SD3 LoRA"),
        )
    })
}

fn wan_lora(keys: &Keys, modules: &BTreeSet<&str>) -> Family {
    let width = modules
        .iter()
        .filter(|m| m.ends_with("cross_attn.q") || m.ends_with("cross_attn_q"))
        .find_map(|m| in_features(keys, m));
    match width {
        Some(3072) => Family::new(
            Base::Wan22,
            "blocks.N.cross_attn modules of width 3072 → Wan 2.2 5B LoRA".into(),
        ),
        w => Family {
            base: Base::Wan21,
            open: &[Base::Wan21, Base::Wan22],
            reasons: vec![format!(
                "blocks.N.cross_attn modules of width {} → Wan LoRA; Wan 2.1 and 2.2 A14B share this layout, wan_2_1 assumed",
                w.map_or("?".into(), |w| w.to_string())
            )],
        },
    }
}

/// SD1.x/SD2.x/SDXL by the input width of an `attn2.to_k` adapter.
fn unet_lora(keys: &Keys, modules: &BTreeSet<&str>) -> Option<Family> {
    let (module, width) = modules
        .iter()
        .filter(|m| {
            let flat = m.replace('.', "_");
            flat.ends_with("attn2_to_k") || flat.ends_with("attn2_processor_to_k_lora")
        })
        .find_map(|m| Some((*m, in_features(keys, m)?)))?;
    let (base, family) = context_family(width)?;
    let mut f = Family::new(
        base,
        format!("{module} takes width {width} → {family} text context"),
    );
    if base == Base::Sdxl && has_second_text_encoder(modules) {
        f.reasons
            .push("modules on a second text encoder (te2) → SDXL's two encoders".into());
    }
    Some(f)
}

fn has_second_text_encoder(modules: &BTreeSet<&str>) -> bool {
    modules
        .iter()
        .any(|m| m.starts_with("lora_te2_") || m.starts_with("text_encoder_2."))
}

/// A LoRA of text encoders only.
fn text_encoder_lora(keys: &Keys, modules: &BTreeSet<&str>) -> Option<Family> {
    if has_second_text_encoder(modules) {
        return Some(Family::new(
            Base::Sdxl,
            "modules on a second text encoder (lora_te2_/text_encoder_2) → SDXL".into(),
        ));
    }
    let width = modules
        .iter()
        .filter(|m| m.replace('.', "_").ends_with("self_attn_q_proj"))
        .find_map(|m| in_features(keys, m))?;
    let base = match width {
        768 => Base::Sd15,
        1024 => Base::Sd21,
        _ => return None,
    };
    Some(Family::new(
        base,
        format!("text-encoder modules of width {width} → {base}"),
    ))
}

/// Textual-inversion embeddings: a few vectors of the text encoder's width.
pub(super) fn embedding(keys: &Keys) -> Option<Verdict> {
    if let (Some(l), Some(g)) = (keys.shape("clip_l"), keys.shape("clip_g")) {
        return Some(Verdict::new(Kind::Embedding, Base::Sdxl).because(format!(
            "clip_l {l:?} + clip_g {g:?} → SDXL textual-inversion embedding"
        )));
    }
    let (name, shape, how) = if let Some(s) = keys.shape("emb_params") {
        ("emb_params", s, "A1111 embedding")
    } else if let Some(n) = keys.names().find(|n| n.starts_with("string_to_param.")) {
        (n, keys.shape(n)?, "A1111 embedding")
    } else if keys.len() == 1 {
        let n = keys.names().next()?;
        let s = keys.shape(n)?;
        let plausible = !n.contains('.') && (1..=2).contains(&s.len());
        if !plausible {
            return None;
        }
        (n, s, "diffusers learned embedding")
    } else {
        return None;
    };
    let width = shape.last().copied()?;
    let base = match width {
        768 => Base::Sd15,
        1024 => Base::Sd21,
        _ => return None,
    };
    Some(Verdict::new(Kind::Embedding, base).because(format!(
        "{name} {shape:?} ({how}) of width {width} → {base} textual inversion"
    )))
}
