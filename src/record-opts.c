/* record-opts: option parsing and the closing summary shared by `run` and `attach`. */
#include "record-opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log/place.h"
#include "log/writer.h"
#include "render/report.h"
#include "record/events.h"
#include "record/slurm.h"
#include "stacks/stacks.h"
#include "util/text.h"

enum {
	OPT_WAIT = 256,
	OPT_MIN_INTERVAL,
	OPT_PSS,
	OPT_PSS_BUDGET,
	OPT_NO_PEAK_RESET,
	OPT_EVENTS,
	OPT_CAPTURE,
	OPT_EVENT_REGEX,
	OPT_LIVE,
	OPT_SERVE,
	OPT_SERVE_TOKEN_FILE,
	OPT_CGROUP,
	OPT_NO_CGROUP,
	OPT_TRACE,
	OPT_KERNEL_EVENTS,
	OPT_STACKS,
	OPT_STACKS_THRESHOLD,
	OPT_STACKS_GAP,
	OPT_STACKS_BUDGET,
	OPT_HEAP,
	OPT_SLURM_JOB,
};

/* Which commands take an option. */
#define RUN    1u
#define ATTACH 2u

/*
 * The options of run and attach, in the order --help lists them: getopt's name and code, the
 * short letter, the value's name, the commands that take it, and its help (continuation lines
 * after a newline). One table for both commands, so that their help never drifts apart.
 */
