/*
 * counters: the layout of the file through which libmemline-heap.so (lib/heap/shim.c, preloaded
 * into every process of a `--heap` recording) tells the sampler how much heap each thread holds.
 * It is the only thing the preloaded library and memline share, so it is plain C with no
 * dependency: the shim includes it, and so does the sampler's heap collector
 * (record/collect-heap.c), which maps the file (writable: it takes the peaks).
 *
 * One file a process: DIR/heap.PID, mode 0600, where DIR is $MEMLINE_HEAP_DIR (the recording's
 * private directory). The shim makes it when it starts in a process (its first allocation or
 * its constructor, whichever comes first), and again in a fork's child (pthread_atfork) and
 * after an exec (the new image unlinks the old image's file and makes its own); memline
 * unlinks it once the process is gone. The file is HEAP_FILE_SIZE bytes, sparse: a header page,
 * then HEAP_MAX_SLOTS slots of two cache lines each, of which only the pages of slots in use are
 * ever touched.
 *
 * A thread takes a slot at its first allocation (fetch_add on n_slots; tid stored last, with
 * release order: a reader skips a slot whose tid is still 0). Slots are never reused: a thread
 * that exits keeps its slot (its blocks may still be live, freed later by others), and a new
 * thread with a recycled tid takes a new slot. When every slot is taken, later threads share
 * the last one (its tid is HEAP_TID_SHARED).
 *
 * All counters are in bytes or counts, cumulative from the slot's start, written with relaxed
 * atomics (a reader sees each counter whole, maybe a moment old, never torn):
 *   alloc, nalloc    what the thread allocated with malloc and friends (sizes as asked,
 *                    realloc counted as a free of the old block and an allocation of the new)
 *   own_free,        its blocks that it freed itself: written by the owner only (no lock
 *   own_nfree        prefix on the common path)
 *   remote_free,     its blocks that another thread freed: added with fetch_add by that thread
 *   remote_nfree
 *   mmap, munmap     anonymous mappings it made with mmap (and grew with mremap), and what of
 *                    them was unmapped since (by anyone): CPython's arenas, a program's own
 *                    mmap'd buffers. The mmaps that an allocator makes inside malloc are not
 *                    counted (the shim knows when it is inside the allocator it calls).
 *   peak             the highest of its live bytes (below) since the reader last took it: the
 *                    owner raises it after each allocation; the reader exchanges it with 0
 *                    (heap_slot_take_peak) and takes the larger of that and the live bytes
 *                    it reads.
 * A thread's live heap is alloc - own_free - remote_free + mmap - munmap: what it allocated
 * and is not freed yet, wherever the free came from.
 */
#ifndef MEMLINE_HEAP_COUNTERS_H
#define MEMLINE_HEAP_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

#define HEAP_MAGIC	 0x314c484d454d4c48ULL /* "HLMEMHL1" little-endian */
#define HEAP_VERSION	 1
#define HEAP_ENV_DIR	 "MEMLINE_HEAP_DIR" /* where the shim makes its files */
#define HEAP_FILE_PREFIX "heap."	    /* DIR/heap.PID */
#define HEAP_HEADER_SIZE 4096
#define HEAP_SLOT_SIZE	 128
#define HEAP_MAX_SLOTS	 8192
#define HEAP_FILE_SIZE	 (HEAP_HEADER_SIZE + (uint64_t)HEAP_MAX_SLOTS * HEAP_SLOT_SIZE)
#define HEAP_TID_SHARED	 (-1) /* the last slot, once every other one is taken */
/*
 * The library's one function besides the allocator's: int memline_heap_start(const char *dir),
 * for a process that had the library from its start but no $MEMLINE_HEAP_DIR (libmemline's
 * memline_start_with(MEMLINE_HEAP), Python's track(heap=True)): counts from now on, into
 * dir/heap.PID, and sets $MEMLINE_HEAP_DIR for the children it starts. Returns 0, or -1 with
 * errno (EBUSY: it counts already; or why the file could not be made).
 */
