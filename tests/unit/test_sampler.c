/*
 * test_sampler: the sampler (lib/record/sampler.c) on a /proc tree the test writes in a temporary
 * directory and changes between samples: discovery of new pids from /proc/loadavg (children,
 * grandchildren in any pid order, a wrapped pid counter), threads and strangers left out, exec,
 * zombies with their exit code, vanished processes, and the rule that /proc/PID/status (and the
 * high-water-mark reset) is read only when stat shows the process changed or a second passed;
 * the collectors a recording runs (smaps only under --pss), and that smaps_rollup and io are
 * read with status, io at most once a second; and what the kernel's event sources tell it
 * (sampler-events.c): forks tracked at once, exits of processes never seen kept until their
 * parent is known (children before parents), threads summed into their process, the ends of
 * memline's children left to its reaping, late reports and zombies not taken twice, and the
 * pids a sample found gone counted as maybe missed.
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
#include <math.h>

#include "record/collector.h"
#include "record/sampler.h"

struct fake {
	char dir[64];
	struct procfs fs;
	struct sampler s;
};

static void put(struct fake *f, const char *rel, const char *text)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", f->dir, rel);
	/* "w" truncates in place: open descriptors see the new content, as with /proc. */
	FILE *fp = fopen(path.buf, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	strbuf_release(&path);
}

static void put_loadavg(struct fake *f, int last_pid)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "0.00 0.00 0.00 1/100 %d\n", last_pid);
	put(f, "loadavg", buf);
}

struct fproc {
	int pid, ppid;
	const char *comm;
	char state;
	unsigned long minflt;
	long rss_pages;
	int exit_signal;
	int exit_code;
	long hwm_kib;
	const char *cmdline;
	unsigned long code; /* where its program's code starts; 0 for 4096; -1UL: no memory map */
};

/* Added to every start time written: a pid handed out again starts later than its first. */
static int start_shift;
/* The number of threads stat says a process has (1 unless a test says otherwise). */
static int stat_threads = 1;

static void put_stat(struct fake *f, const struct fproc *p)
{
	char rel[64], buf[512];
	unsigned long code = p->code == -1UL ? 0 : p->code ? p->code : 4096;
	snprintf(rel, sizeof(rel), "%d/stat", p->pid);
	snprintf(buf, sizeof(buf),
		 "%d (%s) %c %d 1 1 0 -1 0 %lu 0 0 0 150 50 0 0 20 0 %d 0 %d 104857600 %ld "
		 "18446744073709551615 %lu 8192 0 0 0 0 0 0 0 0 0 0 %d 0 0 0 0 0 0 0 0 0 %lu 0 0 "
		 "0 %d\n",
		 p->pid, p->comm, p->state, p->ppid, p->minflt, stat_threads,
		 1000 + p->pid + start_shift, p->rss_pages, code, p->exit_signal,
		 code ? code + 100000 : 0, p->exit_code);
	put(f, rel, buf);
}

static void put_status(struct fake *f, int pid, long rss_kib, long hwm_kib)
{
	char rel[64], buf[512];
	snprintf(rel, sizeof(rel), "%d/status", pid);
	snprintf(buf, sizeof(buf),
		 "Name:\tx\nTgid:\t%d\nVmSize:\t  102400 kB\nVmHWM:\t%8ld kB\nVmRSS:\t%8ld kB\n"
		 "RssAnon:\t%8ld kB\nRssFile:\t     100 kB\nRssShmem:\t       0 kB\nVmSwap:\t      "
		 " 0 kB\n",
		 pid, hwm_kib, rss_kib, rss_kib - 100);
	put(f, rel, buf);
}

static void add_proc(struct fake *f, const struct fproc *p)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "%s/%d", f->dir, p->pid);
	mkdir(rel, 0755);
	put_stat(f, p);
	put_status(f, p->pid, p->rss_pages * 4, p->hwm_kib ? p->hwm_kib : p->rss_pages * 4);
	snprintf(rel, sizeof(rel), "%d/cmdline", p->pid);
	const char *cmd = p->cmdline ? p->cmdline : p->comm;
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", f->dir, rel);
	FILE *fp = fopen(path.buf, "w");
	fwrite(cmd, 1, strlen(cmd) + 1, fp); /* NUL-terminated, like the kernel's */
	fclose(fp);
	strbuf_reset(&path);
	strbuf_addf(&path, "%d/clear_refs", p->pid);
	put(f, path.buf, "");
	strbuf_release(&path);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	start_shift = 0;
	stat_threads = 1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/memline-test-proc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char sys[96];
	snprintf(sys, sizeof(sys), "%s/sys", f->dir);
	mkdir(sys, 0755);
	snprintf(sys, sizeof(sys), "%s/sys/kernel", f->dir);
	mkdir(sys, 0755);
	put(f, "sys/kernel/pid_max", "32768\n");
	put(f, "meminfo", "MemTotal:       16000000 kB\nMemAvailable:   12000000 kB\n");
	put(f, "vmstat", "nr_free_pages 1\noom_kill 0\n");
	put_loadavg(f, 1000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	sampler_release(&f->s);
	procfs_release(&f->fs);
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd.buf), 0);
	strbuf_release(&cmd);
	free(f);
	return 0;
}

static void start_with(struct fake *f, const struct fproc *root, bool pss)
{
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(procfs_init(&f->fs, f->dir, &err), 0);
	struct sampler_options o = {.self = 0, .peak_reset = true, .pss = pss, .t0 = 0};
	add_proc(f, root);
	sampler_init(&f->s, &f->fs, &o);
	assert_true(sampler_add(&f->s, root->pid, 0));
	strbuf_release(&err);
}

