//! What is known about a model file beyond its header, in one plain type.
//!
//! Sidecar files written by other tools and CivitAI's own answers say much
//! the same things in different shapes; choosing and presets should not care
//! which. Everything is normalised here into [`ModelInfo`]: ids, names, the
//! base model mapped to our identifiers, trigger words, tags, popularity and
//! the parameters seen on the example images. The raw JSON is kept beside it
//! in the store, so a field not normalised today is not lost.
//!
//! Two rules live here as pure functions so they can be tested alone: which
//! of a sidecar and a CivitAI answer wins ([`merge_sidecar`],
//! [`merge_lookup`]), and how a metadata base model refines what the tensors
//! said ([`effective_base`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Base;

/// Where a [`ModelInfo`]'s fields came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoSource {
    /// CivitAI's API, asked by `gen index`.
    Civitai,
    /// ComfyUI-Lora-Manager's `<stem>.metadata.json`.
    LoraManager,
    /// `<stem>.civitai.info` (A1111 Civitai Helper, Stability Matrix).
    CivitaiInfo,
    /// Stability Matrix's `<stem>.cm-info.json`.
    StabilityMatrix,
    /// A1111's user metadata `<stem>.json`.
    A1111,
}

impl InfoSource {
    pub fn as_str(self) -> &'static str {
        match self {
            InfoSource::Civitai => "civitai",
            InfoSource::LoraManager => "lora_manager",
            InfoSource::CivitaiInfo => "civitai_info",
            InfoSource::StabilityMatrix => "stability_matrix",
            InfoSource::A1111 => "a1111",
        }
    }

    pub fn parse(s: &str) -> Option<InfoSource> {
        [
            InfoSource::Civitai,
            InfoSource::LoraManager,
            InfoSource::CivitaiInfo,
            InfoSource::StabilityMatrix,
            InfoSource::A1111,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// How `gen models show` names it.
    pub fn describe(self) -> &'static str {
        match self {
            InfoSource::Civitai => "CivitAI",
            InfoSource::LoraManager => "Lora-Manager sidecar (.metadata.json)",
            InfoSource::CivitaiInfo => "sidecar .civitai.info",
            InfoSource::StabilityMatrix => "Stability Matrix sidecar (.cm-info.json)",
            InfoSource::A1111 => "A1111 user metadata (.json)",
        }
    }
}

/// How a lookup ended. Every lookup ends in one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupStatus {
    Found,
    /// CivitAI does not know the file (or a sidecar says so).
    NotFound,
    /// No usable answer: network, server error, malformed JSON... (with the reason).
    Failed,
}

impl LookupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LookupStatus::Found => "found",
            LookupStatus::NotFound => "not_found",
            LookupStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<LookupStatus> {
        match s {
            "found" => Some(LookupStatus::Found),
            "not_found" => Some(LookupStatus::NotFound),
            "failed" => Some(LookupStatus::Failed),
            _ => None,
        }
    }
}

