/*
 * cmd-plot: `memline plot LOG... -o FILE`: loads one or more logs and draws them, the format
 * chosen by FILE's extension (lib/render/plot.h): PNG, SVG or PDF through cairo, or the HTML
 * report. `--threads` draws one process's threads instead (its heap and each thread's, or
 * their CPU%), the process checked here so that a log without one says so with exit code 65.
 * The picture is drawn into a temporary file beside FILE and renamed over it, so a failure
 * never leaves half an image.
 */
#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/outfile.h"
#include "render/plot.h"
#include "model/run.h"
#include "model/series.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline plot [OPTIONS] LOG... -o FILE\n"
		"\n"
		"Draws the memory (or CPU) of each recorded process tree over time: the job's\n"
		"memory (or the tree's total), the RSS sum where it differs, its top processes,\n"
		"the rest as \"other\", the program's events and spans, the peak and how the run\n"
		"ended. Several logs overlay on one time axis, each from its start and named in\n"
		"the legend by its label. The format is FILE's extension: .png, .svg, .pdf or\n"
		".html. LOG defaults to the newest memline-*.jsonl in the current directory.\n"
		"\n"
		"  -o, --output FILE      the image to write (required)\n"
		"  -m, --metric METRIC    rss (default), pss, vms, swap or cpu\n"
		"  -n, --top N            lines for the N processes with the highest peaks (5);\n"
		"                         with --threads, for the N threads (8)\n"
		"  -W, --width W          width in pixels (points for SVG and PDF), default 1200\n"
		"  -H, --height H         height, default 700\n"
		"  -t, --title TITLE      the title (default: the command)\n"
		"  -l, --label NAME       what the legend calls a log, once per LOG in their "
		"order\n"
		"                         (default: what tells them apart: the words their "
		"commands\n"
		"                         differ in, else the logs' names, else the start times)\n"
		"  -d, --dark             dark theme\n"
		"      --threads          the threads of one process: its RSS, its live heap and\n"
		"                         each top thread's (--heap logs; a dot at each thread's\n"
		"                         peak), else each thread's CPU (%% of one core); with\n"
		"                         --metric cpu, CPU also for a --heap log. One LOG\n"
		"      --stacked          with --threads: the threads as stacked areas that add "
		"up\n"
		"                         to the process's heap (or CPU), not overlaid lines\n"
		"  -p, --pid PID          with --threads: that process (default: the one with the\n"
		"                         largest heap, else whose threads used the most CPU)\n"
		"  -h, --help             print this help\n");
}

static int parse_int(const char *opt, const char *arg, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		die(EXIT_USAGE, "plot: %s takes a whole number from %ld to %ld, not '%s'", opt, lo,
		    hi, arg);
	return (int)v;
}

/*
 * Draws the plot in memory, then writes it to out through a temporary file renamed over it
 * (lib/outfile). Returns 0, or the exit code after saying why: 73 when out cannot be created,
 * 74 when it cannot be written, 70 out of memory or when drawing failed.
 */
static int write_plot(const struct plot_input *in, size_t n, const struct plot_options *o,
		      enum plot_format format, const char *out)
{
	struct strbuf pic = STRBUF_INIT, err = STRBUF_INIT;
	struct outfile f;
	int code = 0, ret = outfile_open(&f, out, &err);
	if (ret) {
		code = ret == OUTFILE_ERR_NOMEM ? EXIT_SOFTWARE : EXIT_CANTCREAT;
		goto out;
	}
	bool drawn = (format == PLOT_HTML ? plot_html(in, n, o, &pic, &err)
					  : plot_cairo(in, n, o, format, &pic, &err)) == 0 &&
		     !pic.oom;
	if (drawn && pic.len)
		outfile_write(&f, pic.buf, pic.len);
	if (!drawn) {
		code = EXIT_SOFTWARE;
		if (!err.len)
			strbuf_addstr(&err, "out of memory");
	}
	ret = outfile_commit(&f, !drawn, &err);
	if (ret && !code)
		code = ret == OUTFILE_ERR_CREATE ? EXIT_CANTCREAT : EXIT_IOERR;
out:
	if (code)
		error("%s", err.buf ? err.buf : "out of memory");
	strbuf_release(&pic);
	strbuf_release(&err);
	return code;
}

