//! Embeds the dashboard's built bundle (`web/dist`, committed) into the binary: one
//! `include_bytes!` per file, plus a gzip copy of compressible files made here, so that
//! `iaso serve` needs no file at run time and no Node.js at build time.
//!
//! `IASO_WEB_DIST` points at another folder (e.g. a fresh `npm run build` elsewhere).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=IASO_WEB_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = std::env::var_os("IASO_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../web/dist"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
    } else {
        println!(
            "cargo:warning=no dashboard bundle at {}: `iaso serve` will say so at /",
            dist.display()
        );
        println!(
            "cargo:rerun-if-changed={}",
            manifest.join("build.rs").display()
        );
    }
    files.sort();
    let gz_dir = out.join("web-gz");
    std::fs::create_dir_all(&gz_dir).expect("create OUT_DIR/web-gz");
    let mut code = String::from("&[\n");
    for (i, rel) in files.iter().enumerate() {
        let abs = dist.join(rel);
        let bytes = std::fs::read(&abs).expect("read a dashboard file");
        let url = format!("/{}", rel.replace('\\', "/"));
        let gzip = if compressible(&url) && bytes.len() > 512 {
            let gz = gzip(&bytes);
            if gz.len() * 10 < bytes.len() * 9 {
                let p = gz_dir.join(format!("{i}.gz"));
                std::fs::write(&p, gz).expect("write gzip copy");
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".into()
            }
        } else {
            "None".into()
        };
        let _ = writeln!(
            code,
            "    Asset {{ path: {url:?}, body: include_bytes!({:?}), gzip: {gzip}, etag: \"\\\"{:016x}\\\"\" }},",
            abs.display().to_string(),
            fnv1a(&bytes),
        );
    }
    code.push(']');
    std::fs::write(out.join("web_assets.rs"), code).expect("write web_assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push(rel.to_string_lossy().into_owned());
        }
    }
}

fn compressible(path: &str) -> bool {
    [
        ".html",
        ".js",
        ".mjs",
        ".css",
        ".svg",
        ".json",
        ".txt",
        ".map",
        ".webmanifest",
        ".xml",
    ]
    .iter()
    .any(|ext| path.ends_with(ext))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

/// FNV-1a, 64 bits: a stable content hash for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
