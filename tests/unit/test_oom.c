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
#include <unistd.h>

#include <cmocka.h>

#include "record/oom.h"
#include "record/procfs.h"

struct tree {
	char dir[64];
	struct procfs fs;
	struct oom_watch w;
};

/* Copies fixture tree name to a temporary directory and opens its proc/ with procfs. */
static struct tree *tree_open(const char *name)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/memline-test-oom-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	const char *fixtures = getenv("MEMLINE_FIXTURES");
	struct strbuf cmd = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&cmd, "cp -R '%s/trees/%s/.' '%s'", fixtures ? fixtures : "tests/fixtures",
		    name, t->dir);
	assert_int_equal(system(cmd.buf), 0);
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "%s/proc", t->dir);
	assert_int_equal(procfs_init(&t->fs, cmd.buf, &err), 0);
	oom_watch_init(&t->w, &t->fs);
	strbuf_release(&cmd);
	strbuf_release(&err);
	return t;
}

static void tree_close(struct tree *t)
{
	oom_watch_release(&t->w);
	procfs_release(&t->fs);
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd.buf), 0);
	strbuf_release(&cmd);
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
		cmocka_unit_test(test_comm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
