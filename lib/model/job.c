/*
 * job: many logs as one job (job.h). Building it has three steps: place every log (its
 * identity and its start on the wall clock, from its header alone), fold each log in (its
 * summary and its memory on the job's grid, the log's own clock corrected by its clock
 * records), then finish (nodes, the job's total, the band across ranks, imbalance, status).
 *
 * The grid's bins start 1 ms wide and double whenever a log reaches past the last one, merging
 * neighbours (each bin holds a highest, so two merge into the larger), so logs are folded in
 * one at a time without knowing the job's length first and the grid never holds more than
 * JOB_BINS bins per log.
 */
#include "model/job.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/place.h"
#include "util/text.h"

/* ---- lifecycle ---- */

static void job_init(struct job *job)
{
	memset(job, 0, sizeof(*job));
	job->size = -1;
	job->peak = -1;
	job->cpu_ms = -1;
	job->median_peak = -1;
	job->worst = -1;
	job->clock_error = -1;
	job->bin = 0.001;
	job->status = RUN_INCOMPLETE;
}

void job_release(struct job *job)
{
	for (size_t i = 0; i < job->n_logs; i++) {
		struct job_log *l = &job->logs[i];
		free(l->path);
		free(l->name);
		free(l->host);
		place_release(&l->place);
		free(l->error);
		free(l->command);
		free(l->series);
	}
	free(job->logs);
	for (size_t i = 0; i < job->n_nodes; i++) {
		free(job->nodes[i].host);
		free(job->nodes[i].series);
	}
	free(job->nodes);
	free(job->job_id);
	free(job->launcher);
	free(job->missing_ranks);
	free(job->total);
	free(job->rank_min);
	free(job->rank_median);
	free(job->rank_max);
	free(job->by_peak);
	job_init(job);
}

int job_status_rank(enum run_status s)
{
	switch (s) {
	case RUN_OOM_KILLED:
		return 7;
	case RUN_KILLED:
		return 6;
	case RUN_FAILED:
		return 5;
	case RUN_RUNNING:
		return 4;
	case RUN_INCOMPLETE:
		return 3;
	case RUN_DETACHED:
		return 2;
	case RUN_EXITED:
		return 1;
	default:
		return 0;
	}
}

size_t job_bin(const struct job *job, double t)
{
	if (!job->n_bins || !(t > 0))
		return 0;
	double b = floor(t / job->bin);
	return b >= (double)job->n_bins ? job->n_bins - 1 : (size_t)b;
}

/* ---- placing a log ---- */

/* The value of the header's job variable name, or NULL. */
static const char *header_var(const struct header_info *h, const char *name)
{
	for (size_t i = 0; i < h->n_job; i++)
		if (h->job_names[i] && !strcmp(h->job_names[i], name))
			return h->job_values[i];
	return NULL;
}

/* The wall clock of the log's time 0, s since the epoch. */
static double header_wall_start(const struct header_info *h)
{
	return h->clock.wall_us > 0 ? (double)h->clock.wall_us * 1e-6 : h->start_unix;
}

/*
 * Sets l's identity from its header: its place, host (the node's name: Slurm's, when several
 * slurmd share a host, else the host) and name. Returns -1 out of memory.
 */
static int place_log(struct job_log *l, const struct header_info *h)
{
	l->format = h->format;
	bool oom = place_copy(&l->place, &h->place) < 0;
	const char *node = header_var(h, "SLURMD_NODENAME");
	if (!(l->host = strdup(node && *node ? node : h->host ? h->host : "")))
		oom = true;
	struct strbuf name = STRBUF_INIT;
	if (l->place.rank >= 0)
		strbuf_addf(&name, "rank %ld", l->place.rank);
	else if (l->place.node_wide)
		strbuf_addf(&name, "node %s", l->host ? l->host : "");
	else {
		const char *base = strrchr(l->path, '/');
		base = base ? base + 1 : l->path;
		size_t n = strlen(base);
		if (n > 6 && !strcmp(base + n - 6, ".jsonl"))
			n -= 6;
		strbuf_add(&name, base, n);
	}
	l->name = strbuf_detach(&name, NULL);
	return oom || !l->name ? -1 : 0;
}

