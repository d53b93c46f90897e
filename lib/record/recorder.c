/*
 * recorder: the loop. One thread waits in sigtimedwait for a signal (SIGCHLD and the signals to
 * forward, all blocked) until the next sample is due; each turn it reaps, samples or forwards,
 * writes what the sampler found, and lets the log writer flush. Time is CLOCK_BOOTTIME, so a
 * suspended laptop shows a gap instead of squeezing it out.
 *
 * How processes end: memline's own children (the command, and orphans it inherits as child
 * subreaper) are reaped with wait4, which gives their exit status, final CPU time and the peak
 * of their last interval (ru_maxrss, since memline reset it). Before reaping a child killed by
 * SIGKILL, the OOM counters are read while its zombie still shows its cgroup. Other processes
 * are seen as zombies (stat gives their exit status) or just vanish (status unknown; for the
 * processes attach was given, their pidfd may still know it: pidfd.h).
 */
#include "record/recorder.h"

#include "record/events.h" /* before sys/socket.h, see there */

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap/counters.h"
#include "record/capture.h"
#include "record/cgroup.h"
#include "record/channel.h"
#include "log/place.h"
#include "log/writer.h"
#include "record/oom.h"
#include "record/pidfd.h"
#include "record/procfs.h"
#include "record/sampler.h"
#include "record/slurm.h"
#include "record/trace.h"

/* The kernel's event sources raise this when they have something (SIGRTMIN: the channel). */
#define SIGEVENTS (SIGRTMIN + 1)

/*
 * The header's "job": the launchers' variables that name this job and rank, every one that
 * place_from_vars reads among them (log/place.h's place_vars), so that a reader can derive the
 * place again from the header alone.
 */
static const char *const job_vars[JOB_VARS_MAX] = {
	"OMPI_COMM_WORLD_RANK",
	"OMPI_COMM_WORLD_SIZE",
	"OMPI_COMM_WORLD_LOCAL_RANK",
	"OMPI_MCA_ess_base_jobid",
	"PMI_RANK",
	"PMI_SIZE",
	"MPI_LOCALRANKID",
	"PMIX_RANK",
	"PMIX_NAMESPACE",
	"MV2_COMM_WORLD_RANK",
	"SLURM_JOB_ID",
	"SLURM_JOBID",
	"SLURM_ARRAY_JOB_ID",
	"SLURM_ARRAY_TASK_ID",
	"SLURM_PROCID",
	"SLURM_LOCALID",
	"SLURM_NODEID",
	"SLURM_STEP_NUM_TASKS",
	"SLURM_NTASKS",
	"SLURMD_NODENAME", /* the node's name: several slurmd on one host share its host name */
	"PBS_JOBID",
	"PBS_ARRAY_INDEX",
	"PBS_TASKNUM",
	"PBS_VNODENUM",
	"PBS_NODENUM",
	"PBS_NP",
};

/* attach --cgroup and --slurm-job: how the job's processes are looked for again. */
enum rescan {
	RESCAN_NONE,
	RESCAN_CGROUP,	/* those of its memory cgroup, cg */
	RESCAN_DIR,	/* --slurm-job: those of its cgroup of another controller, job_dir */
	RESCAN_ENVIRON, /* --slurm-job: those whose environment names the job */
};

struct recorder {
	const struct recorder_options *o;
	struct procfs fs;
	struct sampler sampler;
	struct oom_watch oom;
	struct pidfd_watch exits; /* attach: how the processes it was given end (pidfd.h) */
	struct events events;	  /* the kernel's event sources that are on (events.h) */
	struct tracer tracer;	  /* --trace (trace.h) */
	bool tracing;
	char *trace_why; /* why --trace could not be had */
	char *heap_dir;	 /* --heap: where the counters files are (heap_options) */
	int trace_go[2]; /* --trace: the pipe the command waits on until it is seized; -1 */
	bool overrun_noted;
	struct log_writer log;
	sigset_t sigs; /* blocked, and taken with sigtimedwait */
	double t0;
	struct clock_info clock0; /* the wall clock at t0 (the header's "clock") */
	double clock_period;	  /* between two clock records, seconds */
	double next_clock;	  /* when the next is due, elapsed seconds */
	bool attach;
	bool self;	/* libmemline's in-process recording: no signals, a stop pipe instead */
	bool started;	/* the first sample was taken */
	int stop_fd;	/* self: readable when memline_stop() asks the thread to end */
	pid_t main_pid; /* run: the command; attach: the first pid */
	bool main_done;
	struct exit_info main_exit;
	bool stop; /* attach: detach now; run: stop waiting for descendants */
	pid_t *oom_pids;
	size_t n_oom, alloc_oom;
	size_t procs_seen;
	long long job_peak; /* the job's highest memory (TF_JOB_PEAK), KiB; -1 none yet */
	double job_peak_t;
	long long peak;
	double peak_t;
	double deadline;
	double last_sample; /* when the last sample was taken, elapsed seconds */
	double mark_sample; /* when a sample for marks just read is due; INFINITY if none */
	struct strbuf warn;
	/* The event channel: a reader, an inotify watch that raises SIGRTMIN when it grows. */
	struct channel_reader chan;
	bool chan_open;
	int inotify_fd;
	struct channel_dir place; /* the private directory memline made for it (run, self) */
	bool capturing;		  /* --capture-output */
	struct capture cap;
	regex_t *regex; /* --event-regex, compiled */
	size_t n_regex;
	bool denied_noted; /* the warning that the kernel refused some files was given */
	bool final_known;  /* an S message set how a self-recording ended */
	enum run_status final_status;
	char *final_error;
	/* The job's memory cgroup (cgroup.h), when it has one (have_cg); why not, for the log. */
	struct cgroup cg;
	bool have_cg;
	enum rescan rescan;   /* attach --cgroup, --slurm-job: its processes, looked for again */
	double cg_rescan_t;   /* when they were last looked for */
	char *job_dir;	      /* RESCAN_DIR: the job's cgroup directory */
	char job_id[24];      /* --slurm-job: the job's id */
	char job_node[256];   /* --slurm-job: this node's name, given or said by its processes */
	struct strbuf cg_why; /* why the job has no cgroup (a warning record), or empty */
	void *stacks;	      /* --stacks: its watcher's (o->stacks_watcher), or NULL */
	bool stacking;
};

/* Marks from the channel are followed by a sample, but not more often than this. */
#define MARK_SAMPLE_GAP 0.002

static double boottime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double elapsed(const struct recorder *r)
{
	return boottime() - r->t0;
}

/*
 * ---- the wall clock ----
 * Many logs of one job are merged on the wall clock, so each log pairs its own time (boottime
 * since t0) with CLOCK_REALTIME: at t0 (the header's "clock") and in "clock" records.
 */

static long long timespec_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/*
 * Reads the wall clock into c (but c->t) paired with CLOCK_BOOTTIME, which it returns in
 * seconds: CLOCK_REALTIME is read just before and just after the boottime (vDSO reads, tens
 * of nanoseconds apart), the wall time the middle of the two. adjtimex says how good the
 * clock is: synchronised unless the kernel says TIME_ERROR or STA_UNSYNC, and its maximum and
 * estimated errors; all unknown where the call is refused (a seccomp filter).
 */
static double read_clock(struct clock_info *c)
{
	struct timespec w1, b, w2;
	clock_gettime(CLOCK_REALTIME, &w1);
	clock_gettime(CLOCK_BOOTTIME, &b);
	clock_gettime(CLOCK_REALTIME, &w2);
	long long ns = timespec_ns(&w1) + (timespec_ns(&w2) - timespec_ns(&w1)) / 2;
	c->wall_us = (ns + 500) / 1000;
	struct timex tx;
	memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
	int state = adjtimex(&tx);
	if (state < 0) {
		c->synced = -1;
		c->maxerror_us = c->esterror_us = -1;
	} else {
		c->synced = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
		c->maxerror_us = tx.maxerror >= 0 ? tx.maxerror : -1;
		c->esterror_us = tx.esterror >= 0 ? tx.esterror : -1;
	}
	return (double)b.tv_sec + (double)b.tv_nsec * 1e-9;
}

/* RECORDER_CLOCK_PERIOD, or MEMLINE_CLOCK_PERIOD's seconds when it is a number (tests). */
static double clock_period(void)
{
	const char *s = getenv("MEMLINE_CLOCK_PERIOD");
	if (!s || !*s)
		return RECORDER_CLOCK_PERIOD;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0)
		return RECORDER_CLOCK_PERIOD;
	return v < RECORDER_CLOCK_PERIOD_MIN ? RECORDER_CLOCK_PERIOD_MIN : v;
}

/*
 * A clock record now; the next is due a period later. Returns its time. The pair is moved to
 * the millisecond the log's other records are written to (the wall clock by as much, within
 * half a millisecond: exact but for drift of nanoseconds), so that the record is in time order
 * with those before and after it however they round.
 */
static double write_clock(struct recorder *r)
{
	struct clock_info c;
	double t = read_clock(&c) - r->t0;
	/* without libm: libmemline links none (t is never negative) */
	c.t = (double)(long long)(t * 1000.0 + 0.5) / 1000.0;
	double dus = (c.t - t) * 1e6;
	if (c.wall_us >= 0)
		c.wall_us += (long long)(dus + (dus < 0 ? -0.5 : 0.5));
	log_write_clock(&r->log, &c);
	r->next_clock = c.t + r->clock_period;
	return c.t;
}

void recorder_options_init(struct recorder_options *o)
{
	memset(o, 0, sizeof(*o));
	o->min_interval = RECORDER_MIN_INTERVAL;
	o->max_interval = RECORDER_MAX_INTERVAL;
	o->peak_reset = true;
	o->pss_budget = SAMPLER_PSS_BUDGET;
	o->proc_root = "/proc";
	o->kernel_events = EVENTS_ALL;
	o->stacks.threshold = STACKS_THRESHOLD;
	o->stacks.gap = STACKS_GAP;
	o->stacks.budget = STACKS_BUDGET;
}

struct timespec recorder_wait_timespec(double secs)
{
	/* NaN, negative: no wait; beyond the limit (or infinite): the limit, then a new turn. */
	if (!(secs > 0))
		secs = 0;
	if (secs > RECORDER_MAX_WAIT)
		secs = RECORDER_MAX_WAIT;
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	if (ts.tv_nsec < 0 || ts.tv_nsec > 999999999)
		ts.tv_nsec = 0;
	return ts;
}

