/*
 * plot: what every plot renderer shares (the contract is in plot.h): the metric names, the
 * default options, the output format chosen by a file name's extension, and the labels that
 * tell overlaid logs apart.
 */
#include "render/plot.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void plot_options_init(struct plot_options *o)
{
	memset(o, 0, sizeof(*o));
	o->metric = SERIES_RSS;
	o->dark = false;
	o->top = 5;
	o->width = 0;
	o->height = 0;
	o->title = NULL;
}

int plot_format_for(const char *path)
{
	static const struct {
		const char *ext;
		enum plot_format format;
	} exts[] = {
		{".png", PLOT_PNG},   {".svg", PLOT_SVG},  {".pdf", PLOT_PDF},
		{".html", PLOT_HTML}, {".htm", PLOT_HTML},
	};
	const char *base = strrchr(path, '/');
	const char *dot = strrchr(base ? base + 1 : path, '.');
	if (!dot || dot == (base ? base + 1 : path))
		return -1;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcasecmp(dot, exts[i].ext))
			return (int)exts[i].format;
	return -1;
}

/* ---- labels ---- */

static size_t argc_of(char **argv)
{
	size_t n = 0;
	while (argv && argv[n])
		n++;
	return n;
}

/* Whether every one of the n labels differs from the others (and none is empty). */
static bool all_differ(const struct strbuf *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!labels[i].len)
			return false;
		for (size_t j = 0; j < i; j++)
			if (labels[i].len == labels[j].len &&
			    !memcmp(labels[i].buf, labels[j].buf, labels[i].len))
				return false;
	}
	return true;
}

/* The commands' words that differ, between the words all of them share at both ends. */
static void label_by_command(const struct plot_input *in, size_t n, struct strbuf *labels)
{
	size_t min = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t c = argc_of(in[i].run->header.command);
		min = c < min ? c : min;
	}
	if (!min || min == SIZE_MAX)
		return;
	size_t pre = 0, suf = 0;
	while (pre < min) {
		const char *w = in[0].run->header.command[pre];
		size_t i = 1;
		while (i < n && !strcmp(in[i].run->header.command[pre], w))
			i++;
		if (i < n)
			break;
		pre++;
	}
	while (suf < min - pre) {
		char **a0 = in[0].run->header.command;
		const char *w = a0[argc_of(a0) - 1 - suf];
		size_t i = 1;
		for (; i < n; i++) {
			char **a = in[i].run->header.command;
			if (strcmp(a[argc_of(a) - 1 - suf], w))
				break;
		}
		if (i < n)
			break;
		suf++;
	}
	/* keep a word of what they share when some command would have none left */
	for (;;) {
		bool empty = false;
		for (size_t i = 0; i < n; i++)
			empty |= argc_of(in[i].run->header.command) - pre - suf == 0;
		if (!empty)
			break;
		if (pre)
			pre--;
		else if (suf)
			suf--;
		else
			break;
	}
	/* an option the differing words are the value of says what they are: "--lr 0.1" */
	if (pre > 0 && in[0].run->header.command[pre - 1][0] == '-')
		pre--;
	for (size_t i = 0; i < n; i++) {
		char **a = in[i].run->header.command;
		size_t end = argc_of(a) - suf;
		for (size_t k = pre; k < end; k++) {
			if (k > pre)
				strbuf_addch(&labels[i], ' ');
			run_quote_arg(&labels[i], a[k], strlen(a[k]));
		}
	}
}

static const char *input_path(const struct plot_input *in)
{
	return in->path ? in->path : in->run->path ? in->run->path : "";
}

/* The last `parts` components of path (all of it when it has fewer), without ext. */
static void add_path_tail(struct strbuf *out, const char *path, size_t parts, const char *ext)
{
	size_t len = strlen(path), el = ext ? strlen(ext) : 0;
	if (el && len > el && !strcmp(path + len - el, ext))
		len -= el;
	size_t from = len;
	for (size_t seen = 0; from > 0; from--)
		if (path[from - 1] == '/' && ++seen == parts)
			break;
	strbuf_add(out, path + from, len - from);
}

/* The log files' names, with as many directories as tell them apart. */
static void label_by_path(const struct plot_input *in, size_t n, struct strbuf *labels)
{
	/* an extension all of them share is left out */
	const char *ext = strrchr(input_path(&in[0]), '.');
	if (ext && strchr(ext, '/'))
		ext = NULL;
	for (size_t i = 1; ext && i < n; i++) {
		const char *e = strrchr(input_path(&in[i]), '.');
		if (!e || strcmp(e, ext))
			ext = NULL;
	}
	size_t most = 1;
	for (size_t i = 0; i < n; i++) {
		size_t parts = 1;
		for (const char *s = input_path(&in[i]); *s; s++)
			parts += *s == '/';
		most = parts > most ? parts : most;
	}
	for (size_t parts = 1; parts <= most; parts++) {
		for (size_t i = 0; i < n; i++) {
			strbuf_reset(&labels[i]);
			add_path_tail(&labels[i], input_path(&in[i]), parts, ext);
		}
		if (all_differ(labels, n))
			return;
	}
}

void plot_labels(const struct plot_input *in, size_t n, struct strbuf *labels)
{
	size_t own = 0;
	for (size_t i = 0; i < n; i++)
		own += in[i].label != NULL;
	if (n == 1 && !own) {
		add_path_tail(&labels[0], input_path(&in[0]), 1, NULL);
		return;
	}
	if (own < n) {
		bool commands = true;
		for (size_t i = 0; i < n; i++)
			commands &= in[i].run->header.command && in[i].run->header.command[0];
		if (commands)
			label_by_command(in, n, labels);
		if (!all_differ(labels, n))
			label_by_path(in, n, labels);
		if (!all_differ(labels, n))
			for (size_t i = 0; i < n; i++) {
				strbuf_reset(&labels[i]);
				const char *iso = in[i].run->header.start_iso;
				strbuf_addstr(&labels[i], iso ? iso : "");
			}
		if (!all_differ(labels, n))
			for (size_t i = 0; i < n; i++) {
				strbuf_reset(&labels[i]);
				add_path_tail(&labels[i], input_path(&in[i]), 1, NULL);
				strbuf_addf(&labels[i], " #%zu", i + 1);
			}
	}
	for (size_t i = 0; i < n; i++) {
		if (!in[i].label)
			continue;
		strbuf_reset(&labels[i]);
		strbuf_addstr(&labels[i], in[i].label);
	}
}