static const struct record_option {
	const char *name;
	int code;
	const char *value; /* NULL: takes none */
	unsigned cmds;
	const char *help;
} options[] = {
	{"output", 'o', "LOG", RUN | ATTACH,
	 "write the log to LOG (default memline-CMD-DATE-TIME.jsonl);\n"
	 "under a launcher, %r is the rank, %h the host, %j the\n"
	 "job's id, %n the node's index, %p memline's pid, %%\n"
	 "a percent sign: -o 'solver.%r.jsonl'"},
	{"interval", 'i', "SECONDS", RUN | ATTACH,
	 "sample at a fixed interval (default: adaptive, 10 ms at\n"
	 "the start, backing off to --max-interval); at most a day"},
	{"max-interval", 'I', "SECS", RUN | ATTACH, "longest adaptive interval (default 5)"},
	{"min-interval", OPT_MIN_INTERVAL, "SECS", RUN | ATTACH,
	 "shortest adaptive interval (default 0.01)"},
	{"wait", OPT_WAIT, NULL, RUN,
	 "after COMMAND exits, go on recording until every\n"
	 "descendant has exited too"},
	{"pss", OPT_PSS, NULL, RUN | ATTACH,
	 "also record every process's PSS (smaps_rollup, read with\n"
	 "the rest about once a second; slow on large processes)"},
	{"pss-budget", OPT_PSS_BUDGET, "PCT", RUN | ATTACH,
	 "without a cgroup, the job's memory is its processes' PSS\n"
	 "summed (a shared page counted once), read within PCT % of\n"
	 "one CPU (default 2); 0: the RSS sum instead"},
	{"cgroup", OPT_CGROUP, "PATH", RUN | ATTACH,
	 "the job is the existing memory cgroup PATH (its directory,\n"
	 "or its path as /proc/PID/cgroup shows it), never removed:\n"
	 "run starts COMMAND in it, attach records its processes"},
	{"slurm-job", OPT_SLURM_JOB, "ID", ATTACH,
	 "every process of Slurm job ID on this node: those of its\n"
	 "cgroup (the job's memory: its memory cgroup's charge), or\n"
	 "whose environment has SLURM_JOB_ID=ID; new steps' too.\n"
	 "In the job: srun --overlap --ntasks-per-node=1 memline\n"
	 "attach --slurm-job $SLURM_JOB_ID -o 'job.%h.jsonl' &"},
	{"no-cgroup", OPT_NO_CGROUP, NULL, RUN | ATTACH,
	 "no memory cgroup for the job (run makes one, attach takes\n"
	 "the processes' own): its memory is then its processes'"},
	{"no-peak-reset", OPT_NO_PEAK_RESET, NULL, RUN | ATTACH,
	 "do not reset the kernel's high-water mark (VmHWM); keeps\n"
	 "the processes' own getrusage() ru_maxrss a lifetime peak"},
	{"trace", OPT_TRACE, NULL, RUN,
	 "follow every process and thread with ptrace, so that none\n"
	 "is missed and each has its peak, without root; slows\n"
	 "forks and exits, and the job cannot run under gdb or strace"},
	{"kernel-events", OPT_KERNEL_EVENTS, "LIST", RUN | ATTACH,
	 "the kernel's process events to take where memline may\n"
	 "(root): taskstats, proc-connector, all (the default) or\n"
	 "none (look at /proc at each sample only), comma-separated"},
	{"stacks", OPT_STACKS, "[=WHEN]", RUN | ATTACH,
	 "capture the stacks of a process's threads (native, and\n"
	 "Python's frames) at WHEN, a comma list: peaks (a new peak\n"
	 "of the job: the process that grew most; the default),\n"
	 "events (each event and span from the program), every=S\n"
	 "(every process, each S seconds), signal (SIGUSR1 to\n"
	 "memline: every process, now), heap (a thread's new heap\n"
	 "peak; on with --heap); see memline(1)"},
	{"stacks-threshold", OPT_STACKS_THRESHOLD, "PCT", RUN | ATTACH,
	 "peaks: a new peak is PCT % above the last one captured\n"
	 "(default 5)"},
	{"stacks-gap", OPT_STACKS_GAP, "SECS", RUN | ATTACH,
	 "peaks: at most one capture each SECS seconds (default 1)"},
	{"stacks-budget", OPT_STACKS_BUDGET, "PCT", RUN | ATTACH,
	 "captures take at most PCT % of one CPU (default 2); one\n"
	 "that would take more is skipped and counted"},
	{"heap", OPT_HEAP, "[=exact]", RUN | ATTACH,
	 "count the live heap of every thread (malloc and friends,\n"
	 "anonymous mmap), preloading libmemline-heap.so into the\n"
	 "job; exact: Python's small objects through malloc too\n"
	 "(PYTHONMALLOC=malloc, slower); attach: of processes that\n"
	 "have it already, with --events; see memline(1)"},
	{"events", OPT_EVENTS, "FILE", ATTACH,
	 "read FILE as the event channel (docs/events.md): events\n"
	 "and spans the processes append to it are recorded, and an\n"
	 "S line ends the recording with its status"},
	{"capture-output", OPT_CAPTURE, NULL, RUN,
	 "record every line COMMAND writes to stdout and stderr\n"
	 "(passed on unchanged, through a pseudo-terminal when\n"
	 "memline's own output is a terminal)"},
	{"event-regex", OPT_EVENT_REGEX, "REGEX", RUN,
	 "an output line matching REGEX (POSIX extended) is also an\n"
	 "event; repeatable; implies --capture-output"},
	{"live", OPT_LIVE, NULL, RUN | ATTACH,
	 "watch it on a full-screen terminal dashboard (q leaves\n"
	 "the dashboard, not the recording); under run the command's\n"
	 "output goes to the log and its input is /dev/null"},
	{"serve", OPT_SERVE, "[ADDR:]PORT", RUN | ATTACH,
	 "serve live views over HTTP, on 127.0.0.1 unless ADDR\n"
	 "is given: / (page), /metrics (Prometheus), /events,\n"
	 "/log; PORT 0 picks a free port; every request needs\n"
	 "the token in the URL memline prints; or unix:PATH, a\n"
	 "socket of mode 0600 that needs no token"},
	{"serve-token-file", OPT_SERVE_TOKEN_FILE, "FILE", RUN | ATTACH,
	 "the token: read from FILE, or written there (mode\n"
	 "0600) when there is none, for Prometheus to read"},
	{"quiet", 'q', NULL, RUN | ATTACH, "no summary line on stderr"},
	{"help", 'h', NULL, RUN | ATTACH, "this help"},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Whether an option's value may be left out: its name in the table is "[=VALUE]". */
static bool optional_value(const struct record_option *o)
{
	return o->value && !strncmp(o->value, "[=", 2);
}

/* What stands between an option's name and its value's in the help: "--stacks[=WHEN]". */
static const char *space(const struct record_option *o)
{
	return o->value && !optional_value(o) ? " " : "";
}

/* getopt's table, made from options[] once. */
static const struct option *long_options(void)
{
	static struct option table[N_OPTIONS + 1]; /* the last stays all zero: the end */
	if (!table[0].name)
		for (size_t i = 0; i < N_OPTIONS; i++)
			table[i] =
				(struct option){options[i].name,
						!options[i].value	      ? no_argument
						: optional_value(&options[i]) ? optional_argument
									      : required_argument,
						NULL, options[i].code};
	return table;
}

/* The help's column where an option's text starts. */
#define HELP_COL 27

void record_opts_usage(const char *cmd, const char *head)
{
	unsigned mine = strcmp(cmd, "run") ? ATTACH : RUN;
	fputs(head, stdout);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct record_option *o = &options[i];
		if (!(o->cmds & mine))
			continue;
		char left[64];
		int n = o->code < 256 ? snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->code,
						 o->name, space(o), o->value ? o->value : "")
				      : snprintf(left, sizeof(left), "      --%s%s%s", o->name,
						 space(o), o->value ? o->value : "");
		/* a long name runs into the text's column: two spaces after it instead */
		printf("%s%*s", left, n < HELP_COL ? HELP_COL - n : 2, "");
		for (const char *h = o->help; *h;) {
			size_t len = strcspn(h, "\n");
			printf("%.*s\n", (int)len, h);
			h += len;
			if (*h == '\n' && *++h)
				printf("%*s", HELP_COL, "");
		}
	}
}

