/*
 * events: the table of the kernel's event sources, opening them for a recording, reading them,
 * and the netlink plumbing they share. See events.h.
 */
#include "record/events.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* In the order they are read: forks before the exits that follow them. */
static const struct event_source *const sources[] = {
	&event_proc_connector,
	&event_taskstats,
};
_Static_assert(sizeof(sources) / sizeof(sources[0]) <= EVENTS_MAX, "more sources than room");

/* Has fd raise sig, owned by this process, when it becomes readable. */
static bool raise_on_input(int fd, int sig)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETOWN, getpid()) == 0 && fcntl(fd, F_SETSIG, sig) == 0 &&
	       fcntl(fd, F_SETFL, fl | O_ASYNC) == 0;
}

/*
 * Whether memline is in the kernel's initial pid and user namespaces, where alone it sends
 * process events; false with why. A pid namespace nested in another gives NSpid more than one
 * pid (where /proc is the parent's); the initial one has the kernel's thread kthreadd as pid 2
 * (a container's /proc has another process there, or none); the initial user namespace maps
 * every uid to itself. Where the files say nothing (old kernels, hidden pids, fixture trees),
 * the sources are tried, and say so themselves.
 */
static bool initial_namespaces(struct procfs *fs, struct strbuf *why)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = true;
	if (procfs_read_file(fs, "self/status", &sb)) {
		const char *ns = strstr(sb.buf, "\nNSpid:");
		if (ns) {
			ns += strlen("\nNSpid:");
			size_t n = 0;
			for (const char *p = ns; *p && *p != '\n';) {
				p += strspn(p, " \t");
				if (*p && *p != '\n')
					n++;
				p += strcspn(p, " \t\n");
			}
			if (n > 1) {
				strbuf_addstr(
					why,
					"memline is not in the initial pid namespace (a "
					"container): the kernel sends process events only there");
				ok = false;
			}
		}
	}
	struct proc_stat two;
	if (ok && procfs_pid_stat(fs, 2, &two) && two.pid == 2 && strcmp(two.comm, "kthreadd")) {
		strbuf_addstr(why,
			      "memline is not in the initial pid namespace (a container, where "
			      "pid 2 is not the kernel's kthreadd): the kernel sends process "
			      "events only there");
		ok = false;
	}
	if (ok && procfs_read_file(fs, "self/uid_map", &sb)) {
		/* its first line: "0 0 4294967295" in the initial namespace */
		unsigned long v[3];
		char *p = sb.buf, *end;
		size_t k = 0;
		for (; k < 3; k++, p = end) {
			errno = 0;
			v[k] = strtoul(p, &end, 10);
			if (errno || end == p)
				break;
		}
		if (k == 3 && !(v[0] == 0 && v[1] == 0 && v[2] == 4294967295UL)) {
			strbuf_addstr(why,
				      "memline is not in the initial user namespace (a "
				      "container): the kernel sends process events only there");
			ok = false;
		}
	}
	strbuf_release(&sb);
	return ok;
}

void events_open(struct events *ev, struct sampler *s, struct procfs *fs, unsigned want, int sig)
{
	memset(ev, 0, sizeof(*ev));
	ev->s = s;
	struct strbuf ns = STRBUF_INIT;
	bool initial = !want || initial_namespaces(fs, &ns);
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		const struct event_source *src = sources[i];
		if (!(want & src->bit))
			continue;
		struct strbuf why = STRBUF_INIT;
		void *st = initial ? src->open(s, fs, &why) : NULL;
		if (!initial)
			strbuf_addstr(&why, ns.buf);
		if (st && sig > 0 && !raise_on_input(src->fd(st), sig)) {
			strbuf_reset(&why);
			strbuf_addf(&why, "cannot have its socket raise a signal: %s",
				    strerror(errno));
			src->close(st);
			st = NULL;
		}
		if (!st) {
			ev->off[ev->n_off] = src->name;
			ev->why[ev->n_off++] = strdup(why.len ? why.buf : "cannot be opened");
			strbuf_release(&why);
			continue;
		}
		strbuf_release(&why);
		ev->on[ev->n].src = src;
		ev->on[ev->n].st = st;
		ev->on[ev->n].fd = src->fd(st);
		ev->n++;
		sampler_events_on(s, src->tells);
	}
	strbuf_release(&ns);
}

long events_read(struct events *ev, double t)
{
	long lost = 0;
	if (ev->reading)
		return 0; /* its buffers are being parsed */
	ev->reading = true;
	for (size_t i = 0; i < ev->n; i++)
		lost += ev->on[i].src->read(ev->on[i].st, ev->s, t);
	ev->reading = false;
	if (lost) {
		ev->overruns += lost;
		sampler_events_lost(ev->s);
	}
	return lost;
}

void events_release(struct events *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		ev->on[i].src->close(ev->on[i].st);
	for (size_t i = 0; i < ev->n_off; i++)
		free(ev->why[i]);
	memset(ev, 0, sizeof(*ev));
}

/* ---- netlink ---- */

int events_netlink(int proto, unsigned groups, int bytes, struct strbuf *why)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0) {
		strbuf_addf(why, "cannot open a netlink socket: %s", strerror(errno));
		return -1;
	}
	/* Root may go past net.core.rmem_max; anyone else gets what it allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = groups};
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		strbuf_addf(why, "cannot bind its netlink socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

ssize_t events_recv(int fd, void *buf, size_t size)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, size};
		struct msghdr msg = {.msg_name = &from,
				     .msg_namelen = sizeof(from),
				     .msg_iov = &iov,
				     .msg_iovlen = 1};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno == ENOBUFS ? -1 : -2;
		}
		/* Only the kernel (port 0) speaks for processes; a cut datagram is not read. */
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0 ||
		    (msg.msg_flags & MSG_TRUNC) || n == 0)
			continue;
		return n;
	}
}

bool events_wait(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

const struct nlmsghdr *events_nlmsg(const char **p, size_t *rem, bool *bad)
{
	if (*rem < sizeof(struct nlmsghdr))
		return NULL;
	const struct nlmsghdr *h = (const struct nlmsghdr *)*p;
	if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > *rem) {
		*bad = true;
		return NULL;
	}
	size_t step = NLMSG_ALIGN(h->nlmsg_len);
	if (step > *rem)
		step = *rem;
	*p += step;
	*rem -= step;
	return h;
}