/// The last time CivitAI was asked about a file, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub status: LookupStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// Generation parameters seen on a model's example images (or, with
/// `count` 0, the defaults a tool's sidecar recommends).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExampleParams {
    /// Images whose parameters were read.
    pub count: u32,
    pub steps: Option<u32>,
    pub cfg: Option<f64>,
    /// Most common, verbatim ("DPM++ 2M Karras", "Euler a", "euler").
    pub sampler: Option<String>,
    /// Most common `scheduler` / "Schedule type", verbatim ("karras").
    #[serde(default)]
    pub scheduler: Option<String>,
    pub clip_skip: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Everything known about one file (by SHA-256) beyond its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub source: InfoSource,
    pub status: LookupStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix seconds when this information was obtained (fetched or imported).
    pub fetched_at: i64,
    /// The sidecar file read, for sidecar sources.
    #[serde(default)]
    pub sidecar: Option<String>,
    /// Its modification time (unix seconds).
    #[serde(default)]
    pub sidecar_mtime: Option<i64>,
    pub model_id: Option<u64>,
    pub version_id: Option<u64>,
    pub model_name: Option<String>,
    pub version_name: Option<String>,
    /// CivitAI's type: "Checkpoint", "LORA", "LoCon", "TextualInversion", ...
    pub model_type: Option<String>,
    /// The base model as the source wrote it ("SDXL 1.0").
    pub base_model: Option<String>,
    /// `base_model` mapped to our identifiers ("sdxl"), or verbatim when we
    /// have none for it ("Flux.1 Kontext").
    pub base: Option<String>,
    #[serde(default)]
    pub trained_words: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub nsfw: Option<bool>,
    pub downloads: Option<u64>,
    pub rating: Option<f64>,
    pub rating_count: Option<u64>,
    pub thumbs_up: Option<u64>,
    /// A LoRA weight the user or the author recommends.
    #[serde(default)]
    pub preferred_weight: Option<f64>,
    #[serde(default)]
    pub examples: Option<ExampleParams>,
    /// The last CivitAI lookup, whatever the source of the fields above.
    #[serde(default)]
    pub lookup: Option<Lookup>,
}

impl ModelInfo {
    /// An empty record with only its origin and status.
    pub fn empty(source: InfoSource, status: LookupStatus, fetched_at: i64) -> ModelInfo {
        ModelInfo {
            source,
            status,
            reason: None,
            fetched_at,
            sidecar: None,
            sidecar_mtime: None,
            model_id: None,
            version_id: None,
            model_name: None,
            version_name: None,
            model_type: None,
            base_model: None,
            base: None,
            trained_words: Vec::new(),
            tags: Vec::new(),
            nsfw: None,
            downloads: None,
            rating: None,
            rating_count: None,
            thumbs_up: None,
            preferred_weight: None,
            examples: None,
            lookup: None,
        }
    }

    /// The result of a CivitAI lookup that found nothing usable.
    pub fn civitai_miss(status: LookupStatus, reason: String, at: i64) -> ModelInfo {
        let mut info = ModelInfo::empty(InfoSource::Civitai, status, at);
        info.reason = Some(reason.clone());
        info.lookup = Some(Lookup {
            status,
            reason: Some(reason),
            at,
        });
        info
    }

    /// The base model as one of our identifiers, when it maps to one.
    pub fn base_id(&self) -> Option<Base> {
        let b = self.base.as_deref()?;
        b.parse::<Base>().ok().filter(|b| *b != Base::Unknown)
    }

    /// Sets `base_model` and its mapping.
    pub fn set_base_model(&mut self, raw: &str) {
        let raw = raw.trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case("unknown") {
            return;
        }
        self.base_model = Some(raw.to_string());
        self.base = Some(map_base_model(raw));
    }
}

/// Maps a CivitAI `baseModel` value (see shared/samples/civitai/
/// base-model-values.json) to our base identifier, or keeps it verbatim
/// when we have no identifier for it.
pub fn map_base_model(raw: &str) -> String {
    base_of(raw)
        .map(|b| b.as_str().to_string())
        .unwrap_or_else(|| raw.trim().to_string())
}

