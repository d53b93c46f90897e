/*
 * log reader (log/reader.h). Decodes a memline log (docs/log-format.md) one
 * line at a time with jansson into the structs of record.h. The first record must be a header
 * of a format we know; its "fields" and "tree_fields" name the positions of the sample arrays,
 * so a log whose writer reordered or appended fields still reads. A cut-off last line (the
 * writer died mid-write) ends the log quietly; a corrupt line elsewhere is skipped with a
 * warning naming its line number. Nothing here prints: warnings go to the caller's callback.
 */
#include "log/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/place.h"
#include "util/text.h"

/* ---- small jansson accessors: a missing or null member reads as "unknown" ---- */

static long long json_ll(const json_t *v, long long unknown)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	/* A real out of range would make the cast undefined: treat it as unknown. */
	if (json_is_real(v) && fabs(json_real_value(v)) < 9e18)
		return (long long)json_real_value(v);
	return unknown;
}

static long long get_ll(const json_t *obj, const char *key, long long unknown)
{
	return json_ll(json_object_get(obj, key), unknown);
}

static double get_double(const json_t *obj, const char *key, double unknown)
{
	/* Times are seconds: anything beyond 10^12 s (30,000 years) is damage, not data. */
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) && fabs(json_number_value(v)) < 1e12 ? json_number_value(v)
								      : unknown;
}

static bool get_bool(const json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

/* A copy of a string member, NULL when missing; sets *oom when the copy fails. */
static char *get_str(const json_t *obj, const char *key, bool *oom)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s)
		return NULL;
	char *c = strdup(s);
	if (!c)
		*oom = true;
	return c;
}

static void copy_comm(char *dst, size_t size, const json_t *obj)
{
	const char *s = json_string_value(json_object_get(obj, "comm"));
	if (!s)
		s = "";
	size_t n = strnlen(s, size - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Reads an array of pids; returns false only on allocation failure. */
static bool get_pids(const json_t *obj, const char *key, pid_t **out, size_t *n)
{
	const json_t *a = json_object_get(obj, key);
	*out = NULL;
	*n = 0;
	if (!json_is_array(a) || !json_array_size(a))
		return true;
	*out = calloc(json_array_size(a), sizeof(**out));
	if (!*out)
		return false;
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v)
	{
		long long pid = json_ll(v, -1);
		if (pid > 0)
			(*out)[(*n)++] = (pid_t)pid;
	}
	return true;
}

/* ---- records ---- */

void header_info_release(struct header_info *h)
{
	free(h->memline_version);
	free(h->mode);
	free(h->host);
	free(h->start_iso);
	if (h->command)
		for (char **a = h->command; *a; a++)
			free(*a);
	free(h->command);
	free(h->pids);
	free(h->cwd);
	for (size_t i = 0; i < h->n_job; i++) {
		free(h->job_names[i]);
		free(h->job_values[i]);
	}
	place_release(&h->place);
	free(h->kernel);
	free(h->cgroup_path);
	free(h->cgroup_peak);
	for (size_t i = 0; i < h->n_event_sources; i++)
		free(h->event_sources[i]);
	for (size_t i = 0; i < h->n_events_off; i++) {
		free(h->events_off[i]);
		free(h->events_off_why[i]);
	}
	memset(h, 0, sizeof(*h));
}

void end_info_release(struct end_info *e)
{
	free(e->oom_killed);
	free(e->alive);
	memset(e, 0, sizeof(*e));
}

void log_record_init(struct log_record *rec)
{
	memset(rec, 0, sizeof(*rec));
}

void log_record_release(struct log_record *rec)
{
	header_info_release(&rec->header);
	free(rec->proc.cmdline);
	free(rec->sample.procs);
	free(rec->sample.threads);
	free(rec->thread.name);
	free(rec->heap.allocator);
	free(rec->heap.why);
	end_info_release(&rec->end);
	free(rec->mark.text);
	free(rec->end_error);
	free(rec->output.text);
	free(rec->note.code);
	free(rec->note.text);
	free(rec->stack.label);
	free(rec->stack.thread);
	free(rec->stack.error);
	free(rec->stack.frames);
	free(rec->stack.ids);
	for (size_t i = 0; i < rec->frames.n; i++) {
		free((char *)rec->frames.frames[i].fn);
		free((char *)rec->frames.frames[i].module);
		free((char *)rec->frames.frames[i].file);
	}
	free(rec->frames.frames);
	log_record_init(rec);
}

/*
 * The header's "memory" and "events" (format 2). A format 1 log has neither: its job's memory
 * is the sum of its processes' RSS (method rss), its processes learned of by polling.
 */
static void decode_memory(const json_t *o, struct header_info *h, bool *oom)
{
	const json_t *mem = json_object_get(o, "memory");
	const char *method = json_string_value(json_object_get(mem, "method"));
	h->method = MEM_RSS;
	for (int i = 0; method && i < MEM_NMETHODS; i++)
		if (!strcmp(method, memory_method_names[i]))
			h->method = (enum memory_method)i;
	const json_t *cg = json_object_get(mem, "cgroup");
	if (json_is_object(cg)) {
		h->cgroup_path = get_str(cg, "path", oom);
		h->cgroup_version = (int)get_ll(cg, "version", 0);
		h->cgroup_own = get_bool(cg, "own");
		h->cgroup_peak = get_str(cg, "peak", oom);
	}
	const json_t *ev = json_object_get(o, "events"), *v;
	size_t i;
	json_array_foreach(ev, i, v)
	{
		const char *s = json_string_value(v);
		if (s && h->n_event_sources < EVENT_SOURCES_MAX &&
		    !(h->event_sources[h->n_event_sources++] = strdup(s)))
			*oom = true;
	}
	/* why sources were off: names and reasons cut as labels are, a crafted log's never whole */
	const json_t *off = json_object_get(o, "events_off");
	const char *name;
	json_object_foreach((json_t *)off, name, v)
	{
		if (!json_is_string(v) || h->n_events_off >= EVENT_SOURCES_MAX)
			continue;
		size_t n = text_utf8_prefix(name, strlen(name), 64);
		size_t m = text_utf8_prefix(json_string_value(v), json_string_length(v),
					    LOG_LABEL_MAX);
		char *k = strndup(name, n);
		char *why = strndup(json_string_value(v), m);
		if (!k || !why) {
			free(k);
			free(why);
			*oom = true;
			continue;
		}
		h->events_off[h->n_events_off] = k;
		h->events_off_why[h->n_events_off++] = why;
	}
}

/* The header's "stacks" (--stacks): what captures were asked for; none when absent. */
static void decode_stacks_asked(const json_t *st, struct header_info *h)
{
	/* The header says the moments as the option does: peaks and events in the plural. */
	if (!json_is_object(st))
		return;
	size_t i;
	const json_t *val;
	json_array_foreach(json_object_get(st, "when"), i, val)
	{
		const char *s = json_string_value(val);
		for (int k = 0; s && k < STACK_NWHY; k++)
			if (!strcmp(s, stack_when_names[k]) || !strcmp(s, stack_why_names[k]))
				h->stacks_when |= 1u << k;
	}
	h->stacks_every = get_double(st, "every", 0);
	h->stacks_threshold = get_double(st, "threshold", 0);
	h->stacks_gap = get_double(st, "gap", 0);
	h->stacks_budget = get_double(st, "budget", 0);
}

/* An older log's job variables, as place_from_vars asks for them. */
static const char *header_var(void *data, const char *name)
{
	const struct header_info *h = data;
	for (size_t i = 0; i < h->n_job; i++)
		if (!strcmp(h->job_names[i], name))
			return h->job_values[i];
	return NULL;
}

/* A short string member (a job id, a launcher's name), cut as labels are; NULL when absent. */
static char *get_short_str(const json_t *obj, const char *key, bool *oom)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return NULL;
	size_t n = text_utf8_prefix(json_string_value(v), json_string_length(v), 256);
	char *c = strndup(json_string_value(v), n);
	if (!c)
		*oom = true;
	return c;
}

/* A count that is unknown (-1) unless it is a number from min up. */
static long get_count(const json_t *obj, const char *key, long min)
{
	long long v = get_ll(obj, key, -1);
	return v >= min && v <= LONG_MAX ? (long)v : -1;
}

/*
 * The header's "place" (format 4). An older log has none: it is derived from its "job"
 * variables, as the recorder derives it from its environment.
 */
static void decode_place(const json_t *o, struct header_info *h, bool *oom)
{
	const json_t *pl = json_object_get(o, "place");
	struct place_info *p = &h->place;
	if (!json_is_object(pl)) {
		if (place_from_vars(p, header_var, h) < 0)
			*oom = true;
		return;
	}
	place_init(p);
	p->job = get_short_str(pl, "job", oom);
	p->launcher = get_short_str(pl, "launcher", oom);
	p->rank = get_count(pl, "rank", 0);
	p->local_rank = get_count(pl, "local_rank", 0);
	p->size = get_count(pl, "size", 1);
	p->node_index = get_count(pl, "node_index", 0);
	p->node_wide = get_bool(pl, "node_wide");
}

