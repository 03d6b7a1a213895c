#!/usr/bin/env bash
# gpu-pack.sh: builds everything post-cuda/gpu-check.sh runs on a GPU machine, on a machine that has
# Rust but needs no GPU and no CUDA, and copies it (stripped) into one folder:
#
#   post            the release `post` binary (post providers, post bench label)
#   post_cuda       post-cuda's unit tests
#   host_c          the kernel math as host C against the reference
#   simt_kernels    the CUDA kernels on the host SIMT emulator
#   gpu             the GPU tests (labels, VRF nonces, several devices) against the CPU reference
#   cuda_label      the criterion benchmark of every kernel variant
#
# Usage: post-cuda/gpu-pack.sh [FOLDER]     (default: target-gpu/bin, which git ignores)
# Then, on the GPU machine, from the repository root: post-cuda/gpu-check.sh FOLDER
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-target-gpu/bin}
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target-gpu/build}
# RandomX (inside `post`) builds with CMake; use the one `cargo xtask` provisions when none is on PATH.
if ! command -v cmake >/dev/null && [ -z "${CMAKE:-}" ] && [ -x target/tools/cmake/cmake/data/bin/cmake ]; then
    export CMAKE=$root/target/tools/cmake/cmake/data/bin/cmake
fi
mkdir -p "$out"

# Prints the executables cargo built, as "name path" lines (from its JSON messages).
executables() {
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])
'
}

cargo build --release -p post-cli --bin post
cp "$CARGO_TARGET_DIR/release/post" "$out/post"
{
    cargo test --release -p post-cuda --no-run --message-format=json
    cargo bench -p post-cuda --bench cuda_label --no-run --message-format=json
} | executables | while read -r name path; do
    case "$name" in
        post_cuda | host_c | simt_kernels | gpu | cuda_label) cp "$path" "$out/$name" ;;
    esac
done
strip "$out"/* 2>/dev/null || true
ls -l "$out"
du -sh "$out"
