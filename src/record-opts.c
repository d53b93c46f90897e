/* record-opts: option parsing and the closing summary shared by `run` and `attach`. */
#include "record-opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "report.h"

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
}

/* Takes one option; false if c is not one. */
static bool take(struct record_opts *ro, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case 'o':
		if (!*arg)
			die(EXIT_USAGE, "-o takes a log path, not an empty string");
		free(ro->log_path);
		ro->log_path = strdup(arg);
		return true;
	case 'i':
		ro->rec.interval = parse_seconds("-i", arg);
		return true;
	case 'I':
		ro->rec.max_interval = parse_seconds("--max-interval", arg);
		ro->max_interval_set = true;
		return true;
	case OPT_MIN_INTERVAL:
		ro->rec.min_interval = parse_seconds("--min-interval", arg);
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
		if (c == OPT_EVENT_REGEX) {
			const char **re = realloc(ro->regex, (ro->n_regex + 1) * sizeof(*re));
			if (!re)
				die(EXIT_SOFTWARE, "out of memory");
			re[ro->n_regex++] = arg;
			ro->regex = re;
			ro->rec.event_regex = re;
			ro->rec.n_event_regex = ro->n_regex;
		}
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

int record_opts_parse(struct record_opts *ro, const char *cmd, const char *usage, int argc,
		      char **argv)
{
	/* run stops at the command's name, so that its options stay its own. */
	const char *shortopts = strcmp(cmd, "run") ? "o:i:I:qh" : "+o:i:I:qh";
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, long_options, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (take(ro, cmd, c, optarg))
			continue;
		if (c == ':' || (c == '?' && optopt && strchr("oiI", optopt)))
			die(EXIT_USAGE, "-%c needs a value; see 'memline %s --help'", optopt, cmd);
		die(EXIT_USAGE, "unknown option '%s'; see 'memline %s --help'", argv[optind - 1],
		    cmd);
	}
	if (ro->rec.min_interval > ro->rec.max_interval)
		die(EXIT_USAGE, "--min-interval is longer than --max-interval; make it shorter");
	views_prepare(&ro->views);
	views_for_recording(&ro->views, &ro->rec, ro->max_interval_set);
	return optind;
}

char *record_default_log_name(const char *command)
{
	char *name = log_default_name(command);
	if (!name)
		die(EXIT_SOFTWARE, "out of memory");
	return name;
}

static void print_summary(const struct record_opts *ro, const struct recorder_result *res)
{
	if (res->warning.len)
		warning("%s; the log keeps every record written before that", res->warning.buf);
	if (ro->quiet)
		return;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, run_status_names[res->status]);
	if (res->exit_code >= 0 && res->status != RUN_COMPLETED) {
		strbuf_addf(&sb, " (exit %d)", res->exit_code);
	} else if (res->signal > 0) {
		strbuf_addstr(&sb, " (");
		report_signal(&sb, res->signal);
		strbuf_addch(&sb, ')');
	}
	strbuf_addstr(&sb, " after ");
	report_secs(&sb, res->duration);
	strbuf_addstr(&sb, "; peak RSS ");
	report_bytes(&sb, res->peak_kib * 1024);
	strbuf_addf(&sb, "; %zu process%s", res->processes, res->processes == 1 ? "" : "es");
	if (res->alive)
		strbuf_addf(&sb, ", %zu still running (--wait records them to the end)",
			    res->alive);
	strbuf_addf(&sb, "; log: %s", ro->log_path);
	fprintf(stderr, "memline: %s\n", sb.buf);
	strbuf_release(&sb);
}

int record_finish(struct record_opts *ro, int ret, struct recorder_result *res, struct strbuf *err)
{
	views_finish(&ro->views);
	free(ro->views.tui_error);
	switch (ret) {
	case RECORDER_OK:
		break;
	case RECORDER_ERR_LOG:
		die(EXIT_CANTCREAT, "%s", err->buf);
	case RECORDER_ERR_NOEXEC:
		die(res->memline_exit, "%s", err->buf);
	case RECORDER_ERR_NOPROC:
	case RECORDER_ERR_EVENTS:
		die(EXIT_NOINPUT, "%s", err->buf);
	case RECORDER_ERR_REGEX:
		die(EXIT_USAGE, "%s", err->buf);
	default:
		die(EXIT_OSERR, "%s", err->buf);
	}
	print_summary(ro, res);
	int code = res->memline_exit;
	recorder_result_release(res);
	strbuf_release(err);
	free(ro->log_path);
	ro->log_path = NULL;
	free(ro->regex);
	ro->regex = NULL;
	return code;
}
