/*
 * export: the CSV, Chrome trace (Perfetto) and gnuplot exports of a run. Each one walks the
 * model of run.h once, in log order, appending to an export_out that hands full chunks to
 * the caller's flush function as it goes. Text from the log (command lines, labels, span
 * names) is escaped for the format it lands in: RFC 4180 quoting and valid UTF-8 for CSV,
 * JSON escaping for the trace, and for gnuplot double-quoted strings with nothing in them
 * that gnuplot would expand (backquotes run shell commands even inside quotes).
 */
#include "render/export.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/report.h"
#include "model/series.h"

#define CHUNK	       (64 * 1024)
#define GP_MAX_EVENTS  100 /* events drawn on the gnuplot plot, at most */
#define GP_MAX_SPANS   100
#define GP_LABEL_CHARS 40
#define GP_TITLE_CHARS 90

/* ---- the output ---- */

void export_out_init(struct export_out *o, export_flush_fn *flush, void *data)
{
	strbuf_init(&o->buf);
	o->flush = flush;
	o->data = data;
	o->error = 0;
}

void export_out_hand_over(struct export_out *o, bool all)
{
	if (!o->flush || (!all && o->buf.len < CHUNK))
		return;
	if (o->buf.oom && !o->error)
		o->error = ENOMEM;
	if (!o->error && o->buf.len && o->flush(o->data, o->buf.buf, o->buf.len) < 0)
		o->error = errno ? errno : EIO;
	strbuf_reset(&o->buf);
}

int export_out_finish(struct export_out *o)
{
	export_out_hand_over(o, true);
	if (!o->error && o->buf.oom)
		o->error = ENOMEM;
	return o->error ? -1 : 0;
}

void export_out_release(struct export_out *o)
{
	strbuf_release(&o->buf);
}

/* ---- shared helpers ---- */

/* Seconds to whole microseconds, the trace's unit. */
static long long usecs(double t)
{
	if (!isfinite(t))
		return 0;
	return llround(t * 1e6);
}

/* export_clean: "plain" is for gnuplot, where a backquote would run a command. */
void export_clean(struct strbuf *sb, const char *s, size_t len, bool plain, size_t cols)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;
	for (size_t i = 0; i < len;) {
		if (cols && chars == cols - 1) {
			/* room for one more: the last character, or "…" if more follow */
			uint32_t cp;
			size_t n = utf8_decode(p + i, len - i, &cp);
			if (i + (n ? n : 1) < len) {
				strbuf_addstr(sb, "…");
				return;
			}
		}
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (!n) {
			strbuf_addstr(sb, "\xef\xbf\xbd");
			i++;
		} else if (plain && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))) {
			strbuf_addch(sb, '?');
			i += n;
		} else if (plain && cp == '`') {
			strbuf_addch(sb, '\'');
			i += n;
		} else {
			strbuf_add(sb, p + i, n);
			i += n;
		}
		chars++;
	}
}

/* A process's command line, as the reports show it. */
static void proc_cmd(const struct run *run, size_t i, struct strbuf *out)
{
	run_proc_cmd(run, i, out);
}

/* ---- CSV ---- */

void export_csv_field(struct strbuf *out, const char *s, size_t len)
{
	struct strbuf clean = STRBUF_INIT;
	export_clean(&clean, s, len, false, 0);
	const char *c = clean.buf ? clean.buf : "";
	bool quote = clean.len && (c[0] == ' ' || c[clean.len - 1] == ' ');
	for (size_t i = 0; i < clean.len && !quote; i++)
		quote = c[i] == ',' || c[i] == '"' || c[i] == '\r' || c[i] == '\n';
	if (!quote) {
		strbuf_add(out, c, clean.len);
	} else {
		strbuf_addch(out, '"');
		for (size_t i = 0; i < clean.len; i++) {
			if (c[i] == '"')
				strbuf_addch(out, '"');
			strbuf_addch(out, c[i]);
		}
		strbuf_addch(out, '"');
	}
	out->oom |= clean.oom;
	strbuf_release(&clean);
}

