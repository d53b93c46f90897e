/*
 * outfile: a file that appears whole or not at all (what `memline plot` and `memline export`
 * write). Its bytes go to a temporary file beside the path (".NAME.XXXXXX", mode 0666 less
 * the umask), renamed over the path by outfile_commit() once all of them were written; on any
 * failure the temporary file is removed and whatever was at the path is left as it was.
 * Messages name the path the user gave, never the temporary one.
 */
#ifndef MEMLINE_OUTFILE_H
#define MEMLINE_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

struct outfile {
	const char *path; /* the caller's, not copied */
	char *tmp;	  /* the temporary file, owned; NULL when none */
	int fd;
	int error; /* errno of the first failed write; 0 if none */
};

enum outfile_error {
	OUTFILE_OK = 0,
	OUTFILE_ERR_CREATE = -1, /* cannot create the file (or put it at the path) */
	OUTFILE_ERR_WRITE = -2,	 /* cannot write it */
	OUTFILE_ERR_NOMEM = -3,
};

/* Creates f's temporary file. Returns OUTFILE_OK, or an error with a one-line message. */
int outfile_open(struct outfile *f, const char *path, struct strbuf *err);
/*
 * Appends len bytes. Returns 0, or -1 with errno (kept in f->error: the commit then fails with
 * OUTFILE_ERR_WRITE); later writes are dropped.
 */
int outfile_write(struct outfile *f, const void *buf, size_t len);
/*
 * Closes the file and renames it over the path, unless failed (the caller's own failure) or a
 * write failed, in which case it is removed. Returns OUTFILE_OK, or an error with a one-line
 * message (none for failed: the caller has said why).
 */
int outfile_commit(struct outfile *f, bool failed, struct strbuf *err);

#endif
