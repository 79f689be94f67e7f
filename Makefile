# The two front-door commands. Everything else is CMake (CMakePresets.json).
#   make run    install what is missing, build, run the chat server on 127.0.0.1:8888
#   make test   install what is missing, build, run every test, then again under ASan+UBSan
PYTEST := /usr/bin/python3 -m pytest -q -p no:cacheprovider
ARGS ?=

.PHONY: run test build build-asan test-release test-asan clean

run: build
	./build/natter $(ARGS)

build:
	./scripts/install-deps.sh build
	cmake --preset release >/dev/null
	cmake --build --preset release

build-asan:
	./scripts/install-deps.sh test
	cmake --preset asan >/dev/null
	cmake --build --preset asan

test: test-release test-asan

test-release:
	./scripts/install-deps.sh test
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release
	NATTER_BIN=$(CURDIR)/build/natter $(PYTEST) tests/integration

test-asan: build-asan
	ctest --preset asan
	NATTER_BIN=$(CURDIR)/build-asan/natter NATTER_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTEST) tests/integration

clean:
	rm -rf build build-asan
