//! The plan: every choice of a generation with its score and reasons, and
//! every parameter with the layer it came from (DESIGN §4). It is built from
//! plain data only (catalogue entries, what is known of them, the preset
//! table, the analysis), so the same inputs, seed included, give the same
//! plan; the command layer looks things up and draws the seed.
//!
//! `--model`, `--lora` and `--vae` arrive already resolved to catalogue
//! entries; they override the choices and are checked for compatibility
//! (a clear usage error, never a silent fix).

use std::collections::HashMap;

use serde::Serialize;

use super::analysis::Analysis;
use super::score::{
    Candidate, ChosenLora, Facts, MAX_AUTO_LORAS, Scored, choose_loras, compatible,
    rank_checkpoints, with_trigger_words,
};
use crate::catalog::{Base, CatalogEntry, Kind};
use crate::error::GenError;
use crate::presets::required::{NeedRole, check_required_files};
use crate::presets::resolve::{ArchDefaults, Overrides, Parameter, resolve};
use crate::presets::{Level, Preset, PresetTable};
use crate::system::memory::MemoryPlan;

/// Version of the plan's JSON schema (README documents it).
pub const PLAN_SCHEMA: u32 = 1;

/// Families this version renders.
pub fn renderable(base: Base) -> bool {
    matches!(base.family(), Base::Sd15 | Base::Sd21 | Base::Sdxl)
}

/// What is known of a file beyond its header, by SHA-256.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// The effective base when metadata decides it (pony, illustrious,
    /// flux_krea ...; see `catalog::metadata::effective_base`).
    pub base: Option<Base>,
    pub facts: Facts,
}

/// The catalogue as choosing sees it.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<CatalogEntry>,
    pub known: HashMap<String, Known>,
}

impl Catalogue {
    pub fn candidate(&self, e: &CatalogEntry) -> Candidate {
        let known = e.sha256.as_ref().and_then(|s| self.known.get(s));
        let base = known.and_then(|k| k.base).unwrap_or(e.base);
        Candidate {
            entry: e.clone(),
            base,
            facts: known.map(|k| k.facts.clone()).unwrap_or_default(),
        }
    }

    fn of_kind(&self, kinds: &[Kind]) -> Vec<Candidate> {
        self.entries
            .iter()
            .filter(|e| e.active && e.error.is_none() && kinds.contains(&e.kind))
            .map(|e| self.candidate(e))
            .collect()
    }
}

/// How the seed was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedSource {
    CommandLine,
    Drawn,
}

/// What the user asked for, with named resources already resolved.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: String,
    pub negative: Option<String>,
    pub level: Level,
    pub seed: u64,
    pub seed_source: SeedSource,
    pub num_images: u32,
    pub overrides: Overrides,
    pub model: Option<CatalogEntry>,
    pub loras: Vec<(CatalogEntry, Option<f64>)>,
    pub no_auto_lora: bool,
    pub vae: Option<CatalogEntry>,
    /// `--refiner`: the preset's choice, none, or a given file.
    pub refiner: RefinerChoice,
}

/// What `--refiner` asked for.
#[derive(Debug, Clone, Default)]
pub enum RefinerChoice {
    /// What the preset says (the ultra SDXL preset uses a refiner when
    /// one is in the catalogue).
    #[default]
    Preset,
    /// `--refiner none`: the base model alone.
    Off,
    /// `--refiner NAME|HASH|PATH`: this refiner, on any SDXL preset; it
    /// takes over at the preset's switch point, or at 80% of the steps.
    Use(Box<CatalogEntry>),
}

/// Where the refiner takes over when the preset has no refiner of its own
/// (A1111's and the SDXL report's 0.8).
pub const DEFAULT_REFINER_SWITCH: f64 = 0.8;

