/* SPDX-License-Identifier: MIT */
/*
 * tests/test_torture.c - the long torture test (time-bounded).
 *
 * Every allocation mode x both modes x the clocks available (monotonic;
 * TSC where it is invariant): 8 writer threads (on however few CPUs), forced
 * migration and yields between reserve and commit, a signal storm with
 * handlers nesting 4 deep, one or two concurrent readers, tiny sub-buffers
 * (4 x 512 bytes) so the ring wraps thousands of times.  Every event is
 * verified and the accounting must be exact (st_run() in helpers.h).
 *
 * RBF_TORTURE_SECONDS is the total time of the whole program (default 2,
 * as `make check` runs it; `make torture` sets 60 or more), shared equally
 * between the configurations.  One summary line per configuration goes to
 * stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

/* 3 allocs x 2 modes x 2 clocks on the page backend, and 4 on mmap-file */
#define TORTURE_CONFIGS 16

static double per_config_seconds(void)
{
	double total = th_env_double("RBF_TORTURE_SECONDS", 2.0);
	double s = total / TORTURE_CONFIGS;

	return s < 0.1 ? 0.1 : s;
}

/* mmap-file configurations: one file per channel, in a fresh directory. */
static char mmf_dir[200];
static char mmf_path[240];
static struct rbf_mmap_file_config mmf_cfg;

static const void *mmf_config(const struct rbf_backend *be)
{
	if (be != &rbf_backend_mmap_file)
		return NULL;
	th_tmpdir(mmf_dir, sizeof(mmf_dir), "torture");
	snprintf(mmf_path, sizeof(mmf_path), "%s/ring.rbf", mmf_dir);
	rbf_mmap_file_config_init(&mmf_cfg);
	mmf_cfg.path = mmf_path;
	return &mmf_cfg;
}

static void torture_on(const struct rbf_backend *be, enum rbf_alloc alloc,
		       enum rbf_mode mode, enum rbf_clock clock);

static void torture(enum rbf_alloc alloc, enum rbf_mode mode,
		    enum rbf_clock clock)
{
	torture_on(NULL, alloc, mode, clock);
}

static void torture_file(enum rbf_alloc alloc, enum rbf_mode mode)
{
	th_backend_config = mmf_config;
	torture_on(&rbf_backend_mmap_file, alloc, mode, RBF_CLOCK_MONOTONIC);
	th_backend_config = NULL;
	th_tmpdir_remove(mmf_dir);
}

static void torture_on(const struct rbf_backend *be, enum rbf_alloc alloc,
		       enum rbf_mode mode, enum rbf_clock clock)
{
	static const char *const an[] = { "per-cpu", "per-thread", "global" };
	struct st_result res;
	struct st_cfg cfg;
	char name[64];

	if (clock == RBF_CLOCK_TSC && !th_tsc_invariant()) {
		cr_log_info("no invariant TSC: TSC configuration skipped");
		cr_skip_test("no invariant TSC");
	}
	snprintf(name, sizeof(name), "torture %s%s %s %s",
		 be ? "mmap-file " : "", an[alloc],
		 mode == RBF_MODE_DISCARD ? "discard" : "overwrite",
		 clock == RBF_CLOCK_TSC ? "tsc" : "mono");
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = name;
	cfg.backend = be;
	cfg.mode = mode;
	cfg.alloc = alloc;
	cfg.clock = clock;
	cfg.subbuf_size = 512;
	cfg.num_subbuf = 4;
	cfg.nr_writers = 8;
	/* Two readers on per-buffer consume; channel merge for the rest. */
	cfg.merge = alloc == RBF_ALLOC_GLOBAL && mode == RBF_MODE_OVERWRITE;
	cfg.nr_readers = alloc == RBF_ALLOC_GLOBAL ? 1 : 2;
	cfg.seconds = per_config_seconds();
	cfg.storm_pause_us = 20;
	cfg.slow_mask = 7;
	cfg.migrate_mask = 31;
	st_run(&cfg, &res);
	st_summary(&cfg, &res);
	cr_assert_eq(res.errors, 0ul, "%lu errors, first: %s", res.errors,
		     res.err);
	cr_assert_gt(res.successes, 0u);
	cr_assert_gt(res.received, 0u);
	cr_assert_gt(res.signals, 0u);
	cr_assert_gt(res.nest_successes[ST_LEVELS - 1], 0u,
		     "no level-4 nested write succeeded");
	cr_assert_eq(res.fail[RBF_LOST_NESTING], 0u);
	cr_assert_eq(res.fail[RBF_LOST_TOO_BIG], 0u);
	cr_assert_eq(res.fail[RBF_LOST_DISABLED], 0u);
	cr_assert_eq(res.fail[RBF_LOST_NOMEM], 0u);
	if (mode == RBF_MODE_OVERWRITE)
		cr_assert_gt(res.max_subbuf_seq, 4u, "the ring never wrapped");
}

