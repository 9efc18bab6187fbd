/* libFuzzer target: decoding and validation of broker request bodies (untrusted bytes from
 * any client holding a token). Input: one byte choosing the resource, then the body.
 * Properties: no crash or leak; an object that validates, once rebuilt into its stored
 * form, printed and parsed back, validates again and loads with a resourceVersion; the
 * check of the networks it claims (claims.c) runs on it against a fixed registration. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/claims.h"
#include "broker/server/objects.h"
#include "broker/server/validate.h"
#include "common/json.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct srv_resource *r;
	char msg[300];
	cJSON *in, *built, *back, *loaded;
	char *s;
	uint64_t rv;

	if (size < 1)
		return 0;
	r = &srv_resources[data[0] % srv_n_resources];
	in = srv_decode_body((const char *)data + 1, size - 1, msg, sizeof(msg));
	if (!in)
		return 0;
	if (srv_validate_object(r, in, msg, sizeof(msg))) {
		cJSON_Delete(in);
		return 0;
	}
	(void)!util_parse_u64(json_str(in, "metadata.resourceVersion", NULL), INT64_MAX, &rv);
	{
		static const struct srv_nets nets = {
			.cluster = "c1", .npods = 1, .nservices = 1, .nglobal = 1,
			.pods = { { 0x0a010000, 16 } }, .services = { { 0x0a600000, 16 } },
			.global = { { 0xf2000000, 16 } },
		};

		(void)!srv_check_claims(r, in, &nets, msg, sizeof(msg));
		(void)!srv_check_claims(r, in, &(struct srv_nets){ .cluster = "c2" }, msg, sizeof(msg));
	}
	built = srv_object_build(r, in, NULL);
	if (!built)
		abort();
	s = cJSON_PrintUnformatted(built);
	if (!s)
		abort();
	back = srv_decode_body(s, strlen(s), msg, sizeof(msg));
	if (!back || srv_validate_object(r, back, msg, sizeof(msg)))
		abort();
	loaded = srv_object_load(s, 42);
	if (!loaded || strcmp(json_str(loaded, "metadata.resourceVersion", NULL), "42"))
		abort();
	cJSON_Delete(loaded);
	cJSON_Delete(back);
	free(s);
	cJSON_Delete(built);
	cJSON_Delete(in);
	return 0;
}