static void start(struct fake *f, const struct fproc *root)
{
	start_with(f, root, false);
}

/* Event types and pids since the last call, as a string like "proc:1001 exit:1004". */
static char *events(struct fake *f)
{
	size_t n;
	struct sampler_event *ev = sampler_events(&f->s, &n);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].type == SAMPLER_THREAD) {
			/* thread:PID/TID=name, or thread:PID/TID-end */
			strbuf_addf(&sb, "%sthread:%d/%d%s%s", i ? " " : "", (int)ev[i].thread.pid,
				    (int)ev[i].thread.tid, ev[i].thread.end ? "-end" : "=",
				    ev[i].thread.end ? "" : ev[i].text);
			continue;
		}
		const char *type = ev[i].type == SAMPLER_PROC	? "proc"
				   : ev[i].type == SAMPLER_EXEC ? "exec"
								: "exit";
		int pid = ev[i].type == SAMPLER_EXIT ? ev[i].exit.pid : ev[i].proc.pid;
		strbuf_addf(&sb, "%s%s:%d", i ? " " : "", type, pid);
	}
	sampler_clear_events(&f->s);
	return strbuf_detach(&sb, NULL);
}

static void expect_events(struct fake *f, const char *want)
{
	char *got = events(f);
	assert_string_equal(got, want);
	free(got);
}

static const struct proc_values *find_values(const struct sample *s, int pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->procs[i].v[PF_PID] == pid)
			return &s->procs[i];
	return NULL;
}

/* Thread tid of pid: /proc/PID/task/TID/stat with its name and CPU ticks. */
static void put_task(struct fake *f, int pid, int tid, const char *name, int utime, int stime)
{
	char rel[96], buf[512];
	snprintf(rel, sizeof(rel), "%s/%d/task", f->dir, pid);
	mkdir(rel, 0755);
	snprintf(rel, sizeof(rel), "%s/%d/task/%d", f->dir, pid, tid);
	mkdir(rel, 0755);
	snprintf(rel, sizeof(rel), "%d/task/%d/stat", pid, tid);
	snprintf(buf, sizeof(buf),
		 "%d (%s) S 1 1 1 0 -1 0 10 0 0 0 %d %d 0 0 20 0 1 0 %d 104857600 100 "
		 "18446744073709551615 4096 8192 0 0 0 0 0 0 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 104096 0 "
		 "0 0 0\n",
		 tid, name, utime, stime, 1000 + pid);
	put(f, rel, buf);
}

static void drop_task(struct fake *f, int pid, int tid)
{
	char rel[96];
	snprintf(rel, sizeof(rel), "%s/%d/task/%d/stat", f->dir, pid, tid);
	unlink(rel);
	snprintf(rel, sizeof(rel), "%s/%d/task/%d", f->dir, pid, tid);
	rmdir(rel);
}

/* The sample's row of thread tid, or NULL. */
static const struct thread_values *find_row(const struct sample *s, int tid)
{
	for (size_t i = 0; i < s->n_threads; i++)
		if (s->threads[i].v[TH_TID] == tid)
			return &s->threads[i];
	return NULL;
}

/*
 * Threads (collect-threads.c): a process with more than one thread gets a thread record per
 * thread (its name) and a row per thread whose numbers changed, read with status and when its
 * thread count changed; a rename and an end are told; a one-thread process has none of that.
 */
static void test_threads(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "srv", 'S', 10, 100, 17, 0, 0, NULL, 0};
	stat_threads = 3;
	start(f, &root);
	put_task(f, 1000, 1000, "srv", 10, 1);
	put_task(f, 1000, 1001, "loader", 200, 5);
	put_task(f, 1000, 1002, "worker", 0, 0);
	const struct sample *s = sampler_sample(&f->s, 0.01);
	expect_events(f, "proc:1000 thread:1000/1000=srv thread:1000/1001=loader "
			 "thread:1000/1002=worker");
	assert_int_equal(s->n_threads, 3);
	const struct thread_values *r = find_row(s, 1001);
	assert_non_null(r);
	assert_int_equal(r->v[TH_PID], 1000);
	assert_int_equal(r->v[TH_UTIME], 2000); /* 200 ticks at 100 Hz */
	assert_int_equal(r->v[TH_STIME], 50);
	assert_int_equal(r->v[TH_HEAP], -1); /* no --heap */
	/* nothing changed, status not due: no task read, no row */
	put_task(f, 1000, 1001, "loader", 260, 5);
	s = sampler_sample(&f->s, 0.02);
	assert_int_equal(s->n_threads, 0);
	expect_events(f, "");
	/* a second later: read with status; loader renamed and busier, worker gone */
	drop_task(f, 1000, 1002);
	put_task(f, 1000, 1001, "reader", 300, 6);
	stat_threads = 2;
	put_stat(f, &root);
	s = sampler_sample(&f->s, 1.1);
	expect_events(f, "thread:1000/1001=reader thread:1000/1002-end");
	assert_int_equal(s->n_threads, 1);
	r = find_row(s, 1001);
	assert_non_null(r);
	assert_int_equal(r->v[TH_UTIME], 3000);
	assert_int_equal(r->v[TH_STIME], 60);
	/* a new thread shows at once (the count changed), not a second later */
	put_task(f, 1000, 1003, "late", 1, 0);
	stat_threads = 3;
	put_stat(f, &root);
	s = sampler_sample(&f->s, 1.2);
	expect_events(f, "thread:1000/1003=late");
	assert_non_null(find_row(s, 1003));
	stat_threads = 1;
}

