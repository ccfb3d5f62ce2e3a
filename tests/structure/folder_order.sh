#!/usr/bin/env bash
# The engine's folders form a DAG (DESIGN.md section 1): a file may include headers of its
# own folder and of folders below it in this order, never above. The order is the
# dependency direction cli -> lua -> job -> {worker, media} -> {sched, enc, mux, av1} ->
# core, made total so that one line states it:
ORDER=(core av1 mux sched enc media worker job lua cli)
# av1/, mux/ and sched/ depend on core/ only (unit-testable and fuzzable alone; the
# scheduler knows no worker, pump, encoder or job).
declare -A ONLY=([av1]=core [mux]=core [sched]=core)
# media/ decodes and publishes frames through narrow interfaces (media/pump.h, per_title.h):
# it knows no scheduler and writes no container; job/ wires it to both.
declare -A NEVER=([media]="sched mux")
# Only lua/ and cli/ (which starts the Lua state) include the Lua headers.
LUA_FOLDERS=" lua cli "
#
# Usage: tests/structure/folder_order.sh [ENGINE_DIR]; exits 1 listing every violation.
set -u
engine=${1:-$(cd "$(dirname "$0")/../../engine" && pwd)}
declare -A rank
for i in "${!ORDER[@]}"; do rank[${ORDER[$i]}]=$i; done

bad=0
checked=0
for dir in "$engine"/*/; do
  folder=$(basename "$dir")
  [ "$folder" = include ] && continue
  if [ -z "${rank[$folder]+x}" ]; then
    echo "engine/$folder/: a folder the order does not name; add it to ORDER in $0"
    bad=1
    continue
  fi
  for f in "$dir"*.c "$dir"*.h; do
    [ -e "$f" ] || continue
    checked=$((checked + 1))
    while IFS=: read -r line text; do
      inc=$(sed 's/.*"\(.*\)".*/\1/' <<< "$text")
      target=${inc%%/*}
      if [ -n "${rank[$target]+x}" ] && [ "${rank[$target]}" -gt "${rank[$folder]}" ]; then
        echo "engine/$folder/$(basename "$f"):$line: includes \"$inc\" ($target/ is above $folder/)"
        bad=1
      elif [ -n "${ONLY[$folder]+x}" ] && [ -n "${rank[$target]+x}" ] &&
           [ "$target" != "$folder" ] && [ "$target" != "${ONLY[$folder]}" ]; then
        echo "engine/$folder/$(basename "$f"):$line: includes \"$inc\" ($folder/ may include ${ONLY[$folder]}/ only)"
        bad=1
      elif [[ " ${NEVER[$folder]:-} " == *" $target "* ]]; then
        echo "engine/$folder/$(basename "$f"):$line: includes \"$inc\" ($folder/ may not include $target/)"
        bad=1
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$f")
    if [[ "$LUA_FOLDERS" != *" $folder "* ]] &&
       grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](lua|lauxlib|lualib|luajit)\.h' "$f"; then
      echo "engine/$folder/$(basename "$f"): includes the Lua headers (only lua/ and cli/ may)"
      bad=1
    fi
  done
done
if [ "$checked" -lt 20 ]; then
  echo "only $checked files found under $engine: wrong directory?"
  exit 1
fi
[ $bad = 0 ] && echo "ok: $checked files, folder order ${ORDER[*]}"
exit $bad
