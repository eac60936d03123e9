#ifndef CURATE_CODEC_SHIMS_H
#define CURATE_CODEC_SHIMS_H

/*
 * C glue between Curate's ImageCodecs module and libpng / libjpeg / zlib.
 *
 * Every libpng and libjpeg call that can fail is made from a function in this target that
 * has set its own setjmp point first, so a longjmp never crosses a Swift frame. Errors come
 * back as a status code plus the library's own message. Decoding is split in two phases
 * (header, then pixels) so that Swift can check the image size against its limit and hand
 * over its own buffer: pixels are written straight into caller memory, never copied.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes shared by all the shims. */
enum {
    CURATE_OK = 0,
    CURATE_ERR_NOT_PNG = 1,
    CURATE_ERR_NOT_JPEG = 2,
    CURATE_ERR_TRUNCATED = 3,
    CURATE_ERR_BAD_CRC = 4,
    CURATE_ERR_BAD_HEADER = 5,
    CURATE_ERR_TOO_LARGE = 6,
    CURATE_ERR_DAMAGED = 7,      /* decoded only with data-damage warnings */
    CURATE_ERR_CORRUPT = 8,      /* fatal error in the image data */
    CURATE_ERR_NO_MEMORY = 9,
    CURATE_ERR_UNSUPPORTED = 10, /* valid file using a feature Curate does not decode */
    CURATE_ERR_INTERNAL = 11,
};

typedef struct curate_status {
    int code;
    int warnings;            /* library warnings seen so far */
    char message[200];       /* the library's message for the error */
    char warning[200];       /* the first warning's text */
} curate_status;

/* ---------------------------------------------------------------- PNG decoding */

typedef struct curate_png_header {
    uint32_t width, height;
    int bit_depth;      /* 1, 2, 4, 8 or 16 */
    int color_type;     /* PNG colour type: 0, 2, 3, 4, 6 */
    int interlaced;     /* 1 for Adam7 */
    int has_trns;
} curate_png_header;

typedef struct curate_png_decoder curate_png_decoder;

/* Reads the signature and every chunk up to the first IDAT. Returns NULL only when out of memory;
 * otherwise check status->code. The data must stay valid until curate_png_close. */
curate_png_decoder *curate_png_open(const uint8_t *data, size_t size,
                                    curate_png_header *header, curate_status *status);

/* Decodes to RGBA, 8 bits per sample (sixteen == 0; 16-bit samples rounded, never truncated) or
 * 16 bits per sample in native byte order (sixteen != 0), into out (stride bytes per row). Reads
 * the rest of the file too, so damage after the image data is reported. */
int curate_png_decode(curate_png_decoder *dec, uint8_t *out, size_t stride, int sixteen,
                      curate_status *status);

void curate_png_close(curate_png_decoder *dec);

/* ---------------------------------------------------------------- PNG encoding */

/* Encodes rows of 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels of 8 or 16 bits
 * (16-bit samples in native byte order). On success *out is a malloc'ed buffer the caller frees
 * with curate_free. level is the zlib level 0-9, or -1 for the default. */
int curate_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, size_t stride,
                      int channels, int bit_depth, int level,
                      uint8_t **out, size_t *out_size, curate_status *status);

void curate_free(void *p);

/* ---------------------------------------------------------------- JPEG decoding */

typedef struct curate_jpeg_header {
    uint32_t width, height;            /* as stored */
    uint32_t output_width, output_height; /* after DCT scaling */
    int components;                    /* 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK */
    int color_space;                   /* libjpeg J_COLOR_SPACE of the file */
    int progressive, arithmetic;
    int orientation;                   /* EXIF orientation 1-8 (1 when absent or invalid) */
} curate_jpeg_header;

typedef struct curate_jpeg_decoder curate_jpeg_decoder;

/* Reads the headers and prepares a decode scaled by 1/scale_denom (1, 2, 4 or 8).
 * max_memory bounds libjpeg's working memory; max_scans bounds progressive scans (0: no bound). */
curate_jpeg_decoder *curate_jpeg_open(const uint8_t *data, size_t size, int scale_denom,
                                      long max_memory, int max_scans,
                                      curate_jpeg_header *header, curate_status *status);

/* Changes the DCT scale (1, 2, 4 or 8) chosen at open and updates header's output size. */
int curate_jpeg_set_scale(curate_jpeg_decoder *dec, int scale_denom, curate_jpeg_header *header,
                          curate_status *status);

/* Decodes to 8-bit RGBA (alpha 255) into out (stride bytes per row). CMYK and YCCK are
 * converted to RGB. status->warnings counts libjpeg's warnings (data damage). */
int curate_jpeg_decode(curate_jpeg_decoder *dec, uint8_t *out, size_t stride, curate_status *status);

void curate_jpeg_close(curate_jpeg_decoder *dec);

/* ---------------------------------------------------------------- zlib */

/* Inflates gzip or zlib data (detected from the header) of at most max_out bytes.
 * On success *out is a malloc'ed buffer the caller frees with curate_free. */
int curate_inflate(const uint8_t *data, size_t size, size_t max_out,
                   uint8_t **out, size_t *out_size, curate_status *status);

#ifdef __cplusplus
}
#endif
#endif
