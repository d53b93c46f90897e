/*
 * test_oom: OOM-kill detection (lib/record/oom.c) and the reads of procfs it goes through, on the
 * fixture trees under $MEMLINE_FIXTURES/trees: cgroup-v2 (a unified hierarchy at
 * /sys/fs/cgroup, memory.events.local and, for an older kernel, memory.events) and cgroup-v1
 * (a hybrid system, the memory controller at /sys/fs/cgroup/memory, memory.oom_control).
 * Each test copies its tree to a temporary directory and raises counters there: the kernel's
 * oom_kill of a cgroup, or /proc/vmstat's. The tree's proc/ is the procfs root; its parent, the
 * tree itself, is the system root the cgroup mounts of proc/self/mountinfo are read under.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/oom.h"
#include "record/procfs.h"
#include "tree-fixture.h"

struct tree {
	char dir[64];
	char proc_cgroup[160]; /* proc/100/cgroup in the tree */
	char other_dir[160];   /* the v1 cgroup /other in the tree */
	struct procfs fs;
	struct oom_watch w;
};

/* Copies fixture tree name to a temporary directory and opens its proc/ with procfs. */
static struct tree *tree_open(const char *name)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	tree_fixture_open(t->dir, sizeof(t->dir), "oom", name, &t->fs);
	oom_watch_init(&t->w, &t->fs);
	snprintf(t->proc_cgroup, sizeof(t->proc_cgroup), "%s/proc/100/cgroup", t->dir);
	snprintf(t->other_dir, sizeof(t->other_dir), "%s/sys/fs/cgroup/memory/other", t->dir);
	return t;
}

static void tree_close(struct tree *t)
{
	oom_watch_release(&t->w);
	tree_fixture_close(t->dir, &t->fs);
	free(t);
}

/* Writes text to the tree's file rel, in place (as the kernel's files change). */
static void put(const struct tree *t, const char *rel, const char *text)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", t->dir, rel);
	FILE *f = fopen(path.buf, "w");
	if (!f)
		fail_msg("cannot write %s", path.buf);
	fputs(text, f);
	fclose(f);
	strbuf_release(&path);
}

#define V2_JOB "sys/fs/cgroup/job.slice/run-1.scope/"

/* cgroup2: the mount comes from mountinfo, the counters from the tree, not from this machine. */
static void test_v2(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2");
	assert_string_equal(t->w.mounts.v2, "/sys/fs/cgroup");
	assert_null(t->w.mounts.v1);
	assert_int_equal(t->w.vmstat, 7);

	/* 100 dies of SIGKILL and its cgroup's own count (memory.events.local) rose: OOM. */
	oom_watch_add(&t->w, 100);
	put(t, V2_JOB "memory.events.local", "oom 2\noom_kill 1\n");
	assert_true(oom_watch_killed(&t->w, 100));

	/*
	 * 200's cgroup has no memory.events.local (an older kernel): memory.events says no kill,
	 * and that decides, though /proc/vmstat rose (a kill elsewhere on the machine).
	 */
	oom_watch_add(&t->w, 200);
	put(t, "proc/vmstat", "oom_kill 8\n");
	assert_false(oom_watch_killed(&t->w, 200));
	oom_watch_add(&t->w, 200);
	put(t, "sys/fs/cgroup/other.slice/memory.events", "oom 1\noom_kill 1\n");
	assert_true(oom_watch_killed(&t->w, 200));

	/* 300 has no cgroup file to read: only /proc/vmstat can tell. */
	oom_watch_add(&t->w, 300);
	assert_false(oom_watch_killed(&t->w, 300));
	put(t, "proc/vmstat", "oom_kill 9\n");
	assert_true(oom_watch_killed(&t->w, 300));
	tree_close(t);
}

#define V1_JOB "sys/fs/cgroup/memory/job/42/memory.oom_control"