/* Frees the n logs loaded for a plot. */
static void release_logs(struct run *runs, struct plot_input *in, char **paths, size_t n)
{
	for (size_t i = 0; runs && paths && i < n; i++) {
		run_release(&runs[i]);
		free(paths[i]);
	}
	free(runs);
	free(in);
	free(paths);
}

/*
 * Loads the n logs named in names (nn of them; none: the newest in the current directory) into
 * runs, keeping fields, and fills in with them, their paths and labels (NULL: the default
 * ones). Returns 0, or the exit code after saying why.
 */
static int load_logs(int nn, char **names, unsigned long long fields, struct run *runs,
		     struct plot_input *in, char **paths, size_t n, char **labels)
{
	for (size_t i = 0; i < n; i++)
		run_init(&runs[i]);
	int code = 0;
	struct strbuf err = STRBUF_INIT;
	for (size_t i = 0; i < n && !code; i++) {
		code = resolve_log(nn > 0 ? names[i] : NULL, &paths[i], &err);
		if (code)
			break;
		int ret = run_load_fields(&runs[i], paths[i], fields, cli_log_warn, NULL, &err);
		if (ret < 0) {
			code = ret == RUN_LOAD_NOINPUT ? EXIT_NOINPUT : EXIT_DATAERR;
			break;
		}
		if (runs[i].truncated)
			warning("%s: the last line was cut off; plotting what was written before "
				"it",
				paths[i]);
		if (runs[i].status == RUN_INCOMPLETE)
			warning("%s: the log has no end record; plotting what it holds", paths[i]);
		in[i].run = &runs[i];
		in[i].path = paths[i];
		in[i].label = labels ? labels[i] : NULL;
	}
	if (code)
		error("%s", err.buf ? err.buf : "cannot read the log");
	strbuf_release(&err);
	return code;
}

/*
 * --threads: the process to draw exists and had threads (the renderers check it too, as an
 * error of drawing); picks the default one. Returns 0, or EXIT_DATAERR after saying why.
 */
static int check_threads(const struct run *run, const char *path, struct plot_options *o)
{
	int proc = o->pid > 0 ? run_proc_by_pid(run, o->pid) : series_threads_default(run);
	if (proc < 0 && o->pid > 0) {
		error("%s: no process %d in the log", path, (int)o->pid);
		return EXIT_DATAERR;
	}
	if (proc < 0) {
		error("%s: no process had more than one thread or heap numbers%s", path,
		      run->header.format < 3 ? " (a log of format 1 or 2 has no threads)" : "");
		return EXIT_DATAERR;
	}
	struct series_threads st;
	int ret = series_threads_build(&st, run, proc, o->metric, 1);
	size_t n = st.n_threads;
	series_threads_release(&st);
	if (ret < 0) {
		error("out of memory");
		return EXIT_SOFTWARE;
	}
	if (!n) {
		error("%s: process %d had one thread all its life: memline plot draws its numbers",
		      path, (int)run->procs[proc].pid);
		return EXIT_DATAERR;
	}
	o->pid = run->procs[proc].pid;
	return 0;
}

/* --metric's value; dies for another. */
static enum series_metric parse_metric(const char *arg)
{
	for (int i = 0; i < SERIES_NMETRICS; i++)
		if (!strcmp(arg, series_metric_names[i]))
			return (enum series_metric)i;
	die(EXIT_USAGE, "plot: --metric is rss, pss, vms, swap or cpu, not '%s'", arg);
}

/*
 * The options together, once parsed, for n logs with n_labels --label: dies with a usage error
 * for a bad combination. Returns the output's format.
 */
