//! Sidecar files other tools already wrote beside a model: what they know
//! costs no network request and works offline.
//!
//! Read, all named after the model's stem: ComfyUI-Lora-Manager's
//! `.metadata.json`, the `.civitai.info` of A1111's Civitai Helper and
//! Stability Matrix, Stability Matrix's `.cm-info.json` (PascalCase), and
//! A1111's user metadata `.json` (activation text, preferred weight, sd
//! version), which only adds to the others. Reads are bounded; a broken or
//! stale sidecar is a problem reported with its path, never a stop.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::metadata::{
    ExampleParams, InfoSource, LookupStatus, ModelInfo, base_of, f64_of, from_civitai_version,
    str_of, strings_of, u64_of,
};

/// Sidecars larger than this are refused (real ones are a few KiB).
pub const MAX_SIDECAR_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("cannot read sidecar {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sidecar {path} is {size} bytes, more than the {MAX_SIDECAR_BYTES} read; ignored")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("sidecar {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("sidecar {path} describes another file (SHA-256 {theirs}); ignored")]
    OtherFile { path: PathBuf, theirs: String },
}

/// A sidecar on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub source: InfoSource,
    pub path: PathBuf,
    /// Unix seconds.
    pub mtime: i64,
}

/// What the sidecars beside one model say.
#[derive(Debug, Default)]
pub struct SidecarInfo {
    pub info: Option<ModelInfo>,
    /// The JSON of the sidecar the information came from.
    pub raw: Option<Value>,
    pub problems: Vec<SidecarError>,
}

const SUFFIXES: [(InfoSource, &str); 4] = [
    (InfoSource::LoraManager, ".metadata.json"),
    (InfoSource::CivitaiInfo, ".civitai.info"),
    (InfoSource::StabilityMatrix, ".cm-info.json"),
    (InfoSource::A1111, ".json"),
];

/// Finds sidecars, listing each folder once: a re-index of a large library
/// then costs one directory read per folder, not four stats per file.
#[derive(Default)]
pub struct Finder {
    listings: HashMap<PathBuf, HashSet<OsString>>,
}

impl Finder {
    /// The sidecars beside `model`, in order of preference.
    pub fn find(&mut self, model: &Path) -> Vec<Found> {
        let (Some(dir), Some(stem)) = (model.parent(), model.file_stem()) else {
            return Vec::new();
        };
        let names = self.listings.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(dir)
                .map(|rd| rd.filter_map(|e| Some(e.ok()?.file_name())).collect())
                .unwrap_or_default()
        });
        SUFFIXES
            .iter()
            .filter_map(|(source, suffix)| {
                let mut name = stem.to_os_string();
                name.push(suffix);
                if !names.contains(&name) {
                    return None;
                }
                let path = dir.join(name);
                let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
                let mtime = meta
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                Some(Found {
                    source: *source,
                    path,
                    mtime,
                })
            })
            .collect()
    }
}

/// The sidecars beside `model`, in order of preference.
pub fn find(model: &Path) -> Vec<Found> {
    Finder::default().find(model)
}

/// Reads the sidecars `find` returned for a file whose SHA-256 is `sha256`
/// (lower-case hex), at time `now`.
pub fn read(found: &[Found], sha256: &str, now: i64) -> SidecarInfo {
    let mut out = SidecarInfo::default();
    let mut extra: Option<ModelInfo> = None;
    for f in found {
        let json = match read_json(&f.path) {
            Ok(v) => v,
            Err(e) => {
                out.problems.push(e);
                continue;
            }
        };
        let stated = stated_sha256s(f.source, &json);
        if !stated.is_empty() && !stated.iter().any(|h| h.eq_ignore_ascii_case(sha256)) {
            out.problems.push(SidecarError::OtherFile {
                path: f.path.clone(),
                theirs: stated.join(", "),
            });
            continue;
        }
        let parsed = match f.source {
            InfoSource::LoraManager => lora_manager(&json, now),
            InfoSource::CivitaiInfo => civitai_info(&json, now),
            InfoSource::StabilityMatrix => stability_matrix(&json, now),
            InfoSource::A1111 => a1111(&json, now),
            InfoSource::Civitai => None,
        };
        let Some(mut info) = parsed else { continue };
        info.sidecar = Some(f.path.to_string_lossy().into_owned());
        info.sidecar_mtime = Some(f.mtime);
        if f.source == InfoSource::A1111 {
            extra = Some(info);
            continue;
        }
        // The first sidecar that found something wins; a "not found" one
        // is kept only while nothing better turns up.
        let better = match &out.info {
            None => true,
            Some(cur) => cur.status != LookupStatus::Found && info.status == LookupStatus::Found,
        };
        if better {
            out.info = Some(info);
            out.raw = Some(json);
        }
    }
    match (&mut out.info, extra) {
        (Some(info), Some(extra)) if info.status == LookupStatus::Found => supplement(info, extra),
        // What the user wrote beats another tool's "not found".
        (_, Some(extra)) => {
            out.info = Some(extra);
            out.raw = None;
        }
        _ => {}
    }
    out
}

