/*
 * events: the kernel telling memline of processes as they fork, exec and end, instead of the
 * sampler finding them at its next look at /proc. One function table a source, as the
 * collectors are (record/collector.h); the recorder opens those it may have at the start,
 * waits on their descriptors with its other signals, and reads them whenever they have
 * something and before every sample. What they learn goes to the sampler (sampler.h:
 * sampler_fork, sampler_exec, sampler_exit_report), which keeps what is of its tree.
 *
 *   proc-connector  proc-events.c  NETLINK_CONNECTOR, CN_IDX_PROC: fork, exec and exit of every
 *                                  process as it happens. A fork of a tree process makes the
 *                                  child part of the tree at once.
 *   taskstats       taskstats.c    generic netlink "TASKSTATS", registered for every possible
 *                                  CPU: an exit record of every thread of the machine, with
 *                                  the process's exit status, CPU times, start and the high-
 *                                  water mark of its address space (CONFIG_TASK_XACCT).
 *
 * Both need root (CAP_NET_ADMIN) in the initial user and pid namespaces (the kernel names
 * processes by their pids there) and report the whole machine; a source that cannot be opened
 * says why in one line, and the recording goes on without it. Used together, the connector
 * says which processes are of the tree and when (membership and timing), taskstats how they
 * ended (the numbers). A socket that overflows (ENOBUFS) lost records: counted, never silent.
 * ptrace (--trace) is not a descriptor of this kind: see record/trace.h.
 *
 * Include this before <sys/socket.h>: record.h's PF_FILE is also a socket family's macro.
 */
#ifndef MEMLINE_EVENTS_H
#define MEMLINE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "record/sampler.h"
#include "util/strbuf.h"

/* The sources, as bits for events_open's want. */
enum { EVENTS_CONNECTOR = 1, EVENTS_TASKSTATS = 2, EVENTS_ALL = 3 };
#define EVENTS_MAX 2

struct event_source {
	const char *name; /* as the log header's "events" names it */
	unsigned bit;	  /* EVENTS_* */
	unsigned tells;	  /* what it tells the sampler: SAMPLER_EV_* */
	/*
	 * Opens it for a recording whose sampler is s: returns its state (whose descriptor fd()
	 * gives), or NULL with why it cannot, in one line, in why. Whatever it hears while it
	 * opens goes to the sampler already.
	 */
	void *(*open)(struct sampler *s, struct procfs *fs, struct strbuf *why);
	int (*fd)(const void *st);
	/* Reads everything it has, never blocking, telling the sampler (t: seconds since the
	 * start). Returns how many times the kernel said records were lost. */
	long (*read)(void *st, struct sampler *s, double t);
	void (*close)(void *st);
};

extern const struct event_source event_proc_connector, event_taskstats;

struct events {
	struct sampler *s;
	struct {
		const struct event_source *src;
		void *st;
		int fd;
	} on[EVENTS_MAX];
	size_t n;
	/* the sources asked for that are off, and why (owned) */
	const char *off[EVENTS_MAX];
	char *why[EVENTS_MAX];
	size_t n_off;
	long overruns; /* times a source's socket overflowed: records lost */
	bool reading;  /* in events_read: a read it causes (through the sampler) is not done */
};

/*
 * Opens the sources of want (EVENTS_*) for sampler s, and tells s what they cover. With sig
 * (a signal number) their descriptors raise sig when they become readable (O_ASYNC, F_SETSIG,
 * owned by this process), for a loop that waits in sigtimedwait; with 0 the caller polls them.
 * Never fails: a source that cannot be opened is listed in off, with why.
 */
void events_open(struct events *ev, struct sampler *s, struct procfs *fs, unsigned want, int sig);
/* Reads every source. Returns the overruns it met (also added to ev->overruns). */
long events_read(struct events *ev, double t);
void events_release(struct events *ev);

/* ---- for the sources ---- */

/*
 * A netlink socket of protocol proto, bound (to groups, a multicast bitmask, or none), non-
 * blocking and close-on-exec, with a receive buffer of bytes (more than the system's maximum
 * for root). -1 with why.
 */
int events_netlink(int proto, unsigned groups, int bytes, struct strbuf *why);
/*
 * Receives one datagram that the kernel sent (a process's is dropped) into buf. Returns its
 * length, 0 when there is none now, -1 when the kernel lost some (ENOBUFS: the socket
 * overflowed), -2 on another error.
 */
ssize_t events_recv(int fd, void *buf, size_t size);
/* Waits up to ms milliseconds for fd to be readable. */
bool events_wait(int fd, int ms);
struct nlmsghdr;
/*
 * The netlink messages of a datagram, one at a time: the next one from *p (which it moves on),
 * of the *rem bytes left, or NULL at the end; NULL with *bad set where a message does not fit
 * in what is left (nothing is read past it).
 */
const struct nlmsghdr *events_nlmsg(const char **p, size_t *rem, bool *bad);

/* ---- the parsers of what the kernel sends (fuzzed and unit-tested on their own) ---- */

/* One taskstats exit record, as the kernel gave it (struct taskstats, linux/taskstats.h). */
struct taskstats_exit {
	unsigned version; /* TASKSTATS_VERSION of the kernel's struct */
	pid_t pid, tgid, ppid;
	unsigned exitcode; /* a wait(2) status */
	unsigned flag;	   /* AFORK, ASU, ACORE, AXSIG, AGROUP (its process's last thread) */
	char comm[32];
	uint64_t utime_us, stime_us, hiwater_kb, etime_us, tgetime_us;
};
/*
 * Calls fn for every exit record (TASKSTATS_TYPE_AGGR_PID) in len bytes of netlink messages
 * from the taskstats family (family: its id). Returns the number of records, or -1 when the
 * buffer is not what the kernel sends (nothing is read past len).
 */
int taskstats_parse(const void *buf, size_t len, int family,
		    void (*fn)(const struct taskstats_exit *x, void *data), void *data);

/* One proc connector event. */
struct proc_event_info {
	unsigned what;	  /* PROC_EVENT_FORK, _EXEC, _EXIT or PROC_EVENT_NONE (an ack) */
	pid_t pid, tgid;  /* the child (fork), the process (exec, exit) */
	pid_t ppid;	  /* the parent's tgid (fork; exit, since Linux 4.19) */
	unsigned status;  /* exit: a wait(2) status */
	unsigned ack_err; /* an ack: the errno of the request */
	uint32_t seq, ack;
	uint64_t timestamp_ns; /* when it happened, CLOCK_MONOTONIC */
};
/* Calls fn for every proc connector message in len bytes; returns their number, or -1. */
int proc_events_parse(const void *buf, size_t len,
		      void (*fn)(const struct proc_event_info *e, void *data), void *data);

#endif