double recorder_next_interval(const struct recorder_options *o, double t)
{
	if (o->interval > RECORDER_INTERVAL_LIMIT)
		return RECORDER_INTERVAL_LIMIT;
	if (o->interval > 0)
		return o->interval;
	/* Every min_interval during the first second, then a sixtieth of the time so far. */
	double i = t < 1.0 ? o->min_interval : t / 60.0;
	if (i < o->min_interval)
		i = o->min_interval;
	if (i > o->max_interval)
		i = o->max_interval;
	if (!(i <= RECORDER_INTERVAL_LIMIT))
		i = RECORDER_INTERVAL_LIMIT;
	return i;
}

void recorder_result_release(struct recorder_result *res)
{
	strbuf_release(&res->warning);
	free(res->log_path);
	res->log_path = NULL;
}

static void note_warning(struct recorder *r, struct strbuf *msg)
{
	if (!r->warn.len && msg->len)
		strbuf_addstr(&r->warn, msg->buf);
	strbuf_reset(msg);
}

static void add_oom_pid(struct recorder *r, pid_t pid)
{
	if (r->n_oom == r->alloc_oom) {
		size_t n = r->alloc_oom ? r->alloc_oom * 2 : 8;
		pid_t *p = realloc(r->oom_pids, n * sizeof(*p));
		if (!p)
			return;
		r->oom_pids = p;
		r->alloc_oom = n;
	}
	r->oom_pids[r->n_oom++] = pid;
}

/* Writes what the sampler found since the last drain, deciding OOM kills on the way. */
static void drain(struct recorder *r)
{
	size_t n;
	struct sampler_event *ev = sampler_events(&r->sampler, &n);
	for (size_t i = 0; i < n; i++) {
		switch (ev[i].type) {
		case SAMPLER_PROC:
			r->procs_seen++;
			if (!ev[i].proc.at_exit) /* a process already gone has no cgroup to read */
				oom_watch_add(&r->oom, ev[i].proc.pid);
			log_write_proc(&r->log, &ev[i].proc);
			break;
		case SAMPLER_EXEC:
			/* a tool such as cgexec moves itself before its exec: see where it runs */
			oom_watch_add(&r->oom, ev[i].proc.pid);
			log_write_exec(&r->log, &ev[i].proc);
			break;
		case SAMPLER_EXIT: {
			struct exit_info *e = &ev[i].exit;
			/* Not our child and gone unseen: its pidfd may know how it ended. */
			int status;
			if (e->how == EXIT_HOW_UNKNOWN &&
			    pidfd_watch_exit(&r->exits, e->pid, 100, &status))
				exit_info_from_wait_status(e, status);
			if (!ev[i].oom_known) {
				bool sigkill = e->how == EXIT_HOW_KILLED && e->signal == SIGKILL;
				if (sigkill || e->how == EXIT_HOW_UNKNOWN)
					e->oom = oom_watch_killed(&r->oom, e->pid);
				else
					oom_watch_forget(&r->oom, e->pid);
			}
			if (e->oom)
				add_oom_pid(r, e->pid);
			if (e->pid == r->main_pid && !r->main_done) {
				r->main_done = true;
				r->main_exit = *e;
			}
			log_write_exit(&r->log, e);
			break;
		}
		case SAMPLER_THREAD:
			ev[i].thread.name = ev[i].thread.end ? NULL : ev[i].text;
			log_write_thread(&r->log, &ev[i].thread);
			break;
		case SAMPLER_HEAP:
			ev[i].heap.allocator = ev[i].text;
			log_write_heap(&r->log, &ev[i].heap);
			break;
		}
	}
	sampler_clear_events(&r->sampler);
}

/*
 * Says once, in the log and to the caller, that the kernel refused to let memline read some
 * process's files (another user's process, for a user who is not root): what is then missing.
 */
static void note_denied(struct recorder *r, double t)
{
	static const struct {
		unsigned bit;
		const char *what, *then;
	} parts[] = {
		{PROC_DENIED_IO, "read the I/O counters", "its I/O fields are null"},
		{PROC_DENIED_RESET, "reset the peak", "its peak is its lifetime high-water mark"},
		{PROC_DENIED_PSS, "read the PSS", "its PSS is null"},
	};
	unsigned d = r->sampler.denied;
	size_t n = 0, k = 0;
	for (size_t i = 0; i < 3; i++)
		n += (d & parts[i].bit) != 0;
	struct strbuf msg = STRBUF_INIT;
	strbuf_addstr(&msg, "cannot ");
	for (size_t i = 0; i < 3; i++)
		if (d & parts[i].bit)
			strbuf_addf(&msg, "%s%s", k++ ? (k == n ? " or " : ", ") : "",
				    parts[i].what);
	strbuf_addf(&msg, " of process %d (another user's, or a setuid program): ",
		    (int)r->sampler.denied_pid);
	k = 0;
	for (size_t i = 0; i < 3; i++)
		if (d & parts[i].bit)
			strbuf_addf(&msg, "%s%s", k++ ? (k == n ? " and " : ", ") : "",
				    parts[i].then);
	strbuf_addstr(&msg, " (so for any other such process); record as that user or as root "
			    "to have them");
	if (!msg.oom) {
		log_write_warning(&r->log, t, "access", r->sampler.denied_pid, msg.buf);
		if (r->o->warn)
			r->o->warn(r->o->warn_data, msg.buf);
	}
	strbuf_release(&msg);
	r->denied_noted = true;
}

static size_t read_channel(struct recorder *r);
static void read_output(struct recorder *r);
static void want_mark_sample(struct recorder *r);

/* attach --cgroup, --slurm-job: the job's processes, looked for at most once a second. */
#define CGROUP_RESCAN 1.0

struct adding {
	struct recorder *r;
	size_t added;
};

static void add_job_pid(pid_t pid, void *data)
{
	struct adding *a = data;
	if (pid != getpid() && !sampler_tracks(&a->r->sampler, pid) &&
	    sampler_add(&a->r->sampler, pid, elapsed(a->r)))
		a->added++;
}

/*
 * attach --cgroup, --slurm-job: starts tracking the job's processes that are new since the last
 * look (a new job step's: not descendants of those tracked). Returns how many.
 */
static size_t rescan_job(struct recorder *r, bool now)
{
	double t = elapsed(r);
	if (r->rescan == RESCAN_NONE || (!now && t - r->cg_rescan_t < CGROUP_RESCAN))
		return 0;
	r->cg_rescan_t = t;
	struct adding a = {r, 0};
	struct slurm_scan scan;
	switch (r->rescan) {
	case RESCAN_CGROUP:
		cgroup_for_each_pid(&r->cg, add_job_pid, &a);
		break;
	case RESCAN_DIR:
		cgroup_dir_for_each_pid(&r->fs, r->job_dir, add_job_pid, &a);
		break;
	case RESCAN_ENVIRON:
		slurm_job_environ_pids(&r->fs, r->o->slurm_job, r->job_node[0] ? r->job_node : NULL,
				       add_job_pid, &a, &scan);
		/* the node, once the job's processes here name it: the others' are not ours */
		if (!r->job_node[0] && !scan.many_nodes)
			snprintf(r->job_node, sizeof(r->job_node), "%s", scan.node);
		break;
	case RESCAN_NONE:
		break;
	}
	return a.added;
}

/*
 * Reads what the kernel's event sources have (its news goes to the sampler's queue); says
 * once, in the log and to the caller, that one lost records.
 */
static void read_events(struct recorder *r)
{
	if (!r->events.n || !events_read(&r->events, elapsed(r)) || r->overrun_noted)
		return;
	r->overrun_noted = true;
	const char *msg = "the kernel dropped process events (its socket overflowed): processes "
			  "of the tree may be missing; the end record's 'missed' counts the pids "
			  "that may be";
	log_write_warning(&r->log, elapsed(r), "overrun", 0, msg);
	if (r->o->warn)
		r->o->warn(r->o->warn_data, msg);
}

/* The sampler found a tracked process ended in a sample: what the sources told of it. */
static void sampler_wants_news(void *data)
{
	read_events(data);
}

/* Opens the kernel's event sources for the sampler (sig 0: polled, not signalled). */
static void open_events(struct recorder *r, unsigned want, int sig)
{
	events_open(&r->events, &r->sampler, &r->fs, want, sig);
	if (r->events.n) {
		r->sampler.opt.news = sampler_wants_news;
		r->sampler.opt.news_data = r;
	}
}

/* The event sources' descriptors raised SIGEVENTS: read them, write what they told. */
static void events_ready(struct recorder *r)
{
	/* signals queued for what is read now are taken first: one for later data stays */
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, SIGEVENTS);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&only, NULL, &zero) > 0)
		;
	read_events(r);
	drain(r);
}

static void take_sample(struct recorder *r)
{
	read_channel(r); /* marks sent before this sample come before it in the log */
	read_output(r);
	read_events(r); /* what the kernel told before it: an exit before its zombie is found */
	double t = elapsed(r);
	r->last_sample = t;
	r->mark_sample = INFINITY;
	rescan_job(r, false);
	const struct sample *s = sampler_sample(&r->sampler, t);
	drain(r);
	log_write_sample(&r->log, s->t, s->avail, &s->tree, s->procs, s->n, s->threads,
			 s->n_threads);
	if (r->sampler.denied_pid && !r->denied_noted)
		note_denied(r, t);
	if (s->tree.v[TF_PEAK] > r->peak) {
		r->peak = s->tree.v[TF_PEAK];
		r->peak_t = t;
	}
	long long job = s->tree.v[TF_JOB_PEAK] >= 0 ? s->tree.v[TF_JOB_PEAK] : s->tree.v[TF_JOB];
	if (job > r->job_peak) {
		r->job_peak = job;
		r->job_peak_t = t;
	}
	if (r->stacking) {
		r->o->stacks_watcher->sample(r->stacks, s, t);
		drain(r); /* a process that ended during a capture */
	}
}

