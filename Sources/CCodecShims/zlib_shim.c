/* zlib glue: gzip (possibly multi-member) or zlib streams, with an output bound. */
#include <stdlib.h>
#include <zlib.h>
#include "shim_common.h"

int curate_inflate(const uint8_t *data, size_t size, size_t max_out,
                   uint8_t **out, size_t *out_size, curate_status *st) {
    curate_status_reset(st);
    *out = NULL;
    *out_size = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return curate_fail(st, CURATE_ERR_NO_MEMORY, "inflateInit2 failed");
    size_t cap = size * 4 + 1024, used = 0;
    if (cap > max_out && max_out > 0) cap = max_out;
    uint8_t *buf = (uint8_t *)malloc(cap ? cap : 1);
    if (buf == NULL) { inflateEnd(&z); return curate_fail(st, CURATE_ERR_NO_MEMORY, "out of memory"); }
    size_t consumed = 0;
    int rc = Z_OK;
    for (;;) {
        if (used == cap) {
            if (cap >= max_out) { rc = Z_BUF_ERROR; curate_fail(st, CURATE_ERR_TOO_LARGE, "inflated data exceeds the limit"); break; }
            size_t ncap = cap * 2 > max_out ? max_out : cap * 2;
            uint8_t *g = (uint8_t *)realloc(buf, ncap);
            if (g == NULL) { rc = Z_MEM_ERROR; curate_fail(st, CURATE_ERR_NO_MEMORY, "out of memory"); break; }
            buf = g;
            cap = ncap;
        }
        size_t in_left = size - consumed;
        z.next_in = (Bytef *)(data + consumed);
        z.avail_in = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        size_t out_left = cap - used;
        z.next_out = buf + used;
        z.avail_out = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
        uInt ai = z.avail_in, ao = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        consumed += ai - z.avail_in;
        used += ao - z.avail_out;
        if (rc == Z_STREAM_END) {
            /* another gzip member may follow (concatenated .gz files) */
            if (consumed < size && size - consumed >= 2 && data[consumed] == 0x1f && data[consumed + 1] == 0x8b) {
                inflateReset(&z);
                continue;
            }
            rc = Z_OK;
            break;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && consumed == size) {
            curate_fail(st, CURATE_ERR_TRUNCATED, "compressed data ends early");
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            curate_fail(st, rc == Z_MEM_ERROR ? CURATE_ERR_NO_MEMORY : CURATE_ERR_CORRUPT,
                        z.msg ? z.msg : "invalid compressed data");
            break;
        }
    }
    inflateEnd(&z);
    if (st->code != CURATE_OK) { free(buf); return st->code; }
    *out = buf;
    *out_size = used;
    return CURATE_OK;
}
