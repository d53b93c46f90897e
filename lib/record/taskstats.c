/*
 * taskstats: the kernel's exit record of every thread (generic netlink family "TASKSTATS",
 * linux/taskstats.h), registered for every possible CPU so that a CPU brought online later is
 * covered too (the kernel sends a task's record to the listeners of the CPU it exits on).
 *
 * A record comes per thread (TASKSTATS_TYPE_AGGR_PID); the one of a process's last thread
 * carries AGROUP. What is a process's: its exit status is that last record's (a process that
 * called exit_group gives every thread its code; one whose threads all returned, 0); its peak
 * is that record's hiwater_rss, the high-water mark of the address space the threads shared
 * since memline last reset it (never the image before its last exec); its CPU time is the sum
 * of its threads' records; its start, the group's elapsed time back from now. The kernel's
 * TGID aggregate carries only delay accounting: it is skipped.
 *
 * Opening: the family's id, then a TASKSTATS_CMD_GET of memline itself (which only root may
 * do: EPERM says "not root"; its record tells the struct's version and whether CONFIG_TASK_XACCT
 * gives high-water marks), then TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, acked (EINVAL: memline is
 * not in the initial pid namespace). The socket's buffer is 4 MiB: a few thousand records,
 * which the loop reads as they come; an overflow (ENOBUFS) is counted by the caller.
 */
#include "record/events.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TS_RCVBUF   (4 << 20)
#define TS_WAIT_MS  1000 /* for each answer while it opens */
#define TS_MSG_SIZE 65536

#ifndef AGROUP
#define AGROUP 0x20
#endif

struct ts {
	int fd;
	int family;
	bool xacct; /* its records have high-water marks */
	char *cpus; /* the mask registered, for the deregistration */
	char *buf;  /* TS_MSG_SIZE */
	uint32_t seq;
	struct sampler *s;
	double t;      /* when what is being read was received */
	double prev_t; /* when the previous read found nothing more: what is read now ended after */
	int err;       /* of the ack awaited, while opening */
	bool acked;
	bool got_self;
	unsigned version;
	uint64_t self_hwm;
};

/* ---- parsing ---- */

static const struct nlattr *nla_next(const struct nlattr *a, size_t *rem)
{
	size_t len = NLA_ALIGN(a->nla_len);
	if (len > *rem)
		len = *rem;
	*rem -= len;
	return (const struct nlattr *)((const char *)a + len);
}

static bool nla_ok(const struct nlattr *a, size_t rem)
{
	return rem >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= rem;
}

static void take_stats(const void *p, size_t len, struct taskstats_exit *x)
{
	struct taskstats ts;
	memset(&ts, 0, sizeof(ts));
	memcpy(&ts, p, len < sizeof(ts) ? len : sizeof(ts));
	x->version = ts.version;
	x->pid = (pid_t)ts.ac_pid;
	x->tgid = (pid_t)ts.ac_tgid;
	x->ppid = (pid_t)ts.ac_ppid;
	x->exitcode = ts.ac_exitcode;
	x->flag = ts.ac_flag;
	memcpy(x->comm, ts.ac_comm, sizeof(x->comm) - 1);
	x->comm[sizeof(x->comm) - 1] = '\0';
	x->utime_us = ts.ac_utime;
	x->stime_us = ts.ac_stime;
	x->hiwater_kb = ts.hiwater_rss;
	x->etime_us = ts.ac_etime;
	x->tgetime_us = ts.ac_tgetime;
}

