#!/usr/bin/env bash
# Installs the Debian 12 packages natter needs that are missing. Checks with dpkg-query first,
# so on a machine that has everything it does nothing and needs no network.
# usage: scripts/install-deps.sh [build|test|bench|fuzz|deb]...   (default: build)
set -euo pipefail

# The build configures the unit tests too (CTest), so cmocka is part of it.
build=(cmake ninja-build pkg-config gcc libuv1-dev libssl-dev openssl libcmocka-dev libsystemd-dev)
test=("${build[@]}" clang libclang-rt-14-dev python3 python3-pytest python3-pytest-timeout
      clang-tidy cppcheck clang-format valgrind ncat irssi weechat-headless tmux man-db groff-base)
bench=("${build[@]}" redis-server nats-server ngircd inspircd python3)
fuzz=("${build[@]}" clang-14 libclang-rt-14-dev)
# make deb (dpkg-buildpackage, debian/) and make test-package (tests/package: pytest, man, lintian,
# systemd-analyze verify; systemd need not run).
deb=("${build[@]}" build-essential debhelper dpkg-dev fakeroot lintian python3 python3-pytest
     man-db groff-base systemd)

want=()
for set in "${@:-build}"; do
  case "$set" in
    build) want+=("${build[@]}") ;;
    test) want+=("${test[@]}") ;;
    bench) want+=("${bench[@]}") ;;
    fuzz) want+=("${fuzz[@]}") ;;
    deb) want+=("${deb[@]}") ;;
    *) echo "install-deps.sh: unknown package set '$set' (build, test, bench, fuzz, deb)" >&2
       exit 2 ;;
  esac
done

missing=()
for pkg in $(printf '%s\n' "${want[@]}" | sort -u); do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
