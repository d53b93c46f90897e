/*
 * follow: a run model following a growing log; the contract is in follow.h.
 *
 * Each poll reads the file from where the last one stopped in blocks of FOLLOW_BLOCK bytes,
 * hands every complete line to the log reader's line decoder (log_reader_parse, the one
 * decoder every reader of logs shares) and keeps the unfinished tail in f->pending, up to
 * LOG_LINE_MAX bytes: a longer line is read past without being kept, and skipped as the
 * reader skips it (log_reader_skip_long).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/follow.h"

#define FOLLOW_BLOCK (256 * 1024)

/* Empties the model and the reader: the file is read again from its start. */
static int follow_restart(struct follow *f, struct strbuf *err)
{
	run_release(&f->run);
	run_init(&f->run);
	log_reader_close(&f->reader);
	log_record_release(&f->rec);
	strbuf_release(&f->pending);
	f->skipping = false;
	f->offset = 0;
	f->changes++;
	run_keep_fields(&f->run, f->fields);
	if (!(f->run.path = strdup(f->path)) ||
	    log_reader_init(&f->reader, f->path, f->warn, f->warn_data, err) < 0) {
		if (!err->len)
			strbuf_addstr(err, "out of memory");
		return -1;
	}
	return 0;
}

int follow_open(struct follow *f, const char *path, log_warn_fn *warn, void *warn_data,
		struct strbuf *err)
{
	memset(f, 0, sizeof(*f));
	run_init(&f->run);
	strbuf_init(&f->pending);
	log_record_init(&f->rec);
	f->warn = warn;
	f->warn_data = warn_data;
	f->fields = RUN_ALL_FIELDS;
	/* Without blocking, and only a regular file: a FIFO or a device is refused at once. */
	f->fd = log_open_file(path, err);
	if (f->fd < 0) {
		strbuf_release(&f->pending);
		return -1;
	}
	if (!(f->path = strdup(path)) || follow_restart(f, err) < 0) {
		follow_release(f);
		if (!err->len)
			strbuf_addstr(err, "out of memory");
		return -1;
	}
	f->changes = 0;
	return 0;
}

/* Decodes one complete line into the model. Returns 1 for a record, 0 for none, -1 to stop. */
static int take_line(struct follow *f, char *line, size_t len, struct strbuf *err)
{
	int ret = log_reader_parse(&f->reader, line, len, &f->rec, err);
	if (ret <= 0)
		return ret;
	if (run_add_record(&f->run, &f->rec) < 0) {
		strbuf_addf(err, "out of memory reading '%s'", f->path);
		return -1;
	}
	return 1;
}

long follow_poll(struct follow *f, struct strbuf *err)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0) {
		strbuf_addf(err, "cannot read '%s': %s", f->path, strerror(errno));
		return -1;
	}
	if (st.st_size < f->offset && follow_restart(f, err) < 0)
		return -1;
	long added = 0;
	char *block = NULL;
	for (;;) {
		if (!block && !(block = malloc(FOLLOW_BLOCK))) {
			strbuf_addstr(err, "out of memory");
			return -1;
		}
		ssize_t n = pread(f->fd, block, FOLLOW_BLOCK, f->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(err, "cannot read '%s': %s", f->path, strerror(errno));
			added = -1;
			break;
		}
		if (n == 0)
			break;
		f->offset += n;
		char *p = block, *end = block + n;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
			int ret;
			if (!f->skipping && f->pending.len + len - (nl != NULL) > LOG_LINE_MAX) {
				/* Too long to keep: read past it to its newline. */
				f->skipping = true;
				strbuf_release(&f->pending);
			}
			if (f->skipping) {
				p += len;
				if (!nl)
					continue;
				f->skipping = false;
				if (log_reader_skip_long(&f->reader, false, err) < 0) {
					added = -1;
					goto out;
				}
				continue;
			}
			if (!nl) {
				strbuf_add(&f->pending, p, len);
				break;
			}
			if (f->pending.len) {
				strbuf_add(&f->pending, p, len);
				if (f->pending.oom) {
					strbuf_addstr(err, "out of memory");
					ret = -1;
				} else {
					ret = take_line(f, f->pending.buf, f->pending.len, err);
				}
				/* A line of a few MB once does not keep its buffer. */
				if (f->pending.alloc > 4 * FOLLOW_BLOCK)
					strbuf_release(&f->pending);
				strbuf_reset(&f->pending);
			} else {
				ret = take_line(f, p, len, err);
			}
			if (ret < 0) {
				added = -1;
				goto out;
			}
			added += ret;
			p = nl + 1;
		}
		if (n < FOLLOW_BLOCK)
			break;
	}
out:
	free(block);
	f->run.corrupt = f->reader.corrupt;
	if (added > 0) {
		run_update_status(&f->run);
		f->changes++;
	} else if (f->run.status == RUN_RUNNING && !log_is_being_written(f->path)) {
		run_update_status(&f->run); /* the writer died: incomplete */
		f->changes++;
	}
	return added;
}

void follow_keep_fields(struct follow *f, unsigned long long fields)
{
	f->fields = fields;
	run_keep_fields(&f->run, fields);
}

bool follow_finished(const struct follow *f)
{
	return f->run.has_end || (f->run.has_header && f->run.status != RUN_RUNNING);
}

void follow_release(struct follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	run_release(&f->run);
	log_reader_close(&f->reader);
	log_record_release(&f->rec);
	strbuf_release(&f->pending);
	free(f->path);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}
