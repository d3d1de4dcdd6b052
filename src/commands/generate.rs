//! `gen PROMPT`, `gen generate`, `gen explain` and `--dry-run`: read the
//! prompts, look up what the user named, analyse, plan, and (when rendering
//! lands) render. Everything is checked before any weight file is opened.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalog::index::read_path;
use crate::catalog::metadata::effective_base;
use crate::catalog::store::{ListFilter, Store};
use crate::catalog::{CatalogEntry, Category};
use crate::cli::GenerateArgs;
use crate::commands::init_image::InitImage;
use crate::config::Settings;
use crate::engine::models::prompt::Syntax;
use crate::engine::render::{Job, RefinerStage, RenderProgress, Stage, render};
use crate::engine::{Sampler, Scheduler};
use crate::error::{GenError, Status};
use crate::output::{Parameters, encode_png, write_new_file};
use crate::presets::db;
use crate::presets::resolve::Overrides;
use crate::presets::{Level, PresetTable};
use crate::select::analysis::{Analysis, analyse};
use crate::select::ollama;
use crate::select::plan::{
    self, Catalogue, Known, Plan, RefinerChoice, Request, SeedSource, UsedFile,
};
use crate::select::score::{Candidate, Facts};
use crate::system::DeviceKind;
use crate::system::SystemInfo;
use crate::system::memory::{self, Dtype, Family, MemoryPlan, RenderRequest, WeightsFile};
use crate::ui::Printer;
use indicatif::HumanBytes;

