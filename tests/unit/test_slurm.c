/*
 * test_slurm: finding a Slurm job's processes on a node (lib/record/slurm.c) on fixture trees
 * under $MEMLINE_FIXTURES/trees: slurm-v1 (cgroup v1's memory, freezer and cpu,cpuacct
 * hierarchies, as a Slurm built for several slurmd per host makes them: slurm_n1 and slurm_n2
 * on one host, and the plain slurm of a one-slurmd build) and slurm-v2 (Slurm 22.05's
 * system.slice/NODE_slurmstepd.scope, the plain slurmstepd.scope, the older slurm/uid_UID, and
 * a container's, beside init's cgroup). Both have processes whose environments name jobs:
 * 101 (job 77 on n1), 102 (77 on n2), 103 (77, no node), 104 (78 on n1), 105 (777), 106 (no
 * job), 107 (a kernel thread: empty), 108 (gone: no environ), 109 (names that only look like
 * SLURM_JOB_ID, and 770 without its last NUL).
 */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/cgroup.h"
#include "record/procfs.h"
#include "record/slurm.h"
#include "tree-fixture.h"

struct tree {
	char dir[64];
	struct procfs fs;
};

static struct tree *tree_open(const char *name)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	tree_fixture_open(t->dir, sizeof(t->dir), "slurm", name, &t->fs);
	return t;
}

static void tree_close(struct tree *t)
{
	tree_fixture_close(t->dir, &t->fs);
	free(t);
}

static const char *at(const struct tree *t, const char *rel)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	return path;
}

static void put(const struct tree *t, const char *rel, const char *text)
{
	FILE *f = fopen(at(t, rel), "w");
	if (!f)
		fail_msg("cannot write %s", at(t, rel));
	fputs(text, f);
	fclose(f);
}

/* The pids a listing called back with, in order. */
struct pids {
	pid_t pid[32];
	size_t n;
};

static void collect(pid_t pid, void *data)
{
	struct pids *p = data;
	if (p->n < 32)
		p->pid[p->n++] = pid;
}

static int by_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The pids, sorted, as "101 103" (procfs lists /proc in directory order). */
static const char *sorted(struct pids *p)
{
	static char buf[256];
	qsort(p->pid, p->n, sizeof(p->pid[0]), by_pid);
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < p->n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", i ? " " : "",
					(int)p->pid[i]);
	return buf;
}

/* slurm_job_cgroup's answer: its directory, relative to nothing (the tree's system root). */
static enum slurm_found job_cgroup(const struct tree *t, unsigned long id, const char *node,
				   bool memory, struct strbuf *dir, struct strbuf *why)
{
	strbuf_reset(dir);
	strbuf_reset(why);
	return slurm_job_cgroup(&t->fs, id, node, memory, dir, why);
}

