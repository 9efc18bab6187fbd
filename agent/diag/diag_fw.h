/* The firewall check's rule walker (diag_fw.c), exposed for its unit test. */
#ifndef SA_DIAG_FW_H
#define SA_DIAG_FW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum { DIAG_FW_OPEN, DIAG_FW_MAYBE, DIAG_FW_DROPPED };

/* What the ruleset (`nft -j list ruleset`) does to a UDP packet to port: DIAG_FW_OPEN,
 * DIAG_FW_MAYBE (a rule with conditions not modelled here may drop it) or
 * DIAG_FW_DROPPED; why names the rule or the chain policy. */
int diag_fw_port(const cJSON *ruleset, uint16_t port, char *why, size_t len);

#endif
