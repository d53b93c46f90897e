/*
 * cli: what every memline command shares: exit codes for memline's own errors, die/error/
 * warning (one line on stderr, "memline: ..."), option parsing helpers and log lookup.
 */
#ifndef MEMLINE_CLI_H
#define MEMLINE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>

/* memline's own errors (sysexits.h values), distinct from a recorded command's exit status. */
enum {
	EXIT_USAGE = 64,       /* bad command line */
	EXIT_DATAERR = 65,     /* a log is not a memline log, or too damaged to read */
	EXIT_NOINPUT = 66,     /* a log or process that does not exist */
	EXIT_UNAVAILABLE = 69, /* the kernel lacks something memline needs */
	EXIT_SOFTWARE = 70,    /* internal error, out of memory */
	EXIT_OSERR = 71,       /* a system call failed */
	EXIT_CANTCREAT = 73,   /* cannot create the log */
	EXIT_IOERR = 74,       /* cannot write the log */
	EXIT_NOPERM = 77,      /* memline event: the event channel is not the user's own */
};

extern const char *cli_progname;

/*
 * One line on stderr, "memline: ..." ("memline: warning: ..." for warning()); the message is
 * shown escaped (text_escape), so the paths, command names and log text it quotes reach the
 * terminal as text, never as control sequences. note() is for what is neither an error nor a
 * warning (the closing summary of a recording).
 *
 * die() prints the message and exits at once, without unwinding: call it only while nothing
 * that was allocated is held by a local variable alone. A leak checker cannot count on seeing
 * such a pointer when exit() runs (the compiler may have kept it in a register only), so
 * memline's rule is: free first, then die. A function that holds memory returns an error (a
 * message printed with error(), an exit code) to the one that can free it; a message built in
 * a strbuf goes out through die_sb(), which frees it. Option parsing allocates nothing (its
 * strings point into argv), so it dies freely.
 */
noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct strbuf;
/* die() with msg's text as the message; frees msg first. */
noreturn void die_sb(int code, struct strbuf *msg);
void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The longest interval an option takes: a day. */
#define CLI_MAX_INTERVAL 86400.0

/*
 * Parses a positive number of seconds, at most max, for option opt, or dies with a usage
 * error.
 */
double parse_seconds(const char *opt, const char *arg, double max);
/* Parses a pid, or dies with a usage error. */
int parse_pid(const char *arg);

/*
 * The log a reading command works on: arg if given, else the newest memline-*.jsonl in the
 * current directory, into *path (the caller frees it). Returns 0, or the exit code with a
 * one-line message in err when there is none (66), or it is a directory (66).
 */
int resolve_log(const char *arg, char **path, struct strbuf *err);

/*
 * The logs a reading command works on, from the arguments left after its options (argv[first]
 * onwards): each a log, a directory (its *.jsonl files, by name) or a glob pattern the shell
 * left unexpanded (logs/rank-*, quoted); none: the newest memline-*.jsonl in the current
 * directory. A log named twice (a directory and a pattern over it) is kept once, where first.
 * Fills logs (release with cli_logs_release). Returns 0, or the exit code with a one-line
 * message in err: 66 for a path that does not exist, a directory with no log or a pattern that
 * matches nothing, 70 out of memory.
 */
struct cli_logs {
	char **paths; /* owned, n of them, in the order given */
	size_t n;
	bool expanded; /* a directory or a pattern named them: the logs of a job */
};
int cli_resolve_logs(int argc, char **argv, int first, struct cli_logs *logs, struct strbuf *err);
void cli_logs_release(struct cli_logs *logs);

struct run;
struct job;
/*
 * The logs of a reading command (cli_resolve_logs), or it dies with the exit code and a
 * message. The caller releases logs (cli_logs_release) once done; until then the helpers
 * below free them before they die.
 */
void cli_take_logs(int argc, char **argv, int first, struct cli_logs *logs);
/* Whether they are to be read as one job: more than one log, or a directory or a pattern. */
bool cli_logs_are_job(const struct cli_logs *logs);
/* Loads one log (run_load_fields) or dies: 66 when it cannot be opened, 65 not a log. */
void cli_load_path(const char *path, struct run *run, unsigned long long fields);
/*
 * Loads the logs as one job (job_load) or dies: 66 when none can be opened, 65 when none is a
 * memline log. A log among them that cannot be read is warned of and kept as unreadable.
 */
void cli_load_job(const struct cli_logs *logs, struct job *job);

/*
 * Writes out to standard output. Returns 0, or the exit code (70 out of memory, 74 cannot be
 * written) after saying why.
 */
int cli_print(const struct strbuf *out);

/* Warning callback for log readers: "memline: LOG:LINE: MSG". */
void cli_log_warn(void *data, const char *path, long line, const char *msg);

int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_event(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_view(int argc, char **argv);

#endif