/* A process that only ever had one thread costs no task read: no thread record, no row. */
static void test_one_thread_has_no_rows(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "w", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start(f, &root);
	const struct sample *s = sampler_sample(&f->s, 0.01);
	expect_events(f, "proc:1000");
	assert_int_equal(s->n_threads, 0);
	s = sampler_sample(&f->s, 1.1);
	assert_int_equal(s->n_threads, 0);
	expect_events(f, "");
}

static void test_discovery(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, "sh\0-c\0work", 0};
	start(f, &root);
	expect_events(f, "proc:1000");
	/* New pids 1001..1005: a grandchild with a lower pid than its parent, a thread, a stranger.
	 */
	struct fproc grandchild = {1001, 1004, "gc", 'S', 5, 50, 17, 0, 0, NULL, 0};
	/* A thread of 1004: its stat names 1004's parent, as a real thread's does. */
	struct fproc thread = {1002, 1000, "child", 'S', 5, 50, -1, 0, 0, NULL, 0};
	struct fproc stranger = {1003, 1, "other", 'S', 5, 50, 17, 0, 0, NULL, 0};
	struct fproc child = {1004, 1000, "child", 'S', 5, 50, 17, 0, 0, NULL, 0};
	add_proc(f, &grandchild);
	add_proc(f, &thread);
	add_proc(f, &stranger);
	add_proc(f, &child);
	put_loadavg(f, 1005); /* 1005 itself does not exist: already gone */
	const struct sample *s = sampler_sample(&f->s, 0.01);
	expect_events(f, "proc:1004 proc:1001");
	assert_int_equal(s->n, 3);
	assert_int_equal(s->tree.v[TF_NPROC], 3);
	assert_int_equal(s->tree.v[TF_RSS], (100 + 50 + 50) * 4);
	assert_int_equal(s->avail, 12000000);
	assert_int_equal(sampler_count(&f->s), 3);
	/* Nothing new allocated: nothing looked for, even if a matching pid appears. */
	struct fproc sneaky = {1006, 1000, "sneaky", 'S', 5, 50, 17, 0, 0, NULL, 0};
	add_proc(f, &sneaky);
	sampler_sample(&f->s, 0.02);
	expect_events(f, "");
	put_loadavg(f, 1006);
	sampler_sample(&f->s, 0.03);
	expect_events(f, "proc:1006");
}

static void test_pid_wrap(void **state)
{
	struct fake *f = *state;
	put_loadavg(f, 32760);
	struct fproc root = {32700, 1, "root", 'S', 1, 10, 17, 0, 0, NULL, 0};
	start(f, &root);
	expect_events(f, "proc:32700");
	struct fproc a = {32765, 32700, "a", 'S', 1, 10, 17, 0, 0, NULL, 0};
	struct fproc b = {5, 32765, "b", 'S', 1, 10, 17, 0, 0, NULL, 0};
	add_proc(f, &a);
	add_proc(f, &b);
	put_loadavg(f, 6); /* the counter wrapped past pid_max */
	sampler_sample(&f->s, 0.01);
	expect_events(f, "proc:32765 proc:5");
}

static void test_status_only_on_change(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "w", 'R', 10, 1000, 17, 0, 0, NULL, 0};
	start(f, &root);
	const struct sample *s = sampler_sample(&f->s, 0.01);
	const struct proc_values *v = find_values(s, 1000);
	assert_non_null(v);
	assert_int_equal(v->v[PF_RSS], 4000);
	assert_int_equal(v->v[PF_ANON], 3900);
	assert_int_equal(v->v[PF_FILE], 100);
	assert_int_equal(v->v[PF_PEAK], 4000);
	/* status claims a spike, but stat says nothing faulted in: status is not even read. */
	put_status(f, 1000, 4000, 9000);
	put(f, "1000/clear_refs", "");
	s = sampler_sample(&f->s, 0.02);
	v = find_values(s, 1000);
	assert_int_equal(v->v[PF_PEAK], 4000);
	/* It faulted, but status was read 20 ms ago: not yet; stat's RSS, the larger as peak. */
	root.minflt = 20;
	root.rss_pages = 1100;
	put_stat(f, &root);
	s = sampler_sample(&f->s, 0.03);
	v = find_values(s, 1000);
	assert_int_equal(v->v[PF_RSS], 4400);
	assert_int_equal(v->v[PF_PEAK], 4400);
	assert_int_equal(v->v[PF_ANON], 3900); /* the split waits for status */
	/* 50 ms on, status is read: the high-water mark is the peak, and it is reset. */
	root.minflt = 30;
	put_stat(f, &root);
	put_status(f, 1000, 4400, 9000);
	s = sampler_sample(&f->s, 0.07);
	v = find_values(s, 1000);
	assert_int_equal(v->v[PF_PEAK], 9000);
	assert_int_equal(v->v[PF_ANON], 4300);
	assert_int_equal(s->tree.v[TF_PEAK], 9000);
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/1000/clear_refs", f->dir);
	FILE *fp = fopen(path.buf, "r");
	char c = 0;
	assert_int_equal(fread(&c, 1, 1, fp), 1);
	fclose(fp);
	assert_int_equal(c, '5');
	/* A second later status is read again even without a change. */
	put_status(f, 1000, 4000, 5000);
	s = sampler_sample(&f->s, 1.5);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 5000);
	strbuf_release(&path);
}

