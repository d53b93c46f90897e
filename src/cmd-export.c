/*
 * cmd-export: `memline export --csv [--threads]|--perfetto|--folded [-o FILE] [LOG]` and
 * `memline export --gnuplot DIR [LOG]`: load a log and write it in another tool's format
 * (lib/render/export.c). `memline export --csv [-o FILE] LOG... | DIR | 'PATTERN'`: several
 * logs are one job (model/job.h), written as its grid (lib/render/export-job.c); the other
 * formats read one log and say so.
 * Output goes to standard output as it is made, or to a file that appears whole or not at all: it
 * is written to a temporary file beside it, then renamed over it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "render/export.h"
#include "model/job.h"
#include "model/run.h"
#include "util/outfile.h"

enum format { FMT_NONE, FMT_CSV, FMT_PERFETTO, FMT_GNUPLOT, FMT_FOLDED };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline export --csv [--threads] [-o FILE] [LOG]\n"
		"       memline export --csv [-o FILE] LOG... | DIR | 'PATTERN'\n"
		"       memline export --perfetto [-o FILE] [LOG]\n"
		"       memline export --gnuplot DIR [LOG]\n"
		"       memline export --folded [-o FILE] [LOG]\n"
		"\n"
		"Writes a memline log in another tool's format. LOG defaults to the newest\n"
		"memline-*.jsonl in the current directory. Several logs (the ranks or nodes of\n"
		"one job), a directory of them or a quoted pattern are one job: --csv writes its\n"
		"memory over time, a row per bin of the job's clock (t, wall, job, rank_min,\n"
		"rank_median, rank_max, then a column per node and per log, in KiB); the other\n"
		"formats read one log.\n"
		"\n"
		"  --csv           a table with one row per process per sample (t, pid, ppid, "
		"cmd,\n"
		"                  the log's per-process fields in KiB and ms, the job's memory,\n"
		"                  state)\n"
		"  --threads       with --csv: one row per thread row of the log instead (t,\n"
		"                  pid, tid, thread, utime, stime in ms, heap, heap_peak, alloc,\n"
		"                  freed in bytes, nalloc, nfree, mmap)\n"
		"  --perfetto      Chrome trace event JSON for ui.perfetto.dev: RSS counters per\n"
		"                  process and for the tree, the job's memory, events as "
		"instants,\n"
		"                  spans as slices, stacks (--stacks) as instants\n"
		"  --gnuplot DIR   DIR/memline.dat and DIR/memline.plt; 'gnuplot DIR/memline.plt'\n"
		"                  draws DIR/memline.png (DIR is created if missing)\n"
		"  --folded        the stacks captured (memline run --stacks) as folded stacks,\n"
		"                  'outermost;...;innermost COUNT' a line, for flame graph tools\n"
		"  -o, --output FILE  write to FILE instead of standard output (--csv, "
		"--perfetto,\n"
		"                  --folded)\n"
		"  -h, --help      print this help\n");
}

/* ---- writing ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flush_fd(void *data, const char *buf, size_t len)
{
	return write_all(*(int *)data, buf, len);
}

static int flush_outfile(void *data, const char *buf, size_t len)
{
	return outfile_write(data, buf, len);
}

/*
 * Renders the run into the file path, which appears whole or not at all (lib/outfile).
 * Returns 0, or the exit code after saying why: 73 cannot create, 74 cannot write, 70 out of
 * memory.
 */
typedef void render_fn(const void *model, int top, struct export_out *out);

static int write_output(const char *path, const void *model, render_fn *render)
{
	struct strbuf err = STRBUF_INIT;
	struct outfile f;
	int code = 0, ret = outfile_open(&f, path, &err);
	if (ret) {
		code = ret == OUTFILE_ERR_NOMEM ? EXIT_SOFTWARE : EXIT_CANTCREAT;
	} else {
		struct export_out out;
		export_out_init(&out, flush_outfile, &f);
		render(model, EXPORT_GNUPLOT_TOP, &out);
		bool failed = export_out_finish(&out) < 0;
		if (failed && out.error == ENOMEM) {
			code = EXIT_SOFTWARE;
			strbuf_addstr(&err, "out of memory");
		}
		/* a failed write was the file's: the commit says so, naming it */
		ret = outfile_commit(&f, failed && out.error == ENOMEM, &err);
		if (ret && !code)
			code = ret == OUTFILE_ERR_CREATE ? EXIT_CANTCREAT : EXIT_IOERR;
		export_out_release(&out);
	}
	if (code)
		error("%s", err.buf ? err.buf : "out of memory");
	strbuf_release(&err);
	return code;
}

