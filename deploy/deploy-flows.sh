#!/usr/bin/env bash
# Deploy every flow of prefect.yaml to the Prefect server at PREFECT_API_URL, creating the process work
# pool first if it is missing. Run after `plancycle db upgrade`, at install and at every upgrade; safe to
# run again. The compose `deploy` service runs this script; so does tests/deploy/test_production.py.
set -euo pipefail

# The deployments keep this path (prefect.yaml's pull step): every worker needs the checkout there too.
cd "${PLANCYCLE_PROJECT_DIR:?set PLANCYCLE_PROJECT_DIR to the folder of the plancycle checkout}"
: "${PREFECT_API_URL:?set PREFECT_API_URL, e.g. http://prefect-server:4200/api}"

pool=plancycle # the work pool named in prefect.yaml
if ! prefect work-pool inspect "$pool" >/dev/null 2>&1; then
  prefect work-pool create "$pool" --type process
fi
prefect --no-prompt deploy --all
