/*
 * test_api: libmemline's public functions (lib/record/api.c, include/memline.h) sending to a
 * channel file in a temporary directory, read back with channel_parse(): each function's line,
 * labels that need escaping or cutting, no channel (a silent no-op), a channel that cannot be
 * opened or written (-1 and errno, every time), channels that are not the recording's own file
 * (refused with EPERM), 8 threads at once, a child after fork(), and a descriptor that does
 * not leak into exec'd programs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/channel.h"
#include "memline.h"

/* In lib/record/api.c, for tests only: the next send looks at $MEMLINE_EVENTS again. */
void api_reset(void);

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/memline-test-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0700), 0); /* what senders require, whatever the umask */
	snprintf(f->path, sizeof(f->path), "%s/events", f->dir);
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(setenv(CHANNEL_ENV, f->path, 1), 0);
	api_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	api_reset();
	unsetenv(CHANNEL_ENV);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The messages of a channel file, parsed; texts copied (they may hold NUL-free bytes only). */
struct msgs {
	size_t n;
	struct channel_msg *m;
	char **text;
};

static void msgs_read(struct msgs *ms, const char *path)
{
	memset(ms, 0, sizeof(*ms));
	FILE *fp = fopen(path, "re");
	assert_non_null(fp);
	struct strbuf data = STRBUF_INIT, scratch = STRBUF_INIT;
	char buf[65536];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
		strbuf_add(&data, buf, got);
	fclose(fp);
	assert_false(data.oom);
	/* Every message is a whole line: the file ends with a newline or is empty. */
	if (data.len)
		assert_int_equal(data.buf[data.len - 1], '\n');
	const char *p = data.buf, *end = data.buf + data.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		ms->m = realloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
		ms->text = realloc(ms->text, (ms->n + 1) * sizeof(*ms->text));
		assert_non_null(ms->m);
		assert_non_null(ms->text);
		struct channel_msg *m = &ms->m[ms->n];
		channel_parse(p, (size_t)(nl - p), m, &scratch);
		ms->text[ms->n] = malloc(m->len + 1);
		assert_non_null(ms->text[ms->n]);
		memcpy(ms->text[ms->n], m->text, m->len + 1);
		m->text = ms->text[ms->n];
		ms->n++;
		p = nl + 1;
	}
	strbuf_release(&data);
	strbuf_release(&scratch);
}

static void msgs_release(struct msgs *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->text[i]);
	free(ms->text);
	free(ms->m);
	memset(ms, 0, sizeof(*ms));
}

static double boottime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Asserts message i of ms is a structured line of kind from this thread with text. */
static void assert_msg(const struct msgs *ms, size_t i, enum channel_kind kind, const char *text,
		       size_t len)
{
	assert_true(i < ms->n);
	const struct channel_msg *m = &ms->m[i];
	assert_int_equal(m->kind, kind);
	assert_int_equal(m->pid, getpid());
	assert_int_equal(m->tid, tid());
	assert_true(m->t > 0);
	assert_int_equal(m->len, len);
	assert_memory_equal(m->text, text, len);
}

static void test_each_function(void **state)
{
	struct fixture *f = *state;
	double before = boottime();
	errno = EDOM;
	assert_int_equal(memline_event("started"), 0);
	assert_int_equal(memline_span_begin("load"), 0);
	assert_int_equal(memline_eventf("epoch %d of %s", 3, "ten"), 0);
	assert_int_equal(memline_span_end("load"), 0);
	assert_int_equal(errno, EDOM); /* success leaves errno alone */
	double after = boottime();

	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, 4);
	assert_msg(&ms, 0, CHANNEL_EVENT, "started", 7);
	assert_msg(&ms, 1, CHANNEL_BEGIN, "load", 4);
	assert_msg(&ms, 2, CHANNEL_EVENT, "epoch 3 of ten", 14);
	assert_msg(&ms, 3, CHANNEL_END, "load", 4);
	for (size_t i = 0; i < ms.n; i++) {
		/* Sent on CLOCK_BOOTTIME, in order (1 µs of slack for the parse's rounding). */
		assert_true(ms.m[i].t >= before - 1e-6 && ms.m[i].t <= after + 1e-6);
		if (i)
			assert_true(ms.m[i].t >= ms.m[i - 1].t - 1e-6);
	}
	msgs_release(&ms);
}

