/*
 * heapwork: the C programs of the heap benchmark (bench/heap.py, part k), what `--heap` and
 * heaptrack are measured on. Three modes:
 *
 *   heapwork churn THREADS OPS
 *	THREADS threads, each doing OPS allocations of mixed sizes (90% 16-512 B, 9.9% 4-64 KiB,
 *	0.1% 128 KiB-1 MiB; 5% of them by calloc, 5% by realloc of the block they replace) into a
 *	working set of 4096 blocks of its own: each allocation replaces a block of the set at
 *	random, which the thread frees itself, or, one time in ten, hands to the next thread
 *	through a queue (batches of 64 under a mutex), to be freed there. Every block is written
 *	at both ends and read back when freed. Seeded per thread: the same run every time. Prints
 *	a checksum of what was read.
 *
 *   heapwork hold BLOCKS SIZE
 *	allocates BLOCKS blocks of SIZE bytes with malloc and writes each; then prints "ready"
 *	and holds them until its stdin is closed (the caller reads its RSS meanwhile).
 *
 *   heapwork threads N
 *	starts N threads that each allocate one 64-byte block; once all have, prints "ready" and
 *	keeps them all alive (a slot each in the shim's file) until its stdin is closed.
 *
 * Built by the Makefile ($(BUILD)/bench/heapwork) with plain flags, never sanitized: the
 * sanitizers' allocator would be what is measured.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

const char *bench_prog = "heapwork";

#define WORKING_SET 4096 /* blocks each thread holds */
#define HANDOFF_PCT 10	 /* of the blocks replaced, handed to the next thread to free */
#define BATCH	    64	 /* blocks handed over under one lock */
#define DRAIN_EVERY 256	 /* allocations between two looks at the thread's inbox */

/* A block on its way to another thread: the list runs through the blocks themselves. */
struct handed {
	struct handed *next;
};

struct inbox {
	pthread_mutex_t lock;
	struct handed *head;
} __attribute__((aligned(64)));

struct worker {
	pthread_t thread;
	long ops;
	uint64_t rng;
	uint64_t sum;
	struct inbox *to;	       /* the next thread's inbox */
	struct inbox *mine;	       /* where blocks to free arrive */
	struct handed *out, *out_last; /* a batch not handed over yet */
	int n_out;
	void *set[WORKING_SET];
	size_t size[WORKING_SET];
} __attribute__((aligned(64)));

static pthread_barrier_t all_sent;

/* xorshift64*: small, fast, and the same numbers on every machine. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = next_rand(rng);
	unsigned kind = (unsigned)(r % 1000);
	uint64_t v = r >> 16;
	if (kind < 900)
		return 16 + v % (512 - 16 + 1);
	if (kind < 999)
		return 4096 + v % (65536 - 4096 + 1);
	return 131072 + v % (1048576 - 131072 + 1);
}

static void *xalloc(void *p)
{
	if (!p) {
		errno = ENOMEM;
		die_os("malloc");
	}
	return p;
}

static void fill(unsigned char *p, size_t size, uint64_t mark)
{
	p[0] = (unsigned char)mark;
	p[size - 1] = (unsigned char)(mark >> 8);
}

static uint64_t read_back(const unsigned char *p, size_t size)
{
	return (uint64_t)p[0] + ((uint64_t)p[size - 1] << 8);
}

static void inbox_push(struct inbox *box, struct handed *first, struct handed *last)
{
	pthread_mutex_lock(&box->lock);
	last->next = box->head;
	box->head = first;
	pthread_mutex_unlock(&box->lock);
}

/* Frees what other threads handed to w. */
static void drain(struct worker *w)
{
	pthread_mutex_lock(&w->mine->lock);
	struct handed *h = w->mine->head;
	w->mine->head = NULL;
	pthread_mutex_unlock(&w->mine->lock);
	while (h) {
		struct handed *next = h->next;
		free(h);
		h = next;
	}
}

static void flush(struct worker *w)
{
	if (w->out)
		inbox_push(w->to, w->out, w->out_last);
	w->out = w->out_last = NULL;
	w->n_out = 0;
}

static void hand_over(struct worker *w, void *p)
{
	struct handed *h = p;
	h->next = w->out;
	if (!w->out)
		w->out_last = h;
	w->out = h;
	if (++w->n_out == BATCH)
		flush(w);
}

