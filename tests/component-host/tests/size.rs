//! The byte budget of `aicr.wasm` built with our catalog (bytes are stable; time is not,
//! so speed is reported by `cargo xtask bench` instead).

use std::io::Write;

const MAX_RAW: usize = 1_500_000;
const MAX_GZIP: usize = 400_000;

#[test]
fn component_fits_its_budget() {
    if !aicr_component_host::built_or_skip() {
        return;
    }
    let path = aicr_component_host::component_path();
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build`)", path.display()));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).unwrap();
    let gzip = gz.finish().unwrap().len();
    eprintln!(
        "{}: {} bytes raw, {gzip} bytes gzip -9",
        path.display(),
        bytes.len()
    );
    assert!(
        bytes.len() <= MAX_RAW,
        "{} bytes raw > {MAX_RAW}",
        bytes.len()
    );
    assert!(gzip <= MAX_GZIP, "{gzip} bytes gzip > {MAX_GZIP}");
}
