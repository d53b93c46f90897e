/*
 * heapstress: the heap library's stress test (lib/heap/, docs/heap.md). Run with
 * libmemline-heap.so preloaded and MEMLINE_HEAP_DIR set, it maps its own counters file
 * (lib/heap/counters.h) and checks that what the library counted for what it did is exactly
 * right:
 *
 *   LD_PRELOAD=build/libmemline-heap.so MEMLINE_HEAP_DIR=DIR heapstress SCENARIO...
 *
 * runs the scenarios in turn, printing "ok SCENARIO" after each; on the first difference it
 * prints "FAIL SCENARIO: what" on stderr and exits 1. Scenarios:
 *   file         the file's header: magic, version, sizes, pid, flags, arg_start, mode
 *   basic        malloc, free, malloc(0), sizes that must fail, usable sizes, libc's strdup
 *   calloc       zeroed memory, n * size overflow, reallocarray
 *   realloc      growing, shrinking, NULL, size 0, failure, of an aligned block; data kept
 *   align        posix_memalign, aligned_alloc, memalign, valloc, pvalloc, 16 B .. 2 MiB
 *   peak         the owner's peak, taken as the sampler takes it, also after a remote free
 *   foreign      a block of glibc's own (__libc_malloc) freed through the shim (glibc only)
 *   mmap         anonymous mappings: partial munmap, several at once, MAP_FIXED, files
 *   mremap       grown, shrunk, moved (MREMAP_FIXED, up and down), DONTUNMAP, duplicated
 *   bigalloc     large blocks: the allocator's own mmaps are not counted
 *   threads [N OPS]  N threads (16) x OPS operations (20000) at once, blocks sent to other
 *                threads to free; every thread's counters exact at the end
 *   exit-thread  a thread that exits keeps its slot and totals; its tid's next user a new one
 *   fork         the child has its own file; the parent's counts untouched by the child's
 *                frees of inherited blocks; a grandchild too
 *   fork-threads forks while other threads allocate and map: every child finishes
 *   slots        more threads than slots: the late ones share the last slot, counted
 *   exec         (last) exec of itself: the new image's file replaces the old one's
 *   all          every scenario above but slots and exec
 * It allocates nothing between the snapshots it compares but what it counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap/counters.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static const char *scenario = "setup";
/* sizes the compiler must not see (it warns about allocations that cannot work) */
static volatile size_t size_max = SIZE_MAX;
static const char *self_path;
static struct heap_header *hdr; /* this process's file, mapped shared */
static size_t page;

/* ---- reporting ---- */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "FAIL %s: ", scenario);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof buf)
		vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strnlen(buf, sizeof buf - 2);
	buf[len++] = '\n';
	if (write(2, buf, len) < 0)
		_exit(2);
	_exit(1);
}

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof buf - 1 ? (size_t)n : sizeof buf - 2;
	buf[len++] = '\n';
	if (write(1, buf, len) < 0)
		_exit(2);
}

#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			fail(__VA_ARGS__); \
	} while (0)

#define EXPECT_EQ(what, got, want)                                                               \
	do {                                                                                     \
		uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);                       \
		if (got_ != want_)                                                               \
			fail("%s: expected %" PRIu64 ", got %" PRIu64 " (line %d)", what, want_, \
			     got_, __LINE__);                                                    \
	} while (0)

/* ---- the counters file ---- */

static const char *heap_dir(void)
{
	const char *d = getenv(HEAP_ENV_DIR);
	if (!d || !*d)
		fail("no $%s: run me with the heap library preloaded", HEAP_ENV_DIR);
	return d;
}

static void path_of(char *buf, size_t cap, pid_t pid)
{
	int n = snprintf(buf, cap, "%s/%s%d", heap_dir(), HEAP_FILE_PREFIX, (int)pid);
	EXPECT(n > 0 && (size_t)n < cap, "path too long");
}

/* The counters file of pid, mapped shared and writable (heap_slot_take_peak writes). */
static struct heap_header *map_file(pid_t pid)
{
	char path[4096];
	path_of(path, sizeof path, pid);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	EXPECT(fd >= 0, "cannot open %s: %s (is the heap library preloaded?)", path,
	       strerror(errno));
	void *m = mmap(NULL, HEAP_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m != MAP_FAILED, "cannot map %s: %s", path, strerror(errno));
	close(fd);
	struct heap_header *h = m;
	EXPECT(__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == HEAP_MAGIC, "%s: no magic", path);
	EXPECT(atomic_load(&h->flags) & HEAP_F_READY, "%s: not ready", path);
	EXPECT_EQ("pid in the header", h->pid, pid);
	return h;
}

static uint32_t slots_in_use(struct heap_header *h)
{
	uint32_t n = atomic_load(&h->n_slots);
	return n < HEAP_MAX_SLOTS ? n : HEAP_MAX_SLOTS;
}

/* The newest slot of thread tid in h (a recycled tid has a newer one), NULL if none. */
static struct heap_slot *slot_of(struct heap_header *h, pid_t tid)
{
	for (uint32_t i = slots_in_use(h); i-- > 0;) {
		struct heap_slot *s = heap_slot_at(h, i);
		if (atomic_load_explicit(&s->tid, memory_order_acquire) == tid)
			return s;
	}
	return NULL;
}

static struct heap_slot *my_slot(void)
{
	struct heap_slot *s = slot_of(hdr, gettid());
	EXPECT(s, "no slot for thread %d", (int)gettid());
	return s;
}

struct snap {
	uint64_t alloc, nalloc, own_free, own_nfree, remote_free, remote_nfree, mmap, munmap;
};

static struct snap snap_of(struct heap_slot *s)
{
	return (struct snap){
		.alloc = atomic_load(&s->alloc),
		.nalloc = atomic_load(&s->nalloc),
		.own_free = atomic_load(&s->own_free),
		.own_nfree = atomic_load(&s->own_nfree),
		.remote_free = atomic_load(&s->remote_free),
		.remote_nfree = atomic_load(&s->remote_nfree),
		.mmap = atomic_load(&s->mmap),
		.munmap = atomic_load(&s->munmap),
	};
}

/* b - a must be want, every counter of it. */
static void check_delta_at(int line, const char *what, struct snap a, struct snap b,
			   struct snap want)
{
	const char *names[] = {"alloc",	      "nalloc",	      "own_free", "own_nfree",
			       "remote_free", "remote_nfree", "mmap",	  "munmap"};
	const uint64_t *pa = &a.alloc, *pb = &b.alloc, *pw = &want.alloc;
	for (int i = 0; i < 8; i++)
		if (pb[i] - pa[i] != pw[i])
			fail("%s (line %d): %s changed by %" PRId64 ", expected %" PRIu64, what,
			     line, names[i], (int64_t)(pb[i] - pa[i]), pw[i]);
}
#define CHECK(what, a, b, ...) check_delta_at(__LINE__, what, a, b, (struct snap){__VA_ARGS__})

