/*
 * tui-draw: the terminal dashboards' shared drawing (contract in tui-draw.h): the terminal,
 * text, the chart's dots, scale, marks and legend, the help overlay. The braille encoding, the
 * scale's round numbers and its labels are tui.h's (the unit tests call them).
 *
 * Braille cells (U+2800..U+28FF) give each character cell 2 x 4 dots; a locale that is not
 * UTF-8 gets one '*' a cell instead.
 */
#include "render/tui-draw.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "render/tui.h"
#include "util/text.h"

/* ---- braille ---- */

unsigned tui_braille_bit(int x, int y)
{
	/* Dots 1-2-3-7 down the left column, 4-5-6-8 down the right (Unicode's numbering). */
	static const unsigned left[4] = {0x01, 0x02, 0x04, 0x40};
	static const unsigned right[4] = {0x08, 0x10, 0x20, 0x80};
	if (y < 0 || y > 3 || x < 0 || x > 1)
		return 0;
	return x ? right[y] : left[y];
}

void tui_braille_utf8(unsigned bits, char out[4])
{
	unsigned cp = 0x2800 + (bits & 0xff);
	out[0] = (char)(0xe0 | (cp >> 12));
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	out[3] = 0;
}

/* ---- the terminal ---- */

static void colors_init(struct tui_term *t)
{
	t->colors = has_colors() && start_color() == OK;
	if (!t->colors)
		return;
	use_default_colors();
	static const short series[4] = {COLOR_GREEN, COLOR_CYAN, COLOR_MAGENTA, COLOR_BLUE};
	for (int s = 0; s < 4; s++)
		init_pair((short)(TUI_C_SERIES + s), series[s], -1);
	init_pair(TUI_C_RED, COLOR_RED, -1);
	init_pair(TUI_C_GREEN, COLOR_GREEN, -1);
	init_pair(TUI_C_YELLOW, COLOR_YELLOW, -1);
	init_pair(TUI_C_TITLE, -1, -1);
	init_pair(TUI_C_DIM, -1, -1);
}

int tui_term_start(struct tui_term *t, struct strbuf *err)
{
	memset(t, 0, sizeof(*t));
	strbuf_init(&t->line);
	strbuf_init(&t->tmp);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		strbuf_addstr(err, "the dashboard needs a terminal: standard input and output are "
				   "not one");
		return -1;
	}
	const char *term = getenv("TERM");
	const char *old = setlocale(LC_CTYPE, NULL);
	t->locale = old ? strdup(old) : NULL;
	setlocale(LC_CTYPE, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	t->scr = term && *term ? newterm(NULL, stdout, stdin) : NULL;
	if (!t->scr) {
		strbuf_addf(err, "cannot start the dashboard on terminal type '%s'",
			    term && *term ? term : "(TERM is not set)");
		return -1;
	}
	set_term(t->scr);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(100);
	colors_init(t);
	t->rows = LINES;
	t->cols = COLS;
	return 0;
}

void tui_term_end(struct tui_term *t)
{
	if (t->scr) {
		erase();
		refresh();
		endwin();
		delscreen(t->scr);
	}
	strbuf_release(&t->line);
	strbuf_release(&t->tmp);
	if (t->locale) {
		setlocale(LC_CTYPE, t->locale);
		free(t->locale);
	}
	memset(t, 0, sizeof(*t));
}

bool tui_term_resized(struct tui_term *t)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return false;
	if (ws.ws_row == t->rows && ws.ws_col == t->cols)
		return false;
	if (ws.ws_row != LINES || ws.ws_col != COLS)
		resizeterm(ws.ws_row, ws.ws_col);
	t->rows = ws.ws_row;
	t->cols = ws.ws_col;
	return true;
}

/*
 * A hung-up terminal makes every read return at once, so getch() returns ERR without waiting
 * and the loop would spin. poll() says so with POLLHUP (or POLLERR, POLLNVAL); a timeout of
 * getch's on a live terminal leaves none of them set.
 */
bool tui_term_lost(void)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	if (poll(&p, 1, 0) < 0)
		return errno != EINTR && errno != EAGAIN;
	return p.revents & (POLLHUP | POLLERR | POLLNVAL);
}

double tui_wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- text ---- */

void tui_color(const struct tui_term *t, int pair, attr_t extra)
{
	attrset((t->colors && pair ? COLOR_PAIR(pair) : 0) | extra);
}