/// A file the plan uses, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsedFile {
    pub role: String,
    pub id: i64,
    pub name: String,
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotUsable {
    #[serde(flatten)]
    pub scored: Scored,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedLora {
    #[serde(flatten)]
    pub lora: ChosenLora,
    /// "command_line" or "auto".
    pub chosen_by: &'static str,
}

/// The whole plan; `--dry-run --json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub schema: u32,
    pub prompt: String,
    pub final_prompt: String,
    pub negative_prompt: String,
    pub analysis: Analysis,
    pub level: Level,
    pub seed: u64,
    pub seed_source: SeedSource,
    pub num_images: u32,
    pub checkpoint: Scored,
    pub checkpoint_chosen_by: &'static str,
    pub runners_up: Vec<Scored>,
    pub not_usable: Vec<NotUsable>,
    pub loras: Vec<PlannedLora>,
    pub vae: Option<UsedFile>,
    pub embeddings: Vec<UsedFile>,
    pub required_files: Vec<UsedFile>,
    pub parameters: Vec<Parameter>,
    pub preset: Preset,
    /// The memory plan for the chosen files on the chosen device (filled by
    /// the caller, which knows the machine).
    pub memory: Option<MemoryPlan>,
    pub warnings: Vec<String>,
    /// img2img: the picture sampling starts from (`--init-image`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
}

/// Builds the plan. `rows` gives a model's stored preset for a level;
/// `usable` says whether this machine and engine can run a checkpoint.
pub fn build(
    req: &Request,
    analysis: Analysis,
    cat: &Catalogue,
    table: &PresetTable,
    rows: &dyn Fn(&CatalogEntry, Level) -> Option<Preset>,
    usable: &dyn Fn(&Candidate) -> Result<(), String>,
) -> Result<Plan, GenError> {
    let mut warnings = Vec::new();
    let (checkpoint, chosen_by, runners_up, not_usable) =
        choose_checkpoint(req, &analysis, cat, usable)?;
    let ckpt = cat.candidate(&checkpoint_entry(cat, req, checkpoint.id));

    let mut loras = Vec::new();
    for (entry, weight) in &req.loras {
        let l = cat.candidate(entry);
        if l.entry.kind != Kind::Lora {
            return Err(GenError::usage(format!(
                "--lora {}: it is a {}, not a LoRA",
                l.entry.name, l.entry.kind
            )));
        }
        compatible(l.base, ckpt.base).map_err(|why| {
            GenError::usage(format!(
                "--lora {} cannot be used with {}: {why}",
                l.entry.name, ckpt.entry.name
            ))
        })?;
        let weight = weight
            .or(l.facts.preferred_weight)
            .unwrap_or(super::score::DEFAULT_LORA_WEIGHT);
        let scored = Scored {
            id: l.entry.id,
            name: l.entry.name.clone(),
            path: l.entry.path.clone(),
            base: l.base,
            score: 0.0,
            reasons: vec!["asked for with --lora".into()],
        };
        loras.push(PlannedLora {
            lora: ChosenLora {
                scored,
                weight,
                trigger_words: l.facts.trained_words.clone(),
            },
            chosen_by: "command_line",
        });
    }
    if !req.no_auto_lora && loras.len() < MAX_AUTO_LORAS {
        let pool: Vec<Candidate> = cat
            .of_kind(&[Kind::Lora])
            .into_iter()
            .filter(|c| !loras.iter().any(|l| l.lora.scored.id == c.entry.id))
            .collect();
        for lora in choose_loras(ckpt.base, &pool, &analysis, MAX_AUTO_LORAS - loras.len()) {
            loras.push(PlannedLora {
                lora,
                chosen_by: "auto",
            });
        }
    }
    let chosen: Vec<ChosenLora> = loras.iter().map(|l| l.lora.clone()).collect();
    let final_prompt = with_trigger_words(&req.prompt, &chosen);

    let base_preset = table.get(ckpt.base, req.level);
    let row = rows(&ckpt.entry, req.level);
    let resolved = resolve(
        &req.overrides,
        row.as_ref(),
        base_preset,
        &ArchDefaults::default(),
    )
    .map_err(GenError::from)?;
    let mut preset = resolved.preset.clone();
    let given_refiner = refiner_choice(req, &ckpt, &mut preset)?;
    let mut required = required_files(&mut preset, &ckpt.entry, cat, &mut warnings)?;
    if let Some((entry, refiner)) = given_refiner {
        preset.model_specific_params.refiner = Some(refiner);
        required.push(UsedFile {
            role: "refiner".into(),
            id: entry.id,
            name: entry.name.clone(),
            path: entry.path.clone(),
            reason: "asked for with --refiner".into(),
        });
    }

    let vae = choose_vae(req, &ckpt, cat)?;
    let (mut embeddings, negative_prompt) = negative_embeddings(req, &ckpt, cat);
    for e in prompt_embeddings(&final_prompt, &negative_prompt, &ckpt, cat, &mut warnings) {
        if !embeddings.iter().any(|u| u.id == e.id) {
            embeddings.push(e);
        }
    }
    let mut parameters = resolved.parameters();
    if preset.model_specific_params.refiner.is_none() {
        parameters.retain(|p| !p.name.starts_with("refiner"));
    }
    Ok(Plan {
        schema: PLAN_SCHEMA,
        prompt: req.prompt.clone(),
        final_prompt,
        negative_prompt,
        analysis,
        level: req.level,
        seed: req.seed,
        seed_source: req.seed_source,
        num_images: req.num_images,
        checkpoint,
        checkpoint_chosen_by: chosen_by,
        runners_up,
        not_usable,
        loras,
        vae,
        embeddings,
        required_files: required,
        parameters,
        preset,
        memory: None,
        warnings,
        init_image: None,
    })
}

