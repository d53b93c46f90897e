/*
 * procfs: every read of /proc and of the cgroup file systems goes through here. /proc files
 * are opened relative to a root directory fd (normally /proc; a fixture tree's proc/ in unit
 * tests), kept open, and re-read with pread, which makes the kernel regenerate them; cgroup
 * files relative to the system root, the proc root's parent directory (/ for /proc, the
 * fixture tree for TREE/proc), at the mount points /proc/self/mountinfo names. A process that
 * vanished mid-read is an ordinary false return, never an error: the caller simply stops
 * tracking it. The parsers work on buffers and are unit-tested on fixture files.
 */
#ifndef MEMLINE_PROCFS_H
#define MEMLINE_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"

struct procfs {
	int root_fd;
	int sys_fd; /* the system root, root's parent: cgroup mounts are read under it */
	int loadavg_fd;
	int meminfo_fd;
	int vmstat_fd;
	long page_kib; /* page size in KiB */
	long clk_tck;
	int pid_max;
	long fd_budget; /* how many descriptors process handles may keep open */
	long fds_kept;
	/*
	 * The root is the kernel's own /proc (not a fixture tree): its pids are real processes,
	 * which kcmp(2) may compare (procfs_same_vm).
	 */
	bool live;
	bool no_kcmp; /* kcmp(2) is not there (ENOSYS): do not try again */
};

/*
 * Opens root (e.g. "/proc") and its parent directory as the system root. Returns -1 with a
 * message in err if it cannot.
 */
int procfs_init(struct procfs *fs, const char *root, struct strbuf *err);
void procfs_release(struct procfs *fs);
/*
 * Sets how many descriptors handles may keep: the open-file limit less a reserve for the log,
 * reads by path and whatever else memline opens. Call again after changing the limit.
 */
void procfs_update_fd_budget(struct procfs *fs);

/* What /proc/PID/stat says; see proc(5). */
struct proc_stat {
	pid_t pid;
	char comm[32];
	char state;
	pid_t ppid;
	unsigned long flags; /* the kernel's PF_* flags of the task (PF_EXITING_FLAG) */
	unsigned long long minflt, majflt;
	unsigned long long cminflt;	 /* minor faults of children it waited for */
	unsigned long long utime, stime; /* clock ticks */
	long threads;
	unsigned long long starttime; /* clock ticks since boot */
	unsigned long long vsize;     /* bytes */
	long long rss;		      /* pages */
	unsigned long long startcode; /* 0 without a memory map; 1 when not ours to see */
	unsigned long long argstart;  /* where argv lives: moves with every exec */
	int exit_signal;	      /* -1 for a thread that is not a group leader */
	int exit_code;		      /* wait status of a zombie; -1 when the kernel does not say */
};

/* The kernel's PF_EXITING (include/linux/sched.h) in stat's flags: do_exit() has begun. */
#define PF_EXITING_FLAG 0x4u

/* What /proc/PID/status says; -1 for a key that is absent (kernel threads, zombies). */
struct proc_status {
	long long vm_hwm, vm_rss, rss_anon, rss_file, rss_shmem, vm_swap, vm_size; /* KiB */
	pid_t tgid;
};

struct proc_io {
	long long rchar, wchar, read_bytes, write_bytes;
};

bool procfs_parse_stat(const char *buf, size_t len, struct proc_stat *st);
bool procfs_parse_status(const char *buf, size_t len, struct proc_status *st);
bool procfs_parse_io(const char *buf, size_t len, struct proc_io *io);
/* statm's resident and shared fields, in pages. */
bool procfs_parse_statm(const char *buf, size_t len, long long *resident, long long *shared);
/* The value of "key:" in a "key: value kB" file (status, meminfo, smaps_rollup), or -1. */
long long procfs_parse_kv(const char *buf, size_t len, const char *key);
/* The value of "key value" in /proc/vmstat or memory.events, or -1. */
long long procfs_parse_counter(const char *buf, size_t len, const char *key);
/* The last pid the kernel allocated, the fifth field of /proc/loadavg, or -1. */
int procfs_parse_loadavg_last_pid(const char *buf, size_t len);
/*
 * The memory cgroup path from /proc/PID/cgroup: the v1 "memory" controller's line if there is
 * one, else the v2 "0::" line. Sets *v2. Returns false if neither is there.
 */
