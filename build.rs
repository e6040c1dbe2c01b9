//! Tells the tests whether a Sui toolchain is here (`$SUI_BIN`, or `sui` on PATH when the
//! package is built), so that the real-network test is counted as skipped, with its reason,
//! where there is none, instead of passing without having run.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(real_sui)");
    println!("cargo::rerun-if-env-changed=SUI_BIN");
    println!("cargo::rerun-if-changed=build.rs");
    let given = std::env::var_os("SUI_BIN").is_some_and(|p| Path::new(&p).is_file());
    let on_path =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("sui").is_file()));
    if given || on_path {
        println!("cargo::rustc-cfg=real_sui");
    }
}
