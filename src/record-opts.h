/*
 * record-opts: the options `run` and `attach` share (-o, -i, -I, --min-interval, --pss,
 * --no-peak-reset, -q), their parsing, and the closing summary both print.
 */
#ifndef MEMLINE_RECORD_OPTS_H
#define MEMLINE_RECORD_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "recorder.h"
#include "views.h"

struct record_opts {
	struct recorder_options rec;
	const char *cmd; /* "run" or "attach" */
	bool quiet;
	char *log_path;	    /* owned */
	const char **regex; /* --event-regex patterns (the strings are argv's) */
	size_t n_regex;
	bool max_interval_set; /* -I was given */
	struct views views;    /* --live, --serve */
};

void record_opts_init(struct record_opts *ro);
/*
 * Parses cmd's options ("run" takes --wait too, and stops at the command's name); prints
 * usage and exits 0 for --help; dies with a usage error for a bad option or combination.
 * Sets ro->rec up for the live views asked for. Returns the index of the first argument
 * after the options.
 */
int record_opts_parse(struct record_opts *ro, const char *cmd, const char *usage, int argc,
		      char **argv);
/* The default log name for a command: memline-NAME-YYYYMMDD-HHMMSS.jsonl, not yet existing. */
char *record_default_log_name(const char *command);
/*
 * After recorder_run/recorder_attach returned ret: waits for the live views to close, then
 * dies with the error's exit code and message, or prints the one-line summary on stderr
 * (unless quiet) and any warning. Releases ro, res and err; returns what memline exits with.
 */
int record_finish(struct record_opts *ro, int ret, struct recorder_result *res, struct strbuf *err);

#endif
