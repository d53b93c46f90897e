/*
 * pyframes: CPython frames read from outside the process (see pyframes.h for the contract and
 * docs/python-frames.md for the structures). Opening: /proc/PID/maps names the files mapped;
 * the executable and any libpython* among them are opened (under /proc/PID/root, so a process
 * in another mount namespace works too) and their symbol tables searched with libelf for
 * _PyRuntime and Py_Version; the mapping of the file whose page offset matches a PT_LOAD gives
 * the load bias. Snapshot: from _PyRuntime.interpreters.head, each interpreter's thread list,
 * each thread's cframe->current_frame, then each _PyInterpreterFrame's previous: one
 * process_vm_readv a structure, only the fields needed, into flat arrays (struct py_raw).
 * Resolving: a code object is read once per snapshot it appears in; its strings and location
 * table are read again only when the pointers it holds changed (an address reused by another
 * code object). Every count and length read from the target is bounded before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stacks/pyframes.h"

#define PY_MAX_INTERPS	 64
#define PY_MAX_STR	 4096		    /* code points of a name or file name */
#define PY_MAX_LINETABLE (1u << 20)	    /* bytes of a location table */
#define PY_MAX_LOADS	 16		    /* PT_LOAD segments looked at */
#define PY_WINDOW	 (64u << 10)	    /* bytes of frame stack read at once, */
#define PY_WINDOW_PAGES	 (PY_WINDOW / 4096) /* a page an iovec */
#define PY_CACHE_MAX	 8192		    /* code objects cached before the cache is emptied */
#define PY_PAGE_DOWN(x)	 ((x) & ~(uint64_t)0xfff)

/* CPython 3.11, x86_64: tests/unit/test_pyframes.c checks every number with the real headers. */
static const struct py_layout layout_3_11 = {
	.version = 0x030b,
	.runtime_interpreters_head = 40,
	.interp_next = 0,
	.interp_threads_head = 16,
	.tstate_next = 8,
	.tstate_native_thread_id = 160,
	.tstate_cframe = 56,
	.tstate_size = 360,
	.tstate_datastack_chunk = 296,
	.tstate_datastack_top = 304,
	.cframe_current_frame = 8,
	.frame_code = 32,
	.frame_previous = 48,
	.frame_prev_instr = 56,
	.frame_is_entry = 68,
	.frame_owner = 69,
	.frame_size = 80,
	.code_filename = 112,
	.code_name = 120,
	.code_qualname = 128,
	.code_firstlineno = 72,
	.code_linetable = 136,
	.code_firsttraceable = 168,
	.code_code_adaptive = 184,
	.bytes_size = 16,
	.bytes_sval = 32,
	.unicode_length = 16,
	.unicode_state = 32,
	.ascii_size = 48,
	.compact_utf8_length = 48,
	.compact_utf8 = 56,
	.compact_size = 72,
	.state_kind_shift = 2,
	.state_compact_shift = 5,
	.state_ascii_shift = 6,
	.state_ready_shift = 7,
	.owner_generator = 1,
	.owner_max = 2,
};

static const char unknown[] = "?";

struct py_raw {
	uint64_t code, instr;
	bool entry;
	unsigned char owner;
};

struct py_thread {
	pid_t tid;
	size_t first, n_raw; /* its frames in raw[] (and frames[], resolved in place) */
	size_t n_out;
	bool resolved;
};

struct py_code {
	uint64_t addr;
	uint64_t filename, qualname, name, linetable; /* the pointers the strings were read from */
	int firstline;
	long firsttraceable;
	unsigned gen; /* the snapshot it was last checked in */
	char *fn, *file;
	unsigned char *lt;
	size_t lt_len;
};

struct py_proc {
	pid_t pid;
	struct procfs *fs; /* where /proc is read (the procfs layer) */
	const struct py_layout *lay;
	uint64_t runtime;
	unsigned gen;
	struct py_thread *threads;
	size_t n_threads, alloc_threads;
	struct py_raw *raw;
	size_t n_raw, alloc_raw;
	struct py_frame *frames;
	size_t alloc_frames;
	unsigned char *win;	     /* PY_WINDOW bytes of the target from win_base on */
	uint64_t win_base, win_addr; /* of which [win_addr, win_end) could be read */
	uint64_t win_end;
	struct py_code **codes; /* open addressing on addr, cap_codes a power of two */
	size_t n_codes, cap_codes;
};

const struct py_layout *py_layout_find(unsigned version)
{
	return version == layout_3_11.version ? &layout_3_11 : NULL;
}

