/*
 * report-stacks: `memline report --stacks` and the JSON report's "stacks" (render/report.h).
 * The text shows the capture at the job's peak first, then every capture in time order; a
 * capture's threads with the same stack share one entry ("2 threads: 301 loader, 302
 * loader"), and each distinct stack of the run has a number and its frames are printed once,
 * the first time it is shown: a summary, not pages of repeated frames. Every piece of text
 * from the log (frames, thread names, labels, errors, command lines) goes through
 * text_escape; the JSON escapes it as JSON does.
 */
#include "render/report.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_WIDTH     100
#define CAPTURE_ROWS   100 /* captures listed, at most */
#define STACK_FRAMES   40  /* frames of a stack printed, at most */
#define THREADS_LISTED 8   /* threads named in one entry, at most */

/* The moments of --stacks, as the option and the header say them. */

/* "4 captures, 1 skipped (budget spent), 1 failed; 4 ms of memline's CPU". */
static void add_counts(const struct run *run, bool cpu, struct strbuf *out)
{
	const struct stack_counts *c = &run->end.stacks;
	if (c->captures < 0) {
		/* No end record (yet): what the log holds so far. */
		strbuf_addf(out, "%zu capture%s in the log so far", run->stacks.n_captures,
			    run->stacks.n_captures == 1 ? "" : "s");
		return;
	}
	strbuf_addf(out, "%ld capture%s", c->captures, c->captures == 1 ? "" : "s");
	if (c->skipped > 0)
		strbuf_addf(out, ", %ld skipped (budget spent)", c->skipped);
	if (c->failed > 0)
		strbuf_addf(out, ", %ld failed", c->failed);
	if (!cpu)
		return;
	strbuf_addstr(out, "; ");
	text_secs(out, c->cpu);
	strbuf_addstr(out, " of memline's CPU");
}

bool report_has_stacks(const struct run *run)
{
	return run->header.stacks_when || run->end.stacks.captures >= 0 || run->stacks.n_captures;
}

void report_stacks_line(const struct run *run, struct strbuf *out)
{
	if (!report_has_stacks(run))
		return;
	strbuf_addstr(out, "stacks    ");
	add_counts(run, false, out);
	strbuf_addstr(out, " (memline report --stacks shows them)\n");
}

/* "pid 300 (python3 train.py)", or "pid 300" for a process the log has no record of. */
static void add_pid(const struct run *run, pid_t pid, struct strbuf *out)
{
	int i = run_proc_by_pid(run, pid);
	strbuf_addf(out, "pid %d", (int)pid);
	if (i < 0)
		return;
	struct strbuf cmd = STRBUF_INIT;
	run_proc_cmd(run, (size_t)i, &cmd);
	strbuf_addstr(out, " (");
	text_escape(out, cmd.buf ? cmd.buf : "", cmd.len, 50);
	strbuf_addch(out, ')');
	strbuf_release(&cmd);
}

/* "capture 3 at 2.000 s, peak, pid 300 (python3 train.py)", an event's label after "event",
 * a heap capture's thread after "heap of thread". */
static void add_capture_line(const struct run *run, const struct run_capture *c, struct strbuf *out)
{
	strbuf_addf(out, "capture %ld at %.3f s, %s", c->number, c->t, stack_why_names[c->why]);
	if (c->label && c->why == STACK_HEAP) {
		strbuf_addstr(out, " of thread "); /* its label: the thread that peaked */
		text_escape(out, c->label, c->label_len, 24);
	} else if (c->label) {
		strbuf_addstr(out, " \"");
		text_escape(out, c->label, c->label_len, 40);
		strbuf_addch(out, '"');
	}
	strbuf_addstr(out, ", ");
	add_pid(run, c->pid, out);
	strbuf_addch(out, '\n');
}

/* "301 (loader)": a thread, its name escaped; ", truncated" when its unwind stopped short. */
static void add_thread(const struct run_stack *s, struct strbuf *out)
{
	strbuf_addf(out, "%d", (int)s->tid);
	if (s->thread || s->truncated)
		strbuf_addstr(out, " (");
	if (s->thread)
		text_escape(out, s->thread, strlen(s->thread), 32);
	if (s->truncated)
		strbuf_addstr(out, s->thread ? ", truncated" : "truncated");
	if (s->thread || s->truncated)
		strbuf_addch(out, ')');
}

