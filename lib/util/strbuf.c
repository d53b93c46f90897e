/*
 * strbuf: growable buffer. Appends are amortised O(1); on allocation failure the buffer keeps
 * what it had and sets sb->oom, so callers test once after building a whole piece of text.
 */
#include "util/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	strbuf_init(sb);
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *s = sb->buf;
	if (len)
		*len = sb->len;
	if (!s)
		s = calloc(1, 1);
	strbuf_init(sb);
	return s;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

bool strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (extra > SIZE_MAX / 2 - sb->len - 1) {
		sb->oom = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return true;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < need)
		n *= 2;
	char *p = realloc(sb->buf, n);
	if (!p) {
		sb->oom = true;
		return false;
	}
	if (!sb->buf)
		p[0] = '\0';
	sb->buf = p;
	sb->alloc = n;
	return true;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!strbuf_grow(sb, len))
		return;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
	if (!strbuf_grow(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	char dummy;
	va_copy(cp, ap);
	int n = vsnprintf(sb->buf ? sb->buf + sb->len : &dummy, sb->buf ? sb->alloc - sb->len : 0,
			  fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if (sb->buf && (size_t)n < sb->alloc - sb->len) {
		sb->len += n;
		return;
	}
	if (!strbuf_grow(sb, n))
		return;
	vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	sb->len += n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_remove_front(struct strbuf *sb, size_t n)
{
	if (n >= sb->len) {
		strbuf_reset(sb);
		return;
	}
	memmove(sb->buf, sb->buf + n, sb->len - n);
	sb->len -= n;
	sb->buf[sb->len] = '\0';
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		*cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		*cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && *cp < 0x800) || (len == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

void strbuf_add_json_strn(struct strbuf *sb, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	strbuf_grow(sb, n + 2);
	strbuf_addch(sb, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			strbuf_add(sb, e, 2);
			i++;
		} else if (c == '\n') {
			strbuf_add(sb, "\\n", 2);
			i++;
		} else if (c == '\t') {
			strbuf_add(sb, "\\t", 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			strbuf_add(sb, e, 6);
			i++;
		} else if (c < 0x80) {
			strbuf_addch(sb, (char)c);
			i++;
		} else {
			uint32_t cp;
			size_t len = utf8_decode(s + i, n - i, &cp);
			if (len) {
				strbuf_add(sb, s + i, len);
				i += len;
			} else {
				strbuf_add(sb, "\\ufffd", 6);
				i++;
			}
		}
	}
	strbuf_addch(sb, '"');
}

void strbuf_add_json_str(struct strbuf *sb, const char *s)
{
	strbuf_add_json_strn(sb, s, strlen(s));
}

void strbuf_add_json_u64(struct strbuf *sb, unsigned long long v)
{
	char tmp[24];
	int i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_add(sb, tmp + i, sizeof(tmp) - i);
}

void strbuf_add_json_i64(struct strbuf *sb, long long v)
{
	if (v < 0) {
		strbuf_addch(sb, '-');
		strbuf_add_json_u64(sb, -(unsigned long long)v);
	} else {
		strbuf_add_json_u64(sb, (unsigned long long)v);
	}
}

void strbuf_add_json_opt(struct strbuf *sb, long long v)
{
	if (v < 0)
		strbuf_add(sb, "null", 4);
	else
		strbuf_add_json_u64(sb, (unsigned long long)v);
}

void strbuf_add_json_secs(struct strbuf *sb, double secs)
{
	/* Milliseconds as an integer, printed with a decimal point: exact and locale-free. */
	long long ms = (long long)(secs * 1000.0 + (secs < 0 ? -0.5 : 0.5));
	if (ms < 0) {
		strbuf_addch(sb, '-');
		ms = -ms;
	}
	strbuf_add_json_u64(sb, (unsigned long long)(ms / 1000));
	char frac[4] = {'.', (char)('0' + ms / 100 % 10), (char)('0' + ms / 10 % 10),
			(char)('0' + ms % 10)};
	strbuf_add(sb, frac, 4);
}

void strbuf_add_json_bool(struct strbuf *sb, bool v)
{
	strbuf_addstr(sb, v ? "true" : "false");
}

void strbuf_add_json_key(struct strbuf *sb, const char *key)
{
	if (sb->len && sb->buf[sb->len - 1] != '{' && sb->buf[sb->len - 1] != '[')
		strbuf_addch(sb, ',');
	strbuf_add_json_str(sb, key);
	strbuf_addch(sb, ':');
}

void strbuf_add_json_pids(struct strbuf *sb, const pid_t *pids, size_t n)
{
	strbuf_addch(sb, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_i64(sb, pids[i]);
	}
	strbuf_addch(sb, ']');
}

void strbuf_add_json_argv(struct strbuf *sb, const char *args, size_t len)
{
	strbuf_addch(sb, '[');
	for (size_t i = 0; args && i < len;) {
		const char *arg = args + i;
		const char *nul = memchr(arg, '\0', len - i);
		size_t alen = nul ? (size_t)(nul - arg) : len - i;
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_strn(sb, arg, alen);
		i += alen + 1;
	}
	strbuf_addch(sb, ']');
}