void tui_put(int y, int x, const char *s, size_t len, int cols)
{
	if (cols <= 0 || y < 0 || y >= LINES || x >= COLS)
		return;
	if (x + cols > COLS)
		cols = COLS - x;
	size_t n = 0, c = 0;
	while (n < len && c < (size_t)cols) {
		n++;
		while (n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
			n++;
		c++;
	}
	mvaddnstr(y, x, s, (int)n);
}

void tui_putf(struct tui_term *t, int y, int x, int cols, const char *fmt, ...)
{
	va_list ap;
	strbuf_reset(&t->line);
	va_start(ap, fmt);
	strbuf_vaddf(&t->line, fmt, ap);
	va_end(ap);
	tui_put(y, x, t->line.buf ? t->line.buf : "", t->line.len, cols);
}

/* ---- the chart ---- */

/* A round scale at or above v (KiB): 1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten of KiB,
 * MiB, GiB or TiB, so the labels read as round numbers. */
double tui_nice_max(double v)
{
	static const double steps[] = {1, 1.5, 2, 3, 4, 5, 6, 8};
	if (!(v > 0))
		return 1024;
	double unit = 1;
	while (v >= 1000 * unit && unit < 1024.0 * 1024 * 1024)
		unit *= 1024;
	double p = 1;
	while (p * 10 <= v / unit)
		p *= 10;
	for (;;) {
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			if (v <= steps[i] * p * unit)
				return steps[i] * p * unit;
		p *= 10;
	}
}

void tui_axis_label(struct strbuf *out, double kib)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (!(kib > 0)) {
		strbuf_addch(out, '0');
		return;
	}
	size_t u = 0;
	while (u + 1 < 4 && kib >= 1024)
		kib /= 1024, u++;
	char num[48]; /* holds any double printed with %.0f below 1e40 */
	int n = snprintf(num, sizeof(num), "%.*f", kib < 10 ? 2 : kib < 100 ? 1 : 0, kib);
	if (n < 0 || (size_t)n >= sizeof(num))
		n = snprintf(num, sizeof(num), "%.3g", kib);
	if (n > 0 && memchr(num, '.', (size_t)n)) {
		while (n > 0 && num[n - 1] == '0')
			n--;
		if (n > 0 && num[n - 1] == '.')
			n--;
	}
	strbuf_add(out, num, n > 0 ? (size_t)n : 0);
	strbuf_addf(out, " %s", units[u]);
}

double tui_lines_ymax(const struct tui_line *lines, int n, size_t dots)
{
	double ymax = 0;
	for (int s = 0; s < n; s++)
		for (size_t x = 0; x < dots; x++)
			if (!isnan(lines[s].v[x]) && lines[s].v[x] > ymax)
				ymax = lines[s].v[x];
	return tui_nice_max(ymax * 1.02);
}

/* The dot row of value v on a chart of H dot rows scaled to ymax. */
static int dot_row(double v, double ymax, int H)
{
	int y = (int)lround(v / ymax * (H - 1));
	return y < 0 ? 0 : y >= H ? H - 1 : y;
}

void tui_draw_lines(const struct tui_term *t, int y0, int x0, int h, int w, size_t dots,
		    const struct tui_line *lines, int n, double ymax)
{
	int dpc = t->utf8 ? 2 : 1, dpr = t->utf8 ? 4 : 1; /* dots per cell */
	int H = h * dpr;
	size_t cells = (size_t)h * (size_t)w;
	unsigned char *bits = calloc(cells ? cells : 1, 1);
	int *pair = calloc(cells ? cells : 1, sizeof(*pair));
	if (!bits || !pair) {
		free(bits);
		free(pair);
		return;
	}
	for (int s = 0; s < n; s++) {
		const struct tui_line *l = &lines[s];
		int prev = -1;
		for (size_t x = 0; x < dots; x++) {
			double v = l->v[x];
			if (isnan(v)) {
				prev = -1;
				continue;
			}
			int y = dot_row(v, ymax, H);
			int lo, hi;
			if (l->lo) { /* a band: every dot from its low to its high */
				double b = isnan(l->lo[x]) ? v : l->lo[x];
				lo = dot_row(b, ymax, H);
				hi = y;
				if (lo > hi)
					lo = y, hi = dot_row(b, ymax, H);
			} else { /* a line: joined to the column before */
				lo = prev < 0 ? y : prev < y ? prev + 1 : y;
				hi = prev < 0 ? y : prev > y ? prev - 1 : y;
				if (lo > hi)
					lo = hi = y;
			}
			for (int yy = lo; yy <= hi; yy++) {
				int yt = H - 1 - yy;
				size_t cell = (size_t)(yt / dpr) * (size_t)w + x / (size_t)dpc;
				if (cell >= cells)
					continue;
				bits[cell] |= t->utf8 ? (unsigned char)tui_braille_bit((int)(x % 2),
										       yt % 4)
						      : 1;
				pair[cell] = l->pair;
			}
			prev = y;
		}
	}
	char cell[4] = "*";
	for (int r = 0; r < h; r++) {
		for (int c = 0; c < w; c++) {
			size_t i = (size_t)r * (size_t)w + (size_t)c;
			if (!bits[i])
				continue;
			if (t->utf8)
				tui_braille_utf8(bits[i], cell);
			tui_color(t, pair[i], 0);
			mvaddstr(y0 + r, x0 + c, cell);
		}
	}
	free(bits);
	free(pair);
	attrset(A_NORMAL);
}

