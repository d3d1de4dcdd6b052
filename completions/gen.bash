_gen() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="gen"
                ;;
            gen,completions)
                cmd="gen__subcmd__completions"
                ;;
            gen,explain)
                cmd="gen__subcmd__explain"
                ;;
            gen,generate)
                cmd="gen__subcmd__generate"
                ;;
            gen,help)
                cmd="gen__subcmd__help"
                ;;
            gen,index)
                cmd="gen__subcmd__index"
                ;;
            gen,models)
                cmd="gen__subcmd__models"
                ;;
            gen,presets)
                cmd="gen__subcmd__presets"
                ;;
            gen,system)
                cmd="gen__subcmd__system"
                ;;
            gen__subcmd__help,completions)
                cmd="gen__subcmd__help__subcmd__completions"
                ;;
            gen__subcmd__help,explain)
                cmd="gen__subcmd__help__subcmd__explain"
                ;;
            gen__subcmd__help,generate)
                cmd="gen__subcmd__help__subcmd__generate"
                ;;
            gen__subcmd__help,help)
                cmd="gen__subcmd__help__subcmd__help"
                ;;
            gen__subcmd__help,index)
                cmd="gen__subcmd__help__subcmd__index"
                ;;
            gen__subcmd__help,models)
                cmd="gen__subcmd__help__subcmd__models"
                ;;
            gen__subcmd__help,presets)
                cmd="gen__subcmd__help__subcmd__presets"
                ;;
            gen__subcmd__help,system)
                cmd="gen__subcmd__help__subcmd__system"
                ;;
            gen__subcmd__help__subcmd__models,list)
                cmd="gen__subcmd__help__subcmd__models__subcmd__list"
                ;;
            gen__subcmd__help__subcmd__models,show)
                cmd="gen__subcmd__help__subcmd__models__subcmd__show"
                ;;
            gen__subcmd__help__subcmd__presets,list)
                cmd="gen__subcmd__help__subcmd__presets__subcmd__list"
                ;;
            gen__subcmd__help__subcmd__presets,populate)
                cmd="gen__subcmd__help__subcmd__presets__subcmd__populate"
                ;;
            gen__subcmd__help__subcmd__presets,reset)
                cmd="gen__subcmd__help__subcmd__presets__subcmd__reset"
                ;;
            gen__subcmd__help__subcmd__presets,set)
                cmd="gen__subcmd__help__subcmd__presets__subcmd__set"
                ;;
            gen__subcmd__help__subcmd__presets,show)
                cmd="gen__subcmd__help__subcmd__presets__subcmd__show"
                ;;
            gen__subcmd__models,help)
                cmd="gen__subcmd__models__subcmd__help"
                ;;
            gen__subcmd__models,list)
                cmd="gen__subcmd__models__subcmd__list"
                ;;
            gen__subcmd__models,show)
                cmd="gen__subcmd__models__subcmd__show"
                ;;
            gen__subcmd__models__subcmd__help,help)
                cmd="gen__subcmd__models__subcmd__help__subcmd__help"
                ;;
            gen__subcmd__models__subcmd__help,list)
                cmd="gen__subcmd__models__subcmd__help__subcmd__list"
                ;;
            gen__subcmd__models__subcmd__help,show)
                cmd="gen__subcmd__models__subcmd__help__subcmd__show"
                ;;
            gen__subcmd__presets,help)
                cmd="gen__subcmd__presets__subcmd__help"
                ;;
            gen__subcmd__presets,list)
                cmd="gen__subcmd__presets__subcmd__list"
                ;;
            gen__subcmd__presets,populate)
                cmd="gen__subcmd__presets__subcmd__populate"
                ;;
            gen__subcmd__presets,reset)
                cmd="gen__subcmd__presets__subcmd__reset"
                ;;
            gen__subcmd__presets,set)
                cmd="gen__subcmd__presets__subcmd__set"
                ;;
            gen__subcmd__presets,show)
                cmd="gen__subcmd__presets__subcmd__show"
                ;;
            gen__subcmd__presets__subcmd__help,help)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__help"
                ;;
            gen__subcmd__presets__subcmd__help,list)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__list"
                ;;
            gen__subcmd__presets__subcmd__help,populate)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__populate"
                ;;
            gen__subcmd__presets__subcmd__help,reset)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__reset"
                ;;
            gen__subcmd__presets__subcmd__help,set)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__set"
                ;;
            gen__subcmd__presets__subcmd__help,show)
                cmd="gen__subcmd__presets__subcmd__help__subcmd__show"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        gen)
            opts="-q -v -h -V --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --style --quality --num-images --seed --steps --cfg --sampler --scheduler --width --height --negative --model --lora --no-auto-lora --vae --refiner --init-image --denoise --clip-skip --weighting --out --dry-run --device --dtype --help --version generate explain index models presets system completions help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --style)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quality)
                    COMPREPLY=($(compgen -W "fast balanced high ultra" -- "${cur}"))
                    return 0
                    ;;
                --num-images)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --steps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cfg)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sampler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scheduler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --width)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --height)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --negative)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lora)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vae)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refiner)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --init-image)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --denoise)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --clip-skip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weighting)
                    COMPREPLY=($(compgen -W "comfyui a1111" -- "${cur}"))
                    return 0
                    ;;
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -W "f32 f16 bf16" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__completions)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help bash elvish fish powershell zsh"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__explain)
            opts="-q -v -h --style --quality --num-images --seed --steps --cfg --sampler --scheduler --width --height --negative --model --lora --no-auto-lora --vae --refiner --init-image --denoise --clip-skip --weighting --out --dry-run --device --dtype --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --style)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quality)
                    COMPREPLY=($(compgen -W "fast balanced high ultra" -- "${cur}"))
                    return 0
                    ;;
                --num-images)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --steps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cfg)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sampler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scheduler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --width)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --height)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --negative)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lora)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vae)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refiner)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --init-image)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --denoise)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --clip-skip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weighting)
                    COMPREPLY=($(compgen -W "comfyui a1111" -- "${cur}"))
                    return 0
                    ;;
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -W "f32 f16 bf16" -- "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__generate)
            opts="-q -v -h --style --quality --num-images --seed --steps --cfg --sampler --scheduler --width --height --negative --model --lora --no-auto-lora --vae --refiner --init-image --denoise --clip-skip --weighting --out --dry-run --device --dtype --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --style)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quality)
                    COMPREPLY=($(compgen -W "fast balanced high ultra" -- "${cur}"))
                    return 0
                    ;;
                --num-images)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --steps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cfg)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sampler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scheduler)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --width)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --height)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --negative)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lora)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vae)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refiner)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --init-image)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --denoise)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --clip-skip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weighting)
                    COMPREPLY=($(compgen -W "comfyui a1111" -- "${cur}"))
                    return 0
                    ;;
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -W "f32 f16 bf16" -- "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help)
            opts="generate explain index models presets system completions help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__completions)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__explain)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__generate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__index)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__models)
            opts="list show"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__models__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__models__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets)
            opts="populate list show set reset"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets__subcmd__populate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets__subcmd__reset)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets__subcmd__set)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__presets__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__help__subcmd__system)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__index)
            opts="-q -v -h --no-fetch --refresh --threads --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --threads)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help list show help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__help)
            opts="list show help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__help__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__help__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__list)
            opts="-q -v -h --kind --base --all --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --kind)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --base)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__models__subcmd__show)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help populate list show set reset help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help)
            opts="populate list show set reset help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__populate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__reset)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__set)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__help__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__list)
            opts="-q -v -h --model --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__populate)
            opts="-q -v -h --force --base --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --base)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__reset)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__set)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__presets__subcmd__show)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        gen__subcmd__system)
            opts="-q -v -h --comfyui --models --db --config --civitai-url --ollama-url --ollama-model --offline --json --quiet --verbose --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --comfyui)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --models)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --civitai-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ollama-model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _gen -o nosort -o bashdefault -o default gen
else
    complete -F _gen -o bashdefault -o default gen
fi