/* Each step below: a snapshot of my slot, the step, another snapshot, the expected change. */
#define STEP(what, code, ...)                                                                \
	do {                                                                                 \
		struct snap before_ = snap_of(me);                                           \
		code;                                                                        \
		struct snap after_ = snap_of(me);                                            \
		check_delta_at(__LINE__, what, before_, after_, (struct snap){__VA_ARGS__}); \
	} while (0)

/* Field 48 of /proc/self/stat. */
static uint64_t proc_arg_start(void)
{
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY);
	EXPECT(fd >= 0, "cannot open /proc/self/stat");
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	EXPECT(n > 0, "cannot read /proc/self/stat");
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	EXPECT(p, "no ) in /proc/self/stat");
	int field = 2;
	for (p++; *p; p++)
		if (*p == ' ' && ++field == 48)
			return strtoull(p + 1, NULL, 10);
	fail("no field 48 in /proc/self/stat");
}

/* ---- patterns: what a block holds, checked when it is freed ---- */

static void fill(void *p, size_t n, unsigned char pat)
{
	unsigned char *c = p;
	if (n <= 4096) {
		memset(c, pat, n);
		return;
	}
	memset(c, pat, 2048);
	memset(c + n - 2048, pat, 2048);
}

/* Whether the first k bytes of a block that fill(p, n, pat) filled are as it left them (a
 * realloc keeps a prefix: k may be less than n). */
static bool kept(const void *p, size_t k, size_t n, unsigned char pat)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < k; i++) {
		if (n > 4096 && i == 2048)
			i = n - 2048 < k ? n - 2048 : k;
		if (i < k && c[i] != pat)
			return false;
	}
	return true;
}

static bool holds(const void *p, size_t n, unsigned char pat)
{
	return kept(p, n, n, pat);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* ---- scenarios ---- */

static void run_file(void)
{
	char path[4096];
	struct stat st;
	path_of(path, sizeof path, getpid());
	EXPECT(stat(path, &st) == 0, "no %s", path);
	EXPECT_EQ("file mode", st.st_mode & 07777, 0600);
	EXPECT_EQ("file size", st.st_size, HEAP_FILE_SIZE);
	EXPECT_EQ("version", hdr->version, HEAP_VERSION);
	EXPECT_EQ("slot_size", hdr->slot_size, HEAP_SLOT_SIZE);
	EXPECT_EQ("max_slots", hdr->max_slots, HEAP_MAX_SLOTS);
	EXPECT_EQ("header_bytes", hdr->header_bytes, 16);
	EXPECT_EQ("arg_start (field 48 of /proc/self/stat)", hdr->arg_start, proc_arg_start());
	EXPECT(memchr(hdr->allocator, '\0', sizeof hdr->allocator), "allocator not terminated");
	uint32_t flags = atomic_load(&hdr->flags);
	EXPECT(!(flags & HEAP_F_NOT_INTERPOSED), "flags %u say not interposed", flags);
	EXPECT(!(flags & HEAP_F_BOOTSTRAP_FULL), "flags %u say the bootstrap ran out", flags);
	const char *want = getenv("HEAPSTRESS_ALLOCATOR"); /* the allocator's file, if told */
	if (want) {
		EXPECT(strstr(hdr->allocator, want), "allocator is %s, expected %s", hdr->allocator,
		       want);
		EXPECT(!!(flags & HEAP_F_FOREIGN) == !strstr(want, "libc.so.6"),
		       "flags %u: FOREIGN wrong for %s", flags, hdr->allocator);
	}
	say("pid %d allocator %s flags %u arg_start %" PRIu64, (int)getpid(), hdr->allocator, flags,
	    hdr->arg_start);
}

static void run_basic(void)
{
	struct heap_slot *me = my_slot();
	void *p = NULL;
	STEP("malloc(100)", p = malloc(100), .alloc = 100, .nalloc = 1);
	EXPECT(((uintptr_t)p & 15) == 0, "malloc's pointer %p not 16-aligned", p);
	memset(p, 0xab, 100);
	STEP("free of it", free(p), .own_free = 100, .own_nfree = 1);
	STEP("malloc(0)", p = malloc(0), .nalloc = 1);
	EXPECT(p, "malloc(0) gave NULL");
	STEP("free of malloc(0)", free(p), .own_nfree = 1);
	STEP("free(NULL)", free(NULL), );
	errno = 0;
	STEP("malloc(SIZE_MAX)", p = malloc(size_max), );
	EXPECT(!p && errno == ENOMEM, "malloc(SIZE_MAX): %p, errno %d", p, errno);
	errno = 0;
	STEP("malloc(PTRDIFF_MAX)", p = malloc(size_max / 2), );
	EXPECT(!p && errno == ENOMEM, "malloc(PTRDIFF_MAX): %p, errno %d", p, errno);
	errno = 1234;
	STEP("malloc keeps errno", p = malloc(24), .alloc = 24, .nalloc = 1);
	EXPECT_EQ("errno after a malloc that worked", errno, 1234);
	free(p);
	EXPECT_EQ("malloc_usable_size(NULL)", malloc_usable_size(NULL), 0);
	for (size_t n = 1; n < 70000; n = n * 3 / 2 + 1) {
		unsigned char *b = malloc(n);
		size_t u = malloc_usable_size(b);
		EXPECT(u >= n && u <= n + n / 4 + 4096, "usable size of malloc(%zu): %zu", n, u);
		memset(b, 0x5a, u); /* all of it is the program's: the real free must not mind */
		free(b);
	}
	char *s = NULL;
	STEP("libc's strdup", s = strdup("hello"), .alloc = 6, .nalloc = 1);
	STEP("free of strdup's", free(s), .own_free = 6, .own_nfree = 1);
	struct snap a = snap_of(me);
	FILE *f = fopen("/proc/self/stat", "r");
	EXPECT(f, "fopen");
	char *line = NULL;
	size_t cap = 0;
	EXPECT(getline(&line, &cap, f) > 0, "getline");
	free(line);
	fclose(f);
	struct snap b = snap_of(me);
	EXPECT_EQ("live bytes after fopen, getline, fclose", b.alloc - b.own_free,
		  a.alloc - a.own_free);
	EXPECT(b.nalloc > a.nalloc && b.nalloc - a.nalloc == b.own_nfree - a.own_nfree,
	       "fopen/getline/fclose: %" PRIu64 " allocations, %" PRIu64 " frees",
	       b.nalloc - a.nalloc, b.own_nfree - a.own_nfree);
}

static void run_calloc(void)
{
	struct heap_slot *me = my_slot();
	unsigned char *p = NULL;
	STEP("calloc(10, 10)", p = calloc(10, 10), .alloc = 100, .nalloc = 1);
	EXPECT(p && all_zero(p, 100), "calloc(10, 10) not zero");
	free(p);
	for (int i = 0; i < 20; i++) {
		/* a block of garbage freed, then calloc, likely on the same memory */
		unsigned char *g = malloc(1000);
		memset(g, 0xff, 1000);
		free(g);
		STEP("calloc(1, 1000)", p = calloc(1, 1000), .alloc = 1000, .nalloc = 1);
		EXPECT(all_zero(p, 1000), "calloc(1, 1000) not zero");
		free(p);
	}
	STEP("calloc of 3 MiB", p = calloc(3, 1 << 20), .alloc = 3 << 20, .nalloc = 1);
	EXPECT(all_zero(p, 3 << 20), "calloc of 3 MiB not zero");
	free(p);
	errno = 0;
	STEP("calloc overflow", p = calloc(size_max / 2 + 1, 2), );
	EXPECT(!p && errno == ENOMEM, "calloc(SIZE_MAX / 2 + 1, 2): %p, errno %d", p, errno);
	errno = 0;
	STEP("calloc overflow", p = calloc(1 << 20, size_max >> 19), );
	EXPECT(!p && errno == ENOMEM, "calloc(2^20, 2^45): %p, errno %d", p, errno);
	STEP("calloc(0, 5)", p = calloc(0, 5), .nalloc = 1);
	EXPECT(p, "calloc(0, 5) gave NULL");
	free(p);
	STEP("reallocarray(NULL, 10, 10)", p = reallocarray(NULL, 10, 10), .alloc = 100,
	     .nalloc = 1);
	void *q = NULL;
	errno = 0;
	STEP("reallocarray overflow", q = reallocarray(p, size_max / 4, 8), );
	EXPECT(!q && errno == ENOMEM, "reallocarray overflow: %p, errno %d", q, errno);
	STEP("reallocarray(p, 20, 10)", p = reallocarray(p, 20, 10), .alloc = 200, .nalloc = 1,
	     .own_free = 100, .own_nfree = 1);
	free(p);
}

static void run_realloc(void)
{
	struct heap_slot *me = my_slot();
	unsigned char *p = NULL, *q = NULL;
	STEP("realloc(NULL, 50)", p = realloc(NULL, 50), .alloc = 50, .nalloc = 1);
	fill(p, 50, 1);
	STEP("grown to 5000", p = realloc(p, 5000), .alloc = 5000, .nalloc = 1, .own_free = 50,
	     .own_nfree = 1);
	EXPECT(kept(p, 50, 50, 1), "realloc lost data growing to 5000");
	fill(p, 5000, 2);
	STEP("grown to 300000", p = realloc(p, 300000), .alloc = 300000, .nalloc = 1,
	     .own_free = 5000, .own_nfree = 1);
	EXPECT(kept(p, 5000, 5000, 2), "realloc lost data growing to 300000");
	fill(p, 300000, 3);
	STEP("grown to 5 MiB", p = realloc(p, 5 << 20), .alloc = 5 << 20, .nalloc = 1,
	     .own_free = 300000, .own_nfree = 1);
	EXPECT(kept(p, 300000, 300000, 3), "realloc lost data growing to 5 MiB");
	STEP("shrunk to 10", p = realloc(p, 10), .alloc = 10, .nalloc = 1, .own_free = 5 << 20,
	     .own_nfree = 1);
	EXPECT(kept(p, 10, 300000, 3), "realloc lost data shrinking to 10");
	errno = 0;
	STEP("realloc to SIZE_MAX fails", q = realloc(p, size_max), );
	EXPECT(!q && errno == ENOMEM, "realloc(p, SIZE_MAX): %p, errno %d", q, errno);
	EXPECT(kept(p, 10, 300000, 3), "a failed realloc changed the block");
	STEP("realloc to size 0 frees", q = realloc(p, 0), .own_free = 10, .own_nfree = 1);
	EXPECT(!q, "realloc(p, 0) gave %p", q);
	/* an aligned block: realloc gives a plain one, the data kept */
	void *v = NULL;
	STEP("posix_memalign 4096", posix_memalign(&v, 4096, 100), .alloc = 100, .nalloc = 1);
	fill(v, 100, 4);
	STEP("realloc of an aligned block", p = realloc(v, 300), .alloc = 300, .nalloc = 1,
	     .own_free = 100, .own_nfree = 1);
	EXPECT(holds(p, 100, 4), "realloc of an aligned block lost data");
	EXPECT(malloc_usable_size(p) >= 300, "usable size after realloc");
	STEP("free", free(p), .own_free = 300, .own_nfree = 1);
	/* many in a row, sizes up and down */
	p = NULL;
	size_t have = 0;
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)((i * 7919) % 9000) + 1;
		if (i % 97 == 0)
			n *= 200;
		STEP("realloc in a row", q = realloc(p, n), .alloc = n, .nalloc = 1,
		     .own_free = have, .own_nfree = p ? 1 : 0);
		EXPECT(q, "realloc(%zu) failed", n);
		if (p)
			EXPECT(kept(q, have < n ? have : n, have, (unsigned char)i),
			       "realloc lost data");
		fill(q, n, (unsigned char)(i + 1));
		p = q;
		have = n;
	}
	free(p);
}

