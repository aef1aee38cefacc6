/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/lttng_tp.c - instantiates the probes of lttng_tp.h (the
 * provider is linked into cmp-lttng, statically).
 */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE
#include "lttng_tp.h"