pub fn run(
    settings: &Settings,
    args: &GenerateArgs,
    explain: bool,
    printer: &Printer,
) -> anyhow::Result<Status> {
    validate_args(args)?;
    let prompts = prompts(args)?;
    let store = open_for_choosing(settings, args.model.is_some())?;
    let table = PresetTable::load().map_err(GenError::from)?;
    let catalogue = catalogue(&store)?;
    let model = args
        .model
        .as_deref()
        .map(|q| lookup(&store, q, Category::Checkpoints, "--model"))
        .transpose()?;
    let vae = args
        .vae
        .as_deref()
        .map(|q| lookup(&store, q, Category::Vae, "--vae"))
        .transpose()?;
    let refiner = match args.refiner.as_deref() {
        None => RefinerChoice::Preset,
        Some(q) if q.eq_ignore_ascii_case("none") => RefinerChoice::Off,
        Some(q) => RefinerChoice::Use(Box::new(lookup(
            &store,
            q,
            Category::Checkpoints,
            "--refiner",
        )?)),
    };
    let init = args
        .init_image
        .as_deref()
        .map(InitImage::read)
        .transpose()?;
    // The init image's own size is the output size unless asked otherwise.
    let (width, height) = match &init {
        Some(img) => {
            let (w, h) = img.natural_size();
            (
                Some(args.width.unwrap_or(w)),
                Some(args.height.unwrap_or(h)),
            )
        }
        None => (args.width, args.height),
    };
    let loras = args
        .lora
        .iter()
        .map(|spec| {
            let (query, weight) = split_weight(spec)?;
            Ok((lookup(&store, query, Category::Loras, "--lora")?, weight))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rows = |e: &CatalogEntry, level: Level| {
        e.sha256
            .as_deref()
            .and_then(|sha| db::get(store.conn(), sha, level).ok().flatten())
            .map(|r| r.preset)
    };

    let machine = Machine::read(settings, args)?;

    for prompt in prompts {
        let analysis = analysis_for(settings, &prompt, args.style.as_deref(), printer);
        let (seed, seed_source) = match args.seed {
            Some(s) => (s, SeedSource::CommandLine),
            None => (draw_seed(), SeedSource::Drawn),
        };
        let req = Request {
            prompt,
            negative: args.negative.clone(),
            level: args.quality.map(Level::from).unwrap_or(Level::Balanced),
            seed,
            seed_source,
            num_images: args.num_images.unwrap_or(1),
            overrides: Overrides {
                steps: args.steps,
                cfg_scale: args.cfg,
                sampler: args.sampler.clone(),
                scheduler: args.scheduler.clone(),
                width,
                height,
                clip_skip: args.clip_skip,
                denoise: args
                    .denoise
                    .or(init.as_ref().map(|_| DEFAULT_IMG2IMG_DENOISE)),
            },
            model: model.clone(),
            loras: loras.clone(),
            no_auto_lora: args.no_auto_lora,
            vae: vae.clone(),
            refiner: refiner.clone(),
        };
        let fits = |c: &Candidate| machine.check(c, &table, &req);
        let mut plan = plan::build(&req, analysis, &catalogue, &table, &rows, &fits)?;
        plan.memory = Some(machine.require(&plan, &catalogue)?);
        plan.init_image = args.init_image.as_ref().map(|p| p.display().to_string());
        if vae.is_none() {
            prefer_fp16_fixed_vae(&mut plan, &catalogue);
        }
        for w in &plan.warnings {
            printer.warn(w);
        }
        if explain || args.dry_run {
            if printer.json {
                printer.out(serde_json::to_string(&plan)?);
            } else {
                print_plan(printer, &plan);
            }
        } else {
            let given: Vec<&CatalogEntry> = loras
                .iter()
                .map(|(e, _)| e)
                .chain(match &refiner {
                    RefinerChoice::Use(e) => Some(&**e),
                    _ => None,
                })
                .collect();
            render_plan(
                &plan,
                &checkpoint_entry(&plan, &catalogue, model.as_ref()),
                &PlanFiles::of(&plan, &catalogue, &given),
                &machine,
                init.as_ref(),
                args,
                printer,
            )?;
        }
    }
    Ok(Status::Success)
}

/// The active catalogue with what metadata knows of each file.
fn catalogue(store: &Store) -> anyhow::Result<Catalogue> {
    let entries = store.list(&ListFilter::default())?;
    let infos = store.model_infos()?;
    let mut known = HashMap::new();
    for e in &entries {
        let Some(sha) = &e.sha256 else { continue };
        let info = infos.get(sha);
        let facts = info
            .map(|i| Facts {
                tags: i.tags.clone(),
                trained_words: i.trained_words.clone(),
                downloads: i.downloads.unwrap_or(0),
                rating: i.rating,
                thumbs_up: i.thumbs_up.unwrap_or(0),
                preferred_weight: i.preferred_weight,
            })
            .unwrap_or_default();
        known.insert(
            sha.clone(),
            Known {
                base: Some(effective_base(e.base, info)),
                facts,
            },
        );
    }
    Ok(Catalogue { entries, known })
}

/// Renders a plan and writes its images; prints one path (or JSON object)
/// per image on stdout, or the PNG bytes with `--out -`.
fn render_plan(
    plan: &Plan,
    ckpt: &CatalogEntry,
    files: &PlanFiles<'_>,
    machine: &Machine,
    init: Option<&InitImage>,
    args: &GenerateArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    let job = job_for(plan, ckpt, machine, init, args.weighting)?;
    let bar = RenderBar::new(printer, plan.preset.steps);
    let started = std::time::Instant::now();
    let images =
        render(&job, &bar).map_err(|e| GenError::failed(format!("rendering failed: {e:#}")))?;
    bar.finish();
    printer.debug(format!(
        "rendered {} image(s) in {:.1} s",
        images.len(),
        started.elapsed().as_secs_f64()
    ));
    let plan_json = serde_json::to_string(plan)?;
    let mut params = parameters(plan, ckpt, files.refiner, &job);
    // CivitAI links a LoRA by AutoV3 (AutoV2 for pickles).
    params.lora_hashes = files
        .loras
        .iter()
        .filter_map(|e| {
            Some((
                e.name.clone(),
                e.autov3.clone().or_else(|| e.autov2.clone())?,
            ))
        })
        .collect();
    // A1111 names an embedding by the first 12 hex digits of its SHA-256.
    params.ti_hashes = files
        .embeddings
        .iter()
        .filter_map(|e| Some((e.name.clone(), e.sha256.as_ref()?.get(..12)?.to_string())))
        .collect();
    let text = params.to_a1111();
    for (i, rgb) in images.iter().enumerate() {
        let png = encode_png(
            rgb,
            job.width,
            job.height,
            &[("parameters", &text), ("gen", &plan_json)],
        )?;
        match args.out.as_deref() {
            Some(p) if p == Path::new("-") => {
                use std::io::Write;
                std::io::stdout().lock().write_all(&png).map_err(|e| {
                    GenError::failed(format!("cannot write the PNG to stdout: {e}"))
                })?;
            }
            out => {
                let dir = out
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let path = write_new_file(&dir, &format!("gen-{}-{i}", plan.seed), &png)
                    .map_err(|e| GenError::failed(e.to_string()))?;
                if printer.json {
                    printer.out(serde_json::json!({"path": path, "seed": plan.seed, "index": i, "prompt": plan.final_prompt, "model": plan.checkpoint.name}).to_string());
                } else {
                    printer.out(path.display().to_string());
                }
            }
        }
    }
    Ok(())
}

/// The catalogue entries of a plan's files besides the checkpoint, for the
/// PNG's hashes.
struct PlanFiles<'a> {
    loras: Vec<&'a CatalogEntry>,
    refiner: Option<&'a CatalogEntry>,
    embeddings: Vec<&'a CatalogEntry>,
}

impl<'a> PlanFiles<'a> {
    /// Each planned file's entry, from the catalogue or from those `given`
    /// on the command line (a path probed on the spot is in no catalogue).
    fn of(plan: &Plan, cat: &'a Catalogue, given: &[&'a CatalogEntry]) -> PlanFiles<'a> {
        let entry = |id: i64, path: &str| {
            given
                .iter()
                .copied()
                .chain(&cat.entries)
                .find(|e| e.id == id && e.path == path)
        };
        PlanFiles {
            loras: plan
                .loras
                .iter()
                .filter_map(|l| entry(l.lora.scored.id, &l.lora.scored.path))
                .collect(),
            refiner: plan
                .required_files
                .iter()
                .find(|f| f.role == "refiner")
                .and_then(|f| entry(f.id, &f.path)),
            embeddings: plan
                .embeddings
                .iter()
                .filter_map(|u| entry(u.id, &u.path))
                .collect(),
        }
    }
}