void export_csv_num(struct strbuf *out, long long v)
{
	strbuf_addch(out, ',');
	if (v >= 0)
		strbuf_addf(out, "%lld", v);
}

void export_csv(const struct run *run, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	bool job = run_measures_job(run);
	bool heap = run->header.heap != HEAP_OFF; /* a heap column only where it was counted */
	strbuf_addstr(sb, "t,pid,ppid,cmd");
	for (int f = PF_PID + 1; f < PROC_NFIELDS; f++)
		if (f != PF_HEAP || heap)
			strbuf_addf(sb, ",%s", proc_field_names[f]);
	strbuf_addstr(sb, job ? ",job,job_peak,state\n" : ",state\n");

	/* the cmd cell of each process, made once */
	struct strbuf *cmds = calloc(run->n_procs ? run->n_procs : 1, sizeof(*cmds));
	if (!cmds) {
		sb->oom = true;
		return;
	}
	for (size_t i = 0; i < run->n_procs; i++) {
		struct strbuf cmd = STRBUF_INIT;
		proc_cmd(run, i, &cmd);
		export_csv_field(&cmds[i], cmd.buf ? cmd.buf : "", cmd.len);
		sb->oom |= cmd.oom || cmds[i].oom;
		strbuf_release(&cmd);
	}
	for (size_t k = 0; k < run->n_samples; k++) {
		const struct run_sample *s = &run->samples[k];
		for (size_t j = s->first; j < s->first + s->n && j < run->n_proc_samples; j++) {
			const struct run_proc_sample *ps = run_ps(run, j);
			const struct run_proc *p = &run->procs[ps->proc];
			strbuf_addf(sb, "%.3f,%d,", s->t, (int)p->pid);
			if (p->ppid >= 0)
				strbuf_addf(sb, "%d", (int)p->ppid);
			strbuf_addch(sb, ',');
			strbuf_add(sb, cmds[ps->proc].buf ? cmds[ps->proc].buf : "",
				   cmds[ps->proc].len);
			for (int f = PF_PID + 1; f < PROC_NFIELDS; f++)
				if (f != PF_HEAP || heap)
					export_csv_num(sb,
						       run_ps_value(run, ps, (enum proc_field)f));
			if (job) { /* the sample's: the same on each of its rows */
				export_csv_num(sb, run_sample_job(s));
				export_csv_num(sb, run_sample_job_peak(s));
			}
			strbuf_addch(sb, ',');
			if (ps->state)
				export_csv_field(sb, &ps->state, 1);
			strbuf_addch(sb, '\n');
			export_out_hand_over(out, false);
		}
	}
	for (size_t i = 0; i < run->n_procs; i++)
		strbuf_release(&cmds[i]);
	free(cmds);
}

/* A thread row of the run: thread th's point pt. */
struct th_row {
	double t;
	size_t th, pt;
};

static int cmp_th_row(const void *a, const void *b)
{
	const struct th_row *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->th != y->th)
		return x->th < y->th ? -1 : 1;
	return x->pt < y->pt ? -1 : x->pt > y->pt;
}

