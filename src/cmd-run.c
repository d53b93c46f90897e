/* memline run: start a command, record it and every descendant, exit with its status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "record-opts.h"

static const char usage[] =
	"usage: memline run [OPTIONS] [--] COMMAND [ARGS...]\n"
	"\n"
	"Runs COMMAND and records the memory and CPU of it and every process it starts.\n"
	"Exits with COMMAND's exit status (128+N if it was killed by signal N).\n"
	"\n";

int cmd_run(int argc, char **argv)
{
	struct record_opts ro;
	record_opts_init(&ro);
	int first = record_opts_parse(&ro, "run", usage, argc, argv);
	if (first >= argc)
		die(EXIT_USAGE,
		    "no command to run; usage: memline run [OPTIONS] -- COMMAND [ARGS...]");
	char **command = argv + first;
	record_opts_prepare(&ro, argc, argv);
	if (!ro.log_path)
		record_opts_default_log(&ro, command[0]);

	struct recorder_result res;
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_run(&ro.rec, command, &res, &err);
	return record_finish(&ro, ret, &res, &err);
}
