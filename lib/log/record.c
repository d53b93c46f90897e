/* record: names of the log's fields and statuses, and decoding of wait statuses. */
#include "log/record.h"

#include <string.h>
#include <sys/wait.h>

const char *const proc_field_names[PROC_NFIELDS] = {
	"pid",	 "rss",	  "anon",	"file",	       "shmem",	 "peak",   "vms",
	"swap",	 "pss",	  "utime",	"stime",       "minflt", "majflt", "threads",
	"rchar", "wchar", "read_bytes", "write_bytes", "vm_of",	 "heap",
};

const char *const tree_field_names[TREE_NFIELDS] = {
	"nproc",   "rss",      "anon",	    "file",    "shmem",	  "peak",     "vms",
	"swap",	   "pss",      "utime",	    "stime",   "job",	  "job_peak", "cg_anon",
	"cg_file", "cg_shmem", "cg_kernel", "cg_sock", "cg_swap", "heap",
};

const char *const thread_field_names[THREAD_NFIELDS] = {
	"pid",	 "tid",	  "utime",  "stime", "heap", "heap_peak",
	"alloc", "freed", "nalloc", "nfree", "mmap",
};

const char *const heap_mode_names[HEAP_NMODES] = {"off", "malloc", "exact"};

const char *const exit_how_names[3] = {"unknown", "exited", "killed"};

const char *const exit_source_names[EXIT_NSOURCES] = {
	"vanished", "zombie", "wait4", "taskstats", "proc-connector", "ptrace", "pidfd",
};

const char *const memory_method_names[MEM_NMETHODS] = {"rss", "pss", "cgroup"};

const char *const run_status_names[RUN_NSTATUS] = {
	"completed", "failed", "killed",     "oom-killed",
	"detached",  "exited", "incomplete", "running",
};

int run_status_from_name(const char *s)
{
	for (int i = 0; i < RUN_NSTATUS; i++)
		if (!strcmp(s, run_status_names[i]))
			return i;
	return -1;
}

void exit_info_from_wait_status(struct exit_info *e, int status)
{
	e->code = -1;
	e->signal = -1;
	e->core = false;
	if (WIFEXITED(status)) {
		e->how = EXIT_HOW_EXITED;
		e->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		e->how = EXIT_HOW_KILLED;
		e->signal = WTERMSIG(status);
		e->core = WCOREDUMP(status);
	} else {
		e->how = EXIT_HOW_UNKNOWN;
	}
}

const char *const frame_kind_names[FRAME_NKINDS] = {"native", "python"};

const char *const stack_why_names[STACK_NWHY] = {"peak", "event", "every", "signal", "heap"};
const char *const stack_when_names[STACK_NWHY] = {"peaks", "events", "every", "signal", "heap"};