static void on_message(void *data, const struct channel_msg *m)
{
	struct recorder *r = data;
	if (m->kind == CHANNEL_STATUS) {
		/* How a self-recording ended: only attach (memline.track) takes it. */
		if (!r->attach || r->final_known)
			return;
		r->final_known = true;
		r->final_status = RUN_COMPLETED;
		if (!strncmp(m->text, "failed", 6)) {
			r->final_status = RUN_FAILED;
			const char *msg = m->text + 6;
			while (*msg == ' ')
				msg++;
			r->final_error = strdup(*msg ? msg : "failed");
		}
		r->stop = true;
		return;
	}
	struct mark_info mark = {
		.kind = m->kind == CHANNEL_BEGIN ? MARK_SPAN_BEGIN
			: m->kind == CHANNEL_END ? MARK_SPAN_END
						 : MARK_EVENT,
		.t = m->t >= 0 ? m->t - r->t0 : elapsed(r),
		.text = m->text,
		.len = m->len,
		.pid = m->pid,
		.tid = m->tid,
	};
	log_write_mark(&r->log, &mark);
	if (r->stacking)
		r->o->stacks_watcher->mark(r->stacks, m->pid, r->main_pid, m->text, m->len, mark.t);
}

/* Writes the messages that arrived on the channel; returns how many. */
static size_t read_channel(struct recorder *r)
{
	if (!r->chan_open)
		return 0;
	return channel_reader_poll(&r->chan, on_message, r);
}

/* The channel grew (SIGRTMIN from inotify, or SIGIO if those overflowed). */
static void channel_ready(struct recorder *r)
{
	char buf[4096];
	while (r->inotify_fd >= 0 && read(r->inotify_fd, buf, sizeof(buf)) > 0)
		;
	/*
	 * A sample right after the marks gives them the tree's memory of that moment; marks that
	 * follow a sample closely get one MARK_SAMPLE_GAP after it, shared by all of them.
	 */
	if (read_channel(r))
		want_mark_sample(r);
	read_output(r);
}

static void want_mark_sample(struct recorder *r)
{
	double due = r->last_sample + MARK_SAMPLE_GAP;
	if (due < r->mark_sample)
		r->mark_sample = due;
}

static void on_output(void *data, const char *stream, const char *line, size_t len)
{
	struct recorder *r = data;
	double t = elapsed(r);
	log_write_output(&r->log, t, stream, line, len);
	if (!r->n_regex)
		return;
	/* regexec wants a string: a line with a NUL byte in it is matched up to that byte. */
	for (size_t i = 0; i < r->n_regex; i++) {
		if (regexec(&r->regex[i], line, 0, NULL, 0) == 0) {
			struct mark_info mark = {.kind = MARK_EVENT,
						 .t = t,
						 .text = line,
						 .len = len < CHANNEL_LABEL_MAX ? len
										: CHANNEL_LABEL_MAX,
						 .pid = -1,
						 .tid = -1};
			log_write_mark(&r->log, &mark);
			want_mark_sample(r);
			break;
		}
	}
}

static void read_output(struct recorder *r)
{
	if (r->capturing)
		capture_poll(&r->cap, on_output, r);
}

/*
 * Opens the channel: path if given (attach --events), else a new private file for the
 * command's tree (run). Watches it with inotify so that a message wakes the loop; without
 * inotify the channel is still read at every sample.
 */
static int open_channel(struct recorder *r, const char *path, struct strbuf *err)
{
	if (!path) {
		/* No channel is no reason not to record: events are simply not offered. */
		struct strbuf why = STRBUF_INIT;
		int ret = channel_dir_create(&r->place, &r->fs, &why);
		strbuf_release(&why);
		if (ret < 0)
			return 0;
		path = r->place.file;
	}
	if (channel_reader_open(&r->chan, path, err) < 0)
		return RECORDER_ERR_EVENTS;
	r->chan_open = true;
	r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	bool watching =
		r->inotify_fd >= 0 && inotify_add_watch(r->inotify_fd, path, IN_MODIFY) >= 0;
	/* A self-recording polls the inotify fd; the others have it raise a signal. */
	if (watching && !r->self)
		watching =
			fcntl(r->inotify_fd, F_SETOWN, getpid()) == 0 &&
			fcntl(r->inotify_fd, F_SETSIG, SIGRTMIN) == 0 &&
			fcntl(r->inotify_fd, F_SETFL, fcntl(r->inotify_fd, F_GETFL) | O_ASYNC) == 0;
	if (!watching && r->inotify_fd >= 0) {
		close(r->inotify_fd);
		r->inotify_fd = -1;
	}
	return 0;
}

static void close_channel(struct recorder *r)
{
	if (r->chan_open)
		channel_reader_close(&r->chan);
	r->chan_open = false;
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	r->inotify_fd = -1;
	/*
	 * Removed even while descendants run on: they may still send, but nobody would read it,
	 * and memline event and the libraries then do nothing. Keeping it would leave a directory
	 * behind every run that ends before its last process.
	 */
	channel_dir_remove(&r->place);
}

/*
 * --heap: where the processes' counters files are, for the sampler: the recording's private
 * directory (run, self), or that of the channel attach was given.
 */
static void heap_options(struct recorder *r, struct sampler_options *so)
{
	so->heap = r->o->heap;
	so->heap_lib = r->o->heap_lib;
	if (r->o->heap == HEAP_OFF)
		return;
	free(r->heap_dir);
	r->heap_dir = NULL;
	if (r->place.dir) {
		r->heap_dir = strdup(r->place.dir);
	} else if (r->o->events_path) {
		const char *slash = strrchr(r->o->events_path, '/');
		r->heap_dir = !slash ? strdup(".")
				     : strndup(r->o->events_path,
					       slash == r->o->events_path
						       ? 1
						       : (size_t)(slash - r->o->events_path));
	}
	so->heap_dir = r->heap_dir;
}

/*
 * Reaps every child that has exited; under --trace, handles the tracees' stops too, and reaps
 * the tree's processes as their tracer.
 */
static void reap(struct recorder *r)
{
	/* a child's exit record is sent before its SIGCHLD: read it first, for its peak */
	read_events(r);
	int all = r->tracing ? __WALL : 0;
	pid_t let_go = 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | all) < 0 || si.si_pid == 0)
			return;
		if (r->tracing && tracer_take(&r->tracer, &si, elapsed(r))) {
			drain(r);
			continue;
		}
		if (si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED) {
			/*
			 * A ptrace stop (waitid tells a tracer's stops even unasked): a thread a
			 * stack capture left seized when it was slow to stop, which the capture's
			 * tick lets go. Never an end to reap: wait4 would take the stop for one.
			 */
			if (!r->stacking || let_go == si.si_pid)
				return;
			let_go = si.si_pid;
			r->o->stacks_watcher->tick(r->stacks);
			continue;
		}
		pid_t pid = si.si_pid;
		bool oom = false, checked = false;
		if ((si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) &&
		    si.si_status == SIGKILL) {
			/* Now, while its zombie still shows its cgroup. */
			oom = oom_watch_killed(&r->oom, pid);
			checked = true;
		}
		sampler_zombie(&r->sampler, pid);
		int status;
		struct rusage ru;
		pid_t got;
		do
			got = wait4(pid, &status, all, &ru);
		while (got < 0 && errno == EINTR);
		if (got != pid || WIFSTOPPED(status))
			return;
		struct sampler_event *ev =
			sampler_reaped(&r->sampler, pid, status, &ru, elapsed(r));
		if (ev) {
			ev->exit.oom = oom;
			ev->oom_known = true;
		} else if (oom) {
			add_oom_pid(r, pid); /* came and went between two samples, but was ours */
		}
		if (!checked)
			oom_watch_forget(&r->oom, pid);
		drain(r);
	}
}

static bool has_children(void)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static void handle_signal(struct recorder *r, const siginfo_t *si)
{
	if (si->si_signo == SIGEVENTS) {
		events_ready(r);
		return;
	}
	if (si->si_signo == SIGRTMIN || si->si_signo == SIGIO) {
		channel_ready(r);
		if (si->si_signo == SIGIO)
			events_ready(r); /* realtime signals overflowed: theirs too */
		return;
	}
	if (si->si_signo == SIGUSR1 && r->stacking) {
		r->o->stacks_watcher->ask(r->stacks); /* at the next sample, which is now */
		if (r->mark_sample > elapsed(r))
			r->mark_sample = elapsed(r);
		return;
	}
	if (si->si_signo == SIGCHLD) {
		bool was_done = r->main_done;
		reap(r);
		if (r->main_done && !was_done)
			take_sample(r); /* the tree as the command left it */
		return;
	}
	if (r->attach || r->main_done) {
		r->stop = true;
		return;
	}
	/*
	 * A signal from the terminal (Ctrl-C) went to the whole foreground process group, the
	 * command included: forwarding it would deliver it twice.
	 */
	if (si->si_code != SI_KERNEL)
		kill(r->main_pid, si->si_signo);
}

static void schedule(struct recorder *r)
{
	double t = elapsed(r);
	double next = r->deadline + recorder_next_interval(r->o, r->deadline);
	if (next <= t)
		next = t + recorder_next_interval(r->o, t); /* fell behind: do not catch up */
	r->deadline = next;
}

static bool finished(struct recorder *r)
{
	/* the cgroup's last process may not be the last one; memline in a step of the job: the job
	 * is here as long as memline is (its processes looked for every second) */
	if (r->attach && !r->stop && sampler_count(&r->sampler) == 0 && !r->o->slurm_inside)
		rescan_job(r, true);
	if (r->attach)
		return r->stop || (sampler_count(&r->sampler) == 0 && !r->o->slurm_inside);
	if (!r->main_done)
		return false;
	if (!r->o->wait || r->stop)
		return true;
	return sampler_count(&r->sampler) == 0 && !has_children();
}

/* How long the loop may wait: until a sample, a mark's sample or a flush is due. */
static double wait_time(struct recorder *r)
{
	double wait = r->deadline - elapsed(r);
	double flush = log_writer_due(&r->log) - boottime();
	if (flush < wait)
		wait = flush;
	if (r->next_clock - elapsed(r) < wait)
		wait = r->next_clock - elapsed(r);
	if (r->mark_sample - elapsed(r) < wait)
		wait = r->mark_sample - elapsed(r);
	if (r->o->slurm_job && r->cg_rescan_t + CGROUP_RESCAN - elapsed(r) < wait)
		wait = r->cg_rescan_t + CGROUP_RESCAN - elapsed(r);
	return wait < 0 ? 0 : wait; /* overdue: only look for what is pending */
}