static void test_exec_zombie_vanish(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 1, 10, 17, 0, 0, NULL, 0};
	start(f, &root);
	struct fproc c1 = {1001, 1000, "sh", 'S', 1, 10, 17, 0, 0, "sh", 0};
	struct fproc c2 = {1002, 1000, "job", 'S', 1, 10, 17, 0, 0, NULL, 0};
	add_proc(f, &c1);
	add_proc(f, &c2);
	put_loadavg(f, 1002);
	sampler_sample(&f->s, 0.01);
	expect_events(f, "proc:1000 proc:1001 proc:1002");
	/* 1001 execs (its code and arguments move); 1002 becomes a zombie that exited with 3. */
	c1.comm = "python3";
	c1.code = 65536;
	put_stat(f, &c1);
	put(f, "1001/cmdline", "python3");
	c2.state = 'Z';
	c2.exit_code = 3 << 8;
	put_stat(f, &c2);
	const struct sample *s = sampler_sample(&f->s, 0.02);
	size_t n;
	struct sampler_event *ev = sampler_events(&f->s, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].type, SAMPLER_EXEC);
	assert_string_equal(ev[0].proc.comm, "python3");
	assert_int_equal(ev[0].proc.cmdline_len, 7);
	assert_int_equal(ev[1].type, SAMPLER_EXIT);
	assert_int_equal(ev[1].exit.pid, 1002);
	assert_int_equal(ev[1].exit.how, EXIT_HOW_EXITED);
	assert_int_equal(ev[1].exit.code, 3);
	assert_int_equal(ev[1].exit.utime, 1500); /* last seen: 150 ticks */
	sampler_clear_events(&f->s);
	assert_int_equal(s->n, 2);
	/* 1001 exiting: no memory map any more, and a new name is no exec. */
	c1.code = -1UL;
	c1.comm = "exiting";
	put_stat(f, &c1);
	sampler_sample(&f->s, 0.025);
	expect_events(f, "");
	/* 1001 vanishes (its stat reads empty, as a reaped process's does). */
	put(f, "1001/stat", "");
	s = sampler_sample(&f->s, 0.03);
	ev = sampler_events(&f->s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].exit.how, EXIT_HOW_UNKNOWN);
	assert_int_equal(ev[0].exit.code, -1);
	sampler_clear_events(&f->s);
	assert_int_equal(s->n, 1);
	/* CPU of processes gone stays in the tree's total. */
	assert_int_equal(s->tree.v[TF_UTIME], 3 * 1500);
}

/*
 * Hundreds of processes found, lost and found again by pid: the sampler's pid table (open
 * addressing, entries moved back on removal) keeps finding every tracked one, through
 * discovery, vanishing, pid reuse and a reaped child, and nothing it let go.
 */
static void test_many_processes(void **state)
{
	struct fake *f = *state;
	enum { N = 600, BASE = 2000 };
	struct fproc root = {1000, 1, "root", 'S', 1, 10, 17, 0, 0, NULL, 0};
	start(f, &root);
	/* Children of the root and of one another, parents after children in pid order too. */
	for (int i = 0; i < N; i++) {
		int ppid = i % 3 == 0 ? 1000 : BASE + (i * 7 + 3) % N;
		if (i % 3 && ppid % 3 != BASE % 3)
			ppid = BASE + (ppid - BASE) / 3 * 3; /* a multiple of 3 away: the root's */
		struct fproc c = {BASE + i, ppid, "c", 'S', 1, 10, 17, 0, 0, NULL, 0};
		add_proc(f, &c);
	}
	put_loadavg(f, BASE + N);
	sampler_sample(&f->s, 0.01);
	assert_int_equal(sampler_count(&f->s), N + 1);
	for (int i = 0; i < N; i++)
		assert_true(sampler_tracks(&f->s, BASE + i));
	sampler_clear_events(&f->s);

	/* Every other one vanishes: the rest must still be found, in whatever slot. */
	for (int i = 0; i < N; i += 2) {
		char rel[32];
		snprintf(rel, sizeof(rel), "%d/stat", BASE + i);
		put(f, rel, "");
	}
	sampler_sample(&f->s, 0.02);
	assert_int_equal(sampler_count(&f->s), N / 2 + 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(sampler_tracks(&f->s, BASE + i), i % 2 == 1);
	sampler_clear_events(&f->s);

	/* Their pids come back as new children of the root (the counter wrapped), later. */
	start_shift = 500;
	for (int i = 0; i < N; i += 2) {
		struct fproc c = {BASE + i, 1000, "again", 'S', 1, 10, 17, 0, 0, NULL, 0};
		put_stat(f, &c);
	}
	put_loadavg(f, BASE + N - 1); /* all the way round: every pid but BASE + N is new */
	sampler_sample(&f->s, 0.03);
	assert_int_equal(sampler_count(&f->s), N + 1);
	for (int i = 0; i < N; i++)
		assert_true(sampler_tracks(&f->s, BASE + i));
	sampler_clear_events(&f->s);

	/* One reaped by memline: gone from the table, the others stay. */
	assert_non_null(sampler_reaped(&f->s, BASE + 7, 0, NULL, 0.04));
	assert_false(sampler_tracks(&f->s, BASE + 7));
	assert_null(sampler_reaped(&f->s, BASE + 7, 0, NULL, 0.04));
	assert_int_equal(sampler_count(&f->s), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(sampler_tracks(&f->s, BASE + i), i != 7);
	pid_t pids[N + 1];
	assert_int_equal(sampler_pids(&f->s, pids, N + 1), N);
}

static void test_early_peak_and_no_reset(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "w", 'R', 10, 1000, 17, 0, 0, NULL, 0};
	start(f, &root);
	sampler_sample(&f->s, 0.01);
	/* A spike of 100 pages 10 ms after a read: too soon to read status again... */
	root.minflt = 110;
	put_stat(f, &root);
	put_status(f, 1000, 4000, 20000);
	const struct sample *s = sampler_sample(&f->s, 0.02);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 4000);
	/* ...then idle: still read as soon as 50 ms have passed, not a second later. */
	s = sampler_sample(&f->s, 0.04);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 4000);
	s = sampler_sample(&f->s, 0.08);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 20000);
	/* A page or two waits for the once-a-second read, whose high-water mark still has it. */
	root.minflt = 112;
	put_stat(f, &root);
	put_status(f, 1000, 4000, 4008);
	s = sampler_sample(&f->s, 0.2);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 4000);
	s = sampler_sample(&f->s, 1.1);
	assert_int_equal(find_values(s, 1000)->v[PF_PEAK], 4008);
	/* clear_refs that cannot be written: VmHWM stays a lifetime peak and counts no more. */
	struct fproc other = {1001, 1000, "o", 'R', 10, 1000, 17, 0, 20000, NULL, 0};
	add_proc(f, &other);
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/1001/clear_refs", f->dir);
	assert_int_equal(unlink(path.buf), 0);
	assert_int_equal(mkdir(path.buf, 0755), 0);
	put_loadavg(f, 1001);
	s = sampler_sample(&f->s, 1.15);
	assert_int_equal(find_values(s, 1001)->v[PF_PEAK], 20000); /* since it started */
	other.minflt = 100;
	put_stat(f, &other);
	s = sampler_sample(&f->s, 1.25);
	assert_int_equal(find_values(s, 1001)->v[PF_PEAK], 4000); /* not a new lifetime peak */
	put_status(f, 1001, 4000, 30000);
	other.minflt = 200;
	put_stat(f, &other);
	s = sampler_sample(&f->s, 1.35);
	assert_int_equal(find_values(s, 1001)->v[PF_PEAK], 30000); /* a new one */
	strbuf_release(&path);
}

