/*
 * threads: the threads of a run's processes, as readers see them (format 3: "thread" records
 * and the samples' "th" rows; docs/log-format.md), with each thread's CPU time and, under
 * --heap, its live heap over time: its latest numbers, its highest live heap and when, and
 * its timeline (one point a row). A process that never had more than one thread and no heap
 * counters has no thread here: its one thread is the process (run_proc), which readers show
 * as its main thread.
 *
 * Heap numbers are bytes (the log's), CPU ms, times seconds since the start; -1 unknown.
 */
#ifndef MEMLINE_MODEL_THREADS_H
#define MEMLINE_MODEL_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log/reader.h"
#include "log/record.h"

/* One row of a thread, as its timeline keeps it: every number the row held. */
struct run_th_point {
	double t;
	long long heap;		 /* bytes; -1 unknown */
	long long heap_peak;	 /* its highest since the previous point, bytes; -1 */
	long long cpu;		 /* utime + stime, ms; -1 */
	long long utime, stime;	 /* ms; -1 */
	long long alloc, freed;	 /* cumulative bytes; -1 */
	long long nalloc, nfree; /* cumulative calls; -1 */
	long long mmap;		 /* bytes of heap in anonymous mappings; -1 */
};

struct run_th {
	int proc;		  /* index into run->procs */
	pid_t tid;		  /* -1: the threads past the heap library's slots, together */
	char name[64];		  /* newest name ("" unknown), as recorded: escape it to show it */
	double first_t;		  /* its first thread record or row */
	double end_t;		  /* its end record; -1 none (it ran to its process's end) */
	long long utime;	  /* latest, ms; -1 unknown */
	long long stime;	  /* latest, ms; -1 unknown */
	long long heap;		  /* latest live heap, bytes; -1 unknown (no heap counters) */
	long long heap_peak;	  /* its highest live heap, bytes; -1 unknown */
	double heap_peak_t;	  /* the row that showed it */
	long long alloc;	  /* latest cumulative bytes allocated; -1 */
	long long freed;	  /* latest cumulative bytes of its blocks freed; -1 */
	long long nalloc;	  /* latest allocations; -1 */
	long long nfree;	  /* latest frees of its blocks; -1 */
	long long mmap;		  /* latest of its live heap in anonymous mappings, bytes; -1 */
	struct run_th_point *pts; /* its rows, in time order */
	size_t n_pts, alloc_pts;
};

struct run_threads {
	struct run_th *v; /* in the order they were first seen */
	size_t n, alloc;
	/* private: (process, tid) -> index of the newest thread, open addressing */
	long *slots;
	size_t cap, used;
};

struct run;

void run_threads_init(struct run_threads *th);
void run_threads_release(struct run_threads *th);
/* A thread record: a thread appeared, was renamed or ended. -1 only when out of memory. */
int run_threads_add_record(struct run *run, const struct thread_record *rec);
/* A sample's thread rows (sample->threads). -1 only when out of memory. */
int run_threads_add_rows(struct run *run, const struct sample_record *sample);
/* The newest thread tid of process proc, or -1. */
long run_threads_find(const struct run_threads *th, int proc, pid_t tid);
/*
 * The threads of process proc, indexes into th->v, the largest heap peak first (then the most
 * CPU time), into a new array (the caller frees it; NULL with *n 0 when none or out of memory).
 */
size_t *run_threads_of(const struct run_threads *th, int proc, size_t *n);
/*
 * The threads of every process at once, in one pass over them (run_threads_of, called for each
 * process, walks every thread each time: quadratic for a log of many processes). order holds
 * indexes into th->v grouped by process, each group in run_threads_of's order; process p's are
 * order[first[p]] .. order[first[p + 1] - 1] (first has n_procs + 1 entries).
 */
struct run_th_index {
	size_t *order;
	size_t *first;
};
/* Builds ix (0), or -1 when out of memory (ix is then empty). Release it in any case. */
int run_th_index_build(struct run_th_index *ix, const struct run_threads *th, size_t n_procs);
void run_th_index_release(struct run_th_index *ix);
/* How many of a thread's points are at or before time at (its first n). O(log n). */
size_t run_th_points_upto(const struct run_th *t, double at);
/* A thread's live heap at time t: that of its last row at or before t; -1 unknown. */
long long run_th_heap_at(const struct run_th *t, double at);

#endif
