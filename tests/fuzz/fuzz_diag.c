/* libFuzzer target: what diagnose reads from outside: the broker's HTTP response head
 * (Date header), ICMP echo replies from the network (MTU probes), nft's JSON ruleset;
 * gather's redaction of logs (which hold what remote peers sent); benchmark's reading of
 * iperf3's report lines. The first byte picks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/diag/bench.h"
#include "agent/diag/diag_broker.h"
#include "agent/diag/diag_fw.h"
#include "agent/diag/diag_net.h"
#include "agent/diag/gather.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[300];
	time_t date;
	int code;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		(void)!diag_http_head((const char *)data + 1, size - 1, &code, &date);
		break;
	case 1:
		(void)diag_echo_reply_ok(data + 1, size - 1, 0x1234, 1, (int)size - 1);
		break;
	case 2: {
		char *s = malloc(size);
		cJSON *j;

		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		j = cJSON_Parse(s);
		for (uint16_t p = 4499; j && p <= 4501; p++)
			(void)diag_fw_port(j, p, why, sizeof(why));
		cJSON_Delete(j);
		free(s);
		break;
	}
	case 3: {
		const char *const secrets[] = { "0123456789abcdef", "token-of-c1" };
		size_t l;

		free(gather_redact((const char *)data + 1, size - 1, secrets, 2, &l));
		break;
	}
	case 4: {
		struct bench_iperf_line l;
		char *s = strndup((const char *)data + 1, size - 1);

		if (s)
			(void)!bench_iperf_line(s, &l);
		free(s);
		break;
	}
	}
	return 0;
}
