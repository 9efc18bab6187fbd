/* libFuzzer target: the election heartbeat decoder and HMAC check (datagrams from the node
 * network), then the freshness proofs, the peer table and the rules fed with whatever
 * decodes. */
#include <stddef.h>
#include <stdint.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"
#include "common/log.h"

static const uint8_t KEY[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct election *e;
	static uint64_t now;
	struct election_msg m;

	if (!e) {
		struct election_cfg c = { .cluster_id = "c1", .node = "n2", .gateway_capable = true,
					  .node_ip = 1, .bcast = 0xffffffff, .key = KEY,
					  .key_len = sizeof(KEY) };

		log_set_level(LOG_LVL_ERR);
		e = election_open_nosock(&c, 0);
		if (!e)
			return 0;
	}
	if (election_msg_decode(data, size, &m) == 0) {
		(void)election_msg_verify(data, size, KEY, sizeof(KEY));
		/* the rules must hold up to any message that passes the HMAC; a message that
		 * echoes anything echoes our nonce, so that believed peers are reached too */
		if (m.n_echo)
			m.echo[0] = election_boot(e);
		now += 50000000;
		election_input(e, &m, 2, now);
		(void)election_tick(e, now);
	}
	return 0;
}
