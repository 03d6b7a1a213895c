//! GPU labelling on NVIDIA cards through CUDA, loaded at run time.