/* cgroup v1 (hybrid): the memory controller's mount and memory.oom_control. */
static void test_v1(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v1");
	assert_string_equal(t->w.mounts.v1, "/sys/fs/cgroup/memory");
	assert_string_equal(t->w.mounts.v2, "/sys/fs/cgroup/unified");

	oom_watch_add(&t->w, 100);
	/* At its death a v1 task shows "/" as its cgroup: its last known cgroup decides. */
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n");
	assert_false(oom_watch_killed(&t->w, 100));

	put(t, "proc/100/cgroup", "4:memory:/job/42\n0::/\n");
	oom_watch_add(&t->w, 100);
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n");
	put(t, V1_JOB, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	assert_true(oom_watch_killed(&t->w, 100));
	tree_close(t);
}

/*
 * The false oom-killed of cgroup v1: a process of the tree vanishes (reaped by its own parent)
 * or dies of SIGKILL while the OOM killer kills something in another cgroup. Its cgroup's
 * counter was read and did not rise: /proc/vmstat's rise is the other cgroup's kill.
 */
static void test_v1_kill_elsewhere(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v1");
	oom_watch_add(&t->w, 100);
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n"); /* dying, or gone: "/" */
	put(t, "proc/vmstat", "oom_kill 4\n");
	assert_false(oom_watch_killed(&t->w, 100));
	/* Gone altogether: the same. */
	put(t, "proc/100/cgroup", "4:memory:/job/42\n0::/\n");
	oom_watch_add(&t->w, 100);
	assert_int_equal(unlink(t->proc_cgroup), 0);
	put(t, "proc/vmstat", "oom_kill 5\n");
	assert_false(oom_watch_killed(&t->w, 100));
	/* No counter of its cgroup can be read: only then does /proc/vmstat decide. */
	put(t, "proc/100/cgroup", "4:memory:/job/43\n0::/\n");
	oom_watch_add(&t->w, 100);
	put(t, "proc/vmstat", "oom_kill 6\n");
	assert_true(oom_watch_killed(&t->w, 100));
	tree_close(t);
}

/*
 * With the job's own cgroup (v1, /job), its counter decides for every process in it, whatever
 * /proc/vmstat says. v1 counts a kill only in the victim's own cgroup: one in a cgroup below
 * the job's (/job/42), or one that moved itself out (seen elsewhere at its exec), is decided by
 * the cgroup it was seen in.
 */
static void test_v1_job(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v1");
	oom_watch_job(&t->w, "/job", 1);
	put(t, "proc/100/cgroup", "4:memory:/job\n0::/\n");
	oom_watch_add(&t->w, 100);
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n");
	put(t, "proc/vmstat", "oom_kill 4\n");
	assert_false(oom_watch_killed(&t->w, 100)); /* the job's own counter did not rise */
	put(t, "sys/fs/cgroup/memory/job/memory.oom_control", "under_oom 0\noom_kill 1\n");
	oom_watch_add(&t->w, 100);
	assert_true(oom_watch_killed(&t->w, 100));

	put(t, "proc/100/cgroup", "4:memory:/job/42\n0::/\n");
	oom_watch_add(&t->w, 100); /* in /job/42, below the job's */
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n");
	assert_false(oom_watch_killed(&t->w, 100));
	put(t, "proc/100/cgroup", "4:memory:/job/42\n0::/\n");
	oom_watch_add(&t->w, 100);
	put(t, V1_JOB, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"); /* only there */
	assert_true(oom_watch_killed(&t->w, 100));

	assert_int_equal(mkdir(t->other_dir, 0755), 0);
	put(t, "sys/fs/cgroup/memory/other/memory.oom_control", "oom_kill 0\n");
	put(t, "proc/100/cgroup", "4:memory:/other\n0::/\n");
	oom_watch_add(&t->w, 100);
	put(t, "proc/100/cgroup", "4:memory:/\n0::/\n");
	put(t, "sys/fs/cgroup/memory/other/memory.oom_control", "oom_kill 1\n");
	assert_true(oom_watch_killed(&t->w, 100));
	oom_watch_job(&t->w, NULL, 0);
	assert_int_equal(t->w.job, -1);
	tree_close(t);
}

/* procfs_comm: a process's short name and the caller's, from the tree or from /proc. */
static void test_comm(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2");
	char name[64];
	assert_true(procfs_comm(&t->fs, 100, name, sizeof(name)));
	assert_string_equal(name, "train.py");
	assert_true(procfs_comm(&t->fs, 0, name, sizeof(name)));
	assert_string_equal(name, "host-program");
	assert_false(procfs_comm(&t->fs, 200, name, sizeof(name)));
	char small[5];
	assert_true(procfs_comm(&t->fs, 100, small, sizeof(small)));
	assert_string_equal(small, "trai");
	tree_close(t);
	/* Without a procfs: the real /proc. */
	assert_true(procfs_comm(NULL, 0, name, sizeof(name)));
	assert_string_equal(name, "test_oom");
	assert_true(procfs_comm(NULL, getpid(), name, sizeof(name)));
	assert_string_equal(name, "test_oom");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_v1_kill_elsewhere),
		cmocka_unit_test(test_v1_job),
		cmocka_unit_test(test_comm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