static void check_aligned(const char *what, void *p, size_t align, size_t n)
{
	EXPECT(p, "%s(%zu, %zu) failed: %s", what, align, n, strerror(errno));
	EXPECT(((uintptr_t)p & (align - 1)) == 0, "%s(%zu, %zu) gave %p", what, align, n, p);
	EXPECT(malloc_usable_size(p) >= n, "%s(%zu, %zu): usable size %zu", what, align, n,
	       malloc_usable_size(p));
}

static void run_align(void)
{
	struct heap_slot *me = my_slot();
	static const size_t sizes[] = {1, 100, 4096, 100000};
	struct {
		void *p;
		size_t n;
	} blocks[3 * 18 * 4];
	size_t nb = 0, total = 0;
	struct snap a = snap_of(me);
	for (size_t align = 16; align <= 2 << 20; align *= 2) {
		for (size_t k = 0; k < 4; k++) {
			size_t n = sizes[k];
			void *p = NULL;
			STEP("posix_memalign",
			     EXPECT_EQ("posix_memalign", posix_memalign(&p, align, n), 0),
			     .alloc = n, .nalloc = 1);
			check_aligned("posix_memalign", p, align, n);
			blocks[nb].p = p, blocks[nb++].n = n;
			STEP("aligned_alloc", p = aligned_alloc(align, n), .alloc = n, .nalloc = 1);
			check_aligned("aligned_alloc", p, align, n);
			blocks[nb].p = p, blocks[nb++].n = n;
			STEP("memalign", p = memalign(align, n), .alloc = n, .nalloc = 1);
			check_aligned("memalign", p, align, n);
			blocks[nb].p = p, blocks[nb++].n = n;
			total += 3 * n;
		}
	}
	for (size_t i = 0; i < nb; i++)
		fill(blocks[i].p, blocks[i].n, (unsigned char)(i + 7));
	for (size_t i = 0; i < nb; i++)
		EXPECT(holds(blocks[i].p, blocks[i].n, (unsigned char)(i + 7)),
		       "aligned block %zu (%zu bytes) was written over", i, blocks[i].n);
	for (size_t i = 0; i < nb; i++)
		free(blocks[i].p);
	CHECK("aligned blocks, all freed", a, snap_of(me), .alloc = total, .nalloc = nb,
	      .own_free = total, .own_nfree = nb);
	void *p = NULL;
	STEP("valloc(10)", p = valloc(10), .alloc = 10, .nalloc = 1);
	check_aligned("valloc", p, page, 10);
	free(p);
	STEP("pvalloc(10): a page", p = pvalloc(10), .alloc = page, .nalloc = 1);
	check_aligned("pvalloc", p, page, page);
	free(p);
	STEP("memalign(48): 64", p = memalign(48, 10), .alloc = 10, .nalloc = 1);
	check_aligned("memalign", p, 64, 10);
	free(p);
	STEP("memalign(8)", p = memalign(8, 10), .alloc = 10, .nalloc = 1);
	check_aligned("memalign", p, 16, 10);
	free(p);
	static const size_t bad[] = {0, 3, 24, 4097};
	for (size_t i = 0; i < 4; i++) {
		void *untouched = &p;
		p = untouched;
		STEP("posix_memalign, bad alignment",
		     EXPECT_EQ("posix_memalign's error", posix_memalign(&p, bad[i], 10), EINVAL), );
		EXPECT(p == untouched, "posix_memalign changed *memptr on EINVAL");
	}
	errno = 0;
	STEP("memalign(SIZE_MAX)", p = memalign(size_max, 1), );
	EXPECT(!p && errno == EINVAL, "memalign(SIZE_MAX, 1): %p, errno %d", p, errno);
}

