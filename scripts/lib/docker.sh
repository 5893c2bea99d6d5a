# Shell functions that make sure a Docker engine answers, installing and starting one when none
# does (Debian's docker.io, as root, with apt), and stop only what they started. Sourced by
# deploy/compose-check.sh and .ci/run.
#
#   docker_ensure        a Docker engine answers afterwards, or it returns non-zero with the reason
#   docker_stop_started  stops the dockerd that docker_ensure started (nothing otherwise)
#   docker_compose ...   runs compose v2 (`docker compose`) or v1 (`docker-compose`), whichever is here

DOCKER_STARTED_PID=""

docker_ensure() {
  docker info > /dev/null 2>&1 && return 0
  if ! command -v dockerd > /dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
      echo "no Docker engine answers, and installing one needs root and apt" >&2
      return 1
    fi
    echo "installing a Docker engine (apt-get install docker.io)" >&2
    { apt-get install -y -q docker.io || { apt-get update -q && apt-get install -y -q docker.io; }; } > /tmp/seq-docker-install.log 2>&1 \
      || { tail -5 /tmp/seq-docker-install.log >&2; return 1; }
  fi
  echo "starting dockerd (log: /tmp/seq-dockerd.log)" >&2
  dockerd > /tmp/seq-dockerd.log 2>&1 &
  DOCKER_STARTED_PID=$!
  for _ in $(seq 1 120); do
    docker info > /dev/null 2>&1 && return 0
    kill -0 "$DOCKER_STARTED_PID" 2> /dev/null || break
    sleep 0.5
  done
  tail -5 /tmp/seq-dockerd.log >&2
  echo "dockerd did not come up" >&2
  return 1
}

docker_stop_started() {
  [ -n "$DOCKER_STARTED_PID" ] || return 0
  kill "$DOCKER_STARTED_PID" 2> /dev/null || true
  for _ in $(seq 1 60); do kill -0 "$DOCKER_STARTED_PID" 2> /dev/null || break; sleep 0.5; done
  DOCKER_STARTED_PID=""
}

docker_compose() {
  if docker compose version > /dev/null 2>&1; then
    docker compose "$@"
  elif command -v docker-compose > /dev/null; then
    docker-compose "$@"
  else
    echo "neither docker compose (v2) nor docker-compose (v1) is installed (apt-get install docker-compose)" >&2
    return 1
  fi
}