void tui_draw_scale(struct tui_term *t, int y, int h, int width, double ymax)
{
	if (width <= 1)
		return;
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	tui_axis_label(sb, ymax);
	tui_putf(t, y, 0, width - 1, "%*s", width - 1, sb->buf);
	if (h >= 4) {
		strbuf_reset(sb);
		tui_axis_label(sb, ymax / 2);
		tui_putf(t, y + (h - 1) / 2, 0, width - 1, "%*s", width - 1, sb->buf);
	}
	tui_putf(t, y + h - 1, 0, width - 1, "%*s", width - 1, "0");
}

void tui_draw_marks(const struct tui_term *t, int y, int x, int w, const unsigned char *marks)
{
	for (int c = 0; c < w; c++) {
		unsigned char m = marks ? marks[c] : 0;
		if (m == 2) {
			tui_color(t, TUI_C_RED, A_BOLD);
			mvaddstr(y, x + c, t->utf8 ? "▲" : "P");
		} else if (m == 1) {
			tui_color(t, TUI_C_YELLOW, A_BOLD);
			mvaddstr(y, x + c, "^");
		} else {
			tui_color(t, TUI_C_DIM, A_DIM);
			mvaddstr(y, x + c, t->utf8 ? "─" : "-");
		}
	}
	attrset(A_NORMAL);
}

void tui_draw_time_row(struct tui_term *t, int y, int width, double window, bool running, double t1,
		       const struct tui_legend *legend, int n)
{
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	if (window > 0) {
		strbuf_addch(sb, '-');
		text_secs(sb, window);
	} else {
		strbuf_addstr(sb, "0 s");
	}
	if (width)
		tui_putf(t, y, 0, width - 1, "%*s", width - 1, sb->buf);
	else
		tui_put(y, 0, sb->buf, sb->len, 10);
	int x = width ? width : (int)sb->len + 1;
	strbuf_reset(sb);
	if (running)
		strbuf_addstr(sb, "now");
	else
		text_secs(sb, t1);
	int endw = (int)sb->len;
	tui_put(y, t->cols - endw, sb->buf, sb->len, endw);
	for (int s = 0; s < n && x < t->cols - endw - 4; s++) {
		tui_color(t, legend[s].pair, A_BOLD);
		tui_put(y, x, t->utf8 ? "━━" : "--", t->utf8 ? 6 : 2, 2);
		attrset(A_NORMAL);
		int room = t->cols - endw - 1 - (x + 3);
		strbuf_reset(sb);
		text_escape(sb, legend[s].text, legend[s].len, room > 0 ? (size_t)room : 1);
		tui_put(y, x + 3, sb->buf, sb->len, room);
		x += 3 + (int)legend[s].len + 2;
	}
}

void tui_bins_columns(const double *v, size_t stride, size_t n, long k0, double w, double carry,
		      double t0, double t1, size_t dots, double *out)
{
	for (size_t i = 0; i < dots; i++)
		out[i] = NAN;
	if (t1 <= t0 || !dots)
		return;
	double dt = (t1 - t0) / (double)dots;
	for (size_t j = 0; j < n; j++) {
		double x = v[j * stride];
		if (isnan(x))
			continue;
		double mid = ((double)(k0 + (long)j) + 0.5) * w;
		double col = floor((mid - t0) / dt);
		if (col < 0) {
			carry = x;
			continue;
		}
		size_t i = col >= (double)dots ? dots - 1 : (size_t)col;
		if (col >= (double)dots && mid > t1 + w)
			break;
		if (isnan(out[i]) || x > out[i])
			out[i] = x;
	}
	for (size_t i = 0; i < dots; i++) {
		if (isnan(out[i]))
			out[i] = carry;
		else
			carry = out[i];
	}
}

/* ---- what both dashboards draw and read alike ---- */

bool tui_status_bad(enum run_status s)
{
	return s == RUN_FAILED || s == RUN_KILLED || s == RUN_OOM_KILLED || s == RUN_INCOMPLETE;
}

