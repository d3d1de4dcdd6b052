# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gen_global_optspecs
    string join \n comfyui= models= db= config= civitai-url= ollama-url= ollama-model= offline json q/quiet v/verbose style= quality= num-images= seed= steps= cfg= sampler= scheduler= width= height= negative= model= lora= no-auto-lora vae= refiner= init-image= denoise= clip-skip= weighting= out= dry-run device= dtype= h/help V/version
end

function __fish_gen_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gen_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gen_using_subcommand
    set -l cmd (__fish_gen_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gen -n "__fish_gen_needs_command" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_needs_command" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_needs_command" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_needs_command" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_needs_command" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_needs_command" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_needs_command" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_needs_command" -l style -d 'Style: realistic, anime, artistic, 3d, ... (free text)' -r
complete -c gen -n "__fish_gen_needs_command" -l quality -d 'Quality level of the preset' -r -f -a "fast\t''
balanced\t''
high\t''
ultra\t''"
complete -c gen -n "__fish_gen_needs_command" -l num-images -d 'Images per prompt' -r
complete -c gen -n "__fish_gen_needs_command" -l seed -r
complete -c gen -n "__fish_gen_needs_command" -l steps -r
complete -c gen -n "__fish_gen_needs_command" -l cfg -r
complete -c gen -n "__fish_gen_needs_command" -l sampler -d 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)' -r
complete -c gen -n "__fish_gen_needs_command" -l scheduler -d 'Scheduler (normal, karras, exponential, sgm_uniform, simple)' -r
complete -c gen -n "__fish_gen_needs_command" -l width -r
complete -c gen -n "__fish_gen_needs_command" -l height -r
complete -c gen -n "__fish_gen_needs_command" -l negative -d 'Negative prompt' -r
complete -c gen -n "__fish_gen_needs_command" -l model -d 'Checkpoint by catalogue name, hash or file path' -r
complete -c gen -n "__fish_gen_needs_command" -l lora -d 'LoRA by name, hash or path, with an optional weight (repeatable)' -r
complete -c gen -n "__fish_gen_needs_command" -l vae -d 'VAE by name or path' -r
complete -c gen -n "__fish_gen_needs_command" -l refiner -d 'SDXL refiner by name, hash or path, or `none` to render without the preset\'s' -r
complete -c gen -n "__fish_gen_needs_command" -l init-image -d 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)' -r -F
complete -c gen -n "__fish_gen_needs_command" -l denoise -d 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)' -r
complete -c gen -n "__fish_gen_needs_command" -l clip-skip -r
complete -c gen -n "__fish_gen_needs_command" -l weighting -d 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)' -r -f -a "comfyui\t'ComfyUI\'s: `(word)`, `(word:1.2)`; `[word]` is plain text'
a1111\t'A1111\'s: also `[word]`, which divides the weight by 1.1'"
complete -c gen -n "__fish_gen_needs_command" -l out -d 'Output folder; `-` writes the PNG bytes to stdout' -r -F
complete -c gen -n "__fish_gen_needs_command" -l device -d 'auto, cpu, cuda[:N] or metal' -r
complete -c gen -n "__fish_gen_needs_command" -l dtype -r -f -a "f32\t''
f16\t''
bf16\t''"
complete -c gen -n "__fish_gen_needs_command" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_needs_command" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_needs_command" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_needs_command" -l no-auto-lora -d 'Do not add LoRAs automatically'
complete -c gen -n "__fish_gen_needs_command" -l dry-run -d 'Print the plan only'
complete -c gen -n "__fish_gen_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gen -n "__fish_gen_needs_command" -s V -l version -d 'Print version'
complete -c gen -n "__fish_gen_needs_command" -a "generate" -d 'Generate images from a prompt (the default command)'
complete -c gen -n "__fish_gen_needs_command" -a "explain" -d 'Show the plan for a prompt without rendering (same as --dry-run)'
complete -c gen -n "__fish_gen_needs_command" -a "index" -d 'Build or update the catalogue of model files'
complete -c gen -n "__fish_gen_needs_command" -a "models" -d 'List and inspect catalogued models'
complete -c gen -n "__fish_gen_needs_command" -a "presets" -d 'Per-model generation presets'
complete -c gen -n "__fish_gen_needs_command" -a "system" -d 'This machine: CPU, RAM, GPUs, model roots and catalogue'
complete -c gen -n "__fish_gen_needs_command" -a "completions" -d 'Print a shell completion script'
complete -c gen -n "__fish_gen_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand generate" -l style -d 'Style: realistic, anime, artistic, 3d, ... (free text)' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l quality -d 'Quality level of the preset' -r -f -a "fast\t''
balanced\t''
high\t''
ultra\t''"
complete -c gen -n "__fish_gen_using_subcommand generate" -l num-images -d 'Images per prompt' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l seed -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l steps -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l cfg -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l sampler -d 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l scheduler -d 'Scheduler (normal, karras, exponential, sgm_uniform, simple)' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l width -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l height -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l negative -d 'Negative prompt' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l model -d 'Checkpoint by catalogue name, hash or file path' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l lora -d 'LoRA by name, hash or path, with an optional weight (repeatable)' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l vae -d 'VAE by name or path' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l refiner -d 'SDXL refiner by name, hash or path, or `none` to render without the preset\'s' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l init-image -d 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l denoise -d 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l clip-skip -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l weighting -d 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)' -r -f -a "comfyui\t'ComfyUI\'s: `(word)`, `(word:1.2)`; `[word]` is plain text'
a1111\t'A1111\'s: also `[word]`, which divides the weight by 1.1'"
complete -c gen -n "__fish_gen_using_subcommand generate" -l out -d 'Output folder; `-` writes the PNG bytes to stdout' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l device -d 'auto, cpu, cuda[:N] or metal' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l dtype -r -f -a "f32\t''
f16\t''
bf16\t''"
complete -c gen -n "__fish_gen_using_subcommand generate" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand generate" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand generate" -l no-auto-lora -d 'Do not add LoRAs automatically'
complete -c gen -n "__fish_gen_using_subcommand generate" -l dry-run -d 'Print the plan only'
complete -c gen -n "__fish_gen_using_subcommand generate" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand generate" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand generate" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand generate" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gen -n "__fish_gen_using_subcommand explain" -l style -d 'Style: realistic, anime, artistic, 3d, ... (free text)' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l quality -d 'Quality level of the preset' -r -f -a "fast\t''
balanced\t''
high\t''
ultra\t''"
complete -c gen -n "__fish_gen_using_subcommand explain" -l num-images -d 'Images per prompt' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l seed -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l steps -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l cfg -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l sampler -d 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l scheduler -d 'Scheduler (normal, karras, exponential, sgm_uniform, simple)' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l width -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l height -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l negative -d 'Negative prompt' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l model -d 'Checkpoint by catalogue name, hash or file path' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l lora -d 'LoRA by name, hash or path, with an optional weight (repeatable)' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l vae -d 'VAE by name or path' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l refiner -d 'SDXL refiner by name, hash or path, or `none` to render without the preset\'s' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l init-image -d 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l denoise -d 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l clip-skip -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l weighting -d 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)' -r -f -a "comfyui\t'ComfyUI\'s: `(word)`, `(word:1.2)`; `[word]` is plain text'
a1111\t'A1111\'s: also `[word]`, which divides the weight by 1.1'"
complete -c gen -n "__fish_gen_using_subcommand explain" -l out -d 'Output folder; `-` writes the PNG bytes to stdout' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l device -d 'auto, cpu, cuda[:N] or metal' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l dtype -r -f -a "f32\t''
f16\t''
bf16\t''"
complete -c gen -n "__fish_gen_using_subcommand explain" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand explain" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand explain" -l no-auto-lora -d 'Do not add LoRAs automatically'
complete -c gen -n "__fish_gen_using_subcommand explain" -l dry-run -d 'Print the plan only'
complete -c gen -n "__fish_gen_using_subcommand explain" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand explain" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand explain" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand explain" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gen -n "__fish_gen_using_subcommand index" -l threads -d 'Hashing threads [default: all cores]' -r
complete -c gen -n "__fish_gen_using_subcommand index" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand index" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand index" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand index" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand index" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand index" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand index" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand index" -l no-fetch -d 'Do not ask CivitAI about new files'
complete -c gen -n "__fish_gen_using_subcommand index" -l refresh -d 'Ask CivitAI again, even about files it has answered for'
complete -c gen -n "__fish_gen_using_subcommand index" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand index" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand index" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand index" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand index" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List catalogued files'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
complete -c gen -n "__fish_gen_using_subcommand models; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l kind -d 'Only this kind (checkpoint, diffusion_model, lora, vae, text_encoder, ...)' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l base -d 'Only this base model (sd_1_5, sdxl, flux_dev, ...)' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l all -d 'Include files that have vanished from disk'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "list" -d 'List catalogued files'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
complete -c gen -n "__fish_gen_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "populate" -d 'Store one preset row per (model, level) from the base presets'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "list" -d 'List stored presets'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "show" -d 'Show the presets of one model'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "set" -d 'Set parameters of one model\'s level'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "reset" -d 'Reset a model\'s presets (one level or all) to the base preset'
complete -c gen -n "__fish_gen_using_subcommand presets; and not __fish_seen_subcommand_from populate list show set reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l base -d 'Only models of this base' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l force -d 'Rebuild rows that exist'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from populate" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l model -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "populate" -d 'Store one preset row per (model, level) from the base presets'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "list" -d 'List stored presets'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the presets of one model'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set parameters of one model\'s level'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Reset a model\'s presets (one level or all) to the base preset'
complete -c gen -n "__fish_gen_using_subcommand presets; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand system" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand system" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand system" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand system" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand system" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand system" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand system" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand system" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand system" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand system" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand system" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand system" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand completions" -l comfyui -d 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read' -r -F
complete -c gen -n "__fish_gen_using_subcommand completions" -l models -d 'A models root laid out like ComfyUI\'s models/ (repeatable)' -r -F
complete -c gen -n "__fish_gen_using_subcommand completions" -l db -d 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]' -r -F
complete -c gen -n "__fish_gen_using_subcommand completions" -l config -d 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]' -r -F
complete -c gen -n "__fish_gen_using_subcommand completions" -l civitai-url -d 'CivitAI\'s base URL [default: https://civitai.com]' -r
complete -c gen -n "__fish_gen_using_subcommand completions" -l ollama-url -d 'A local Ollama server used to analyse prompts' -r
complete -c gen -n "__fish_gen_using_subcommand completions" -l ollama-model -d 'The Ollama model to ask' -r
complete -c gen -n "__fish_gen_using_subcommand completions" -l offline -d 'No network at all'
complete -c gen -n "__fish_gen_using_subcommand completions" -l json -d 'Machine-readable JSON on stdout'
complete -c gen -n "__fish_gen_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr'
complete -c gen -n "__fish_gen_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (repeat for more)'
complete -c gen -n "__fish_gen_using_subcommand completions" -s h -l help -d 'Print help'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "generate" -d 'Generate images from a prompt (the default command)'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "explain" -d 'Show the plan for a prompt without rendering (same as --dry-run)'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "index" -d 'Build or update the catalogue of model files'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "models" -d 'List and inspect catalogued models'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "presets" -d 'Per-model generation presets'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "system" -d 'This machine: CPU, RAM, GPUs, model roots and catalogue'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c gen -n "__fish_gen_using_subcommand help; and not __fish_seen_subcommand_from generate explain index models presets system completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "list" -d 'List catalogued files'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "show" -d 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from presets" -f -a "populate" -d 'Store one preset row per (model, level) from the base presets'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from presets" -f -a "list" -d 'List stored presets'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from presets" -f -a "show" -d 'Show the presets of one model'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from presets" -f -a "set" -d 'Set parameters of one model\'s level'
complete -c gen -n "__fish_gen_using_subcommand help; and __fish_seen_subcommand_from presets" -f -a "reset" -d 'Reset a model\'s presets (one level or all) to the base preset'
