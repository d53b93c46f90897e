/*
 * test_events: the parsers of the kernel's event sources (lib/record/events.h) on datagrams a
 * real kernel sent (tests/fixtures/kernel, captured as memwork ran "threads 2 1M 10 exit 3":
 * two threads that return, then the leader's exit(3)): taskstats' records of each thread, the
 * last with AGROUP and the TGID aggregate beside it (which is not a record); the proc
 * connector's ack, fork, exec and exits. And what is not what the kernel sends: a message
 * longer than the datagram, an attribute longer than its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record/events.h"

#include <linux/cn_proc.h>
#include <linux/netlink.h>

/* A fixture: its kind byte, the taskstats family id, and the datagram (aligned, owned). */
struct datagram {
	char kind;
	int family;
	char *buf;
	size_t len;
};

static void load(const char *name, struct datagram *d)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	char path[512];
	snprintf(path, sizeof(path), "%s/kernel/%s", dir ? dir : "tests/fixtures", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char head[3];
	assert_int_equal(fread(head, 1, 3, f), 3);
	d->kind = (char)head[0];
	d->family = head[1] | head[2] << 8;
	d->buf = malloc(65536);
	d->len = fread(d->buf, 1, 65536, f);
	fclose(f);
}

struct records {
	struct taskstats_exit x[8];
	int n;
};

static void take(const struct taskstats_exit *x, void *data)
{
	struct records *r = data;
	if (r->n < 8)
		r->x[r->n++] = *x;
}

static void test_taskstats_records(void **state)
{
	(void)state;
	struct records r = {.n = 0};
	for (int i = 0; i < 3; i++) {
		char name[32];
		struct datagram d;
		snprintf(name, sizeof(name), "taskstats-%d.bin", i);
		load(name, &d);
		assert_int_equal(d.kind, 'T');
		/* one record a datagram: the aggregate of the thread group is not one */
		assert_int_equal(taskstats_parse(d.buf, d.len, d.family, take, &r), 1);
		assert_int_equal(taskstats_parse(d.buf, d.len, d.family + 1, NULL, NULL), 0);
		free(d.buf);
	}
	assert_int_equal(r.n, 3);
	pid_t tgid = r.x[0].tgid;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.x[i].tgid, tgid);
		assert_string_equal(r.x[i].comm, "memwork");
		assert_true(r.x[i].version >= 12);
		assert_true(r.x[i].hiwater_kb >
			    1024); /* the shared address space, 1 MiB a thread */
		assert_int_equal(r.x[i].ppid, r.x[0].ppid);
	}
	/* the threads return (status 0); the leader is the last, with its exit(3) */
	assert_true(r.x[0].pid != tgid && r.x[1].pid != tgid);
	assert_int_equal(r.x[0].exitcode, 0);
	assert_false(r.x[0].flag & 0x20);
	assert_int_equal(r.x[2].pid, tgid);
	assert_int_equal(r.x[2].exitcode, 3 << 8);
	assert_true(r.x[2].flag & 0x20); /* AGROUP: its process's last thread */
	assert_true(r.x[2].tgetime_us >= r.x[2].etime_us);
}

struct events_seen {
	struct proc_event_info e[16];
	int n;
};

static void take_event(const struct proc_event_info *e, void *data)
{
	struct events_seen *s = data;
	if (s->n < 16)
		s->e[s->n++] = *e;
}

static void test_connector_events(void **state)
{
	(void)state;
	struct events_seen s = {.n = 0};
	for (int i = 0; i < 8; i++) {
		char name[32];
		struct datagram d;
		snprintf(name, sizeof(name), "connector-%d.bin", i);
		load(name, &d);
		assert_int_equal(d.kind, 'C');
		assert_true(proc_events_parse(d.buf, d.len, take_event, &s) >= 0);
		free(d.buf);
	}
	int acks = 0, forks = 0, execs = 0, exits = 0;
	pid_t child = -1;
	for (int i = 0; i < s.n; i++) {
		const struct proc_event_info *e = &s.e[i];
		if (e->what == PROC_EVENT_NONE) {
			acks++;
			assert_int_equal(e->ack, 101); /* the capture's 100, plus one */
			assert_int_equal(e->ack_err, 0);
		} else if (e->what == PROC_EVENT_FORK) {
			forks++;
			if (e->pid == e->tgid)
				child = e->tgid;
		} else if (e->what == PROC_EVENT_EXEC) {
			execs++;
		} else if (e->what == PROC_EVENT_EXIT) {
			exits++;
			if (e->pid == e->tgid)
				assert_int_equal(e->status, 3 << 8);
		}
	}
	assert_int_equal(acks, 1);
	assert_true(forks >= 1 && execs == 1 && exits >= 1);
	assert_true(child > 0);
}

static void test_malformed(void **state)
{
	(void)state;
	struct datagram d;
	load("taskstats-2.bin", &d);
	/* cut short: the message no longer fits */
	assert_int_equal(taskstats_parse(d.buf, d.len - 9, d.family, NULL, NULL), -1);
	/* an attribute that claims more than its message holds: skipped, not read past */
	struct nlmsghdr *h = (struct nlmsghdr *)d.buf;
	struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + 4 /* GENL_HDRLEN */);
	a->nla_len = 0xfff0;
	assert_int_equal(taskstats_parse(d.buf, d.len, d.family, NULL, NULL), 0);
	/* a header that claims more than the datagram */
	h->nlmsg_len = (uint32_t)d.len + 64;
	assert_int_equal(taskstats_parse(d.buf, d.len, d.family, NULL, NULL), -1);
	assert_int_equal(proc_events_parse(d.buf, d.len, NULL, NULL), -1);
	assert_int_equal(proc_events_parse(d.buf, 3, NULL, NULL), 0);
	free(d.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taskstats_records),
		cmocka_unit_test(test_connector_events),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
