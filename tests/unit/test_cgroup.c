/*
 * test_cgroup: the job's memory cgroup (lib/record/cgroup.c) on fixture trees under
 * $MEMLINE_FIXTURES/trees, where the machine that runs the tests may have neither hierarchy:
 * cgroup-v2-job (a unified hierarchy: memline in a user's terminal scope beside its shell, and
 * an existing service's cgroup to read) and cgroup-v1 (the memory controller on v1). Each test
 * copies its tree to a temporary directory and changes files there as the kernel would: who is
 * in a cgroup, its limits, its counters. The kernel's behaviour a file cannot imitate (a write
 * to memory.peak resets it for that descriptor only) is played by the test: it gives the two
 * descriptors memline keeps a file each. Only what these trees show is tested here: making a
 * cgroup on a real v2 hierarchy is not (tests/e2e/test_cgroup.py does on v1).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/cgroup.h"
#include "record/oom.h"
#include "record/procfs.h"
#include "tree-fixture.h"

struct tree {
	char dir[64];
	struct procfs fs;
};

static struct tree *tree_open(const char *name)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	tree_fixture_open(t->dir, sizeof(t->dir), "cgroup", name, &t->fs);
	return t;
}

static void tree_close(struct tree *t)
{
	tree_fixture_close(t->dir, &t->fs);
	free(t);
}

/* The tree's file rel (relative to the tree), as a path. */
static char *at(const struct tree *t, const char *rel)
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

/* What the tree's file rel holds (up to 255 bytes). */
static const char *get(const struct tree *t, const char *rel)
{
	static char buf[256];
	FILE *f = fopen(at(t, rel), "r");
	if (!f)
		fail_msg("cannot read %s", at(t, rel));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool is_dir(const struct tree *t, const char *rel)
{
	struct stat st;
	return stat(at(t, rel), &st) == 0 && S_ISDIR(st.st_mode);
}

/* Root may open any file for writing: without CAP_DAC_OVERRIDE a 0444 file is read-only, as a
 * kernel's memory.peak before Linux 6.12 is to everyone. */
static void dac_override(bool on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	if (on)
		d[0].effective |= d[0].permitted & (1u << CAP_DAC_OVERRIDE);
	else
		d[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
	syscall(SYS_capset, &h, d);
}

#define SCOPE	  "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope"
#define SCOPE_DIR "/" SCOPE
#define APP_DIR	  "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice"
#define SELF	  4242
#define JOB	  "sys/fs/cgroup/system.slice/job.service"

/* The mount table: where each hierarchy is, and the part of it a mount shows. */
static void test_mounts(void **state)
{
	(void)state;
	static const char mi[] =
		"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
		"35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "
		"rw,memory\n"
		"36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
		"41 31 0:38 / /sys/fs/cgroup/my\\040unified rw - cgroup2 cgroup2 rw\n";
	struct cgroup_mounts m = {0};
	cgroup_mounts_parse(mi, sizeof(mi) - 1, &m);
	assert_string_equal(m.v1, "/sys/fs/cgroup/memory");
	assert_string_equal(m.v1_root, "/docker/abc");
	assert_string_equal(m.v2, "/sys/fs/cgroup/my unified");
	assert_string_equal(m.v2_root, "/");
	struct strbuf sb = STRBUF_INIT;
	/* a container's view without a cgroup namespace: its cgroup is the mount's root */
	assert_true(cgroup_mounts_dir(&m, 1, "/docker/abc", &sb));
	assert_string_equal(sb.buf, "/sys/fs/cgroup/memory");
	strbuf_reset(&sb);
	assert_true(cgroup_mounts_dir(&m, 1, "/docker/abc/job", &sb));
	assert_string_equal(sb.buf, "/sys/fs/cgroup/memory/job");
	strbuf_reset(&sb);
	assert_false(cgroup_mounts_dir(&m, 1, "/docker/abcd", &sb));
	assert_false(cgroup_mounts_dir(&m, 1, "/other", &sb));
	assert_true(cgroup_mounts_dir(&m, 2, "/", &sb));
	assert_string_equal(sb.buf, "/sys/fs/cgroup/my unified");
	strbuf_reset(&sb);
	assert_true(cgroup_mounts_dir(&m, 2, "/a/b", &sb));
	assert_string_equal(sb.buf, "/sys/fs/cgroup/my unified/a/b");
	strbuf_release(&sb);
	cgroup_mounts_release(&m);
}

/*
 * A user's terminal scope (cgroup v2) holds memline and its shell: no child of it may have the
 * memory controller ("no internal processes"), memline is not alone in it, and it has no limit:
 * the job's cgroup goes beside it, in app.slice.
 */
static void test_sites_sibling(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	struct cgroup_sites s;
	struct strbuf why = STRBUF_INIT;
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.site[0].place, CGROUP_SIBLING);
	assert_int_equal(s.site[0].version, 2);
	assert_string_equal(s.site[0].parent, APP_DIR);
	assert_string_equal(s.site[0].home, SCOPE_DIR);
	assert_string_equal(s.site[0].path,
			    "/user.slice/user-1000.slice/user@1000.service/app.slice");
	cgroup_sites_release(&s);

	/* A limit of the scope would be escaped beside it: no site, and why. */
	put(t, SCOPE "/memory.max", "4294967296\n");
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(why.buf, "memory.max 4294967296"));
	assert_non_null(strstr(why.buf, "holds other processes"));
	cgroup_sites_release(&s);
	strbuf_reset(&why);
	put(t, SCOPE "/memory.max", "max\n");
	put(t, SCOPE "/cpu.max", "50000 100000\n");
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(why.buf, "cpu.max 50000 100000"));
	cgroup_sites_release(&s);
	strbuf_release(&why);
	tree_close(t);
}

