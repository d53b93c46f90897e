/*
 * shim.h: what the two halves of libmemline-heap.so share (shim.c: the malloc family, the
 * counters file, fork; shim-mmap.c: mmap, munmap, mremap and the table of the program's
 * anonymous mappings). Nothing here is exported: the library is built with hidden visibility
 * and only the interposed functions, marked SHIM_EXPORT, are seen by the dynamic linker.
 *
 * The state of the library is one process-wide struct (shim_global) and one thread-local
 * struct a thread (shim_thread, initial-exec TLS: no call to __tls_get_addr, no allocation).
 * docs/heap.md, "The heap library", tells how it all works.
 */
#ifndef MEMLINE_HEAP_SHIM_H
#define MEMLINE_HEAP_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heap/counters.h"

#define SHIM_EXPORT  __attribute__((visibility("default")))
#define likely(x)    __builtin_expect(!!(x), 1)
#define unlikely(x)  __builtin_expect(!!(x), 0)
#define SHIM_NO_SLOT UINT32_MAX

/* The functions of the allocator (and libc) that come after us, found with dlsym(RTLD_NEXT). */
struct shim_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	size_t (*malloc_usable_size)(void *);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
};

enum { REAL_NONE, REAL_RESOLVING, REAL_READY };
enum { FILE_NONE, FILE_MAKING, FILE_READY, FILE_OFF };

struct shim_global {
	/* read on every call: REAL_READY once real is filled in (release; read with acquire) */
	_Atomic int real_state;
	/* FILE_READY once file is mapped and its header written (release) */
	_Atomic int file_state;
	struct heap_header *file; /* the counters file, mapped shared; NULL unless FILE_READY */
	uint32_t gen;		  /* the generation this process's counted blocks carry */
	uint64_t key;		  /* mixed into every block's check value (random per image) */
	struct shim_real real;
	/* set once */
	size_t page;	       /* the page size */
	uint64_t forks;	       /* heap_header.forks of this process */
	uint64_t arg_start;    /* heap_header.arg_start, once known (kept across fork) */
	const char *argv0;     /* the constructor's argv[0], if it ran */
	_Atomic int boot_full; /* the bootstrap arena ran out */
	/* heap_header.allocator and the flags it implies, found once (kept across fork) */
	bool allocator_known;
	uint32_t allocator_flags;
	char allocator[64];
	_Atomic int atfork_set; /* our fork handlers are registered */
	/* memline_heap_start() calls: an UNCOUNTED thread that has not seen the latest one asks
	 * again (shim_thread_recheck) */
	_Atomic uint32_t starts;
};

enum { THREAD_FRESH, THREAD_OWNER, THREAD_SHARED, THREAD_UNCOUNTED };

/*
 * A thread's state. FRESH until its first allocation finds out whether the process counts:
 * then OWNER of a slot, or SHARED (it has the last slot, with every late thread: its counters
 * are added with fetch_add), or UNCOUNTED for good. A thread that allocates before the file is
 * made (by another thread, or from mmap) stays FRESH and tries again at its next allocation.
 */
struct shim_thread {
	struct heap_slot *slot; /* its slot in the file; NULL unless OWNER or SHARED */
	uint64_t out_seen;	/* the slot's remote_free + munmap when it last read them */
	uint32_t meta;		/* what its new blocks' headers hold: slot index and generation */
	uint32_t own_key;	/* OWNER: meta; a block whose header holds it is its own to count
				   with plain stores. Else UINT32_MAX, which no header holds */
	uint32_t index;		/* its slot's index, SHIM_NO_SLOT unless OWNER or SHARED */
	uint8_t state;		/* THREAD_* */
	uint8_t in_real;	/* inside a call to the real allocator: its mmaps are not counted */
	uint8_t resolving;	/* inside dlsym at start-up: allocations come from the bootstrap */
	uint8_t probing;	/* calling the malloc the program calls, to see if it is ours */
	uint8_t probe_hit;	/* it was */
	uint32_t starts_seen;	/* shim_global.starts when it was found UNCOUNTED */
};

extern struct shim_global shim_g;
extern __thread struct shim_thread shim_self __attribute__((tls_model("initial-exec")));

/* Whether the real functions are known; finds them at the first call (see shim.c). */
bool shim_resolve_slow(void);
static inline bool shim_resolve(void)
{
	if (likely(atomic_load_explicit(&shim_g.real_state, memory_order_acquire) == REAL_READY))
		return true;
	return shim_resolve_slow();
}

/*
 * Gives a FRESH thread its slot, or tells it that it is not counted (see shim_thread). Only
 * from_malloc may it make the file: the mmap paths may be called by an allocator holding its
 * own locks, and making the file calls malloc (to see whose it is).
 */
void shim_thread_start(struct shim_thread *t, bool from_malloc);

/*
 * An UNCOUNTED thread becomes FRESH again when memline_heap_start() was called since it was
 * found so (only on the slow paths: an uncounted thread's allocations all take them).
 */
static inline void shim_thread_recheck(struct shim_thread *t)
{
	if (unlikely(t->state == THREAD_UNCOUNTED) &&
	    t->starts_seen != atomic_load_explicit(&shim_g.starts, memory_order_acquire))
		t->state = THREAD_FRESH;
}

/* Credits n bytes of new anonymous mappings to t (it has a slot), and raises its peak. */
void shim_count_mmap(struct shim_thread *t, uint64_t n);

/* Debits n bytes of anonymous mappings to slot i, whoever unmaps them (any thread). */
void shim_count_munmap(uint32_t i, uint64_t n);

/* The library's one function besides the interposed ones (counters.h, HEAP_START_FN). */
SHIM_EXPORT int memline_heap_start(const char *dir);

/* Raw system calls: they go around every interposer, ours included, and set errno. */
void *shim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int shim_sys_munmap(void *addr, size_t len);
void *shim_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);

/* shim-mmap.c: fork's handlers for the mapping table (prepare, parent, child). */
void shim_mmap_fork_prepare(void);
void shim_mmap_fork_parent(void);
void shim_mmap_fork_child(void);

#endif
