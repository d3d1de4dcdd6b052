//! The tensor rules: which names and shapes make which kind and family.
//!
//! Every rule comes from the headers of real files (the layouts under
//! `tests/data/headers/`) and ComfyUI's `model_detection.py`: a family is
//! recognised by a marker tensor, found under whatever prefix the file uses,
//! then told apart from its relatives by a width (the cross-attention
//! context of a UNet, the label embedding of SDXL, the latent channels of a
//! VAE) or by a tensor only one variant has (Flux dev's `guidance_in`).
//! Detectors run in a fixed order, most specific first; the first that
//! recognises the file decides.

use super::adapters;
use super::keys::Keys;
use super::{VPRED_BIAS, Verdict};
use crate::catalog::{Base, Kind};

/// Runs the detectors in order; `Verdict::unknown()` when none matches.
pub(super) fn classify(keys: &Keys) -> Verdict {
    const DETECTORS: &[fn(&Keys) -> Option<Verdict>] = &[
        controlnet,
        adapters::lora,
        adapters::embedding,
        diffusion,
        vae,
        text_encoder,
        upscaler,
    ];
    DETECTORS
        .iter()
        .find_map(|detect| detect(keys))
        .unwrap_or_else(Verdict::unknown)
}

/// A family recognised under a prefix.
type Found<'k> = Option<(&'k str, Verdict)>;

const FLUX_VARIANTS: &[Base] = &[Base::FluxDev, Base::FluxSchnell];
const WAN_VARIANTS: &[Base] = &[Base::Wan21, Base::Wan22];
/// Where an all-in-one checkpoint keeps its VAE and its text encoders.
const VAE_PREFIXES: &[&str] = &["first_stage_model.", "vae."];
const TE_PREFIXES: &[&str] = &[
    "cond_stage_model.",
    "conditioner.embedders.",
    "text_encoders.",
];

/// A UNet family told by its cross-attention context width and, for SDXL,
/// the input width of its label (ADM) embedding.
fn unet_family(keys: &Keys, prefix: &str, adm_key: &str) -> (Base, Vec<String>) {
    let context = keys
        .first(prefix, "attn2.to_k.weight")
        .and_then(|(_, s)| s.get(1).copied());
    let adm = keys.dim(&format!("{prefix}{adm_key}"), 1);
    let mut reasons = Vec::new();
    if let Some(width) = context {
        reasons.push(format!(
            "attn2.to_k of width {width} → {} text context",
            context_family(width).map_or("no known", |(_, name)| name)
        ));
    }
    if let Some(adm) = adm {
        reasons.push(format!(
            "{adm_key} input {adm} → {}",
            match adm {
                2816 => "SDXL base size/crop conditioning",
                2560 => "SDXL refiner size/crop/aesthetic conditioning",
                _ => "an unknown label embedding",
            }
        ));
    }
    let base = match (context, adm) {
        (_, Some(2816)) => Base::Sdxl,
        (_, Some(2560)) => Base::SdxlRefiner,
        (Some(width), _) => context_family(width).map_or(Base::Unknown, |(b, _)| b),
        (None, _) => Base::Unknown,
    };
    if context.is_none() && adm.is_none() {
        reasons.push("no cross-attention found to tell the family".into());
    }
    (base, reasons)
}

/// The family whose text encoder produces a context of this width (as
/// InvokeAI tells LoRAs apart).
pub(super) fn context_family(width: u64) -> Option<(Base, &'static str)> {
    match width {
        768 => Some((Base::Sd15, "SD1.x (CLIP-L)")),
        1024 => Some((Base::Sd21, "SD2.x (OpenCLIP-H)")),
        2048 => Some((Base::Sdxl, "SDXL")),
        1280 => Some((Base::SdxlRefiner, "SDXL refiner (OpenCLIP-G)")),
        _ => None,
    }
}

