//! Compiles post-cuda's kernel code for the host, for tests on machines without a GPU:
//! 1. `src/shim.c`: the kernels' math header (`kernels/label_core.cuh`) as plain C;
//! 2. `src/simt.cpp`: the CUDA kernels themselves (`kernels/label_kernels.cu`) as C++ on a small SIMT
//!    emulator, so that the four-threads-per-label kernel's warp shuffles and the VRF block reduction
//!    run too.
//!
//! Only this test-support crate has a C/C++ build; `post-cuda` itself needs no C compiler and no CUDA.

fn main() {
    for f in ["src/shim.c", "src/simt.cpp", "../kernels/label_core.cuh", "../kernels/label_kernels.cu"] {
        println!("cargo:rerun-if-changed={f}");
    }
    cc::Build::new()
        .file("src/shim.c")
        .include("../kernels")
        .opt_level(3)
        .warnings(true)
        .extra_warnings(true)
        .compile("post_label_core");
    cc::Build::new()
        .cpp(true)
        .file("src/simt.cpp")
        .include("../kernels")
        .opt_level(2)
        .flag("-std=c++17")
        .flag_if_supported("-Wno-unknown-pragmas")
        .compile("post_label_simt");
}
