/* SPDX-License-Identifier: MIT */
/*
 * tests/test_signal.c - signal storm: writer threads hold reservations
 * while a helper thread signals them at a high rate; the handlers write
 * nested events (SIGUSR1 -> SIGUSR2 -> SIGRTMIN -> SIGRTMIN+1, each raised
 * between its parent's reserve and commit, so writes nest 4 to 5 deep); a
 * reader drains concurrently and checks every event (checksum, per-stream
 * order, no duplicate, per-buffer timestamp order); at the end the counts
 * must add up exactly.  The engine is st_run() in helpers.h.
 *
 * RBF_SIGNAL_SECONDS sets the duration of each configuration (default 1).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

static void storm(const char *name, enum rbf_mode mode, enum rbf_alloc alloc,
		  int merge)
{
	struct st_result res;
	struct st_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = name;
	cfg.mode = mode;
	cfg.alloc = alloc;
	cfg.clock = RBF_CLOCK_MONOTONIC;
	cfg.subbuf_size = 4096;
	cfg.num_subbuf = 4;
	cfg.nr_writers = 3;
	cfg.nr_readers = 1;
	cfg.merge = merge;
	cfg.seconds = th_env_double("RBF_SIGNAL_SECONDS", 1.0);
	cfg.storm_pause_us = 50;
	cfg.slow_mask = 15;
	cfg.migrate_mask = 0;
	st_run(&cfg, &res);
	st_summary(&cfg, &res);
	cr_assert_eq(res.errors, 0ul, "%lu errors, first: %s", res.errors,
		     res.err);
	cr_assert_gt(res.signals, 0u);
	cr_assert_gt(res.successes, 0u);
	cr_assert_gt(res.received, 0u);
	/* Levels 1..4 reserved at once: nesting at least 4 deep. */
	cr_assert_gt(res.nest_successes[ST_LEVELS - 1], 0u,
		     "no level-4 nested write succeeded");
	cr_assert_eq(res.max_nest_seen, ST_LEVELS - 1,
		     "deepest level received %u", res.max_nest_seen);
	cr_assert_eq(res.fail[RBF_LOST_NESTING], 0u,
		     "5 deep with max_nesting 8");
	cr_assert_eq(res.fail[RBF_LOST_TOO_BIG], 0u);
	cr_assert_eq(res.fail[RBF_LOST_DISABLED], 0u);
	cr_assert_eq(res.fail[RBF_LOST_NOMEM], 0u);
	if (mode == RBF_MODE_DISCARD)
		cr_assert_eq(res.st.overwritten, 0u);
}

Test(signal, per_cpu_discard, .timeout = 60)
{
	storm("signal per-cpu discard", RBF_MODE_DISCARD, RBF_ALLOC_PER_CPU, 0);
}

Test(signal, per_cpu_overwrite, .timeout = 60)
{
	storm("signal per-cpu overwrite", RBF_MODE_OVERWRITE,
	      RBF_ALLOC_PER_CPU, 0);
}

Test(signal, per_thread_discard, .timeout = 60)
{
	storm("signal per-thread discard", RBF_MODE_DISCARD,
	      RBF_ALLOC_PER_THREAD, 0);
}

Test(signal, per_thread_overwrite, .timeout = 60)
{
	storm("signal per-thread overwrite", RBF_MODE_OVERWRITE,
	      RBF_ALLOC_PER_THREAD, 1);
}

Test(signal, global_discard, .timeout = 60)
{
	storm("signal global discard", RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, 1);
}

Test(signal, global_overwrite, .timeout = 60)
{
	storm("signal global overwrite", RBF_MODE_OVERWRITE, RBF_ALLOC_GLOBAL,
	      0);
}

/*
 * Baseline without signals: three threads hold reservations across
 * sched_yield() on one overwrite buffer while the others keep wrapping the
 * ring, and nothing is read until the end.  Every push of the head races
 * with the other writer's help; the overwritten count must stay exact.
 */
Test(signal, holders_global_overwrite, .timeout = 60)
{
	struct st_result res;
	struct st_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "holders global overwrite";
	cfg.mode = RBF_MODE_OVERWRITE;
	cfg.alloc = RBF_ALLOC_GLOBAL;
	cfg.clock = RBF_CLOCK_MONOTONIC;
	cfg.subbuf_size = 4096;
	cfg.num_subbuf = 4;
	cfg.nr_writers = 3;
	cfg.nr_readers = 1;
	cfg.seconds = th_env_double("RBF_SIGNAL_SECONDS", 1.0);
	cfg.slow_mask = 7;
	cfg.no_storm = 1;
	cfg.no_flush = 1;
	cfg.no_read = 1;
	cfg.no_backoff = 1;
	st_run(&cfg, &res);
	st_summary(&cfg, &res);
	cr_assert_eq(res.errors, 0ul, "%lu errors, first: %s", res.errors,
		     res.err);
	cr_assert_gt(res.st.overwritten, 0u);
	cr_assert_eq(res.signals, 0u);
}