static void test_job_id(void **state)
{
	(void)state;
	unsigned long id = 0;
	assert_true(slurm_job_id_parse("1234", &id));
	assert_int_equal(id, 1234);
	assert_true(slurm_job_id_parse("4294967295", &id));
	assert_int_equal(id, 4294967295UL);
	static const char *const bad[] = {"",	 "0",	"-1",  "+5",	     " 5",	    "5 ",
					  "12a", "1_2", "1+0", "4294967296", "99999999999", "0x10"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(slurm_job_id_parse(bad[i], &id));
	assert_false(slurm_job_id_parse(NULL, &id));
}

/* Two slurmd on one host: each node's memory cgroup of the job is its own. */
static void test_v1_memory_by_node(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	assert_int_equal(job_cgroup(t, 77, "n1", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/memory/slurm_n1/uid_1000/job_77");
	assert_int_equal(job_cgroup(t, 77, "n2", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/memory/slurm_n2/uid_1000/job_77");
	/* a node of this host the job has no cgroup on */
	assert_int_equal(job_cgroup(t, 77, "n3", true, &dir, &why), SLURM_NONE);
	assert_string_equal(dir.buf, "");
	/* unknown node: whose is not known */
	assert_int_equal(job_cgroup(t, 77, NULL, true, &dir, &why), SLURM_AMBIGUOUS);
	assert_string_equal(dir.buf, "");
	/* in the directory's order */
	assert_non_null(strstr(why.buf, "(slurm_n1, slurm_n2)")
				?: strstr(why.buf, "(slurm_n2, slurm_n1)"));
	assert_non_null(strstr(why.buf, "SLURMD_NODENAME"));
	/* a name that is no directory's is no node's */
	assert_int_equal(job_cgroup(t, 77, "../slurm_n1", true, &dir, &why), SLURM_AMBIGUOUS);
	strbuf_release(&dir);
	strbuf_release(&why);
	tree_close(t);
}

/* A Slurm built for one slurmd per host names no node: slurm/uid_UID/job_ID, for any node. */
static void test_v1_plain_layout(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	assert_int_equal(job_cgroup(t, 79, "n1", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/memory/slurm/uid_0/job_79");
	assert_int_equal(job_cgroup(t, 79, NULL, true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/memory/slurm/uid_0/job_79");
	strbuf_release(&dir);
	strbuf_release(&why);
	tree_close(t);
}

/*
 * proctrack/cgroup without task/cgroup's memory: no memory cgroup, but a freezer one lists
 * its processes; the listing's order takes freezer first. A job with none says where it looked.
 */
static void test_v1_cgroup_of_another_controller(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	assert_int_equal(job_cgroup(t, 78, "n1", true, &dir, &why), SLURM_NONE);
	assert_non_null(strstr(why.buf, "no memory cgroup job_78"));
	assert_non_null(strstr(why.buf, "slurm[_n1]/uid_*"));
	assert_non_null(strstr(why.buf, "/sys/fs/cgroup/memory"));
	assert_null(strstr(why.buf, "/sys/fs/cgroup/freezer"));
	assert_int_equal(job_cgroup(t, 78, "n1", false, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/freezer/slurm_n1/uid_1000/job_78");
	assert_int_equal(job_cgroup(t, 77, "n1", false, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/freezer/slurm_n1/uid_1000/job_77");
	/* nowhere: every hierarchy named, v2's too */
	assert_int_equal(job_cgroup(t, 99, NULL, false, &dir, &why), SLURM_NONE);
	assert_non_null(strstr(why.buf, "no cgroup job_99 in slurm[_NODE]/uid_* or "
					"system.slice/[NODE_]slurmstepd.scope of "));
	assert_non_null(strstr(why.buf, "/sys/fs/cgroup/freezer, /sys/fs/cgroup/memory, "
					"/sys/fs/cgroup/cpu,cpuacct, /sys/fs/cgroup/unified"));
	strbuf_release(&dir);
	strbuf_release(&why);
	tree_close(t);
}

/* cgroup v2: 22.05's scopes, the node's first; the older uid_ layout; memory.current. */
static void test_v2_layouts(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v2");
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	assert_int_equal(job_cgroup(t, 77, "n1", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/system.slice/n1_slurmstepd.scope/job_77");
	assert_int_equal(job_cgroup(t, 77, "n2", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/system.slice/n2_slurmstepd.scope/job_77");
	assert_int_equal(job_cgroup(t, 77, NULL, true, &dir, &why), SLURM_AMBIGUOUS);
	assert_non_null(strstr(why.buf, "(n1_slurmstepd.scope, n2_slurmstepd.scope)")
				?: strstr(why.buf, "(n2_slurmstepd.scope, n1_slurmstepd.scope)"));
	/* one slurmd per host: its scope names no node */
	assert_int_equal(job_cgroup(t, 80, "n1", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_80");
	assert_int_equal(job_cgroup(t, 80, NULL, true, &dir, &why), SLURM_FOUND);
	/* no memory controller in it: not the job's memory, but its processes' list */
	assert_int_equal(job_cgroup(t, 81, "n1", true, &dir, &why), SLURM_NONE);
	assert_non_null(strstr(why.buf, " of /sys/fs/cgroup"));
	assert_int_equal(job_cgroup(t, 81, "n1", false, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/slurm/uid_0/job_81");
	strbuf_release(&dir);
	strbuf_release(&why);
	tree_close(t);
}

/* In a container whose init is not at the mount's root, Slurm's system.slice is beside it. */
static void test_v2_beside_init(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v2");
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	assert_int_equal(job_cgroup(t, 82, "n1", true, &dir, &why), SLURM_NONE);
	put(t, "proc/1/cgroup", "0::/ctr/init.scope\n");
	assert_int_equal(job_cgroup(t, 82, "n1", true, &dir, &why), SLURM_FOUND);
	assert_string_equal(dir.buf, "/sys/fs/cgroup/ctr/system.slice/slurmstepd.scope/job_82");
	/* the mount's own root is still looked in */
	assert_int_equal(job_cgroup(t, 80, "n1", true, &dir, &why), SLURM_FOUND);
	strbuf_release(&dir);
	strbuf_release(&why);
	tree_close(t);
}

/* A cgroup's processes, those of the cgroups below it included. */
static void test_dir_pids(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	struct pids p = {0};
	assert_int_equal(cgroup_dir_for_each_pid(&t->fs,
						 "/sys/fs/cgroup/memory/slurm_n1/uid_1000/job_77",
						 collect, &p),
			 3);
	assert_string_equal(sorted(&p), "101 103 201");
	p.n = 0;
	assert_int_equal(
		cgroup_dir_for_each_pid(&t->fs, "/sys/fs/cgroup/memory/no/such", collect, &p), -1);
	assert_int_equal(p.n, 0);
	tree_close(t);
}

/*
 * Environments: SLURM_JOB_ID=77 exactly (not 777, 770, SLURM_JOB_IDX, XSLURM_JOB_ID); a node's
 * own and those that name none; no error for a kernel thread or a process gone.
 */
static void test_environ(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	struct pids p = {0};
	struct slurm_scan scan;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 77, "n1", collect, &p, &scan), 0);
	assert_string_equal(sorted(&p), "101 103");
	assert_int_equal(scan.found, 2);
	assert_int_equal(scan.denied, 0);
	assert_string_equal(scan.node, "n1");
	assert_false(scan.many_nodes);
	p.n = 0;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 77, "n2", collect, &p, &scan), 0);
	assert_string_equal(sorted(&p), "102 103");
	assert_string_equal(scan.node, "n2");
	/* no node given: every one, and they name two */
	p.n = 0;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 77, NULL, collect, &p, &scan), 0);
	assert_string_equal(sorted(&p), "101 102 103");
	assert_true(scan.many_nodes);
	p.n = 0;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 78, "", collect, &p, &scan), 0);
	assert_string_equal(sorted(&p), "104");
	assert_string_equal(scan.node, "n1");
	assert_false(scan.many_nodes);
	p.n = 0;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 7, NULL, collect, &p, &scan), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(scan.found, 0);
	assert_string_equal(scan.node, "");
	p.n = 0;
	assert_int_equal(slurm_job_environ_pids(&t->fs, 770, NULL, collect, &p, &scan), 0);
	assert_string_equal(sorted(&p), "109");
	tree_close(t);
}

/* Root reads every file: without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH a 0000 file is
 * refused to it, as another user's environ is to a user. */
static void dac(bool on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	unsigned bits = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);
	if (on)
		d[0].effective |= d[0].permitted & bits;
	else
		d[0].effective &= ~bits;
	syscall(SYS_capset, &h, d);
}

/* An environment the kernel will not show is counted, and skipped. */
static void test_environ_denied(void **state)
{
	(void)state;
	struct tree *t = tree_open("slurm-v1");
	assert_int_equal(chmod(at(t, "proc/101/environ"), 0), 0);
	dac(false);
	struct pids p = {0};
	struct slurm_scan scan;
	int ret = slurm_job_environ_pids(&t->fs, 77, "n1", collect, &p, &scan);
	dac(true);
	assert_int_equal(ret, 0);
	assert_string_equal(sorted(&p), "103");
	assert_int_equal(scan.denied, 1);
	assert_string_equal(scan.node, "");
	tree_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_id),
		cmocka_unit_test(test_v1_memory_by_node),
		cmocka_unit_test(test_v1_plain_layout),
		cmocka_unit_test(test_v1_cgroup_of_another_controller),
		cmocka_unit_test(test_v2_layouts),
		cmocka_unit_test(test_v2_beside_init),
		cmocka_unit_test(test_dir_pids),
		cmocka_unit_test(test_environ),
		cmocka_unit_test(test_environ_denied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