/* Makes room for need elements of size elem in *p; false when out of memory. */
static bool grow(void **p, size_t *alloc, size_t need, size_t elem)
{
	if (need <= *alloc)
		return true;
	size_t n = *alloc ? *alloc : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return false;
	*p = q;
	*alloc = n;
	return true;
}

/* n bytes at addr in pid, all of them or -1 with errno (EFAULT for a short read). */
static int mem_read(pid_t pid, uint64_t addr, void *buf, size_t n)
{
	struct iovec local = {buf, n};
	struct iovec remote = {(void *)(uintptr_t)addr, n};
	ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)n)
		return 0;
	if (got >= 0)
		errno = EFAULT;
	return -1;
}

static uint64_t u64_at(const unsigned char *b, size_t off)
{
	uint64_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

static uint32_t u32_at(const unsigned char *b, size_t off)
{
	uint32_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

/* ---- the location table ---- */

/* A 3.11 varint: 6-bit chunks, least significant first, 0x40 when another follows. */
static bool lt_varint(const unsigned char *tab, size_t n, size_t *i, unsigned long *v)
{
	unsigned long val = 0;
	for (unsigned shift = 0; shift < 36; shift += 6) {
		if (*i >= n || (tab[*i] & 0x80))
			return false;
		unsigned char b = tab[(*i)++];
		val |= (unsigned long)(b & 0x3f) << shift;
		if (!(b & 0x40)) {
			*v = val;
			return true;
		}
	}
	return false;
}

static bool lt_svarint(const unsigned char *tab, size_t n, size_t *i, long *v)
{
	unsigned long u;
	if (!lt_varint(tab, n, i, &u))
		return false;
	*v = (u & 1) ? -(long)(u >> 1) : (long)(u >> 1);
	return true;
}

/*
 * One entry: its first byte has the top bit set, bits 3-6 the code, bits 0-2 the length in
 * code units less one. Codes 0-9: short form, same line, one byte of columns; 10-12: the line
 * moves by code - 10, two bytes of columns; 13: a signed line delta, no columns; 14: the long
 * form, a signed line delta, then end line, column and end column; 15: no location.
 */
static bool lt_entry(const unsigned char *tab, size_t n, size_t *i, unsigned *len, long *delta,
		     bool *none)
{
	unsigned char b = tab[(*i)++];
	if (!(b & 0x80))
		return false;
	unsigned code = (b >> 3) & 15;
	unsigned long skip;
	*len = (b & 7) + 1;
	*delta = 0;
	*none = code == 15;
	if (code <= 9) {
		*i += 1;
	} else if (code <= 12) {
		*delta = code - 10;
		*i += 2;
	} else if (code == 13) {
		return lt_svarint(tab, n, i, delta);
	} else if (code == 14) {
		return lt_svarint(tab, n, i, delta) && lt_varint(tab, n, i, &skip) &&
		       lt_varint(tab, n, i, &skip) && lt_varint(tab, n, i, &skip);
	}
	return *i <= n;
}

int py_linetable_line(const unsigned char *tab, size_t n, int firstline, long lasti)
{
	long line = firstline, addr = 0;
	size_t i = 0;
	if (lasti < 0)
		return 0;
	while (i < n) {
		unsigned len;
		long delta;
		bool none;
		if (!lt_entry(tab, n, &i, &len, &delta, &none))
			return 0;
		line += delta;
		if (lasti < addr + (long)len)
			return none || line <= 0 || line > INT_MAX ? 0 : (int)line;
		addr += len;
	}
	return 0;
}

/* ---- strings ---- */

static void utf8_put(struct strbuf *sb, uint32_t cp)
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		strbuf_addch(sb, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addch(sb, (char)(0xc0 | cp >> 6));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_addch(sb, (char)(0xe0 | cp >> 12));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_addch(sb, (char)(0xf0 | cp >> 18));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

/* n code points of kind (1, 2 or 4 bytes each) at addr, as UTF-8 into sb. */
static bool unicode_decode(pid_t pid, uint64_t addr, size_t n, unsigned kind, struct strbuf *sb)
{
	unsigned char *data = malloc(n * kind + 1);
	if (!data || mem_read(pid, addr, data, n * kind) < 0) {
		free(data);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = data[i];
		if (kind == 2)
			cp = (uint32_t)data[2 * i] | (uint32_t)data[2 * i + 1] << 8;
		else if (kind == 4)
			cp = u32_at(data, 4 * i);
		utf8_put(sb, cp);
	}
	free(data);
	return true;
}

/* n bytes at addr that must be valid UTF-8 (ASCII when ascii) into sb. */
static bool utf8_copy(pid_t pid, uint64_t addr, size_t n, bool ascii, struct strbuf *sb)
{
	size_t old = sb->len;
	if (!strbuf_grow(sb, n) || mem_read(pid, addr, sb->buf + old, n) < 0)
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode((unsigned char *)sb->buf + old + i, n - i, &cp);
		if (!k || (ascii && cp >= 0x80))
			return false;
		i += k;
	}
	sb->len = old + n;
	sb->buf[sb->len] = '\0';
	return true;
}

/*
 * The str object at addr as a UTF-8 string the caller owns, NULL when it is not a ready
 * compact str (a code object's names always are) or cannot be read. Cut at PY_MAX_STR code
 * points (the cached UTF-8 form is used only when the whole string is that short).
 */
static char *unicode_read(pid_t pid, const struct py_layout *lay, uint64_t addr)
{
	unsigned char h[128];
	struct strbuf sb = STRBUF_INIT;
	bool ok;
	if (!addr || mem_read(pid, addr, h, lay->ascii_size) < 0)
		return NULL;
	int64_t len = (int64_t)u64_at(h, lay->unicode_length);
	uint32_t state = u32_at(h, lay->unicode_state);
	unsigned kind = (state >> lay->state_kind_shift) & 7;
	if (len < 0 || !((state >> lay->state_compact_shift) & 1) ||
	    !((state >> lay->state_ready_shift) & 1))
		return NULL;
	size_t n = len > PY_MAX_STR ? PY_MAX_STR : (size_t)len;
	if ((state >> lay->state_ascii_shift) & 1) {
		ok = utf8_copy(pid, addr + lay->ascii_size, n, true, &sb);
	} else if (kind != 1 && kind != 2 && kind != 4) {
		ok = false;
	} else if (mem_read(pid, addr + lay->ascii_size, h + lay->ascii_size,
			    lay->compact_size - lay->ascii_size) < 0) {
		ok = false;
	} else {
		uint64_t utf8 = u64_at(h, lay->compact_utf8);
		uint64_t utf8_len = u64_at(h, lay->compact_utf8_length);
		if (utf8 && n == (size_t)len && utf8_len <= 4 * n)
			ok = utf8_copy(pid, utf8, utf8_len, false, &sb);
		else
			ok = unicode_decode(pid, addr + lay->compact_size, n, kind, &sb);
	}
	if (!ok || sb.oom) {
		strbuf_release(&sb);
		return NULL;
	}
	if (!sb.buf)
		return strdup("");
	return strbuf_detach(&sb, NULL);
}

/* The bytes object at addr (a location table), at most PY_MAX_LINETABLE bytes. */
static unsigned char *bytes_read(pid_t pid, const struct py_layout *lay, uint64_t addr, size_t *len)
{
	unsigned char h[64];
	if (!addr || mem_read(pid, addr, h, lay->bytes_sval) < 0)
		return NULL;
	int64_t n = (int64_t)u64_at(h, lay->bytes_size);
	if (n < 0 || n > PY_MAX_LINETABLE)
		return NULL;
	unsigned char *b = malloc(n ? (size_t)n : 1);
	if (!b || mem_read(pid, addr + lay->bytes_sval, b, (size_t)n) < 0) {
		free(b);
		return NULL;
	}
	*len = (size_t)n;
	return b;
}

/* ---- the code object cache ---- */

static void code_clear(struct py_code *c)
{
	if (c->fn != unknown)
		free(c->fn);
	if (c->file != unknown)
		free(c->file);
	free(c->lt);
	c->fn = c->file = (char *)unknown;
	c->lt = NULL;
	c->lt_len = 0;
}

static void cache_free(struct py_proc *py)
{
	for (size_t i = 0; i < py->cap_codes; i++) {
		if (py->codes[i]) {
			code_clear(py->codes[i]);
			free(py->codes[i]);
		}
	}
	free(py->codes);
	py->codes = NULL;
	py->n_codes = py->cap_codes = 0;
}

static size_t cache_slot(struct py_code **codes, size_t cap, uint64_t addr)
{
	size_t i = (size_t)((addr >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1);
	while (codes[i] && codes[i]->addr != addr)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Adds c (not yet in the cache); false when out of memory. */
static bool cache_add(struct py_proc *py, struct py_code *c)
{
	if (2 * (py->n_codes + 1) > py->cap_codes) {
		size_t cap = py->cap_codes ? 2 * py->cap_codes : 256;
		struct py_code **codes = calloc(cap, sizeof(*codes));
		if (!codes)
			return false;
		for (size_t i = 0; i < py->cap_codes; i++)
			if (py->codes[i])
				codes[cache_slot(codes, cap, py->codes[i]->addr)] = py->codes[i];
		free(py->codes);
		py->codes = codes;
		py->cap_codes = cap;
	}
	py->codes[cache_slot(py->codes, py->cap_codes, c->addr)] = c;
	py->n_codes++;
	return true;
}

/* Reads c's strings and location table from the pointers in code object header h. */
static void code_load(struct py_proc *py, struct py_code *c, const unsigned char *h)
{
	const struct py_layout *lay = py->lay;
	char *s;
	code_clear(c);
	c->filename = u64_at(h, lay->code_filename);
	c->qualname = u64_at(h, lay->code_qualname);
	c->name = u64_at(h, lay->code_name);
	c->linetable = u64_at(h, lay->code_linetable);
	c->firstline = (int)u32_at(h, lay->code_firstlineno);
	c->firsttraceable = (int)u32_at(h, lay->code_firsttraceable);
	if ((s = unicode_read(py->pid, lay, c->qualname)) ||
	    (s = unicode_read(py->pid, lay, c->name)))
		c->fn = s;
	if ((s = unicode_read(py->pid, lay, c->filename)))
		c->file = s;
	c->lt = bytes_read(py->pid, lay, c->linetable, &c->lt_len);
}

/*
 * The code object at addr, checked once a snapshot: read again when the pointers it holds are
 * not those its strings were read from. NULL when it cannot be read (or out of memory).
 */
static struct py_code *code_get(struct py_proc *py, uint64_t addr)
{
	const struct py_layout *lay = py->lay;
	unsigned char h[256];
	struct py_code *c = NULL;
	if (py->cap_codes)
		c = py->codes[cache_slot(py->codes, py->cap_codes, addr)];
	if (c && c->gen == py->gen)
		return c;
	if (!addr || mem_read(py->pid, addr, h, lay->code_code_adaptive) < 0)
		return NULL;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->addr = addr;
		c->fn = c->file = (char *)unknown;
		if (!cache_add(py, c)) {
			free(c);
			return NULL;
		}
		code_load(py, c, h);
	} else if (c->filename != u64_at(h, lay->code_filename) ||
		   c->qualname != u64_at(h, lay->code_qualname) ||
		   c->name != u64_at(h, lay->code_name) ||
		   c->linetable != u64_at(h, lay->code_linetable) ||
		   c->firstline != (int)u32_at(h, lay->code_firstlineno)) {
		code_load(py, c, h);
	}
	c->gen = py->gen;
	return c;
}

/* ---- finding the runtime ---- */

#if defined(__x86_64__)
#define PY_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define PY_MACHINE EM_AARCH64
#else
#define PY_MACHINE EM_NONE
#endif

struct py_elf {
	uint64_t runtime, version; /* symbol values, 0 when absent */
	bool native;		   /* a 64-bit program of memline's own machine */
	size_t n_loads;
	uint64_t load_vaddr[PY_MAX_LOADS], load_offset[PY_MAX_LOADS];
};

/* The symbols and PT_LOAD segments of the ELF file open on fd; false if it is not one. */
static bool elf_inspect(int fd, struct py_elf *pe)
{
	memset(pe, 0, sizeof(*pe));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t nph;
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getphdrnum(e, &nph) != 0) {
		elf_end(e);
		return false;
	}
	GElf_Ehdr eh;
	pe->native = gelf_getclass(e) == ELFCLASS64 && gelf_getehdr(e, &eh) &&
		     eh.e_machine == PY_MACHINE;
	for (size_t i = 0; i < nph && pe->n_loads < PY_MAX_LOADS; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
			pe->load_vaddr[pe->n_loads] = ph.p_vaddr;
			pe->load_offset[pe->n_loads++] = ph.p_offset;
		}
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn)) && !(pe->runtime && pe->version)) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;
			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !(name = elf_strptr(e, sh.sh_link, sym.st_name)))
				continue;
			if (!strcmp(name, "_PyRuntime"))
				pe->runtime = sym.st_value;
			else if (!strcmp(name, "Py_Version"))
				pe->version = sym.st_value;
		}
	}
	elf_end(e);
	return true;
}