/* A clock reading's members: the wall clock and how good the kernel said it was. */
static void decode_clock(const json_t *o, struct clock_info *c)
{
	c->wall_us = get_ll(o, "wall_us", -1);
	if (c->wall_us < 0)
		c->wall_us = -1;
	const json_t *synced = json_object_get(o, "synced");
	c->synced = json_is_boolean(synced) ? json_is_true(synced) : -1;
	c->maxerror_us = get_ll(o, "maxerror_us", -1);
	c->esterror_us = get_ll(o, "esterror_us", -1);
	if (c->maxerror_us < 0)
		c->maxerror_us = -1;
	if (c->esterror_us < 0)
		c->esterror_us = -1;
}

/*
 * The header's "clock" (format 4): the wall clock at t = 0. An older log's is its start_unix,
 * to the millisecond it has, of a clock whose quality nobody noted.
 */
static void decode_header_clock(const json_t *o, struct header_info *h)
{
	const json_t *ck = json_object_get(o, "clock");
	h->clock = (struct clock_info){.t = 0, .synced = -1, .maxerror_us = -1, .esterror_us = -1};
	if (json_is_object(ck))
		decode_clock(ck, &h->clock);
	else
		h->clock.wall_us = h->start_unix > 0 ? llround(h->start_unix * 1e6) : -1;
}

/* The header's "job": the launcher's variables that were set, at most JOB_VARS_MAX. */
static void decode_job_vars(const json_t *job, struct header_info *h, bool *oom)
{
	const char *key;
	const json_t *val;
	if (!json_is_object(job))
		return;
	json_object_foreach((json_t *)job, key, val)
	{
		const char *s = json_string_value(val);
		if (!s || h->n_job == JOB_VARS_MAX)
			continue;
		h->job_names[h->n_job] = strdup(key);
		h->job_values[h->n_job] = strdup(s);
		h->n_job++;
		if (!h->job_names[h->n_job - 1] || !h->job_values[h->n_job - 1])
			*oom = true;
	}
}

/* Returns false only on allocation failure. */
static bool decode_header(struct log_reader *r, const json_t *o, struct header_info *h)
{
	bool oom = false;
	/* a header that names no place (before format 4) is of no rank: -1, not rank 0 */
	h->place.rank = h->place.local_rank = h->place.size = h->place.node_index = -1;
	h->format = (int)get_ll(o, "format", -1);
	h->memline_version = get_str(o, "memline", &oom);
	h->mode = get_str(o, "mode", &oom);
	h->host = get_str(o, "host", &oom);
	h->start_iso = get_str(o, "start", &oom);
	h->start_unix = get_double(o, "start_unix", 0);
	h->pid = (pid_t)get_ll(o, "pid", -1);
	h->cwd = get_str(o, "cwd", &oom);
	h->page_size = (long)get_ll(o, "page_size", -1);
	h->clk_tck = (long)get_ll(o, "clk_tck", -1);
	h->mem_total = get_ll(o, "mem_total", -1);
	h->kernel = get_str(o, "kernel", &oom);
	h->peak_reset = get_bool(o, "peak_reset");
	h->pss = get_bool(o, "pss");
	if (!get_pids(o, "pids", &h->pids, &h->n_pids))
		oom = true;

	const json_t *cmd = json_object_get(o, "command");
	size_t n = json_is_array(cmd) ? json_array_size(cmd) : 0;
	h->command = calloc(n + 1, sizeof(*h->command));
	if (!h->command)
		return false;
	for (size_t i = 0, k = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(cmd, i));
		if (s && !(h->command[k++] = strdup(s)))
			oom = true;
	}

	decode_job_vars(json_object_get(o, "job"), h, &oom);
	decode_place(o, h, &oom);
	decode_header_clock(o, h);
	decode_memory(o, h, &oom);
	decode_stacks_asked(json_object_get(o, "stacks"), h);

	const json_t *iv = json_object_get(o, "interval");
	h->interval_fixed = get_double(iv, "fixed", 0);
	h->interval_min = get_double(iv, "min", 0);
	h->interval_max = get_double(iv, "max", 0);

	/* Positions by name; a log without "fields" is taken to use format 1's order. */
	const json_t *fields = json_object_get(o, "fields");
	const json_t *val;
	for (int i = 0; i < PROC_NFIELDS; i++)
		r->proc_pos[i] = json_is_array(fields) ? -1 : i;
	r->state_pos = json_is_array(fields) ? -1 : PROC_NFIELDS;
	size_t i;
	json_array_foreach(fields, i, val)
	{
		const char *s = json_string_value(val);
		if (!s)
			continue;
		if (!strcmp(s, "state") && r->state_pos < 0)
			r->state_pos = (int)i;
		for (int f = 0; f < PROC_NFIELDS; f++)
			if (!strcmp(s, proc_field_names[f]) && r->proc_pos[f] < 0)
				r->proc_pos[f] = (int)i;
	}
	const json_t *heap = json_object_get(o, "heap");
	const char *mode = json_string_value(json_object_get(heap, "mode"));
	h->heap = HEAP_OFF;
	for (int m = HEAP_MALLOC; mode && m < HEAP_NMODES; m++)
		if (!strcmp(mode, heap_mode_names[m]))
			h->heap = m;
	if (json_is_object(heap) && h->heap == HEAP_OFF)
		h->heap = HEAP_MALLOC; /* a mode of a later version: heap was counted */
	const json_t *thfields = json_object_get(o, "thread_fields");
	for (int t = 0; t < THREAD_NFIELDS; t++)
		r->thread_pos[t] = -1;
	json_array_foreach(thfields, i, val)
	{
		const char *s = json_string_value(val);
		for (int t = 0; s && t < THREAD_NFIELDS; t++)
			if (!strcmp(s, thread_field_names[t]) && r->thread_pos[t] < 0)
				r->thread_pos[t] = (int)i;
	}
	const json_t *tfields = json_object_get(o, "tree_fields");
	for (int t = 0; t < TREE_NFIELDS; t++)
		r->tree_pos[t] = json_is_array(tfields) ? -1 : t;
	json_array_foreach(tfields, i, val)
	{
		const char *s = json_string_value(val);
		for (int t = 0; s && t < TREE_NFIELDS; t++)
			if (!strcmp(s, tree_field_names[t]) && r->tree_pos[t] < 0)
				r->tree_pos[t] = (int)i;
	}
	return !oom;
}

/* Turns argv into NUL-separated bytes, as /proc/PID/cmdline has them. */
static bool decode_proc(const json_t *o, struct proc_info *p)
{
	p->pid = (pid_t)get_ll(o, "pid", -1);
	p->ppid = (pid_t)get_ll(o, "ppid", -1);
	p->t = get_double(o, "t", 0);
	p->start = get_double(o, "start", p->t);
	copy_comm(p->comm, sizeof(p->comm), o);
	const char *seen = json_string_value(json_object_get(o, "seen"));
	p->at_exit = seen && !strcmp(seen, "exit");
	const json_t *argv = json_object_get(o, "argv");
	size_t len = 0, i;
	const json_t *a;
	/* An argument cannot hold a NUL: one in the log (\u0000) ends it. */
	json_array_foreach(argv, i, a)
	{
		if (json_is_string(a))
			len += strnlen(json_string_value(a), json_string_length(a)) + 1;
	}
	if (!len)
		return true;
	p->cmdline = malloc(len + 1);
	if (!p->cmdline)
		return false;
	json_array_foreach(argv, i, a)
	{
		if (!json_is_string(a))
			continue;
		size_t n = strnlen(json_string_value(a), json_string_length(a));
		memcpy(p->cmdline + p->cmdline_len, json_string_value(a), n);
		p->cmdline_len += n;
		p->cmdline[p->cmdline_len++] = '\0';
	}
	/* Separators only, as the sampler gives it: the last NUL terminates, it is not counted. */
	p->cmdline_len--;
	return true;
}

/* A sample's "th" rows (format 3), as decode_sample. */
static const char *decode_thread_rows(struct log_reader *r, const json_t *th,
				      struct sample_record *s, bool *oom)
{
	if (!th || r->thread_pos[TH_PID] < 0 || r->thread_pos[TH_TID] < 0)
		return NULL;
	if (!json_is_array(th))
		return "sample's \"th\" is not an array";
	if (!json_array_size(th))
		return NULL;
	s->threads = calloc(json_array_size(th), sizeof(*s->threads));
	if (!s->threads) {
		*oom = true;
		return NULL;
	}
	size_t i;
	const json_t *a;
	json_array_foreach(th, i, a)
	{
		struct thread_values *v = &s->threads[s->n_threads];
		if (!json_is_array(a))
			return "sample's thread row is not an array";
		for (int f = 0; f < THREAD_NFIELDS; f++)
			v->v[f] = r->thread_pos[f] < 0
					  ? -1
					  : json_ll(json_array_get(a, r->thread_pos[f]), -1);
		if (v->v[TH_PID] > 0 && v->v[TH_TID] != 0) /* a row must name its thread */
			s->n_threads++;
	}
	return NULL;
}