void record_opts_init(struct record_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	recorder_options_init(&ro->rec);
	views_init(&ro->views);
	ro->views.follow = true;
	strbuf_init(&ro->notes);
}

/* --kernel-events: a comma-separated list of sources, all or none. */
static unsigned parse_kernel_events(const char *arg)
{
	static const struct {
		const char *name;
		unsigned bits;
	} names[] = {
		{"taskstats", EVENTS_TASKSTATS},
		{"proc-connector", EVENTS_CONNECTOR},
		{"all", EVENTS_ALL},
		{"none", 0},
	};
	unsigned bits = 0;
	for (const char *p = arg;;) {
		size_t len = strcspn(p, ",");
		size_t i = 0;
		while (i < sizeof(names) / sizeof(names[0]) &&
		       (strlen(names[i].name) != len || strncmp(p, names[i].name, len)))
			i++;
		if (i == sizeof(names) / sizeof(names[0]))
			die(EXIT_USAGE,
			    "--kernel-events takes taskstats, proc-connector, all or none, not "
			    "'%.*s'",
			    (int)len, p);
		bits |= names[i].bits;
		if (!p[len])
			return bits;
		p += len + 1;
	}
}

/* A percentage from 0 to 100 for option name, as a fraction. */
static double parse_pct(const char *name, const char *arg)
{
	char *end;
	errno = 0;
	double pct = strtod(arg, &end);
	if (errno || end == arg || *end || !(pct >= 0 && pct <= 100))
		die(EXIT_USAGE, "%s takes a percentage from 0 to 100, not '%s'", name, arg);
	return pct / 100;
}

/* --stacks=WHEN: a comma list of peaks, events, every=S, signal, heap. */
static void parse_stacks(struct stacks_options *o, const char *arg)
{
	o->when = 0;
	if (!arg) {
		o->when = 1u << STACK_PEAK;
		return;
	}
	for (const char *p = arg;;) {
		size_t len = strcspn(p, ",");
		if (len == 5 && !strncmp(p, "peaks", 5)) {
			o->when |= 1u << STACK_PEAK;
		} else if (len == 6 && !strncmp(p, "events", 6)) {
			o->when |= 1u << STACK_EVENT;
		} else if (len == 6 && !strncmp(p, "signal", 6)) {
			o->when |= 1u << STACK_SIGNAL;
		} else if (len == 4 && !strncmp(p, "heap", 4)) {
			o->when |= 1u << STACK_HEAP;
		} else if (len > 6 && !strncmp(p, "every=", 6)) {
			char secs[64];
			snprintf(secs, sizeof(secs), "%.*s", (int)(len - 6), p + 6);
			o->every = parse_seconds("--stacks=every", secs, CLI_MAX_INTERVAL);
			o->when |= 1u << STACK_EVERY;
		} else {
			die(EXIT_USAGE,
			    "--stacks takes a comma list of peaks, events, every=SECONDS, "
			    "signal and heap, not '%.*s'",
			    (int)len, p);
		}
		if (!p[len])
			return;
		p += len + 1;
	}
}

