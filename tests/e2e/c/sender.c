/*
 * sender: a small program linked against libmemline, for tests/e2e/test_c_library.py. It
 * sends, in this order:
 *
 *   event "sender start"
 *   span begin "outer", span begin "inner"
 *   event "item 7" (memline_eventf), event "line\nbreak", event "" (a NULL label)
 *   event "from thread", from a second thread (joined before going on)
 *   event "from child", from a child after fork() (waited for before going on)
 *   span end "inner", span end "outer"
 *
 * and exits 0 when every call returned 0 (it also does when nothing is recording), else
 * says which call failed on stderr and exits 1. It prints nothing otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memline.h>

static int failures;

static void check(int ret, const char *what)
{
	if (ret != 0) {
		fprintf(stderr, "sender: %s returned %d: %s\n", what, ret, strerror(errno));
		failures++;
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	check(memline_event("from thread"), "memline_event in a thread");
	return NULL;
}

int main(void)
{
	check(memline_event("sender start"), "memline_event");
	check(memline_span_begin("outer"), "memline_span_begin outer");
	check(memline_span_begin("inner"), "memline_span_begin inner");
	check(memline_eventf("item %d", 7), "memline_eventf");
	check(memline_event("line\nbreak"), "memline_event with a newline");
	check(memline_event(NULL), "memline_event(NULL)");

	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) {
		fprintf(stderr, "sender: cannot run a thread\n");
		return 1;
	}

	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "sender: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0)
		_exit(memline_event("from child") == 0 ? 0 : 1);
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "sender: memline_event failed in the child\n");
		failures++;
	}

	check(memline_span_end("inner"), "memline_span_end inner");
	check(memline_span_end("outer"), "memline_span_end outer");
	return failures ? 1 : 0;
}
