/* SPDX-License-Identifier: MIT */
/*
 * frontend/clock.c - clock sources of a channel.
 *
 * MONOTONIC reads clock_gettime(CLOCK_MONOTONIC) (vDSO, ~37 ns here).  TSC
 * reads the time-stamp counter with RDTSCP, which waits for earlier loads:
 * a writer's stamp is then never older than the write position it loaded,
 * which is what keeps stamps ordered like positions (see doc/design.md).
 * The TSC is only accepted when CPUID says it is invariant; its frequency is
 * calibrated once per process against CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool rbf_tsc_invariant(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
		return false;
	if (!__get_cpuid(0x80000007u, &a, &b, &c, &d))
		return false;
	/* EDX bit 8: invariant TSC (constant rate, runs in deep C-states). */
	if (!(d & (1u << 8)))
		return false;
	/* RDTSCP: CPUID 0x80000001 EDX bit 27. */
	if (!__get_cpuid(0x80000001u, &a, &b, &c, &d) || !(d & (1u << 27)))
		return false;
	return true;
#else
	return false;
#endif
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;
static uint64_t tsc_freq;

static void tsc_calibrate(void)
{
	uint64_t t0, c0, t1, c1;

	t0 = mono_ns();
	c0 = rbf_rdtsc_ordered();
	do {
		t1 = mono_ns();
	} while (t1 - t0 < 20000000ull); /* 20 ms */
	c1 = rbf_rdtsc_ordered();
	tsc_freq = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
}

int rbf_clock_setup(struct rbf_channel *ch)
{
	switch (ch->clock) {
	case RBF_CLOCK_MONOTONIC:
		ch->clock_freq = 1000000000ull;
		ch->tsc_ns_mult = 1.0;
		return 0;
	case RBF_CLOCK_NONE:
		ch->clock_freq = 0;
		ch->tsc_ns_mult = 1.0;
		return 0;
	case RBF_CLOCK_TSC:
		if (!rbf_tsc_invariant())
			return -ENOTSUP;
		pthread_once(&tsc_once, tsc_calibrate);
		if (tsc_freq == 0)
			return -ENOTSUP;
		ch->clock_freq = tsc_freq;
		ch->tsc_ns_mult = 1e9 / (double)tsc_freq;
		return 0;
	}
	return -EINVAL;
}

uint64_t rbf_clock_read_slow(const struct rbf_channel *ch)
{
	switch (ch->clock) {
	case RBF_CLOCK_MONOTONIC:
		return mono_ns();
	case RBF_CLOCK_TSC:
		return rbf_rdtsc_ordered();
	default:
		return 0;
	}
}

uint64_t rbf_channel_read_clock(const struct rbf_channel *ch)
{
	if (!ch)
		return 0;
	return rbf_clock_read_slow(ch);
}

uint64_t rbf_channel_ts_to_ns(const struct rbf_channel *ch, uint64_t ts)
{
	if (!ch || ch->clock != RBF_CLOCK_TSC)
		return ts;
	return (uint64_t)((double)ts * ch->tsc_ns_mult);
}
