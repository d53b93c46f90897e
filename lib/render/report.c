/*
 * report: the text and JSON reports of a run. Both only read struct run (run.h) and append
 * to a strbuf. The text report is for a terminal 100 columns wide; the JSON report is a stable
 * interface for scripts: members are only ever added, memory is in bytes, times in seconds.
 * Command lines, labels, span names, host and the rest of the log's text come from outside, so
 * the text report shows every piece of it through text_escape and the JSON report escapes
 * them as JSON does.
 */
#include "render/report.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_WIDTH    100
#define BAR_WIDTH     50
#define TIMELINE_ROWS 20
#define MARK_ROWS     100 /* rows of the events and of the phases sections, at most */

static void add_kib(struct strbuf *out, long long kib)
{
	text_bytes(out, text_kib_bytes(kib));
}

/* A signed amount of KiB: "+1.5 MiB", "-512 B", "0 B"; '?' when unknown. */
static void add_kib_change(struct strbuf *out, long long kib, bool known)
{
	if (!known || kib == LLONG_MIN) {
		strbuf_addch(out, '?');
		return;
	}
	if (kib)
		strbuf_addch(out, kib > 0 ? '+' : '-');
	add_kib(out, kib > 0 ? kib : -kib);
}

/* Appends s padded with spaces to width columns (s is ASCII). */
static void add_pad(struct strbuf *out, const char *s, int width, bool left)
{
	strbuf_addf(out, left ? "%-*s" : "%*s", width, s);
}

/* ---- how it ended ---- */

/* Columns of the last line of out (UTF-8 characters after its last newline). */
static size_t line_cols(const struct strbuf *out)
{
	size_t cols = 0;
	for (size_t i = out->len; i-- > 0 && out->buf[i] != '\n';)
		cols += ((unsigned char)out->buf[i] & 0xc0) != 0x80;
	return cols;
}

static void add_proc_label(const struct run *run, int i, struct strbuf *out)
{
	struct strbuf cmd = STRBUF_INIT;
	run_proc_cmd(run, (size_t)i, &cmd);
	strbuf_addf(out, "pid %d (", (int)run->procs[i].pid);
	text_escape(out, cmd.buf ? cmd.buf : "", cmd.len, 60);
	strbuf_addch(out, ')');
	strbuf_release(&cmd);
}

/* "pid 123 (cmd) killed by the kernel's OOM killer at 12.3 s", for the first OOM kill. */
static void add_oom_kills(const struct run *run, const pid_t *pids, size_t n, struct strbuf *out)
{
	if (!n) {
		strbuf_addstr(out, "killed by the kernel's OOM killer");
		return;
	}
	int i = run_oom_proc(run, pids[0]);
	if (i >= 0)
		add_proc_label(run, i, out);
	else
		strbuf_addf(out, "pid %d", (int)pids[0]);
	strbuf_addstr(out, " killed by the kernel's OOM killer");
	if (i >= 0 && run->procs[i].exited) {
		strbuf_addstr(out, " at ");
		text_secs(out, run->procs[i].exit.t);
	}
	if (n > 1)
		strbuf_addf(out, ", and %zu more", n - 1);
}

void report_ending(const struct run *run, struct strbuf *out)
{
	const struct end_info *e = &run->end;
	size_t n_oom = 0, n_alive = 0;
	pid_t *oom = run_oom_killed(run, &n_oom);
	pid_t *alive = run_alive(run, &n_alive);
	strbuf_addf(out, "%s: ", run_status_names[run->status]);
	switch (run->status) {
	case RUN_COMPLETED:
		strbuf_addstr(out, "exit code 0");
		break;
	case RUN_FAILED:
		if (e->exit_code >= 0)
			strbuf_addf(out, "exit code %d", e->exit_code);
		else if (!run->error)
			strbuf_addstr(out, "exit code unknown");
		break;
	case RUN_KILLED:
		strbuf_addstr(out, "by ");
		text_signal(out, e->signal);
		if (e->core)
			strbuf_addstr(out, " (core dumped)");
		break;
	case RUN_OOM_KILLED:
		add_oom_kills(run, oom, n_oom, out);
		break;
	case RUN_DETACHED:
		strbuf_addf(out, "memline stopped recording; %zu process%s still running", n_alive,
			    n_alive == 1 ? "" : "es");
		break;
	case RUN_EXITED:
		strbuf_addstr(out, "every process exited; how the first one ended is unknown");
		break;
	case RUN_INCOMPLETE:
		strbuf_addstr(out, "the log has no end record");
		break;
	case RUN_RUNNING:
	case RUN_NSTATUS:
		strbuf_addstr(out, "the recording is still going on");
		break;
	}
	if (run->error) {
		/* The program's own message (memline.track()): escaped, cut to end the line. */
		if (out->len && out->buf[out->len - 1] != ' ')
			strbuf_addstr(out, "; ");
		size_t used = line_cols(out);
		text_escape(out, run->error, run->error_len,
			    used + 20 < TEXT_WIDTH ? TEXT_WIDTH - used : 20);
	}
	free(oom);
	free(alive);
}

