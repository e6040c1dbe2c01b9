#!/usr/bin/env bash
# Builds kubectl-sui and nautilus from this checkout (or unpacks them from a release archive)
# and installs them into PREFIX/bin, where kubectl finds `kubectl-sui` as the `kubectl sui`
# plugin. `--dist DIR` is the release step: archives, checksums and the krew manifest.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--prefix DIR] [--from-archive FILE] [--uninstall]
       ./install.sh --dist DIR

Builds kubectl-sui and nautilus (cargo build --release) and installs them into DIR/bin.

  --prefix DIR          install under DIR (default: ~/.local, so binaries go to ~/.local/bin)
  --from-archive FILE   install from a release archive (kubectl-sui_<os>_<arch>.tar.gz)
                        instead of building; FILE.sha256 next to it is checked when present
  --uninstall           remove exactly the files a previous install into DIR put there
  --dist DIR            build the release archive of this platform into DIR, with its
                        .sha256, and DIR/sui.yaml: the krew manifest (plugin/sui.yaml)
                        with the archive's checksum
  -h, --help            show this help
USAGE
}

prefix="${HOME}/.local"
uninstall=false
archive=""
dist=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --from-archive) [ $# -ge 2 ] || { echo "install.sh: --from-archive needs a file" >&2; exit 2; }; archive="$2"; shift 2 ;;
    --from-archive=*) archive="${1#--from-archive=}"; shift ;;
    --dist) [ $# -ge 2 ] || { echo "install.sh: --dist needs a directory" >&2; exit 2; }; dist="$2"; shift 2 ;;
    --dist=*) dist="${1#--dist=}"; shift ;;
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

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

build() {
  command -v cargo >/dev/null 2>&1 || {
    echo "install.sh: cargo not found; install Rust (https://rustup.rs), or use --from-archive" >&2
    exit 1
  }
  echo "building ${binaries[*]} (release) ..."
  cargo build --manifest-path "$repo/Cargo.toml" --release --locked --bins
}

# Where cargo put the release binaries: its own answer, so CARGO_TARGET_DIR, a
# build.target-dir in a cargo config and CARGO_BUILD_TARGET are all honoured.
release_dir() {
  local target_dir
  target_dir="$(cargo metadata --manifest-path "$repo/Cargo.toml" --format-version 1 --no-deps --locked \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  [ -n "$target_dir" ] || { echo "install.sh: cargo metadata did not say where it builds" >&2; exit 1; }
  if [ -n "${CARGO_BUILD_TARGET:-}" ]; then
    echo "$target_dir/$CARGO_BUILD_TARGET/release"
  else
    echo "$target_dir/release"
  fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -n "$dist" ]; then
  build
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "install.sh: unsupported OS $(uname -s)" >&2; exit 1 ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "install.sh: unsupported CPU $(uname -m)" >&2; exit 1 ;; esac
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"
  name="kubectl-sui_${os}_${arch}.tar.gz"
  mkdir -p "$dist"
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  release="$(release_dir)"
  for b in "${binaries[@]}"; do install -m 0755 "$release/$b" "$stage/$b"; done
  cp "$repo/LICENSE" "$repo/README.md" "$stage/"
  (cd "$repo" && find move -type f \( -name '*.move' -o -name 'Move.toml' -o -name 'Move.lock' \) -not -path 'move/build/*' \
    -exec install -D -m 0644 {} "$stage/{}" \;)
  # Fixed order, owner and time: the archive's bytes depend only on its files.
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' \
    -czf "$dist/$name" kubectl-sui nautilus LICENSE README.md move
  sum="$(sha256_of "$dist/$name")"
  echo "$sum  $name" > "$dist/$name.sha256"
  sed -e "s/^  version: .*/  version: v$version/" \
      -e "s|^    uri: .*|    uri: https://github.com/kubectl-sui/kubectl-sui/releases/download/v$version/$name|" \
      -e "s/^    sha256: .*/    sha256: $sum/" \
      "$repo/plugin/sui.yaml" > "$dist/sui.yaml"
  echo "wrote $dist/$name ($sum), $dist/$name.sha256 and $dist/sui.yaml (copy it to plugin/sui.yaml when releasing)"
  exit 0
fi

if [ -n "$archive" ]; then
  [ -f "$archive" ] || { echo "install.sh: no archive at $archive" >&2; exit 1; }
  if [ -f "$archive.sha256" ]; then
    expected="$(cut -d' ' -f1 < "$archive.sha256")"
    [ "$(sha256_of "$archive")" = "$expected" ] || { echo "install.sh: $archive does not match $archive.sha256; download it again" >&2; exit 1; }
  fi
  source_dir="$(mktemp -d)"
  trap 'rm -rf "$source_dir"' EXIT
  tar -xzf "$archive" -C "$source_dir"
  for b in "${binaries[@]}"; do
    [ -x "$source_dir/$b" ] || { echo "install.sh: $archive has no $b; is it a kubectl-sui release archive?" >&2; exit 1; }
  done
else
  build
  source_dir="$(release_dir)"
fi

mkdir -p "$bin_dir" "$manifest_dir"
: > "$manifest.tmp"
for b in "${binaries[@]}"; do
  install -m 0755 "$source_dir/$b" "$bin_dir/$b"
  echo "$bin_dir/$b" >> "$manifest.tmp"
  echo "installed $bin_dir/$b"
done
# The Move package, so an installed plugin can publish it (`kubectl sui contract publish`).
if [ -n "$archive" ]; then move_src="$source_dir/move"; else move_src="$repo/move"; fi
if [ -d "$move_src/sources" ]; then
  move_dir="$manifest_dir/move"
  while IFS= read -r file; do
    install -D -m 0644 "$move_src/$file" "$move_dir/$file"
    echo "$move_dir/$file" >> "$manifest.tmp"
  done < <(cd "$move_src" && find . -type f \( -name '*.move' -o -name 'Move.toml' -o -name 'Move.lock' \) -not -path './build/*' | sed 's|^\./||' | sort)
  echo "installed the Move package into $move_dir"
fi
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