/* A thread that frees what it reads from a pipe, and says so on another. */
struct freer {
	int in[2], out[2];
};

static void *freer_main(void *arg)
{
	struct freer *f = arg;
	void *p;
	while (read(f->in[0], &p, sizeof p) == sizeof p) {
		free(p);
		if (write(f->out[1], "", 1) != 1)
			break;
	}
	return NULL;
}

static void free_elsewhere(struct freer *f, void *p)
{
	char c;
	EXPECT(write(f->in[1], &p, sizeof p) == sizeof p && read(f->out[0], &c, 1) == 1,
	       "the freeing thread");
}

static void run_peak(void)
{
	struct freer f;
	pthread_t th;
	EXPECT(pipe(f.in) == 0 && pipe(f.out) == 0, "pipe");
	EXPECT(pthread_create(&th, NULL, freer_main, &f) == 0, "pthread_create");
	struct heap_slot *me = my_slot();
	heap_slot_take_peak(me);
	int64_t live = heap_slot_live(me);
	EXPECT_EQ("a second take gives the live bytes", heap_slot_take_peak(me), live);
	void *p = malloc(1 << 20), *q = malloc(2 << 20);
	free(q);
	free(p);
	EXPECT_EQ("peak after 1 + 2 MiB", heap_slot_take_peak(me), live + (3 << 20));
	EXPECT_EQ("peak taken again: the live bytes", heap_slot_take_peak(me), live);
	/* a remote free: the owner's next allocation sees it */
	p = malloc(1 << 20);
	free_elsewhere(&f, p);
	EXPECT_EQ("peak with the block", heap_slot_take_peak(me), live + (1 << 20));
	EXPECT_EQ("live after the remote free", heap_slot_take_peak(me), live);
	q = malloc(100);
	EXPECT_EQ("peak after a remote free and a malloc", atomic_load(&me->peak), live + 100);
	free_elsewhere(&f, q);
	EXPECT_EQ("peak taken", heap_slot_take_peak(me), live + 100);
	EXPECT_EQ("live at the end", heap_slot_live(me), live);
	close(f.in[1]);
	pthread_join(th, NULL);
	close(f.in[0]);
	close(f.out[0]);
	close(f.out[1]);
}

static void run_foreign(void)
{
	if (!strstr(hdr->allocator, "libc.so.6")) {
		say("foreign: skipped, the allocator is %s", hdr->allocator);
		return;
	}
	struct heap_slot *me = my_slot();
	void *p = NULL;
	STEP("__libc_malloc", p = __libc_malloc(100), );
	memset(p, 0x11, 100);
	EXPECT(malloc_usable_size(p) >= 100, "usable size of a foreign block");
	STEP("realloc of a foreign block", p = realloc(p, 5000), );
	EXPECT(holds(p, 100, 0x11), "realloc of a foreign block lost data");
	STEP("free of a foreign block", free(p), );
	p = __libc_malloc(64);
	STEP("__libc_free of it", __libc_free(p), );
}

static void *map_anon(size_t len, int prot, int flags)
{
	void *m = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	EXPECT(m != MAP_FAILED, "mmap(%zu): %s", len, strerror(errno));
	return m;
}

