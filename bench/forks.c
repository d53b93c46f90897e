/*
 * forks: the fork loop of the kernel-events benchmark. It forks N children one after another;
 * each touches 1 MiB and computes for US microseconds of its own CPU time, then exits; the
 * parent waits for each before the next. With US 400 that is about a thousand processes a
 * second on a small VM: the rate at which --trace and the event sources are measured.
 *
 *   forks N US
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_prog = "forks";

static volatile uint64_t sink;

static double cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void child(long us)
{
	size_t len = 1 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die_os("mmap");
	memset(p, 1, len);
	double end = cpu_us() + (double)us;
	uint64_t h = 1469598103934665603ULL;
	while (cpu_us() < end)
		for (size_t i = 0; i < len; i += 4096)
			h = (h ^ (uint64_t)p[i]) * 1099511628211ULL;
	sink = h;
	_exit(0);
}

int main(int argc, char **argv)
{
	long n, us;
	if (argc != 3 || !parse_long(argv[1], 1, 10000000, &n) ||
	    !parse_long(argv[2], 0, 1000000, &us)) {
		fprintf(stderr, "usage: forks N US\n");
		return 64;
	}
	for (long k = 0; k < n; k++) {
		pid_t pid = fork();
		if (pid < 0)
			die_os("fork");
		if (pid == 0)
			child(us);
		int status;
		if (waitpid(pid, &status, 0) < 0)
			die_os("waitpid");
	}
	return 0;
}
