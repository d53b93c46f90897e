/*
 * bench.h: what the benchmark's own programs (floor.c, tree.c) share: dying on a failed system
 * call, and parsing their numeric arguments. Each is a program of its own, compiled by
 * bench/run; nothing here is memline's.
 */
#ifndef MEMLINE_BENCH_H
#define MEMLINE_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The program's name in messages; each program defines it. */
extern const char *bench_prog;

static inline void die_os(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", bench_prog, what, strerror(errno));
	exit(1);
}

/* A whole number in [min, max] into *out; false for anything else. */
static inline bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

#endif
