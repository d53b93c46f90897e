/*
 * shim: libmemline-heap.so, the allocator shim that `memline run --heap` preloads into every
 * process of the tree. It counts, per thread, the heap the thread holds, into the process's
 * counters file (heap/counters.h: DIR/heap.PID, DIR from $MEMLINE_HEAP_DIR), which memline's
 * sampler reads. This file holds the malloc family, the counters file and fork; shim-mmap.c
 * holds mmap, munmap and mremap. docs/heap.md, "The heap library", is the long version.
 *
 * How it works:
 * - Every allocation is passed to the allocator that comes after us in the link order
 *   (dlsym(RTLD_NEXT): glibc's, or a jemalloc or tcmalloc shared library, which is thus
 *   wrapped), asked for 16 bytes more. Those 16 bytes, right before the pointer the program
 *   gets, are the block's header: the size asked, the slot of the thread that allocated it, the
 *   generation (below), the offset back to the real allocation (aligned blocks) and a check
 *   value mixed from all of it and the address, so that a pointer that is not ours, or a
 *   corrupt header, is recognised and handed to the real free untouched.
 * - A thread takes a slot in the file at its first allocation. Its own counters are written by
 *   it alone, with relaxed atomic loads and stores; a free by another thread is added to the
 *   owner's remote counters with fetch_add. No lock and no system call on the malloc and free
 *   paths; thread-local state is initial-exec TLS.
 * - Before the real functions are known (dlsym itself may allocate; other libraries'
 *   constructors may allocate before ours runs), allocations come from a static bootstrap
 *   arena, which free() recognises by address and ignores.
 * - The counters file is made at the first allocation or in our constructor, whichever comes
 *   first; without $MEMLINE_HEAP_DIR, or if the file cannot be made, blocks still get headers
 *   (so that every free finds what it expects) but nothing is counted.
 * - fork: the child (pthread_atfork) makes its own file, and bumps the generation, a number
 *   every counted block carries: a block inherited from an ancestor and freed in the child has
 *   an older one and is freed without being counted. exec: the new image unlinks the old
 *   image's file and makes its own. A child of a raw clone() or of _Fork() runs no atfork
 *   handler: until it execs, it writes into its parent's file (mapped shared) as the thread
 *   that made it, its counts mixed with that thread's (and some of either lost).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/shim.h"

_Static_assert(sizeof(void *) == 8, "the shim's block header is made for 64-bit pointers");

/*
 * The header before every block of ours. meta: bits 0-13 the owner's slot (META_SLOT_NONE when
 * not counted), 14-19 log2 of the offset from the real allocation's start to the program's
 * pointer (4: the plain 16 bytes; more for aligned blocks), 20-31 the generation (GEN_UNCOUNTED
 * for a block that was never counted).
 */
struct block_head {
	uint64_t size;	/* as the program asked it */
	uint32_t meta;	/* slot, offset, generation */
	uint32_t check; /* block_check() of the address, size and meta; inverted once freed */
};
_Static_assert(sizeof(struct block_head) == 16, "the header keeps 16-byte alignment");

#define HEAD	       ((size_t)sizeof(struct block_head))
#define SHIFT_PLAIN    4
#define META_SLOT_NONE 0x3fffu
#define META_SHIFT_POS 14
#define META_GEN_POS   20
#define GEN_UNCOUNTED  0xfffu
#define GEN_COUNT      GEN_UNCOUNTED /* generations 0 .. GEN_COUNT - 1 are counted */
#define META_UNCOUNTED (META_SLOT_NONE | GEN_UNCOUNTED << META_GEN_POS)
#define SIZE_LIMIT     ((size_t)PTRDIFF_MAX) /* glibc fails larger requests with ENOMEM */
#define BOOT_SIZE      (64 * 1024)
_Static_assert(HEAP_MAX_SLOTS <= META_SLOT_NONE, "a slot index fits the header");

struct shim_global shim_g;
__thread struct shim_thread shim_self __attribute__((tls_model("initial-exec"))) = {
	.index = SHIM_NO_SLOT,
	.meta = META_UNCOUNTED,
	.own_key = UINT32_MAX,
};

/* the file's path, for opening it again when a thread's slot is to be backed (slot_back) */
static char file_path[PATH_MAX];

static char boot_arena[BOOT_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

/* ---- blocks ---- */

static inline uint32_t block_check(const void *p, uint64_t size, uint32_t meta)
{
	uint64_t h = ((uint64_t)(uintptr_t)p ^ shim_g.key ^ (uint64_t)meta << 32) + size;
	h *= 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> 32);
}