/* The options of how and what to sample (intervals, PSS, stacks, heap): see take(). */
static bool take_sampling(struct record_opts *ro, int c, const char *arg)
{
	switch (c) {
	case 'i':
		ro->rec.interval = parse_seconds("-i", arg, CLI_MAX_INTERVAL);
		return true;
	case 'I':
		ro->rec.max_interval = parse_seconds("--max-interval", arg, CLI_MAX_INTERVAL);
		ro->max_interval_set = true;
		return true;
	case OPT_MIN_INTERVAL:
		ro->rec.min_interval = parse_seconds("--min-interval", arg, CLI_MAX_INTERVAL);
		return true;
	case OPT_PSS:
		ro->rec.pss = true;
		return true;
	case OPT_PSS_BUDGET:
		ro->rec.pss_budget = parse_pct("--pss-budget", arg);
		return true;
	case OPT_STACKS:
		parse_stacks(&ro->rec.stacks, arg);
		ro->rec.stacks_watcher = &stacks_watcher;
		return true;
	case OPT_STACKS_THRESHOLD:
		ro->rec.stacks.threshold = parse_pct("--stacks-threshold", arg);
		return true;
	case OPT_STACKS_GAP:
		ro->rec.stacks.gap = parse_seconds("--stacks-gap", arg, CLI_MAX_INTERVAL);
		return true;
	case OPT_STACKS_BUDGET:
		ro->rec.stacks.budget = parse_pct("--stacks-budget", arg);
		return true;
	case OPT_HEAP:
		if (arg && strcmp(arg, "exact"))
			die(EXIT_USAGE, "--heap takes no value or =exact, not '%s'", arg);
		ro->rec.heap = arg ? HEAP_EXACT : HEAP_MALLOC;
		return true;
	case OPT_NO_PEAK_RESET:
		ro->rec.peak_reset = false;
		return true;
	}
	return false;
}

/* Takes one option; false if c is not one. Allocates nothing: the strings stay argv's. */
static bool take(struct record_opts *ro, const char *cmd, int c, const char *arg)
{
	if (take_sampling(ro, c, arg))
		return true;
	switch (c) {
	case 'o':
		if (!*arg)
			die(EXIT_USAGE, "-o takes a log path, not an empty string");
		ro->log_path = arg;
		return true;
	case OPT_CGROUP:
		if (arg[0] != '/')
			die(EXIT_USAGE,
			    "--cgroup takes an absolute path: the cgroup's directory "
			    "(/sys/fs/cgroup/...) or its path in the hierarchy, not '%s'",
			    arg);
		ro->rec.cgroup = arg;
		return true;
	case OPT_NO_CGROUP:
		ro->rec.no_cgroup = true;
		return true;
	case OPT_SLURM_JOB:
		if (strcmp(cmd, "attach"))
			die(EXIT_USAGE, "--slurm-job is for 'memline attach': it records a running "
					"job");
		if (!slurm_job_id_parse(arg, &ro->rec.slurm_job))
			die(EXIT_USAGE,
			    "--slurm-job takes a job's number, its SLURM_JOB_ID (an array task's "
			    "own, such as 1234), not '%s'",
			    arg);
		return true;
	case OPT_TRACE:
		if (strcmp(cmd, "run"))
			die(EXIT_USAGE, "--trace is for 'memline run': memline traces only what it "
					"starts");
		ro->rec.trace = true;
		return true;
	case OPT_KERNEL_EVENTS:
		ro->rec.kernel_events = parse_kernel_events(arg);
		return true;
	case OPT_WAIT:
		if (strcmp(cmd, "run"))
			die(EXIT_USAGE,
			    "--wait is for 'memline run'; %s always waits for every "
			    "process",
			    cmd);
		ro->rec.wait = true;
		return true;
	case OPT_EVENTS:
		if (!strcmp(cmd, "run"))
			die(EXIT_USAGE, "--events is for 'memline attach'; run makes the command's "
					"channel itself ($MEMLINE_EVENTS)");
		ro->rec.events_path = arg;
		return true;
	case OPT_CAPTURE:
	case OPT_EVENT_REGEX:
		if (strcmp(cmd, "run"))
			die(EXIT_USAGE,
			    "%s is for 'memline run': only then is the output memline's "
			    "to pass on",
			    c == OPT_CAPTURE ? "--capture-output" : "--event-regex");
		/* Counted now, collected by record_opts_prepare. */
		ro->n_regex += c == OPT_EVENT_REGEX;
		/* Turning lines into events needs the lines. */
		ro->rec.capture_output = true;
		return true;
	case 'q':
		ro->quiet = true;
		return true;
	case OPT_LIVE:
		ro->views.dashboard = true;
		return true;
	case OPT_SERVE:
		ro->views.serve = arg;
		return true;
	case OPT_SERVE_TOKEN_FILE:
		ro->views.token_file = arg;
		return true;
	}
	return false;
}