/// A1111's default denoising strength for img2img.
const DEFAULT_IMG2IMG_DENOISE: f64 = 0.75;

/// Whether a VAE's name says it is fixed to run in fp16 (madebyollin's
/// `sdxl_vae_fp16_fix` and its renamings: `sdxl-vae-fp16-fix`,
/// `sdxl.vae.fp16fix`).
fn fp16_fixed_vae(name: &str) -> bool {
    let squashed: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    squashed.contains("fp16fix")
}

/// SDXL's own VAE overflows in fp16. When the render computes in fp16 and
/// no VAE was asked for, an fp16-fixed SDXL VAE from the catalogue is used
/// (else the renderer runs the VAE in f32).
fn prefer_fp16_fixed_vae(plan: &mut Plan, cat: &Catalogue) {
    let fp16 = plan
        .memory
        .as_ref()
        .is_some_and(|m| m.techniques.compute == Dtype::F16);
    let sdxl = Family::of(plan.checkpoint.base) == Some(Family::Sdxl);
    if !fp16 || !sdxl || plan.vae.as_ref().is_some_and(|v| fp16_fixed_vae(&v.name)) {
        return;
    }
    let fixed = cat.entries.iter().find(|e| {
        e.kind == crate::catalog::Kind::Vae
            && Family::of(e.base) == Some(Family::Sdxl)
            && fp16_fixed_vae(&e.name)
    });
    if let Some(e) = fixed {
        plan.vae = Some(UsedFile {
            role: "vae".into(),
            id: e.id,
            name: e.name.clone(),
            path: e.path.clone(),
            reason: "SDXL's own VAE overflows in fp16; this one is fixed for it".into(),
        });
    }
}

/// The chosen checkpoint's entry: from the catalogue, or the file given
/// with `--model` and probed on the spot.
fn checkpoint_entry(plan: &Plan, cat: &Catalogue, model: Option<&CatalogEntry>) -> CatalogEntry {
    model
        .filter(|m| m.id == plan.checkpoint.id)
        .or_else(|| cat.entries.iter().find(|e| e.id == plan.checkpoint.id))
        .cloned()
        .unwrap_or_else(|| {
            CatalogEntry::new(
                plan.checkpoint.id,
                &plan.checkpoint.path,
                crate::catalog::Kind::Checkpoint,
                plan.checkpoint.base,
            )
        })
}

