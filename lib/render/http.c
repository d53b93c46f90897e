/*
 * http: the HTTP server of the live views, on libmicrohttpd (MHD); the contract is in http.h.
 *
 * Threading: MHD runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION), at most
 * HTTP_MAX_CONNECTIONS of them, HTTP_PER_ADDR of one client address (on an address other
 * machines reach; loopback and unix socket clients share one, uncapped). It gets its connections
 * from the gate (http-gate.h), which accepts them and hands on only those whose request's
 * headers came within a few seconds, so that slow clients cannot hold the threads; every
 * response closes its connection, so that every request passes the gate. An event stream is
 * a long response whose content reader waits on the live model's condition variable until
 * the log grows; a thread per connection may block there, so a stream is plain sequential
 * code with no suspend/resume bookkeeping, and a request for / or /metrics never waits behind
 * a stream. Fifty clients are fifty mostly sleeping threads with small stacks; the connection
 * limit bounds them. The threads are started with every signal blocked, so signals stay with
 * the recorder's own thread.
 *
 * Requests: what to answer is http_decide()'s (http-request.c, without I/O), from the target
 * as the URI callback got it (query included) and the headers that matter: only GET and HEAD
 * (else 405), on five exact paths (else 404). MHD's URL unescaping is switched off
 * (unescape_none), so "/%2e%2e/" or "/log%00" is compared as written and matches nothing; no
 * path from a request ever reaches the file system: /log and /events read
 * the followed log only, through a descriptor of their own opened on the follower's
 * (/proc/self/fd/N, so a log renamed or replaced by then is still the one followed). MHD caps a
 * request's memory (HTTP_MEMORY_LIMIT): a huge URL or header gets 414 or 431. When the server
 * listens on a loopback address, a request must name a loopback host (Host: localhost,
 * 127.x.y.z or [::1]), so that a web page cannot reach it through DNS rebinding (403 else).
 *
 * The token: every user of the machine can reach 127.0.0.1, so every request must carry a
 * token (192 bits from getrandom, or the one of a token file), as ?token= (answered by a
 * redirect to the URL without it that sets the cookie), the cookie memline-token-PORT, or
 * Authorization: Bearer (else 401). The URL memline prints holds it.
 *
 * /events reads the log file itself rather than the model, which keeps no raw lines: each
 * complete line from the stream's position on is one message, "id: OFFSET" (the byte offset
 * after the line, where a reconnecting client resumes: Last-Event-ID or ?from=OFFSET) and
 * "data: LINE". A new stream starts at the end of what the follower has read. It waits on the
 * model's version (bumped by the follower when the log grows), sends a comment every
 * HTTP_HEARTBEAT seconds while nothing happens, and ends after the log's end, or when
 * http_stop() asks, once it sent what the file holds. A finished log with nothing to send
 * answers 204, which tells an EventSource not to reconnect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#undef PF_FILE /* <sys/socket.h>'s old name of PF_LOCAL: record.h's field of the same name */

#include "render/http-gate.h"
#include "render/http.h"
#include "render/plot.h"
#include "model/run.h"

#define HTTP_MAX_CONNECTIONS 256	 /* being answered, at once */
#define HTTP_PER_ADDR	     64		 /* of one client address (every local user is 127.0.0.1) */
#define HTTP_MEMORY_LIMIT    (32 * 1024) /* bytes of one request (URL, headers) */
#define HTTP_STACK	     (1024 * 1024)
#define HTTP_TIMEOUT	     60	  /* seconds a connection may stay idle */
#define HTTP_HEARTBEAT	     15.0 /* seconds between comments on a quiet event stream */
#define HTTP_CATCH_UP	     2.0  /* seconds http_stop waits for the follower to read the log */
#define HTTP_STOP_WAIT	     3.0  /* and for the streams and requests to end */
#define HTTP_READ_BLOCK	     65536
#define HTTP_LINE_MAX	     (16 * 1024 * 1024) /* a longer line is skipped by the stream */
#define HTTP_LABEL_MAX	     256		/* bytes of a command in a metric label */

struct http_server {
	struct live *live;
	struct MHD_Daemon *daemon;
	struct http_gate *gate; /* accepts, and hands MHD the requests whose headers are in */
	int fd;			/* the listening socket */
	bool ipv6;
	struct http_policy policy;
	bool stopping;	   /* guarded by live->lock */
	int active;	   /* requests begun and not ended, streams too; guarded by live->lock */
	char *token;	   /* what every request must carry */
	char *cookie;	   /* the name of the cookie that carries it */
	char *url;	   /* the URL to open, with ?token= */
	char *address;	   /* and without */
	char *socket_path; /* a unix socket's, to remove at the end */
	dev_t socket_dev;  /* and the socket we made there */
	ino_t socket_ino;
};

/* ---- the spec ---- */

static int parse_port(const char *s, unsigned *port)
{
	if (!*s)
		return -1;
	unsigned long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 65535)
			return -1;
	}
	*port = (unsigned)v;
	return 0;
}

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == HTTP_UNIX_PATH_MAX,
	       "HTTP_UNIX_PATH_MAX is sun_path's size");