const char *report_method_words(enum memory_method method, bool short_name)
{
	switch (method) {
	case MEM_CGROUP:
		return short_name
			       ? "cgroup"
			       : "the job's cgroup: every page counted once, page cache included";
	case MEM_PSS:
		return short_name
			       ? "PSS sum"
			       : "PSS sum: each shared page split among the processes that map it";
	case MEM_RSS:
	case MEM_NMETHODS:
		break;
	}
	return short_name ? "RSS sum" : "RSS sum: a page shared by processes counted once in each";
}

void report_stopped(const struct run *run, struct strbuf *out)
{
	if (!run->stopped)
		return;
	const char *name = run->stopped_errno ? run->stopped_errno : "";
	const char *why = run->stopped_error ? run->stopped_error : "";
	strbuf_addstr(out, "the log stopped at ");
	text_secs(out, run->stopped_t);
	strbuf_addstr(out, ": ");
	if (!strcmp(name, "ENOSPC"))
		strbuf_addstr(out, "file system full");
	else if (!strcmp(name, "EDQUOT"))
		strbuf_addstr(out, "disk quota exceeded");
	else if (*why)
		text_escape(out, why, strlen(why), 60);
	else
		strbuf_addstr(out, "writing failed");
	if (*name) {
		strbuf_addstr(out, " (");
		text_escape(out, name, strlen(name), 20);
		strbuf_addch(out, ')');
	}
}

/* ---- text report ---- */

static int cmp_start(const void *a, const void *b, void *data)
{
	const struct run *run = data;
	const struct run_proc *p = &run->procs[*(const int *)a], *q = &run->procs[*(const int *)b];
	if (p->start != q->start)
		return p->start < q->start ? -1 : 1;
	return *(const int *)a - *(const int *)b;
}

static void add_exit_word(const struct run_proc *p, struct strbuf *out)
{
	if (!p->exited)
		strbuf_addstr(out, "alive");
	else if (p->exit.oom)
		strbuf_addstr(out, "oom");
	else if (p->exit.how == EXIT_HOW_EXITED && p->exit.code >= 0)
		strbuf_addf(out, "%d", p->exit.code);
	else if (p->exit.how == EXIT_HOW_KILLED && p->exit.signal > 0)
		text_signal(out, p->exit.signal);
	else
		strbuf_addch(out, '?');
}

/* "2.5 GiB at 3.1 s", or "unknown (no samples)". */
static void add_peak_at(struct strbuf *out, long long kib, double t)
{
	if (kib < 0) {
		strbuf_addstr(out, "unknown (no samples)");
		return;
	}
	add_kib(out, kib);
	strbuf_addstr(out, " at ");
	text_secs(out, t);
}

/*
 * The job's peak memory first, by its method, then the RSS sum where it differs and the PSS
 * sum where the log has it (and it is not the job's). A format 1 log's one line, as it was.
 */
static void text_memory(const struct run *run, struct strbuf *out)
{
	if (!run_measures_job(run)) {
		strbuf_addstr(out, "\npeak RSS  ");
		if (run->peak >= 0) {
			add_kib(out, run->peak);
			strbuf_addstr(out, " (whole tree) at ");
			text_secs(out, run->peak_t);
		} else {
			strbuf_addstr(out, "unknown (no samples)");
		}
		return;
	}
	enum memory_method m = run->header.method;
	strbuf_addstr(out, "\npeak      ");
	add_peak_at(out, run->job_peak, run->job_peak_t);
	strbuf_addf(out, " (%s)", report_method_words(m, false));
	if (run->peak >= 0 && run->peak != run->job_peak) {
		strbuf_addstr(out, "\nRSS sum   ");
		add_peak_at(out, run->peak, run->peak_t);
		strbuf_addstr(out, " (each process's RSS added up: shared pages once per process)");
	}
	if (run->peak_pss >= 0 && m != MEM_PSS) {
		strbuf_addstr(out, "\nPSS sum   ");
		add_peak_at(out, run->peak_pss, run->peak_pss_t);
		strbuf_addstr(out, " (each shared page split among the processes that map it)");
	}
}