/* What a turn of the loop does after its wait: sample if due, flush if due. */
static void turn(struct recorder *r, struct strbuf *err)
{
	/* --slurm-job: a new step's processes are looked for every second, and sampled at once */
	if (r->o->slurm_job && rescan_job(r, false) && r->mark_sample > elapsed(r))
		r->mark_sample = elapsed(r);
	if (elapsed(r) >= r->deadline && !finished(r)) {
		take_sample(r);
		schedule(r);
	} else if (elapsed(r) >= r->mark_sample && !finished(r)) {
		take_sample(r); /* for marks: the schedule stays as it was */
	}
	if (r->stacking)
		r->o->stacks_watcher->tick(r->stacks);
	if (elapsed(r) >= r->next_clock)
		write_clock(r);
	if (log_writer_flush(&r->log, boottime(), false, err) < 0)
		note_warning(r, err);
}

/* The first sample, which starts the schedule. */
static void first_sample(struct recorder *r)
{
	take_sample(r);
	r->deadline = 0;
	schedule(r);
	r->started = true;
}

/* A self-recording's wait: its stop pipe, the channel, the event sources. */
static void self_wait(struct recorder *r, const struct timespec *ts)
{
	struct pollfd pfd[2 + EVENTS_MAX] = {{r->stop_fd, POLLIN, 0}, {r->inotify_fd, POLLIN, 0}};
	nfds_t n = 2;
	for (size_t i = 0; i < r->events.n; i++)
		pfd[n++] = (struct pollfd){r->events.on[i].fd, POLLIN, 0};
	if (ppoll(pfd, n, ts, NULL) <= 0)
		return;
	if (pfd[0].revents)
		r->stop = true;
	if (pfd[1].revents)
		channel_ready(r);
	for (nfds_t i = 2; i < n; i++)
		if (pfd[i].revents) {
			read_events(r);
			drain(r);
			break;
		}
}

static void loop(struct recorder *r)
{
	struct strbuf err = STRBUF_INIT;
	if (!r->started)
		first_sample(r);
	/*
	 * One wait per turn, for a signal or, at most, until the next sample is due or records
	 * written between samples (an exit) are due to reach the file. sigtimedwait costs what a
	 * plain timed sleep does; polling a signalfd costs measurably more at 100 samples a second.
	 * A self-recording owns no signal: it waits in ppoll on its stop pipe and the channel.
	 */
	while (!finished(r)) {
		struct timespec ts = recorder_wait_timespec(wait_time(r));
		if (r->self) {
			self_wait(r, &ts);
		} else {
			siginfo_t si;
			if (sigtimedwait(&r->sigs, &si, &ts) > 0)
				handle_signal(r, &si);
		}
		turn(r, &err);
	}
	strbuf_release(&err);
}

static void status_from_exit(const struct exit_info *e, struct end_info *end)
{
	end->exit_code = e->code;
	end->signal = e->signal;
	end->core = e->core;
	if (e->how == EXIT_HOW_EXITED)
		end->status = e->code == 0 ? RUN_COMPLETED : RUN_FAILED;
	else if (e->how == EXIT_HOW_KILLED)
		end->status = RUN_KILLED;
	else
		end->status = RUN_EXITED;
	if (e->oom)
		end->status = RUN_OOM_KILLED;
}

/*
 * The end of the job's cgroup, when memline made it: the processes that outlived the recording
 * move to memline's own cgroup and run on there, and the cgroup goes. When it cannot go, the
 * log says so.
 */
static void end_cgroup(struct recorder *r, double t)
{
	if (!r->have_cg || !r->cg.own)
		return;
	struct strbuf msg = STRBUF_INIT;
	if (cgroup_remove(&r->cg, &msg) && msg.len && !msg.oom)
		log_write_warning(&r->log, t, "cgroup", 0, msg.buf);
	strbuf_release(&msg);
}

static void finish(struct recorder *r, struct recorder_result *res)
{
	struct end_info end;
	memset(&end, 0, sizeof(end));
	end.t = elapsed(r);
	end.exit_code = end.signal = -1;
	bool marks = read_channel(r) > 0;
	if (r->capturing) {
		capture_finish(&r->cap, on_output, r);
		capture_release(&r->cap);
		r->capturing = false;
	}
	/* Marks read last (say just before an S line) get their sample too. */
	if (marks || r->mark_sample < INFINITY)
		take_sample(r);
	/* --slurm-job: stopped with none of the job's processes left is no detaching */
	bool none_left = r->o->slurm_job && sampler_count(&r->sampler) == 0;
	if (r->final_known) {
		end.status = r->final_status;
		end.error = r->final_error;
	} else if (r->attach && r->stop && !none_left)
		end.status = RUN_DETACHED;
	else if (r->main_done)
		status_from_exit(&r->main_exit, &end);
	else
		end.status = RUN_EXITED;
	/* A job whose process was OOM-killed and that then failed was, for its user, OOM-killed. */
	if ((end.status == RUN_FAILED || end.status == RUN_KILLED) && r->n_oom)
		end.status = RUN_OOM_KILLED;
	/* A node of a Slurm job, whose processes have no first one: one OOM-killed is how it
	 * ended, as Slurm's OUT_OF_MEMORY is the job's. */
	if (r->o->slurm_job && r->n_oom && (end.status == RUN_EXITED || end.status == RUN_DETACHED))
		end.status = RUN_OOM_KILLED;
	end.oom_killed = r->oom_pids;
	end.n_oom_killed = r->n_oom;
	size_t alive = sampler_count(&r->sampler);
	pid_t *pids = calloc(alive ? alive : 1, sizeof(*pids));
	end.n_alive = pids ? sampler_pids(&r->sampler, pids, alive) : 0;
	end.alive = pids;
	/*
	 * memline's own CPU time: the process's for run and attach, the recording thread's for a
	 * self-recording (finish() runs in it), whose process is the host's.
	 */
	struct rusage ru;
	getrusage(r->self ? RUSAGE_THREAD : RUSAGE_SELF, &ru);
	end.self_utime = ru.ru_utime.tv_sec * 1000LL + ru.ru_utime.tv_usec / 1000;
	end.self_stime = ru.ru_stime.tv_sec * 1000LL + ru.ru_stime.tv_usec / 1000;
	end.job_peak = r->job_peak;
	end.job_peak_t = r->job_peak_t;
	end.procs = (long)r->procs_seen;
	end.missed = sampler_missed(&r->sampler);
	end.overruns = r->events.n ? r->events.overruns : -1;
	end.stacks.captures = -1;
	if (r->stacking)
		r->o->stacks_watcher->counts(r->stacks, &end.stacks);
	if (r->tracing)
		tracer_detach_all(&r->tracer); /* tracees that run on are not stopped for nobody */
	end_cgroup(r, end.t);
	/* the last pair of clocks, so that every log has two; the end follows it in time */
	double t = write_clock(r);
	if (t > end.t)
		end.t = t;
	log_write_end(&r->log, &end);
	close_channel(r);

	struct strbuf err = STRBUF_INIT;
	/* Named at the commit; a log whose header could not be written is none (fd closed). */
	if (!res->log_path && r->log.fd >= 0)
		res->log_path = strdup(r->log.path);
	if (log_writer_close(&r->log, &err) < 0)
		note_warning(r, &err);
	strbuf_release(&err);
	res->log_removed = r->log.removed;
	res->log_moved = r->log.moved;
	long samples = r->log.samples;

	res->status = end.status;
	res->exit_code = end.exit_code;
	res->signal = end.signal;
	res->core = end.core;
	res->memline_exit = end.exit_code >= 0 ? end.exit_code
			    : end.signal > 0   ? 128 + end.signal
					       : 0;
	res->duration = end.t;
	res->peak_kib = r->peak;
	res->peak_t = r->peak_t;
	res->job_peak_kib = r->job_peak;
	res->job_peak_t = r->job_peak_t;
	res->method = r->sampler.method;
	res->processes = r->procs_seen;
	res->missed = end.missed;
	res->alive = end.n_alive;
	res->oom_killed = r->n_oom;
	res->samples = samples;
	strbuf_init(&res->warning);
	strbuf_addstr(&res->warning, r->warn.len ? r->warn.buf : "");
	free(pids);
}

static void release(struct recorder *r)
{
	/*
	 * Signals that came too late to matter (a last SIGRTMIN from the output pipes, a SIGCHLD)
	 * must not act once the caller unblocks them: SIGRTMIN's default action is to terminate.
	 */
	events_release(&r->events); /* their sockets raise no more signals once closed */
	struct timespec zero = {0, 0};
	while (sigtimedwait(&r->sigs, NULL, &zero) > 0)
		;
	tracer_release(&r->tracer);
	free(r->trace_why);
	if (r->stacking)
		r->o->stacks_watcher->stop(r->stacks);
	sampler_release(&r->sampler);
	cgroup_release(&r->cg);
	strbuf_release(&r->cg_why);
	free(r->job_dir);
	oom_watch_release(&r->oom);
	pidfd_watch_release(&r->exits);
	procfs_release(&r->fs);
	free(r->oom_pids);
	strbuf_release(&r->warn);
	if (r->chan_open || r->inotify_fd >= 0)
		close_channel(r);
	channel_dir_remove(&r->place);
	free(r->final_error);
	free(r->heap_dir);
	if (r->capturing)
		capture_release(&r->cap);
	for (size_t i = 0; i < r->n_regex; i++)
		regfree(&r->regex[i]);
	free(r->regex);
}

