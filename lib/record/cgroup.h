/*
 * cgroup: the job's memory cgroup. memline run makes one for the command where it can (a child
 * of memline's own memory cgroup, or beside it), places the command in it before its exec, and
 * reads its charge, its peak since the previous sample and memory.stat's split at every sample:
 * every page of the job counted once, a process that lived a millisecond included. --cgroup PATH
 * takes an existing cgroup instead (never removed). Everything is found through memline's mount
 * table and /proc/self/cgroup, and every file is opened relative to procfs's system root, so
 * fixture trees stand in for the kernel in the unit tests. See docs/recorder.md for where a
 * cgroup is made and how it ends, docs/sampler.md for what reading it costs.
 */
#ifndef MEMLINE_CGROUP_H
#define MEMLINE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "util/strbuf.h"

/* Where the memory controller's hierarchies are mounted, from /proc/self/mountinfo. */
struct cgroup_mounts {
	char *v1, *v1_root; /* the v1 memory controller: mount point, and the cgroup it shows */
	char *v2, *v2_root; /* cgroup2 (unified): the same; NULL when not mounted */
};

/* Fills m from mountinfo text (the first mount of each kind); m must be zeroed. */
void cgroup_mounts_parse(const char *buf, size_t len, struct cgroup_mounts *m);
/* Fills m from fs's self/mountinfo; m is zeroed first. */
void cgroup_mounts_read(struct cgroup_mounts *m, const struct procfs *fs);
void cgroup_mounts_release(struct cgroup_mounts *m);
/*
 * Appends to out the directory (absolute in the system's tree) of path, a cgroup as
 * /proc/PID/cgroup names it, of hierarchy version (1 or 2). False when that hierarchy is not
 * mounted, or path is not below what its mount shows.
 */
bool cgroup_mounts_dir(const struct cgroup_mounts *m, int version, const char *path,
		       struct strbuf *out);
/*
 * Appends to mnt where the cgroup v1 hierarchy that has controller ("freezer", "cpuset", ...)
 * is mounted, from mountinfo text (the first such mount). False when none is.
 */
bool cgroup_mounts_find_v1(const char *buf, size_t len, const char *controller, struct strbuf *mnt);

/* How job_peak covers an interval (the header's memory.cgroup.peak). */
enum cgroup_peak_mode {
	CGROUP_PEAK_FD,	      /* v2 memory.peak reset through memline's own descriptor (6.12+) */
	CGROUP_PEAK_RESET,    /* v1 memory.max_usage_in_bytes reset by writing 0 */
	CGROUP_PEAK_LIFETIME, /* a peak that cannot be reset: exact only when it rises */
	CGROUP_PEAK_NONE,     /* no peak file (v2 before 5.19): the charge at the samples */
};
extern const char *const cgroup_peak_names[4]; /* "fd", "reset", "lifetime", "none" */

/* Where the job's cgroup is, relative to memline's own (home). */
enum cgroup_place {
	CGROUP_CHILD,	 /* a child of memline's cgroup */
	CGROUP_PAIR,	 /* a child of memline's cgroup, memline moved into a leaf beside it */
	CGROUP_SIBLING,	 /* a child of the parent of memline's cgroup */
	CGROUP_EXISTING, /* --cgroup PATH: not memline's */
};

/* The job's memory as its cgroup says, KiB; -1 unknown. */
struct cgroup_values {
	long long current, peak;
	long long anon, file, shmem, kernel, sock, swap; /* memory.stat's split, as last read */
};

struct cgroup {
	const struct procfs *fs;
	int version; /* 1 or 2; 0 while it is none */
	char *path;  /* in its hierarchy, as /proc/PID/cgroup names it */
	char *dir;   /* its directory in the system's tree */
	bool own;    /* memline made it: it is removed at the end */
	enum cgroup_place place;
	char *home;	 /* own: the directory of memline's cgroup, where survivors are moved */
	char *self_dir;	 /* CGROUP_PAIR: the leaf memline moved itself into */
	bool enabled;	 /* CGROUP_PAIR: memline wrote +memory into home's subtree_control */
	int dir_fd;	 /* the directory; locked (flock) while memline uses a cgroup it made */
	int procs_fd;	 /* cgroup.procs, for writing: placing the command */
	int procs_errno; /* why procs_fd could not be opened */
	/* the counters, kept open and read with pread */
	int current_fd, peak_fd[2], stat_fd, swap_fd, kmem_fd;
	enum cgroup_peak_mode peak;
	int turn;		/* CGROUP_PEAK_FD: which of peak_fd is read next */
	bool started;		/* cgroup_start ran */
	long long last_current; /* bytes at the previous read; -1 none */
	long long last_peak;	/* CGROUP_PEAK_LIFETIME: the peak read last; -1 none */
	double stat_t;		/* when memory.stat was read last; < 0 never */
	long long stat_current; /* the charge then, bytes */
	struct cgroup_values split;
	struct strbuf scratch;
};

