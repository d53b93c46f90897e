/*
 * own_malloc: a program whose executable brings its own malloc, free, calloc and realloc (as
 * one that links an allocator statically), for test_heap_shim.py: the heap library's malloc
 * does not win over it, which its file must say (HEAP_F_NOT_INTERPOSED), and only the
 * program's anonymous mmaps are counted. Its allocator: a bump allocator in a static arena.
 * Prints "own malloc PID" and exits 0.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char arena[1 << 24] __attribute__((aligned(16)));
static size_t used;

void *malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > sizeof arena - 16 - used)
		return NULL;
	char *p = arena + used + 16;
	*(size_t *)(p - 16) = n;
	used += n + 16;
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		return NULL;
	return malloc(n * size); /* the arena is zero and never reused */
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);
	if (q && p) {
		size_t old = *(size_t *)((char *)p - 16);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

int main(void)
{
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	m[0] = 1;
	char *s = strdup("own malloc");
	printf("%s %d\n", s, (int)getpid());
	return 0;
}