/* run stops at the command's name, so that its options stay its own. */
static const char *short_options(const char *cmd)
{
	return strcmp(cmd, "run") ? ":o:i:I:qh" : "+:o:i:I:qh";
}

/*
 * --heap: libmemline-heap.so, as $MEMLINE_HEAP_LIB names it, or beside memline (the build
 * tree), or in ../lib/memline/ from it (an install). Dies when there is none to preload.
 */
static void find_heap_library(struct record_opts *ro)
{
	const char *env = getenv("MEMLINE_HEAP_LIB");
	char *lib = ro->heap_lib;
	size_t size = sizeof(ro->heap_lib);
	if (env && env[0]) {
		if (env[0] != '/' || !realpath(env, lib))
			die(EXIT_USAGE,
			    "MEMLINE_HEAP_LIB must name the heap library by an absolute path "
			    "that exists, not '%s'",
			    env);
	} else {
		char self[sizeof(ro->heap_lib) - 64];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			die(EXIT_OSERR, "--heap: cannot find memline's own path: %s",
			    strerror(errno));
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		*slash = '\0';
		snprintf(lib, size, "%s/libmemline-heap.so", self);
		if (access(lib, R_OK))
			snprintf(lib, size, "%s/../lib/memline/libmemline-heap.so", self);
		if (access(lib, R_OK))
			die(EXIT_UNAVAILABLE,
			    "--heap: libmemline-heap.so is neither beside memline (%s) nor in "
			    "%s/../lib/memline; build it with 'make', or name it in "
			    "MEMLINE_HEAP_LIB",
			    self, self);
		char real[sizeof(ro->heap_lib)];
		if (realpath(lib, real))
			memcpy(lib, real, sizeof(real));
	}
	/* the loader splits LD_PRELOAD at spaces and colons */
	if (strpbrk(lib, " :\t\n"))
		die(EXIT_USAGE,
		    "--heap: the heap library's path '%s' has a space or a colon, which "
		    "LD_PRELOAD cannot hold; install it elsewhere",
		    lib);
	ro->rec.heap_lib = lib;
}

int record_opts_parse(struct record_opts *ro, const char *cmd, const char *head, int argc,
		      char **argv)
{
	const char *shortopts = short_options(cmd);
	int c;
	ro->cmd = cmd;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, long_options(), NULL)) != -1) {
		if (c == 'h') {
			record_opts_usage(cmd, head);
			exit(0);
		}
		if (take(ro, cmd, c, optarg))
			continue;
		if (c == ':')
			die(EXIT_USAGE, "%s needs a value; see 'memline %s --help'",
			    argv[optind - 1], cmd);
		if (optopt && optopt < 256)
			die(EXIT_USAGE, "unknown option '-%c'; see 'memline %s --help'", optopt,
			    cmd);
		die(EXIT_USAGE, "unknown option '%s'; see 'memline %s --help'", argv[optind - 1],
		    cmd);
	}
	if (ro->rec.min_interval > ro->rec.max_interval)
		die(EXIT_USAGE, "--min-interval is longer than --max-interval; make it shorter");
	if (ro->rec.cgroup && ro->rec.no_cgroup)
		die(EXIT_USAGE, "--cgroup and --no-cgroup contradict each other; give one");
	/* attach --cgroup records a cgroup's processes, one recording for them all: a job's on
	 * its node, not one rank */
	if (ro->rec.cgroup && !strcmp(cmd, "attach"))
		ro->rec.node_wide = true;
	if (ro->rec.heap != HEAP_OFF && !strcmp(cmd, "attach") && !ro->rec.events_path)
		die(EXIT_USAGE, "attach --heap needs --events FILE: the processes' heap counters "
				"are in that file's directory (or use 'memline run --heap')");
	if (ro->rec.heap != HEAP_OFF)
		find_heap_library(ro);
	/* --heap --stacks: a thread's new heap peak is a moment to capture too */
	if (ro->rec.heap != HEAP_OFF && ro->rec.stacks.when)
		ro->rec.stacks.when |= 1u << STACK_HEAP;
	if ((ro->rec.stacks.when & (1u << STACK_HEAP)) && ro->rec.heap == HEAP_OFF)
		die(EXIT_USAGE, "--stacks=heap needs --heap: a thread's heap is counted only then");
	return optind;
}