/* memline alone in its cgroup (a scope started for it): a pair of leaves in it comes first. */
static void test_sites_pair(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	put(t, SCOPE "/cgroup.procs", "4242\n");
	struct cgroup_sites s;
	struct strbuf why = STRBUF_INIT;
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.site[0].place, CGROUP_PAIR);
	assert_string_equal(s.site[0].parent, SCOPE_DIR);
	assert_string_equal(s.site[0].home, SCOPE_DIR);
	assert_int_equal(s.site[1].place, CGROUP_SIBLING);
	cgroup_sites_release(&s);
	/* Another process there: not alone. */
	put(t, SCOPE "/cgroup.procs", "4242\n4300\n");
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.site[0].place, CGROUP_SIBLING);
	cgroup_sites_release(&s);
	strbuf_release(&why);
	tree_close(t);
}

/* Children that may have the memory controller, and the hierarchy's root. */
static void test_sites_child(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	put(t, SCOPE "/cgroup.subtree_control", "memory\n");
	struct cgroup_sites s;
	struct strbuf why = STRBUF_INIT;
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_true(s.n >= 1);
	assert_int_equal(s.site[0].place, CGROUP_CHILD);
	assert_string_equal(s.site[0].parent, SCOPE_DIR);
	cgroup_sites_release(&s);

	/* memline in the root cgroup (no cgroup.type there): a child, and nothing else. */
	put(t, "proc/self/cgroup", "0::/\n");
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.site[0].place, CGROUP_CHILD);
	assert_string_equal(s.site[0].parent, "/sys/fs/cgroup");
	assert_string_equal(s.site[0].path, "/");
	cgroup_sites_release(&s);

	/* No memory controller for memline's cgroup at all. */
	put(t, "proc/self/cgroup", "0::" SCOPE_DIR "\n");
	put(t, SCOPE "/cgroup.controllers", "pids\n");
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(why.buf, "not in its cgroup.controllers"));
	cgroup_sites_release(&s);
	strbuf_release(&why);
	tree_close(t);
}

/* cgroup v1: a child of memline's memory cgroup. */
static void test_sites_v1(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v1");
	struct cgroup_sites s;
	struct strbuf why = STRBUF_INIT;
	cgroup_sites(&t->fs, SELF, &s, &why);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.site[0].place, CGROUP_CHILD);
	assert_int_equal(s.site[0].version, 1);
	assert_string_equal(s.site[0].parent, "/sys/fs/cgroup/memory/job/42");
	assert_string_equal(s.site[0].path, "/job/42");
	cgroup_sites_release(&s);
	strbuf_release(&why);
	tree_close(t);
}

/*
 * A cgroup made where the memory controller is not there (a fixture's plain directory has no
 * memory.current) is refused, and removed again: nothing is left behind; why says so.
 */
static void test_create_refused(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	struct cgroup cg;
	struct strbuf why = STRBUF_INIT;
	assert_int_equal(cgroup_create(&cg, &t->fs, SELF, &why), -1);
	assert_non_null(strstr(why.buf, "not enabled for the children of '" APP_DIR "'"));
	assert_false(is_dir(t, "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/"
			       "app.slice/memline-4242-987654"));
	assert_int_equal(cg.version, 0);
	cgroup_release(&cg);
	strbuf_release(&why);
	tree_close(t);
}

