/* libpng glue: classic API, every call under a setjmp point of this file. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include "shim_common.h"

struct curate_png_decoder {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size, pos;
    int truncated;
    curate_status *st;   /* the status of the call in progress */
    curate_png_header header;
};

static void png_error_fn(png_structp png, png_const_charp msg) {
    curate_png_decoder *d = (curate_png_decoder *)png_get_error_ptr(png);
    curate_set_text(d->st->message, sizeof d->st->message, msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) {
    curate_png_decoder *d = (curate_png_decoder *)png_get_error_ptr(png);
    if (d->st->warnings++ == 0) curate_set_text(d->st->warning, sizeof d->st->warning, msg);
}

static void png_read_fn(png_structp png, png_bytep out, size_t n) {
    curate_png_decoder *d = (curate_png_decoder *)png_get_io_ptr(png);
    if (n > d->size - d->pos) {
        d->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

/* Maps libpng's message to a Curate code. */
static int png_classify(curate_png_decoder *d, int in_header) {
    const char *m = d->st->message;
    if (d->truncated || strstr(m, "Not enough image data") || strstr(m, "Truncated"))
        return CURATE_ERR_TRUNCATED;
    if (strstr(m, "CRC error")) return CURATE_ERR_BAD_CRC;
    if (strstr(m, "Not a PNG file") || strstr(m, "PNG file corrupted by ASCII conversion"))
        return CURATE_ERR_NOT_PNG;
    if (strstr(m, "exceeds user limit") || strstr(m, "too large")) return CURATE_ERR_TOO_LARGE;
    if (strstr(m, "Insufficient memory") || strstr(m, "Out of memory")) return CURATE_ERR_NO_MEMORY;
    return in_header ? CURATE_ERR_BAD_HEADER : CURATE_ERR_CORRUPT;
}

/* Ancillary chunks the canonical decode never uses (no gamma, sRGB, ICC or text): treated as
 * unknown and discarded, so they are CRC-checked but never decompressed or parsed. */
static const png_byte ignored_chunks[] =
    "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0sTER\0tEXt\0tIME\0zTXt";

curate_png_decoder *curate_png_open(const uint8_t *data, size_t size,
                                    curate_png_header *header, curate_status *st) {
    curate_status_reset(st);
    memset(header, 0, sizeof *header);
    curate_png_decoder *d = (curate_png_decoder *)calloc(1, sizeof *d);
    if (d == NULL) { curate_fail(st, CURATE_ERR_NO_MEMORY, "out of memory"); return NULL; }
    d->data = data;
    d->size = size;
    d->st = st;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        curate_fail(st, size < 8 ? CURATE_ERR_TRUNCATED : CURATE_ERR_NOT_PNG,
                    size < 8 ? "file shorter than the PNG signature" : "Not a PNG file (bad signature)");
        return d;
    }
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_error_fn, png_warning_fn);
    if (d->png == NULL) { curate_fail(st, CURATE_ERR_NO_MEMORY, "png_create_read_struct failed"); return d; }
    d->info = png_create_info_struct(d->png);
    if (d->info == NULL) { curate_fail(st, CURATE_ERR_NO_MEMORY, "png_create_info_struct failed"); return d; }
    if (setjmp(png_jmpbuf(d->png))) {
        st->code = png_classify(d, 1);
        return d;
    }
    png_set_read_fn(d->png, d, png_read_fn);
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks,
                                (int)(sizeof ignored_chunks / 5));
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_chunk_malloc_max(d->png, 8u << 20);
    png_read_info(d->png, d->info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(d->png, d->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    header->width = w;
    header->height = h;
    header->bit_depth = depth;
    header->color_type = ctype;
    header->interlaced = interlace != PNG_INTERLACE_NONE;
    header->has_trns = png_get_valid(d->png, d->info, PNG_INFO_tRNS) != 0;
    d->header = *header;
    return d;
}

int curate_png_decode(curate_png_decoder *d, uint8_t *out, size_t stride, int sixteen,
                      curate_status *st) {
    int previous_warnings = st->warnings;
    d->st = st;
    if (d->png == NULL || d->info == NULL) return curate_fail(st, CURATE_ERR_INTERNAL, "decoder not open");
    if (setjmp(png_jmpbuf(d->png))) {
        return st->code = png_classify(d, 0);
    }
    (void)previous_warnings;
    png_structp png = d->png;
    if (sixteen) {
        png_set_expand_16(png);          /* everything, palette included, to 16 bits */
    } else {
        png_set_expand(png);             /* palette to RGB, low-bit grey to 8 bits, tRNS to alpha */
        png_set_scale_16(png);           /* 16 to 8 bits, rounding (strip_16 would truncate) */
    }
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, sixteen ? 0xffff : 0xff, PNG_FILLER_AFTER);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (sixteen) png_set_swap(png);      /* PNG is big-endian; hand back native samples */
#endif
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, d->info);

    size_t expected = (size_t)d->header.width * 4u * (sixteen ? 2u : 1u);
    if (png_get_rowbytes(png, d->info) != expected || png_get_channels(png, d->info) != 4)
        png_error(png, "unexpected row layout after transforms");
    for (int pass = 0; pass < passes; pass++) {
        uint8_t *row = out;
        for (png_uint_32 y = 0; y < d->header.height; y++, row += stride)
            png_read_row(png, row, NULL);
    }
    png_read_end(png, NULL);  /* checks the chunks after the image data, and IEND */
    return st->code = CURATE_OK;
}

