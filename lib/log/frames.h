/*
 * frames: the log's frame table (docs/log-format.md, "frames"), every distinct stack frame of
 * a recording numbered from 0 in the order it first appeared. The writer interns frames in
 * it (a frame's content, hashed, to its number) to write each one once; the reader sets the
 * frames a log's "frames" records give and looks a "stack" record's numbers up in it. The
 * table owns copies of the frames' strings. Allocation failures come back as -1: nothing here
 * prints or aborts.
 */
#ifndef MEMLINE_LOG_FRAMES_H
#define MEMLINE_LOG_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "log/record.h"

/* Frame numbers a table takes: a log that numbers beyond is damaged (or hostile). */
#define FRAME_TABLE_MAX ((size_t)1 << 24)

struct frame_table {
	struct frame_info *frames; /* by number, n of them; a gap has kind FRAME_NKINDS */
	size_t n, alloc;
	size_t *index; /* open addressing over frames: number + 1, 0 for an empty slot */
	size_t index_size;
};

void frame_table_init(struct frame_table *t);
/* Frees the frames and their strings; the table can be used again. */
void frame_table_release(struct frame_table *t);
/*
 * The writer's side: the number of the frame whose content equals f's (kind, fn, module, off,
 * fn_off, file, line), adding a copy of f as number t->n when there is none. Returns the
 * number, or -1 when out of memory (the table is left as it was).
 */
long frame_table_intern(struct frame_table *t, const struct frame_info *f);
/*
 * The reader's side: sets frame number id to a copy of f. Returns 0; 1 when id is already set
 * or not below FRAME_TABLE_MAX, or f's kind is not one we know (the log is damaged: nothing is
 * changed); -1 when out of memory.
 */
int frame_table_set(struct frame_table *t, size_t id, const struct frame_info *f);
/* Frame number id, or NULL when the table has no such frame. Valid until the next change. */
const struct frame_info *frame_table_get(const struct frame_table *t, size_t id);

#endif
