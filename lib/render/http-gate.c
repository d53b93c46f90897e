/*
 * http-gate: connections held until their request's headers are in; the contract is in
 * http-gate.h.
 *
 * One thread, one epoll set: the listening socket (level-triggered), an eventfd that
 * http_gate_stop() writes, and each waiting connection (edge-triggered: a wakeup when more
 * bytes come, since peeking consumes nothing). A waiting connection's bytes are peeked
 * (MSG_PEEK) into one buffer of max_head bytes; once they hold the empty line that ends the
 * headers (after the request line: empty lines before it do not count), or max_head bytes
 * without it (libmicrohttpd then answers 414 or 431), the connection leaves the epoll set and
 * goes to admit(). The slots are in a fixed array; a slot's deadline is its accept time plus
 * HTTP_GATE_DEADLINE, and epoll_wait sleeps until the earliest. A connection past it gets
 * "408 Request Timeout" (if the socket takes it at once) and is closed.
 *
 * When accept() runs out of descriptors, the connection waiting longest is closed and accept
 * tried again; with nothing waiting, the listening socket leaves the epoll set for 100 ms so
 * that the loop does not spin.
 */
#include "render/http-gate.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define GATE_WAKE   UINT64_MAX
#define GATE_LISTEN (UINT64_MAX - 1)
#define GATE_PAUSE  0.1 /* seconds the listening socket rests when out of descriptors */

struct slot {
	int fd; /* -1: free */
	double deadline;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct http_gate {
	int listen_fd;
	bool shared_addr;
	size_t max_head;
	http_gate_admit_fn *admit;
	void *arg;
	int epfd;
	int wake;
	pthread_t thread;
	char *peek; /* max_head bytes */
	struct slot slots[HTTP_GATE_MAX];
	atomic_uint waiting;
	bool listening;	    /* the listening socket is in the epoll set */
	double pause_until; /* when it goes back, if not */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void slot_close(struct http_gate *g, struct slot *s)
{
	close(s->fd); /* which takes it out of the epoll set */
	s->fd = -1;
	atomic_fetch_sub(&g->waiting, 1);
}

static struct slot *oldest(struct http_gate *g)
{
	struct slot *o = NULL;
	for (size_t i = 0; i < HTTP_GATE_MAX; i++)
		if (g->slots[i].fd >= 0 && (!o || g->slots[i].deadline < o->deadline))
			o = &g->slots[i];
	return o;
}

static bool same_addr(const struct slot *s, const struct sockaddr_storage *a)
{
	if (s->addr.ss_family != a->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)&s->addr)->sin_addr,
			       &((const struct sockaddr_in *)a)->sin_addr, sizeof(struct in_addr));
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)&s->addr)->sin6_addr,
			       &((const struct sockaddr_in6 *)a)->sin6_addr,
			       sizeof(struct in6_addr));
	return true; /* a unix socket's clients have no address of their own */
}

/* Whether buf holds a request line and the empty line that ends the headers after it. */
static bool head_complete(const char *buf, size_t n)
{
	size_t i = 0;
	while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
		i++; /* empty lines before the request line */
	for (; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n'))
			return true;
	}
	return false;
}

static void take(struct http_gate *g, int fd, const struct sockaddr_storage *addr,
		 socklen_t addrlen)
{
	if (!g->shared_addr) {
		unsigned same = 0;
		for (size_t i = 0; i < HTTP_GATE_MAX; i++)
			if (g->slots[i].fd >= 0 && same_addr(&g->slots[i], addr))
				same++;
		if (same >= HTTP_GATE_PER_ADDR) {
			close(fd);
			return;
		}
	}
	struct slot *s = NULL;
	for (size_t i = 0; i < HTTP_GATE_MAX && !s; i++)
		if (g->slots[i].fd < 0)
			s = &g->slots[i];
	if (!s) { /* full: the one waiting longest makes room */
		s = oldest(g);
		slot_close(g, s);
	}
	s->fd = fd;
	s->deadline = now() + HTTP_GATE_DEADLINE;
	s->addr = *addr;
	s->addrlen = addrlen;
	atomic_fetch_add(&g->waiting, 1);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
				 .data.u64 = (uint64_t)(s - g->slots)};
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		slot_close(g, s);
}

static void accept_all(struct http_gate *g)
{
	for (;;) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd = accept4(g->listen_fd, (struct sockaddr *)&addr, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			take(g, fd, &addr, len);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			struct slot *o = oldest(g);
			if (o) {
				slot_close(g, o);
				continue;
			}
			epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->listen_fd, NULL);
			g->listening = false;
			g->pause_until = now() + GATE_PAUSE;
		}
		return; /* EAGAIN, or nothing to do but wait */
	}
}

