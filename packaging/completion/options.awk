# Reads a help text (`gcscim help COMMAND` without its global options, `gcscim --help`'s
# global options, or `gcscim-emulator --help`) and prints one line per long option it
# names, "OPTION KIND", where KIND says what follows the option on the command line:
#   -            nothing (a switch)
#   =            a value, with nothing to offer for it (N, KEY, URL, SEQ:HASH)
#   FILE         a file name
#   a|b|c        one of these words
# An option is read wherever the help names it: in the option items ("  --out FILE  ...")
# and in running text ("--state pending|running|done|dead|dropped"). A lowercase word
# after an option in running text ("--out saves the plan") says nothing about it.

function kind_of(arg, description,    d) {
    if (arg == "") return "-"
    if (arg ~ /^[a-z0-9_]+(\|[a-z0-9_]+)+$/) return arg
    if (arg ~ /FILE|\.json$|\.csv$/) return "FILE"
    if (arg ~ /[A-Z]/) {
        # "--log-level LEVEL  debug, info, warn, error, off": the description lists the words
        d = description
        gsub(/ \([^)]*\)/, "", d)
        if (d ~ /^[a-z]+(, [a-z]+)+$/) { gsub(/, /, "|", d); return d }
        if (d ~ /^[a-z]+ or [a-z]+$/) { sub(/ or /, "|", d); return d }
        return "="
    }
    return ""
}

# A kind from one mention replaces a weaker one: words > FILE > = > -.
function rank(k) { return k == "" ? 0 : k == "-" ? 1 : k == "=" ? 2 : k == "FILE" ? 3 : 4 }

function note(opt, k) {
    if (!(opt in kind)) order[++n] = opt
    if (!(opt in kind) || rank(k) > rank(kind[opt])) kind[opt] = k
}

{
    line = $0
    description = ""
    # an option item: its term, then two spaces, then its description
    if (match(line, /^  +-[^ ].*[^ ]  +[^ ]/)) {
        term = line; sub(/^ +/, "", term)
        match(term, /  +/)
        description = substr(term, RSTART + RLENGTH)
        term = substr(term, 1, RSTART - 1)
        sub(/^-[a-zA-Z], /, "", term)     # "-h, --help"
        if (term ~ /^--[a-z]/) {
            opt = term; sub(/ .*/, "", opt)
            arg = term; if (!sub(/^[^ ]+ /, "", arg)) arg = ""
            note(opt, kind_of(arg, description))
        }
        line = description
    }
    sub(/^ +/, "", line)
    text = text " " line
}

END {
    # Running text is read as one line: "--state" may end a line, its words begin the next.
    gsub(/  +/, " ", text)
    while (match(text, /--[a-z][a-z0-9-]*( [^- ,;()\[\]][^ ,;()\[\]]*)?/)) {
        mention = substr(text, RSTART, RLENGTH)
        text = substr(text, RSTART + RLENGTH)
        opt = mention; sub(/ .*/, "", opt)
        arg = mention; if (!sub(/^[^ ]+ /, "", arg)) arg = ""
        k = kind_of(arg, "")
        if (k != "" && k != "-") note(opt, k)
        else if (!(opt in kind)) note(opt, "")
    }
    for (i = 1; i <= n; i++) print order[i], (kind[order[i]] == "" ? "-" : kind[order[i]])
}
