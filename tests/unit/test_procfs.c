/*
 * test_procfs: the /proc parsers (lib/record/procfs.c, lib/record/oom.c) on files captured from a
 * real kernel under $MEMLINE_FIXTURES/proc-files: a normal process, a name with ") (" in it, a
 * zombie with its exit code, a thread, a kernel thread (no memory lines), cgroup v1/v2 files,
 * loadavg, meminfo, vmstat, mountinfo; and cut-off or empty input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record/cgroup.h"
#include "record/procfs.h"

static struct strbuf load(const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	strbuf_addf(&path, "%s/proc-files/%s", dir ? dir : "tests/fixtures", name);
	FILE *f = fopen(path.buf, "r");
	if (!f)
		fail_msg("cannot open fixture %s", path.buf);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	strbuf_release(&path);
	return sb;
}

static void test_stat_normal(void **state)
{
	(void)state;
	struct strbuf sb = load("stat-normal.txt");
	struct proc_stat st;
	assert_true(procfs_parse_stat(sb.buf, sb.len, &st));
	assert_int_equal(st.pid, strtol(sb.buf, NULL, 10));
	assert_string_equal(st.comm, "cp");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.threads, 1);
	assert_true(st.rss > 0);
	assert_true(st.vsize > 0);
	assert_true(st.starttime > 0);
	assert_int_equal(st.exit_signal, 17);
	assert_int_equal(st.exit_code, 0);
	assert_int_equal(st.flags, 0x400000); /* PF_RANDOMIZE */
	assert_false(st.flags & PF_EXITING_FLAG);
	strbuf_release(&sb);
}

static void test_stat_weird_name(void **state)
{
	(void)state;
	struct strbuf sb = load("stat-weird-comm.txt");
	struct proc_stat st;
	assert_true(procfs_parse_stat(sb.buf, sb.len, &st));
	assert_string_equal(st.comm, "we) ird (name");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 3592);
	assert_int_equal(st.rss, 393);
	assert_int_equal(st.starttime, 94325);
	strbuf_release(&sb);
}

static void test_stat_zombie_and_thread(void **state)
{
	(void)state;
	struct strbuf z = load("stat-zombie.txt"), t = load("stat-thread.txt");
	struct proc_stat st;
	assert_true(procfs_parse_stat(z.buf, z.len, &st));
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.exit_code, 3 << 8); /* a wait status: exit(3) */
	assert_int_equal(st.rss, 0);
	assert_true(st.flags & PF_EXITING_FLAG); /* it exited */
	assert_true(procfs_parse_stat(t.buf, t.len, &st));
	assert_int_equal(st.exit_signal, -1); /* a thread, not a process */
	assert_int_equal(st.threads, 2);
	strbuf_release(&z);
	strbuf_release(&t);
}

static void test_stat_cut_off(void **state)
{
	(void)state;
	struct strbuf sb = load("stat-normal.txt");
	struct proc_stat st;
	assert_false(procfs_parse_stat(sb.buf, 0, &st));
	assert_false(procfs_parse_stat(sb.buf, 12, &st)); /* inside the name */
	const char *close = strrchr(sb.buf, ')');
	assert_false(procfs_parse_stat(sb.buf, (size_t)(close - sb.buf) + 12, &st));
	assert_false(procfs_parse_stat("garbage", 7, &st));
	strbuf_release(&sb);
}

static void test_status(void **state)
{
	(void)state;
	struct strbuf sb = load("status-normal.txt");
	struct proc_status st;
	assert_true(procfs_parse_status(sb.buf, sb.len, &st));
	assert_true(st.vm_hwm >= st.vm_rss);
	assert_true(st.rss_anon >= 0 && st.rss_file >= 0 && st.rss_shmem >= 0);
	assert_int_equal(st.rss_anon + st.rss_file + st.rss_shmem, st.vm_rss);
	assert_int_equal(st.vm_swap, 0);
	assert_true(st.vm_size > st.vm_rss);
	assert_true(st.tgid > 0);
	assert_int_equal(procfs_parse_kv(sb.buf, sb.len, "VmHWM"), st.vm_hwm);
	strbuf_release(&sb);
}

static void test_status_without_memory(void **state)
{
	(void)state;
	const char *names[] = {"status-kthread.txt", "status-zombie.txt"};
	for (size_t i = 0; i < 2; i++) {
		struct strbuf sb = load(names[i]);
		struct proc_status st;
		assert_true(procfs_parse_status(sb.buf, sb.len, &st)); /* Tgid is there */
		assert_int_equal(st.vm_hwm, -1);
		assert_int_equal(st.rss_anon, -1);
		assert_int_equal(st.vm_swap, -1);
		strbuf_release(&sb);
	}
	struct proc_status st;
	assert_false(procfs_parse_status("", 0, &st));
}