fn controlnet(keys: &Keys) -> Option<Verdict> {
    if let Some(prefix) = keys.prefix_of("input_hint_block.0.weight") {
        if keys.has(&format!("{prefix}double_blocks.0.img_attn.qkv.weight")) {
            return Some(
                Verdict::new(Kind::Controlnet, Base::FluxDev)
                    .open_to(FLUX_VARIANTS)
                    .because("input_hint_block + double_blocks → Flux ControlNet (XLabs layout); flux_dev assumed"),
            );
        }
        let (base, reasons) = unet_family(keys, prefix, "label_emb.0.0.weight");
        let mut v = Verdict::new(Kind::Controlnet, base).because(format!(
            "{prefix}input_hint_block + zero_convs → ControlNet"
        ));
        v.reasons.extend(reasons);
        return Some(v);
    }
    if let Some(prefix) = keys.prefix_of("controlnet_cond_embedding.conv_in.weight") {
        let (base, reasons) = unet_family(keys, prefix, "add_embedding.linear_1.weight");
        let mut v = Verdict::new(Kind::Controlnet, base)
            .because("controlnet_cond_embedding → ControlNet (diffusers layout)");
        v.reasons.extend(reasons);
        return Some(v);
    }
    let prefix = keys.prefix_of("controlnet_blocks.0.weight")?;
    let width = keys.dim(&format!("{prefix}transformer_blocks.0.attn.to_q.weight"), 0);
    let flux = keys.any_under(&format!("{prefix}single_transformer_blocks."))
        || keys.any_under(&format!("{prefix}double_blocks."))
        || width == Some(3072);
    Some(if flux {
        Verdict::new(Kind::Controlnet, Base::FluxDev)
            .open_to(FLUX_VARIANTS)
            .because("controlnet_blocks with Flux-width (3072) transformer blocks → Flux ControlNet; flux_dev assumed")
    } else {
        Verdict::new(Kind::Controlnet, Base::Sd3)
            .because("controlnet_blocks with MMDiT transformer blocks → SD3 ControlNet")
    })
}

/// A diffusion model, alone (diffusion_models/) or with its VAE and text
/// encoders (an all-in-one checkpoint).
fn diffusion(keys: &Keys) -> Option<Verdict> {
    const FAMILIES: &[for<'k> fn(&Keys<'k>) -> Found<'k>] = &[
        ldm_unet,
        diffusers_unet,
        mmdit,
        flux,
        diffusers_flux,
        hidream,
        wan,
    ];
    let (prefix, verdict) = FAMILIES.iter().find_map(|f| f(keys))?;
    Some(packaging(keys, prefix, verdict))
}

/// Checkpoint if the file also holds a VAE or text encoders.
fn packaging(keys: &Keys, prefix: &str, mut v: Verdict) -> Verdict {
    let vae = VAE_PREFIXES
        .iter()
        .find(|p| keys.has(&format!("{p}decoder.conv_in.weight")));
    let encoders: Vec<String> = text_encoders(keys)
        .into_iter()
        .filter(|(p, _)| TE_PREFIXES.iter().any(|t| p.starts_with(t)))
        .map(|(p, desc)| format!("{desc} at {p}"))
        .collect();
    let unet = if prefix.is_empty() {
        "top level"
    } else {
        prefix
    };
    if vae.is_none() && encoders.is_empty() {
        v.kind = Some(Kind::DiffusionModel);
        v.reasons.push(format!(
            "diffusion model at {unet} with no VAE or text encoder → diffusion model file"
        ));
        return v;
    }
    v.kind = Some(Kind::Checkpoint);
    let mut parts = vec![format!("diffusion model at {unet}")];
    parts.extend(vae.map(|p| format!("VAE at {p}")));
    parts.extend(encoders);
    v.reasons
        .push(format!("{} → all-in-one checkpoint", parts.join(", ")));
    v
}

/// SD1.x/SD2.x/SDXL UNet in the original (LDM/sgm) naming.
fn ldm_unet<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("input_blocks.0.0.weight")?;
    keys.has(&format!("{prefix}time_embed.0.weight"))
        .then(|| (prefix, unet_verdict(keys, prefix, "label_emb.0.0.weight")))
}

/// The same UNet in diffusers naming (`down_blocks`, `add_embedding`).
fn diffusers_unet<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("down_blocks.0.resnets.0.conv1.weight")?;
    keys.has(&format!("{prefix}time_embedding.linear_1.weight"))
        .then(|| {
            let v = unet_verdict(keys, prefix, "add_embedding.linear_1.weight");
            (prefix, v.because("UNet in diffusers naming"))
        })
}

