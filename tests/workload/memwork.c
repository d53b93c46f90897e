/*
 * memwork: a scriptable workload for memline's end-to-end tests and benchmarks. It runs the
 * steps given as arguments, in order, then exits 0:
 *
 *   memwork alloc 100M sleep 200 child 'alloc 30M sleep 500' spike 300M 5 wait exit 3
 *
 * Steps (SIZE is bytes with an optional K, M or G suffix, binary: 1K = 1024; MS is
 * milliseconds):
 *   alloc SIZE      mmap SIZE and write every page so it is resident; held until free
 *   free            unmap everything alloc holds
 *   spike SIZE MS   mmap and touch SIZE, hold it MS ms, unmap it
 *   sleep MS        sleep MS ms
 *   child STEPS     fork a child that runs STEPS (one argument) and exits 0; the parent goes
 *                   on at once. The child first unmaps what alloc holds, so its RSS is only its
 *                   own steps' memory
 *   orphan STEPS    like child, through an intermediate process that exits at once, so the
 *                   grandchild running STEPS is reparented (to memline when it is a subreaper)
 *   daemon STEPS    like orphan, as a daemon does it: the intermediate calls setsid(2) before
 *                   it forks the grandchild that runs STEPS
 *   children N STEPS  fork N children one after another, each running STEPS and exiting 0,
 *                   each waited for before the next is forked (sequential short-lived children)
 *   threads N SIZE MS  start N threads that each mmap and touch SIZE, hold it MS ms, unmap it
 *                   and return; the step ends when all have (joined)
 *   bgthreads N SIZE   start N threads that each touch SIZE and then sleep forever; the step
 *                   ends at once (an exit later ends them with the process)
 *   cow STEPS       like child, but the child keeps what alloc and shared hold: its pages stay
 *                   shared with the parent's, copy-on-write (multiprocessing, DataLoader
 *                   workers)
 *   spawn FIFO STEPS  posix_spawn a new memwork running STEPS (glibc spawns with a vfork-style
 *                   clone: the child runs in this process's memory until its exec); with FIFO
 *                   not "-", the child first opens FIFO as its stdin, which blocks until a
 *                   writer opens it: the child shares this process's memory until then. The
 *                   parent goes on once the child exec'd
 *   shared SIZE     mmap SIZE of shared anonymous memory and write every page; held until the
 *                   process exits (a child made by child or cow keeps it mapped)
 *   shm NAME SIZE   shm_open NAME (made if need be, SIZE long), map it shared and write every
 *                   page; held until the process exits. The name is not removed
 *   touch           read every page of what shared and shm hold (a child's mapping of its
 *                   parent's shared memory is resident in it only once touched)
 *   wait            wait until every child has exited
 *   exit N          exit with status N
 *   kill SIG        raise signal SIG (a number or a name: 9, KILL, SIGSEGV) on itself; core
 *                   dumps are turned off first, so SEGV/ABRT leave no core file
 *   onsig SIG N     from now on, exit with status N when SIG arrives (e.g. onsig TERM 42)
 *   maxrss          print "maxrss KIB", the kernel's high-water mark of RSS (ru_maxrss of
 *                   RUSAGE_SELF). memline resets the high-water mark after each sample, so
 *                   under memline this is the peak since its last sample, unless it runs with
 *                   --no-peak-reset. It also covers the image the process had before its exec
 *                   (its parent's, forked or vfork'd)
 *   pidrss          print "pidrss PID KIB": its pid and ru_maxrss, as maxrss
 *   hwm             print "hwm KIB", the high-water mark of this program's own memory (VmHWM
 *                   of /proc/self/status: never the image before its exec)
 *   churn N         deterministic CPU and memory work: N rounds of allocating 1 MiB, touching
 *                   it, computing over it and freeing it; "churn 2s" instead runs 2 seconds
 *   say TEXT        print TEXT and a newline on stdout, flushed
 *   pidfile PATH    write the pid and a newline to PATH (atomically: write, then rename)
 *   waitsig         block until SIGUSR1 arrives (SIGUSR1 is blocked from the start, so one sent
 *                   before this step is not lost)
 *   ready FD        write one byte to file descriptor FD, so a test can wait on a pipe
 *   hang            pause forever
 *
 * STEPS is one argument split at blanks; single or double quotes group words, so a child can
 * have a child: child "alloc 10M child 'alloc 5M hang' hang". Every step, nested ones included,
 * is checked before anything runs: a bad step prints a message on stderr and exits 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_BADSTEP 2

struct region {
	void *addr;
	size_t len;
};

static struct region *held;
static size_t n_held, alloc_held;
static struct region *shared;
static size_t n_shared, alloc_shared;
static long page_size;
static volatile uint64_t sink;

static void fail(const char *fmt, const char *arg)
{
	fputs("memwork: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(EXIT_BADSTEP);
}

static void fail_os(const char *what)
{
	fprintf(stderr, "memwork: %s: %s\n", what, strerror(errno));
	exit(1);
}

static bool parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	unsigned long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ULL << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ULL << 30;
	if (mult != 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > SIZE_MAX / mult)
		return false;
	*out = (size_t)(v * mult);
	return true;
}

static const struct {
	const char *name;
	int sig;
} signames[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
	{"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},	 {"KILL", SIGKILL},
	{"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},
	{"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
	{"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"XCPU", SIGXCPU}, {"SYS", SIGSYS},
};

static int parse_signal(const char *s)
{
	long long v;
	if (parse_ll(s, 1, 64, &v))
		return (int)v;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (!strcmp(s, signames[i].name))
			return signames[i].sig;
	return -1;
}

/* Splits a STEPS argument into words; the caller frees the array and each word. */
static char **split_steps(const char *steps, int *n)
{
	const char *s = steps;
	size_t cap = 8, len = 0;
	char **words = malloc(cap * sizeof(*words));
	if (!words)
		fail_os("malloc");
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		size_t wcap = strlen(s) + 1, wlen = 0;
		char *w = malloc(wcap);
		if (!w)
			fail_os("malloc");
		char quote = 0;
		for (; *s; s++) {
			if (quote) {
				if (*s == quote)
					quote = 0;
				else
					w[wlen++] = *s;
			} else if (*s == '\'' || *s == '"') {
				quote = *s;
			} else if (*s == ' ' || *s == '\t' || *s == '\n') {
				break;
			} else {
				w[wlen++] = *s;
			}
		}
		if (quote)
			fail("unterminated quote in steps '%s'", steps);
		w[wlen] = '\0';
		if (len + 2 > cap) {
			cap *= 2;
			char **nw = realloc(words, cap * sizeof(*words));
			if (!nw)
				fail_os("realloc");
			words = nw;
		}
		words[len++] = w;
	}
	words[len] = NULL;
	*n = (int)len;
	return words;
}

