//! The probe against header-only fixtures of every family's real layout
//! (tests/data/headers), adapters built from real LoRA module lists, the
//! real SDXL LoRA from the samples, metadata and name decisions, and every
//! broken-file case.

use std::path::Path;

use super::probe_file;
use crate::catalog::gguf;
use crate::catalog::safetensors::Dtype;
use crate::catalog::testkit::{self, Broken, GgufTensorSpec, GgufValue, TensorSpec};
use crate::catalog::{Base, Category, Format, Kind, Probe};

/// Writes a fixture named `file` and probes it as found in `category`.
fn probe_specs(
    file: &str,
    specs: &[TensorSpec],
    metadata: &[(&str, &str)],
    category: Category,
) -> (Probe, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file);
    let offset = testkit::write_safetensors(&path, specs, metadata).expect("write fixture");
    (probe_file(&path, category), offset)
}

fn probe_plain(file: &str, specs: &[TensorSpec], category: Category) -> Probe {
    probe_specs(file, specs, &[], category).0
}

/// The metadata of a sample file, as INDEX.json records it.
fn sample_metadata(layout: &str) -> Vec<(String, String)> {
    let index = testkit::layout_index(layout);
    index["metadata"]
        .as_object()
        .expect("metadata object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
        .collect()
}

fn n_params(layout: &str) -> u64 {
    testkit::layout_index(layout)["n_params"]
        .as_u64()
        .expect("n_params")
}

fn total(specs: &[TensorSpec]) -> u64 {
    specs.iter().map(TensorSpec::elements).sum()
}

/// Probes a full sample layout with its real metadata and checks every
/// field; returns the probe for further checks of its reasons.
fn check_sample(
    layout: &str,
    file: &str,
    category: Category,
    expect: (Kind, Base, &str, Option<&str>),
) -> Probe {
    let meta = sample_metadata(layout);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (probe, offset) = probe_specs(file, &testkit::layout(layout), &meta, category);
    let (kind, base, precision, prediction) = expect;
    assert_eq!(probe.error, None, "{layout}");
    assert_eq!(probe.format, Format::Safetensors);
    assert_eq!(
        (
            probe.kind,
            probe.base,
            probe.precision.as_deref(),
            probe.prediction.as_deref()
        ),
        (kind, base, Some(precision), prediction),
        "{layout}: {:#?}",
        probe.reasons
    );
    assert_eq!(probe.params, Some(n_params(layout)), "{layout}");
    assert_eq!(probe.data_offset, Some(offset), "{layout}");
    probe
}

fn has_reason(probe: &Probe, text: &str) -> bool {
    probe.reasons.iter().any(|r| r.contains(text))
}

#[track_caller]
fn assert_reason(probe: &Probe, text: &str) {
    assert!(
        has_reason(probe, text),
        "no reason containing {text:?} in {:#?}",
        probe.reasons
    );
}

// ---- checkpoints and diffusion models -------------------------------------

#[test]
fn sd15_checkpoint() {
    let p = check_sample(
        "sd15_checkpoint",
        "v1-5-pruned-emaonly-fp16.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sd15, "fp16", Some("eps")),
    );
    assert_reason(&p, "attn2.to_k of width 768 → SD1.x (CLIP-L) text context");
    assert_reason(
        &p,
        "CLIP-L (OpenAI ViT-L/14 text encoder), width 768, 12 layers, HF layout at cond_stage_model.transformer.",
    );
    assert_reason(
        &p,
        "metadata modelspec.predict_key=epsilon → eps-prediction",
    );
}

#[test]
fn sd15_unet_alone_is_a_diffusion_model() {
    let specs = testkit::layout_under("sd15_checkpoint", "model.diffusion_model.");
    let p = probe_plain("sd15_unet.safetensors", &specs, Category::DiffusionModels);
    assert_eq!(
        (p.kind, p.base),
        (Kind::DiffusionModel, Base::Sd15),
        "{:#?}",
        p.reasons
    );
    assert_eq!(p.params, Some(total(&specs)));
    assert_eq!(p.prediction.as_deref(), Some("eps"));
    assert_reason(
        &p,
        "diffusion model at top level with no VAE or text encoder",
    );
}

#[test]
fn sd21_768_v_checkpoint() {
    let p = check_sample(
        "sd21_768_v_checkpoint",
        "v2-1_768-ema-pruned.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sd21, "fp32", Some("v")),
    );
    assert_reason(
        &p,
        "attn2.to_k of width 1024 → SD2.x (OpenCLIP-H) text context",
    );
    assert_reason(&p, "a v_pred key is present");
    assert_reason(
        &p,
        "OpenCLIP-H (ViT-H/14 text encoder of SD2.x), width 1024, 24 layers, OpenCLIP layout at cond_stage_model.model.",
    );
}

/// The SD2.x layout without ComfyUI's v_pred key or any metadata.
fn bare_sd21(bias: Option<Vec<u8>>) -> Vec<TensorSpec> {
    testkit::layout("sd21_768_v_checkpoint")
        .into_iter()
        .filter(|t| t.name != "v_pred")
        .map(|t| match &bias {
            Some(data) if t.name.ends_with(super::VPRED_BIAS) => t.with_data(data.clone()),
            _ => t,
        })
        .collect()
}

#[test]
fn sd21_without_markers_uses_the_bias_spread() {
    let flat = probe_plain("sd21.safetensors", &bare_sd21(None), Category::Checkpoints);
    assert_eq!(
        (flat.base, flat.prediction.as_deref()),
        (Base::Sd21, Some("eps"))
    );
    assert_reason(
        &flat,
        "is 0.0000 (≤ 0.09) → eps-prediction (ComfyUI's SD2 rule)",
    );

    // 320 values alternating ±0.2: std ≈ 0.2003 > 0.09.
    let spread: Vec<u8> = (0..320)
        .flat_map(|i| if i % 2 == 0 { 0.2f32 } else { -0.2 }.to_le_bytes())
        .collect();
    let v = probe_plain(
        "sd21.safetensors",
        &bare_sd21(Some(spread)),
        Category::Checkpoints,
    );
    assert_eq!((v.base, v.prediction.as_deref()), (Base::Sd21, Some("v")));
    assert_reason(
        &v,
        "std of model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias is 0.2003 (> 0.09) → v-prediction",
    );
}

#[test]
fn sd21_metadata_decides_prediction_before_the_bias() {
    let (p, _) = probe_specs(
        "sd21.safetensors",
        &bare_sd21(None),
        &[("modelspec.predict_key", "v")],
        Category::Checkpoints,
    );
    assert_eq!(p.prediction.as_deref(), Some("v"));
    assert!(!has_reason(&p, "std of"), "{:#?}", p.reasons);
}

#[test]
fn sdxl_base_checkpoint() {
    let p = check_sample(
        "sdxl_base_checkpoint",
        "sd_xl_base_1.0.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sdxl, "fp16", Some("eps")),
    );
    assert_reason(&p, "attn2.to_k of width 2048 → SDXL text context");
    assert_reason(
        &p,
        "label_emb.0.0.weight input 2816 → SDXL base size/crop conditioning",
    );
    assert_reason(
        &p,
        "metadata modelspec.architecture=stable-diffusion-xl-v1-base agrees",
    );
    assert_reason(&p, "at conditioner.embedders.0.transformer.");
    assert_reason(
        &p,
        "CLIP-G (OpenCLIP ViT-bigG/14 text encoder), width 1280, 32 layers, OpenCLIP layout at conditioner.embedders.1.model.",
    );
}

#[test]
fn sdxl_unet_alone_is_a_diffusion_model() {
    let specs = testkit::layout_under("sdxl_base_checkpoint", "model.diffusion_model.");
    let p = probe_plain("sdxl_unet.safetensors", &specs, Category::DiffusionModels);
    assert_eq!(
        (p.kind, p.base),
        (Kind::DiffusionModel, Base::Sdxl),
        "{:#?}",
        p.reasons
    );
    assert_eq!(p.params, Some(total(&specs)));
}

#[test]
fn sdxl_refiner_checkpoint() {
    let p = check_sample(
        "sdxl_refiner_checkpoint",
        "sd_xl_refiner_1.0.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::SdxlRefiner, "fp16", Some("eps")),
    );
    assert_reason(
        &p,
        "attn2.to_k of width 1280 → SDXL refiner (OpenCLIP-G) text context",
    );
    assert_reason(&p, "label_emb.0.0.weight input 2560 → SDXL refiner");
}

#[test]
fn sd3_checkpoints() {
    let large = check_sample(
        "sd35_large_checkpoint",
        "sd3.5_large.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sd3, "fp16", None),
    );
    assert_reason(
        &large,
        "joint_blocks (MMDiT) × 38, width 2432 → SD3 family (SD3.5 Large)",
    );
    let medium = check_sample(
        "sd35_medium_checkpoint",
        "sd3.5_medium.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sd3, "fp16", None),
    );
    assert_reason(
        &medium,
        "× 24, width 1536 → SD3 family (SD3.5 Medium (MMDiT-X))",
    );
    let aio = check_sample(
        "sd35_large_incl_tes_checkpoint",
        "sd3.5_large_incl_clips_t5xxl.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::Sd3, "fp16", None),
    );
    assert_reason(
        &aio,
        "T5-XXL encoder (T5 v1.1), width 4096, 24 blocks, vocabulary 32128 at text_encoders.t5xxl.transformer.",
    );
}

#[test]
fn sd3_mmdit_alone_is_a_diffusion_model() {
    let specs = testkit::layout_under("sd35_medium_checkpoint", "model.diffusion_model.");
    let p = probe_plain(
        "sd3.5_medium_mmdit.safetensors",
        &specs,
        Category::DiffusionModels,
    );
    assert_eq!(
        (p.kind, p.base, p.prediction),
        (Kind::DiffusionModel, Base::Sd3, None)
    );
    assert_eq!(p.params, Some(total(&specs)));
}

#[test]
fn flux_diffusion_models_and_checkpoints() {
    let dev = check_sample(
        "flux1_dev_diffusion_model",
        "flux1-dev.safetensors",
        Category::DiffusionModels,
        (Kind::DiffusionModel, Base::FluxDev, "bf16", None),
    );
    assert_reason(
        &dev,
        "guidance_in weights (guidance distillation) → Flux dev",
    );
    let schnell = check_sample(
        "flux1_schnell_diffusion_model",
        "flux1-schnell.safetensors",
        Category::DiffusionModels,
        (Kind::DiffusionModel, Base::FluxSchnell, "bf16", None),
    );
    assert_reason(&schnell, "no guidance_in weights → Flux schnell");
    check_sample(
        "flux1_dev_checkpoint",
        "flux1-dev-aio.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::FluxDev, "bf16", None),
    );
    let aio = check_sample(
        "flux1_schnell_checkpoint",
        "flux1-schnell-aio.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::FluxSchnell, "bf16", None),
    );
    assert_reason(&aio, "VAE at vae.");
}

#[test]
fn fp8_weights_give_fp8_precision() {
    let specs = testkit::cast_weights(testkit::layout("flux1_dev_diffusion_model"), Dtype::F8E4M3);
    let p = probe_plain(
        "flux1-dev-fp8.safetensors",
        &specs,
        Category::DiffusionModels,
    );
    assert_eq!(
        (p.base, p.precision.as_deref()),
        (Base::FluxDev, Some("fp8"))
    );
    assert_eq!(p.params, Some(n_params("flux1_dev_diffusion_model")));
}

#[test]
fn wan_2_1_and_2_2() {
    let wan21 = check_sample(
        "wan21_t2v_1.3b_diffusion_model",
        "wan2.1_t2v_1.3B_fp16.safetensors",
        Category::DiffusionModels,
        (Kind::DiffusionModel, Base::Wan21, "fp16", None),
    );
    assert_reason(
        &wan21,
        "the Wan 2.1 layout, which Wan 2.2 A14B shares; wan_2_1 assumed",
    );
    let wan22 = check_sample(
        "wan22_ti2v_5b_diffusion_model",
        "wan2.2_ti2v_5B_fp16.safetensors",
        Category::DiffusionModels,
        (Kind::DiffusionModel, Base::Wan22, "fp16", None),
    );
    assert_reason(&wan22, "head.head outputs 192 = 48 latent channels");
}

#[test]
fn wan_layout_shared_by_2_1_and_2_2_a14b_follows_the_name() {
    let specs = testkit::layout("wan21_t2v_1.3b_diffusion_model");
    let p = probe_plain(
        "wan2.2_t2v_low_noise_14B_fp16.safetensors",
        &specs,
        Category::DiffusionModels,
    );
    assert_eq!(p.base, Base::Wan22);
    assert_reason(&p, "file name contains 'wan22' → wan_2_2 (a last resort");
}

#[test]
fn hidream() {
    let p = check_sample(
        "hidream_i1_diffusion_model",
        "hidream_i1_dev_bf16.safetensors",
        Category::DiffusionModels,
        (Kind::DiffusionModel, Base::HiDream, "bf16", None),
    );
    assert_reason(&p, "double_stream_blocks + single_stream_blocks");
}

// ---- VAEs and text encoders ------------------------------------------------

#[test]
fn sd_vaes_are_told_apart_only_by_metadata_or_name() {
    let sd15 = testkit::layout("vae_sd15");
    let by_name = probe_plain(
        "vae-ft-mse-840000-ema-pruned.safetensors",
        &sd15,
        Category::Vae,
    );
    assert_eq!((by_name.kind, by_name.base), (Kind::Vae, Base::Sd15));
    assert_eq!(by_name.precision.as_deref(), Some("fp32"));
    assert_eq!(by_name.params, Some(n_params("vae_sd15")));
    assert_reason(
        &by_name,
        "4 latent channels, with quant_conv → SD-style VAE",
    );

    let xl = probe_plain(
        "sdxl_vae.safetensors",
        &testkit::layout("vae_sdxl"),
        Category::Vae,
    );
    assert_eq!(xl.base, Base::Sdxl);
    assert_reason(&xl, "file name contains 'sdxl' → sdxl");

    let unnamed = probe_plain("my_vae.safetensors", &sd15, Category::Vae);
    assert_eq!((unnamed.kind, unnamed.base), (Kind::Vae, Base::Unknown));
    assert_reason(
        &unnamed,
        "base unknown: the tensors fit sd_1_5 or sdxl and neither metadata nor the file name says which",
    );

    let (meta, _) = probe_specs(
        "my_vae.safetensors",
        &sd15,
        &[("modelspec.architecture", "stable-diffusion-xl-v1-base")],
        Category::Vae,
    );
    assert_eq!(meta.base, Base::Sdxl);
    assert_reason(
        &meta,
        "metadata modelspec.architecture=stable-diffusion-xl-v1-base → sdxl",
    );
}

#[test]
fn flux_vae_and_its_sd3_twin() {
    let specs = testkit::layout("vae_flux_ae");
    let ae = probe_plain("ae.safetensors", &specs, Category::Vae);
    assert_eq!(
        (ae.kind, ae.base, ae.precision.as_deref()),
        (Kind::Vae, Base::FluxDev, Some("fp32"))
    );
    assert_eq!(ae.params, Some(n_params("vae_flux_ae")));
    assert_reason(&ae, "16 latent channels, no quant_conv → Flux VAE");
    let sd3 = probe_plain("sd3_vae.safetensors", &specs, Category::Vae);
    assert_eq!(sd3.base, Base::Sd3);
}

#[test]
fn a_vae_kept_under_its_checkpoint_prefix_is_a_vae() {
    let specs: Vec<TensorSpec> = testkit::layout("sdxl_base_checkpoint")
        .into_iter()
        .filter(|t| t.name.starts_with("first_stage_model."))
        .collect();
    let p = probe_plain("sdxl_vae_extracted.safetensors", &specs, Category::Vae);
    assert_eq!((p.kind, p.base), (Kind::Vae, Base::Sdxl));
}

#[test]
fn text_encoders_name_the_encoder_and_leave_base_unknown() {
    let cases = [
        (
            "clip_l",
            "CLIP-L (OpenAI ViT-L/14 text encoder), width 768, 12 layers, HF layout at top level",
        ),
        (
            "clip_g",
            "CLIP-G (OpenCLIP ViT-bigG/14 text encoder), width 1280, 32 layers, HF layout at top level",
        ),
        (
            "t5xxl",
            "T5-XXL encoder (T5 v1.1), width 4096, 24 blocks, vocabulary 32128 at top level",
        ),
    ];
    for (layout, reason) in cases {
        let p = check_sample(
            layout,
            &format!("{layout}.safetensors"),
            Category::TextEncoders,
            (Kind::TextEncoder, Base::Unknown, "fp16", None),
        );
        assert_eq!(p.reasons[0], reason);
        assert_reason(
            &p,
            "text encoders serve several model families; base left unknown",
        );
    }
}

#[test]
fn openclip_layouts_and_bundled_encoders() {
    let g = testkit::layout_under("sdxl_base_checkpoint", "conditioner.embedders.1.model.");
    let p = probe_plain("open_clip_bigg.safetensors", &g, Category::TextEncoders);
    assert_eq!((p.kind, p.base), (Kind::TextEncoder, Base::Unknown));
    assert_eq!(
        p.reasons[0],
        "CLIP-G (OpenCLIP ViT-bigG/14 text encoder), width 1280, 32 layers, OpenCLIP layout at top level"
    );

    let h = testkit::layout_under("sd21_768_v_checkpoint", "cond_stage_model.model.");
    let p = probe_plain("open_clip_h.safetensors", &h, Category::TextEncoders);
    assert_eq!(
        p.reasons[0],
        "OpenCLIP-H (ViT-H/14 text encoder of SD2.x), width 1024, 24 layers, OpenCLIP layout at top level"
    );

    let both = testkit::layout_under("flux1_dev_checkpoint", "text_encoders.");
    let p = probe_plain(
        "flux_text_encoders.safetensors",
        &both,
        Category::TextEncoders,
    );
    assert_eq!(p.kind, Kind::TextEncoder);
    assert_reason(
        &p,
        "CLIP-L (OpenAI ViT-L/14 text encoder), width 768, 12 layers, HF layout at clip_l.transformer.",
    );
    assert_reason(
        &p,
        "T5-XXL encoder (T5 v1.1), width 4096, 24 blocks, vocabulary 32128 at t5xxl.transformer.",
    );
}

// ---- LoRAs -----------------------------------------------------------------

#[track_caller]
fn check_lora(file: &str, specs: &[TensorSpec], base: Base, reasons: &[&str]) -> Probe {
    let p = probe_plain(file, specs, Category::Loras);
    assert_eq!(p.error, None);
    assert_eq!(
        (p.kind, p.base),
        (Kind::Lora, base),
        "{file}: {:#?}",
        p.reasons
    );
    assert_eq!(p.precision.as_deref(), Some("fp16"));
    assert_eq!(p.params, Some(total(specs)));
    for r in reasons {
        assert_reason(&p, r);
    }
    p
}

#[test]
fn kohya_loras() {
    check_lora(
        "style_sd15.safetensors",
        &testkit::lora_layout("sd15_kohya", 8),
        Base::Sd15,
        &[
            "264 modules with lora_down/lora_up → LoRA (kohya convention)",
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k takes width 768 → SD1.x (CLIP-L) text context",
        ],
    );
    check_lora(
        "style_xl.safetensors",
        &testkit::lora_layout("sdxl_kohya", 16),
        Base::Sdxl,
        &[
            "takes width 2048 → SDXL text context",
            "second text encoder (te2) → SDXL's two encoders",
        ],
    );
    check_lora(
        "style_flux.safetensors",
        &testkit::lora_layout("flux_kohya", 16),
        Base::FluxDev,
        &["Flux LoRA; dev and schnell LoRAs share this layout, flux_dev assumed"],
    );
}

#[test]
fn peft_loras() {
    check_lora(
        "flux_peft.safetensors",
        &testkit::peft_lora_layout("flux_diffusers", 4),
        Base::FluxDev,
        &["494 modules with lora_A/lora_B → LoRA (diffusers/PEFT convention)"],
    );
    check_lora(
        "sd15_peft.safetensors",
        &testkit::peft_lora_layout("sd15_kohya", 4),
        Base::Sd15,
        &["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k takes width 768"],
    );
    check_lora(
        "sdxl_peft.safetensors",
        &testkit::peft_lora_layout("sdxl_kohya", 4),
        Base::Sdxl,
        &["takes width 2048 → SDXL text context"],
    );
}

#[test]
fn lycoris_loha_and_lokr() {
    check_lora(
        "loha_sd15.safetensors",
        &testkit::loha_layout("sd15_kohya", 4),
        Base::Sd15,
        &[
            "hada_w1_a/hada_w1_b/hada_w2_* → LyCORIS LoHa",
            "takes width 768",
        ],
    );
    check_lora(
        "loha_xl.safetensors",
        &testkit::loha_layout("sdxl_kohya", 4),
        Base::Sdxl,
        &["LyCORIS LoHa", "takes width 2048"],
    );
    check_lora(
        "lokr_xl.safetensors",
        &testkit::lokr_layout("sdxl_kohya"),
        Base::Sdxl,
        &["lokr_w1/lokr_w2 → LyCORIS LoKr", "takes width 2048"],
    );
    check_lora(
        "lokr_sd15.safetensors",
        &testkit::lokr_layout("sd15_kohya"),
        Base::Sd15,
        &["takes width 768"],
    );
}

#[test]
fn locon_is_named() {
    let mut specs = testkit::lora_layout("sd15_kohya", 4);
    let conv = "lora_unet_down_blocks_0_resnets_0_conv1";
    specs.push(TensorSpec::new(
        format!("{conv}.lora_down.weight"),
        Dtype::F16,
        &[4, 320, 3, 3],
    ));
    specs.push(TensorSpec::new(
        format!("{conv}.lora_up.weight"),
        Dtype::F16,
        &[320, 4, 1, 1],
    ));
    specs.push(TensorSpec::new(format!("{conv}.alpha"), Dtype::F16, &[]));
    check_lora(
        "locon.safetensors",
        &specs,
        Base::Sd15,
        &["lora_down on 3×3 convolutions → LyCORIS LoCon"],
    );
}

#[test]
fn text_encoder_only_loras() {
    let te_only = |template: &str, prefix: &str| -> Vec<TensorSpec> {
        testkit::lora_layout(template, 4)
            .into_iter()
            .filter(|t| t.name.starts_with(prefix))
            .collect()
    };
    check_lora(
        "te.safetensors",
        &te_only("sd15_kohya", "lora_te_"),
        Base::Sd15,
        &["text-encoder modules of width 768 → sd_1_5"],
    );
    check_lora(
        "te.safetensors",
        &te_only("sdxl_kohya", "lora_te"),
        Base::Sdxl,
        &["(lora_te2_/text_encoder_2) → SDXL"],
    );
}

#[test]
fn the_real_sdxl_lora_from_the_samples() {
    let path = Path::new(testkit::REAL_SDXL_LORA);
    let p = probe_file(path, Category::Loras);
    assert_eq!(p.error, None);
    assert_eq!(
        (p.format, p.kind, p.base),
        (Format::Safetensors, Kind::Lora, Base::Sdxl)
    );
    assert_eq!(p.precision.as_deref(), Some("fp16"));
    assert_eq!(p.params, Some(1_892_436));
    assert_eq!(p.data_offset, Some(37_552));
    assert_eq!(p.prediction, None);
    assert_reason(
        &p,
        "84 modules with lora_down/lora_up → LoRA (kohya convention)",
    );
    assert_reason(&p, "takes width 2048 → SDXL text context");
    assert_reason(&p, "metadata ss_base_model_version=sdxl_base_v1-0 agrees");
    let meta = p.metadata.expect("metadata");
    assert_eq!(meta["ss_network_dim"], "8");
    assert_eq!(
        meta["modelspec.architecture"],
        "stable-diffusion-xl-v1-base/lora"
    );
}

#[test]
fn lora_metadata_never_overrules_the_tensors() {
    let (p, _) = probe_specs(
        "mislabelled.safetensors",
        &testkit::lora_layout("sd15_kohya", 4),
        &[("ss_base_model_version", "sdxl_base_v1-0")],
        Category::Loras,
    );
    assert_eq!(p.base, Base::Sd15);
    assert_reason(
        &p,
        "metadata ss_base_model_version=sdxl_base_v1-0 contradicts the tensors' sd_1_5; the tensors win",
    );
}

#[test]
fn flux_lora_variant_from_metadata_or_name() {
    let specs = testkit::lora_layout("flux_kohya", 4);
    let (meta, _) = probe_specs(
        "x.safetensors",
        &specs,
        &[
            ("modelspec.architecture", "flux-1-schnell/lora"),
            ("ss_base_model_version", "flux1"),
        ],
        Category::Loras,
    );
    assert_eq!(meta.base, Base::FluxSchnell);
    assert_reason(
        &meta,
        "metadata modelspec.architecture=flux-1-schnell/lora → flux_schnell",
    );
    let named = probe_plain("turbo_schnell_lora.safetensors", &specs, Category::Loras);
    assert_eq!(named.base, Base::FluxSchnell);
    let (family, _) = probe_specs(
        "x.safetensors",
        &specs,
        &[("ss_base_model_version", "flux1")],
        Category::Loras,
    );
    assert_eq!(family.base, Base::FluxDev);
    assert_reason(&family, "metadata ss_base_model_version=flux1 agrees");
}

// ---- fine-tunes only metadata can name -------------------------------------

#[test]
fn pony_and_illustrious_come_from_metadata_only() {
    let sdxl = testkit::layout("sdxl_base_checkpoint");
    let (pony, _) = probe_specs(
        "model.safetensors",
        &sdxl,
        &[("modelspec.architecture", "pony-diffusion-v6-xl")],
        Category::Checkpoints,
    );
    assert_eq!(pony.base, Base::Pony);
    assert_reason(
        &pony,
        "metadata modelspec.architecture=pony-diffusion-v6-xl → pony (a sdxl fine-tune the tensors cannot tell)",
    );

    let named = probe_plain(
        "ponyDiffusionV6XL.safetensors",
        &sdxl,
        Category::Checkpoints,
    );
    assert_eq!(named.base, Base::Sdxl, "a name never decides a fine-tune");

    let (ill, _) = probe_specs(
        "style.safetensors",
        &testkit::lora_layout("sdxl_kohya", 4),
        &[
            ("ss_base_model_version", "sdxl_base_v1-0"),
            ("modelspec.architecture", "illustrious-xl-v0.1/lora"),
        ],
        Category::Loras,
    );
    assert_eq!(ill.base, Base::Illustrious);
}

#[test]
fn krea_refines_flux_dev_but_not_schnell() {
    let meta = [("modelspec.architecture", "flux-1-krea-dev")];
    let (krea, _) = probe_specs(
        "k.safetensors",
        &testkit::layout("flux1_dev_diffusion_model"),
        &meta,
        Category::DiffusionModels,
    );
    assert_eq!(krea.base, Base::FluxKrea);
    let (schnell, _) = probe_specs(
        "k.safetensors",
        &testkit::layout("flux1_schnell_diffusion_model"),
        &meta,
        Category::DiffusionModels,
    );
    assert_eq!(schnell.base, Base::FluxSchnell);
    assert_reason(
        &schnell,
        "contradicts the tensors' flux_schnell; the tensors win",
    );
}

// ---- embeddings, controlnets, upscalers ------------------------------------

#[test]
fn textual_inversion_embeddings() {
    let cases = [
        (
            vec![TensorSpec::new("emb_params", Dtype::F32, &[8, 768])],
            Base::Sd15,
        ),
        (
            vec![TensorSpec::new("emb_params", Dtype::F32, &[4, 1024])],
            Base::Sd21,
        ),
        (
            vec![
                TensorSpec::new("clip_g", Dtype::F16, &[2, 1280]),
                TensorSpec::new("clip_l", Dtype::F16, &[2, 768]),
            ],
            Base::Sdxl,
        ),
        (
            vec![TensorSpec::new("string_to_param.*", Dtype::F32, &[1, 768])],
            Base::Sd15,
        ),
    ];
    for (specs, base) in cases {
        let p = probe_plain("easynegative.safetensors", &specs, Category::Embeddings);
        assert_eq!(
            (p.kind, p.base),
            (Kind::Embedding, base),
            "{:#?}",
            p.reasons
        );
        assert_eq!(p.params, Some(total(&specs)));
    }
}

/// An LDM-layout ControlNet built from a checkpoint's UNet encoder half.
fn ldm_controlnet(layout: &str) -> Vec<TensorSpec> {
    let mut specs: Vec<TensorSpec> = testkit::layout_under(layout, "model.diffusion_model.")
        .into_iter()
        .filter(|t| !t.name.starts_with("output_blocks.") && !t.name.starts_with("out."))
        .map(|mut t| {
            t.name = format!("control_model.{}", t.name);
            t
        })
        .collect();
    specs.push(TensorSpec::new(
        "control_model.input_hint_block.0.weight",
        Dtype::F16,
        &[16, 3, 3, 3],
    ));
    specs.push(TensorSpec::new(
        "control_model.zero_convs.0.0.weight",
        Dtype::F16,
        &[320, 320, 1, 1],
    ));
    specs
}

#[test]
fn controlnets() {
    let sd15 = probe_plain(
        "control_canny.safetensors",
        &ldm_controlnet("sd15_checkpoint"),
        Category::Controlnet,
    );
    assert_eq!(
        (sd15.kind, sd15.base),
        (Kind::Controlnet, Base::Sd15),
        "{:#?}",
        sd15.reasons
    );
    assert_reason(
        &sd15,
        "control_model.input_hint_block + zero_convs → ControlNet",
    );
    let xl = probe_plain(
        "control_xl.safetensors",
        &ldm_controlnet("sdxl_base_checkpoint"),
        Category::Controlnet,
    );
    assert_eq!((xl.kind, xl.base), (Kind::Controlnet, Base::Sdxl));

    let diffusers = [
        TensorSpec::new(
            "controlnet_cond_embedding.conv_in.weight",
            Dtype::F16,
            &[16, 3, 3, 3],
        ),
        TensorSpec::new(
            "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
            Dtype::F16,
            &[640, 2048],
        ),
        TensorSpec::new("add_embedding.linear_1.weight", Dtype::F16, &[1280, 2816]),
    ];
    let p = probe_plain(
        "diffusion_pytorch_model.safetensors",
        &diffusers,
        Category::Controlnet,
    );
    assert_eq!((p.kind, p.base), (Kind::Controlnet, Base::Sdxl));
    assert_reason(
        &p,
        "controlnet_cond_embedding → ControlNet (diffusers layout)",
    );
}

#[test]
fn upscalers() {
    let rrdb = [
        TensorSpec::new("conv_first.weight", Dtype::F32, &[64, 3, 3, 3]),
        TensorSpec::new("body.0.rdb1.conv1.weight", Dtype::F32, &[32, 64, 3, 3]),
        TensorSpec::new("conv_body.weight", Dtype::F32, &[64, 64, 3, 3]),
        TensorSpec::new("conv_last.weight", Dtype::F32, &[3, 64, 3, 3]),
    ];
    let p = probe_plain("4x-UltraSharp.safetensors", &rrdb, Category::UpscaleModels);
    assert_eq!((p.kind, p.base), (Kind::Upscaler, Base::Unknown));
    assert_reason(&p, "ESRGAN/Real-ESRGAN RRDBNet");
    let old = [
        TensorSpec::new("model.0.weight", Dtype::F32, &[64, 3, 3, 3]),
        TensorSpec::new(
            "model.1.sub.0.RDB1.conv1.0.weight",
            Dtype::F32,
            &[32, 64, 3, 3],
        ),
    ];
    let p = probe_plain("old_esrgan.safetensors", &old, Category::Loras);
    assert_eq!(p.kind, Kind::Upscaler);
    assert_reason(
        &p,
        "found in loras/ but its header says upscaler; the header wins over the folder",
    );
}

// ---- kind versus folder ----------------------------------------------------

#[test]
fn tensors_win_over_the_folder() {
    let ckpt = probe_plain(
        "misplaced.safetensors",
        &testkit::layout_under("sd15_checkpoint", ""),
        Category::Loras,
    );
    assert_eq!((ckpt.kind, ckpt.base), (Kind::Checkpoint, Base::Sd15));
    assert_reason(
        &ckpt,
        "found in loras/ but its header says checkpoint; the header wins over the folder",
    );
    let lora = probe_plain(
        "misplaced.safetensors",
        &testkit::lora_layout("sd15_kohya", 4),
        Category::Checkpoints,
    );
    assert_eq!(lora.kind, Kind::Lora);
}

#[test]
fn unknown_layout_takes_the_folder_kind() {
    let specs = [TensorSpec::new("mystery.weight", Dtype::F16, &[3, 3])];
    let p = probe_plain("mystery.safetensors", &specs, Category::Loras);
    assert_eq!((p.kind, p.base, p.error), (Kind::Lora, Base::Unknown, None));
    assert_eq!(
        p.reasons,
        ["no known tensor layout; kind lora assumed from the loras/ folder"]
    );
}

// ---- formats and broken files ----------------------------------------------

#[test]
fn pickles_are_never_opened() {
    for ext in ["ckpt", "pt", "pth", "bin", "pkl", "CKPT"] {
        let path = Path::new("/nonexistent/dir/model").with_extension(ext);
        let p = probe_file(&path, Category::Checkpoints);
        let ext = ext.to_ascii_lowercase();
        assert_eq!(
            (p.format, p.kind, p.base),
            (Format::Pickle, Kind::Checkpoint, Base::Unknown)
        );
        assert_eq!(
            p.error.as_deref(),
            Some(format!("pickle file (.{ext}): listed but never unpickled, because unpickling can run arbitrary code; convert it to .safetensors to use it").as_str())
        );
    }
}

#[test]
fn other_extensions_are_unknown() {
    let p = probe_file(Path::new("/x/readme.txt"), Category::Loras);
    assert_eq!((p.format, p.kind), (Format::Unknown, Kind::Lora));
    assert_eq!(
        p.error.as_deref(),
        Some("unrecognised extension '.txt': gen reads .safetensors, .sft and .gguf model files")
    );
    let p = probe_file(Path::new("/x/model"), Category::Vae);
    assert_eq!(
        p.error.as_deref(),
        Some("no file extension: gen reads .safetensors, .sft and .gguf model files")
    );
}

#[test]
fn sft_and_upper_case_extensions_are_safetensors() {
    for file in ["clip_l.sft", "CLIP_L.SAFETENSORS"] {
        let p = probe_plain(file, &testkit::layout("clip_l"), Category::TextEncoders);
        assert_eq!(
            (p.format, p.kind, p.error),
            (Format::Safetensors, Kind::TextEncoder, None)
        );
    }
}

#[test]
fn broken_files_are_listed_with_their_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    for how in Broken::ALL {
        let path = dir.path().join(format!("{how:?}.safetensors"));
        testkit::write_broken(&path, *how).expect("write");
        let expected = crate::catalog::safetensors::read_header(&path)
            .expect_err("broken")
            .to_string();
        let p = probe_file(&path, Category::Embeddings);
        assert_eq!(
            p,
            Probe::failed(Format::Safetensors, Category::Embeddings, expected)
        );
    }
}