/// The render job a plan describes.
fn job_for(
    plan: &Plan,
    ckpt: &CatalogEntry,
    machine: &Machine,
    init: Option<&InitImage>,
    weighting: Option<crate::cli::Weighting>,
) -> anyhow::Result<Job> {
    let p = &plan.preset;
    let sampler: Sampler = p
        .sampler
        .parse()
        .map_err(|e| GenError::usage(format!("{e}")))?;
    let scheduler: Scheduler = p
        .scheduler
        .parse()
        .map_err(|e| GenError::usage(format!("{e}")))?;
    let checkpoint = PathBuf::from(&ckpt.path);
    let memory = plan.memory.as_ref();
    let dtype = match memory.map(|m| m.techniques.compute) {
        Some(Dtype::F16) => candle_core::DType::F16,
        Some(Dtype::Bf16) => candle_core::DType::BF16,
        _ => candle_core::DType::F32,
    };
    let device = match machine.device {
        DeviceKind::Cpu => Ok(candle_core::Device::Cpu),
        // candle answers "not compiled with ... support" when the feature is off.
        DeviceKind::Cuda => candle_core::Device::new_cuda(machine.index),
        DeviceKind::Metal => candle_core::Device::new_metal(machine.index),
    }
    .map_err(|e| {
        GenError::usage(format!(
            "cannot use {:?} device {}: {e}",
            machine.device, machine.index
        ))
        .with_hint("`gen system` lists the devices this build can use")
    })?;
    let (width, height) = (
        p.model_specific_params.width,
        p.model_specific_params.height,
    );
    let refiner = p.model_specific_params.refiner.as_ref().and_then(|r| {
        let file = plan.required_files.iter().find(|f| f.role == "refiner")?;
        Some(RefinerStage {
            checkpoint: PathBuf::from(&file.path),
            switch_step: r.base_steps,
        })
    });
    Ok(Job {
        checkpoint,
        vae: plan.vae.as_ref().map(|v| PathBuf::from(&v.path)),
        base: plan.checkpoint.base,
        prompt: plan.final_prompt.clone(),
        negative: plan.negative_prompt.clone(),
        width,
        height,
        steps: p.steps,
        cfg: p.cfg_scale,
        sampler,
        scheduler,
        seed: plan.seed,
        batch: plan.num_images,
        clip_skip: p.model_specific_params.clip_skip,
        // Denoise below 1 means img2img; without an init image the whole
        // schedule runs.
        denoise: match init {
            Some(_) => p.model_specific_params.denoise.unwrap_or(1.0),
            None => 1.0,
        },
        dtype,
        device,
        tiled_vae: memory.is_some_and(|m| m.techniques.tiled_vae),
        loras: plan
            .loras
            .iter()
            .map(|l| (PathBuf::from(&l.lora.scored.path), l.lora.weight))
            .collect(),
        vae_fp16_safe: plan.vae.as_ref().is_some_and(|v| fp16_fixed_vae(&v.name)),
        init_image: init.map(|i| i.pixels(width, height)),
        refiner,
        embeddings: plan
            .embeddings
            .iter()
            .map(|e| PathBuf::from(&e.path))
            .collect(),
        weighting: match weighting {
            Some(crate::cli::Weighting::A1111) => Syntax::SquareBrackets,
            _ => Syntax::ComfyUi,
        },
    })
}

/// The A1111 `parameters` of a rendered plan.
fn parameters(
    plan: &Plan,
    ckpt: &CatalogEntry,
    refiner: Option<&CatalogEntry>,
    job: &Job,
) -> Parameters {
    Parameters {
        prompt: plan.final_prompt.clone(),
        negative: plan.negative_prompt.clone(),
        steps: job.steps,
        sampler: job.sampler.a1111_name().to_string(),
        schedule_type: Some(job.scheduler.a1111_name().to_string()),
        cfg_scale: job.cfg,
        seed: job.seed,
        width: job.width,
        height: job.height,
        model_hash: ckpt.autov2.clone(),
        model: Some(plan.checkpoint.name.clone()),
        clip_skip: job.clip_skip,
        denoise: job.init_image.as_ref().map(|_| job.denoise),
        refiner: job.refiner.as_ref().map(|r| {
            let name =
                refiner.map_or_else(|| r.checkpoint.display().to_string(), |e| e.name.clone());
            let hash = refiner
                .and_then(|e| e.autov2.as_deref())
                .map(|h| format!(" [{h}]"))
                .unwrap_or_default();
            (
                format!("{name}{hash}"),
                f64::from(r.switch_step) / f64::from(job.steps.max(1)),
            )
        }),
        lora_hashes: Vec::new(),
        ti_hashes: Vec::new(),
        version: format!("gen {}", env!("CARGO_PKG_VERSION")),
    }
}