/// Our identifier for a CivitAI `baseModel`, A1111 "sd version" or similar
/// value, when there is one.
pub fn base_of(raw: &str) -> Option<Base> {
    let s = raw.trim().to_ascii_lowercase();
    let b = match s.as_str() {
        "pony" => Base::Pony,
        "illustrious" => Base::Illustrious,
        "flux.1 d" => Base::FluxDev,
        "flux.1 s" => Base::FluxSchnell,
        "flux.1 krea" => Base::FluxKrea,
        "hidream" => Base::HiDream,
        "sdxl" | "sdxl 1.0" | "sdxl 0.9" | "sdxl lightning" | "sdxl hyper" | "sdxl turbo" => {
            Base::Sdxl
        }
        "sd1" | "sd 1.4" | "sd 1.5" | "sd 1.5 lcm" | "sd 1.5 hyper" => Base::Sd15,
        "sd2" | "sd 2.0" | "sd 2.0 768" | "sd 2.1" | "sd 2.1 768" | "sd 2.1 unclip" => Base::Sd21,
        "sd 3" | "sd 3.5" | "sd 3.5 medium" | "sd 3.5 large" | "sd 3.5 large turbo" => Base::Sd3,
        // Wan 2.1 was published as plain "Wan Video" and its size variants.
        "wan video"
        | "wan video 1.3b t2v"
        | "wan video 14b t2v"
        | "wan video 14b i2v 480p"
        | "wan video 14b i2v 720p" => Base::Wan21,
        _ if s.starts_with("wan video 2.1") => Base::Wan21,
        _ if s.starts_with("wan video 2.2") => Base::Wan22,
        _ => return None,
    };
    Some(b)
}

/// The base model to use for a file: the tensors decide the family; a
/// CivitAI or sidecar base decides the fine-tune (pony, illustrious,
/// flux_krea) the tensors cannot tell apart. Metadata never overrides the
/// tensors' family.
pub fn effective_base(probe_base: Base, info: Option<&ModelInfo>) -> Base {
    explain_base(probe_base, info).0
}

/// [`effective_base`] with a sentence saying why, when metadata had a say.
pub fn explain_base(probe_base: Base, info: Option<&ModelInfo>) -> (Base, Option<String>) {
    let Some(info) = info.filter(|i| i.status == LookupStatus::Found) else {
        return (probe_base, None);
    };
    let Some(meta) = info.base_id() else {
        return (probe_base, None);
    };
    let from = info.source.describe();
    let said = info.base_model.as_deref().unwrap_or(meta.as_str());
    if probe_base == Base::Unknown {
        return (
            meta,
            Some(format!(
                "base {meta} from {from} (\"{said}\"); the header could not tell"
            )),
        );
    }
    if meta == probe_base {
        return (probe_base, None);
    }
    if meta.family() == probe_base.family() {
        // The more specific of the two: a fine-tune beats its family root.
        let is_root = |b: Base| b.family() == b;
        if is_root(meta) && !is_root(probe_base) {
            return (probe_base, None);
        }
        return (
            meta,
            Some(format!(
                "base {meta} from {from} (\"{said}\"), a {probe_base} fine-tune the tensors cannot tell apart"
            )),
        );
    }
    (
        probe_base,
        Some(format!(
            "{from} says \"{said}\" ({meta}), but the tensors are {probe_base}; kept {probe_base}"
        )),
    )
}

/// Whether a sidecar's information should replace what is stored: a CivitAI
/// answer wins unless the sidecar was modified after it was fetched; a
/// sidecar replaces an older reading of itself (or of another sidecar), and
/// a found sidecar beats a CivitAI miss. `None` means keep what is stored.
pub fn merge_sidecar(existing: Option<&ModelInfo>, mut sidecar: ModelInfo) -> Option<ModelInfo> {
    let Some(old) = existing else {
        return Some(sidecar);
    };
    let mtime = sidecar.sidecar_mtime.unwrap_or(sidecar.fetched_at);
    let keep_old = match old.source {
        InfoSource::Civitai => old.status == LookupStatus::Found && mtime <= old.fetched_at,
        _ => {
            old.sidecar == sidecar.sidecar
                && old.sidecar_mtime == sidecar.sidecar_mtime
                && old.status == sidecar.status
        }
    };
    // A sidecar's own "not found" does not hide anything better we know.
    let downgrade =
        sidecar.status != LookupStatus::Found && old.status == LookupStatus::Found && !keep_old;
    if keep_old || downgrade {
        return None;
    }
    sidecar.lookup = old.lookup.clone();
    Some(sidecar)
}

