#!/usr/bin/env bash
# Docker on a fresh Debian machine without systemd or Docker Hub (docs/deploy.md, section 9,
# the deployment test). Idempotent, and quick when everything is in place; kill the daemon
# it started with `kill $(cat var/docker/dockerd.pid)`:
#   1. Debian's docker.io and debootstrap (deploy/scripts/sysdeps.sh); / made a shared mount
#      when it is private (node-exporter's rslave bind of the host's / needs it);
#   2. dockerd started in the background when `docker info` does not answer (log:
#      var/docker/dockerd.log; it keeps running after this script);
#   3. the compose v2 plugin built from the Go module proxy when `docker compose version`
#      fails (the binary in /usr/libexec/docker/cli-plugins is the cache);
#   4. the base image local/debian:bookworm made with debootstrap from the host's Debian
#      mirror, trusting the host's CA certificates (/usr/local/share/ca-certificates/*.crt,
#      copied in at build time, never committed), so apt, pip and npm work inside builds.
#      It is made again when those certificates change (label spendsense.ca-sha256).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VAR="$ROOT/var/docker"
COMPOSE_VERSION=v5.6.0
PLUGIN=/usr/libexec/docker/cli-plugins/docker-compose
BASE=local/debian:bookworm
mkdir -p "$VAR"

bash deploy/scripts/sysdeps.sh docker.io debootstrap

# node-exporter mounts the host's / with rslave propagation, which needs / shared (systemd
# makes it so at boot; without systemd it may be private).
if [[ "$(findmnt -no PROPAGATION / 2>/dev/null)" == private ]]; then
  mount --make-rshared /
fi

if ! docker info >/dev/null 2>&1; then
  echo "docker-host: starting dockerd (log: $VAR/dockerd.log)"
  setsid dockerd >"$VAR/dockerd.log" 2>&1 </dev/null &
  echo $! >"$VAR/dockerd.pid"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not answer within 60 s: see $VAR/dockerd.log" >&2; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  command -v go >/dev/null || { echo "go is missing: the compose plugin is built with Go (install golang)" >&2; exit 1; }
  echo "docker-host: building the compose plugin $COMPOSE_VERSION (a few minutes)"
  build="$VAR/compose-build"
  rm -rf "$build" && mkdir -p "$build" "$(dirname "$PLUGIN")"
  (
    cd "$build"
    go mod init local/compose >/dev/null 2>&1
    go get "github.com/docker/compose/v5/cmd@$COMPOSE_VERSION"
    go build -ldflags "-X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" -o "$PLUGIN" \
      github.com/docker/compose/v5/cmd
  ) >"$VAR/compose-build.log" 2>&1 || { echo "compose plugin build failed: see $VAR/compose-build.log" >&2; exit 1; }
  docker compose version
fi

ca_hash=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha256sum | cut -d' ' -f1)
have_hash=$(docker image inspect -f '{{index .Config.Labels "spendsense.ca-sha256"}}' "$BASE" 2>/dev/null || true)
if [[ "$have_hash" != "$ca_hash" ]]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n "$mirror" ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n "$mirror" ]] || { echo "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
  echo "docker-host: making $BASE with debootstrap from $mirror"
  rootfs="$VAR/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$VAR/debootstrap.log" 2>&1 \
    || { echo "debootstrap failed: see $VAR/debootstrap.log" >&2; exit 1; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  chroot "$rootfs" update-ca-certificates >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change "LABEL spendsense.ca-sha256=$ca_hash" \
    --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi
echo "docker-host: ready ($(docker compose version --short), $BASE)"
