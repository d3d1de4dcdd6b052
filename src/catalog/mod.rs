//! The catalogue: every model file under the model roots, what it is and its
//! hashes (DESIGN §2).
//!
//! `scan` walks the category folders, `probe` reads a file's header (never
//! its weights, never a pickle) to tell kind and base model, `hash` computes
//! SHA-256/AutoV2/AutoV3, and `store` keeps it all in SQLite. `index` ties
//! them together. `sidecars` and `civitai` learn what a file is for, `metadata`
//! normalises that into `ModelInfo`, `enrich` runs both after the index.
//! Only the plain types below and `ModelInfo` cross into other rooms.

pub mod civitai;
pub mod enrich;
pub mod gguf;
pub mod hash;
pub mod index;
pub mod metadata;
pub mod probe;
pub mod roots;
pub mod safetensors;
pub mod scan;
pub mod sidecars;
pub mod store;
pub mod store_meta;
#[doc(hidden)]
pub mod testkit;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a string-backed enum with `as_str`, `Display`, `FromStr`, serde
/// as that string, and `ALL`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let lower = s.trim().to_ascii_lowercase().replace('-', "_");
                match lower.as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} '{}' (expected one of: {})",
                        stringify!($name).to_ascii_lowercase(), s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.as_str() }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> { s.parse() }
        }
    };
}

string_enum! {
    /// What a file is for.
    Kind {
        Checkpoint => "checkpoint",
        DiffusionModel => "diffusion_model" | "unet",
        Lora => "lora" | "lycoris",
        Vae => "vae",
        TextEncoder => "text_encoder" | "clip",
        Embedding => "embedding" | "textual_inversion",
        Controlnet => "controlnet",
        Upscaler => "upscaler" | "upscale_model",
        Unknown => "unknown",
    }
}

string_enum! {
    /// The model family a file belongs to (DESIGN §2's identifiers).
    Base {
        Sd15 => "sd_1_5" | "sd15" | "sd1",
        Sd21 => "sd_2_1" | "sd21" | "sd2",
        Sdxl => "sdxl",
        SdxlRefiner => "sdxl_refiner",
        Pony => "pony",
        Illustrious => "illustrious",
        FluxDev => "flux_dev",
        FluxSchnell => "flux_schnell",
        FluxKrea => "flux_krea",
        Sd3 => "sd3",
        Wan21 => "wan_2_1",
        Wan22 => "wan_2_2",
        HiDream => "hidream",
        Unknown => "unknown",
    }
}

string_enum! {
    /// How the file stores its tensors.
    Format {
        Safetensors => "safetensors",
        Gguf => "gguf",
        Pickle => "pickle",
        Unknown => "unknown",
    }
}

string_enum! {
    /// The category folder a file was found in (ComfyUI's folder names;
    /// the legacy `unet` and `clip` folders map to their new names).
    Category {
        Checkpoints => "checkpoints" | "stable_diffusion",
        Loras => "loras" | "lora" | "lycoris",
        Vae => "vae",
        TextEncoders => "text_encoders" | "clip",
        DiffusionModels => "diffusion_models" | "unet",
        Embeddings => "embeddings" | "textualinversion",
        Controlnet => "controlnet" | "t2i_adapter",
        UpscaleModels => "upscale_models" | "esrgan" | "realesrgan" | "swinir",
    }
}

impl Base {
    /// The family a LoRA or VAE must match to be used with this base:
    /// Pony and Illustrious are SDXL fine-tunes, Krea is a Flux dev.
    pub fn family(self) -> Base {
        match self {
            Base::Pony | Base::Illustrious => Base::Sdxl,
            Base::FluxKrea => Base::FluxDev,
            other => other,
        }
    }
}

impl Category {
    /// The kind a file in this folder is assumed to be when its header
    /// cannot tell (pickles, unreadable headers).
    pub fn default_kind(self) -> Kind {
        match self {
            Category::Checkpoints => Kind::Checkpoint,
            Category::Loras => Kind::Lora,
            Category::Vae => Kind::Vae,
            Category::TextEncoders => Kind::TextEncoder,
            Category::DiffusionModels => Kind::DiffusionModel,
            Category::Embeddings => Kind::Embedding,
            Category::Controlnet => Kind::Controlnet,
            Category::UpscaleModels => Kind::Upscaler,
        }
    }
}

