/*
 * http-request: how the HTTP server (http.c) answers a request, decided from the request's
 * strings alone, without sockets or the log, so that it can be fuzzed
 * (tests/fuzz/fuzz_http_request.c); the contract is in http.h.
 *
 * Nothing here decodes: the target is compared as the client wrote it ("/%2e%2e/" or
 * "/log%00" match no path), and query values are taken as written (a token holds only
 * characters that need no escaping). The checks run in a fixed order, each answering with
 * nothing of the log: the Host (on loopback), the token, the method, the path. The token is
 * compared in time that depends on its length only, never on where a guess goes wrong.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#undef PF_FILE /* <sys/socket.h>'s old name of PF_LOCAL: record.h's field of the same name */

#include "render/http.h"

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

bool http_token_valid(const char *s, size_t len)
{
	if (len < HTTP_TOKEN_MIN || len > HTTP_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~'))
			return false;
	}
	return true;
}

/* Whether got (len bytes) is the token, in time that depends on the token's length only. */
static bool token_equal(const char *token, const char *got, size_t len)
{
	size_t n = strlen(token);
	volatile unsigned char diff = len != n;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < len ? got[i] : 0);
	return diff == 0;
}

/* Whether a Cookie header ("a=1; b=2") has a cookie called name whose value is the token. */
static bool cookie_has(const char *header, const char *name, const char *token)
{
	size_t nl = strlen(name);
	bool found = false;
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *semi = strchr(p, ';');
		size_t pl = semi ? (size_t)(semi - p) : strlen(p);
		while (pl && (p[pl - 1] == ' ' || p[pl - 1] == '\t'))
			pl--;
		if (pl > nl && !memcmp(p, name, nl) && p[nl] == '=')
			found |= token_equal(token, p + nl + 1, pl - nl - 1);
		p = semi ? semi + 1 : NULL;
	}
	return found;
}

/* Whether an Authorization header is "Bearer TOKEN" (the scheme in any case). */
static bool bearer_is(const char *h, const char *token)
{
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
		return false;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return token_equal(token, h, n);
}

/*
 * Appends to out the pairs of query but those named key, '&' between them, every byte that
 * may not stand in a header's value (controls, space, DEL, non-ASCII) as %XX.
 */
static void query_without(struct strbuf *out, const char *query, const char *key)
{
	size_t kl = strlen(key);
	bool first = true;
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t pl = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', pl);
		size_t nl = eq ? (size_t)(eq - p) : pl;
		if (pl && !(nl == kl && !memcmp(p, key, kl))) {
			strbuf_addch(out, first ? '?' : '&');
			first = false;
			for (size_t i = 0; i < pl; i++) {
				unsigned char c = (unsigned char)p[i];
				if (c <= ' ' || c >= 0x7f)
					strbuf_addf(out, "%%%02X", c);
				else
					strbuf_addch(out, (char)c);
			}
		}
		p = amp ? amp + 1 : NULL;
	}
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

int http_decide(const struct http_policy *p, const struct http_request *r, struct http_decision *d)
{
	d->route = HTTP_REFUSE;
	d->status = 200;
	d->message = NULL;
	d->from = -1;
	d->final = false;
	strbuf_init(&d->location);
	if (p->loopback && !http_host_is_loopback(r->host)) {
		refuse(d, 403, "forbidden: this server answers to localhost only");
		return 0;
	}
	const char *target = r->target ? r->target : "";
	const char *q = strchr(target, '?');
	size_t path_len = q ? (size_t)(q - target) : strlen(target);
	const char *query = q ? q + 1 : NULL;
	const char *v;
	size_t vl;
	bool in_query = false;
	if (p->token) {
		in_query = query_arg(query, "token", &v, &vl) && token_equal(p->token, v, vl);
		bool ok = in_query;
		if (r->cookie && p->cookie_name)
			ok |= cookie_has(r->cookie, p->cookie_name, p->token);
		if (r->authorization)
			ok |= bearer_is(r->authorization, p->token);
		if (!ok) {
			refuse(d, 401,
			       "unauthorized: open the URL memline printed (it holds ?token=), or "
			       "send the token as 'Authorization: Bearer TOKEN'");
			return 0;
		}
	}
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		refuse(d, 405, "method not allowed: only GET and HEAD");
		return 0;
	}
	enum http_route route = HTTP_REFUSE;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == path_len && !memcmp(routes[i].path, target, path_len))
			route = routes[i].route;
	if (route == HTTP_REFUSE) {
		refuse(d, 404, "not found");
		return 0;
	}
	if (in_query) {
		/* a known path, so never "//elsewhere": the redirect stays on this server */
		strbuf_add(&d->location, target, path_len);
		query_without(&d->location, query, "token");
		if (d->location.oom) {
			strbuf_release(&d->location);
			refuse(d, 500, "out of memory");
			return -1;
		}
		d->route = HTTP_REDIRECT;
		d->status = 303;
		return 0;
	}
	d->route = route;
	if (route == HTTP_EVENTS) {
		/* an EventSource's reconnect (Last-Event-ID) wins over ?from= */
		if (r->last_event_id)
			d->from = parse_offset(r->last_event_id, strlen(r->last_event_id));
		if (d->from < 0 && query_arg(query, "from", &v, &vl))
			d->from = parse_offset(v, vl);
		d->final = query_arg(query, "final", &v, &vl) && vl == 1 && *v == '1';
	}
	return 0;
}