struct map_line {
	uint64_t start, end, pgoff;
	const char *path; /* not NUL-terminated */
	size_t path_len;
};

/* The next line of /proc/PID/maps text at *p; false at the end. */
static bool maps_next(const char **p, const char *end, struct map_line *m)
{
	while (*p < end) {
		const char *line = *p, *nl = memchr(line, '\n', end - line);
		const char *eol = nl ? nl : end;
		*p = nl ? nl + 1 : end;
		char *q;
		unsigned long long start = strtoull(line, &q, 16), stop, off;
		if (q >= eol || *q != '-')
			continue;
		stop = strtoull(q + 1, &q, 16);
		if (q >= eol || !(q = memchr(q, ' ', eol - q)) ||
		    !(q = memchr(q + 1, ' ', eol - q - 1)))
			continue;
		off = strtoull(q + 1, &q, 16);
		/* dev, inode, then spaces and the path */
		for (int field = 0; field < 2 && q && q < eol; field++)
			q = memchr(q + 1, ' ', eol - q - 1);
		if (!q || q >= eol)
			continue;
		while (q < eol && *q == ' ')
			q++;
		if (q >= eol || *q != '/')
			continue;
		m->start = start;
		m->end = stop;
		m->pgoff = off;
		m->path = q;
		m->path_len = eol - q;
		return true;
	}
	return false;
}

