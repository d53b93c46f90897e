/*
 * text: how memline shows text and numbers to people, for every renderer and the CLI: human
 * units (bytes, durations, signal names), the one escaping function for text that comes from
 * outside (command lines, labels, output, paths) on its way to a terminal, a picture or a
 * message, and cutting UTF-8 text at a character boundary.
 */
#include "util/text.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void text_bytes(struct strbuf *out, long long bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	if (bytes < 0) {
		strbuf_addch(out, '?');
		return;
	}
	if (bytes < 1024) {
		strbuf_addf(out, "%lld B", bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	strbuf_addf(out, "%.1f %s", v, units[u]);
}

void text_secs(struct strbuf *out, double secs)
{
	if (secs < 0) {
		strbuf_addch(out, '-');
		secs = -secs;
	}
	if (!(secs < 1e15)) { /* NaN, or more than thirty thousand years: not a time */
		strbuf_addch(out, '?');
		return;
	}
	/* rounded by hand: libmemline.a, which has this file, must not need libm */
	long long ms = (long long)(secs * 1000 + 0.5);
	if (ms < 1000)
		strbuf_addf(out, "%lld ms", ms);
	else if (ms < 59950)
		strbuf_addf(out, "%.1f s", ms / 1000.0);
	else if (ms < 3600000 - 500)
		strbuf_addf(out, "%lld min %02lld s", (ms + 500) / 60000, (ms + 500) / 1000 % 60);
	else
		strbuf_addf(out, "%lld h %02lld min", (ms + 30000) / 3600000,
			    (ms + 30000) / 60000 % 60);
}

void text_signal(struct strbuf *out, int sig)
{
	const char *name = sig > 0 ? sigabbrev_np(sig) : NULL;
	if (name)
		strbuf_addf(out, "SIG%s", name);
	else
		strbuf_addf(out, "signal %d", sig);
}

/*
 * The display form of the character at s (n > 0 bytes) into buf: itself, or an escape for a
 * control character, an invalid byte, or a character that reorders or breaks lines. Returns
 * the bytes of s it stands for; *len is its length in buf, which is also its width (escapes
 * are ASCII, other characters one column each).
 */
static size_t display_char(const unsigned char *s, size_t n, char buf[8], size_t *len, size_t *cols)
{
	uint32_t cp;
	size_t used = utf8_decode(s, n, &cp);
	int w;
	if (!used) /* not UTF-8: the byte as it is */
		w = snprintf(buf, 8, "\\x%02x", s[0]);
	else if (cp == '\n')
		w = snprintf(buf, 8, "\\n");
	else if (cp == '\t')
		w = snprintf(buf, 8, "\\t");
	else if (cp < 0x20 || cp == 0x7f)
		w = snprintf(buf, 8, "\\x%02x", (unsigned)cp);
	else if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
		 (cp >= 0x2066 && cp <= 0x2069))
		/* C1 controls, line and paragraph separators, bidirectional overrides */
		w = snprintf(buf, 8, "\\u%04x", (unsigned)cp);
	else
		w = -1;
	if (w < 0) {
		memcpy(buf, s, used);
		*len = used;
		*cols = 1;
	} else {
		*len = *cols = (size_t)w;
	}
	return used ? used : 1;
}

size_t text_escape(struct strbuf *out, const char *str, size_t len, size_t cols)
{
	const unsigned char *s = (const unsigned char *)str;
	char buf[8];
	size_t blen, w, total = 0;
	for (size_t i = 0; i < len;) {
		i += display_char(s + i, len - i, buf, &blen, &w);
		total += w;
	}
	/* Cut: whole characters (whole escapes) up to cols - 1 columns, then "…". */
	size_t room = total > cols ? (cols ? cols - 1 : 0) : total, done = 0;
	for (size_t i = 0; i < len;) {
		size_t used = display_char(s + i, len - i, buf, &blen, &w);
		if (done + w > room)
			break;
		strbuf_add(out, buf, blen);
		done += w;
		i += used;
	}
	if (total > cols && cols) {
		strbuf_addstr(out, "…");
		done++;
	}
	return done;
}

size_t text_utf8_prefix(const char *str, size_t len, size_t max)
{
	if (len <= max)
		return len;
	const unsigned char *s = (const unsigned char *)str;
	size_t n = max;
	/*
	 * Step back over continuation bytes to the start of the character that does not fit: at
	 * most three, the most a character has; more are not UTF-8, cut anywhere.
	 */
	for (int k = 0; k < 3 && n > 0 && (s[n] & 0xc0) == 0x80; k++)
		n--;
	return (s[n] & 0xc0) == 0x80 ? max : n;
}

long long text_kib_bytes(long long kib)
{
	return kib < 0 || kib > LLONG_MAX / 1024 ? -1 : kib * 1024;
}
