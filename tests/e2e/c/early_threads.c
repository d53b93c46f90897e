/*
 * early_threads: a shared library whose constructor starts threads that allocate at once and
 * all together, for test_heap_shim.py. Preloaded after the heap library, its constructor runs
 * before the heap library's: the threads race to the process's first allocations, while the
 * real functions are being found and the counters file made. Each thread mallocs, reallocs
 * and frees ROUNDS blocks, checking their contents; the constructor joins them, then writes
 * "early: N threads ok" on stderr (or what went wrong, and exits 1).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS	20000

static pthread_barrier_t go;

static void *work(void *arg)
{
	unsigned r = (unsigned)(size_t)arg * 2654435761u + 1;
	pthread_barrier_wait(&go);
	for (int i = 0; i < ROUNDS; i++) {
		r = r * 1103515245u + 12345u;
		size_t n = 1 + (r >> 16) % 500;
		unsigned char *p = malloc(n);
		if (!p)
			return (void *)1;
		memset(p, (int)(n & 0xff), n);
		unsigned char *q = realloc(p, n * 2);
		if (!q)
			return (void *)1;
		for (size_t k = 0; k < n; k++)
			if (q[k] != (unsigned char)(n & 0xff))
				return (void *)2;
		free(q);
	}
	return NULL;
}

__attribute__((constructor)) static void early(void)
{
	pthread_t th[THREADS];
	pthread_barrier_init(&go, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&th[i], NULL, work, (void *)(size_t)i) != 0)
			_exit(1);
	int bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		bad |= ret != NULL;
	}
	if (bad) {
		fprintf(stderr, "early: a thread's blocks were wrong\n");
		_exit(1);
	}
	fprintf(stderr, "early: %d threads ok\n", THREADS);
}