/* The load bias of path (as maps names it) in the process, from one of its mappings. */
static bool load_bias(const struct strbuf *maps, const struct map_line *file,
		      const struct py_elf *pe, uint64_t *bias)
{
	const char *p = maps->buf;
	struct map_line m;
	while (maps_next(&p, maps->buf + maps->len, &m)) {
		if (m.path_len != file->path_len || memcmp(m.path, file->path, m.path_len))
			continue;
		for (size_t i = 0; i < pe->n_loads; i++) {
			if (PY_PAGE_DOWN(pe->load_offset[i]) == m.pgoff) {
				*bias = m.start - PY_PAGE_DOWN(pe->load_vaddr[i]);
				return true;
			}
		}
	}
	return false;
}

/* "3.9" from a name such as libpython3.9.so.1.0 or python3.9, into sb; false if none. */
static bool version_from_name(const char *base, struct strbuf *sb)
{
	const char *v = strstr(base, "python");
	if (!v || v[6] < '0' || v[6] > '9')
		return false;
	v += 6;
	size_t n = strspn(v, "0123456789.");
	while (n && v[n - 1] == '.')
		n--;
	strbuf_add(sb, v, n);
	return n > 0;
}

#define DELETED " (deleted)"

/*
 * Where to open the mapped file m: as the process sees it (its root), or, when it was deleted
 * since it was mapped (python upgraded under a running program), through /proc/PID/exe for
 * the executable and /proc/PID/map_files for a library (that one needs CAP_SYS_ADMIN).
 */
