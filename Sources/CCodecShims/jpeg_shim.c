/* libjpeg glue: classic API; error_exit longjmps only to setjmp points in this file. */
#include <setjmp.h>
#include <stdlib.h>
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include "shim_common.h"

struct curate_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

struct curate_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;   /* first member: j_common_ptr casts back to us */
    struct curate_jpeg_error err;
    struct jpeg_progress_mgr progress;
    curate_status *st;
    int created;
    int cmyk;
    int saw_eof;          /* libjpeg ran out of data and padded */
    int max_scans;
    int too_many_scans;
    curate_jpeg_header header;
};

static void jpeg_on_error_exit(j_common_ptr c) {
    curate_jpeg_decoder *d = (curate_jpeg_decoder *)c;
    char text[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, text);
    curate_set_text(d->st->message, sizeof d->st->message, text);
    longjmp(d->err.jump, 1);
}

static void jpeg_on_emit_message(j_common_ptr c, int level) {
    if (level >= 0) return;  /* trace messages */
    curate_jpeg_decoder *d = (curate_jpeg_decoder *)c;
    if (c->err->msg_code == JWRN_JPEG_EOF) d->saw_eof = 1;
    if (c->err->num_warnings == 0) {
        char text[JMSG_LENGTH_MAX];
        (*c->err->format_message)(c, text);
        curate_set_text(d->st->warning, sizeof d->st->warning, text);
    }
    c->err->num_warnings++;
    d->st->warnings = (int)c->err->num_warnings;
}

static void jpeg_on_output_message(j_common_ptr c) { (void)c; }

/* Bounds the work a hostile progressive file can ask for: every scan re-reads the whole
 * coefficient buffer, so thousands of tiny scans would be a hang in all but name. */
static void jpeg_on_progress(j_common_ptr c) {
    curate_jpeg_decoder *d = (curate_jpeg_decoder *)c;
    if (d->max_scans > 0 && d->cinfo.input_scan_number > d->max_scans) {
        d->too_many_scans = 1;
        snprintf(d->st->message, sizeof d->st->message,
                 "more than %d progressive scans (refused as a denial of service)", d->max_scans);
        longjmp(d->err.jump, 1);
    }
}

static int jpeg_classify(curate_jpeg_decoder *d, int in_header) {
    if (d->too_many_scans) return CURATE_ERR_CORRUPT;
    switch (d->err.pub.msg_code) {
    case JERR_NO_SOI: return CURATE_ERR_NOT_JPEG;
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF: return CURATE_ERR_TRUNCATED;
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
    case JERR_OUT_OF_MEMORY:
    case JERR_NO_BACKING_STORE: return CURATE_ERR_TOO_LARGE;
    case JERR_BAD_PRECISION:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOTIMPL: return CURATE_ERR_UNSUPPORTED;
    default: break;
    }
    if (d->saw_eof) return CURATE_ERR_TRUNCATED;
    return in_header ? CURATE_ERR_BAD_HEADER : CURATE_ERR_CORRUPT;
}

static uint16_t rd16(const uint8_t *p, int le) { return le ? (uint16_t)(p[0] | p[1] << 8) : (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The EXIF orientation tag (0x0112) of IFD0, or 1. Every offset is bounds-checked. */
static int exif_orientation(const uint8_t *p, size_t n) {
    if (n < 14 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = p + 6;
    size_t tn = n - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > tn || tn - ifd < 2) return 1;
    uint16_t count = rd16(t + ifd, le);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > tn) return 1;
        if (rd16(t + e, le) == 0x0112) {
            uint16_t type = rd16(t + e + 2, le);
            uint16_t v = type == 3 ? rd16(t + e + 8, le) : 0;
            return (v >= 1 && v <= 8) ? v : 1;
        }
    }
    return 1;
}

curate_jpeg_decoder *curate_jpeg_open(const uint8_t *data, size_t size, int scale_denom,
                                      long max_memory, int max_scans,
                                      curate_jpeg_header *header, curate_status *st) {
    curate_status_reset(st);
    memset(header, 0, sizeof *header);
    curate_jpeg_decoder *d = (curate_jpeg_decoder *)calloc(1, sizeof *d);
    if (d == NULL) { curate_fail(st, CURATE_ERR_NO_MEMORY, "out of memory"); return NULL; }
    d->st = st;
    d->max_scans = max_scans;
    if (size < 2 || data[0] != 0xFF || data[1] != 0xD8) {
        curate_fail(st, CURATE_ERR_NOT_JPEG, "Not a JPEG file (no SOI marker)");
        return d;
    }
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = jpeg_on_error_exit;
    d->err.pub.emit_message = jpeg_on_emit_message;
    d->err.pub.output_message = jpeg_on_output_message;
    if (setjmp(d->err.jump)) {
        st->code = jpeg_classify(d, 1);
        return d;
    }
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    if (max_memory > 0) d->cinfo.mem->max_memory_to_use = max_memory;
    d->progress.progress_monitor = jpeg_on_progress;
    d->cinfo.progress = &d->progress;
    jpeg_mem_src(&d->cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d->cinfo, TRUE);

    struct jpeg_decompress_struct *ci = &d->cinfo;
    header->width = ci->image_width;
    header->height = ci->image_height;
    header->components = ci->num_components;
    header->color_space = (int)ci->jpeg_color_space;
    header->progressive = ci->progressive_mode ? 1 : 0;
    header->arithmetic = ci->arith_code ? 1 : 0;
    header->orientation = 1;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) {
            int o = exif_orientation(m->data, m->data_length);
            if (o != 1) { header->orientation = o; break; }
        }
    }
    d->cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    ci->out_color_space = d->cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    ci->scale_num = 1;
    ci->scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? (unsigned)scale_denom : 1;
    jpeg_calc_output_dimensions(ci);
    header->output_width = ci->output_width;
    header->output_height = ci->output_height;
    d->header = *header;
    return d;
}