/// Stage and step progress on stderr (hidden when it is not a terminal).
struct RenderBar {
    bar: indicatif::ProgressBar,
    printer: Printer,
}

impl RenderBar {
    fn new(printer: &Printer, steps: u32) -> RenderBar {
        let bar = if printer.quiet || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            let b = indicatif::ProgressBar::new(steps as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>9} [{bar:30}] {pos}/{len} steps {per_sec} ETA {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            b
        };
        RenderBar {
            bar,
            printer: *printer,
        }
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl RenderProgress for RenderBar {
    fn stage(&self, stage: Stage) {
        self.bar.set_message(stage.as_str());
        self.bar.tick();
    }
    fn step(&self, step: &crate::engine::sampler::Step) {
        self.bar.set_length(step.total as u64);
        self.bar.set_position(step.index as u64 + 1);
    }
    fn warn(&self, message: &str) {
        self.bar.suspend(|| self.printer.warn(message));
    }
}

/// The device a render would run on and the memory it has free.
struct Machine {
    device: DeviceKind,
    index: usize,
    available: u64,
    dtype: Option<Dtype>,
}

impl Machine {
    fn read(settings: &Settings, args: &GenerateArgs) -> anyhow::Result<Machine> {
        let info = SystemInfo::read(settings.nvml_library.as_deref());
        let (device, index) = parse_device(args.device.as_deref().unwrap_or("auto"), &info)?;
        let available = info.available_bytes(device, index).ok_or_else(|| {
            GenError::usage(
                format!("there is no {device:?} device {index} on this machine").to_lowercase(),
            )
            .with_hint("`gen system` lists the devices")
        })?;
        Ok(Machine {
            device,
            index,
            available,
            dtype: args.dtype.map(Dtype::from),
        })
    }

    fn request(
        &self,
        family: Family,
        files: Vec<WeightsFile>,
        width: u32,
        height: u32,
        batch: u32,
    ) -> RenderRequest {
        let compute = self
            .dtype
            .unwrap_or_else(|| Dtype::default_for(self.device, family));
        RenderRequest {
            family,
            files,
            width,
            height,
            batch,
            compute,
            device: self.device,
            flash_attention: memory::flash_attention_applies(self.device, compute),
        }
    }

    /// Whether a checkpoint could be rendered here at the size its preset
    /// (or the command line) gives.
    fn check(&self, c: &Candidate, table: &PresetTable, req: &Request) -> Result<(), String> {
        let Some(family) = Family::of(c.base) else {
            return Ok(());
        };
        let p = &table.get(c.base, req.level).model_specific_params;
        let width = req.overrides.width.unwrap_or(p.width);
        let height = req.overrides.height.unwrap_or(p.height);
        let files = WeightsFile::from_entry(&c.entry).into_iter().collect();
        let m = memory::plan(
            &self.request(family, files, width, height, req.num_images),
            self.available,
        );
        if m.fits {
            Ok(())
        } else {
            Err(format!(
                "needs about {} even at the aggressive level; {} free",
                HumanBytes(m.estimated_peak_bytes),
                HumanBytes(self.available)
            ))
        }
    }

    /// The memory plan of the chosen files; an error naming what would fit
    /// when even the aggressive level does not.
    fn require(&self, plan: &Plan, cat: &Catalogue) -> anyhow::Result<MemoryPlan> {
        let family = Family::of(plan.checkpoint.base).ok_or_else(|| {
            GenError::failed(format!(
                "no memory figures for {} models",
                plan.checkpoint.base
            ))
        })?;
        let ids: Vec<i64> = std::iter::once(plan.checkpoint.id)
            .chain(plan.loras.iter().map(|l| l.lora.scored.id))
            .chain(plan.vae.iter().map(|v| v.id))
            // The refiner's stage runs after the base UNet is freed and
            // is smaller than the base's (2.3 vs 2.6 billion parameters),
            // so it does not raise the peak.
            .chain(
                plan.required_files
                    .iter()
                    .filter(|f| f.role != "refiner")
                    .map(|f| f.id),
            )
            .collect();
        let files = ids
            .iter()
            .filter_map(|id| cat.entries.iter().find(|e| e.id == *id))
            .filter_map(WeightsFile::from_entry)
            .collect();
        let p = &plan.preset.model_specific_params;
        let req = self.request(family, files, p.width, p.height, plan.num_images);
        Ok(memory::require(&req, self.available).map_err(GenError::from)?)
    }
}

/// `auto`, `cpu`, `cuda`, `cuda:N` or `metal`.
fn parse_device(spec: &str, info: &SystemInfo) -> anyhow::Result<(DeviceKind, usize)> {
    let bad = || {
        GenError::usage(format!(
            "--device {spec}: expected auto, cpu, cuda, cuda:N or metal"
        ))
    };
    let (name, index) = match spec.split_once(':') {
        Some((n, i)) => (n, i.parse::<usize>().map_err(|_| bad())?),
        None => (spec, 0),
    };
    let device = match name.to_ascii_lowercase().as_str() {
        "auto" => info.best_device(),
        "cpu" => DeviceKind::Cpu,
        "cuda" | "gpu" => DeviceKind::Cuda,
        "metal" | "mps" => DeviceKind::Metal,
        _ => return Err(bad().into()),
    };
    let usable = info.devices.iter().any(|d| d.device == device && d.usable);
    if !usable {
        return Err(GenError::usage(format!("--device {spec}: this build or machine cannot use it"))
            .with_hint("`gen system` lists the devices this build can use; see the README to build for CUDA or Metal")
            .into());
    }
    Ok((device, index))
}

fn validate_args(args: &GenerateArgs) -> anyhow::Result<()> {
    if let Some(d) = args.denoise {
        if !(0.0..=1.0).contains(&d) {
            return Err(GenError::usage(format!("--denoise {d}: must be from 0.0 to 1.0")).into());
        }
        if args.init_image.is_none() {
            return Err(GenError::usage("--denoise needs --init-image")
                .with_hint("text-to-image always denoises the whole schedule")
                .into());
        }
    }
    for (flag, v) in [("--width", args.width), ("--height", args.height)] {
        if let Some(v) = v
            && (v < 64 || v % 8 != 0 || v > 4096)
        {
            return Err(GenError::usage(format!(
                "{flag} {v}: must be a multiple of 8 from 64 to 4096"
            ))
            .into());
        }
    }
    if args.num_images == Some(0) {
        return Err(GenError::usage("--num-images must be at least 1").into());
    }
    Ok(())
}

/// The prompt from the arguments, or one per line from stdin when it is `-`
/// or absent and stdin is not a terminal.
fn prompts(args: &GenerateArgs) -> anyhow::Result<Vec<String>> {
    let from_stdin = match args.prompt.as_deref() {
        Some("-") => true,
        Some(p) => return Ok(vec![p.to_string()]),
        None => !std::io::stdin().is_terminal(),
    };
    if !from_stdin {
        return Err(GenError::usage("no prompt given")
            .with_hint("gen \"a sunset over the sea\"")
            .into());
    }
    let mut out = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line =
            line.map_err(|e| GenError::usage(format!("cannot read prompts from stdin: {e}")))?;
        if !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
    }
    if out.is_empty() {
        return Err(GenError::usage("stdin held no prompt").into());
    }
    Ok(out)
}

/// The catalogue; with `--model` given it may not exist yet (a file path is
/// probed on the spot), and an empty one stands in without creating a file.
fn open_for_choosing(settings: &Settings, model_given: bool) -> anyhow::Result<Store> {
    if !settings.db.exists() && model_given {
        return Store::in_memory();
    }
    if !settings.db.exists() {
        return Err(GenError::nothing("no models indexed yet")
            .with_hint("run `gen index --comfyui DIR` (or --models DIR) first")
            .into());
    }
    Store::open(&settings.db)
}

/// `NAME|HASH|PATH[:WEIGHT]` → (query, weight). A Windows drive letter or a
/// path's colon is kept: only a trailing number after the last colon is a weight.
fn split_weight(spec: &str) -> anyhow::Result<(&str, Option<f64>)> {
    if let Some((q, w)) = spec.rsplit_once(':')
        && let Ok(weight) = w.trim().parse::<f64>()
    {
        if !(-5.0..=5.0).contains(&weight) {
            return Err(GenError::usage(format!(
                "--lora {spec}: a weight of {weight} is outside -5..5"
            ))
            .into());
        }
        return Ok((q, Some(weight)));
    }
    Ok((spec, None))
}

/// A catalogue entry by id, name, hash or path; a file path not yet in the
/// catalogue is probed and hashed on the spot.
fn lookup(
    store: &Store,
    query: &str,
    category: Category,
    flag: &str,
) -> anyhow::Result<CatalogEntry> {
    if let Some(e) = store.find(query)? {
        return Ok(e);
    }
    let path = Path::new(query);
    if path.is_file() {
        let entry = read_path(path, category)?;
        if let Some(err) = &entry.error {
            return Err(GenError::usage(format!("{flag} {query}: {err}")).into());
        }
        return Ok(entry);
    }
    Err(GenError::nothing(format!(
        "{flag} {query}: no catalogued file or path matches"
    ))
    .with_hint("`gen models list` shows the catalogue; a path must point at a file")
    .into())
}

fn analysis_for(
    settings: &Settings,
    prompt: &str,
    style: Option<&str>,
    printer: &Printer,
) -> Analysis {
    if let (Some(url), false) = (&settings.ollama_url, settings.offline) {
        let model = settings
            .ollama_model
            .as_deref()
            .unwrap_or(ollama::DEFAULT_MODEL);
        match ollama::analyse(url, model, prompt, style, ollama_timeout()) {
            Ok(a) => return a,
            Err(e) => printer.warn(format!("{e}; analysing the prompt by keywords instead")),
        }
    }
    analyse(prompt, style)
}

fn ollama_timeout() -> Duration {
    std::env::var("GEN_OLLAMA_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(ollama::DEFAULT_TIMEOUT)
}

/// A fresh seed in A1111's and ComfyUI's usual 32-bit range.
fn draw_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() & 0xFFFF_FFFF
}

fn print_plan(printer: &Printer, plan: &Plan) {
    let out = |k: &str, v: String| printer.out(format!("{k:<12}{v}"));
    out("prompt", plan.final_prompt.clone());
    out(
        "negative",
        if plan.negative_prompt.is_empty() {
            "-".into()
        } else {
            plan.negative_prompt.clone()
        },
    );
    let a = &plan.analysis;
    out(
        "analysis",
        format!(
            "style {}{}, content {}, by {:?}; concepts: {}",
            a.style,
            if a.style_given { " (--style)" } else { "" },
            a.content,
            a.source,
            a.concepts.join(", ")
        )
        .to_lowercase(),
    );
    let c = &plan.checkpoint;
    out(
        "checkpoint",
        format!(
            "{} [{}] score {:.2} ({})",
            c.name, c.base, c.score, plan.checkpoint_chosen_by
        ),
    );
    for r in &c.reasons {
        out("", format!("  {r}"));
    }
    for r in &plan.runners_up {
        out(
            "runner-up",
            format!("{} [{}] score {:.2}", r.name, r.base, r.score),
        );
    }
    for n in &plan.not_usable {
        out("not usable", format!("{}: {}", n.scored.name, n.why));
    }
    for l in &plan.loras {
        let s = &l.lora.scored;
        out(
            "lora",
            format!(
                "{} x{} score {:.2} ({}): {}",
                s.name,
                l.lora.weight,
                s.score,
                l.chosen_by,
                s.reasons.join("; ")
            ),
        );
    }
    if let Some(v) = &plan.vae {
        out("vae", format!("{}: {}", v.name, v.reason));
    }
    for e in plan.embeddings.iter().chain(&plan.required_files) {
        out(&e.role, format!("{} ({})", e.name, e.reason));
    }
    if let Some(i) = &plan.init_image {
        out("init image", i.clone());
    }
    out("level", plan.level.to_string());
    for p in &plan.parameters {
        let source = serde_json::to_value(p.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out(
            "",
            format!("{} = {} [{}]", p.name, p.value, source.replace('_', " ")),
        );
    }
    if let Some(m) = &plan.memory {
        out("memory", m.summary());
    }
    out(
        "seed",
        format!(
            "{} ({})",
            plan.seed,
            if plan.seed_source == SeedSource::Drawn {
                "drawn"
            } else {
                "--seed"
            }
        ),
    );
}
