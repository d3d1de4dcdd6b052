//! The clap definition of the whole command line (DESIGN §1).
//!
//! It is the single source for parsing, for the shell completions in
//! `completions/` and for the man pages in `man/`. Values here are raw: they
//! are checked and turned into real objects by the command that owns them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Zero-configuration image generation from a ComfyUI model library.
#[derive(Debug, Parser)]
#[command(
    name = "gen",
    version,
    about,
    subcommand_negates_reqs = true,
    after_help = "Run `gen index` once to build the catalogue, then `gen \"a sunset\"`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Generate from a prompt (the default command).
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// Options shared by every command; each can also come from the config file
/// and from the environment variable shown.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// A ComfyUI install: its models/ folder and extra_model_paths.yaml are read.
    #[arg(long, global = true, env = "GEN_COMFYUI", value_name = "DIR")]
    pub comfyui: Option<PathBuf>,

    /// A models root laid out like ComfyUI's models/ (repeatable).
    #[arg(
        long = "models",
        global = true,
        env = "GEN_MODELS",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub models: Vec<PathBuf>,

    /// The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite].
    #[arg(long, global = true, env = "GEN_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The config file [default: $XDG_CONFIG_HOME/gen/config.toml].
    #[arg(long, global = true, env = "GEN_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// CivitAI's base URL [default: https://civitai.com].
    #[arg(long, global = true, env = "GEN_CIVITAI_URL", value_name = "URL")]
    pub civitai_url: Option<String>,

    /// A local Ollama server used to analyse prompts.
    #[arg(long, global = true, env = "GEN_OLLAMA_URL", value_name = "URL")]
    pub ollama_url: Option<String>,

    /// The Ollama model to ask.
    #[arg(long, global = true, env = "GEN_OLLAMA_MODEL", value_name = "NAME")]
    pub ollama_model: Option<String>,

    /// No network at all.
    #[arg(
        long,
        global = true,
        env = "GEN_OFFLINE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub offline: bool,

    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate images from a prompt (the default command).
    Generate(GenerateArgs),
    /// Show the plan for a prompt without rendering (same as --dry-run).
    Explain(GenerateArgs),
    /// Build or update the catalogue of model files.
    Index(IndexArgs),
    /// List and inspect catalogued models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Per-model generation presets.
    #[command(subcommand)]
    Presets(PresetsCommand),
    /// This machine: CPU, RAM, GPUs, model roots and catalogue.
    System,
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct IndexArgs {
    /// Do not ask CivitAI about new files.
    #[arg(long)]
    pub no_fetch: bool,
    /// Ask CivitAI again, even about files it has answered for.
    #[arg(long)]
    pub refresh: bool,
    /// Hashing threads [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List catalogued files.
    List {
        /// Only this kind (checkpoint, diffusion_model, lora, vae, text_encoder, ...).
        #[arg(long, value_name = "K")]
        kind: Option<String>,
        /// Only this base model (sd_1_5, sdxl, flux_dev, ...).
        #[arg(long, value_name = "B")]
        base: Option<String>,
        /// Include files that have vanished from disk.
        #[arg(long)]
        all: bool,
    },
    /// Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path.
    Show {
        #[arg(value_name = "ID|NAME|HASH")]
        model: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PresetsCommand {
    /// Store one preset row per (model, level) from the base presets.
    Populate {
        /// Rebuild rows that exist.
        #[arg(long)]
        force: bool,
        /// Only models of this base.
        #[arg(long, value_name = "B")]
        base: Option<String>,
    },
    /// List stored presets.
    List {
        #[arg(long, value_name = "M")]
        model: Option<String>,
    },
    /// Show the presets of one model.
    Show {
        #[arg(value_name = "MODEL")]
        model: String,
    },
    /// Set parameters of one model's level.
    Set {
        model: String,
        level: String,
        #[arg(value_name = "KEY=VALUE", required = true)]
        values: Vec<String>,
    },
    /// Reset a model's presets (one level or all) to the base preset.
    Reset {
        model: String,
        level: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Quality {
    #[value(alias = "speed")]
    Fast,
    Balanced,
    #[value(alias = "quality")]
    High,
    Ultra,
}

/// How brackets in a prompt weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Weighting {
    /// ComfyUI's: `(word)`, `(word:1.2)`; `[word]` is plain text.
    Comfyui,
    /// A1111's: also `[word]`, which divides the weight by 1.1.
    A1111,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DType {
    F32,
    F16,
    Bf16,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GenerateArgs {
    /// The prompt; `-` (or none with stdin not a terminal) reads one per line from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Style: realistic, anime, artistic, 3d, ... (free text).
    #[arg(long)]
    pub style: Option<String>,
    /// Quality level of the preset.
    #[arg(long, value_enum)]
    pub quality: Option<Quality>,
    /// Images per prompt.
    #[arg(long, value_name = "N")]
    pub num_images: Option<u32>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub steps: Option<u32>,
    #[arg(long)]
    pub cfg: Option<f64>,
    /// Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...).
    #[arg(long)]
    pub sampler: Option<String>,
    /// Scheduler (normal, karras, exponential, sgm_uniform, simple).
    #[arg(long)]
    pub scheduler: Option<String>,
    #[arg(long)]
    pub width: Option<u32>,
    #[arg(long)]
    pub height: Option<u32>,
    /// Negative prompt.
    #[arg(long, value_name = "TEXT")]
    pub negative: Option<String>,
    /// Checkpoint by catalogue name, hash or file path.
    #[arg(long, value_name = "NAME|HASH|PATH")]
    pub model: Option<String>,
    /// LoRA by name, hash or path, with an optional weight (repeatable).
    #[arg(long, value_name = "NAME|HASH|PATH[:WEIGHT]")]
    pub lora: Vec<String>,
    /// Do not add LoRAs automatically.
    #[arg(long)]
    pub no_auto_lora: bool,
    /// VAE by name or path.
    #[arg(long, value_name = "NAME|PATH")]
    pub vae: Option<String>,
    /// SDXL refiner by name, hash or path, or `none` to render without the preset's.
    #[arg(long, value_name = "NAME|HASH|PATH|none")]
    pub refiner: Option<String>,
    /// img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height).
    #[arg(long, value_name = "PATH")]
    pub init_image: Option<PathBuf>,
    /// How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image).
    #[arg(long, value_name = "0.0..1.0")]
    pub denoise: Option<f64>,
    #[arg(long, value_name = "N")]
    pub clip_skip: Option<u32>,
    /// Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1).
    #[arg(long, value_enum)]
    pub weighting: Option<Weighting>,
    /// Output folder; `-` writes the PNG bytes to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the plan only.
    #[arg(long)]
    pub dry_run: bool,
    /// auto, cpu, cuda[:N] or metal.
    #[arg(long)]
    pub device: Option<String>,
    #[arg(long, value_enum)]
    pub dtype: Option<DType>,
}
