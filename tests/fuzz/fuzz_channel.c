/*
 * fuzz_channel: a libFuzzer target for the event channel's parser, which reads what any process
 * of a recorded tree appends (docs/events.md). The input is the channel file's content. It is
 * read as memline reads it (channel_reader_poll, in two halves, as if appended in two writes)
 * and every line is parsed on its own too (channel_parse); for each message it checks what the
 * recorder relies on, and aborts when that does not hold:
 *   - the kind is E, B, X or S; the text has len bytes, NUL bytes included, then a NUL;
 *   - the text is at most CHANNEL_LABEL_MAX bytes, and not cut inside a UTF-8 character that
 *     fits;
 *   - sending the text again (channel_send_as) and parsing that line gives the same message.
 * Built by `make fuzz` and, in `make check`, with tests/fuzz/replay.c on tests/fixtures/channel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int out_fd = -1; /* a memfd channel_send_as writes to, read back for the round trip */

static void check(const struct channel_msg *m)
{
	if (!strchr("EBXS", (int)m->kind) || m->kind == 0)
		abort();
	if (m->len > CHANNEL_LABEL_MAX || m->text[m->len] != '\0')
		abort();
	/* Structured lines say who sent them; the recorder takes pid and tid as they are. */
	if (m->t < 0 && (m->pid != -1 || m->tid != -1 || m->kind != CHANNEL_EVENT))
		abort();

	/* The same message, sent again by memline's own sender, parses back the same. */
	if (out_fd < 0 || ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0)
		return;
	if (channel_send_as(out_fd, m->kind, m->text, m->len, m->pid, m->tid) < 0)
		return;
	char buf[2 * CHANNEL_LABEL_MAX + 128];
	ssize_t n = pread(out_fd, buf, sizeof(buf), 0);
	if (n <= 0 || buf[n - 1] != '\n' || memchr(buf, '\n', (size_t)n - 1))
		abort(); /* one whole line */
	struct strbuf scratch = STRBUF_INIT;
	struct channel_msg again;
	channel_parse(buf, (size_t)n - 1, &again, &scratch);
	if (again.kind != m->kind || again.len != m->len || memcmp(again.text, m->text, m->len) ||
	    again.pid != m->pid || again.tid != m->tid)
		abort();
	strbuf_release(&scratch);
}

static void on_message(void *data, const struct channel_msg *m)
{
	(*(size_t *)data)++;
	check(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (out_fd < 0)
		out_fd = memfd_create("sent", MFD_CLOEXEC);

	/* Each line on its own. */
	struct strbuf scratch = STRBUF_INIT;
	const char *p = (const char *)data, *end = p + size;
	size_t lines = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct channel_msg m;
		channel_parse(p, len, &m, &scratch);
		check(&m);
		lines += nl && len;
		p = nl ? nl + 1 : end;
	}
	strbuf_release(&scratch);

	/* As memline reads the file: appended in two parts, polled after each. */
	int fd = memfd_create("channel", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct channel_reader r;
	struct strbuf err = STRBUF_INIT;
	size_t got = 0, half = size / 2;
	if (channel_reader_open(&r, path, &err) == 0) {
		if (write(fd, data, half) == (ssize_t)half) {
			channel_reader_poll(&r, on_message, &got);
			if (write(fd, data + half, size - half) == (ssize_t)(size - half))
				channel_reader_poll(&r, on_message, &got);
		}
		channel_reader_close(&r);
		/* Every complete, non-empty line is one message, however the writes cut it. */
		if (got != lines)
			abort();
	}
	strbuf_release(&err);
	close(fd);
	return 0;
}