static void on_warning(void *data, const char *msg)
{
	struct record_opts *ro = data;
	/* The dashboard owns the terminal: said once it is left. */
	if (ro->views.tui_on)
		strbuf_addf(&ro->notes, "%s%s", ro->notes.len ? "\n" : "", msg);
	else
		warning("%s", msg);
}

/*
 * -o's patterns, expanded before anything is done with the path (a usage error touches
 * nothing). Under a launcher that says the job has several ranks, a path that does not tell
 * them apart (no %r or %p; for a recording of a whole node, no %h or %n either) would have
 * them all write one log: a warning says so.
 */
static void expand_log_path(struct record_opts *ro)
{
	struct place_info place;
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	if (place_from_vars(&place, place_getenv, NULL) < 0)
		die(EXIT_SOFTWARE, "out of memory");
	struct utsname u;
	const char *host = place_host(place_getenv, NULL, uname(&u) == 0 ? u.nodename : NULL);
	unsigned used;
	if (place_expand(ro->log_path, &place, host, getpid(), &out, &used, &err) < 0) {
		struct strbuf msg = STRBUF_INIT;
		strbuf_addf(&msg, "-o '%s': %s", ro->log_path, err.buf);
		strbuf_release(&out);
		strbuf_release(&err);
		place_release(&place);
		die_sb(EXIT_USAGE, &msg);
	}
	strbuf_release(&err);
	if (out.oom) {
		strbuf_release(&out);
		place_release(&place);
		die(EXIT_SOFTWARE, "out of memory");
	}
	unsigned apart = PLACE_RANK | PLACE_PID;
	if (ro->rec.node_wide)
		apart |= PLACE_HOST | PLACE_NODE;
	if (place.size > 1 && !(used & apart))
		warning("-o '%s' names no %s, but the launcher (%s) started this memline as %s %ld "
			"of %ld: every one would write this one log; add %s",
			ro->log_path, ro->rec.node_wide ? "%h, %n, %r or %p" : "%r or %p",
			place.launcher, ro->rec.node_wide ? "task" : "rank", place.rank, place.size,
			ro->rec.node_wide ? "%h (the host)" : "%r (the rank)");
	place_release(&place);
	ro->expanded_path = strbuf_detach(&out, NULL);
	ro->log_path = ro->expanded_path;
}

void record_opts_prepare(struct record_opts *ro, int argc, char **argv)
{
	if (ro->log_path)
		expand_log_path(ro);
	views_prepare(&ro->views);
	if (ro->n_regex) {
		size_t n = 0;
		if (!(ro->regex = calloc(ro->n_regex, sizeof(*ro->regex)))) {
			record_opts_release(ro);
			die(EXIT_SOFTWARE, "out of memory");
		}
		/* The options again, known good now, for the patterns only. */
		const char *shortopts = short_options(ro->cmd);
		int c;
		optind = 0;
		opterr = 0;
		while ((c = getopt_long(argc, argv, shortopts, long_options(), NULL)) != -1)
			if (c == OPT_EVENT_REGEX && n < ro->n_regex)
				ro->regex[n++] = optarg;
		ro->rec.event_regex = ro->regex;
		ro->rec.n_event_regex = n;
	}
	ro->rec.log_path = ro->log_path;
	ro->rec.warn = on_warning;
	ro->rec.warn_data = ro;
	views_for_recording(&ro->views, &ro->rec, ro->max_interval_set);
}

void record_opts_default_log(struct record_opts *ro, const char *command)
{
	if (!(ro->default_path = log_default_name(command))) {
		record_opts_release(ro);
		die(EXIT_SOFTWARE, "out of memory");
	}
	ro->log_path = ro->rec.log_path = ro->default_path;
	ro->rec.log_exclusive = true;
}

