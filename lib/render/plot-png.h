/*
 * plot-png: the cairo renderer's PNG encoder (libpng, fast settings); see plot-png.c.
 */
#ifndef MEMLINE_PLOT_PNG_H
#define MEMLINE_PLOT_PNG_H

#include <cairo.h>

#include "util/strbuf.h"

/*
 * Appends an RGB24 image surface to out as an 8-bit RGB PNG. Returns -1 with a one-line
 * message in err when it cannot (out of memory).
 */
int plot_png_write(cairo_surface_t *surface, struct strbuf *out, struct strbuf *err);

#endif
