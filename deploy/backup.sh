#!/usr/bin/env bash
# Back up plancycle into a new dated folder under DEST (default ./backups): the project database and the
# Prefect database (pg_dump, custom format) and the data folder (original workbooks, outputs, outbox), with
# checksums. Prints the folder. Needs pg_dump of the server's major version or newer.
#
#   PLANCYCLE_DATABASE_URL               the project database (the SQLAlchemy URL plancycle uses)
#   PREFECT_API_DATABASE_CONNECTION_URL  the Prefect server's database (the URL the server uses)
#   PLANCYCLE_DATA_DIR                   the data folder
set -euo pipefail

libpq_url() { # postgresql+psycopg://… and postgresql+asyncpg://… → postgresql://… for pg_dump
  printf '%s' "$1" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#'
}

project_db=$(libpq_url "${PLANCYCLE_DATABASE_URL:?set PLANCYCLE_DATABASE_URL}")
prefect_db=$(libpq_url "${PREFECT_API_DATABASE_CONNECTION_URL:?set PREFECT_API_DATABASE_CONNECTION_URL}")
data_dir=${PLANCYCLE_DATA_DIR:?set PLANCYCLE_DATA_DIR}
[ -d "$data_dir" ] || { echo "no data folder at $data_dir" >&2; exit 1; }

dest="${1:-backups}/plancycle-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$dest"
pg_dump --format=custom --no-owner --no-privileges --file="$dest/plancycle.dump" "$project_db"
pg_dump --format=custom --no-owner --no-privileges --file="$dest/prefect.dump" "$prefect_db"
tar -C "$data_dir" -czf "$dest/data.tar.gz" .
(cd "$dest" && sha256sum plancycle.dump prefect.dump data.tar.gz >SHA256SUMS)
echo "$dest"