static void test_labels_escaped(void **state)
{
	struct fixture *f = *state;
	static const char *const labels[] = {
		"two\nlines",	  "back\\slash and \\n",
		"cr\r\n",	  "bad \xff\xfe utf-8 \xc3",
		"\x1e E 1 2 3 x", "",
		"tab\there",
	};
	size_t n = sizeof(labels) / sizeof(labels[0]);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(memline_event(labels[i]), 0);
	assert_int_equal(memline_event(NULL), 0);
	assert_int_equal(memline_span_begin(NULL), 0);
	assert_int_equal(memline_span_end(NULL), 0);
	assert_int_equal(memline_eventf(NULL), 0);
	assert_int_equal(memline_eventf("%s", "a\nb"), 0);

	/* One line each, newlines in labels included. */
	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, n + 5);
	for (size_t i = 0; i < n; i++)
		assert_msg(&ms, i, CHANNEL_EVENT, labels[i], strlen(labels[i]));
	assert_msg(&ms, n, CHANNEL_EVENT, "", 0);
	assert_msg(&ms, n + 1, CHANNEL_BEGIN, "", 0);
	assert_msg(&ms, n + 2, CHANNEL_END, "", 0);
	assert_msg(&ms, n + 3, CHANNEL_EVENT, "", 0);
	assert_msg(&ms, n + 4, CHANNEL_EVENT, "a\nb", 3);
	msgs_release(&ms);
}

static void test_long_labels_cut(void **state)
{
	struct fixture *f = *state;
	/* "a" then 2-byte characters: byte 1024 is the second byte of one, cut before it. */
	char utf8[5002];
	utf8[0] = 'a';
	for (size_t i = 1; i + 1 < 5001; i += 2) {
		utf8[i] = '\xc3';
		utf8[i + 1] = '\xa9'; /* é */
	}
	utf8[5001] = '\0';
	char ascii[5001];
	memset(ascii, 'x', 5000);
	ascii[5000] = '\0';

	assert_int_equal(memline_event(utf8), 0);
	assert_int_equal(memline_span_begin(ascii), 0);
	assert_int_equal(memline_eventf("%s", utf8), 0);
	assert_int_equal(memline_eventf("%s%s", "12", ascii), 0);

	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, 4);
	assert_msg(&ms, 0, CHANNEL_EVENT, utf8, 1023);
	assert_msg(&ms, 1, CHANNEL_BEGIN, ascii, MEMLINE_LABEL_MAX);
	assert_msg(&ms, 2, CHANNEL_EVENT, utf8, 1023);
	assert_int_equal(ms.m[3].len, MEMLINE_LABEL_MAX);
	assert_memory_equal(ms.m[3].text, "12xxx", 5);
	msgs_release(&ms);
}