/* Cgroups of killed memlines are removed where a new one is made; live ones stay. */
static void test_clean(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
#define APP "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/"
	assert_int_equal(mkdir(at(t, APP "memline-999-123"), 0755), 0);	    /* maker gone */
	assert_int_equal(mkdir(at(t, APP "memline-998-5.self"), 0755), 0);  /* a pair's leaf */
	assert_int_equal(mkdir(at(t, APP "memline-4242-987654"), 0755), 0); /* maker lives */
	assert_int_equal(mkdir(at(t, APP "memline-997-7"), 0755), 0);	    /* locked */
	assert_int_equal(mkdir(at(t, APP "memline-996-8"), 0755), 0);	    /* not empty */
	assert_int_equal(mkdir(at(t, APP "memline-996-8/sub"), 0755), 0);
	put(t, APP "memline-996-8/sub/cgroup.procs", "77\n");
	assert_int_equal(mkdir(at(t, APP "memline-x-1"), 0755), 0); /* not memline's name */
	int lock = open(at(t, APP "memline-997-7"), O_RDONLY | O_DIRECTORY);
	assert_true(lock >= 0);
	assert_int_equal(flock(lock, LOCK_EX), 0);
	assert_int_equal(cgroup_clean(&t->fs, "/" APP), 2);
	assert_false(is_dir(t, APP "memline-999-123"));
	assert_false(is_dir(t, APP "memline-998-5.self"));
	assert_true(is_dir(t, APP "memline-4242-987654"));
	assert_true(is_dir(t, APP "memline-997-7"));
	assert_true(is_dir(t, APP "memline-996-8"));
	assert_true(is_dir(t, APP "memline-x-1"));
	close(lock);
	tree_close(t);
}

/* --cgroup PATH: by its directory or its path in the hierarchy; refused when it is none. */
static void test_open(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	struct cgroup cg;
	struct strbuf err = STRBUF_INIT;
	bool missing;
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB, &missing, &err), 0);
	assert_int_equal(cg.version, 2);
	assert_false(cg.own);
	assert_int_equal(cg.place, CGROUP_EXISTING);
	assert_string_equal(cg.path, "/system.slice/job.service");
	assert_string_equal(cg.dir, "/" JOB);
	cgroup_release(&cg);
	assert_int_equal(cgroup_open(&cg, &t->fs, "/system.slice/job.service", &missing, &err), 0);
	assert_string_equal(cg.dir, "/" JOB);
	cgroup_release(&cg);

	assert_int_equal(cgroup_open(&cg, &t->fs, "/sys/fs/cgroup/nothing", &missing, &err), -1);
	assert_true(missing);
	assert_non_null(strstr(err.buf, "No such file"));
	strbuf_reset(&err);
	assert_int_equal(cgroup_open(&cg, &t->fs, "/sys/fs/cgroup", &missing, &err), -1);
	assert_false(missing);
	assert_non_null(strstr(err.buf, "is the root cgroup"));
	strbuf_reset(&err);
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB "/worker", &missing, &err), -1);
	assert_false(missing);
	assert_non_null(strstr(err.buf, "is not a memory cgroup"));
	strbuf_release(&err);
	tree_close(t);
}

static void add_pid(pid_t pid, void *data)
{
	struct strbuf *sb = data;
	strbuf_addf(sb, "%d ", (int)pid);
}

/* A cgroup's processes are its own and those of the cgroups below it. */
static void test_pids(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	put(t, JOB "/cgroup.procs", "200\n");
	struct cgroup cg;
	struct strbuf err = STRBUF_INIT, pids = STRBUF_INIT;
	bool missing;
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB, &missing, &err), 0);
	assert_int_equal(cgroup_for_each_pid(&cg, add_pid, &pids), 3);
	assert_string_equal(pids.buf, "200 300 301 ");
	cgroup_release(&cg);
	strbuf_release(&err);
	strbuf_release(&pids);
	tree_close(t);
}

/* Gives peak_fd[i] of cg a file of its own, rel: the descriptor's own peak, as on 6.12+. */
static void own_peak_file(struct cgroup *cg, const struct tree *t, int i, const char *rel)
{
	put(t, rel, "0\n");
	close(cg->peak_fd[i]);
	cg->peak_fd[i] = open(at(t, rel), O_RDWR | O_CLOEXEC);
	assert_true(cg->peak_fd[i] >= 0);
}

