/* SPDX-License-Identifier: MIT */
/*
 * rbf/common.h - shared definitions of the rbf public API.
 *
 * Every rbf function that can fail returns 0 (or a count) on success and a
 * negative errno value on failure.  rbf never sets errno, never prints and
 * never aborts.
 */
#ifndef RBF_COMMON_H
#define RBF_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RBF_BUILDING_LIBRARY) && defined(__GNUC__)
#define RBF_API __attribute__((visibility("default")))
#else
#define RBF_API
#endif

#define RBF_VERSION_MAJOR 0
#define RBF_VERSION_MINOR 1
#define RBF_VERSION_PATCH 0

/**
 * rbf_version() - version of the library actually loaded.
 *
 * Return: (major << 16) | (minor << 8) | patch.  Thread-safe, signal-safe.
 */
RBF_API unsigned int rbf_version(void);

struct rbf_channel;
struct rbf_buffer;
struct rbf_backend;

/**
 * enum rbf_mode - what a writer does when the buffer is full.
 * @RBF_MODE_DISCARD:   keep the oldest data: a write into a full buffer
 *                      fails with -ENOBUFS and is counted as lost.
 * @RBF_MODE_OVERWRITE: flight recorder: keep the newest data; the writer
 *                      pushes the head past the oldest unread sub-buffer and
 *                      counts its events as overwritten.
 */
enum rbf_mode {
	RBF_MODE_DISCARD = 0,
	RBF_MODE_OVERWRITE = 1,
};

/**
 * enum rbf_alloc - how buffers of a channel are allocated and chosen.
 * @RBF_ALLOC_PER_CPU:    one buffer per possible CPU; a writer uses the
 *                        buffer of the CPU it runs on (rseq cpu_id where the
 *                        C library registered rseq, else sched_getcpu()).
 * @RBF_ALLOC_PER_THREAD: each writing thread gets its own buffer on its
 *                        first write; writers use no locked instruction.
 * @RBF_ALLOC_GLOBAL:     one buffer shared by every thread.
 */
enum rbf_alloc {
	RBF_ALLOC_PER_CPU = 0,
	RBF_ALLOC_PER_THREAD = 1,
	RBF_ALLOC_GLOBAL = 2,
};

/**
 * enum rbf_clock - timestamp source of a channel.
 * @RBF_CLOCK_MONOTONIC: clock_gettime(CLOCK_MONOTONIC), in nanoseconds.
 * @RBF_CLOCK_TSC:       the x86 time-stamp counter (RDTSC); refused with
 *                       -ENOTSUP where the TSC is not invariant.
 * @RBF_CLOCK_NONE:      no clock read: the caller supplies each stamp
 *                       (rbf_write_ts(), rbf_reserve_ts()).
 */
enum rbf_clock {
	RBF_CLOCK_MONOTONIC = 0,
	RBF_CLOCK_TSC = 1,
	RBF_CLOCK_NONE = 2,
};

/**
 * enum rbf_lost_cause - why a write failed (each one counted).
 * @RBF_LOST_FULL:      discard mode, buffer full (-ENOBUFS).
 * @RBF_LOST_BUSY:      the sub-buffer the writer must enter still holds an
 *                      uncommitted event from a writer stalled a whole ring
 *                      ago (-EBUSY).
 * @RBF_LOST_TOO_BIG:   event larger than a sub-buffer can hold (-EMSGSIZE).
 * @RBF_LOST_DISABLED:  recording disabled (-EPERM).
 * @RBF_LOST_NESTING:   writes nested deeper than the channel allows
 *                      (-ELOOP).
 * @RBF_LOST_NOMEM:     per-thread buffer could not be allocated (-ENOMEM).
 */
enum rbf_lost_cause {
	RBF_LOST_FULL = 0,
	RBF_LOST_BUSY,
	RBF_LOST_TOO_BIG,
	RBF_LOST_DISABLED,
	RBF_LOST_NESTING,
	RBF_LOST_NOMEM,
	RBF_LOST_NR,
};

/**
 * rbf_lost_cause_name() - short name of a loss cause ("full", "busy", ...).
 * Return: a static string, or "unknown".
 */
RBF_API const char *rbf_lost_cause_name(enum rbf_lost_cause cause);

#ifdef __cplusplus
}
#endif

#endif /* RBF_COMMON_H */
