
use builtin;
use str;

set edit:completion:arg-completer[gen] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'gen'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'gen'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --style 'Style: realistic, anime, artistic, 3d, ... (free text)'
            cand --quality 'Quality level of the preset'
            cand --num-images 'Images per prompt'
            cand --seed 'seed'
            cand --steps 'steps'
            cand --cfg 'cfg'
            cand --sampler 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)'
            cand --scheduler 'Scheduler (normal, karras, exponential, sgm_uniform, simple)'
            cand --width 'width'
            cand --height 'height'
            cand --negative 'Negative prompt'
            cand --model 'Checkpoint by catalogue name, hash or file path'
            cand --lora 'LoRA by name, hash or path, with an optional weight (repeatable)'
            cand --vae 'VAE by name or path'
            cand --refiner 'SDXL refiner by name, hash or path, or `none` to render without the preset''s'
            cand --init-image 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)'
            cand --denoise 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)'
            cand --clip-skip 'clip-skip'
            cand --weighting 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)'
            cand --out 'Output folder; `-` writes the PNG bytes to stdout'
            cand --device 'auto, cpu, cuda[:N] or metal'
            cand --dtype 'dtype'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand --no-auto-lora 'Do not add LoRAs automatically'
            cand --dry-run 'Print the plan only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand generate 'Generate images from a prompt (the default command)'
            cand explain 'Show the plan for a prompt without rendering (same as --dry-run)'
            cand index 'Build or update the catalogue of model files'
            cand models 'List and inspect catalogued models'
            cand presets 'Per-model generation presets'
            cand system 'This machine: CPU, RAM, GPUs, model roots and catalogue'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;generate'= {
            cand --style 'Style: realistic, anime, artistic, 3d, ... (free text)'
            cand --quality 'Quality level of the preset'
            cand --num-images 'Images per prompt'
            cand --seed 'seed'
            cand --steps 'steps'
            cand --cfg 'cfg'
            cand --sampler 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)'
            cand --scheduler 'Scheduler (normal, karras, exponential, sgm_uniform, simple)'
            cand --width 'width'
            cand --height 'height'
            cand --negative 'Negative prompt'
            cand --model 'Checkpoint by catalogue name, hash or file path'
            cand --lora 'LoRA by name, hash or path, with an optional weight (repeatable)'
            cand --vae 'VAE by name or path'
            cand --refiner 'SDXL refiner by name, hash or path, or `none` to render without the preset''s'
            cand --init-image 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)'
            cand --denoise 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)'
            cand --clip-skip 'clip-skip'
            cand --weighting 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)'
            cand --out 'Output folder; `-` writes the PNG bytes to stdout'
            cand --device 'auto, cpu, cuda[:N] or metal'
            cand --dtype 'dtype'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --no-auto-lora 'Do not add LoRAs automatically'
            cand --dry-run 'Print the plan only'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gen;explain'= {
            cand --style 'Style: realistic, anime, artistic, 3d, ... (free text)'
            cand --quality 'Quality level of the preset'
            cand --num-images 'Images per prompt'
            cand --seed 'seed'
            cand --steps 'steps'
            cand --cfg 'cfg'
            cand --sampler 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)'
            cand --scheduler 'Scheduler (normal, karras, exponential, sgm_uniform, simple)'
            cand --width 'width'
            cand --height 'height'
            cand --negative 'Negative prompt'
            cand --model 'Checkpoint by catalogue name, hash or file path'
            cand --lora 'LoRA by name, hash or path, with an optional weight (repeatable)'
            cand --vae 'VAE by name or path'
            cand --refiner 'SDXL refiner by name, hash or path, or `none` to render without the preset''s'
            cand --init-image 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)'
            cand --denoise 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)'
            cand --clip-skip 'clip-skip'
            cand --weighting 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)'
            cand --out 'Output folder; `-` writes the PNG bytes to stdout'
            cand --device 'auto, cpu, cuda[:N] or metal'
            cand --dtype 'dtype'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --no-auto-lora 'Do not add LoRAs automatically'
            cand --dry-run 'Print the plan only'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gen;index'= {
            cand --threads 'Hashing threads [default: all cores]'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --no-fetch 'Do not ask CivitAI about new files'
            cand --refresh 'Ask CivitAI again, even about files it has answered for'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;models'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List catalogued files'
            cand show 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;models;list'= {
            cand --kind 'Only this kind (checkpoint, diffusion_model, lora, vae, text_encoder, ...)'
            cand --base 'Only this base model (sd_1_5, sdxl, flux_dev, ...)'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --all 'Include files that have vanished from disk'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;models;show'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;models;help'= {
            cand list 'List catalogued files'
            cand show 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;models;help;list'= {
        }
        &'gen;models;help;show'= {
        }
        &'gen;models;help;help'= {
        }
        &'gen;presets'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand populate 'Store one preset row per (model, level) from the base presets'
            cand list 'List stored presets'
            cand show 'Show the presets of one model'
            cand set 'Set parameters of one model''s level'
            cand reset 'Reset a model''s presets (one level or all) to the base preset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;presets;populate'= {
            cand --base 'Only models of this base'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --force 'Rebuild rows that exist'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;presets;list'= {
            cand --model 'model'
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;presets;show'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;presets;set'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;presets;reset'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;presets;help'= {
            cand populate 'Store one preset row per (model, level) from the base presets'
            cand list 'List stored presets'
            cand show 'Show the presets of one model'
            cand set 'Set parameters of one model''s level'
            cand reset 'Reset a model''s presets (one level or all) to the base preset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;presets;help;populate'= {
        }
        &'gen;presets;help;list'= {
        }
        &'gen;presets;help;show'= {
        }
        &'gen;presets;help;set'= {
        }
        &'gen;presets;help;reset'= {
        }
        &'gen;presets;help;help'= {
        }
        &'gen;system'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;completions'= {
            cand --comfyui 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read'
            cand --models 'A models root laid out like ComfyUI''s models/ (repeatable)'
            cand --db 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]'
            cand --config 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]'
            cand --civitai-url 'CivitAI''s base URL [default: https://civitai.com]'
            cand --ollama-url 'A local Ollama server used to analyse prompts'
            cand --ollama-model 'The Ollama model to ask'
            cand --offline 'No network at all'
            cand --json 'Machine-readable JSON on stdout'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -v 'More detail on stderr (repeat for more)'
            cand --verbose 'More detail on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gen;help'= {
            cand generate 'Generate images from a prompt (the default command)'
            cand explain 'Show the plan for a prompt without rendering (same as --dry-run)'
            cand index 'Build or update the catalogue of model files'
            cand models 'List and inspect catalogued models'
            cand presets 'Per-model generation presets'
            cand system 'This machine: CPU, RAM, GPUs, model roots and catalogue'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gen;help;generate'= {
        }
        &'gen;help;explain'= {
        }
        &'gen;help;index'= {
        }
        &'gen;help;models'= {
            cand list 'List catalogued files'
            cand show 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
        }
        &'gen;help;models;list'= {
        }
        &'gen;help;models;show'= {
        }
        &'gen;help;presets'= {
            cand populate 'Store one preset row per (model, level) from the base presets'
            cand list 'List stored presets'
            cand show 'Show the presets of one model'
            cand set 'Set parameters of one model''s level'
            cand reset 'Reset a model''s presets (one level or all) to the base preset'
        }
        &'gen;help;presets;populate'= {
        }
        &'gen;help;presets;list'= {
        }
        &'gen;help;presets;show'= {
        }
        &'gen;help;presets;set'= {
        }
        &'gen;help;presets;reset'= {
        }
        &'gen;help;system'= {
        }
        &'gen;help;completions'= {
        }
        &'gen;help;help'= {
        }
    ]
    $completions[$command]
}
