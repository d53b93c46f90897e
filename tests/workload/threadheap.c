/*
 * threadheap: threads that allocate known amounts at known moments, for the --heap tests. It
 * says on stdout what it asked for, so a test compares memline's numbers with the truth the
 * program itself knows.
 *
 *   threadheap MIB_A MIB_B MIB_C MIB_MOVED HOLD_MS
 *
 * Three threads, named heap-a, heap-b and heap-c, each allocate their MiB in blocks of mixed
 * sizes (from 24 bytes to 256 KiB, the last one cut to the exact total), touching every byte;
 * then heap-a frees MIB_MOVED MiB of heap-c's blocks (frees by another thread, debited to
 * heap-c); after HOLD_MS each thread frees every other one of its remaining blocks and ends;
 * main waits HOLD_MS more (the threads' ends get seen) and exits without freeing the rest.
 * Lines on stdout, as the phases are reached (bytes as asked for):
 *   peak NAME BYTES        the thread's allocations, all live at once
 *   moved BYTES            what heap-a freed of heap-c's
 *   live NAME BYTES        what each thread still holds when it ends
 *   done
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NT 3

struct worker {
	const char *name;
	size_t want; /* bytes */
	char **blocks;
	size_t *sizes;
	size_t n, alloc;
	size_t live;
};

static struct worker workers[NT] = {{.name = "heap-a"}, {.name = "heap-b"}, {.name = "heap-c"}};
static size_t moved_want;
static long hold_ms;
static pthread_barrier_t allocated, moved, ended;

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts))
		;
}

static void *die_oom(void)
{
	fputs("threadheap: out of memory\n", stderr);
	exit(1);
}

static void add_block(struct worker *w, size_t size)
{
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? w->alloc * 2 : 256;
		w->blocks = realloc(w->blocks, w->alloc * sizeof(*w->blocks));
		w->sizes = realloc(w->sizes, w->alloc * sizeof(*w->sizes));
		if (!w->blocks || !w->sizes)
			die_oom();
	}
	char *b = malloc(size);
	if (!b)
		die_oom();
	memset(b, 0x5a, size);
	w->blocks[w->n] = b;
	w->sizes[w->n++] = size;
	w->live += size;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	pthread_setname_np(pthread_self(), w->name);
	/* the block table itself is the thread's too: it is counted, and said */
	static const size_t mix[] = {24, 100, 1000, 4096, 20000, 65536, 262144};
	size_t k = 0;
	while (w->live < w->want) {
		size_t size = mix[k++ % (sizeof(mix) / sizeof(mix[0]))];
		if (size > w->want - w->live)
			size = w->want - w->live;
		add_block(w, size);
	}
	size_t table = w->alloc * (sizeof(*w->blocks) + sizeof(*w->sizes));
	printf("peak %s %zu\n", w->name, w->live + table);
	fflush(stdout);
	pthread_barrier_wait(&allocated);
	if (w == &workers[0]) {
		/* heap-a frees heap-c's first blocks, up to MIB_MOVED */
		struct worker *c = &workers[2];
		size_t freed = 0;
		for (size_t i = 0; i < c->n && freed < moved_want; i++) {
			if (!c->blocks[i])
				continue;
			freed += c->sizes[i];
			c->live -= c->sizes[i];
			free(c->blocks[i]);
			c->blocks[i] = NULL;
		}
		printf("moved %zu\n", freed);
		fflush(stdout);
	}
	pthread_barrier_wait(&moved);
	pause_ms(hold_ms);
	for (size_t i = 0; i < w->n; i += 2)
		if (w->blocks[i]) {
			w->live -= w->sizes[i];
			free(w->blocks[i]);
			w->blocks[i] = NULL;
		}
	printf("live %s %zu\n", w->name, w->live + table);
	fflush(stdout);
	pthread_barrier_wait(&ended);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fputs("usage: threadheap MIB_A MIB_B MIB_C MIB_MOVED HOLD_MS\n", stderr);
		return 64;
	}
	for (int i = 0; i < NT; i++)
		workers[i].want = strtoul(argv[1 + i], NULL, 10) << 20;
	moved_want = strtoul(argv[4], NULL, 10) << 20;
	hold_ms = strtol(argv[5], NULL, 10);
	pthread_barrier_init(&allocated, NULL, NT);
	pthread_barrier_init(&moved, NULL, NT);
	pthread_barrier_init(&ended, NULL, NT);
	pthread_t t[NT];
	for (int i = 0; i < NT; i++)
		if (pthread_create(&t[i], NULL, run, &workers[i]))
			return 1;
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	pause_ms(hold_ms);
	puts("done");
	return 0;
}