/* An AGGR_PID attribute: a PID and a STATS inside. */
static bool parse_aggr(const struct nlattr *a, struct taskstats_exit *x)
{
	size_t rem = a->nla_len - NLA_HDRLEN;
	const struct nlattr *in = (const struct nlattr *)((const char *)a + NLA_HDRLEN);
	bool stats = false;
	pid_t pid = -1;
	for (; nla_ok(in, rem); in = nla_next(in, &rem)) {
		size_t len = in->nla_len - NLA_HDRLEN;
		const char *data = (const char *)in + NLA_HDRLEN;
		if (in->nla_type == TASKSTATS_TYPE_PID && len >= sizeof(__u32)) {
			__u32 v;
			memcpy(&v, data, sizeof(v));
			pid = (pid_t)v;
		} else if (in->nla_type == TASKSTATS_TYPE_STATS &&
			   len >= offsetof(struct taskstats, ac_comm)) {
			take_stats(data, len, x);
			stats = true;
		}
	}
	if (!stats || pid <= 0)
		return false;
	x->pid = pid;
	return true;
}

int taskstats_parse(const void *buf, size_t len, int family,
		    void (*fn)(const struct taskstats_exit *x, void *data), void *data)
{
	int count = 0;
	size_t rem = len;
	const char *p = buf;
	bool bad = false;
	for (const struct nlmsghdr *h; (h = events_nlmsg(&p, &rem, &bad));) {
		if (h->nlmsg_type != family || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
			continue;
		const struct genlmsghdr *g = NLMSG_DATA(h);
		if (g->cmd != TASKSTATS_CMD_NEW)
			continue;
		size_t arem = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		const struct nlattr *a =
			(const struct nlattr *)((const char *)NLMSG_DATA(h) + GENL_HDRLEN);
		for (; nla_ok(a, arem); a = nla_next(a, &arem)) {
			struct taskstats_exit x;
			memset(&x, 0, sizeof(x));
			if (a->nla_type == TASKSTATS_TYPE_AGGR_PID && parse_aggr(a, &x)) {
				count++;
				if (fn)
					fn(&x, data);
			}
		}
	}
	return bad ? -1 : count;
}

/* ---- talking to the family ---- */

/* Sends a request of cmd with one attribute; flags NLM_F_ACK to have its error said. */
static int send_cmd(struct ts *t, uint16_t type, uint8_t cmd, uint16_t attr, const void *val,
		    size_t len, uint16_t flags)
{
	size_t total = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + len);
	char *msg = calloc(1, total);
	if (!msg)
		return -1;
	struct nlmsghdr *h = (struct nlmsghdr *)msg;
	h->nlmsg_len = (uint32_t)total;
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++t->seq;
	struct genlmsghdr *g = NLMSG_DATA(h);
	g->cmd = cmd;
	g->version = TASKSTATS_GENL_VERSION;
	struct nlattr *a = (struct nlattr *)((char *)g + GENL_HDRLEN);
	a->nla_type = attr;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, val, len);
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(t->fd, msg, total, 0, (struct sockaddr *)&to, sizeof(to));
	while (n < 0 && errno == EINTR);
	free(msg);
	return n == (ssize_t)total ? 0 : -1;
}

static double now_since(const struct sampler *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - s->opt.t0;
}

static void on_exit_record(const struct taskstats_exit *x, void *data)
{
	struct ts *t = data;
	if (!t->got_self && x->pid == getpid()) {
		/* the answer to the GET of memline itself, while opening */
		t->got_self = true;
		t->version = x->version;
		t->self_hwm = x->hiwater_kb;
		return;
	}
	if (!t->s || x->tgid <= 0)
		return;
	struct sampler_exit_report r = {
		.pid = x->pid,
		.tgid = x->tgid,
		.ppid = x->ppid,
		.what = (x->flag & AGROUP)  ? SAMPLER_EXIT_PROCESS
			: x->pid == x->tgid ? SAMPLER_EXIT_LEADER
					    : SAMPLER_EXIT_THREAD,
		.source = EXIT_SRC_TASKSTATS,
		.status = (int)(x->exitcode & 0xffff),
		.hwm = t->xacct && x->hiwater_kb > 0 ? (long long)x->hiwater_kb : -1,
		.utime_us = (long long)x->utime_us,
		.stime_us = (long long)x->stime_us,
		/* the group's elapsed time, back from now (a record is read within moments) */
		.start = t->t - (double)x->tgetime_us * 1e-6,
		.end = (double)NAN, /* before it was read, after the previous read: end_lo */
		.end_lo = t->prev_t,
	};
	memcpy(r.comm, x->comm, sizeof(r.comm));
	sampler_exit_report(t->s, &r, t->t);
}

