/*
 * plot-png: writes the cairo renderer's picture as PNG with libpng (plot.h's PLOT_PNG).
 *
 * cairo can write PNG itself, but always at zlib's default level with every row filter tried,
 * which for a plot (large flat areas, thin lines) costs more than drawing it: an eighth of
 * `memline plot`'s time on a million process-samples. Here the rows take the "up" filter only
 * and zlib its fastest level; a plot compresses almost as well that way (flat areas are runs
 * either way) in a fraction of the time.
 *
 * The picture is an opaque RGB24 image surface (cairo's 0x00RRGGBB words): it becomes an
 * 8-bit RGB PNG, one row converted at a time.
 */
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/plot-png.h"

struct png_job {
	struct strbuf *out;
	struct strbuf *err;
	bool failed;
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct png_job *job = png_get_error_ptr(png);
	if (!job->failed)
		strbuf_addf(job->err, "cannot encode the PNG: %s", msg);
	job->failed = true;
	png_longjmp(png, 1);
}

static void on_write(png_structp png, png_bytep data, size_t len)
{
	struct png_job *job = png_get_io_ptr(png);
	strbuf_add(job->out, data, len);
	if (job->out->oom)
		png_error(png, "out of memory");
}

static void on_flush(png_structp png)
{
	(void)png;
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int plot_png_write(cairo_surface_t *surface, struct strbuf *out, struct strbuf *err)
{
	cairo_surface_flush(surface);
	const unsigned char *data = cairo_image_surface_get_data(surface);
	int w = cairo_image_surface_get_width(surface);
	int h = cairo_image_surface_get_height(surface);
	int stride = cairo_image_surface_get_stride(surface);
	if (!data || cairo_image_surface_get_format(surface) != CAIRO_FORMAT_RGB24 || w <= 0 ||
	    h <= 0) {
		strbuf_addstr(err, "cannot encode the PNG: not an RGB picture");
		return -1;
	}
	struct png_job job = {.out = out, .err = err};
	/* volatile: they change between setjmp and a longjmp back to it */
	unsigned char *volatile row = malloc((size_t)w * 3);
	png_structp png =
		row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning)
		    : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		strbuf_addstr(err, "out of memory");
		png_destroy_write_struct(png ? &png : NULL, NULL);
		free(row);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return -1;
	}
	png_set_write_fn(png, &job, on_write, on_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
	png_set_compression_level(png, 1);
	png_text text = {.compression = PNG_TEXT_COMPRESSION_NONE,
			 .key = (png_charp) "Software",
			 .text = (png_charp) "memline"};
	png_set_text(png, info, &text, 1);
	png_write_info(png, info);
	for (int y = 0; y < h; y++) {
		const uint32_t *px = (const uint32_t *)(data + (size_t)y * (size_t)stride);
		for (int x = 0; x < w; x++) {
			row[3 * x] = (unsigned char)(px[x] >> 16);
			row[3 * x + 1] = (unsigned char)(px[x] >> 8);
			row[3 * x + 2] = (unsigned char)px[x];
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	return 0;
}
