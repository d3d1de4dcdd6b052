//! The model families and the figures of each that the memory estimate
//! uses: reference parameter counts of the released files, attention
//! shapes and working-set sizes. One table, so adding a family is adding
//! one entry.

use std::fmt;

use serde::Serialize;

use super::MIB;
use crate::catalog::Base;

/// A model family, as far as memory is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Sd15,
    Sd2,
    Sdxl,
    SdxlRefiner,
    Flux,
    Sd3,
}

/// The figures of a family that the estimate uses. Parameter counts are
/// those of the reference release files (tensor elements, which is what the
/// catalogue counts); the sources are named on [`Family::spec`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FamilySpec {
    pub name: &'static str,
    /// The size it was trained at.
    pub native: (u32, u32),
    pub denoiser_params: u64,
    pub text_encoder_params: u64,
    pub vae_params: u64,
    /// Classifier-free guidance doubles the batch.
    pub cfg: bool,
    /// Latent pixels per token side (2 for the patchified DiTs).
    pub patch: u32,
    /// The first attention level is this factor below the latent size.
    pub attn_downscale: u32,
    /// Attention heads at that level.
    pub attn_heads: u64,
    /// Text tokens joined to image tokens in attention (0: cross-attention).
    pub joint_text_tokens: u64,
    /// Non-attention activations, elements per latent token per image.
    pub features_per_token: u64,
    /// Text encoder activations at 2 bytes per element.
    pub text_activation_bytes: u64,
    /// The VAE must decode in f32 (SDXL's original VAE overflows in f16).
    pub vae_f32: bool,
}

// Reference counts (tensor elements of the released files):
// SD1.5 v1-5-pruned-emaonly: UNet 859,520,964, CLIP ViT-L/14 text 123,060,480,
//   AutoencoderKL 83,653,863 (1.066 B; 2.13 GB in fp16).
// SD2.1 v2-1_768-ema-pruned: UNet 865,910,724, OpenCLIP ViT-H text 340,387,840.
// SDXL sd_xl_base_1.0: UNet 2,567,463,684, CLIP-L 123,060,480 + OpenCLIP
//   bigG 694,659,841 (3.47 B; 6.94 GB in fp16).
// SDXL refiner: 6.08 GB in fp16 = 3.04 B, less bigG and the VAE.
// Flux.1 dev/schnell: transformer 11,901,408,320 (23.8 GB bf16), T5-XXL
//   encoder 4.89 B (t5xxl_fp16, 9.79 GB) + CLIP-L, ae.safetensors 83,819,683.
// SD3 medium: MMDiT 2.03 B, CLIP-L + CLIP-G + T5-XXL, 16-channel VAE.
pub(crate) const SD_VAE: u64 = 83_653_863;
pub(crate) const FLUX_VAE: u64 = 83_819_683;
pub(crate) const CLIP_L: u64 = 123_060_480;
pub(crate) const CLIP_G: u64 = 694_659_841;
pub(crate) const T5_XXL: u64 = 4_893_920_000;

impl Family {
    pub const ALL: &[Family] = &[
        Family::Sd15,
        Family::Sd2,
        Family::Sdxl,
        Family::SdxlRefiner,
        Family::Flux,
        Family::Sd3,
    ];

    /// The family of a base model; `None` for those gen cannot render yet
    /// (Wan, HiDream) and for unknown files.
    pub fn of(base: Base) -> Option<Family> {
        Some(match base.family() {
            Base::Sd15 => Family::Sd15,
            Base::Sd21 => Family::Sd2,
            Base::Sdxl => Family::Sdxl,
            Base::SdxlRefiner => Family::SdxlRefiner,
            Base::FluxDev | Base::FluxSchnell => Family::Flux,
            Base::Sd3 => Family::Sd3,
            _ => return None,
        })
    }

    /// The family's figures (see the module documentation for their use).
    pub fn spec(self) -> FamilySpec {
        match self {
            Family::Sd15 => FamilySpec {
                name: "SD 1.5",
                native: (512, 512),
                denoiser_params: 859_520_964,
                text_encoder_params: CLIP_L,
                vae_params: SD_VAE,
                cfg: true,
                patch: 1,
                attn_downscale: 1,
                attn_heads: 8,
                joint_text_tokens: 0,
                // Top level: 320-channel resnets, 2×1280 GEGLU, skips of all levels.
                features_per_token: 10_000,
                text_activation_bytes: 64 * MIB,
                vae_f32: false,
            },
            Family::Sd2 => FamilySpec {
                name: "SD 2.x",
                native: (768, 768),
                denoiser_params: 865_910_724,
                text_encoder_params: 340_387_840,
                vae_params: SD_VAE,
                cfg: true,
                patch: 1,
                attn_downscale: 1,
                // Head width 64: 320 channels make 5 heads at the top level.
                attn_heads: 5,
                joint_text_tokens: 0,
                features_per_token: 10_000,
                text_activation_bytes: 64 * MIB,
                vae_f32: false,
            },
            Family::Sdxl => FamilySpec {
                name: "SDXL",
                native: (1024, 1024),
                denoiser_params: 2_567_463_684,
                text_encoder_params: CLIP_L + CLIP_G,
                vae_params: SD_VAE,
                cfg: true,
                patch: 1,
                // No attention at full latent size; 640 channels / 64 = 10 heads at /2.
                attn_downscale: 2,
                attn_heads: 10,
                joint_text_tokens: 0,
                features_per_token: 6_000,
                text_activation_bytes: 64 * MIB,
                vae_f32: true,
            },
            Family::SdxlRefiner => FamilySpec {
                name: "SDXL refiner",
                native: (1024, 1024),
                denoiser_params: 2_260_000_000,
                text_encoder_params: CLIP_G,
                vae_params: SD_VAE,
                cfg: true,
                patch: 1,
                attn_downscale: 2,
                // 768 channels / 64.
                attn_heads: 12,
                joint_text_tokens: 0,
                features_per_token: 8_000,
                text_activation_bytes: 64 * MIB,
                vae_f32: true,
            },
            Family::Flux => FamilySpec {
                name: "Flux",
                native: (1024, 1024),
                denoiser_params: 11_901_408_320,
                text_encoder_params: T5_XXL + CLIP_L,
                vae_params: FLUX_VAE,
                cfg: false,
                patch: 2,
                attn_downscale: 1,
                attn_heads: 24,
                joint_text_tokens: 512,
                // Per 2×2 token: hidden 3072 × (qkv 3 + MLP 4 + residual and
                // modulation ~3) ≈ 32 k elements, a quarter of that per latent token.
                features_per_token: 8_192,
                text_activation_bytes: 256 * MIB,
                vae_f32: false,
            },
            Family::Sd3 => FamilySpec {
                name: "SD3",
                native: (1024, 1024),
                denoiser_params: 2_028_328_000,
                text_encoder_params: CLIP_L + CLIP_G + T5_XXL,
                vae_params: FLUX_VAE,
                cfg: true,
                patch: 2,
                attn_downscale: 1,
                attn_heads: 24,
                // 77 CLIP tokens + 256 T5 tokens.
                joint_text_tokens: 333,
                features_per_token: 4_096,
                text_activation_bytes: 256 * MIB,
                vae_f32: false,
            },
        }
    }

    pub fn reference_params(self) -> u64 {
        let s = self.spec();
        s.denoiser_params + s.text_encoder_params + s.vae_params
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().name)
    }
}
