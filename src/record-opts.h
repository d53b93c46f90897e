/*
 * record-opts: the options of `run` and `attach` (one table, for parsing and for --help), and
 * what both do around the recording: the default log name and the closing summary.
 */
#ifndef MEMLINE_RECORD_OPTS_H
#define MEMLINE_RECORD_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "record/recorder.h"
#include "views.h"

struct record_opts {
	struct recorder_options rec;
	const char *cmd; /* "run" or "attach" */
	bool quiet;
	const char *log_path; /* -o (argv's string, then its expansion), or the default name */
	char *default_path;   /* owned: the default name, when -o was not given */
	char *expanded_path;  /* owned: -o's patterns expanded (record_opts_prepare) */
	const char **regex;   /* --event-regex patterns (an owned array of argv's strings) */
	size_t n_regex;
	bool max_interval_set; /* -I was given */
	struct views views;    /* --live, --serve */
	struct strbuf notes;   /* the recorder's warnings while the dashboard had the terminal */
	char heap_lib[4096];   /* --heap: the library's path (rec.heap_lib) */
};

void record_opts_init(struct record_opts *ro);
/*
 * Parses cmd's options ("run" takes --wait too, and stops at the command's name); for --help
 * prints head (the command's usage line and what it does), then the options cmd takes, and
 * exits 0; dies with a usage error for a bad option or combination. Allocates nothing.
 * Returns the index of the first argument after the options.
 */
int record_opts_parse(struct record_opts *ro, const char *cmd, const char *head, int argc,
		      char **argv);
/* Prints head, then the options cmd ("run" or "attach") takes, with their help. */
void record_opts_usage(const char *cmd, const char *head);
/*
 * Once the command's own arguments are checked: expands -o's patterns (%r, %h, %j, %p, %n,
 * %%: log/place.h) from the launcher's environment, dying with 64 for one it cannot expand
 * (before anything is touched), and warning when every rank of a job would write one log;
 * takes the --serve port (dying with 64 or 69 as views_prepare does), collects the
 * --event-regex patterns and sets ro->rec up for the live views. From here on ro holds
 * memory: record_finish() or record_opts_release() frees it.
 */
void record_opts_prepare(struct record_opts *ro, int argc, char **argv);
/* Without -o: the log is the default name for command, never replacing anything. */
void record_opts_default_log(struct record_opts *ro, const char *command);
/* Frees what ro holds (for an error before the recording). */
void record_opts_release(struct record_opts *ro);
/*
 * After recorder_run/recorder_attach returned ret: waits for the live views to close, then
 * says the error, or prints the one-line summary on stderr (unless quiet) and any warning.
 * Releases ro, res and err; returns what memline exits with.
 */
int record_finish(struct record_opts *ro, int ret, struct recorder_result *res, struct strbuf *err);

#endif
