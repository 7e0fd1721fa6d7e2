#!/bin/sh
# Starts PgBouncer with deploy/pgbouncer/pgbouncer.ini, writing its auth file first from the
# environment, so the runtime role's password lives only in the env file (or a Secret):
#   PGBOUNCER_USER      the runtime role (atrium_app)
#   PGBOUNCER_PASSWORD  its password, the one in DATABASE_URL
# PgBouncer logs in to PostgreSQL with the same name and password.
set -eu
: "${PGBOUNCER_USER:?set PGBOUNCER_USER, the runtime role}"
: "${PGBOUNCER_PASSWORD:?set PGBOUNCER_PASSWORD, the runtime role password}"
config=${PGBOUNCER_CONFIG:-/etc/pgbouncer/pgbouncer.ini}
umask 077
mkdir -p /tmp/pgbouncer
# auth file format: "name" "password", a double quote inside doubled
quote () { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
printf '%s %s\n' "$(quote "$PGBOUNCER_USER")" "$(quote "$PGBOUNCER_PASSWORD")" >/tmp/pgbouncer/userlist.txt
exec pgbouncer "$config"