/// Applies `--refiner` to the preset. A given refiner is taken out of the
/// preset (so the catalogue search for the preset's pattern is skipped)
/// and returned with the stage split, for the caller to put back.
fn refiner_choice(
    req: &Request,
    ckpt: &Candidate,
    preset: &mut Preset,
) -> Result<Option<(CatalogEntry, crate::presets::Refiner)>, GenError> {
    match &req.refiner {
        RefinerChoice::Preset => Ok(None),
        RefinerChoice::Off => {
            preset.model_specific_params.refiner = None;
            Ok(None)
        }
        RefinerChoice::Use(entry) => {
            if entry.kind != Kind::Checkpoint || entry.base != Base::SdxlRefiner {
                return Err(GenError::usage(format!(
                    "--refiner {}: it is a {} ({}), not an SDXL refiner checkpoint",
                    entry.name, entry.kind, entry.base
                )));
            }
            if crate::system::memory::Family::of(ckpt.base)
                != Some(crate::system::memory::Family::Sdxl)
            {
                return Err(GenError::usage(format!(
                    "--refiner works with SDXL checkpoints; {} is {}",
                    ckpt.entry.name, ckpt.base
                )));
            }
            let mut refiner =
                preset
                    .model_specific_params
                    .refiner
                    .take()
                    .unwrap_or(crate::presets::Refiner {
                        switch_at: DEFAULT_REFINER_SWITCH,
                        base_steps: 0,
                        refiner_steps: 0,
                        model: String::new(),
                    });
            refiner.model = entry.name.clone();
            refiner.split(preset.steps);
            Ok(Some(((**entry).clone(), refiner)))
        }
    }
}

fn checkpoint_entry(cat: &Catalogue, req: &Request, id: i64) -> CatalogEntry {
    match &req.model {
        Some(m) if m.id == id => m.clone(),
        _ => cat
            .entries
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .expect("the chosen checkpoint comes from the catalogue"),
    }
}

