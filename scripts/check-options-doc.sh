#!/usr/bin/env bash
# Checks that the options table in docs/OPERATIONS.md is what `natter --help-markdown` prints.
# usage: check-options-doc.sh NATTER_BINARY OPERATIONS.md   (--fix rewrites the doc instead)
set -euo pipefail
bin=$1 doc=$2 mode=${3:-check}
want=$("$bin" --help-markdown)
have=$(sed -n '/<!-- options:begin -->/,/<!-- options:end -->/p' "$doc" | sed '1d;$d')
if [ "$want" = "$have" ]; then
  exit 0
fi
if [ "$mode" = "--fix" ]; then
  tmp=$(mktemp)
  awk -v table="$want" '
    /<!-- options:begin -->/ { print; print table; skip = 1; next }
    /<!-- options:end -->/ { skip = 0 }
    !skip { print }' "$doc" > "$tmp"
  mv "$tmp" "$doc"
  echo "rewrote the options table in $doc"
  exit 0
fi
echo "docs/OPERATIONS.md options table is out of date; run: $0 $bin $doc --fix" >&2
diff <(echo "$have") <(echo "$want") >&2 || true
exit 1
