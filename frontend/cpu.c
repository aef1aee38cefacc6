/* SPDX-License-Identifier: MIT */
/*
 * frontend/cpu.c - which CPU is the caller on.
 *
 * glibc (2.35+) registers rseq for every thread; the kernel then keeps the
 * thread's current CPU in the rseq area, at a fixed offset from the thread
 * pointer.  Reading it is one load (~0.4 ns here) instead of a vDSO call
 * (sched_getcpu(), ~4 ns).  Where rseq is not registered (older glibc,
 * GLIBC_TUNABLES=glibc.pthread.rseq=0) we fall back to sched_getcpu().
 */
#include <sched.h>
#include <stddef.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "internal.h"

#if defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <sys/rseq.h>
#define RBF_HAVE_RSEQ 1
#endif

/* Offset of rseq's cpu_id from the thread pointer, or -1. */
ptrdiff_t rbf_rseq_cpu_off = -1;

__attribute__((constructor)) static void rseq_probe(void)
{
#ifdef RBF_HAVE_RSEQ
	if (__rseq_size >= offsetof(struct rseq, cpu_id) + sizeof(uint32_t))
		rbf_rseq_cpu_off =
			__rseq_offset + offsetof(struct rseq, cpu_id);
#endif
}

int rbf_current_cpu_slow(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : cpu;
}

uint32_t rbf_possible_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	if (n < 1)
		n = get_nprocs_conf();
	if (n < 1)
		n = 1;
	return (uint32_t)n;
}