/// The families an SD-style UNet can belong to.
const SD_UNET_FAMILIES: &[Base] = &[Base::Sd15, Base::Sd21, Base::Sdxl, Base::SdxlRefiner];

fn unet_verdict(keys: &Keys, prefix: &str, adm_key: &str) -> Verdict {
    let (base, reasons) = unet_family(keys, prefix, adm_key);
    let mut v = Verdict::new(Kind::DiffusionModel, base);
    if base == Base::Unknown {
        // An unusual context width (a distilled or test model) contradicts
        // none of the SD UNet families; metadata may choose among them.
        v = v.open_to(SD_UNET_FAMILIES);
    }
    v.reasons = reasons;
    v.unet = true;
    if keys.has("v_pred") {
        v.prediction = Some("v");
        v.reasons
            .push("a v_pred key is present (ComfyUI's marker) → v-prediction".into());
    }
    let bias = format!("{prefix}{VPRED_BIAS}");
    v.vpred_bias = keys.has(&bias).then_some(bias);
    if keys.dim(&format!("{prefix}input_blocks.0.0.weight"), 1) == Some(9)
        || keys.dim(&format!("{prefix}conv_in.weight"), 1) == Some(9)
    {
        v.reasons
            .push("9 input channels → an inpainting model".into());
    }
    v
}

/// SD3/SD3.5 MMDiT (`joint_blocks`).
fn mmdit<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("joint_blocks.0.x_block.attn.qkv.weight")?;
    let depth = keys.blocks(&format!("{prefix}joint_blocks."), "x_block.attn.qkv.weight");
    let mmdit_x = keys.has(&format!("{prefix}joint_blocks.0.x_block.attn2.qkv.weight"));
    let width = keys
        .dim(&format!("{prefix}x_embedder.proj.weight"), 0)
        .unwrap_or(0);
    let variant = match (depth, mmdit_x) {
        (38, _) => "SD3.5 Large",
        (24, true) => "SD3.5 Medium (MMDiT-X)",
        (24, false) => "SD3 Medium",
        _ => "an SD3 variant",
    };
    let v = Verdict::new(Kind::DiffusionModel, Base::Sd3).because(format!(
        "joint_blocks (MMDiT) × {depth}, width {width} → SD3 family ({variant})"
    ));
    Some((prefix, v))
}

/// Flux in Black Forest Labs naming (`double_blocks`, `single_blocks`).
fn flux<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("double_blocks.0.img_attn.qkv.weight")?;
    if !keys.any_under(&format!("{prefix}single_blocks.")) {
        return None;
    }
    let dev = keys.has(&format!("{prefix}guidance_in.in_layer.weight"));
    Some((
        prefix,
        flux_verdict(dev, "double_blocks + single_blocks", "guidance_in"),
    ))
}

/// Flux in diffusers naming (`transformer_blocks`, `single_transformer_blocks`).
fn diffusers_flux<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("single_transformer_blocks.0.attn.to_q.weight")?;
    if !keys.any_under(&format!("{prefix}transformer_blocks.")) {
        return None;
    }
    let guidance = "time_text_embed.guidance_embedder.linear_1.weight";
    let dev = keys.has(&format!("{prefix}{guidance}"));
    let v = flux_verdict(
        dev,
        "transformer_blocks + single_transformer_blocks (diffusers)",
        "time_text_embed.guidance_embedder",
    );
    Some((prefix, v))
}

fn flux_verdict(dev: bool, blocks: &str, guidance: &str) -> Verdict {
    let v = Verdict::new(
        Kind::DiffusionModel,
        if dev {
            Base::FluxDev
        } else {
            Base::FluxSchnell
        },
    )
    .because(format!("{blocks} → Flux"));
    if dev {
        v.because(format!(
            "{guidance} weights (guidance distillation) → Flux dev"
        ))
    } else {
        v.because(format!("no {guidance} weights → Flux schnell"))
    }
}