static void fill_header(struct recorder *r, struct header_info *h, char **command, pid_t *pids,
			size_t n_pids, char *cwd, struct utsname *u)
{
	memset(h, 0, sizeof(*h));
	/* the start is the wall clock at t0, as the header's clock says it to the microsecond */
	static char iso[40];
	h->clock = r->clock0;
	time_t secs = (time_t)(r->clock0.wall_us / 1000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t len = strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(iso + len, sizeof(iso) - len, ".%03dZ", (int)(r->clock0.wall_us % 1000000 / 1000));
	h->format = LOG_FORMAT_VERSION;
	h->memline_version = MEMLINE_VERSION;
	h->mode = r->self ? "self" : r->attach ? "attach" : "run";
	h->host = u->nodename;
	h->kernel = u->release;
	h->start_iso = iso;
	h->start_unix = (double)r->clock0.wall_us * 1e-6;
	h->command = command;
	h->pid = n_pids ? pids[0] : 0;
	h->pids = pids;
	h->n_pids = n_pids;
	h->cwd = cwd;
	/* where in a job this is, as the launcher says (out of memory: nowhere in particular) */
	place_from_vars(&h->place, place_getenv, NULL);
	if (r->o->node_wide || r->o->slurm_job) {
		/* one recording for the whole node: the launcher's rank is that of memline's
		 * task (srun --ntasks-per-node=1), not one of the job's */
		h->place.node_wide = true;
		h->place.rank = h->place.local_rank = h->place.size = -1;
	}
	/* attach --slurm-job: the job is the one asked for, whichever memline runs in (the
	 * place owns its strings: place_release frees them) */
	if (r->o->slurm_job) {
		char *id = strdup(r->job_id);
		if (id) {
			free(h->place.job);
			h->place.job = id;
		}
	}
	for (size_t i = 0; i < JOB_VARS_MAX && job_vars[i]; i++) {
		char *v = getenv(job_vars[i]);
		if (v) {
			h->job_names[h->n_job] = (char *)job_vars[i];
			h->job_values[h->n_job++] = v;
		}
	}
	h->page_size = r->fs.page_kib * 1024;
	h->clk_tck = r->fs.clk_tck;
	long long avail;
	procfs_meminfo(&r->fs, &h->mem_total, &avail);
	h->interval_fixed = r->o->interval;
	h->interval_min = r->o->min_interval;
	h->interval_max = r->o->max_interval;
	h->peak_reset = r->o->peak_reset;
	h->pss = r->o->pss;
	h->heap = r->heap_dir ? r->o->heap : HEAP_OFF;
	h->method = r->sampler.method;
	if (r->have_cg) {
		h->cgroup_path = r->cg.dir;
		h->cgroup_version = r->cg.version;
		h->cgroup_own = r->cg.own;
		h->cgroup_peak = (char *)cgroup_peak_names[r->cg.peak];
	}
	/* where processes are learned of: every sample's look at /proc, and the exits memline
	 * hears of itself (its children's wait4, attach's pidfds) */
	h->event_sources[h->n_event_sources++] = (char *)"poll";
	h->event_sources[h->n_event_sources++] = (char *)(r->attach ? "pidfd" : "wait4");
	/* the kernel's, where they are open; why the others are not */
	for (size_t i = 0; i < r->events.n; i++)
		h->event_sources[h->n_event_sources++] = (char *)r->events.on[i].src->name;
	if (r->tracing)
		h->event_sources[h->n_event_sources++] = (char *)"ptrace";
	for (size_t i = 0; i < r->events.n_off; i++) {
		h->events_off[h->n_events_off] = (char *)r->events.off[i];
		h->events_off_why[h->n_events_off++] = r->events.why[i];
	}
	if (r->trace_why) {
		h->events_off[h->n_events_off] = (char *)"ptrace";
		h->events_off_why[h->n_events_off++] = r->trace_why;
	}
	if (r->stacking) {
		h->stacks_when = r->o->stacks.when;
		h->stacks_every = r->o->stacks.every;
		h->stacks_threshold = r->o->stacks.threshold;
		h->stacks_gap = r->o->stacks.gap;
		h->stacks_budget = r->o->stacks.budget;
	}
}

static void write_header(struct recorder *r, char **command, pid_t *pids, size_t n)
{
	struct header_info h;
	struct utsname u;
	uname(&u);
	char *cwd = getcwd(NULL, 0);
	fill_header(r, &h, command, pids, n, cwd, &u);
	log_write_header(&r->log, &h);
	place_release(&h.place);
	free(cwd);
}

/* The header of a recording of running processes: the first one's command line stands for
 * the command. */
static void write_header_of(struct recorder *r, const pid_t *pids, size_t n)
{
	struct strbuf cmd = STRBUF_INIT;
	struct strbuf path = STRBUF_INIT;
	if (n) { /* none: a node of a Slurm job where memline is its only process yet */
		strbuf_addf(&path, "%d/cmdline", (int)pids[0]);
		procfs_read_file(&r->fs, path.buf, &cmd);
	}
	size_t nargs = 0;
	for (size_t i = 0; i < cmd.len; i++)
		nargs += cmd.buf[i] == '\0';
	char **command = calloc(nargs + 2, sizeof(*command));
	size_t k = 0;
	for (size_t i = 0; command && i < cmd.len; i += strlen(cmd.buf + i) + 1)
		command[k++] = cmd.buf + i;
	write_header(r, command, (pid_t *)pids, n);
	free(command);
	strbuf_release(&cmd);
	strbuf_release(&path);
}

/* Compiles the --event-regex patterns. */
static int compile_regex(struct recorder *r, const struct recorder_options *o, struct strbuf *err)
{
	if (!o->n_event_regex)
		return 0;
	if (!(r->regex = calloc(o->n_event_regex, sizeof(*r->regex)))) {
		strbuf_addstr(err, "out of memory");
		return RECORDER_ERR_SYSTEM;
	}
	for (size_t i = 0; i < o->n_event_regex; i++) {
		int rc = regcomp(&r->regex[i], o->event_regex[i], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[256];
			regerror(rc, &r->regex[i], msg, sizeof(msg));
			strbuf_addf(err, "--event-regex '%s' is not a valid regular expression: %s",
				    o->event_regex[i], msg);
			return RECORDER_ERR_REGEX;
		}
		r->n_regex++;
	}
	return 0;
}

static void on_stack(void *data, const struct stack_info *s)
{
	struct recorder *r = data;
	log_write_stack(&r->log, s);
}

static void on_stack_warning(void *data, double t, const char *code, pid_t pid, const char *text)
{
	struct recorder *r = data;
	log_write_warning(&r->log, t, code, pid, text);
}

static bool stacks_traced(void *data)
{
	const struct recorder *r = data;
	return r->tracing;
}

static void stacks_stop(void *data, pid_t tid, int code)
{
	struct recorder *r = data;
	tracer_stop(&r->tracer, tid, code, elapsed(r));
}

static void start_stacks(struct recorder *r)
{
	struct recorder_watch_io io = {on_stack, on_stack_warning, stacks_traced, stacks_stop, r};
	r->stacks = r->o->stacks_watcher->start(r->o, &r->fs, &io);
	r->stacking = r->stacks != NULL;
}

/*
 * Everything both modes set up before anything starts: whatever can fail is tried before the
 * log is opened (which touches nothing at its path either, see log.h).
 */
static int setup(struct recorder *r, const struct recorder_options *o, bool attach,
		 sigset_t *oldmask, struct strbuf *err)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->attach = attach;
	r->inotify_fd = -1;
	r->trace_go[0] = r->trace_go[1] = -1;
	r->mark_sample = INFINITY;
	r->job_peak = -1;
	strbuf_init(&r->warn);
	cgroup_init(&r->cg);
	strbuf_init(&r->cg_why);
	if (procfs_init(&r->fs, o->proc_root, err) < 0)
		return RECORDER_ERR_SYSTEM;
	sigemptyset(&r->sigs);
	sigaddset(&r->sigs, SIGCHLD);
	sigaddset(&r->sigs, SIGINT);
	sigaddset(&r->sigs, SIGTERM);
	sigaddset(&r->sigs, SIGHUP);
	sigaddset(&r->sigs, SIGQUIT);
	sigaddset(&r->sigs, SIGRTMIN);	/* the event channel grew (inotify, F_SETSIG) */
	sigaddset(&r->sigs, SIGEVENTS); /* a kernel event source has news */
	sigaddset(&r->sigs, SIGIO);	/* the same, when queued realtime signals overflowed */
	if (o->stacks.when && o->stacks_watcher) {
		sigaddset(&r->sigs, SIGUSR1); /* a person asks for stacks now */
		start_stacks(r);
	}
	sigprocmask(SIG_BLOCK, &r->sigs, oldmask);
	int ret = attach && !o->events_path ? 0 : open_channel(r, o->events_path, err);
	if (!ret && !attach)
		ret = compile_regex(r, o, err);
	if (!ret && !attach && o->capture_output) {
		if (capture_init(&r->cap, SIGRTMIN, !o->capture_quiet, err) < 0)
			ret = RECORDER_ERR_SYSTEM;
		else
			r->capturing = true;
	}
	if (!ret && log_writer_open(&r->log, o->log_path, o->log_exclusive, err) < 0)
		ret = RECORDER_ERR_LOG;
	if (ret) {
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		return ret;
	}
	if (o->flush_interval > 0)
		r->log.flush_secs = o->flush_interval;
	return RECORDER_OK;
}

/*
 * The recording has begun (the header is buffered): the log takes its place at the path, which
 * res->log_path then names (for the started hook too: it outlives the recorder).
 */
static void commit_log(struct recorder *r, struct recorder_result *res)
{
	r->log.t0 = r->t0;
	struct strbuf err = STRBUF_INIT;
	if (log_writer_commit(&r->log, boottime(), &err) < 0)
		note_warning(r, &err);
	strbuf_release(&err);
	if (r->log.fd >= 0)
		res->log_path = strdup(r->log.path);
}

/* Writes the header out and tells the caller the recording has begun (o->started). */
static void announce_start(struct recorder *r, const struct recorder_options *o,
			   const struct recorder_result *res)
{
	if (!o->started || r->log.fd < 0 || !res->log_path)
		return;
	struct strbuf err = STRBUF_INIT;
	log_writer_flush(&r->log, boottime(), true, &err); /* a failure shows at the next flush */
	strbuf_release(&err);
	o->started(o->started_data, res->log_path);
}

/* Raises the open-file limit: memline keeps a few /proc files open per process. */
static void raise_nofile(struct rlimit *old)
{
	if (getrlimit(RLIMIT_NOFILE, old) < 0)
		return;
	struct rlimit r = *old;
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
}

/*
 * What run and attach do once the processes are tracked: tell the caller the recording began,
 * record to the end, write the end record, and give the signals back.
 */
