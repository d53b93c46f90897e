/*
 * cmd-plot: `memline plot LOG... -o FILE`: loads one or more logs and draws them, the format
 * chosen by FILE's extension (lib/render/plot.h): PNG, SVG or PDF through cairo, or the HTML
 * report. `--threads` draws one process's threads instead (its heap and each thread's, or
 * their CPU%), the process checked here so that a log without one says so with exit code 65.
 * The logs of one job (a directory or a pattern, or logs that name their rank, job or node;
 * --job) are merged into the plot of the job (model/job.h, streamed: one log in memory at a
 * time); other logs overlay, each from its start (--overlay makes a job's logs overlay too).
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
#include "model/job.h"
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
		"The logs of one job (a directory of logs, a quoted pattern such as "
		"'run.*.jsonl',\n"
		"or logs that name their rank, job id or node) are merged on the job's clock: the\n"
		"job's memory, each node's (2 to 16 nodes; more: their band and median), each\n"
		"rank's (up to 8; more: the band from the lowest to the highest rank, the median\n"
		"and the top ranks by peak), the peak and where the worst rank ended. The HTML "
		"page\n"
		"of a job has a list of its ranks to pick lines from.\n"
		"\n"
		"  -o, --output FILE      the image to write (required)\n"
		"  -m, --metric METRIC    rss (default), pss, vms, swap or cpu\n"
		"  -n, --top N            lines for the N processes with the highest peaks (5);\n"
		"                         with --threads, for the N threads (8); of a job, for\n"
		"                         the N ranks with the highest peaks (3)\n"
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
		"      --job              draw the logs as one job, even when they do not say so\n"
		"      --overlay          overlay the logs, each from its start, even those of a "
		"job\n"
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

/* What is drawn: n logs overlaid (in), or the job they are (job). */
struct drawing {
	const struct plot_input *in;
	size_t n;
	const struct job *job;
};

static int draw(const struct drawing *d, const struct plot_options *o, enum plot_format format,
		struct strbuf *pic, struct strbuf *err)
{
	if (d->job)
		return format == PLOT_HTML ? plot_job_html(d->job, o, pic, err)
					   : plot_job_cairo(d->job, o, format, pic, err);
	return format == PLOT_HTML ? plot_html(d->in, d->n, o, pic, err)
				   : plot_cairo(d->in, d->n, o, format, pic, err);
}

/*
 * Draws the plot in memory, then writes it to out through a temporary file renamed over it
 * (lib/outfile). Returns 0, or the exit code after saying why: 73 when out cannot be created,
 * 74 when it cannot be written, 70 out of memory or when drawing failed.
 */
