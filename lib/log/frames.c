/*
 * frames: the frame table. Frames live in an array by number; an open-addressing index
 * (linear probing, kept at most half full) over a hash of their content finds a frame's
 * number from its content, for the writer. The reader only sets and gets by number; its
 * table may have gaps (a damaged log's frames record lost), marked by kind FRAME_NKINDS.
 */
#include "log/frames.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void frame_table_init(struct frame_table *t)
{
	memset(t, 0, sizeof(*t));
}

static void free_frame(struct frame_info *f)
{
	free((char *)f->fn);
	free((char *)f->module);
	free((char *)f->file);
}

void frame_table_release(struct frame_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free_frame(&t->frames[i]);
	free(t->frames);
	free(t->index);
	frame_table_init(t);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL; /* FNV-1a */
	}
	return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	unsigned char present = s != NULL;
	h = hash_bytes(h, &present, 1);
	return s ? hash_bytes(h, s, strlen(s) + 1) : h;
}

static uint64_t hash_frame(const struct frame_info *f)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int kind = f->kind;
	h = hash_bytes(h, &kind, sizeof(kind));
	h = hash_str(h, f->fn);
	h = hash_str(h, f->module);
	h = hash_bytes(h, &f->off, sizeof(f->off));
	h = hash_bytes(h, &f->fn_off, sizeof(f->fn_off));
	h = hash_str(h, f->file);
	return hash_bytes(h, &f->line, sizeof(f->line));
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_frame(const struct frame_info *a, const struct frame_info *b)
{
	return a->kind == b->kind && a->off == b->off && a->fn_off == b->fn_off &&
	       a->line == b->line && same_str(a->fn, b->fn) && same_str(a->module, b->module) &&
	       same_str(a->file, b->file);
}

/* The slot of f in the index: the one holding it, or the empty one where it goes. */
static size_t find_slot(const struct frame_table *t, const struct frame_info *f, uint64_t h)
{
	size_t mask = t->index_size - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		size_t v = t->index[i];
		if (!v || same_frame(&t->frames[v - 1], f))
			return i;
	}
}

/* Makes the index twice as large (at least 64 slots) and puts every frame back in. */
static int grow_index(struct frame_table *t)
{
	size_t size = t->index_size ? t->index_size * 2 : 64;
	size_t *index = calloc(size, sizeof(*index));
	if (!index)
		return -1;
	free(t->index);
	t->index = index;
	t->index_size = size;
	for (size_t k = 0; k < t->n; k++)
		if (t->frames[k].kind != FRAME_NKINDS)
			t->index[find_slot(t, &t->frames[k], hash_frame(&t->frames[k]))] = k + 1;
	return 0;
}

static int grow_frames(struct frame_table *t, size_t n)
{
	if (n <= t->alloc)
		return 0;
	size_t alloc = t->alloc ? t->alloc : 16;
	while (alloc < n)
		alloc *= 2;
	struct frame_info *frames = realloc(t->frames, alloc * sizeof(*frames));
	if (!frames)
		return -1;
	t->frames = frames;
	t->alloc = alloc;
	return 0;
}

static int dup_str(const char **dst, const char *s)
{
	*dst = NULL;
	if (s && !(*dst = strdup(s)))
		return -1;
	return 0;
}

/* A copy of f, its strings owned; -1 when out of memory (nothing held then). */
static int copy_frame(struct frame_info *dst, const struct frame_info *f)
{
	*dst = *f;
	if (dup_str(&dst->fn, f->fn) < 0 || dup_str(&dst->module, f->module) < 0 ||
	    dup_str(&dst->file, f->file) < 0) {
		free_frame(dst);
		return -1;
	}
	return 0;
}

long frame_table_intern(struct frame_table *t, const struct frame_info *f)
{
	if ((t->n + 1) * 2 > t->index_size && grow_index(t) < 0)
		return -1;
	uint64_t h = hash_frame(f);
	size_t slot = find_slot(t, f, h);
	if (t->index[slot])
		return (long)(t->index[slot] - 1);
	if (t->n >= FRAME_TABLE_MAX || grow_frames(t, t->n + 1) < 0 ||
	    copy_frame(&t->frames[t->n], f) < 0)
		return -1;
	t->index[slot] = ++t->n;
	return (long)(t->n - 1);
}

int frame_table_set(struct frame_table *t, size_t id, const struct frame_info *f)
{
	if (id >= FRAME_TABLE_MAX || (unsigned)f->kind >= FRAME_NKINDS ||
	    (id < t->n && t->frames[id].kind != FRAME_NKINDS))
		return 1;
	if (grow_frames(t, id + 1) < 0)
		return -1;
	struct frame_info copy;
	if (copy_frame(&copy, f) < 0)
		return -1;
	for (; t->n < id; t->n++) /* a gap: frames a lost record gave */
		t->frames[t->n] = (struct frame_info){.kind = FRAME_NKINDS};
	t->frames[id] = copy;
	if (id == t->n)
		t->n++;
	return 0;
}

const struct frame_info *frame_table_get(const struct frame_table *t, size_t id)
{
	if (id >= t->n || t->frames[id].kind == FRAME_NKINDS)
		return NULL;
	return &t->frames[id];
}
