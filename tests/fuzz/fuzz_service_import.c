/* libFuzzer target: ServiceImport and ServiceExport decoding (broker/client/service.c) and
 * the DNS records fed with what decodes (agent/dns/dns_records.c): objects from the broker
 * built out of other clusters' exports are untrusted. Input: a JSON document.
 * Properties: no crash or leak; an export spec that decodes, encoded again, decodes to the
 * same JSON; an import that decodes is taken by the records and every name of it answers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dns/dns_records.h"
#include "broker/client/service.h"

static struct dns_answer ans;

static void export_roundtrip(const cJSON *spec)
{
	struct svc_record r, back;
	char err[SVC_ERR_MAX];
	cJSON *j, *j2;

	if (svc_export_spec_from_json(spec, &r, err, sizeof(err))) {
		svc_record_free(&r);
		return;
	}
	j = svc_record_to_json(&r, false);
	if (!j || svc_export_spec_from_json(j, &back, err, sizeof(err)))
		abort();
	j2 = svc_record_to_json(&back, false);
	if (!j2 || !cJSON_Compare(j, j2, 1))
		abort();
	cJSON_Delete(j);
	cJSON_Delete(j2);
	svc_record_free(&r);
	svc_record_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *zones[] = { "clusterset.local" };
	static const uint16_t types[] = { DNS_T_A, DNS_T_SRV, DNS_T_AAAA };
	struct dns_records *db;
	struct svc_import im;
	char err[SVC_ERR_MAX], name[512];
	cJSON *o = cJSON_ParseWithLength((const char *)data, size);

	if (!o)
		return 0;
	export_roundtrip(cJSON_GetObjectItemCaseSensitive(o, "spec"));
	if (svc_import_from_json(o, &im, err, sizeof(err))) {
		svc_import_free(&im);
		cJSON_Delete(o);
		return 0;
	}
	db = dns_records_new("c1", im.n_clusters & 1, 5, zones, 1);
	if (!db || dns_records_import(db, o, false, err, sizeof(err)))
		abort();
	for (unsigned t = 0; t < 3; t++) {
		snprintf(name, sizeof(name), "%s.%s.svc.clusterset.local", im.name, im.ns);
		dns_records_answer(db, name, types[t], &ans);
		if (ans.rcode != DNS_RC_NOERROR)
			abort();
		for (unsigned c = 0; c < im.n_clusters; c++) {
			snprintf(name, sizeof(name), "%s.%s.%s.svc.clusterset.local", im.clusters[c].cluster,
				 im.name, im.ns);
			dns_records_answer(db, name, types[t], &ans);
			if (ans.rcode != DNS_RC_NOERROR)
				abort();
			for (unsigned e = 0; e < im.clusters[c].n_eps && e < 4; e++) {
				snprintf(name, sizeof(name), "%s.%s.%s.%s.svc.clusterset.local",
					 im.clusters[c].eps[e].hostname, im.clusters[c].cluster, im.name, im.ns);
				dns_records_answer(db, name, types[t], &ans);
			}
		}
	}
	dns_records_free(db);
	svc_import_free(&im);
	cJSON_Delete(o);
	return 0;
}