void export_csv_threads(const struct run *run, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	const struct run_threads *th = &run->threads;
	/* the log's names of the fields (thread_field_names), each written below */
	strbuf_addstr(sb, "t,pid,tid,thread,utime,stime,heap,heap_peak,alloc,freed,nalloc,nfree,"
			  "mmap\n");
	size_t n = 0;
	for (size_t i = 0; i < th->n; i++)
		n += th->v[i].n_pts;
	struct th_row *rows = malloc((n ? n : 1) * sizeof(*rows));
	struct strbuf *names = calloc(th->n ? th->n : 1, sizeof(*names));
	if (!rows || !names) {
		sb->oom = true;
		goto out;
	}
	for (size_t i = 0, k = 0; i < th->n; i++) {
		const struct run_th *x = &th->v[i];
		for (size_t j = 0; j < x->n_pts; j++)
			rows[k++] = (struct th_row){x->pts[j].t, i, j};
		export_csv_field(&names[i], x->name, strlen(x->name));
		sb->oom |= names[i].oom;
	}
	/* by time; a sample's rows by the order the log first told of their threads */
	qsort(rows, n, sizeof(*rows), cmp_th_row);
	for (size_t k = 0; k < n; k++) {
		const struct run_th *x = &th->v[rows[k].th];
		const struct run_th_point *p = &x->pts[rows[k].pt];
		strbuf_addf(sb, "%.3f,%d,%d,", p->t, (int)run->procs[x->proc].pid, (int)x->tid);
		strbuf_add(sb, names[rows[k].th].buf ? names[rows[k].th].buf : "",
			   names[rows[k].th].len);
		export_csv_num(sb, p->utime);
		export_csv_num(sb, p->stime);
		export_csv_num(sb, p->heap);
		export_csv_num(sb, p->heap_peak);
		export_csv_num(sb, p->alloc);
		export_csv_num(sb, p->freed);
		export_csv_num(sb, p->nalloc);
		export_csv_num(sb, p->nfree);
		export_csv_num(sb, p->mmap);
		strbuf_addch(sb, '\n');
		export_out_hand_over(out, false);
	}
out:
	for (size_t i = 0; names && i < th->n; i++)
		strbuf_release(&names[i]);
	free(names);
	free(rows);
}

/* ---- Chrome trace event JSON ---- */

static void trace_counter(struct strbuf *sb, const char *name, pid_t pid, double t, long long bytes)
{
	strbuf_addf(sb,
		    ",\n{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":%lld,"
		    "\"args\":{\"bytes\":%lld}}",
		    name, (int)pid, (int)pid, usecs(t), bytes);
}

static void trace_meta(struct strbuf *sb, pid_t pid, const char *name, int sort_index)
{
	strbuf_addf(sb,
		    ",\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":%d,"
		    "\"args\":{\"name\":",
		    (int)pid, (int)pid);
	strbuf_add_json_str(sb, name);
	strbuf_addf(sb,
		    "}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,"
		    "\"tid\":%d,\"args\":{\"sort_index\":%d}}",
		    (int)pid, (int)pid, sort_index);
}

/*
 * For each process, the next process that had its pid (SIZE_MAX: none), and whether it is the
 * first to have it: pids reused by later processes chain them in log order. One pass over the
 * processes with a table of pids (open addressing, each pid's last process so far): linear in
 * the processes, where scanning the earlier ones for each was quadratic (16 s for 100,000).
 * Returns false when out of memory.
 */
static bool pid_chains(const struct run *run, size_t *next, bool *first)
{
	size_t cap = 64;
	while (cap < 2 * run->n_procs)
		cap *= 2;
	size_t *last = malloc(cap * sizeof(*last)); /* process index + 1, 0 for an empty slot */
	if (!last)
		return false;
	memset(last, 0, cap * sizeof(*last));
	for (size_t i = 0; i < run->n_procs; i++) {
		pid_t pid = run->procs[i].pid;
		size_t h = ((size_t)(unsigned)pid * 2654435761u) & (cap - 1);
		while (last[h] && run->procs[last[h] - 1].pid != pid)
			h = (h + 1) & (cap - 1);
		next[i] = SIZE_MAX;
		first[i] = !last[h];
		if (last[h])
			next[last[h] - 1] = i;
		last[h] = i + 1;
	}
	free(last);
	return true;
}

/* process_name for every pid: its command, or the commands of all that held it. */
static void trace_names(const struct run *run, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	struct strbuf name = STRBUF_INIT;
	strbuf_addstr(&name, "memline: whole tree");
	if (run->header.command) {
		strbuf_addstr(&name, " (");
		run_command(run, &name);
		strbuf_addch(&name, ')');
	}
	if (run_measures_job(run))
		strbuf_addf(&name, "; job: %s", report_method_words(run->header.method, true));
	trace_meta(sb, EXPORT_TREE_PID, name.buf, 0);
	size_t n = run->n_procs ? run->n_procs : 1;
	size_t *next = malloc(n * sizeof(*next));
	bool *first = malloc(n * sizeof(*first));
	if (!next || !first || !pid_chains(run, next, first)) {
		sb->oom = true;
		goto out;
	}
	for (size_t i = 0; i < run->n_procs; i++) {
		if (!first[i])
			continue;
		strbuf_reset(&name);
		for (size_t j = i; j != SIZE_MAX; j = next[j]) {
			if (name.len)
				strbuf_addstr(&name, " | ");
			proc_cmd(run, j, &name);
		}
		trace_meta(sb, run->procs[i].pid, name.buf ? name.buf : "", (int)i + 1);
		export_out_hand_over(out, false);
	}
out:
	sb->oom |= name.oom;
	strbuf_release(&name);
	free(next);
	free(first);
}

