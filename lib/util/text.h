/*
 * text: human units, the one escaping of recorded text, and cutting UTF-8 (see text.c). Nothing
 * here allocates but through the strbuf it appends to.
 */
#ifndef MEMLINE_TEXT_H
#define MEMLINE_TEXT_H

#include <stddef.h>

#include "util/strbuf.h"

/* "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB", "1.1 TiB". */
void text_bytes(struct strbuf *out, long long bytes);
/* A duration or time: "0 ms", "340 ms", "12.3 s", "4 min 05 s", "2 h 07 min". */
void text_secs(struct strbuf *out, double secs);
/*
 * Appends s (len bytes of UTF-8, from the recorded program or the log) for a terminal: newline
 * and tab as \n and \t, other control characters (NUL and DEL included) and bytes that are not
 * UTF-8 as \xNN, C1 controls, line separators and bidirectional overrides as \uNNNN; cut to at
 * most cols columns (counting one a character), at a character or escape boundary, ending in
 * "…" when cut (SIZE_MAX: never cut). Returns the columns appended. The one function every
 * piece of recorded text goes through on its way to a terminal (reports, status, the
 * dashboard, memline's own messages); its output is printable text that it leaves as it is,
 * so escaping twice changes nothing.
 */
size_t text_escape(struct strbuf *out, const char *s, size_t len, size_t cols);
/* "SIGKILL", or "signal 70" for a number without a name. */
void text_signal(struct strbuf *out, int sig);
/*
 * The length of the longest prefix of s (len bytes) of at most max bytes that does not cut a
 * UTF-8 character in two (bytes that are not UTF-8 are cut anywhere).
 */
size_t text_utf8_prefix(const char *s, size_t len, size_t max);

/* KiB (the log's unit) to bytes; -1 (unknown) for a negative or impossibly large value. */
long long text_kib_bytes(long long kib);

#endif