/* Reads the header of the log at path into h (released by the caller). Returns 0, or -1. */
static int read_header(const char *path, struct header_info *h, struct strbuf *err)
{
	struct log_reader r;
	struct log_record rec;
	memset(h, 0, sizeof(*h));
	if (log_reader_open(&r, path, NULL, NULL, err) < 0)
		return -1;
	log_record_init(&rec);
	int ret = log_reader_next(&r, &rec, err);
	if (ret > 0 && rec.type == REC_HEADER) {
		*h = rec.header;
		memset(&rec.header, 0, sizeof(rec.header));
	} else if (ret == 0) {
		strbuf_addf(err, "'%s' is empty: the recording wrote nothing yet", path);
		ret = -1;
	}
	log_record_release(&rec);
	log_reader_close(&r);
	return ret > 0 ? 0 : -1;
}

bool job_paths_are_job(char *const *paths, size_t n)
{
	bool job = false;
	for (size_t i = 0; i < n && !job; i++) {
		struct header_info h;
		struct strbuf err = STRBUF_INIT;
		if (read_header(paths[i], &h, &err) == 0)
			job = h.place.rank >= 0 || h.place.node_wide || h.place.job;
		header_info_release(&h);
		strbuf_release(&err);
	}
	return job;
}

/* ---- the log's clock ---- */

/* A reading of the log's clock: at the log's time t, the wall clock was t + off. */
struct clock_point {
	double t, off;
	int synced;
	double error; /* s; -1 unknown */
};

struct log_clock {
	struct clock_point *p;
	size_t n;
	double error;
	int synced; /* 1 every reading said synchronised, 0 one said not, -1 none said */
};

/*
 * The readings the log's times are corrected by: the header's (time 0) and its clock records.
 * When some say the clock was synchronised, the others are not used: a clock that was stepped
 * into sync was wrong before, and the synchronised readings tell how wrong.
 */
static int clock_build(struct log_clock *c, const struct run *run)
{
	memset(c, 0, sizeof(*c));
	c->error = -1;
	c->p = malloc((run->n_clocks + 1) * sizeof(*c->p));
	if (!c->p)
		return -1;
	const struct header_info *h = &run->header;
	bool any_synced = h->clock.synced == 1;
	for (size_t i = 0; i < run->n_clocks; i++)
		any_synced |= run->clocks[i].synced == 1;
	c->synced = -1;
	for (size_t i = 0; i <= run->n_clocks; i++) {
		const struct clock_info *ci = i ? &run->clocks[i - 1] : &h->clock;
		double wall = i ? (double)ci->wall_us * 1e-6 : header_wall_start(h);
		if (i && ci->wall_us <= 0)
			continue;
		if (ci->synced == 0)
			c->synced = 0;
		else if (ci->synced == 1 && c->synced < 0)
			c->synced = 1;
		if (any_synced && ci->synced != 1)
			continue;
		/* the error of the readings the times are placed by */
		if (ci->maxerror_us >= 0 && (double)ci->maxerror_us * 1e-6 > c->error)
			c->error = (double)ci->maxerror_us * 1e-6;
		double t = i ? ci->t : 0;
		/* readings come in log order; a reading out of order is damage, skipped */
		if (c->n && t <= c->p[c->n - 1].t)
			continue;
		c->p[c->n++] =
			(struct clock_point){t, wall - t, ci->synced,
					     ci->maxerror_us >= 0 ? ci->maxerror_us * 1e-6 : -1};
	}
	return 0;
}

/* The wall clock at the log's time t: the readings' offsets, linear between them. */
static double clock_wall(const struct log_clock *c, double t, size_t *hint)
{
	if (!c->n)
		return t;
	size_t i = *hint;
	while (i + 1 < c->n && c->p[i + 1].t <= t)
		i++;
	*hint = i;
	if (i + 1 >= c->n || t <= c->p[i].t)
		return t + c->p[i].off;
	const struct clock_point *a = &c->p[i], *b = &c->p[i + 1];
	return t + a->off + (b->off - a->off) * (t - a->t) / (b->t - a->t);
}

/* ---- the grid ---- */

/* Halves the grid's resolution: bin width doubles, neighbours merge into the larger. */
static void series_halve(long long *s, size_t n)
{
	for (size_t i = 0; i < (n + 1) / 2; i++) {
		long long a = s[2 * i], b = 2 * i + 1 < n ? s[2 * i + 1] : -1;
		s[i] = a > b ? a : b;
	}
	for (size_t i = (n + 1) / 2; i < n; i++)
		s[i] = -1;
}