void export_perfetto(const struct run *run, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	/* the first element is a harmless metadata event, so every other one starts with ",\n" */
	strbuf_addf(sb,
		    "{\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,"
		    "\"tid\":%d,\"args\":{\"name\":\"memline\"}}",
		    EXPORT_TREE_PID, EXPORT_TREE_PID);
	trace_names(run, out);

	/* the job's memory, on the tree's pseudo-process: where the log measured it itself */
	bool job_track = run_measures_job(run);
	for (size_t k = 0; k < run->n_samples; k++) {
		const struct run_sample *s = &run->samples[k];
		long long tree = text_kib_bytes(s->tree.v[TF_RSS]);
		if (tree >= 0)
			trace_counter(sb, "rss", EXPORT_TREE_PID, s->t, tree);
		long long job = job_track ? text_kib_bytes(run_sample_job(s)) : -1;
		long long job_peak = job_track ? text_kib_bytes(run_sample_job_peak(s)) : -1;
		if (job >= 0)
			trace_counter(sb, "job", EXPORT_TREE_PID, s->t, job);
		if (job_peak >= 0)
			trace_counter(sb, "job_peak", EXPORT_TREE_PID, s->t, job_peak);
		for (size_t j = s->first; j < s->first + s->n && j < run->n_proc_samples; j++) {
			const struct run_proc_sample *ps = run_ps(run, j);
			long long b = text_kib_bytes(run_ps_value(run, ps, PF_RSS));
			if (b >= 0)
				trace_counter(sb, "rss", run->procs[ps->proc].pid, s->t, b);
		}
		export_out_hand_over(out, false);
	}
	/* an exited process holds no memory: its track drops to 0 rather than stay up */
	for (size_t i = 0; i < run->n_procs; i++) {
		const struct run_proc *p = &run->procs[i];
		if (p->exited && p->first_sample >= 0 && p->end >= 0)
			trace_counter(sb, "rss", p->pid, p->end, 0);
	}

	for (size_t i = 0; i < run->n_events; i++) {
		const struct run_event *e = &run->events[i];
		bool known = e->pid > 0 && run_proc_by_pid(run, e->pid) >= 0;
		pid_t pid = known ? e->pid : EXPORT_TREE_PID;
		pid_t tid = known && e->tid > 0 ? e->tid : pid;
		strbuf_addstr(sb, ",\n{\"ph\":\"i\",\"name\":");
		strbuf_add_json_strn(sb, e->label ? e->label : "", e->label ? e->label_len : 0);
		strbuf_addf(sb, ",\"cat\":\"event\",\"s\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":%lld",
			    known ? "p" : "g", (int)pid, (int)tid, usecs(e->t));
		long long rss = text_kib_bytes(e->rss);
		if (rss >= 0)
			strbuf_addf(sb, ",\"args\":{\"rss\":%lld}", rss);
		strbuf_addch(sb, '}');
		export_out_hand_over(out, false);
	}

	for (size_t i = 0; i < run->n_spans; i++) {
		const struct run_span *s = &run->spans[i];
		pid_t pid = s->pid > 0 ? s->pid : EXPORT_TREE_PID;
		pid_t tid = s->pid > 0 && s->tid > 0 ? s->tid : pid;
		long long ts = usecs(s->start), end = usecs(s->end);
		strbuf_addstr(sb, ",\n{\"ph\":\"X\",\"name\":");
		strbuf_add_json_strn(sb, s->name ? s->name : "", s->name ? s->name_len : 0);
		strbuf_addf(sb,
			    ",\"cat\":\"span\",\"pid\":%d,\"tid\":%d,\"ts\":%lld,\"dur\":%lld,"
			    "\"args\":{\"peak_rss\":",
			    (int)pid, (int)tid, ts, end > ts ? end - ts : 0);
		strbuf_add_json_opt(sb, text_kib_bytes(s->peak));
		strbuf_addstr(sb, ",\"rss_change\":");
		if (s->has_rss_change && s->rss_change > LLONG_MIN / 1024 &&
		    s->rss_change < LLONG_MAX / 1024)
			strbuf_add_json_i64(sb, s->rss_change * 1024);
		else
			strbuf_addstr(sb, "null");
		strbuf_addstr(sb, ",\"open\":");
		strbuf_add_json_bool(sb, s->open);
		strbuf_addstr(sb, "}}");
		export_out_hand_over(out, false);
	}
	export_perfetto_stacks(run, out);
	strbuf_addstr(sb, "\n],\"displayTimeUnit\":\"ms\"}\n");
}