bool procfs_parse_cgroup(const char *buf, size_t len, struct strbuf *path, bool *v2);

/* Reads root-relative path whole into out (replacing its content). */
bool procfs_read_file(const struct procfs *fs, const char *path, struct strbuf *out);
/*
 * Reads the file at path, absolute in the system's tree (a cgroup file under a mount point that
 * mountinfo names, "/sys/fs/cgroup/job/memory.events"), relative to the system root, whole
 * into out. False when it cannot be read or is empty.
 */
bool procfs_read_sys_file(const struct procfs *fs, const char *path, struct strbuf *out);
/*
 * Opens the file or directory at path, absolute in the system's tree (a cgroup's
 * "/sys/fs/cgroup/memory/job/memory.usage_in_bytes"), relative to the system root, with flags
 * (O_CLOEXEC is added). Returns the fd, or -1 with errno set. For the files that are read again
 * and again (a cgroup's counters, kept open) and written (its cgroup.procs).
 */
int procfs_sys_open(const struct procfs *fs, const char *path, int flags);
/* path relative to the system root: without its leading slashes, "." for the root itself. */
const char *procfs_sys_rel(const char *path);
/* Reads what fd holds whole, by pread from offset 0, into out (replacing its content). False
 * on an error or an empty file. */
bool procfs_fd_read(int fd, struct strbuf *out);
/*
 * The decimal number fd holds (a cgroup's memory.current), read by pread from offset 0; "max"
 * reads as LLONG_MAX. -1 when it cannot be read or holds no number.
 */
long long procfs_fd_number(int fd);
/* memline's own mount table, /proc/self/mountinfo, into out. */
bool procfs_mountinfo(const struct procfs *fs, struct strbuf *out);
/*
 * The kernel's short name of pid (/proc/PID/comm; of the caller when pid is 0) into buf of size
 * bytes, without its newline. fs may be NULL: then /proc itself is read, with nothing set up,
 * for a caller that needs one name (a default log name; libmemline inside a host program).
 * False when it cannot be read.
 */
bool procfs_comm(const struct procfs *fs, pid_t pid, char *buf, size_t size);
/* Reads /proc/PID/stat once, without keeping anything open. False if pid is gone. */
bool procfs_pid_stat(const struct procfs *fs, pid_t pid, struct proc_stat *st);
/*
 * Whether processes a and b share one address space (a vfork child before its exec, a
 * CLONE_VM child), by kcmp(2) KCMP_VM: 1 they do, 0 they do not, -1 it cannot be told (a
 * fixture tree, a kernel without kcmp, no ptrace-read access to one of them: another user's
 * process, a setuid one; or one is gone).
 */
int procfs_same_vm(struct procfs *fs, pid_t a, pid_t b);
/* Whether the kernel has PID/smaps_rollup (4.14 and later), tried on memline's own. */
bool procfs_has_smaps_rollup(const struct procfs *fs);
/* The kernel's last allocated pid, or -1. */
int procfs_last_pid(const struct procfs *fs);
/* MemTotal and MemAvailable in KiB; -1 when unknown. */
void procfs_meminfo(const struct procfs *fs, long long *total, long long *avail);
/* The oom_kill counter of /proc/vmstat, or -1 when the kernel has none. */
long long procfs_vmstat_oom_kill(const struct procfs *fs);
/*
 * Calls fn for every process (thread group) in /proc. Returns -1 if /proc cannot be listed.
 */
int procfs_for_each_pid(const struct procfs *fs, void (*fn)(pid_t pid, void *data), void *data);
/* Calls fn for every thread of pid (/proc/PID/task). -1 when pid is gone. */
int procfs_for_each_task(const struct procfs *fs, pid_t pid, void (*fn)(pid_t tid, void *data),
			 void *data);
/*
 * Thread tid's /proc/PID/task/TID/stat: its own CPU times, start time and name (comm); the
 * memory fields are its process's. False when it is gone.
 */
