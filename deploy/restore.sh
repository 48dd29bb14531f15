#!/usr/bin/env bash
# Restore a folder written by backup.sh: both databases (replacing what they hold) and the data folder.
# Stop the portal, the workers and the Prefect server first; start them again afterwards. The databases
# must exist (empty ones are fine). Same variables as backup.sh.
set -euo pipefail

libpq_url() {
  printf '%s' "$1" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#'
}

src=${1:?usage: restore.sh BACKUP_FOLDER}
project_db=$(libpq_url "${PLANCYCLE_DATABASE_URL:?set PLANCYCLE_DATABASE_URL}")
prefect_db=$(libpq_url "${PREFECT_API_DATABASE_CONNECTION_URL:?set PREFECT_API_DATABASE_CONNECTION_URL}")
data_dir=${PLANCYCLE_DATA_DIR:?set PLANCYCLE_DATA_DIR}

(cd "$src" && sha256sum --check --quiet SHA256SUMS)
restore_database() { # DUMP_FILE DATABASE_URL
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
    --dbname="$2" "$src/$1"
}
restore_database plancycle.dump "$project_db"
restore_database prefect.dump "$prefect_db"
mkdir -p "$data_dir"
tar -C "$data_dir" -xzf "$src/data.tar.gz"
echo "restored $src"
