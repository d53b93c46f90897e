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

#include "model/live.h"
#include "util/strbuf.h"

struct http_server;

/*
 * Serves l on spec "[ADDR:]PORT" (ADDR defaults to 127.0.0.1; an IPv6 address in brackets,
 * [::1]:8080; PORT 0 picks a free port). Every request must carry token (copied; NULL: a new
 * random one, http_token_new()), as ?token= (which sets a cookie), the cookie or an
 * Authorization: Bearer header. Or on spec "unix:PATH": a unix stream socket made at PATH
 * with mode 0600 (whatever the umask; an old socket of this user that nobody listens on is
 * replaced, anything else at PATH is an error), removed by http_stop; its mode guards it, so
 * it asks for no token (token is ignored) and no Host. Starts its own threads, which block
 * every signal. Returns NULL with a one-line message in err (bad spec, port in use, ...). l
 * must outlive the server: stop the server (http_stop) before the live model (live_stop).
 */
struct http_server *http_start(struct live *l, const char *spec, const char *token,
			       struct strbuf *err);
/*
 * http_start in two steps, for a caller that must know the port is free before it starts
 * what it serves (`memline run --serve` fails before running the command): http_listen binds
 * and listens (connections wait in the backlog), http_serve starts answering them from l.
 * http_listen returns NULL and http_serve -1 with a one-line message in err; http_stop frees
 * a server that only listened too.
 */
struct http_server *http_listen(const char *spec, const char *token, struct strbuf *err);
int http_serve(struct http_server *s, struct live *l, struct strbuf *err);
/*
 * The URL to open, e.g. "http://127.0.0.1:43123/?token=..." (the real port when PORT was 0):
 * it holds the token, so it is for the user who started memline.
 */
const char *http_url(const struct http_server *s);
/* The address without the token, e.g. "http://127.0.0.1:43123/"; both "unix:PATH" for a socket. */
const char *http_address(const struct http_server *s);
/*
 * Stops serving and frees s, in bounded steps (a few seconds at most, for slow clients):
 * waits for the follower to read what the log holds (a recording that just ended wrote its
 * end), lets each event stream send the rest and its last message ("end", with ?final=1 the
 * page's data as the run ended; or "stop"), and waits until the requests under way are
 * answered. NULL is ignored.
 */
void http_stop(struct http_server *s);

/*
 * The text of /metrics for run (its lock held by the caller): the run's, the tree's, the job's,
 * each process's of the newest sample and, for a log of format 3, each live thread's of them
 * (memline_thread_heap_bytes, memline_thread_cpu_seconds_total by mode); docs/live.md.
 */
void http_metrics(const struct run *run, struct strbuf *out);

/* ---- the token ---- */

#define HTTP_TOKEN_BYTES 24  /* random bytes of a new token: 48 hex digits */
#define HTTP_TOKEN_MIN	 32  /* characters of a token, at least (a file's) */
#define HTTP_TOKEN_MAX	 256 /* and at most */

/* A new token: HTTP_TOKEN_BYTES from getrandom() in hex. Returns -1 with a message in err. */
int http_token_new(char **token, struct strbuf *err);
/*
 * The token kept in the file at path (so that it stays the same from run to run: what
 * Prometheus reads), made and written there, mode 0600, when there is no such file. A file
 * that is there must be a regular file of this user that nobody else can write and others
 * cannot read (group reading is allowed), holding one line of HTTP_TOKEN_MIN to HTTP_TOKEN_MAX
 * characters from A-Z a-z 0-9 - . _ ~. Sets *token (the caller frees it) and returns 0, or
 * returns one of these with a one-line message in err:
 */
enum {
	HTTP_TOKEN_UNREADABLE = -1, /* it is there but cannot be read */
	HTTP_TOKEN_UNWRITABLE = -2, /* it is not there and cannot be made */
	HTTP_TOKEN_REFUSED = -3,    /* it is not a token file memline can trust */
};
int http_token_file(const char *path, char **token, struct strbuf *err);
/* Whether s (len bytes) may be a token: the length and characters above. */
bool http_token_valid(const char *s, size_t len);

#define HTTP_UNIX_PATH_MAX 108 /* bytes of a unix socket's path, its NUL included */

/* Where to listen: an IPv4 or IPv6 address and a port, or a unix socket's path. */
struct http_spec {
	int ip;			       /* 4 or 6; 0 for a unix socket */
	unsigned char addr[16];	       /* network byte order: 4 bytes for IPv4 */
	unsigned port;		       /* 0 picks a free port */
	char path[HTTP_UNIX_PATH_MAX]; /* the unix socket's */
};
/*
 * The spec parser: "[ADDR:]PORT" into out ("localhost" is 127.0.0.1; no other name is looked
 * up), or "unix:PATH". Returns -1 with a one-line message in err.
 */
int http_parse_spec(const char *spec, struct http_spec *out, struct strbuf *err);

/* ---- how a request is answered, decided without I/O (lib/render/http-request.c) ---- */

/* The parts of a request that decide its answer, as the client sent them; NULL: not sent. */
struct http_request {
	const char *method;
	const char *target;	   /* the request target: the path, then ?query, not decoded */
	const char *host;	   /* the Host header */
	const char *cookie;	   /* the Cookie header */
	const char *authorization; /* the Authorization header */
	const char *last_event_id; /* the Last-Event-ID header */
};

/* What the server asks of every request. */
struct http_policy {
	bool loopback;		 /* it listens on loopback: Host must name it (DNS rebinding) */
	const char *token;	 /* every request must carry it; NULL: none (a unix socket) */
	const char *cookie_name; /* the cookie that carries it, "memline-token-PORT" */
};

enum http_route {
	HTTP_REFUSE,   /* answer status with message, and nothing of the log */
	HTTP_REDIRECT, /* 303 to location, setting the cookie to the token */
	HTTP_PAGE,     /* / and /index.html */
	HTTP_DATA,     /* /data.json */
	HTTP_EVENTS,   /* /events */
	HTTP_METRICS,  /* /metrics */
	HTTP_LOG,      /* /log */
};

struct http_decision {
	enum http_route route;
	unsigned status;	/* 200, 303, or the refusal's: 401, 403, 404, 405 */
	const char *message;	/* HTTP_REFUSE: the body's one line, a static string */
	long long from;		/* HTTP_EVENTS: Last-Event-ID, else ?from=: where to start; or -1 */
	bool final;		/* HTTP_EVENTS: ?final=1, the end event carries the page's data */
	struct strbuf location; /* HTTP_REDIRECT: the target without its token */
};

/*
 * Decides how to answer r under p: in this order, a Host that is not a loopback name when p
 * says so is 403; a request without p's token (as ?token=, as the cookie named
 * p->cookie_name, or as "Authorization: Bearer TOKEN"; compared in constant time) 401; a
 * method other than GET and HEAD 405; a path other than the five (and /index.html), compared
 * as written (nothing is decoded), 404. A request that carries the token in its query is sent
 * (303) to the same path and query without it, the cookie set, so that the token does not
 * stay in the browser's history. Initialises d; the caller releases d->location. Returns -1
 * when out of memory (d is then a refusal with status 500).
 */
int http_decide(const struct http_policy *p, const struct http_request *r, struct http_decision *d);
/* Whether a Host header names this machine's loopback: localhost, 127.x.y.z, [::1]; any port. */
bool http_host_is_loopback(const char *host);

#endif
