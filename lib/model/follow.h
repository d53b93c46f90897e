/*
 * follow: a run model (run.h) kept up to date with a log that is still being written, for the
 * live views (the terminal dashboard, the HTTP server). Each follow_poll() reads what the
 * writer appended since the last one and adds its complete lines to the model; a line the
 * writer has not finished yet waits for its newline. A log that shrinks was started anew (a
 * new recording to the same path): the model starts over.
 *
 * The writer writes whole records in one write(2), so a reader sees a cut-off line only
 * while a write is in flight, or when the writer died in the middle of one (then the line
 * stays pending and the log ends before it, as run_load reads it).
 *
 * Nothing here prints or exits; errors come back as -1 with a one-line message in err.
 */
#ifndef MEMLINE_FOLLOW_H
#define MEMLINE_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>

#include "log/reader.h"
#include "model/run.h"
#include "util/strbuf.h"

struct follow {
	struct run run; /* the model of what has been read */
	char *path;
	int fd;
	off_t offset;	       /* bytes of the file read so far */
	struct strbuf pending; /* the start of a line whose newline has not been written yet */
	bool skipping;	       /* reading past a line longer than LOG_LINE_MAX */
	struct log_reader reader;
	struct log_record rec;
	log_warn_fn *warn;
	void *warn_data;
	unsigned long changes;	   /* bumped each time the model changes */
	unsigned long long fields; /* of the process samples, kept by the model */
};

/*
 * Opens path to follow it; the model is empty until the first follow_poll(). The file may still
 * be empty (a recording that just began). Returns -1 with a message in err when it cannot be
 * opened or is not a regular file (RUN_LOAD_NOINPUT's case; see log_open_file); f must then
 * not be used.
 */
int follow_open(struct follow *f, const char *path, log_warn_fn *warn, void *warn_data,
		struct strbuf *err);
/*
 * Reads what was appended into the model and updates its status (run_update_status). Returns
 * the records added (0: nothing new), or -1 when the log cannot be read or is not a memline
 * log (a message in err; the model keeps what it had).
 */
long follow_poll(struct follow *f, struct strbuf *err);
/* Keeps only these fields of the process samples (run_keep_fields); call before a poll. */
void follow_keep_fields(struct follow *f, unsigned long long fields);
/* Whether the recording has finished: its end record was read, or no memline writes it. */
bool follow_finished(const struct follow *f);
void follow_release(struct follow *f);

#endif
