/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/drain.h - rbf's consumer in the comparison: a reader
 * thread that takes each full sub-buffer with rbf_subbuf_get(), write()s
 * it to a file and gives it back with rbf_subbuf_put().  When no buffer
 * has a full sub-buffer it sleeps --idle-us microseconds.
 */
#ifndef CMP_DRAIN_H
#define CMP_DRAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rbf/rbf.h>

struct drain {
	/* set by the caller */
	struct rbf_channel *ch;
	int fd; /* where sub-buffers go; -1: take and give back only */
	uint64_t file_cap; /* seek back to 0 past this many bytes; 0: never */
	unsigned int idle_us;
	int cpu; /* pin the reader here, -1: let it float */
	/* results */
	uint64_t subbufs, records, bytes; /* sub-buffers taken */
	uint64_t io_ns; /* time spent in write() */
	uint64_t cpu_ns; /* CPU time of the reader thread and final drain */
	int err; /* first error (negative errno) */
	/* private */
	atomic_bool stop;
	pthread_t tid;
	uint64_t file_pos;
	void *bounce;
	uint32_t bounce_size;
};

/* Start the reader thread.  Return 0 or a negative errno. */
int drain_start(struct drain *d);

/*
 * Stop the reader thread.  With @final (call it once no writer runs any
 * more), then close every buffer's partial sub-buffer (rbf_channel_flush)
 * and drain what is left, so that nothing stays buffered.
 * Return d->err.
 */
int drain_stop(struct drain *d, bool final);

/*
 * Walk a file written by the drain (concatenated sub-buffers: header and
 * records up to content_size) and count the committed, non-padding records.
 * Return the count, or -1 if the file is malformed or unreadable.
 */
int64_t drain_count_file(const char *path);

#endif /* CMP_DRAIN_H */