#define HEAP_START_FN "memline_heap_start"

/* heap_header.flags */
enum {
	HEAP_F_READY = 1,	 /* the header is written; a reader may trust it */
	HEAP_F_FOREIGN = 2,	 /* malloc is not glibc's (allocator names the one used) */
	HEAP_F_NOT_INTERPOSED = 4, /* the program's own malloc wins over ours (linked into its
				      executable): only its anonymous mmaps are seen */
	HEAP_F_BOOTSTRAP_FULL = 8, /* the bootstrap arena ran out before the real malloc was found
				      (allocations were then failed: never seen in practice) */
};

struct heap_header {
	uint64_t magic;	    /* HEAP_MAGIC, written last of the header (with HEAP_F_READY) */
	uint32_t version;   /* HEAP_VERSION */
	uint32_t slot_size; /* HEAP_SLOT_SIZE */
	uint32_t max_slots; /* HEAP_MAX_SLOTS */
	_Atomic uint32_t n_slots; /* slots handed out (may exceed max_slots: then all are) */
	int32_t pid;		  /* the process that made the file */
	_Atomic uint32_t flags;	  /* HEAP_F_* */
	/*
	 * The image's argv[0] address (the kernel's arg_start, field 48 of /proc/PID/stat): a
	 * reader that finds a file of the pid's image before an exec (not unlinked yet) tells it
	 * from the new one by this.
	 */
	uint64_t arg_start;
	uint64_t forks;	     /* how many forks deep from the first image that had the shim */
	char allocator[64];  /* the file the malloc we call is in (dladdr), NUL-terminated */
	uint64_t header_bytes; /* the shim's own overhead per block, bytes (16) */
};

struct heap_slot {
	/* the first cache line: the owner's (and the reader's exchange of peak) */
	_Atomic int32_t tid; /* 0: not taken yet (or not published); HEAP_TID_SHARED */
	uint32_t pad;
	_Atomic uint64_t alloc, nalloc;
	_Atomic uint64_t own_free, own_nfree;
	_Atomic uint64_t mmap;
	_Atomic int64_t peak;
	/* the second: what other threads add (a free of one of its blocks), apart so that their
	 * writes do not take the owner's line away from it */
	_Atomic uint64_t remote_free __attribute__((aligned(64)));
	_Atomic uint64_t remote_nfree;
	_Atomic uint64_t munmap;
};
_Static_assert(sizeof(struct heap_header) <= HEAP_HEADER_SIZE, "header fits its page");
_Static_assert(sizeof(struct heap_slot) <= HEAP_SLOT_SIZE, "a slot fits two cache lines");

/* The i-th slot of a mapped file. */
static inline struct heap_slot *heap_slot_at(void *base, uint32_t i)
{
	return (struct heap_slot *)((char *)base + HEAP_HEADER_SIZE + (uint64_t)i * HEAP_SLOT_SIZE);
}

/* A slot's live bytes now (see the top of this file); may be a moment old. */
static inline int64_t heap_slot_live(const struct heap_slot *s)
{
	uint64_t in = atomic_load_explicit(&s->alloc, memory_order_relaxed) +
		      atomic_load_explicit(&s->mmap, memory_order_relaxed);
	uint64_t out = atomic_load_explicit(&s->own_free, memory_order_relaxed) +
		       atomic_load_explicit(&s->remote_free, memory_order_relaxed) +
		       atomic_load_explicit(&s->munmap, memory_order_relaxed);
	return (int64_t)(in - out);
}

/*
 * The reader's: the highest live bytes of the slot since the last take (the owner's peak,
 * reset to 0 here, or the live bytes now if higher). Needs the file mapped writable.
 */
static inline int64_t heap_slot_take_peak(struct heap_slot *s)
{
	int64_t p = atomic_exchange_explicit(&s->peak, 0, memory_order_relaxed);
	int64_t live = heap_slot_live(s);
	return p > live ? p : live;
}

#endif
