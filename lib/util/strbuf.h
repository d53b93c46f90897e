/*
 * strbuf: the one growable byte buffer memline builds text in (JSON, reports, later HTML, SVG
 * and HTTP). Always NUL-terminated; never truncates. Allocation failure is sticky: the buffer
 * stops growing, remembers it (sb->oom), and the caller checks once at the end instead of
 * after every append, so library code never aborts a host program.
 */
#ifndef MEMLINE_STRBUF_H
#define MEMLINE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	bool oom;
};

#define STRBUF_INIT \
	{           \
		0   \
	}

void strbuf_init(struct strbuf *sb);
/* Frees the memory held; the buffer can be used again. */
void strbuf_release(struct strbuf *sb);
/* Returns the content and leaves the buffer empty; the caller owns the returned string. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_reset(struct strbuf *sb);
bool strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void strbuf_remove_front(struct strbuf *sb, size_t n);

/*
 * Decodes the UTF-8 character at s (n > 0 bytes): returns its length and sets *cp, or returns
 * 0 for an invalid sequence (overlong, a surrogate, beyond U+10FFFF, cut short).
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* JSON helpers: a quoted, escaped string (invalid UTF-8 becomes U+FFFD), a number or null. */
void strbuf_add_json_str(struct strbuf *sb, const char *s);
void strbuf_add_json_strn(struct strbuf *sb, const char *s, size_t len);
void strbuf_add_json_u64(struct strbuf *sb, unsigned long long v);
void strbuf_add_json_i64(struct strbuf *sb, long long v);
/* A count that may be unknown: negative means null. */
void strbuf_add_json_opt(struct strbuf *sb, long long v);
/* Seconds with three decimals. */
void strbuf_add_json_secs(struct strbuf *sb, double secs);
void strbuf_add_json_bool(struct strbuf *sb, bool v);
/* "key": inside an object, with the comma before it unless it is the object's first member. */
void strbuf_add_json_key(struct strbuf *sb, const char *key);
/* An array of pids. */
void strbuf_add_json_pids(struct strbuf *sb, const pid_t *pids, size_t n);
/* An array of strings from NUL-separated arguments (a command line as /proc keeps it). */
void strbuf_add_json_argv(struct strbuf *sb, const char *args, size_t len);

#endif
