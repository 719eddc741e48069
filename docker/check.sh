#!/usr/bin/env bash
# Checks the container files where no Docker engine runs (`npm run check:docker`):
#  1. lints docker/Dockerfile (dockerfile-utils, the linter of the VS Code Docker extension);
#  2. validates docker/compose.yaml as Compose reads it (`docker-compose config`, Debian's docker-compose);
#  3. runs the Dockerfile's own build and runtime steps in a clean directory holding only what the
#     build context lets in, then starts the result as the image would and asks /healthz.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "1. Dockerfile lint"
npx --no-install dockerfile-utils lint docker/Dockerfile

echo "2. compose.yaml"
if ! command -v docker-compose >/dev/null; then
  echo "docker-compose is not installed (apt-get install docker-compose): compose.yaml not checked" >&2
  exit 1
fi
POSTGRES_PASSWORD=check docker-compose -f docker/compose.yaml config -q
echo "compose.yaml: valid"

echo "3. the Dockerfile's steps in a clean directory"
work="$(mktemp -d)"
trap 'kill "${gateway:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# What docker/Dockerfile.dockerignore lets into the build context, then the build stage's commands.
cp package.json package-lock.json tsconfig.json tsconfig.build.json "$work/"
cp -r src profiles "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
# The runtime stage keeps node_modules, dist, package.json and profiles: nothing else may be needed.
rm -rf "$work/src" "$work/tsconfig.json" "$work/tsconfig.build.json" "$work/package-lock.json"
if [ -d "$work/node_modules/typescript" ] || [ -d "$work/node_modules/vitest" ]; then
  echo "development dependencies survived npm prune" >&2
  exit 1
fi
mkdir -p "$work/data"
(cd "$work" && NODE_ENV=production HOST=127.0.0.1 PORT=0 SIGNPOST_DATA_DIR="$work/data" LOG_LEVEL=info node dist/main.js > "$work/out.log" 2>&1) &
gateway=$!
for _ in $(seq 1 100); do
  url="$(grep -o '"url":"[^"]*"' "$work/out.log" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)"
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/out.log" >&2; exit 1; }
# The image's HEALTHCHECK command, against this gateway.
node -e "fetch('$url/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
echo "runtime: $url/healthz answered 200 with production dependencies only"
