/* memline attach: record running processes and their descendants until they exit or Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/writer.h"

#include "cli.h"
#include "record/procfs.h"
#include "record-opts.h"

static const char usage[] =
	"usage: memline attach [OPTIONS] PID...\n"
	"\n"
	"Records running processes and every descendant until they all exit, or until\n"
	"Ctrl-C (SIGINT), SIGTERM, SIGHUP or SIGQUIT, which stops recording\n"
	"(status 'detached') and leaves the processes running.\n"
	"\n"
	"  -o, --output LOG         write the log to LOG (default memline-CMD-DATE-TIME.jsonl)\n"
	"  -i, --interval SECONDS   sample at a fixed interval (default: adaptive)\n"
	"  -I, --max-interval SECS  longest adaptive interval (default 5)\n"
	"      --min-interval SECS  shortest adaptive interval (default 0.01)\n"
	"      --pss                also record PSS (smaps_rollup; slow on large processes)\n"
	"      --no-peak-reset      do not reset the kernel's high-water mark (VmHWM)\n"
	"      --events FILE        read FILE as the event channel (docs/events.md): events\n"
	"                           and spans the processes append to it are recorded, and an\n"
	"                           S line ends the recording with its status\n"
	"      --live               watch it on a full-screen terminal dashboard\n"
	"                           (q leaves the dashboard, not the recording)\n"
	"      --serve [ADDR:]PORT  serve live views over HTTP, on 127.0.0.1 unless ADDR\n"
	"                           is given: / (page), /metrics (Prometheus), /events,\n"
	"                           /log; PORT 0 picks a free port; every request needs\n"
	"                           the token in the URL memline prints; or unix:PATH, a\n"
	"                           socket of mode 0600 that needs no token\n"
	"      --serve-token-file FILE  the token: read from FILE, or written there (mode\n"
	"                           0600) when there is none, for Prometheus to read\n"
	"  -q, --quiet              no summary line on stderr\n"
	"  -h, --help               this help\n";

int cmd_attach(int argc, char **argv)
{
	struct record_opts ro;
	record_opts_init(&ro);
	int first = record_opts_parse(&ro, "attach", usage, argc, argv);
	if (first >= argc)
		die(EXIT_USAGE, "no process to attach to; usage: memline attach [OPTIONS] PID...");
	size_t n = (size_t)(argc - first);
	pid_t self = getpid();
	for (size_t i = 0; i < n; i++)
		if (parse_pid(argv[first + (int)i]) == self)
			die(EXIT_USAGE,
			    "pid %d is this memline itself; give the pids of the processes to "
			    "record",
			    (int)self);
	record_opts_prepare(&ro, argc, argv);
	pid_t *pids = calloc(n, sizeof(*pids));
	if (!pids) {
		record_opts_release(&ro);
		die(EXIT_SOFTWARE, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		pids[i] = parse_pid(argv[first + (int)i]);
	if (!ro.log_path) {
		char name[64];
		if (!procfs_comm(NULL, pids[0], name, sizeof(name)))
			snprintf(name, sizeof(name), "attach");
		if (!(ro.default_path = log_default_name(name))) {
			free(pids);
			record_opts_release(&ro);
			die(EXIT_SOFTWARE, "out of memory");
		}
		ro.log_path = ro.rec.log_path = ro.default_path;
		ro.rec.log_exclusive = true;
	}

	struct recorder_result res;
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_attach(&ro.rec, pids, n, &res, &err);
	free(pids);
	return record_finish(&ro, ret, &res, &err);
}