/*
 * DIR and its missing parents, like mkdir -p; an existing non-directory is an error. Returns
 * 0, or the exit code after saying why.
 */
static int make_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		error("cannot create directory '%s': it exists and is not a directory", dir);
		return EXIT_CANTCREAT;
	}
	char *path = strdup(dir);
	if (!path) {
		error("out of memory");
		return EXIT_SOFTWARE;
	}
	int code = 0;
	for (char *p = path + 1; !code; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			error("cannot create directory '%s': %s", path, strerror(errno));
			code = EXIT_CANTCREAT;
		} else if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			error("cannot create directory '%s': '%s' is not a directory", dir, path);
			code = EXIT_CANTCREAT;
		}
		*p = c;
		if (!c)
			break;
	}
	free(path);
	return code;
}

/* The exports, with write_output's signature (the tables take no top). */
static void render_csv(const void *run, int top, struct export_out *out)
{
	(void)top;
	export_csv(run, out);
}

static void render_csv_threads(const void *run, int top, struct export_out *out)
{
	(void)top;
	export_csv_threads(run, out);
}

static void render_perfetto(const void *run, int top, struct export_out *out)
{
	(void)top;
	export_perfetto(run, out);
}

static void render_folded(const void *run, int top, struct export_out *out)
{
	(void)top;
	export_folded(run, out);
}

static void render_job_csv(const void *job, int top, struct export_out *out)
{
	(void)top;
	export_job_csv(job, out);
}

static void render_gnuplot_dat(const void *run, int top, struct export_out *out)
{
	export_gnuplot_dat(run, top, out);
}

static void render_gnuplot_plt(const void *run, int top, struct export_out *out)
{
	export_gnuplot_plt(run, top, out);
}

