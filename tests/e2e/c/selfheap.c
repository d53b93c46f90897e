/*
 * selfheap: memline_start_with(MEMLINE_HEAP), for test_c_library.py. A thread named "grower"
 * allocates 32 MiB (kept until the recording stops), then the recording stops.
 *
 *   selfheap LOG     exit 0; 3 when memline_start_with fails (its errno and message on stderr)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memline.h>

static void *grow(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "grower");
	char *p = malloc(32 << 20);
	if (!p)
		return NULL;
	memset(p, 1, 32 << 20);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 64;
	if (memline_start_with(argv[1], 0.02, MEMLINE_HEAP) < 0) {
		fprintf(stderr, "errno %d: %s\n", errno, memline_last_error());
		return 3;
	}
	pthread_t t;
	void *p = NULL;
	if (pthread_create(&t, NULL, grow, NULL) || pthread_join(t, &p))
		return 1;
	if (memline_stop() < 0)
		return 2;
	free(p);
	return 0;
}