static void mapped_path(pid_t pid, const struct map_line *m, bool is_exe, struct strbuf *path)
{
	size_t n = strlen(DELETED);
	if (m->path_len > n && !memcmp(m->path + m->path_len - n, DELETED, n)) {
		if (is_exe)
			strbuf_addf(path, "%d/exe", (int)pid);
		else
			strbuf_addf(path, "%d/map_files/%llx-%llx", (int)pid,
				    (unsigned long long)m->start, (unsigned long long)m->end);
		return;
	}
	strbuf_addf(path, "%d/root%.*s", (int)pid, (int)m->path_len, m->path);
}

/*
 * Looks at one mapped file: 0 when it holds no _PyRuntime, 1 when it does and its version is
 * known (py filled), -1 with why when it is a Python memline cannot read.
 */
static int try_file(struct py_proc *py, const struct strbuf *maps, const struct map_line *file,
		    bool is_exe, struct strbuf *why)
{
	struct strbuf path = STRBUF_INIT, ver = STRBUF_INIT;
	struct py_elf pe;
	uint64_t bias, version = 0;
	int ret = 0, fd;
	mapped_path(py->pid, file, is_exe, &path);
	fd = path.oom ? -1 : procfs_open(py->fs, path.buf, O_RDONLY);
	if (fd < 0 || !elf_inspect(fd, &pe) || !pe.runtime)
		goto out;
	const char *base = memrchr(file->path, '/', file->path_len) + 1;
	int base_len = (int)(file->path + file->path_len - base);
	ret = -1;
	if (!pe.native) {
		strbuf_addf(why, "python (%.*s): not a 64-bit program of memline's machine",
			    base_len, base);
		goto out;
	}
	if (!load_bias(maps, file, &pe, &bias)) {
		strbuf_addf(why, "cannot find where %.*s is loaded in process %d", base_len, base,
			    (int)py->pid);
		goto out;
	}
	if (pe.version && mem_read(py->pid, pe.version + bias, &version, sizeof(version)) < 0) {
		strbuf_addf(why, "cannot read process %d's memory: %s", (int)py->pid,
			    strerror(errno));
		goto out;
	}
	if (version)
		strbuf_addf(&ver, "%u.%u", (unsigned)(version >> 24) & 0xff,
			    (unsigned)(version >> 16) & 0xff);
	if (!(py->lay = py_layout_find((unsigned)(version >> 16) & 0xffff))) {
		strbuf_addf(&path, "%.*s", base_len, base);
		if (ver.len || version_from_name(path.buf + path.len - base_len, &ver))
			strbuf_addf(why, "python %s (%.*s): not a version memline reads: 3.11",
				    ver.buf, base_len, base);
		else
			strbuf_addf(why, "python of unknown version (%.*s): memline reads 3.11",
				    base_len, base);
		goto out;
	}
	py->runtime = pe.runtime + bias;
	ret = 1;
out:
	if (fd >= 0)
		close(fd);
	strbuf_release(&path);
	strbuf_release(&ver);
	return ret;
}

