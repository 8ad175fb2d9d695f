//! Build information for `warden --version`: the target triple, the profile and the compiler.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown target".to_owned());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown profile".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc (version unknown)".to_owned(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=WARDEN_BUILD_TARGET={target}");
    println!("cargo:rustc-env=WARDEN_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=WARDEN_BUILD_RUSTC={rustc_version}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