static void test_first_seen_mid_exec(void **state)
{
	struct fake *f = *state;
	/* Caught in the middle of an exec: the new name, no code address yet, no command line. */
	struct fproc root = {1000, 1, "sleep", 'R', 1, 10, 17, 0, 0, "", -1UL};
	start(f, &root);
	expect_events(f, "proc:1000");
	sampler_sample(&f->s, 0.01);
	expect_events(f, "");
	/* The program shows: its command line is recorded, once. */
	root.code = 0;
	put_stat(f, &root);
	put(f, "1000/cmdline", "sleep");
	sampler_sample(&f->s, 0.02);
	size_t n;
	struct sampler_event *ev = sampler_events(&f->s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].type, SAMPLER_EXEC);
	assert_int_equal(ev[0].proc.cmdline_len, 5);
	sampler_clear_events(&f->s);
	sampler_sample(&f->s, 0.03);
	expect_events(f, "");
}

/* The collectors' names, in the order the sampler runs them. */
static char *collector_names(const struct sampler *s)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < s->n_collectors; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", s->collectors[i]->name);
	return strbuf_detach(&sb, NULL);
}

static void put_io(struct fake *f, int pid, long rchar)
{
	char rel[64], buf[256];
	snprintf(rel, sizeof(rel), "%d/io", pid);
	snprintf(buf, sizeof(buf),
		 "rchar: %ld\nwchar: 2\nsyscr: 1\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: "
		 "8192\ncancelled_write_bytes: 0\n",
		 rchar);
	put(f, rel, buf);
}

static void test_collectors(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "w", 'S', 10, 1000, 17, 0, 0, NULL, 0};
	add_proc(f, &root);
	put(f, "1000/smaps_rollup",
	    "00400000-7fff00000000 ---p 00000000 00:00 0  [rollup]\n"
	    "Rss:                4000 kB\nPss:                2500 kB\n");
	put_io(f, 1000, 100);
	/* Without --pss the table has no smaps collector, and PSS is never read. */
	start_with(f, &root, false);
	char *names = collector_names(&f->s);
	assert_string_equal(names, "stat vm status io threads");
	free(names);
	const struct sample *s = sampler_sample(&f->s, 0.01);
	assert_int_equal(find_values(s, 1000)->v[PF_PSS], -1);
	assert_int_equal(find_values(s, 1000)->v[PF_RCHAR], 100);
	sampler_release(&f->s);
	procfs_release(&f->fs);

	start_with(f, &root, true);
	names = collector_names(&f->s);
	assert_string_equal(names, "stat vm status smaps io threads");
	free(names);
	s = sampler_sample(&f->s, 0.01);
	assert_int_equal(find_values(s, 1000)->v[PF_PSS], 2500);
	/* Nothing changed: status is not due, so neither smaps nor io is read. */
	put(f, "1000/smaps_rollup", "Rss: 4000 kB\nPss: 1000 kB\n");
	put_io(f, 1000, 200);
	s = sampler_sample(&f->s, 0.5);
	assert_int_equal(find_values(s, 1000)->v[PF_PSS], 2500);
	assert_int_equal(find_values(s, 1000)->v[PF_RCHAR], 100);
	/* It faulted: status is read early, smaps with it, but io waits for its second. */
	root.minflt = 40;
	put_stat(f, &root);
	s = sampler_sample(&f->s, 0.6);
	assert_int_equal(find_values(s, 1000)->v[PF_PSS], 1000);
	assert_int_equal(find_values(s, 1000)->v[PF_RCHAR], 100);
	/* A second after the last read: all three again. */
	s = sampler_sample(&f->s, 1.7);
	assert_int_equal(find_values(s, 1000)->v[PF_RCHAR], 200);
}

