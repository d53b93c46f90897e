/*
 * plot-draw: what the cairo pictures share (plot-draw.h): the themes, text drawn escaped and cut
 * to fit (and, for SVG, repeated in an invisible text layer of <text> elements, XML-escaped,
 * for search, copy and screen readers: cairo draws SVG text as glyph outlines), the scales and
 * axes, the legend's rows, peak and end markers, and the surface: PNG through an image surface
 * and libpng (plot-png.c), SVG and PDF through cairo's stream API, all into memory; the caller
 * writes the file (lib/outfile), so a write error is the caller's to report.
 */
#include "render/plot-draw.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/plot-png.h"
#include "util/text.h"

#define DEFAULT_WIDTH  1200
#define DEFAULT_HEIGHT 700
#define FONT	       "DejaVu Sans"

static const struct theme light = {
	.bg = {1, 1, 1},
	.fg = {0.13, 0.13, 0.13},
	.muted = {0.42, 0.42, 0.42},
	.grid = {0.90, 0.90, 0.90},
	.axis = {0.55, 0.55, 0.55},
	.bad = {0.80, 0.10, 0.10},
	.span = {0.45, 0.35, 0.75},
	.other = {0.55, 0.55, 0.55},
	.tree = {0.12, 0.47, 0.71},
};

static const struct theme dark = {
	.bg = {0.11, 0.11, 0.12},
	.fg = {0.88, 0.88, 0.88},
	.muted = {0.62, 0.62, 0.62},
	.grid = {0.22, 0.22, 0.24},
	.axis = {0.45, 0.45, 0.47},
	.bad = {1.00, 0.38, 0.35},
	.span = {0.65, 0.55, 0.95},
	.other = {0.58, 0.58, 0.60},
	.tree = {0.35, 0.68, 0.98},
};

const struct rgb plot_palette[PLOT_N_PALETTE] = {
	{1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74},
	{0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81},
};

void plot_setup(struct plot *p, const struct plot_options *o, enum plot_format format)
{
	p->o = o;
	p->format = format;
	p->th = o->dark ? &dark : &light;
	p->w = o->width > 0 ? o->width : DEFAULT_WIDTH;
	p->h = o->height > 0 ? o->height : DEFAULT_HEIGHT;
}

void plot_release(struct plot *p)
{
	strbuf_release(&p->tmp);
	strbuf_release(&p->svg);
}

/* ---- text ---- */

void plot_rgb(cairo_t *cr, struct rgb c, double alpha)
{
	cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void plot_font(struct plot *p, double size, bool bold)
{
	cairo_select_font_face(p->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(p->cr, size);
	p->font_size = size;
}

double plot_text_w(struct plot *p, const char *s)
{
	cairo_text_extents_t e;
	cairo_text_extents(p->cr, s, &e);
	return e.x_advance;
}

/* Appends s XML-escaped (s is valid UTF-8 without control characters: text_escape's). */
static void add_xml(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			strbuf_addstr(out, "&amp;");
			break;
		case '<':
			strbuf_addstr(out, "&lt;");
			break;
		case '>':
			strbuf_addstr(out, "&gt;");
			break;
		case '"':
			strbuf_addstr(out, "&quot;");
			break;
		default:
			strbuf_addch(out, *s);
		}
	}
}

double plot_text(struct plot *p, const char *s, double x, double y, double align)
{
	double w = plot_text_w(p, s);
	x -= w * align;
	cairo_move_to(p->cr, x, y);
	cairo_show_text(p->cr, s);
	cairo_new_path(p->cr); /* show_text leaves a current point a later path would join */
	if (p->format == PLOT_SVG && *s) {
		strbuf_addf(&p->svg,
			    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" textLength=\"%.1f\">",
			    x, y, p->font_size, w);
		add_xml(&p->svg, s);
		strbuf_addstr(&p->svg, "</text>\n");
	}
	return w;
}