int curate_jpeg_set_scale(curate_jpeg_decoder *d, int scale_denom, curate_jpeg_header *header,
                          curate_status *st) {
    d->st = st;
    if (!d->created) return curate_fail(st, CURATE_ERR_INTERNAL, "decoder not open");
    if (setjmp(d->err.jump)) return st->code = jpeg_classify(d, 1);
    d->cinfo.scale_num = 1;
    d->cinfo.scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? (unsigned)scale_denom : 1;
    jpeg_calc_output_dimensions(&d->cinfo);
    d->header.output_width = d->cinfo.output_width;
    d->header.output_height = d->cinfo.output_height;
    *header = d->header;
    return st->code = CURATE_OK;
}

/* CMYK as libjpeg-turbo's own tools convert it (cmyk.h): the samples are taken as Adobe's
 * inverted inks, R = C * K / 255 rounded, whether or not an Adobe marker is present. */
static void cmyk_to_rgba(const uint8_t *in, uint8_t *out, uint32_t width) {
    for (uint32_t x = 0; x < width; x++, in += 4, out += 4) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        out[0] = (uint8_t)((c * k + 127) / 255);
        out[1] = (uint8_t)((m * k + 127) / 255);
        out[2] = (uint8_t)((y * k + 127) / 255);
        out[3] = 255;
    }
}

int curate_jpeg_decode(curate_jpeg_decoder *d, uint8_t *out, size_t stride, curate_status *st) {
    d->st = st;
    if (!d->created) return curate_fail(st, CURATE_ERR_INTERNAL, "decoder not open");
    uint8_t *volatile cmyk_rows = NULL;
    if (setjmp(d->err.jump)) {
        free(cmyk_rows);
        return st->code = jpeg_classify(d, 0);
    }
    struct jpeg_decompress_struct *ci = &d->cinfo;
    jpeg_start_decompress(ci);
    if ((uint32_t)ci->output_width != d->header.output_width ||
        (uint32_t)ci->output_height != d->header.output_height ||
        ci->output_components != 4) {
        curate_set_text(st->message, sizeof st->message, "unexpected output layout");
        free(cmyk_rows);
        jpeg_abort_decompress(ci);
        return st->code = CURATE_ERR_INTERNAL;
    }
    int batch = ci->rec_outbuf_height > 0 && ci->rec_outbuf_height <= 16 ? ci->rec_outbuf_height : 1;
    if (d->cmyk) {
        cmyk_rows = (uint8_t *)malloc((size_t)ci->output_width * 4u * (size_t)batch);
        if (cmyk_rows == NULL) { jpeg_abort_decompress(ci); return curate_fail(st, CURATE_ERR_NO_MEMORY, "out of memory"); }
    }
    JSAMPROW rows[16];
    while (ci->output_scanline < ci->output_height) {
        JDIMENSION y = ci->output_scanline;
        int n = (int)(ci->output_height - y) < batch ? (int)(ci->output_height - y) : batch;
        for (int i = 0; i < n; i++)
            rows[i] = d->cmyk ? cmyk_rows + (size_t)i * ci->output_width * 4u : out + (size_t)(y + i) * stride;
        JDIMENSION got = jpeg_read_scanlines(ci, rows, (JDIMENSION)n);
        if (got == 0) ERREXIT(ci, JERR_INPUT_EOF);  /* cannot happen with a memory source */
        if (d->cmyk)
            for (JDIMENSION i = 0; i < got; i++)
                cmyk_to_rgba(rows[i], out + (size_t)(y + i) * stride, ci->output_width);
    }
    jpeg_finish_decompress(ci);
    free(cmyk_rows);
    cmyk_rows = NULL;
    st->warnings = (int)d->err.pub.num_warnings;
    if (st->warnings > 0) {
        st->code = CURATE_ERR_DAMAGED;
        curate_set_text(st->message, sizeof st->message, st->warning);
        return st->code;
    }
    return st->code = CURATE_OK;
}

void curate_jpeg_close(curate_jpeg_decoder *d) {
    if (d == NULL) return;
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d);
}
