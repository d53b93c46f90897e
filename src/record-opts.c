/* record-opts: option parsing and the closing summary shared by `run` and `attach`. */
#include "record-opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log/writer.h"
#include "util/text.h"

enum {
	OPT_WAIT = 256,
	OPT_MIN_INTERVAL,
	OPT_PSS,
	OPT_NO_PEAK_RESET,
	OPT_EVENTS,
	OPT_CAPTURE,
	OPT_EVENT_REGEX,
	OPT_LIVE,
	OPT_SERVE,
	OPT_SERVE_TOKEN_FILE,
};

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"interval", required_argument, NULL, 'i'},
	{"max-interval", required_argument, NULL, 'I'},
	{"min-interval", required_argument, NULL, OPT_MIN_INTERVAL},
	{"pss", no_argument, NULL, OPT_PSS},
	{"no-peak-reset", no_argument, NULL, OPT_NO_PEAK_RESET},
	{"quiet", no_argument, NULL, 'q'},
	{"wait", no_argument, NULL, OPT_WAIT},
	{"events", required_argument, NULL, OPT_EVENTS},
	{"capture-output", no_argument, NULL, OPT_CAPTURE},
	{"event-regex", required_argument, NULL, OPT_EVENT_REGEX},
	{"live", no_argument, NULL, OPT_LIVE},
	{"serve", required_argument, NULL, OPT_SERVE},
	{"serve-token-file", required_argument, NULL, OPT_SERVE_TOKEN_FILE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void record_opts_init(struct record_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	recorder_options_init(&ro->rec);
	views_init(&ro->views);
	ro->views.follow = true;
	strbuf_init(&ro->notes);
}

/* Takes one option; false if c is not one. Allocates nothing: the strings stay argv's. */
static bool take(struct record_opts *ro, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case 'o':
		if (!*arg)
			die(EXIT_USAGE, "-o takes a log path, not an empty string");
		ro->log_path = arg;
		return true;
	case 'i':
		ro->rec.interval = parse_seconds("-i", arg, CLI_MAX_INTERVAL);
		return true;
	case 'I':
		ro->rec.max_interval = parse_seconds("--max-interval", arg, CLI_MAX_INTERVAL);
		ro->max_interval_set = true;
		return true;
	case OPT_MIN_INTERVAL:
		ro->rec.min_interval = parse_seconds("--min-interval", arg, CLI_MAX_INTERVAL);
		return true;
	case OPT_PSS:
		ro->rec.pss = true;
		return true;
	case OPT_NO_PEAK_RESET:
		ro->rec.peak_reset = false;
		return true;
	case OPT_WAIT:
		if (strcmp(cmd, "run"))
			die(EXIT_USAGE,
			    "--wait is for 'memline run'; %s always waits for every "
			    "process",
			    cmd);
		ro->rec.wait = true;
		return true;
	case OPT_EVENTS:
		if (!strcmp(cmd, "run"))
			die(EXIT_USAGE, "--events is for 'memline attach'; run makes the command's "
					"channel itself ($MEMLINE_EVENTS)");
		ro->rec.events_path = arg;
		return true;
	case OPT_CAPTURE:
	case OPT_EVENT_REGEX:
		if (strcmp(cmd, "run"))
			die(EXIT_USAGE,
			    "%s is for 'memline run': only then is the output memline's "
			    "to pass on",
			    c == OPT_CAPTURE ? "--capture-output" : "--event-regex");
		/* Counted now, collected by record_opts_prepare. */
		ro->n_regex += c == OPT_EVENT_REGEX;
		/* Turning lines into events needs the lines. */
		ro->rec.capture_output = true;
		return true;
	case 'q':
		ro->quiet = true;
		return true;
	case OPT_LIVE:
		ro->views.dashboard = true;
		return true;
	case OPT_SERVE:
		ro->views.serve = arg;
		return true;
	case OPT_SERVE_TOKEN_FILE:
		ro->views.token_file = arg;
		return true;
	}
	return false;
}

/* run stops at the command's name, so that its options stay its own. */
static const char *short_options(const char *cmd)
{
	return strcmp(cmd, "run") ? ":o:i:I:qh" : "+:o:i:I:qh";
}

int record_opts_parse(struct record_opts *ro, const char *cmd, const char *usage, int argc,
		      char **argv)
{
	const char *shortopts = short_options(cmd);
	int c;
	ro->cmd = cmd;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, long_options, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (take(ro, cmd, c, optarg))
			continue;
		if (c == ':')
			die(EXIT_USAGE, "%s needs a value; see 'memline %s --help'",
			    argv[optind - 1], cmd);
		if (optopt && optopt < 256)
			die(EXIT_USAGE, "unknown option '-%c'; see 'memline %s --help'", optopt,
			    cmd);
		die(EXIT_USAGE, "unknown option '%s'; see 'memline %s --help'", argv[optind - 1],
		    cmd);
	}
	if (ro->rec.min_interval > ro->rec.max_interval)
		die(EXIT_USAGE, "--min-interval is longer than --max-interval; make it shorter");
	return optind;
}

