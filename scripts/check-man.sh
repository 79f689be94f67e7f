#!/usr/bin/env bash
# Checks the man pages in man/: (a) the OPTIONS of natter.1 are what `natter --help-man` prints
# (--fix rewrites them instead), (b) every page renders with man --warnings and no warning,
# (c) natter-bench.1 describes every option of `natter-bench --help` and no other, (d)
# natter.conf.5 names every option a config file takes and no other.
# usage: check-man.sh NATTER_BINARY NATTER_BENCH_BINARY MAN_DIR [--fix]
set -euo pipefail
bin=$1 bench=$2 dir=$3 mode=${4:-check}
page=$dir/natter.1
fail=0

# The lines strictly between the marker comments `.\" NAME:begin` and `.\" NAME:end` of a page.
block() {
  sed -n "/^\\.\\\\\" $2:begin\$/,/^\\.\\\\\" $2:end\$/p" "$1" | sed '1d;$d'
}
# The first line (the tag) of each .TP entry of a page's block, with `\-` read as `-`.
tags() {
  block "$1" "$2" | awk 'prev == ".TP" { print } { prev = $0 }' | sed 's/\\-/-/g'
}
# The option names a --help prints, sorted: "  -l, --listen ..." gives "listen".
help_names() {
  sed -n 's/^ *\(-., \)\{0,1\}--\([a-z][a-z-]*\).*/\2/p' | sort -u
}
# Compares two sorted lists of names: what the page lacks, and what it has that is no option.
same_names() { # WHAT WANT HAVE
  local missing extra
  missing=$(comm -23 <(echo "$2") <(echo "$3") | tr '\n' ' ')
  extra=$(comm -13 <(echo "$2") <(echo "$3") | tr '\n' ' ')
  [ -z "$missing$extra" ] && return 0
  [ -n "$missing" ] && echo "$1: missing: $missing" >&2
  [ -n "$extra" ] && echo "$1: not an option: $extra" >&2
  return 1
}

# (a) natter.1's OPTIONS, generated from the option table in src/lib/config.c.
want=$("$bin" --help-man)
have=$(block "$page" options)
if [ "$want" != "$have" ]; then
  if [ "$mode" = "--fix" ]; then
    tmp=$(mktemp)
    # The text through the environment: awk -v would read the \f of \fB as a form feed.
    table="$want" awk '
      /^\.\\" options:begin$/ { print; print ENVIRON["table"]; skip = 1; next }
      /^\.\\" options:end$/ { skip = 0 }
      !skip { print }' "$page" > "$tmp"
    mv "$tmp" "$page"
    echo "rewrote the OPTIONS of $page"
  else
    echo "$page: OPTIONS are out of date; run: $0 $bin $bench $dir --fix" >&2
    diff <(echo "$have") <(echo "$want") >&2 || true
    fail=1
  fi
fi

# (b) every page renders without a warning (man exits 0 even when groff warns).
if ! command -v man >/dev/null || ! man --help 2>&1 | grep -q -- '--warnings'; then
  echo "check-man.sh: needs man-db and groff-base: run scripts/install-deps.sh test" >&2
  exit 1
fi
for p in "$dir"/*.[1-8]; do
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 \
             >/dev/null) || { echo "$p: man failed" >&2; fail=1; }
  if [ -n "$warnings" ]; then
    printf '%s: man --warnings:\n%s\n' "$p" "$warnings" >&2
    fail=1
  fi
done

# (c) natter-bench.1 is written by hand: its OPTIONS must be those of natter-bench --help.
same_names "$dir/natter-bench.1 OPTIONS" "$("$bench" --help | help_names)" \
  "$(tags "$dir/natter-bench.1" options | grep -o '\\fB--[a-z][a-z-]*' | sed 's/^.fB--//' |
     sort -u)" || fail=1

# (d) natter.conf.5 lists every long option but the four a file cannot set (OPERATIONS.md).
same_names "$dir/natter.conf.5 KEYS" \
  "$("$bin" --help | help_names | grep -vx -e config -e check-config -e help -e version)" \
  "$(tags "$dir/natter.conf.5" keys | sed -n 's/^\\fB\([a-z][a-z-]*\)\\fR = .*/\1/p' |
     sort -u)" || fail=1

exit $fail