static void text_summary(const struct run *run, struct strbuf *out)
{
	const struct header_info *h = &run->header;
	struct strbuf tmp = STRBUF_INIT;

	/* Everything from the log (and its path) is shown through text_escape. */
	strbuf_addstr(out, "log       ");
	text_escape(out, run->path ? run->path : "", run->path ? strlen(run->path) : 0,
		    TEXT_WIDTH - 10);
	strbuf_addstr(out, "\ncommand   ");
	run_command(run, &tmp);
	text_escape(out, tmp.buf ? tmp.buf : "", tmp.len, TEXT_WIDTH - 10);
	if (h->mode && !strcmp(h->mode, "attach"))
		strbuf_addstr(out, " (attached)");
	strbuf_addstr(out, "\nhost      ");
	if (h->host)
		text_escape(out, h->host, strlen(h->host), 64);
	else
		strbuf_addch(out, '?');
	if (h->kernel || h->mem_total > 0) {
		strbuf_addstr(out, " (");
		if (h->kernel) {
			strbuf_addstr(out, "Linux ");
			text_escape(out, h->kernel, strlen(h->kernel), 40);
		}
		if (h->kernel && h->mem_total > 0)
			strbuf_addstr(out, ", ");
		if (h->mem_total > 0) {
			add_kib(out, h->mem_total);
			strbuf_addstr(out, " RAM");
		}
		strbuf_addch(out, ')');
	}
	strbuf_addstr(out, "\nstarted   ");
	if (h->start_iso)
		text_escape(out, h->start_iso, strlen(h->start_iso), 40);
	else
		strbuf_addch(out, '?');
	strbuf_addstr(out, "\nduration  ");
	text_secs(out, run->duration);
	if (run->status == RUN_RUNNING || run->status == RUN_INCOMPLETE)
		strbuf_addstr(out, " (so far as the log goes)");
	strbuf_addstr(out, "\nended     ");
	report_ending(run, out);

	/* An OOM kill the status line did not already tell about. */
	size_t n_oom = 0;
	pid_t *oom = run_oom_killed(run, &n_oom);
	if (n_oom && run->status != RUN_OOM_KILLED) {
		strbuf_addstr(out, "\noom       ");
		add_oom_kills(run, oom, n_oom, out);
	}
	free(oom);

	text_memory(run, out);
	strbuf_addf(out, "\nsamples   %zu sample%s, %zu process%s", run->n_samples,
		    run->n_samples == 1 ? "" : "s", run->n_procs, run->n_procs == 1 ? "" : "es");
	if (run->has_end && run->end.missed > 0)
		strbuf_addf(out,
			    "\nmissed    %ld process%s may have been missed; run as root or with "
			    "--trace to see them",
			    run->end.missed, run->end.missed == 1 ? "" : "es");
	strbuf_addch(out, '\n');
	strbuf_release(&tmp);
}

/*
 * Appends text (from the log: escaped) in lines of at most TEXT_WIDTH columns, broken at
 * spaces, the lines after the first indented by indent columns (the first is already there).
 */
static void add_wrapped(struct strbuf *out, const char *text, size_t indent)
{
	struct strbuf esc = STRBUF_INIT;
	text_escape(&esc, text, strlen(text), 2000);
	size_t col = indent;
	const char *p = esc.buf ? esc.buf : "";
	while (*p) {
		size_t word = strcspn(p, " ");
		if (col > indent && col + 1 + word > TEXT_WIDTH) {
			strbuf_addf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			strbuf_addch(out, ' ');
			col++;
		}
		strbuf_add(out, p, word);
		col += word; /* bytes, not columns: at worst a line of non-ASCII text breaks early
			      */
		p += word;
		while (*p == ' ')
			p++;
	}
	strbuf_release(&esc);
}

static void text_warnings(const struct run *run, struct strbuf *out)
{
	bool any = false;
	if (run->stopped) {
		strbuf_addstr(out, "\nwarning: ");
		report_stopped(run, out);
		strbuf_addstr(out, run->has_end ? "; from there on it holds only the end record"
						: "; nothing after that was written");
		any = true;
	}
	if (run->status == RUN_INCOMPLETE && !run->stopped) {
		strbuf_addstr(out, "\nwarning: the log has no end record: memline or the machine "
				   "died, or it is still being written");
		any = true;
	} else if (run->status == RUN_RUNNING) {
		strbuf_addstr(out, "\nnote: the recording is still running; this is what it has "
				   "logged so far");
		any = true;
	}
	if (run->truncated) {
		strbuf_addstr(out, "\nwarning: the last line of the log was cut off (the writer "
				   "stopped mid-write)");
		any = true;
	}
	for (size_t i = 0; i < run->n_warnings; i++) {
		strbuf_addstr(out, "\nwarning: ");
		add_wrapped(out, run->warnings[i], 9);
		any = true;
	}
	if (run->corrupt) {
		strbuf_addf(out, "\nwarning: %ld corrupt line%s skipped", run->corrupt,
			    run->corrupt == 1 ? "" : "s");
		any = true;
	}
	if (any)
		strbuf_addch(out, '\n');
}

/* One cell, padded to width (right-aligned) and followed by two spaces. */
static void add_cell(struct strbuf *out, struct strbuf *cell, int width)
{
	add_pad(out, cell->buf ? cell->buf : "", width, false);
	strbuf_addstr(out, "  ");
	strbuf_reset(cell);
}

