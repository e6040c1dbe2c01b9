#!/usr/bin/env bash
# Builds krew (the kubectl plugin manager) from its Go module, pinned by the go.mod/go.sum
# beside this script, as `kubectl-krew`, and caches it. Prints the directory holding it on
# its last line of stdout; a second run with the same pins and Go reuses the cache.
#
# Environment: KUBECTL_SUI_KREW_CACHE overrides the cache root
# (default: ${XDG_CACHE_HOME:-~/.cache}/kubectl-sui/krew).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${KUBECTL_SUI_KREW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sui/krew}"
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"
command -v go >/dev/null 2>&1 || { echo "build.sh: go not found; install Go 1.24 or newer" >&2; exit 1; }

version="$(awk '$1 == "sigs.k8s.io/krew" { print $2; exit }' "$here/go.mod")"
key="$( { cat "$here/go.mod" "$here/go.sum" "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
out="$cache_root/$version-$key"
if [ -x "$out/bin/kubectl-krew" ]; then
  echo "$out/bin"
  exit 0
fi

mkdir -p "$cache_root"
tmp="$(mktemp -d "$cache_root/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
echo "build.sh: building krew $version ..." >&2
(cd "$here" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$version" -o "$tmp/bin/kubectl-krew" sigs.k8s.io/krew/cmd/krew)
echo "build.sh: built krew in $((SECONDS - start))s" >&2
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out/bin"