/*
 * Makes the grid reach job time t, with the logs folded in so far (each holds JOB_BINS
 * bins): doubles the bin width until JOB_BINS bins cover t, then counts the bins to t.
 */
static void grid_reach(struct job *job, size_t done, double t)
{
	while (t >= job->bin * JOB_BINS) {
		for (size_t i = 0; i < done; i++)
			if (job->logs[i].series)
				series_halve(job->logs[i].series, JOB_BINS);
		job->n_bins = (job->n_bins + 1) / 2;
		job->bin *= 2;
	}
	size_t need = (size_t)(t / job->bin) + 1;
	if (need > JOB_BINS)
		need = JOB_BINS;
	if (need > job->n_bins)
		job->n_bins = need;
}

/* ---- folding a log in ---- */

static long long run_cpu(const struct run *run)
{
	long long cpu = -1;
	for (size_t i = 0; i < run->n_procs; i++) {
		const struct run_proc *p = &run->procs[i];
		if (p->utime < 0 && p->stime < 0)
			continue;
		cpu = (cpu > 0 ? cpu : 0) + (p->utime > 0 ? p->utime : 0) +
		      (p->stime > 0 ? p->stime : 0);
	}
	return cpu;
}

/* l's ending, from its run. Returns -1 out of memory. */
static int fold_ending(struct job_log *l, const struct run *run)
{
	l->status = run->status;
	l->exit_code = run->has_end ? run->end.exit_code : -1;
	l->signal = run->has_end ? run->end.signal : -1;
	l->oom_pid = -1;
	size_t n_oom;
	pid_t *oom = run_oom_killed(run, &n_oom);
	if (n_oom) {
		l->oom_pid = oom[0];
		int p = run_oom_proc(run, oom[0]);
		if (p >= 0)
			memcpy(l->oom_comm, run->procs[p].comm, sizeof(l->oom_comm));
	}
	free(oom);
	l->truncated = run->truncated || (!run->has_end && run->status != RUN_RUNNING);
	if (l->truncated) {
		struct strbuf e = STRBUF_INIT;
		if (run->stopped)
			strbuf_addf(&e, "the log stopped at %.1f s: %s", run->stopped_t,
				    *run->stopped_error ? run->stopped_error : "the disk was full");
		else
			strbuf_addf(&e,
				    "the log is cut off at %.1f s: no end record (memline was "
				    "killed, or its node went down)",
				    run->duration);
		if (!(l->error = strbuf_detach(&e, NULL)))
			return -1;
	}
	struct strbuf cmd = STRBUF_INIT;
	run_command(run, &cmd);
	return (l->command = strbuf_detach(&cmd, NULL)) ? 0 : -1;
}

/*
 * Folds run (the log's model) into log i of the job: its summary and its memory on the grid.
 * Returns -1 out of memory.
 */
static int fold_run(struct job *job, size_t i, const struct run *run)
{
	struct job_log *l = &job->logs[i];
	struct log_clock c;
	if (clock_build(&c, run) < 0)
		return -1;
	size_t hint = 0;
	l->clock_error = c.error;
	l->clock_synced = c.synced;
	l->start = clock_wall(&c, 0, &hint) - job->start_unix;
	hint = 0;
	l->end = clock_wall(&c, run->duration, &hint) - job->start_unix;
	l->cpu_ms = run_cpu(run);
	l->peak = run->job_peak;
	hint = 0;
	l->peak_t =
		run->job_peak >= 0 ? clock_wall(&c, run->job_peak_t, &hint) - job->start_unix : -1;
	int ret = fold_ending(l, run);
	double last = l->end;
	if (!ret && run->n_samples) {
		hint = 0;
		double st = clock_wall(&c, run->samples[run->n_samples - 1].t, &hint);
		if (st - job->start_unix > last)
			last = st - job->start_unix;
	}
	if (!ret)
		grid_reach(job, i, last > 0 ? last : 0);
	if (!ret && !(l->series = malloc(JOB_BINS * sizeof(*l->series))))
		ret = -1;
	if (ret) {
		free(c.p);
		return -1;
	}
	for (size_t b = 0; b < JOB_BINS; b++)
		l->series[b] = -1;
	hint = 0;
	long prev = -1;
	long long prev_job = -1;
	for (size_t k = 0; k < run->n_samples; k++) {
		const struct run_sample *s = &run->samples[k];
		size_t b = job_bin(job, clock_wall(&c, s->t, &hint) - job->start_unix);
		long long v = run_sample_job_peak(s), now = run_sample_job(s);
		if (v < now)
			v = now;
		/* between two samples the memory was at least the one before: the bins the
		 * samples skipped hold it */
		for (long g = prev + 1; g < (long)b && prev >= 0; g++)
			if (prev_job > l->series[g])
				l->series[g] = prev_job;
		if (v > l->series[b])
			l->series[b] = v;
		prev = (long)b;
		prev_job = now;
	}
	free(c.p);
	return 0;
}

