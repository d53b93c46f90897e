/*
 * stacks (model/stacks.h): the captures of a run. A stack record's frames are interned in the
 * model's frame table, which gives equal frames one number, so two stacks are the same when
 * their sequences of numbers are: the groups are found by a hash of that sequence (open
 * addressing, kept at most half full). A capture's records come one after the other in the
 * log; one whose number and pid are the last capture's joins it.
 */
#include "model/stacks.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

void run_stacks_init(struct run_stacks *st)
{
	memset(st, 0, sizeof(*st));
	frame_table_init(&st->frames);
}

void run_stacks_release(struct run_stacks *st)
{
	for (size_t i = 0; i < st->n_captures; i++) {
		struct run_capture *c = &st->captures[i];
		for (size_t k = 0; k < c->n_stacks; k++) {
			free(c->stacks[k].thread);
			free(c->stacks[k].error);
		}
		free(c->stacks);
		free(c->label);
	}
	free(st->captures);
	for (size_t g = 0; g < st->n_groups; g++)
		free(st->groups[g].frames);
	free(st->groups);
	free(st->group_index);
	frame_table_release(&st->frames);
	run_stacks_init(st);
}

/* Makes room for one more of an array of elements of size bytes; -1 out of memory. */
static int room(void **arr, size_t n, size_t *alloc, size_t size)
{
	if (n < *alloc)
		return 0;
	size_t want = *alloc ? *alloc * 2 : 8;
	void *p = reallocarray(*arr, want, size);
	if (!p)
		return -1;
	*arr = p;
	*alloc = want;
	return 0;
}

static uint64_t hash_ids(const size_t *ids, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;
	for (size_t i = 0; i < n; i++) {
		h ^= ids[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The slot of the sequence ids in the group index: the one holding it, or an empty one. */
static size_t group_slot(const struct run_stacks *st, const size_t *ids, size_t n)
{
	size_t mask = st->group_slots - 1;
	for (size_t i = (size_t)hash_ids(ids, n) & mask;; i = (i + 1) & mask) {
		size_t v = st->group_index[i];
		if (!v)
			return i;
		const struct run_stack_group *g = &st->groups[v - 1];
		if (g->n_frames == n && (!n || !memcmp(g->frames, ids, n * sizeof(*ids))))
			return i;
	}
}

static int grow_group_index(struct run_stacks *st)
{
	size_t slots = st->group_slots ? st->group_slots * 2 : 64;
	size_t *index = calloc(slots, sizeof(*index));
	if (!index)
		return -1;
	free(st->group_index);
	st->group_index = index;
	st->group_slots = slots;
	for (size_t g = 0; g < st->n_groups; g++)
		st->group_index[group_slot(st, st->groups[g].frames, st->groups[g].n_frames)] =
			g + 1;
	return 0;
}

/* The group of the sequence ids (taken over when it is new, else freed); -1 out of memory. */
static long group_of(struct run_stacks *st, size_t *ids, size_t n)
{
	if ((st->n_groups + 1) * 2 > st->group_slots && grow_group_index(st) < 0)
		goto oom;
	size_t slot = group_slot(st, ids, n);
	if (st->group_index[slot]) {
		free(ids);
		return (long)(st->group_index[slot] - 1);
	}
	if (room((void **)&st->groups, st->n_groups, &st->alloc_groups, sizeof(*st->groups)) < 0)
		goto oom;
	st->groups[st->n_groups] = (struct run_stack_group){.frames = ids, .n_frames = n};
	st->group_index[slot] = ++st->n_groups;
	return (long)(st->n_groups - 1);
oom:
	free(ids);
	return -1;
}

/* The capture s belongs to: the last one when s has its number and pid, else a new one. */
static struct run_capture *capture_of(struct run_stacks *st, const struct stack_record *s)
{
	if (st->n_captures) {
		struct run_capture *c = &st->captures[st->n_captures - 1];
		if (c->number == s->capture && c->pid == s->pid)
			return c;
	}
	if (room((void **)&st->captures, st->n_captures, &st->alloc_captures,
		 sizeof(*st->captures)) < 0)
		return NULL;
	struct run_capture *c = &st->captures[st->n_captures];
	*c = (struct run_capture){.t = s->t, .number = s->capture, .why = s->why, .pid = s->pid};
	if (s->label) {
		if (!(c->label = malloc(s->label_len + 1)))
			return NULL;
		memcpy(c->label, s->label, s->label_len);
		c->label[s->label_len] = '\0';
		c->label_len = s->label_len;
	}
	st->n_captures++;
	return c;
}

int run_stacks_add(struct run_stacks *st, const struct stack_record *s)
{
	size_t *ids = s->n_frames ? calloc(s->n_frames, sizeof(*ids)) : NULL;
	if (s->n_frames && !ids)
		return -1;
	for (size_t i = 0; i < s->n_frames; i++) {
		long id = frame_table_intern(&st->frames, &s->frames[i]);
		if (id < 0) {
			free(ids);
			return -1;
		}
		ids[i] = (size_t)id;
	}
	long g = group_of(st, ids, s->n_frames);
	struct run_capture *c = g < 0 ? NULL : capture_of(st, s);
	if (!c || room((void **)&c->stacks, c->n_stacks, &c->alloc_stacks, sizeof(*c->stacks)) < 0)
		return -1;
	struct run_stack *k = &c->stacks[c->n_stacks];
	*k = (struct run_stack){.tid = s->tid,
				.group = (size_t)g,
				.truncated = s->truncated,
				.stall_us = s->stall_us};
	if ((s->thread && !(k->thread = strdup(s->thread))) ||
	    (s->error && !(k->error = strdup(s->error)))) {
		free(k->thread);
		return -1;
	}
	c->n_stacks++;
	st->groups[g].count++;
	return 0;
}

const struct frame_info *run_stacks_frame(const struct run_stacks *st, size_t g, size_t k)
{
	return frame_table_get(&st->frames, st->groups[g].frames[k]);
}

long run_stacks_at(const struct run_stacks *st, double peak_t)
{
	long best = -1, near = -1;
	for (size_t i = 0; i < st->n_captures; i++) {
		const struct run_capture *c = &st->captures[i];
		if (c->why == STACK_PEAK && c->t <= peak_t &&
		    (best < 0 || c->t >= st->captures[best].t))
			best = (long)i;
		if (near < 0 || fabs(c->t - peak_t) < fabs(st->captures[near].t - peak_t))
			near = (long)i;
	}
	return best >= 0 ? best : near;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

void run_frame_name_raw(const struct frame_info *f, struct strbuf *out)
{
	if (f->fn) {
		strbuf_addstr(out, f->fn);
		if (f->file && f->line > 0)
			strbuf_addf(out, " (%s:%d)", base_name(f->file), f->line);
		else if (f->file)
			strbuf_addf(out, " (%s)", base_name(f->file));
		else if (f->module)
			strbuf_addf(out, " (%s)", base_name(f->module));
		return;
	}
	strbuf_addstr(out, f->module ? base_name(f->module) : "??");
	if (f->off >= 0)
		strbuf_addf(out, "+0x%llx", (unsigned long long)f->off);
	if (f->file && f->line > 0)
		strbuf_addf(out, " (%s:%d)", base_name(f->file), f->line);
}

void run_frame_name(const struct frame_info *f, struct strbuf *out)
{
	struct strbuf raw = STRBUF_INIT;
	run_frame_name_raw(f, &raw);
	if (raw.oom)
		out->oom = true;
	else
		text_escape(out, raw.buf, raw.len, SIZE_MAX);
	strbuf_release(&raw);
}
