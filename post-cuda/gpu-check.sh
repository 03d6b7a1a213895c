#!/usr/bin/env bash
# gpu-check.sh: everything post-cuda needs checked on a machine with an NVIDIA GPU, from prebuilt
# binaries (made by post-cuda/gpu-pack.sh on any machine with Rust), with one summary at the end.
#
#   1. finds libcuda and libnvrtc (the driver's folder, the CUDA toolkit, Python's nvidia-* wheels, or
#      FOLDER/nvrtc) and puts their folders on LD_LIBRARY_PATH;
#   2. `post providers` must list a CUDA device;
#   3. the tests with POST_REQUIRE_GPU=1, so that a skipped GPU test fails: post_cuda, host_c,
#      simt_kernels and gpu (labels of >10^4 indices and the VRF nonces against the CPU reference for
#      every kernel variant, several devices, errors);
#   4. `post bench label --provider cuda@VARIANT --scrypt-n 8192` for auto and all six variants;
#   5. with CRITERION=1, also the criterion benchmark (`cuda_label --bench`).
#
# Usage: post-cuda/gpu-check.sh [FOLDER]   (default: target-gpu/bin)
# Environment: SECONDS_PER_BENCH (default 15), CRITERION=1, POST_CUDA_CACHE (where `post` keeps
# compiled kernels; default: a temporary folder shared by the runs of this script).
# Exit status: 0 when every step passed, 1 otherwise.
set -uo pipefail

bin=${1:-target-gpu/bin}
bench_seconds=${SECONDS_PER_BENCH:-15}
summary=()
benches=()
failed=0

record() { # record NAME STATUS
    if [ "$2" -eq 0 ]; then summary+=("PASS  $1"); else summary+=("FAIL  $1 (exit $2)"); failed=1; fi
}

add_lib_dir() {
    case ":${LD_LIBRARY_PATH:-}:" in
        *":$1:"*) ;;
        *) export LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
}

# find_lib PATTERN: make a library matching PATTERN loadable; prints where it is.
find_lib() {
    local d
    for d in "$bin/nvrtc" /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 \
        /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/lib/x86_64-linux-gnu \
        /usr/lib64 /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib \
        /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/lib/python3/dist-packages/nvidia/*/lib; do
        if compgen -G "$d/$1" >/dev/null; then
            add_lib_dir "$d"
            echo "found $(compgen -G "$d/$1" | head -1)"
            return 0
        fi
    done
    if ldconfig -p 2>/dev/null | grep -q "${1%%\**}"; then
        echo "found ${1%%\**} through ldconfig"
        return 0
    fi
    echo "NOT FOUND: $1"
    return 1
}

echo "=== 1. libraries"
[ -d "$bin" ] || { echo "no folder $bin: build it with post-cuda/gpu-pack.sh"; exit 1; }
bin=$(cd "$bin" && pwd)
find_lib 'libcuda.so.1'
record "libcuda found" $?
find_lib 'libnvrtc.so*'
record "libnvrtc found" $?
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
export POST_CUDA_CACHE=${POST_CUDA_CACHE:-$(mktemp -d)}

echo "=== 2. post providers"
providers=$("$bin/post" providers 2>&1)
status=$?
echo "$providers"
if [ $status -eq 0 ] && ! grep -q '^  cuda:0 ' <<<"$providers"; then status=1; fi
record "post providers lists cuda:0" $status

echo "=== 3. tests (POST_REQUIRE_GPU=1)"
for t in post_cuda host_c simt_kernels gpu; do
    if [ ! -x "$bin/$t" ]; then
        record "test $t (missing from $bin)" 127
        continue
    fi
    # One test at a time: the GPU tests size their batches from the free device memory.
    POST_REQUIRE_GPU=1 "$bin/$t" --test-threads=1 --nocapture
    record "test $t" $?
done

echo "=== 4. post bench label --scrypt-n 8192"
for v in auto tpl1-gap1 tpl1-gap2 tpl1-gap4 tpl4-gap1 tpl4-gap2 tpl4-gap4; do
    line=$("$bin/post" bench label --provider "cuda@$v" --scrypt-n 8192 --seconds "$bench_seconds" 2>&1)
    status=$?
    echo "$line"
    benches+=("cuda@$v: $(tail -1 <<<"$line")")
    record "bench cuda@$v" $status
done

if [ "${CRITERION:-0}" = 1 ] && [ -x "$bin/cuda_label" ]; then
    echo "=== 5. criterion bench"
    "$bin/cuda_label" --bench
    record "criterion cuda_label" $?
fi

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "--- labels per second at scrypt N = 8192"
printf '%s\n' "${benches[@]}"
exit $failed
