//! The release build (`scripts/release.sh` sets `HERD_LAYOUT=1`) links with `layout.ld`: what a
//! running tree touches in segments of its own, the rest in segments that stay unmapped
//! (docs/size.md, "Hot and cold"). Other builds link as usual.

fn main() {
    println!("cargo:rerun-if-env-changed=HERD_LAYOUT");
    println!("cargo:rerun-if-changed=layout.ld");
    if std::env::var_os("HERD_LAYOUT").is_some_and(|v| v == "1") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        // `-Xlinker` per word rather than `-Wl,-T,PATH`, which would split a PATH with a comma.
        let script = format!("{dir}/layout.ld");
        // The start-up's frame registration reads .eh_frame, which layout.ld keeps cold: it
        // calls no-ops instead (src/main.rs).
        for arg in [
            "-Xlinker",
            "-T",
            "-Xlinker",
            &script,
            "-Xlinker",
            "--wrap=__register_frame_info",
            "-Xlinker",
            "--wrap=__deregister_frame_info",
        ] {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}
