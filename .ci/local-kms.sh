#!/usr/bin/env bash
# Builds (once) and starts a real local-kms (an AWS KMS API server) on
# loopback for the KMS tests. The binary is cached under
# ${KAKUNIN_CACHE:-$HOME/.cache/kakunin} like MinIO's (.ci/minio.sh).
#
#   .ci/local-kms.sh build        build or reuse the cached binary, print its path
#   .ci/local-kms.sh start DIR    start it with its data in DIR; prints export
#                                 lines (KAKUNIN_TEST_KMS, KMS_PID, AWS_*)
#
# Credentials are throwaway values: local-kms checks none.
set -euo pipefail

cache="${KAKUNIN_CACHE:-$HOME/.cache/kakunin}"
bin="$cache/bin/local-kms"

build() {
  if [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" GOFLAGS=-mod=mod go install github.com/nsmithuk/local-kms@latest >&2
  echo "$bin"
}

start() {
  local data="$1"
  build >/dev/null
  mkdir -p "$data/kms"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # local-kms has no listen-address setting: it binds ":PORT" (every
  # interface). The port is a random free one for one CI run, the keys are
  # throwaway, and the tests talk to it on 127.0.0.1 only.
  PORT="$port" KMS_DATA_PATH="$data/kms" KMS_REGION=us-east-1 KMS_ACCOUNT_ID=111122223333 \
    "$bin" >"$data/local-kms.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 60); do
    # Any HTTP answer (local-kms answers 4xx to a bare GET) means it is up.
    if curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
      echo "export KMS_PID=$pid"
      echo "export KAKUNIN_TEST_KMS=http://127.0.0.1:$port"
      echo "export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-kakunintest}"
      echo "export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-kakunintest-secret}"
      echo "export AWS_REGION=us-east-1"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "local-kms did not become ready; log:" >&2
  cat "$data/local-kms.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

case "${1:-}" in
  build) build ;;
  start) start "${2:?data dir}" ;;
  *) echo "usage: $0 build | start DIR" >&2; exit 2 ;;
esac
