/* SPDX-License-Identifier: MIT */
/*
 * frontend/atomic.h - the two kinds of atomic operation the frontend uses.
 *
 * Shared ops (rbf_shared_*): liburcu's uatomic, LOCK-prefixed on x86, safe
 * against every other CPU.  Full barriers where the name says so.
 *
 * Local ops (rbf_local_*): atomic only with respect to the calling thread
 * and its signal handlers (one instruction, no LOCK prefix on x86-64), like
 * the kernel's local_t.  Used by per-thread buffers whose writer-side state
 * only their owner thread modifies.  On other architectures they fall back
 * to the shared ops.
 */
#ifndef RBF_FRONTEND_ATOMIC_H
#define RBF_FRONTEND_ATOMIC_H

#include <stdint.h>
#include <urcu/arch.h>
#include <urcu/system.h>
#include <urcu/uatomic.h>
#include <urcu/compiler.h>

#define rbf_likely(x) caa_likely(x)
#define rbf_unlikely(x) caa_unlikely(x)

/* Plain, untorn loads and stores of shared words (no ordering). */
#define RBF_LOAD(x) CMM_LOAD_SHARED(x)
#define RBF_STORE(x, v) CMM_STORE_SHARED(x, v)

static inline uint64_t rbf_load_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t rbf_load_acquire32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void rbf_store_release(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void rbf_store_release32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Full-barrier compare-and-swap; returns the previous value. */
static inline uint64_t rbf_shared_cmpxchg(uint64_t *p, uint64_t old,
					  uint64_t new_val)
{
	return uatomic_cmpxchg(p, old, new_val);
}

/* Atomic add with release semantics (orders prior stores before it). */
static inline void rbf_shared_add_release(uint64_t *p, uint64_t v)
{
	cmm_smp_mb__before_uatomic_add();
	uatomic_add(p, v);
}

/* Atomic add, no ordering implied (statistics). */
static inline void rbf_shared_add(uint64_t *p, uint64_t v)
{
	uatomic_add(p, v);
}

#if defined(__x86_64__)
static inline uint64_t rbf_local_cmpxchg(uint64_t *p, uint64_t old,
					 uint64_t new_val)
{
	uint64_t prev;

	__asm__ __volatile__("cmpxchgq %2, %1"
			     : "=a"(prev), "+m"(*p)
			     : "r"(new_val), "0"(old)
			     : "memory");
	return prev;
}

/* x86 is TSO: a plain RMW is a release with respect to earlier stores. */
static inline void rbf_local_add_release(uint64_t *p, uint64_t v)
{
	__asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(v) : "memory");
}

#define RBF_HAVE_LOCAL_ATOMICS 1
#else
static inline uint64_t rbf_local_cmpxchg(uint64_t *p, uint64_t old,
					 uint64_t new_val)
{
	return rbf_shared_cmpxchg(p, old, new_val);
}

static inline void rbf_local_add_release(uint64_t *p, uint64_t v)
{
	rbf_shared_add_release(p, v);
}

#define RBF_HAVE_LOCAL_ATOMICS 0
#endif

#endif /* RBF_FRONTEND_ATOMIC_H */