const char *plot_fit(struct plot *p, const char *s, size_t len, double maxw)
{
	size_t cols = 400;
	strbuf_reset(&p->tmp);
	size_t used = text_escape(&p->tmp, s, len, cols);
	double w = plot_text_w(p, p->tmp.buf ? p->tmp.buf : "");
	while (w > maxw && used > 1) {
		size_t next = (size_t)((double)used * maxw / w);
		cols = next < used ? next : used - 1;
		if (cols < 1)
			cols = 1;
		strbuf_reset(&p->tmp);
		used = text_escape(&p->tmp, s, len, cols);
		w = plot_text_w(p, p->tmp.buf);
	}
	if (w > maxw || !p->tmp.buf)
		return "";
	return p->tmp.buf;
}

size_t plot_wrap(struct plot *p, const char *s, size_t len, double maxw, size_t max_lines,
		 struct strbuf *out)
{
	struct strbuf esc = STRBUF_INIT, line = STRBUF_INIT;
	text_escape(&esc, s, len, len * 4 + 1);
	const char *t = esc.buf ? esc.buf : "";
	size_t n = strlen(t), pos = 0, lines = 0;
	while (pos < n && lines < max_lines) {
		while (t[pos] == ' ')
			pos++;
		if (pos >= n)
			break;
		size_t end = pos, space = 0;
		while (end < n) {
			size_t next = end + 1;
			while (next < n && ((unsigned char)t[next] & 0xc0) == 0x80)
				next++;
			strbuf_reset(&line);
			strbuf_add(&line, t + pos, next - pos);
			if (end > pos && plot_text_w(p, line.buf) > maxw)
				break;
			end = next;
			if (t[end] == ' ')
				space = end;
		}
		if (end < n && space > pos)
			end = space;
		if (lines)
			strbuf_addch(out, '\n');
		lines++;
		if (lines == max_lines && end < n) { /* the last line there is room for */
			strbuf_addstr(out, plot_fit(p, t + pos, n - pos, maxw));
			break;
		}
		strbuf_add(out, t + pos, end - pos);
		pos = end;
	}
	strbuf_release(&line);
	strbuf_release(&esc);
	return lines;
}

/* ---- scales ---- */

double plot_x(const struct plot *p, double t)
{
	return p->px0 + t / p->t1 * (p->px1 - p->px0);
}

double plot_y(const struct plot *p, double v)
{
	return p->py1 - v / p->ymax * (p->py1 - p->data_top);
}

/* The smallest of 1, 2, 5 times a power of ten at or above x > 0. */
static double nice_step(double x)
{
	double e = pow(10, floor(log10(x)));
	double m = x / e;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

/* Decimals to print multiples of step without losing digits (0 to 3). */
static int decimals(double step)
{
	int d = 0;
	while (d < 3 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6)
		d++;
	return d;
}

struct time_unit {
	double secs;
	const char *name;
};

/* A time tick step at or above min_step seconds, and the unit to label it in. */
static double time_step(double min_step, double t1, struct time_unit *u)
{
	static const double steps[] = {
		0.001, 0.002, 0.005, 0.01,  0.02,  0.05,  0.1,	 0.2,	 0.5,	 1,
		2,     5,     10,    15,    30,	   60,	  120,	 300,	 600,	 900,
		1800,  3600,  7200,  10800, 21600, 43200, 86400, 172800, 432000, 864000,
	};
	double step = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] >= min_step) {
			step = steps[i];
			break;
		}
	if (!step)
		step = nice_step(min_step / 86400) * 86400;
	if (step < 1 && t1 < 2)
		*u = (struct time_unit){0.001, "ms"};
	else if (step < 60)
		*u = (struct time_unit){1, "s"};
	else if (step < 3600)
		*u = (struct time_unit){60, "min"};
	else if (step < 86400)
		*u = (struct time_unit){3600, "h"};
	else
		*u = (struct time_unit){86400, "days"};
	return step;
}

/* The unit (in KiB) and its name to label memory values up to max KiB in. */
static double mem_unit(double max, const char **name)
{
	static const char *const names[] = {"KiB", "MiB", "GiB", "TiB"};
	double u = 1;
	size_t i = 0;
	while (i + 1 < 4 && max / u >= 1024) {
		u *= 1024;
		i++;
	}
	*name = names[i];
	return u;
}

void plot_heading(struct plot *p, const struct strbuf *sb, int row)
{
	plot_font(p, row ? 11 : 16, !row);
	plot_rgb(p->cr, row ? p->th->muted : p->th->fg, 1);
	plot_text(p, plot_fit(p, sb->buf ? sb->buf : "", sb->len, p->w - 24), 12, row ? 42 : 24, 0);
}

