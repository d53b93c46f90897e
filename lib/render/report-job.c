/*
 * report-job: the report of many logs as one job (model/job.h): how the job ended and which
 * rank ended it, its peak (the nodes summed on the wall clock), each node, the ranks by peak
 * against the median (imbalance), the logs that are missing or cut off, the clocks' quality,
 * and a timeline of the job's memory with the band across ranks. Text for people, JSON for
 * scripts (memory in bytes, times in seconds of the job's clock). Every text from a log goes
 * through text_escape.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "render/report.h"
#include "util/text.h"

static void add_kib(struct strbuf *out, long long kib)
{
	if (kib < 0)
		strbuf_addch(out, '?');
	else
		text_bytes(out, text_kib_bytes(kib));
}

static void add_esc(struct strbuf *out, const char *s, size_t cols)
{
	text_escape(out, s ? s : "", s ? strlen(s) : 0, cols);
}

static void add_pad(struct strbuf *out, const struct strbuf *cell, int width)
{
	strbuf_addf(out, "%-*s  ", width, cell->buf ? cell->buf : "");
}

/* The wall clock of job time t, ISO 8601 UTC to the millisecond. */
void report_iso_utc(struct strbuf *out, double unix_t)
{
	time_t s = (time_t)unix_t;
	struct tm tm;
	char buf[40];
	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf_addf(out, "%s.%03dZ", buf, (int)((unix_t - (double)s) * 1000) % 1000);
}

void report_job_who(const struct job *job, const struct job_log *l, struct strbuf *out)
{
	add_esc(out, l->name, 60);
	if (!l->place.node_wide && job->n_nodes > 1) {
		strbuf_addstr(out, " on ");
		add_esc(out, l->host, 60);
	}
}

void report_job_ending(const struct job_log *l, struct strbuf *out)
{
	strbuf_addstr(out, run_status_names[l->status]);
	if (l->oom_pid > 0) {
		strbuf_addf(out, " (pid %d", (int)l->oom_pid);
		if (*l->oom_comm) {
			strbuf_addch(out, ' ');
			add_esc(out, l->oom_comm, 32);
		}
		strbuf_addch(out, ')');
	} else if (l->status == RUN_FAILED && l->exit_code >= 0) {
		strbuf_addf(out, " (exit %d)", l->exit_code);
	} else if (l->status == RUN_KILLED && l->signal > 0) {
		strbuf_addstr(out, " (");
		text_signal(out, l->signal);
		strbuf_addch(out, ')');
	} else if (l->truncated) {
		strbuf_addstr(out, " (its log is cut off)");
	}
}

