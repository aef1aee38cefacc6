// SPDX-License-Identifier: MIT
//
// tests/test_build_cxx.cc - the public headers compile as C++ and the
// library links into a C++ program.  A plain main(): exit status 0 passes.

#include <rbf/rbf.h>

int main(void)
{
	struct rbf_channel_attr attr;

	rbf_channel_attr_init(&attr);
	if (attr.size != sizeof(attr))
		return 1;
	if (sizeof(struct rbf_subbuf_header) != 64)
		return 1;
	return rbf_version() != 0 ? 0 : 1;
}