/* ---- finishing ---- */

static void swap_ll(long long *a, long long *b)
{
	long long t = *a;
	*a = *b;
	*b = t;
}

/*
 * The k-th smallest of v[0 .. n) (0-based), reordering v so that every value before index k
 * is at most it: quickselect with a three-way partition (ranks often hold equal values), O(n)
 * on average.
 */
static long long select_kth(long long *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n; /* k is in [lo, hi) */
	while (hi - lo > 1) {
		long long pivot = v[lo + (hi - lo) / 2];
		size_t lt = lo, i = lo, gt = hi;
		while (i < gt) {
			if (v[i] < pivot)
				swap_ll(&v[lt++], &v[i++]);
			else if (v[i] > pivot)
				swap_ll(&v[i], &v[--gt]);
			else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return pivot;
	}
	return v[lo];
}

/* The median of v[0 .. n), n > 0 (the mean of the middle two for an even n), reordering v. */
static long long median_of(long long *v, size_t n)
{
	long long hi = select_kth(v, n, n / 2);
	if (n % 2)
		return hi;
	/* the lower middle is the highest of the half below, which selection left there */
	long long lo = v[0];
	for (size_t i = 1; i < n / 2; i++)
		if (v[i] > lo)
			lo = v[i];
	return (lo + hi) / 2;
}

/*
 * The logs the band and imbalance are over: those with a rank; else those that are not
 * node-wide; else (a job recorded node by node) the node-wide ones: the nodes compared.
 */
static bool is_rank_log(const struct job *job, const struct job_log *l)
{
	if (l->unreadable)
		return false;
	if (job->n_ranks)
		return l->place.rank >= 0;
	return job->n_whole == job->n_logs - job->n_unreadable || !l->place.node_wide;
}

static int cmp_peak_desc(const void *a, const void *b, void *data)
{
	const struct job *job = data;
	const struct job_log *x = &job->logs[*(const size_t *)a],
			     *y = &job->logs[*(const size_t *)b];
	if (x->peak != y->peak)
		return x->peak < y->peak ? 1 : -1;
	return (*(const size_t *)a > *(const size_t *)b) -
	       (*(const size_t *)a < *(const size_t *)b);
}

/* Which log ended worse: a higher job_status_rank, and among equals the one that ended first. */
static bool worse(const struct job_log *a, const struct job_log *b)
{
	int ra = job_status_rank(a->status), rb = job_status_rank(b->status);
	return ra != rb ? ra > rb : a->end < b->end;
}

/* The nodes, from the logs' hosts, and their series. Returns -1 out of memory. */
static int finish_nodes(struct job *job)
{
	for (size_t i = 0; i < job->n_logs; i++) {
		struct job_log *l = &job->logs[i];
		if (l->unreadable) {
			l->node = JOB_NO_NODE;
			continue;
		}
		const char *host = l->host ? l->host : "";
		size_t k = 0;
		while (k < job->n_nodes && strcmp(job->nodes[k].host, host))
			k++;
		if (k == job->n_nodes) {
			struct job_node *nn =
				realloc(job->nodes, (job->n_nodes + 1) * sizeof(*job->nodes));
			if (!nn)
				return -1;
			job->nodes = nn;
			struct job_node *n = &nn[job->n_nodes];
			memset(n, 0, sizeof(*n));
			n->whole = n->worst = -1;
			n->peak = n->cpu_ms = -1;
			n->peak_t = -1;
			if (!(n->host = strdup(host)) ||
			    !(n->series =
				      malloc((job->n_bins ? job->n_bins : 1) * sizeof(*n->series))))
				return -1;
			for (size_t b = 0; b < job->n_bins; b++)
				n->series[b] = -1;
			job->n_nodes++;
		}
		l->node = k;
		struct job_node *n = &job->nodes[k];
		n->n_logs++;
		if (l->place.rank >= 0)
			n->n_ranks++;
		if (l->place.node_wide && n->whole < 0)
			n->whole = (long)i;
		if (n->worst < 0 || worse(l, &job->logs[n->worst]))
			n->worst = (long)i;
	}
	for (size_t k = 0; k < job->n_nodes; k++) {
		struct job_node *n = &job->nodes[k];
		for (size_t i = 0; i < job->n_logs; i++) {
			const struct job_log *l = &job->logs[i];
			if (l->unreadable || l->node != k || (n->whole >= 0 && (long)i != n->whole))
				continue;
			if (l->cpu_ms >= 0)
				n->cpu_ms = (n->cpu_ms > 0 ? n->cpu_ms : 0) + l->cpu_ms;
			for (size_t b = 0; b < job->n_bins; b++)
				if (l->series[b] >= 0)
					n->series[b] = (n->series[b] > 0 ? n->series[b] : 0) +
						       l->series[b];
		}
		for (size_t b = 0; b < job->n_bins; b++)
			if (n->series[b] > n->peak) {
				n->peak = n->series[b];
				n->peak_t = (double)b * job->bin;
			}
		/* a node of one log peaked when its log says, to the sample */
		long only = n->whole;
		for (size_t i = 0; only < 0 && n->n_logs == 1 && i < job->n_logs; i++)
			if (job->logs[i].node == k && !job->logs[i].unreadable)
				only = (long)i;
		{
			if (only >= 0 && job->logs[only].peak >= n->peak) {
				n->peak = job->logs[only].peak;
				n->peak_t = job->logs[only].peak_t;
			}
		}
	}
	return 0;
}

/* The job's total, the band across ranks. Returns -1 out of memory. */
static int finish_series(struct job *job)
{
	size_t nb = job->n_bins ? job->n_bins : 1;
	job->total = malloc(nb * sizeof(*job->total));
	job->rank_min = malloc(nb * sizeof(*job->rank_min));
	job->rank_median = malloc(nb * sizeof(*job->rank_median));
	job->rank_max = malloc(nb * sizeof(*job->rank_max));
	long long *vals = malloc((job->n_logs + 1) * sizeof(*vals));
	if (!job->total || !job->rank_min || !job->rank_median || !job->rank_max || !vals) {
		free(vals);
		return -1;
	}
	for (size_t b = 0; b < job->n_bins; b++) {
		long long t = -1;
		for (size_t k = 0; k < job->n_nodes; k++)
			if (job->nodes[k].series[b] >= 0)
				t = (t > 0 ? t : 0) + job->nodes[k].series[b];
		job->total[b] = t;
		if (t > job->peak) {
			job->peak = t;
			job->peak_t = (double)b * job->bin;
		}
		size_t n = 0;
		long long mn = -1, mx = -1;
		for (size_t i = 0; i < job->n_logs; i++) {
			if (!job->logs[i].in_band)
				continue;
			long long v = job->logs[i].series[b];
			if (v < 0)
				continue;
			vals[n++] = v;
			if (mn < 0 || v < mn)
				mn = v;
			if (v > mx)
				mx = v;
		}
		job->rank_min[b] = mn;
		job->rank_max[b] = mx;
		job->rank_median[b] = n ? median_of(vals, n) : -1;
	}
	/* a job of one node of one log peaked when its log says, to the sample */
	if (job->n_nodes == 1 && job->nodes[0].peak >= job->peak) {
		job->peak = job->nodes[0].peak;
		job->peak_t = job->nodes[0].peak_t;
	}
	free(vals);
	return 0;
}

/* Imbalance, the ranks missing, the job's status. Returns -1 out of memory. */
static int finish_ranks(struct job *job)
{
	job->by_peak = malloc((job->n_logs + 1) * sizeof(*job->by_peak));
	if (!job->by_peak)
		return -1;
	for (size_t i = 0; i < job->n_logs; i++)
		if (job->logs[i].in_band && job->logs[i].peak >= 0)
			job->by_peak[job->n_by_peak++] = i;
	qsort_r(job->by_peak, job->n_by_peak, sizeof(*job->by_peak), cmp_peak_desc, job);
	size_t n = job->n_by_peak;
	if (n) {
		long long a = job->logs[job->by_peak[(n - 1) / 2]].peak;
		long long b = job->logs[job->by_peak[n / 2]].peak;
		job->median_peak = (a + b) / 2;
	}
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (l->unreadable)
			continue;
		if (l->place.size > job->size)
			job->size = l->place.size;
		if (job->worst < 0 || worse(l, &job->logs[job->worst]))
			job->worst = (long)i;
		if (l->clock_error > job->clock_error)
			job->clock_error = l->clock_error;
		if (l->end > job->duration)
			job->duration = l->end;
	}
	for (size_t k = 0; k < job->n_nodes; k++)
		if (job->nodes[k].cpu_ms >= 0)
			job->cpu_ms = (job->cpu_ms > 0 ? job->cpu_ms : 0) + job->nodes[k].cpu_ms;
	if (job->size > 0 && job->size <= 1 << 20) {
		unsigned char *seen = calloc((size_t)job->size, 1);
		if (!seen)
			return -1;
		for (size_t i = 0; i < job->n_logs; i++) {
			long r = job->logs[i].place.rank;
			if (!job->logs[i].unreadable && r >= 0 && r < job->size)
				seen[r] = 1;
		}
		size_t miss = 0;
		for (long r = 0; r < job->size; r++)
			miss += !seen[r];
		if (miss && !(job->missing_ranks = malloc(miss * sizeof(long)))) {
			free(seen);
			return -1;
		}
		for (long r = 0; r < job->size; r++)
			if (!seen[r])
				job->missing_ranks[job->n_missing_ranks++] = r;
		free(seen);
	}
	job->status = job->worst >= 0 ? job->logs[job->worst].status : RUN_INCOMPLETE;
	/* a log missing or unreadable leaves the job's ending unknown, unless a worse one is known
	 */
	if ((job->n_unreadable || job->n_missing_ranks) &&
	    job_status_rank(job->status) < job_status_rank(RUN_INCOMPLETE))
		job->status = RUN_INCOMPLETE;
	return 0;
}

