/*
 * cmd-view: `memline view [--follow] [--window SECONDS] [--serve [ADDR:]PORT] [LOG]`: the
 * terminal dashboard (lib/render/tui.h) of a log, following it while another memline writes it with
 * --follow, else browsing what it holds; with --serve, the HTTP server (lib/render/http.h) too, or
 * alone when there is no terminal. src/views.c runs both.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model/live.h"
#include "util/strbuf.h"
#include "views.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline view [--follow] [--window SECONDS] [--serve [ADDR:]PORT] [LOG]\n"
		"\n"
		"Shows a memline log as a full-screen dashboard: a chart of the job's memory and\n"
		"of its top processes, the processes, the latest events and output lines, and how\n"
		"the run ended. LOG defaults to the newest memline-*.jsonl in the current\n"
		"directory. Keys: q quit, p pause, + and - change the history window, s stacks\n"
		"(memline run --live), ? help.\n"
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
	if (argc - optind > 1)
		die(EXIT_USAGE, "view takes one LOG, not %d; see 'memline view --help'",
		    argc - optind);
	v.dashboard = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	views_prepare(&v); /* before anything is held: it dies on a bad --serve */
	char *path;
	struct strbuf err = STRBUF_INIT;
	int code = resolve_log(optind < argc ? argv[optind] : NULL, &path, &err);
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