void curate_png_close(curate_png_decoder *d) {
    if (d == NULL) return;
    if (d->png != NULL) png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    free(d);
}

/* ---------------------------------------------------------------- encoding */

typedef struct png_sink {
    uint8_t *buf;
    size_t size, cap;
    int failed;
    curate_status *st;
} png_sink;

static void png_write_fn(png_structp png, png_bytep data, size_t n) {
    png_sink *s = (png_sink *)png_get_io_ptr(png);
    if (s->size + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->size + n) cap *= 2;
        uint8_t *grown = (uint8_t *)realloc(s->buf, cap);
        if (grown == NULL) { s->failed = 1; png_error(png, "out of memory while encoding"); }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->size, data, n);
    s->size += n;
}

static void png_flush_fn(png_structp png) { (void)png; }

static void png_write_error_fn(png_structp png, png_const_charp msg) {
    png_sink *s = (png_sink *)png_get_error_ptr(png);
    curate_set_text(s->st->message, sizeof s->st->message, msg);
    png_longjmp(png, 1);
}

int curate_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, size_t stride,
                      int channels, int bit_depth, int level,
                      uint8_t **out, size_t *out_size, curate_status *st) {
    curate_status_reset(st);
    *out = NULL;
    *out_size = 0;
    static const int types[5] = {-1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (channels < 1 || channels > 4) return curate_fail(st, CURATE_ERR_INTERNAL, "channels must be 1 to 4");
    if (bit_depth != 8 && bit_depth != 16) return curate_fail(st, CURATE_ERR_INTERNAL, "bit depth must be 8 or 16");
    if (width == 0 || height == 0) return curate_fail(st, CURATE_ERR_INTERNAL, "empty image");

    png_sink sink = {NULL, 0, 0, 0, st};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_write_error_fn, NULL);
    if (png == NULL) return curate_fail(st, CURATE_ERR_NO_MEMORY, "png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return curate_fail(st, CURATE_ERR_NO_MEMORY, "png_create_info_struct failed");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.buf);
        st->code = sink.failed ? CURATE_ERR_NO_MEMORY : CURATE_ERR_INTERNAL;
        return st->code;
    }
    png_set_write_fn(png, &sink, png_write_fn, png_flush_fn);
    if (level >= 0 && level <= 9) png_set_compression_level(png, level);
    png_set_IHDR(png, info, width, height, bit_depth, types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bit_depth == 16) png_set_swap(png);
#endif
    for (uint32_t y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = sink.buf;
    *out_size = sink.size;
    return CURATE_OK;
}

void curate_free(void *p) { free(p); }
