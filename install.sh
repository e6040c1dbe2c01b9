#!/usr/bin/env bash
# Builds kubectl-sui and nautilus from this checkout and installs them into PREFIX/bin,
# where kubectl finds `kubectl-sui` as the `kubectl sui` plugin.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--prefix DIR] [--uninstall]

Builds kubectl-sui and nautilus (cargo build --release) and installs them into DIR/bin.

  --prefix DIR   install under DIR (default: ~/.local, so binaries go to ~/.local/bin)
  --uninstall    remove exactly the files a previous install into DIR put there
  -h, --help     show this help
USAGE
}

prefix="${HOME}/.local"
uninstall=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

bin_dir="${prefix}/bin"
manifest_dir="${prefix}/share/kubectl-sui"
manifest="${manifest_dir}/installed-files"
binaries=(kubectl-sui nautilus)

if $uninstall; then
  if [ ! -f "$manifest" ]; then
    echo "install.sh: nothing to uninstall: no install manifest at $manifest" >&2
    exit 1
  fi
  while IFS= read -r file; do
    [ -n "$file" ] && rm -f -- "$file" && echo "removed $file"
  done < "$manifest"
  rm -f -- "$manifest"
  rmdir -- "$manifest_dir" 2>/dev/null || true
  exit 0
fi

command -v cargo >/dev/null 2>&1 || {
  echo "install.sh: cargo not found; install Rust (https://rustup.rs) and run ./install.sh again" >&2
  exit 1
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "building ${binaries[*]} (release) ..."
cargo build --manifest-path "$repo/Cargo.toml" --release --locked --bins

mkdir -p "$bin_dir" "$manifest_dir"
: > "$manifest.tmp"
for b in "${binaries[@]}"; do
  install -m 0755 "$repo/target/release/$b" "$bin_dir/$b"
  echo "$bin_dir/$b" >> "$manifest.tmp"
  echo "installed $bin_dir/$b"
done
mv "$manifest.tmp" "$manifest"

if command -v kubectl >/dev/null 2>&1; then
  minor="$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n1)"
  if [ -n "$minor" ] && [ "$minor" -lt 27 ]; then
    echo "warning: kubectl 1.$minor is older than 1.27, the oldest version kubectl-sui is tested with" >&2
  fi
else
  echo "warning: kubectl not found on PATH; kubectl-sui is a kubectl plugin and needs it" >&2
fi

case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "note: $bin_dir is not on your PATH; add it, e.g.: export PATH=\"$bin_dir:\$PATH\"" >&2 ;;
esac

echo
echo "next: kubectl sui --help"
