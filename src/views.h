/*
 * views: the live views of a recording, the terminal dashboard (--live, lib/render/tui.h) and the
 * HTTP server (--serve, lib/render/http.h), for `run` and `attach` (wired to the recorder's started
 * hook, so they begin once the log exists) and for `view` (started on a log file). Both read
 * one followed model of the log (lib/model/live.h).
 */
#ifndef MEMLINE_VIEWS_H
#define MEMLINE_VIEWS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "model/job-follow.h"
#include "model/job.h"
#include "model/live.h"
#include "record/recorder.h"
#include "render/http.h"

struct views {
	bool dashboard;		/* --live */
	const char *serve;	/* --serve [ADDR:]PORT, or NULL */
	const char *token_file; /* --serve-token-file FILE, or NULL */
	const char *log_path;
	bool follow;	/* keep reading the log as it grows */
	bool recording; /* run or attach records the log (else view reads one) */
	bool wait_at_end;
	double history; /* the dashboard's first history window, s; 0 the whole run */
	struct live live;
	bool live_on;
	struct http_server *http;
	pthread_t tui;
	bool tui_on;
	atomic_bool tui_done; /* the dashboard was left */
	atomic_bool tui_quit; /* asks the dashboard to quit (a stopping signal at the end) */
	char *tui_error;      /* why the dashboard stopped, when it failed */
	char *title;
	/* views_job's: the job's followed logs, or the job read once */
	struct job_follow *job_follow;
	const struct job *job;
};

void views_init(struct views *v);
/*
 * Checks the options and takes the port, before anything is recorded: dies with a usage error
 * (64) for a bad --serve spec or --live without a terminal, and with 69 when the port cannot
 * be had (in use, no such address). With --serve-token-file, reads the token from the file,
 * or writes a new one there: dies with 66 when it cannot be read, 73 when it cannot be made,
 * 65 when it is not a file to trust (another user's, others can read it, not a token). The
 * server answers once views_start() has the log.
 */
void views_prepare(struct views *v);
/*
 * For run and attach: sets o so that the views start when the recording does (nothing when
 * neither --live nor --serve was given). --live records the command's output into the log
 * instead of passing it on, gives the command /dev/null for input, and both write records out
 * within 50 ms and sample at least once a second (unless -I was given).
 */
void views_for_recording(struct views *v, struct recorder_options *o, bool max_interval_set);
/*
 * Starts the views on log_path. Returns -1 with a one-line message in err when the log cannot
 * be followed, or (for view) the server cannot start; for a recording, a server that cannot
 * start (after views_prepare took its port: only when out of resources) is told on stderr
 * and left out, so the recording goes on.
 */
int views_start(struct views *v, const char *log_path, struct strbuf *err);
/*
 * Waits until the dashboard is left (with wait_at_end, after the recording ended), or, with
 * only the server, for SIGINT, SIGTERM or SIGHUP when nothing is recorded; then stops the
 * server and frees everything. With neither view, does nothing. Returns -1 when the
 * dashboard failed (v->tui_error says why; the caller frees it).
 */
int views_finish(struct views *v);
/*
 * For `view` of a job: runs the job's dashboard (lib/render/tui-job.h) under title, on jf
 * (followed logs) or job (read once), in a thread of its own with every signal blocked, and
 * waits for it as views_finish does for one log's: a stopping signal asks it to quit. Returns
 * -1 when it failed (v->tui_error says why; the caller frees it).
 */
int views_job(struct views *v, const char *title, struct job_follow *jf, const struct job *job);

#endif