static int check_options(struct plot_options *o, const char *out, size_t n, size_t n_labels,
			 bool top_given, bool metric_given)
{
	if (!out)
		die(EXIT_USAGE, "plot: no output; give -o FILE.png, .svg, .pdf or .html");
	int format = plot_format_for(out);
	if (format < 0)
		die(EXIT_USAGE,
		    "plot: cannot tell the format of '%s'; end it in .png, .svg, .pdf or .html",
		    out);
	if (!o->threads && (o->stacked || o->pid))
		die(EXIT_USAGE, "plot: %s is for --threads", o->stacked ? "--stacked" : "--pid");
	if (o->threads && n > 1)
		die(EXIT_USAGE, "plot: --threads draws the threads of one log, not %zu", n);
	if (o->threads && metric_given && o->metric != SERIES_RSS && o->metric != SERIES_CPU)
		die(EXIT_USAGE, "plot: --threads draws the heap (rss, the default) or cpu, not %s",
		    series_metric_names[o->metric]);
	if (o->threads && top_given)
		o->thread_top = o->top > 0 ? o->top : 1;
	if (n_labels && n_labels != n)
		die(EXIT_USAGE, "plot: %zu --label for %zu log%s; give one per log, in their order",
		    n_labels, n, n == 1 ? "" : "s");
	return format;
}

int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"metric", required_argument, NULL, 'm'},
		{"top", required_argument, NULL, 'n'},
		{"width", required_argument, NULL, 'W'},
		{"height", required_argument, NULL, 'H'},
		{"title", required_argument, NULL, 't'},
		{"label", required_argument, NULL, 'l'},
		{"dark", no_argument, NULL, 'd'},
		{"threads", no_argument, NULL, 'T'},
		{"stacked", no_argument, NULL, 'S'},
		{"pid", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct plot_options o;
	plot_options_init(&o);
	const char *out = NULL;
	/*
	 * The --label values (pointers into argv). File-static, so that it stays reachable when
	 * the option parsing below dies (src/cli.h: die() with nothing held by a local alone).
	 */
	static char **labels;
	labels = calloc((size_t)argc + 1, sizeof(*labels));
	size_t n_labels = 0;
	if (!labels)
		die(EXIT_SOFTWARE, "out of memory");
	int c;
	opterr = 0;
	optind = 1;
	bool top_given = false, metric_given = false;
	while ((c = getopt_long(argc, argv, ":o:m:n:W:H:t:l:dp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'm':
			o.metric = parse_metric(optarg);
			metric_given = true;
			break;
		case 'n':
			o.top = parse_int("--top", optarg, 0, 100);
			top_given = true;
			break;
		case 'W':
			o.width = parse_int("--width", optarg, 200, 20000);
			break;
		case 'H':
			o.height = parse_int("--height", optarg, 150, 20000);
			break;
		case 't':
			o.title = optarg;
			break;
		case 'l':
			labels[n_labels++] = optarg;
			break;
		case 'd':
			o.dark = true;
			break;
		case 'T':
			o.threads = true;
			break;
		case 'S':
			o.stacked = true;
			break;
		case 'p':
			o.pid = parse_pid(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			die(EXIT_USAGE,
			    "plot: option '%s' needs a value; see 'memline plot --help'",
			    argv[optind - 1]);
		default:
			die(EXIT_USAGE, "plot: unknown option '%s'; see 'memline plot --help'",
			    argv[optind - 1]);
		}
	}
	size_t n = argc > optind ? (size_t)(argc - optind) : 1;
	int format = check_options(&o, out, n, n_labels, top_given, metric_given);
	struct run *runs = calloc(n, sizeof(*runs));
	struct plot_input *in = calloc(n, sizeof(*in));
	char **paths = calloc(n, sizeof(*paths));
	if (!runs || !in || !paths) {
		release_logs(runs, in, paths, 0);
		free(labels);
		labels = NULL;
		die(EXIT_SOFTWARE, "out of memory");
	}
	/* the page has a thread view; --threads draws one */
	unsigned long long fields = series_fields(o.metric);
	if (o.threads || format == PLOT_HTML)
		fields |= series_threads_fields();
	int code = load_logs(argc - optind, argv + optind, fields, runs, in, paths, n,
			     n_labels ? labels : NULL);
	if (!code && o.threads)
		code = check_threads(&runs[0], paths[0], &o);
	if (!code)
		code = write_plot(in, n, &o, (enum plot_format)format, out);
	/* cairo's font caches, so that a leak checker sees less that is not ours */
	cairo_debug_reset_static_data();
	release_logs(runs, in, paths, n);
	free(labels);
	labels = NULL;
	return code;
}
