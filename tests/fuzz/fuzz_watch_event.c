/* libFuzzer target: the broker client's parsers of what a broker sends back: watch lines
 * and Status error bodies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/client/client.h"
#include "common/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brk_watch_event ev;
	struct brk_status st = { .code = 409 };
	char err[BRK_ERR_MAX];

	if (brk_watch_event_parse((const char *)data, size, &ev, err) == 0) {
		if (!ev.object)
			abort();
		if ((ev.type == BRK_EV_ADDED || ev.type == BRK_EV_MODIFIED ||
		     ev.type == BRK_EV_DELETED) && (!ev.name || !name_is_dns_subdomain(ev.name)))
			abort();
		cJSON_Delete(ev.object);
	}
	brk_status_parse((const char *)data, size, &st);
	if (strlen(st.message) >= sizeof(st.message) || strlen(st.reason) >= sizeof(st.reason))
		abort();
	for (const char *p = st.message; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
	return 0;
}
