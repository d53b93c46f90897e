/*
 * plot_html_driver: plot_html() from the command line for tests/e2e/test_html.py, until
 * `memline plot LOG... -o FILE.html` exists. Usage: plot_html_driver [--dark] [--top N]
 * [--metric rss|pss|vms|swap|cpu] -o OUT.html LOG... Skipped lines are reported on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/plot.h"
#include "model/run.h"

static void warn(void *data, const char *path, long line, const char *msg)
{
	(void)data;
	fprintf(stderr, "plot_html_driver: warning: %s:%ld: %s\n", path, line, msg);
}

int main(int argc, char **argv)
{
	static const char *const metrics[] = {"rss", "pss", "vms", "swap", "cpu"};
	struct plot_options o = {.metric = SERIES_RSS, .top = 8};
	const char *out_path = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--dark")) {
			o.dark = true;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out_path = argv[++i];
		} else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 1000)
				return 64;
			o.top = (int)v;
		} else if (!strcmp(argv[i], "--metric") && i + 1 < argc) {
			i++;
			size_t m = 0;
			while (m < 5 && strcmp(argv[i], metrics[m]))
				m++;
			if (m == 5)
				return 64;
			o.metric = (enum series_metric)m;
		} else {
			break;
		}
	}
	if (!out_path || i >= argc) {
		fprintf(stderr,
			"usage: plot_html_driver [--dark] [--top N] [--metric M] -o OUT LOG...\n");
		return 64;
	}
	size_t n = (size_t)(argc - i);
	struct run *runs = calloc(n, sizeof(*runs));
	struct plot_input *in = calloc(n, sizeof(*in));
	struct strbuf err = STRBUF_INIT, html = STRBUF_INIT;
	int status = 0;
	if (!runs || !in)
		return 70;
	for (size_t k = 0; k < n; k++) {
		if (run_load(&runs[k], argv[i + k], warn, NULL, &err) < 0) {
			fprintf(stderr, "plot_html_driver: %s\n", err.buf);
			status = 65;
		}
		in[k].run = &runs[k];
		in[k].path = argv[i + k];
	}
	if (!status && plot_html(in, n, &o, &html, &err) < 0) {
		fprintf(stderr, "plot_html_driver: %s\n", err.buf);
		status = 70;
	}
	if (!status) {
		FILE *f = fopen(out_path, "we");
		if (!f || fwrite(html.buf, 1, html.len, f) != html.len || fclose(f)) {
			fprintf(stderr, "plot_html_driver: cannot write '%s'\n", out_path);
			status = 73;
		}
	}
	for (size_t k = 0; k < n; k++)
		run_release(&runs[k]);
	free(runs);
	free(in);
	strbuf_release(&err);
	strbuf_release(&html);
	return status;
}