#define TORTURE(a, m, c, an, mn, cn)                                      \
	Test(torture, an##_##mn##_##cn, .timeout = 900)                   \
	{                                                                 \
		torture(a, m, c);                                         \
	}

TORTURE(RBF_ALLOC_PER_CPU, RBF_MODE_DISCARD, RBF_CLOCK_MONOTONIC,
	per_cpu, discard, mono)
TORTURE(RBF_ALLOC_PER_CPU, RBF_MODE_OVERWRITE, RBF_CLOCK_MONOTONIC,
	per_cpu, overwrite, mono)
TORTURE(RBF_ALLOC_PER_THREAD, RBF_MODE_DISCARD, RBF_CLOCK_MONOTONIC,
	per_thread, discard, mono)
TORTURE(RBF_ALLOC_PER_THREAD, RBF_MODE_OVERWRITE, RBF_CLOCK_MONOTONIC,
	per_thread, overwrite, mono)
TORTURE(RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD, RBF_CLOCK_MONOTONIC,
	global, discard, mono)
TORTURE(RBF_ALLOC_GLOBAL, RBF_MODE_OVERWRITE, RBF_CLOCK_MONOTONIC,
	global, overwrite, mono)
TORTURE(RBF_ALLOC_PER_CPU, RBF_MODE_DISCARD, RBF_CLOCK_TSC,
	per_cpu, discard, tsc)
TORTURE(RBF_ALLOC_PER_CPU, RBF_MODE_OVERWRITE, RBF_CLOCK_TSC,
	per_cpu, overwrite, tsc)
TORTURE(RBF_ALLOC_PER_THREAD, RBF_MODE_DISCARD, RBF_CLOCK_TSC,
	per_thread, discard, tsc)
TORTURE(RBF_ALLOC_PER_THREAD, RBF_MODE_OVERWRITE, RBF_CLOCK_TSC,
	per_thread, overwrite, tsc)
TORTURE(RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD, RBF_CLOCK_TSC,
	global, discard, tsc)
TORTURE(RBF_ALLOC_GLOBAL, RBF_MODE_OVERWRITE, RBF_CLOCK_TSC,
	global, overwrite, tsc)

/* The mmap-file backend: persistent buffers take the pre-CAS header path
 * (per-thread) and the zero-filled spare. */
#define TORTURE_FILE(a, m, an, mn)                                        \
	Test(torture, file_##an##_##mn, .timeout = 900)                   \
	{                                                                 \
		torture_file(a, m);                                       \
	}

TORTURE_FILE(RBF_ALLOC_PER_THREAD, RBF_MODE_DISCARD, per_thread, discard)
TORTURE_FILE(RBF_ALLOC_PER_THREAD, RBF_MODE_OVERWRITE, per_thread, overwrite)
TORTURE_FILE(RBF_ALLOC_PER_CPU, RBF_MODE_OVERWRITE, per_cpu, overwrite)
TORTURE_FILE(RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD, global, discard)
