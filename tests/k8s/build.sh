#!/usr/bin/env bash
# Builds the Kubernetes control plane the tests run against (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok), and the kubectl they drive it with,
# from their Go modules, pinned by the go.mod/go.sum files beside this script, and caches the
# binaries.
#
# Prints the directory holding the binaries on its last line of stdout. A second run with the
# same pins and Go toolchain reuses the cache and prints at once.
#
# Environment: KUBECTL_SUI_K8S_CACHE overrides the cache root
# (default: ${XDG_CACHE_HOME:-~/.cache}/kubectl-sui/k8s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${KUBECTL_SUI_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sui/k8s}"
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"

command -v go >/dev/null 2>&1 || { echo "build.sh: go not found; install Go 1.24 or newer" >&2; exit 1; }

# The version a go.mod requires of a module, in a require line or block.
required() { awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2"; }

k8s_version="$(required k8s.io/kubernetes "$here/kubernetes/go.mod")"
[ -n "$k8s_version" ] || { echo "build.sh: no k8s.io/kubernetes version in $here/kubernetes/go.mod" >&2; exit 1; }
minor="$(echo "$k8s_version" | cut -d. -f2)"

# The key covers every pin, this script and the toolchain: changing any of them rebuilds.
key="$( { cat "$here"/*/go.mod "$here"/*/go.sum "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
out="$cache_root/$k8s_version-$key"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

complete() { for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || return 1; done; }
if complete; then
  echo "$out/bin"
  exit 0
fi

mkdir -p "$cache_root"
tmp="$(mktemp -d "$cache_root/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"

step() {
  local name="$1" dir="$2"; shift 2
  local start=$SECONDS
  echo "build.sh: building $name ..." >&2
  (cd "$here/$dir" && go build -trimpath "$@")
  echo "build.sh: built $name in $((SECONDS - start))s" >&2
}

version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  step "$cmd $k8s_version" kubernetes -ldflags "-s -w$version_flags" -o "$tmp/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
step etcd etcd -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3
step kwok kwok -ldflags "-s -w" -o "$tmp/bin/kwok" sigs.k8s.io/kwok/cmd/kwok

{
  echo "kubernetes $k8s_version"
  echo "etcd $(required go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")"
  echo "kwok $(required sigs.k8s.io/kwok "$here/kwok/go.mod")"
  go env GOVERSION
} > "$tmp/versions"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out/bin"