void record_opts_release(struct record_opts *ro)
{
	/* Nothing was recorded: the views never started, at most the server listened. */
	if (!ro->views.tui_on && !ro->views.live_on) {
		http_stop(ro->views.http);
		ro->views.http = NULL;
	}
	views_finish(&ro->views);
	free(ro->views.tui_error);
	ro->views.tui_error = NULL;
	free(ro->regex);
	ro->regex = NULL;
	free(ro->default_path);
	ro->default_path = NULL;
	free(ro->expanded_path);
	ro->expanded_path = NULL;
	ro->log_path = NULL;
	strbuf_release(&ro->notes);
}

static void print_summary(const struct record_opts *ro, const struct recorder_result *res)
{
	if (res->warning.len)
		warning("%s", res->warning.buf);
	if (ro->quiet)
		return;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, run_status_names[res->status]);
	if (res->exit_code >= 0 && res->status != RUN_COMPLETED) {
		strbuf_addf(&sb, " (exit %d)", res->exit_code);
	} else if (res->signal > 0) {
		strbuf_addstr(&sb, " (");
		text_signal(&sb, res->signal);
		strbuf_addch(&sb, ')');
	}
	strbuf_addstr(&sb, " after ");
	text_secs(&sb, res->duration);
	/* the job's memory first, by its method; the RSS sum beside it where it differs */
	strbuf_addstr(&sb, "; peak memory ");
	text_bytes(&sb, text_kib_bytes(res->job_peak_kib));
	strbuf_addf(&sb, " (%s)", report_method_words(res->method, true));
	if (res->peak_kib >= 0 && res->peak_kib != res->job_peak_kib) {
		strbuf_addstr(&sb, ", RSS sum ");
		text_bytes(&sb, text_kib_bytes(res->peak_kib));
	}
	strbuf_addf(&sb, "; %zu process%s", res->processes, res->processes == 1 ? "" : "es");
	if (res->missed > 0)
		strbuf_addf(&sb, " (%ld more may have been missed: record as root%s to see them)",
			    res->missed, strcmp(ro->cmd, "run") ? "" : ", or with --trace");
	if (res->alive && !strcmp(ro->cmd, "run"))
		strbuf_addf(&sb, ", %zu still running (--wait records them to the end)",
			    res->alive);
	else if (res->alive)
		strbuf_addf(&sb, ", %zu still running, no longer recorded", res->alive);
	if (!res->log_path)
		strbuf_addstr(&sb, "; no log was written");
	else if (res->log_removed)
		strbuf_addf(&sb, "; the log %s was removed while recording: nothing is left of it",
			    res->log_path);
	else if (res->log_moved)
		strbuf_addf(&sb, "; the log was %s: it was moved or replaced since", res->log_path);
	else
		strbuf_addf(&sb, "; log: %s", res->log_path);
	/* escaped: the log's path is the user's, not always printable */
	note("%s", sb.oom ? "out of memory" : sb.buf);
	strbuf_release(&sb);
}

int record_finish(struct record_opts *ro, int ret, struct recorder_result *res, struct strbuf *err)
{
	views_finish(&ro->views);
	for (char *line = ro->notes.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		warning("%s", line);
	}
	int code;
	switch (ret) {
	case RECORDER_OK:
		print_summary(ro, res);
		code = res->memline_exit;
		break;
	case RECORDER_ERR_LOG:
		code = EXIT_CANTCREAT;
		break;
	case RECORDER_ERR_NOEXEC:
		code = res->memline_exit;
		break;
	case RECORDER_ERR_NOPROC:
	case RECORDER_ERR_EVENTS:
	case RECORDER_ERR_NOCGROUP:
		code = EXIT_NOINPUT;
		break;
	case RECORDER_ERR_CGROUP:
		code = EXIT_UNAVAILABLE;
		break;
	case RECORDER_ERR_REGEX:
	case RECORDER_ERR_AMBIGUOUS:
		code = EXIT_USAGE;
		break;
	default:
		code = EXIT_OSERR;
		break;
	}
	if (ret != RECORDER_OK)
		error("%s", err->buf ? err->buf : "the recording failed");
	recorder_result_release(res);
	strbuf_release(err);
	record_opts_release(ro);
	return code;
}
