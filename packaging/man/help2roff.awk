# Turns the text of `gcscim help COMMAND`, `gcscim --help` or `gcscim-emulator --help`
# into a man page (roff, man macros), so that a page says exactly what the help says.
#
# Variables (awk -v): page (the page's name: gcscim-plan), version ("gcscim 0.1.0"),
# seealso (pages, comma-separated), files (a FILES section: "PATH\tTEXT" entries
# separated by "|").
#
# How the help is read: "Usage: ..." is the synopsis; the summary is the paragraph
# before it (gcscim --help), the "NAME - summary" line after it (gcscim help NAME) or
# the line right under it (gcscim-emulator --help). Then, in the body: a line at column 0
# that ends in ':' after a blank line is a section heading; "  TERM  description" is an
# item, its description continued on the lines indented deeper; any other line is
# running text; blank lines end paragraphs.

function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.']/) s = "\\&" s
    return s
}

function flush_item() {
    if (item_term == "") return
    description_heading()
    print ".TP"
    print "\\fB" esc(item_term) "\\fR"
    print esc(item_text)
    item_term = ""; item_text = ""
    after_item = 1; printed = 1
}

# DESCRIPTION is printed only when something comes before the help's first heading.
function description_heading() {
    if (!description_pending) return
    print ".SH DESCRIPTION"
    description_pending = 0
}

function section_start(title) {
    flush_item()
    description_pending = 0
    print ".SH \"" esc(title) "\""
    section = title; printed = 0; pending_pp = 0; after_item = 0
}

function text(line) {
    flush_item()
    description_heading()
    if (printed && (pending_pp || after_item)) print ".PP"
    print esc(line)
    printed = 1; pending_pp = 0; after_item = 0
}

function start_body() {
    print ".SH NAME"
    print esc(page) " \\- " esc(summary)
    print ".SH SYNOPSIS"
    print ".B " esc(usage)
    section = "DESCRIPTION"; description_pending = 1; printed = 0; pending_pp = 0
    state = "body"; blank = 1
}

BEGIN {
    state = "start"; summary = ""; item_term = ""; seen_blank = 0
    print ".\\\" Generated from the program's help by packaging/man/gen-man: edit the help, not this."
    print ".TH \"" esc(toupper(page)) "\" \"1\" \"\" \"" esc(version) "\" \"User Commands\""
    # identifiers (GENESYSCLOUD_OAUTHCLIENT_SECRET, paths) are never hyphenated
    print ".nh"
    print ".ad l"
}

state == "start" {
    if ($0 ~ /^Usage: /) { usage = substr($0, 8); state = "after-usage"; next }
    if ($0 == "") next
    line = $0
    if (summary == "") sub(/^[^ ]+ [0-9][^ ]* - /, "", line)
    summary = summary (summary == "" ? "" : " ") line
    next
}

state == "after-usage" {
    if ($0 == "") { seen_blank = 1; next }
    if (summary == "" && $0 ~ /^[a-z][a-z-]* - /) { sub(/^[^ ]+ - /, ""); summary = $0; next }
    if (summary == "" && !seen_blank) { summary = $0; next }
    start_body()
    pending_pp = 0
}

state == "body" {
    if ($0 == "") { flush_item(); pending_pp = 1; blank = 1; next }
    if (blank && $0 ~ /^[^ ].*:$/) {
        title = substr($0, 1, length($0) - 1); paren = ""
        if (match(title, / \(.*\)$/)) {
            paren = substr(title, RSTART + 2, RLENGTH - 3)
            title = substr(title, 1, RSTART - 1)
        }
        section_start(toupper(title))
        if (paren != "") text(toupper(substr(paren, 1, 1)) substr(paren, 2) ".")
        pending_pp = 1; blank = 0
        next
    }
    blank = 0
    if ($0 ~ /^  [^ ]/ && match(substr($0, 3), /[^ ]  +[^ ]/)) {
        flush_item()
        rest = substr($0, 3)
        match(rest, /  +/)
        term = substr(rest, 1, RSTART - 1)
        if (term ~ /^-/ && section == "DESCRIPTION") section_start("OPTIONS")
        item_term = term
        item_text = substr(rest, RSTART + RLENGTH)
        next
    }
    if ($0 ~ /^   +[^ ]/ && item_term != "") {
        line = $0; sub(/^ +/, "", line)
        item_text = item_text " " line
        next
    }
    line = $0; sub(/^ +/, "", line)
    text(line)
}

END {
    if (state != "body") start_body()
    flush_item()
    if (files != "") {
        section_start("FILES")
        n = split(files, f, "|")
        for (i = 1; i <= n; i++) {
            split(f[i], kv, "\t")
            print ".TP"; print "\\fI" esc(kv[1]) "\\fR"; print esc(kv[2])
        }
    }
    if (seealso != "") {
        section_start("SEE ALSO")
        n = split(seealso, s, ",")
        for (i = 1; i <= n; i++) print ".BR " esc(s[i]) " (1)" (i < n ? "," : "")
    }
}
