/* outfile: a temporary file beside the path, renamed over it when whole (see outfile.h). */
#include "util/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outfile_open(struct outfile *f, const char *path, struct strbuf *err)
{
	f->path = path;
	f->tmp = NULL;
	f->fd = -1;
	f->error = 0;
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	struct strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
	if (tmp.oom) {
		strbuf_release(&tmp);
		strbuf_addstr(err, "out of memory");
		return OUTFILE_ERR_NOMEM;
	}
	f->tmp = strbuf_detach(&tmp, NULL);
	f->fd = mkstemp(f->tmp);
	int e = errno;
	if (f->fd >= 0) {
		/* mkstemp makes it 0600; a plot or a table is as readable as the umask says */
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(f->fd, 0666 & ~mask) == 0)
			return OUTFILE_OK;
		e = errno;
		close(f->fd);
		f->fd = -1;
		unlink(f->tmp);
	}
	free(f->tmp);
	f->tmp = NULL;
	strbuf_addf(err, "cannot create '%s': %s", path, strerror(e));
	return OUTFILE_ERR_CREATE;
}

int outfile_write(struct outfile *f, const void *buf, size_t len)
{
	const char *p = buf;
	if (f->error) {
		errno = f->error;
		return -1;
	}
	while (len) {
		ssize_t n = write(f->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->error = n < 0 ? errno : EIO;
			errno = f->error;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int outfile_commit(struct outfile *f, bool failed, struct strbuf *err)
{
	int ret = OUTFILE_OK, e = f->error;
	if (f->fd >= 0 && close(f->fd) < 0 && !e)
		e = errno;
	f->fd = -1;
	if (failed) {
		ret = OUTFILE_ERR_WRITE;
	} else if (e) {
		strbuf_addf(err, "cannot write '%s': %s", f->path, strerror(e));
		ret = OUTFILE_ERR_WRITE;
	} else if (rename(f->tmp, f->path) < 0) {
		strbuf_addf(err, "cannot create '%s': %s", f->path, strerror(errno));
		ret = OUTFILE_ERR_CREATE;
	}
	if (ret)
		unlink(f->tmp);
	free(f->tmp);
	f->tmp = NULL;
	return ret;
}
