/*
 * export-stacks: the stack captures (--stacks) in other tools' formats (render/export.h):
 * instants of the Chrome trace, and folded stacks for flame graphs. Frames are named as the
 * report names them (run_frame_name_raw); each format escapes them its own way: JSON as JSON
 * does, the folded lines with their separators and control characters replaced.
 */
#include "render/export.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The args of a stack's instant: its capture, its thread and its frames as names. */
static void stack_args(const struct run *run, const struct run_capture *c,
		       const struct run_stack *s, struct strbuf *sb)
{
	const struct run_stack_group *g = &run->stacks.groups[s->group];
	strbuf_addf(sb, ",\"args\":{\"capture\":%ld,\"why\":\"%s\",\"label\":", c->number,
		    stack_why_names[c->why]);
	if (c->label)
		strbuf_add_json_strn(sb, c->label, c->label_len);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"thread\":");
	if (s->thread)
		strbuf_add_json_str(sb, s->thread);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"frames\":[");
	struct strbuf name = STRBUF_INIT;
	for (size_t k = 0; k < g->n_frames; k++) {
		strbuf_reset(&name);
		run_frame_name_raw(run_stacks_frame(&run->stacks, s->group, k), &name);
		if (k)
			strbuf_addch(sb, ',');
		strbuf_add_json_strn(sb, name.buf ? name.buf : "", name.len);
	}
	sb->oom |= name.oom;
	strbuf_release(&name);
	strbuf_addstr(sb, "],\"truncated\":");
	strbuf_add_json_bool(sb, s->truncated);
	strbuf_addstr(sb, ",\"error\":");
	if (s->error)
		strbuf_add_json_str(sb, s->error);
	else
		strbuf_addstr(sb, "null");
	strbuf_addch(sb, '}');
}

void export_perfetto_stacks(const struct run *run, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	for (size_t i = 0; i < run->stacks.n_captures; i++) {
		const struct run_capture *c = &run->stacks.captures[i];
		bool known = run_proc_by_pid(run, c->pid) >= 0;
		for (size_t k = 0; k < c->n_stacks; k++) {
			const struct run_stack *s = &c->stacks[k];
			pid_t pid = known ? c->pid : EXPORT_TREE_PID;
			pid_t tid = known ? s->tid : pid;
			long long ts = llround(c->t * 1e6);
			strbuf_addf(sb,
				    ",\n{\"ph\":\"i\",\"name\":\"stack (%s)\",\"cat\":\"stack\","
				    "\"s\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":%lld",
				    stack_why_names[c->why], known ? "t" : "g", (int)pid, (int)tid,
				    ts > 0 ? ts : 0);
			stack_args(run, c, s, sb);
			strbuf_addch(sb, '}');
			export_out_hand_over(out, false);
		}
	}
}

/* ---- folded ---- */

/* A frame's name for a folded line: ';' would split it, control characters break the line. */
static void folded_frame(const struct frame_info *f, struct strbuf *tmp, struct strbuf *out)
{
	strbuf_reset(tmp);
	run_frame_name_raw(f, tmp);
	for (size_t i = 0; i < tmp->len; i++)
		if (tmp->buf[i] == ';')
			tmp->buf[i] = ':';
	out->oom |= tmp->oom;
	export_clean(out, tmp->buf ? tmp->buf : "", tmp->len, true, 0);
}

struct folded_line {
	char *text; /* the frames, outermost first, joined by ';' */
	long count;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text, ((const struct folded_line *)b)->text);
}

/* The lines of the run's distinct stacks with frames, into lines (n); false out of memory. */
static bool folded_lines(const struct run *run, struct folded_line *lines, size_t *n)
{
	const struct run_stacks *st = &run->stacks;
	struct strbuf tmp = STRBUF_INIT, line = STRBUF_INIT;
	bool ok = true;
	*n = 0;
	for (size_t g = 0; g < st->n_groups && ok; g++) {
		const struct run_stack_group *grp = &st->groups[g];
		if (!grp->n_frames || grp->count <= 0)
			continue;
		strbuf_reset(&line);
		for (size_t k = grp->n_frames; k-- > 0;) {
			folded_frame(run_stacks_frame(st, g, k), &tmp, &line);
			if (k)
				strbuf_addch(&line, ';');
		}
		ok = !line.oom && (lines[*n].text = strdup(line.buf ? line.buf : ""));
		if (ok)
			lines[(*n)++].count = grp->count;
	}
	strbuf_release(&tmp);
	strbuf_release(&line);
	return ok;
}

void export_folded(const struct run *run, struct export_out *out)
{
	const struct run_stacks *st = &run->stacks;
	struct folded_line *lines = calloc(st->n_groups ? st->n_groups : 1, sizeof(*lines));
	size_t n = 0;
	if (!lines || !folded_lines(run, lines, &n)) {
		out->buf.oom = true;
		goto out;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	for (size_t i = 0; i < n;) {
		long count = 0;
		size_t j = i;
		for (; j < n && !strcmp(lines[j].text, lines[i].text); j++)
			count += lines[j].count;
		strbuf_addstr(&out->buf, lines[i].text);
		strbuf_addf(&out->buf, " %ld\n", count);
		export_out_hand_over(out, false);
		i = j;
	}
out:
	for (size_t i = 0; lines && i < n; i++)
		free(lines[i].text);
	free(lines);
}