/* ---- gnuplot ---- */

/* A process's name in a column or legend: "pid 123 python3 train.py", cleaned and cut. */
static void gp_proc_name(const struct run *run, int i, struct strbuf *out, size_t cols)
{
	struct strbuf cmd = STRBUF_INIT, s = STRBUF_INIT;
	proc_cmd(run, (size_t)i, &cmd);
	strbuf_addf(&s, "pid %d %s", (int)run->procs[i].pid, cmd.buf ? cmd.buf : "");
	export_clean(out, s.buf ? s.buf : "", s.len, true, cols);
	out->oom |= cmd.oom || s.oom;
	strbuf_release(&cmd);
	strbuf_release(&s);
}

/* The series the gnuplot export draws: RSS, the tree and the top processes (series.h). */
static bool gp_series(const struct run *run, int top, struct series_set *set, struct strbuf *sb)
{
	if (series_set_build(set, run, SERIES_RSS, top > 0 ? top : 0) < 0) {
		sb->oom = true;
		return false;
	}
	return true;
}

void export_gnuplot_dat(const struct run *run, int top, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	struct series_set set = SERIES_SET_INIT;
	struct series_table tab = SERIES_TABLE_INIT;
	if (!gp_series(run, top, &set, sb))
		return;
	if (series_table_build(&tab, &set, SIZE_MAX) < 0) {
		sb->oom = true;
		series_set_release(&set);
		return;
	}
	struct strbuf cmd = STRBUF_INIT;
	run_command(run, &cmd);
	strbuf_addstr(sb,
		      "# memline.dat: the memory of a recorded run, from memline export --gnuplot\n"
		      "# log: ");
	export_clean(sb, run->path ? run->path : "", run->path ? strlen(run->path) : 0, true, 0);
	strbuf_addstr(sb, "\n# command: ");
	export_clean(sb, cmd.buf ? cmd.buf : "", cmd.len, true, 0);
	if (set.job)
		strbuf_addf(sb,
			    "\n# memory in KiB, NaN where a process was not alive; columns:\n"
			    "# 1 time (s)\n# 2 the job's memory (%s)\n",
			    report_method_words(set.method, false));
	else
		strbuf_addstr(sb, "\n# RSS in KiB, NaN where a process was not alive; columns:\n"
				  "# 1 time (s)\n# 2 tree total\n");
	for (size_t k = 1; k < set.n; k++) {
		strbuf_addf(sb, "# %zu ", k + 2);
		if (set.s[k].kind == SERIES_OTHER)
			strbuf_addstr(sb, "other processes, summed");
		else if (set.s[k].kind == SERIES_TREE)
			strbuf_addstr(sb, "RSS sum: each process's RSS added up, shared pages once "
					  "per process");
		else
			gp_proc_name(run, set.s[k].proc, sb, 0);
		strbuf_addch(sb, '\n');
	}
	for (size_t i = 0; i < tab.n; i++) {
		strbuf_addf(sb, "%.3f", tab.t[i]);
		for (size_t k = 0; k < tab.ns; k++) {
			if (isnan(tab.v[k][i]))
				strbuf_addstr(sb, " NaN");
			else
				strbuf_addf(sb, " %.0f", tab.v[k][i]);
		}
		strbuf_addch(sb, '\n');
		export_out_hand_over(out, false);
	}
	sb->oom |= cmd.oom;
	strbuf_release(&cmd);
	series_table_release(&tab);
	series_set_release(&set);
}