static void test_io_smaps_meminfo_vmstat(void **state)
{
	(void)state;
	struct strbuf io = load("io.txt"), sm = load("smaps_rollup.txt"), mi = load("meminfo.txt"),
		      vm = load("vmstat.txt");
	struct proc_io pio;
	assert_true(procfs_parse_io(io.buf, io.len, &pio));
	assert_true(pio.rchar > 0);
	assert_true(pio.read_bytes >= 0 && pio.write_bytes >= 0);
	assert_true(procfs_parse_kv(sm.buf, sm.len, "Pss") > 0);
	struct proc_smaps smaps;
	assert_true(procfs_parse_smaps(sm.buf, sm.len, &smaps));
	assert_int_equal(smaps.rss, 2016);
	assert_int_equal(smaps.pss, 488);
	assert_int_equal(smaps.private_kib, 160 + 160);
	assert_int_equal(smaps.anon, 160);
	assert_int_equal(smaps.pss_anon, 160);
	assert_false(procfs_parse_smaps("Rss: 4 kB\n", 10, &smaps));
	long long resident, shared;
	assert_true(procfs_parse_statm("2458 412 343 5 0 133 0\n", 23, &resident, &shared));
	assert_int_equal(resident, 412);
	assert_int_equal(shared, 343);
	assert_false(procfs_parse_statm("2458\n", 5, &resident, &shared));
	assert_true(procfs_parse_kv(sm.buf, sm.len, "Rss") >=
		    procfs_parse_kv(sm.buf, sm.len, "Pss"));
	long long total = procfs_parse_kv(mi.buf, mi.len, "MemTotal");
	long long avail = procfs_parse_kv(mi.buf, mi.len, "MemAvailable");
	assert_true(total > 0 && avail > 0 && avail <= total);
	assert_int_equal(procfs_parse_kv(mi.buf, mi.len, "NoSuchKey"), -1);
	assert_true(procfs_parse_counter(vm.buf, vm.len, "oom_kill") >= 0);
	/* "oom_kill" must not match a longer name that starts with it, nor a substring. */
	assert_int_equal(procfs_parse_counter("oom_kill_x 5\noom_kill 7\n", 24, "oom_kill"), 7);
	assert_int_equal(procfs_parse_counter("xoom_kill 5\n", 12, "oom_kill"), -1);
	strbuf_release(&io);
	strbuf_release(&sm);
	strbuf_release(&mi);
	strbuf_release(&vm);
}

static void test_loadavg(void **state)
{
	(void)state;
	struct strbuf sb = load("loadavg.txt");
	const char *last = strrchr(sb.buf, ' ');
	assert_int_equal(procfs_parse_loadavg_last_pid(sb.buf, sb.len), strtol(last + 1, NULL, 10));
	assert_int_equal(procfs_parse_loadavg_last_pid("0.00 0.01 0.05 1/80", 19), -1);
	strbuf_release(&sb);
}

static void check_cgroup(const char *file, const char *want, bool want_v2)
{
	struct strbuf sb = load(file), path = STRBUF_INIT;
	bool v2 = !want_v2;
	assert_true(procfs_parse_cgroup(sb.buf, sb.len, &path, &v2));
	assert_string_equal(path.buf, want);
	assert_int_equal(v2, want_v2);
	strbuf_release(&sb);
	strbuf_release(&path);
}

static void test_cgroup(void **state)
{
	(void)state;
	check_cgroup("cgroup-v1-multi.txt", "/job/42", false);
	check_cgroup("cgroup-v2.txt", "/user.slice/user-1000.slice/session-2.scope", true);
	struct strbuf sb = load("cgroup-v1-hybrid.txt"), path = STRBUF_INIT;
	bool v2 = true;
	assert_true(procfs_parse_cgroup(sb.buf, sb.len, &path, &v2));
	assert_false(v2); /* the v1 memory controller wins over the empty cgroup2 hierarchy */
	assert_true(!strncmp(path.buf, "/process_api/", 13));
	assert_false(procfs_parse_cgroup("5:cpu:/x\n", 9, &path, &v2));
	strbuf_release(&sb);
	strbuf_release(&path);
}

static void test_mountinfo(void **state)
{
	(void)state;
	struct strbuf sb = load("mountinfo-hybrid.txt");
	struct cgroup_mounts m = {0};
	cgroup_mounts_parse(sb.buf, sb.len, &m);
	assert_non_null(m.v1);
	assert_non_null(m.v2);
	assert_string_equal(m.v1, "/sys/fs/cgroup/memory");
	assert_string_equal(m.v2, "/sys/fs/cgroup/unified");
	cgroup_mounts_release(&m);
	const char *escaped = "30 1 0:26 / /my\\040cg rw - cgroup2 cgroup2 rw\n";
	cgroup_mounts_parse(escaped, strlen(escaped), &m);
	assert_null(m.v1);
	assert_string_equal(m.v2, "/my cg");
	cgroup_mounts_release(&m);
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_normal),
		cmocka_unit_test(test_stat_weird_name),
		cmocka_unit_test(test_stat_zombie_and_thread),
		cmocka_unit_test(test_stat_cut_off),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_without_memory),
		cmocka_unit_test(test_io_smaps_meminfo_vmstat),
		cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_mountinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
