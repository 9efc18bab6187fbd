/* Unit tests for gather's redaction (agent/diag/gather_redact.c). */
#include "agent/diag/gather.h"
#include "tests/unit/harness.h"

static char *red(const char *in, const char *const *sec, unsigned n)
{
	size_t l;

	return gather_redact(in, strlen(in), sec, n, &l);
}

#define CHECK_RED(in, want) do { \
	char *_o = red(in, secrets, 2); \
	CHECK_STR(_o, want); \
	free(_o); \
} while (0)

static void test_by_value(void)
{
	const char *const secrets[] = { "s3cr3t-token-value", "0123abcd0123abcd" };

	CHECK_RED("token s3cr3t-token-value in a log line", "token <redacted> in a log line");
	CHECK_RED("psk=0123abcd0123abcd0123abcd0123abcd",
		  "psk=<redacted>");	/* by form too: a setting named psk */
	CHECK_RED("twice: 0123abcd0123abcd 0123abcd0123abcd.", "twice: <redacted> <redacted>.");
	CHECK_RED("nothing here", "nothing here");
	CHECK_RED("", "");
	/* short secrets are not looked for by value */
	{
		const char *const shorts[] = { "ab", NULL };
		size_t l;
		char *o = gather_redact("abcab", 5, shorts, 2, &l);

		CHECK_STR(o, "abcab");
		free(o);
	}
}

static void test_by_form(void)
{
	const char *const secrets[] = { NULL, NULL };

	CHECK_RED("{\"clusterID\":\"c1\",\"token\":\"abc\\\"def\",\"psk\" : \"x\"}",
		  "{\"clusterID\":\"c1\",\"token\":\"<redacted>\",\"psk\" : \"<redacted>\"}");
	CHECK_RED("{\"Password\": \"hunter2\", \"tokens\": 3}",
		  "{\"Password\": \"<redacted>\", \"tokens\": 3}");
	CHECK_RED("{\"joinToken\": \"abc\", \"privateKey\":\"x\", \"keyring\": \"y\"}",
		  "{\"joinToken\": \"<redacted>\", \"privateKey\":\"<redacted>\", \"keyring\": \"y\"}");
	CHECK_RED("Authorization: Bearer abcdef0123\nnext", "Authorization: Bearer <redacted>\nnext");
	CHECK_RED("secrets { ike { secret = 0xdeadbeef } }", "secrets { ike { secret = <redacted> } }");
	CHECK_RED("a\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\nxyz\n-----END EC PRIVATE KEY-----\nb",
		  "a\n-----BEGIN PRIVATE KEY-----<redacted>-----END PRIVATE KEY-----\nb");
	CHECK_RED("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		  "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
	CHECK_RED("src 198.18.1.1 dst 198.18.2.1\n"
		  "\tproto esp spi 0xc1a2b3c4 reqid 1 mode tunnel\n"
		  "\taead rfc4106(gcm(aes)) 0x0123456789abcdef0123456789abcdef01234567 128\n"
		  "\tauth-trunc hmac(sha256) 0xfeedfacefeedfacefeedfacefeedface 128\n"
		  "\tenc cbc(aes) 0xaabbccddeeff00112233445566778899\n"
		  "\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0\n",
		  "src 198.18.1.1 dst 198.18.2.1\n"
		  "\tproto esp spi 0xc1a2b3c4 reqid 1 mode tunnel\n"
		  "\taead rfc4106(gcm(aes)) <redacted> 128\n"
		  "\tauth-trunc hmac(sha256) <redacted> 128\n"
		  "\tenc cbc(aes) <redacted>\n"
		  "\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0\n");
	/* words that merely contain the names stay */
	CHECK_RED("monkey: 1, tokenizer = x, keys = 2", "monkey: 1, tokenizer = x, keys = 2");
}

int main(void)
{
	RUN(test_by_value);
	RUN(test_by_form);
	return harness_done();
}