/*
 * A gnuplot double-quoted string of text from the log: backslash and quote escaped. (Doubled
 * quotes inside single quotes trip gnuplot 5.4's tokenizer when several follow each other.)
 */
static void gp_str(struct strbuf *out, const char *s, size_t len, size_t cols)
{
	struct strbuf clean = STRBUF_INIT;
	export_clean(&clean, s, len, true, cols);
	strbuf_addch(out, '"');
	for (size_t i = 0; i < clean.len; i++) {
		if (clean.buf[i] == '"' || clean.buf[i] == '\\')
			strbuf_addch(out, '\\');
		strbuf_addch(out, clean.buf[i]);
	}
	strbuf_addch(out, '"');
	out->oom |= clean.oom;
	strbuf_release(&clean);
}

/* A number for the script: always a plain decimal, never "nan" or "inf". */
static void gp_num(struct strbuf *out, double v)
{
	strbuf_addf(out, "%.6g", isfinite(v) ? v : 0.0);
}

static const char *const gp_colors[] = {
	"#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#ee8866",
};
#define GP_NCOLORS (sizeof(gp_colors) / sizeof(gp_colors[0]))

/* The time unit of the x axis: seconds, minutes, hours or days, by the run's length. */
static double gp_time_unit(double dur, const char **unit)
{
	*unit = dur >= 2 * 86400 ? "d" : dur >= 2 * 3600 ? "h" : dur >= 120 ? "min" : "s";
	return dur >= 2 * 86400 ? 86400 : dur >= 2 * 3600 ? 3600 : dur >= 120 ? 60 : 1;
}

/* The script's start: where the data is, the terminal, the title and the axes. */
static void gp_header(const struct run *run, bool job, double dur, double peak_mib,
		      struct strbuf *sb)
{
	const char *unit;
	double tu = gp_time_unit(dur, &unit);
	strbuf_addstr(sb, "# memline.plt: draws memline.dat, beside this script, to memline.png "
			  "beside it:\n#   gnuplot DIR/memline.plt\n# Written by memline export "
			  "--gnuplot; needs gnuplot 5 with the pngcairo terminal.\n"
			  "f = ARG0; i = strlen(f); while (i > 0 && f[i:i] ne '/') { i = i - 1 }\n"
			  "dir = i > 0 ? f[1:i] : ''\n"
			  "set terminal pngcairo size 1280,720 noenhanced font 'sans,10'\n"
			  "set output dir.'memline.png'\n");
	struct strbuf title = STRBUF_INIT;
	strbuf_addstr(&title, "memline: ");
	run_command(run, &title);
	strbuf_addstr(sb, "set title ");
	gp_str(sb, title.buf, title.len, GP_TITLE_CHARS);
	strbuf_addf(sb, "\ntu = ");
	gp_num(sb, tu);
	strbuf_addf(sb, "\nset xlabel 'time (%s)'\nset ylabel '%s (MiB)'\n", unit,
		    job ? "memory" : "RSS");
	strbuf_addstr(sb, "set datafile missing 'NaN'\nset grid\nset key outside right top\n"
			  "set xrange [0:");
	gp_num(sb, dur / tu);
	strbuf_addstr(sb, "]\nset yrange [0:");
	gp_num(sb, peak_mib * 1.25);
	strbuf_addstr(sb, "]\n");
	sb->oom |= title.oom;
	strbuf_release(&title);
}

