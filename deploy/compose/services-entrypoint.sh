#!/bin/sh
# `postgres [args]`: initialise PGDATA on first start like the official image (superuser POSTGRES_USER with
# POSTGRES_PASSWORD, database POSTGRES_DB, password logins from the network), then run the server as `postgres`.
# `redis-server [args]`: run as `redis`. Anything else: run as given.
set -eu
case "${1:-}" in
  postgres)
    shift
    chown -R postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
      user="${POSTGRES_USER:-postgres}"
      pwfile=$(mktemp); printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"; chown postgres "$pwfile"
      runuser -u postgres -- initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "$pwfile"
      echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
      if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != "postgres" ]; then
        runuser -u postgres -- postgres --single -D "$PGDATA" -c listen_addresses='' postgres \
          <<SQL >/dev/null
CREATE DATABASE "$POSTGRES_DB" OWNER "$user";
SQL
      fi
      echo "services-entrypoint: initialised $PGDATA (user $user, database ${POSTGRES_DB:-postgres})"
    fi
    exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
    ;;
  redis-server)
    shift
    chown redis:redis /data
    exec runuser -u redis -- redis-server "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
