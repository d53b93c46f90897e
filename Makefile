# memline — build, test, install.
#   make              build build/memline
#   make demo         install what it needs, build, record the bundled demo
#   make check        install what the tests need, build, run every test (also under ASan/UBSan)
#   make bench        benchmarks (not part of check)
#   make install PREFIX=DIR   memline, libmemline, memline.h, memline.pc, man pages, the heap
#                             library (lib/memline/) and the Python package (make install-python:
#                             that alone)
# Sources are found by wildcard: adding a file under lib/, src/, tests/unit/ needs no edit here.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BUILD     ?= build
CC        ?= cc
PYTHON    ?= /usr/bin/python3
PKGS      := jansson cairo libpng16 ncursesw libmicrohttpd libdw libelf

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-sign-compare
ifdef CI
WARN      += -Werror
endif
ifdef SAN
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
OPT       ?= -O2 -g
CFLAGS    ?=
ALLCFLAGS := -std=gnu17 $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE -DMEMLINE_VERSION='"$(VERSION)"' \
             -Iinclude -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS      := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
LDFLAGS   += $(SANFLAGS)

# lib/heap/ is the preloaded heap library, built on its own (below), never into memline
LIB_SRC   := $(filter-out lib/heap/%,$(wildcard lib/*/*.c))
SRC_SRC   := $(wildcard src/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SRC_OBJ   := $(SRC_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CORE      := $(BUILD)/libmemline-core.a
HELPERS   := $(BUILD)/memwork $(BUILD)/callchain $(BUILD)/callchain-stripped $(BUILD)/heapstress \
             $(BUILD)/threadheap
HEAP_SO   := $(BUILD)/libmemline-heap.so

.PHONY: all deps demo check unit e2e fuzz-replay fuzz check-format bench install install-python \
        clean
all: $(BUILD)/memline lib $(HEAP_SO)

include mk/lib.mk
include mk/html.mk

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(CORE): $(LIB_OBJ) $(HTML_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/memline: $(SRC_OBJ) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $(SRC_OBJ) $(CORE) $(LIBS)

# Programs that are recorded, not tested: never sanitized, whose allocator would distort them.
PLAINCFLAGS := -std=gnu17 -O2 -g $(WARN) -D_GNU_SOURCE
$(BUILD)/memwork: tests/workload/memwork.c
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -o $@ $<

# A program with a known call chain, for the stack tests: with -g (and no inlining of the chain),
# and a stripped copy.
$(BUILD)/callchain: tests/workload/callchain.c
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -O1 -fno-omit-frame-pointer -o $@ $< -pthread

$(BUILD)/callchain-stripped: $(BUILD)/callchain
	strip -o $@ $<

# Threads that allocate known amounts, for the --heap tests.
$(BUILD)/threadheap: tests/workload/threadheap.c
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -o $@ $< -pthread

# The heap library (lib/heap/, docs/heap.md), preloaded into the processes of `run --heap`. Its
# own flags: position-independent, hidden but for the functions it interposes, initial-exec TLS,
# and never the sanitizers' whatever SAN says (ASan owns malloc: the shim cannot run under it).
HEAP_SRC    := $(wildcard lib/heap/*.c)
HEAP_CFLAGS := -std=gnu17 -O2 -g $(WARN) -D_GNU_SOURCE -Ilib -fPIC -fvisibility=hidden \
               -ftls-model=initial-exec
$(HEAP_SO): $(HEAP_SRC) $(wildcard lib/heap/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HEAP_CFLAGS) -shared -Wl,-soname,libmemline-heap.so -Wl,-z,defs -Wl,-z,now \
	  -o $@ $(HEAP_SRC) -ldl -pthread

# The heap library's stress test: run with it preloaded, it checks its own counters exactly.
# -fno-builtin: every allocation it writes is made (the compiler drops a malloc freed unused).
$(BUILD)/heapstress: tests/workload/heapstress.c lib/heap/counters.h
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -fno-builtin -Ilib -o $@ $< -pthread

# The malloc-heavy program of the heap benchmark (bench/heap.py): what --heap's shim and
# heaptrack are measured on, so never sanitized.
$(BUILD)/bench/heapwork: bench/heapwork.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -o $@ $< -pthread

$(BUILD)/demo: examples/demo.c $(BUILD)/libmemline.a
	@mkdir -p $(dir $@)
	$(CC) $(PLAINCFLAGS) -Iinclude -o $@ $< $(BUILD)/libmemline.a -pthread

$(BUILD)/tests/%: tests/unit/%.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(CORE) $(LDFLAGS) $(LIBS) -lcmocka

deps:
	@scripts/install-deps build

demo:
	@scripts/install-deps demo
	@$(MAKE) --no-print-directory $(BUILD)/memline $(BUILD)/demo
	@scripts/demo $(BUILD)

# The whole test suite: plain build, then once more under AddressSanitizer and UBSan.
check:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory check-format check-layers $(BUILD)/demo unit fuzz-replay e2e
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 OPT='-O1 -g' unit fuzz-replay e2e

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; MEMLINE_FIXTURES=tests/fixtures $$t; done

# The fuzz targets, fed the fixtures and deterministic mutations of them (no libFuzzer needed).
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< tests/fuzz/replay.c $(CORE) $(LDFLAGS) $(LIBS)

fuzz-replay: $(FUZZ_BIN)
	$(BUILD)/fuzz/fuzz_log_reader tests/fixtures/logs/*.jsonl
	$(BUILD)/fuzz/fuzz_http_spec tests/fixtures/http/*.txt
	$(BUILD)/fuzz/fuzz_channel tests/fixtures/channel/*.txt
	$(BUILD)/fuzz/fuzz_http_request tests/fixtures/http/*.req
	$(BUILD)/fuzz/fuzz_kernel_events tests/fixtures/kernel/*.bin
	$(BUILD)/fuzz/fuzz_linetable tests/fixtures/linetable/*.bin

# Open-ended fuzzing with libFuzzer: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 60
fuzz: $(HTML_C)
	@scripts/install-deps fuzz
	@mkdir -p build/libfuzzer build/fuzz-corpus
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -DMEMLINE_VERSION='"$(VERSION)"' -Iinclude -Ilib \
	  -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) \
	  -o build/libfuzzer/fuzz_log_reader tests/fuzz/fuzz_log_reader.c $(LIB_SRC) $(HTML_C) $(LIBS)
	build/libfuzzer/fuzz_log_reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  build/fuzz-corpus tests/fixtures/logs
	@mkdir -p build/fuzz-corpus-channel
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -Iinclude -Ilib -fsanitize=fuzzer,address,undefined \
	  -o build/libfuzzer/fuzz_channel tests/fuzz/fuzz_channel.c lib/record/channel.c lib/util/strbuf.c
	build/libfuzzer/fuzz_channel -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
	  build/fuzz-corpus-channel tests/fixtures/channel
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -DMEMLINE_VERSION='"$(VERSION)"' -Iinclude -Ilib \
	  -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) \
	  -o build/libfuzzer/fuzz_http_request tests/fuzz/fuzz_http_request.c $(LIB_SRC) $(HTML_C) $(LIBS)
	@mkdir -p build/fuzz-corpus-http
	build/libfuzzer/fuzz_http_request -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  build/fuzz-corpus-http tests/fixtures/http
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -DMEMLINE_VERSION='"$(VERSION)"' -Iinclude -Ilib \
	  -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) \
	  -o build/libfuzzer/fuzz_kernel_events tests/fuzz/fuzz_kernel_events.c $(LIB_SRC) $(HTML_C) $(LIBS)
	@mkdir -p build/fuzz-corpus-kernel
	build/libfuzzer/fuzz_kernel_events -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  build/fuzz-corpus-kernel tests/fixtures/kernel
	@mkdir -p build/fuzz-corpus-linetable
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -Iinclude -Ilib -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(PKGS)) \
	  -o build/libfuzzer/fuzz_linetable tests/fuzz/fuzz_linetable.c $(LIB_SRC) $(HTML_C) $(LIBS)
	build/libfuzzer/fuzz_linetable -max_total_time=$(FUZZ_SECONDS) -max_len=1024 \
	  build/fuzz-corpus-linetable tests/fixtures/linetable

e2e: $(BUILD)/memline $(HELPERS) lib html-test $(HEAP_SO)
	MEMLINE_BUILD=$(abspath $(BUILD)) \
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e \
	  python/tests

C_FILES   := $(wildcard lib/*/*.[ch] src/*.[ch] include/*.h tests/unit/*.[ch] tests/fuzz/*.c \
               tests/workload/*.c tests/e2e/c/*.c bench/*.[ch] examples/*.c)
check-format:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format: $(words $(C_FILES)) files clean"

# lib/'s folders include only downwards (util <- log <- record; log <- model <- render); the
# check must also find every wrong include of a tree made to break its rules.
check-layers:
	@scripts/check-layers lib && echo "layers: lib/ includes only downwards"
	@out=$$(scripts/check-layers tests/fixtures/layers); code=$$?; \
	  test $$code -eq 1 || { echo "check-layers: expected exit 1 on tests/fixtures/layers, got $$code"; exit 1; }; \
	  printf '%s\n' "$$out" | diff -u tests/fixtures/layers/expected.txt - && \
	  echo "layers: every wrong include of tests/fixtures/layers found"

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory $(BUILD)/memline $(BUILD)/memwork $(BUILD)/bench/event_cost \
	  $(BUILD)/bench/heapwork $(HEAP_SO) html-test
	@bench/run $(BUILD)

install: $(BUILD)/memline $(HEAP_SO) install-lib
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/lib/memline
	install -m 755 $(BUILD)/memline $(DESTDIR)$(PREFIX)/bin/memline
	install -m 755 $(HEAP_SO) $(DESTDIR)$(PREFIX)/lib/memline/libmemline-heap.so
	install -m 644 man/memline.1 $(DESTDIR)$(PREFIX)/share/man/man1/memline.1
	@if command -v $(PYTHON) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory install-python; \
	else echo "note: no $(PYTHON): the Python package is not installed (make install-python PYTHON=...)"; fi

# The Python package (python/), without pip: into PREFIX's site-packages directory for $(PYTHON)
# (the one on its sys.path, Debian's dist-packages for /usr/local), or PYTHON_SITE=DIR.
install-python:
	$(PYTHON) python/_build/memline_build.py install \
	  $(if $(PYTHON_SITE),--target '$(PYTHON_SITE)',--prefix '$(PREFIX)') \
	  $(if $(DESTDIR),--destdir '$(DESTDIR)')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
