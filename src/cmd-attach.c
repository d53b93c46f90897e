/* memline attach: record running processes and their descendants until they exit or Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "record/procfs.h"
#include "record/slurm.h"
#include "record-opts.h"

static const char usage[] =
	"usage: memline attach [OPTIONS] PID...\n"
	"       memline attach [OPTIONS] --cgroup PATH\n"
	"       memline attach [OPTIONS] --slurm-job ID\n"
	"\n"
	"Records running processes and every descendant until they all exit, or until\n"
	"Ctrl-C (SIGINT), SIGTERM, SIGHUP or SIGQUIT, which stops recording\n"
	"(status 'detached') and leaves the processes running. With --slurm-job, run\n"
	"by srun in the job itself, it records until the job ends (Slurm's SIGTERM).\n"
	"\n";

int cmd_attach(int argc, char **argv)
{
	struct record_opts ro;
	record_opts_init(&ro);
	int first = record_opts_parse(&ro, "attach", usage, argc, argv);
	if (ro.rec.cgroup && first < argc)
		die(EXIT_USAGE,
		    "--cgroup records the processes of the cgroup; give no PID (or no --cgroup)");
	if (ro.rec.slurm_job && (first < argc || ro.rec.cgroup))
		die(EXIT_USAGE, "--slurm-job records the job's processes on this node; give no PID "
				"and no --cgroup with it");
	if (first >= argc && !ro.rec.cgroup && !ro.rec.slurm_job)
		die(EXIT_USAGE, "no process to attach to; usage: memline attach [OPTIONS] PID...");
	if (ro.rec.slurm_job) {
		/* the node memline runs on: several slurmd on one host share its host name */
		const char *node = getenv("SLURMD_NODENAME");
		const char *job = getenv("SLURM_JOB_ID");
		unsigned long own;
		ro.rec.slurm_node = node && node[0] ? node : NULL;
		ro.rec.slurm_inside =
			job && slurm_job_id_parse(job, &own) && own == ro.rec.slurm_job;
	}
	size_t n = (size_t)(argc - first);
	pid_t self = getpid();
	for (size_t i = 0; i < n; i++)
		if (parse_pid(argv[first + (int)i]) == self)
			die(EXIT_USAGE,
			    "pid %d is this memline itself; give the pids of the processes to "
			    "record",
			    (int)self);
	record_opts_prepare(&ro, argc, argv);
	if (!ro.log_path) {
		/* named after the first process, as run names its log after the command; after
		 * the cgroup with --cgroup */
		char name[64];
		const char *cg = ro.rec.cgroup ? strrchr(ro.rec.cgroup, '/') : NULL;
		if (ro.rec.slurm_job)
			snprintf(name, sizeof(name), "slurm-job-%lu", ro.rec.slurm_job);
		else if (cg)
			snprintf(name, sizeof(name), "%s", cg[1] ? cg + 1 : "cgroup");
		else if (!procfs_comm(NULL, parse_pid(argv[first]), name, sizeof(name)))
			snprintf(name, sizeof(name), "attach");
		record_opts_default_log(&ro, name);
	}
	pid_t *pids = calloc(n ? n : 1, sizeof(*pids));
	if (!pids) {
		record_opts_release(&ro);
		die(EXIT_SOFTWARE, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		pids[i] = parse_pid(argv[first + (int)i]);

	struct recorder_result res;
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_attach(&ro.rec, pids, n, &res, &err);
	free(pids);
	return record_finish(&ro, ret, &res, &err);
}
