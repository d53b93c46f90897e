/*
 * http-request: how the HTTP server (http.c) answers a request, decided from the request's
 * strings alone, without sockets or the log, so that it can be fuzzed
 * (tests/fuzz/fuzz_http_request.c); the contract is in http.h.
 *
 * Nothing here decodes: the target is compared as the client wrote it ("/%2e%2e/" or
 * "/log%00" match no path), and query values are taken as written. The checks run in a fixed
 * order, each answering with nothing of the log: the Host (on loopback), the method, the path.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#undef PF_FILE /* <sys/socket.h>'s old name of PF_LOCAL: record.h's field of the same name */

#include "http.h"

bool http_host_is_loopback(const char *host)
{
	if (!host)
		return true; /* HTTP/1.0 without Host: a browser always sends one */
	size_t n = strlen(host);
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		return end && (size_t)(end - host) == 4 && !strncmp(host, "[::1]", 5) &&
		       (!end[1] || end[1] == ':');
	}
	const char *colon = strchr(host, ':');
	size_t hl = colon ? (size_t)(colon - host) : n;
	if (hl == 9 && !strncasecmp(host, "localhost", 9))
		return true;
	char ip[16];
	if (hl >= sizeof(ip))
		return false;
	memcpy(ip, host, hl);
	ip[hl] = '\0';
	struct in_addr a;
	return inet_pton(AF_INET, ip, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/*
 * The value of the first pair named key in query ("a=1&b&c=3", not decoded; a key without
 * '=' has an empty value): true with *val and *len set, false when there is none.
 */
static bool query_arg(const char *query, const char *key, const char **val, size_t *len)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t pl = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', pl);
		size_t nl = eq ? (size_t)(eq - p) : pl;
		if (nl == kl && !memcmp(p, key, kl)) {
			*val = eq ? eq + 1 : p + pl;
			*len = eq ? pl - nl - 1 : 0;
			return true;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

/* A byte offset from a client: 1 to 16 digits, else -1. */
static long long parse_offset(const char *s, size_t len)
{
	if (!s || !len || len > 16)
		return -1;
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static const struct {
	const char *path;
	enum http_route route;
} routes[] = {
	{"/", HTTP_PAGE},	  {"/index.html", HTTP_PAGE}, {"/data.json", HTTP_DATA},
	{"/events", HTTP_EVENTS}, {"/metrics", HTTP_METRICS}, {"/log", HTTP_LOG},
};

static void refuse(struct http_decision *d, unsigned status, const char *message)
{
	d->route = HTTP_REFUSE;
	d->status = status;
	d->message = message;
}

void http_decide(const struct http_policy *p, const struct http_request *r, struct http_decision *d)
{
	d->route = HTTP_REFUSE;
	d->status = 200;
	d->message = NULL;
	d->from = -1;
	if (p->loopback && !http_host_is_loopback(r->host)) {
		refuse(d, 403, "forbidden: this server answers to localhost only");
		return;
	}
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		refuse(d, 405, "method not allowed: only GET and HEAD");
		return;
	}
	const char *target = r->target ? r->target : "";
	const char *q = strchr(target, '?');
	size_t path_len = q ? (size_t)(q - target) : strlen(target);
	const char *query = q ? q + 1 : NULL;
	enum http_route route = HTTP_REFUSE;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == path_len && !memcmp(routes[i].path, target, path_len))
			route = routes[i].route;
	if (route == HTTP_REFUSE) {
		refuse(d, 404, "not found");
		return;
	}
	d->route = route;
	if (route == HTTP_EVENTS) {
		/* an EventSource's reconnect (Last-Event-ID) wins over ?from= */
		const char *v;
		size_t vl;
		if (r->last_event_id)
			d->from = parse_offset(r->last_event_id, strlen(r->last_event_id));
		if (d->from < 0 && query_arg(query, "from", &v, &vl))
			d->from = parse_offset(v, vl);
	}
}
