/* cli: shared pieces of the memline commands: messages, exit codes, argument parsing. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run.h"
#include "strbuf.h"

const char *cli_progname = "memline";

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", cli_progname, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
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

double parse_seconds(const char *opt, const char *arg)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v <= 0)
		die(EXIT_USAGE, "%s takes a positive number of seconds, not '%s'", opt, arg);
	if (v < 0.001)
		die(EXIT_USAGE, "%s %s is below memline's 1 ms resolution; use 0.001 or more", opt,
		    arg);
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

char *resolve_log(const char *arg)
{
	if (arg) {
		struct stat st;
		if (stat(arg, &st) < 0)
			die(EXIT_NOINPUT, "cannot open log '%s': %s", arg, strerror(errno));
		if (S_ISDIR(st.st_mode))
			die(EXIT_NOINPUT, "'%s' is a directory; give a memline log file", arg);
		return strdup(arg);
	}
	DIR *d = opendir(".");
	if (!d)
		die(EXIT_OSERR, "cannot read the current directory: %s", strerror(errno));
	char *best = NULL;
	struct timespec best_t = {0};
	struct dirent *de;
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
			free(best);
			best = strdup(de->d_name);
			best_t = st.st_mtim;
		}
	}
	closedir(d);
	if (!best)
		die(EXIT_NOINPUT, "no log given and no memline-*.jsonl in the current directory; "
				  "pass a LOG path");
	return best;
}

void cli_log_warn(void *data, const char *path, long line, const char *msg)
{
	(void)data;
	if (line > 0)
		warning("%s:%ld: %s", path, line, msg);
	else
		warning("%s: %s", path, msg);
}

void cli_load_run(const char *cmd, int argc, char **argv, int first, struct run *run,
		  unsigned long long fields)
{
	if (argc - first > 1)
		die(EXIT_USAGE, "%s takes one LOG, not %d; see 'memline %s --help'", cmd,
		    argc - first, cmd);
	char *path = resolve_log(first < argc ? argv[first] : NULL);
	struct strbuf err = STRBUF_INIT;
	int ret = run_load_fields(run, path, fields, cli_log_warn, NULL, &err);
	free(path); /* before a die(): LeakSanitizer may not see it in a register at exit */
	if (ret < 0)
		die(ret == RUN_LOAD_NOINPUT ? EXIT_NOINPUT : EXIT_DATAERR, "%s", err.buf);
	strbuf_release(&err);
}

void cli_print(const struct strbuf *out)
{
	if (out->oom)
		die(EXIT_SOFTWARE, "out of memory");
	if (out->len)
		fwrite(out->buf, 1, out->len, stdout);
	if (fflush(stdout) == EOF || ferror(stdout))
		die(EXIT_IOERR, "cannot write to standard output: %s", strerror(errno));
}