int http_parse_spec(const char *spec, struct http_spec *out, struct strbuf *err)
{
	memset(out, 0, sizeof(*out));
	if (!strncmp(spec, "unix:", 5)) {
		size_t n = strlen(spec + 5);
		if (!n) {
			strbuf_addstr(err, "bad socket in 'unix:': expected unix:PATH");
			return -1;
		}
		if (n >= sizeof(out->path)) {
			strbuf_addf(
				err,
				"socket path too long in 'unix:%.40s...': %zu bytes, at most %zu",
				spec + 5, n, sizeof(out->path) - 1);
			return -1;
		}
		memcpy(out->path, spec + 5, n + 1);
		return 0;
	}
	const char *colon = strrchr(spec, ':');
	const char *port_s = colon ? colon + 1 : spec;
	if (parse_port(port_s, &out->port) < 0) {
		strbuf_addf(err, "bad port in '%.*s': expected [ADDR:]PORT, PORT from 0 to 65535",
			    100, spec);
		return -1;
	}
	size_t host_len = colon ? (size_t)(colon - spec) : 0;
	char host[INET6_ADDRSTRLEN + 2];
	if (colon && (host_len == 0 || host_len >= sizeof(host))) {
		strbuf_addf(err, "bad address in '%.*s': expected [ADDR:]PORT", 100, spec);
		return -1;
	}
	memcpy(host, spec, host_len);
	host[host_len] = '\0';
	if (host[0] == '[') {
		if (host_len < 3 || host[host_len - 1] != ']') {
			strbuf_addf(err, "bad address in '%s': expected [IPV6]:PORT", spec);
			return -1;
		}
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, out->addr) != 1) {
			strbuf_addf(err, "bad IPv6 address in '%s'", spec);
			return -1;
		}
		out->ip = 6;
		return 0;
	}
	if (strchr(host, ':')) {
		strbuf_addf(err, "bad address in '%s': put an IPv6 address in brackets, [::1]:PORT",
			    spec);
		return -1;
	}
	out->ip = 4;
	if (!colon || !strcmp(host, "localhost")) {
		uint32_t lo = htonl(INADDR_LOOPBACK);
		memcpy(out->addr, &lo, 4);
		return 0;
	}
	if (inet_pton(AF_INET, host, out->addr) != 1) {
		strbuf_addf(err,
			    "bad address in '%s': expected an IPv4 address, [IPV6] or localhost",
			    spec);
		return -1;
	}
	return 0;
}

/* ---- the token ---- */