static bool is_exe(const struct map_line *m, const char *exe, size_t exe_len)
{
	return exe_len && m->path_len == exe_len && !memcmp(m->path, exe, exe_len);
}

/* Is the mapped file m one that may hold the runtime: the executable or a libpython? */
static bool is_candidate(const struct map_line *m, const char *exe, size_t exe_len)
{
	const char *base = memrchr(m->path, '/', m->path_len) + 1;
	size_t base_len = m->path + m->path_len - base;
	return is_exe(m, exe, exe_len) || (base_len > 9 && !memcmp(base, "libpython", 9));
}

struct py_proc *py_proc_open(struct procfs *fs, pid_t pid, struct strbuf *why)
{
	struct strbuf maps = STRBUF_INIT, path = STRBUF_INIT, scratch = STRBUF_INIT;
	struct py_proc *py = calloc(1, sizeof(*py));
	char exe[PATH_MAX];
	ssize_t exe_len = -1;
	const char *last = NULL;
	size_t last_len = 0;
	int found = 0;
	if (!why)
		why = &scratch;
	if (!py) {
		strbuf_addstr(why, "out of memory");
		goto out;
	}
	py->pid = pid;
	py->fs = fs;
	if (!procfs_read_maps(fs, pid, &maps)) {
		strbuf_addf(why, "cannot read process %d's memory map: %s", (int)pid,
			    strerror(errno));
		goto out;
	}
	exe_len = procfs_readlink(fs, pid, "exe", exe, sizeof(exe));
	if (exe_len < 0 || exe_len == sizeof(exe))
		exe_len = 0;
	const char *p = maps.buf;
	struct map_line m;
	while (!found && maps_next(&p, maps.buf + maps.len, &m)) {
		if (last && m.path_len == last_len && !memcmp(m.path, last, last_len))
			continue;
		last = m.path;
		last_len = m.path_len;
		if (is_candidate(&m, exe, (size_t)exe_len))
			found = try_file(py, &maps, &m, is_exe(&m, exe, (size_t)exe_len), why);
	}
out:
	strbuf_release(&maps);
	strbuf_release(&path);
	strbuf_release(&scratch);
	if (found != 1) {
		free(py);
		return NULL;
	}
	return py;
}

struct py_proc *py_proc_at(pid_t pid, uint64_t runtime, unsigned version)
{
	const struct py_layout *lay = py_layout_find(version);
	struct py_proc *py = lay ? calloc(1, sizeof(*py)) : NULL;
	if (py) {
		py->pid = pid;
		py->lay = lay;
		py->runtime = runtime;
	}
	return py;
}

void py_proc_free(struct py_proc *py)
{
	if (!py)
		return;
	cache_free(py);
	free(py->threads);
	free(py->raw);
	free(py->frames);
	free(py->win);
	free(py);
}

/* ---- the snapshot ---- */