/* The job's id and launcher, from its logs. Returns -1 out of memory. */
static int finish_identity(struct job *job)
{
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (l->unreadable)
			continue;
		if (l->place.rank >= 0)
			job->n_ranks++;
		if (l->place.node_wide)
			job->n_whole++;
		if (l->place.job && !job->job_id && !(job->job_id = strdup(l->place.job)))
			return -1;
		if (l->place.job && job->job_id && strcmp(job->job_id, l->place.job) &&
		    strcmp(job->job_id, "mixed")) {
			free(job->job_id);
			if (!(job->job_id = strdup("mixed")))
				return -1;
		}
		if (l->place.launcher && !job->launcher &&
		    !(job->launcher = strdup(l->place.launcher)))
			return -1;
	}
	return 0;
}

/*
 * Moves job time 0 to the earliest log's start as corrected by its clock readings, to the bin:
 * the headers placed the logs, but a log whose clock was wrong at its start starts later.
 */
static void finish_origin(struct job *job)
{
	double first = INFINITY;
	for (size_t i = 0; i < job->n_logs; i++)
		if (!job->logs[i].unreadable && job->logs[i].start < first)
			first = job->logs[i].start;
	if (!isfinite(first) || first < job->bin || !job->n_bins)
		return;
	size_t k = (size_t)(first / job->bin);
	if (k >= job->n_bins)
		k = job->n_bins - 1;
	double dt = (double)k * job->bin;
	for (size_t i = 0; i < job->n_logs; i++) {
		struct job_log *l = &job->logs[i];
		if (l->unreadable)
			continue;
		memmove(l->series, l->series + k, (JOB_BINS - k) * sizeof(*l->series));
		for (size_t b = JOB_BINS - k; b < JOB_BINS; b++)
			l->series[b] = -1;
		l->start -= dt;
		l->end -= dt;
		if (l->peak >= 0)
			l->peak_t -= dt;
	}
	job->n_bins -= k;
	job->start_unix += dt;
}

