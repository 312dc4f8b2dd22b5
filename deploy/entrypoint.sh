#!/bin/sh
# Entrypoint of the fusionrec image: read the settings from the environment and exec `fusionrec serve`.
#
# Settings (defaults in brackets; docs/deployment.md has the full list):
#   FUSIONREC_ARTIFACT       artifact folder [/artifacts/model]
#   FUSIONREC_STORE_URL      SQLAlchemy URL of the event store [sqlite:////var/lib/fusionrec/events.sqlite3];
#                            or FUSIONREC_STORE_URL_FILE, a file holding it
#   FUSIONREC_API_KEY        key of the write routes; or FUSIONREC_API_KEY_FILE, a file holding it
#                            (a mounted Secret). Neither: the service is read-only.
#   PGPASSWORD_FILE          a file holding the PostgreSQL password, exported as PGPASSWORD for libpq
#   FUSIONREC_HOST [0.0.0.0], FUSIONREC_PORT [8000], FUSIONREC_WORKERS [1], FUSIONREC_LOG_LEVEL [info],
#   FUSIONREC_INDEX [auto]
# Every other FUSIONREC_* variable (FUSIONREC_HNSW_EF_SEARCH, FUSIONREC_INDEX_CACHE_DIR, ...) reaches the
# service's settings unchanged. With arguments, the entrypoint runs them instead of the service, with the
# same environment: `docker run IMAGE fusionrec verify-artifact /artifacts/model`.
set -eu

# The value the example Secret of deploy/k8s ships with; a service must never run with it.
PLACEHOLDER_KEY="replace-with-a-long-random-key"

fail() {
  echo "fusionrec-entrypoint: $*" >&2
  exit 64
}

# read_file_variable NAME: when NAME_FILE is set, export NAME with the file's content (trailing newlines dropped).
read_file_variable() {
  name=$1
  eval "file=\${${name}_FILE:-}"
  eval "direct=\${${name}:-}"
  [ -n "$file" ] || return 0
  [ -z "$direct" ] || fail "both $name and ${name}_FILE are set; set only one of them"
  [ -r "$file" ] || fail "${name}_FILE=$file is not a readable file; mount the secret there or fix the path"
  value=$(cat "$file")
  [ -n "$value" ] || fail "${name}_FILE=$file is empty; write the value into it"
  export "$name=$value"
  unset "${name}_FILE"
}

# require_integer NAME VALUE LOW HIGH
require_integer() {
  case $2 in
    '' | *[!0-9]*) fail "$1=$2 is not a whole number; expected $3 to $4" ;;
  esac
  [ ${#2} -le 5 ] || fail "$1=$2 is out of range; expected $3 to $4"
  [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1=$2 is out of range; expected $3 to $4"
}

read_file_variable FUSIONREC_API_KEY
read_file_variable FUSIONREC_STORE_URL
read_file_variable PGPASSWORD
if [ "${FUSIONREC_API_KEY:-}" = "$PLACEHOLDER_KEY" ]; then
  fail "the API key is still the placeholder of the example Secret; set a long random key (docs/deployment.md)"
fi

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

artifact=${FUSIONREC_ARTIFACT:-/artifacts/model}
host=${FUSIONREC_HOST:-0.0.0.0}
port=${FUSIONREC_PORT:-8000}
workers=${FUSIONREC_WORKERS:-1}
require_integer FUSIONREC_PORT "$port" 1 65535
require_integer FUSIONREC_WORKERS "$workers" 1 64
[ -d "$artifact" ] || fail "FUSIONREC_ARTIFACT=$artifact is not a folder; mount the artifact there or set FUSIONREC_ARTIFACT"

# `fusionrec serve` reads FUSIONREC_STORE_URL and FUSIONREC_API_KEY itself, so neither appears in `ps`.
exec fusionrec serve "$artifact" \
  --host "$host" \
  --port "$port" \
  --workers "$workers" \
  --index "${FUSIONREC_INDEX:-auto}" \
  --log-level "${FUSIONREC_LOG_LEVEL:-info}"
