/* memline: entry point; hands the command line to the command named by its first word. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"run", cmd_run, "run a command and record it and every process it starts"},
	{"attach", cmd_attach, "record running processes and their descendants"},
	{"report", cmd_report, "summarise a log: how it ended, peaks, processes, timeline"},
	{"status", cmd_status, "print how a recorded run ended (exit code tells too)"},
	{"plot", cmd_plot, "draw logs as PNG, SVG or PDF images, or an interactive HTML report"},
	{"export", cmd_export,
	 "write a log as CSV, Perfetto trace JSON, or gnuplot data and script"},
	{"view", cmd_view, "watch a log on a full-screen terminal dashboard, live with --follow"},
	{"event", cmd_event, "mark an event or a span on the timeline of the recording"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: memline COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n'memline COMMAND --help' for a command's options; man memline for the rest.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("memline %s\n", MEMLINE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	die(EXIT_USAGE, "'%s' is not a memline command; see 'memline --help'", name);
}
