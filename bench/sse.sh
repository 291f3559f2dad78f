#!/usr/bin/env bash
# The cost of server-side encryption (SSE-S3 PUT and GET of 64 MiB against a plain bucket,
# plus the cipher benchmark): `bench/ab.sh sse`, which documents the options.
exec "$(dirname "${BASH_SOURCE[0]}")/ab.sh" sse "$@"