static void add_summary(const struct job *job, struct strbuf *out)
{
	strbuf_addstr(out, "job");
	if (job->job_id) {
		strbuf_addch(out, ' ');
		add_esc(out, job->job_id, 60);
	}
	if (job->launcher) {
		strbuf_addstr(out, " (");
		add_esc(out, job->launcher, 20);
		strbuf_addch(out, ')');
	}
	strbuf_addf(out, ": %zu log%s", job->n_logs, job->n_logs == 1 ? "" : "s");
	if (job->n_ranks)
		strbuf_addf(out, ", %zu rank%s", job->n_ranks, job->n_ranks == 1 ? "" : "s");
	if (job->size > 0)
		strbuf_addf(out, " of %ld", job->size);
	strbuf_addf(out, " on %zu node%s\n", job->n_nodes, job->n_nodes == 1 ? "" : "s");
	strbuf_addstr(out, "started:  ");
	report_iso_utc(out, job->start_unix);
	strbuf_addstr(out, ", ran ");
	text_secs(out, job->duration);
	strbuf_addstr(out, "\nstatus:   ");
	strbuf_addstr(out, run_status_names[job->status]);
	if (job->worst >= 0 && job->status != RUN_COMPLETED && job->status != RUN_EXITED) {
		const struct job_log *w = &job->logs[job->worst];
		if (job->status == w->status) {
			strbuf_addstr(out, ": ");
			report_job_who(job, w, out);
			strbuf_addch(out, ' ');
			report_job_ending(w, out);
		} else {
			strbuf_addstr(out, ": logs are missing or unreadable (below)");
		}
	}
	strbuf_addstr(out, "\npeak:     ");
	add_kib(out, job->peak);
	if (job->peak >= 0) {
		strbuf_addstr(out, " at ");
		text_secs(out, job->peak_t);
	}
	strbuf_addf(out, " (the job: %s summed on the wall clock)\n",
		    job->n_nodes > 1 ? "its nodes" : "its logs");
	strbuf_addstr(out, "cpu:      ");
	if (job->cpu_ms >= 0)
		text_secs(out, (double)job->cpu_ms / 1000.0);
	else
		strbuf_addch(out, '?');
	strbuf_addch(out, '\n');
	if (job->n_by_peak > 1 && job->median_peak > 0) {
		const struct job_log *h = &job->logs[job->by_peak[0]];
		strbuf_addstr(out, "heaviest: ");
		report_job_who(job, h, out);
		strbuf_addstr(out, " peaked at ");
		add_kib(out, h->peak);
		strbuf_addf(out, ", %.2fx the median's ",
			    (double)h->peak / (double)job->median_peak);
		add_kib(out, job->median_peak);
		strbuf_addch(out, '\n');
	}
	strbuf_addstr(out, "clocks:   ");
	size_t unsynced = 0, unknown = 0, readable = 0;
	for (size_t i = 0; i < job->n_logs; i++) {
		if (job->logs[i].unreadable)
			continue;
		readable++;
		unsynced += job->logs[i].clock_synced == 0;
		unknown += job->logs[i].clock_synced < 0;
	}
	if (unsynced)
		strbuf_addf(out, "not synchronised on %zu of %zu logs: their times may be off",
			    unsynced, readable);
	else if (unknown == readable)
		strbuf_addstr(out, "unknown (logs before format 4 do not say)");
	else
		strbuf_addstr(out, unknown ? "synchronised where the logs say" : "synchronised");
	if (job->clock_error >= 0) {
		strbuf_addstr(out, ", maximum error ");
		text_secs(out, job->clock_error);
	}
	strbuf_addch(out, '\n');
}

static void add_problems(const struct job *job, struct strbuf *out)
{
	if (job->n_missing_ranks) {
		strbuf_addf(out, "missing:  %zu rank%s with no log:", job->n_missing_ranks,
			    job->n_missing_ranks == 1 ? "" : "s");
		for (size_t i = 0; i < job->n_missing_ranks && i < 20; i++)
			strbuf_addf(out, " %ld", job->missing_ranks[i]);
		if (job->n_missing_ranks > 20)
			strbuf_addstr(out, " ...");
		strbuf_addch(out, '\n');
	}
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (!l->error)
			continue;
		strbuf_addstr(out, l->unreadable ? "unread:   " : "cut off:  ");
		add_esc(out, l->path, 200);
		strbuf_addstr(out, ": ");
		add_esc(out, l->error, 400);
		strbuf_addch(out, '\n');
	}
}

static void add_nodes(const struct job *job, struct strbuf *out)
{
	if (job->n_nodes < 2)
		return;
	strbuf_addstr(out, "\nnodes\n");
	struct strbuf c = STRBUF_INIT;
	strbuf_addstr(out, "  node                  logs  ranks  peak        at          cpu"
			   "         ended\n");
	for (size_t k = 0; k < job->n_nodes; k++) {
		const struct job_node *n = &job->nodes[k];
		strbuf_addstr(out, "  ");
		strbuf_reset(&c);
		add_esc(&c, n->host, 20);
		add_pad(out, &c, 20);
		strbuf_addf(out, "%4zu  %5zu  ", n->n_logs, n->n_ranks);
		strbuf_reset(&c);
		add_kib(&c, n->peak);
		add_pad(out, &c, 10);
		strbuf_reset(&c);
		if (n->peak >= 0)
			text_secs(&c, n->peak_t);
		add_pad(out, &c, 10);
		strbuf_reset(&c);
		if (n->cpu_ms >= 0)
			text_secs(&c, (double)n->cpu_ms / 1000.0);
		add_pad(out, &c, 10);
		if (n->worst >= 0)
			report_job_ending(&job->logs[n->worst], out);
		if (n->whole >= 0)
			strbuf_addstr(out, "  (node-wide log)");
		strbuf_addch(out, '\n');
	}
	strbuf_release(&c);
}