static int write_plot(const struct drawing *d, const struct plot_options *o,
		      enum plot_format format, const char *out)
{
	struct strbuf pic = STRBUF_INIT, err = STRBUF_INIT;
	struct outfile f;
	int code = 0, ret = outfile_open(&f, out, &err);
	if (ret) {
		code = ret == OUTFILE_ERR_NOMEM ? EXIT_SOFTWARE : EXIT_CANTCREAT;
		goto out;
	}
	bool drawn = draw(d, o, format, &pic, &err) == 0 && !pic.oom;
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
static void release_runs(struct run *runs, struct plot_input *in, size_t n)
{
	for (size_t i = 0; runs && i < n; i++)
		run_release(&runs[i]);
	free(runs);
	free(in);
}

/*
 * Loads the n logs at paths into runs, keeping fields, and fills in with them, their paths and
 * labels (NULL: the default ones). Returns 0, or the exit code after saying why.
 */
static int load_runs(char *const *paths, size_t n, unsigned long long fields, struct run *runs,
		     struct plot_input *in, char **labels)
{
	for (size_t i = 0; i < n; i++)
		run_init(&runs[i]);
	int code = 0;
	struct strbuf err = STRBUF_INIT;
	for (size_t i = 0; i < n && !code; i++) {
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

/* How the logs are drawn: as one job, or overlaid. */
enum plot_mode { MODE_AUTO, MODE_JOB, MODE_OVERLAY };

/*
 * The options together, once parsed: dies with a usage error for a bad combination. Returns
 * the output's format.
 */
static int check_options(struct plot_options *o, const char *out, bool top_given, bool metric_given)
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
	if (o->threads && metric_given && o->metric != SERIES_RSS && o->metric != SERIES_CPU)
		die(EXIT_USAGE, "plot: --threads draws the heap (rss, the default) or cpu, not %s",
		    series_metric_names[o->metric]);
	if (o->threads && top_given)
		o->thread_top = o->top > 0 ? o->top : 1;
	if (top_given)
		o->rank_top = o->top > 0 ? o->top : -1;
	return format;
}

/*
 * Whether the logs are drawn as one job: --job says so, --overlay says not; else several
 * logs that a directory or a pattern named, or that name a rank, a job or a whole node.
 */
static bool as_job(const struct cli_logs *logs, enum plot_mode mode)
{
	if (mode != MODE_AUTO)
		return mode == MODE_JOB;
	return cli_logs_are_job(logs) &&
	       (logs->expanded || job_paths_are_job(logs->paths, logs->n));
}

/*
 * What does not go with a job's plot, checked once the logs say they are one: dies with a
 * usage error (logs released first).
 */
static void check_job_options(struct cli_logs *logs, const struct plot_options *o, size_t n_labels,
			      bool metric_given)
{
	const char *why = NULL;
	if (n_labels)
		why = "--label names overlaid logs; the logs of a job are named by their rank "
		      "(or file): give --overlay to overlay them";
	else if (o->threads)
		why = "--threads draws the threads of one log, not a job of several";
	else if (metric_given && o->metric != SERIES_RSS)
		why = "a job is plotted by its memory (each log's job memory, summed); --metric is "
		      "for overlaid logs (--overlay)";
	if (!why)
		return;
	cli_logs_release(logs);
	die(EXIT_USAGE, "plot: %s", why);
}

/* The plot of the logs as one job. Returns the exit code. */
static int plot_job(struct cli_logs *logs, const struct plot_options *o, enum plot_format format,
		    const char *out)
{
	struct job job;
	cli_load_job(logs, &job);
	size_t cut = 0;
	for (size_t i = 0; i < job.n_logs; i++) {
		const struct job_log *l = &job.logs[i];
		if (l->unreadable || !l->truncated)
			continue;
		if (++cut <= 5)
			warning("%s: %s; plotting what it holds", l->path,
				l->error ? l->error : "the log is cut off");
	}
	if (cut > 5)
		warning("%zu more logs are cut off; memline report tells which", cut - 5);
	struct drawing d = {.job = &job};
	int code = write_plot(&d, o, format, out);
	job_release(&job);
	return code;
}

/* The logs overlaid, each from its start (or the threads of one). Returns the exit code. */
static int plot_overlay(const struct cli_logs *logs, struct plot_options *o,
			enum plot_format format, const char *out, char **labels, size_t n_labels)
{
	size_t n = logs->n;
	if (o->threads && n > 1) {
		error("plot: --threads draws the threads of one log, not %zu", n);
		return EXIT_USAGE;
	}
	if (n_labels && n_labels != n) {
		error("plot: %zu --label for %zu log%s; give one per log, in their order", n_labels,
		      n, n == 1 ? "" : "s");
		return EXIT_USAGE;
	}
	struct run *runs = calloc(n, sizeof(*runs));
	struct plot_input *in = calloc(n, sizeof(*in));
	if (!runs || !in) {
		release_runs(runs, in, 0);
		error("out of memory");
		return EXIT_SOFTWARE;
	}
	/* the page has a thread view; --threads draws one */
	unsigned long long fields = series_fields(o->metric);
	if (o->threads || format == PLOT_HTML)
		fields |= series_threads_fields();
	int code = load_runs(logs->paths, n, fields, runs, in, n_labels ? labels : NULL);
	if (!code && o->threads)
		code = check_threads(&runs[0], logs->paths[0], o);
	struct drawing d = {.in = in, .n = n};
	if (!code)
		code = write_plot(&d, o, format, out);
	release_runs(runs, in, n);
	return code;
}

/* What the command line said, once parsed. */
struct plot_args {
	struct plot_options o;
	const char *out;
	char **labels; /* the --label values, pointers into argv */
	size_t n_labels;
	bool top_given, metric_given;
	enum plot_mode mode;
};

/*
 * Parses the options into a (labels allocated by the caller, argc + 1 of them). Returns false
 * after --help (printed), true to go on; dies with a usage error on a bad option.
 */
static bool parse_args(int argc, char **argv, struct plot_args *a)
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
		{"job", no_argument, NULL, 'J'},
		{"overlay", no_argument, NULL, 'O'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct plot_options *o = &a->o;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:m:n:W:H:t:l:dp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case 'm':
			o->metric = parse_metric(optarg);
			a->metric_given = true;
			break;
		case 'n':
			o->top = parse_int("--top", optarg, 0, 100);
			a->top_given = true;
			break;
		case 'W':
			o->width = parse_int("--width", optarg, 200, 20000);
			break;
		case 'H':
			o->height = parse_int("--height", optarg, 150, 20000);
			break;
		case 't':
			o->title = optarg;
			break;
		case 'l':
			a->labels[a->n_labels++] = optarg;
			break;
		case 'd':
			o->dark = true;
			break;
		case 'T':
			o->threads = true;
			break;
		case 'S':
			o->stacked = true;
			break;
		case 'p':
			o->pid = parse_pid(optarg);
			break;
		case 'J':
		case 'O':
			if (a->mode != MODE_AUTO && a->mode != (c == 'J' ? MODE_JOB : MODE_OVERLAY))
				die(EXIT_USAGE,
				    "plot: --job and --overlay say the opposite; give one");
			a->mode = c == 'J' ? MODE_JOB : MODE_OVERLAY;
			break;
		case 'h':
			usage(stdout);
			return false;
		case ':':
			die(EXIT_USAGE,
			    "plot: option '%s' needs a value; see 'memline plot --help'",
			    argv[optind - 1]);
		default:
			die(EXIT_USAGE, "plot: unknown option '%s'; see 'memline plot --help'",
			    argv[optind - 1]);
		}
	}
	return true;
}

