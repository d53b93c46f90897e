/*
 * cmd-report: `memline report [--json | --stacks | --threads] [LOG]`: load a log and print the
 * text or JSON report, the stacks captured at its peaks (--stacks), or its processes' threads
 * (--threads).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "render/report.h"
#include "model/run.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memline report [--json | --stacks | --threads] [LOG]\n"
		"\n"
		"Summarises a memline log: how the run ended, the job's peak memory and how it\n"
		"was measured (its cgroup, the PSS sum or the RSS sum), its processes and a\n"
		"timeline of the job's memory. LOG defaults to the newest memline-*.jsonl in the\n"
		"current directory.\n"
		"\n"
		"  -j, --json     print one JSON object for scripts (memory in bytes, times in s)\n"
		"  -s, --stacks   print the stacks captured (memline run --stacks): the one at\n"
		"                 the job's peak, then every capture, identical stacks grouped\n"
		"  -t, --threads  print each process's threads: names, CPU time and, with\n"
		"                 memline run --heap, each one's live heap, its peak and when,\n"
		"                 what it allocated and freed; a timeline of the top threads\n"
		"  -h, --help     print this help\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"stacks", no_argument, NULL, 's'},
		{"threads", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false, stacks = false, threads = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jsth", opts, NULL)) != -1) {
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
	struct run run;
	struct strbuf out = STRBUF_INIT;
	/* The reports read the processes' totals and the tree's values, no process sample. */
	cli_load_run("report", argc, argv, optind, &run, 0);
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
