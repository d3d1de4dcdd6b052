//! Where the model files are: the category folders of every models root.
//!
//! A root comes from `--models DIR` (a ComfyUI-style `models/`), from
//! `--comfyui DIR` (its `models/` plus its `extra_model_paths.yaml`, read with
//! ComfyUI's own rules), from the config file, or, when nothing is given, from
//! common install locations. The result is a flat list of (category, folder)
//! pairs with where each came from, which `gen system` shows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::Category;
use crate::config::{Settings, Source};
use crate::error::GenError;

/// How a model folder was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Found {
    /// `--models` / GEN_MODELS / the config's `models`.
    ModelsRoot { source: Source },
    /// The `models/` folder of `--comfyui` / GEN_COMFYUI / the config's `comfyui`.
    ComfyUi { source: Source },
    /// A section of an `extra_model_paths.yaml`.
    ExtraModelPaths { file: PathBuf, section: String },
    /// A common ComfyUI install location, found without being told.
    Discovered,
}

/// One category folder to walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelDir {
    pub category: Category,
    pub path: PathBuf,
    pub found: Found,
}

/// Folder names under a models root, per category: ComfyUI's, its legacy
/// ones, and A1111's (so `--models stable-diffusion-webui/models` works too).
const FOLDER_NAMES: &[(Category, &[&str])] = &[
    (Category::Checkpoints, &["checkpoints", "Stable-diffusion"]),
    (Category::Loras, &["loras", "Lora", "LyCORIS"]),
    (Category::Vae, &["vae", "VAE"]),
    (Category::TextEncoders, &["text_encoders", "clip"]),
    (Category::DiffusionModels, &["diffusion_models", "unet"]),
    (Category::Embeddings, &["embeddings"]),
    (
        Category::Controlnet,
        &["controlnet", "t2i_adapter", "ControlNet"],
    ),
    (
        Category::UpscaleModels,
        &["upscale_models", "ESRGAN", "RealESRGAN"],
    ),
];

/// The category folders present under a ComfyUI-style models root.
pub fn folders_of_root(root: &Path, found: &Found) -> Vec<ModelDir> {
    let mut dirs = Vec::new();
    for (category, names) in FOLDER_NAMES {
        for name in *names {
            let path = root.join(name);
            if path.is_dir() {
                dirs.push(ModelDir {
                    category: *category,
                    path,
                    found: found.clone(),
                });
            }
        }
    }
    dirs
}

/// Places ComfyUI is commonly installed, relative to the home folder.
const COMMON_INSTALLS: &[&str] = &[
    "ComfyUI",
    "comfyui",
    "Documents/ComfyUI",
    "src/ComfyUI",
    "git/ComfyUI",
    "AI/ComfyUI",
    "ComfyUI_windows_portable/ComfyUI",
];

/// Every model folder the settings name, deduplicated (the first mention of
/// a folder wins). Errors only on an unreadable or invalid
/// `extra_model_paths.yaml`, or a named folder that does not exist.
pub fn resolve(settings: &Settings) -> anyhow::Result<Vec<ModelDir>> {
    let mut dirs = Vec::new();
    for (root, source) in &settings.models {
        if !root.is_dir() {
            return Err(GenError::usage(format!(
                "models folder {} does not exist",
                root.display()
            ))
            .into());
        }
        dirs.extend(folders_of_root(
            root,
            &Found::ModelsRoot { source: *source },
        ));
    }
    if let Some((comfy, source)) = &settings.comfyui {
        if !comfy.is_dir() {
            return Err(GenError::usage(format!(
                "ComfyUI folder {} does not exist",
                comfy.display()
            ))
            .into());
        }
        dirs.extend(comfyui_dirs(comfy, Found::ComfyUi { source: *source })?);
    }
    if settings.models.is_empty()
        && settings.comfyui.is_none()
        && let Some(home) = dirs::home_dir()
    {
        for rel in COMMON_INSTALLS {
            let comfy = home.join(rel);
            if comfy.join("models").is_dir() {
                dirs.extend(comfyui_dirs(&comfy, Found::Discovered)?);
                break;
            }
        }
    }
    Ok(dedupe(dirs))
}

fn comfyui_dirs(comfy: &Path, found: Found) -> anyhow::Result<Vec<ModelDir>> {
    let mut dirs = folders_of_root(&comfy.join("models"), &found);
    let extra = comfy.join("extra_model_paths.yaml");
    if extra.is_file() {
        dirs.extend(read_extra_model_paths(&extra)?);
    }
    Ok(dirs)
}

fn dedupe(dirs: Vec<ModelDir>) -> Vec<ModelDir> {
    let mut seen = HashSet::new();
    dirs.into_iter()
        .filter(|d| {
            let key = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
            seen.insert(key)
        })
        .collect()
}