type Choice = (Scored, &'static str, Vec<Scored>, Vec<NotUsable>);

fn choose_checkpoint(
    req: &Request,
    analysis: &Analysis,
    cat: &Catalogue,
    usable: &dyn Fn(&Candidate) -> Result<(), String>,
) -> Result<Choice, GenError> {
    let check = |c: &Candidate| -> Result<(), String> {
        if c.base == Base::Unknown {
            return Err("its base model is unknown".into());
        }
        if !renderable(c.base) {
            return Err(format!(
                "{} models cannot be rendered by this version of gen",
                c.base
            ));
        }
        usable(c)
    };
    let level = req.level.as_str();
    if let Some(m) = &req.model {
        if !matches!(m.kind, Kind::Checkpoint | Kind::DiffusionModel) {
            return Err(GenError::usage(format!(
                "--model {}: it is a {}, not a checkpoint",
                m.name, m.kind
            )));
        }
        let c = cat.candidate(m);
        check(&c)
            .map_err(|why| GenError::usage(format!("--model {} cannot be used: {why}", m.name)))?;
        let (mut ranked, _) =
            rank_checkpoints(std::slice::from_ref(&c), analysis, level, &|_| Ok(()));
        let mut chosen = ranked.remove(0);
        chosen.reasons.insert(0, "asked for with --model".into());
        return Ok((chosen, "command_line", Vec::new(), Vec::new()));
    }
    let all = cat.of_kind(&[Kind::Checkpoint]);
    if all.is_empty() {
        return Err(GenError::nothing("no checkpoints in the catalogue").with_hint(
            "put checkpoints in the models' checkpoints/ folder and run `gen index` (or pass --comfyui / --models)",
        ));
    }
    let (mut ranked, rejected) = rank_checkpoints(&all, analysis, level, &check);
    let not_usable: Vec<NotUsable> = rejected
        .into_iter()
        .take(5)
        .map(|(scored, why)| NotUsable { scored, why })
        .collect();
    if ranked.is_empty() {
        let reasons: Vec<String> = not_usable
            .iter()
            .map(|n| format!("{}: {}", n.scored.name, n.why))
            .collect();
        return Err(GenError::nothing(format!(
            "no catalogued checkpoint can be used:\n  {}",
            reasons.join("\n  ")
        ))
        .with_hint("add an SD1.5, SD2.x or SDXL checkpoint and run `gen index`"));
    }
    let chosen = ranked.remove(0);
    ranked.truncate(3);
    Ok((chosen, "auto", ranked, not_usable))
}

/// The files the preset needs beside the checkpoint. A missing refiner only
/// drops the refiner stage (with a warning); anything else missing is an error.
fn required_files(
    preset: &mut Preset,
    model: &CatalogEntry,
    cat: &Catalogue,
    warnings: &mut Vec<String>,
) -> Result<Vec<UsedFile>, GenError> {
    loop {
        match check_required_files(preset, model, &cat.entries) {
            Ok(found) => {
                return Ok(found
                    .into_iter()
                    .map(|(need, e)| UsedFile {
                        role: format!("{:?}", need.role).to_lowercase(),
                        id: e.id,
                        name: e.name.clone(),
                        path: e.path.clone(),
                        reason: format!("the preset needs a file matching '{}'", need.pattern),
                    })
                    .collect());
            }
            Err(missing) if missing.need.role == NeedRole::Refiner => {
                warnings.push(format!("{missing}; rendering without the refiner stage"));
                preset.model_specific_params.refiner = None;
            }
            Err(missing) => {
                let hint = missing.hint();
                return Err(GenError::nothing(missing.to_string()).with_hint(hint));
            }
        }
    }
}

/// `--vae`, checked; else the VAE the family commonly wants: SD1.5 merges
/// are usually published expecting the ft-MSE VAE, so one is used when
/// present. Other families keep the checkpoint's own.
fn choose_vae(
    req: &Request,
    ckpt: &Candidate,
    cat: &Catalogue,
) -> Result<Option<UsedFile>, GenError> {
    if let Some(v) = &req.vae {
        let c = cat.candidate(v);
        if c.entry.kind != Kind::Vae {
            return Err(GenError::usage(format!(
                "--vae {}: it is a {}, not a VAE",
                c.entry.name, c.entry.kind
            )));
        }
        if c.base != Base::Unknown && c.base.family() != ckpt.base.family() {
            return Err(GenError::usage(format!(
                "--vae {} is a {} VAE and cannot decode {} latents",
                c.entry.name, c.base, ckpt.base
            )));
        }
        return Ok(Some(used("vae", &c.entry, "asked for with --vae")));
    }
    if ckpt.base.family() != Base::Sd15 {
        return Ok(None);
    }
    let mut vaes: Vec<Candidate> = cat
        .of_kind(&[Kind::Vae])
        .into_iter()
        .filter(|v| {
            matches!(v.base, Base::Sd15 | Base::Unknown)
                && v.entry.name.to_lowercase().contains("ft-mse")
        })
        .collect();
    vaes.sort_by_key(|v| v.entry.id);
    Ok(vaes.first().map(|v| {
        used(
            "vae",
            &v.entry,
            "SD1.5 checkpoints are made to be decoded with the ft-MSE VAE",
        )
    }))
}

/// Negative embeddings (EasyNegative and the like) for the family, added to
/// the negative prompt when the user gave none.
fn negative_embeddings(
    req: &Request,
    ckpt: &Candidate,
    cat: &Catalogue,
) -> (Vec<UsedFile>, String) {
    if let Some(neg) = &req.negative {
        return (Vec::new(), neg.clone());
    }
    let mut found: Vec<Candidate> = cat
        .of_kind(&[Kind::Embedding])
        .into_iter()
        .filter(|e| compatible(e.base, ckpt.base).is_ok())
        .filter(|e| {
            let name = e.entry.name.to_lowercase();
            let tags = e
                .facts
                .tags
                .iter()
                .any(|t| t.eq_ignore_ascii_case("negative embedding"));
            tags || [
                "negative",
                "easyneg",
                "badhand",
                "bad-hands",
                "bad_prompt",
                "ng_deepneg",
            ]
            .iter()
            .any(|w| name.contains(w))
        })
        .collect();
    found.sort_by_key(|e| e.entry.id);
    found.truncate(2);
    let used: Vec<UsedFile> = found
        .iter()
        .map(|e| {
            used(
                "embedding",
                &e.entry,
                "a negative embedding for this family",
            )
        })
        .collect();
    let negative = used
        .iter()
        .map(|u| format!("embedding:{}", u.name))
        .collect::<Vec<_>>()
        .join(", ");
    (used, negative)
}

/// The textual-inversion embeddings the prompt and negative prompt name:
/// ComfyUI's `embedding:name` (any family: the text encoders use the
/// vectors of their own width) and A1111's bare file names (not among
/// embeddings of another family, as A1111 offers only those that fit). An
/// `embedding:name` the catalogue lacks is left out with a warning, as
/// ComfyUI does.
fn prompt_embeddings(
    prompt: &str,
    negative: &str,
    ckpt: &Candidate,
    cat: &Catalogue,
    warnings: &mut Vec<String>,
) -> Vec<UsedFile> {
    use crate::engine::embedding::{Syntax, find_in_prompt};
    use crate::engine::models::tokenizer::embedding_references;
    let all = cat.of_kind(&[Kind::Embedding]);
    let names: Vec<&str> = all.iter().map(|c| c.entry.name.as_str()).collect();
    let mut out: Vec<UsedFile> = Vec::new();
    let mut add = |c: &Candidate, where_: &str| {
        if !out.iter().any(|o| o.id == c.entry.id) {
            out.push(used("embedding", &c.entry, &format!("named in {where_}")));
        }
    };
    for (text, where_) in [(prompt, "the prompt"), (negative, "the negative prompt")] {
        // `embedding:` names exactly as the text encoders will read them.
        for (found, name) in embedding_references(text, &names) {
            match found {
                Some(i) => add(&all[i], where_),
                None => warnings.push(format!(
                    "embedding:{name} in {where_} is not in the catalogue; it is left out, as ComfyUI does"
                )),
            }
        }
        // A bare name may be a plain word: only embeddings this
        // checkpoint can use (or of unknown family, which the text
        // encoders check by width) are taken.
        let uses = find_in_prompt(text, &names).uses;
        for u in uses.iter().filter(|u| u.syntax == Syntax::Bare) {
            let Some(c) = all.iter().find(|c| c.entry.name == u.name) else {
                continue;
            };
            if c.base == Base::Unknown || compatible(c.base, ckpt.base).is_ok() {
                add(c, where_);
            }
        }
    }
    out
}

fn used(role: &str, e: &CatalogEntry, reason: &str) -> UsedFile {
    UsedFile {
        role: role.into(),
        id: e.id,
        name: e.name.clone(),
        path: e.path.clone(),
        reason: reason.into(),
    }
}
