#include "vmm/size.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static int suffix_shift(const char *p, unsigned *shift)
{
	switch (toupper((unsigned char)*p)) {
	case 'K': *shift = 10; break;
	case 'M': *shift = 20; break;
	case 'G': *shift = 30; break;
	case 'T': *shift = 40; break;
	default: return -EINVAL;
	}
	p++;
	if (!*p || !strcasecmp(p, "B") || !strcasecmp(p, "iB"))
		return 0;
	return -EINVAL;
}

int parse_size(const char *s, unsigned default_shift, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = default_shift;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p && suffix_shift(p, &shift))
		return -EINVAL;
	if (v == 0)
		return -ERANGE;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}