/// Reads an `extra_model_paths.yaml` with ComfyUI's rules: every top-level
/// key is a section; `base_path` (with `~` and `$VAR` expanded, relative to
/// the file's folder) prefixes each path; a value may list several paths,
/// one per line; `unet` and `clip` are the legacy names of
/// `diffusion_models` and `text_encoders`; keys that are not model folders
/// of ours (configs, hypernetworks, ...) are skipped; folders that do not
/// exist are skipped (ComfyUI does the same).
pub fn read_extra_model_paths(file: &Path) -> anyhow::Result<Vec<ModelDir>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| GenError::usage(format!("{} is not valid YAML: {e}", file.display())))?;
    let here = file.parent().unwrap_or(Path::new("."));
    let mut dirs = Vec::new();
    let Some(sections) = doc.as_mapping() else {
        return Ok(dirs); // An empty file is fine.
    };
    for (name, section) in sections {
        let section_name = name.as_str().unwrap_or("?").to_string();
        let Some(section) = section.as_mapping() else {
            continue;
        };
        let base = section
            .get("base_path")
            .and_then(|v| v.as_str())
            .map(|b| absolute(here, &expand(b.trim())));
        for (key, value) in section {
            let Some(key) = key.as_str() else { continue };
            if key == "base_path" || key == "is_default" {
                continue;
            }
            let Ok(category) = key.parse::<Category>() else {
                continue;
            };
            let Some(value) = value.as_str() else {
                continue;
            };
            for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let path = match &base {
                    Some(base) => base.join(expand(line)),
                    None => absolute(here, &expand(line)),
                };
                if path.is_dir() {
                    dirs.push(ModelDir {
                        category,
                        path,
                        found: Found::ExtraModelPaths {
                            file: file.to_path_buf(),
                            section: section_name.clone(),
                        },
                    });
                }
            }
        }
    }
    Ok(dirs)
}

fn absolute(here: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        here.join(p)
    }
}

/// `~` and `$VAR` / `${VAR}` expansion, as Python's expanduser/expandvars do
/// (an unset variable is left as written).
fn expand(s: &str) -> PathBuf {
    let s = if s == "~" || s.starts_with("~/") {
        match dirs::home_dir() {
            Some(h) => format!("{}{}", h.display(), &s[1..]),
            None => s.to_string(),
        }
    } else {
        s.to_string()
    };
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match std::env::var(name) {
            Ok(v) if !name.is_empty() => out.push_str(&v),
            _ => out.push_str(&rest[pos..rest.len() - tail.len()]),
        }
        rest = tail;
    }
    out.push_str(rest);
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdirs(root: &Path, rels: &[&str]) {
        for r in rels {
            std::fs::create_dir_all(root.join(r)).unwrap();
        }
    }

    #[test]
    fn extra_model_paths_follow_comfyui_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        mkdirs(
            t,
            &[
                "a1111/models/Stable-diffusion",
                "a1111/models/Lora",
                "a1111/models/LyCORIS",
                "shared/unet",
                "rel/clip",
            ],
        );
        let yaml = format!(
            "a1111:\n    base_path: {}/a1111/\n    checkpoints: models/Stable-diffusion\n    configs: models/Stable-diffusion\n    loras: |\n         models/Lora\n         models/LyCORIS\n    vae: models/missing\n\
             other:\n    base_path: shared\n    unet: unet\n\
             nobase:\n    clip: >-\n      rel/clip\n\n      rel/none\n",
            t.display()
        );
        let file = t.join("extra_model_paths.yaml");
        std::fs::write(&file, yaml).unwrap();
        let dirs = read_extra_model_paths(&file).unwrap();
        let got: Vec<(Category, PathBuf)> =
            dirs.iter().map(|d| (d.category, d.path.clone())).collect();
        assert_eq!(
            got,
            vec![
                (
                    Category::Checkpoints,
                    t.join("a1111/models/Stable-diffusion")
                ),
                (Category::Loras, t.join("a1111/models/Lora")),
                (Category::Loras, t.join("a1111/models/LyCORIS")),
                (Category::DiffusionModels, t.join("shared/unet")),
                (Category::TextEncoders, t.join("rel/clip")),
            ]
        );
        assert_eq!(
            dirs[0].found,
            Found::ExtraModelPaths {
                file: file.clone(),
                section: "a1111".into()
            }
        );
    }

    #[test]
    fn invalid_yaml_is_a_usage_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("extra_model_paths.yaml");
        std::fs::write(&file, "a: [unclosed").unwrap();
        let err = read_extra_model_paths(&file).unwrap_err();
        assert_eq!(crate::error::status_of(&err).0, crate::error::Status::Usage);
    }

    #[test]
    fn expand_handles_vars_and_home() {
        // SAFETY: test-local variable name, no other thread reads it.
        unsafe { std::env::set_var("GEN_TEST_ROOT_X", "/mnt/x") };
        assert_eq!(
            expand("$GEN_TEST_ROOT_X/models"),
            PathBuf::from("/mnt/x/models")
        );
        assert_eq!(expand("${GEN_TEST_ROOT_X}/m"), PathBuf::from("/mnt/x/m"));
        assert_eq!(
            expand("$GEN_UNSET_VAR_Q/m"),
            PathBuf::from("$GEN_UNSET_VAR_Q/m")
        );
    }

    #[test]
    fn models_root_folders_include_legacy_names() {
        let tmp = tempfile::tempdir().unwrap();
        mkdirs(
            tmp.path(),
            &["checkpoints", "unet", "clip", "loras", "notes"],
        );
        let found = Found::Discovered;
        let cats: Vec<Category> = folders_of_root(tmp.path(), &found)
            .iter()
            .map(|d| d.category)
            .collect();
        assert_eq!(
            cats,
            vec![
                Category::Checkpoints,
                Category::Loras,
                Category::TextEncoders,
                Category::DiffusionModels
            ]
        );
    }
}