/*
 * Reads what it can of the PY_WINDOW bytes below top into the window, in one system call, after
 * the n_first (0 or 1) reads of first (whose result it returns: 0 read, -1 not). The remote
 * pages are given highest first, so the read goes down from top and stops at the first page
 * that is not mapped, keeping all it read above it. The frames of a thread's functions are
 * laid out in its data stack chunks, each below the one it called: one window holds many.
 */
static int window_fill(struct py_proc *py, uint64_t top, const struct iovec *first_l,
		       const struct iovec *first_r, size_t n_first)
{
	struct iovec l[PY_WINDOW_PAGES + 2], r[PY_WINDOW_PAGES + 2];
	size_t n = 0, want = 0;
	py->win_addr = py->win_end = 0;
	for (; n < n_first; n++) {
		l[n] = first_l[n];
		r[n] = first_r[n];
		want += l[n].iov_len;
	}
	if (!py->win && !(py->win = malloc(PY_WINDOW)))
		top = 0; /* no window: the first reads alone */
	uint64_t lo = top > PY_WINDOW ? top - PY_WINDOW : 0, hi = top;
	py->win_base = lo;
	while (hi > lo && hi > 4096) {
		uint64_t start = PY_PAGE_DOWN(hi - 1) < lo ? lo : PY_PAGE_DOWN(hi - 1);
		l[n] = (struct iovec){py->win + (start - lo), hi - start};
		r[n++] = (struct iovec){(void *)(uintptr_t)start, hi - start};
		hi = start;
	}
	ssize_t got = n ? process_vm_readv(py->pid, l, n, r, n, 0) : 0;
	if (got < (ssize_t)want)
		return -1;
	got -= want;
	py->win_addr = py->win_end = top;
	for (size_t i = n_first; i < n && (size_t)got >= l[i].iov_len; i++) {
		got -= l[i].iov_len;
		py->win_addr = (uint64_t)(uintptr_t)r[i].iov_base;
	}
	return 0;
}

static bool window_has(const struct py_proc *py, uint64_t addr, size_t n)
{
	return addr >= py->win_addr && addr < py->win_end && py->win_end - addr >= n;
}

/* n bytes of a frame at addr: from the window, else from a window filled below it. */
static int frame_read(struct py_proc *py, uint64_t addr, unsigned char *buf, size_t n)
{
	if (!window_has(py, addr, n) &&
	    (addr > UINT64_MAX - n || window_fill(py, addr + n, NULL, NULL, 0) < 0 ||
	     !window_has(py, addr, n)))
		return mem_read(py->pid, addr, buf, n);
	memcpy(buf, py->win + (addr - py->win_base), n);
	return 0;
}

/*
 * In one system call, cframe->current_frame into *frame (0 when it cannot be read) and the
 * window below the top of the thread's data stack, where its innermost frames are.
 */
static void snap_stack(struct py_proc *py, const unsigned char *t, uint64_t *frame)
{
	const struct py_layout *lay = py->lay;
	uint64_t cframe = u64_at(t, lay->tstate_cframe);
	uint64_t top = u64_at(t, lay->tstate_datastack_top);
	struct iovec l = {frame, sizeof(*frame)};
	struct iovec r = {(void *)(uintptr_t)(cframe + lay->cframe_current_frame), sizeof(*frame)};
	*frame = 0;
	py->win_addr = py->win_end = 0;
	if (cframe && window_fill(py, top, &l, &r, 1) < 0)
		*frame = 0;
}

/* Copies the frame chain from frame on into raw[]; false when out of memory. */
static bool snap_frames(struct py_proc *py, uint64_t frame)
{
	const struct py_layout *lay = py->lay;
	unsigned char f[128];
	for (size_t depth = 0; frame && depth < PY_MAX_FRAMES; depth++) {
		if (frame_read(py, frame, f, lay->frame_owner + 1) < 0)
			break; /* a chain into memory that is not there: what came before stands */
		unsigned char owner = f[lay->frame_owner];
		if (owner > lay->owner_max)
			break;
		if (!grow((void **)&py->raw, &py->alloc_raw, py->n_raw + 1, sizeof(*py->raw)))
			return false;
		py->raw[py->n_raw++] = (struct py_raw){
			.code = u64_at(f, lay->frame_code),
			.instr = u64_at(f, lay->frame_prev_instr),
			.entry = f[lay->frame_is_entry] != 0,
			.owner = owner,
		};
		frame = u64_at(f, lay->frame_previous);
	}
	return true;
}