/* Returns NULL on success (with *oom set if an allocation failed), else why it is unusable. */
static const char *decode_sample(struct log_reader *r, const json_t *o, struct sample_record *s,
				 bool *oom)
{
	s->t = get_double(o, "t", 0);
	s->avail = get_ll(o, "avail", -1);
	const json_t *tree = json_object_get(o, "tree");
	for (int f = 0; f < TREE_NFIELDS; f++)
		s->tree.v[f] =
			r->tree_pos[f] < 0 ? -1 : json_ll(json_array_get(tree, r->tree_pos[f]), -1);
	const json_t *p = json_object_get(o, "p");
	if (!p)
		return NULL;
	if (!json_is_array(p))
		return "sample's \"p\" is not an array";
	if (!json_array_size(p))
		return NULL;
	s->procs = calloc(json_array_size(p), sizeof(*s->procs));
	if (!s->procs) {
		*oom = true;
		return NULL;
	}
	size_t i;
	const json_t *a;
	json_array_foreach(p, i, a)
	{
		struct proc_values *v = &s->procs[s->n];
		if (!json_is_array(a))
			return "sample's process entry is not an array";
		for (int f = 0; f < PROC_NFIELDS; f++)
			v->v[f] = r->proc_pos[f] < 0
					  ? -1
					  : json_ll(json_array_get(a, r->proc_pos[f]), -1);
		const char *st = r->state_pos < 0
					 ? NULL
					 : json_string_value(json_array_get(a, r->state_pos));
		v->state = st && st[0] ? st[0] : '\0';
		if (v->v[PF_PID] > 0) /* an entry without a pid cannot be placed */
			s->n++;
	}
	return decode_thread_rows(r, json_object_get(o, "th"), s, oom);
}

static void decode_exit(const json_t *o, struct exit_info *e)
{
	e->pid = (pid_t)get_ll(o, "pid", -1);
	e->t = get_double(o, "t", 0);
	const char *how = json_string_value(json_object_get(o, "how"));
	e->how = EXIT_HOW_UNKNOWN;
	for (int i = 0; how && i < 3; i++)
		if (!strcmp(how, exit_how_names[i]))
			e->how = (enum exit_how)i;
	e->code = (int)get_ll(o, "code", -1);
	e->signal = (int)get_ll(o, "signal", -1);
	e->core = get_bool(o, "core");
	e->oom = get_bool(o, "oom");
	e->peak = get_ll(o, "peak", -1);
	e->hwm = get_ll(o, "hwm", -1);
	e->maxrss = get_ll(o, "maxrss", -1);
	e->maxrss_base = get_ll(o, "maxrss_base", -1);
	e->utime = get_ll(o, "utime", -1);
	e->stime = get_ll(o, "stime", -1);
	/* format 1 said nothing of it: a reaped process had its rusage, the others not */
	const char *src = json_string_value(json_object_get(o, "source"));
	e->source = e->how == EXIT_HOW_UNKNOWN ? EXIT_SRC_VANISHED : EXIT_SRC_ZOMBIE;
	for (int i = 0; src && i < EXIT_NSOURCES; i++)
		if (!strcmp(src, exit_source_names[i]))
			e->source = (enum exit_source)i;
}

/*
 * A copy of the string v (which may hold NULs: the reader accepts \u0000) cut to max bytes at
 * a UTF-8 boundary, NUL-terminated, its length in *len. jansson gives valid UTF-8, so the cut
 * steps back over at most three continuation bytes. NULL with *oom set when the copy fails.
 */
static char *copy_text(const json_t *v, size_t max, size_t *len, bool *oom)
{
	const char *s = json_string_value(v);
	size_t n = text_utf8_prefix(s, json_string_length(v), max);
	char *c = malloc(n + 1);
	if (!c) {
		*oom = true;
		return NULL;
	}
	memcpy(c, s, n);
	c[n] = '\0';
	*len = n;
	return c;
}

static const char *decode_thread(const json_t *o, struct thread_record *th, bool *oom)
{
	size_t len;
	th->t = get_double(o, "t", 0);
	th->pid = (pid_t)get_ll(o, "pid", -1);
	th->tid = (pid_t)get_ll(o, "tid", 0); /* -1: the threads past the heap's slots */
	th->end = get_bool(o, "end");
	if (th->pid <= 0 || th->tid == 0)
		return "thread record without a pid or a tid";
	if (!th->end && json_is_string(json_object_get(o, "name")))
		th->name = copy_text(json_object_get(o, "name"), 64, &len, oom);
	return NULL;
}

static const char *decode_heap(const json_t *o, struct heap_record *h, bool *oom)
{
	size_t len;
	h->t = get_double(o, "t", 0);
	h->pid = (pid_t)get_ll(o, "pid", -1);
	h->on = get_bool(o, "on");
	if (h->pid <= 0)
		return "heap record without a pid";
	if (json_is_string(json_object_get(o, "allocator")))
		h->allocator = copy_text(json_object_get(o, "allocator"), 256, &len, oom);
	if (json_is_string(json_object_get(o, "why")))
		h->why = copy_text(json_object_get(o, "why"), LOG_LABEL_MAX, &len, oom);
	return NULL;
}

/* A pid or thread id: a positive integer that fits a pid_t, else -1 (unknown). */
static pid_t get_pid(const json_t *obj, const char *key)
{
	long long v = get_ll(obj, key, -1);
	return v > 0 && v <= INT_MAX ? (pid_t)v : -1;
}

/*
 * An event or span record. Returns NULL on success (with *oom set if a copy failed), else why
 * the record is unusable: one without a time, a label or name, or (a span) a phase.
 */
static const char *decode_mark(const json_t *o, enum record_type type, struct mark_record *m,
			       bool *oom)
{
	bool event = type == REC_EVENT;
	m->t = get_double(o, "t", NAN);
	if (isnan(m->t))
		return event ? "event record without a time" : "span record without a time";
	if (event) {
		m->kind = MARK_EVENT;
	} else {
		const char *phase = json_string_value(json_object_get(o, "phase"));
		if (phase && !strcmp(phase, "begin"))
			m->kind = MARK_SPAN_BEGIN;
		else if (phase && !strcmp(phase, "end"))
			m->kind = MARK_SPAN_END;
		else
			return "span record without a phase";
	}
	/* Valid UTF-8 (jansson refuses anything else), NULs included, cut to the channel's cap. */
	const json_t *text = json_object_get(o, event ? "label" : "name");
	if (!json_is_string(text))
		return event ? "event record without a label" : "span record without a name";
	m->pid = get_pid(o, "pid");
	m->tid = get_pid(o, "tid");
	m->text = copy_text(text, LOG_LABEL_MAX, &m->len, oom);
	return NULL;
}

static const char *decode_output(const json_t *o, struct output_record *out, bool *oom)
{
	out->t = get_double(o, "t", NAN);
	if (isnan(out->t))
		return "output record without a time";
	const json_t *text = json_object_get(o, "text");
	if (!json_is_string(text))
		return "output record without a text";
	const char *stream = json_string_value(json_object_get(o, "stream"));
	out->err = stream && !strcmp(stream, "stderr");
	out->text = copy_text(text, LOG_OUTPUT_MAX, &out->len, oom);
	return NULL;
}

/* A stopped or warning record (its strings are memline's, but copied as any other). */
static const char *decode_note(const json_t *o, bool stopped, struct note_record *n, bool *oom)
{
	n->t = get_double(o, "t", NAN);
	if (isnan(n->t))
		return stopped ? "stopped record without a time" : "warning record without a time";
	const json_t *code = json_object_get(o, stopped ? "errno" : "code");
	const json_t *text = json_object_get(o, stopped ? "error" : "text");
	size_t len;
	n->pid = (pid_t)get_ll(o, "pid", -1);
	/* Cut like labels: a crafted log's text is never held whole. */
	n->code = json_is_string(code) ? copy_text(code, 64, &len, oom) : strdup("");
	n->text = json_is_string(text) ? copy_text(text, LOG_LABEL_MAX, &len, oom) : strdup("");
	if (!n->code || !n->text)
		*oom = true;
	return NULL;
}

/* The longest function name, module path or source file name a reader keeps, in bytes. */
#define FRAME_TEXT_MAX 4096

