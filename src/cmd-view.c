/*
 * cmd-view: `memline view [--follow] [--window SECONDS] [--serve [ADDR:]PORT] [LOG...]`: the
 * terminal dashboard (lib/render/tui.h) of a log, following it while another memline writes it with
 * --follow, else browsing what it holds; with --serve, the HTTP server (lib/render/http.h) too, or
 * alone when there is no terminal. src/views.c runs both.
 *
 * Several logs, a directory or a pattern are one job (model/job.h): the job's dashboard
 * (lib/render/tui-job.h), of the job read once, or with --follow of the logs as they grow
 * (model/job-follow.h), a directory or pattern listed again every few seconds for logs that
 * appear later; a directory with no log yet, or a pattern that matches none yet, is waited for.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "model/job-follow.h"
#include "model/job.h"
#include "model/live.h"
#include "util/strbuf.h"
#include "views.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline view [--follow] [--window SECONDS] [--serve [ADDR:]PORT] [LOG]\n"
		"       memline view [--follow] [--window SECONDS] LOG... | DIR | 'PATTERN'\n"
		"\n"
		"Shows a memline log as a full-screen dashboard: a chart of the job's memory and\n"
		"of its top processes, the processes, the latest events and output lines, and how\n"
		"the run ended. LOG defaults to the newest memline-*.jsonl in the current\n"
		"directory. Keys: q quit, p pause, + and - change the history window, s stacks\n"
		"(memline run --live), ? help.\n"
		"\n"
		"Several logs (the ranks or nodes of one job), a directory of them or a quoted\n"
		"pattern show the job: its status and the rank that gave it, its peak, its memory\n"
		"over time (the logs summed on the wall clock) with the band across ranks, the\n"
		"nodes, and the ranks (keys: m, c, r sort by peak, CPU, rank; up and down\n"
		"scroll). With --follow a directory or a pattern is listed again every few\n"
		"seconds, so a rank that starts late joins; it ends once every log has.\n"
		"\n"
		"  -f, --follow            keep reading LOG while another memline writes it\n"
		"  -w, --window SECONDS    the history window to start with (default: the whole\n"
		"                          run; + and - step through 10 s, 1 min, 5 min, 15 min,\n"
		"                          1 h and the whole run)\n"
		"      --serve [ADDR:]PORT serve LOG over HTTP too, on 127.0.0.1 unless ADDR is\n"
		"                          given: / (page), /metrics (Prometheus), /events, /log;\n"
		"                          without a terminal, only that, until interrupted; "
		"every\n"
		"                          request needs the token in the URL memline prints;\n"
		"                          or unix:PATH, a socket of mode 0600, no token\n"
		"      --serve-token-file FILE  the token: read from FILE, or written there (mode\n"
		"                          0600) when there is none, for Prometheus to read\n"
		"  -h, --help              print this help\n");
}

/* A directory, or a pattern that no file is named: what --follow may wait for. */
static bool may_wait(const char *arg)
{
	struct stat st;
	if (stat(arg, &st) == 0)
		return S_ISDIR(st.st_mode);
	return strpbrk(arg, "*?[") != NULL;
}

/*
 * The logs named by argv[first...] (cli_resolve_logs). With follow, a directory with no log
 * yet or a pattern that matches none yet is no error: the job's logs are waited for (an
 * empty list, marked expanded). Returns 0 or the exit code with a message in err.
 */
static int resolve_logs(int argc, char **argv, int first, bool follow, struct cli_logs *logs,
			struct strbuf *err)
{
	int code = cli_resolve_logs(argc, argv, first, logs, err);
	if (code != EXIT_NOINPUT || !follow || first >= argc)
		return code;
	for (int i = first; i < argc; i++)
		if (!may_wait(argv[i]))
			return code;
	/* each argument alone: those with logs give them, the others are waited for */
	strbuf_reset(err);
	memset(logs, 0, sizeof(*logs));
	size_t alloc = 0;
	for (int i = first; i < argc; i++) {
		struct cli_logs one;
		struct strbuf why = STRBUF_INIT;
		code = cli_resolve_logs(i + 1, argv, i, &one, &why);
		strbuf_release(&why);
		if (code == EXIT_NOINPUT)
			continue;
		if (code) {
			cli_logs_release(logs);
			strbuf_addstr(err, "out of memory");
			return code;
		}
		for (size_t k = 0; k < one.n; k++) {
			if (logs->n == alloc) {
				size_t a = alloc ? 2 * alloc : 16;
				char **p = realloc(logs->paths, a * sizeof(*p));
				if (!p) {
					cli_logs_release(&one);
					cli_logs_release(logs);
					strbuf_addstr(err, "out of memory");
					return EXIT_SOFTWARE;
				}
				logs->paths = p;
				alloc = a;
			}
			logs->paths[logs->n++] = one.paths[k];
			one.paths[k] = NULL;
		}
		cli_logs_release(&one);
	}
	logs->expanded = true;
	return 0;
}

/* The arguments the job's logs came from, for listing them again (job_follow_scan_fn). */
struct view_args {
	int argc;
	char **argv;
	int first;
};

