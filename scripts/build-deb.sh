#!/usr/bin/env bash
# Builds the Debian package (debian/) with dpkg-buildpackage in a copy of the tree, so the
# source tree is never written to: build-deb/natter-VERSION holds the copy, and the .deb,
# .buildinfo and .changes land in build-deb/. The copy is what git lists, tracked files with
# their uncommitted edits and new files not ignored (.gitignore keeps the build dirs out).
# usage: scripts/build-deb.sh   (make deb runs it after scripts/install-deps.sh deb)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-deb

# One version: CMakeLists.txt's project VERSION (NT_VERSION, natter --version) and the
# package's, from debian/changelog.
version=$(sed -n 's/^project(natter VERSION \([0-9][0-9.]*\) .*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ -z "$version" ] || [ "$deb_version" != "$version" ]; then
  echo "build-deb.sh: debian/changelog says $deb_version, CMakeLists.txt says '$version':" \
    "add a debian/changelog entry (dch -v $version)" >&2
  exit 1
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "build-deb.sh: needs a git checkout (the copy is what git ls-files lists)" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out/natter-$version"
# A file deleted but not yet committed is still listed: skip what is not there.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
  done |
  tar --null -T - -c | tar -x -C "$out/natter-$version"

# -b: binary packages only (natter, natter-dbgsym); unsigned; as many jobs as CPUs.
(cd "$out/natter-$version" && dpkg-buildpackage -b -us -uc -Jauto)
ls -l "$out"/*.deb "$out"/*.changes