/* A string member of a frame, cut to FRAME_TEXT_MAX; NULL when absent or not a string. */
static const char *frame_str(const json_t *o, const char *key, bool *oom)
{
	const json_t *v = json_object_get(o, key);
	size_t len;
	return json_is_string(v) ? copy_text(v, FRAME_TEXT_MAX, &len, oom) : NULL;
}

/* One frame of a frames record; false when it is not a frame (no object, no kind we know). */
static bool decode_frame(const json_t *o, struct frame_info *f, bool *oom)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	int k = 0;
	while (kind && k < FRAME_NKINDS && strcmp(kind, frame_kind_names[k]))
		k++;
	if (!json_is_object(o) || !kind || k == FRAME_NKINDS)
		return false;
	f->kind = (enum frame_kind)k;
	f->fn = frame_str(o, "fn", oom);
	f->module = frame_str(o, "mod", oom);
	f->file = frame_str(o, "file", oom);
	f->off = get_ll(o, "off", -1);
	f->fn_off = get_ll(o, "fn_off", -1);
	long long line = get_ll(o, "line", 0);
	f->line = line > 0 && line <= INT_MAX ? (int)line : 0;
	if (f->off < 0)
		f->off = -1;
	if (f->fn_off < 0)
		f->fn_off = -1;
	return true;
}

/*
 * A frames record, its frames decoded into fr (they go into the frame table when the record
 * is taken, in log order). Returns NULL on success, else why the record is unusable.
 */
static const char *decode_frames(const json_t *o, struct frames_record *fr, bool *oom)
{
	const json_t *frames = json_object_get(o, "frames");
	long long first = get_ll(o, "first", -1);
	if (first < 0 || !json_is_array(frames))
		return "frames record without its first number or frames";
	size_t n = json_array_size(frames);
	if ((unsigned long long)first >= FRAME_TABLE_MAX || n > FRAME_TABLE_MAX - (size_t)first)
		return "frames record numbered beyond the frame table";
	fr->first = (size_t)first;
	if (n && !(fr->frames = calloc(n, sizeof(*fr->frames)))) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++, fr->n++)
		if (!decode_frame(json_array_get(frames, i), &fr->frames[i], oom))
			return "frames record with a frame of no known kind";
	return NULL;
}

/*
 * A stack record, its frames as numbers (looked up in the frame table when the record is
 * taken). Returns NULL on success, else why the record is unusable.
 */
static const char *decode_stack(const json_t *o, struct stack_record *st, bool *oom)
{
	const char *why = json_string_value(json_object_get(o, "why"));
	int w = 0;
	while (why && w < STACK_NWHY && strcmp(why, stack_why_names[w]))
		w++;
	const json_t *frames = json_object_get(o, "frames");
	st->t = get_double(o, "t", NAN);
	st->capture = (long)get_ll(o, "capture", -1);
	st->pid = get_pid(o, "pid");
	if (isnan(st->t) || st->capture < 1 || st->pid <= 0 || !why || w == STACK_NWHY)
		return "stack record without a time, capture, pid or why";
	st->why = (enum stack_why)w;
	st->tid = get_pid(o, "tid");
	if (st->tid <= 0)
		st->tid = st->pid;
	st->stall_us = get_ll(o, "stall_us", -1);
	st->truncated = get_bool(o, "truncated");
	size_t len, n = json_array_size(frames);
	if (json_is_string(json_object_get(o, "label")))
		st->label =
			copy_text(json_object_get(o, "label"), LOG_LABEL_MAX, &st->label_len, oom);
	if (json_is_string(json_object_get(o, "thread")))
		st->thread = copy_text(json_object_get(o, "thread"), 64, &len, oom);
	if (json_is_string(json_object_get(o, "error")))
		st->error = copy_text(json_object_get(o, "error"), LOG_LABEL_MAX, &len, oom);
	if (n && !(st->ids = calloc(n, sizeof(*st->ids)))) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		long long id = json_ll(json_array_get(frames, i), -1);
		if (id < 0 || !json_is_integer(json_array_get(frames, i)))
			return "stack record with a frame that is not a number";
		st->ids[st->n_frames++] = (size_t)id;
	}
	return NULL;
}

static bool decode_end(const json_t *o, struct end_info *e)
{
	e->t = get_double(o, "t", 0);
	e->exit_code = (int)get_ll(o, "exit_code", -1);
	e->signal = (int)get_ll(o, "signal", -1);
	e->core = get_bool(o, "core");
	e->samples = (long)get_ll(o, "samples", -1);
	e->job_peak = get_ll(o, "job_peak", -1);
	e->job_peak_t = get_double(o, "job_peak_t", 0);
	e->procs = (long)get_ll(o, "procs", -1);
	e->missed = (long)get_ll(o, "missed", -1);
	e->overruns = (long)get_ll(o, "overruns", -1);
	const json_t *sc = json_object_get(o, "stacks");
	e->stacks.captures = json_is_object(sc) ? (long)get_ll(sc, "captures", 0) : -1;
	if (json_is_object(sc) && e->stacks.captures < 0)
		e->stacks.captures = 0;
	e->stacks.skipped = (long)get_ll(sc, "skipped", 0);
	e->stacks.failed = (long)get_ll(sc, "failed", 0);
	e->stacks.cpu = get_double(sc, "cpu", 0);
	const char *st = json_string_value(json_object_get(o, "status"));
	int status = st ? run_status_from_name(st) : -1;
	if (status < 0 || status == RUN_INCOMPLETE || status == RUN_RUNNING) {
		/* A status this reader does not know: say what the exit fields say. */
		if (e->signal > 0)
			status = RUN_KILLED;
		else if (e->exit_code == 0)
			status = RUN_COMPLETED;
		else if (e->exit_code > 0)
			status = RUN_FAILED;
		else
			status = RUN_EXITED;
	}
	e->status = (enum run_status)status;
	return get_pids(o, "oom_killed", &e->oom_killed, &e->n_oom_killed) &&
	       get_pids(o, "alive", &e->alive, &e->n_alive);
}

/* ---- the reader ---- */

/* The file is read in blocks of this many bytes; a line within one is decoded where it lies. */
#define READ_BLOCK (256 * 1024)

int log_reader_init(struct log_reader *r, const char *path, log_warn_fn *warn, void *warn_data,
		    struct strbuf *err)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	strbuf_init(&r->pending);
	r->path = strdup(path);
	if (!r->path) {
		strbuf_addstr(err, "out of memory");
		return -1;
	}
	r->warn = warn;
	r->warn_data = warn_data;
	for (int i = 0; i < PROC_NFIELDS; i++)
		r->proc_pos[i] = -1;
	for (int i = 0; i < TREE_NFIELDS; i++)
		r->tree_pos[i] = -1;
	r->state_pos = -1;
	return 0;
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFDIR:
		return "a directory";
	case S_IFSOCK:
		return "a socket";
	}
	return "not a regular file";
}