/* Looks at what a waiting connection sent so far: hands it on, closes it, or lets it wait. */
static void examine(struct http_gate *g, struct slot *s)
{
	ssize_t n = recv(s->fd, g->peek, g->max_head, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) { /* gone, or an error */
		slot_close(g, s);
		return;
	}
	if ((size_t)n < g->max_head && !head_complete(g->peek, (size_t)n))
		return;
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	int fd = s->fd;
	s->fd = -1;
	atomic_fetch_sub(&g->waiting, 1);
	g->admit(g->arg, fd, (const struct sockaddr *)&s->addr, s->addrlen);
}

static void expire(struct http_gate *g, double t)
{
	static const char timeout[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
				      "Content-Length: 0\r\n\r\n";
	for (size_t i = 0; i < HTTP_GATE_MAX; i++) {
		struct slot *s = &g->slots[i];
		if (s->fd >= 0 && s->deadline <= t) {
			ssize_t w = send(s->fd, timeout, sizeof(timeout) - 1,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)w; /* a courtesy: closed either way */
			slot_close(g, s);
		}
	}
}

static void *gate_thread(void *arg)
{
	struct http_gate *g = arg;
	struct epoll_event ev[64];
	for (;;) {
		double t = now(), next = -1;
		struct slot *o = oldest(g);
		if (o)
			next = o->deadline;
		if (!g->listening && (next < 0 || g->pause_until < next))
			next = g->pause_until;
		int ms = next < 0 ? -1 : next <= t ? 0 : (int)((next - t) * 1000) + 1;
		int n = epoll_wait(g->epfd, ev, 64, ms);
		for (int i = 0; i < n; i++) {
			uint64_t what = ev[i].data.u64;
			if (what == GATE_WAKE)
				return NULL;
			if (what == GATE_LISTEN)
				accept_all(g);
			else if (what < HTTP_GATE_MAX && g->slots[what].fd >= 0)
				examine(g, &g->slots[what]);
		}
		t = now();
		expire(g, t);
		if (!g->listening && t >= g->pause_until) {
			struct epoll_event le = {.events = EPOLLIN, .data.u64 = GATE_LISTEN};
			g->listening = epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->listen_fd, &le) == 0;
			if (!g->listening)
				g->pause_until = t + GATE_PAUSE;
		}
	}
}

struct http_gate *http_gate_start(int listen_fd, bool shared_addr, size_t max_head,
				  http_gate_admit_fn *admit, void *arg, struct strbuf *err)
{
	struct http_gate *g = calloc(1, sizeof(*g));
	if (!g || !(g->peek = malloc(max_head))) {
		free(g);
		strbuf_addstr(err, "out of memory");
		return NULL;
	}
	g->listen_fd = listen_fd;
	g->shared_addr = shared_addr;
	g->max_head = max_head;
	g->admit = admit;
	g->arg = arg;
	atomic_init(&g->waiting, 0);
	for (size_t i = 0; i < HTTP_GATE_MAX; i++)
		g->slots[i].fd = -1;
	const char *what = "fcntl"; /* accept_all takes connections until accept() would block */
	int fl = fcntl(listen_fd, F_GETFL);
	g->epfd = g->wake = -1;
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	what = "epoll_create1";
	if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	what = "eventfd";
	if ((g->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		goto fail;
	what = "epoll_ctl";
	struct epoll_event we = {.events = EPOLLIN, .data.u64 = GATE_WAKE};
	struct epoll_event le = {.events = EPOLLIN, .data.u64 = GATE_LISTEN};
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->wake, &we) < 0 ||
	    epoll_ctl(g->epfd, EPOLL_CTL_ADD, listen_fd, &le) < 0)
		goto fail;
	g->listening = true;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&g->thread, NULL, gate_thread, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		errno = e;
		what = "pthread_create";
		goto fail;
	}
	return g;
fail:
	strbuf_addf(err, "cannot start the server's gate: %s: %s", what, strerror(errno));
	if (g->wake >= 0)
		close(g->wake);
	if (g->epfd >= 0)
		close(g->epfd);
	free(g->peek);
	free(g);
	return NULL;
}

unsigned http_gate_waiting(struct http_gate *g)
{
	return atomic_load(&g->waiting);
}

void http_gate_stop(struct http_gate *g)
{
	if (!g)
		return;
	uint64_t one = 1;
	while (write(g->wake, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(g->thread, NULL);
	for (size_t i = 0; i < HTTP_GATE_MAX; i++)
		if (g->slots[i].fd >= 0)
			slot_close(g, &g->slots[i]);
	close(g->wake);
	close(g->epfd);
	free(g->peek);
	free(g);
}
