/*
 * fuzz_http_request: a libFuzzer target for how the HTTP server answers a request
 * (http_decide: the Host check, the token, the method, the path, the query), which
 * lib/render/http.c calls with what libmicrohttpd parsed. The input is a request in the text of
 * HTTP/1.1, more or less: the first line "METHOD TARGET", then "Name: value" lines of which Host,
 * Cookie, Authorization and Last-Event-ID count (names in any case, each line cut at its first
 * NUL). Each input is decided under every policy (with and without a token, on loopback or not),
 * and the decision checked against what must always hold: a refusal says why, with one of the
 * statuses it may have; only GET and HEAD get anything; only the six paths get anything; on
 * loopback only a loopback Host gets anything; with a token, nothing is given to a request in
 * which the token does not appear; a redirect goes to one of the paths, with nothing in it
 * that could end a header line, and no ?token= pair. Replayed by `make fuzz-replay`
 * (tests/fuzz/replay.c) on the .req files of tests/fixtures/http/, which use TOKEN below.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "render/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef"

/* Whether target names one of the server's paths, by a check of its own. */
static bool known_path(const char *target)
{
	static const char *const paths[] = {"/",       "/index.html", "/data.json",
					    "/events", "/metrics",    "/log"};
	size_t n = strcspn(target, "?");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strlen(paths[i]) == n && !strncmp(paths[i], target, n))
			return true;
	return false;
}

static bool has(const char *s, const char *what)
{
	return s && strstr(s, what);
}

static void check_location(const char *loc)
{
	if (!loc || loc[0] != '/' || loc[1] == '/' || !known_path(loc))
		abort();
	for (const char *c = loc; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			abort(); /* could end the Location line, or is not ASCII */
	for (const char *k = strchr(loc, '?'); k; k = strchr(k + 1, '&'))
		if (!strncmp(k + 1, "token=", 6) || !strcmp(k + 1, "token"))
			abort();
}

static void check(const struct http_policy *p, const struct http_request *r)
{
	struct http_decision d;
	if (http_decide(p, r, &d) < 0) {
		if (d.route != HTTP_REFUSE || d.status != 500)
			abort();
		strbuf_release(&d.location);
		return;
	}
	if (d.route == HTTP_REFUSE) {
		if (!d.message || !*d.message || d.location.len)
			abort(); /* a refusal says why, and goes nowhere */
		if (d.status != 401 && d.status != 403 && d.status != 404 && d.status != 405)
			abort();
		if (d.status == 401 && !p->token)
			abort();
		strbuf_release(&d.location);
		return;
	}
	if (p->token && !has(r->target, p->token) && !has(r->cookie, p->token) &&
	    !has(r->authorization, p->token))
		abort(); /* given without the token */
	if (d.route == HTTP_REDIRECT) {
		if (d.status != 303 || !p->token || !has(r->target, p->token))
			abort();
		check_location(d.location.buf);
	} else if (d.route < HTTP_PAGE || d.route > HTTP_LOG || d.status != 200 || d.location.len) {
		abort();
	}
	strbuf_release(&d.location);
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
		abort();
	if (!r->target || !known_path(r->target))
		abort();
	if (p->loopback && r->host && !http_host_is_loopback(r->host))
		abort();
	if (d.route != HTTP_EVENTS && d.from != -1)
		abort();
	if (d.from < -1)
		abort();
}

/* The value of header line s if its name is name: NULL else. */
static const char *header(const char *s, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(s, name, n) || s[n] != ':')
		return NULL;
	s += n + 1;
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct http_request r = {.method = "", .target = NULL};
	bool first = true;
	for (char *line = text, *nl;; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (first) {
			char *sp = strchr(line, ' ');
			if (sp) {
				*sp = '\0';
				r.target = sp + 1;
				char *sp2 = strchr(r.target, ' ');
				if (sp2)
					*sp2 = '\0'; /* the version */
			}
			r.method = line;
			first = false;
		} else {
			const char *v;
			if ((v = header(line, "Host")))
				r.host = v;
			else if ((v = header(line, "Cookie")))
				r.cookie = v;
			else if ((v = header(line, "Authorization")))
				r.authorization = v;
			else if ((v = header(line, "Last-Event-ID")))
				r.last_event_id = v;
		}
		if (!nl)
			break;
	}
	static const struct http_policy policies[] = {
		{.loopback = true, .token = TOKEN, .cookie_name = "memline-token-8080"},
		{.loopback = false, .token = TOKEN, .cookie_name = "memline-token-8080"},
		{.loopback = false}, /* a unix socket */
	};
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		check(&policies[i], &r);
	free(text);
	return 0;
}
