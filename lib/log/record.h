/*
 * record: the vocabulary of a recording, shared by the sampler (which fills these structs from
 * /proc), the log writer (which encodes them) and the log reader (which decodes them). Plain
 * data, no behaviour beyond names; see docs/log-format.md for what each field means.
 * Memory is in KiB, CPU time in ms, times in seconds since the start; -1 means unknown (null).
 */
#ifndef MEMLINE_RECORD_H
#define MEMLINE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LOG_FORMAT_VERSION 1

/* Positions in a sample's per-process array, in log order. Append only. */
enum proc_field {
	PF_PID,
	PF_RSS,
	PF_ANON,
	PF_FILE,
	PF_SHMEM,
	PF_PEAK,
	PF_VMS,
	PF_SWAP,
	PF_PSS,
	PF_UTIME,
	PF_STIME,
	PF_MINFLT,
	PF_MAJFLT,
	PF_THREADS,
	PF_RCHAR,
	PF_WCHAR,
	PF_READ_BYTES,
	PF_WRITE_BYTES,
	PROC_NFIELDS
};
/* The state letter follows the numeric fields in the log's array, named "state". */
extern const char *const proc_field_names[PROC_NFIELDS];

/* Positions in a sample's tree array. Append only. */
enum tree_field {
	TF_NPROC,
	TF_RSS,
	TF_ANON,
	TF_FILE,
	TF_SHMEM,
	TF_PEAK,
	TF_VMS,
	TF_SWAP,
	TF_PSS,
	TF_UTIME,
	TF_STIME,
	TREE_NFIELDS
};
extern const char *const tree_field_names[TREE_NFIELDS];

struct proc_values {
	long long v[PROC_NFIELDS];
	char state;
};

struct tree_values {
	long long v[TREE_NFIELDS];
};

/* A process joining the tree ("proc") or replacing its program ("exec"). */
struct proc_info {
	pid_t pid;
	pid_t ppid;
	double t;     /* when memline saw it */
	double start; /* when the kernel started it */
	char comm[32];
	/* The command line: arguments separated by NUL bytes, the last one NUL-terminated but
	 * the terminator not counted in cmdline_len. */
	char *cmdline;
	size_t cmdline_len;
};

enum exit_how { EXIT_HOW_UNKNOWN, EXIT_HOW_EXITED, EXIT_HOW_KILLED };
extern const char *const exit_how_names[3];

struct exit_info {
	pid_t pid;
	double t;
	enum exit_how how;
	int code;   /* -1 unknown */
	int signal; /* -1 unknown or none */
	bool core;
	bool oom;
	long long peak; /* KiB, -1 unknown */
	long long utime, stime;
};

enum run_status {
	RUN_COMPLETED,
	RUN_FAILED,
	RUN_KILLED,
	RUN_OOM_KILLED,
	RUN_DETACHED,
	RUN_EXITED,
	RUN_INCOMPLETE,
	RUN_RUNNING,
	RUN_NSTATUS
};
extern const char *const run_status_names[RUN_NSTATUS];
/* Returns the status whose name is s, or -1. */
int run_status_from_name(const char *s);

struct end_info {
	double t;
	enum run_status status;
	int exit_code; /* -1 unknown */
	int signal;    /* -1 none */
	bool core;
	pid_t *oom_killed;
	size_t n_oom_killed;
	pid_t *alive;
	size_t n_alive;
	long samples;
	long long self_utime, self_stime; /* memline's own CPU time, ms; -1 unknown */
	const char *error;		  /* a failure's message from the event channel, or NULL */
};

/* A moment or a phase boundary the program marked through the event channel. */
enum mark_kind { MARK_EVENT, MARK_SPAN_BEGIN, MARK_SPAN_END };

struct mark_info {
	enum mark_kind kind;
	double t;
	const char *text; /* the label or span name */
	size_t len;
	pid_t pid, tid; /* -1 unknown */
};

#define JOB_VARS_MAX 16
struct header_info {
	int format;
	char *memline_version;
	char *mode; /* "run" or "attach" */
	char *host;
	char *start_iso;
	double start_unix;
	char **command; /* NULL-terminated */
	pid_t pid;
	pid_t *pids;
	size_t n_pids;
	char *cwd;
	char *job_names[JOB_VARS_MAX];
	char *job_values[JOB_VARS_MAX];
	size_t n_job;
	long page_size;
	long clk_tck;
	long long mem_total;
	char *kernel;
	double interval_fixed; /* 0 for the adaptive schedule */
	double interval_min, interval_max;
	bool peak_reset;
	bool pss;
};

/* Decodes a wait(2) status into how a process ended. */
void exit_info_from_wait_status(struct exit_info *e, int status);

#endif
