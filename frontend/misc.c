/* SPDX-License-Identifier: MIT */
/*
 * frontend/misc.c - version and names.
 */
#include "internal.h"

RBF_API unsigned int rbf_version(void)
{
	return (RBF_VERSION_MAJOR << 16) | (RBF_VERSION_MINOR << 8) |
	       RBF_VERSION_PATCH;
}

RBF_API const char *rbf_lost_cause_name(enum rbf_lost_cause cause)
{
	static const char *const names[RBF_LOST_NR] = {
		[RBF_LOST_FULL] = "full",
		[RBF_LOST_BUSY] = "busy",
		[RBF_LOST_TOO_BIG] = "too_big",
		[RBF_LOST_DISABLED] = "disabled",
		[RBF_LOST_NESTING] = "nesting",
		[RBF_LOST_NOMEM] = "nomem",
	};

	if ((unsigned int)cause >= RBF_LOST_NR)
		return "unknown";
	return names[cause];
}
