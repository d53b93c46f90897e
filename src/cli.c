/* cli: shared pieces of the memline commands: messages, exit codes, argument parsing. */
#include "cli.h"

#include <dirent.h>
#include <glob.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/reader.h"
#include "util/text.h"
#include "model/job.h"
#include "model/run.h"
#include "util/strbuf.h"

const char *cli_progname = "memline";

/*
 * One line on stderr: "memline: PREFIX MESSAGE". Messages quote paths, command names and
 * text from logs, so the message goes through text_escape, the one escaping function for
 * what reaches a terminal: a command named with an escape sequence or a right-to-left override
 * shows as \x1b or \u202e, never raw, and cannot break the line.
 */
static void report_line(const char *prefix, const struct strbuf *msg)
{
	struct strbuf line = STRBUF_INIT;
	strbuf_addf(&line, "%s: %s", cli_progname, prefix);
	text_escape(&line, msg->buf ? msg->buf : "", msg->len, SIZE_MAX);
	strbuf_addch(&line, '\n');
	if (msg->oom || line.oom)
		fprintf(stderr, "%s: %sout of memory\n", cli_progname, prefix);
	else
		fwrite(line.buf, 1, line.len, stderr);
	strbuf_release(&line);
}

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	struct strbuf msg = STRBUF_INIT;
	strbuf_vaddf(&msg, fmt, ap);
	report_line(prefix, &msg);
	strbuf_release(&msg);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	exit(code);
}

void die_sb(int code, struct strbuf *msg)
{
	report_line("", msg);
	strbuf_release(msg);
	exit(code);
}

void error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
}

double parse_seconds(const char *opt, const char *arg, double max)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if ((errno && errno != ERANGE) || end == arg || *end || isnan(v) || v <= 0)
		die(EXIT_USAGE, "%s takes a positive number of seconds, not '%s'", opt, arg);
	if (v < 0.001)
		die(EXIT_USAGE, "%s %s is below memline's 1 ms resolution; use 0.001 or more", opt,
		    arg);
	if (v > max)
		die(EXIT_USAGE, "%s %s is too long; give at most %.0f seconds", opt, arg, max);
	return v;
}

int parse_pid(const char *arg)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > INT_MAX)
		die(EXIT_USAGE, "'%s' is not a process id; give a positive number", arg);
	return (int)v;
}

int resolve_log(const char *arg, char **path, struct strbuf *err)
{
	*path = NULL;
	if (arg) {
		/* Refused here, before any read: what is missing, and what is not a regular file
		 * (a FIFO, /dev/zero, a directory, a socket). */
		int fd = log_open_file(arg, err);
		if (fd < 0)
			return EXIT_NOINPUT;
		close(fd);
		if (!(*path = strdup(arg))) {
			strbuf_addstr(err, "out of memory");
			return EXIT_SOFTWARE;
		}
		return 0;
	}
	DIR *d = opendir(".");
	if (!d) {
		strbuf_addf(err, "cannot read the current directory: %s", strerror(errno));
		return EXIT_OSERR;
	}
	char *best = NULL;
	struct timespec best_t = {0};
	struct dirent *de;
	bool oom = false;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "memline-", 8) || n < 14 ||
		    strcmp(de->d_name + n - 6, ".jsonl"))
			continue;
		struct stat st;
		if (stat(de->d_name, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!best || st.st_mtim.tv_sec > best_t.tv_sec ||
		    (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec)) {
			char *name = strdup(de->d_name);
			if (!name) {
				oom = true;
				continue;
			}
			free(best);
			best = name;
			best_t = st.st_mtim;
		}
	}
	closedir(d);
	if (!best) {
		if (oom) {
			strbuf_addstr(err, "out of memory");
			return EXIT_SOFTWARE;
		}
		strbuf_addstr(err, "no log given and no memline-*.jsonl in the current directory; "
				   "pass a LOG path");
		return EXIT_NOINPUT;
	}
	*path = best;
	return 0;
}

/* Appends path (copied) to logs; false out of memory. */
static bool logs_add(struct cli_logs *logs, const char *path, size_t *alloc)
{
	if (logs->n == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 8;
		char **p = realloc(logs->paths, na * sizeof(*p));
		if (!p)
			return false;
		logs->paths = p;
		*alloc = na;
	}
	if (!(logs->paths[logs->n] = strdup(path)))
		return false;
	logs->n++;
	return true;
}