/* Spans: shaded bands, their names at the top, stacked by depth. Returns the next tag. */
static int gp_spans(const struct run *run, int tag, struct strbuf *sb)
{
	strbuf_addstr(sb, "# spans\n");
	for (size_t i = 0; i < run->n_spans && i < GP_MAX_SPANS; i++, tag++) {
		const struct run_span *s = &run->spans[i];
		int depth = s->depth < 5 ? s->depth : 5;
		strbuf_addf(sb, "set object %d rectangle from ", tag);
		gp_num(sb, s->start);
		strbuf_addstr(sb, "/tu, graph 0 to ");
		gp_num(sb, s->end > s->start ? s->end : s->start);
		strbuf_addf(sb,
			    "/tu, graph 1 behind fillcolor rgb '%s' fillstyle transparent "
			    "solid 0.10 noborder\n",
			    gp_colors[i % GP_NCOLORS]);
		strbuf_addf(sb, "set label %d ", tag);
		gp_str(sb, s->name ? s->name : "", s->name ? s->name_len : 0, GP_LABEL_CHARS);
		strbuf_addstr(sb, " at ");
		gp_num(sb, s->start);
		strbuf_addf(sb,
			    "/tu, graph %.2f left offset 0.5,0 font ',8' textcolor rgb '#555555'\n",
			    0.97 - 0.04 * depth);
	}
	if (run->n_spans > GP_MAX_SPANS)
		strbuf_addf(sb, "# %zu more spans not drawn\n", run->n_spans - GP_MAX_SPANS);
	return tag;
}

/*
 * Events: an arrow up to the tree's line, the label rotated beside it; labels of events close
 * in time step right so that they do not print over each other. Returns the next tag.
 */
static int gp_events(const struct run *run, const struct series *tree, double dur, int tag,
		     struct strbuf *sb)
{
	strbuf_addstr(sb, "# events\n");
	double last_t = -INFINITY;
	int stack = 0;
	for (size_t i = 0; i < run->n_events && i < GP_MAX_EVENTS; i++, tag++) {
		const struct run_event *e = &run->events[i];
		double y = fmax(series_at(tree, e->t), 0) / 1024.0;
		stack = e->t - last_t < dur / 100 ? stack + 1 : 0;
		last_t = e->t;
		strbuf_addf(sb, "set arrow %d from ", tag);
		gp_num(sb, e->t);
		strbuf_addstr(sb, "/tu, graph 0 to ");
		gp_num(sb, e->t);
		strbuf_addstr(sb, "/tu, first ");
		gp_num(sb, y);
		strbuf_addstr(sb, " nohead dashtype 2 linecolor rgb '#aa3377'\n");
		strbuf_addf(sb, "set label %d ", tag);
		gp_str(sb, e->label ? e->label : "", e->label ? e->label_len : 0, GP_LABEL_CHARS);
		strbuf_addstr(sb, " at ");
		gp_num(sb, e->t);
		strbuf_addstr(sb, "/tu, first ");
		gp_num(sb, y);
		strbuf_addf(sb,
			    " rotate by 60 left offset %.1f,0.3 point pointtype 7 pointsize "
			    "0.6 linecolor rgb '#aa3377' font ',8' textcolor rgb '#aa3377'\n",
			    0.3 + 1.2 * (stack % 4));
	}
	if (run->n_events > GP_MAX_EVENTS)
		strbuf_addf(sb, "# %zu more events not drawn\n", run->n_events - GP_MAX_EVENTS);
	return tag;
}

/*
 * The peak, marked where it was (the job's, when the job's memory leads), and how the run
 * ended, in red when it went wrong.
 */