static void add_cpu(struct strbuf *cell, const struct run_proc *p)
{
	if (p->utime >= 0 || p->stime >= 0)
		text_secs(cell,
			  ((p->utime > 0 ? p->utime : 0) + (p->stime > 0 ? p->stime : 0)) / 1000.0);
	else
		strbuf_addch(cell, '?');
}

/*
 * What the process table's marks mean, under it, for the marks it has: '*' after a pid, a
 * process memline learned of only at its exit; '?' for how one ended, unknown. Said only for
 * logs of format 2 on (a format 1 log's report is as it was).
 */
static void table_notes(const struct run *run, bool at_exit, bool unknown, struct strbuf *out)
{
	if (!run_measures_job(run))
		return;
	if (at_exit)
		strbuf_addstr(out, "* seen only at its exit (the kernel's exit record, or --trace, "
				   "told of it): in no sample; its\n  peak and CPU time are those "
				   "it had at its end\n");
	if (unknown)
		strbuf_addstr(out, "? how it ended is unknown: its parent reaped it between two "
				   "samples (as root, the kernel's exit\n  records tell)\n");
}

static void text_processes(const struct run *run, struct strbuf *out)
{
	if (!run->n_procs)
		return;
	int *order = calloc(run->n_procs, sizeof(*order));
	if (!order) {
		out->oom = true;
		return;
	}
	bool pss = false, at_exit = false, unknown = false;
	for (size_t i = 0; i < run->n_procs; i++) {
		order[i] = (int)i;
		pss |= run->procs[i].peak_pss >= 0;
	}
	qsort_r(order, run->n_procs, sizeof(*order), cmp_start, (void *)run);

	/* pid 7 (and a mark), start 9, end 9, peak 10, (pss 10), cpu 9, exit 7, two spaces
	 * between: the command gets the rest */
	const int w_cmd = TEXT_WIDTH - (7 + 9 + 9 + 10 + 9 + 7 + 6 * 2) - (pss ? 10 + 2 : 0);
	strbuf_addf(out, "\nprocesses\n%7s  %9s  %9s  %10s  ", "PID", "START", "END", "PEAK RSS");
	if (pss)
		strbuf_addf(out, "%10s  ", "PEAK PSS");
	strbuf_addf(out, "%9s  %-7s  %s\n", "CPU", "EXIT", "COMMAND");
	struct strbuf cell = STRBUF_INIT;
	for (size_t k = 0; k < run->n_procs; k++) {
		const struct run_proc *p = &run->procs[order[k]];
		strbuf_reset(&cell);
		strbuf_addf(out, "%7d%c ", (int)p->pid, p->at_exit ? '*' : ' ');
		at_exit |= p->at_exit;
		text_secs(&cell, p->start);
		add_cell(out, &cell, 9);
		if (p->end >= 0)
			text_secs(&cell, p->end);
		else
			strbuf_addch(&cell, '-');
		add_cell(out, &cell, 9);
		add_kib(&cell, p->peak);
		add_cell(out, &cell, 10);
		if (pss) {
			add_kib(&cell, p->peak_pss);
			add_cell(out, &cell, 10);
		}
		add_cpu(&cell, p);
		add_cell(out, &cell, 9);
		add_exit_word(p, &cell);
		unknown |= cell.len == 1 && cell.buf[0] == '?';
		add_pad(out, cell.buf, 7, true);
		strbuf_addstr(out, "  ");
		strbuf_reset(&cell);
		run_proc_cmd(run, (size_t)order[k], &cell);
		text_escape(out, cell.buf ? cell.buf : "", cell.len, (size_t)w_cmd);
		strbuf_addch(out, '\n');
	}
	table_notes(run, at_exit, unknown, out);
	strbuf_release(&cell);
	free(order);
}

/* A bar of frac * BAR_WIDTH columns in eighths of a block. */
static void add_bar(struct strbuf *out, double frac)
{
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	long eighths = lround(frac * BAR_WIDTH * 8);
	for (long i = 0; i < eighths / 8; i++)
		strbuf_addstr(out, "█");
	if (eighths % 8) {
		/* U+2589 (seven eighths) down to U+258F (one eighth) */
		char part[4] = {(char)0xe2, (char)0x96, (char)(0x90 - eighths % 8), 0};
		strbuf_addstr(out, part);
	}
}

/* A row's time; with a step under 0.1 s, seconds get two decimals so rows stay distinct. */
static void timeline_time(struct strbuf *out, double t, double step)
{
	if (step < 0.1 && t >= 1 && t < 60)
		strbuf_addf(out, "%.2f s", t);
	else
		text_secs(out, t);
}