static inline struct block_head *head_of(void *p)
{
	return (struct block_head *)p - 1;
}

static inline uint32_t meta_slot(uint32_t meta)
{
	return meta & META_SLOT_NONE;
}

static inline unsigned meta_shift(uint32_t meta)
{
	return meta >> META_SHIFT_POS & 63;
}

static inline uint32_t meta_gen(uint32_t meta)
{
	return meta >> META_GEN_POS;
}

/* meta without the offset: the owner's slot and the generation */
static inline uint32_t meta_owner(uint32_t meta)
{
	return meta & ~((uint32_t)63 << META_SHIFT_POS);
}

static inline bool in_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_arena < BOOT_SIZE;
}

static void *fail_nomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/* ---- counting ---- */

#define LOAD(x)	    atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, v)   atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)

/*
 * The peak, without reading the other threads' cache line on every allocation: out_seen is
 * what remote_free + munmap were when last read; they only grow, so the live bytes computed with
 * it are an upper bound, and while that bound is not above the peak there is nothing to do.
 * in: alloc + mmap; own_out: own_free.
 */
static __attribute__((noinline)) void raise_peak_slow(struct shim_thread *t, uint64_t in,
						      uint64_t own_out)
{
	struct heap_slot *s = t->slot;
	t->out_seen = LOAD(s->remote_free) + LOAD(s->munmap);
	int64_t live = (int64_t)(in - own_out - t->out_seen);
	int64_t peak = LOAD(s->peak);
	if (t->state == THREAD_OWNER) {
		if (live > peak)
			STORE(s->peak, live);
		return;
	}
	while (live > peak &&
	       !atomic_compare_exchange_weak_explicit(&s->peak, &peak, live, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static inline void raise_peak(struct shim_thread *t, struct heap_slot *s, uint64_t in)
{
	uint64_t own_out = LOAD(s->own_free);
	if (unlikely((int64_t)(in - own_out - t->out_seen) > LOAD(s->peak)))
		raise_peak_slow(t, in, own_out);
}

void shim_count_mmap(struct shim_thread *t, uint64_t n)
{
	struct heap_slot *s = t->slot;
	uint64_t m;
	if (t->state == THREAD_OWNER) {
		m = LOAD(s->mmap) + n;
		STORE(s->mmap, m);
	} else {
		m = ADD(s->mmap, n) + n;
	}
	raise_peak(t, s, LOAD(s->alloc) + m);
}

void shim_count_munmap(uint32_t i, uint64_t n)
{
	if (i < HEAP_MAX_SLOTS && shim_g.file)
		ADD(heap_slot_at(shim_g.file, i)->munmap, n);
}

/* A counted block, n bytes, of another thread's slot (or of the shared slot) is freed. */
static __attribute__((noinline)) void count_other_free(struct shim_thread *t, uint32_t meta,
						       uint64_t n)
{
	uint32_t i = meta_slot(meta);
	if (meta_gen(meta) != shim_g.gen || i >= HEAP_MAX_SLOTS || !shim_g.file)
		return; /* never counted, or inherited from a parent: not ours to count */
	struct heap_slot *s = heap_slot_at(shim_g.file, i);
	if (i == t->index) { /* THREAD_SHARED, its own slot */
		ADD(s->own_free, n);
		ADD(s->own_nfree, 1);
	} else {
		ADD(s->remote_free, n);
		ADD(s->remote_nfree, 1);
	}
}

/* A block of n bytes, freed by the calling thread t, was counted to meta's slot. */
static inline void count_free(struct shim_thread *t, uint32_t meta, uint64_t n)
{
	if (likely(meta_owner(meta) == t->own_key)) {
		struct heap_slot *s = t->slot;
		STORE(s->own_free, LOAD(s->own_free) + n);
		STORE(s->own_nfree, LOAD(s->own_nfree) + 1);
		return;
	}
	count_other_free(t, meta, n);
}

/* block_start() for a thread that is not a slot's owner: FRESH, SHARED or UNCOUNTED. */
static __attribute__((noinline)) void *block_start_slow(struct shim_thread *t, char *p,
							unsigned shift, uint64_t size)
{
	shim_thread_recheck(t);
	if (t->state == THREAD_FRESH)
		shim_thread_start(t, true);
	struct block_head *h = head_of(p);
	uint32_t meta = t->meta | (uint32_t)shift << META_SHIFT_POS;
	h->size = size;
	h->meta = meta;
	h->check = block_check(p, size, meta);
	struct heap_slot *s = t->slot;
	if (t->state == THREAD_OWNER) {
		uint64_t a = LOAD(s->alloc) + size;
		STORE(s->alloc, a);
		STORE(s->nalloc, LOAD(s->nalloc) + 1);
		raise_peak(t, s, a + LOAD(s->mmap));
	} else if (t->state == THREAD_SHARED) {
		uint64_t a = ADD(s->alloc, size) + size;
		ADD(s->nalloc, 1);
		raise_peak(t, s, a + LOAD(s->mmap));
	}
	return p;
}

/*
 * Makes the header of a block whose real allocation starts at base, the program's pointer
 * being base + (1 << shift), and counts it to the calling thread t.
 */
static inline __attribute__((always_inline)) void *block_start(struct shim_thread *t, void *base,
							       unsigned shift, uint64_t size)
{
	char *p = (char *)base + ((size_t)1 << shift);
	if (unlikely(t->state != THREAD_OWNER))
		return block_start_slow(t, p, shift, size);
	struct heap_slot *s = t->slot;
	uint32_t meta = t->meta | (uint32_t)shift << META_SHIFT_POS;
	uint64_t out_seen = t->out_seen;
	struct block_head *h = head_of(p);
	h->size = size;
	h->meta = meta;
	h->check = block_check(p, size, meta);
	uint64_t a = LOAD(s->alloc) + size;
	STORE(s->alloc, a);
	STORE(s->nalloc, LOAD(s->nalloc) + 1);
	uint64_t in = a + LOAD(s->mmap), own_out = LOAD(s->own_free);
	if (unlikely((int64_t)(in - own_out - out_seen) > LOAD(s->peak)))
		raise_peak_slow(t, in, own_out);
	return p;
}

/* ---- the bootstrap arena ---- */

/*
 * Memory for allocations made before the real functions are known: bumped atomically, never
 * reused (free ignores it), zero since it is static. A 16-byte header holds the size.
 */
static void *boot_alloc(size_t n, size_t align)
{
	uintptr_t base = (uintptr_t)boot_arena;
	size_t used = atomic_load_explicit(&boot_used, memory_order_relaxed), start, end;
	if (align < HEAD)
		align = HEAD;
	do {
		if (align > BOOT_SIZE)
			goto full;
		start = ((base + used + HEAD + align - 1) & ~(uintptr_t)(align - 1)) - base;
		if (start > BOOT_SIZE || n > BOOT_SIZE - start)
			goto full;
		end = (start + n + HEAD - 1) & ~(HEAD - 1);
	} while (!atomic_compare_exchange_weak_explicit(
		&boot_used, &used, end, memory_order_relaxed, memory_order_relaxed));
	head_of(boot_arena + start)->size = n;
	return boot_arena + start;
full:
	atomic_store_explicit(&shim_g.boot_full, 1, memory_order_relaxed);
	if (shim_g.file)
		atomic_fetch_or_explicit(&shim_g.file->flags, HEAP_F_BOOTSTRAP_FULL,
					 memory_order_relaxed);
	return fail_nomem();
}

/* ---- the real functions ---- */

static void *sys_mremap_va(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return shim_sys_mremap(old, old_len, new_len, flags, new_addr);
}

void *shim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int shim_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

void *shim_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

#define NEXT(field, name) (*(void **)&r.field = dlsym(RTLD_NEXT, name))

/*
 * Finds the real functions, once: the first thread to get here does it, while its own
 * allocations (dlsym's) and those of any other thread come from the bootstrap arena. False
 * while they are not known. errno is kept.
 */
bool shim_resolve_slow(void)
{
	struct shim_thread *t = &shim_self;
	if (t->resolving)
		return false;
	int state = REAL_NONE;
	if (!atomic_compare_exchange_strong(&shim_g.real_state, &state, REAL_RESOLVING))
		return state == REAL_READY;
	int saved = errno;
	struct shim_real r = {0};
	t->resolving = 1;
	NEXT(malloc, "malloc");
	NEXT(free, "free");
	NEXT(calloc, "calloc");
	NEXT(realloc, "realloc");
	NEXT(posix_memalign, "posix_memalign");
	NEXT(malloc_usable_size, "malloc_usable_size");
	NEXT(mmap, "mmap");
	NEXT(munmap, "munmap");
	NEXT(mremap, "mremap");
	t->resolving = 0;
	errno = saved;
	if (!r.malloc || !r.free || !r.calloc || !r.realloc)
		return false; /* no allocator after us: stay on the bootstrap (never seen) */
	if (!r.mmap)
		r.mmap = shim_sys_mmap;
	if (!r.munmap)
		r.munmap = shim_sys_munmap;
	if (!r.mremap)
		r.mremap = sys_mremap_va;
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	uint64_t key = 0x6d656d6c696e6521ULL ^ (uint64_t)(uintptr_t)&key;
	if (rnd) {
		uint64_t k;
		memcpy(&k, rnd + 8, sizeof k);
		key ^= k;
	}
	shim_g.key = key;
	shim_g.page = getauxval(AT_PAGESZ);
	if (!shim_g.page)
		shim_g.page = 4096;
	shim_g.real = r;
	atomic_store_explicit(&shim_g.real_state, REAL_READY, memory_order_release);
	errno = saved;
	return true;
}

/* ---- the counters file ---- */

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/* DIR/heap.PID into out; false if it does not fit. */
static bool path_of(char *out, size_t cap, const char *dir, pid_t pid)
{
	char digits[16];
	size_t nd = 0, d = strlen(dir), pre = sizeof(HEAP_FILE_PREFIX) - 1;
	unsigned v = (unsigned)pid;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && nd < sizeof digits);
	if (d + 1 + pre + nd + 1 > cap)
		return false;
	memcpy(out, dir, d);
	out[d] = '/';
	memcpy(out + d + 1, HEAP_FILE_PREFIX, pre);
	for (size_t i = 0; i < nd; i++)
		out[d + 1 + pre + i] = digits[nd - 1 - i];
	out[d + 1 + pre + nd] = '\0';
	return true;
}

/* Field 48 of /proc/self/stat, the kernel's arg_start; 0 if it cannot be read. */
static uint64_t proc_arg_start(void)
{
	char buf[2048];
	size_t len = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (len < sizeof buf - 1) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	/* the command name (field 2) may hold anything: fields are counted from its last ')' */
	const char *p = memrchr(buf, ')', len), *end = buf + len;
	if (!p)
		return 0;
	for (int field = 2; ++p < end;) {
		if (*p != ' ' || ++field != 48)
			continue;
		uint64_t v = 0;
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return 0;
}

/*
 * The image's arg_start: what /proc/PID/stat says (the sampler compares it with that), else
 * the address of argv[0] (the constructor's, or glibc's program_invocation_name, which is
 * argv[0] once libc started): they are the same but for a program started through an
 * explicit ld.so, whose argv[0] is not the first string of the kernel's argument area.
 */
static uint64_t arg_start(void)
{
	uint64_t a = proc_arg_start();
	if (!a && shim_g.argv0)
		a = (uint64_t)(uintptr_t)shim_g.argv0;
	if (!a && program_invocation_name)
		a = (uint64_t)(uintptr_t)program_invocation_name;
	return a;
}

/*
 * Whether the malloc the program calls is ours: the one dlsym(RTLD_DEFAULT) finds is called,
 * with this thread made FRESH for the moment so that, if it is ours, shim_thread_start() sees
 * the probe. The address alone cannot tell: a non-PIE executable that takes malloc's address
 * (CPython's) has it resolve to a PLT entry of its own, which jumps to ours.
 */
static bool interposed(void *winner)
{
	struct shim_thread *t = &shim_self;
	void *(*call)(size_t) = (void *(*)(size_t))winner;
	void (*release_it)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
	uint8_t state = t->state;
	t->state = THREAD_FRESH;
	t->probing = 1;
	t->probe_hit = 0;
	void *p = call(1);
	t->probing = 0;
	t->state = state;
	if (p && release_it)
		release_it(p);
	return t->probe_hit;
}

/*
 * The allocator's file name (its tail if it is long) and the flags it implies, into shim_g,
 * once: a fork's child has its parent's (it must not call malloc in its fork handler, which may
 * run before the allocator's own has unlocked it).
 */
static void allocator_find(void)
{
	uint32_t flags = 0;
	void *winner = dlsym(RTLD_DEFAULT, "malloc");
	void *used = (void *)shim_g.real.malloc;
	Dl_info info;
	if (winner && !interposed(winner)) {
		flags |= HEAP_F_NOT_INTERPOSED;
		used = winner;
	}
	const char *file = dladdr(used, &info) && info.dli_fname ? info.dli_fname : "";
	size_t len = strlen(file), cap = sizeof shim_g.allocator - 1;
	if (len <= cap) {
		memcpy(shim_g.allocator, file, len);
	} else {
		memcpy(shim_g.allocator, "...", 3);
		memcpy(shim_g.allocator + 3, file + len - (cap - 3), cap - 3);
	}
	const char *base = strrchr(file, '/');
	if (strcmp(base ? base + 1 : file, "libc.so.6") != 0)
		flags |= HEAP_F_FOREIGN;
	shim_g.allocator_flags = flags;
	shim_g.allocator_known = true;
}

/* Backs n bytes at off of the file with storage, so that a write through the mapping cannot
 * fault with SIGBUS on a full file system; fresh says they are all zero still (then they may
 * be written where fallocate is not supported). */
static bool file_back(int fd, off_t off, off_t n, bool fresh)
{
	static const char zeros[HEAP_HEADER_SIZE];
	if (fallocate(fd, 0, off, n) == 0)
		return true;
	if (errno != EOPNOTSUPP || !fresh || n > (off_t)sizeof zeros)
		return false;
	return pwrite(fd, zeros, (size_t)n, off) == n;
}

/* Makes, maps and fills this process's counters file; NULL if it cannot. */
static struct heap_header *file_make(const char *dir)
{
	const int oflags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
	if (!path_of(file_path, sizeof file_path, dir, getpid()))
		return NULL;
	int fd = open(file_path, oflags, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* the image we were exec'd from left its file (or a process gone with our pid) */
		unlink(file_path);
		fd = open(file_path, oflags, 0600);
	}
	if (fd < 0)
		return NULL;
	struct heap_header *h = NULL;
	(void)!fchmod(fd, 0600); /* 0600 whatever the umask took away: memline opens it RW */
	if (ftruncate(fd, (off_t)HEAP_FILE_SIZE) == 0 && file_back(fd, 0, HEAP_HEADER_SIZE, true)) {
		void *m = shim_sys_mmap(NULL, HEAP_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
					fd, 0);
		if (m != MAP_FAILED)
			h = m;
	}
	close(fd);
	if (!h) {
		unlink(file_path);
		return NULL;
	}
	if (!shim_g.arg_start)
		shim_g.arg_start = arg_start();
	h->version = HEAP_VERSION;
	h->slot_size = HEAP_SLOT_SIZE;
	h->max_slots = HEAP_MAX_SLOTS;
	h->pid = getpid();
	h->arg_start = shim_g.arg_start;
	h->forks = shim_g.forks;
	h->header_bytes = HEAD;
	if (!shim_g.allocator_known)
		allocator_find();
	_Static_assert(sizeof h->allocator == sizeof shim_g.allocator, "the allocator's name");
	memcpy(h->allocator, shim_g.allocator, sizeof h->allocator);
	uint32_t flags = HEAP_F_READY | shim_g.allocator_flags;
	if (atomic_load_explicit(&shim_g.boot_full, memory_order_relaxed))
		flags |= HEAP_F_BOOTSTRAP_FULL;
	atomic_store_explicit(&h->flags, flags, memory_order_relaxed);
	__atomic_store_n(&h->magic, HEAP_MAGIC, __ATOMIC_RELEASE);
	return h;
}

/*
 * Decides whether this process counts, once (and again in a fork's child): makes the file, or
 * not. Before libc has set environ (an allocation by the dynamic loader), it cannot tell, and
 * leaves it to the next allocation. The real functions are known. errno is kept.
 */
static void file_start(void)
{
	int state = FILE_NONE;
	if (!atomic_compare_exchange_strong(&shim_g.file_state, &state, FILE_MAKING))
		return;
	int saved = errno, next = FILE_OFF;
	if (!environ) {
		next = FILE_NONE;
	} else {
		/* secure_getenv: never write files for a set-user-ID program */
		const char *dir = secure_getenv(HEAP_ENV_DIR);
		if (dir && *dir) {
			int set = 0;
			if (atomic_compare_exchange_strong(&shim_g.atfork_set, &set, 1))
				pthread_atfork(fork_prepare, fork_parent, fork_child);
			shim_g.file = file_make(dir);
			if (shim_g.file)
				next = FILE_READY;
		}
	}
	atomic_store_explicit(&shim_g.file_state, next, memory_order_release);
	errno = saved;
}

/* Backs slot i of the file (see file_back), through the file's path opened again. */
static bool slot_back(uint32_t i, bool fresh)
{
	int saved = errno;
	bool ok = false;
	int fd = open(file_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		off_t off = (off_t)((char *)heap_slot_at(shim_g.file, i) - (char *)shim_g.file);
		ok = file_back(fd, off, HEAP_SLOT_SIZE, fresh);
		close(fd);
	}
	errno = saved;
	return ok;
}

void shim_thread_start(struct shim_thread *t, bool from_malloc)
{
	if (unlikely(t->probing))
		t->probe_hit = 1;
	int fs = atomic_load_explicit(&shim_g.file_state, memory_order_acquire);
	if (fs == FILE_NONE && from_malloc) {
		file_start();
		fs = atomic_load_explicit(&shim_g.file_state, memory_order_acquire);
	}
	t->meta = META_UNCOUNTED;
	if (fs == FILE_OFF) {
		t->starts_seen = atomic_load_explicit(&shim_g.starts, memory_order_acquire);
		t->state = THREAD_UNCOUNTED;
	}
	if (fs != FILE_READY)
		return; /* OFF, or not made yet: this block (or mapping) is not counted */
	struct heap_header *h = shim_g.file;
	uint32_t i = atomic_fetch_add_explicit(&h->n_slots, 1, memory_order_relaxed);
	bool shared = i >= HEAP_MAX_SLOTS - 1;
	struct heap_slot *s = heap_slot_at(h, shared ? HEAP_MAX_SLOTS - 1 : i);
	if (shared && i > HEAP_MAX_SLOTS - 1) {
		/* the thread that got the last slot first backs it and publishes its tid */
		if (atomic_load_explicit(&s->tid, memory_order_acquire) != HEAP_TID_SHARED) {
			t->state = THREAD_UNCOUNTED;
			return;
		}
	} else if (!slot_back(shared ? HEAP_MAX_SLOTS - 1 : i, true)) {
		t->state = THREAD_UNCOUNTED;
		return;
	}
	if (shared)
		i = HEAP_MAX_SLOTS - 1;
	t->slot = s;
	t->index = i;
	t->out_seen = 0;
	t->meta = i | shim_g.gen << META_GEN_POS;
	t->own_key = shared ? UINT32_MAX : t->meta;
	t->state = shared ? THREAD_SHARED : THREAD_OWNER;
	atomic_store_explicit(&s->tid, shared ? HEAP_TID_SHARED : (int32_t)gettid(),
			      memory_order_release);
}

/* ---- fork ---- */

static void fork_prepare(void)
{
	shim_mmap_fork_prepare();
}

static void fork_parent(void)
{
	shim_mmap_fork_parent();
}

/*
 * The child: forget the parent's file (unmapped: the child must never write into it), its
 * mappings and this thread's slot; a new generation, so that the blocks inherited are freed
 * uncounted; a file of its own. Nothing here calls malloc: the handlers of an allocator
 * registered after ours (jemalloc's, that unlock its arenas) run after this one.
 */
static void fork_child(void)
{
	int saved = errno;
	struct shim_thread *t = &shim_self;
	struct heap_header *old = shim_g.file;
	shim_mmap_fork_child();
	shim_g.file = NULL;
	atomic_store_explicit(&shim_g.file_state, FILE_NONE, memory_order_relaxed);
	if (old)
		shim_sys_munmap(old, HEAP_FILE_SIZE);
	shim_g.gen = (shim_g.gen + 1) % GEN_COUNT;
	shim_g.forks++;
	t->slot = NULL;
	t->index = SHIM_NO_SLOT;
	t->meta = META_UNCOUNTED;
	t->own_key = UINT32_MAX;
	t->state = THREAD_FRESH;
	t->out_seen = 0;
	t->in_real = 0;
	int state = REAL_RESOLVING; /* by a thread the child does not have */
	atomic_compare_exchange_strong(&shim_g.real_state, &state, REAL_NONE);
	/* without its parent's allocator's name, it would have to call malloc to find it: its
	 * first allocation makes the file then */
	if (shim_g.allocator_known && shim_resolve())
		file_start();
	errno = saved;
}

/* ---- the constructor ---- */

/* glibc passes a shared object's constructors (argc, argv, envp). */
__attribute__((constructor)) static void shim_start(int argc, char **argv, char **envp)
{
	(void)envp;
	int saved = errno;
	if (argc > 0 && argv)
		shim_g.argv0 = argv[0];
	if (shim_resolve() &&
	    atomic_load_explicit(&shim_g.file_state, memory_order_acquire) == FILE_NONE)
		file_start();
	errno = saved;
}

/*
 * For a process that has the library but was started without $MEMLINE_HEAP_DIR (or before a
 * recording): counts from now on into dir (counters.h, HEAP_START_FN). The environment is not
 * changed (setenv is not safe in a threaded program): the caller gives its children
 * $MEMLINE_HEAP_DIR if they are to count too.
 */
SHIM_EXPORT int memline_heap_start(const char *dir)
{
	if (!dir || !*dir) {
		errno = EINVAL;
		return -1;
	}
	if (!shim_resolve()) {
		errno = EAGAIN;
		return -1;
	}
	int state = FILE_OFF;
	if (!atomic_compare_exchange_strong(&shim_g.file_state, &state, FILE_MAKING)) {
		state = FILE_NONE; /* no allocation decided yet */
		if (!atomic_compare_exchange_strong(&shim_g.file_state, &state, FILE_MAKING)) {
			errno = state == FILE_READY ? EBUSY : EAGAIN;
			return -1;
		}
	}
	int set = 0;
	if (atomic_compare_exchange_strong(&shim_g.atfork_set, &set, 1))
		pthread_atfork(fork_prepare, fork_parent, fork_child);
	shim_g.file = file_make(dir);
	int e = errno;
	atomic_store_explicit(&shim_g.file_state, shim_g.file ? FILE_READY : FILE_OFF,
			      memory_order_release);
	atomic_fetch_add_explicit(&shim_g.starts, 1, memory_order_release);
	if (!shim_g.file) {
		errno = e ? e : EIO;
		return -1;
	}
	return 0;
}

/* ---- the malloc family ---- */

static __attribute__((noinline)) void *alloc_plain_slow(size_t n)
{
	if (!shim_resolve())
		return boot_alloc(n, HEAD);
	if (n > SIZE_LIMIT - HEAD)
		return fail_nomem();
	struct shim_thread *t = &shim_self;
	t->in_real = 1;
	void *base = shim_g.real.malloc(n + HEAD);
	t->in_real = 0;
	if (!base)
		return NULL;
	return block_start(t, base, SHIFT_PLAIN, n);
}

static inline __attribute__((always_inline)) void *alloc_plain(size_t n)
{
	if (unlikely(atomic_load_explicit(&shim_g.real_state, memory_order_acquire) != REAL_READY ||
		     n > SIZE_LIMIT - HEAD))
		return alloc_plain_slow(n);
	struct shim_thread *t = &shim_self;
	t->in_real = 1;
	void *base = shim_g.real.malloc(n + HEAD);
	t->in_real = 0;
	if (unlikely(!base))
		return NULL;
	return block_start(t, base, SHIFT_PLAIN, n);
}

/* align: a power of two. The real allocation is align bytes longer; the header is at its
 * align - 16. */
static void *alloc_aligned(size_t align, size_t n)
{
	if (align <= HEAD)
		return alloc_plain(n);
	if (!shim_resolve())
		return boot_alloc(n, align);
	if (align > SIZE_LIMIT || n > SIZE_LIMIT - align)
		return fail_nomem();
	if (!shim_g.real.posix_memalign)
		return fail_nomem();
	struct shim_thread *t = &shim_self;
	void *base = NULL;
	t->in_real = 1;
	int err = shim_g.real.posix_memalign(&base, align, n + align);
	t->in_real = 0;
	if (err) {
		errno = err;
		return NULL;
	}
	return block_start(t, base, (unsigned)__builtin_ctzl(align), n);
}

static __attribute__((noinline)) void release_foreign(void *p)
{
	if (!p || in_boot(p) || !shim_resolve())
		return; /* NULL; the bootstrap's; or not ours, before anything is known */
	struct shim_thread *t = &shim_self;
	t->in_real = 1;
	shim_g.real.free(p);
	t->in_real = 0;
}

static inline __attribute__((always_inline)) void release(void *p)
{
	if (unlikely(!p || in_boot(p))) {
		release_foreign(p);
		return;
	}
	struct block_head *h = head_of(p);
	uint64_t size = h->size;
	uint32_t meta = h->meta, check = h->check;
	if (unlikely(check != block_check(p, size, meta))) {
		release_foreign(p);
		return;
	}
	h->check = ~check; /* a second free of it is no longer ours: the real free judges it */
	struct shim_thread *t = &shim_self;
	count_free(t, meta, size);
	t->in_real = 1;
	shim_g.real.free((char *)p - ((size_t)1 << meta_shift(meta)));
	t->in_real = 0;
}

SHIM_EXPORT void *malloc(size_t n)
{
	return alloc_plain(n);
}

SHIM_EXPORT void free(void *p)
{
	release(p);
}

SHIM_EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return fail_nomem();
	if (unlikely(!shim_resolve()))
		return boot_alloc(total, HEAD); /* zero: the arena is never reused */
	if (unlikely(total > SIZE_LIMIT - HEAD))
		return fail_nomem();
	struct shim_thread *t = &shim_self;
	t->in_real = 1;
	void *base = shim_g.real.calloc(1, total + HEAD);
	t->in_real = 0;
	if (unlikely(!base))
		return NULL;
	return block_start(t, base, SHIFT_PLAIN, total);
}

/* realloc: glibc's rules (NULL: malloc; size 0: free, NULL back); counted as the free of the
 * old block (to its owner) and the allocation of the new one (to the caller). */
SHIM_EXPORT void *realloc(void *p, size_t n)
{
	if (!p)
		return alloc_plain(n);
	if (unlikely(in_boot(p))) {
		if (!n)
			return NULL;
		void *q = alloc_plain(n);
		if (q) {
			size_t old = head_of(p)->size;
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	if (!n) {
		release(p);
		return NULL;
	}
	if (!shim_resolve())
		return fail_nomem();
	struct shim_thread *t = &shim_self;
	struct block_head *h = head_of(p);
	uint64_t size = h->size;
	uint32_t meta = h->meta, check = h->check;
	if (check != block_check(p, size, meta)) {
		t->in_real = 1;
		void *q = shim_g.real.realloc(p, n);
		t->in_real = 0;
		return q;
	}
	if (meta_shift(meta) != SHIFT_PLAIN) {
		/* an aligned block: realloc promises malloc's alignment only; a plain block */
		void *q = alloc_plain(n);
		if (q) {
			memcpy(q, p, size < n ? size : n);
			release(p);
		}
		return q;
	}
	if (n > SIZE_LIMIT - HEAD)
		return fail_nomem();
	h->check = ~check;
	t->in_real = 1;
	void *base = shim_g.real.realloc(h, n + HEAD);
	t->in_real = 0;
	if (!base) {
		h->check = check;
		return NULL;
	}
	count_free(t, meta, size);
	return block_start(t, base, SHIFT_PLAIN, n);
}

SHIM_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return fail_nomem();
	return realloc(p, total);
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (!align || align % sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = alloc_aligned(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* memalign as glibc's: an alignment that is no power of two is rounded up to one */
SHIM_EXPORT void *memalign(size_t align, size_t n)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align > HEAD && (align & (align - 1)))
		align = (size_t)1 << (64 - __builtin_clzl(align - 1));
	return alloc_aligned(align, n);
}

/* glibc 2.36's aligned_alloc is its memalign */
SHIM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

SHIM_EXPORT void *valloc(size_t n)
{
	if (!shim_resolve())
		return boot_alloc(n, 4096);
	return alloc_aligned(shim_g.page, n);
}

/* pvalloc: whole pages, counted as such (the size it allocates by definition) */
SHIM_EXPORT void *pvalloc(size_t n)
{
	if (!shim_resolve())
		return boot_alloc(n, 4096);
	size_t page = shim_g.page;
	if (n > SIZE_LIMIT - page)
		return fail_nomem();
	return alloc_aligned(page, (n + page - 1) & ~(page - 1));
}

/* the program's share of the real usable size: what is after the pointer it has */
SHIM_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (in_boot(p))
		return head_of(p)->size;
	if (!shim_resolve())
		return 0;
	struct block_head *h = head_of(p);
	if (h->check != block_check(p, h->size, h->meta))
		return shim_g.real.malloc_usable_size ? shim_g.real.malloc_usable_size(p) : 0;
	size_t off = (size_t)1 << meta_shift(h->meta);
	if (!shim_g.real.malloc_usable_size)
		return h->size;
	size_t usable = shim_g.real.malloc_usable_size((char *)p - off);
	return usable > off ? usable - off : 0;
}
