#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded here.
# `prisma generate` and `prisma validate` do not need it. NEVER point PRISMA_SCHEMA_ENGINE_BINARY at
# this where migrations run: `prisma migrate deploy` would then exit 0 having applied nothing.
echo "schema engine unavailable: use npm run db:migrate" >&2
exit 1
