/* memline attach: record running processes and their descendants until they exit or Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "record-opts.h"

static const char usage[] =
	"usage: memline attach [OPTIONS] PID...\n"
	"\n"
	"Records running processes and every descendant until they all exit, or until\n"
	"Ctrl-C (SIGINT), SIGTERM or SIGHUP, which stops recording (status 'detached') and\n"
	"leaves the processes running.\n"
	"\n"
	"  -o, --output LOG         write the log to LOG (default memline-CMD-DATE-TIME.jsonl)\n"
	"  -i, --interval SECONDS   sample at a fixed interval (default: adaptive)\n"
	"  -I, --max-interval SECS  longest adaptive interval (default 5)\n"
	"      --min-interval SECS  shortest adaptive interval (default 0.01)\n"
	"      --pss                also record PSS (smaps_rollup; slow on large processes)\n"
	"      --no-peak-reset      do not reset the kernel's high-water mark (VmHWM)\n"
	"  -q, --quiet              no summary line on stderr\n"
	"  -h, --help               this help\n";

int cmd_attach(int argc, char **argv)
{
	struct record_opts ro;
	record_opts_init(&ro);
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, RECORD_SHORT_OPTIONS, record_long_options, NULL)) !=
	       -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (c == RECORD_OPT_WAIT)
			die(EXIT_USAGE, "--wait is for 'memline run'; attach always waits for every "
					"process");
		if (c == '?' || c == ':' || !record_opts_parse(&ro, c, optarg)) {
			if (optopt && strchr("oiI", optopt))
				die(EXIT_USAGE, "-%c needs a value; see 'memline attach --help'",
				    optopt);
			die(EXIT_USAGE, "unknown option '%s'; see 'memline attach --help'",
			    argv[optind - 1]);
		}
	}
	record_opts_check(&ro);
	if (optind >= argc)
		die(EXIT_USAGE, "no process to attach to; usage: memline attach [OPTIONS] PID...");
	size_t n = (size_t)(argc - optind);
	pid_t *pids = calloc(n, sizeof(*pids));
	if (!pids)
		die(EXIT_SOFTWARE, "out of memory");
	for (size_t i = 0; i < n; i++)
		pids[i] = parse_pid(argv[optind + (int)i]);
	if (!ro.log_path) {
		struct strbuf comm = STRBUF_INIT;
		strbuf_addf(&comm, "/proc/%d/comm", (int)pids[0]);
		FILE *f = fopen(comm.buf, "r");
		char name[64] = "attach";
		if (f) {
			if (fgets(name, sizeof(name), f))
				name[strcspn(name, "\n")] = '\0';
			fclose(f);
		}
		strbuf_release(&comm);
		ro.log_path = record_default_log_name(name);
		ro.rec.log_exclusive = true;
	}
	ro.rec.log_path = ro.log_path;

	struct recorder_result res;
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_attach(&ro.rec, pids, n, &res, &err);
	switch (ret) {
	case RECORDER_OK:
		break;
	case RECORDER_ERR_LOG:
		die(EXIT_CANTCREAT, "%s", err.buf);
	case RECORDER_ERR_NOPROC:
		die(EXIT_NOINPUT, "%s", err.buf);
	default:
		die(EXIT_OSERR, "%s", err.buf);
	}
	record_print_summary(&ro, &res);
	int code = res.memline_exit;
	recorder_result_release(&res);
	record_opts_release(&ro);
	strbuf_release(&err);
	free(pids);
	return code;
}