// ---- GGUF --------------------------------------------------------------------

fn probe_gguf(
    file: &str,
    kvs: &[(&str, GgufValue)],
    tensors: &[GgufTensorSpec],
    category: Category,
) -> Probe {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file);
    testkit::write_gguf(&path, kvs, tensors).expect("write gguf");
    probe_file(&path, category)
}

#[test]
fn gguf_flux_dev_q8() {
    let tensors = testkit::gguf_quantise(
        &testkit::layout("flux1_dev_diffusion_model"),
        gguf::GGML_Q8_0,
    );
    let arch = [("general.architecture", GgufValue::Str("flux".into()))];
    let p = probe_gguf(
        "flux1-dev-Q8_0.gguf",
        &arch,
        &tensors,
        Category::DiffusionModels,
    );
    assert_eq!(p.error, None);
    assert_eq!(
        (p.format, p.kind, p.base, p.precision.as_deref()),
        (
            Format::Gguf,
            Kind::DiffusionModel,
            Base::FluxDev,
            Some("Q8_0")
        )
    );
    assert_eq!(p.params, Some(n_params("flux1_dev_diffusion_model")));
    assert_reason(&p, "GGUF general.architecture=flux agrees");
    assert_eq!(
        p.metadata.expect("metadata")["general.architecture"],
        "flux"
    );
}

