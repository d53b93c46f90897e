/*
 * cmd-report: `memline report [--json | --stacks | --threads] [LOG]`: load a log and print the
 * text or JSON report, the stacks captured at its peaks (--stacks), or its processes' threads
 * (--threads).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "render/report.h"
#include "model/run.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline report [--json | --stacks | --threads] [LOG...]\n"
		"\n"
		"Summarises a memline log: how the run ended, the job's peak memory and how it\n"
		"was measured (its cgroup, the PSS sum or the RSS sum), its processes and a\n"
		"timeline of the job's memory. LOG defaults to the newest memline-*.jsonl in the\n"
		"current directory.\n"
		"\n"
		"Several logs (the ranks or nodes of one job; or a directory of them, or a\n"
		"quoted pattern such as 'solver.*.jsonl') are merged on the wall clock into one\n"
		"job: how it ended and which rank ended it, its peak (the nodes summed), each\n"
		"node, the ranks by peak against the median, missing or cut-off logs.\n"
		"\n"
		"  -j, --json     print one JSON object for scripts (memory in bytes, times in s)\n"
		"  -s, --stacks   print the stacks captured (memline run --stacks): the one at\n"
		"                 the job's peak, then every capture, identical stacks grouped\n"
		"  -t, --threads  print each process's threads: names, CPU time and, with\n"
		"                 memline run --heap, each one's live heap, its peak and when,\n"
		"                 what it allocated and freed; a timeline of the top threads\n"
		"  -n, --top N    of a job: the N ranks with the highest peaks (10)\n"
		"  -h, --help     print this help\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},    {"stacks", no_argument, NULL, 's'},
		{"threads", no_argument, NULL, 't'}, {"top", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},    {0},
	};
	bool json = false, stacks = false, threads = false;
	long top = 0;
	char *end;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jsthn:", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			stacks = true;
			break;
		case 't':
			threads = true;
			break;
		case 'n':
			errno = 0;
			top = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || top < 1 || top > 1000000)
				die(EXIT_USAGE,
				    "report: --top takes a whole number of ranks from 1, not '%s'",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			die(EXIT_USAGE, "report: unknown option '%s'; see 'memline report --help'",
			    argv[optind - 1]);
		}
	}
	if (json && stacks)
		die(EXIT_USAGE, "report: --json and --stacks do not go together (the JSON report "
				"has the stacks)");
	if (json && threads)
		die(EXIT_USAGE, "report: --json and --threads do not go together (the JSON "
				"report has the threads)");
	if (stacks && threads)
		die(EXIT_USAGE, "report: give one of --stacks and --threads");
	struct cli_logs logs;
	struct strbuf out = STRBUF_INIT;
	cli_take_logs(argc, argv, optind, &logs);
	if (cli_logs_are_job(&logs)) {
		if (stacks || threads) {
			cli_logs_release(&logs);
			die(EXIT_USAGE, "report: --%s reads one log, not %s; give one of them",
			    stacks ? "stacks" : "threads", "a job's several");
		}
		struct job job;
		cli_load_job(&logs, &job);
		cli_logs_release(&logs);
		if (json)
			report_job_json(&job, &out);
		else
			report_job_text(&job, (size_t)top, &out);
		job_release(&job);
		int code = cli_print(&out);
		strbuf_release(&out);
		return code;
	}
	struct run run;
	/* The reports read the processes' totals and the tree's values, no process sample. */
	cli_load_path(logs.paths[0], &run, 0);
	cli_logs_release(&logs);
	if (json)
		report_json(&run, &out);
	else if (stacks)
		report_stacks_text(&run, &out);
	else if (threads)
		report_threads_text(&run, &out);
	else
		report_text(&run, &out);
	int code = cli_print(&out);
	strbuf_release(&out);
	run_release(&run);
	return code;
}
