#!/usr/bin/env bash
# Builds (once) and starts a real MinIO server on loopback for the S3 blob
# store tests. The binary is cached under ${KAKUNIN_CACHE:-$HOME/.cache/kakunin}
# so only the first run on a machine pays the ~3 minute build.
#
#   .ci/minio.sh build          build or reuse the cached binary, print its path
#   .ci/minio.sh start DIR      start MinIO with data in DIR; prints export lines
#                               (KAKUNIN_TEST_S3, AWS_*) and MINIO_PID
#
# Credentials are throwaway test values for a loopback-only server.
set -euo pipefail

cache="${KAKUNIN_CACHE:-$HOME/.cache/kakunin}"
bin="$cache/bin/minio"

build() {
  if [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  mkdir -p "$cache/bin"
  # GOBIN puts the binary straight into the cache; the module cache keeps the
  # sources so a rebuild after a cache wipe is faster.
  GOBIN="$cache/bin" GOFLAGS=-mod=mod go install github.com/minio/minio@latest >&2
  echo "$bin"
}

start() {
  local data="$1"
  build >/dev/null
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export MINIO_ROOT_USER=kakunintest MINIO_ROOT_PASSWORD=kakunintest-secret
  "$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:0" "$data/minio" \
    >"$data/minio.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/minio/health/live" >/dev/null 2>&1; then
      echo "export MINIO_PID=$pid"
      echo "export KAKUNIN_TEST_S3=http://127.0.0.1:$port"
      echo "export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER"
      echo "export AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD"
      echo "export AWS_REGION=us-east-1"
      return
    fi
    sleep 0.5
  done
  echo "MinIO did not become ready; log:" >&2
  cat "$data/minio.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

case "${1:-}" in
  build) build ;;
  start) start "${2:?data dir}" ;;
  *) echo "usage: $0 build | start DIR" >&2; exit 2 ;;
esac
