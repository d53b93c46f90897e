/*
 * cmd-status: `memline status [LOG]`: prints how a recorded run ended, the status word on the
 * first line and details after, and says it again in its exit code (for scripts and CI).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render/report.h"
#include "model/run.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: memline status [LOG...]\n"
		   "\n"
		   "Prints how a recorded run ended: the status word on the first line, details\n"
		   "after. LOG defaults to the newest memline-*.jsonl in the current directory.\n"
		   "Several logs (or a directory of them, or a quoted pattern) are one job: its\n"
		   "status is its worst log's (one rank OOM-killed makes the job oom-killed), and\n"
		   "the next line names that rank and its node.\n"
		   "\n"
		   "exit status: 0 completed, 1 failed, 2 killed or oom-killed, 3 incomplete,\n"
		   "             4 running, 5 detached or exited; 64 and up: memline's own errors\n"
		   "             (65 not a memline log, 66 no such log)\n");
}

static int status_exit_code(enum run_status s)
{
	switch (s) {
	case RUN_COMPLETED:
		return 0;
	case RUN_FAILED:
		return 1;
	case RUN_KILLED:
	case RUN_OOM_KILLED:
		return 2;
	case RUN_INCOMPLETE:
		return 3;
	case RUN_RUNNING:
		return 4;
	case RUN_DETACHED:
	case RUN_EXITED:
	case RUN_NSTATUS:
		break;
	}
	return 5;
}

static void add_pid_list(const struct run *run, struct strbuf *out, const char *what,
			 const pid_t *pids, size_t n)
{
	if (!n)
		return;
	strbuf_addf(out, "%s:", what);
	for (size_t k = 0; k < n; k++) {
		if (k == 10) {
			strbuf_addf(out, " and %zu more", n - k);
			break;
		}
		strbuf_addf(out, " %d", (int)pids[k]);
		int i = run_oom_proc(run, pids[k]);
		if (i >= 0) {
			struct strbuf cmd = STRBUF_INIT;
			run_proc_cmd(run, (size_t)i, &cmd);
			strbuf_addstr(out, " (");
			text_escape(out, cmd.buf ? cmd.buf : "", cmd.len, 40);
			strbuf_addch(out, ')');
			strbuf_release(&cmd);
		}
		if (k + 1 < n)
			strbuf_addch(out, ',');
	}
	strbuf_addch(out, '\n');
}

/*
 * The job's peak memory and how it was measured, the RSS sum where it differs, and the
 * processes: "peak memory: 511.0 MiB at 3.2 s (cgroup); RSS sum 2.5 GiB". A format 1 log's
 * status says nothing of memory, as it never did.
 */
static void add_memory(const struct run *run, struct strbuf *out)
{
	strbuf_addstr(out, "peak memory: ");
	if (run->job_peak < 0) {
		strbuf_addstr(out, "unknown (no samples)\n");
	} else {
		text_bytes(out, text_kib_bytes(run->job_peak));
		strbuf_addstr(out, " at ");
		text_secs(out, run->job_peak_t);
		strbuf_addf(out, " (%s)", report_method_words(run->header.method, true));
		if (run->peak >= 0 && run->peak != run->job_peak) {
			strbuf_addstr(out, "; RSS sum ");
			text_bytes(out, text_kib_bytes(run->peak));
		}
		strbuf_addch(out, '\n');
	}
	strbuf_addf(out, "processes: %zu", run->n_procs);
	if (run->has_end && run->end.missed > 0)
		strbuf_addf(out,
			    "; %ld more may have been missed (run as root or with --trace to see "
			    "them)",
			    run->end.missed);
	strbuf_addch(out, '\n');
}

static void render_status(const struct run *run, struct strbuf *out)
{
	const struct end_info *e = &run->end;
	strbuf_addf(out, "%s\n", run_status_names[run->status]);
	if (run->has_end) {
		if (e->exit_code >= 0)
			strbuf_addf(out, "exit code: %d\n", e->exit_code);
		if (e->signal > 0) {
			strbuf_addstr(out, "signal: ");
			text_signal(out, e->signal);
			strbuf_addf(out, " (%s)%s\n", strsignal(e->signal),
				    e->core ? ", core dumped" : "");
		}
	}
	if (run->error) {
		strbuf_addstr(out, "error: ");
		text_escape(out, run->error, run->error_len, 200);
		strbuf_addch(out, '\n');
	}
	strbuf_addstr(out, "duration: ");
	text_secs(out, run->duration);
	strbuf_addch(out, '\n');
	if (run_measures_job(run))
		add_memory(run, out);
	size_t n_oom = 0, n_alive = 0;
	pid_t *oom = run_oom_killed(run, &n_oom);
	pid_t *alive = run_alive(run, &n_alive);
	add_pid_list(run, out, "oom-killed", oom, n_oom);
	add_pid_list(run, out,
		     run->status == RUN_INCOMPLETE ? "alive at the end of the log" : "still alive",
		     alive, n_alive);
	free(oom);
	free(alive);
	if (run->stopped) {
		report_stopped(run, out);
		strbuf_addstr(out, run->has_end ? "; from there on it holds only the end record\n"
				   : run->status == RUN_RUNNING
					   ? "; memline is still recording, writing nothing more\n"
					   : "; how the run ended is unknown\n");
	} else if (run->status == RUN_INCOMPLETE) {
		strbuf_addstr(out, "no end record: memline or the machine died while recording\n");
	} else if (run->status == RUN_RUNNING) {
		strbuf_addstr(out, "no end record yet: memline is still recording\n");
	}
	for (size_t i = 0; i < run->n_warnings; i++) {
		strbuf_addstr(out, "warning: ");
		text_escape(out, run->warnings[i], strlen(run->warnings[i]), 400);
		strbuf_addch(out, '\n');
	}
	if (run->truncated)
		strbuf_addstr(out, "the last line of the log was cut off\n");
	if (run->corrupt)
		strbuf_addf(out, "%ld corrupt line%s skipped\n", run->corrupt,
			    run->corrupt == 1 ? "" : "s");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		die(EXIT_USAGE, "status: unknown option '%s'; see 'memline status --help'",
		    argv[optind - 1]);
	}
	struct cli_logs logs;
	struct strbuf out = STRBUF_INIT;
	enum run_status status;
	cli_take_logs(argc, argv, optind, &logs);
	if (cli_logs_are_job(&logs)) {
		struct job job;
		cli_load_job(&logs, &job);
		report_job_status(&job, &out);
		status = job.status;
		job_release(&job);
	} else {
		struct run run;
		cli_load_path(logs.paths[0], &run, 0);
		render_status(&run, &out);
		status = run.status;
		run_release(&run);
	}
	cli_logs_release(&logs);
	int code = cli_print(&out);
	if (!code)
		code = status_exit_code(status);
	strbuf_release(&out);
	return code;
}