static void free_words(char **words, int n)
{
	for (int i = 0; i < n; i++)
		free(words[i]);
	free(words);
}

/* How many arguments each step takes; -1 for an unknown step. */
static int step_nargs(const char *step)
{
	static const struct {
		const char *name;
		int nargs;
	} steps[] = {
		{"alloc", 1},	  {"free", 0},	 {"spike", 2},	{"sleep", 1},	 {"child", 1},
		{"orphan", 1},	  {"wait", 0},	 {"exit", 1},	{"kill", 1},	 {"onsig", 2},
		{"maxrss", 0},	  {"churn", 1},	 {"say", 1},	{"pidfile", 1},	 {"waitsig", 0},
		{"ready", 1},	  {"hang", 0},	 {"daemon", 1}, {"children", 2}, {"threads", 3},
		{"bgthreads", 2}, {"pidrss", 0}, {"cow", 1},	{"spawn", 2},	 {"shared", 1},
		{"shm", 2},	  {"touch", 0},	 {"hwm", 0},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (!strcmp(step, steps[i].name))
			return steps[i].nargs;
	return -1;
}

static bool parse_churn(const char *s, long long *n, bool *seconds)
{
	size_t len = strlen(s);
	*seconds = len > 1 && s[len - 1] == 's';
	if (!*seconds)
		return parse_ll(s, 0, LLONG_MAX, n);
	char *num = strndup(s, len - 1);
	if (!num)
		fail_os("strndup");
	bool ok = parse_ll(num, 0, 1000000, n);
	free(num);
	return ok;
}

/* Checks every step (recursing into child and orphan steps); exits 2 on the first bad one. */
static void check_steps(char **argv, int argc)
{
	for (int i = 0; i < argc; i++) {
		const char *step = argv[i];
		int nargs = step_nargs(step);
		if (nargs < 0)
			fail("unknown step '%s'", step);
		if (i + nargs >= argc)
			fail("step '%s' lacks its argument", step);
		const char *a = nargs > 0 ? argv[i + 1] : NULL;
		const char *b = nargs > 1 ? argv[i + 2] : NULL;
		long long v;
		size_t sz;
		bool secs;
		if (!strcmp(step, "alloc") && !parse_size(a, &sz))
			fail("alloc: bad size '%s' (bytes, or a number with K, M or G)", a);
		if (!strcmp(step, "spike") && !parse_size(a, &sz))
			fail("spike: bad size '%s' (bytes, or a number with K, M or G)", a);
		if (!strcmp(step, "spike") && !parse_ll(b, 0, INT_MAX, &v))
			fail("spike: bad milliseconds '%s'", b);
		if (!strcmp(step, "sleep") && !parse_ll(a, 0, INT_MAX, &v))
			fail("sleep: bad milliseconds '%s'", a);
		if (!strcmp(step, "exit") && !parse_ll(a, 0, 255, &v))
			fail("exit: bad status '%s' (0 to 255)", a);
		if ((!strcmp(step, "kill") || !strcmp(step, "onsig")) && parse_signal(a) < 0)
			fail("bad signal '%s'", a);
		if (!strcmp(step, "onsig") &&
		    (!parse_ll(b, 0, 255, &v) || parse_signal(a) == SIGKILL ||
		     parse_signal(a) == SIGSTOP || parse_signal(a) == SIGUSR1))
			fail("onsig: bad signal or status in 'onsig %s ...'", a);
		if (!strcmp(step, "churn") && !parse_churn(a, &v, &secs))
			fail("churn: bad count '%s' (rounds, or seconds with an s)", a);
		if (!strcmp(step, "ready") && !parse_ll(a, 0, INT_MAX, &v))
			fail("ready: bad file descriptor '%s'", a);
		if ((!strcmp(step, "children") || !strcmp(step, "threads") ||
		     !strcmp(step, "bgthreads")) &&
		    !parse_ll(a, 0, 100000, &v))
			fail("%s: bad count", step);
		if ((!strcmp(step, "threads") || !strcmp(step, "bgthreads")) && !parse_size(b, &sz))
			fail("threads: bad size '%s'", b);
		if (!strcmp(step, "threads") && !parse_ll(argv[i + 3], 0, INT_MAX, &v))
			fail("threads: bad milliseconds '%s'", argv[i + 3]);
		if ((!strcmp(step, "shared") || !strcmp(step, "shm")) &&
		    !parse_size(!strcmp(step, "shm") ? b : a, &sz))
			fail("%s: bad size (bytes, or a number with K, M or G)", step);
		if (!strcmp(step, "shm") && a[0] != '/')
			fail("shm: the name '%s' must start with /", a);
		const char *sub = NULL; /* the steps a child runs */
		if (!strcmp(step, "child") || !strcmp(step, "orphan") || !strcmp(step, "daemon") ||
		    !strcmp(step, "cow"))
			sub = a;
		else if (!strcmp(step, "children") || !strcmp(step, "spawn"))
			sub = b;
		if (sub) {
			int n;
			char **words = split_steps(sub, &n);
			check_steps(words, n);
			free_words(words, n);
		}
		i += nargs;
	}
}

static void sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *map_touched(size_t len)
{
	if (!len)
		return NULL;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail_os("mmap");
	for (size_t off = 0; off < len; off += (size_t)page_size)
		((volatile char *)p)[off] = 1;
	return p;
}

/* Keeps a shared mapping (shared, shm) until the process exits. */
static void hold_shared(void *p, size_t len)
{
	if (n_shared == alloc_shared) {
		alloc_shared = alloc_shared ? 2 * alloc_shared : 16;
		struct region *ns = realloc(shared, alloc_shared * sizeof(*shared));
		if (!ns)
			fail_os("realloc");
		shared = ns;
	}
	shared[n_shared++] = (struct region){p, len};
}

static void *map_shared(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0),
		       fd, 0);
	if (p == MAP_FAILED)
		fail_os("mmap");
	for (size_t off = 0; off < len; off += (size_t)page_size)
		((volatile char *)p)[off] = 1;
	hold_shared(p, len);
	return p;
}

