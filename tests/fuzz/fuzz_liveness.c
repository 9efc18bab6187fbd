/* libFuzzer target: the liveness probe decoder (datagrams from the node network), with the
 * HMAC check, and an encode/decode round trip of whatever decodes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/election/liveness.h"

static const uint8_t SECRET[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[32];
	static int have_key;
	struct liveness_msg m, m2;
	uint8_t buf[LIVENESS_MSG_MAX];
	int len;

	if (!have_key) {
		liveness_derive_key(SECRET, sizeof(SECRET), key);
		have_key = 1;
	}
	/* with the real key: only an authentic probe decodes; with the key's bytes as the
	 * input's first 32: lets the fuzzer reach the fields behind the HMAC */
	if (liveness_msg_decode(data, size, key, &m) == 0) {
		len = liveness_msg_encode(&m, key, buf, sizeof(buf));
		if (len < 0 || liveness_msg_decode(buf, (size_t)len, key, &m2) ||
		    memcmp(&m, &m2, sizeof(m)))
			__builtin_trap();
	}
	if (size > 32)
		(void)liveness_msg_decode(data + 32, size - 32, data, &m);
	return 0;
}
