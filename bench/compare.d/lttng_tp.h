/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/lttng_tp.h - the LTTng-UST tracepoint provider of the
 * comparison (provider "rbfcmp").
 *
 * Two payloads, as in the rbf runs: one 64-bit integer, and a 64-byte blob
 * (an array of 64 bytes, which LTTng-UST copies with one memcpy).  Each
 * payload has one event per recording session of bench/compare, so that
 * several sessions can stay started while only the one under test records:
 *
 *	u64_discard, blob_discard     session with a discard-mode channel
 *	u64_overwrite, blob_overwrite snapshot session, overwrite channel
 *	blob_loss                     the loss-under-pressure session
 *	u64_verify                    the end-to-end check of the setup
 *
 * The events of one payload share an event class, so their code is the
 * same.  Uses the LTTng-UST 2.12 API names, which 2.13 still provides.
 */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER rbfcmp

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./lttng_tp.h"

#if !defined(CMP_LTTNG_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define CMP_LTTNG_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

TRACEPOINT_EVENT_CLASS(rbfcmp, u64_class, TP_ARGS(uint64_t, v),
		       TP_FIELDS(ctf_integer(uint64_t, v, v)))

TRACEPOINT_EVENT_INSTANCE(rbfcmp, u64_class, u64_discard, TP_ARGS(uint64_t, v))
TRACEPOINT_EVENT_INSTANCE(rbfcmp, u64_class, u64_overwrite,
			  TP_ARGS(uint64_t, v))
TRACEPOINT_EVENT_INSTANCE(rbfcmp, u64_class, u64_verify, TP_ARGS(uint64_t, v))

TRACEPOINT_EVENT_CLASS(rbfcmp, blob_class, TP_ARGS(const uint8_t *, p),
		       TP_FIELDS(ctf_array(uint8_t, blob, p, 64)))

TRACEPOINT_EVENT_INSTANCE(rbfcmp, blob_class, blob_discard,
			  TP_ARGS(const uint8_t *, p))
TRACEPOINT_EVENT_INSTANCE(rbfcmp, blob_class, blob_overwrite,
			  TP_ARGS(const uint8_t *, p))
TRACEPOINT_EVENT_INSTANCE(rbfcmp, blob_class, blob_loss,
			  TP_ARGS(const uint8_t *, p))

#endif /* CMP_LTTNG_TP_H */

#include <lttng/tracepoint-event.h>
