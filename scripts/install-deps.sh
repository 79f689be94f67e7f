#!/usr/bin/env bash
# Installs the Debian 12 packages natter needs that are missing. Checks with dpkg-query first,
# so on a machine that has everything it does nothing and needs no network.
# usage: scripts/install-deps.sh [build|test|bench|fuzz|deb|browser|cluster]...   (default: build)
# The sets that use node tools also run `npm ci` where their package-lock.json is (see the end).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# The build configures the unit tests too (CTest), so cmocka is part of it.
build=(cmake ninja-build pkg-config gcc libuv1-dev libssl-dev openssl libcmocka-dev libsystemd-dev
       libhiredis-dev)
# redis-server: tests/unit/test_redis.c starts its own on loopback.
test=("${build[@]}" clang libclang-rt-14-dev python3 python3-pytest python3-pytest-timeout
      clang-tidy cppcheck clang-format valgrind ncat irssi weechat-headless tmux man-db groff-base
      redis-server redis-tools python3-websockets)
bench=("${build[@]}" redis-server nats-server ngircd inspircd python3)
fuzz=("${build[@]}" clang-14 libclang-rt-14-dev)
# make deb (dpkg-buildpackage, debian/) and make test-package (tests/package: pytest, man, lintian,
# systemd-analyze verify; systemd need not run).
deb=("${build[@]}" build-essential debhelper dpkg-dev fakeroot lintian python3 python3-pytest
     man-db groff-base systemd)
# make run-cluster: two nodes through a loopback redis-server (redis-cli waits for it).
cluster=("${build[@]}" redis-server redis-tools)
# make test-browser (tests/browser): Debian's Chromium, driven by npm playwright-core (below).
browser=(chromium)

want=()
npm_dirs=()  # folders (from the top of the tree) whose package-lock.json npm ci installs
for set in "${@:-build}"; do
  case "$set" in
    build) want+=("${build[@]}") ;;
    test) want+=("${test[@]}")
          # tests/integration/test_bench.py runs natter-bench against bench/ws (npm ws) too.
          if [ -f "$root/bench/ws/package-lock.json" ]; then npm_dirs+=(bench/ws); fi ;;
    bench) want+=("${bench[@]}")
           # The WebSocket load of natter-bench (bench/ws, npm ws), once it is in the tree.
           if [ -f "$root/bench/ws/package-lock.json" ]; then npm_dirs+=(bench/ws); fi ;;
    fuzz) want+=("${fuzz[@]}") ;;
    deb) want+=("${deb[@]}") ;;
    browser) want+=("${browser[@]}"); npm_dirs+=(tests/browser) ;;
    cluster) want+=("${cluster[@]}") ;;
    *) echo "install-deps.sh: unknown package set '$set'" \
            "(build, test, bench, fuzz, deb, browser, cluster)" >&2
       exit 2 ;;
  esac
done

missing=()
for pkg in $(printf '%s\n' "${want[@]}" | sort -u); do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "install-deps.sh: not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages, exactly as each package-lock.json pins them, installed only when node_modules is
# missing or older than the lock, so a machine that has them needs no network. node and npm come
# from nodesource's nodejs, which bundles npm; Debian's npm package is never installed (it would
# bring a second, older node). playwright-core drives /usr/bin/chromium, so it downloads no
# browser of its own.
for dir in "${npm_dirs[@]}"; do
  lock="$root/$dir/package-lock.json"
  modules="$root/$dir/node_modules"
  [ -d "$modules" ] && [ "$modules" -nt "$lock" ] && continue
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-deps.sh: $dir needs node (20 or later) and npm, and they are not on PATH;" \
         "install nodejs from nodesource (it includes npm), not Debian's npm package" >&2
    exit 1
  fi
  echo "install-deps.sh: npm ci in $dir" >&2
  (cd "$root/$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  touch "$modules"
done