/// What to store after a CivitAI lookup: a found answer replaces everything;
/// a miss (not found, failed) only records the lookup when something found
/// is already known (from a sidecar or an earlier answer).
pub fn merge_lookup(existing: Option<&ModelInfo>, fresh: ModelInfo) -> ModelInfo {
    match existing {
        Some(old) if fresh.status != LookupStatus::Found && old.status == LookupStatus::Found => {
            let mut kept = old.clone();
            kept.lookup = fresh.lookup;
            kept
        }
        _ => fresh,
    }
}

// ---- normalising CivitAI-shaped JSON ----

/// A non-empty string field.
pub(crate) fn str_of(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A count or id given as a number or a numeric string.
pub(crate) fn u64_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn f64_of(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A list of strings, or of `{"name": ...}` objects (both shapes occur).
pub(crate) fn strings_of(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let s = match item {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Object(o) => str_of(o.get("name")),
            _ => None,
        };
        if let Some(s) = s.filter(|s| !s.is_empty())
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    out
}

/// Normalises a by-hash answer (a model version, as CivitAI and the
/// `.civitai.info` sidecars write it) and, when there is one, the
/// `/api/v1/models/{id}` answer. `None` when `version` is not a version.
pub fn from_civitai_version(
    version: &Value,
    model: Option<&Value>,
    source: InfoSource,
    fetched_at: i64,
) -> Option<ModelInfo> {
    let v = version.as_object()?;
    let version_id = u64_of(v.get("id"));
    let model_id = u64_of(v.get("modelId")).or_else(|| model.and_then(|m| u64_of(m.get("id"))));
    if version_id.is_none() && model_id.is_none() {
        return None;
    }
    let mut info = ModelInfo::empty(source, LookupStatus::Found, fetched_at);
    info.version_id = version_id;
    info.model_id = model_id;
    info.version_name = str_of(v.get("name"));
    let vm = v.get("model");
    info.model_name = str_of(vm.and_then(|m| m.get("name")))
        .or_else(|| model.and_then(|m| str_of(m.get("name"))));
    info.model_type = str_of(vm.and_then(|m| m.get("type")))
        .or_else(|| model.and_then(|m| str_of(m.get("type"))));
    info.nsfw = vm
        .and_then(|m| m.get("nsfw"))
        .and_then(Value::as_bool)
        .or_else(|| model.and_then(|m| m.get("nsfw")).and_then(Value::as_bool));
    if let Some(b) = str_of(v.get("baseModel")) {
        info.set_base_model(&b);
    }
    info.trained_words = strings_of(v.get("trainedWords"));
    // Tags: the model answer; sidecars copy them into `model.tags`.
    info.tags = model
        .map(|m| strings_of(m.get("tags")))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| strings_of(vm.and_then(|m| m.get("tags"))));
    let vstats = v.get("stats");
    let mstats = model.and_then(|m| m.get("stats"));
    let stat = |key: &str| {
        vstats
            .and_then(|s| s.get(key))
            .or_else(|| mstats.and_then(|s| s.get(key)))
    };
    info.downloads = u64_of(stat("downloadCount"));
    info.thumbs_up = u64_of(stat("thumbsUpCount"));
    info.rating_count = u64_of(stat("ratingCount"));
    // Old answers carry a 0 rating when nobody rated.
    info.rating = f64_of(stat("rating")).filter(|_| info.rating_count != Some(0));
    if let Some(Value::Array(images)) = v.get("images") {
        info.examples = example_params(images);
    }
    Some(info)
}

/// The parameters seen on example images: median steps and CFG, the most
/// common sampler, clip skip and size.
pub fn example_params(images: &[Value]) -> Option<ExampleParams> {
    let mut steps = Vec::new();
    let mut cfgs = Vec::new();
    let mut samplers: Vec<String> = Vec::new();
    let mut schedulers: Vec<String> = Vec::new();
    let mut clip_skips = Vec::new();
    let mut sizes = Vec::new();
    let mut count = 0u32;
    for img in images {
        let Some(meta) = img.get("meta").filter(|m| m.is_object()) else {
            continue;
        };
        count += 1;
        if let Some(s) = u64_of(meta.get("steps")).filter(|s| (1..=1000).contains(s)) {
            steps.push(s as f64);
        }
        if let Some(c) = f64_of(meta.get("cfgScale")).filter(|c| (0.0..=100.0).contains(c)) {
            cfgs.push(c);
        }
        if let Some(s) = str_of(meta.get("sampler")) {
            samplers.push(s);
        }
        if let Some(s) = str_of(meta.get("scheduler").or_else(|| meta.get("Schedule type"))) {
            schedulers.push(s);
        }
        if let Some(c) = u64_of(meta.get("Clip skip").or_else(|| meta.get("clipSkip"))) {
            clip_skips.push(c as u32);
        }
        let size = str_of(meta.get("Size"))
            .and_then(|s| {
                let (w, h) = s.split_once(['x', 'X'])?;
                Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?))
            })
            .or_else(|| {
                Some((
                    u64_of(img.get("width"))? as u32,
                    u64_of(img.get("height"))? as u32,
                ))
            });
        if let Some(s) = size.filter(|(w, h)| *w > 0 && *h > 0) {
            sizes.push(s);
        }
    }
    if count == 0 {
        return None;
    }
    Some(ExampleParams {
        count,
        steps: median(&mut steps).map(|s| s.round() as u32),
        cfg: median(&mut cfgs),
        sampler: most_common(samplers),
        scheduler: most_common(schedulers),
        clip_skip: most_common(clip_skips),
        width: None,
        height: None,
    })
    .map(|mut p| {
        if let Some((w, h)) = most_common(sizes) {
            p.width = Some(w);
            p.height = Some(h);
        }
        p
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The most frequent value; ties go to the one seen first.
fn most_common<T: Eq + std::hash::Hash + Clone>(values: Vec<T>) -> Option<T> {
    let mut counts: HashMap<T, (usize, usize)> = HashMap::new();
    for (i, v) in values.into_iter().enumerate() {
        counts.entry(v).or_insert((0, i)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(v, _)| v)
}

/// Where time comes from, so tests can move it (a 24 h cache without
/// waiting 24 h).
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copies of shared/samples (see its README for provenance).
    pub(crate) fn sample(rel: &str) -> Value {
        let path = format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn base_models_map_to_our_ids_or_stay_verbatim() {
        for (raw, want) in [
            ("SD 1.5", "sd_1_5"),
            ("SD 1.4", "sd_1_5"),
            ("SD 2.1", "sd_2_1"),
            ("SDXL 1.0", "sdxl"),
            ("SDXL Lightning", "sdxl"),
            ("Pony", "pony"),
            ("Illustrious", "illustrious"),
            ("Flux.1 D", "flux_dev"),
            ("Flux.1 S", "flux_schnell"),
            ("Flux.1 Krea", "flux_krea"),
            ("SD 3.5 Large", "sd3"),
            ("Wan Video", "wan_2_1"),
            ("Wan Video 14B i2v 720p", "wan_2_1"),
            ("Wan Video 2.2 TI2V-5B", "wan_2_2"),
            ("Wan Video 2.2 I2V-A14B", "wan_2_2"),
            ("HiDream", "hidream"),
            ("Flux.1 Kontext", "Flux.1 Kontext"),
            ("Pony V7", "Pony V7"),
            ("NoobAI", "NoobAI"),
            ("Wan Video 2.5 T2V", "Wan Video 2.5 T2V"),
            ("Other", "Other"),
        ] {
            assert_eq!(map_base_model(raw), want, "{raw}");
        }
        // Every value CivitAI lists maps without panicking, and the mapped
        // ones parse back as a Base.
        let values = sample("civitai/base-model-values.json");
        for v in values["baseModel_values"].as_array().unwrap() {
            let raw = v.as_str().unwrap();
            let mapped = map_base_model(raw);
            assert!(mapped == raw || mapped.parse::<Base>().is_ok(), "{raw}");
        }
    }

    #[test]
    fn effective_base_refines_within_the_family_only() {
        let mut info = ModelInfo::empty(InfoSource::Civitai, LookupStatus::Found, 0);
        info.set_base_model("Pony");
        assert_eq!(effective_base(Base::Sdxl, Some(&info)), Base::Pony);
        assert_eq!(effective_base(Base::Unknown, Some(&info)), Base::Pony);
        let (b, why) = explain_base(Base::Sd15, Some(&info));
        assert_eq!(b, Base::Sd15);
        assert!(why.unwrap().contains("kept sd_1_5"));
        info.set_base_model("Illustrious");
        assert_eq!(effective_base(Base::Sdxl, Some(&info)), Base::Illustrious);
        info.set_base_model("Flux.1 Krea");
        assert_eq!(effective_base(Base::FluxDev, Some(&info)), Base::FluxKrea);
        assert_eq!(
            effective_base(Base::FluxSchnell, Some(&info)),
            Base::FluxSchnell
        );
        // A family root from metadata does not undo a fine-tune the header named.
        info.set_base_model("SDXL 1.0");
        assert_eq!(effective_base(Base::Pony, Some(&info)), Base::Pony);
        // Verbatim bases and misses change nothing.
        info.set_base_model("Flux.1 Kontext");
        assert_eq!(effective_base(Base::FluxDev, Some(&info)), Base::FluxDev);
        let miss = ModelInfo::civitai_miss(LookupStatus::NotFound, "404".into(), 0);
        assert_eq!(effective_base(Base::Sdxl, Some(&miss)), Base::Sdxl);
        assert_eq!(effective_base(Base::Sdxl, None), Base::Sdxl);
    }

    #[test]
    fn a_by_hash_answer_normalises() {
        let v = sample("civitai/by-hash_sdxl-lora_detail-tweaker-xl.json");
        let m = sample("civitai/models_122359_detail-tweaker-xl.json");
        let i = from_civitai_version(&v, Some(&m), InfoSource::Civitai, 7).unwrap();
        assert_eq!((i.model_id, i.version_id), (Some(122359), Some(135867)));
        assert_eq!(i.model_name.as_deref(), Some("Detail Tweaker XL"));
        assert_eq!(i.version_name.as_deref(), Some("v1.0"));
        assert_eq!(i.model_type.as_deref(), Some("LORA"));
        assert_eq!(i.base.as_deref(), Some("sdxl"));
        assert_eq!(i.tags, ["detailed", "tool", "enhancer", "slider", "detail"]);
        assert_eq!((i.downloads, i.thumbs_up), (Some(448464), Some(31877)));
        assert_eq!(i.nsfw, Some(false));
        let ex = i.examples.unwrap();
        assert_eq!(ex.count, 1);
        assert_eq!((ex.steps, ex.cfg), (Some(30), Some(7.0)));
        assert_eq!(ex.sampler.as_deref(), Some("DPM++ 2M Karras"));
        assert_eq!((ex.width, ex.height), (Some(832), Some(1216)));

        // The real answer: old-style stats with a 0 rating from 0 votes.
        let real = sample("civitai/by-hash_flux-lora_real-2024-11.json");
        let i = from_civitai_version(&real, None, InfoSource::Civitai, 7).unwrap();
        assert_eq!(i.base.as_deref(), Some("flux_dev"));
        assert_eq!(i.trained_words, ["aesthetic_pos3", "dynamic_pos3"]);
        assert_eq!(i.rating, None);
        assert_eq!(i.examples.unwrap().sampler.as_deref(), Some("Euler"));
        let pony = sample("civitai/by-hash_pony-checkpoint_pony-v6.json");
        let i = from_civitai_version(&pony, None, InfoSource::Civitai, 7).unwrap();
        assert_eq!(i.examples.unwrap().clip_skip, Some(2));
        assert!(
            from_civitai_version(
                &serde_json::json!({"error": "x"}),
                None,
                InfoSource::Civitai,
                0
            )
            .is_none()
        );
    }

    #[test]
    fn example_params_take_medians_and_modes() {
        let img = |steps: u64, cfg: f64, sampler: &str, size: &str| serde_json::json!({"width": 1, "height": 1, "meta": {"steps": steps, "cfgScale": cfg, "sampler": sampler, "Size": size, "Clip skip": "2"}});
        let images = vec![
            img(20, 5.0, "Euler a", "512x768"),
            img(30, 7.0, "DPM++ 2M Karras", "512x768"),
            img(40, 6.0, "DPM++ 2M Karras", "1024x1024"),
            img(35, 9.0, "Euler a", "512x768"),
            serde_json::json!({"url": "no meta"}),
        ];
        let p = example_params(&images).unwrap();
        assert_eq!(p.count, 4);
        assert_eq!(p.steps, Some(33)); // median of 20,30,35,40 = 32.5
        assert_eq!(p.cfg, Some(6.5));
        assert_eq!(p.sampler.as_deref(), Some("Euler a")); // tie: first seen
        assert_eq!(
            (p.width, p.height, p.clip_skip),
            (Some(512), Some(768), Some(2))
        );
        assert!(example_params(&[serde_json::json!({})]).is_none());
    }

    fn sidecar_info(mtime: i64, name: &str) -> ModelInfo {
        let mut s = ModelInfo::empty(InfoSource::LoraManager, LookupStatus::Found, 1000);
        s.sidecar = Some("/m/a.metadata.json".into());
        s.sidecar_mtime = Some(mtime);
        s.model_name = Some(name.into());
        s
    }

    #[test]
    fn civitai_beats_an_older_sidecar_and_a_newer_sidecar_beats_civitai() {
        let mut civ = ModelInfo::empty(InfoSource::Civitai, LookupStatus::Found, 500);
        civ.model_name = Some("from civitai".into());
        civ.lookup = Some(Lookup {
            status: LookupStatus::Found,
            reason: None,
            at: 500,
        });
        assert!(merge_sidecar(Some(&civ), sidecar_info(400, "old")).is_none());
        assert!(merge_sidecar(Some(&civ), sidecar_info(500, "same second")).is_none());
        let newer = merge_sidecar(Some(&civ), sidecar_info(501, "newer")).unwrap();
        assert_eq!(newer.model_name.as_deref(), Some("newer"));
        assert_eq!(newer.lookup, civ.lookup, "the lookup record is kept");
        // An unchanged sidecar is not re-imported; a changed one is.
        assert!(merge_sidecar(Some(&newer), sidecar_info(501, "newer")).is_none());
        assert!(merge_sidecar(Some(&newer), sidecar_info(502, "edited")).is_some());
        // A found CivitAI answer replaces a sidecar...
        let fresh = merge_lookup(Some(&newer), civ.clone());
        assert_eq!(fresh.model_name.as_deref(), Some("from civitai"));
        // ...a miss keeps what the sidecar said and records the lookup.
        let miss = ModelInfo::civitai_miss(LookupStatus::Failed, "HTTP 500".into(), 600);
        let kept = merge_lookup(Some(&newer), miss.clone());
        assert_eq!(kept.model_name.as_deref(), Some("newer"));
        assert_eq!(kept.lookup.unwrap().status, LookupStatus::Failed);
        assert_eq!(merge_lookup(None, miss.clone()), miss);
        // A sidecar that found something beats a CivitAI miss.
        let nf = ModelInfo::civitai_miss(LookupStatus::NotFound, "404".into(), 600);
        assert!(merge_sidecar(Some(&nf), sidecar_info(1, "x")).is_some());
    }
}