static void timeline_row(struct strbuf *out, double t, double step, long long kib, long long peak)
{
	struct strbuf cell = STRBUF_INIT;
	timeline_time(&cell, t, step);
	add_pad(out, cell.buf ? cell.buf : "", 9, false);
	strbuf_addstr(out, "  ");
	if (kib < 0) {
		strbuf_addf(out, "%10s\n", "-");
		strbuf_release(&cell);
		return;
	}
	strbuf_reset(&cell);
	add_kib(&cell, kib);
	add_pad(out, cell.buf, 10, false);
	double frac = peak > 0 ? (double)kib / (double)peak : 0;
	/* Truncated, so that only the peak itself reads 100%. */
	strbuf_addf(out, "  %3d%%  ", (int)(frac * 100));
	add_bar(out, frac);
	strbuf_addch(out, '\n');
	strbuf_release(&cell);
}

/*
 * One row per sample when there are few; else TIMELINE_ROWS equal slices of time, each showing
 * the highest value in it so that no peak falls between rows.
 */
/* A sample's value on the timeline: the job's highest memory in its interval (format 2 on),
 * else the tree's RSS peak, as a format 1 log's report always showed. */
static long long timeline_value(const struct run *run, const struct run_sample *s)
{
	return run_measures_job(run) ? run_sample_job_peak(s) : run_sample_peak(s);
}

static void text_timeline(const struct run *run, struct strbuf *out)
{
	if (!run->n_samples)
		return;
	bool job = run_measures_job(run);
	long long peak = job ? run->job_peak : run->peak;
	if (job)
		strbuf_addf(
			out,
			"\ntimeline: the job's memory (%s), highest in each interval, %% of the "
			"peak\n%9s  %10s  %4s\n",
			report_method_words(run->header.method, true), "TIME", "MEMORY", "%");
	else
		strbuf_addf(out,
			    "\ntimeline: tree RSS, highest in each interval, %% of the peak\n"
			    "%9s  %10s  %4s\n",
			    "TIME", "RSS", "%");
	if (run->n_samples <= TIMELINE_ROWS) {
		for (size_t i = 0; i < run->n_samples; i++)
			timeline_row(out, run->samples[i].t, 0,
				     timeline_value(run, &run->samples[i]), peak);
		return;
	}
	double span = run->duration;
	if (run->samples[run->n_samples - 1].t > span)
		span = run->samples[run->n_samples - 1].t;
	long long maxv[TIMELINE_ROWS];
	for (size_t b = 0; b < TIMELINE_ROWS; b++)
		maxv[b] = -1;
	for (size_t i = 0; i < run->n_samples; i++) {
		const struct run_sample *s = &run->samples[i];
		size_t b = span > 0 && s->t > 0 ? (size_t)(s->t / span * TIMELINE_ROWS) : 0;
		if (b >= TIMELINE_ROWS)
			b = TIMELINE_ROWS - 1;
		long long v = timeline_value(run, s);
		if (v > maxv[b])
			maxv[b] = v;
	}
	for (size_t b = 0; b < TIMELINE_ROWS; b++)
		timeline_row(out, span * (double)b / TIMELINE_ROWS, span / TIMELINE_ROWS, maxv[b],
			     peak);
}

/* A time on the timeline of events and phases: milliseconds shown up to 1000 s. */
static void mark_time(struct strbuf *out, double t)
{
	if (t > -1000 && t < 1000)
		strbuf_addf(out, "%.3f s", t);
	else
		text_secs(out, t);
}

static void more_rows(struct strbuf *out, size_t n, const char *what)
{
	if (n > MARK_ROWS)
		strbuf_addf(out, "… and %zu more %s (memline report --json lists them all)\n",
			    n - MARK_ROWS, what);
}

static void text_events(const struct run *run, struct strbuf *out)
{
	if (!run->n_events)
		return;
	/* time 10, tree RSS 10, two spaces between: the label gets the rest */
	const size_t w_label = TEXT_WIDTH - (10 + 10 + 2 * 2);
	struct strbuf cell = STRBUF_INIT;
	strbuf_addf(out, "\nevents: tree RSS at each\n%10s  %10s  %s\n", "TIME", "TREE RSS",
		    "LABEL");
	for (size_t i = 0; i < run->n_events && i < MARK_ROWS; i++) {
		const struct run_event *e = &run->events[i];
		strbuf_reset(&cell);
		mark_time(&cell, e->t);
		add_pad(out, cell.buf ? cell.buf : "", 10, false);
		strbuf_addstr(out, "  ");
		strbuf_reset(&cell);
		add_kib(&cell, e->rss);
		add_pad(out, cell.buf ? cell.buf : "", 10, false);
		strbuf_addstr(out, "  ");
		text_escape(out, e->label, e->label_len, w_label);
		strbuf_addch(out, '\n');
	}
	more_rows(out, run->n_events, "events");
	strbuf_release(&cell);
}

