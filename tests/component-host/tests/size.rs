//! The byte budget of `aicr.wasm` built with our catalog (bytes are stable; time is not,
//! so speed is reported by `cargo xtask bench` instead).

use std::io::Write;

// Raised from 1.5 MB / 400 KB when bundles came in (issue 8): the catalog's manifest
// templates are 0.68 MB of YAML (mostly Gateway API CRDs), and the bundler, template
// renderer and deflate encoder are compiled in. Measured then: 2,095,902 B / 599,750 B.
const MAX_RAW: usize = 2_500_000;
const MAX_GZIP: usize = 700_000;

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
