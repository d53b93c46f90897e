/*
 * views: the dashboard and the server of a recording, started from the recorder's started
 * hook; the contract is in views.h.
 *
 * The hook runs on the recording thread with every signal blocked, so the threads it starts
 * (the follower's, the server's, the dashboard's) inherit that mask and signals keep going to
 * the recorder's sigtimedwait. When the recording is over the main thread waits for the
 * dashboard with the stopping signals still blocked; one of them asks the dashboard to quit.
 * A dashboard whose terminal went away (a hangup) ends by itself: the recording goes on to
 * its end, and memline then exits without waiting for a 'q' nobody can press.
 *
 * The dashboard's 's' key, in a view that records, asks for stacks by sending memline itself
 * SIGUSR1: a process-directed signal goes to a thread that does not block it, and every
 * thread blocks it but the recorder's, which takes it in its sigtimedwait (the views'
 * threads block every signal, libmicrohttpd's inherit the recorder's mask from the hook).
 * The dashboard calls it only for a recording whose header asked for stacks (with any
 * --stacks memline waits for SIGUSR1), so a recorder that does not is never sent one.
 */
#include "views.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "render/tui-job.h"
#include "render/tui.h"

void views_init(struct views *v)
{
	memset(v, 0, sizeof(*v));
	v->wait_at_end = true;
	atomic_init(&v->tui_done, false);
	atomic_init(&v->tui_quit, false);
}

