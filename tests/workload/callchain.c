/*
 * callchain: a program whose stacks the tests know. main calls chain_outer, which calls
 * chain_middle, which calls chain_grow: it allocates and touches MIB mebibytes, 4 MiB at a
 * time, a step every STEP_MS milliseconds, then waits where the test can find it. Built twice
 * by the Makefile: with -g (build/callchain) and stripped (build/callchain-stripped).
 *
 *   callchain MIB STEP_MS HOLD_MS [THREADS [READY_FD]]
 *
 * With THREADS > 0, that many threads first start, each waiting in thread_outer ->
 * thread_inner -> a blocking read of a pipe that never gets a byte, named "worker-N"; the
 * main thread then grows as above. Once it holds its memory it writes "ready\n" to READY_FD
 * (when given), and exits after HOLD_MS.
 *
 *   callchain vfork N MS
 *
 * vforks N times, each child waiting MS milliseconds before it exits, so that the parent
 * cannot be stopped meanwhile (a vfork parent waits in the kernel); then exits 3.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static int never[2];

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline)) static void thread_inner(void)
{
	char c;
	while (read(never[0], &c, 1) < 0)
		;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *thread_outer(void *arg)
{
	(void)arg;
	thread_inner();
	__asm__ volatile("" ::: "memory");
	return NULL;
}

__attribute__((noinline)) static void chain_grow(long mib, long step_ms)
{
	for (long done = 0; done < mib; done += 4) {
		char *p = malloc(4 << 20);
		if (!p)
			exit(1);
		memset(p, 1, 4 << 20);
		pause_ms(step_ms);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void chain_middle(long mib, long step_ms)
{
	chain_grow(mib, step_ms);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void chain_outer(long mib, long step_ms)
{
	chain_middle(mib, step_ms);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static int one_vfork(long ms)
{
	pid_t pid = vfork();
	if (pid == 0) {
		usleep((useconds_t)(ms * 1000));
		_exit(0);
	}
	int status;
	return pid > 0 && waitpid(pid, &status, 0) == pid ? 0 : -1;
}

static int vforks(long n, long ms)
{
	for (long i = 0; i < n; i++)
		if (one_vfork(ms) < 0)
			return 1;
	return 3;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "vfork"))
		return vforks(strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	if (argc < 4) {
		fprintf(stderr, "usage: callchain MIB STEP_MS HOLD_MS [THREADS]\n");
		return 64;
	}
	long mib = strtol(argv[1], NULL, 10), step = strtol(argv[2], NULL, 10);
	long hold = strtol(argv[3], NULL, 10), threads = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
	int ready = argc > 5 ? (int)strtol(argv[5], NULL, 10) : -1;
	if (pipe(never) < 0)
		return 1;
	for (long i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_outer, NULL) != 0)
			return 1;
		char name[32];
		snprintf(name, sizeof(name), "worker-%ld", i);
		pthread_setname_np(t, name);
	}
	chain_outer(mib, step);
	if (ready >= 0 && write(ready, "ready\n", 6) < 0)
		return 1;
	pause_ms(hold);
	return 0;
}