fn hidream<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("double_stream_blocks.0.block.attn1.to_q.weight")?;
    keys.any_under(&format!("{prefix}single_stream_blocks."))
        .then(|| {
            let v = Verdict::new(Kind::DiffusionModel, Base::HiDream).because(
                "double_stream_blocks + single_stream_blocks with MoE experts → HiDream I1",
            );
            (prefix, v)
        })
}

/// Wan: 2.2's 5B model is told by its 48-channel latent (head output
/// 48 × 1×2×2 = 192), as ComfyUI's WAN22_T2V config (`out_dim` 48).
fn wan<'k>(keys: &Keys<'k>) -> Found<'k> {
    let prefix = keys.prefix_of("head.modulation")?;
    let patch = keys.shape(&format!("{prefix}patch_embedding.weight"))?;
    let (dim, in_dim) = (patch.first().copied()?, patch.get(1).copied()?);
    let head_out = keys
        .dim(&format!("{prefix}head.head.weight"), 0)
        .unwrap_or(0);
    let image = keys.any_under(&format!("{prefix}img_emb."));
    let size = match dim {
        1536 => "1.3B",
        3072 => "5B",
        5120 => "14B",
        _ => "unknown size",
    };
    let shape = format!("Wan DiT (head.modulation, blocks.N.cross_attn), width {dim} ({size})");
    let v = if head_out == 192 {
        Verdict::new(Kind::DiffusionModel, Base::Wan22).because(shape).because(format!(
            "head.head outputs {head_out} = 48 latent channels × 1×2×2 patch, patch_embedding takes {in_dim} → Wan 2.2 VAE → Wan 2.2"
        ))
    } else if in_dim == 36 && !image {
        Verdict::new(Kind::DiffusionModel, Base::Wan22).because(shape).because(
            "image-to-video input (36 channels) without a CLIP image embedding (img_emb) → Wan 2.2 I2V",
        )
    } else {
        Verdict::new(Kind::DiffusionModel, Base::Wan21)
            .open_to(WAN_VARIANTS)
            .because(shape)
            .because(format!(
                "16-channel latent (head.head outputs {head_out}) → the Wan 2.1 layout, which Wan 2.2 A14B shares; wan_2_1 assumed"
            ))
    };
    Some((prefix, v))
}

/// A standalone VAE, told by its latent channels and quant_conv.
fn vae(keys: &Keys) -> Option<Verdict> {
    let prefix = keys.prefix_of("decoder.conv_in.weight")?;
    let latent = keys.dim(&format!("{prefix}decoder.conv_in.weight"), 1)?;
    let quant = keys.has(&format!("{prefix}quant_conv.weight"));
    let layout = format!(
        "decoder.conv_in takes {latent} latent channels, {} quant_conv",
        if quant { "with" } else { "no" }
    );
    Some(match (latent, quant) {
        (4, true) => Verdict::new(Kind::Vae, Base::Unknown)
            .open_to(&[Base::Sd15, Base::Sdxl])
            .because(format!(
                "{layout} → SD-style VAE; the SD1.5 and SDXL VAEs have identical tensors"
            )),
        (16, false) => Verdict::new(Kind::Vae, Base::FluxDev)
            .open_to(&[Base::FluxDev, Base::Sd3])
            .because(format!(
                "{layout} → Flux VAE (ae); SD3's VAE has the same tensors, flux_dev assumed"
            )),
        _ => Verdict::new(Kind::Vae, Base::Unknown)
            .because(format!("{layout} → a VAE of no family gen knows")),
    })
}

