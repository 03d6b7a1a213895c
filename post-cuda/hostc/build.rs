//! Compiles post-cuda's kernel header as plain C (through `src/shim.c`) so that tests can run the GPU
//! kernel's math on the host. Only this test-support crate has a C build; `post-cuda` itself needs no
//! C compiler and no CUDA.

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=../kernels/label_core.cuh");
    cc::Build::new()
        .file("src/shim.c")
        .include("../kernels")
        .opt_level(3)
        .warnings(true)
        .extra_warnings(true)
        .compile("post_label_core");
}
