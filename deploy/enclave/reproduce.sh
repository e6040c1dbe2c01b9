#!/usr/bin/env bash
# Builds the `nautilus` binary twice, from two copies of the same commit in two different
# directories with two different target directories, the way deploy/enclave/Containerfile
# builds it (release, --locked, paths remapped, SOURCE_DATE_EPOCH from the commit), and
# compares the two. Equal SHA-256 sums mean the binary depends on the sources, Cargo.lock and
# the toolchain only, not on where or when it was built: the property the enclave image's PCRs
# need. It does not build the image (that needs Docker and nitro-cli, see
# docs/operations.md, "Attested nodes").
#
# Usage: deploy/enclave/reproduce.sh [COMMIT]   (default HEAD; needs git and cargo)
# Environment: REPRODUCE_DIR (default: a new temporary directory, removed afterwards),
#              CARGO_BUILD_JOBS (as cargo).
set -euo pipefail
shopt -s inherit_errexit

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
work=${REPRODUCE_DIR:-$(mktemp -d)}
[[ -z ${REPRODUCE_DIR:-} ]] && trap 'rm -rf "$work"' EXIT
epoch=$(git -C "$repo" log -1 --format=%ct "$commit")
cargo_home=${CARGO_HOME:-$HOME/.cargo}

build() { # build <name>: a fresh copy of $commit in $work/<name>, built there
  local src="$work/$1/src"
  rm -rf "$work/$1" && mkdir -p "$src"
  git -C "$repo" archive --format=tar "$commit" | tar -x -C "$src"
  (
    cd "$src"
    export SOURCE_DATE_EPOCH=$epoch CARGO_TARGET_DIR="$work/$1/target" CARGO_INCREMENTAL=0
    export RUSTFLAGS="--remap-path-prefix=$src=/build --remap-path-prefix=$cargo_home=/cargo -C strip=symbols"
    cargo build --release --locked --bin nautilus >&2
  )
  sha256sum "$work/$1/target/release/nautilus" | cut -d' ' -f1
}

echo "building nautilus at $commit twice (in $work)" >&2
start=$(date +%s)
a=$(build a)
b=$(build b)
echo "a: $a" >&2
echo "b: $b" >&2
echo "took $(( $(date +%s) - start )) s" >&2
if [[ $a == "$b" ]]; then
  echo "reproducible: sha256 $a ($(rustc --version))"
else
  echo "NOT reproducible: the two builds differ; compare them with diffoscope" >&2
  exit 1
fi