static void do_shm(const char *name, size_t len)
{
	int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		fail_os("shm_open");
	struct stat st;
	if (fstat(fd, &st) < 0)
		fail_os("fstat");
	if ((size_t)st.st_size < len && ftruncate(fd, (off_t)len) < 0)
		fail_os("ftruncate");
	map_shared(fd, len);
	close(fd);
}

static void touch_shared(void)
{
	for (size_t i = 0; i < n_shared; i++)
		for (size_t off = 0; off < shared[i].len; off += (size_t)page_size)
			sink += ((volatile char *)shared[i].addr)[off];
}

/* The high-water mark of this program's own memory, VmHWM, KiB; -1 if unreadable. */
static long own_hwm(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static void release_held(void)
{
	for (size_t i = 0; i < n_held; i++)
		munmap(held[i].addr, held[i].len);
	n_held = 0;
}

static void do_alloc(size_t len)
{
	if (n_held == alloc_held) {
		alloc_held = alloc_held ? 2 * alloc_held : 16;
		struct region *nh = realloc(held, alloc_held * sizeof(*held));
		if (!nh)
			fail_os("realloc");
		held = nh;
	}
	void *p = map_touched(len);
	if (p)
		held[n_held++] = (struct region){p, len};
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void churn_round(void)
{
	size_t len = 1 << 20;
	uint64_t *p = malloc(len);
	if (!p)
		fail_os("malloc");
	size_t n = len / sizeof(*p);
	for (size_t i = 0; i < n; i++)
		p[i] = i * 2654435761u;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	sink += h;
	free(p);
}

static void do_churn(const char *arg)
{
	long long n;
	bool secs;
	parse_churn(arg, &n, &secs);
	if (!secs) {
		for (long long i = 0; i < n; i++)
			churn_round();
		return;
	}
	double end = now_secs() + (double)n;
	while (now_secs() < end)
		churn_round();
}

static void do_pidfile(const char *path)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 5);
	if (!tmp)
		fail_os("malloc");
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".tmp", 5);
	FILE *f = fopen(tmp, "w");
	if (!f)
		fail_os(tmp);
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		fail_os(tmp);
	if (rename(tmp, path) < 0)
		fail_os(path);
	free(tmp);
}

