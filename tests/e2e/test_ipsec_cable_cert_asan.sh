#!/bin/bash
# tests/e2e/test_ipsec_cable_cert.sh with the ASan/UBSan build of its helper.
ASAN=1 exec "$(dirname "$0")/test_ipsec_cable_cert.sh" "$@"