/* The frames of group g, indented, outermost last; at most STACK_FRAMES of them. */
static void add_frames(const struct run *run, size_t g, struct strbuf *out)
{
	const struct run_stack_group *grp = &run->stacks.groups[g];
	for (size_t k = 0; k < grp->n_frames && k < STACK_FRAMES; k++) {
		strbuf_addstr(out, "      ");
		run_frame_name(run_stacks_frame(&run->stacks, g, k), out);
		strbuf_addch(out, '\n');
	}
	if (grp->n_frames > STACK_FRAMES)
		strbuf_addf(out, "      … and %zu more frames (memline export --folded has them)\n",
			    grp->n_frames - STACK_FRAMES);
}

/*
 * One entry of a capture: the threads of stacks[from..n) whose stack is group g and that
 * have no error (or the one thread from, with its error). Frames printed where shown[g] is
 * not yet set.
 */
static void add_entry(const struct run *run, const struct run_capture *c, size_t from, bool *shown,
		      struct strbuf *out)
{
	const struct run_stack *s = &c->stacks[from];
	const struct run_stack_group *grp = &run->stacks.groups[s->group];
	size_t n = 1;
	if (!s->error)
		for (size_t k = from + 1; k < c->n_stacks; k++)
			n += c->stacks[k].group == s->group && !c->stacks[k].error;
	strbuf_addstr(out, "  ");
	if (grp->n_frames)
		strbuf_addf(out, "stack #%zu, ", s->group + 1);
	strbuf_addf(out, n > 1 ? "%zu threads: " : "thread ", n);
	for (size_t k = from, listed = 0; k < c->n_stacks && listed < n; k++) {
		const struct run_stack *t = &c->stacks[k];
		if (k > from && (t->group != s->group || t->error))
			continue;
		if (listed == THREADS_LISTED) {
			strbuf_addf(out, ", … %zu more", n - listed);
			break;
		}
		if (listed++)
			strbuf_addstr(out, ", ");
		add_thread(t, out);
	}
	if (s->error) {
		strbuf_addstr(out, ": ");
		text_escape(out, s->error, strlen(s->error), 200);
	}
	if (grp->n_frames && shown[s->group])
		strbuf_addstr(out, " (frames above)");
	strbuf_addch(out, '\n');
	if (grp->n_frames && !shown[s->group])
		add_frames(run, s->group, out);
	shown[s->group] = true;
}

/* A capture's threads, those with the same stack (and no error) in one entry. */
static void add_capture(const struct run *run, const struct run_capture *c, bool *shown,
			struct strbuf *out)
{
	add_capture_line(run, c, out);
	if (!c->n_stacks)
		strbuf_addstr(out, "  (no thread)\n");
	for (size_t k = 0; k < c->n_stacks; k++) {
		const struct run_stack *s = &c->stacks[k];
		bool first = true; /* the first thread of its group in the capture */
		for (size_t j = 0; j < k && first && !s->error; j++)
			first = c->stacks[j].group != s->group || c->stacks[j].error;
		if (first)
			add_entry(run, c, k, shown, out);
	}
}

/* The header's --stacks: "peaks, events (a new peak 5% above the last capture's, ...)". */
static void add_asked(const struct header_info *h, struct strbuf *out)
{
	strbuf_addstr(out, "asked     ");
	bool any = false;
	for (int i = 0; i < STACK_NWHY; i++)
		if (h->stacks_when & (1u << i)) {
			strbuf_addstr(out, any ? ", " : "");
			strbuf_addstr(out, stack_when_names[i]);
			if (i == STACK_EVERY && h->stacks_every > 0)
				strbuf_addf(out, "=%g", h->stacks_every);
			any = true;
		}
	strbuf_addf(
		out, "%s (peaks: %g%% above the last, %g s apart at least; budget %g%% of a CPU)\n",
		any ? "" : "?", h->stacks_threshold * 100, h->stacks_gap, h->stacks_budget * 100);
}

