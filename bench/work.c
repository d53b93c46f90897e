/*
 * work: the workload of the overhead benchmark, deterministic CPU- and memory-bound work in
 * two processes (itself and one child, so both of a small machine's cores are busy and the
 * recorder has to share them). Each process runs ROUNDS rounds of: one million dependent
 * random read-modify-writes in its own 64 MiB table (memory latency bound), then mapping,
 * filling, hashing and unmapping an 8 MiB scratch buffer (page faults and CPU), so its RSS
 * changes all the time. It prints nothing and exits 0 once both are done.
 *
 *   work ROUNDS
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define TABLE_WORDS  (8u << 20) /* 64 MiB of uint64_t */
#define SCRATCH_SIZE (8u << 20)
#define UPDATES	     (1u << 20)

static volatile uint64_t sink;

static void die_os(const char *what)
{
	fprintf(stderr, "work: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die_os("mmap");
	return p;
}

static void run(long rounds, uint64_t seed)
{
	uint64_t *table = map(TABLE_WORDS * sizeof(uint64_t));
	for (size_t i = 0; i < TABLE_WORDS; i++)
		table[i] = i * 0x9e3779b97f4a7c15ULL;
	uint64_t x = seed, h = 1469598103934665603ULL;
	for (long r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < UPDATES; i++) {
			size_t k = (size_t)((x ^ (x >> 29)) & (TABLE_WORDS - 1));
			x = x * 6364136223846793005ULL + 1442695040888963407ULL + table[k];
			table[k] = x;
		}
		uint64_t *s = map(SCRATCH_SIZE);
		size_t n = SCRATCH_SIZE / sizeof(*s);
		for (size_t i = 0; i < n; i++)
			s[i] = i * x;
		for (size_t i = 0; i < n; i++)
			h = (h ^ s[i]) * 1099511628211ULL;
		munmap(s, SCRATCH_SIZE);
	}
	sink = h ^ x;
	munmap(table, TABLE_WORDS * sizeof(uint64_t));
}

int main(int argc, char **argv)
{
	char *end;
	errno = 0;
	long rounds = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || errno || end == argv[1] || *end || rounds < 0) {
		fputs("usage: work ROUNDS\n", stderr);
		return 2;
	}
	pid_t child = fork();
	if (child < 0)
		die_os("fork");
	run(rounds, child == 0 ? 1 : 2);
	if (child == 0)
		_exit(0);
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			die_os("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
