/* SPDX-License-Identifier: MIT */
/*
 * tests/check_backend.h - a test backend that behaves like device memory.
 *
 * rbf_check_backend (name "check") has no RBF_BACKEND_F_CPU_DIRECT and no
 * RBF_BACKEND_F_CTL: the frontend must keep its control block in host memory
 * and reach the data only through ->store and ->load.  To make sure it does:
 *
 *  - the address handed out as rbf_backend_mem.data is a PROT_NONE view of
 *    the buffer's memory, so any direct access by the frontend dies with
 *    SIGSEGV;
 *  - ->store, ->load and ->sync check that the offset and length are
 *    multiples of 8 and the range lies within the nr_data * subbuf_size
 *    bytes of the buffer; a violation is counted, reported on stderr and,
 *    by default, ends the process with abort();
 *  - copies are done with aligned, volatile 8-byte accesses only.
 *
 * Every operation is counted (process-wide counters, updated atomically).
 * All operations are thread-safe; store/load may run concurrently on
 * disjoint ranges.  buffer_alloc uses only system calls (memfd_create, mmap),
 * so per-thread channels may allocate from signal handlers.
 */
#ifndef RBF_TESTS_CHECK_BACKEND_H
#define RBF_TESTS_CHECK_BACKEND_H

#include <stddef.h>
#include <rbf/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const struct rbf_backend rbf_check_backend;

/**
 * struct check_backend_config - optional configuration of the check backend.
 * @size:             sizeof(struct check_backend_config).
 * @fail_alloc_after: buffer_alloc of the channel fails with -ENOMEM once
 *                    this many buffers have been allocated in it; negative
 *                    (the default) never fails.
 */
struct check_backend_config {
	size_t size;
	long fail_alloc_after;
};

void check_backend_config_init(struct check_backend_config *cfg);

/* Process-wide counters, since start or the last check_backend_reset(). */
unsigned long check_backend_violations(void);
unsigned long check_backend_stores(void);
unsigned long check_backend_loads(void);
unsigned long check_backend_syncs(void);
unsigned long check_backend_bytes_stored(void);
unsigned long check_backend_bytes_loaded(void);
unsigned long check_backend_allocs(void);
unsigned long check_backend_frees(void);
/* Buffers allocated and not yet freed (not reset by check_backend_reset). */
long check_backend_live_buffers(void);
void check_backend_reset(void);

/*
 * With @on = 0 a violation is counted and the operation returns -EINVAL
 * instead of aborting (default: abort).  Returns the previous setting.
 */
int check_backend_set_abort(int on);

/*
 * For tests that drive the backend directly: the backend's read-write view
 * of a buffer it allocated, and the buffer's size in bytes.
 */
void *check_backend_rw_view(const struct rbf_backend_mem *mem);
size_t check_backend_data_size(const struct rbf_backend_mem *mem);

#ifdef __cplusplus
}
#endif

#endif /* RBF_TESTS_CHECK_BACKEND_H */