/// What reading a file's header told us. Produced by `probe`, stored as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub format: Format,
    pub kind: Kind,
    pub base: Base,
    /// "fp32", "fp16", "bf16", "fp8" (the dtype of most parameters), or a
    /// GGUF quantisation name.
    pub precision: Option<String>,
    /// Number of parameters (elements of all tensors).
    pub params: Option<u64>,
    /// "eps" or "v" for models where prediction type matters (SD2.x).
    pub prediction: Option<String>,
    /// Byte offset where tensor data starts (8 + header length for
    /// safetensors); AutoV3 hashes from here.
    pub data_offset: Option<u64>,
    /// The safetensors `__metadata__` (training tags etc.), kept for later
    /// rooms (CivitAI lookup, presets). Large values are truncated.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Human-readable reasons for the decision, in the order they were made.
    pub reasons: Vec<String>,
    /// Set when the file is unusable (corrupt, truncated, pickle, unknown
    /// format): a clear sentence saying why. Such a file is still listed.
    pub error: Option<String>,
}

impl Probe {
    /// A file we could not read as a model: listed with the reason.
    pub fn failed(format: Format, category: Category, error: impl Into<String>) -> Probe {
        Probe {
            format,
            kind: category.default_kind(),
            base: Base::Unknown,
            precision: None,
            params: None,
            prediction: None,
            data_offset: None,
            metadata: None,
            reasons: Vec::new(),
            error: Some(error.into()),
        }
    }
}

/// One catalogued file, as other rooms see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub category: Category,
    pub kind: Kind,
    pub base: Base,
    pub sha256: Option<String>,
    pub autov2: Option<String>,
    pub autov3: Option<String>,
    pub size: u64,
    pub format: Format,
    pub precision: Option<String>,
    pub params: Option<u64>,
    pub prediction: Option<String>,
    pub active: bool,
    pub error: Option<String>,
    pub reasons: Vec<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Unix seconds when the file was last hashed and probed.
    pub indexed_at: i64,
}

impl Kind {
    /// The ComfyUI folder a file of this kind belongs in.
    pub fn folder(self) -> Category {
        match self {
            Kind::Checkpoint | Kind::Unknown => Category::Checkpoints,
            Kind::DiffusionModel => Category::DiffusionModels,
            Kind::Lora => Category::Loras,
            Kind::Vae => Category::Vae,
            Kind::TextEncoder => Category::TextEncoders,
            Kind::Embedding => Category::Embeddings,
            Kind::Controlnet => Category::Controlnet,
            Kind::Upscaler => Category::UpscaleModels,
        }
    }
}

impl CatalogEntry {
    /// A minimal active, usable entry: the name is the file stem, the folder
    /// the kind's, and everything else empty (for files described by hand,
    /// such as test catalogues).
    pub fn new(id: i64, path: &str, kind: Kind, base: Base) -> CatalogEntry {
        let name = std::path::Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        CatalogEntry {
            id,
            name,
            path: path.to_string(),
            category: kind.folder(),
            kind,
            base,
            sha256: None,
            autov2: None,
            autov3: None,
            size: 0,
            format: Format::Safetensors,
            precision: None,
            params: None,
            prediction: None,
            active: true,
            error: None,
            reasons: Vec::new(),
            metadata: None,
            indexed_at: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_accept_aliases() {
        for b in Base::ALL {
            assert_eq!(b.as_str().parse::<Base>().unwrap(), *b);
        }
        assert_eq!(
            "unet".parse::<Category>().unwrap(),
            Category::DiffusionModels
        );
        assert_eq!("clip".parse::<Category>().unwrap(), Category::TextEncoders);
        assert_eq!("SD-1-5".parse::<Base>().unwrap(), Base::Sd15);
        assert!("sd_9".parse::<Base>().unwrap_err().contains("sd_1_5"));
        assert_eq!(
            serde_json::to_string(&Kind::DiffusionModel).unwrap(),
            "\"diffusion_model\""
        );
    }

    #[test]
    fn family_folds_fine_tunes() {
        assert_eq!(Base::Pony.family(), Base::Sdxl);
        assert_eq!(Base::FluxKrea.family(), Base::FluxDev);
        assert_eq!(Base::Sd15.family(), Base::Sd15);
    }
}