/* ---- what the kernel's event sources tell ---- */

static void start_self(struct fake *f, const struct fproc *root, pid_t self)
{
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(procfs_init(&f->fs, f->dir, &err), 0);
	struct sampler_options o = {.self = self, .peak_reset = true, .t0 = 0};
	add_proc(f, root);
	sampler_init(&f->s, &f->fs, &o);
	assert_true(sampler_add(&f->s, root->pid, 0));
	strbuf_release(&err);
}

/* An exit report: of a whole process (what), wait status, hwm and CPU (us). */
static void report(struct fake *f, pid_t tid, pid_t tgid, pid_t ppid, enum sampler_exit_what what,
		   int status, long long hwm, long long cpu_us, double t)
{
	struct sampler_exit_report r = {.pid = tid,
					.tgid = tgid,
					.ppid = ppid,
					.what = what,
					.source = EXIT_SRC_TASKSTATS,
					.status = status,
					.hwm = hwm,
					.utime_us = cpu_us,
					.stime_us = cpu_us / 2,
					.start = NAN,
					.end = NAN,
					.end_lo = NAN};
	snprintf(r.comm, sizeof(r.comm), "c%d", (int)tid);
	sampler_exit_report(&f->s, &r, t);
}

static const struct exit_info *nth_exit(struct fake *f, pid_t pid)
{
	size_t n;
	struct sampler_event *ev = sampler_events(&f->s, &n);
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == SAMPLER_EXIT && ev[i].exit.pid == pid)
			return &ev[i].exit;
	return NULL;
}

static void test_exits_before_their_parents(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start(f, &root);
	sampler_events_on(&f->s, SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS);
	expect_events(f, "proc:1000");
	/* A grandchild ends before its parent: nothing is known of 3000 yet. */
	report(f, 3001, 3001, 3000, SAMPLER_EXIT_PROCESS, 3 << 8, 5000, 2000, 0.1);
	/* A stranger's process ends: never the tree's. */
	report(f, 4000, 4000, 1, SAMPLER_EXIT_PROCESS, 0, 100, 0, 0.1);
	expect_events(f, "");
	/* Threads of the child end (their CPU is its), then the child itself. */
	report(f, 3005, 3000, 1000, SAMPLER_EXIT_THREAD, 0, 7000, 1000, 0.11);
	report(f, 3006, 3000, 1000, SAMPLER_EXIT_THREAD, 0, 7000, 1000, 0.11);
	report(f, 3000, 3000, 1000, SAMPLER_EXIT_PROCESS, 9, 8000, 4000, 0.12);
	const struct exit_info *c = nth_exit(f, 3000), *g = nth_exit(f, 3001);
	assert_non_null(c);
	assert_non_null(g);
	assert_int_equal(c->how, EXIT_HOW_KILLED);
	assert_int_equal(c->signal, 9);
	assert_int_equal(c->hwm, 8000);
	assert_int_equal(c->peak, 8000);
	assert_int_equal(c->utime, 6); /* 1 + 1 + 4 ms */
	assert_int_equal(c->source, EXIT_SRC_TASKSTATS);
	assert_int_equal(g->code, 3);
	assert_int_equal(g->peak, 5000);
	size_t n;
	struct sampler_event *ev = sampler_events(&f->s, &n);
	assert_true(ev[0].proc.at_exit);
	assert_int_equal(ev[0].proc.ppid, 1000);
	assert_string_equal(ev[0].proc.comm, "c3000");
	expect_events(f, "proc:3000 exit:3000 proc:3001 exit:3001");
	/* A late report of either, and a fork told after the exit, change nothing. */
	report(f, 3000, 3000, 1000, SAMPLER_EXIT_PROCESS, 9, 8000, 4000, 0.13);
	sampler_fork(&f->s, 3001, 3000, NAN, 0.13);
	expect_events(f, "");
	/* Their ends are in the tree's totals at the next sample. */
	const struct sample *s = sampler_sample(&f->s, 0.2);
	assert_true(s->tree.v[TF_PEAK] >= 13000);
	assert_true(s->tree.v[TF_UTIME] >= 6);
}

static void test_tracked_process_ends_by_report(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	struct fproc child = {1001, 1000, "child", 'S', 5, 50, 17, 0, 0, NULL, 0};
	start(f, &root);
	sampler_events_on(&f->s, SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS);
	/* Told of its fork: tracked at once, before any sample; a stranger's fork is not. */
	add_proc(f, &child);
	sampler_fork(&f->s, 1001, 1000, NAN, 0.01);
	sampler_fork(&f->s, 1003, 1, NAN, 0.01);
	expect_events(f, "proc:1000 proc:1001");
	assert_true(sampler_tracks(&f->s, 1001));
	/* Its leader ends first (others run on): a note; then its last thread. */
	report(f, 1001, 1001, 1000, SAMPLER_EXIT_LEADER, 7 << 8, 6000, 0, 0.02);
	assert_true(sampler_tracks(&f->s, 1001));
	expect_events(f, "");
	child.state = 'Z';
	put_stat(f, &child);
	report(f, 1002, 1001, 1000, SAMPLER_EXIT_PROCESS, 7 << 8, 6500, 0, 0.03);
	const struct exit_info *e = nth_exit(f, 1001);
	assert_non_null(e);
	assert_int_equal(e->code, 7);
	assert_int_equal(e->hwm, 6500);
	assert_int_equal(e->source, EXIT_SRC_TASKSTATS);
	expect_events(f, "exit:1001");
	assert_false(sampler_tracks(&f->s, 1001));
	/* Its zombie is still there for its parent: a sample does not take it for a new one. */
	put_loadavg(f, 1001);
	sampler_sample(&f->s, 0.05);
	expect_events(f, "");
}