/* An empty cgroup (none): every fd -1. */
void cgroup_init(struct cgroup *cg);
/* Closes its files and frees what it holds; removes nothing (cgroup_remove does). */
void cgroup_release(struct cgroup *cg);

/* A place a cgroup for the job may be made (cgroup_sites). */
struct cgroup_site {
	enum cgroup_place place;
	int version;
	char *parent; /* the directory to make it in */
	char *home;   /* memline's cgroup's directory */
	char *path;   /* the hierarchy path of parent */
};
struct cgroup_sites {
	struct cgroup_site site[3];
	size_t n;
};

/*
 * Where a cgroup for the job could be made for memline, process self, best first, from the
 * mounts, self/cgroup and the cgroup files (docs/recorder.md: cgroup v1, a child of memline's
 * memory cgroup; v2, a child of memline's cgroup when its children may have the memory
 * controller, a pair of leaves in it when memline is alone in it, or a sibling when memline's
 * cgroup has no limit a sibling would escape). None: why in why. Reads only.
 */
void cgroup_sites(const struct procfs *fs, pid_t self, struct cgroup_sites *out,
		  struct strbuf *why);
void cgroup_sites_release(struct cgroup_sites *s);

/*
 * Makes a cgroup for the job of memline, process self (whose start time names it with its pid:
 * memline-PID-START), trying cgroup_sites in order, after removing the empty cgroups that killed
 * memlines of this user left where it makes it. Returns 0, or -1 with why none could be had in
 * why: not an error of the recording, which goes on without one.
 */
int cgroup_create(struct cgroup *cg, const struct procfs *fs, pid_t self, struct strbuf *why);
/*
 * Takes the existing memory cgroup path (--cgroup): its directory (/sys/fs/cgroup/...) or its
 * path in the memory hierarchy (/system.slice/x.service). Returns 0, or -1 with a message in err
 * and *missing set when there is no such cgroup (else it is not a memory cgroup memline can read).
 */
int cgroup_open(struct cgroup *cg, const struct procfs *fs, const char *path, bool *missing,
		struct strbuf *err);
/*
 * Opens its counters and starts the first interval (resets the peak where memline may: always
 * through its own descriptor on v2, on v1 only in a cgroup it made). Again: nothing.
 */
void cgroup_start(struct cgroup *cg);
/* Its values at t (seconds): the charge and its peak since the previous call, the split. */
void cgroup_read(struct cgroup *cg, double t, struct cgroup_values *v);
/* Moves process pid (0: the caller) into it. -1 with errno when the kernel refuses. */
int cgroup_place_pid(const struct cgroup *cg, pid_t pid);
/*
 * Calls fn for every process in it and in the cgroups below it. Returns how many, or -1 when
 * its cgroup.procs cannot be read.
 */
long cgroup_for_each_pid(const struct cgroup *cg, void (*fn)(pid_t pid, void *data), void *data);
/*
 * The same for the cgroup directory dir (absolute in the system's tree) of any controller, one
 * memline does not read the memory of (a Slurm job's freezer cgroup). -1 when it cannot be
 * opened or its cgroup.procs read.
 */
long cgroup_dir_for_each_pid(const struct procfs *fs, const char *dir,
			     void (*fn)(pid_t pid, void *data), void *data);
/*
 * The end of a cgroup memline made: the processes still in it (they outlived the recording and
 * run on) are moved to memline's cgroup, and it is removed, with everything memline did to make
 * it undone (a pair's leaf and +memory). Returns how many processes are left in it, in which
 * case it stays, and why in msg (removed by a later memline once empty). Nothing for one that is
 * not memline's.
 */
long cgroup_remove(struct cgroup *cg, struct strbuf *msg);
/*
 * Removes, in the directory dir, the cgroups killed memlines of this user left (memline-PID-START
 * whose process is gone, unlocked and empty). Returns how many.
 */
size_t cgroup_clean(const struct procfs *fs, const char *dir);

#endif
