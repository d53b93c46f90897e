/*
 * proc-events: the proc connector (NETLINK_CONNECTOR, multicast group CN_IDX_PROC,
 * linux/cn_proc.h): a message for every fork, exec and exit of every thread of the machine, as
 * it happens. A fork of a process of the tree (not a new thread) makes the child part of the
 * tree at once, read before it can exec or end; an exec is recorded at once; an exit of a
 * leader gives its wait status. With taskstats on, exits are used only as notes on tracked
 * processes (taskstats tells the rest, with numbers); alone, an exit of a process the sampler
 * never saw is its end.
 *
 * Opening: bind to the group, send PROC_CN_MCAST_LISTEN and wait for the kernel's ack, which
 * carries the errno of the request (EPERM: not root). The kernel answers nothing to a process
 * outside the initial user and pid namespaces (its pids would not be memline's): no ack in
 * 250 ms means that (events_open looks for those namespaces first, and does not wait where it
 * can tell). Closing sends PROC_CN_MCAST_IGNORE, which the kernel counts.
 */
#include "record/events.h"

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CN_RCVBUF   (4 << 20)
#define CN_WAIT_MS  250
#define CN_MSG_SIZE 65536

struct cn {
	int fd;
	double mono_to_t; /* a CLOCK_MONOTONIC time in seconds, plus this: the recording's time */
	bool listening;
	uint32_t seq, ack; /* of the request whose ack is awaited */
	bool acked;
	unsigned err;
	char *buf;
	struct sampler *s;
	double t;
};

/* ---- parsing ---- */

int proc_events_parse(const void *buf, size_t len,
		      void (*fn)(const struct proc_event_info *e, void *data), void *data)
{
	int count = 0;
	size_t rem = len;
	const char *p = buf;
	bool bad = false;
	for (const struct nlmsghdr *h; (h = events_nlmsg(&p, &rem, &bad));) {
		if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_ERROR ||
		    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg)))
			continue;
		const struct cn_msg *m = NLMSG_DATA(h);
		size_t room = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct cn_msg));
		if (m->id.idx != CN_IDX_PROC || m->id.val != CN_VAL_PROC || m->len > room ||
		    m->len < offsetof(struct proc_event, event_data))
			continue;
		struct proc_event ev;
		memset(&ev, 0, sizeof(ev));
		memcpy(&ev, m->data, m->len < sizeof(ev) ? m->len : sizeof(ev));
		struct proc_event_info e = {.what = ev.what,
					    .seq = m->seq,
					    .ack = m->ack,
					    .timestamp_ns = ev.timestamp_ns};
		switch (ev.what) {
		case PROC_EVENT_NONE:
			e.ack_err = ev.event_data.ack.err;
			break;
		case PROC_EVENT_FORK:
			e.pid = ev.event_data.fork.child_pid;
			e.tgid = ev.event_data.fork.child_tgid;
			e.ppid = ev.event_data.fork.parent_tgid;
			break;
		case PROC_EVENT_EXEC:
			e.pid = ev.event_data.exec.process_pid;
			e.tgid = ev.event_data.exec.process_tgid;
			break;
		case PROC_EVENT_EXIT:
			e.pid = ev.event_data.exit.process_pid;
			e.tgid = ev.event_data.exit.process_tgid;
			e.status = ev.event_data.exit.exit_code;
			e.ppid = ev.event_data.exit
					 .parent_tgid; /* 0 where the kernel does not say */
			break;
		default:
			continue; /* uid, gid, sid, comm, ptrace, coredump: not ours */
		}
		count++;
		if (fn)
			fn(&e, data);
	}
	return bad ? -1 : count;
}

/* ---- the source ---- */

static void on_event(const struct proc_event_info *e, void *data)
{
	struct cn *c = data;
	if (e->what == PROC_EVENT_NONE) {
		/* the kernel answers with the ack number plus one (and a seq of its own) */
		if (e->ack == c->ack + 1) {
			c->acked = true;
			c->err = e->ack_err;
		}
		return;
	}
	struct sampler *s = c->s;
	if (!s)
		return;
	/* when it happened, on the recording's clock (the kernel stamps it with CLOCK_MONOTONIC) */
	double when = e->timestamp_ns ? (double)e->timestamp_ns * 1e-9 + c->mono_to_t : (double)NAN;
	if (isnan(when) || when > c->t)
		when = c->t;
	if (e->what == PROC_EVENT_FORK) {
		if (e->pid == e->tgid) /* a process, not a thread */
			sampler_fork(s, e->tgid, e->ppid, when, c->t);
	} else if (e->what == PROC_EVENT_EXEC) {
		sampler_exec(s, e->tgid, c->t);
	} else if (e->what == PROC_EVENT_EXIT && e->pid == e->tgid) {
		/* With taskstats on, it tells every end, with more: here the status, in case
		 * taskstats lost it, and when it ended, exactly. */
		struct sampler_exit_report r = {.pid = e->pid,
						.tgid = e->tgid,
						.ppid = e->ppid,
						.what = SAMPLER_EXIT_LEADER,
						.source = EXIT_SRC_CONNECTOR,
						.status = (int)(e->status & 0xffff),
						.hwm = -1,
						.utime_us = -1,
						.stime_us = -1,
						.start = (double)NAN,
						.end = when,
						.end_lo = (double)NAN};
		sampler_exit_report(s, &r, c->t);
	}
}

