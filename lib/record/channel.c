/*
 * channel: formatting and parsing the lines of the event channel (see channel.h and
 * docs/events.md). A message is at most a few KiB, written with one write(2) to a descriptor
 * opened with O_APPEND: the kernel appends it whole, so many senders can share the file.
 */
#include "record/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/text.h"

#define RS '\x1e'

/*
 * Why so careful: memline removes the channel's directory when the recording ends, while
 * processes of the tree (a daemon, a background child) may still send. Under /tmp anyone can
 * then create a directory of that name with an "events" link to any file, and an append that
 * followed it would write there as the sender. The directory is opened without following a
 * link and checked through its descriptor, and the file opened relative to it: nobody but its
 * owner (or root) can change what a 0700 directory of ours holds.
 */
int channel_open(const char *path)
{
	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	size_t dir_len = slash ? (size_t)(slash - path) : 1;
	if (!*name) {
		errno = EISDIR;
		return -1;
	}
	if (dir_len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!slash)
		memcpy(dir, ".", 1);
	else if (dir_len == 0)
		memcpy(dir, "/", (dir_len = 1));
	else
		memcpy(dir, path, dir_len);
	dir[dir_len] = '\0';

	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	uid_t me = geteuid();
	struct stat st;
	int e;
	if (dfd < 0)
		goto fail;
	if (fstat(dfd, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != me || (st.st_mode & 07777) != 0700) {
		errno = EPERM;
		goto fail;
	}
	/* O_NONBLOCK: should a FIFO be there, opening it never waits for a reader. */
	fd = openat(dfd, name,
		    O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_uid != me || (st.st_mode & 07777) != 0600 ||
	    st.st_nlink != 1) {
		errno = EPERM;
		goto fail;
	}
	close(dfd);
	return fd;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	/* A symbolic link where the directory or the file should be: not ours. */
	errno = e == ELOOP || e == ENOTDIR ? EPERM : e;
	return -1;
}

int channel_send(int fd, enum channel_kind kind, const char *text, size_t len)
{
	return channel_send_as(fd, kind, text, len, getpid(), (pid_t)syscall(SYS_gettid));
}

int channel_send_as(int fd, enum channel_kind kind, const char *text, size_t len, pid_t pid,
		    pid_t tid)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	len = text_utf8_prefix(text, len, CHANNEL_LABEL_MAX);
	/* Escaping at most doubles the text: the whole line fits a stack buffer. */
	char line[2 * CHANNEL_LABEL_MAX + 96];
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	int n = snprintf(line, sizeof(line), "%c%c %lld %d %d ", RS, (char)kind,
			 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (int)pid, (int)tid);
	if (n < 0)
		return -1;
	size_t pos = (size_t)n;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\\' || c == '\n' || c == '\r') {
			line[pos++] = '\\';
			line[pos++] = c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		} else {
			line[pos++] = c;
		}
	}
	line[pos++] = '\n';
	ssize_t w;
	do
		w = write(fd, line, pos);
	while (w < 0 && errno == EINTR);
	if (w >= 0 && w != (ssize_t)pos)
		errno = EIO; /* a short write (a full disk): part of a line, which readers skip */
	return w == (ssize_t)pos ? 0 : -1;
}

/* Parses a decimal number (with an optional '-') ending at a space; moves *p past the space. */
static bool field(const char **p, const char *end, long long *out)
{
	const char *s = *p;
	bool neg = s < end && *s == '-';
	if (neg)
		s++;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	long long v = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		if (v > (long long)9e17)
			return false;
		v = v * 10 + (*s++ - '0');
	}
	if (s >= end || *s != ' ')
		return false;
	*p = s + 1;
	*out = neg ? -v : v;
	return true;
}

static void set_text(struct channel_msg *m, struct strbuf *scratch, const char *s, size_t len,
		     bool unescape)
{
	strbuf_reset(scratch);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (unescape && c == '\\' && i + 1 < len) {
			char e = s[++i];
			c = e == 'n' ? '\n' : e == 'r' ? '\r' : e;
		}
		strbuf_addch(scratch, c);
	}
	size_t cut =
		text_utf8_prefix(scratch->buf ? scratch->buf : "", scratch->len, CHANNEL_LABEL_MAX);
	scratch->len = cut;
	if (scratch->buf)
		scratch->buf[cut] = '\0';
	m->text = scratch->buf ? scratch->buf : "";
	m->len = scratch->len;
}

void channel_parse(const char *line, size_t len, struct channel_msg *m, struct strbuf *scratch)
{
	const char *end = line + len;
	m->kind = CHANNEL_EVENT;
	m->t = -1;
	m->pid = m->tid = -1;
	if (len >= 3 && line[0] == RS && strchr("EBXS", line[1]) && line[1] && line[2] == ' ') {
		const char *p = line + 3;
		long long ns, pid, tid;
		if (field(&p, end, &ns) && field(&p, end, &pid) && field(&p, end, &tid) &&
		    ns >= 0) {
			m->kind = (enum channel_kind)line[1];
			m->t = (double)ns / 1e9;
			m->pid = (pid_t)pid;
			m->tid = (pid_t)tid;
			set_text(m, scratch, p, (size_t)(end - p), true);
			return;
		}
	}
	/* A plain line: all of it is the label (a stray record separator included). */
	set_text(m, scratch, line, len, false);
}

int channel_reader_open(struct channel_reader *r, const char *path, struct strbuf *err)
{
	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0) {
		strbuf_addf(err, "cannot open event channel '%s': %s", path, strerror(errno));
		return -1;
	}
	strbuf_init(&r->partial);
	strbuf_init(&r->scratch);
	return 0;
}

size_t channel_reader_poll(struct channel_reader *r,
			   void (*fn)(void *data, const struct channel_msg *m), void *data)
{
	size_t count = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = pread(r->fd, buf, sizeof(buf), r->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->off += n;
		const char *p = buf, *end = buf + n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				/* Keep a partial line, but never more than a line can be. */
				if (r->partial.len < 4 * CHANNEL_LABEL_MAX)
					strbuf_add(&r->partial, p, (size_t)(end - p));
				break;
			}
			const char *line = p;
			size_t len = (size_t)(nl - p);
			if (r->partial.len) {
				strbuf_add(&r->partial, p, len);
				line = r->partial.buf;
				len = r->partial.len;
			}
			if (len) {
				struct channel_msg m;
				channel_parse(line, len, &m, &r->scratch);
				fn(data, &m);
				count++;
			}
			strbuf_reset(&r->partial);
			p = nl + 1;
		}
	}
	return count;
}

void channel_reader_close(struct channel_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	strbuf_release(&r->partial);
	strbuf_release(&r->scratch);
}