/* Copies the threads of the interpreter whose thread list starts at ts; -1 out of memory. */
static int snap_threads(struct py_proc *py, uint64_t ts)
{
	const struct py_layout *lay = py->lay;
	unsigned char t[512];
	size_t len = lay->tstate_datastack_top + 8;
	if (lay->tstate_native_thread_id + 8 > len)
		len = lay->tstate_native_thread_id + 8;
	while (ts && py->n_threads < PY_MAX_THREADS) {
		uint64_t frame;
		if (mem_read(py->pid, ts, t, len) < 0)
			return errno == ESRCH ? -1 : 0;
		snap_stack(py, t, &frame);
		if (!grow((void **)&py->threads, &py->alloc_threads, py->n_threads + 1,
			  sizeof(*py->threads)))
			return -1;
		struct py_thread *th = &py->threads[py->n_threads++];
		*th = (struct py_thread){.tid = (pid_t)u64_at(t, lay->tstate_native_thread_id),
					 .first = py->n_raw};
		if (!snap_frames(py, frame))
			return -1;
		th->n_raw = py->n_raw - th->first;
		ts = u64_at(t, lay->tstate_next);
	}
	return 0;
}

int py_proc_snapshot(struct py_proc *py, struct strbuf *why)
{
	const struct py_layout *lay = py->lay;
	unsigned char in[64];
	uint64_t interp;
	py->gen++;
	py->n_threads = py->n_raw = 0;
	if (py->n_codes > PY_CACHE_MAX)
		cache_free(py);
	if (mem_read(py->pid, py->runtime + lay->runtime_interpreters_head, &interp,
		     sizeof(interp)) < 0)
		goto fail;
	for (int i = 0; interp && i < PY_MAX_INTERPS; i++) {
		if (mem_read(py->pid, interp, in, lay->interp_threads_head + 8) < 0)
			goto fail;
		if (snap_threads(py, u64_at(in, lay->interp_threads_head)) < 0)
			goto fail;
		interp = u64_at(in, lay->interp_next);
	}
	if (!grow((void **)&py->frames, &py->alloc_frames, py->n_raw, sizeof(*py->frames))) {
		errno = ENOMEM;
		goto fail;
	}
	return (int)py->n_threads;
fail:
	if (why && errno == ENOMEM)
		strbuf_addstr(why, "out of memory");
	else if (why)
		strbuf_addf(why, "cannot read process %d's memory: %s", (int)py->pid,
			    strerror(errno));
	py->n_threads = py->n_raw = 0;
	return -1;
}

/* ---- resolving ---- */

/*
 * Fills frames[] from raw[] for th. A frame that is not complete (its instruction before the
 * code's first traceable one: it is being set up) is left out; when it is the entry of its
 * evaluation call, the entry mark goes to the frame inside it, or, when that call has no other
 * frame, the incomplete one is kept (line 0) so that every _PyEval_EvalFrameDefault has one.
 */
static void resolve_thread(struct py_proc *py, struct py_thread *th)
{
	const struct py_layout *lay = py->lay;
	size_t k = 0;
	th->resolved = true;
	if (!th->n_raw)
		return;
	struct py_frame *out = py->frames + th->first;
	for (size_t i = 0; i < th->n_raw; i++) {
		const struct py_raw *r = &py->raw[th->first + i];
		struct py_code *c = code_get(py, r->code);
		uint64_t start = r->code + lay->code_code_adaptive;
		long lasti = r->instr >= start ? (long)((r->instr - start) / 2) : -1;
		bool incomplete =
			c && r->owner != lay->owner_generator && lasti < c->firsttraceable;
		if (incomplete && (!r->entry || (k && !out[k - 1].entry))) {
			if (r->entry)
				out[k - 1].entry = true;
			continue;
		}
		out[k++] = (struct py_frame){
			.fn = c ? c->fn : unknown,
			.file = c ? c->file : unknown,
			.line = c && c->lt && !incomplete
					? py_linetable_line(c->lt, c->lt_len, c->firstline, lasti)
					: 0,
			.entry = r->entry,
		};
	}
	th->n_out = k;
}

size_t py_proc_frames(struct py_proc *py, pid_t tid, const struct py_frame **out)
{
	*out = NULL;
	for (size_t i = 0; i < py->n_threads; i++) {
		struct py_thread *th = &py->threads[i];
		if (th->tid != tid)
			continue;
		if (!th->resolved)
			resolve_thread(py, th);
		*out = th->n_out ? py->frames + th->first : NULL;
		return th->n_out;
	}
	return 0;
}