int cmd_plot(int argc, char **argv)
{
	struct plot_args a = {.mode = MODE_AUTO};
	plot_options_init(&a.o);
	/*
	 * The --label values (pointers into argv). File-static, so that it stays reachable when
	 * the option parsing below dies (src/cli.h: die() with nothing held by a local alone).
	 */
	static char **labels;
	labels = calloc((size_t)argc + 1, sizeof(*labels));
	if (!labels)
		die(EXIT_SOFTWARE, "out of memory");
	a.labels = labels;
	if (!parse_args(argc, argv, &a)) {
		free(labels);
		labels = NULL;
		return 0;
	}
	int format = check_options(&a.o, a.out, a.top_given, a.metric_given);
	struct cli_logs logs;
	cli_take_logs(argc, argv, optind, &logs);
	int code;
	if (as_job(&logs, a.mode)) {
		check_job_options(&logs, &a.o, a.n_labels, a.metric_given);
		code = plot_job(&logs, &a.o, (enum plot_format)format, a.out);
	} else {
		code = plot_overlay(&logs, &a.o, (enum plot_format)format, a.out, labels,
				    a.n_labels);
	}
	/* cairo's font caches, so that a leak checker sees less that is not ours */
	cairo_debug_reset_static_data();
	cli_logs_release(&logs);
	free(labels);
	labels = NULL;
	return code;
}