int log_open_file(const char *path, struct strbuf *err)
{
	/* O_NONBLOCK: opening a FIFO would wait for a writer; for a regular file it is nothing. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0) {
		int e = errno;
		/* A socket cannot be opened at all: say what it is rather than ENXIO. */
		if (e == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			strbuf_addf(err, "'%s' is a socket, not a log file; give a memline log",
				    path);
		else
			strbuf_addf(err, "cannot open '%s': %s", path, strerror(e));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		strbuf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		strbuf_addf(err, "'%s' is %s, not a log file; give a memline log", path,
			    file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

int log_reader_open(struct log_reader *r, const char *path, log_warn_fn *warn, void *warn_data,
		    struct strbuf *err)
{
	if (log_reader_init(r, path, warn, warn_data, err))
		return -1;
	r->fd = log_open_file(path, err);
	if (r->fd < 0) {
		log_reader_close(r);
		return -1;
	}
	return 0;
}

static void ahead_free(struct log_ahead *a);

void log_reader_close(struct log_reader *r)
{
	if (r->ahead)
		ahead_free(r->ahead);
	/* A reader never set up (all zero: no path) holds no descriptor, not fd 0. */
	if (r->path && r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->blk);
	strbuf_release(&r->pending);
	frame_table_release(&r->frames);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static void skip_line(struct log_reader *r, const char *why)
{
	r->corrupt++;
	if (r->warn) {
		struct strbuf msg = STRBUF_INIT;
		strbuf_addf(&msg, "corrupt record skipped (%s)", why);
		r->warn(r->warn_data, r->path, r->line, msg.oom ? why : msg.buf);
		strbuf_release(&msg);
	}
}

static int not_a_log(struct log_reader *r, struct strbuf *err)
{
	strbuf_addf(err,
		    "'%s' is not a memline log (line 1 is not a header); give a log written by "
		    "memline run",
		    r->path);
	return -1;
}

static const struct {
	const char *name;
	enum record_type type;
} record_types[] = {
	{"header", REC_HEADER},	  {"proc", REC_PROC},	    {"exec", REC_EXEC},
	{"sample", REC_SAMPLE},	  {"exit", REC_EXIT},	    {"end", REC_END},
	{"event", REC_EVENT},	  {"span", REC_SPAN},	    {"output", REC_OUTPUT},
	{"stopped", REC_STOPPED}, {"warning", REC_WARNING}, {"stack", REC_STACK},
	{"frames", REC_FRAMES},	  {"thread", REC_THREAD},   {"heap", REC_HEAP},
	{"clock", REC_CLOCK},
};

/*
 * The fast path for sample records, which are nearly all of a long log: a strict parser of
 * exactly the shape memline's writer gives them,
 *   {"type":"sample","t":T,"avail":N,"tree":[N,...],"p":[[N,...,"S"],...]}
 * with N an integer or null. Anything else (another writer's spacing, a number with a fraction
 * where an integer goes) makes it give up, and the line goes through jansson like any other.
 */
/* Positions in a sample's arrays the fast path maps; a log with more falls back to jansson. */
#define FAST_MAX_POS 64

struct fast {
	const char *p, *end;
};

static bool lit(struct fast *f, const char *s, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, s, n))
		return false;
	f->p += n;
	return true;
}

/* An integer or null (-1) into *v. Digits first: they are nearly every value. */
static bool fast_int(struct fast *f, long long *v)
{
	const char *p = f->p, *end = f->end;
	bool neg = false;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p < end && (unsigned)(*p - '0') < 10) {
		unsigned long long x = 0;
		const char *lim = end - p > 18 ? p + 18 : end;
		while (p < lim && (unsigned)(*p - '0') < 10)
			x = x * 10 + (unsigned)(*p++ - '0');
		/* More digits than that, or a fraction or an exponent: not ours to take. */
		if (p < end && ((unsigned)(*p - '0') < 10 || *p == '.' || *p == 'e' || *p == 'E'))
			return false;
		f->p = p;
		*v = neg ? -(long long)x : (long long)x;
		return true;
	}
	if (!neg && end - p >= 4 && !memcmp(p, "null", 4)) {
		f->p = p + 4;
		*v = -1;
		return true;
	}
	return false;
}

/*
 * One value of a p entry at *pp, into *v: an integer or null (-1). *end must be readable and not
 * a digit (the line's newline), so the digit loop needs no bounds test. Same rules as fast_int.
 */
static inline bool entry_int(const char **pp, const char *end, long long *v)
{
	const char *p = *pp;
	bool neg = *p == '-';
	p += neg;
	const char *digits = p;
	unsigned long long x = 0;
	while ((unsigned)(*p - '0') < 10)
		x = x * 10 + (unsigned)(*p++ - '0');
	if (p != digits) {
		if (p - digits > 18 || *p == '.' || *p == 'e' || *p == 'E')
			return false;
		*v = neg ? -(long long)x : (long long)x;
		*pp = p;
		return true;
	}
	if (neg || end - p < 4 || memcmp(p, "null", 4))
		return false;
	*v = -1;
	*pp = p + 4;
	return true;
}

/*
 * One entry of a sample's p array, "[v,v,...]" at f->p, into pv: the values by their positions
 * (proc_at), the state between quotes. *f->end must be readable (the line's newline).
 */
static bool fast_entry(struct fast *f, const int *proc_at, struct proc_values *pv)
{
	const char *p = f->p, *end = f->end;
	if (*p != '[')
		return false;
	p++;
	for (int i = 0; i < PROC_NFIELDS; i++)
		pv->v[i] = -1;
	pv->state = '\0';
	if (*p == ']') {
		f->p = p + 1;
		return true;
	}
	for (int pos = 0;; pos++) {
		if (pos >= FAST_MAX_POS || p >= end)
			return false;
		if (*p == '"') {
			/* The state: one plain character between quotes. */
			if (end - p < 3 || p[2] != '"' || p[1] == '\\')
				return false;
			if (proc_at[pos] == -2)
				pv->state = p[1];
			p += 3;
		} else {
			long long v;
			if (!entry_int(&p, end, &v))
				return false;
			if (proc_at[pos] >= 0)
				pv->v[proc_at[pos]] = v;
		}
		if (*p == ',') {
			p++;
		} else if (*p == ']') {
			f->p = p + 1;
			return true;
		} else {
			return false;
		}
	}
}

/* A time: an optional minus, digits, and a point with up to 9 digits. */
static bool fast_time(struct fast *f, double *t)
{
	const char *p = f->p;
	bool neg = p < f->end && *p == '-';
	p += neg;
	if (p >= f->end || *p < '0' || *p > '9')
		return false;
	double whole = 0, frac = 0, scale = 1;
	for (int k = 0; p < f->end && *p >= '0' && *p <= '9'; k++) {
		if (k > 15)
			return false;
		whole = whole * 10 + (*p++ - '0');
	}
	if (p < f->end && *p == '.') {
		p++;
		for (int k = 0; p < f->end && *p >= '0' && *p <= '9'; k++) {
			if (k > 9)
				return false;
			frac = frac * 10 + (*p++ - '0');
			scale *= 10;
		}
	}
	if (p < f->end && (*p == 'e' || *p == 'E'))
		return false;
	f->p = p;
	*t = (neg ? -1 : 1) * (whole + frac / scale);
	return true;
}

/* The field at each array position, from the header's names: -1 for none, -2 for state. */
static void fast_maps(const struct log_reader *r, int *proc_at, int *tree_at)
{
	for (int i = 0; i < FAST_MAX_POS; i++)
		proc_at[i] = tree_at[i] = -1;
	for (int f = 0; f < PROC_NFIELDS; f++)
		if (r->proc_pos[f] >= 0 && r->proc_pos[f] < FAST_MAX_POS)
			proc_at[r->proc_pos[f]] = f;
	if (r->state_pos >= 0 && r->state_pos < FAST_MAX_POS)
		proc_at[r->state_pos] = -2;
	for (int f = 0; f < TREE_NFIELDS; f++)
		if (r->tree_pos[f] >= 0 && r->tree_pos[f] < FAST_MAX_POS)
			tree_at[r->tree_pos[f]] = f;
}

/* A sample's "th" rows, after their opening bracket, up to the closing one (format 3). */
static bool fast_threads(const struct log_reader *r, struct fast *f, struct sample_record *s)
{
	int at[FAST_MAX_POS];
	for (int i = 0; i < FAST_MAX_POS; i++)
		at[i] = -1;
	for (int k = 0; k < THREAD_NFIELDS; k++)
		if (r->thread_pos[k] >= 0 && r->thread_pos[k] < FAST_MAX_POS)
			at[r->thread_pos[k]] = k;
	size_t cap = 0;
	for (size_t k = 0; !lit(f, "]", 1); k++) {
		if ((k && !lit(f, ",", 1)) || !lit(f, "[", 1))
			return false;
		if (s->n_threads == cap) {
			size_t want = cap ? cap * 2 : 16;
			struct thread_values *nv = realloc(s->threads, want * sizeof(*nv));
			if (!nv)
				return false;
			s->threads = nv;
			cap = want;
		}
		struct thread_values *v = &s->threads[s->n_threads];
		for (int i = 0; i < THREAD_NFIELDS; i++)
			v->v[i] = -1;
		for (int pos = 0; !lit(f, "]", 1); pos++) {
			long long x;
			if ((pos && !lit(f, ",", 1)) || pos >= FAST_MAX_POS ||
			    !entry_int(&f->p, f->end, &x))
				return false;
			if (at[pos] >= 0)
				v->v[at[pos]] = x;
		}
		if (v->v[TH_PID] > 0 && v->v[TH_TID] != 0 && r->thread_pos[TH_TID] >= 0)
			s->n_threads++;
	}
	return true;
}

/*
 * A sample line of len bytes, without its newline, which must follow it (line[len] is read: it
 * stops the number loops without a bounds test). False when the line is not in the exact shape
 * memline writes: the caller then decodes it with jansson.
 */
static bool fast_sample(struct log_reader *r, const char *line, size_t len, struct sample_record *s)
{
	static const char head[] = "{\"type\":\"sample\",\"t\":";
	struct fast f = {line, line + len};
	if (!lit(&f, head, sizeof(head) - 1))
		return false;
	int proc_at[FAST_MAX_POS], tree_at[FAST_MAX_POS];
	fast_maps(r, proc_at, tree_at);
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < TREE_NFIELDS; i++)
		s->tree.v[i] = -1;
	long long v;
	if (!fast_time(&f, &s->t) || !lit(&f, ",\"avail\":", 9) || !fast_int(&f, &s->avail) ||
	    !lit(&f, ",\"tree\":[", 9))
		return false;
	for (int pos = 0; !lit(&f, "]", 1); pos++) {
		if ((pos && !lit(&f, ",", 1)) || pos >= FAST_MAX_POS || !fast_int(&f, &v))
			return false;
		if (tree_at[pos] >= 0)
			s->tree.v[tree_at[pos]] = v;
	}
	if (!lit(&f, ",\"p\":[", 6))
		return false;
	/* As many entries as the previous sample had, to start with: trees change slowly. */
	size_t cap = 0;
	for (size_t k = 0; !lit(&f, "]", 1); k++) {
		if (k && !lit(&f, ",", 1))
			goto fail;
		if (s->n == cap) {
			size_t want = cap ? cap * 2 : (r->fast_hint ? r->fast_hint : 16);
			struct proc_values *np = realloc(s->procs, want * sizeof(*np));
			if (!np)
				goto fail;
			s->procs = np;
			cap = want;
		}
		struct proc_values *pv = &s->procs[s->n];
		if (!fast_entry(&f, proc_at, pv))
			goto fail;
		if (pv->v[PF_PID] > 0) /* an entry without a pid cannot be placed */
			s->n++;
	}
	if (lit(&f, ",\"th\":[", 7) && !fast_threads(r, &f, s))
		goto fail;
	if (lit(&f, "}", 1) && f.p == f.end) {
		r->fast_hint = s->n;
		return true;
	}
fail:
	free(s->procs);
	s->procs = NULL;
	s->n = 0;
	free(s->threads);
	s->threads = NULL;
	s->n_threads = 0;
	return false;
}

