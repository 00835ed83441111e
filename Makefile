# metascope — GNU make build. `make run` and `make test` install what is missing
# (as root, through apt-get) before building; see tools/deps.sh.

PREFIX  ?= /usr/local
CC      ?= gcc
MARCH   ?= -march=native
OPT     ?= -O3
BUILD   ?= build
SAN     ?=

PKGS_BUILD := gcc make pkg-config libopenblas-dev liblz4-dev libpcre2-dev \
              libjson-c-dev libyaml-dev libncurses-dev libreadline-dev
PKGS_TEST  := libcmocka-dev tmux lz4 groff-base
PKGS_FUZZ  := clang libclang-rt-14-dev
PKGS_TOOLS := python3-torch python3-numpy python3-regex

LIBS_PC := openblas liblz4 libpcre2-8 json-c yaml-0.1
PC_CFLAGS = $(shell pkg-config --cflags $(LIBS_PC) 2>/dev/null)
PC_LIBS   = $(shell pkg-config --libs $(LIBS_PC) 2>/dev/null)
TUI_LIBS  = $(shell pkg-config --libs ncursesw readline 2>/dev/null || echo -lncursesw -lreadline)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# The engine's layers, bottom to top (docs/architecture.md); a file includes
# only headers of its own folder and of folders earlier in this list
# (tools/check_layers.sh, run by `make test`, enforces it).
ENGINE_DIRS := engine/core engine/formats engine/lm engine/glp engine/sae \
               engine/index engine/eval engine/session

CFLAGS  ?= $(OPT) -g $(MARCH)
CFLAGS  += -DMS_ASSETS_DIR=\"$(abspath assets)\" -std=c17 -fno-math-errno -Wall -Wextra -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
           $(ENGINE_DIRS:%=-I%) $(PC_CFLAGS) $(SAN)
LDFLAGS += $(SAN)
LDLIBS  := $(PC_LIBS) -lm -lpthread

ENGINE_SRC := $(wildcard $(ENGINE_DIRS:%=%/*.c))
TUI_SRC    := $(wildcard tui/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ    := $(TUI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Each fuzz harness also linked with a plain main (tests/fuzz/replay_main.c)
# that replays its seeds and findings in `make test` (tests/e2e/fuzz_replay.sh).
REPLAY_BIN := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/replay/%,$(wildcard tests/fuzz/fuzz_*.c))
BIN        := $(BUILD)/metascope
LIB        := $(BUILD)/libmsengine.a

.PHONY: all deps deps-test deps-fuzz deps-tools deps-assets run test asan fuzz bench \
        assets report install clean

all: $(BIN) $(UNIT_BIN) $(REPLAY_BIN) $(BUILD)/tests/nospace.so

deps:
	@sh tools/deps.sh $(PKGS_BUILD)
deps-test: deps
	@sh tools/deps.sh $(PKGS_TEST)
deps-fuzz:
	@sh tools/deps.sh $(PKGS_FUZZ)
deps-tools:
	@sh tools/deps.sh $(PKGS_TOOLS)
deps-assets:
	@sh tools/deps.sh $$(grep -v '^#' tools/corpus_packages.txt)

$(BUILD)/%.o: %.c $(wildcard $(ENGINE_DIRS:%=%/*.h) tui/*.h) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD):
	@mkdir -p $(BUILD)

$(LIB): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(TUI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TUI_OBJ) $(LIB) $(TUI_LIBS) $(LDLIBS)

# The full-disk shim of tests/e2e/diskfull.sh (used where no tmpfs can be
# mounted); plain, since it is preloaded into sanitized binaries too.
$(BUILD)/tests/nospace.so: tests/e2e/nospace.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -Wall -Wextra -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h tests/unit/gradcheck.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c tests/fuzz/folder.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz $(LDFLAGS) -o $@ tests/fuzz/replay_main.c $< $(LIB) $(LDLIBS)

# Small C studies in bench/ (not part of `make all`), e.g. norm_sample.
$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN)

# Every suite (cmocka unit tests, shell end-to-end tests); the last line is
# "N passed, N failed" and the exit status is non-zero on any failure.
test: deps-test
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/run.sh

# The same suites under AddressSanitizer + UBSan, in a separate build tree.
# OPT and SAN reach the suites too, so a test that runs make (install.sh)
# rebuilds with the same flags if a source changed meanwhile.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="$(ASAN_FLAGS)" all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  BUILD=build-asan OPT=-O1 SAN="$(ASAN_FLAGS)" sh tests/run.sh

FUZZ_SECONDS ?= 60
fuzz: deps deps-fuzz
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: deps deps-tools
	@$(MAKE) --no-print-directory $(BIN)
	@sh bench/run.sh

# Rebuild the default assets (corpus, tokenizer, model) from Debian packages;
# resumes an interrupted run. About 80 minutes on 2 cores (model, then GLP).
assets: deps deps-assets
	@$(MAKE) --no-print-directory $(BIN)
	@sh tools/make_assets.sh

# Run every evaluation on the committed assets and write docs/results.md
# (about 45 minutes on 2 cores from a clean build/; stages resume).
report: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh tools/report.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/metascope
	install -m 644 man/metascope.1 $(DESTDIR)$(PREFIX)/share/man/man1/metascope.1

clean:
	rm -rf build build-asan build-fuzz
