/*
 * record-opts: the options `run` and `attach` share (-o, -i, -I, --min-interval, --pss,
 * --no-peak-reset, -q), their parsing, and the closing summary both print.
 */
#ifndef MEMLINE_RECORD_OPTS_H
#define MEMLINE_RECORD_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "recorder.h"

struct record_opts {
	struct recorder_options rec;
	bool quiet;
	char *log_path; /* owned */
};

/* The long options both commands take; getopt codes are the short letters or >= 256. */
extern const struct option record_long_options[];
#define RECORD_SHORT_OPTIONS "o:i:I:qh"
#define RECORD_OPT_WAIT 256

void record_opts_init(struct record_opts *ro);
/* Takes one option both commands know; returns false if c is not one of them. */
bool record_opts_parse(struct record_opts *ro, int c, const char *arg);
/* Checks option combinations; dies with a usage error if they do not fit. */
void record_opts_check(struct record_opts *ro);
/* The default log name for a command: memline-NAME-YYYYMMDD-HHMMSS.jsonl, not yet existing. */
char *record_default_log_name(const char *command);
/* Prints the one-line summary on stderr (unless quiet) and any warning. */
void record_print_summary(const struct record_opts *ro, const struct recorder_result *res);
void record_opts_release(struct record_opts *ro);

#endif