/// A1111's user metadata fills what the main sidecar left empty.
fn supplement(info: &mut ModelInfo, extra: ModelInfo) {
    if info.trained_words.is_empty() {
        info.trained_words = extra.trained_words;
    }
    if info.preferred_weight.is_none() {
        info.preferred_weight = extra.preferred_weight;
    }
    if info.base.is_none() {
        info.base = extra.base;
        info.base_model = extra.base_model;
    }
    info.sidecar_mtime = info.sidecar_mtime.max(extra.sidecar_mtime);
}

fn read_json(path: &Path) -> Result<Value, SidecarError> {
    let io = |source| SidecarError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_SIDECAR_BYTES {
        return Err(SidecarError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_SIDECAR_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SIDECAR_BYTES {
        return Err(SidecarError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    // Some Windows tools write a byte-order mark.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(text).map_err(|source| SidecarError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The SHA-256s a sidecar says its model may have (a `.civitai.info`
/// lists every file of the version: model, VAE, pruned...), lower-case.
fn stated_sha256s(source: InfoSource, json: &Value) -> Vec<String> {
    let valid =
        |s: String| (s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())).then_some(s);
    let found: Vec<String> = match source {
        InfoSource::LoraManager => str_of(json.get("sha256"))
            .and_then(valid)
            .into_iter()
            .collect(),
        InfoSource::StabilityMatrix => str_of(json.pointer("/Hashes/SHA256"))
            .and_then(valid)
            .into_iter()
            .collect(),
        InfoSource::CivitaiInfo => json
            .get("files")
            .and_then(Value::as_array)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| str_of(f.pointer("/hashes/SHA256")).and_then(valid))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    found.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

fn lora_manager(json: &Value, now: i64) -> Option<ModelInfo> {
    let civ = json.get("civitai").filter(|c| c.get("id").is_some());
    let mut info = civ
        .and_then(|c| from_civitai_version(c, c.get("model"), InfoSource::LoraManager, now))
        .unwrap_or_else(|| ModelInfo::empty(InfoSource::LoraManager, LookupStatus::Found, now));
    if info.model_name.is_none() {
        info.model_name = str_of(json.get("model_name"));
    }
    if info.base.is_none()
        && let Some(b) = str_of(json.get("base_model"))
    {
        info.set_base_model(&b);
    }
    if info.tags.is_empty() {
        info.tags = strings_of(json.get("tags"));
    }
    // `usage_tips` is JSON inside a string: {"strength": 1.0, ...}.
    if let Some(tips) =
        str_of(json.get("usage_tips")).and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        info.preferred_weight = f64_of(tips.get("strength"));
    }
    if json.get("civitai_deleted").and_then(Value::as_bool) == Some(true) {
        info.reason = Some("Lora-Manager notes the model was deleted from CivitAI".into());
    }
    let anything = info.model_id.is_some() || info.model_name.is_some() || info.base.is_some();
    anything.then_some(info)
}

fn civitai_info(json: &Value, now: i64) -> Option<ModelInfo> {
    let skeleton = json.get("skeleton_file").and_then(Value::as_bool) == Some(true)
        || json
            .pointer("/extensions/sd_civitai_helper/skeleton_file")
            .and_then(Value::as_bool)
            == Some(true);
    match from_civitai_version(json, json.get("model"), InfoSource::CivitaiInfo, now) {
        Some(info) if !skeleton => Some(info),
        // `{}` (the original Civitai Helper) or the skeleton (its fork):
        // the tool asked CivitAI, which did not know the file.
        _ => {
            let mut info = ModelInfo::empty(InfoSource::CivitaiInfo, LookupStatus::NotFound, now);
            info.reason =
                Some("the .civitai.info sidecar says CivitAI does not know this file".into());
            Some(info)
        }
    }
}

fn stability_matrix(json: &Value, now: i64) -> Option<ModelInfo> {
    let o = json.as_object()?;
    let mut info = ModelInfo::empty(InfoSource::StabilityMatrix, LookupStatus::Found, now);
    info.model_id = u64_of(o.get("ModelId"));
    info.version_id = u64_of(o.get("VersionId"));
    info.model_name = str_of(o.get("ModelName")).or_else(|| str_of(o.get("UserTitle")));
    info.version_name = str_of(o.get("VersionName"));
    info.model_type = str_of(o.get("ModelType"));
    if let Some(b) = str_of(o.get("BaseModel")) {
        info.set_base_model(&b);
    }
    info.nsfw = o.get("Nsfw").and_then(Value::as_bool);
    info.tags = strings_of(o.get("Tags"));
    info.trained_words = strings_of(o.get("TrainedWords"));
    if let Some(stats) = o.get("Stats") {
        info.downloads = u64_of(stats.get("downloadCount"));
        info.thumbs_up = u64_of(stats.get("thumbsUpCount"));
        info.rating_count = u64_of(stats.get("ratingCount"));
        info.rating = f64_of(stats.get("rating")).filter(|_| info.rating_count != Some(0));
    }
    if let Some(d) = o.get("InferenceDefaults").filter(|d| d.is_object()) {
        let name = |v: Option<&Value>| str_of(v).or_else(|| str_of(v?.get("Name")));
        info.examples = Some(ExampleParams {
            count: 0,
            steps: u64_of(d.get("Steps")).map(|s| s as u32),
            cfg: f64_of(d.get("CfgScale")),
            sampler: name(d.get("Sampler")),
            scheduler: name(d.get("Scheduler")),
            clip_skip: None,
            width: u64_of(d.get("Width")).map(|w| w as u32),
            height: u64_of(d.get("Height")).map(|h| h as u32),
        });
    }
    (info.model_id.is_some() || info.model_name.is_some()).then_some(info)
}

/// A1111's `<stem>.json`. Any other JSON that happens to share the stem (a
/// diffusers config...) has none of its keys and is ignored.
fn a1111(json: &Value, now: i64) -> Option<ModelInfo> {
    let o = json.as_object()?;
    if !["activation text", "preferred weight", "sd version"]
        .iter()
        .any(|k| o.contains_key(*k))
    {
        return None;
    }
    let mut info = ModelInfo::empty(InfoSource::A1111, LookupStatus::Found, now);
    info.trained_words = str_of(o.get("activation text"))
        .map(|t| {
            t.split(',')
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    info.preferred_weight = f64_of(o.get("preferred weight")).filter(|w| *w != 0.0);
    if let Some(v) = str_of(o.get("sd version"))
        && let Some(b) = base_of(&v)
    {
        info.base_model = Some(v);
        info.base = Some(b.as_str().to_string());
    }
    let anything =
        !info.trained_words.is_empty() || info.preferred_weight.is_some() || info.base.is_some();
    anything.then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0d9bd1b873a7863e128b4672e3e245838858f71469a3cec58123c16c06f83bd7";

    /// A model file with copies of the shared sidecar samples beside it.
    fn model_with(sidecars: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("add-detail-xl.safetensors");
        std::fs::write(&model, b"x").unwrap();
        for (sample, suffix) in sidecars {
            let from = format!(
                "{}/tests/data/sidecars/{sample}",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::copy(&from, dir.path().join(format!("add-detail-xl{suffix}"))).unwrap();
        }
        (dir, model)
    }

    #[test]
    fn lora_manager_sidecar_with_a1111_extras() {
        let (_d, model) = model_with(&[
            ("lora-manager_add-detail-xl.metadata.json", ".metadata.json"),
            ("a1111-user-metadata_add-detail-xl.json", ".json"),
        ]);
        let found = find(&model);
        assert_eq!(
            found.iter().map(|f| f.source).collect::<Vec<_>>(),
            [InfoSource::LoraManager, InfoSource::A1111]
        );
        let r = read(&found, SHA, 5);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let i = r.info.unwrap();
        assert_eq!(i.source, InfoSource::LoraManager);
        assert_eq!((i.model_id, i.version_id), (Some(122359), Some(135867)));
        assert_eq!(i.base.as_deref(), Some("sdxl"));
        assert_eq!(i.tags.len(), 5);
        assert_eq!(i.preferred_weight, Some(1.0));
        assert!(i.sidecar.unwrap().ends_with(".metadata.json"));
        assert!(r.raw.unwrap().get("usage_tips").is_some());
    }

    #[test]
    fn civitai_info_and_its_not_found_skeleton() {
        let (_d, model) =
            model_with(&[("civitai-helper_add-detail-xl.civitai.info", ".civitai.info")]);
        let i = read(&find(&model), SHA, 5).info.unwrap();
        assert_eq!(
            (i.source, i.status),
            (InfoSource::CivitaiInfo, LookupStatus::Found)
        );
        assert_eq!(i.tags, ["detailed", "tool", "enhancer", "slider", "detail"]);
        assert_eq!(i.examples.unwrap().steps, Some(30));

        let (_d, model) = model_with(&[(
            "civitai-helper_not-on-civitai.skeleton.civitai.info",
            ".civitai.info",
        )]);
        let i = read(&find(&model), SHA, 5).info.unwrap();
        assert_eq!(i.status, LookupStatus::NotFound);
        assert!(i.reason.unwrap().contains("does not know"));
        // The original extension writes `{}`.
        std::fs::write(model.with_extension("civitai.info"), "{}").unwrap();
        assert_eq!(
            read(&find(&model), SHA, 5).info.unwrap().status,
            LookupStatus::NotFound
        );
    }

    #[test]
    fn stability_matrix_pascal_case() {
        let (_d, model) = model_with(&[(
            "stability-matrix_ponyDiffusionV6XL.cm-info.json",
            ".cm-info.json",
        )]);
        let sha = "67ab2fd8ec439a89b3fedb15cc65f54336af163c7eb5e4f2acc98f090a29b0b3";
        let r = read(&find(&model), sha, 5);
        let i = r.info.unwrap();
        assert_eq!(i.base.as_deref(), Some("pony"));
        assert_eq!((i.model_id, i.version_id), (Some(257749), Some(290640)));
        assert_eq!(i.model_type.as_deref(), Some("Checkpoint"));
        let d = i.examples.unwrap();
        assert_eq!(
            (d.count, d.steps, d.sampler.as_deref()),
            (0, Some(25), Some("euler_ancestral"))
        );
        // The same sidecar beside a file with another hash is stale.
        let r = read(&find(&model), SHA, 5);
        assert!(r.info.is_none());
        assert!(
            matches!(r.problems[0], SidecarError::OtherFile { .. }),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn broken_and_oversized_sidecars_are_problems_not_stops() {
        let (_d, model) = model_with(&[(
            "stability-matrix_add-detail-xl.cm-info.json",
            ".cm-info.json",
        )]);
        std::fs::write(model.with_extension("metadata.json"), "{ not json").unwrap();
        let big = std::fs::File::create(model.with_extension("civitai.info")).unwrap();
        big.set_len(MAX_SIDECAR_BYTES + 1).unwrap();
        let r = read(&find(&model), SHA, 5);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems[0].to_string().contains("not valid JSON"));
        assert!(r.problems[1].to_string().contains("bytes, more than"));
        assert_eq!(r.info.unwrap().source, InfoSource::StabilityMatrix);
        // An unrelated `<stem>.json` is ignored silently.
        std::fs::write(
            model.with_extension("json"),
            r#"{"_class_name": "UNet2DConditionModel"}"#,
        )
        .unwrap();
        let r = read(&find(&model), SHA, 5);
        assert_eq!(r.problems.len(), 2);
    }
}