static int scan_again(void *data, char ***paths, size_t *n)
{
	const struct view_args *a = data;
	struct cli_logs logs;
	struct strbuf err = STRBUF_INIT;
	int code = resolve_logs(a->argc, a->argv, a->first, true, &logs, &err);
	strbuf_release(&err);
	if (code)
		return -1;
	*paths = logs.paths;
	*n = logs.n;
	return 0;
}

/* The dashboard's title: what was given, as given (the dashboard escapes it). */
static char *job_title(int argc, char **argv, int first)
{
	struct strbuf t = STRBUF_INIT;
	for (int i = first; i < argc; i++)
		strbuf_addf(&t, "%s%s", i > first ? " " : "", argv[i]);
	return strbuf_detach(&t, NULL);
}

/*
 * `memline view` of a job: the job read once, or followed. Errors of the logs come before a
 * missing terminal, as for one log. Returns the exit code.
 */
static int view_job(struct views *v, int argc, char **argv, int first, struct cli_logs *logs)
{
	static const char no_terminal[] =
		"view draws on a terminal: standard input and output must be one (for a file, "
		"see 'memline report' of the same logs)";
	struct job job;
	struct job_follow jf;
	struct view_args args = {argc, argv, first};
	struct strbuf err = STRBUF_INIT;
	int code = 0;
	if (!v->follow) {
		cli_load_job(logs, &job);
	} else if (job_follow_open(&jf, logs->paths, logs->n, logs->expanded ? scan_again : NULL,
				   &args, &err) < 0) {
		job_follow_release(&jf);
		cli_logs_release(logs);
		die_sb(EXIT_SOFTWARE, &err);
	}
	if (!v->dashboard) {
		strbuf_addstr(&err, no_terminal);
		code = EXIT_USAGE;
	} else {
		char *title = job_title(argc, argv, first);
		if (views_job(v, title, v->follow ? &jf : NULL, v->follow ? NULL : &job) < 0) {
			strbuf_addstr(&err, v->tui_error ? v->tui_error : "the dashboard failed");
			code = EXIT_UNAVAILABLE;
		}
		free(title);
		free(v->tui_error);
	}
	if (v->follow)
		job_follow_release(&jf);
	else
		job_release(&job);
	if (code) {
		cli_logs_release(logs);
		die_sb(code, &err);
	}
	strbuf_release(&err);
	return 0;
}

int cmd_view(int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"window", required_argument, NULL, 'w'},
		{"serve", required_argument, NULL, 's'},
		{"serve-token-file", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct views v;
	views_init(&v);
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:fw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			v.follow = true;
			break;
		case 'w':
			v.history = parse_seconds("--window", optarg, 1e9);
			break;
		case 's':
			v.serve = optarg;
			break;
		case 't':
			v.token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			die(EXIT_USAGE, "view: '%s' needs a value; see 'memline view --help'",
			    argv[optind - 1]);
		default:
			die(EXIT_USAGE, "view: unknown option '%s'; see 'memline view --help'",
			    argv[optind - 1]);
		}
	}
	v.dashboard = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	struct cli_logs logs;
	struct strbuf err = STRBUF_INIT;
	int code = resolve_logs(argc, argv, optind, v.follow, &logs, &err);
	if (code)
		die_sb(code, &err);
	if (cli_logs_are_job(&logs)) {
		strbuf_release(&err);
		if (v.serve) {
			cli_logs_release(&logs);
			die(EXIT_USAGE, "view: --serve serves one log; a job's several logs are "
					"shown on the terminal (or see 'memline plot --html')");
		}
		code = view_job(&v, argc, argv, optind, &logs);
		cli_logs_release(&logs);
		return code;
	}
	/* one log: as it always was, from nothing held (views_prepare dies on a bad --serve) */
	cli_logs_release(&logs);
	views_prepare(&v);
	char *path;
	code = resolve_log(optind < argc ? argv[optind] : NULL, &path, &err);
	if (!code && access(path, R_OK) < 0) {
		strbuf_addf(&err, "cannot open log '%s': %s", path, strerror(errno));
		code = EXIT_NOINPUT;
	} else if (!code && !v.dashboard && !v.serve) {
		/* A damaged log says so first: that is the error whatever the output. */
		struct live probe;
		code = EXIT_DATAERR;
		if (live_start(&probe, path, false, &err) == 0) {
			live_stop(&probe);
			strbuf_addstr(&err,
				      "view draws on a terminal: standard input and output must "
				      "be one (for a file, see 'memline report'; for a browser, "
				      "--serve PORT)");
			code = EXIT_USAGE;
		}
	} else if (!code && views_start(&v, path, &err) < 0) {
		code = v.live_on ? EXIT_UNAVAILABLE : EXIT_DATAERR;
	}
	if (code) {
		http_stop(v.http); /* so that views_finish waits for nothing */
		v.http = NULL;
		views_finish(&v);
		free(v.tui_error);
		free(path);
		die_sb(code, &err);
	}
	int ret = views_finish(&v);
	free(path);
	strbuf_release(&err);
	if (ret < 0) {
		error("%s", v.tui_error);
		code = EXIT_UNAVAILABLE;
	}
	free(v.tui_error);
	return code;
}