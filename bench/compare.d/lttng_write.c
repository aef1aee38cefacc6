/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/lttng_write.c - LTTng-UST tracepoint cost (program
 * cmp-lttng).
 *
 *   --payload=8|64        one 64-bit integer, or a 64-byte blob
 *   --event=discard|overwrite|loss|verify
 *                         which event of lttng_tp.h to hit, i.e. which of
 *                         bench/compare's recording sessions records it
 *
 * plus the common options of harness.h (timed, or --events=N).  Before
 * measuring, the program checks that the tracepoint is enabled: LTTng-UST's
 * constructor registers the process with the session daemon found through
 * LTTNG_HOME, which enables the events of the started sessions.  A program
 * that did not connect would measure a disabled tracepoint (about 1 ns), so
 * it exits with status 3 instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "lttng_tp.h"

enum ev { EV_DISCARD, EV_OVERWRITE, EV_LOSS, EV_VERIFY };

static int opt_payload = 8;
static enum ev opt_event = EV_DISCARD;
static const uint8_t blob[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* Each loop calls the tracepoint the way an instrumented program does. */
#define TP_LOOP(event, arg)                               \
	do {                                              \
		for (i = 0; i < n; i++)                   \
			tracepoint(rbfcmp, event, (arg)); \
	} while (0)

/* Per-thread state (h_thread.priv). */
struct tstate {
	uint64_t v; /* the 64-bit payload: a counter */
	uint64_t calls; /* every call, warm-up included */
};

static int lttng_init(struct h_thread *t)
{
	t->priv = calloc(1, sizeof(struct tstate));
	return t->priv == NULL;
}

static uint64_t lttng_batch(struct h_thread *t, unsigned int n)
{
	struct tstate *s = t->priv;
	uint64_t v = s->v;
	unsigned int i;

	if (opt_payload == 8) {
		switch (opt_event) {
		case EV_DISCARD:
			TP_LOOP(u64_discard, v++);
			break;
		case EV_OVERWRITE:
			TP_LOOP(u64_overwrite, v++);
			break;
		default:
			TP_LOOP(u64_verify, v++);
			break;
		}
	} else {
		switch (opt_event) {
		case EV_DISCARD:
			TP_LOOP(blob_discard, blob);
			break;
		case EV_OVERWRITE:
			TP_LOOP(blob_overwrite, blob);
			break;
		default:
			TP_LOOP(blob_loss, blob);
			break;
		}
	}
	s->v = v;
	s->calls += n;
	return 0;
}

static int enabled(void)
{
	if (opt_payload == 8) {
		switch (opt_event) {
		case EV_DISCARD:
			return tracepoint_enabled(rbfcmp, u64_discard);
		case EV_OVERWRITE:
			return tracepoint_enabled(rbfcmp, u64_overwrite);
		default:
			return tracepoint_enabled(rbfcmp, u64_verify);
		}
	}
	switch (opt_event) {
	case EV_DISCARD:
		return tracepoint_enabled(rbfcmp, blob_discard);
	case EV_OVERWRITE:
		return tracepoint_enabled(rbfcmp, blob_overwrite);
	default:
		return tracepoint_enabled(rbfcmp, blob_loss);
	}
}

int main(int argc, char **argv)
{
	static const char *const evnames[] = { "discard", "overwrite", "loss",
					       "verify" };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct h_thread *th;
	struct h_opts o;
	const char *v;
	uint64_t calls = 0;
	int i, tries;

	h_opts_init(&o);
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "payload"))) {
			opt_payload = atoi(v);
			if (opt_payload != 8 && opt_payload != 64)
				h_bad_arg("cmp-lttng", argv[i]);
		} else if ((v = h_arg(argv[i], "event"))) {
			for (opt_event = EV_DISCARD; opt_event <= EV_VERIFY;
			     opt_event++)
				if (!strcmp(v, evnames[opt_event]))
					break;
			if (opt_event > EV_VERIFY)
				h_bad_arg("cmp-lttng", argv[i]);
		} else {
			h_bad_arg("cmp-lttng", argv[i]);
		}
	}
	if ((opt_event == EV_LOSS && opt_payload != 64) ||
	    (opt_event == EV_VERIFY && opt_payload != 8)) {
		fprintf(stderr, "cmp-lttng: the loss event takes --payload=64, "
				"the verify event --payload=8\n");
		return 2;
	}
	h_resolve_cpus(&o, "cmp-lttng");

	/* Registration normally completes before main(); allow 2 s. */
	for (tries = 0; !enabled() && tries < 200; tries++)
		nanosleep(&pause, NULL);
	if (!enabled()) {
		fprintf(stderr,
			"cmp-lttng: tracepoint rbfcmp %s not enabled: no session "
			"daemon reached (LTTNG_HOME?) or no started session "
			"enables it\n",
			evnames[opt_event]);
		return 3;
	}

	th = calloc((size_t)o.threads, sizeof(*th));
	if (!th || h_run(&o, th, lttng_init, lttng_batch, NULL) < 0) {
		fprintf(stderr, "cmp-lttng: out of memory\n");
		return 1;
	}
	for (i = 0; i < o.threads; i++)
		calls += ((struct tstate *)th[i].priv)->calls;
	h_json_begin();
	h_json_str("event", evnames[opt_event]);
	h_json_u64("payload", (uint64_t)opt_payload);
	h_json_u64("wait_ms", (uint64_t)tries * 10);
	h_json_common(&o, th);
	h_json_u64("calls", calls);
	h_json_end();
	return 0;
}