/*
 * cgroup v2, reading: the charge, the split (file without shmem, kernel, sock, swap) and the
 * peak through two descriptors of memory.peak, each reset just before the other is read, so
 * that intervals overlap instead of leaving a gap between a read and a reset.
 */
static void test_read_v2_fd(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	struct cgroup cg;
	struct strbuf err = STRBUF_INIT;
	bool missing;
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB, &missing, &err), 0);
	cgroup_start(&cg);
	/* a file takes the write: "fd" is what a 6.12 kernel gives too */
	assert_int_equal(cg.peak, CGROUP_PEAK_FD);
	assert_string_equal(cgroup_peak_names[cg.peak], "fd");
	own_peak_file(&cg, t, 0, "peak0");
	own_peak_file(&cg, t, 1, "peak1");

	struct cgroup_values v;
	put(t, "peak0", "314572800\n"); /* 300 MiB since the start, through descriptor 0 */
	cgroup_read(&cg, 0.1, &v);
	assert_int_equal(v.current, 102400);
	assert_int_equal(v.peak, 307200);
	assert_string_equal(get(t, "peak1"), "reset\n"); /* the next interval began first */
	assert_int_equal(v.anon, 51200);
	assert_int_equal(v.file, 20480); /* 30 MiB of file, 10 MiB of which shmem */
	assert_int_equal(v.shmem, 10240);
	assert_int_equal(v.kernel, 5120);
	assert_int_equal(v.sock, 4);
	assert_int_equal(v.swap, 0);

	/* the next interval, through descriptor 1: a peak below the charge is the charge */
	put(t, "peak1", "52428800\n");
	put(t, "peak0", "0\n");
	cgroup_read(&cg, 0.2, &v);
	assert_int_equal(v.peak, 102400);
	assert_string_equal(get(t, "peak0"), "reset\n");

	/* before 5.18 there is no "kernel" key: its parts are summed (once a second or a move) */
	put(t, JOB "/memory.stat",
	    "anon 1048576\nfile 0\nkernel_stack 65536\npagetables 131072\npercpu 1024\n"
	    "slab 1048576\nsock 0\nshmem 0\n");
	put(t, JOB "/memory.current", "209715200\n");
	put(t, "peak0", "209715200\n");
	cgroup_read(&cg, 0.3, &v);
	assert_int_equal(v.current, 204800);
	assert_int_equal(v.peak, 204800);
	assert_int_equal(v.kernel, (65536 + 131072 + 1024 + 1048576) / 1024);
	assert_int_equal(v.anon, 1024);
	cgroup_release(&cg);
	strbuf_release(&err);
	tree_close(t);
}

/*
 * A kernel before 6.12 takes no write to memory.peak: a lifetime peak, exact only when it rises
 * (and not counted at the first read of a cgroup memline did not make: it may be old). Before
 * 5.19 there is no memory.peak: the charge at the samples.
 */
static void test_read_v2_lifetime(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	put(t, JOB "/memory.peak", "524288000\n");
	assert_int_equal(chmod(at(t, JOB "/memory.peak"), 0444), 0);
	dac_override(false);
	struct cgroup cg;
	struct strbuf err = STRBUF_INIT;
	bool missing;
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB, &missing, &err), 0);
	cgroup_start(&cg);
	dac_override(true);
	assert_int_equal(cg.peak, CGROUP_PEAK_LIFETIME);
	struct cgroup_values v;
	cgroup_read(&cg, 0.1, &v);
	assert_int_equal(v.peak, 102400); /* 500 MiB long ago: not this interval's */
	put(t, JOB "/memory.current", "125829120\n");
	cgroup_read(&cg, 0.2, &v);
	assert_int_equal(v.peak, 122880);
	put(t, JOB "/memory.peak", "629145600\n"); /* a new lifetime peak: this interval's */
	cgroup_read(&cg, 0.3, &v);
	assert_int_equal(v.peak, 614400);
	put(t, JOB "/memory.current", "20971520\n");
	cgroup_read(&cg, 0.4, &v);
	assert_int_equal(v.peak, 122880); /* the charge at the interval's start */
	cgroup_release(&cg);

	assert_int_equal(unlink(at(t, JOB "/memory.peak")), 0);
	assert_int_equal(cgroup_open(&cg, &t->fs, "/" JOB, &missing, &err), 0);
	cgroup_start(&cg);
	assert_int_equal(cg.peak, CGROUP_PEAK_NONE);
	put(t, JOB "/memory.current", "41943040\n");
	cgroup_read(&cg, 0.1, &v);
	assert_int_equal(v.current, 40960);
	assert_int_equal(v.peak, 40960);
	cgroup_release(&cg);
	strbuf_release(&err);
	tree_close(t);
}