static void add_rank_row(const struct job *job, const struct job_log *l, struct strbuf *out)
{
	struct strbuf c = STRBUF_INIT;
	strbuf_addstr(out, "  ");
	add_esc(&c, l->name, 16);
	add_pad(out, &c, 16);
	strbuf_reset(&c);
	add_esc(&c, l->host, 16);
	add_pad(out, &c, 16);
	strbuf_reset(&c);
	add_kib(&c, l->peak);
	add_pad(out, &c, 10);
	strbuf_reset(&c);
	if (l->peak >= 0)
		text_secs(&c, l->peak_t);
	add_pad(out, &c, 9);
	strbuf_reset(&c);
	if (l->peak >= 0 && job->median_peak > 0)
		strbuf_addf(&c, "%.2fx", (double)l->peak / (double)job->median_peak);
	add_pad(out, &c, 7);
	strbuf_reset(&c);
	if (l->cpu_ms >= 0)
		text_secs(&c, (double)l->cpu_ms / 1000.0);
	add_pad(out, &c, 9);
	report_job_ending(l, out);
	strbuf_addch(out, '\n');
	strbuf_release(&c);
}

static void add_ranks(const struct job *job, size_t top, struct strbuf *out)
{
	if (!job->n_by_peak)
		return;
	size_t shown = job->n_by_peak < top ? job->n_by_peak : top;
	if (shown == job->n_by_peak)
		strbuf_addf(out, "\n%s by peak\n", job->n_ranks ? "ranks" : "logs");
	else
		strbuf_addf(out, "\nthe top %zu of %zu %s by peak (--top N for more)\n", shown,
			    job->n_by_peak, job->n_ranks ? "ranks" : "logs");
	strbuf_addstr(out, "  name              node              peak        at         "
			   "median   cpu        ended\n");
	bool worst_shown = job->worst < 0;
	for (size_t i = 0; i < shown; i++) {
		add_rank_row(job, &job->logs[job->by_peak[i]], out);
		worst_shown |= (long)job->by_peak[i] == job->worst;
	}
	if (!worst_shown && job->status != RUN_COMPLETED && job->status != RUN_EXITED) {
		strbuf_addstr(out, "  ...\n");
		add_rank_row(job, &job->logs[job->worst], out);
	}
}

static void add_timeline(const struct job *job, struct strbuf *out)
{
	if (job->n_bins < 2 || job->peak <= 0)
		return;
	bool band = job->n_by_peak > 1;
	strbuf_addf(out, "\ntimeline (the job's memory%s)\n",
		    band ? "; across ranks: lowest, median, highest" : "");
	const size_t rows = 12;
	struct strbuf c = STRBUF_INIT;
	for (size_t r = 0; r < rows; r++) {
		size_t lo = job->n_bins * r / rows, hi = job->n_bins * (r + 1) / rows;
		long long t = -1, mn = -1, md = -1, mx = -1;
		for (size_t b = lo; b < hi; b++) {
			if (job->total[b] > t)
				t = job->total[b];
			if (job->rank_max[b] > mx)
				mx = job->rank_max[b];
			if (job->rank_median[b] > md)
				md = job->rank_median[b];
			if (job->rank_min[b] >= 0 && (mn < 0 || job->rank_min[b] < mn))
				mn = job->rank_min[b];
		}
		strbuf_addstr(out, "  ");
		strbuf_reset(&c);
		text_secs(&c, (double)lo * job->bin);
		add_pad(out, &c, 9);
		strbuf_reset(&c);
		add_kib(&c, t);
		add_pad(out, &c, 10);
		int w = t > 0 ? (int)(30.0 * (double)t / (double)job->peak + 0.5) : 0;
		for (int i = 0; i < 30; i++)
			strbuf_addstr(out, i < w ? "#" : " ");
		if (band) {
			strbuf_addstr(out, "  ");
			add_kib(out, mn);
			strbuf_addstr(out, " / ");
			add_kib(out, md);
			strbuf_addstr(out, " / ");
			add_kib(out, mx);
		}
		strbuf_addch(out, '\n');
	}
	strbuf_release(&c);
}