void plot_area(struct plot *p)
{
	plot_rgb(p->cr, p->th->bg, 1);
	cairo_paint(p->cr);
	double legend_w = p->w >= 500 ? fmin(300, fmax(150, p->w * 0.22)) : 0;
	p->px0 = 78;
	p->px1 = p->w - legend_w - (legend_w ? 24 : 16);
	p->py0 = 58;
	p->py1 = p->h - 46;
	if (p->px1 < p->px0 + 20)
		p->px1 = p->px0 + 20;
	if (p->py1 < p->py0 + 20)
		p->py1 = p->py0 + 20;
}

double plot_scale_y(struct plot *p, double vmax, bool percent, const char **name)
{
	/* room above the peak for its label */
	vmax = vmax > 0 ? vmax * 1.06 : percent ? 100 : 1024;
	double unit = 1;
	*name = "%";
	if (!percent)
		unit = mem_unit(vmax, name);
	double max_ticks = fmax(2, (p->py1 - p->data_top) / 45);
	double step = nice_step(vmax / unit / max_ticks) * unit;
	p->ymax = ceil(vmax / step) * step;
	return unit;
}

void plot_axes(struct plot *p, const char *unit_name, double unit, const char *time_title)
{
	cairo_t *cr = p->cr;
	plot_font(p, 10.5, false);

	/* value axis */
	double max_ticks = fmax(2, (p->py1 - p->data_top) / 45);
	double vstep = nice_step(p->ymax / unit / max_ticks);
	int vd = decimals(vstep);
	cairo_set_line_width(cr, 1);
	for (int k = 0;; k++) {
		double v = k * vstep * unit;
		double y = round(plot_y(p, v)) + 0.5;
		if (y < p->py0 - 0.5)
			break;
		plot_rgb(cr, p->th->grid, 1);
		cairo_move_to(cr, p->px0, y);
		cairo_line_to(cr, p->px1, y);
		cairo_stroke(cr);
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "%.*f %s", vd, k * vstep, unit_name);
		plot_rgb(cr, p->th->muted, 1);
		plot_text(p, p->tmp.buf, p->px0 - 6, y + 3.5, 1);
	}

	/* time axis */
	struct time_unit tu;
	double tstep = time_step(p->t1 / fmax(2, (p->px1 - p->px0) / 90), p->t1, &tu);
	int td = decimals(tstep / tu.secs);
	for (int k = 0;; k++) {
		double t = k * tstep;
		if (t > p->t1 * (1 + 1e-9))
			break;
		double x = round(plot_x(p, t)) + 0.5;
		plot_rgb(cr, p->th->grid, 1);
		cairo_move_to(cr, x, p->py0);
		cairo_line_to(cr, x, p->py1);
		cairo_stroke(cr);
		if (!time_title)
			continue;
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "%.*f", td, t / tu.secs);
		plot_rgb(cr, p->th->muted, 1);
		plot_text(p, p->tmp.buf, x, p->py1 + 15, 0.5);
	}
	if (time_title) {
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "%s (%s)", time_title, tu.name);
		plot_rgb(cr, p->th->fg, 1);
		plot_text(p, p->tmp.buf, (p->px0 + p->px1) / 2, p->py1 + 32, 0.5);
	}

	plot_rgb(cr, p->th->axis, 1);
	cairo_move_to(cr, p->px0 + 0.5, p->py0);
	cairo_line_to(cr, p->px0 + 0.5, p->py1 + 0.5);
	cairo_line_to(cr, p->px1, p->py1 + 0.5);
	cairo_stroke(cr);
}

struct rgb plot_toward_bg(const struct plot *p, struct rgb c, double f)
{
	struct rgb b = p->th->bg;
	return (struct rgb){c.r + (b.r - c.r) * f, c.g + (b.g - c.g) * f, c.b + (b.b - c.b) * f};
}

/* ---- marks ---- */

