/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/harness.h - what every measured program of bench/compare
 * shares: options, pinned threads, the timed loop and the JSON result line.
 *
 * Every program measures one configuration per process and prints exactly
 * one line that starts with '{' (a JSON object) on stdout; bench/compare
 * runs the programs round-robin and keeps those lines.
 *
 * Timed mode (the default): each of --threads threads is pinned to its own
 * CPU (--cpus, else the first CPUs the process may use), calls the
 * program's init function, runs the program's batch function for --warmup
 * seconds, waits for the others at a barrier, then runs batches for
 * --seconds and records how many events it wrote in how long.  Counted
 * mode (--events=N): no warm-up; the threads write N events in all, split
 * evenly, as fast as they can, or with --pace-ns=NS at one event per NS
 * nanoseconds per thread: event n is due NS * n after the start, so a
 * thread that was preempted catches up at full speed and the run takes the
 * same time as that of a writer whose events cost NS.
 */
#ifndef CMP_HARNESS_H
#define CMP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define H_MAX_THREADS 512
#define H_BATCH 256u

#if defined(__clang__)
#define H_NOINLINE __attribute__((noinline))
#else
#define H_NOINLINE __attribute__((noinline, noclone))
#endif

struct h_opts {
	int threads;
	double seconds; /* measured time per thread */
	double warmup; /* seconds before the barrier */
	uint64_t events; /* counted mode: total events, 0 for timed */
	double pace_ns; /* counted mode: event n is due at pace_ns * n */
	int ncpus; /* entries of cpus[] given with --cpus */
	int cpus[H_MAX_THREADS];
};

struct h_thread {
	int idx; /* 0 .. threads - 1 */
	int cpu; /* pinned to */
	void *arg; /* the program's, from h_run() */
	void *priv; /* free for the program's per-thread state */
	uint64_t events; /* measured events (attempts) */
	uint64_t failures; /* of which failed, as the batch reported */
	double elapsed_ns;
	double cpu_ns; /* CPU time the thread got while measured */
	int err; /* nonzero: init failed with this value */
};

/*
 * Writes @n events; returns how many of them failed.  Called with n <=
 * H_BATCH, so that the loop reads the clock once per batch only.
 */
typedef uint64_t (*h_batch_fn)(struct h_thread *t, unsigned int n);
/* Per-thread setup on the pinned thread; returns 0 or a nonzero error. */
typedef int (*h_init_fn)(struct h_thread *t);

/* Default options: 1 thread, 0.25 s, 0.05 s warm-up. */
void h_opts_init(struct h_opts *o);

/*
 * If @arg is "--NAME=VALUE" and NAME is a common option (threads, seconds,
 * warmup, events, pace-ns, cpus), apply it and return 1; return 0 when it
 * is not a common option.  Exits with status 2 on a bad value.
 */
int h_common_arg(struct h_opts *o, const char *arg);

/* "--NAME=VALUE": return VALUE if @arg names @name, else NULL. */
const char *h_arg(const char *arg, const char *name);

/* Exit with status 2 and a message naming @prog and @arg. */
void h_bad_arg(const char *prog, const char *arg);

/* Fill o->cpus with the CPUs this process may use when --cpus was not
 * given; fail (exit 2) when fewer than o->threads CPUs exist. */
void h_resolve_cpus(struct h_opts *o, const char *prog);

uint64_t h_now_ns(void);
void h_pin(int cpu);

/*
 * Run the threads (array of o->threads entries, filled in) and return 0,
 * or -1 when a thread's init failed.  @init may be NULL.
 */
int h_run(const struct h_opts *o, struct h_thread *th, h_init_fn init,
	  h_batch_fn batch, void *arg);

/* Mean ns per event of one thread, aggregate events per second. */
double h_ns_per_event(const struct h_opts *o, const struct h_thread *th);
double h_rate(const struct h_opts *o, const struct h_thread *th);

/*
 * The result line: h_json_begin(), any number of h_json_*(), h_json_end().
 * h_json_common() adds ns (mean over the threads of elapsed time per
 * event), cpu_ns (the same with the CPU time each thread got, so without
 * the time it was preempted), rate, events, failures, elapsed_s, threads.
 */
void h_json_begin(void);
void h_json_num(const char *key, double v);
void h_json_u64(const char *key, uint64_t v);
void h_json_str(const char *key, const char *v);
void h_json_bool(const char *key, bool v);
void h_json_common(const struct h_opts *o, const struct h_thread *th);
void h_json_end(void);

#endif /* CMP_HARNESS_H */