/* Orders names as people number files: rank.2 before rank.10. */
static int cmp_version(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's *.jsonl regular files, by name. Returns 0 or an exit code with err. */
static int logs_add_dir(struct cli_logs *logs, const char *dir, size_t *alloc, struct strbuf *err)
{
	DIR *d = opendir(dir);
	if (!d) {
		strbuf_addf(err, "cannot read the directory '%s': %s", dir, strerror(errno));
		return EXIT_NOINPUT;
	}
	size_t first = logs->n;
	struct dirent *de;
	struct strbuf path = STRBUF_INIT;
	int code = 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 7 || strcmp(de->d_name + n - 6, ".jsonl"))
			continue;
		strbuf_reset(&path);
		size_t dl = strlen(dir);
		strbuf_addf(&path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", de->d_name);
		struct stat st;
		if (path.oom) {
			code = EXIT_SOFTWARE;
			break;
		}
		if (stat(path.buf, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!logs_add(logs, path.buf, alloc)) {
			code = EXIT_SOFTWARE;
			break;
		}
	}
	closedir(d);
	strbuf_release(&path);
	if (code) {
		strbuf_addstr(err, "out of memory");
		return code;
	}
	if (logs->n == first) {
		strbuf_addf(err,
			    "no log (*.jsonl) in the directory '%s'; give the logs' directory "
			    "or the logs themselves",
			    dir);
		return EXIT_NOINPUT;
	}
	qsort(logs->paths + first, logs->n - first, sizeof(*logs->paths), cmp_version);
	return 0;
}

/* One argument: a file, a directory or a pattern. Returns 0 or an exit code with err. */
static int logs_add_arg(struct cli_logs *logs, const char *arg, size_t *alloc, struct strbuf *err)
{
	struct stat st;
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		logs->expanded = true;
		return logs_add_dir(logs, arg, alloc, err);
	}
	if (stat(arg, &st) < 0 && strpbrk(arg, "*?[")) {
		glob_t g;
		int r = glob(arg, 0, NULL, &g);
		if (r == GLOB_NOMATCH) {
			strbuf_addf(err,
				    "'%s' matches no file; check the pattern, or give the "
				    "logs' directory",
				    arg);
			return EXIT_NOINPUT;
		}
		if (r) {
			strbuf_addf(err, "cannot expand '%s': %s", arg,
				    r == GLOB_NOSPACE ? "out of memory"
						      : "a directory cannot be read");
			return r == GLOB_NOSPACE ? EXIT_SOFTWARE : EXIT_NOINPUT;
		}
		logs->expanded = true;
		qsort(g.gl_pathv, g.gl_pathc, sizeof(*g.gl_pathv), cmp_version);
		int code = 0;
		for (size_t i = 0; i < g.gl_pathc && !code; i++) {
			/* what is not a regular file (a directory the pattern also matched) is
			 * not a log, and not an error either */
			if (stat(g.gl_pathv[i], &st) == 0 && !S_ISREG(st.st_mode))
				continue;
			if (!logs_add(logs, g.gl_pathv[i], alloc)) {
				strbuf_addstr(err, "out of memory");
				code = EXIT_SOFTWARE;
			}
		}
		globfree(&g);
		return code;
	}
	int fd = log_open_file(arg, err);
	if (fd < 0)
		return EXIT_NOINPUT;
	close(fd);
	if (!logs_add(logs, arg, alloc)) {
		strbuf_addstr(err, "out of memory");
		return EXIT_SOFTWARE;
	}
	return 0;
}

struct file_id {
	dev_t dev;
	ino_t ino;
	size_t i;
};