void report_job_text(const struct job *job, size_t top, struct strbuf *out)
{
	add_summary(job, out);
	add_problems(job, out);
	add_nodes(job, out);
	add_ranks(job, top ? top : 10, out);
	add_timeline(job, out);
}

void report_job_status(const struct job *job, struct strbuf *out)
{
	strbuf_addf(out, "%s\n", run_status_names[job->status]);
	if (job->worst >= 0 && job->status == job->logs[job->worst].status &&
	    job->status != RUN_COMPLETED && job->status != RUN_EXITED) {
		strbuf_addstr(out, "worst: ");
		report_job_who(job, &job->logs[job->worst], out);
		strbuf_addch(out, ' ');
		report_job_ending(&job->logs[job->worst], out);
		strbuf_addch(out, '\n');
	}
	strbuf_addf(out, "logs: %zu", job->n_logs);
	if (job->n_ranks)
		strbuf_addf(out, ", %zu rank%s", job->n_ranks, job->n_ranks == 1 ? "" : "s");
	strbuf_addf(out, " on %zu node%s\nduration: ", job->n_nodes, job->n_nodes == 1 ? "" : "s");
	text_secs(out, job->duration);
	strbuf_addstr(out, "\npeak memory: ");
	add_kib(out, job->peak);
	if (job->peak >= 0) {
		strbuf_addstr(out, " at ");
		text_secs(out, job->peak_t);
	}
	strbuf_addstr(out, " (the job)\n");
	add_problems(job, out);
}

/* ---- JSON ---- */

static void json_kib(struct strbuf *out, const char *key, long long kib)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_opt(out, kib >= 0 ? text_kib_bytes(kib) : -1);
}

static void json_secs(struct strbuf *out, const char *key, double s, bool known)
{
	strbuf_add_json_key(out, key);
	if (known)
		strbuf_add_json_secs(out, s);
	else
		strbuf_addstr(out, "null");
}

static void json_str(struct strbuf *out, const char *key, const char *s)
{
	strbuf_add_json_key(out, key);
	if (s)
		strbuf_add_json_str(out, s);
	else
		strbuf_addstr(out, "null");
}

static void json_long(struct strbuf *out, const char *key, long v)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_opt(out, v);
}

static void json_who(const struct job *job, const char *key, long i, struct strbuf *out)
{
	strbuf_add_json_key(out, key);
	if (i < 0) {
		strbuf_addstr(out, "null");
		return;
	}
	const struct job_log *l = &job->logs[i];
	strbuf_addch(out, '{');
	json_str(out, "log", l->path);
	json_str(out, "name", l->name);
	json_long(out, "rank", l->place.rank);
	json_str(out, "node", l->host);
	json_str(out, "status", run_status_names[l->status]);
	json_long(out, "pid", l->oom_pid);
	json_str(out, "comm", l->oom_pid > 0 ? l->oom_comm : NULL);
	json_kib(out, "peak", l->peak);
	strbuf_addch(out, '}');
}

static void json_log(const struct job_log *l, struct strbuf *out)
{
	strbuf_addch(out, '{');
	json_str(out, "log", l->path);
	json_str(out, "name", l->name);
	json_long(out, "rank", l->place.rank);
	json_long(out, "local_rank", l->place.local_rank);
	json_str(out, "node", l->host);
	strbuf_add_json_key(out, "node_wide");
	strbuf_add_json_bool(out, l->place.node_wide);
	json_long(out, "format", l->format);
	json_str(out, "status", run_status_names[l->status]);
	json_long(out, "exit_code", l->exit_code);
	json_long(out, "signal", l->signal > 0 ? l->signal : -1);
	strbuf_add_json_key(out, "oom_killed");
	if (l->oom_pid > 0) {
		strbuf_addch(out, '{');
		json_long(out, "pid", l->oom_pid);
		json_str(out, "comm", *l->oom_comm ? l->oom_comm : NULL);
		strbuf_addch(out, '}');
	} else {
		strbuf_addstr(out, "null");
	}
	json_kib(out, "peak", l->peak);
	json_secs(out, "peak_t", l->peak_t, l->peak >= 0);
	json_secs(out, "cpu", (double)l->cpu_ms / 1000.0, l->cpu_ms >= 0);
	json_secs(out, "start", l->start, true);
	json_secs(out, "end", l->end, true);
	strbuf_add_json_key(out, "truncated");
	strbuf_add_json_bool(out, l->truncated);
	json_str(out, "error", l->error);
	json_secs(out, "clock_error", l->clock_error, l->clock_error >= 0);
	json_str(out, "command", l->command);
	strbuf_addch(out, '}');
}