void views_prepare(struct views *v)
{
	if (v->dashboard && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		die(EXIT_USAGE, "--live draws on a terminal, and standard input or output is not "
				"one; use --serve PORT to watch it in a browser");
	if (v->token_file && !v->serve)
		die(EXIT_USAGE, "--serve-token-file goes with --serve");
	if (v->serve) {
		struct http_spec spec;
		struct strbuf err = STRBUF_INIT;
		strbuf_addstr(&err, "--serve: ");
		if (http_parse_spec(v->serve, &spec, &err) < 0)
			die_sb(EXIT_USAGE, &err);
		strbuf_reset(&err);
		if (spec.ip == 0 && v->token_file) {
			strbuf_release(&err);
			die(EXIT_USAGE, "--serve-token-file is for an address and port: a unix "
					"socket needs no token (its mode, 0600, guards it)");
		}
		char *token = NULL; /* NULL: a new one for this server */
		if (v->token_file) {
			int ret = http_token_file(v->token_file, &token, &err);
			if (ret < 0)
				die_sb(ret == HTTP_TOKEN_UNREADABLE   ? EXIT_NOINPUT
				       : ret == HTTP_TOKEN_UNWRITABLE ? EXIT_CANTCREAT
								      : EXIT_DATAERR,
				       &err);
		}
		v->http = http_listen(v->serve, token, &err);
		free(token);
		if (!v->http)
			die_sb(EXIT_UNAVAILABLE, &err);
		strbuf_release(&err);
	}
}

static void started(void *data, const char *log_path)
{
	struct strbuf err = STRBUF_INIT;
	if (views_start(data, log_path, &err) < 0)
		warning("no live view: %s", err.buf);
	strbuf_release(&err);
}

void views_for_recording(struct views *v, struct recorder_options *o, bool max_interval_set)
{
	if (!v->dashboard && !v->serve)
		return;
	o->started = started;
	o->started_data = v;
	v->recording = true;
	o->flush_interval = 0.05;
	if (!max_interval_set && o->max_interval > 1)
		o->max_interval = 1;
	if (o->min_interval > o->max_interval)
		o->min_interval = o->max_interval;
	if (v->dashboard) {
		o->capture_output = true;
		o->capture_quiet = true;
		o->stdin_null = true;
	}
}

/* The dashboard's 's' key, in a view that records: the recorder takes SIGUSR1 as "now". */
static void ask_stacks(void *data)
{
	(void)data;
	kill(getpid(), SIGUSR1);
}

static void *tui_thread(void *arg)
{
	struct views *v = arg;
	struct tui_options o = {.title = v->title,
				.wait_at_end = v->wait_at_end,
				.history = v->history,
				.quit = &v->tui_quit,
				.ask_stacks = v->recording ? ask_stacks : NULL};
	struct strbuf err = STRBUF_INIT;
	int ret = tui_run(&v->live, &o, &err);
	if (ret < 0) {
		v->tui_error = strbuf_detach(&err, NULL);
		if (v->recording)
			warning("the dashboard stopped: %s", v->tui_error);
	} else if (v->recording) {
		live_lock(&v->live);
		bool finished = v->live.finished;
		live_unlock(&v->live);
		if (ret == 1 && !finished)
			note("the terminal went away; still recording to %s", v->log_path);
		else if (!finished)
			note("dashboard closed; still recording to %s", v->log_path);
	}
	strbuf_release(&err);
	atomic_store(&v->tui_done, true);
	return NULL;
}

int views_start(struct views *v, const char *log_path, struct strbuf *err)
{
	v->log_path = log_path;
	if (live_start(&v->live, log_path, v->follow, err) < 0)
		return -1;
	v->live_on = true;
	struct strbuf title = STRBUF_INIT;
	strbuf_addstr(&title, log_path);
	if (v->http) {
		if (http_serve(v->http, &v->live, err) < 0) {
			http_stop(v->http);
			v->http = NULL;
			if (!v->recording) {
				strbuf_release(&title);
				return -1;
			}
			warning("%s; going on without it", err->buf);
			strbuf_reset(err);
		} else {
			note("serving %s", http_url(v->http));
			strbuf_addf(&title, "  %s", http_address(v->http));
		}
	}
	v->title = strbuf_detach(&title, NULL);
	if (v->dashboard) {
		int e = live_spawn(&v->tui, tui_thread, v);
		if (e) {
			strbuf_addf(err, "cannot start the dashboard: %s", strerror(e));
			return -1;
		}
		v->tui_on = true;
	}
	return 0;
}

/*
 * Waits for the dashboard to be left, a stopping signal asking it to quit; or, with only the
 * server of a log nothing records, for a stopping signal.
 */
static void wait_views(struct views *v)
{
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	const struct timespec tick = {0, 100 * 1000 * 1000};
	if (v->tui_on) {
		while (!atomic_load(&v->tui_done))
			if (sigtimedwait(&stop, NULL, &tick) > 0)
				atomic_store(&v->tui_quit, true);
		pthread_join(v->tui, NULL);
	} else {
		while (sigtimedwait(&stop, NULL, &tick) < 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int views_finish(struct views *v)
{
	if (v->tui_on || (v->http && !v->recording))
		wait_views(v);
	http_stop(v->http);
	if (v->live_on)
		live_stop(&v->live);
	free(v->title);
	v->title = NULL;
	v->http = NULL;
	v->tui_on = v->live_on = false;
	return v->tui_error ? -1 : 0;
}

static void *job_thread(void *arg)
{
	struct views *v = arg;
	struct tui_options o = {.title = v->title,
				.wait_at_end = v->wait_at_end,
				.history = v->history,
				.quit = &v->tui_quit};
	struct strbuf err = STRBUF_INIT;
	if (tui_job_run(v->job_follow, v->job, &o, &err) < 0)
		v->tui_error = strbuf_detach(&err, NULL);
	strbuf_release(&err);
	atomic_store(&v->tui_done, true);
	return NULL;
}

int views_job(struct views *v, const char *title, struct job_follow *jf, const struct job *job)
{
	v->job_follow = jf;
	v->job = job;
	int e = (v->title = strdup(title)) ? live_spawn(&v->tui, job_thread, v) : ENOMEM;
	if (e) {
		struct strbuf err = STRBUF_INIT;
		strbuf_addf(&err, "cannot start the dashboard: %s", strerror(e));
		v->tui_error = strbuf_detach(&err, NULL);
	} else {
		v->tui_on = true;
		wait_views(v);
		v->tui_on = false;
	}
	free(v->title);
	v->title = NULL;
	return v->tui_error ? -1 : 0;
}