static int send_op(struct cn *c, enum proc_cn_mcast_op op)
{
	char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))];
	memset(msg, 0, sizeof(msg));
	struct nlmsghdr *h = (struct nlmsghdr *)msg;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(op));
	h->nlmsg_type = NLMSG_DONE;
	h->nlmsg_pid = 0;
	struct cn_msg *m = NLMSG_DATA(h);
	m->id.idx = CN_IDX_PROC;
	m->id.val = CN_VAL_PROC;
	m->seq = ++c->seq;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* told apart from other listeners' acks, which every listener gets */
	m->ack = c->ack = ((uint32_t)getpid() << 12) ^ (uint32_t)now.tv_nsec ^ c->seq;
	m->len = sizeof(op);
	memcpy(m->data, &op, sizeof(op));
	c->acked = false;
	c->err = 0;
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(c->fd, msg, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)h->nlmsg_len ? 0 : -1;
}

static double now_since(const struct sampler *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - s->opt.t0;
}

/* What turns a CLOCK_MONOTONIC time into the recording's (CLOCK_BOOTTIME since t0) now. */
static double mono_offset(const struct sampler *s)
{
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	return now_since(s) - ((double)m.tv_sec + (double)m.tv_nsec * 1e-9);
}

static void cn_close(void *st)
{
	struct cn *c = st;
	if (!c)
		return;
	if (c->listening)
		send_op(c, PROC_CN_MCAST_IGNORE);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

static void *cn_open(struct sampler *s, struct procfs *fs, struct strbuf *why)
{
	(void)fs;
	struct cn *c = calloc(1, sizeof(*c));
	if (!c || !(c->buf = malloc(CN_MSG_SIZE))) {
		free(c);
		strbuf_addstr(why, "out of memory");
		return NULL;
	}
	if ((c->fd = events_netlink(NETLINK_CONNECTOR, CN_IDX_PROC, CN_RCVBUF, why)) < 0)
		goto fail;
	if (send_op(c, PROC_CN_MCAST_LISTEN) < 0) {
		strbuf_addf(why, "cannot ask the proc connector for events: %s", strerror(errno));
		goto fail;
	}
	c->s = s;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!c->acked) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= CN_WAIT_MS || !events_wait(c->fd, (int)(CN_WAIT_MS - ms)))
			break;
		ssize_t n = events_recv(c->fd, c->buf, CN_MSG_SIZE);
		if (n < -1)
			break;
		if (n > 0) {
			c->t = now_since(s);
			c->mono_to_t = mono_offset(s);
			proc_events_parse(c->buf, (size_t)n, on_event, c);
		}
	}
	if (!c->acked) {
		strbuf_addstr(why,
			      "the proc connector did not answer (memline is not in the "
			      "initial pid namespace, or the kernel lacks CONFIG_PROC_EVENTS)");
		goto fail;
	}
	if (c->err) {
		strbuf_addstr(why, c->err == EPERM ? "not root (it needs CAP_NET_ADMIN)"
						   : strerror((int)c->err));
		goto fail;
	}
	c->listening = true;
	return c;
fail:
	cn_close(c);
	return NULL;
}

static int cn_fd(const void *st)
{
	return ((const struct cn *)st)->fd;
}

static long cn_read(void *st, struct sampler *s, double t)
{
	struct cn *c = st;
	long lost = 0;
	c->s = s;
	for (;;) {
		ssize_t n = events_recv(c->fd, c->buf, CN_MSG_SIZE);
		if (n == 0 || n < -1)
			break;
		if (n < 0) {
			lost++;
			continue;
		}
		(void)t;
		c->t = now_since(s); /* it came before now: its events happened before */
		c->mono_to_t = mono_offset(s);
		proc_events_parse(c->buf, (size_t)n, on_event, c);
	}
	return lost;
}

const struct event_source event_proc_connector = {
	.name = "proc-connector",
	.bit = EVENTS_CONNECTOR,
	.tells = SAMPLER_EV_FORKS,
	.open = cn_open,
	.fd = cn_fd,
	.read = cn_read,
	.close = cn_close,
};