static int cmp_span_start(const void *a, const void *b, void *data)
{
	const struct run *run = data;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct run_span *s = &run->spans[i], *u = &run->spans[j];
	if (s->start != u->start)
		return s->start < u->start ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* The spans' indexes sorted by start (ties: the order they began); NULL when out of memory. */
static size_t *spans_by_start(const struct run *run)
{
	size_t *order = calloc(run->n_spans, sizeof(*order));
	if (!order)
		return NULL;
	for (size_t i = 0; i < run->n_spans; i++)
		order[i] = i;
	qsort_r(order, run->n_spans, sizeof(*order), cmp_span_start, (void *)run);
	return order;
}

static void add_thread(struct strbuf *out, pid_t pid, pid_t tid)
{
	if (pid > 0)
		strbuf_addf(out, "%d", (int)pid);
	else
		strbuf_addch(out, '?');
	strbuf_addch(out, '/');
	if (tid > 0)
		strbuf_addf(out, "%d", (int)tid);
	else
		strbuf_addch(out, '?');
}

static void text_phases(const struct run *run, struct strbuf *out)
{
	if (!run->n_spans)
		return;
	size_t *order = spans_by_start(run);
	if (!order) {
		out->oom = true;
		return;
	}
	bool threads = false, any_open = false;
	for (size_t i = 1; i < run->n_spans; i++)
		threads |= run->spans[i].pid != run->spans[0].pid ||
			   run->spans[i].tid != run->spans[0].tid;
	/* start 10, duration 10, peak 10, change 15, (thread 15), two spaces between */
	const int w_thread = threads ? 15 + 2 : 0;
	const int w_name = TEXT_WIDTH - (10 + 10 + 10 + 15 + 4 * 2) - w_thread;
	struct strbuf cell = STRBUF_INIT;
	strbuf_addstr(out,
		      "\nphases: spans nested by thread, with the whole process tree's RSS during "
		      "each (not the thread's)\n");
	if (threads)
		strbuf_addf(out, "%-15s  ", "PID/TID");
	strbuf_addf(out, "%-*s  %10s  %10s  %10s  %15s\n", w_name, "NAME", "START", "DURATION",
		    "TREE PEAK", "TREE RSS CHANGE");
	for (size_t k = 0; k < run->n_spans && k < MARK_ROWS; k++) {
		const struct run_span *s = &run->spans[order[k]];
		if (threads) {
			strbuf_reset(&cell);
			add_thread(&cell, s->pid, s->tid);
			add_pad(out, cell.buf ? cell.buf : "", 15, true);
			strbuf_addstr(out, "  ");
		}
		/* Two columns a level, up to half the column, so that the name still shows. */
		int indent = s->depth < w_name / 4 ? 2 * s->depth : w_name / 2;
		strbuf_addf(out, "%*s", indent, "");
		size_t used = text_escape(out, s->name, s->name_len, (size_t)(w_name - indent));
		strbuf_addf(out, "%*s  ", (int)(w_name - indent - (int)used), "");
		strbuf_reset(&cell);
		mark_time(&cell, s->start);
		add_pad(out, cell.buf ? cell.buf : "", 10, false);
		strbuf_addstr(out, "  ");
		strbuf_reset(&cell);
		text_secs(&cell, s->end - s->start);
		if (s->open)
			strbuf_addch(&cell, '*');
		any_open |= s->open;
		add_pad(out, cell.buf ? cell.buf : "", 10, false);
		strbuf_addstr(out, "  ");
		strbuf_reset(&cell);
		add_kib(&cell, s->peak);
		add_pad(out, cell.buf ? cell.buf : "", 10, false);
		strbuf_addstr(out, "  ");
		strbuf_reset(&cell);
		add_kib_change(&cell, s->rss_change, s->has_rss_change);
		add_pad(out, cell.buf ? cell.buf : "", 15, false);
		strbuf_addch(out, '\n');
	}
	more_rows(out, run->n_spans, "phases");
	if (any_open)
		strbuf_addstr(out, "* still open at the end of the log: it ends there\n");
	strbuf_release(&cell);
	free(order);
}

void report_text(const struct run *run, struct strbuf *out)
{
	text_summary(run, out);
	report_stacks_line(run, out);
	report_threads_line(run, out);
	text_warnings(run, out);
	text_processes(run, out);
	text_timeline(run, out);
	text_phases(run, out);
	text_events(run, out);
}

/* ---- JSON report ---- */

static void json_opt_str(struct strbuf *out, const char *key, const char *s)
{
	strbuf_add_json_key(out, key);
	if (s)
		strbuf_add_json_str(out, s);
	else
		strbuf_addstr(out, "null");
}

/* A string of len bytes (NULs are written as \u0000). */
static void json_strn(struct strbuf *out, const char *key, const char *s, size_t len)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_strn(out, s, len);
}

static void json_opt_int(struct strbuf *out, const char *key, long long v)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_opt(out, v);
}