static void *churn(void *arg)
{
	struct worker *w = arg;
	for (long i = 0; i < w->ops; i++) {
		uint64_t r = next_rand(&w->rng);
		unsigned k = (unsigned)(r % WORKING_SET);
		unsigned how = (unsigned)((r >> 32) % 100);
		size_t size = pick_size(&w->rng);
		void *old = w->set[k];
		void *p;
		if (old)
			w->sum += read_back(old, w->size[k]);
		if (old && how < 5) {
			p = xalloc(realloc(old, size));
		} else {
			if (old) {
				if (how < 5 + HANDOFF_PCT)
					hand_over(w, old);
				else
					free(old);
			}
			p = xalloc(how >= 95 ? calloc(1, size) : malloc(size));
		}
		fill(p, size, r);
		w->set[k] = p;
		w->size[k] = size;
		if (i % DRAIN_EVERY == 0)
			drain(w);
	}
	flush(w);
	/* Once every thread has handed over its last batch, nothing more arrives. */
	pthread_barrier_wait(&all_sent);
	drain(w);
	for (unsigned k = 0; k < WORKING_SET; k++) {
		if (w->set[k])
			w->sum += read_back(w->set[k], w->size[k]);
		free(w->set[k]);
	}
	return NULL;
}

static int run_churn(long threads, long ops)
{
	struct worker *w = xalloc(aligned_alloc(64, sizeof(*w) * threads));
	struct inbox *boxes = xalloc(aligned_alloc(64, sizeof(*boxes) * threads));
	memset(w, 0, sizeof(*w) * threads);
	if (pthread_barrier_init(&all_sent, NULL, (unsigned)threads))
		die_os("pthread_barrier_init");
	for (long i = 0; i < threads; i++) {
		pthread_mutex_init(&boxes[i].lock, NULL);
		boxes[i].head = NULL;
	}
	for (long i = 0; i < threads; i++) {
		w[i].ops = ops;
		w[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		w[i].mine = &boxes[i];
		w[i].to = &boxes[(i + 1) % threads];
		errno = pthread_create(&w[i].thread, NULL, churn, &w[i]);
		if (errno)
			die_os("pthread_create");
	}
	uint64_t sum = 0;
	for (long i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		sum += w[i].sum;
	}
	printf("%llx\n", (unsigned long long)sum);
	free(boxes);
	free(w);
	return 0;
}

/* Tells the caller all is in place, and waits for it to close our stdin. */
static void ready_then_wait(void)
{
	char c;
	fputs("ready\n", stdout);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
}

static int run_hold(long blocks, long size)
{
	void **held = xalloc(malloc(sizeof(*held) * (size_t)blocks));
	for (long i = 0; i < blocks; i++) {
		held[i] = xalloc(malloc((size_t)size));
		memset(held[i], (int)(i & 0xff), (size_t)size);
	}
	ready_then_wait();
	return 0;
}

static pthread_barrier_t all_allocated, released;

static void *park(void *arg)
{
	void **slot = arg;
	*slot = xalloc(malloc(64));
	memset(*slot, 1, 64);
	pthread_barrier_wait(&all_allocated);
	pthread_barrier_wait(&released);
	return NULL;
}

static int run_threads(long n)
{
	pthread_t *t = xalloc(malloc(sizeof(*t) * (size_t)n));
	void **blocks = xalloc(calloc((size_t)n, sizeof(*blocks)));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_barrier_init(&all_allocated, NULL, (unsigned)n + 1) ||
	    pthread_barrier_init(&released, NULL, (unsigned)n + 1))
		die_os("pthread_barrier_init");
	for (long i = 0; i < n; i++) {
		errno = pthread_create(&t[i], &attr, park, &blocks[i]);
		if (errno)
			die_os("pthread_create");
	}
	pthread_barrier_wait(&all_allocated);
	ready_then_wait();
	pthread_barrier_wait(&released);
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	long a, b = 0;
	if (argc == 4 && !strcmp(argv[1], "churn") && parse_long(argv[2], 1, 1024, &a) &&
	    parse_long(argv[3], 1, 1000000000, &b))
		return run_churn(a, b);
	if (argc == 4 && !strcmp(argv[1], "hold") && parse_long(argv[2], 1, 100000000, &a) &&
	    parse_long(argv[3], 16, 1 << 20, &b))
		return run_hold(a, b);
	if (argc == 3 && !strcmp(argv[1], "threads") && parse_long(argv[2], 1, 100000, &a))
		return run_threads(a);
	fputs("usage: heapwork churn THREADS OPS | hold BLOCKS SIZE | threads N\n", stderr);
	return 64;
}
