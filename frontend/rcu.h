/* SPDX-License-Identifier: MIT */
/*
 * frontend/rcu.h - liburcu-bp read-side critical sections for writers.
 *
 * Every write (reserve to commit) is a liburcu-bp read-side critical
 * section; urcu_bp_synchronize_rcu() then proves that no writer is inside a
 * buffer before it is disabled, reaped or freed (channel.c, reader.c).  The
 * bulletproof flavor registers threads on first use, so threads the
 * application never registered are covered.
 *
 * liburcu-bp keeps its per-thread reader pointer in a TLS variable of
 * liburcu-bp.so, which our library can only reach through a TLS descriptor
 * call (~1-2 ns, twice per write).  We cache the pointer in our own
 * initial-exec TLS and then run exactly liburcu's published read-side
 * protocol (urcu/static/urcu-bp.h) on it.  The cache is validated on every
 * use: liburcu-bp clears 'alloc' and 'tid' when the thread unregisters (at
 * thread exit), and a recycled entry carries another thread's tid.
 */
#ifndef RBF_FRONTEND_RCU_H
#define RBF_FRONTEND_RCU_H

#include <stddef.h>

#include <urcu/urcu-bp.h>

#include "internal.h"

RBF_HIDDEN struct urcu_bp_reader *rbf_rcu_reader_slow(void);

/*
 * liburcu 0.13 declares struct urcu_bp_reader 128-byte aligned but hands out
 * records that are not: access its fields through byte offsets, not member
 * access, so that the code is defined (and UBSan-clean).
 */
#define RBF_URCU_FIELD(r, type, field) \
	((type *)(void *)((char *)(r) + offsetof(struct urcu_bp_reader, field)))

static inline bool rbf_rcu_reader_valid(struct urcu_bp_reader *r)
{
	return r && RBF_LOAD(*RBF_URCU_FIELD(r, int, alloc)) &&
	       pthread_equal(RBF_LOAD(*RBF_URCU_FIELD(r, pthread_t, tid)),
			     rbf_tls.self);
}

static inline struct urcu_bp_reader *rbf_rcu_reader(void)
{
	struct urcu_bp_reader *r = rbf_tls.urcu;

	if (rbf_likely(rbf_rcu_reader_valid(r)))
		return r;
	return rbf_rcu_reader_slow();
}

/* Same as _urcu_bp_read_lock(), on the cached reader. */
static inline void rbf_rcu_read_lock(void)
{
	unsigned long *ctr =
		RBF_URCU_FIELD(rbf_rcu_reader(), unsigned long, ctr);
	unsigned long tmp;

	cmm_barrier();
	tmp = *ctr;
	if (rbf_likely(!(tmp & URCU_BP_GP_CTR_NEST_MASK))) {
		_CMM_STORE_SHARED(*ctr, _CMM_LOAD_SHARED(urcu_bp_gp.ctr));
		urcu_bp_smp_mb_slave();
	} else {
		_CMM_STORE_SHARED(*ctr, tmp + URCU_BP_GP_COUNT);
	}
}

/* Same as _urcu_bp_read_unlock(). */
static inline void rbf_rcu_read_unlock(void)
{
	unsigned long *ctr = RBF_URCU_FIELD(rbf_tls.urcu, unsigned long, ctr);
	unsigned long tmp = *ctr;

	urcu_bp_smp_mb_slave();
	_CMM_STORE_SHARED(*ctr, tmp - URCU_BP_GP_COUNT);
	cmm_barrier();
}

#endif /* RBF_FRONTEND_RCU_H */