static void test_memline_children_end_when_reaped(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 999, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start_self(f, &root, 999);
	sampler_events_on(&f->s, SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS);
	expect_events(f, "proc:1000");
	/* memline's child: the report is a note, the reaping ends it, with the report's hwm. */
	report(f, 1000, 1000, 999, SAMPLER_EXIT_PROCESS, 0, 9000, 0, 0.1);
	expect_events(f, "");
	struct rusage ru = {.ru_maxrss = 12000};
	root.state = 'Z';
	put_stat(f, &root);
	sampler_zombie(&f->s, 1000);
	struct sampler_event *ev = sampler_reaped(&f->s, 1000, 0, &ru, 0.11);
	assert_non_null(ev);
	assert_int_equal(ev->exit.hwm, 9000);
	assert_int_equal(ev->exit.peak, 9000); /* its own address space's, not ru_maxrss */
	assert_int_equal(ev->exit.maxrss, 12000);
	assert_int_equal(ev->exit.source, EXIT_SRC_WAIT4);
	expect_events(f, "exit:1000");
	/* An orphan memline reaps that no sample saw: a record from its zombie and its report. */
	struct fproc orphan = {1010, 999, "orphan", 'Z', 5, 0, 17, 0, 0, NULL, 0};
	add_proc(f, &orphan);
	report(f, 1010, 1010, 999, SAMPLER_EXIT_PROCESS, 2 << 8, 3000, 0, 0.2);
	expect_events(f, "");
	sampler_zombie(&f->s, 1010);
	ev = sampler_reaped(&f->s, 1010, 2 << 8, &ru, 0.21);
	assert_non_null(ev);
	assert_int_equal(ev->exit.code, 2);
	assert_int_equal(ev->exit.hwm, 3000);
	expect_events(f, "proc:1010 exit:1010");
	/* Reaped again (memline was its tracer, then its parent's heir): nothing more. */
	sampler_zombie(&f->s, 1010);
	assert_null(sampler_reaped(&f->s, 1010, 2 << 8, &ru, 0.22));
	expect_events(f, "");
}

static void test_missed_pids(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start(f, &root);
	/* Five pids handed out, one a live stranger, four gone before the sample looked. */
	struct fproc stranger = {1003, 1, "other", 'S', 5, 50, 17, 0, 0, NULL, 0};
	add_proc(f, &stranger);
	put_loadavg(f, 1005);
	sampler_sample(&f->s, 0.01);
	assert_int_equal(sampler_missed(&f->s), 4);
	/* With a source that hears every exit, nothing is missed. */
	sampler_events_on(&f->s, SAMPLER_EV_EXITS);
	assert_int_equal(sampler_missed(&f->s), -1);
	/* Unless it lost some: then the gone pids of that interval count. */
	sampler_events_lost(&f->s);
	put_loadavg(f, 1008);
	sampler_sample(&f->s, 0.02);
	assert_int_equal(sampler_missed(&f->s), 7);
	put_loadavg(f, 1010);
	sampler_sample(&f->s, 0.03);
	assert_int_equal(sampler_missed(&f->s), 7);
}

/* A child's exit record, read at t: it lived life seconds and ended after after. */
static void timed_report(struct fake *f, pid_t pid, long long hwm, double life, double after,
			 double t)
{
	struct sampler_exit_report r = {.pid = pid,
					.tgid = pid,
					.ppid = 1000,
					.what = SAMPLER_EXIT_PROCESS,
					.source = EXIT_SRC_TASKSTATS,
					.status = 0,
					.hwm = hwm,
					.utime_us = 0,
					.stime_us = 0,
					.start = t - life,
					.end = NAN,
					.end_lo = after};
	sampler_exit_report(&f->s, &r, t);
}

static void test_tree_peak_of_children_one_after_another(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start(f, &root);
	sampler_events_on(&f->s, SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS);
	const struct sample *s = sampler_sample(&f->s, 0.0);
	long long base = s->tree.v[TF_PEAK];
	/* Three children one after another, each read right after its end: never together. */
	timed_report(f, 3001, 100000, 0.08, 0.095, 0.1);
	timed_report(f, 3002, 120000, 0.08, 0.195, 0.2);
	timed_report(f, 3003, 110000, 0.08, 0.295, 0.3);
	s = sampler_sample(&f->s, 1.0);
	assert_int_equal(s->tree.v[TF_PEAK] - base, 120000);
	/* Two that lived at once, and one read late (its end could have been any time since the
	 * previous read): all three may have met. */
	timed_report(f, 3004, 100000, 0.2, 1.25, 1.3);
	timed_report(f, 3005, 50000, 0.1, 1.25, 1.3);
	timed_report(f, 3006, 70000, 0.05, 1.0, 1.9);
	s = sampler_sample(&f->s, 2.0);
	assert_int_equal(s->tree.v[TF_PEAK] - base, 220000);
	/* Exact fork times (the connector) and lifetimes: one after another again. */
	sampler_fork(&f->s, 3007, 1000, 2.1, 2.11);
	sampler_fork(&f->s, 3008, 1000, 2.3, 2.31);
	timed_report(f, 3007, 100000, 0.1, 2.0, 2.5);
	timed_report(f, 3008, 90000, 0.1, 2.0, 2.5);
	s = sampler_sample(&f->s, 3.0);
	assert_int_equal(s->tree.v[TF_PEAK] - base, 100000);
}

