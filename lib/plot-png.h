/*
 * plot-png: the cairo renderer's PNG encoder (libpng, fast settings); see plot-png.c.
 */
#ifndef MEMLINE_PLOT_PNG_H
#define MEMLINE_PLOT_PNG_H

#include <cairo.h>
#include <stdio.h>

#include "strbuf.h"

/*
 * Writes an RGB24 image surface to f as an 8-bit RGB PNG. path names the file in messages.
 * Returns -1 with a one-line message in err when f cannot be written.
 */
int plot_png_write(cairo_surface_t *surface, FILE *f, const char *path, struct strbuf *err);

#endif