/* The family's id from a CTRL_CMD_NEWFAMILY answer, or -1. */
static int family_id(const char *buf, size_t len)
{
	size_t rem = len;
	bool bad = false;
	for (const struct nlmsghdr *h; (h = events_nlmsg(&buf, &rem, &bad));) {
		if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return e->error < 0 ? e->error : -1;
		}
		if (h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
			continue;
		size_t arem = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		const struct nlattr *a =
			(const struct nlattr *)((const char *)NLMSG_DATA(h) + GENL_HDRLEN);
		for (; nla_ok(a, arem); a = nla_next(a, &arem))
			if (a->nla_type == CTRL_ATTR_FAMILY_ID && a->nla_len >= NLA_HDRLEN + 2) {
				uint16_t id;
				memcpy(&id, (const char *)a + NLA_HDRLEN, sizeof(id));
				return id;
			}
	}
	return -1;
}

/* Notes the acks (NLMSG_ERROR) of the request awaited in a datagram. */
static void take_acks(struct ts *t, const char *buf, size_t len)
{
	size_t rem = len;
	bool bad = false;
	for (const struct nlmsghdr *h; (h = events_nlmsg(&buf, &rem, &bad));)
		if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == t->seq &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			t->acked = true;
			t->err = -e->error;
		}
}

/*
 * Reads answers until done() or TS_WAIT_MS pass; exit records that come meanwhile go to the
 * sampler. False on a timeout or a failed read.
 */
static bool await(struct ts *t, bool (*done)(const struct ts *t))
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done(t)) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= TS_WAIT_MS || !events_wait(t->fd, (int)(TS_WAIT_MS - ms)))
			return done(t);
		ssize_t n = events_recv(t->fd, t->buf, TS_MSG_SIZE);
		if (n < -1)
			return false;
		if (n <= 0)
			continue;
		take_acks(t, t->buf, (size_t)n);
		t->t = t->s ? now_since(t->s) : 0;
		taskstats_parse(t->buf, (size_t)n, t->family, on_exit_record, t);
	}
	return true;
}

static bool got_ack(const struct ts *t)
{
	return t->acked;
}

static bool got_self(const struct ts *t)
{
	return t->got_self || t->acked;
}

static void ts_close(void *st)
{
	struct ts *t = st;
	if (!t)
		return;
	if (t->cpus && t->fd >= 0)
		send_cmd(t, (uint16_t)t->family, TASKSTATS_CMD_GET,
			 TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, t->cpus, strlen(t->cpus) + 1, 0);
	if (t->fd >= 0)
		close(t->fd);
	free(t->cpus);
	free(t->buf);
	free(t);
}

/* The kernel's possible CPUs as a list ("0-63"), for the registration. */
static char *possible_cpus(struct procfs *fs)
{
	struct strbuf sb = STRBUF_INIT;
	if (procfs_read_sys_file(fs, "/sys/devices/system/cpu/possible", &sb)) {
		while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == ' '))
			sb.buf[--sb.len] = '\0';
	}
	if (!sb.len || sb.oom) {
		long n = sysconf(_SC_NPROCESSORS_CONF);
		strbuf_reset(&sb);
		strbuf_addf(&sb, "0-%ld", n > 1 ? n - 1 : 0);
	}
	char *out = sb.oom ? NULL : strdup(sb.buf);
	strbuf_release(&sb);
	return out;
}