/// Every text encoder in the file: (prefix, description).
pub(super) fn text_encoders(keys: &Keys) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for p in keys.prefixes_of("text_model.embeddings.token_embedding.weight") {
        let width = keys.dim(
            &format!("{p}text_model.embeddings.token_embedding.weight"),
            1,
        );
        let layers = keys.blocks(
            &format!("{p}text_model.encoder.layers."),
            "self_attn.q_proj.weight",
        );
        found.push((p.to_string(), clip_name(width, layers, "HF layout")));
    }
    for p in keys.prefixes_of("transformer.resblocks.0.attn.in_proj_weight") {
        let width = keys.dim(&format!("{p}token_embedding.weight"), 1);
        let layers = keys.blocks(&format!("{p}transformer.resblocks."), "attn.in_proj_weight");
        found.push((p.to_string(), clip_name(width, layers, "OpenCLIP layout")));
    }
    for p in keys.prefixes_of("encoder.block.0.layer.0.SelfAttention.q.weight") {
        found.push((p.to_string(), t5_name(keys, p)));
    }
    for p in keys.prefixes_of("model.embed_tokens.weight") {
        if keys.has(&format!("{p}model.layers.0.self_attn.q_proj.weight")) {
            let shape = keys.shape(&format!("{p}model.embed_tokens.weight"));
            let (vocab, width) = shape.map_or((0, 0), |s| (s[0], s.get(1).copied().unwrap_or(0)));
            found.push((
                p.to_string(),
                format!(
                    "decoder-only language model (Llama-style, width {width}, vocabulary {vocab})"
                ),
            ));
        }
    }
    found
}

fn clip_name(width: Option<u64>, layers: usize, layout: &str) -> String {
    let name = match width {
        Some(768) => "CLIP-L (OpenAI ViT-L/14 text encoder)",
        Some(1024) => "OpenCLIP-H (ViT-H/14 text encoder of SD2.x)",
        Some(1280) => "CLIP-G (OpenCLIP ViT-bigG/14 text encoder)",
        _ => "a CLIP text encoder of unknown size",
    };
    let width = width.map_or("?".into(), |w| w.to_string());
    format!("{name}, width {width}, {layers} layers, {layout}")
}

fn t5_name(keys: &Keys, p: &str) -> String {
    let width = keys
        .dim(
            &format!("{p}encoder.block.0.layer.0.SelfAttention.q.weight"),
            1,
        )
        .unwrap_or(0);
    let vocab = keys
        .dim(&format!("{p}shared.weight"), 0)
        .or_else(|| keys.dim(&format!("{p}encoder.embed_tokens.weight"), 0));
    let blocks = keys.blocks(
        &format!("{p}encoder.block."),
        "layer.0.SelfAttention.q.weight",
    );
    let name = match (width, vocab) {
        (4096, Some(256_384)) => "UMT5-XXL encoder (multilingual T5, Wan's text encoder)",
        (4096, _) => "T5-XXL encoder (T5 v1.1)",
        _ => "a T5 encoder",
    };
    let vocab = vocab.map_or("?".into(), |v| v.to_string());
    format!("{name}, width {width}, {blocks} blocks, vocabulary {vocab}")
}

fn text_encoder(keys: &Keys) -> Option<Verdict> {
    let found = text_encoders(keys);
    if found.is_empty() {
        return None;
    }
    let mut v = Verdict::new(Kind::TextEncoder, Base::Unknown);
    for (prefix, desc) in found {
        let at = if prefix.is_empty() {
            "top level"
        } else {
            &prefix
        };
        v.reasons.push(format!("{desc} at {at}"));
    }
    Some(v.because("text encoders serve several model families; base left unknown"))
}

/// Super-resolution networks (ESRGAN and relatives).
fn upscaler(keys: &Keys) -> Option<Verdict> {
    let has = |k: &str| keys.has(k);
    let arch = if has("model.0.weight") && keys.any_under("model.1.sub.") {
        "model.0 + model.1.sub.* → ESRGAN (original RRDB layout)"
    } else if has("conv_first.weight") && (has("conv_body.weight") || has("trunk_conv.weight")) {
        "conv_first + RRDB body + conv_body → ESRGAN/Real-ESRGAN RRDBNet"
    } else if has("conv_first.weight") && keys.any_under("layers.0.residual_group.") {
        "conv_first + residual_group layers → SwinIR-style upscaler"
    } else if has("body.0.weight")
        && keys.dim("body.0.weight", 1) == Some(3)
        && keys.names().all(|n| n.starts_with("body."))
    {
        "body.N convolutions on RGB only → Real-ESRGAN compact (SRVGGNetCompact)"
    } else if has("conv_first.weight") && has("conv_last.weight") {
        "conv_first … conv_last → a super-resolution network"
    } else {
        return None;
    };
    Some(
        Verdict::new(Kind::Upscaler, Base::Unknown)
            .because(arch)
            .because("upscalers work on pixels of any family; base left unknown"),
    )
}