/* Writes DIR/NAME. Returns 0, or the exit code after saying why. */
static int write_file(const char *dir, const char *name, const void *run, render_fn *render)
{
	struct strbuf path = STRBUF_INIT;
	size_t n = strlen(dir);
	strbuf_addf(&path, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
	int code = EXIT_SOFTWARE;
	if (path.oom) {
		error("out of memory");
	} else {
		code = write_output(path.buf, run, render);
	}
	strbuf_release(&path);
	return code;
}

/* Renders the run to standard output as it is made. Returns 0, or the exit code after saying why.
 */
static int write_stdout(const void *model, render_fn *render)
{
	struct export_out out;
	int fd = STDOUT_FILENO, code = 0;
	export_out_init(&out, flush_fd, &fd);
	render(model, 0, &out);
	if (export_out_finish(&out) < 0) {
		code = out.error == ENOMEM ? EXIT_SOFTWARE : EXIT_IOERR;
		if (out.error == ENOMEM)
			error("out of memory");
		else
			error("cannot write to standard output: %s", strerror(out.error));
	}
	export_out_release(&out);
	return code;
}

/* Why a format other than --csv does not export a job, for its usage error. */
static const char *job_refusal(enum format fmt, bool threads)
{
	if (threads)
		return "--threads reads one log's threads; give one of the job's logs";
	switch (fmt) {
	case FMT_PERFETTO:
		return "--perfetto traces one log's processes; give one of the job's logs, or "
		       "--csv for the job's memory over time";
	case FMT_FOLDED:
		return "--folded folds one log's stacks; give one of the job's logs";
	case FMT_GNUPLOT:
		return "--gnuplot draws one log; for the job, 'memline plot' of its logs, or "
		       "--csv for its memory over time";
	default:
		return NULL;
	}
}

/* `export --csv` of a job's logs: its grid. Returns the exit code. */
static int export_job(struct cli_logs *logs, enum format fmt, bool threads, const char *output)
{
	const char *why = job_refusal(fmt, threads);
	if (why) {
		cli_logs_release(logs);
		die(EXIT_USAGE, "export: %s", why);
	}
	struct job job;
	cli_load_job(logs, &job);
	cli_logs_release(logs);
	for (size_t i = 0; i < job.n_logs; i++)
		if (!job.logs[i].unreadable && job.logs[i].truncated)
			warning("%s: %s; exporting what could be read", job.logs[i].path,
				job.logs[i].error ? job.logs[i].error : "the log is damaged");
	int code = output ? write_output(output, &job, render_job_csv)
			  : write_stdout(&job, render_job_csv);
	job_release(&job);
	return code;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"csv", no_argument, NULL, 'c'},	   {"perfetto", no_argument, NULL, 'p'},
		{"gnuplot", required_argument, NULL, 'g'}, {"output", required_argument, NULL, 'o'},
		{"folded", no_argument, NULL, 'f'},	   {"threads", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},	   {0},
	};
	enum format fmt = FMT_NONE;
	const char *output = NULL, *dir = NULL;
	bool threads = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		enum format want = FMT_NONE;
		switch (c) {
		case 'c':
			want = FMT_CSV;
			break;
		case 'p':
			want = FMT_PERFETTO;
			break;
		case 'f':
			want = FMT_FOLDED;
			break;
		case 'g':
			want = FMT_GNUPLOT;
			dir = optarg;
			break;
		case 'o':
			output = optarg;
			continue;
		case 't':
			threads = true;
			continue;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt == 'o' || optopt == 'g')
				die(EXIT_USAGE,
				    "export: %s needs an argument; see 'memline export "
				    "--help'",
				    argv[optind - 1]);
			die(EXIT_USAGE, "export: unknown option '%s'; see 'memline export --help'",
			    argv[optind - 1]);
		}
		if (fmt != FMT_NONE && fmt != want)
			die(EXIT_USAGE,
			    "export: give one of --csv, --perfetto, --folded and --gnuplot");
		fmt = want;
	}
	if (fmt == FMT_NONE)
		die(EXIT_USAGE, "export: give --csv, --perfetto, --folded or --gnuplot DIR; see "
				"'memline export --help'");
	if (fmt == FMT_GNUPLOT && output)
		die(EXIT_USAGE, "export: --gnuplot writes into its DIR; -o is for --csv, "
				"--perfetto and --folded");
	if (fmt == FMT_GNUPLOT && !*dir)
		die(EXIT_USAGE, "export: --gnuplot needs a directory");
	if (output && !*output)
		die(EXIT_USAGE, "export: -o needs a file name");
	if (threads && fmt != FMT_CSV)
		die(EXIT_USAGE, "export: --threads goes with --csv");

	struct cli_logs logs;
	cli_take_logs(argc, argv, optind, &logs);
	if (cli_logs_are_job(&logs))
		return export_job(&logs, fmt, threads, output);
	struct run run;
	cli_load_path(logs.paths[0], &run,
		      threads		    ? EXPORT_THREADS_FIELDS
		      : fmt == FMT_CSV	    ? EXPORT_CSV_FIELDS
		      : fmt == FMT_PERFETTO ? EXPORT_PERFETTO_FIELDS
		      : fmt == FMT_FOLDED   ? EXPORT_FOLDED_FIELDS
					    : EXPORT_GNUPLOT_FIELDS);
	cli_logs_release(&logs);
	if (fmt == FMT_FOLDED && !run.stacks.n_captures)
		note("%s has no stacks (recorded without --stacks): nothing to fold", run.path);
	if (threads && !run.threads.n)
		note("%s has no thread rows (%s): only the header row", run.path,
		     run.header.format < 3 ? "a log before format 3"
					   : "no process had more than one thread");
	if (run.truncated || run.corrupt)
		warning("%s: the log is damaged; exporting what could be read", run.path);

	int code;
	if (fmt == FMT_GNUPLOT) {
		if (!(code = make_dir(dir)) &&
		    !(code = write_file(dir, "memline.dat", &run, render_gnuplot_dat)))
			code = write_file(dir, "memline.plt", &run, render_gnuplot_plt);
		run_release(&run);
		return code;
	}
	render_fn *render = threads		? render_csv_threads
			    : fmt == FMT_CSV	? render_csv
			    : fmt == FMT_FOLDED ? render_folded
						: render_perfetto;
	code = output ? write_output(output, &run, render) : write_stdout(&run, render);
	run_release(&run);
	return code;
}
