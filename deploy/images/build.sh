#!/usr/bin/env bash
# Builds the project's images from what Maven built on the host, in the Quarkus convention: each
# service's Dockerfile copies its target/quarkus-app; nothing is compiled inside an image, and no
# image build needs a registry or the network, only its base image.
#
#   deploy/images/build.sh [--tag 0.1.0] [--prefix seqstream] [--base eclipse-temurin:17-jre]
#                          [--no-maven] [--no-kafka] [--cuda] [SERVICE...]
#
#   --tag       image tag of the services (default: the project version, 0.1.0)
#   --prefix    image name prefix: PREFIX/tokenizer:TAG ... (default seqstream)
#   --base      the base image (default eclipse-temurin:17-jre; where it cannot be pulled, build
#               one from Debian packages with deploy/images/base.sh and pass --base seqstream/jre:17)
#   --no-maven  use the quarkus-app folders already built (default: ./mvnw package first)
#   --no-kafka  skip the Kafka image (PREFIX/kafka:4.1.2, Apache Kafka's jars from Maven Central)
#   --cuda      the CUDA images of the encoder and decoder instead (Maven -Pcuda, CUDA base)
#   SERVICE     some of tokenizer embedding encoder decoder gateway (default: all five)
set -euo pipefail
cd "$(dirname "$0")/../.."

tag=0.1.0
prefix=seqstream
base=eclipse-temurin:17-jre
maven=1 kafka=1 cuda=0
services=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --no-maven) maven=0; shift ;;
    --no-kafka) kafka=0; shift ;;
    --cuda) cuda=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    tokenizer|embedding|encoder|decoder|gateway) services+=("$1"); shift ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
kafka_version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' pom.xml)

docker info > /dev/null 2>&1 || { echo "build.sh: no Docker engine answers (start dockerd, or see deploy/compose-check.sh)" >&2; exit 1; }

if [ "$cuda" = 1 ]; then
  [ ${#services[@]} -gt 0 ] || services=(encoder decoder)
  modules=$(printf 'services/%s,' "${services[@]}")
  [ "$maven" = 1 ] && ./mvnw -B -q -Pcuda -DskipTests -pl "${modules%,}" -am package
  for s in "${services[@]}"; do
    [ -f "services/$s/Dockerfile.cuda" ] || { echo "build.sh: $s has no CUDA image" >&2; exit 2; }
    docker build -q -f "services/$s/Dockerfile.cuda" -t "$prefix/$s-cuda:$tag" . > /dev/null
    echo "built $prefix/$s-cuda:$tag"
  done
  exit 0
fi

[ ${#services[@]} -gt 0 ] || services=(tokenizer embedding encoder decoder gateway)
if ! docker image inspect "$base" > /dev/null 2>&1 && ! docker pull -q "$base" > /dev/null 2>&1; then
  echo "build.sh: the base image $base is not here and cannot be pulled; build one from Debian packages:" >&2
  echo "  deploy/images/base.sh && deploy/images/build.sh --base seqstream/jre:17" >&2
  exit 1
fi
if [ "$maven" = 1 ]; then
  echo "build.sh: ./mvnw package" >&2
  ./mvnw -B -q -DskipTests package
fi

build() {  # NAME CONTEXT [DOCKERFILE]
  local name="$1" context="$2" started
  started=$(date +%s%N)
  # (the legacy builder says it is deprecated on every build: those lines are dropped)
  if ! docker build -q --build-arg BASE_IMAGE="$base" ${3:+-f "$3"} -t "$name" "$context" 2>&1 > /dev/null \
      | { grep -v -e "^DEPRECATED: The legacy builder" -e "buildx component" -e "docs.docker.com/go/buildx" -e "^ *$" || true; } >&2; then
    echo "build.sh: building $name failed" >&2
    exit 1
  fi
  printf 'built %s in %.1f s\n' "$name" "$(( $(date +%s%N) - started ))e-9"
}
for s in "${services[@]}"; do
  [ -d "services/$s/target/quarkus-app" ] || { echo "build.sh: services/$s/target/quarkus-app is missing: run ./mvnw package" >&2; exit 1; }
  build "$prefix/$s:$tag" . "services/$s/Dockerfile"
done
if [ "$kafka" = 1 ]; then
  [ -d deploy/images/kafka/target/libs ] || ./mvnw -B -q package -pl deploy/images/kafka
  build "$prefix/kafka:$kafka_version" deploy/images/kafka
fi
