/* Shared by the bitstream's C files (not installed): the readable reasons
 * that every parser writes into the caller's err buffer. */
#ifndef EVATOK_BITSTREAM_ERROR_H
#define EVATOK_BITSTREAM_ERROR_H

#include <stddef.h>

/* Formats the reason into err (when given) and returns code. */
int evbs_fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