void plot_peak_mark(struct plot *p, double x, double y, struct rgb c, const char *text,
		    double *prev_y)
{
	cairo_t *cr = p->cr;
	plot_rgb(cr, c, 1);
	cairo_new_path(cr);
	cairo_arc(cr, x, y, 4.5, 0, 2 * M_PI);
	cairo_set_line_width(cr, 2);
	cairo_stroke(cr);
	plot_font(p, 10.5, true);
	double w = plot_text_w(p, text);
	double tx = x + 8 + w > p->px1 ? x - 8 - w : x + 8;
	double ty = y - 6;
	if (fabs(ty - *prev_y) < 14)
		ty = *prev_y + 14;
	if (ty < p->data_top + 10)
		ty = p->data_top + 10;
	*prev_y = ty;
	plot_rgb(cr, p->th->bg, 0.75);
	cairo_rectangle(cr, tx - 2, ty - 11, w + 4, 14);
	cairo_fill(cr);
	plot_rgb(cr, c, 1);
	plot_text(p, text, tx, ty, 0);
}

void plot_cross(struct plot *p, double x, double y)
{
	cairo_t *cr = p->cr;
	plot_rgb(cr, p->th->bad, 1);
	cairo_set_line_width(cr, 2.2);
	cairo_move_to(cr, x - 5, y - 5);
	cairo_line_to(cr, x + 5, y + 5);
	cairo_move_to(cr, x + 5, y - 5);
	cairo_line_to(cr, x - 5, y + 5);
	cairo_stroke(cr);
}

bool plot_bad_end(enum run_status s)
{
	return s == RUN_OOM_KILLED || s == RUN_KILLED || s == RUN_FAILED || s == RUN_INCOMPLETE;
}

bool plot_box_free(const struct plot_box *placed, size_t n, struct plot_box b)
{
	for (size_t i = 0; i < n; i++)
		if (b.x0 < placed[i].x1 && placed[i].x0 < b.x1 && b.y0 < placed[i].y1 &&
		    placed[i].y0 < b.y1)
			return false;
	return true;
}

/* ---- the legend ---- */

static void legend_swatch(struct plot *p, const struct plot_entry *e, double x, double y)
{
	cairo_t *cr = p->cr;
	plot_rgb(cr, e->c, e->alpha);
	cairo_set_line_width(cr, e->width);
	double dash[] = {5, 3};
	cairo_set_dash(cr, dash, e->dashed ? 2 : 0, 0);
	cairo_move_to(cr, x, y - 4);
	cairo_line_to(cr, x + 22, y - 4);
	cairo_stroke(cr);
	cairo_set_dash(cr, NULL, 0, 0);
}

/* One entry's text at y: a line, or a wrapped label and its muted second line. Returns y. */
static double legend_text(struct plot *p, const struct plot_entry *e, double x, double w, double y)
{
	plot_rgb(p->cr, p->th->fg, 1);
	if (!e->lines) {
		plot_font(p, 10.5, false);
		plot_text(p, plot_fit(p, e->text.buf, e->text.len, w), x, y, 0);
		return y;
	}
	plot_font(p, 10.5, true);
	const char *line = e->text.buf ? e->text.buf : "";
	for (size_t k = 0; k < e->lines; k++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		strbuf_reset(&p->tmp);
		strbuf_add(&p->tmp, line, len);
		if (k)
			y += PLOT_ROW_H;
		plot_text(p, p->tmp.buf ? p->tmp.buf : "", x, y, 0);
		line = nl ? nl + 1 : line + len;
	}
	y += PLOT_ROW_H;
	plot_font(p, 9.5, false);
	plot_rgb(p->cr, p->th->muted, 1);
	plot_text(p, plot_fit(p, e->sub.buf, e->sub.len, w), x, y, 0);
	return y;
}