static int cmp_file_id(const void *a, const void *b)
{
	const struct file_id *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * Drops a log named twice (a directory and a pattern over it, a link to it): a job counts each
 * log once. The first naming stays, in its place. Returns false out of memory.
 */
static bool logs_dedupe(struct cli_logs *logs)
{
	if (logs->n < 2)
		return true;
	struct file_id *ids = malloc(logs->n * sizeof(*ids));
	bool *drop = calloc(logs->n, sizeof(*drop));
	if (!ids || !drop) {
		free(ids);
		free(drop);
		return false;
	}
	size_t n = 0;
	for (size_t i = 0; i < logs->n; i++) {
		struct stat st;
		if (stat(logs->paths[i], &st) == 0)
			ids[n++] = (struct file_id){st.st_dev, st.st_ino, i};
	}
	qsort(ids, n, sizeof(*ids), cmp_file_id);
	for (size_t k = 1; k < n; k++)
		if (ids[k].dev == ids[k - 1].dev && ids[k].ino == ids[k - 1].ino)
			drop[ids[k].i] = true;
	size_t kept = 0;
	for (size_t i = 0; i < logs->n; i++) {
		if (drop[i])
			free(logs->paths[i]);
		else
			logs->paths[kept++] = logs->paths[i];
	}
	logs->n = kept;
	free(ids);
	free(drop);
	return true;
}

int cli_resolve_logs(int argc, char **argv, int first, struct cli_logs *logs, struct strbuf *err)
{
	memset(logs, 0, sizeof(*logs));
	size_t alloc = 0;
	if (first >= argc) {
		char *path;
		int code = resolve_log(NULL, &path, err);
		if (code)
			return code;
		bool ok = logs_add(logs, path, &alloc);
		free(path);
		if (!ok) {
			strbuf_addstr(err, "out of memory");
			return EXIT_SOFTWARE;
		}
		return 0;
	}
	for (int i = first; i < argc; i++) {
		int code = logs_add_arg(logs, argv[i], &alloc, err);
		if (code) {
			cli_logs_release(logs);
			return code;
		}
	}
	if (!logs_dedupe(logs)) {
		cli_logs_release(logs);
		strbuf_addstr(err, "out of memory");
		return EXIT_SOFTWARE;
	}
	return 0;
}

void cli_logs_release(struct cli_logs *logs)
{
	for (size_t i = 0; i < logs->n; i++)
		free(logs->paths[i]);
	free(logs->paths);
	memset(logs, 0, sizeof(*logs));
}

void cli_log_warn(void *data, const char *path, long line, const char *msg)
{
	(void)data;
	if (line > 0)
		warning("%s:%ld: %s", path, line, msg);
	else
		warning("%s: %s", path, msg);
}

/* Frees logs when the command is done with them: kept reachable for die() until then. */
static struct cli_logs *held_logs;

void cli_take_logs(int argc, char **argv, int first, struct cli_logs *logs)
{
	struct strbuf err = STRBUF_INIT;
	int code = cli_resolve_logs(argc, argv, first, logs, &err);
	if (code)
		die_sb(code, &err);
	strbuf_release(&err);
	held_logs = logs;
}

bool cli_logs_are_job(const struct cli_logs *logs)
{
	return logs->n > 1 || logs->expanded;
}

void cli_load_path(const char *path, struct run *run, unsigned long long fields)
{
	struct strbuf err = STRBUF_INIT;
	int ret = run_load_fields(run, path, fields, cli_log_warn, NULL, &err);
	if (ret < 0) {
		run_release(run);
		if (held_logs)
			cli_logs_release(held_logs);
		die_sb(ret == RUN_LOAD_NOINPUT ? EXIT_NOINPUT : EXIT_DATAERR, &err);
	}
	strbuf_release(&err);
}

void cli_load_job(const struct cli_logs *logs, struct job *job)
{
	struct strbuf err = STRBUF_INIT;
	int ret = job_load(job, logs->paths, logs->n, cli_log_warn, NULL, &err);
	if (ret < 0) {
		job_release(job);
		if (held_logs)
			cli_logs_release(held_logs);
		die_sb(ret == RUN_LOAD_NOINPUT ? EXIT_NOINPUT : EXIT_DATAERR, &err);
	}
	strbuf_release(&err);
}

int cli_print(const struct strbuf *out)
{
	if (out->oom) {
		error("out of memory");
		return EXIT_SOFTWARE;
	}
	if (out->len)
		fwrite(out->buf, 1, out->len, stdout);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		error("cannot write to standard output: %s", strerror(errno));
		return EXIT_IOERR;
	}
	return 0;
}
