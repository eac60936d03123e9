#ifndef CURATE_SHIM_COMMON_H
#define CURATE_SHIM_COMMON_H
#include <stdio.h>
#include <string.h>
#include "codec_shims.h"

/* Copies a C string into a fixed status field, always NUL-terminated. */
static inline void curate_set_text(char *dst, size_t cap, const char *src) {
    if (src == NULL) { dst[0] = 0; return; }
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static inline void curate_status_reset(curate_status *st) {
    st->code = CURATE_OK;
    st->warnings = 0;
    st->message[0] = 0;
    st->warning[0] = 0;
}

static inline int curate_fail(curate_status *st, int code, const char *message) {
    st->code = code;
    if (message != NULL) curate_set_text(st->message, sizeof st->message, message);
    return code;
}
#endif