/* What next_line found. */
enum line_kind { LINE_END, LINE_OK, LINE_LONG, LINE_ERROR };

/*
 * The next line of the file into *line and *n, its newline included when it has one (the last
 * line may lack it); valid until the next call. A line that lies within the block read is
 * handed out where it is; one that spans blocks is put together in r->pending, up to
 * LOG_LINE_MAX bytes: past that it is read to its end in blocks and dropped, and LINE_LONG
 * says so (*cut: the file ended inside it). LINE_ERROR: a read failed, errno says why.
 */
static enum line_kind next_line(struct log_reader *r, const char **line, size_t *n, bool *cut)
{
	bool skipping = false;
	/* A line of a few MB once does not keep its buffer for the rest of the log. */
	if (r->pending.alloc > 4 * READ_BLOCK)
		strbuf_release(&r->pending);
	strbuf_reset(&r->pending);
	for (;;) {
		if (r->blk_pos == r->blk_len) {
			if (r->at_end)
				goto end;
			if (!r->blk && !(r->blk = malloc(READ_BLOCK))) {
				errno = ENOMEM;
				return LINE_ERROR;
			}
			ssize_t got = read(r->fd, r->blk, READ_BLOCK);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return LINE_ERROR;
			r->blk_pos = 0;
			r->blk_len = (size_t)got;
			if (!got) {
				r->at_end = true;
				goto end;
			}
		}
		const char *p = r->blk + r->blk_pos;
		size_t avail = r->blk_len - r->blk_pos;
		const char *nl = memchr(p, '\n', avail);
		size_t take = nl ? (size_t)(nl + 1 - p) : avail;
		r->blk_pos += take;
		if (!skipping && !r->pending.len && nl) {
			*line = p;
			*n = take;
			return LINE_OK;
		}
		if (!skipping && r->pending.len + take - (nl != NULL) > LOG_LINE_MAX) {
			skipping = true;
			strbuf_release(&r->pending);
		}
		if (skipping) {
			if (nl) {
				*cut = false;
				return LINE_LONG;
			}
			continue;
		}
		strbuf_add(&r->pending, p, take);
		if (r->pending.oom) {
			strbuf_release(&r->pending);
			errno = ENOMEM;
			return LINE_ERROR;
		}
		if (nl) {
			*line = r->pending.buf;
			*n = r->pending.len;
			return LINE_OK;
		}
	}
end:
	if (skipping) {
		*cut = true;
		return LINE_LONG;
	}
	if (!r->pending.len)
		return LINE_END;
	*line = r->pending.buf; /* the last line, without its newline */
	*n = r->pending.len;
	return LINE_OK;
}

/* The next record from the file, read and decoded here and now. */
static int read_next(struct log_reader *r, struct log_record *rec, struct strbuf *err)
{
	log_record_release(rec);
	for (;;) {
		const char *line = NULL;
		size_t n = 0;
		bool cut = false;
		int ret;
		switch (next_line(r, &line, &n, &cut)) {
		case LINE_ERROR:
			strbuf_addf(err, "cannot read '%s': %s", r->path, strerror(errno));
			return -1;
		case LINE_END:
			if (!r->seen_header) {
				strbuf_addf(
					err,
					"'%s' is empty: the recording wrote nothing; it may have "
					"died at once",
					r->path);
				return -1;
			}
			return 0;
		case LINE_LONG:
			if (log_reader_skip_long(r, cut, err) < 0)
				return -1;
			if (r->truncated)
				return 0;
			break;
		case LINE_OK:
			ret = log_reader_parse(r, line, n, rec, err);
			if (ret || r->truncated)
				return ret;
			break;
		}
	}
}

int log_reader_skip_long(struct log_reader *r, bool at_end, struct strbuf *err)
{
	r->line++;
	if (!r->seen_header) {
		strbuf_addf(err,
			    "'%s' is not a memline log (its first line is longer than %zu MiB); "
			    "give a log written by memline run",
			    r->path, LOG_LINE_MAX >> 20);
		return -1;
	}
	if (at_end) {
		/* The log ends inside it, as it would inside a cut-off last line. */
		r->truncated = true;
		return 0;
	}
	char why[64];
	snprintf(why, sizeof(why), "longer than %zu MiB", LOG_LINE_MAX >> 20);
	skip_line(r, why);
	return 0;
}

/*
 * A line that is no JSON object: the cut-off end of a log whose writer died (0, r->truncated),
 * a corrupt line (skipped, 0), or, before the header, not a log at all (-1).
 */
static int not_an_object(struct log_reader *r, bool complete, const char *why, struct strbuf *err)
{
	if (!complete && r->seen_header) {
		/* The writer died mid-line: the log simply ends here. */
		r->truncated = true;
		return 0;
	}
	if (!r->seen_header) {
		if (!complete)
			strbuf_addf(err, "'%s' ends inside its header: the recording died at once",
				    r->path);
		else
			not_a_log(r, err);
		return -1;
	}
	skip_line(r, why);
	return 0;
}

/*
 * The header rules: the first record must be a header of a format this reader knows (-1
 * otherwise: this is no log it can read); a later header is a corrupt line (0). 1: go on.
 */
static int check_header(struct log_reader *r, const json_t *o, const struct log_record *rec,
			struct strbuf *err)
{
	if (r->seen_header) {
		if (rec->type != REC_HEADER)
			return 1;
		skip_line(r, "a second header");
		return 0;
	}
	const json_t *format = json_object_get(o, "format");
	if (rec->type != REC_HEADER || !json_is_integer(format) || json_integer_value(format) < 1)
		return not_a_log(r, err);
	if (json_integer_value(format) > LOG_FORMAT_VERSION) {
		strbuf_addf(err,
			    "'%s' was written by a newer memline (format %lld); upgrade memline "
			    "to read it",
			    r->path, (long long)json_integer_value(format));
		return -1;
	}
	return 1;
}

/* Decodes o by rec->type into rec. Returns why the line is skipped, or NULL; sets *oom. */
static const char *decode_record(struct log_reader *r, const json_t *o, struct log_record *rec,
				 bool *oom)
{
	const char *bad = NULL;
	switch (rec->type) {
	case REC_HEADER:
		*oom |= !decode_header(r, o, &rec->header);
		r->seen_header = true;
		break;
	case REC_PROC:
	case REC_EXEC:
		if (!decode_proc(o, &rec->proc))
			*oom = true;
		else if (rec->proc.pid <= 0)
			bad = "process record without a pid";
		break;
	case REC_SAMPLE:
		bad = decode_sample(r, o, &rec->sample, oom);
		break;
	case REC_EXIT:
		decode_exit(o, &rec->exit);
		if (rec->exit.pid <= 0)
			bad = "exit record without a pid";
		break;
	case REC_END:
		*oom |= !decode_end(o, &rec->end);
		rec->end_events = (long)get_ll(o, "events", -1);
		if (json_is_string(json_object_get(o, "error")))
			rec->end_error = copy_text(json_object_get(o, "error"), LOG_LABEL_MAX,
						   &rec->end_error_len, oom);
		break;
	case REC_EVENT:
	case REC_SPAN:
		bad = decode_mark(o, rec->type, &rec->mark, oom);
		break;
	case REC_OUTPUT:
		bad = decode_output(o, &rec->output, oom);
		break;
	case REC_STOPPED:
	case REC_WARNING:
		bad = decode_note(o, rec->type == REC_STOPPED, &rec->note, oom);
		break;
	case REC_STACK:
		bad = decode_stack(o, &rec->stack, oom);
		break;
	case REC_FRAMES:
		bad = decode_frames(o, &rec->frames, oom);
		break;
	case REC_THREAD:
		bad = decode_thread(o, &rec->thread, oom);
		break;
	case REC_HEAP:
		bad = decode_heap(o, &rec->heap, oom);
		break;
	case REC_CLOCK:
		rec->clock.t = get_double(o, "t", -1);
		decode_clock(o, &rec->clock);
		if (rec->clock.t < 0 || rec->clock.wall_us < 0)
			bad = "clock record without its time or its wall clock";
		break;
	case REC_UNKNOWN:
		break;
	}
	return bad;
}

