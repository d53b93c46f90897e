/*
 * stall: a target for the stack-capture benchmark (bench/stacks.py). Four threads: a ticker that
 * spins reading CLOCK_MONOTONIC and keeps the longest gap between two reads (the time it was
 * stopped, or not run), and three that wait in a read of a pipe. On stdin: "r" resets the
 * longest gap, "p" prints it in microseconds.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long longest;
static _Atomic int reset;
static int never[2];

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *ticker(void *arg)
{
	(void)arg;
	long long last = now_ns();
	for (;;) {
		long long t = now_ns();
		if (atomic_exchange(&reset, 0))
			atomic_store(&longest, 0);
		else if (t - last > atomic_load(&longest))
			atomic_store(&longest, t - last);
		last = t;
	}
	return NULL;
}

static void *waiter(void *arg)
{
	(void)arg;
	char c;
	while (read(never[0], &c, 1) < 0)
		;
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pipe(never) < 0 || pthread_create(&t, NULL, ticker, NULL))
		return 1;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t, NULL, waiter, NULL))
			return 1;
	char line[16];
	while (fgets(line, sizeof(line), stdin)) {
		if (line[0] == 'r') {
			atomic_store(&reset, 1);
			while (atomic_load(&reset))
				usleep(100);
			printf("ok\n");
		} else if (line[0] == 'p') {
			printf("%lld\n", atomic_load(&longest) / 1000);
		}
		fflush(stdout);
	}
	return 0;
}
