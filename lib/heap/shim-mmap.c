/*
 * shim-mmap: the heap library's mmap, munmap and mremap (and mmap64, the same function in
 * glibc). The anonymous mappings a program makes itself (private or shared: CPython's arenas,
 * its own buffers) are heap too: each is credited to the thread that made it and kept in a
 * table (start, end, owner's slot), so that an munmap, by whichever thread, of all of it or of a
 * part (its middle, its ends, a range over several mappings), or an mremap (grown, shrunk,
 * moved, MREMAP_FIXED), is debited to the owner of exactly what went away. A range never seen
 * is passed through silently.
 *
 * The mmaps an allocator makes inside malloc (jemalloc and tcmalloc call mmap through the PLT)
 * are the malloc'd bytes again: while the thread is inside the real allocator (in_real), every
 * call here goes straight to the real function, neither counted nor looked up.
 *
 * These are system calls anyway, so a small spinlock guards the table, held across the munmap
 * or mremap itself (and a MAP_FIXED mmap) so that the kernel's view and the table's change
 * together. The table is an array kept sorted by start, descending (new mappings mostly come
 * at lower addresses: they are appended), in memory from raw mmap, never malloc; an entry that
 * cannot be split for want of memory is forgotten whole, debited at once, so the counts stay
 * consistent.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

#include "heap/shim.h"

struct mapping {
	uintptr_t start, end;
	uint32_t slot;
};

#define TAB_FIRST_BYTES (64 * 1024)

static struct {
	_Atomic int lock;
	_Atomic size_t n; /* read without the lock only to see that the table is empty */
	size_t cap;
	size_t bytes; /* of the mapping holding e */
	struct mapping *e;
} tab;

static void lock(void)
{
	unsigned spins = 0;
	while (atomic_exchange_explicit(&tab.lock, 1, memory_order_acquire)) {
		while (atomic_load_explicit(&tab.lock, memory_order_relaxed)) {
			if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
				__builtin_ia32_pause();
#elif defined(__aarch64__)
				__asm__ volatile("yield");
#endif
			} else {
				sched_yield();
			}
		}
	}
}

static void unlock(void)
{
	atomic_store_explicit(&tab.lock, 0, memory_order_release);
}

static inline size_t count(void)
{
	return atomic_load_explicit(&tab.n, memory_order_relaxed);
}

static inline void set_count(size_t n)
{
	atomic_store_explicit(&tab.n, n, memory_order_relaxed);
}

static inline uintptr_t page_round(size_t len)
{
	return ((uintptr_t)len + shim_g.page - 1) & ~(uintptr_t)(shim_g.page - 1);
}

/* Room for extra more entries; false if the table cannot grow. errno is kept. */
static bool room(size_t extra)
{
	size_t n = count();
	if (n + extra <= tab.cap)
		return true;
	size_t bytes = tab.bytes ? tab.bytes : TAB_FIRST_BYTES;
	while (bytes / sizeof(struct mapping) < n + extra)
		bytes *= 2;
	int saved = errno;
	void *m = tab.e ? shim_sys_mremap(tab.e, tab.bytes, bytes, MREMAP_MAYMOVE, NULL)
			: shim_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = saved;
	if (m == MAP_FAILED)
		return false;
	tab.e = m;
	tab.bytes = bytes;
	tab.cap = bytes / sizeof(struct mapping);
	return true;
}

/* The first index in [lo, hi) whose mapping starts below addr (hi if none). */
static size_t first_below(size_t lo, size_t hi, uintptr_t addr)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tab.e[mid].start < addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void insert_at(size_t i, struct mapping m)
{
	size_t n = count();
	memmove(tab.e + i + 1, tab.e + i, (n - i) * sizeof *tab.e);
	tab.e[i] = m;
	set_count(n + 1);
}

static void erase(size_t i, size_t k)
{
	size_t n = count();
	memmove(tab.e + i, tab.e + i + k, (n - i - k) * sizeof *tab.e);
	set_count(n - k);
}

static void debit(size_t i, uintptr_t start, uintptr_t end)
{
	shim_count_munmap(tab.e[i].slot, end - start);
}

/*
 * No entry goes over addr after this: the one that did is cut in two there (the upper part at
 * its index, the lower one after it), or, if the table cannot grow, unmapped from the table
 * whole (debited) and forgotten.
 */
static void cut(uintptr_t addr)
{
	size_t i = first_below(0, count(), addr);
	if (i == count() || tab.e[i].end <= addr)
		return;
	if (!room(1)) {
		debit(i, tab.e[i].start, tab.e[i].end);
		erase(i, 1);
		return;
	}
	struct mapping low = tab.e[i];
	low.end = addr;
	tab.e[i].start = addr;
	insert_at(i + 1, low);
}

/* [a, b) was unmapped: what of it the table holds is debited to the owners and dropped. */
static void remove_range(uintptr_t a, uintptr_t b)
{
	if (a >= b || !count())
		return;
	cut(b);
	size_t i = first_below(0, count(), b), j = i;
	while (j < count() && tab.e[j].start >= a) {
		debit(j, tab.e[j].start, tab.e[j].end);
		j++;
	}
	erase(i, j - i);
	if (i < count() && tab.e[i].end > a) {
		debit(i, a, tab.e[i].end);
		tab.e[i].end = a;
	}
}

static bool overlaps(uintptr_t a, uintptr_t b)
{
	size_t i = first_below(0, count(), b);
	return i < count() && tab.e[i].end > a;
}