/*
 * cgroup v1: usage_in_bytes, max_usage_in_bytes reset by writing 0 in a cgroup memline made
 * (never in another's: the reset is the whole cgroup's, its owner's peak), the total_* split and
 * kmem.
 */
static void test_read_v1(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v1");
#define V1 "sys/fs/cgroup/memory/job/42"
	struct cgroup cg;
	struct strbuf err = STRBUF_INIT;
	bool missing;
	assert_int_equal(cgroup_open(&cg, &t->fs, "/job/42", &missing, &err), 0);
	assert_int_equal(cg.version, 1);
	assert_string_equal(cg.dir, "/" V1);
	cgroup_start(&cg);
	assert_int_equal(cg.peak, CGROUP_PEAK_LIFETIME);
	struct cgroup_values v;
	cgroup_read(&cg, 0.1, &v);
	assert_string_equal(get(t, V1 "/memory.max_usage_in_bytes"), "157286400\n"); /* untouched */
	assert_int_equal(v.current, 71680);
	assert_int_equal(v.peak, 71680);
	assert_int_equal(v.anon, 45056);
	assert_int_equal(v.file, 20480); /* total_cache less total_shmem */
	assert_int_equal(v.shmem, 4096);
	assert_int_equal(v.swap, 1024);
	assert_int_equal(v.kernel, 1024);
	assert_int_equal(v.sock, -1);
	cgroup_release(&cg);

	/* as if memline had made it: reset */
	assert_int_equal(cgroup_open(&cg, &t->fs, "/job/42", &missing, &err), 0);
	cg.own = true;
	cgroup_start(&cg);
	assert_int_equal(cg.peak, CGROUP_PEAK_RESET);
	assert_int_equal(get(t, V1 "/memory.max_usage_in_bytes")[0], '0');
	put(t, V1 "/memory.max_usage_in_bytes", "262144000\n");
	cgroup_read(&cg, 0.1, &v);
	assert_int_equal(v.peak, 256000);
	assert_int_equal(get(t, V1 "/memory.max_usage_in_bytes")[0], '0'); /* reset after */
	cg.own = false;							   /* nothing to remove */
	cgroup_release(&cg);
	strbuf_release(&err);
	tree_close(t);
}

/*
 * The OOM decision with the job's own cgroup (v2): its memory.events decides for every process
 * in it; /proc/vmstat, which rose for a kill elsewhere, does not.
 */
static void test_oom_job_v2(void **state)
{
	(void)state;
	struct tree *t = tree_open("cgroup-v2-job");
	struct oom_watch w;
	oom_watch_init(&w, &t->fs);
	oom_watch_job(&w, "/system.slice/job.service", 2);
	assert_int_equal(mkdir(at(t, "proc/300"), 0755), 0);
	put(t, "proc/300/cgroup", "0::/system.slice/job.service/worker\n");
	oom_watch_add(&w, 300);
	put(t, "proc/vmstat", "oom_kill 6\n");
	assert_false(oom_watch_killed(&w, 300));
	/* two kills in the job before memline looked: both deaths are OOM kills, a third not */
	put(t, JOB "/memory.events", "oom 2\noom_kill 2\n");
	oom_watch_add(&w, 300);
	assert_true(oom_watch_killed(&w, 300));
	oom_watch_add(&w, 300);
	assert_true(oom_watch_killed(&w, 300));
	oom_watch_add(&w, 300);
	assert_false(oom_watch_killed(&w, 300));
	oom_watch_release(&w);
	tree_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_sites_sibling),
		cmocka_unit_test(test_sites_pair),
		cmocka_unit_test(test_sites_child),
		cmocka_unit_test(test_sites_v1),
		cmocka_unit_test(test_create_refused),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_read_v2_fd),
		cmocka_unit_test(test_read_v2_lifetime),
		cmocka_unit_test(test_read_v1),
		cmocka_unit_test(test_oom_job_v2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