void tui_draw_title(struct tui_term *t, const char *title, size_t len, double elapsed, bool running,
		    enum run_status status)
{
	int cols = t->cols;
	struct strbuf *sb = &t->line;
	tui_color(t, TUI_C_TITLE, A_REVERSE);
	move(0, 0);
	hline(' ', cols);
	strbuf_reset(sb);
	strbuf_addstr(sb, "elapsed ");
	text_secs(sb, elapsed);
	strbuf_addf(sb, "  %s ", running ? "running" : run_status_names[status]);
	int right = (int)sb->len;
	int x = cols - right > 0 ? cols - right : 0;
	tui_put(0, x, sb->buf, sb->len, cols - x);
	if (!running && tui_status_bad(status)) {
		tui_color(t, TUI_C_RED, A_REVERSE | A_BOLD);
		int w = (int)strlen(run_status_names[status]);
		tui_put(0, cols - w - 1, run_status_names[status], (size_t)w, w);
		tui_color(t, TUI_C_TITLE, A_REVERSE);
	}
	tui_put(0, 0, " memline ", 9, x);
	int left = x - 10;
	if (left > 0) {
		tui_color(t, TUI_C_TITLE, A_REVERSE | A_BOLD);
		strbuf_reset(sb);
		text_escape(sb, title ? title : "", title ? len : 0, (size_t)left);
		tui_put(0, 9, sb->buf, sb->len, left);
	}
	attrset(A_NORMAL);
}

bool tui_ticked(const struct tui_term *t, const struct tui_view *v, int plot_w, bool running,
		double *last)
{
	if (v->paused || !running)
		return false;
	double dots = plot_w * (t->utf8 ? 2.0 : 1.0);
	double p = v->window > 0 ? v->window / dots : 1;
	p = p < 0.1 ? 0.1 : p > 1 ? 1 : p;
	double tick = floor(tui_wall_now() / p);
	bool ticked = tick != *last;
	*last = tick;
	return ticked;
}

int tui_read_key(struct tui_view *v, bool *dirty)
{
	int ch = getch();
	if (ch == ERR)
		return tui_term_lost() ? TUI_KEY_LOST : ERR;
	*dirty = true;
	if (v->help && ch != KEY_RESIZE) {
		v->help = false;
		if (ch != 'q' && ch != 'Q')
			return ERR;
	}
	return ch;
}

/* ---- help ---- */

int tui_view_key(struct tui_view *v, int ch, double now, double length)
{
	switch (ch) {
	case 'q':
	case 'Q':
		return -1;
	case 'p':
	case 'P':
	case ' ':
		v->paused = !v->paused;
		v->paused_now = now;
		return 1;
	case '+':
	case '=':
		v->window = tui_window_step(v->window, 1, length);
		return 1;
	case '-':
	case '_':
		v->window = tui_window_step(v->window, -1, length);
		return 1;
	case '?':
	case 'h':
	case 'H':
		v->help = true;
		return 1;
	default:
		return 0;
	}
}

void tui_draw_help(const struct tui_term *t, const char *title, const char *const *keys, int n_keys,
		   const char *const *notes, int n_notes)
{
	static const char *const shared[] = {
		"q          quit the view",
		"p, space   pause / resume the picture",
		"+          longer history window",
		"-          shorter history window",
	};
	static const char help[] = "?, h       this help (any key closes it)";
	int n_shared = (int)(sizeof(shared) / sizeof(shared[0]));
	int n = 2 + n_shared + n_keys + 1 + (n_notes ? 1 + n_notes : 0);
	int w = 44, h = n + 2;
	for (int i = 0; i < n_keys + n_notes; i++) {
		const char *l = i < n_keys ? keys[i] : notes[i - n_keys];
		if ((int)strlen(l) + 4 > w)
			w = (int)strlen(l) + 4;
	}
	int y0 = (t->rows - h) / 2, x0 = (t->cols - w) / 2;
	if (y0 < 0)
		y0 = 0;
	if (x0 < 0)
		x0 = 0;
	tui_color(t, TUI_C_TITLE, A_REVERSE);
	for (int r = 0; r < h && y0 + r < t->rows; r++) {
		move(y0 + r, x0);
		hline(' ', w < t->cols ? w : t->cols);
		int i = r - 1; /* the line's place among title, shared, own, help, notes */
		const char *l = NULL;
		if (i == 0)
			l = title;
		else if (i >= 2 && i < 2 + n_shared)
			l = shared[i - 2];
		else if (i >= 2 + n_shared && i < 2 + n_shared + n_keys)
			l = keys[i - 2 - n_shared];
		else if (i == 2 + n_shared + n_keys)
			l = help;
		else if (n_notes && i >= 4 + n_shared + n_keys && i < n)
			l = notes[i - 4 - n_shared - n_keys];
		if (l)
			tui_put(y0 + r, x0 + 2, l, strlen(l), w - 4);
	}
	attrset(A_NORMAL);
}
