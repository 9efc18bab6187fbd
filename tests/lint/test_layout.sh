#!/bin/bash
# The source tree's shape: no include cycle between files, parts that depend on each other
# one way only, files short enough to read in one sitting (tests/lint/layout.py).
set -u
cd "$(dirname "$0")/../.."
exec python3 tests/lint/layout.py