/* log_reader_parse without taking frames and stacks (reading ahead takes them in order). */
static int parse_line(struct log_reader *r, const char *line, size_t n, struct log_record *rec,
		      struct strbuf *err)
{
	log_record_release(rec);
	r->line++;
	bool complete = n > 0 && line[n - 1] == '\n';
	if (complete && r->seen_header && fast_sample(r, line, n - 1, &rec->sample)) {
		rec->type = REC_SAMPLE;
		rec->line = r->line;
		return 1;
	}
	json_error_t jerr;
	/* An escaped NUL (\u0000) is text like any other: the writer stores what it was given. */
	json_t *o = json_loadb(line, n, JSON_ALLOW_NUL, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return not_an_object(r, complete, o ? "not a JSON object" : jerr.text, err);
	}
	const char *type = json_string_value(json_object_get(o, "type"));
	rec->type = REC_UNKNOWN;
	rec->line = r->line;
	for (size_t i = 0; type && i < sizeof(record_types) / sizeof(record_types[0]); i++)
		if (!strcmp(type, record_types[i].name))
			rec->type = record_types[i].type;
	int go = check_header(r, o, rec, err);
	if (go <= 0) {
		json_decref(o);
		return go;
	}
	bool oom = false;
	const char *bad = decode_record(r, o, rec, &oom);
	json_decref(o);
	if (oom) {
		strbuf_addf(err, "out of memory reading '%s'", r->path);
		return -1;
	}
	if (bad) {
		log_record_release(rec);
		skip_line(r, bad);
		return 0;
	}
	return 1;
}

/* skip_line for a record of line `line` (reading ahead: not the reader's line). */
static void skip_record(struct log_reader *r, long line, const char *why)
{
	long at = r->line;
	r->line = line;
	skip_line(r, why);
	r->line = at;
}

/*
 * How far past the table's end a frames record may begin: a writer numbers on from the end, so
 * a gap is frames records lost with corrupt lines, never millions of them (a line that says it
 * begins at 16 million would have the table grow to a gigabyte for nothing).
 */
#define FRAMES_GAP_MAX ((size_t)1 << 16)

/*
 * A frames record's frames into the frame table: 0; 1 to skip the record (it renumbers frames),
 * 2 (it begins far past the table's end); -1 out of memory.
 */
static int take_frames(struct log_reader *r, const struct frames_record *fr)
{
	if (fr->first > r->frames.n + FRAMES_GAP_MAX)
		return 2;
	for (size_t i = 0; i < fr->n; i++)
		if (frame_table_get(&r->frames, fr->first + i))
			return 1;
	for (size_t i = 0; i < fr->n; i++)
		if (frame_table_set(&r->frames, fr->first + i, &fr->frames[i]) < 0)
			return -1;
	return 0;
}

/* A stack record's frames looked up: 0, 1 to skip the record (a number not in the table). */
static int resolve_stack(struct log_reader *r, struct stack_record *st, bool *oom)
{
	if (!st->n_frames)
		return 0;
	for (size_t i = 0; i < st->n_frames; i++)
		if (!frame_table_get(&r->frames, st->ids[i]))
			return 1;
	if (!(st->frames = calloc(st->n_frames, sizeof(*st->frames)))) {
		*oom = true;
		return 0;
	}
	for (size_t i = 0; i < st->n_frames; i++)
		st->frames[i] = *frame_table_get(&r->frames, st->ids[i]);
	return 0;
}

/*
 * Takes a decoded record, in log order: a frames record goes into the frame table (0: no
 * record), a stack record gets its frames. Returns 1 with the record, 0 when it gave none
 * (skipped as corrupt with a warning), -1 out of memory.
 */
static int take_record(struct log_reader *r, struct log_record *rec, struct strbuf *err)
{
	bool oom = false, frames = rec->type == REC_FRAMES;
	int bad;
	if (frames) {
		bad = take_frames(r, &rec->frames);
		oom = bad < 0;
	} else if (rec->type == REC_STACK) {
		bad = resolve_stack(r, &rec->stack, &oom);
	} else {
		return 1;
	}
	if (!oom && !frames && !bad)
		return 1;
	long line = rec->line;
	log_record_release(rec);
	if (oom) {
		strbuf_addf(err, "out of memory reading '%s'", r->path);
		return -1;
	}
	if (bad)
		skip_record(r, line,
			    !frames    ? "stack record with a frame no frames record gave"
			    : bad == 2 ? "frames record numbered far past the frames read"
				       : "frames record renumbering frames already read");
	return 0;
}

int log_reader_parse(struct log_reader *r, const char *line, size_t n, struct log_record *rec,
		     struct strbuf *err)
{
	int ret = parse_line(r, line, n, rec, err);
	return ret > 0 ? take_record(r, rec, err) : ret;
}

/*
 * ---- reading ahead ----
 * Decoding is most of the cost of loading a large log, so it runs on threads of their own
 * while the caller builds its model. After the header (read here, as usual) the threads take
 * turns at the file: under the source lock, one reads the next chunk (lines of the log, about
 * AHEAD_CHUNK bytes of them, through the reader's own next_line, so a line too long to keep is
 * read past there too), then decodes it on its own, with a copy of the reader (the header's
 * field positions), at most AHEAD_SLOTS chunks ahead of the caller. The caller takes the
 * chunks in file order, so records come in file order and every thread stays busy. A chunk
 * counts its own lines from 0; the caller adds the lines of the chunks before it, to its
 * records and to its warnings, which it tells from its own thread: what the caller sees is
 * exactly what reading line by line gives. Records move by struct copy: the chunk's slot is
 * left empty, nothing is decoded twice. Memory: the chunks in flight, never the whole file.
 */
#define AHEAD_WORKERS 2
#define AHEAD_CHUNK   (1 << 20)
#define AHEAD_SLOTS   6

struct ahead_warning {
	long line; /* in its chunk, from 1 */
	char *msg;
};

struct ahead_chunk {
	struct strbuf data; /* its lines, as read from the file */
	bool long_line;	    /* after them, a line too long to keep (read past) */
	bool long_cut;	    /* ... in which the log ended */
	int read_errno;	    /* reading stopped after data with this error; 0 if none */
	bool ready;	    /* decoded (guarded by the lock) */
	struct log_record *rec;
	size_t n, cap;
	int ret;	   /* 0 when its lines were all read, -1 on an error that stops reading */
	struct strbuf err; /* the message when -1 */
	long lines;	   /* lines it holds */
	long corrupt;	   /* lines it skipped */
	bool truncated;	   /* its last line was cut off: the log ends there */
	struct ahead_warning *warnings;
	size_t n_warnings;
};

struct ahead_worker {
	struct log_ahead *a;
	struct log_reader sub;	   /* a copy of the reader, for decoding only */
	struct ahead_chunk *chunk; /* the chunk it decodes, for its warnings */
	pthread_t thread;
	bool running;
};

struct log_ahead {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t src_lock; /* held while reading the file; taken with lock held */
	bool stop;		  /* the reader is being closed */
	bool src_done;		  /* the file gave all it has (guarded by src_lock) */
	bool src_end;		  /* ... and the chunk that found it is decoded (guarded) */
	size_t handed;		  /* chunks handed to the threads (guarded) */
	size_t taken;		  /* chunks the caller is done with (guarded) */
	struct ahead_chunk slot[AHEAD_SLOTS]; /* chunk c is slot[c % AHEAD_SLOTS] */
	struct ahead_worker w[AHEAD_WORKERS];
	size_t pos;	/* the caller's next record in chunk `taken` */
	long line_base; /* lines before chunk `taken` */
	int end;	/* 1 while reading, else what log_reader_next returns from now on */
	struct log_reader *r;
};

/* The workers' warn callback: the warning waits in its chunk. */
static void ahead_warn(void *data, const char *path, long line, const char *msg)
{
	(void)path;
	struct ahead_chunk *c = ((struct ahead_worker *)data)->chunk;
	struct ahead_warning *nw = reallocarray(c->warnings, c->n_warnings + 1, sizeof(*nw));
	if (!nw)
		return;
	c->warnings = nw;
	if ((nw[c->n_warnings].msg = strdup(msg)))
		nw[c->n_warnings++].line = line;
}

