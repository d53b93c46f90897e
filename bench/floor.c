/*
 * floor: the kernel's floor for sampling a process tree, the cost memline's sampler is
 * compared with. It runs a command (bench/tree) that writes a byte to $READY_FD once its
 * processes are up, finds that command's descendants in /proc, opens /proc/PID/stat and
 * /proc/PID/statm of each once, then preads both for every process every interval until the
 * command exits: no parsing, no output, nothing else. It prints its own CPU time for that loop
 * (getrusage RUSAGE_SELF) per process-sample, one line of key=value pairs:
 *
 *   floor [-i MS] -- COMMAND [ARGS...]
 *   procs=500 ticks=499 proc_samples=249500 cpu_us=812345 us_per_proc_sample=3.256
 *
 * With -p ROOT -t SECONDS it runs nothing: it samples the tree that already runs under ROOT
 * (the one memline is recording at the same time, so both see the same machine) for SECONDS.
 *
 *   floor [-i MS] -p ROOT -t SECONDS
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct proc_fds {
	pid_t pid;
	int stat_fd;
	int statm_fd;
};

const char *bench_prog = "floor";

/* The parent pid of pid from /proc/PID/stat, or -1 when it is gone. */
static pid_t read_ppid(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	long ppid;
	char state;
	if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
		return -1;
	return (pid_t)ppid;
}

/* Every process of the tree rooted at root (root included), found by scanning /proc. */
static size_t find_tree(pid_t root, pid_t **out)
{
	size_t n = 0, cap = 64;
	pid_t *pids = malloc(cap * sizeof(*pids)), *ppids = malloc(cap * sizeof(*ppids));
	if (!pids || !ppids)
		die_os("malloc");
	DIR *d = opendir("/proc");
	if (!d)
		die_os("opendir /proc");
	struct dirent *de;
	while ((de = readdir(d))) {
		long pid;
		if (!parse_long(de->d_name, 1, 1L << 30, &pid))
			continue;
		pid_t ppid = read_ppid((pid_t)pid);
		if (ppid < 0)
			continue;
		if (n == cap) {
			cap *= 2;
			pids = realloc(pids, cap * sizeof(*pids));
			ppids = realloc(ppids, cap * sizeof(*ppids));
			if (!pids || !ppids)
				die_os("realloc");
		}
		pids[n] = (pid_t)pid;
		ppids[n++] = ppid;
	}
	closedir(d);

	/* Breadth first from root: tree[0..m) are members, each one's children appended. */
	pid_t *tree = malloc((n + 1) * sizeof(*tree));
	if (!tree)
		die_os("malloc");
	size_t m = 0;
	tree[m++] = root;
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++)
			if (ppids[j] == tree[i] && pids[j] != root)
				tree[m++] = pids[j];
	free(pids);
	free(ppids);
	*out = tree;
	return m;
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_secs(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	long interval_ms = 10;
	int argi = 1;
	if (argi + 1 < argc && !strcmp(argv[argi], "-i")) {
		if (!parse_long(argv[argi + 1], 1, 60000, &interval_ms)) {
			fputs("floor: bad interval\n", stderr);
			return 2;
		}
		argi += 2;
	}
	long root = 0, seconds = 0;
	if (argi + 3 < argc && !strcmp(argv[argi], "-p") && !strcmp(argv[argi + 2], "-t")) {
		if (!parse_long(argv[argi + 1], 1, 1L << 30, &root) ||
		    !parse_long(argv[argi + 3], 1, 3600, &seconds)) {
			fputs("floor: bad -p ROOT or -t SECONDS\n", stderr);
			return 2;
		}
		argi += 4;
	}
	if (argi < argc && !strcmp(argv[argi], "--"))
		argi++;
	if (!root && argi >= argc) {
		fputs("usage: floor [-i MS] -- COMMAND [ARGS...]\n"
		      "       floor [-i MS] -p ROOT -t SECONDS\n",
		      stderr);
		return 2;
	}

	pid_t child = (pid_t)root;
	int pidfd = -1;
	if (!root) {
		int ready[2];
		if (pipe2(ready, O_CLOEXEC))
			die_os("pipe");
		child = fork();
		if (child < 0)
			die_os("fork");
		if (child == 0) {
			char fdstr[16];
			int fd = dup(ready[1]); /* without O_CLOEXEC, so the command inherits it */
			if (fd < 0)
				_exit(127);
			snprintf(fdstr, sizeof(fdstr), "%d", fd);
			setenv("READY_FD", fdstr, 1);
			execvp(argv[argi], argv + argi);
			fprintf(stderr, "floor: cannot run '%s': %s\n", argv[argi],
				strerror(errno));
			_exit(127);
		}
		close(ready[1]);
		char c;
		ssize_t r;
		while ((r = read(ready[0], &c, 1)) < 0 && errno == EINTR)
			;
		close(ready[0]);
		if (r != 1) {
			fputs("floor: the command exited before it was ready\n", stderr);
			return 1;
		}
	}
	/* Without a child of its own, a pidfd of the root still says when the tree ends. */
	pidfd = pidfd_open(child, 0);
	if (pidfd < 0)
		die_os("pidfd_open");

	pid_t *pids;
	size_t n = find_tree(child, &pids);
	struct proc_fds *procs = calloc(n, sizeof(*procs));
	if (!procs)
		die_os("calloc");
	size_t nopen = 0;
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		int sfd = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)pids[i]);
		int mfd = open(path, O_RDONLY | O_CLOEXEC);
		if (sfd < 0 || mfd < 0)
			die_os("open /proc/PID/stat");
		procs[nopen++] = (struct proc_fds){pids[i], sfd, mfd};
	}

	double interval = interval_ms / 1000.0;
	double cpu0 = cpu_secs(), next = now_secs(), stop = next + (double)seconds;
	long ticks = 0, proc_samples = 0;
	char buf[4096];
	for (;;) {
		for (size_t i = 0; i < nopen; i++) {
			ssize_t a = pread(procs[i].stat_fd, buf, sizeof(buf), 0);
			ssize_t b = pread(procs[i].statm_fd, buf, sizeof(buf), 0);
			if (a > 0 && b > 0)
				proc_samples++;
		}
		ticks++;
		next += interval;
		if (root && next >= stop)
			break;
		double wait = next - now_secs();
		struct timespec ts = {0, 0};
		if (wait > 0) {
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		}
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int pr = ppoll(&pfd, 1, &ts, NULL);
		if (pr < 0 && errno != EINTR)
			die_os("ppoll");
		if (pr > 0)
			break;
	}
	double cpu = cpu_secs() - cpu0;

	int status = 0;
	while (!root && waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			die_os("waitpid");
	printf("procs=%zu ticks=%ld proc_samples=%ld cpu_us=%.0f us_per_proc_sample=%.4f\n", nopen,
	       ticks, proc_samples, cpu * 1e6, proc_samples ? cpu * 1e6 / proc_samples : 0.0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