static void run_mmap(void)
{
	struct heap_slot *me = my_slot();
	const size_t P = page;
	char *m = NULL;
	STEP("mmap 10 pages", m = map_anon(10 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE),
	     .mmap = 10 * P);
	memset(m, 1, 10 * P);
	STEP("munmap of the middle", munmap(m + 2 * P, 3 * P), .munmap = 3 * P);
	STEP("munmap of the start", munmap(m, P), .munmap = P);
	STEP("munmap of the end", munmap(m + 9 * P, P), .munmap = P);
	STEP("munmap over the holes", munmap(m, 10 * P), .munmap = 5 * P);
	STEP("munmap again: never seen", munmap(m, 10 * P), );
	/* a reservation, mappings made over it, one munmap of all */
	char *r = NULL;
	STEP("mmap 30 pages PROT_NONE", r = map_anon(30 * P, PROT_NONE, MAP_PRIVATE),
	     .mmap = 30 * P);
	STEP("MAP_FIXED over 4 of them",
	     EXPECT(mmap(r + 2 * P, 4 * P, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == r + 2 * P,
		    "MAP_FIXED"),
	     .mmap = 4 * P, .munmap = 4 * P);
	STEP("MAP_FIXED over 5 more",
	     EXPECT(mmap(r + 10 * P, 5 * P, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == r + 10 * P,
		    "MAP_FIXED"),
	     .mmap = 5 * P, .munmap = 5 * P);
	STEP("MAP_FIXED_NOREPLACE over them fails",
	     EXPECT(mmap(r, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0) == MAP_FAILED,
		    "MAP_FIXED_NOREPLACE replaced"), );
	STEP("munmap of all", munmap(r, 30 * P), .munmap = 30 * P);
	/* files are not heap */
	int fd = open(self_path, O_RDONLY);
	EXPECT(fd >= 0, "open %s", self_path);
	char *f = NULL;
	STEP("mmap of a file", f = mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, 0), );
	EXPECT(f != MAP_FAILED, "mmap of a file");
	STEP("munmap of a file", munmap(f, P), );
	STEP("mmap 4 pages", m = map_anon(4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE),
	     .mmap = 4 * P);
	STEP("a file mapped MAP_FIXED over one",
	     EXPECT(mmap(m + P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == m + P,
		    "MAP_FIXED file"),
	     .munmap = P);
	STEP("munmap of the rest", munmap(m, 4 * P), .munmap = 3 * P);
	close(fd);
	STEP("mmap of 100 bytes: a page", m = map_anon(100, PROT_READ | PROT_WRITE, MAP_PRIVATE),
	     .mmap = P);
	STEP("munmap of 100 bytes: a page", munmap(m, 100), .munmap = P);
	STEP("shared anonymous", m = map_anon(3 * P, PROT_READ | PROT_WRITE, MAP_SHARED),
	     .mmap = 3 * P);
	STEP("munmap of it", munmap(m, 3 * P), .munmap = 3 * P);
	STEP("mmap64", m = mmap64(NULL, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
	     .mmap = 2 * P);
	EXPECT(m != MAP_FAILED, "mmap64");
	STEP("munmap, unaligned: EINVAL",
	     EXPECT(munmap(m + 1, P) == -1 && errno == EINVAL, "munmap"), );
	STEP("munmap", munmap(m, 2 * P), .munmap = 2 * P);
	STEP("mmap of length 0: EINVAL",
	     EXPECT(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED,
		    "mmap 0"), );
	/* many, unmapped in another order than mapped */
	char *many[64];
	for (int i = 0; i < 64; i++)
		STEP("mmap", many[i] = map_anon((size_t)(i % 5 + 1) * P, PROT_READ, MAP_PRIVATE),
		     .mmap = (size_t)(i % 5 + 1) * P);
	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64;
		STEP("munmap", munmap(many[k], (size_t)(k % 5 + 1) * P),
		     .munmap = (size_t)(k % 5 + 1) * P);
	}
}

static void run_mremap(void)
{
	struct heap_slot *me = my_slot();
	const size_t P = page;
	char *m = NULL, *m2 = NULL;
	STEP("mmap 4 pages", m = map_anon(4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE),
	     .mmap = 4 * P);
	fill(m, 4 * P, 9);
	STEP("grown to 8 pages", m2 = mremap(m, 4 * P, 8 * P, MREMAP_MAYMOVE), .mmap = 4 * P);
	EXPECT(m2 != MAP_FAILED && holds(m2, 4 * P, 9), "mremap grow");
	STEP("shrunk to 2, in place", m = mremap(m2, 8 * P, 2 * P, 0), .munmap = 6 * P);
	EXPECT(m == m2, "shrinking moved");
	/* moved into reservations, up and down, with other mappings in the table */
	char *t1 = NULL, *t2 = NULL, *x = NULL, *y = NULL;
	STEP("reservation 1", t1 = map_anon(16 * P, PROT_NONE, MAP_PRIVATE), .mmap = 16 * P);
	STEP("another mapping", x = map_anon(P, PROT_READ, MAP_PRIVATE), .mmap = P);
	STEP("reservation 2", t2 = map_anon(16 * P, PROT_NONE, MAP_PRIVATE), .mmap = 16 * P);
	STEP("another mapping", y = map_anon(P, PROT_READ, MAP_PRIVATE), .mmap = P);
	STEP("moved into reservation 1, grown by one",
	     m2 = mremap(m, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t1 + 4 * P), .mmap = P,
	     .munmap = 3 * P);
	EXPECT(m2 == t1 + 4 * P && kept(m2, 2 * P, 4 * P, 9), "mremap to reservation 1");
	STEP("moved into reservation 2, shrunk by one",
	     m = mremap(m2, 3 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t2 + 8 * P),
	     .munmap = P + 2 * P);
	EXPECT(m == t2 + 8 * P && kept(m, 2 * P, 4 * P, 9), "mremap to reservation 2");
	STEP("moved back into reservation 1",
	     m2 = mremap(m, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t1 + 10 * P),
	     .munmap = 2 * P);
	EXPECT(m2 == t1 + 10 * P && kept(m2, 2 * P, 4 * P, 9), "mremap back to reservation 1");
	/* every part of every mapping, unmapped page by page: each counted once, none lost */
	STEP("x", munmap(x, P), .munmap = P);
	STEP("y", munmap(y, P), .munmap = P);
	STEP("the moved one, a page", munmap(m2 + P, P), .munmap = P);
	STEP("reservation 2", munmap(t2, 16 * P), .munmap = 16 * P - 2 * P);
	STEP("reservation 1 and what is in it", munmap(t1, 16 * P),
	     .munmap = 16 * P - 3 * P - 2 * P + P);
	STEP("all gone", munmap(t1, 16 * P), );
	/* DONTUNMAP: the old range stays mapped, the pages move to a new one */
	STEP("mmap 2 pages", m = map_anon(2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE),
	     .mmap = 2 * P);
	struct snap a = snap_of(me);
	m2 = mremap(m, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (m2 == MAP_FAILED) {
		CHECK("a failed mremap", a, snap_of(me), );
	} else {
		CHECK("DONTUNMAP", a, snap_of(me), .mmap = 2 * P);
		STEP("the new one", munmap(m2, 2 * P), .munmap = 2 * P);
	}
	STEP("the old one", munmap(m, 2 * P), .munmap = 2 * P);
	/* old_len 0: a second mapping of shared pages, the same memory */
	char *s = NULL;
	STEP("shared", s = map_anon(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED), .mmap = 2 * P);
	STEP("duplicated", m = mremap(s, 0, 2 * P, MREMAP_MAYMOVE), );
	EXPECT(m != MAP_FAILED, "mremap(old_len 0): %s", strerror(errno));
	STEP("the duplicate unmapped", munmap(m, 2 * P), );
	STEP("the shared unmapped", munmap(s, 2 * P), .munmap = 2 * P);
	/* a file mapping remapped: never seen */
	int fd = open(self_path, O_RDONLY);
	EXPECT(fd >= 0, "open");
	char *f = mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	EXPECT(f != MAP_FAILED, "mmap of a file");
	STEP("mremap of a file mapping", f = mremap(f, P, 2 * P, MREMAP_MAYMOVE), );
	STEP("munmap of it", munmap(f, 2 * P), );
	STEP("mremap of a bad range", EXPECT(mremap(s, P, 2 * P, 0) == MAP_FAILED, "mremap"), );
}

static void run_bigalloc(void)
{
	struct heap_slot *me = my_slot();
	void *p[64];
	uint64_t total = 0;
	struct snap a = snap_of(me);
	for (int i = 0; i < 64; i++) {
		size_t n = ((size_t)1 << 20) + (size_t)i * 4099;
		p[i] = malloc(n);
		EXPECT(p[i], "malloc(%zu)", n);
		fill(p[i], n, (unsigned char)i);
		total += n;
	}
	CHECK("64 large blocks: no mmap counted", a, snap_of(me), .alloc = total, .nalloc = 64);
	for (int i = 0; i < 64; i++)
		free(p[i]);
	CHECK("64 large blocks freed", a, snap_of(me), .alloc = total, .nalloc = 64,
	      .own_free = total, .own_nfree = 64);
	a = snap_of(me);
	void *q = NULL;
	size_t have = 0;
	total = 0;
	for (size_t n = 1 << 20; n <= 64 << 20; n *= 2) {
		q = realloc(q, n);
		EXPECT(q, "realloc(%zu)", n);
		total += n;
		have += n;
	}
	free(q);
	CHECK("realloc up to 64 MiB", a, snap_of(me), .alloc = total, .nalloc = 7,
	      .own_free = total, .own_nfree = 7);
	a = snap_of(me);
	for (int i = 0; i < 8; i++)
		EXPECT(posix_memalign(&p[i], 2 << 20, 3 << 20) == 0, "posix_memalign 2 MiB");
	for (int i = 0; i < 8; i++)
		free(p[i]);
	CHECK("2 MiB-aligned", a, snap_of(me), .alloc = 8 * (3 << 20), .nalloc = 8,
	      .own_free = 8 * (3 << 20), .own_nfree = 8);
	(void)have;
}

/* ---- many threads ---- */

#define MAX_WORKERS 64
#define HOLD	    48
#define QCAP	    512

struct item {
	void *p;
	size_t n;
	unsigned char pat;
};

struct inbox {
	pthread_mutex_t mu;
	struct item q[QCAP];
	size_t head, n;
};

struct held {
	void *p;
	size_t n;
	unsigned char pat;
};

struct worker {
	pthread_t th;
	int idx;
	pid_t tid;
	struct heap_slot *slot;
	struct snap base, want; /* want: the changes expected of its slot */
	struct held hold[HOLD];
	uint64_t rnd;
};

static struct worker workers[MAX_WORKERS];
static struct inbox inboxes[MAX_WORKERS];
static int n_workers, n_ops;
static pthread_barrier_t start_line, finish_line;

static uint32_t next_rand(struct worker *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return (uint32_t)(w->rnd >> 11);
}

static size_t some_size(struct worker *w)
{
	uint32_t r = next_rand(w) % 100;
	if (r < 70)
		return next_rand(w) % 256 + 1;
	if (r < 96)
		return next_rand(w) % 8192 + 257;
	return next_rand(w) % 300000 + 8193;
}

static void keep(struct worker *w, void *p, size_t n)
{
	for (int i = 0; i < HOLD; i++) {
		if (!w->hold[i].p) {
			unsigned char pat = (unsigned char)(next_rand(w) | 1);
			fill(p, n, pat);
			w->hold[i] = (struct held){p, n, pat};
			return;
		}
	}
	free(p); /* full: freed at once */
	w->want.own_free += n;
	w->want.own_nfree++;
}

static void new_block(struct worker *w, void *p, size_t n)
{
	EXPECT(p, "worker %d: allocation of %zu failed", w->idx, n);
	w->want.alloc += n;
	w->want.nalloc++;
	keep(w, p, n);
}

static struct held *some_held(struct worker *w)
{
	int start = (int)(next_rand(w) % HOLD);
	for (int k = 0; k < HOLD; k++) {
		struct held *h = &w->hold[(start + k) % HOLD];
		if (h->p) {
			EXPECT(holds(h->p, h->n, h->pat),
			       "worker %d: a block of %zu was written over", w->idx, h->n);
			return h;
		}
	}
	return NULL;
}

/* Frees or reallocates what other threads sent (their remote frees, counted by them). */
static void drain(struct worker *w)
{
	struct inbox *in = &inboxes[w->idx];
	for (;;) {
		pthread_mutex_lock(&in->mu);
		if (!in->n) {
			pthread_mutex_unlock(&in->mu);
			return;
		}
		struct item it = in->q[in->head];
		in->head = (in->head + 1) % QCAP;
		in->n--;
		pthread_mutex_unlock(&in->mu);
		EXPECT(holds(it.p, it.n, it.pat), "worker %d: a block sent of %zu was written over",
		       w->idx, it.n);
		if (next_rand(w) % 4 == 0) {
			size_t n = some_size(w);
			void *q = realloc(it.p, n);
			EXPECT(q && kept(q, it.n < n ? it.n : n, it.n, it.pat),
			       "worker %d: realloc", w->idx);
			new_block(w, q, n);
		} else {
			free(it.p);
		}
	}
}

static void send_one(struct worker *w, struct held *h)
{
	struct inbox *to = &inboxes[(w->idx + 1) % n_workers];
	pthread_mutex_lock(&to->mu);
	bool room = to->n < QCAP;
	if (room) {
		to->q[(to->head + to->n) % QCAP] = (struct item){h->p, h->n, h->pat};
		to->n++;
	}
	pthread_mutex_unlock(&to->mu);
	if (room) {
		w->want.remote_free += h->n;
		w->want.remote_nfree++;
	} else {
		free(h->p);
		w->want.own_free += h->n;
		w->want.own_nfree++;
	}
	h->p = NULL;
}

static void worker_op(struct worker *w)
{
	uint32_t r = next_rand(w) % 100;
	struct held *h;
	if (r < 28) {
		size_t n = some_size(w);
		new_block(w, malloc(n), n);
	} else if (r < 36) {
		size_t n = some_size(w);
		unsigned char *p = calloc(1, n);
		EXPECT(p && all_zero(p, n < 4096 ? n : 4096), "worker %d: calloc not zero", w->idx);
		new_block(w, p, n);
	} else if (r < 44) {
		size_t n = some_size(w), align = (size_t)16 << (next_rand(w) % 9);
		void *p = NULL;
		EXPECT(posix_memalign(&p, align, n) == 0 && ((uintptr_t)p & (align - 1)) == 0,
		       "worker %d: posix_memalign(%zu)", w->idx, align);
		new_block(w, p, n);
	} else if (r < 58) {
		if (!(h = some_held(w)))
			return;
		size_t n = some_size(w);
		void *q = realloc(h->p, n);
		EXPECT(q && kept(q, h->n < n ? h->n : n, h->n, h->pat),
		       "worker %d: realloc lost data", w->idx);
		w->want.own_free += h->n;
		w->want.own_nfree++;
		h->p = NULL;
		new_block(w, q, n);
	} else if (r < 80) {
		if (!(h = some_held(w)))
			return;
		free(h->p);
		w->want.own_free += h->n;
		w->want.own_nfree++;
		h->p = NULL;
	} else if (r < 95) {
		if ((h = some_held(w)))
			send_one(w, h);
	} else {
		size_t k = next_rand(w) % 8 + 1;
		char *m = map_anon(k * page, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		m[0] = 1;
		w->want.mmap += k * page;
		if (k >= 3) {
			/* the hole is not unmapped again: another thread may have it by now */
			EXPECT(munmap(m + page, page) == 0, "munmap");
			EXPECT(munmap(m, page) == 0, "munmap");
			EXPECT(munmap(m + 2 * page, (k - 2) * page) == 0, "munmap");
		} else {
			m = mremap(m, k * page, (k + 2) * page, MREMAP_MAYMOVE);
			EXPECT(m != MAP_FAILED, "mremap: %s", strerror(errno));
			w->want.mmap += 2 * page;
			EXPECT(munmap(m, (k + 2) * page) == 0, "munmap");
			k += 2;
		}
		w->want.munmap += k * page;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	free(malloc(1)); /* its slot, taken before its baseline */
	w->tid = gettid();
	w->slot = slot_of(hdr, w->tid);
	EXPECT(w->slot, "worker %d has no slot", w->idx);
	w->base = snap_of(w->slot);
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < n_ops; i++) {
		worker_op(w);
		if (i % 8 == 0)
			drain(w);
	}
	pthread_barrier_wait(&finish_line); /* nothing is sent after this */
	drain(w);
	for (int i = 0; i < HOLD; i++) {
		struct held *h = &w->hold[i];
		if (!h->p)
			continue;
		EXPECT(holds(h->p, h->n, h->pat), "worker %d: a block was written over", w->idx);
		free(h->p);
		w->want.own_free += h->n;
		w->want.own_nfree++;
		h->p = NULL;
	}
	return NULL;
}

static void run_threads(int n, int ops)
{
	EXPECT(n >= 2 && n <= MAX_WORKERS && ops > 0, "threads N OPS: 2 <= N <= %d", MAX_WORKERS);
	n_workers = n;
	n_ops = ops;
	pthread_barrier_init(&start_line, NULL, (unsigned)n);
	pthread_barrier_init(&finish_line, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		pthread_mutex_init(&inboxes[i].mu, NULL);
		inboxes[i].head = inboxes[i].n = 0;
		workers[i] =
			(struct worker){.idx = i, .rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1)};
	}
	for (int i = 0; i < n; i++)
		EXPECT(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) == 0,
		       "pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(workers[i].th, NULL);
	for (int i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		char what[64];
		snprintf(what, sizeof what, "worker %d (tid %d)", i, (int)w->tid);
		check_delta_at(__LINE__, what, w->base, snap_of(w->slot), w->want);
		EXPECT_EQ("its live bytes", heap_slot_live(w->slot),
			  w->base.alloc - w->base.own_free - w->base.remote_free + w->base.mmap -
				  w->base.munmap);
	}
	pthread_barrier_destroy(&start_line);
	pthread_barrier_destroy(&finish_line);
}

/* ---- a thread that exits ---- */

struct leaver {
	void *kept;
	pid_t tid;
	struct heap_slot *slot;
};

static void *leaver_main(void *arg)
{
	struct leaver *l = arg;
	l->kept = malloc(1000);
	free(malloc(500));
	l->tid = gettid();
	l->slot = slot_of(hdr, l->tid);
	return NULL;
}

static void run_exit_thread(void)
{
	struct leaver l = {0}, next = {0};
	pthread_t th;
	EXPECT(pthread_create(&th, NULL, leaver_main, &l) == 0, "pthread_create");
	pthread_join(th, NULL);
	EXPECT(l.slot, "the thread had no slot");
	EXPECT_EQ("the exited thread's slot keeps its tid", atomic_load(&l.slot->tid), l.tid);
	struct snap zero = {0};
	CHECK("the exited thread's totals", zero, snap_of(l.slot), .alloc = 1500, .nalloc = 2,
	      .own_free = 500, .own_nfree = 1);
	EXPECT_EQ("its live bytes", heap_slot_live(l.slot), 1000);
	struct heap_slot *me = my_slot();
	STEP("its block freed by another thread: not mine", free(l.kept), );
	CHECK("the exited thread's totals", zero, snap_of(l.slot), .alloc = 1500, .nalloc = 2,
	      .own_free = 500, .own_nfree = 1, .remote_free = 1000, .remote_nfree = 1);
	EXPECT_EQ("its live bytes", heap_slot_live(l.slot), 0);
	EXPECT(pthread_create(&th, NULL, leaver_main, &next) == 0, "pthread_create");
	pthread_join(th, NULL);
	EXPECT(next.slot && next.slot != l.slot, "a new thread took the old thread's slot");
	free(next.kept);
}

/* ---- more threads than slots ---- */

struct joiner {
	void *kept;
};

static void *joiner_main(void *arg)
{
	struct joiner *j = arg;
	free(malloc(7));
	j->kept = malloc(3);
	return NULL;
}

static void run_slots(void)
{
	uint32_t start = atomic_load(&hdr->n_slots);
	EXPECT(start < HEAP_MAX_SLOTS - 1, "%u slots taken already", start);
	uint32_t n = HEAP_MAX_SLOTS - start + 20, shared = n - (HEAP_MAX_SLOTS - 1 - start);
	struct joiner *js = calloc(n, sizeof *js);
	EXPECT(js, "calloc");
	struct heap_slot *last = heap_slot_at(hdr, HEAP_MAX_SLOTS - 1);
	for (uint32_t i = 0; i < n; i++) {
		pthread_t th;
		EXPECT(pthread_create(&th, NULL, joiner_main, &js[i]) == 0, "pthread_create %u", i);
		pthread_join(th, NULL);
	}
	EXPECT_EQ("n_slots", atomic_load(&hdr->n_slots), start + n);
	EXPECT_EQ("the last slot's tid", (uint32_t)atomic_load(&last->tid),
		  (uint32_t)HEAP_TID_SHARED);
	struct snap zero = {0};
	CHECK("the shared slot", zero, snap_of(last), .alloc = 10 * shared, .nalloc = 2 * shared,
	      .own_free = 7 * shared, .own_nfree = shared);
	for (uint32_t i = start; i < HEAP_MAX_SLOTS - 1; i++) {
		struct heap_slot *s = heap_slot_at(hdr, i);
		EXPECT(atomic_load(&s->tid) > 0, "slot %u has no tid", i);
		CHECK("a late thread's slot", zero, snap_of(s), .alloc = 10, .nalloc = 2,
		      .own_free = 7, .own_nfree = 1);
	}
	for (uint32_t i = 0; i < n; i++)
		free(js[i].kept);
	CHECK("the shared slot", zero, snap_of(last), .alloc = 10 * shared, .nalloc = 2 * shared,
	      .own_free = 7 * shared, .own_nfree = shared, .remote_free = 3 * shared,
	      .remote_nfree = shared);
	for (uint32_t i = start; i < HEAP_MAX_SLOTS - 1; i++)
		EXPECT_EQ("a late thread's live bytes", heap_slot_live(heap_slot_at(hdr, i)), 0);
	free(js);
}

/* ---- fork ---- */

static int wait_child(pid_t pid)
{
	int status;
	EXPECT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In a child: its own file, fresh; what it frees of its ancestors' is not counted. */
static void child_checks(void *inherited, char *mapped, uint64_t parent_forks)
{
	struct heap_header *mine = map_file(getpid());
	EXPECT_EQ("the child's forks", mine->forks, parent_forks + 1);
	EXPECT_EQ("the child's arg_start", mine->arg_start, hdr->arg_start);
	EXPECT(mine != hdr, "the same mapping");
	struct heap_header *parents = hdr;
	hdr = mine;
	free(inherited);
	EXPECT(munmap(mapped, page) == 0, "munmap");
	void *p = malloc(123);
	struct heap_slot *me = my_slot();
	struct snap zero = {0};
	CHECK("the child's slot", zero, snap_of(me), .alloc = 123, .nalloc = 1);
	STEP("a block of the parent realloc'd", p = realloc(p, 200), .alloc = 200, .nalloc = 1,
	     .own_free = 123, .own_nfree = 1);
	free(p);
	EXPECT_EQ("the child's n_slots", atomic_load(&mine->n_slots), 1);
	munmap(parents, HEAP_FILE_SIZE);
}

static void run_fork(void)
{
	struct heap_slot *me = my_slot();
	void *b = malloc(777), *c = malloc(555), *d = malloc(333);
	char *m = map_anon(2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct snap before = snap_of(me);
	pid_t pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0) {
		scenario = "fork (child)";
		child_checks(b, m, hdr->forks);
		void *e = realloc(d, 5000); /* an inherited block realloc'd: only the new counted */
		pid_t g = fork();
		if (g == 0) {
			scenario = "fork (grandchild)";
			uint64_t forks = hdr->forks;
			child_checks(c, m + page, forks);
			free(e);
			_exit(0);
		}
		EXPECT(g > 0, "fork");
		_exit(wait_child(g));
	}
	EXPECT_EQ("the child's exit status", wait_child(pid), 0);
	CHECK("the parent's slot while the child freed its blocks", before, snap_of(me), );
	STEP("the parent frees them", (free(b), free(c), free(d)), .own_free = 777 + 555 + 333,
	     .own_nfree = 3);
	STEP("and unmaps", munmap(m, 2 * page), .munmap = 2 * page);
}

static _Atomic int stop_hammer;

static void *hammer_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_hammer)) {
		void *p = malloc(64);
		char *m = map_anon(2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		munmap(m + page, page);
		free(p);
		munmap(m, page);
	}
	return NULL;
}

static void run_fork_threads(void)
{
	pthread_t th[3];
	atomic_store(&stop_hammer, 0);
	for (int i = 0; i < 3; i++)
		EXPECT(pthread_create(&th[i], NULL, hammer_main, NULL) == 0, "pthread_create");
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		EXPECT(pid >= 0, "fork");
		if (pid == 0) {
			struct heap_header *mine = map_file(getpid());
			free(malloc(10));
			char *m = map_anon(page, PROT_READ, MAP_PRIVATE);
			munmap(m, page);
			struct heap_slot *s = slot_of(mine, gettid());
			_exit(s && atomic_load(&s->nalloc) >= 1 && atomic_load(&s->mmap) == page &&
					      atomic_load(&s->munmap) == page
				      ? 0
				      : 3);
		}
		EXPECT_EQ("a child forked while threads allocate", wait_child(pid), 0);
	}
	atomic_store(&stop_hammer, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
}

/* ---- exec ---- */

static void run_exec(void)
{
	char path[4096], fdarg[16], argarg[32];
	path_of(path, sizeof path, getpid());
	int fd = open(path, O_RDONLY); /* kept across the exec: the old file, still there */
	EXPECT(fd >= 0, "open %s", path);
	snprintf(fdarg, sizeof fdarg, "%d", fd);
	snprintf(argarg, sizeof argarg, "%" PRIu64, hdr->arg_start);
	execl(self_path, "heapstress", "exec-after", fdarg, argarg, (char *)NULL);
	fail("exec %s: %s", self_path, strerror(errno));
}

static void run_exec_after(const char *fdarg, const char *argarg)
{
	char path[4096];
	struct stat old, now;
	int fd = (int)strtol(fdarg, NULL, 10);
	path_of(path, sizeof path, getpid());
	EXPECT(fstat(fd, &old) == 0 && stat(path, &now) == 0, "stat");
	EXPECT(old.st_ino != now.st_ino || old.st_dev != now.st_dev,
	       "the new image's file is the old one");
	EXPECT_EQ("links of the old image's file", old.st_nlink, 0);
	close(fd);
	EXPECT_EQ("forks after exec", hdr->forks, 0);
	EXPECT_EQ("arg_start", hdr->arg_start, proc_arg_start());
	say("arg_start before exec %s, after %" PRIu64, argarg, hdr->arg_start);
	scenario = "exec";
}

/* ---- main ---- */

static void run_one(const char *name)
{
	scenario = name;
	if (!strcmp(name, "file"))
		run_file();
	else if (!strcmp(name, "basic"))
		run_basic();
	else if (!strcmp(name, "calloc"))
		run_calloc();
	else if (!strcmp(name, "realloc"))
		run_realloc();
	else if (!strcmp(name, "align"))
		run_align();
	else if (!strcmp(name, "peak"))
		run_peak();
	else if (!strcmp(name, "foreign"))
		run_foreign();
	else if (!strcmp(name, "mmap"))
		run_mmap();
	else if (!strcmp(name, "mremap"))
		run_mremap();
	else if (!strcmp(name, "bigalloc"))
		run_bigalloc();
	else if (!strcmp(name, "exit-thread"))
		run_exit_thread();
	else if (!strcmp(name, "fork"))
		run_fork();
	else if (!strcmp(name, "fork-threads"))
		run_fork_threads();
	else if (!strcmp(name, "slots"))
		run_slots();
	else if (!strcmp(name, "exec"))
		run_exec();
	else
		fail("unknown scenario");
	say("ok %s", name);
}

int main(int argc, char **argv)
{
	static const char *const all[] = {
		"file", "basic",  "calloc",   "realloc", "align",	"peak", "foreign",
		"mmap", "mremap", "bigalloc", "threads", "exit-thread", "fork", "fork-threads"};
	self_path = "/proc/self/exe";
	page = (size_t)sysconf(_SC_PAGESIZE);
	free(malloc(1)); /* this thread's slot */
	hdr = map_file(getpid());
	if (argc == 4 && !strcmp(argv[1], "exec-after")) {
		run_exec_after(argv[2], argv[3]);
		say("ok exec");
		return 0;
	}
	EXPECT(argc > 1, "usage: heapstress SCENARIO... (see its source)");
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	EXPECT(n > 0, "readlink /proc/self/exe");
	exe[n] = '\0';
	self_path = exe;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "threads")) {
			int threads = 16, ops = 20000;
			if (i + 2 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
				threads = (int)strtol(argv[++i], NULL, 10);
				ops = (int)strtol(argv[++i], NULL, 10);
			}
			scenario = "threads";
			run_threads(threads, ops);
			say("ok threads");
		} else if (!strcmp(argv[i], "all")) {
			for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
				if (!strcmp(all[k], "threads")) {
					scenario = "threads";
					run_threads(16, 20000);
					say("ok threads");
				} else {
					run_one(all[k]);
				}
			}
			say("ok all");
		} else {
			run_one(argv[i]);
		}
	}
	return 0;
}