static void json_bytes(struct strbuf *out, const char *key, long long kib)
{
	json_opt_int(out, key, text_kib_bytes(kib));
}

static void json_bool(struct strbuf *out, const char *key, bool b)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_bool(out, b);
}

static void json_secs(struct strbuf *out, const char *key, double secs, bool known)
{
	strbuf_add_json_key(out, key);
	if (known)
		strbuf_add_json_secs(out, secs);
	else
		strbuf_addstr(out, "null");
}

static void json_pids(struct strbuf *out, const char *key, const pid_t *pids, size_t n)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_pids(out, pids, n);
}

static void json_process(const struct run *run, const struct run_th_index *ix, size_t i,
			 struct strbuf *out)
{
	const struct run_proc *p = &run->procs[i];
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addch(out, '{');
	json_opt_int(out, "pid", p->pid);
	json_opt_int(out, "ppid", p->ppid);
	run_proc_cmd(run, i, &cmd);
	json_opt_str(out, "cmd", cmd.buf ? cmd.buf : "");
	strbuf_release(&cmd);
	strbuf_add_json_key(out, "argv");
	strbuf_add_json_argv(out, p->cmdline, p->cmdline_len);
	json_opt_str(out, "comm", p->comm);
	json_secs(out, "start", p->start, true);
	json_secs(out, "end", p->end, p->end >= 0);
	json_bytes(out, "peak_rss", p->peak);
	json_secs(out, "peak_rss_t", p->peak_t, p->peak >= 0);
	long long cpu = -1;
	if (p->utime >= 0 || p->stime >= 0)
		cpu = (p->utime > 0 ? p->utime : 0) + (p->stime > 0 ? p->stime : 0);
	json_secs(out, "cpu", cpu / 1000.0, cpu >= 0);
	json_opt_int(out, "exit_code", p->exited ? p->exit.code : -1);
	json_opt_int(out, "signal", p->exited ? p->exit.signal : -1);
	json_bool(out, "core", p->exited && p->exit.core);
	json_bool(out, "oom", p->exited && p->exit.oom);
	json_bool(out, "alive", !p->exited);
	json_bytes(out, "peak_pss", p->peak_pss);
	json_opt_str(out, "seen", p->at_exit ? "exit" : "sample");
	json_opt_str(out, "exit_source", p->exited ? exit_source_names[p->exit.source] : NULL);
	json_bytes(out, "hwm", p->exited ? p->exit.hwm : -1);
	json_bytes(out, "maxrss", p->exited ? p->exit.maxrss : -1);
	if (ix) /* format 3 on */
		report_json_threads(run, ix, i, out);
	strbuf_addch(out, '}');
}

/* "memory": how the job's memory was measured, and its cgroup (null without one). */
static void json_memory(const struct run *run, struct strbuf *out)
{
	const struct header_info *h = &run->header;
	strbuf_add_json_key(out, "memory");
	strbuf_addch(out, '{');
	json_opt_str(out, "method", memory_method_names[h->method]);
	strbuf_add_json_key(out, "cgroup");
	if (h->cgroup_path) {
		strbuf_addch(out, '{');
		json_opt_str(out, "path", h->cgroup_path);
		json_opt_int(out, "version", h->cgroup_version > 0 ? h->cgroup_version : -1);
		json_bool(out, "own", h->cgroup_own);
		json_opt_str(out, "peak", h->cgroup_peak);
		strbuf_addch(out, '}');
	} else {
		strbuf_addstr(out, "null");
	}
	strbuf_addch(out, '}');
}

