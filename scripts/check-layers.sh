#!/usr/bin/env bash
# Checks that src/ keeps its layers (docs/ARCHITECTURE.md, "Layers"): every #include "..." of a
# file goes to its own folder or a folder below it, nothing but main.c includes server.h, and no
# file of lib/ or chat/ includes <uv.h> (they run without the loop: unit tests and fuzzers).
# Also fails on an include circle between files, or between modules (a .c with its .h). usage: scripts/check-layers.sh [SRC_DIR]
set -euo pipefail
src=${1:-$(dirname "$0")/../src}
cd "$src"
# Allowed targets per layer, lowest first.
declare -A allowed=(
  [lib]="lib"
  [chat]="chat lib"
  [net]="net lib"
  [door]="door chat net lib"
  [top]="server door chat net lib"
)
fail=0
while IFS= read -r f; do
  dir=$(dirname "$f"); [ "$dir" = . ] && layer=top || layer=$dir
  while IFS= read -r inc; do
    case "$inc" in
      */*) target=${inc%%/*} ;;
      server.h) target=server ;;
      *) target=$layer ;; # same folder
    esac
    if [ "$target" = server ] && [ "$f" != main.c ] && [ "$f" != server.c ]; then
      echo "check-layers: $f includes server.h (only main.c may)"; fail=1
    fi
    if ! [[ " ${allowed[$layer]} " == *" $target "* ]]; then
      echo "check-layers: $f ($layer/) includes \"$inc\" ($target/): imports only go down"; fail=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  if [ "$layer" = lib ] || [ "$layer" = chat ]; then
    if grep -q '^#include <uv.h>' "$f"; then
      echo "check-layers: $f includes <uv.h>: $layer/ runs without the loop"; fail=1
    fi
  fi
done < <(find . -name '*.[ch]' | sed 's|^\./||' | sort)
# Include circles: a depth-first walk over "file -> included file" edges.
python3 - <<'PY' || fail=1
import os, re, sys
edges = {}
for root, _, files in os.walk("."):
    for name in files:
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.normpath(os.path.join(root, name))
        incs = re.findall(r'^#include "([^"]+)"', open(path).read(), re.M)
        out = []
        for inc in incs:
            cand = os.path.normpath(inc if "/" in inc else os.path.join(os.path.dirname(path), inc))
            if os.path.exists(cand):
                out.append(cand)
        edges[path] = out
state = {}
def visit(n, stack):
    state[n] = 1
    for m in edges.get(n, []):
        if state.get(m) == 1:
            print("check-layers: include circle: " + " -> ".join(stack[stack.index(m):] + [m]))
            sys.exit(1)
        if state.get(m) is None:
            visit(m, stack + [m])
    state[n] = 2
for n in sorted(edges):
    if state.get(n) is None:
        visit(n, [n])
# The same over modules (a .c and its .h are one): conn.c -> net.h and net.c -> conn.h is a
# circle although no file includes itself.
def module(path):
    return os.path.splitext(path)[0]
medges = {}
for n, ms in edges.items():
    medges.setdefault(module(n), set()).update(module(m) for m in ms if module(m) != module(n))
edges = {n: sorted(ms) for n, ms in medges.items()}
state = {}
for n in sorted(edges):
    if state.get(n) is None:
        visit(n, [n])
PY
[ $fail -eq 0 ] && echo "check-layers: ok"
exit $fail