static int exit_status_on[65];

static void on_signal(int sig)
{
	_exit(exit_status_on[sig]);
}

static void run_steps(char **argv, int argc);

static void run_in_child(const char *steps, bool keep)
{
	if (!keep)
		release_held();
	int n;
	char **words = split_steps(steps, &n);
	run_steps(words, n);
	fflush(NULL);
	_exit(0);
}

static void do_child(const char *steps, bool orphan, bool daemon, bool keep)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail_os("fork");
	if (pid == 0) {
		if (!orphan)
			run_in_child(steps, keep);
		if (daemon && setsid() < 0)
			fail_os("setsid");
		pid_t grandchild = fork();
		if (grandchild < 0)
			fail_os("fork");
		if (grandchild == 0)
			run_in_child(steps, keep);
		_exit(0);
	}
	if (orphan)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* Forks n children one after another, each running steps, each waited for. */
static void do_children(long long n, const char *steps)
{
	for (long long k = 0; k < n; k++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			fail_os("fork");
		if (pid == 0)
			run_in_child(steps, false);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

struct thread_work {
	size_t len;
	long long ms; /* < 0: hold forever */
};

static void *thread_main(void *arg)
{
	const struct thread_work *w = arg;
	void *p = map_touched(w->len);
	if (w->ms < 0)
		for (;;)
			pause();
	sleep_ms(w->ms);
	if (p)
		munmap(p, w->len);
	return NULL;
}

/* Starts n threads that each touch len; joins them unless they hold it forever (ms < 0). */
static void do_threads(long long n, size_t len, long long ms)
{
	/* the threads' for as long as they run: kept (held forever by bgthreads) */
	struct thread_work *w = malloc(sizeof(*w));
	pthread_t *t = calloc((size_t)n + 1, sizeof(*t));
	if (!t || !w)
		fail_os("calloc");
	*w = (struct thread_work){len, ms};
	for (long long k = 0; k < n; k++) {
		int e = pthread_create(&t[k], NULL, thread_main, w);
		if (e) {
			errno = e;
			fail_os("pthread_create");
		}
	}
	if (ms >= 0) {
		for (long long k = 0; k < n; k++)
			pthread_join(t[k], NULL);
		free(w);
	}
	free(t);
}

/* posix_spawn memwork STEPS, its stdin FIFO unless fifo is "-". */
static void do_spawn(const char *fifo, const char *steps)
{
	int n;
	char **words = split_steps(steps, &n);
	char **args = malloc(((size_t)n + 2) * sizeof(*args));
	if (!args)
		fail_os("malloc");
	args[0] = "memwork";
	for (int i = 0; i < n; i++)
		args[i + 1] = words[i];
	args[n + 1] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (strcmp(fifo, "-"))
		posix_spawn_file_actions_addopen(&fa, 0, fifo, O_RDONLY, 0);
	fflush(NULL);
	extern char **environ;
	pid_t pid;
	int e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
	if (e) {
		errno = e;
		fail_os("posix_spawn");
	}
	posix_spawn_file_actions_destroy(&fa);
	free(args);
	free_words(words, n);
}

static void run_steps(char **argv, int argc)
{
	for (int i = 0; i < argc; i++) {
		const char *step = argv[i];
		const char *a = i + 1 < argc ? argv[i + 1] : NULL;
		const char *b = i + 2 < argc ? argv[i + 2] : NULL;
		long long v = 0;
		size_t sz = 0;
		if (!strcmp(step, "alloc")) {
			parse_size(a, &sz);
			do_alloc(sz);
		} else if (!strcmp(step, "free")) {
			release_held();
		} else if (!strcmp(step, "spike")) {
			parse_size(a, &sz);
			parse_ll(b, 0, INT_MAX, &v);
			void *p = map_touched(sz);
			sleep_ms(v);
			if (p)
				munmap(p, sz);
		} else if (!strcmp(step, "sleep")) {
			parse_ll(a, 0, INT_MAX, &v);
			sleep_ms(v);
		} else if (!strcmp(step, "child") || !strcmp(step, "orphan") ||
			   !strcmp(step, "daemon")) {
			do_child(a, strcmp(step, "child") != 0, !strcmp(step, "daemon"), false);
		} else if (!strcmp(step, "cow")) {
			do_child(a, false, false, true);
		} else if (!strcmp(step, "children")) {
			parse_ll(a, 0, 100000, &v);
			do_children(v, b);
		} else if (!strcmp(step, "threads") || !strcmp(step, "bgthreads")) {
			parse_ll(a, 0, 100000, &v);
			parse_size(b, &sz);
			long long ms = -1;
			if (!strcmp(step, "threads"))
				parse_ll(argv[i + 3], 0, INT_MAX, &ms);
			do_threads(v, sz, ms);
		} else if (!strcmp(step, "pidrss")) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			printf("pidrss %ld %ld\n", (long)getpid(), ru.ru_maxrss);
			fflush(stdout);
		} else if (!strcmp(step, "spawn")) {
			do_spawn(a, b);
		} else if (!strcmp(step, "shared")) {
			parse_size(a, &sz);
			if (sz)
				map_shared(-1, sz);
		} else if (!strcmp(step, "shm")) {
			parse_size(b, &sz);
			do_shm(a, sz);
		} else if (!strcmp(step, "touch")) {
			touch_shared();
		} else if (!strcmp(step, "hwm")) {
			printf("hwm %ld\n", own_hwm());
			fflush(stdout);
		} else if (!strcmp(step, "wait")) {
			while (wait(NULL) >= 0 || errno == EINTR)
				;
		} else if (!strcmp(step, "exit")) {
			parse_ll(a, 0, 255, &v);
			fflush(NULL);
			exit((int)v);
		} else if (!strcmp(step, "kill")) {
			struct rlimit nocore = {0, 0};
			setrlimit(RLIMIT_CORE, &nocore);
			int sig = parse_signal(a);
			fflush(NULL);
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, sig);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			signal(sig, SIG_DFL);
			raise(sig);
			fprintf(stderr, "memwork: still alive after signal %d\n", sig);
			exit(1);
		} else if (!strcmp(step, "onsig")) {
			int sig = parse_signal(a);
			parse_ll(b, 0, 255, &v);
			exit_status_on[sig] = (int)v;
			struct sigaction sa = {.sa_handler = on_signal};
			sigemptyset(&sa.sa_mask);
			sigaction(sig, &sa, NULL);
		} else if (!strcmp(step, "maxrss")) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			printf("maxrss %ld\n", ru.ru_maxrss);
			fflush(stdout);
		} else if (!strcmp(step, "churn")) {
			do_churn(a);
		} else if (!strcmp(step, "say")) {
			printf("%s\n", a);
			fflush(stdout);
		} else if (!strcmp(step, "pidfile")) {
			do_pidfile(a);
		} else if (!strcmp(step, "waitsig")) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGUSR1);
			while (sigwaitinfo(&set, NULL) < 0)
				;
		} else if (!strcmp(step, "ready")) {
			parse_ll(a, 0, INT_MAX, &v);
			if (write((int)v, "r", 1) != 1)
				fail_os("ready");
		} else if (!strcmp(step, "hang")) {
			for (;;)
				pause();
		}
		i += step_nargs(step);
	}
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	if (page_size <= 0)
		page_size = 4096;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: memwork STEP... (see the top of tests/workload/memwork.c)\n");
		return 0;
	}
	check_steps(argv + 1, argc - 1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	run_steps(argv + 1, argc - 1);
	fflush(NULL);
	return 0;
}