/* A new mapping [a, b) of slot; the range holds no entry. False if the table cannot grow. */
static bool insert(uintptr_t a, uintptr_t b, uint32_t slot)
{
	if (!room(1))
		return false;
	insert_at(first_below(0, count(), a), (struct mapping){.start = a, .end = b, .slot = slot});
	return true;
}

static void reverse(size_t i, size_t j)
{
	while (i + 1 < j) {
		struct mapping m = tab.e[i];
		tab.e[i++] = tab.e[--j];
		tab.e[j] = m;
	}
}

/* The entries [first, mid) and [mid, last) swap places. */
static void rotate(size_t first, size_t mid, size_t last)
{
	reverse(first, mid);
	reverse(mid, last);
	reverse(first, last);
}

/* mremap moved [a, b) to `to` (a range the table holds nothing of): the entries follow, owners
 * kept. */
static void relocate(uintptr_t a, uintptr_t b, uintptr_t to)
{
	uintptr_t len = b - a;
	cut(a);
	cut(b);
	size_t i = first_below(0, count(), b), j = i;
	while (j < count() && tab.e[j].start >= a) {
		tab.e[j].start = tab.e[j].start - a + to;
		tab.e[j].end = tab.e[j].end - a + to;
		j++;
	}
	if (i == j)
		return;
	if (to > a)
		rotate(first_below(0, i, to + len), i, j);
	else
		rotate(i, j, first_below(j, count(), to + len));
}

/*
 * What a successful mremap did to the table; returns the bytes to credit to the caller (the
 * growth of a mapping the table held, which is the caller's: a new entry). The lock is held.
 */
static uint64_t remapped(uintptr_t o, size_t old_len, size_t new_len, int flags, uintptr_t n,
			 struct shim_thread *t)
{
	uintptr_t ol = page_round(old_len), nl = page_round(new_len);
	if (!old_len) {
		/* a second mapping of shared pages: the same memory, not counted again */
		remove_range(n, n + nl);
		return 0;
	}
	bool grow = overlaps(o, o + ol) && t->slot;
	if (n == o) {
		if (nl < ol) {
			remove_range(o + nl, o + ol);
		} else if (nl > ol) {
			remove_range(o + ol, o + nl);
			if (grow && insert(o + ol, o + nl, t->index))
				return nl - ol;
		}
		return 0;
	}
	remove_range(n, n + nl); /* MREMAP_FIXED unmapped what was there (or it is stale) */
	if (flags & MREMAP_DONTUNMAP) {
		/* the old range stays mapped (empty), the pages are at n: a new mapping */
		return grow && insert(n, n + nl, t->index) ? nl : 0;
	}
	if (nl < ol) {
		remove_range(o + nl, o + ol);
		ol = nl;
	}
	relocate(o, o + ol, n);
	if (nl > ol && grow && insert(n + ol, n + nl, t->index))
		return nl - ol;
	return 0;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shim_thread *t = &shim_self;
	if (t->in_real)
		return shim_g.real.mmap(addr, len, prot, flags, fd, off);
	if (!shim_resolve())
		return shim_sys_mmap(addr, len, prot, flags, fd, off);
	bool anon = flags & MAP_ANONYMOUS, fixed = flags & MAP_FIXED;
	shim_thread_recheck(t);
	if (anon && t->state == THREAD_FRESH)
		shim_thread_start(t, false);
	bool counted = anon && t->slot;
	if (!counted && (!fixed || !count()))
		return shim_g.real.mmap(addr, len, prot, flags, fd, off);
	if (fixed)
		lock();
	void *r = shim_g.real.mmap(addr, len, prot, flags, fd, off);
	if (r == MAP_FAILED) {
		if (fixed)
			unlock();
		return r;
	}
	if (!fixed)
		lock();
	uintptr_t a = (uintptr_t)r, b = a + page_round(len);
	remove_range(a, b); /* what MAP_FIXED replaced, or mappings gone unseen (stale) */
	counted = counted && insert(a, b, t->index);
	unlock();
	if (counted)
		shim_count_mmap(t, b - a);
	return r;
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	struct shim_thread *t = &shim_self;
	if (t->in_real)
		return shim_g.real.munmap(addr, len);
	if (!shim_resolve())
		return shim_sys_munmap(addr, len);
	if (!count())
		return shim_g.real.munmap(addr, len);
	lock();
	int r = shim_g.real.munmap(addr, len);
	if (r == 0)
		remove_range((uintptr_t)addr, (uintptr_t)addr + page_round(len));
	unlock();
	return r;
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	struct shim_thread *t = &shim_self;
	if (t->in_real)
		return shim_g.real.mremap(old, old_len, new_len, flags, new_addr);
	if (!shim_resolve())
		return shim_sys_mremap(old, old_len, new_len, flags, new_addr);
	if (!count())
		return shim_g.real.mremap(old, old_len, new_len, flags, new_addr);
	shim_thread_recheck(t);
	if (t->state == THREAD_FRESH)
		shim_thread_start(t, false);
	lock();
	void *r = shim_g.real.mremap(old, old_len, new_len, flags, new_addr);
	uint64_t credit = 0;
	if (r != MAP_FAILED)
		credit = remapped((uintptr_t)old, old_len, new_len, flags, (uintptr_t)r, t);
	unlock();
	if (credit)
		shim_count_mmap(t, credit);
	return r;
}

/* fork: no other thread may hold the lock when the child is made (it would never let go) */
void shim_mmap_fork_prepare(void)
{
	lock();
}

void shim_mmap_fork_parent(void)
{
	unlock();
}

/* the child's mappings are its parent's: none of them is the child's to count */
void shim_mmap_fork_child(void)
{
	set_count(0);
	unlock();
}
