/*
 * selfrec: a program that records itself with libmemline (memline_start / memline_stop), used by
 * tests/e2e/test_c_library.py. It marks events around allocating 100 MiB, starts a child that
 * allocates 50 MiB, marks a span, stops, and checks the API's errors. Exit 0 when every call
 * behaved; messages on stderr otherwise.
 *
 *   selfrec LOG
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memline.h>

#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: selfrec LOG\n");
		return 64;
	}
	if (memline_stop() != -1 || errno != ESRCH) {
		fprintf(stderr, "memline_stop before memline_start: expected -1 ESRCH\n");
		return 1;
	}
	if (memline_start(argv[1], 1e19) != -1 || errno != EINVAL) {
		fprintf(stderr, "memline_start with an interval of 1e19 s: expected -1 EINVAL\n");
		return 1;
	}
	if (access(argv[1], F_OK) == 0) {
		fprintf(stderr, "a memline_start that failed left a log behind\n");
		return 1;
	}
	if (memline_start(argv[1], 0.01) != 0) {
		fprintf(stderr, "memline_start: %s\n", memline_last_error());
		return 1;
	}
	if (memline_start(argv[1], 0.01) != -1 || errno != EBUSY) {
		fprintf(stderr, "a second memline_start: expected -1 EBUSY\n");
		return 1;
	}
	memline_event("started");
	char *p = malloc(100 * MIB);
	if (!p)
		return 1;
	memset(p, 1, 100 * MIB);
	memline_event("allocated 100 MiB");
	pid_t child = fork();
	if (child == 0) {
		char *q = malloc(50 * MIB);
		if (!q)
			_exit(1);
		memset(q, 2, 50 * MIB);
		memline_event("child allocated 50 MiB");
		usleep(200 * 1000);
		_exit(0);
	}
	int status;
	waitpid(child, &status, 0);
	memline_span_begin("tail");
	usleep(50 * 1000);
	memline_span_end("tail");
	if (memline_stop() != 0) {
		fprintf(stderr, "memline_stop: %s\n", memline_last_error());
		return 1;
	}
	if (memline_event("after stop") != 0) {
		fprintf(stderr, "memline_event after memline_stop: expected a no-op\n");
		return 1;
	}
	free(p);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