void report_json_events(const struct run *run, struct strbuf *out)
{
	strbuf_add_json_key(out, "events");
	strbuf_addch(out, '[');
	for (size_t i = 0; i < run->n_events; i++) {
		const struct run_event *e = &run->events[i];
		strbuf_addstr(out, i ? ",{" : "{");
		json_secs(out, "t", e->t, true);
		json_strn(out, "label", e->label, e->label_len);
		json_bytes(out, "rss", e->rss);
		json_opt_int(out, "pid", e->pid);
		json_opt_int(out, "tid", e->tid);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}

void report_json_spans(const struct run *run, struct strbuf *out)
{
	size_t *order = run->n_spans ? spans_by_start(run) : NULL;
	if (run->n_spans && !order) {
		out->oom = true;
		return;
	}
	strbuf_add_json_key(out, "spans");
	strbuf_addch(out, '[');
	for (size_t k = 0; k < run->n_spans; k++) {
		const struct run_span *s = &run->spans[order[k]];
		strbuf_addstr(out, k ? ",{" : "{");
		json_strn(out, "name", s->name, s->name_len);
		json_secs(out, "start", s->start, true);
		json_secs(out, "end", s->end, true);
		json_bytes(out, "peak_rss", s->peak);
		strbuf_add_json_key(out, "rss_change");
		long long change = s->has_rss_change && s->rss_change > LLONG_MIN / 1024 &&
						   s->rss_change < LLONG_MAX / 1024
					   ? s->rss_change * 1024
					   : LLONG_MIN;
		if (change != LLONG_MIN)
			strbuf_add_json_i64(out, change);
		else
			strbuf_addstr(out, "null");
		json_opt_int(out, "pid", s->pid);
		json_opt_int(out, "tid", s->tid);
		json_opt_int(out, "depth", s->depth);
		json_bool(out, "open", s->open);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
	free(order);
}

void report_json(const struct run *run, struct strbuf *out)
{
	const struct header_info *h = &run->header;
	const struct end_info *e = &run->end;
	size_t n_oom = 0, n_alive = 0;
	pid_t *oom = run_oom_killed(run, &n_oom);
	pid_t *alive = run_alive(run, &n_alive);

	strbuf_addch(out, '{');
	json_opt_str(out, "log", run->path);
	json_opt_int(out, "format", h->format);
	json_opt_str(out, "memline", h->memline_version);
	json_opt_str(out, "status", run_status_names[run->status]);
	json_opt_int(out, "exit_code", run->has_end ? e->exit_code : -1);
	json_opt_int(out, "signal", run->has_end ? e->signal : -1);
	json_bool(out, "core", run->has_end && e->core);
	json_opt_str(out, "mode", h->mode);
	strbuf_add_json_key(out, "command");
	strbuf_addch(out, '[');
	for (char **a = h->command; a && *a; a++) {
		if (a != h->command)
			strbuf_addch(out, ',');
		strbuf_add_json_str(out, *a);
	}
	strbuf_addch(out, ']');
	json_opt_int(out, "pid", h->pid > 0 ? h->pid : -1);
	json_opt_str(out, "host", h->host);
	json_opt_str(out, "start", h->start_iso);
	json_secs(out, "duration", run->duration, true);
	json_opt_int(out, "samples", (long long)run->n_samples);
	json_bytes(out, "peak_rss", run->peak);
	json_secs(out, "peak_rss_t", run->peak_t, run->peak >= 0);
	json_bytes(out, "largest_peak_floor", run->largest_peak_floor);
	json_bytes(out, "mem_total", h->mem_total);
	json_bytes(out, "job_peak", run->job_peak);
	json_secs(out, "job_peak_t", run->job_peak_t, run->job_peak >= 0);
	json_memory(run, out);
	json_bytes(out, "peak_pss", run->peak_pss);
	json_secs(out, "peak_pss_t", run->peak_pss_t, run->peak_pss >= 0);
	json_opt_int(out, "procs",
		     run->has_end && run->end.procs >= 0 ? run->end.procs
							 : (long long)run->n_procs);
	json_opt_int(out, "missed", run->has_end ? run->end.missed : -1);
	json_pids(out, "oom_killed", oom, n_oom);
	json_pids(out, "alive", alive, n_alive);
	json_bool(out, "truncated", run->truncated);
	json_opt_int(out, "corrupt_lines", run->corrupt);
	/* a format 3 log's processes have their threads and heap (none before) */
	struct run_th_index ix = {0};
	bool threads = h->format >= 3;
	if (threads && run_th_index_build(&ix, &run->threads, run->n_procs) < 0)
		out->oom = true;
	strbuf_add_json_key(out, "processes");
	strbuf_addch(out, '[');
	for (size_t i = 0; i < run->n_procs; i++) {
		if (i)
			strbuf_addch(out, ',');
		json_process(run, threads && ix.first ? &ix : NULL, i, out);
	}
	strbuf_addch(out, ']');
	run_th_index_release(&ix);
	report_json_events(run, out);
	report_json_spans(run, out);
	if (run->error)
		json_strn(out, "error", run->error, run->error_len);
	else
		json_opt_str(out, "error", NULL);
	strbuf_add_json_key(out, "stopped");
	if (run->stopped) {
		strbuf_addstr(out, "{\"t\":");
		strbuf_add_json_secs(out, run->stopped_t);
		strbuf_add_json_key(out, "errno");
		strbuf_add_json_str(out, run->stopped_errno ? run->stopped_errno : "");
		strbuf_add_json_key(out, "error");
		strbuf_add_json_str(out, run->stopped_error ? run->stopped_error : "");
		strbuf_addch(out, '}');
	} else {
		strbuf_addstr(out, "null");
	}
	strbuf_add_json_key(out, "warnings");
	strbuf_addch(out, '[');
	for (size_t i = 0; i < run->n_warnings; i++) {
		if (i)
			strbuf_addch(out, ',');
		strbuf_add_json_str(out, run->warnings[i]);
	}
	strbuf_addch(out, ']');
	report_json_stacks(run, out);
	strbuf_addstr(out, "}\n");
	free(oom);
	free(alive);
}