static void gp_peak_and_ending(const struct run *run, bool job, double peak_mib, int tag,
			       struct strbuf *sb)
{
	long long peak = job ? run->job_peak : run->peak;
	double peak_t = job ? run->job_peak_t : run->peak_t;
	if (peak >= 0) {
		struct strbuf s = STRBUF_INIT;
		strbuf_addstr(&s, "peak ");
		text_bytes(&s, text_kib_bytes(peak));
		strbuf_addstr(&s, " at ");
		text_secs(&s, peak_t);
		strbuf_addf(sb, "set label %d ", tag++);
		gp_str(sb, s.buf, s.len, 0);
		strbuf_addstr(sb, " at ");
		gp_num(sb, peak_t);
		strbuf_addstr(sb, "/tu, first ");
		gp_num(sb, peak_mib);
		strbuf_addstr(sb, " center offset 0,1 point pointtype 6 pointsize 1.2 front\n");
		sb->oom |= s.oom;
		strbuf_release(&s);
	}
	struct strbuf ending = STRBUF_INIT;
	report_ending(run, &ending);
	bool bad = run->status != RUN_COMPLETED;
	strbuf_addf(sb, "set label %d ", tag);
	gp_str(sb, ending.buf ? ending.buf : "", ending.len, GP_TITLE_CHARS);
	strbuf_addf(sb, " at graph 0.01, graph 0.03 left front textcolor rgb '%s'\n",
		    bad ? "#cc0000" : "#555555");
	sb->oom |= ending.oom;
	strbuf_release(&ending);
}

/*
 * The plot command: the leading line (the job's memory, else the tree's), the RSS sum beside a
 * job line (lighter), the top processes' and "other", from memline.dat.
 */
static void gp_lines(const struct run *run, const struct series_set *set, struct strbuf *sb)
{
	if (set->job)
		strbuf_addf(sb,
			    "plot dir.'memline.dat' using ($1/tu):($2/1024) with lines linewidth 2 "
			    "linecolor rgb '#222222' title 'the job''s memory: %s'",
			    report_method_words(set->method, true));
	else
		strbuf_addstr(sb,
			      "plot dir.'memline.dat' using ($1/tu):($2/1024) with lines linewidth "
			      "2 linecolor rgb '#222222' title 'tree total'");
	for (size_t k = 1; k < set->n; k++) {
		if (set->s[k].kind == SERIES_TREE) {
			strbuf_addf(
				sb,
				", \\\n     '' using ($1/tu):($%zu/1024) with lines linewidth 1.5 "
				"linecolor rgb '#999999' title 'RSS sum'",
				k + 2);
			continue;
		}
		if (set->s[k].kind == SERIES_OTHER) {
			strbuf_addf(
				sb,
				", \\\n     '' using ($1/tu):($%zu/1024) with lines linewidth 1 "
				"dashtype 3 linecolor rgb '#888888' title 'other'",
				k + 2);
			continue;
		}
		struct strbuf name = STRBUF_INIT;
		gp_proc_name(run, set->s[k].proc, &name, GP_LABEL_CHARS);
		strbuf_addf(sb,
			    ", \\\n     '' using ($1/tu):($%zu/1024) with lines linewidth 1 "
			    "linecolor rgb '%s' title ",
			    k + 2, gp_colors[(k - 1) % GP_NCOLORS]);
		gp_str(sb, name.buf ? name.buf : "", name.len, 0);
		sb->oom |= name.oom;
		strbuf_release(&name);
	}
	strbuf_addch(sb, '\n');
}

void export_gnuplot_plt(const struct run *run, int top, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	struct series_set set = SERIES_SET_INIT;
	if (!gp_series(run, top, &set, sb))
		return;
	double dur = run->duration > 0 ? run->duration : 1;
	/* the y range holds the marked peak and every line drawn (the RSS sum beside a job's) */
	long long mark = set.job ? run->job_peak : run->peak;
	double ymax = (double)mark;
	for (size_t k = 0; set.job && k < set.n; k++)
		ymax = fmax(ymax, set.s[k].peak);
	double peak_mib = ymax > 0 ? ymax / 1024.0 : 1;
	double mark_mib = mark > 0 ? mark / 1024.0 : 1;
	gp_header(run, set.job, dur, peak_mib, sb);
	int tag = gp_spans(run, 1, sb);
	tag = gp_events(run, &set.s[0], dur, tag, sb);
	gp_peak_and_ending(run, set.job, mark_mib, tag, sb);
	gp_lines(run, &set, sb);
	series_set_release(&set);
}
