/*
 * libevatok status codes as AVERROR values, for the evatok glue (the encoder
 * and decoder in libavcodec, the evatok_predict filter in libavfilter).
 */
#ifndef AVCODEC_LIBEVATOK_ERROR_H
#define AVCODEC_LIBEVATOK_ERROR_H

#include <errno.h>

#include <evatok/evatok.h>

#include "libavutil/error.h"

static inline int ff_evatok_status_to_averror(EvatokStatus st)
{
    switch (st) {
    case EVATOK_OK:                   return 0;
    case EVATOK_ERR_INVALID_ARGUMENT: return AVERROR(EINVAL);
    case EVATOK_ERR_IO:               return AVERROR(ENOENT);
    case EVATOK_ERR_NO_MEMORY:        return AVERROR(ENOMEM);
    case EVATOK_ERR_UNSUPPORTED:      return AVERROR_PATCHWELCOME;
    case EVATOK_ERR_DEVICE:           return AVERROR(ENODEV);
    case EVATOK_ERR_MODEL_FORMAT:
    case EVATOK_ERR_MODEL_MISMATCH:
    case EVATOK_ERR_BITSTREAM:        return AVERROR_INVALIDDATA;
    default:                          return AVERROR_EXTERNAL;
    }
}

#endif /* AVCODEC_LIBEVATOK_ERROR_H */