/*
 * Reads the next chunk of the log into c: whole lines, about AHEAD_CHUNK bytes, ending early
 * at a line too long to keep or at the end of the file. Called with the source lock held.
 */
static void fill_chunk(struct log_ahead *a, struct ahead_chunk *c)
{
	/* A chunk that held a long line gives its memory back. */
	if (c->data.alloc > 4 * AHEAD_CHUNK)
		strbuf_release(&c->data);
	strbuf_reset(&c->data);
	c->long_line = c->long_cut = false;
	c->read_errno = 0;
	while (!a->src_done && c->data.len < AHEAD_CHUNK) {
		const char *line = NULL;
		size_t n = 0;
		bool cut = false;
		switch (next_line(a->r, &line, &n, &cut)) {
		case LINE_END:
			a->src_done = true;
			break;
		case LINE_ERROR:
			c->read_errno = errno ? errno : EIO;
			a->src_done = true;
			break;
		case LINE_LONG:
			c->long_line = true;
			c->long_cut = cut;
			a->src_done = cut;
			return;
		case LINE_OK:
			strbuf_add(&c->data, line, n);
			if (c->data.oom) {
				c->read_errno = ENOMEM;
				a->src_done = true;
			}
			break;
		}
	}
}

/* Decodes the lines of chunk c with w's reader. */
static void decode_chunk(struct ahead_worker *w, struct ahead_chunk *c)
{
	struct log_reader *sub = &w->sub;
	sub->line = 0;
	sub->corrupt = 0;
	sub->truncated = false;
	w->chunk = c;
	c->n = 0;
	c->ret = 0;
	const char *from = c->data.buf, *to = c->data.buf + c->data.len;
	for (const char *p = from; p < to;) {
		const char *nl = memchr(p, '\n', (size_t)(to - p));
		size_t len = nl ? (size_t)(nl + 1 - p) : (size_t)(to - p);
		if (c->n == c->cap) {
			size_t want = c->cap ? 2 * c->cap : 256;
			struct log_record *nr = reallocarray(c->rec, want, sizeof(*nr));
			if (!nr) {
				strbuf_addstr(&c->err, "out of memory");
				c->ret = -1;
				break;
			}
			for (size_t k = c->cap; k < want; k++)
				log_record_init(&nr[k]);
			c->rec = nr;
			c->cap = want;
		}
		int ret = parse_line(sub, p, len, &c->rec[c->n], &c->err);
		p += len;
		if (ret < 0) {
			c->ret = -1;
			break;
		}
		c->n += (size_t)ret;
		if (sub->truncated)
			break;
	}
	if (!c->ret && !sub->truncated && c->long_line)
		log_reader_skip_long(sub, c->long_cut, &c->err);
	if (!c->ret && !sub->truncated && c->read_errno) {
		strbuf_addf(&c->err, "cannot read '%s': %s", sub->path, strerror(c->read_errno));
		c->ret = -1;
	}
	c->lines = sub->line;
	c->corrupt = sub->corrupt;
	c->truncated = sub->truncated;
}

static void *ahead_thread(void *arg)
{
	struct ahead_worker *w = arg;
	struct log_ahead *a = w->a;
	pthread_mutex_lock(&a->lock);
	while (!a->stop && !a->src_end) {
		if (a->handed - a->taken == AHEAD_SLOTS) {
			pthread_cond_wait(&a->cond, &a->lock);
			continue;
		}
		/*
		 * The next chunk: its number is taken and the file locked in one step, so chunks
		 * are read in the order of their numbers.
		 */
		struct ahead_chunk *c = &a->slot[a->handed++ % AHEAD_SLOTS];
		c->ready = false;
		pthread_mutex_lock(&a->src_lock);
		pthread_mutex_unlock(&a->lock);
		fill_chunk(a, c);
		bool done = a->src_done;
		pthread_mutex_unlock(&a->src_lock);
		decode_chunk(w, c);
		pthread_mutex_lock(&a->lock);
		if (done)
			a->src_end = true;
		c->ready = true;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int log_reader_read_ahead(struct log_reader *r, struct log_record *first, struct strbuf *err)
{
	int ret = read_next(r, first, err);
	if (ret <= 0 || r->truncated || r->fd < 0)
		return ret;
	struct log_ahead *a = calloc(1, sizeof(*a));
	if (!a)
		return 1;
	a->r = r;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->src_lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	for (size_t i = 0; i < AHEAD_SLOTS; i++) {
		strbuf_init(&a->slot[i].data);
		strbuf_init(&a->slot[i].err);
	}
	a->line_base = r->line;
	a->end = 1;
	r->ahead = a;
	for (size_t k = 0; k < AHEAD_WORKERS; k++) {
		struct ahead_worker *w = &a->w[k];
		w->a = a;
		w->sub = *r;
		w->sub.fd = -1;
		w->sub.blk = NULL;
		w->sub.blk_pos = w->sub.blk_len = 0;
		strbuf_init(&w->sub.pending);
		w->sub.ahead = NULL;
		frame_table_init(&w->sub.frames); /* frames are the caller's to take */
		w->sub.warn = r->warn ? ahead_warn : NULL;
		w->sub.warn_data = w;
		if (pthread_create(&w->thread, NULL, ahead_thread, w))
			break;
		w->running = true;
	}
	if (!a->w[0].running) {
		/* No thread: read on as before, from where the header ended. */
		ahead_free(a);
		r->ahead = NULL;
	}
	return 1;
}

/* Tells chunk c's warnings, from the caller's thread, with their lines in the log. */
static void ahead_tell(struct log_ahead *a, struct ahead_chunk *c)
{
	for (size_t i = 0; i < c->n_warnings; i++) {
		if (a->r->warn)
			a->r->warn(a->r->warn_data, a->r->path, a->line_base + c->warnings[i].line,
				   c->warnings[i].msg);
		free(c->warnings[i].msg);
	}
	free(c->warnings);
	c->warnings = NULL;
	c->n_warnings = 0;
}

static int ahead_next(struct log_reader *r, struct log_record *rec, struct strbuf *err)
{
	struct log_ahead *a = r->ahead;
	log_record_release(rec);
	while (a->end == 1) {
		pthread_mutex_lock(&a->lock);
		struct ahead_chunk *c = &a->slot[a->taken % AHEAD_SLOTS];
		while (a->taken < a->handed ? !c->ready : !a->src_end)
			pthread_cond_wait(&a->cond, &a->lock);
		bool none = a->taken == a->handed; /* every chunk taken: the log's end */
		pthread_mutex_unlock(&a->lock);
		if (none) {
			a->end = 0;
			break;
		}
		if (!a->pos)
			ahead_tell(a, c);
		if (a->pos < c->n) {
			*rec = c->rec[a->pos];
			log_record_init(&c->rec[a->pos++]);
			rec->line += a->line_base;
			int took = take_record(r, rec, err);
			if (took < 0)
				a->end = -1;
			if (took)
				return took;
			continue;
		}
		/* Done with the chunk. */
		r->corrupt += c->corrupt;
		a->line_base += c->lines;
		r->line = a->line_base;
		if (c->ret < 0) {
			strbuf_addstr(err, c->err.buf);
			a->end = -1;
			return -1;
		}
		if (c->truncated) {
			r->truncated = true;
			a->end = 0;
			break;
		}
		a->pos = 0;
		pthread_mutex_lock(&a->lock);
		a->taken++;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
	}
	if (a->end < 0)
		strbuf_addf(err, "cannot read '%s'", r->path);
	return a->end;
}

static void ahead_free(struct log_ahead *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (size_t k = 0; k < AHEAD_WORKERS; k++) {
		if (a->w[k].running)
			pthread_join(a->w[k].thread, NULL);
		strbuf_release(&a->w[k].sub.pending);
	}
	for (size_t i = 0; i < AHEAD_SLOTS; i++) {
		struct ahead_chunk *c = &a->slot[i];
		for (size_t k = 0; k < c->cap; k++)
			log_record_release(&c->rec[k]);
		free(c->rec);
		strbuf_release(&c->data);
		strbuf_release(&c->err);
		for (size_t k = 0; k < c->n_warnings; k++)
			free(c->warnings[k].msg);
		free(c->warnings);
	}
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->src_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int log_reader_next(struct log_reader *r, struct log_record *rec, struct strbuf *err)
{
	return r->ahead ? ahead_next(r, rec, err) : read_next(r, rec, err);
}

bool log_is_being_written(const char *path)
{
	/* Without blocking: a FIFO given as a log must not hold a reader up here either. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return false;
	bool locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* closing drops our shared lock if we took it */
	return locked;
}
