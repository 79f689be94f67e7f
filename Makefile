# The two front-door commands. Everything else is CMake (CMakePresets.json).
#   make run    install what is missing, build, run the chat server on 127.0.0.1:8888
#   make test   install what is missing, build, run every test (the browser client's in
#               Chromium too), lint, build and test the Debian package (installs and purges it:
#               root), then again under ASan+UBSan, the fuzzers briefly, a 60 s soak, and the
#               integration suite under valgrind memcheck (docs/SECURITY.md)
# Parts of make test:
#   make test-browser   the browser client (web/) in Debian's Chromium against the release build
#                       (tests/browser: node --test, playwright-core; screenshots in
#                       tests/browser/out/, NATTER_SCREENSHOT_DIR=docs refreshes docs/web-*.png)
# The long versions (docs/SECURITY.md):
#   make fuzz           each libFuzzer harness for FUZZ_SECONDS (default 60)
#   make fuzz-merge     fold what `make fuzz` found into the seed corpora in tests/fuzz/corpus
#   make soak           the soak against the ASan build for SOAK_SECONDS (default 600)
#   make test-long      the hostile-client and resource tests at full size (release build)
#   make test-valgrind  the integration suite under valgrind memcheck (release build)
# Installing (docs/OPERATIONS.md "Installing"):
#   make install        build (release preset, in build-install/) and install under PREFIX
#                       (default /usr/local), staged under DESTDIR if given
#   make deb            the Debian package, built in a copy of the tree: build-deb/natter_*.deb
#   make test-package   installs that package here (root), runs it, removes and purges it
PYTEST := /usr/bin/python3 -m pytest -q -p no:cacheprovider
ARGS ?=
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
PREFIX ?= /usr/local
DESTDIR ?=
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

.PHONY: run run-cluster test build build-asan test-release test-browser test-asan clean build-fuzz fuzz \
	fuzz-merge test-fuzz soak test-soak test-long test-valgrind lint install deb test-package

run: build
	./build/natter $(ARGS)

# Two nodes and a loopback redis-server: one chat on 8888 and 8889 (scripts/run-cluster.sh).
run-cluster: build
	./scripts/install-deps.sh cluster
	./scripts/run-cluster.sh $(ARGS)

build:
	./scripts/install-deps.sh build
	cmake --preset release >/dev/null
	cmake --build --preset release

build-asan:
	./scripts/install-deps.sh test
	cmake --preset asan >/dev/null
	cmake --build --preset asan

test: test-release test-browser lint test-package test-asan test-fuzz test-soak test-valgrind

test-release:
	./scripts/install-deps.sh test
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release
	NATTER_BIN=$(CURDIR)/build/natter $(PYTEST) tests/integration

# The browser client (web/, compiled into natter) in Debian's Chromium, driven by npm
# playwright-core (tests/browser/package-lock.json); each test runs its own natter.
test-browser:
	./scripts/install-deps.sh browser
	cmake --preset release >/dev/null
	cmake --build --preset release
	NATTER_BIN=$(CURDIR)/build/natter node --test tests/browser/

test-asan: build-asan
	ctest --preset asan
	NATTER_BIN=$(CURDIR)/build-asan/natter NATTER_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTEST) tests/integration

# Fuzzing (tests/fuzz): clang + libFuzzer, in build-fuzz/.
build-fuzz:
	./scripts/install-deps.sh test fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz

test-fuzz: build-fuzz
	tests/fuzz/run.sh build-fuzz 5

fuzz: build-fuzz
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-merge: build-fuzz
	for bin in build-fuzz/tests/fuzz/fuzz_*; do \
	  name=$${bin##*/fuzz_}; mkdir -p build-fuzz/fuzz-work/corpus/$$name; \
	  $$bin -merge=1 tests/fuzz/corpus/$$name build-fuzz/fuzz-work/corpus/$$name || exit 1; \
	done

# The soak (tests/soak/soak.py) against the ASan build: LeakSanitizer checks at natter's exit.
test-soak: build-asan
	$(ASAN_ENV) /usr/bin/python3 tests/soak/soak.py --bin $(CURDIR)/build-asan/natter --seconds 60

soak: build-asan
	$(ASAN_ENV) /usr/bin/python3 tests/soak/soak.py --bin $(CURDIR)/build-asan/natter \
	  --seconds $(SOAK_SECONDS) --report build-asan/soak-report.json

test-long: build
	NATTER_BIN=$(CURDIR)/build/natter NATTER_LONG=1 \
	$(PYTEST) tests/integration/test_hostile.py tests/integration/test_resources.py

test-valgrind: build
	NATTER_BIN=$(CURDIR)/build/natter NATTER_WRAPPER="$(VALGRIND)" NATTER_TIMEOUT_SCALE=8 \
	$(PYTEST) tests/integration

# Static analysis of src/ (clang-tidy, cppcheck, clang-format), warnings as errors.
lint: build
	./scripts/lint.sh build

# make install: the release preset configured in build-install/ (not build/, so an install never
# races a build or test run there) without the unit tests, for PREFIX (the installed
# natter.service names PREFIX/bin/natter); cmake --install puts it under DESTDIR/PREFIX.
install:
	./scripts/install-deps.sh build
	cmake --preset release -B build-install -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  >/dev/null
	cmake --build build-install
	DESTDIR="$(if $(DESTDIR),$(abspath $(DESTDIR)))" cmake --install build-install --prefix $(PREFIX)

# The Debian package (debian/, scripts/build-deb.sh), and its test (tests/package, as root).
deb:
	./scripts/install-deps.sh deb
	./scripts/build-deb.sh

test-package: deb
	$(PYTEST) -rP tests/package

clean:
	rm -rf build build-asan build-fuzz build-install build-deb