static void json_job(const struct job *job, struct strbuf *out)
{
	strbuf_add_json_key(out, "job");
	strbuf_addch(out, '{');
	json_long(out, "logs", (long)job->n_logs);
	json_long(out, "ranks", (long)job->n_ranks);
	json_long(out, "nodes", (long)job->n_nodes);
	json_str(out, "id", job->job_id);
	json_str(out, "launcher", job->launcher);
	json_long(out, "size", job->size);
	strbuf_add_json_key(out, "missing_ranks");
	strbuf_addch(out, '[');
	for (size_t i = 0; i < job->n_missing_ranks; i++)
		strbuf_addf(out, "%s%ld", i ? "," : "", job->missing_ranks[i]);
	strbuf_addch(out, ']');
	struct strbuf iso = STRBUF_INIT;
	report_iso_utc(&iso, job->start_unix);
	json_str(out, "start", iso.buf);
	strbuf_release(&iso);
	json_secs(out, "duration", job->duration, true);
	json_str(out, "status", run_status_names[job->status]);
	json_who(job, "worst", job->worst, out);
	json_kib(out, "peak", job->peak);
	json_secs(out, "peak_t", job->peak_t, job->peak >= 0);
	json_secs(out, "cpu", (double)job->cpu_ms / 1000.0, job->cpu_ms >= 0);
	json_kib(out, "median_peak", job->median_peak);
	json_who(job, "heaviest", job->n_by_peak ? (long)job->by_peak[0] : -1, out);
	strbuf_add_json_key(out, "imbalance");
	if (job->n_by_peak && job->median_peak > 0)
		strbuf_addf(out, "%.4f",
			    (double)job->logs[job->by_peak[0]].peak / (double)job->median_peak);
	else
		strbuf_addstr(out, "null");
	json_secs(out, "clock_error", job->clock_error, job->clock_error >= 0);
	json_secs(out, "bin", job->bin, true);
	strbuf_add_json_key(out, "unreadable");
	strbuf_addch(out, '[');
	bool first = true;
	for (size_t i = 0; i < job->n_logs; i++) {
		if (!job->logs[i].unreadable)
			continue;
		strbuf_addstr(out, first ? "{" : ",{");
		first = false;
		json_str(out, "log", job->logs[i].path);
		json_str(out, "error", job->logs[i].error);
		strbuf_addch(out, '}');
	}
	strbuf_addstr(out, "]}");
}

void report_job_json(const struct job *job, struct strbuf *out)
{
	strbuf_addch(out, '{');
	json_job(job, out);
	strbuf_add_json_key(out, "nodes");
	strbuf_addch(out, '[');
	for (size_t k = 0; k < job->n_nodes; k++) {
		const struct job_node *n = &job->nodes[k];
		strbuf_addstr(out, k ? ",{" : "{");
		json_str(out, "host", n->host);
		json_long(out, "logs", (long)n->n_logs);
		json_long(out, "ranks", (long)n->n_ranks);
		strbuf_add_json_key(out, "node_wide");
		strbuf_add_json_bool(out, n->whole >= 0);
		json_kib(out, "peak", n->peak);
		json_secs(out, "peak_t", n->peak_t, n->peak >= 0);
		json_secs(out, "cpu", (double)n->cpu_ms / 1000.0, n->cpu_ms >= 0);
		json_str(out, "status",
			 n->worst >= 0 ? run_status_names[job->logs[n->worst].status] : NULL);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
	strbuf_add_json_key(out, "ranks");
	strbuf_addch(out, '[');
	bool first = true;
	for (size_t i = 0; i < job->n_logs; i++) {
		if (job->logs[i].unreadable)
			continue;
		if (!first)
			strbuf_addch(out, ',');
		first = false;
		json_log(&job->logs[i], out);
	}
	strbuf_addstr(out, "]}\n");
}
