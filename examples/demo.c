/*
 * demo: a small workload to show what memline records (`make demo`). It runs in phases and
 * says which one it is in: it loads 80 MB of "input", starts three workers at different times
 * (each takes 20-40 MB and computes for about 0.3 s; the second starts a helper of its own, a
 * grandchild), briefly needs 150 MB more while it merges their results, then cleans up. About
 * 2.5 s in all. Workers and the helper re-execute this program (`demo worker N MB MS`), so the
 * log shows them under their own command lines. Each phase is a span, and a few moments are
 * events, marked with libmemline (memline.h): the report lists them with their memory.
 */
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memline.h>

#define MB (1024L * 1024L)

static volatile uint64_t sink;

static void die_os(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints one progress line, "demo[PID]: ...", at once. */
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("demo[%d]: ", (int)getpid());
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

/* Maps len bytes and writes every page, in steps over about ms milliseconds. */
static unsigned char *take(long len, long ms)
{
	unsigned char *p =
		mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die_os("mmap");
	long steps = ms > 0 ? 10 : 1, step = len / steps;
	for (long i = 0; i < steps; i++) {
		long n = i == steps - 1 ? len - i * step : step;
		memset(p + i * step, (int)(i + 1), (size_t)n);
		if (ms > 0)
			sleep_ms(ms / steps);
	}
	return p;
}

/* Hashes over buf again and again for about ms milliseconds of wall time. */
static void compute(const unsigned char *buf, long len, long ms)
{
	double end = now_secs() + ms / 1000.0;
	uint64_t h = 1469598103934665603ULL;
	while (now_secs() < end)
		for (long i = 0; i < len; i += 64)
			h = (h ^ buf[i]) * 1099511628211ULL;
	sink += h;
}

/*
 * Starts `demo ROLE N MB MS` as a child. posix_spawn, not fork: a forked copy of this process
 * would count the 80 MB of input in its RSS until it execs, and the log would show it.
 */
static pid_t start(const char *self, const char *role, long n, long mb, long ms)
{
	char nbuf[24], mbbuf[24], msbuf[24];
	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	snprintf(mbbuf, sizeof(mbbuf), "%ld", mb);
	snprintf(msbuf, sizeof(msbuf), "%ld", ms);
	char *argv[] = {(char *)self, (char *)role, nbuf, mbbuf, msbuf, NULL};
	fflush(stdout);
	pid_t pid;
	int err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
	if (err) {
		errno = err;
		die_os("cannot start a worker");
	}
	return pid;
}

static void wait_all(void)
{
	while (wait(NULL) >= 0 || errno == EINTR)
		;
}

static long arg_long(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "demo: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* demo worker N MB MS, or demo helper N MB MS: take MB, compute for MS, exit. */
static int worker(const char *self, const char *role, long n, long mb, long ms)
{
	if (!strcmp(role, "helper"))
		say("helper of worker %ld (a grandchild): taking %ld MB", n, mb);
	else
		say("worker %ld: taking %ld MB, computing for %ld ms", n, mb, ms);
	unsigned char *buf = take(mb * MB, 50);
	pid_t helper = -1;
	if (!strcmp(role, "worker") && n == 2)
		helper = start(self, "helper", n, 15, 400);
	compute(buf, mb * MB, ms);
	if (helper > 0)
		wait_all();
	say("%s %ld: done", role, n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *self = argc > 0 ? argv[0] : "demo";
	if (argc == 5 && (!strcmp(argv[1], "worker") || !strcmp(argv[1], "helper"))) {
		return worker(self, argv[1], arg_long(argv[2]), arg_long(argv[3]),
			      arg_long(argv[4]));
	}
	if (argc != 1) {
		fputs("usage: demo\n", stderr);
		return 2;
	}

	say("phase load: reading 80 MB of input");
	memline_span_begin("load");
	unsigned char *input = take(80 * MB, 300);
	memline_eventf("input read: %ld MB", 80L);
	memline_span_end("load");

	say("phase work: starting 3 workers, 0.3 s apart");
	memline_span_begin("work");
	start(self, "worker", 1, 20, 300);
	sleep_ms(300);
	start(self, "worker", 2, 30, 300);
	sleep_ms(300);
	start(self, "worker", 3, 40, 300);
	compute(input, 80 * MB, 200);
	wait_all();
	memline_event("all workers done");
	memline_span_end("work");

	say("phase merge: 150 MB more for a moment");
	memline_span_begin("merge");
	unsigned char *merge = take(150 * MB, 0);
	compute(merge, 150 * MB, 150);
	munmap(merge, 150 * MB);
	memline_span_end("merge");

	say("phase cleanup: releasing the input in four steps");
	memline_span_begin("cleanup");
	for (int i = 0; i < 4; i++) {
		munmap(input + i * 20 * MB, 20 * MB);
		sleep_ms(100);
	}
	sleep_ms(100);
	memline_span_end("cleanup");
	say("done");
	return 0;
}