void report_stacks_text(const struct run *run, struct strbuf *out)
{
	strbuf_addstr(out, "log       ");
	text_escape(out, run->path ? run->path : "", run->path ? strlen(run->path) : 0,
		    TEXT_WIDTH - 10);
	strbuf_addch(out, '\n');
	if (!report_has_stacks(run)) {
		strbuf_addstr(out, "no stacks: the log was recorded without --stacks\n");
		return;
	}
	strbuf_addstr(out, "stacks    ");
	add_counts(run, true, out);
	strbuf_addch(out, '\n');
	if (run->header.stacks_when)
		add_asked(&run->header, out);
	const struct run_stacks *st = &run->stacks;
	bool *shown = st->n_groups ? calloc(st->n_groups, sizeof(*shown)) : NULL;
	if (st->n_groups && !shown) {
		out->oom = true;
		return;
	}
	long peak = run_peak_capture(run);
	if (peak >= 0) {
		strbuf_addstr(out, "\nat the job's peak");
		if (run->job_peak >= 0) {
			strbuf_addstr(out, " (");
			text_bytes(out, text_kib_bytes(run->job_peak));
			strbuf_addf(out, " at %.3f s)", run->job_peak_t);
		}
		strbuf_addstr(out, ": ");
		add_capture(run, &st->captures[peak], shown, out);
		strbuf_addstr(out, "\ncaptures in time order\n");
	}
	for (size_t i = 0; i < st->n_captures && i < CAPTURE_ROWS; i++)
		add_capture(run, &st->captures[i], shown, out);
	if (st->n_captures > CAPTURE_ROWS)
		strbuf_addf(out,
			    "… and %zu more captures (memline export --folded counts every "
			    "stack)\n",
			    st->n_captures - CAPTURE_ROWS);
	free(shown);
}

/* ---- JSON ---- */

void report_json_capture(const struct run *run, const struct run_capture *c, struct strbuf *out)
{
	strbuf_addstr(out, "{\"t\":");
	strbuf_add_json_secs(out, c->t);
	strbuf_add_json_key(out, "capture");
	strbuf_add_json_i64(out, c->number);
	strbuf_add_json_key(out, "why");
	strbuf_add_json_str(out, stack_why_names[c->why]);
	strbuf_add_json_key(out, "label");
	if (c->label)
		strbuf_add_json_strn(out, c->label, c->label_len);
	else
		strbuf_addstr(out, "null");
	strbuf_add_json_key(out, "pid");
	strbuf_add_json_i64(out, c->pid);
	strbuf_addstr(out, ",\"threads\":[");
	struct strbuf name = STRBUF_INIT;
	for (size_t k = 0; k < c->n_stacks; k++) {
		const struct run_stack *s = &c->stacks[k];
		const struct run_stack_group *g = &run->stacks.groups[s->group];
		strbuf_addstr(out, k ? ",{\"tid\":" : "{\"tid\":");
		strbuf_add_json_i64(out, s->tid);
		strbuf_add_json_key(out, "thread");
		if (s->thread)
			strbuf_add_json_str(out, s->thread);
		else
			strbuf_addstr(out, "null");
		strbuf_addstr(out, ",\"frames\":[");
		for (size_t f = 0; f < g->n_frames; f++) {
			strbuf_reset(&name);
			run_frame_name_raw(run_stacks_frame(&run->stacks, s->group, f), &name);
			if (f)
				strbuf_addch(out, ',');
			strbuf_add_json_strn(out, name.buf ? name.buf : "", name.len);
		}
		strbuf_addstr(out, "],\"truncated\":");
		strbuf_add_json_bool(out, s->truncated);
		strbuf_add_json_key(out, "error");
		if (s->error)
			strbuf_add_json_str(out, s->error);
		else
			strbuf_addstr(out, "null");
		strbuf_addch(out, '}');
	}
	strbuf_release(&name);
	strbuf_addstr(out, "]}");
}

void report_json_stacks(const struct run *run, struct strbuf *out)
{
	strbuf_add_json_key(out, "stacks");
	if (!report_has_stacks(run)) {
		strbuf_addstr(out, "null");
		return;
	}
	const struct stack_counts *c = &run->end.stacks;
	bool end = c->captures >= 0;
	strbuf_addstr(out, "{\"captures\":");
	strbuf_add_json_i64(out, end ? c->captures : (long long)run->stacks.n_captures);
	strbuf_add_json_key(out, "skipped");
	strbuf_add_json_opt(out, end ? c->skipped : -1);
	strbuf_add_json_key(out, "failed");
	strbuf_add_json_opt(out, end ? c->failed : -1);
	strbuf_add_json_key(out, "cpu");
	if (end)
		strbuf_add_json_secs(out, c->cpu);
	else
		strbuf_addstr(out, "null");
	strbuf_add_json_key(out, "in_log");
	strbuf_add_json_u64(out, run->stacks.n_captures);
	strbuf_add_json_key(out, "distinct");
	strbuf_add_json_u64(out, run->stacks.n_groups);
	strbuf_add_json_key(out, "peak");
	long peak = run_peak_capture(run);
	if (peak >= 0)
		report_json_capture(run, &run->stacks.captures[peak], out);
	else
		strbuf_addstr(out, "null");
	strbuf_addch(out, '}');
}