#[test]
fn gguf_sdxl_unet_q4() {
    let unet = testkit::layout_under("sdxl_base_checkpoint", "model.diffusion_model.");
    let tensors = testkit::gguf_quantise(&unet, gguf::GGML_Q4_0);
    let arch = [("general.architecture", GgufValue::Str("sdxl".into()))];
    let p = probe_gguf("sdxl-Q4_0.gguf", &arch, &tensors, Category::DiffusionModels);
    assert_eq!(
        (p.kind, p.base, p.precision.as_deref()),
        (Kind::DiffusionModel, Base::Sdxl, Some("Q4_0"))
    );
    assert_eq!(p.params, Some(total(&unet)));
    assert_eq!(p.prediction.as_deref(), Some("eps"));
}

#[test]
fn gguf_text_encoder_in_llama_cpp_naming() {
    let tensors = [
        GgufTensorSpec {
            name: "token_embd.weight".into(),
            ggml_type: gguf::GGML_Q8_0,
            shape: vec![32128, 4096],
        },
        GgufTensorSpec {
            name: "enc.blk.0.attn_q.weight".into(),
            ggml_type: gguf::GGML_Q8_0,
            shape: vec![4096, 4096],
        },
    ];
    let arch = [("general.architecture", GgufValue::Str("t5encoder".into()))];
    let p = probe_gguf(
        "t5-v1_1-xxl-encoder-Q8_0.gguf",
        &arch,
        &tensors,
        Category::TextEncoders,
    );
    assert_eq!(
        (p.kind, p.base, p.precision.as_deref()),
        (Kind::TextEncoder, Base::Unknown, Some("Q8_0"))
    );
    assert_eq!(
        p.reasons[0],
        "GGUF general.architecture=t5encoder → text_encoder"
    );
}

