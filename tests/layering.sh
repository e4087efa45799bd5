#!/usr/bin/env bash
# The layering of README's "Architecture" table, checked on the sources: every
# `#include "X/..."` in src/M/ must name M itself or a module M may use, and a
# third-party header may appear only in the modules that own that library.
# Also two naming rules the layering leans on: a module-private gcs_M__NAME is
# used only in src/M/, and an _init function never allocates.
# Prints file:line for each violation and fails. Usage: layering.sh [SRC_DIR]
# (the link check in CMakeLists.txt catches calls; this catches includes,
# including those of inline functions and macros that never reach the linker).
set -u
src=${1:-$(cd "$(dirname "$0")/../src" && pwd)}

# module -> the modules below it that it may include (itself always allowed)
declare -A allow=(
    [core]=""
    [http]="core"
    [genesys]="core http"
    [mapping]="core"
    [plan]="core mapping"
    [store]="core"
    [engine]="core http genesys mapping plan store"
    [service]="core http genesys mapping plan store engine"
    [cli]="core http genesys mapping plan store engine service"
    [emulator]="core http"
)
# third-party header prefix -> the modules that may include it
declare -A owner=(
    [curl/]="http"
    [microhttpd.h]="http"
    [sqlite3.h]="store"
    [libpq-fe.h]="store"
    [yaml.h]="mapping"
    [csv.h]="mapping"
    [yajl/]="genesys"
    [systemd/]="cli"
)

bad=0
for dir in "$src"/*/; do
    m=$(basename "$dir")
    if [ -z "${allow[$m]+set}" ]; then
        echo "$dir: module '$m' is not in the layering table (tests/layering.sh)"
        bad=1
        continue
    fi
    while IFS=: read -r file line text; do
        x=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^/"]+)\/.*/\1/' <<<"$text")
        [ "$x" = "$m" ] && continue
        case " ${allow[$m]} " in *" $x "*) continue ;; esac
        echo "$file:$line: $m may not include $x ($text)"
        bad=1
    done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^/"]+/' "$dir"*.[ch] 2>/dev/null)
    for lib in "${!owner[@]}"; do
        case " ${owner[$lib]} " in *" $m "*) continue ;; esac
        while IFS=: read -r file line text; do
            echo "$file:$line: $m may not include <$lib> (owned by ${owner[$lib]})"
            bad=1
        done < <(grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*<${lib//./\\.}" "$dir"*.[ch] 2>/dev/null)
    done
done
# A module-private name (gcs_M__NAME: shared between M's files, declared in
# its internal header) is used nowhere but in src/M/.
while IFS=: read -r file line text; do
    m=$(basename "$(dirname "$file")")
    for x in $(grep -oE '\bgcs_[a-z]+__' <<<"$text" | sort -u); do
        x=${x#gcs_}
        x=${x%__}
        [ "$x" = "$m" ] && continue
        echo "$file:$line: $m uses a name private to $x ($text)"
        bad=1
    done
done < <(grep -HnE '\bgcs_[a-z]+__[a-z]' "$src"/*/*.[ch] 2>/dev/null)

# An _init function only fills in a struct: it never allocates (what
# allocates is _new, _begin, _open, ..., and has a _release or _free).
# Checked on the direct calls to an allocator in the body of each _init.
while IFS=: read -r file line text; do
    echo "$file:$line: an _init function allocates ($text)"
    bad=1
done < <(awk '
    /^[a-z].*[a-z0-9]_init\(/ && !/;[[:space:]]*$/ { in_init = 1; name = $0; next }
    in_init && /^}/ { in_init = 0 }
    in_init && /(^|[^a-z_])(malloc|calloc|realloc|strdup|strndup|json_object|json_array|json_pack|json_string)[[:space:]]*\(/ {
        print FILENAME ":" FNR ":" $0
    }' "$src"/*/*.c 2>/dev/null)

[ "$bad" = 0 ] && echo "layering: ok"
exit "$bad"
