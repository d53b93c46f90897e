/*
 * cmd-export: `memline export --csv|--perfetto [-o FILE] [LOG]` and `memline export --gnuplot
 * DIR [LOG]`: load a log and write it in another tool's format (lib/export.c). Output goes
 * to standard output as it is made, or to a file that appears whole or not at all: it is
 * written to a temporary file beside it, then renamed over it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
#include "run.h"

enum format { FMT_NONE, FMT_CSV, FMT_PERFETTO, FMT_GNUPLOT };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline export --csv [-o FILE] [LOG]\n"
		"       memline export --perfetto [-o FILE] [LOG]\n"
		"       memline export --gnuplot DIR [LOG]\n"
		"\n"
		"Writes a memline log in another tool's format. LOG defaults to the newest\n"
		"memline-*.jsonl in the current directory.\n"
		"\n"
		"  --csv           a table with one row per process per sample (t, pid, ppid, "
		"cmd,\n"
		"                  the log's per-process fields in KiB and ms, state)\n"
		"  --perfetto      Chrome trace event JSON for ui.perfetto.dev: RSS counters per\n"
		"                  process and for the tree, events as instants, spans as slices\n"
		"  --gnuplot DIR   DIR/memline.dat and DIR/memline.plt; 'gnuplot DIR/memline.plt'\n"
		"                  draws DIR/memline.png (DIR is created if missing)\n"
		"  -o, --output FILE  write to FILE instead of standard output (--csv, "
		"--perfetto)\n"
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

/* A file being written: a temporary beside path, renamed over it when done. */
struct out_file {
	const char *path;
	char *tmp;
	int fd;
};

/* Creates f's temporary file. Returns 0, or the exit code after saying why. */
static int out_file_open(struct out_file *f, const char *path)
{
	f->path = path;
	f->tmp = NULL;
	f->fd = -1;
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	struct strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
	if (tmp.oom) {
		strbuf_release(&tmp);
		error("out of memory");
		return EXIT_SOFTWARE;
	}
	f->tmp = strbuf_detach(&tmp, NULL);
	f->fd = mkstemp(f->tmp);
	int e = errno;
	if (f->fd >= 0) {
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(f->fd, 0666 & ~mask) == 0)
			return 0;
		e = errno;
		close(f->fd);
		f->fd = -1;
		unlink(f->tmp);
	}
	free(f->tmp);
	f->tmp = NULL;
	error("cannot create '%s': %s", path, strerror(e));
	return EXIT_CANTCREAT;
}

/*
 * Finishes out into f: the temporary file is renamed over f->path, or removed on failure.
 * Returns 0, or the exit code after saying why.
 */
static int out_file_commit(struct out_file *f, struct export_out *out)
{
	int code = 0, e = 0;
	if (export_out_finish(out) < 0) {
		code = out->error == ENOMEM ? EXIT_SOFTWARE : EXIT_IOERR;
		e = out->error;
		close(f->fd);
	} else if (close(f->fd) < 0) {
		code = EXIT_IOERR;
		e = errno;
	} else if (rename(f->tmp, f->path) < 0) {
		code = EXIT_CANTCREAT;
		e = errno;
	}
	f->fd = -1;
	if (code) {
		unlink(f->tmp);
		if (code == EXIT_SOFTWARE)
			error("out of memory");
		else
			error("cannot %s '%s': %s", code == EXIT_CANTCREAT ? "create" : "write",
			      f->path, strerror(e));
	}
	free(f->tmp);
	f->tmp = NULL;
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

/* Writes DIR/NAME. Returns 0, or the exit code after saying why. */
static int write_file(const char *dir, const char *name, const struct run *run,
		      void (*render)(const struct run *, int, struct export_out *))
{
	struct strbuf path = STRBUF_INIT;
	size_t n = strlen(dir);
	strbuf_addf(&path, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
	int code = EXIT_SOFTWARE;
	struct out_file f;
	if (path.oom)
		error("out of memory");
	else if (!(code = out_file_open(&f, path.buf))) {
		struct export_out out;
		export_out_init(&out, flush_fd, &f.fd);
		render(run, EXPORT_GNUPLOT_TOP, &out);
		code = out_file_commit(&f, &out);
		export_out_release(&out);
	}
	strbuf_release(&path);
	return code;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"csv", no_argument, NULL, 'c'},	   {"perfetto", no_argument, NULL, 'p'},
		{"gnuplot", required_argument, NULL, 'g'}, {"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},	   {0},
	};
	enum format fmt = FMT_NONE;
	const char *output = NULL, *dir = NULL;
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
		case 'g':
			want = FMT_GNUPLOT;
			dir = optarg;
			break;
		case 'o':
			output = optarg;
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
			die(EXIT_USAGE, "export: give one of --csv, --perfetto and --gnuplot");
		fmt = want;
	}
	if (fmt == FMT_NONE)
		die(EXIT_USAGE, "export: give --csv, --perfetto or --gnuplot DIR; see 'memline "
				"export --help'");
	if (fmt == FMT_GNUPLOT && output)
		die(EXIT_USAGE, "export: --gnuplot writes into its DIR; -o is for --csv and "
				"--perfetto");
	if (fmt == FMT_GNUPLOT && !*dir)
		die(EXIT_USAGE, "export: --gnuplot needs a directory");
	if (output && !*output)
		die(EXIT_USAGE, "export: -o needs a file name");

	struct run run;
	cli_load_run("export", argc, argv, optind, &run,
		     fmt == FMT_CSV	   ? EXPORT_CSV_FIELDS
		     : fmt == FMT_PERFETTO ? EXPORT_PERFETTO_FIELDS
					   : EXPORT_GNUPLOT_FIELDS);
	if (run.truncated || run.corrupt)
		warning("%s: the log is damaged; exporting what could be read", run.path);

	int code;
	if (fmt == FMT_GNUPLOT) {
		if (!(code = make_dir(dir)) &&
		    !(code = write_file(dir, "memline.dat", &run, export_gnuplot_dat)))
			code = write_file(dir, "memline.plt", &run, export_gnuplot_plt);
		run_release(&run);
		return code;
	}
	void (*render)(const struct run *, struct export_out *) =
		fmt == FMT_CSV ? export_csv : export_perfetto;
	struct export_out out;
	if (output) {
		struct out_file f;
		if (!(code = out_file_open(&f, output))) {
			export_out_init(&out, flush_fd, &f.fd);
			render(&run, &out);
			code = out_file_commit(&f, &out);
			export_out_release(&out);
		}
	} else {
		int fd = STDOUT_FILENO;
		export_out_init(&out, flush_fd, &fd);
		render(&run, &out);
		code = 0;
		if (export_out_finish(&out) < 0) {
			code = out.error == ENOMEM ? EXIT_SOFTWARE : EXIT_IOERR;
			if (out.error == ENOMEM)
				error("out of memory");
			else
				error("cannot write to standard output: %s", strerror(out.error));
		}
		export_out_release(&out);
	}
	run_release(&run);
	return code;
}
