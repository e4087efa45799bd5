# The part of the completion that is not generated (packaging/completion/complete.bash).

# Offers the words of $2 (or files, for FILE) that start with $1.
_gcscim_offer() {
    local cur=$1 what=$2
    if [ "$what" = FILE ]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [ "$what" != = ]; then
        COMPREPLY=($(compgen -W "$what" -- "$cur"))
    fi
}

_gcscim() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    local command= operands=0 i word
    COMPREPLY=()
    # The command is the first word that is neither an option nor an option's value;
    # the words after it that are neither are its operands.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -* ]]; then
            [ -n "$(_gcscim_value "$command" "$word")" ] && ((i++))
        elif [ -z "$command" ]; then
            command=$word
        else
            ((operands++))
        fi
    done
    if [[ $prev == -* ]] && [ -n "$(_gcscim_value "$command" "$prev")" ]; then
        _gcscim_offer "$cur" "$(_gcscim_value "$command" "$prev")"
    elif [[ $cur == -* ]]; then
        _gcscim_offer "$cur" "$(_gcscim_command_options "$command") $_gcscim_global_options"
    elif [ -z "$command" ]; then
        _gcscim_offer "$cur" "$_gcscim_commands"
    elif [ "$operands" -eq 0 ] && [ -n "$(_gcscim_operand "$command")" ]; then
        _gcscim_offer "$cur" "$(_gcscim_operand "$command")"
    fi
    return 0
}

_gcscim_emulator() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if [[ $prev == -* ]] && [ -n "$(_gcscim_emulator_value "$prev")" ]; then
        _gcscim_offer "$cur" "$(_gcscim_emulator_value "$prev")"
    elif [[ $cur == -* ]]; then
        _gcscim_offer "$cur" "$_gcscim_emulator_options"
    fi
    return 0
}

complete -F _gcscim gcscim
complete -F _gcscim_emulator gcscim-emulator
