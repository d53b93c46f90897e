/*
 * http: memline's HTTP server (libmicrohttpd), serving a followed log (live.h) to browsers and
 * to Prometheus while the recording runs (`memline run --serve`, `memline view --serve`):
 *   /           the interactive HTML view (plot.h) that follows the recording
 *   /data.json  the data the page draws, for the page to fetch again as the log grows
 *   /events     a server-sent-events stream of the log's new lines, byte offsets as ids
 *   /metrics    Prometheus text exposition format 0.0.4, metric names memline_*
 *   /log        the log so far
 * docs/live.md tells more. Nothing here prints or exits: errors come back in err.
 */
#ifndef MEMLINE_HTTP_H
#define MEMLINE_HTTP_H

#include "live.h"
#include "strbuf.h"

struct http_server;

/*
 * Serves l on spec "[ADDR:]PORT" (ADDR defaults to 127.0.0.1; an IPv6 address in brackets,
 * [::1]:8080; PORT 0 picks a free port). Starts its own threads, which block every signal.
 * Returns NULL with a one-line message in err (bad spec, port in use, ...). l must outlive the
 * server: stop the server (http_stop) before the live model (live_stop).
 */
struct http_server *http_start(struct live *l, const char *spec, struct strbuf *err);
/*
 * http_start in two steps, for a caller that must know the port is free before it starts
 * what it serves (`memline run --serve` fails before running the command): http_listen binds
 * and listens (connections wait in the backlog), http_serve starts answering them from l.
 * http_listen returns NULL and http_serve -1 with a one-line message in err; http_stop frees
 * a server that only listened too.
 */
struct http_server *http_listen(const char *spec, struct strbuf *err);
int http_serve(struct http_server *s, struct live *l, struct strbuf *err);
/* The URL it serves, e.g. "http://127.0.0.1:43123/" (the real port when PORT was 0). */
const char *http_url(const struct http_server *s);
/*
 * Ends the event streams (after they sent what the log holds, waiting a few seconds at most
 * for slow clients), stops serving and frees s. NULL is ignored.
 */
void http_stop(struct http_server *s);

/* Where to listen: an IPv4 or IPv6 address and a port. */
struct http_spec {
	int ip;			/* 4 or 6 */
	unsigned char addr[16]; /* network byte order: 4 bytes for IPv4 */
	unsigned port;		/* 0 picks a free port */
};
/*
 * The spec parser: "[ADDR:]PORT" into out ("localhost" is 127.0.0.1; no other name is looked
 * up). Returns -1 with a one-line message in err.
 */
int http_parse_spec(const char *spec, struct http_spec *out, struct strbuf *err);

/* ---- how a request is answered, decided without I/O (lib/http-request.c) ---- */

/* The parts of a request that decide its answer, as the client sent them; NULL: not sent. */
struct http_request {
	const char *method;
	const char *target;	   /* the request target: the path, then ?query, not decoded */
	const char *host;	   /* the Host header */
	const char *last_event_id; /* the Last-Event-ID header */
};

/* What the server asks of every request. */
struct http_policy {
	bool loopback; /* it listens on a loopback address: Host must name one (DNS rebinding) */
};

enum http_route {
	HTTP_REFUSE,  /* answer status with message, and nothing of the log */
	HTTP_PAGE,    /* / and /index.html */
	HTTP_DATA,    /* /data.json */
	HTTP_EVENTS,  /* /events */
	HTTP_METRICS, /* /metrics */
	HTTP_LOG,     /* /log */
};

struct http_decision {
	enum http_route route;
	unsigned status;     /* 200, or the refusal's: 403 Host, 404 path, 405 method */
	const char *message; /* HTTP_REFUSE: the body's one line, a static string */
	long long from;	     /* HTTP_EVENTS: Last-Event-ID, else ?from=: where to start; or -1 */
};

/*
 * Decides how to answer r under p: in this order, a Host that is not a loopback name when p
 * says so is 403, a method other than GET and HEAD 405, a path other than the five (and
 * /index.html), compared as written (nothing is decoded), 404.
 */
void http_decide(const struct http_policy *p, const struct http_request *r,
		 struct http_decision *d);
/* Whether a Host header names this machine's loopback: localhost, 127.x.y.z, [::1]; any port. */
bool http_host_is_loopback(const char *host);

#endif