static int job_finish(struct job *job)
{
	finish_origin(job);
	if (finish_identity(job) < 0)
		return -1;
	for (size_t i = 0; i < job->n_logs; i++)
		job->logs[i].in_band = is_rank_log(job, &job->logs[i]);
	if (finish_nodes(job) < 0 || finish_series(job) < 0 || finish_ranks(job) < 0)
		return -1;
	return 0;
}

/* ---- the two ways in ---- */

/* Sets up job's logs for paths: their paths copied, all unreadable until placed. */
static int job_begin(struct job *job, char *const *paths, size_t n)
{
	job_init(job);
	if (!(job->logs = calloc(n ? n : 1, sizeof(*job->logs))))
		return -1;
	job->n_logs = n;
	for (size_t i = 0; i < n; i++) {
		struct job_log *l = &job->logs[i];
		l->unreadable = true;
		place_init(&l->place);
		l->peak = l->cpu_ms = -1;
		l->oom_pid = -1;
		l->clock_error = -1;
		if (!(l->path = strdup(paths[i])))
			return -1;
	}
	return 0;
}

/* Marks log i unreadable, with why. */
static int set_unreadable(struct job *job, size_t i, const char *why)
{
	struct job_log *l = &job->logs[i];
	l->unreadable = true;
	free(l->error);
	if (!(l->error = strdup(why)))
		return -1;
	job->n_unreadable++;
	return 0;
}