static void test_not_recording(void **state)
{
	struct fixture *f = *state;
	for (int empty = 0; empty < 2; empty++) {
		/* Unset, then set but empty: nothing records. */
		if (empty)
			assert_int_equal(setenv(CHANNEL_ENV, "", 1), 0);
		else
			unsetenv(CHANNEL_ENV);
		api_reset();
		errno = EDOM;
		assert_int_equal(memline_event("x"), 0);
		assert_int_equal(memline_eventf("%d", 1), 0);
		assert_int_equal(memline_span_begin("s"), 0);
		assert_int_equal(memline_span_end("s"), 0);
		assert_int_equal(errno, EDOM);
	}
	/* Set later: the environment is read once, on the first call. */
	assert_int_equal(setenv(CHANNEL_ENV, f->path, 1), 0);
	assert_int_equal(memline_event("late"), 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_cannot_open(void **state)
{
	struct fixture *f = *state;
	char missing[192];
	snprintf(missing, sizeof(missing), "%s/gone/events", f->dir);
	assert_int_equal(setenv(CHANNEL_ENV, missing, 1), 0);
	api_reset();
	for (int i = 0; i < 1000; i++) {
		errno = 0;
		assert_int_equal(memline_event("x"), -1);
		assert_int_equal(errno, ENOENT);
		errno = 0;
		assert_int_equal(memline_eventf("%d", i), -1);
		assert_int_equal(errno, ENOENT);
		assert_int_equal(memline_span_begin("s"), -1);
		assert_int_equal(memline_span_end("s"), -1);
	}
	/* Once failed, it stays failed: the directory appearing does not change it. */
	char gone[160];
	snprintf(gone, sizeof(gone), "%s/gone", f->dir);
	assert_int_equal(mkdir(gone, 0700), 0);
	int fd = open(missing, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_int_equal(memline_event("x"), -1);
	assert_int_equal(errno, ENOENT);
	unlink(missing);
	rmdir(gone);
}

static void test_write_fails(void **state)
{
	(void)state;
	/* A file size limit of 0: every append fails (EFBIG), as on a full disk (ENOSPC). */
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 0;
	void (*sig)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int fails = 0;
	for (int i = 0; i < 100; i++) {
		errno = 0;
		fails += memline_event("x") == -1 && errno == EFBIG;
		errno = 0;
		fails += memline_eventf("%d", i) == -1 && errno == EFBIG;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, sig);
	assert_int_equal(fails, 200);
}

/*
 * What the senders refuse: anything but a regular 0600 file of this user, with one link, in a
 * 0700 directory of this user, neither of them a symbolic link. Each case is the channel path
 * (in the fixture's directory, or a directory made for the case); nothing may reach the file
 * the case points at.
 */
static void expect_refused(const char *path, const char *victim)
{
	struct stat before, after;
	assert_int_equal(stat(victim, &before), 0);
	assert_int_equal(setenv(CHANNEL_ENV, path, 1), 0);
	api_reset();
	errno = 0;
	assert_int_equal(memline_event("hijacked"), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(memline_span_begin("hijacked"), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(channel_open(path), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(stat(victim, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
}

static void make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	char path[256], other[256], dir[128];
	/* The fixture's channel is fine: it is the victim of every case below. */
	assert_int_equal(memline_event("ours"), 0);

	/* Wrong modes of the file. */
	static const mode_t modes[] = {0644, 0640, 0660, 0400, 0700, 04600};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(path, sizeof(path), "%s/mode%zu", f->dir, i);
		make_file(path, modes[i]);
		expect_refused(path, path);
		unlink(path);
	}
	/* A symbolic link to the channel, and a hard link to it (two links). */
	snprintf(path, sizeof(path), "%s/symlink", f->dir);
	assert_int_equal(symlink(f->path, path), 0);
	expect_refused(path, f->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/hardlink", f->dir);
	assert_int_equal(link(f->path, path), 0);
	expect_refused(path, f->path);
	expect_refused(f->path, f->path); /* the channel itself, while it has two links */
	unlink(path);
	/* A FIFO, and a directory. */
	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	errno = 0;
	assert_int_equal(channel_open(path), -1);
	assert_true(errno == EPERM || errno == ENXIO); /* ENXIO: no reader, refused anyway */
	unlink(path);
	/* The file of another user (as root, the test can make one). */
	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/theirs", f->dir);
		make_file(path, 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		expect_refused(path, path);
		unlink(path);
	}
	/* Directories: the wrong mode, another user's, and a symbolic link to ours. */
	snprintf(dir, sizeof(dir), "%s/open", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/events", dir);
	make_file(path, 0600);
	expect_refused(path, path);
	if (geteuid() == 0) {
		assert_int_equal(chmod(dir, 0700), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		expect_refused(path, path);
	}
	unlink(path);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/dirlink", f->dir);
	assert_int_equal(symlink(f->dir, dir), 0);
	snprintf(other, sizeof(other), "%s/events", dir);
	expect_refused(other, f->path);
	unlink(dir);

	/* What was sent before is all the channel holds. */
	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, 1);
	assert_msg(&ms, 0, CHANNEL_EVENT, "ours", 4);
	msgs_release(&ms);
}

#define THREADS	   8
#define PER_THREAD 500

static pthread_barrier_t start_line;

struct sender {
	pthread_t thread;
	int index;
	pid_t tid;
	int failures;
};

static void *send_many(void *data)
{
	struct sender *s = data;
	s->tid = tid();
	pthread_barrier_wait(&start_line); /* all at once, so they race to open the channel */
	for (int i = 0; i < PER_THREAD; i++) {
		int r = i % 2 ? memline_eventf("thread %d event %d", s->index, i)
			      : memline_span_begin("work");
		if (r != 0)
			s->failures++;
	}
	return NULL;
}

/* The descriptors of this process open on path. */
static int fds_on(const char *path, int *fd)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, path) == 0) {
			n++;
			*fd = (int)strtol(e->d_name, NULL, 10);
		}
	}
	closedir(d);
	return n;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	/* The channel is not open yet: the threads race to open it, too. */
	struct sender s[THREADS];
	assert_int_equal(pthread_barrier_init(&start_line, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		s[i] = (struct sender){.index = i};
		assert_int_equal(pthread_create(&s[i].thread, NULL, send_many, &s[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(s[i].thread, NULL), 0);
		assert_int_equal(s[i].failures, 0);
	}
	pthread_barrier_destroy(&start_line);
	int fd;
	assert_int_equal(fds_on(f->path, &fd), 1); /* the losers of the race closed theirs */

	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, THREADS * PER_THREAD);
	int seen[THREADS][PER_THREAD] = {{0}};
	int spans[THREADS] = {0};
	for (size_t i = 0; i < ms.n; i++) {
		const struct channel_msg *m = &ms.m[i];
		assert_int_equal(m->pid, getpid());
		int who = -1;
		for (int j = 0; j < THREADS; j++)
			if (s[j].tid == m->tid)
				who = j;
		assert_true(who >= 0);
		if (m->kind == CHANNEL_BEGIN) {
			assert_string_equal(m->text, "work");
			spans[who]++;
			continue;
		}
		int t, k;
		assert_int_equal(m->kind, CHANNEL_EVENT);
		assert_int_equal(sscanf(m->text, "thread %d event %d", &t, &k), 2);
		assert_int_equal(t, who);
		assert_true(k >= 0 && k < PER_THREAD && k % 2 == 1);
		seen[t][k]++;
	}
	for (int t = 0; t < THREADS; t++) {
		assert_int_equal(spans[t], PER_THREAD / 2);
		for (int k = 1; k < PER_THREAD; k += 2)
			assert_int_equal(seen[t][k], 1);
	}
	msgs_release(&ms);
}

static void test_fork(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(memline_event("parent"), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* The inherited descriptor, the same channel; then a byte says it is done. */
		int ok = memline_event("child") == 0 && memline_span_begin("child span") == 0;
		char c = ok ? 'y' : 'n';
		ssize_t w = write(p[1], &c, 1);
		_exit(w == 1 && ok ? 0 : 1);
	}
	close(p[1]);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(c, 'y');
	assert_int_equal(memline_event("parent again"), 0);

	struct msgs ms;
	msgs_read(&ms, f->path);
	assert_int_equal(ms.n, 4);
	assert_msg(&ms, 0, CHANNEL_EVENT, "parent", 6);
	assert_string_equal(ms.m[1].text, "child");
	assert_int_equal(ms.m[1].pid, child);
	assert_int_equal(ms.m[1].tid, child);
	assert_int_equal(ms.m[2].kind, CHANNEL_BEGIN);
	assert_int_equal(ms.m[2].pid, child);
	assert_msg(&ms, 3, CHANNEL_EVENT, "parent again", 12);
	msgs_release(&ms);
}

static void test_cloexec(void **state)
{
	struct fixture *f = *state;
	int fd = -1;
	assert_int_equal(fds_on(f->path, &fd), 0); /* opened on the first send, not before */
	assert_int_equal(memline_event("x"), 0);
	assert_int_equal(memline_event("y"), 0);
	assert_int_equal(fds_on(f->path, &fd), 1); /* and once */
	int flags = fcntl(fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	int fl = fcntl(fd, F_GETFL);
	assert_true(fl >= 0 && (fl & O_APPEND) && (fl & O_ACCMODE) == O_WRONLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_labels_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloexec, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