int http_token_new(char **token, struct strbuf *err)
{
	unsigned char raw[HTTP_TOKEN_BYTES];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(err, "cannot make a token: getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	char *t = malloc(2 * sizeof(raw) + 1);
	if (!t) {
		strbuf_addstr(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(t + 2 * i, 3, "%02x", raw[i]);
	*token = t;
	return 0;
}

/* The token in the open file fd (see http_token_file), closing fd. */
static int read_token_file(int fd, const char *path, char **token, struct strbuf *err)
{
	int ret = HTTP_TOKEN_REFUSED;
	struct stat st;
	char buf[HTTP_TOKEN_MAX + 3];
	if (fstat(fd, &st) < 0) {
		strbuf_addf(err, "cannot read token file '%s': %s", path, strerror(errno));
		ret = HTTP_TOKEN_UNREADABLE;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		strbuf_addf(err, "token file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		strbuf_addf(err, "token file '%s' belongs to another user (uid %u)", path,
			    (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & 026) {
		strbuf_addf(err,
			    "token file '%s' can be %s by other users (mode %04o); chmod 600 it, "
			    "or remove it and memline writes a new one",
			    path, st.st_mode & 022 ? "written" : "read",
			    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(err, "cannot read token file '%s': %s", path, strerror(errno));
			ret = HTTP_TOKEN_UNREADABLE;
			goto out;
		}
		if (n == 0 || (len += (size_t)n) == sizeof(buf))
			break;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (!http_token_valid(buf, len)) {
		strbuf_addf(err,
			    "token file '%s' does not hold a token: expected one line of %d to %d "
			    "characters from A-Z a-z 0-9 - . _ ~",
			    path, HTTP_TOKEN_MIN, HTTP_TOKEN_MAX);
		goto out;
	}
	if (!(*token = strndup(buf, len))) {
		strbuf_addstr(err, "out of memory");
		ret = HTTP_TOKEN_UNREADABLE;
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int http_token_file(const char *path, char **token, struct strbuf *err)
{
	*token = NULL;
	for (int tries = 0; tries < 2; tries++) {
		/* O_NONBLOCK: a FIFO is refused as not a regular file instead of blocking */
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			return read_token_file(fd, path, token, err);
		if (errno == ELOOP) {
			strbuf_addf(err, "token file '%s' is a symbolic link", path);
			return HTTP_TOKEN_REFUSED;
		}
		if (errno != ENOENT) {
			strbuf_addf(err, "cannot read token file '%s': %s", path, strerror(errno));
			return HTTP_TOKEN_UNREADABLE;
		}
		char *t;
		if (http_token_new(&t, err) < 0)
			return HTTP_TOKEN_UNWRITABLE;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) { /* another memline made it meanwhile */
			free(t);
			continue;
		}
		if (fd < 0) {
			strbuf_addf(err, "cannot create token file '%s': %s", path,
				    strerror(errno));
			free(t);
			return HTTP_TOKEN_UNWRITABLE;
		}
		size_t len = strlen(t);
		t[len] = '\n';
		errno = 0;
		bool ok = write(fd, t, len + 1) == (ssize_t)(len + 1);
		int e = errno;
		t[len] = '\0';
		if (close(fd) < 0 && ok) {
			ok = false;
			e = errno;
		}
		if (!ok) {
			strbuf_addf(err, "cannot write token file '%s': %s", path,
				    e ? strerror(e) : "short write");
			unlink(path);
			free(t);
			return HTTP_TOKEN_UNWRITABLE;
		}
		*token = t;
		return 0;
	}
	strbuf_addf(err, "cannot read token file '%s': it keeps being replaced", path);
	return HTTP_TOKEN_UNREADABLE;
}

/* ---- helpers ---- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MHD leaves the URL as the client wrote it: no path is decoded, so none can be smuggled. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void add_common_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", "frame-ancestors 'none'");
	/* one request a connection: the gate times every request's headers, not just a first */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues r with the headers every answer has, and lets it go. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
			     const char *type)
{
	add_common_headers(r, type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Queues sb's text (taken over and released) as the response. */
static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned status, const char *type,
				 struct strbuf *sb)
{
	if (sb->oom) {
		strbuf_release(sb);
		return MHD_NO;
	}
	size_t len = sb->len;
	char *buf = strbuf_detach(sb, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	return queue(c, status, r, type);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, text);
	strbuf_addch(&sb, '\n');
	return reply_buf(c, status, "text/plain; charset=utf-8", &sb);
}

/* Bytes of the complete lines the follower has read; with the lock held. */
static off_t read_so_far(const struct live *l)
{
	return l->follow.offset - (off_t)l->follow.pending.len;
}

/* A descriptor of our own on the followed log; with the lock held. */
static int open_log(const struct live *l)
{
	if (l->follow.fd < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", l->follow.fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* ---- the page, its data, the log ---- */

static void plot_input_of(struct live *l, struct plot_input *in, struct plot_options *o)
{
	plot_options_init(o);
	o->live = true;
	in->run = &l->follow.run;
	in->path = l->follow.path;
	in->label = NULL;
}

static enum MHD_Result serve_page(struct http_server *s, struct MHD_Connection *c, bool json)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	struct plot_input in;
	struct plot_options o;
	live_lock(s->live);
	plot_input_of(s->live, &in, &o);
	int ret = json ? plot_html_json(&in, 1, &o, &out) : plot_html(&in, 1, &o, &out, &err);
	live_unlock(s->live);
	if (ret < 0) {
		strbuf_release(&out);
		strbuf_addstr(&out, err.len ? err.buf : "out of memory");
		strbuf_release(&err);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, out.buf ? out.buf : "error");
	}
	strbuf_release(&err);
	return reply_buf(c, MHD_HTTP_OK, json ? "application/json" : "text/html; charset=utf-8",
			 &out);
}

static enum MHD_Result serve_log(struct http_server *s, struct MHD_Connection *c)
{
	live_lock(s->live);
	off_t size = read_so_far(s->live);
	int fd = open_log(s->live);
	live_unlock(s->live);
	if (fd < 0)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open the log");
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64((uint64_t)size, fd, 0);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	return queue(c, MHD_HTTP_OK, r, "application/x-ndjson");
}

/* ---- /metrics ---- */

/* A label value: \, " and newline escaped, invalid UTF-8 as U+FFFD, cut at max bytes. */
static void add_label(struct strbuf *out, const char *s, size_t len, size_t max)
{
	size_t i = 0;
	while (i < len && i < max) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\' || ch == '"') {
			strbuf_addch(out, '\\');
			strbuf_addch(out, (char)ch);
			i++;
		} else if (ch == '\n') {
			strbuf_addstr(out, "\\n");
			i++;
		} else if (ch < 0x80) {
			strbuf_addch(out, ch ? (char)ch : ' ');
			i++;
		} else {
			uint32_t cp;
			size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
			if (n && i + n <= max) {
				strbuf_add(out, s + i, n);
				i += n;
			} else if (n) {
				break;
			} else {
				strbuf_addstr(out, "\xef\xbf\xbd");
				i++;
			}
		}
	}
}

static void metric_head(struct strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The pid and command labels of process i. */
static void proc_labels(const struct run *run, size_t i, struct strbuf *out)
{
	struct strbuf cmd = STRBUF_INIT;
	run_proc_cmd(run, i, &cmd);
	strbuf_addf(out, "{pid=\"%d\",command=\"", (int)run->procs[i].pid);
	add_label(out, cmd.buf ? cmd.buf : "", cmd.len, HTTP_LABEL_MAX);
	strbuf_addstr(out, "\"}");
	out->oom |= cmd.oom;
	strbuf_release(&cmd);
}

enum proc_metric { PM_RSS, PM_PEAK, PM_CPU };

static void proc_metric(const struct run *run, const struct run_sample *last, enum proc_metric m,
			struct strbuf *out)
{
	static const char *const names[] = {"memline_process_rss_bytes",
					    "memline_process_peak_bytes",
					    "memline_process_cpu_seconds_total"};
	static const char *const helps[] = {
		"Resident set size of a process of the tree, in the newest sample.",
		"Highest resident set size a process of the tree reached.",
		"CPU time (user and system) a process of the tree used."};
	metric_head(out, names[m], m == PM_CPU ? "counter" : "gauge", helps[m]);
	if (!last)
		return;
	for (size_t k = 0; k < last->n; k++) {
		const struct run_proc_sample *ps = run_ps(run, last->first + k);
		const struct run_proc *p = &run->procs[ps->proc];
		long long v;
		if (m == PM_RSS)
			v = run_ps_value(run, ps, PF_RSS);
		else if (m == PM_PEAK)
			v = p->peak;
		else {
			long long u = run_ps_value(run, ps, PF_UTIME),
				  st = run_ps_value(run, ps, PF_STIME);
			v = u < 0 || st < 0 ? -1 : u + st;
		}
		if (v < 0)
			continue;
		strbuf_addstr(out, names[m]);
		proc_labels(run, (size_t)ps->proc, out);
		if (m == PM_CPU)
			strbuf_addf(out, " %.3f\n", v / 1000.0);
		else
			strbuf_addf(out, " %lld\n", v * 1024);
	}
}

static void tree_metric(struct strbuf *out, const char *name, const char *type, const char *help,
			long long v, double scale)
{
	metric_head(out, name, type, help);
	if (v < 0)
		return;
	if (scale == 1000.0)
		strbuf_addf(out, "%s %.3f\n", name, v / scale);
	else
		strbuf_addf(out, "%s %lld\n", name, v * (long long)scale);
}

/*
 * The job's memory, by the log's method (a label: cgroup, pss or rss; a format 1 log's is the
 * RSS sum, rss): in the newest sample, and its highest so far (between samples too).
 */
static void job_metrics(const struct run *run, const struct run_sample *last, struct strbuf *out)
{
	const char *method = memory_method_names[run->header.method];
	long long now = last ? run_sample_job(last) : -1;
	metric_head(out, "memline_job_memory_bytes", "gauge",
		    "The job's memory in the newest sample: its cgroup's charge, the sum of its "
		    "processes' PSS or of their RSS, as the method label says.");
	if (now >= 0)
		strbuf_addf(out, "memline_job_memory_bytes{method=\"%s\"} %lld\n", method,
			    now * 1024);
	metric_head(out, "memline_job_peak_bytes", "gauge",
		    "The job's highest memory so far, between samples too, by the method label.");
	if (run->job_peak >= 0)
		strbuf_addf(out, "memline_job_peak_bytes{method=\"%s\"} %lld\n", method,
			    run->job_peak * 1024);
}

/*
 * The pid, tid and thread labels of thread th (its name escaped as a label value), and mode
 * when not NULL.
 */
static void thread_labels(const struct run *run, const struct run_th *th, const char *mode,
			  struct strbuf *out)
{
	strbuf_addf(out, "{pid=\"%d\",tid=\"%d\",thread=\"", (int)run->procs[th->proc].pid,
		    (int)th->tid);
	if (th->tid < 0)
		strbuf_addstr(out, "(more threads)");
	else
		add_label(out, th->name, strnlen(th->name, sizeof(th->name)), HTTP_LABEL_MAX);
	if (mode)
		strbuf_addf(out, "\",mode=\"%s", mode);
	strbuf_addstr(out, "\"}");
}

enum thread_metric { TM_HEAP, TM_CPU };

/*
 * One family of the threads' metrics: every live thread of the processes alive in the newest
 * sample (format 3 on), its latest numbers; a process with no thread rows had one thread all
 * its life, the process, whose CPU time its main thread's is (and whose heap is unknown).
 */
static void thread_metric(const struct run *run, const struct run_sample *last,
			  const struct run_th_index *ix, enum thread_metric m, struct strbuf *out)
{
	if (m == TM_HEAP)
		metric_head(out, "memline_thread_heap_bytes", "gauge",
			    "Live heap of a thread of a live process (--heap): what it allocated "
			    "and no one freed yet, in its newest row.");
	else
		metric_head(out, "memline_thread_cpu_seconds_total", "counter",
			    "CPU time a thread of a live process used, in user or system mode.");
	if (!last || !ix)
		return;
	for (size_t k = 0; k < last->n; k++) {
		size_t i = (size_t)run_ps(run, last->first + k)->proc;
		const struct run_proc *p = &run->procs[i];
		if (p->exited)
			continue;
		struct run_th main = {.proc = (int)i, .tid = p->pid, .end_t = -1, .heap = -1};
		size_t from = ix->first[i], n = ix->first[i + 1] - from;
		if (!n) {
			memcpy(main.name, p->comm, strnlen(p->comm, sizeof(p->comm)));
			main.utime = p->utime;
			main.stime = p->stime;
		}
		for (size_t j = 0; j < (n ? n : 1); j++) {
			const struct run_th *th = n ? &run->threads.v[ix->order[from + j]] : &main;
			if (th->end_t >= 0)
				continue; /* an ended thread's blocks may still be counted to it */
			if (m == TM_HEAP && th->heap >= 0) {
				strbuf_addstr(out, "memline_thread_heap_bytes");
				thread_labels(run, th, NULL, out);
				strbuf_addf(out, " %lld\n", th->heap);
			}
			for (int sys = 0; m == TM_CPU && sys < 2; sys++) {
				long long ms = sys ? th->stime : th->utime;
				if (ms < 0)
					continue;
				strbuf_addstr(out, "memline_thread_cpu_seconds_total");
				thread_labels(run, th, sys ? "system" : "user", out);
				strbuf_addf(out, " %.3f\n", ms / 1000.0);
			}
		}
	}
}

void http_metrics(const struct run *run, struct strbuf *out)
{
	const struct run_sample *last = run->n_samples ? &run->samples[run->n_samples - 1] : NULL;
	struct strbuf cmd = STRBUF_INIT;
	run_command(run, &cmd);
	metric_head(out, "memline_run_info", "gauge",
		    "The recorded command and how its run stands; always 1.");
	strbuf_addstr(out, "memline_run_info{status=\"");
	strbuf_addstr(out, run_status_names[run->status < RUN_NSTATUS ? run->status : 0]);
	strbuf_addstr(out, "\",command=\"");
	add_label(out, cmd.buf ? cmd.buf : "", cmd.len, HTTP_LABEL_MAX);
	strbuf_addstr(out, "\"} 1\n");
	out->oom |= cmd.oom;
	strbuf_release(&cmd);

	metric_head(out, "memline_elapsed_seconds", "gauge",
		    "Seconds from the start of the recording to its newest record.");
	strbuf_addf(out, "memline_elapsed_seconds %.3f\n", run->duration > 0 ? run->duration : 0.0);
	metric_head(out, "memline_samples_total", "counter", "Samples recorded.");
	strbuf_addf(out, "memline_samples_total %zu\n", run->n_samples);
	metric_head(out, "memline_events_total", "counter", "Events the program marked.");
	strbuf_addf(out, "memline_events_total %zu\n", run->n_events);
	metric_head(out, "memline_spans_total", "counter", "Phases (spans) the program began.");
	strbuf_addf(out, "memline_spans_total %zu\n", run->n_spans);
	metric_head(out, "memline_processes", "gauge",
		    "Processes of the tree in the newest sample.");
	strbuf_addf(out, "memline_processes %zu\n", last ? last->n : (size_t)0);

	const long long *tv = last ? last->tree.v : NULL;
	tree_metric(out, "memline_tree_rss_bytes", "gauge",
		    "Resident set size of the whole tree, in the newest sample.",
		    tv ? tv[TF_RSS] : -1, 1024);
	tree_metric(out, "memline_tree_peak_bytes", "gauge",
		    "Highest resident set size of the whole tree so far.", run->peak, 1024);
	job_metrics(run, last, out);
	/*
	 * A counter must never go down: the sample's tree CPU drops when a process exits, so sum
	 * every process's last known CPU time instead, exited ones included.
	 */
	long long cpu = -1;
	for (size_t i = 0; i < run->n_procs; i++) {
		const struct run_proc *p = &run->procs[i];
		if (p->utime >= 0 && p->stime >= 0)
			cpu = (cpu < 0 ? 0 : cpu) + p->utime + p->stime;
	}
	tree_metric(out, "memline_tree_cpu_seconds_total", "counter",
		    "CPU time (user and system) of every process the tree has had.", cpu, 1000.0);
	proc_metric(run, last, PM_RSS, out);
	proc_metric(run, last, PM_PEAK, out);
	proc_metric(run, last, PM_CPU, out);
	struct run_th_index ix = {0};
	bool threads = run->header.format >= 3;
	if (threads && run_th_index_build(&ix, &run->threads, run->n_procs) < 0) {
		out->oom = true;
		threads = false;
	}
	thread_metric(run, last, threads ? &ix : NULL, TM_HEAP, out);
	thread_metric(run, last, threads ? &ix : NULL, TM_CPU, out);
	run_th_index_release(&ix);
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
	struct strbuf out = STRBUF_INIT;
	live_lock(s->live);
	http_metrics(&s->live->follow.run, &out);
	live_unlock(s->live);
	return reply_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &out);
}

/* ---- /events ---- */

struct stream {
	struct http_server *s;
	int fd;
	off_t pos;	    /* the next byte of the log to send */
	bool align;	    /* pos came from the client: move it to a line's start */
	bool done;	    /* nothing more to send once out is empty */
	bool final;	    /* ?final=1: the end event carries the page's data */
	struct strbuf out;  /* text waiting to be sent */
	size_t sent;	    /* bytes of out already sent */
	struct strbuf line; /* bytes read from the log */
	double last;	    /* when the stream last sent something */
};

/* Appends the log's complete lines from st->pos on as messages. Returns the lines added. */
static long stream_fill(struct stream *st)
{
	struct stat sb;
	if (fstat(st->fd, &sb) < 0)
		return -1;
	if (sb.st_size < st->pos) /* a new recording to the same path */
		st->pos = 0, st->align = false;
	if (st->align && st->pos > 0) {
		char ch;
		if (pread(st->fd, &ch, 1, st->pos - 1) != 1)
			return 0;
		if (ch != '\n') {
			/* skip the rest of a line the client was in the middle of */
			for (;;) {
				char buf[4096];
				ssize_t n = pread(st->fd, buf, sizeof(buf), st->pos);
				if (n <= 0)
					return 0; /* not complete yet: try again later */
				char *nl = memchr(buf, '\n', (size_t)n);
				if (nl) {
					st->pos += nl - buf + 1;
					break;
				}
				st->pos += n;
			}
		}
	}
	st->align = false;
	long lines = 0;
	for (;;) {
		strbuf_reset(&st->line);
		if (!strbuf_grow(&st->line, HTTP_READ_BLOCK))
			return -1;
		ssize_t n = pread(st->fd, st->line.buf, HTTP_READ_BLOCK, st->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		st->line.len = (size_t)n;
		char *p = st->line.buf, *end = p + n;
		char *nl = memchr(p, '\n', (size_t)n);
		if (!nl) {
			/* a line longer than a block: find its end */
			off_t at = st->pos + n;
			off_t eol = -1;
			char buf[4096];
			while (eol < 0 && at - st->pos < HTTP_LINE_MAX) {
				ssize_t m = pread(st->fd, buf, sizeof(buf), at);
				if (m <= 0)
					break;
				char *q = memchr(buf, '\n', (size_t)m);
				if (q)
					eol = at + (q - buf);
				at += m;
			}
			if (eol < 0 && at - st->pos < HTTP_LINE_MAX)
				break; /* not complete yet */
			if (eol < 0) { /* too long to send: skip what there is */
				st->pos = at;
				st->align = true;
				break;
			}
			size_t ll = (size_t)(eol - st->pos);
			strbuf_reset(&st->line);
			if (!strbuf_grow(&st->line, ll + 1))
				return -1;
			if (pread(st->fd, st->line.buf, ll + 1, st->pos) != (ssize_t)(ll + 1))
				break;
			st->line.len = ll + 1;
			p = st->line.buf;
			end = p + ll + 1;
		}
		while (p < end) {
			char *e = memchr(p, '\n', (size_t)(end - p));
			if (!e)
				break;
			st->pos += e - p + 1;
			strbuf_addf(&st->out, "id: %lld\ndata: ", (long long)st->pos);
			size_t from = st->out.len;
			strbuf_add(&st->out, p, (size_t)(e - p));
			for (size_t i = from; i < st->out.len; i++)
				if (st->out.buf[i] == '\r')
					st->out.buf[i] = ' '; /* would end the data line */
			strbuf_addstr(&st->out, "\n\n");
			lines++;
			p = e + 1;
		}
		if (st->out.oom)
			return -1;
		if (st->out.len > HTTP_READ_BLOCK)
			break; /* send this first */
	}
	return lines;
}

/* text as the data of one message: a "data: " line for each of its lines. */
static void sse_data(struct strbuf *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	do {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		strbuf_addstr(out, "data: ");
		size_t from = out->len;
		strbuf_add(out, p, n);
		for (size_t i = from; i < out->len; i++)
			if (out->buf[i] == '\r')
				out->buf[i] = ' ';
		strbuf_addch(out, '\n');
		p = nl ? nl + 1 : end;
	} while (p < end);
	strbuf_addch(out, '\n');
}

/*
 * The stream's last message, once it sent what the log holds: "end" when the model had the
 * log's end before that (with ?final=1 the page's data, as /data.json gives it, so that the
 * page shows how the run ended without asking a server that is about to go), or "stop" when
 * the server stops first. An EventSource that gets either closes instead of reconnecting.
 */
static int stream_end(struct stream *st, bool finished)
{
	struct strbuf data = STRBUF_INIT;
	if (finished && st->final) {
		struct live *l = st->s->live;
		struct plot_input in;
		struct plot_options o;
		live_lock(l);
		plot_input_of(l, &in, &o);
		int ret = plot_html_json(&in, 1, &o, &data);
		live_unlock(l);
		if (ret < 0) {
			strbuf_release(&data);
			return -1;
		}
	}
	strbuf_addstr(&st->out, finished ? "event: end\n" : "event: stop\n");
	sse_data(&st->out, data.len ? data.buf : "{}", data.len ? data.len : 2);
	strbuf_release(&data);
	return st->out.oom ? -1 : 0;
}

static ssize_t stream_read(void *cls, uint64_t at, char *buf, size_t max)
{
	(void)at;
	struct stream *st = cls;
	struct live *l = st->s->live;
	for (;;) {
		if (st->sent < st->out.len) {
			size_t n = st->out.len - st->sent;
			if (n > max)
				n = max;
			memcpy(buf, st->out.buf + st->sent, n);
			st->sent += n;
			st->last = now();
			return (ssize_t)n;
		}
		strbuf_reset(&st->out);
		st->sent = 0;
		if (st->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		live_lock(l);
		unsigned long seen = l->version;
		bool finished = l->finished;
		bool last = finished || st->s->stopping;
		live_unlock(l);
		long n = stream_fill(st);
		if (n < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > 0 || st->out.len)
			continue;
		if (last) {
			/* the follower finished, or we stop, before this read: it had everything */
			st->done = true;
			if (stream_end(st, finished) < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		live_lock(l);
		double wait = st->last + HTTP_HEARTBEAT - now();
		struct timespec until = live_deadline(wait > 0 ? wait : 0);
		while (l->version == seen && !l->finished && !st->s->stopping &&
		       pthread_cond_timedwait(&l->changed, &l->lock, &until) != ETIMEDOUT)
			;
		bool beat = l->version == seen && !l->finished && !st->s->stopping;
		live_unlock(l);
		if (beat && now() >= st->last + HTTP_HEARTBEAT)
			strbuf_addstr(&st->out, ": keep-alive\n\n");
	}
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	if (st->fd >= 0)
		close(st->fd);
	strbuf_release(&st->out);
	strbuf_release(&st->line);
	free(st);
}

static enum MHD_Result serve_events(struct http_server *s, struct MHD_Connection *c, long long from,
				    bool final)
{
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return MHD_NO;
	st->s = s;
	st->final = final;
	st->last = now();
	struct live *l = s->live;
	live_lock(l);
	off_t end = read_so_far(l);
	bool finished = l->finished || s->stopping;
	st->fd = open_log(l);
	live_unlock(l);
	if (st->fd < 0) {
		free(st);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open the log");
	}
	struct stat sb;
	if (from >= 0 && fstat(st->fd, &sb) == 0 && from <= sb.st_size) {
		st->pos = (off_t)from;
		st->align = true;
	} else {
		st->pos = end;
	}
	if (finished && !final && (fstat(st->fd, &sb) < 0 || st->pos >= sb.st_size)) {
		close(st->fd);
		free(st);
		struct strbuf none = STRBUF_INIT;
		return reply_buf(c, MHD_HTTP_NO_CONTENT, "text/event-stream", &none);
	}
	strbuf_addf(&st->out, "retry: 1000\n: memline events from byte %lld\n\n",
		    (long long)st->pos);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
								   stream_read, st, stream_free);
	if (!r) {
		close(st->fd);
		strbuf_release(&st->out);
		free(st);
		return MHD_NO;
	}
	return queue(c, MHD_HTTP_OK, r, "text/event-stream; charset=utf-8");
}

/* ---- requests ---- */

/* A request's own state, from the URI callback on: the target as the client wrote it. */
struct request {
	char *target;
	bool answered; /* what comes after is a body nobody asked for */
};

/* Called once the request line is in, before its headers: the target with its query. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)c;
	struct http_server *s = cls;
	struct request *rq = calloc(1, sizeof(*rq));
	if (rq && !(rq->target = strdup(uri))) {
		free(rq);
		rq = NULL;
	}
	if (rq) {
		live_lock(s->live);
		s->active++;
		live_unlock(s->live);
	}
	return rq;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode why)
{
	(void)c;
	(void)why;
	struct http_server *s = cls;
	struct request *rq = *req;
	if (rq) {
		free(rq->target);
		free(rq);
		live_lock(s->live);
		s->active--;
		pthread_cond_broadcast(&s->live->changed); /* http_stop may wait for it */
		live_unlock(s->live);
	}
	*req = NULL;
}

/* Answers a refusal, or a redirect that sets the token's cookie. */
static enum MHD_Result reply_decision(struct http_server *s, struct MHD_Connection *c,
				      const struct http_decision *d)
{
	struct strbuf sb = STRBUF_INIT;
	if (d->route == HTTP_REDIRECT)
		strbuf_addf(&sb, "see %s\n", d->location.buf);
	else
		strbuf_addf(&sb, "%s\n", d->message);
	if (sb.oom) {
		strbuf_release(&sb);
		return MHD_NO;
	}
	size_t len = sb.len;
	char *buf = strbuf_detach(&sb, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	add_common_headers(r, "text/plain; charset=utf-8");
	if (d->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (d->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"memline\"");
	if (d->route == HTTP_REDIRECT) {
		struct strbuf cookie = STRBUF_INIT;
		strbuf_addf(&cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=/", s->cookie,
			    s->token);
		if (cookie.oom ||
		    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie.buf) != MHD_YES ||
		    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, d->location.buf) !=
			    MHD_YES) {
			strbuf_release(&cookie);
			MHD_destroy_response(r);
			return MHD_NO;
		}
		strbuf_release(&cookie);
	}
	enum MHD_Result ret = MHD_queue_response(c, d->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	(void)url; /* the target the URI callback kept has the query too */
	(void)version;
	(void)upload;
	struct http_server *s = cls;
	struct request *rq = *req;
	if (!rq)
		return MHD_NO; /* out of memory in on_uri */
	if (rq->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	rq->answered = true;
	struct http_request r = {
		.method = method,
		.target = rq->target,
		.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
		.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE),
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
		.last_event_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID"),
	};
	struct http_decision d;
	enum MHD_Result ret = MHD_NO;
	if (http_decide(&s->policy, &r, &d) < 0)
		goto out;
	switch (d.route) {
	case HTTP_REFUSE:
	case HTTP_REDIRECT:
		ret = reply_decision(s, c, &d);
		break;
	case HTTP_PAGE:
		ret = serve_page(s, c, false);
		break;
	case HTTP_DATA:
		ret = serve_page(s, c, true);
		break;
	case HTTP_EVENTS:
		ret = serve_events(s, c, d.from, d.final);
		break;
	case HTTP_METRICS:
		ret = serve_metrics(s, c);
		break;
	case HTTP_LOG:
		ret = serve_log(s, c);
		break;
	}
out:
	strbuf_release(&d.location);
	return ret;
}

/* ---- starting and stopping ---- */

static bool is_loopback(const struct http_spec *a)
{
	if (a->ip == 4)
		return a->addr[0] == 127;
	return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a->addr);
}

static socklen_t sockaddr_of(const struct http_spec *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->ip == 6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)a->port);
		memcpy(&a6->sin6_addr, a->addr, 16);
		return sizeof(*a6);
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)a->port);
	memcpy(&a4->sin_addr, a->addr, 4);
	return sizeof(*a4);
}

static int listen_on(const struct sockaddr_storage *addr, socklen_t len, const char *spec,
		     struct strbuf *err)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		strbuf_addf(err, "cannot serve on '%s': %s", spec, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		strbuf_addf(err, "cannot serve on '%s': %s", spec, strerror(e));
		if (e == EADDRINUSE)
			strbuf_addstr(err, "; choose another port (0 picks a free one)");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Makes the unix socket at path, mode 0600, and listens. Linux gives the file the mode of the
 * socket's inode less the umask, so a socket made 0600 before bind() is never more open than
 * that, not even for a moment. An old socket of ours nobody listens on is removed first.
 */
static int listen_unix(struct http_server *s, const char *path, struct strbuf *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	int fd = -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			strbuf_addf(err, "cannot serve on 'unix:%s': it exists and is not a socket",
				    path);
			return -1;
		}
		if (st.st_uid != geteuid()) {
			strbuf_addf(err,
				    "cannot serve on 'unix:%s': a socket of another user is there",
				    path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto os_error;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			strbuf_addf(err,
				    "cannot serve on 'unix:%s': a server listens there (in use)",
				    path);
			goto fail;
		}
		if (errno != ECONNREFUSED)
			goto os_error;
		close(fd);
		fd = -1;
		if (unlink(path) < 0 && errno != ENOENT)
			goto os_error;
	} else if (errno != ENOENT) {
		goto os_error;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || fchmod(fd, 0600) < 0)
		goto os_error;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto os_error;
	if (lstat(path, &st) < 0)
		goto os_error;
	if (!S_ISSOCK(st.st_mode) || (st.st_mode & 077)) {
		strbuf_addf(err, "cannot serve on 'unix:%s': the socket was made with mode %04o",
			    path, (unsigned)(st.st_mode & 07777));
		unlink(path);
		goto fail;
	}
	s->socket_dev = st.st_dev;
	s->socket_ino = st.st_ino;
	if (!(s->socket_path = strdup(path))) {
		unlink(path);
		strbuf_addstr(err, "out of memory");
		goto fail;
	}
	if (listen(fd, 128) < 0)
		goto os_error;
	return fd;
os_error:
	strbuf_addf(err, "cannot serve on 'unix:%s': %s", path, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Removes the unix socket, if what is at its path is still the one we made. */
static void remove_socket(struct http_server *s)
{
	struct stat st;
	if (s->socket_path && lstat(s->socket_path, &st) == 0 && st.st_dev == s->socket_dev &&
	    st.st_ino == s->socket_ino)
		unlink(s->socket_path);
}

static void server_free(struct http_server *s)
{
	free(s->socket_path);
	free(s->token);
	free(s->cookie);
	free(s->url);
	free(s->address);
	free(s);
}

struct http_server *http_listen(const char *spec, const char *token, struct strbuf *err)
{
	struct http_spec hs;
	if (http_parse_spec(spec, &hs, err) < 0)
		return NULL;
	if (token && !http_token_valid(token, strlen(token))) {
		strbuf_addf(err, "bad token: expected %d to %d characters from A-Z a-z 0-9 - . _ ~",
			    HTTP_TOKEN_MIN, HTTP_TOKEN_MAX);
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		strbuf_addstr(err, "out of memory");
		return NULL;
	}
	s->fd = -1;
	if (hs.ip == 0) {
		if ((s->fd = listen_unix(s, hs.path, err)) < 0)
			goto fail;
		struct strbuf sb = STRBUF_INIT;
		strbuf_addf(&sb, "unix:%s", hs.path);
		s->url = sb.oom ? NULL : strdup(sb.buf);
		s->address = sb.oom ? NULL : strdup(sb.buf);
		strbuf_release(&sb);
		if (!s->url || !s->address) {
			strbuf_addstr(err, "out of memory");
			goto fail;
		}
		return s; /* its mode guards it: no token, no Host */
	}
	struct sockaddr_storage addr;
	socklen_t len = sockaddr_of(&hs, &addr);
	s->policy.loopback = is_loopback(&hs);
	s->ipv6 = addr.ss_family == AF_INET6;
	if (token ? !(s->token = strdup(token)) : http_token_new(&s->token, err) < 0)
		goto fail;
	if ((s->fd = listen_on(&addr, len, spec, err)) < 0)
		goto fail;
	/* The port it took (PORT 0 picks one); the address family is the one asked for. */
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (getsockname(s->fd, (struct sockaddr *)&bound, &blen) < 0) {
		strbuf_addf(err, "cannot serve on '%s': cannot read the port it took: %s", spec,
			    strerror(errno));
		goto fail;
	}
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port;
	if (s->ipv6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&bound;
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		port = ntohs(a6->sin6_port);
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&bound;
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		port = ntohs(a4->sin_port);
	}
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, s->ipv6 ? "http://[%s]:%u/" : "http://%s:%u/", ip, port);
	s->address = sb.oom ? NULL : strdup(sb.buf);
	strbuf_addf(&sb, "?token=%s", s->token);
	s->url = sb.oom ? NULL : strdup(sb.buf);
	strbuf_reset(&sb);
	/* Cookies are not kept apart by port: one name a port, so two servers do not clash. */
	strbuf_addf(&sb, "memline-token-%u", port);
	s->cookie = sb.oom ? NULL : strdup(sb.buf);
	strbuf_release(&sb);
	if (!s->address || !s->url || !s->cookie) {
		strbuf_addstr(err, "out of memory");
		goto fail;
	}
	s->policy.token = s->token;
	s->policy.cookie_name = s->cookie;
	return s;
fail:
	if (!err->len)
		strbuf_addstr(err, "out of memory");
	if (s->fd >= 0)
		close(s->fd);
	remove_socket(s);
	server_free(s);
	return NULL;
}

/* The gate's hand-over: MHD owns fd from here, and closes it when it refuses it. */
static void admit(void *arg, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *s = arg;
	MHD_add_connection(s->daemon, fd, addr, addrlen);
}

int http_serve(struct http_server *s, struct live *l, struct strbuf *err)
{
	s->live = l;
	/* MHD takes connections from the gate only (MHD_add_connection, which needs ITC). */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	/* The daemon's threads, and the threads they start, take no signal. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/*
	 * Clients of loopback or of a unix socket share one address: no cap of an address there
	 * (libmicrohttpd's count of an address also lags the connections' ends, which its own
	 * thread cleans up later: a burst of short requests could be refused under the cap).
	 */
	bool shared = s->policy.loopback || s->socket_path;
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		shared ? 0U : (unsigned)HTTP_PER_ADDR, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_STACK, MHD_OPTION_UNESCAPE_CALLBACK,
		unescape_none, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->daemon) {
		strbuf_addf(err, "cannot serve on %s: the HTTP server did not start", s->address);
		return -1;
	}
	if (!(s->gate = http_gate_start(s->fd, shared, HTTP_MEMORY_LIMIT, admit, s, err))) {
		MHD_stop_daemon(s->daemon);
		s->daemon = NULL;
		return -1;
	}
	return 0;
}

struct http_server *http_start(struct live *l, const char *spec, const char *token,
			       struct strbuf *err)
{
	struct http_server *s = http_listen(spec, token, err);
	if (s && http_serve(s, l, err) < 0) {
		http_stop(s);
		s = NULL;
	}
	return s;
}

const char *http_url(const struct http_server *s)
{
	return s->url;
}

const char *http_address(const struct http_server *s)
{
	return s->address;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	if (!s->daemon) { /* it only listened */
		close(s->fd);
		remove_socket(s);
		server_free(s);
		return;
	}
	struct live *l = s->live;
	live_lock(l);
	/*
	 * A recording that just ended wrote its end record: let the follower read it, so that
	 * the streams tell the pages the run ended (with its data), not merely that we stop.
	 */
	double until = now() + HTTP_CATCH_UP;
	while (l->started && !l->finished && !l->stop && !l->error.len && now() < until) {
		struct stat st;
		if (fstat(l->follow.fd, &st) < 0 || l->follow.offset >= st.st_size)
			break;
		struct timespec tick = live_deadline(0.02);
		pthread_cond_timedwait(&l->changed, &l->lock, &tick);
	}
	/*
	 * Then the streams send what the log holds and their last message, and the requests
	 * under way (a page's last fetch) and those in the gate are answered; a few seconds at
	 * most, for slow clients.
	 */
	s->stopping = true;
	pthread_cond_broadcast(&l->changed);
	until = now() + HTTP_STOP_WAIT;
	while ((s->active > 0 || http_gate_waiting(s->gate) > 0) && now() < until) {
		struct timespec tick = live_deadline(0.02);
		pthread_cond_timedwait(&l->changed, &l->lock, &tick);
	}
	live_unlock(l);
	http_gate_stop(s->gate);
	MHD_stop_daemon(s->daemon);
	close(s->fd);
	remove_socket(s);
	server_free(s);
}
