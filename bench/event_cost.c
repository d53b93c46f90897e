/*
 * event_cost: what one libmemline call costs the program that makes it, linked as a program
 * links the library (`make bench-events` builds it against build/libmemline.a and runs it).
 *
 *   event_cost [-n CALLS] [-b BATCHES] [DIR]
 *
 * It times BATCHES batches of CALLS calls each and prints, per call, the median over the
 * batches (and the fastest batch), in nanoseconds, one key=value a line:
 *
 *   noop_*    nothing is recording (no MEMLINE_EVENTS): the cost of a call in a program that
 *             is not recorded
 *   file_*    MEMLINE_EVENTS names a channel file in DIR (default /dev/shm, a tmpfs, else
 *             /tmp): one formatted line and one write(2) per call, no memline reading it
 *
 *   event_cost -f EVENTS [-P SENDERS]
 *
 * floods instead: SENDERS processes (default 4) send EVENTS events in all through the channel of
 * the recording it runs in (under `memline run`) as fast as they can, then it prints how long
 * that took (flood_s) and the rate (flood_events_per_s). bench/run compares EVENTS with the event
 * records in the log: events lost, if any.
 *
 * The timed calls are memline_event("step"), memline_eventf("step %d", i) and a
 * memline_span_begin() + memline_span_end() pair (counted as one call). The library opens the
 * channel once per process, so each setting is measured in a child process of its own. The channel
 * file is emptied between batches (untimed), so it stays small.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memline.h>

#define MAX_BATCHES 1000

struct bench {
	long calls;
	long batches;
	int trunc_fd; /* the channel, to empty it between batches; -1 without one */
};

enum call { CALL_EVENT, CALL_EVENTF, CALL_SPAN };
static const char *const call_names[] = {"event", "eventf", "span_pair"};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs the batches of one call; returns the number of calls that failed. */
static long measure(const struct bench *b, enum call which, const char *setting)
{
	static double per_call[MAX_BATCHES];
	long failed = 0;
	for (long k = 0; k < b->batches; k++) {
		if (b->trunc_fd >= 0 && ftruncate(b->trunc_fd, 0) != 0)
			failed++;
		double t0 = now_ns();
		for (long i = 0; i < b->calls; i++) {
			int r;
			if (which == CALL_EVENT)
				r = memline_event("step");
			else if (which == CALL_EVENTF)
				r = memline_eventf("step %ld", i);
			else if ((r = memline_span_begin("step")) == 0)
				r = memline_span_end("step");
			failed += r != 0;
		}
		per_call[k] = (now_ns() - t0) / (double)b->calls;
	}
	qsort(per_call, (size_t)b->batches, sizeof(per_call[0]), cmp_double);
	printf("%s_%s_ns=%.1f\n", setting, call_names[which], per_call[b->batches / 2]);
	printf("%s_%s_min_ns=%.1f\n", setting, call_names[which], per_call[0]);
	return failed;
}

/* Measures every call in a child process with channel as MEMLINE_EVENTS (NULL: unset). */
static int run_setting(struct bench b, const char *setting, const char *channel)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "event_cost: cannot fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		b.trunc_fd = -1;
		if (channel) {
			setenv("MEMLINE_EVENTS", channel, 1);
			b.trunc_fd = open(channel, O_WRONLY | O_CLOEXEC);
			if (b.trunc_fd < 0) {
				fprintf(stderr, "event_cost: cannot open '%s': %s\n", channel,
					strerror(errno));
				_exit(1);
			}
		} else {
			unsetenv("MEMLINE_EVENTS");
		}
		long failed = 0;
		for (int c = CALL_EVENT; c <= CALL_SPAN; c++)
			failed += measure(&b, (enum call)c, setting);
		fflush(stdout);
		if (failed)
			fprintf(stderr, "event_cost: %s: %ld calls failed\n", setting, failed);
		_exit(failed ? 1 : 0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

static long number(const char *s, const char *what, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > max) {
		fprintf(stderr, "event_cost: %s must be a number from 1 to %ld, not '%s'\n", what,
			max, s);
		exit(64);
	}
	return v;
}

/* SENDERS processes send EVENTS events in all, each numbered, as fast as they can. */
static int flood(long events, long senders)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long k = 0; k < senders; k++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			long n = events / senders + (k < events % senders);
			for (long i = 0; i < n; i++)
				memline_eventf("flood %ld %ld", k, i);
			_exit(0);
		}
	}
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("flood_events=%ld\nflood_senders=%ld\nflood_s=%.4f\nflood_events_per_s=%.0f\n",
	       events, senders, secs, (double)events / secs);
	return failed;
}

int main(int argc, char **argv)
{
	struct bench b = {.calls = 20000, .batches = 31, .trunc_fd = -1};
	const char *dir = NULL;
	long flood_events = 0, senders = 4;
	int opt;
	while ((opt = getopt(argc, argv, "n:b:f:P:")) != -1) {
		if (opt == 'n')
			b.calls = number(optarg, "-n", 100000000);
		else if (opt == 'b')
			b.batches = number(optarg, "-b", MAX_BATCHES);
		else if (opt == 'f')
			flood_events = number(optarg, "-f", 100000000);
		else if (opt == 'P')
			senders = number(optarg, "-P", 64);
		else
			return 64;
	}
	if (flood_events)
		return flood(flood_events, senders);
	if (optind < argc)
		dir = argv[optind];
	else
		dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	char tmpl[4096];
	if (snprintf(tmpl, sizeof(tmpl), "%s/memline-event-cost-XXXXXX", dir) >=
		    (int)sizeof(tmpl) ||
	    !mkdtemp(tmpl)) {
		fprintf(stderr, "event_cost: cannot make a directory in '%s': %s\n", dir,
			strerror(errno));
		return 1;
	}
	char channel[4200];
	snprintf(channel, sizeof(channel), "%s/events", tmpl);
	int fd = open(channel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "event_cost: cannot create '%s': %s\n", channel, strerror(errno));
		rmdir(tmpl);
		return 1;
	}
	close(fd);

	printf("calls_per_batch=%ld\nbatches=%ld\nchannel_dir=%s\n", b.calls, b.batches, dir);
	int ret = 0;
	if (run_setting(b, "noop", NULL) != 0 || run_setting(b, "file", channel) != 0)
		ret = 1;
	unlink(channel);
	rmdir(tmpl);
	return ret;
}
