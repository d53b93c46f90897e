/*
 * plot: what every plot renderer shares (the contract is in plot.h): the metric names, the
 * default options, and the output format chosen by a file name's extension.
 */
#include "plot.h"

#include <string.h>
#include <strings.h>

const char *const plot_metric_names[5] = {"rss", "pss", "vms", "swap", "cpu"};

void plot_options_init(struct plot_options *o)
{
	memset(o, 0, sizeof(*o));
	o->metric = PLOT_RSS;
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