double plot_legend_rows(struct plot *p, const struct plot_entry *es, size_t n, double x0, double x1,
			size_t reserve)
{
	double y = p->py0 + 4;
	double bottom = p->py1 - (double)reserve * PLOT_ROW_H; /* room for the endings below */
	size_t rows = (size_t)fmax(1, (bottom - y) / PLOT_ROW_H), used = 0, shown = 0;
	for (; shown < n; shown++) {
		size_t need = es[shown].lines ? es[shown].lines + 1 : 1;
		/* the last one shown leaves a row for "+N more" when some are left out */
		if (used + need > rows || (shown + 1 < n && used + need + 1 > rows))
			break;
		used += need;
	}
	for (size_t i = 0; i < shown; i++) {
		y += PLOT_ROW_H;
		legend_swatch(p, &es[i], x0, y);
		y = legend_text(p, &es[i], x0 + 28, x1 - x0 - 28, y);
	}
	plot_font(p, 10.5, false);
	plot_rgb(p->cr, p->th->muted, 1);
	if (shown < n) {
		y += PLOT_ROW_H;
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "+%zu more", n - shown);
		plot_text(p, p->tmp.buf, x0 + 28, y, 0);
	}
	return y;
}

void plot_entries_free(struct plot_entry *es, size_t n)
{
	for (size_t i = 0; es && i < n; i++) {
		strbuf_release(&es[i].text);
		strbuf_release(&es[i].sub);
	}
	free(es);
}

/* ---- output ---- */

static cairo_status_t write_buf(void *closure, const unsigned char *data, unsigned int len)
{
	struct strbuf *sb = closure;
	strbuf_add(sb, data, len);
	return sb->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* The SVG cairo wrote, with the text layer put in before its closing tag; false when OOM. */
static bool svg_with_text(const struct plot *p, const struct strbuf *svg, struct strbuf *out)
{
	const char *end = svg->buf ? strstr(svg->buf, "</svg>") : NULL;
	for (const char *s = end; s; s = strstr(s + 1, "</svg>"))
		end = s;
	if (!end || p->svg.oom)
		return false;
	size_t head = (size_t)(end - svg->buf);
	strbuf_add(out, svg->buf, head);
	strbuf_addstr(out, "<g id=\"memline-text\" fill=\"none\" fill-opacity=\"0\" "
			   "font-family=\"DejaVu Sans, sans-serif\">\n");
	if (p->svg.len)
		strbuf_add(out, p->svg.buf, p->svg.len);
	strbuf_addstr(out, "</g>\n");
	strbuf_add(out, end, svg->len - head);
	return !out->oom;
}

int plot_render(struct plot *p, void (*draw)(struct plot *p, void *data), void *data,
		struct strbuf *out, struct strbuf *err)
{
	struct strbuf svg_out = STRBUF_INIT;
	cairo_surface_t *surface = NULL;
	int ret = -1;
	switch (p->format) {
	case PLOT_PNG:
		surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)p->w, (int)p->h);
		break;
	case PLOT_SVG:
		surface = cairo_svg_surface_create_for_stream(write_buf, &svg_out, p->w, p->h);
		break;
	case PLOT_PDF:
		surface = cairo_pdf_surface_create_for_stream(write_buf, out, p->w, p->h);
		break;
	default:
		strbuf_addstr(err, "cairo draws PNG, SVG and PDF only");
		goto out;
	}
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		strbuf_addf(err, "cannot draw: %s",
			    cairo_status_to_string(cairo_surface_status(surface)));
		goto out;
	}
	if (p->format == PLOT_PDF) {
		cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "memline");
	}
	p->cr = cairo_create(surface);
	draw(p, data);
	cairo_status_t st = cairo_status(p->cr);
	cairo_destroy(p->cr);
	p->cr = NULL;
	if (st == CAIRO_STATUS_SUCCESS && p->format == PLOT_PNG &&
	    plot_png_write(surface, out, err) < 0)
		goto out;
	cairo_surface_finish(surface);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(surface);
	if (st == CAIRO_STATUS_SUCCESS && p->format == PLOT_SVG && !svg_with_text(p, &svg_out, out))
		st = CAIRO_STATUS_NO_MEMORY;
	if (st == CAIRO_STATUS_NO_MEMORY || out->oom) {
		strbuf_addstr(err, "out of memory");
		goto out;
	}
	if (st != CAIRO_STATUS_SUCCESS) {
		strbuf_addf(err, "cannot draw the plot: %s", cairo_status_to_string(st));
		goto out;
	}
	ret = 0;
out:
	if (p->cr)
		cairo_destroy(p->cr);
	p->cr = NULL;
	if (surface)
		cairo_surface_destroy(surface);
	strbuf_release(&svg_out);
	return ret;
}