#[test]
fn gguf_errors_are_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, b"GGML-not-gguf").expect("write");
    let p = probe_file(&path, Category::DiffusionModels);
    assert_eq!(
        p,
        Probe::failed(
            Format::Gguf,
            Category::DiffusionModels,
            "not a GGUF file: it starts with \"GGML\" instead of \"GGUF\""
        )
    );
}

#[test]
fn a_probe_reads_only_the_header() {
    // A 33 GB checkpoint fixture probes as fast as a small one: only the
    // header is read, the hole after it never is.
    let started = std::time::Instant::now();
    check_sample(
        "flux1_dev_checkpoint",
        "flux1-dev-aio.safetensors",
        Category::Checkpoints,
        (Kind::Checkpoint, Base::FluxDev, "bf16", None),
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

// ---- less common layouts -----------------------------------------------------

#[test]
fn inpainting_unets_are_noted() {
    let specs: Vec<TensorSpec> = testkit::layout("sd15_checkpoint")
        .into_iter()
        .map(|mut t| {
            if t.name == "model.diffusion_model.input_blocks.0.0.weight" {
                t.shape = vec![320, 9, 3, 3];
            }
            t
        })
        .collect();
    let p = probe_plain("sd15-inpainting.safetensors", &specs, Category::Checkpoints);
    assert_eq!((p.kind, p.base), (Kind::Checkpoint, Base::Sd15));
    assert_reason(&p, "9 input channels → an inpainting model");
}

#[test]
fn wan_image_to_video_inputs() {
    let with_input = |in_dim: u64, clip_vision: bool| -> Vec<TensorSpec> {
        let mut specs: Vec<TensorSpec> = testkit::layout("wan21_t2v_1.3b_diffusion_model")
            .into_iter()
            .map(|mut t| {
                if t.name == "patch_embedding.weight" {
                    t.shape[1] = in_dim;
                }
                t
            })
            .collect();
        if clip_vision {
            specs.push(TensorSpec::new(
                "img_emb.proj.1.weight",
                Dtype::F16,
                &[1280, 1280],
            ));
        }
        specs
    };
    let wan21_i2v = probe_plain(
        "i2v.safetensors",
        &with_input(36, true),
        Category::DiffusionModels,
    );
    assert_eq!(wan21_i2v.base, Base::Wan21);
    let wan22_i2v = probe_plain(
        "i2v.safetensors",
        &with_input(36, false),
        Category::DiffusionModels,
    );
    assert_eq!(wan22_i2v.base, Base::Wan22);
    assert_reason(
        &wan22_i2v,
        "without a CLIP image embedding (img_emb) → Wan 2.2 I2V",
    );
}

#[test]
fn diffusers_unet_and_flux_transformer() {
    let unet = [
        TensorSpec::new("conv_in.weight", Dtype::F16, &[320, 4, 3, 3]),
        TensorSpec::new(
            "down_blocks.0.resnets.0.conv1.weight",
            Dtype::F16,
            &[320, 320, 3, 3],
        ),
        TensorSpec::new("time_embedding.linear_1.weight", Dtype::F16, &[1280, 320]),
        TensorSpec::new(
            "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
            Dtype::F16,
            &[640, 2048],
        ),
        TensorSpec::new("add_embedding.linear_1.weight", Dtype::F16, &[1280, 2816]),
    ];
    let p = probe_plain(
        "diffusion_pytorch_model.safetensors",
        &unet,
        Category::DiffusionModels,
    );
    assert_eq!((p.kind, p.base), (Kind::DiffusionModel, Base::Sdxl));
    assert_reason(&p, "UNet in diffusers naming");

    // The weights a diffusers Flux LoRA adapts are the transformer's own.
    let mut flux: Vec<TensorSpec> = testkit::lora_template("flux_diffusers")
        .into_iter()
        .map(|m| {
            let name = m.module.strip_prefix("transformer.").expect("prefix");
            TensorSpec::new(format!("{name}.weight"), Dtype::BF16, &m.shape)
        })
        .collect();
    flux.push(TensorSpec::new(
        "x_embedder.weight",
        Dtype::BF16,
        &[3072, 64],
    ));
    let schnell = probe_plain("transformer.safetensors", &flux, Category::DiffusionModels);
    assert_eq!(
        (schnell.kind, schnell.base),
        (Kind::DiffusionModel, Base::FluxSchnell)
    );
    flux.push(TensorSpec::new(
        "time_text_embed.guidance_embedder.linear_1.weight",
        Dtype::BF16,
        &[3072, 256],
    ));
    let dev = probe_plain("transformer.safetensors", &flux, Category::DiffusionModels);
    assert_eq!(dev.base, Base::FluxDev);
    assert_reason(
        &dev,
        "time_text_embed.guidance_embedder weights (guidance distillation) → Flux dev",
    );
}

#[test]
fn compact_upscaler() {
    let specs = [
        TensorSpec::new("body.0.weight", Dtype::F32, &[64, 3, 3, 3]),
        TensorSpec::new("body.0.bias", Dtype::F32, &[64]),
        TensorSpec::new("body.1.weight", Dtype::F32, &[64]),
        TensorSpec::new("body.2.weight", Dtype::F32, &[48, 64, 3, 3]),
    ];
    let p = probe_plain(
        "realesr-animevideov3.safetensors",
        &specs,
        Category::UpscaleModels,
    );
    assert_eq!(p.kind, Kind::Upscaler);
    assert_reason(&p, "Real-ESRGAN compact (SRVGGNetCompact)");
}

#[test]
fn metadata_names_the_kind_of_an_unknown_layout() {
    let specs = [TensorSpec::new("mystery.weight", Dtype::F16, &[3, 3])];
    let (p, _) = probe_specs(
        "mystery.safetensors",
        &specs,
        &[("modelspec.architecture", "stable-diffusion-xl-v1-base/lora")],
        Category::Checkpoints,
    );
    assert_eq!((p.kind, p.base), (Kind::Lora, Base::Sdxl));
    assert_eq!(
        p.reasons,
        [
            "metadata modelspec.architecture=stable-diffusion-xl-v1-base/lora → lora",
            "metadata modelspec.architecture=stable-diffusion-xl-v1-base/lora → sdxl",
            "found in checkpoints/ but its header says lora; the header wins over the folder",
        ]
    );
}

// ---- an SD UNet of unusual width: metadata may choose its family --------

#[test]
fn unusual_context_width_is_open_to_metadata_but_never_overruled() {
    // The SD1.5 layout with its cross-attention narrowed to 128 (a distilled
    // or test model): the tensors say "an SD UNet", not which one.
    let narrow: Vec<TensorSpec> = testkit::layout("sd15_checkpoint")
        .into_iter()
        .map(|mut t| {
            if t.name.contains("attn2.to_k.") || t.name.contains("attn2.to_v.") {
                t.shape[1] = 128;
            }
            t
        })
        .collect();
    let plain = probe_plain("tiny.safetensors", &narrow, Category::Checkpoints);
    assert_eq!((plain.kind, plain.base), (Kind::Checkpoint, Base::Unknown));
    let (decided, _) = probe_specs(
        "tiny.safetensors",
        &narrow,
        &[("modelspec.architecture", "stable-diffusion-v1")],
        Category::Checkpoints,
    );
    assert_eq!(decided.base, Base::Sd15);
    assert_reason(
        &decided,
        "metadata modelspec.architecture=stable-diffusion-v1 → sd_1_5",
    );
    // A real width still beats metadata.
    let (kept, _) = probe_specs(
        "real.safetensors",
        &testkit::layout("sd15_checkpoint"),
        &[("modelspec.architecture", "stable-diffusion-xl-v1-base")],
        Category::Checkpoints,
    );
    assert_eq!(kept.base, Base::Sd15);
}