static void *ts_open(struct sampler *s, struct procfs *fs, struct strbuf *why)
{
	struct ts *t = calloc(1, sizeof(*t));
	if (!t || !(t->buf = malloc(TS_MSG_SIZE))) {
		free(t);
		strbuf_addstr(why, "out of memory");
		return NULL;
	}
	t->s = NULL; /* nothing goes to the sampler before the registration */
	t->family = -1;
	if ((t->fd = events_netlink(NETLINK_GENERIC, 0, TS_RCVBUF, why)) < 0)
		goto fail;
	/* the family's id */
	const char name[] = TASKSTATS_GENL_NAME;
	if (send_cmd(t, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, name, sizeof(name),
		     0) < 0) {
		strbuf_addf(why, "cannot ask for the taskstats family: %s", strerror(errno));
		goto fail;
	}
	for (int tries = 0; t->family < 0 && tries < 8; tries++) {
		if (!events_wait(t->fd, TS_WAIT_MS))
			break;
		ssize_t n = events_recv(t->fd, t->buf, TS_MSG_SIZE);
		if (n > 0)
			t->family = family_id(t->buf, (size_t)n);
		if (t->family < -1)
			break;
	}
	if (t->family < 0) {
		strbuf_addstr(why, t->family == -ENOENT
					   ? "the kernel has no taskstats (CONFIG_TASKSTATS)"
					   : "the kernel did not answer for its taskstats family");
		goto fail;
	}
	/* a record of memline itself: root only; says the version and if XACCT is in */
	__u32 self = (__u32)getpid();
	if (send_cmd(t, (uint16_t)t->family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_PID, &self,
		     sizeof(self), NLM_F_ACK) < 0 ||
	    !await(t, got_self) || !t->got_self) {
		if (t->acked && (t->err == EPERM || t->err == EACCES))
			strbuf_addstr(why, "not root (it needs CAP_NET_ADMIN)");
		else if (t->acked && t->err)
			strbuf_addf(why, "the kernel refused a taskstats request: %s",
				    strerror(t->err));
		else
			strbuf_addstr(why, "the kernel did not answer a taskstats request");
		goto fail;
	}
	if (t->version < 12) {
		strbuf_addf(why,
			    "the kernel's taskstats (version %u) does not say which process a "
			    "thread is of (version 12 does)",
			    t->version);
		goto fail;
	}
	t->xacct = t->self_hwm > 0;
	if (!(t->cpus = possible_cpus(fs))) {
		strbuf_addstr(why, "out of memory");
		goto fail;
	}
	t->acked = false;
	t->s = s;
	t->prev_t = now_since(s);
	if (send_cmd(t, (uint16_t)t->family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK,
		     t->cpus, strlen(t->cpus) + 1, NLM_F_ACK) < 0 ||
	    !await(t, got_ack) || t->err) {
		if (t->acked && t->err == EINVAL)
			strbuf_addstr(why, "memline is not in the initial pid namespace (a "
					   "container): the kernel sends exit records only there");
		else if (t->acked)
			strbuf_addf(why, "cannot register for exit records: %s", strerror(t->err));
		else
			strbuf_addstr(why, "the kernel did not answer the registration for exit "
					   "records");
		free(t->cpus);
		t->cpus = NULL;
		goto fail;
	}
	return t;
fail:
	ts_close(t);
	return NULL;
}

static int ts_fd(const void *st)
{
	return ((const struct ts *)st)->fd;
}

static long ts_read(void *st, struct sampler *s, double now)
{
	struct ts *t = st;
	long lost = 0;
	t->s = s;
	(void)now;
	for (;;) {
		double before = now_since(s);
		ssize_t n = events_recv(t->fd, t->buf, TS_MSG_SIZE);
		if (n == 0) {
			t->prev_t = before; /* every record sent before then is read */
			break;
		}
		if (n < -1)
			break;
		if (n < 0) {
			lost++;
			continue;
		}
		t->t = now_since(s); /* its task ended before now */
		taskstats_parse(t->buf, (size_t)n, t->family, on_exit_record, t);
	}
	return lost;
}

const struct event_source event_taskstats = {
	.name = "taskstats",
	.bit = EVENTS_TASKSTATS,
	.tells = SAMPLER_EV_EXITS | SAMPLER_EV_PROCESS_ENDS,
	.open = ts_open,
	.fd = ts_fd,
	.read = ts_read,
	.close = ts_close,
};