int job_load(struct job *job, char *const *paths, size_t n, log_warn_fn *warn, void *data,
	     struct strbuf *err)
{
	if (job_begin(job, paths, n) < 0)
		goto oom;
	/* first, every log's place and start from its header: job time 0 is the earliest */
	size_t placed = 0, noinput = 0;
	double start = INFINITY;
	for (size_t i = 0; i < n; i++) {
		struct header_info h;
		struct strbuf why = STRBUF_INIT;
		int ret = read_header(paths[i], &h, &why);
		if (ret == 0) {
			job->logs[i].unreadable = false;
			if (place_log(&job->logs[i], &h) < 0)
				ret = -2;
			else if (header_wall_start(&h) < start)
				start = header_wall_start(&h);
			placed++;
		} else {
			noinput += access(paths[i], R_OK) < 0;
		}
		header_info_release(&h);
		if (ret == -1) {
			if (warn)
				warn(data, paths[i], 0,
				     "cannot be read: the job is merged without it");
			ret = set_unreadable(job, i, why.buf ? why.buf : "cannot be read");
		}
		strbuf_release(&why);
		if (ret < 0)
			goto oom;
	}
	if (!placed) {
		strbuf_addf(err, "none of the %zu log%s could be read", n, n == 1 ? "" : "s");
		return noinput == n ? RUN_LOAD_NOINPUT : RUN_LOAD_DATAERR;
	}
	job->start_unix = start;
	/* then each log alone: loaded, folded in, freed */
	for (size_t i = 0; i < n; i++) {
		if (job->logs[i].unreadable)
			continue;
		struct run run;
		struct strbuf why = STRBUF_INIT;
		int ret = run_load_fields(&run, paths[i], 0, warn, data, &why);
		if (ret < 0) {
			if (warn)
				warn(data, paths[i], 0,
				     "cannot be read: the job is merged without it");
			ret = set_unreadable(job, i, why.buf ? why.buf : "cannot be read");
		} else {
			ret = fold_run(job, i, &run);
		}
		run_release(&run);
		strbuf_release(&why);
		if (ret < 0)
			goto oom;
	}
	if (job_finish(job) < 0)
		goto oom;
	return 0;
oom:
	strbuf_addstr(err, "out of memory merging the logs");
	return RUN_LOAD_DATAERR;
}

int job_build(struct job *job, const struct run *const *runs, char *const *paths, size_t n)
{
	if (job_begin(job, paths, n) < 0)
		return -1;
	double start = INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (!runs[i] || !runs[i]->has_header) {
			if (set_unreadable(job, i, "not read yet: the log has no header") < 0)
				return -1;
			continue;
		}
		job->logs[i].unreadable = false;
		if (place_log(&job->logs[i], &runs[i]->header) < 0)
			return -1;
		if (header_wall_start(&runs[i]->header) < start)
			start = header_wall_start(&runs[i]->header);
	}
	job->start_unix = isfinite(start) ? start : 0;
	for (size_t i = 0; i < n; i++)
		if (!job->logs[i].unreadable && fold_run(job, i, runs[i]) < 0)
			return -1;
	return job_finish(job);
}