static int record(struct recorder *r, const struct recorder_options *o, struct recorder_result *res,
		  const sigset_t *oldmask)
{
	announce_start(r, o, res);
	loop(r);
	finish(r, res);
	release(r);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	return RECORDER_OK;
}

/* ---- the job's cgroup, and starting the command in it ---- */

/* Says in the log why the job has no cgroup of its own (once, at the start; not on the
 * terminal: a user who cannot have one would be told at every run). */
static void note_no_cgroup(struct recorder *r)
{
	if (!r->cg_why.len)
		return;
	struct strbuf msg = STRBUF_INIT;
	strbuf_addf(&msg,
		    "the job has no memory cgroup of its own (%s): its memory is measured from its "
		    "processes (method %s)",
		    r->cg_why.buf, memory_method_names[r->sampler.method]);
	if (!msg.oom)
		log_write_warning(&r->log, elapsed(r), "cgroup", 0, msg.buf);
	strbuf_release(&msg);
}

/* --cgroup: takes the existing cgroup o->cgroup as the job's. */
static int existing_cgroup(struct recorder *r, const struct recorder_options *o, struct strbuf *err)
{
	bool missing;
	if (cgroup_open(&r->cg, &r->fs, o->cgroup, &missing, err) < 0)
		return missing ? RECORDER_ERR_NOCGROUP : RECORDER_ERR_CGROUP;
	r->have_cg = true;
	return 0;
}

/* run: the job's cgroup: the one --cgroup names, or one made for it unless --no-cgroup. */
static int run_cgroup(struct recorder *r, const struct recorder_options *o, struct strbuf *err)
{
	if (o->cgroup) {
		int ret = existing_cgroup(r, o, err);
		if (!ret && r->cg.procs_fd < 0) {
			strbuf_addf(err, "cannot place the command in cgroup '%s': %s", r->cg.dir,
				    strerror(r->cg.procs_errno));
			ret = RECORDER_ERR_CGROUP;
		}
		return ret;
	}
	if (!o->no_cgroup && cgroup_create(&r->cg, &r->fs, getpid(), &r->cg_why) == 0)
		r->have_cg = true;
	return 0;
}

/*
 * The command could not be placed in the cgroup memline made for it (e): it runs without one.
 * The sampler, which has tracked nothing yet, starts again without the cgroup's collector.
 */
static void drop_cgroup(struct recorder *r, int e)
{
	strbuf_addf(&r->cg_why, "cannot place the command in '%s': %s", r->cg.dir, strerror(e));
	struct strbuf msg = STRBUF_INIT;
	cgroup_remove(&r->cg, &msg);
	strbuf_release(&msg);
	cgroup_release(&r->cg);
	r->have_cg = false;
	oom_watch_job(&r->oom, NULL, 0);
	struct sampler_options so = r->sampler.opt;
	int last = r->sampler.last_pid;
	unsigned told = r->sampler.ev_flags; /* what the event sources, open already, tell */
	so.cgroup = NULL;
	sampler_release(&r->sampler);
	sampler_init(&r->sampler, &r->fs, &so);
	r->sampler.last_pid = last;
	sampler_events_on(&r->sampler, told);
}

/*
 * What memline's child tells it through a close-on-exec pipe: just before its exec, the
 * high-water mark of its copy of memline (err 0); after an exec that failed, why.
 */
struct spawn_msg {
	long long hwm_kib;
	int err;
};

/*
 * The pages the child may touch between its getrusage and the kernel's taking its memory away
 * in the exec: execvp's search of PATH builds each candidate path on the stack.
 */
#define SPAWN_SLACK_KIB 64

/*
 * In memline's child: reports err, or (err 0) the high-water mark of the image it runs now, as
 * wait4's ru_maxrss will count it: the kernel keeps the larger of that and the command's own.
 */
static void spawn_report(int fd, int err)
{
	struct spawn_msg m = {-1, err};
	struct rusage ru;
	if (!err && getrusage(RUSAGE_SELF, &ru) == 0)
		m.hwm_kib = ru.ru_maxrss;
	ssize_t unused = write(fd, &m, sizeof(m));
	(void)unused;
}

/*
 * What the command's process does before its exec. With go_fd, it first waits for memline to
 * have placed it in the job's cgroup ('g'; anything else: it ends). Never returns.
 */
