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
	"\n"
	"  -o, --output LOG         write the log to LOG (default memline-CMD-DATE-TIME.jsonl)\n"
	"  -i, --interval SECONDS   sample at a fixed interval (default: adaptive, 10 ms at\n"
	"                           the start, backing off to --max-interval)\n"
	"  -I, --max-interval SECS  longest adaptive interval (default 5)\n"
	"      --min-interval SECS  shortest adaptive interval (default 0.01)\n"
	"      --wait               after COMMAND exits, go on recording until every\n"
	"                           descendant has exited too\n"
	"      --pss                also record PSS (smaps_rollup; slow on large processes)\n"
	"      --no-peak-reset      do not reset the kernel's high-water mark (VmHWM); keeps\n"
	"                           the processes' own getrusage() ru_maxrss a lifetime peak\n"
	"      --capture-output     record every line COMMAND writes to stdout and stderr\n"
	"                           (passed on unchanged, through a pseudo-terminal when\n"
	"                           memline's own output is a terminal)\n"
	"      --event-regex REGEX  an output line matching REGEX (POSIX extended) is also an\n"
	"                           event; repeatable; implies --capture-output\n"
	"      --live               watch it on a full-screen terminal dashboard; the\n"
	"                           command's output goes to the log and its input is\n"
	"                           /dev/null (q leaves the dashboard, not the recording)\n"
	"      --serve [ADDR:]PORT  serve live views over HTTP, on 127.0.0.1 unless ADDR\n"
	"                           is given: / (page), /metrics (Prometheus), /events,\n"
	"                           /log; PORT 0 picks a free port; every request needs\n"
	"                           the token in the URL memline prints; or unix:PATH, a\n"
	"                           socket of mode 0600 that needs no token\n"
	"      --serve-token-file FILE  the token: read from FILE, or written there (mode\n"
	"                           0600) when there is none, for Prometheus to read\n"
	"  -q, --quiet              no summary line on stderr\n"
	"  -h, --help               this help\n";

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