static void on_warning(void *data, const char *msg)
{
	struct record_opts *ro = data;
	/* The dashboard owns the terminal: said once it is left. */
	if (ro->views.tui_on)
		strbuf_addf(&ro->notes, "%s%s", ro->notes.len ? "\n" : "", msg);
	else
		warning("%s", msg);
}

void record_opts_prepare(struct record_opts *ro, int argc, char **argv)
{
	views_prepare(&ro->views);
	if (ro->n_regex) {
		size_t n = 0;
		if (!(ro->regex = calloc(ro->n_regex, sizeof(*ro->regex)))) {
			record_opts_release(ro);
			die(EXIT_SOFTWARE, "out of memory");
		}
		/* The options again, known good now, for the patterns only. */
		const char *shortopts = short_options(ro->cmd);
		int c;
		optind = 0;
		opterr = 0;
		while ((c = getopt_long(argc, argv, shortopts, long_options, NULL)) != -1)
			if (c == OPT_EVENT_REGEX && n < ro->n_regex)
				ro->regex[n++] = optarg;
		ro->rec.event_regex = ro->regex;
		ro->rec.n_event_regex = n;
	}
	ro->rec.log_path = ro->log_path;
	ro->rec.warn = on_warning;
	ro->rec.warn_data = ro;
	views_for_recording(&ro->views, &ro->rec, ro->max_interval_set);
}

void record_opts_default_log(struct record_opts *ro, const char *command)
{
	if (!(ro->default_path = log_default_name(command))) {
		record_opts_release(ro);
		die(EXIT_SOFTWARE, "out of memory");
	}
	ro->log_path = ro->rec.log_path = ro->default_path;
	ro->rec.log_exclusive = true;
}

void record_opts_release(struct record_opts *ro)
{
	/* Nothing was recorded: the views never started, at most the server listened. */
	if (!ro->views.tui_on && !ro->views.live_on) {
		http_stop(ro->views.http);
		ro->views.http = NULL;
	}
	views_finish(&ro->views);
	free(ro->views.tui_error);
	ro->views.tui_error = NULL;
	free(ro->regex);
	ro->regex = NULL;
	free(ro->default_path);
	ro->default_path = NULL;
	ro->log_path = NULL;
	strbuf_release(&ro->notes);
}

static void print_summary(const struct record_opts *ro, const struct recorder_result *res)
{
	if (res->warning.len)
		warning("%s", res->warning.buf);
	if (ro->quiet)
		return;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, run_status_names[res->status]);
	if (res->exit_code >= 0 && res->status != RUN_COMPLETED) {
		strbuf_addf(&sb, " (exit %d)", res->exit_code);
	} else if (res->signal > 0) {
		strbuf_addstr(&sb, " (");
		text_signal(&sb, res->signal);
		strbuf_addch(&sb, ')');
	}
	strbuf_addstr(&sb, " after ");
	text_secs(&sb, res->duration);
	strbuf_addstr(&sb, "; peak RSS ");
	text_bytes(&sb, res->peak_kib * 1024);
	strbuf_addf(&sb, "; %zu process%s", res->processes, res->processes == 1 ? "" : "es");
	if (res->alive && !strcmp(ro->cmd, "run"))
		strbuf_addf(&sb, ", %zu still running (--wait records them to the end)",
			    res->alive);
	else if (res->alive)
		strbuf_addf(&sb, ", %zu still running, no longer recorded", res->alive);
	if (!res->log_path)
		strbuf_addstr(&sb, "; no log was written");
	else if (res->log_removed)
		strbuf_addf(&sb, "; the log %s was removed while recording: nothing is left of it",
			    res->log_path);
	else if (res->log_moved)
		strbuf_addf(&sb, "; the log was %s: it was moved or replaced since", res->log_path);
	else
		strbuf_addf(&sb, "; log: %s", res->log_path);
	/* escaped: the log's path is the user's, not always printable */
	note("%s", sb.oom ? "out of memory" : sb.buf);
	strbuf_release(&sb);
}

int record_finish(struct record_opts *ro, int ret, struct recorder_result *res, struct strbuf *err)
{
	views_finish(&ro->views);
	for (char *line = ro->notes.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		warning("%s", line);
	}
	int code;
	switch (ret) {
	case RECORDER_OK:
		print_summary(ro, res);
		code = res->memline_exit;
		break;
	case RECORDER_ERR_LOG:
		code = EXIT_CANTCREAT;
		break;
	case RECORDER_ERR_NOEXEC:
		code = res->memline_exit;
		break;
	case RECORDER_ERR_NOPROC:
	case RECORDER_ERR_EVENTS:
		code = EXIT_NOINPUT;
		break;
	case RECORDER_ERR_REGEX:
		code = EXIT_USAGE;
		break;
	default:
		code = EXIT_OSERR;
		break;
	}
	if (ret != RECORDER_OK)
		error("%s", err->buf ? err->buf : "the recording failed");
	recorder_result_release(res);
	strbuf_release(err);
	record_opts_release(ro);
	return code;
}