static void exec_child(struct recorder *r, char *const argv[], int exec_fd, int go_fd,
		       const struct rlimit *nofile, const sigset_t *oldmask)
{
	if (go_fd >= 0) {
		char c = 0;
		ssize_t n;
		do
			n = read(go_fd, &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1 || c != 'g')
			_exit(126);
		close(go_fd);
	}
	/* The command gets memline's environment as memline itself got it. */
	signal(SIGPIPE, SIG_DFL);
	setrlimit(RLIMIT_NOFILE, nofile);
	if (r->capturing)
		capture_child(&r->cap);
	if (r->o->stdin_null) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	if (r->o->heap != HEAP_OFF && r->heap_dir && r->o->heap_lib) {
		const char *old = getenv("LD_PRELOAD");
		struct strbuf pre = STRBUF_INIT;
		strbuf_addstr(&pre, r->o->heap_lib);
		if (old && old[0])
			strbuf_addf(&pre, ":%s", old); /* ours first: the others are its next */
		setenv("LD_PRELOAD", pre.buf, 1);
		setenv(HEAP_ENV_DIR, r->heap_dir, 1);
		if (r->o->heap == HEAP_EXACT)
			setenv("PYTHONMALLOC", "malloc", 1);
		/* a program built with AddressSanitizer refuses to start with a library preloaded
		 * before its runtime, unless told this: then ours wraps its malloc */
		const char *asan = getenv("ASAN_OPTIONS");
		strbuf_reset(&pre);
		if (asan && asan[0])
			strbuf_addf(&pre, "%s:", asan);
		strbuf_addstr(&pre, "verify_asan_link_order=0");
		setenv("ASAN_OPTIONS", pre.buf, 1);
		strbuf_release(&pre);
	}
	if (r->place.file) {
		char memline_pid[24];
		snprintf(memline_pid, sizeof(memline_pid), "%d", (int)getppid());
		setenv(CHANNEL_ENV, r->place.file, 1);
		setenv(CHANNEL_PID_ENV, memline_pid, 1);
	}
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	if (r->trace_go[0] >= 0) {
		close(r->trace_go[1]);
		tracer_child_wait(r->trace_go[0]); /* until memline traces it: then its exec */
	}
	spawn_report(exec_fd, 0);
	execvp(argv[0], argv);
	int e = errno;
	spawn_report(exec_fd, e);
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * A child born in the cgroup cgroup_fd names: clone3 with CLONE_INTO_CGROUP (cgroup v2, Linux
 * 5.7+), otherwise as fork. -1 with errno where the kernel cannot (ENOSYS, EINVAL before 5.7) or
 * will not (EACCES, EBUSY). memline is single-threaded here, as fork's child would assume.
 */
static pid_t clone_into(int cgroup_fd)
{
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.flags = CLONE_INTO_CGROUP;
	a.exit_signal = SIGCHLD;
	a.cgroup = (__u64)cgroup_fd;
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
#else
	(void)cgroup_fd;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Starts the command, in the job's cgroup when there is one, so that nothing it does happens
 * outside it: born there (clone_into), or else moved there by memline (cgroup.procs) while it
 * waits on a pipe, before it has done anything. Returns its pid, or -1 with errno when no
 * process could be made. When the kernel refuses to place it: in a cgroup memline made, the
 * command runs without one (drop_cgroup); in the one --cgroup names, it ends before its exec and
 * *ret is an error, with a message in err.
 */
static pid_t spawn(struct recorder *r, char *const argv[], int exec_fd, const struct rlimit *nofile,
		   const sigset_t *oldmask, int *ret, struct strbuf *err)
{
	*ret = 0;
	pid_t pid;
	if (r->have_cg && r->cg.version == 2) {
		pid = clone_into(r->cg.dir_fd);
		if (pid == 0)
			exec_child(r, argv, exec_fd, -1, nofile, oldmask);
		if (pid > 0)
			return pid;
	}
	int go[2] = {-1, -1};
	if (r->have_cg && pipe2(go, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (go[1] >= 0)
			close(go[1]);
		exec_child(r, argv, exec_fd, go[0], nofile, oldmask);
	}
	if (go[0] >= 0)
		close(go[0]);
	if (pid > 0 && r->have_cg) {
		char c = 'g';
		if (cgroup_place_pid(&r->cg, pid) < 0) {
			int e = errno;
			if (r->cg.own) {
				drop_cgroup(r, e);
			} else {
				c = 'x';
				strbuf_addf(err, "cannot place the command in cgroup '%s': %s",
					    r->cg.dir, strerror(e));
				*ret = RECORDER_ERR_CGROUP;
			}
		}
		ssize_t unused = write(go[1], &c, 1);
		(void)unused;
	}
	if (go[1] >= 0)
		close(go[1]);
	return pid;
}

/*
 * The recording's time starts once the event sources are open (which can take a second, where
 * a kernel does not answer), not before.
 */
static void restart_clock(struct recorder *r)
{
	r->t0 = read_clock(&r->clock0); /* t0 and the wall clock at t0, as one pair */
	r->clock0.t = 0;
	r->sampler.opt.t0 = r->t0;
	r->clock_period = clock_period();
	r->next_clock = r->clock_period;
}

/*
 * --trace: seizes the command, waiting in tracer_child_wait, then lets it exec. Where ptrace
 * is not allowed the command runs untraced, which the caller is told (o->warn) and the
 * header's events_off says.
 */
static void start_tracing(struct recorder *r, pid_t pid, int gofd[2])
{
	close(gofd[0]);
	struct strbuf why = STRBUF_INIT;
	if (pid > 0 && tracer_seize(&r->tracer, pid, &why) == 0) {
		r->tracing = true;
		sampler_events_on(&r->sampler, SAMPLER_EV_FORKS);
	} else if (pid > 0) {
		r->trace_why = strdup(why.buf);
		if (r->o->warn) {
			strbuf_addstr(&why, "; recording without --trace");
			r->o->warn(r->o->warn_data, why.buf);
		}
	}
	strbuf_release(&why);
	ssize_t unused = write(gofd[1], "g", 1);
	(void)unused;
	close(gofd[1]);
}

/*
 * What memline's child said through fd (which this closes) before its exec, its image's
 * high-water mark, and then, if the exec failed, why; end of file once the exec succeeded.
 */
static struct spawn_msg spawn_heard(int fd)
{
	struct spawn_msg msg = {-1, 0}, m;
	ssize_t got;
	for (;;) {
		do
			got = read(fd, &m, sizeof(m));
		while (got < 0 && errno == EINTR);
		if (got != (ssize_t)sizeof(m))
			break;
		msg.err = m.err;
		if (!m.err)
			msg.hwm_kib = m.hwm_kib;
	}
	close(fd);
	return msg;
}

int recorder_run(const struct recorder_options *o, char *const argv[], struct recorder_result *res,
		 struct strbuf *err)
{
	struct recorder r;
	sigset_t oldmask;
	memset(res, 0, sizeof(*res));
	int ret = setup(&r, o, false, &oldmask, err);
	if (ret) {
		release(&r);
		return ret;
	}
	if ((ret = run_cgroup(&r, o, err))) {
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return ret;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	struct rlimit nofile;
	raise_nofile(&nofile);
	procfs_update_fd_budget(&r.fs);
	int pipefd[2], gofd[2] = {-1, -1};
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (o->trace && pipe2(gofd, O_CLOEXEC) < 0)) {
		strbuf_addf(err, "cannot create a pipe: %s", strerror(errno));
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return RECORDER_ERR_SYSTEM;
	}
	if (o->heap != HEAP_OFF && !r.place.dir) {
		strbuf_addstr(err, "--heap: cannot make the recording's private directory for the "
				   "heap counters; set XDG_RUNTIME_DIR to a directory of yours");
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return RECORDER_ERR_SYSTEM;
	}
	r.t0 = boottime();
	/* Before the fork, so that the sampler's "last pid" predates the command's first child. */
	struct sampler_options so = {.self = getpid(),
				     .peak_reset = o->peak_reset,
				     .pss = o->pss,
				     .t0 = r.t0,
				     .cgroup = r.have_cg ? &r.cg : NULL,
				     .pss_budget = o->pss_budget};
	heap_options(&r, &so);
	sampler_init(&r.sampler, &r.fs, &so);
	oom_watch_init(&r.oom, &r.fs);
	if (r.have_cg)
		oom_watch_job(&r.oom, r.cg.path, r.cg.version);
	/* Before the fork, so that the command's first fork is heard of. */
	open_events(&r, o->kernel_events, SIGEVENTS);
	restart_clock(&r);
	tracer_init(&r.tracer, &r.sampler, &r.fs);
	r.trace_go[0] = gofd[0];
	r.trace_go[1] = gofd[1];
	int place_ret;
	pid_t pid = spawn(&r, argv, pipefd[1], &nofile, &oldmask, &place_ret, err);
	close(pipefd[1]);
	if (gofd[0] >= 0) /* not a command that ends unplaced */
		start_tracing(&r, place_ret ? -1 : pid, gofd);
	if (r.capturing)
		capture_parent(&r.cap, SIGRTMIN);
	if (pid < 0 || place_ret) {
		if (pid < 0)
			strbuf_addf(err, "cannot start '%s': %s", argv[0], strerror(errno));
		else
			waitpid(pid, NULL, 0);
		close(pipefd[0]);
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return pid < 0 ? RECORDER_ERR_SYSTEM : place_ret;
	}
	struct spawn_msg msg = spawn_heard(pipefd[0]);
	int exec_errno = msg.err;
	if (exec_errno) {
		if (r.tracing)
			tracer_reap_failed(pid);
		else
			waitpid(pid, NULL, 0);
		if (exec_errno == ENOENT)
			strbuf_addf(err,
				    "cannot run '%s': command not found; check the name and PATH",
				    argv[0]);
		else
			strbuf_addf(err, "cannot run '%s': %s", argv[0], strerror(exec_errno));
		res->memline_exit = exec_errno == ENOENT ? 127 : 126;
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return RECORDER_ERR_NOEXEC;
	}
	signal(SIGPIPE, SIG_IGN);
	r.main_pid = pid;
	pid_t pids[1] = {pid};
	write_header(&r, (char **)argv, pids, 1);
	commit_log(&r, res);
	note_no_cgroup(&r);
	sampler_add(&r.sampler, pid, elapsed(&r));
	if (msg.hwm_kib >= 0)
		sampler_set_maxrss_base(&r.sampler, pid, msg.hwm_kib + SPAWN_SLACK_KIB);
	return record(&r, o, res, &oldmask);
}

/* Whether pid is one of pids or descends from one (its parents, up to pid 1). */
static bool descends(const struct procfs *fs, pid_t pid, const pid_t *pids, size_t n)
{
	for (int depth = 0; pid > 1 && depth < 256; depth++) {
		for (size_t i = 0; i < n; i++)
			if (pids[i] == pid)
				return true;
		struct proc_stat st;
		if (!procfs_pid_stat(fs, pid, &st))
			return false;
		pid = st.ppid;
	}
	return false;
}

struct members {
	const struct procfs *fs;
	const pid_t *pids;
	size_t n;
	bool stranger; /* a process of the cgroup that is none of the job's */
};

static void check_member(pid_t pid, void *data)
{
	struct members *m = data;
	if (!m->stranger && !descends(m->fs, pid, m->pids, m->n))
		m->stranger = true;
}

/*
 * attach without --cgroup: the attached processes' memory cgroup is the job's when they are
 * all in it and it holds nothing but them and their descendants (a service's, a Slurm step's,
 * a container's): its charge is then the job's memory, every page once. Never memline's own
 * cgroup, nor one memline is in.
 */
static void attach_cgroup(struct recorder *r, const pid_t *pids, size_t n)
{
	struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT, other = STRBUF_INIT;
	bool v2 = false, v2b = false, same = n > 0;
	char rel[32];
	for (size_t i = 0; i < n && same; i++) {
		snprintf(rel, sizeof(rel), "%d/cgroup", (int)pids[i]);
		struct strbuf *into = i ? &other : &path;
		same = procfs_read_file(&r->fs, rel, &sb) &&
		       procfs_parse_cgroup(sb.buf, sb.len, into, i ? &v2b : &v2) &&
		       (!i || (v2b == v2 && !strcmp(other.buf, path.buf)));
	}
	if (same && !strcmp(path.buf, "/"))
		same = false; /* the root cgroup is the whole machine's */
	if (same && procfs_read_file(&r->fs, "self/cgroup", &sb) &&
	    procfs_parse_cgroup(sb.buf, sb.len, &other, &v2b) && v2b == v2 &&
	    !strcmp(other.buf, path.buf))
		same = false; /* memline is in it: its own memory would count */
	struct strbuf err = STRBUF_INIT;
	bool missing;
	if (same && cgroup_open(&r->cg, &r->fs, path.buf, &missing, &err) == 0) {
		struct members m = {.fs = &r->fs, .pids = pids, .n = n};
		if (cgroup_for_each_pid(&r->cg, check_member, &m) > 0 && !m.stranger)
			r->have_cg = true;
		else
			cgroup_release(&r->cg);
	}
	strbuf_release(&err);
	strbuf_release(&sb);
	strbuf_release(&path);
	strbuf_release(&other);
}

struct pid_list {
	pid_t *pids;
	size_t n, alloc;
	bool oom;
};

static void list_pid(pid_t pid, void *data)
{
	struct pid_list *l = data;
	if (pid == getpid())
		return;
	if (l->n == l->alloc) {
		size_t a = l->alloc ? l->alloc * 2 : 16;
		pid_t *p = realloc(l->pids, a * sizeof(*p));
		if (!p) {
			l->oom = true;
			return;
		}
		l->pids = p;
		l->alloc = a;
	}
	l->pids[l->n++] = pid;
}

/*
 * attach --slurm-job: the job's processes on this node, into found: those of its memory cgroup
 * (recorded as --cgroup's: the job's memory, every page once), else of its cgroup of another
 * controller, else those whose environment names the job (its memory then measured from them).
 * None is an error only where memline is not itself in the job.
 */
static int slurm_start(struct recorder *r, struct pid_list *found, struct strbuf *err)
{
	const struct recorder_options *o = r->o;
	snprintf(r->job_id, sizeof(r->job_id), "%lu", o->slurm_job);
	snprintf(r->job_node, sizeof(r->job_node), "%s", o->slurm_node ? o->slurm_node : "");
	const char *node = r->job_node[0] ? r->job_node : NULL;
	struct strbuf dir = STRBUF_INIT, why = STRBUF_INIT;
	struct slurm_scan scan = {0};
	int ret = 0;
	enum slurm_found got = SLURM_NONE;
	if (!o->no_cgroup)
		got = slurm_job_cgroup(&r->fs, o->slurm_job, node, true, &dir, &why);
	if (got == SLURM_FOUND) {
		bool missing;
		if (cgroup_open(&r->cg, &r->fs, dir.buf, &missing, err) < 0) {
			ret = RECORDER_ERR_CGROUP;
			goto out;
		}
		r->have_cg = true;
		r->rescan = RESCAN_CGROUP;
		cgroup_for_each_pid(&r->cg, list_pid, found);
	} else if (got == SLURM_NONE) {
		strbuf_reset(&why);
		got = slurm_job_cgroup(&r->fs, o->slurm_job, node, false, &dir, &why);
	}
	if (got == SLURM_AMBIGUOUS) {
		strbuf_addstr(err, why.buf);
		ret = RECORDER_ERR_AMBIGUOUS;
		goto out;
	}
	if (r->rescan == RESCAN_CGROUP) {
		/* recorded as --cgroup's */
	} else if (got == SLURM_FOUND) {
		r->job_dir = strbuf_detach(&dir, NULL);
		r->rescan = RESCAN_DIR;
		cgroup_dir_for_each_pid(&r->fs, r->job_dir, list_pid, found);
		if (!o->no_cgroup)
			strbuf_addf(&r->cg_why,
				    "Slurm made job %s a cgroup without the memory controller on "
				    "this node, as task/cgroup does without ConstrainRAMSpace: %s",
				    r->job_id, r->job_dir);
	} else {
		r->rescan = RESCAN_ENVIRON;
		if (slurm_job_environ_pids(&r->fs, o->slurm_job, node, list_pid, found, &scan) <
		    0) {
			strbuf_addf(err, "cannot list the processes in %s: %s", o->proc_root,
				    strerror(errno));
			ret = RECORDER_ERR_SYSTEM;
			goto out;
		}
		if (scan.many_nodes) {
			strbuf_addf(err,
				    "this host runs processes of job %s for several nodes (their "
				    "SLURMD_NODENAME differ): set SLURMD_NODENAME to the node to "
				    "record",
				    r->job_id);
			ret = RECORDER_ERR_AMBIGUOUS;
			goto out;
		}
		if (!node)
			snprintf(r->job_node, sizeof(r->job_node), "%s", scan.node);
		if (!o->no_cgroup)
			strbuf_addf(&r->cg_why,
				    "Slurm made job %s no cgroup on this node, as under "
				    "proctrack/linuxproc or pgid; its processes are those whose "
				    "environment has SLURM_JOB_ID=%s",
				    r->job_id, r->job_id);
	}
	if (found->oom) {
		strbuf_addstr(err, "out of memory");
		ret = RECORDER_ERR_SYSTEM;
	} else if (!found->n && !o->slurm_inside && r->rescan == RESCAN_ENVIRON) {
		strbuf_addf(err,
			    "no process of Slurm job %s on this node%s%s%s: %s, and none has "
			    "SLURM_JOB_ID=%s in its environment",
			    r->job_id, node ? " (" : "", node ? node : "", node ? ")" : "", why.buf,
			    r->job_id);
		if (scan.denied)
			strbuf_addf(err, " (the environment of %ld process%s could not be read)",
				    scan.denied, scan.denied == 1 ? "" : "es");
		strbuf_addf(
			err,
			"; run it on a node of the job as root or as the job's user (in the "
			"job: srun --overlap --ntasks-per-node=1 memline attach --slurm-job %s)",
			r->job_id);
		ret = RECORDER_ERR_NOPROC;
	} else if (!found->n && !o->slurm_inside) {
		strbuf_addf(err,
			    "Slurm job %s has no process on this node: its cgroup '%s' is empty",
			    r->job_id, r->have_cg ? r->cg.dir : r->job_dir);
		ret = RECORDER_ERR_NOPROC;
	}
out:
	strbuf_release(&dir);
	strbuf_release(&why);
	return ret;
}

int recorder_attach(const struct recorder_options *o, const pid_t *pids, size_t n,
		    struct recorder_result *res, struct strbuf *err)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], 0) < 0 && errno == ESRCH) {
			strbuf_addf(err, "no process with pid %d; check it with 'ps -p %d'",
				    (int)pids[i], (int)pids[i]);
			return RECORDER_ERR_NOPROC;
		}
	struct recorder r;
	sigset_t oldmask;
	struct pid_list found = {0};
	int ret = setup(&r, o, true, &oldmask, err);
	if (ret) {
		release(&r);
		return ret;
	}
	if (o->cgroup) {
		ret = existing_cgroup(&r, o, err);
		/* its processes, those in it and in the cgroups below it, are the ones recorded */
		if (!ret && (cgroup_for_each_pid(&r.cg, list_pid, &found) < 0 || found.oom)) {
			strbuf_addf(err, "cannot read the processes of cgroup '%s': %s", r.cg.dir,
				    found.oom ? strerror(ENOMEM) : strerror(errno));
			ret = RECORDER_ERR_CGROUP;
		}
		if (!ret && !found.n && !n) {
			strbuf_addf(err, "cgroup '%s' has no process to record", r.cg.dir);
			ret = RECORDER_ERR_NOPROC;
		}
		r.rescan = RESCAN_CGROUP;
	} else if (o->slurm_job) {
		ret = slurm_start(&r, &found, err);
	} else if (!o->no_cgroup) {
		attach_cgroup(&r, pids, n);
	}
	if (ret) {
		free(found.pids);
		log_writer_discard(&r.log);
		release(&r);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return ret;
	}
	if (!n) {
		pids = found.pids;
		n = found.n;
	}
	struct rlimit nofile;
	raise_nofile(&nofile);
	procfs_update_fd_budget(&r.fs);
	for (size_t i = 0; i < n; i++)
		pidfd_watch_add(&r.exits, pids[i]);
	r.t0 = boottime();
	/* a node of a Slurm job has no first process whose end would be the job's */
	r.main_pid = n && !o->slurm_job ? pids[0] : 0;
	r.cg_rescan_t = 0;
	/* memline may be a descendant itself (memline.track() starts it from the process). */
	struct sampler_options so = {.self = 0,
				     .peak_reset = o->peak_reset,
				     .pss = o->pss,
				     .t0 = r.t0,
				     .exclude = getpid(),
				     .cgroup = r.have_cg ? &r.cg : NULL,
				     .pss_budget = o->pss_budget};
	heap_options(&r, &so);
	sampler_init(&r.sampler, &r.fs, &so);
	oom_watch_init(&r.oom, &r.fs);
	if (r.have_cg)
		oom_watch_job(&r.oom, r.cg.path, r.cg.version);
	open_events(&r, o->kernel_events, SIGEVENTS);
	restart_clock(&r);
	write_header_of(&r, pids, n);
	commit_log(&r, res);
	note_no_cgroup(&r);
	/* a cgroup's processes are its own, not their descendants elsewhere; those found by
	 * their environment have descendants that may have dropped it */
	for (size_t i = 0; i < n; i++)
		if (found.pids && r.rescan != RESCAN_ENVIRON)
			sampler_add(&r.sampler, pids[i], 0);
		else
			sampler_add_tree(&r.sampler, pids[i], 0);
	ret = record(&r, o, res, &oldmask);
	free(found.pids);
	return ret;
}

