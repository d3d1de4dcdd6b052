
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'gen' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'gen'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'gen' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--style', '--style', [CompletionResultType]::ParameterName, 'Style: realistic, anime, artistic, 3d, ... (free text)')
            [CompletionResult]::new('--quality', '--quality', [CompletionResultType]::ParameterName, 'Quality level of the preset')
            [CompletionResult]::new('--num-images', '--num-images', [CompletionResultType]::ParameterName, 'Images per prompt')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'seed')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'steps')
            [CompletionResult]::new('--cfg', '--cfg', [CompletionResultType]::ParameterName, 'cfg')
            [CompletionResult]::new('--sampler', '--sampler', [CompletionResultType]::ParameterName, 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)')
            [CompletionResult]::new('--scheduler', '--scheduler', [CompletionResultType]::ParameterName, 'Scheduler (normal, karras, exponential, sgm_uniform, simple)')
            [CompletionResult]::new('--width', '--width', [CompletionResultType]::ParameterName, 'width')
            [CompletionResult]::new('--height', '--height', [CompletionResultType]::ParameterName, 'height')
            [CompletionResult]::new('--negative', '--negative', [CompletionResultType]::ParameterName, 'Negative prompt')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Checkpoint by catalogue name, hash or file path')
            [CompletionResult]::new('--lora', '--lora', [CompletionResultType]::ParameterName, 'LoRA by name, hash or path, with an optional weight (repeatable)')
            [CompletionResult]::new('--vae', '--vae', [CompletionResultType]::ParameterName, 'VAE by name or path')
            [CompletionResult]::new('--refiner', '--refiner', [CompletionResultType]::ParameterName, 'SDXL refiner by name, hash or path, or `none` to render without the preset''s')
            [CompletionResult]::new('--init-image', '--init-image', [CompletionResultType]::ParameterName, 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)')
            [CompletionResult]::new('--denoise', '--denoise', [CompletionResultType]::ParameterName, 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)')
            [CompletionResult]::new('--clip-skip', '--clip-skip', [CompletionResultType]::ParameterName, 'clip-skip')
            [CompletionResult]::new('--weighting', '--weighting', [CompletionResultType]::ParameterName, 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output folder; `-` writes the PNG bytes to stdout')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda[:N] or metal')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'dtype')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--no-auto-lora', '--no-auto-lora', [CompletionResultType]::ParameterName, 'Do not add LoRAs automatically')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Generate images from a prompt (the default command)')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show the plan for a prompt without rendering (same as --dry-run)')
            [CompletionResult]::new('index', 'index', [CompletionResultType]::ParameterValue, 'Build or update the catalogue of model files')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List and inspect catalogued models')
            [CompletionResult]::new('presets', 'presets', [CompletionResultType]::ParameterValue, 'Per-model generation presets')
            [CompletionResult]::new('system', 'system', [CompletionResultType]::ParameterValue, 'This machine: CPU, RAM, GPUs, model roots and catalogue')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;generate' {
            [CompletionResult]::new('--style', '--style', [CompletionResultType]::ParameterName, 'Style: realistic, anime, artistic, 3d, ... (free text)')
            [CompletionResult]::new('--quality', '--quality', [CompletionResultType]::ParameterName, 'Quality level of the preset')
            [CompletionResult]::new('--num-images', '--num-images', [CompletionResultType]::ParameterName, 'Images per prompt')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'seed')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'steps')
            [CompletionResult]::new('--cfg', '--cfg', [CompletionResultType]::ParameterName, 'cfg')
            [CompletionResult]::new('--sampler', '--sampler', [CompletionResultType]::ParameterName, 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)')
            [CompletionResult]::new('--scheduler', '--scheduler', [CompletionResultType]::ParameterName, 'Scheduler (normal, karras, exponential, sgm_uniform, simple)')
            [CompletionResult]::new('--width', '--width', [CompletionResultType]::ParameterName, 'width')
            [CompletionResult]::new('--height', '--height', [CompletionResultType]::ParameterName, 'height')
            [CompletionResult]::new('--negative', '--negative', [CompletionResultType]::ParameterName, 'Negative prompt')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Checkpoint by catalogue name, hash or file path')
            [CompletionResult]::new('--lora', '--lora', [CompletionResultType]::ParameterName, 'LoRA by name, hash or path, with an optional weight (repeatable)')
            [CompletionResult]::new('--vae', '--vae', [CompletionResultType]::ParameterName, 'VAE by name or path')
            [CompletionResult]::new('--refiner', '--refiner', [CompletionResultType]::ParameterName, 'SDXL refiner by name, hash or path, or `none` to render without the preset''s')
            [CompletionResult]::new('--init-image', '--init-image', [CompletionResultType]::ParameterName, 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)')
            [CompletionResult]::new('--denoise', '--denoise', [CompletionResultType]::ParameterName, 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)')
            [CompletionResult]::new('--clip-skip', '--clip-skip', [CompletionResultType]::ParameterName, 'clip-skip')
            [CompletionResult]::new('--weighting', '--weighting', [CompletionResultType]::ParameterName, 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output folder; `-` writes the PNG bytes to stdout')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda[:N] or metal')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'dtype')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--no-auto-lora', '--no-auto-lora', [CompletionResultType]::ParameterName, 'Do not add LoRAs automatically')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan only')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gen;explain' {
            [CompletionResult]::new('--style', '--style', [CompletionResultType]::ParameterName, 'Style: realistic, anime, artistic, 3d, ... (free text)')
            [CompletionResult]::new('--quality', '--quality', [CompletionResultType]::ParameterName, 'Quality level of the preset')
            [CompletionResult]::new('--num-images', '--num-images', [CompletionResultType]::ParameterName, 'Images per prompt')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'seed')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'steps')
            [CompletionResult]::new('--cfg', '--cfg', [CompletionResultType]::ParameterName, 'cfg')
            [CompletionResult]::new('--sampler', '--sampler', [CompletionResultType]::ParameterName, 'Sampler, ComfyUI or A1111 name (euler, dpmpp_2m, "DPM++ 2M Karras", ...)')
            [CompletionResult]::new('--scheduler', '--scheduler', [CompletionResultType]::ParameterName, 'Scheduler (normal, karras, exponential, sgm_uniform, simple)')
            [CompletionResult]::new('--width', '--width', [CompletionResultType]::ParameterName, 'width')
            [CompletionResult]::new('--height', '--height', [CompletionResultType]::ParameterName, 'height')
            [CompletionResult]::new('--negative', '--negative', [CompletionResultType]::ParameterName, 'Negative prompt')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Checkpoint by catalogue name, hash or file path')
            [CompletionResult]::new('--lora', '--lora', [CompletionResultType]::ParameterName, 'LoRA by name, hash or path, with an optional weight (repeatable)')
            [CompletionResult]::new('--vae', '--vae', [CompletionResultType]::ParameterName, 'VAE by name or path')
            [CompletionResult]::new('--refiner', '--refiner', [CompletionResultType]::ParameterName, 'SDXL refiner by name, hash or path, or `none` to render without the preset''s')
            [CompletionResult]::new('--init-image', '--init-image', [CompletionResultType]::ParameterName, 'img2img: start from this PNG, JPEG or WebP (its size, unless --width/--height)')
            [CompletionResult]::new('--denoise', '--denoise', [CompletionResultType]::ParameterName, 'How much of the init image is redrawn, 0.0 to 1.0 (default 0.75 with --init-image)')
            [CompletionResult]::new('--clip-skip', '--clip-skip', [CompletionResultType]::ParameterName, 'clip-skip')
            [CompletionResult]::new('--weighting', '--weighting', [CompletionResultType]::ParameterName, 'Prompt weighting: comfyui (default, `[word]` is text) or a1111 (`[word]` weighs 1/1.1)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Output folder; `-` writes the PNG bytes to stdout')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda[:N] or metal')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'dtype')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--no-auto-lora', '--no-auto-lora', [CompletionResultType]::ParameterName, 'Do not add LoRAs automatically')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan only')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gen;index' {
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: all cores]')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--no-fetch', '--no-fetch', [CompletionResultType]::ParameterName, 'Do not ask CivitAI about new files')
            [CompletionResult]::new('--refresh', '--refresh', [CompletionResultType]::ParameterName, 'Ask CivitAI again, even about files it has answered for')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;models' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List catalogued files')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;models;list' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only this kind (checkpoint, diffusion_model, lora, vae, text_encoder, ...)')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Only this base model (sd_1_5, sdxl, flux_dev, ...)')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include files that have vanished from disk')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;models;show' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;models;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List catalogued files')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;models;help;list' {
            break
        }
        'gen;models;help;show' {
            break
        }
        'gen;models;help;help' {
            break
        }
        'gen;presets' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('populate', 'populate', [CompletionResultType]::ParameterValue, 'Store one preset row per (model, level) from the base presets')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored presets')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the presets of one model')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set parameters of one model''s level')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset a model''s presets (one level or all) to the base preset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;presets;populate' {
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Only models of this base')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Rebuild rows that exist')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;presets;list' {
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'model')
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;presets;show' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;presets;set' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;presets;reset' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;presets;help' {
            [CompletionResult]::new('populate', 'populate', [CompletionResultType]::ParameterValue, 'Store one preset row per (model, level) from the base presets')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored presets')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the presets of one model')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set parameters of one model''s level')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset a model''s presets (one level or all) to the base preset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;presets;help;populate' {
            break
        }
        'gen;presets;help;list' {
            break
        }
        'gen;presets;help;show' {
            break
        }
        'gen;presets;help;set' {
            break
        }
        'gen;presets;help;reset' {
            break
        }
        'gen;presets;help;help' {
            break
        }
        'gen;system' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;completions' {
            [CompletionResult]::new('--comfyui', '--comfyui', [CompletionResultType]::ParameterName, 'A ComfyUI install: its models/ folder and extra_model_paths.yaml are read')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'A models root laid out like ComfyUI''s models/ (repeatable)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The catalogue database [default: $XDG_DATA_HOME/gen/catalog.sqlite]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The config file [default: $XDG_CONFIG_HOME/gen/config.toml]')
            [CompletionResult]::new('--civitai-url', '--civitai-url', [CompletionResultType]::ParameterName, 'CivitAI''s base URL [default: https://civitai.com]')
            [CompletionResult]::new('--ollama-url', '--ollama-url', [CompletionResultType]::ParameterName, 'A local Ollama server used to analyse prompts')
            [CompletionResult]::new('--ollama-model', '--ollama-model', [CompletionResultType]::ParameterName, 'The Ollama model to ask')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No network at all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gen;help' {
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Generate images from a prompt (the default command)')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show the plan for a prompt without rendering (same as --dry-run)')
            [CompletionResult]::new('index', 'index', [CompletionResultType]::ParameterValue, 'Build or update the catalogue of model files')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List and inspect catalogued models')
            [CompletionResult]::new('presets', 'presets', [CompletionResultType]::ParameterValue, 'Per-model generation presets')
            [CompletionResult]::new('system', 'system', [CompletionResultType]::ParameterValue, 'This machine: CPU, RAM, GPUs, model roots and catalogue')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gen;help;generate' {
            break
        }
        'gen;help;explain' {
            break
        }
        'gen;help;index' {
            break
        }
        'gen;help;models' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List catalogued files')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one model by catalogue id, name, hash (SHA-256, AutoV2, AutoV3) or path')
            break
        }
        'gen;help;models;list' {
            break
        }
        'gen;help;models;show' {
            break
        }
        'gen;help;presets' {
            [CompletionResult]::new('populate', 'populate', [CompletionResultType]::ParameterValue, 'Store one preset row per (model, level) from the base presets')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored presets')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the presets of one model')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set parameters of one model''s level')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Reset a model''s presets (one level or all) to the base preset')
            break
        }
        'gen;help;presets;populate' {
            break
        }
        'gen;help;presets;list' {
            break
        }
        'gen;help;presets;show' {
            break
        }
        'gen;help;presets;set' {
            break
        }
        'gen;help;presets;reset' {
            break
        }
        'gen;help;system' {
            break
        }
        'gen;help;completions' {
            break
        }
        'gen;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
