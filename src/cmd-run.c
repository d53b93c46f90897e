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
	"      --wait               after COMMAND exits, go on until every descendant has\n"
	"      --pss                also record PSS (smaps_rollup; slow on large processes)\n"
	"      --no-peak-reset      do not reset the kernel's high-water mark (VmHWM); keeps\n"
	"                           the processes' own getrusage() ru_maxrss a lifetime peak\n"
	"  -q, --quiet              no summary line on stderr\n"
	"  -h, --help               this help\n";

int cmd_run(int argc, char **argv)
{
	struct record_opts ro;
	record_opts_init(&ro);
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+" RECORD_SHORT_OPTIONS, record_long_options,
				NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (c == RECORD_OPT_WAIT) {
			ro.rec.wait = true;
			continue;
		}
		if (c == '?' || c == ':' || !record_opts_parse(&ro, c, optarg)) {
			if (optopt && strchr("oiI", optopt))
				die(EXIT_USAGE, "-%c needs a value; see 'memline run --help'", optopt);
			die(EXIT_USAGE, "unknown option '%s'; see 'memline run --help'",
			    argv[optind - 1]);
		}
	}
	record_opts_check(&ro);
	if (optind >= argc)
		die(EXIT_USAGE, "no command to run; usage: memline run [OPTIONS] -- COMMAND [ARGS...]");
	char **command = argv + optind;
	if (!ro.log_path) {
		ro.log_path = record_default_log_name(command[0]);
		ro.rec.log_exclusive = true;
	}
	ro.rec.log_path = ro.log_path;

	struct recorder_result res;
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_run(&ro.rec, command, &res, &err);
	switch (ret) {
	case RECORDER_OK:
		break;
	case RECORDER_ERR_LOG:
		die(EXIT_CANTCREAT, "%s", err.buf);
	case RECORDER_ERR_NOEXEC:
		die(res.memline_exit, "%s", err.buf);
	default:
		die(EXIT_OSERR, "%s", err.buf);
	}
	record_print_summary(&ro, &res);
	int code = res.memline_exit;
	recorder_result_release(&res);
	record_opts_release(&ro);
	strbuf_release(&err);
	return code;
}