/* ---- self-recording: libmemline's memline_start() and memline_stop() ---- */

struct recorder_self {
	struct recorder r;
	struct recorder_options o;
	char *log_path;
	pthread_t thread;
	int stop_pipe[2];
	struct recorder_result res;
};

static void *self_thread(void *arg)
{
	struct recorder_self *s = arg;
	/* The host's signals are for the host's threads. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	loop(&s->r);
	finish(&s->r, &s->res);
	return NULL;
}

static void self_free(struct recorder_self *s)
{
	release(&s->r);
	for (int i = 0; i < 2; i++)
		if (s->stop_pipe[i] >= 0)
			close(s->stop_pipe[i]);
	free(s->log_path);
	free(s);
}

struct recorder_self *recorder_self_start(const struct recorder_options *o, struct strbuf *err)
{
	struct recorder_self *s = calloc(1, sizeof(*s));
	if (!s || !(s->log_path = strdup(o->log_path))) {
		free(s);
		strbuf_addstr(err, "out of memory");
		return NULL;
	}
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->o = *o;
	s->o.log_path = s->log_path;
	s->o.events_path = NULL;
	s->o.capture_output = false;
	s->o.n_event_regex = 0;
	s->o.wait = false;
	struct recorder *r = &s->r;
	r->o = &s->o;
	r->attach = true;
	r->self = true;
	r->inotify_fd = -1;
	r->stop_fd = -1;
	r->mark_sample = INFINITY;
	r->job_peak = -1;
	strbuf_init(&r->warn);
	cgroup_init(&r->cg);
	strbuf_init(&r->cg_why);
	if (procfs_init(&r->fs, s->o.proc_root, err) < 0 || pipe2(s->stop_pipe, O_CLOEXEC) < 0 ||
	    open_channel(r, NULL, err) < 0 ||
	    log_writer_open(&r->log, s->o.log_path, s->o.log_exclusive, err) < 0) {
		if (!err->len)
			strbuf_addf(err, "cannot start recording: %s", strerror(errno));
		self_free(s);
		return NULL;
	}
	r->stop_fd = s->stop_pipe[0];
	r->t0 = boottime();
	r->log.t0 = r->t0;
	pid_t self = getpid();
	r->main_pid = self;
	struct sampler_options so = {.self = 0,
				     .peak_reset = s->o.peak_reset,
				     .pss = s->o.pss,
				     .t0 = r->t0,
				     .pss_budget = s->o.pss_budget};
	heap_options(r, &so);
	sampler_init(&r->sampler, &r->fs, &so);
	oom_watch_init(&r->oom, &r->fs);
	/* polled by the thread's ppoll: no signal of the host's is taken */
	open_events(r, s->o.kernel_events, 0);
	restart_clock(r);
	r->log.t0 = r->t0;
	write_header_of(r, &self, 1);
	/* Nothing of the host's has been recorded yet: a log not in place is no log. */
	if (log_writer_commit(&r->log, boottime(), err) < 0) {
		log_writer_discard(&r->log);
		self_free(s);
		return NULL;
	}
	sampler_add_tree(&r->sampler, self, 0);
	/* Before returning: the recording has a baseline from before the caller goes on. */
	first_sample(r);
	int e = pthread_create(&s->thread, NULL, self_thread, s);
	if (e) {
		/* The log is in place: it ends here, saying why. */
		strbuf_addf(err, "cannot start the recording thread: %s", strerror(e));
		r->final_known = true;
		r->final_status = RUN_FAILED;
		r->final_error = strdup(err->buf);
		finish(r, &s->res);
		recorder_result_release(&s->res);
		self_free(s);
		return NULL;
	}
	return s;
}

const char *recorder_self_channel(const struct recorder_self *s)
{
	return s->r.place.file;
}

const char *recorder_self_heap_dir(const struct recorder_self *s)
{
	return s->r.heap_dir;
}

int recorder_self_stop(struct recorder_self *s, const char *error, struct strbuf *err)
{
	/* Read by the thread after it sees the stop byte, written before it. */
	s->r.final_known = true;
	s->r.final_status = error ? RUN_FAILED : RUN_COMPLETED;
	s->r.final_error = error ? strdup(error) : NULL;
	ssize_t w;
	do
		w = write(s->stop_pipe[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(s->thread, NULL);
	int ret = 0;
	if (s->res.warning.len) {
		strbuf_addstr(err, s->res.warning.buf);
		ret = -1;
	}
	recorder_result_release(&s->res);
	self_free(s);
	return ret;
}