static void test_news_forgotten(void **state)
{
	struct fake *f = *state;
	struct fproc root = {1000, 1, "sh", 'S', 10, 100, 17, 0, 0, NULL, 0};
	start(f, &root);
	sampler_events_on(&f->s, SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS);
	expect_events(f, "proc:1000");
	/* An exit whose parent no sample found stays a while, then is forgotten. */
	report(f, 3001, 3001, 3000, SAMPLER_EXIT_PROCESS, 0, 100, 0, 0.0);
	for (double t = 0.5; t < 4; t += 0.5)
		sampler_sample(&f->s, t);
	report(f, 3000, 3000, 1000, SAMPLER_EXIT_PROCESS, 0, 100, 0, 4.0);
	expect_events(f, "proc:3000 exit:3000");
}

static void put_smaps(struct fake *f, int pid, long rss, long pss, long private_kib)
{
	char rel[64], buf[256];
	snprintf(rel, sizeof(rel), "%d/smaps_rollup", pid);
	snprintf(buf, sizeof(buf),
		 "00400000-7fff00000000 ---p 00000000 00:00 0  [rollup]\nRss: %ld kB\nPss: %ld "
		 "kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: %ld kB\nAnonymous: %ld kB\nPss_Anon: %ld "
		 "kB\n",
		 rss, pss, private_kib, rss - 100, pss - 100 > 0 ? pss - 100 : 0);
	put(f, rel, buf);
}

/* The job's memory by PSS (collect-pss.c): the kernel has smaps_rollup (self/smaps_rollup). */
static void start_pss(struct fake *f, const struct fproc *root, double budget)
{
	char dir[96];
	snprintf(dir, sizeof(dir), "%s/self", f->dir);
	mkdir(dir, 0755);
	put(f, "self/smaps_rollup", "Rss: 1 kB\nPss: 1 kB\n");
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(procfs_init(&f->fs, f->dir, &err), 0);
	struct sampler_options o = {.peak_reset = true, .pss_budget = budget};
	add_proc(f, root);
	sampler_init(&f->s, &f->fs, &o);
	assert_true(sampler_add(&f->s, root->pid, 0));
	strbuf_release(&err);
}

static void test_job_pss(void **state)
{
	struct fake *f = *state;
	/* 4000 KiB, of which 3000 private, 1000 shared with processes outside the tree. */
	struct fproc root = {1000, 1, "w", 'S', 10, 1000, 17, 0, 0, NULL, 0};
	start_pss(f, &root, SAMPLER_PSS_BUDGET);
	put_smaps(f, 1000, 4000, 3500, 3000);
	assert_int_equal(f->s.method, MEM_PSS);
	const struct sample *s = sampler_sample(&f->s, 0.01);
	assert_int_equal(s->tree.v[TF_RSS], 4000);
	assert_int_equal(s->tree.v[TF_JOB], 3500); /* read at once: never read, its error is big */
	/* It gains 400 KiB of its own: between reads, the estimate adds them. */
	root.rss_pages = 1100;
	put_stat(f, &root);
	s = sampler_sample(&f->s, 0.02);
	assert_int_equal(s->tree.v[TF_JOB], 3900);
	/* It forks (the child keeps its pages, copy-on-write): the child starts at 0, and the
	 * family is read as one, whose shares sum to what the parent held. */
	struct fproc child = {1001, 1000, "w", 'S', 10, 1100, 17, 0, 0, NULL, 0};
	add_proc(f, &child);
	put_smaps(f, 1000, 4400, 2100, 100);
	put_smaps(f, 1001, 4400, 1800, 0);
	put_loadavg(f, 1001);
	s = sampler_sample(&f->s, 0.03);
	assert_int_equal(s->tree.v[TF_RSS], 8800);
	assert_int_equal(s->tree.v[TF_JOB], 3900);
	assert_int_equal(s->tree.v[TF_JOB_PEAK], 3900);
	/* The child exits: the pages it shared are its parent's alone now, which is read again at
	 * once (its family changed); only the child's own pages left the job. */
	put(f, "1001/stat", "");
	put_smaps(f, 1000, 4400, 3900, 3900);
	s = sampler_sample(&f->s, 0.04);
	assert_int_equal(s->tree.v[TF_JOB], 3900);
	assert_int_equal(s->tree.v[TF_JOB_PEAK], 3900);
	sampler_release(&f->s);
	procfs_release(&f->fs);

	/* Without a budget there is no PSS: the job's memory is the RSS sum. */
	start_pss(f, &root, 0);
	assert_int_equal(f->s.method, MEM_RSS);
	s = sampler_sample(&f->s, 0.01);
	assert_int_equal(s->tree.v[TF_JOB], 4400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_only_on_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_zombie_vanish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_peak_and_no_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_seen_mid_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_thread_has_no_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exits_before_their_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracked_process_ends_by_report, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_memline_children_end_when_reaped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missed_pids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_news_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_peak_of_children_one_after_another, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_job_pss, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
