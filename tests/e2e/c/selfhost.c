/*
 * selfhost: a threaded host of libmemline's self-recording, for tests/e2e/test_c_library.py.
 * Each mode checks one promise of memline.h that a host relies on, and exits 0 when it held
 * (messages on stderr otherwise):
 *
 *   selfhost race DIR ITERATIONS   threads send without pause while the main thread calls
 *                                  memline_start and memline_stop again and again and opens
 *                                  files in between: no file of the host ever gets a line of
 *                                  the channel (the descriptor is swapped, never closed)
 *   selfhost burn LOG MS           another thread burns MS ms of CPU during the recording;
 *                                  prints them: the log's self_utime must not include them
 *   selfhost env LOG MEMLINE       memline_start leaves the environment alone;
 *                                  memline_channel() gives the path, which an exec'd child
 *                                  (MEMLINE event) sends to when the host passes it on
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memline.h>

#define SENDERS 4
#define FILES	8

static atomic_int stop_sending;

static void *send_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_sending)) {
		memline_event("race");
		memline_span_begin("race span");
		memline_span_end("race span");
	}
	return NULL;
}

static int open_files(const char *dir, int round, int batch, int *fds)
{
	for (int k = 0; k < FILES; k++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/other-%d-%d-%d", dir, round, batch, k);
		fds[k] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fds[k] < 0) {
			fprintf(stderr, "selfhost: cannot create '%s': %s\n", path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int race(const char *dir, int iterations)
{
	pthread_t t[SENDERS];
	for (int i = 0; i < SENDERS; i++)
		if (pthread_create(&t[i], NULL, send_loop, NULL) != 0) {
			fprintf(stderr, "selfhost: cannot start a thread\n");
			return 1;
		}
	int failures = 0;
	for (int round = 0; round < iterations && !failures; round++) {
		char log[4096];
		snprintf(log, sizeof(log), "%s/log-%d.jsonl", dir, round);
		int fds[2 * FILES];
		if (memline_start(log, 0.01) != 0) {
			fprintf(stderr, "selfhost: memline_start: %s\n", memline_last_error());
			failures++;
			break;
		}
		/* Right after the channel changed: the numbers a close would have freed. */
		if (open_files(dir, round, 0, fds) < 0)
			failures++;
		if (memline_stop() != 0) {
			fprintf(stderr, "selfhost: memline_stop: %s\n", memline_last_error());
			failures++;
		}
		if (open_files(dir, round, 1, fds + FILES) < 0)
			failures++;
		for (int k = 0; k < 2 * FILES; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	}
	atomic_store(&stop_sending, 1);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(t[i], NULL);
	/* Every file the host made must be as it left it: empty. */
	for (int round = 0; round < iterations; round++)
		for (int batch = 0; batch < 2; batch++)
			for (int k = 0; k < FILES; k++) {
				char path[4096];
				struct stat st;
				snprintf(path, sizeof(path), "%s/other-%d-%d-%d", dir, round, batch,
					 k);
				if (stat(path, &st) == 0 && st.st_size != 0) {
					fprintf(stderr, "selfhost: '%s' got %lld bytes of events\n",
						path, (long long)st.st_size);
					failures++;
				}
			}
	return failures ? 1 : 0;
}

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *burn_loop(void *arg)
{
	double *ms = arg;
	volatile unsigned long x = 0;
	while (thread_cpu_ms() < *ms)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	*ms = thread_cpu_ms();
	return NULL;
}

static int burn(const char *log, double ms)
{
	if (memline_start(log, 0.05) != 0) {
		fprintf(stderr, "selfhost: memline_start: %s\n", memline_last_error());
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, burn_loop, &ms) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	if (memline_stop() != 0) {
		fprintf(stderr, "selfhost: memline_stop: %s\n", memline_last_error());
		return 1;
	}
	printf("%.0f\n", ms);
	return 0;
}

static int env(const char *log, const char *memline)
{
	int failures = 0;
	char path[4096], small[8];
	if (memline_channel(path, sizeof(path)) != 0 || path[0]) {
		fprintf(stderr,
			"selfhost: memline_channel before memline_start: expected 0, \"\"\n");
		failures++;
	}
	if (memline_start(log, 0.01) != 0) {
		fprintf(stderr, "selfhost: memline_start: %s\n", memline_last_error());
		return 1;
	}
	if (getenv(MEMLINE_EVENTS_ENV)) {
		fprintf(stderr, "selfhost: memline_start changed the environment\n");
		failures++;
	}
	size_t len = memline_channel(path, sizeof(path));
	struct stat st;
	if (len == 0 || len != strlen(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "selfhost: memline_channel gave '%s' (%zu): not the channel\n",
			path, len);
		failures++;
	}
	if (memline_channel(small, sizeof(small)) != len || strlen(small) != sizeof(small) - 1 ||
	    strncmp(small, path, sizeof(small) - 1) || memline_channel(NULL, 0) != len) {
		fprintf(stderr, "selfhost: memline_channel does not cut as snprintf does\n");
		failures++;
	}
	memline_event("from the host");
	pid_t child = fork();
	if (child == 0) {
		char var[4200];
		snprintf(var, sizeof(var), "%s=%s", MEMLINE_EVENTS_ENV, path);
		char *const argv[] = {(char *)memline, "event", "from an exec'd child", NULL};
		char *const envp[] = {var, NULL};
		execve(memline, argv, envp);
		_exit(127);
	}
	int status;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "selfhost: the exec'd child failed\n");
		failures++;
	}
	if (memline_stop() != 0) {
		fprintf(stderr, "selfhost: memline_stop: %s\n", memline_last_error());
		failures++;
	}
	if (memline_channel(path, sizeof(path)) != 0 || path[0] || getenv(MEMLINE_EVENTS_ENV)) {
		fprintf(stderr, "selfhost: after memline_stop: expected no channel\n");
		failures++;
	}
	if (memline_event("after stop") != 0) {
		fprintf(stderr, "selfhost: memline_event after memline_stop: expected a no-op\n");
		failures++;
	}
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "race"))
		return race(argv[2], (int)strtol(argv[3], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "burn"))
		return burn(argv[2], strtod(argv[3], NULL));
	if (argc == 4 && !strcmp(argv[1], "env"))
		return env(argv[2], argv[3]);
	fprintf(stderr, "usage: selfhost race DIR N | burn LOG MS | env LOG MEMLINE\n");
	return 64;
}
