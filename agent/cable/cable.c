/* The table of cable drivers. */
#include <string.h>

#include "agent/cable/cable.h"

const struct cable_ops *cable_find(const char *name)
{
	static const struct cable_ops *const all[] = { &cable_ipsec_ops, &cable_vxlan_ops };

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