bool procfs_task_stat(const struct procfs *fs, pid_t pid, pid_t tid, struct proc_stat *st);
/* Thread tid's name (/proc/PID/task/TID/comm) into buf, as procfs_comm. */
bool procfs_task_comm(const struct procfs *fs, pid_t pid, pid_t tid, char *buf, size_t size);
/* Opens /proc/PID/mem for reading (ptrace read access needed); the descriptor, or -1. */
int procfs_mem_open(const struct procfs *fs, pid_t pid);
/* Opens path, relative to the proc root ("PID/root/usr/lib/..."), with flags and O_CLOEXEC. */
int procfs_open(const struct procfs *fs, const char *path, int flags);
/* readlink(2) of /proc/PID/NAME ("exe"): the length, or -1. */
ssize_t procfs_readlink(const struct procfs *fs, pid_t pid, const char *name, char *buf,
			size_t size);
/* /proc/PID/maps into out. False when it cannot be read. */
bool procfs_read_maps(const struct procfs *fs, pid_t pid, struct strbuf *out);

/*
 * A process's files, opened lazily and kept open. When the open-file limit is reached, a handle
 * is transient instead: every read opens /proc/PID/FILE by path and closes it again, which costs
 * more and cannot tell a reused pid from the process (the caller compares start times).
 */
struct proc_handle {
	struct procfs *fs;
	pid_t pid;
	bool transient;
	int dir_fd;
	int stat_fd;
	int status_fd;
	int statm_fd;
	int smaps_fd;	   /* -2: not readable, do not try again */
	int clear_refs_fd; /* -2: not writable */
	bool no_io;	   /* io is not readable: do not try again */
	unsigned denied;   /* PROC_DENIED_* bits: files the kernel refused (EACCES, EPERM) */
};

/* Files of another user's process that a user who is not root may not open. */
enum { PROC_DENIED_IO = 1, PROC_DENIED_RESET = 2, PROC_DENIED_PSS = 4 };

/* Opens /proc/PID. Returns false if the process is gone. */
bool proc_handle_open(struct proc_handle *h, struct procfs *fs, pid_t pid);
void proc_handle_close(struct proc_handle *h);
/* Each returns false if the process is gone or the file cannot be read. */
bool proc_handle_stat(struct proc_handle *h, struct proc_stat *st);
bool proc_handle_status(struct proc_handle *h, struct proc_status *st);
bool proc_handle_io(struct proc_handle *h, struct proc_io *io);
/* From statm, KiB: the RSS, and of it the pages of files and shared memory (RssFile + RssShmem). */
bool proc_handle_statm(struct proc_handle *h, long long *rss, long long *shared);
/* What PID/smaps_rollup says, KiB: -1 for a key that is absent. */
struct proc_smaps {
	long long rss, pss;
	long long private_kib;	  /* Private_Clean + Private_Dirty: pages no other process maps */
	long long anon, pss_anon; /* Anonymous, Pss_Anon (4.19 and later; else -1) */
};
bool procfs_parse_smaps(const char *buf, size_t len, struct proc_smaps *sm);
/* PSS and the private pages from smaps_rollup. False when it cannot be read (or is gone). */
bool proc_handle_smaps(struct proc_handle *h, struct proc_smaps *sm);
/* PSS in KiB from smaps_rollup, or -1. */
long long proc_handle_pss(struct proc_handle *h);
/*
 * The process replaced its program: the files that stay bound to the memory map they were
 * opened on (smaps_rollup; stat, status and clear_refs follow the process) are reopened at
 * their next use, and one refused for the old program is tried again.
 */
void proc_handle_exec(struct proc_handle *h);
/* The command line, NUL-separated, into out (emptied first). */
bool proc_handle_cmdline(struct proc_handle *h, struct strbuf *out);
/* The memory cgroup path (see procfs_parse_cgroup). */
bool proc_handle_cgroup(struct proc_handle *h, struct strbuf *path, bool *v2);
/* Resets the high-water mark VmHWM to the current RSS (clear_refs "5"). */
bool proc_handle_reset_hwm(struct proc_handle *h);

#endif
