//! Initialization of PoST data: write, resume, split, merge, grow, verify and repair.
