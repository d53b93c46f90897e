# mk/lib.mk: libmemline, the library programs link to send events and spans (include/memline.h,
# man/libmemline.3). Included by the Makefile, whose variables it uses.
#   make lib           $(BUILD)/libmemline.so.0 (+ the libmemline.so link) and libmemline.a
#   make install-lib   the libraries, memline.h, memline.pc and the man pages under PREFIX
#   make bench-events  bench/event_cost: what one memline_event() costs
#
# What it is made of is a rule, not a list: the recording side of lib/ (docs/architecture.md),
# that is every file of lib/util, lib/log and lib/record but the log reader (the one that needs
# jansson): the sender (record/api.c, record/channel.c) and, for memline_start(), the recorder
# and what it uses. A file added to one of those folders joins the library by itself. They are
# compiled once more, position-independent and with hidden visibility, so the shared library
# exports memline_* (marked visible in memline.h) and nothing else. In the static library every
# other symbol is made local (ld -r, then objcopy --localize-hidden), so that a program's own
# strbuf_init() or channel_send() cannot clash with ours.

# Should this file be included before the Makefile's first rule, `all` stays the default goal.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

OBJCOPY     ?= objcopy
MLIB_SRC    := $(filter-out lib/log/reader.c,$(wildcard lib/util/*.c lib/log/*.c lib/record/*.c))
MLIB_OBJ    := $(MLIB_SRC:%.c=$(BUILD)/pic/%.o)
MLIB_SO     := $(BUILD)/libmemline.so.0
MLIB_A      := $(BUILD)/libmemline.a
# Sections per function: the shared library drops what the sender does not use (the reader).
MLIB_CFLAGS  = $(ALLCFLAGS) -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections
# -z defs: fail the link on an undefined symbol (not under the sanitizers, whose runtime
# provides symbols at run time).
MLIB_LDFLAGS = -shared -Wl,-soname,libmemline.so.0 -Wl,--gc-sections \
               $(if $(SAN),,-Wl,-z,defs) $(LDFLAGS)
# The functions documented in libmemline(3) (its NAME line), each installed as a .so link to
# it; tests/e2e/test_install.py checks that none is missing.
MLIB_MAN    := memline_event memline_eventf memline_span_begin memline_span_end \
               memline_start memline_start_with memline_stop memline_channel \
               memline_last_error
MLIB_LIBDIR  = $(DESTDIR)$(PREFIX)/lib
MLIB_MAN3    = $(DESTDIR)$(PREFIX)/share/man/man3

.PHONY: lib install-lib bench-events
lib: $(MLIB_SO) $(BUILD)/libmemline.so $(MLIB_A)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MLIB_CFLAGS) -MMD -MP -c $< -o $@

$(MLIB_SO): $(MLIB_OBJ)
	$(CC) $(MLIB_LDFLAGS) -o $@ $(MLIB_OBJ)

$(BUILD)/libmemline.so: $(MLIB_SO)
	ln -sf libmemline.so.0 $@

$(MLIB_A): $(MLIB_OBJ)
	$(CC) -nostdlib -r -o $(BUILD)/pic/libmemline.o $(MLIB_OBJ)
	$(OBJCOPY) --localize-hidden $(BUILD)/pic/libmemline.o
	rm -f $@ && ar rcs $@ $(BUILD)/pic/libmemline.o

install-lib: lib
	install -d $(MLIB_LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include $(MLIB_MAN3)
	install -m 755 $(MLIB_SO) $(MLIB_LIBDIR)/libmemline.so.0
	ln -sf libmemline.so.0 $(MLIB_LIBDIR)/libmemline.so
	install -m 644 $(MLIB_A) $(MLIB_LIBDIR)/libmemline.a
	install -m 644 include/memline.h $(DESTDIR)$(PREFIX)/include/memline.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' memline.pc.in \
	  > $(MLIB_LIBDIR)/pkgconfig/memline.pc
	chmod 644 $(MLIB_LIBDIR)/pkgconfig/memline.pc
	install -m 644 man/libmemline.3 $(MLIB_MAN3)/libmemline.3
	for n in $(MLIB_MAN); do echo '.so man3/libmemline.3' > $(MLIB_MAN3)/$$n.3; done

# A benchmark, not a test: linked like a program would link the static library.
$(BUILD)/bench/event_cost: bench/event_cost.c include/memline.h $(MLIB_A)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -g $(WARN) $(SANFLAGS) -D_GNU_SOURCE -Iinclude -o $@ $< $(MLIB_A) \
	  $(LDFLAGS)

bench-events: $(BUILD)/bench/event_cost
	$(BUILD)/bench/event_cost

-include $(wildcard $(BUILD)/pic/lib/*/*.d)
