//! The bundle as one zip: entries sorted by path, one fixed timestamp, deflated, 0755 on
//! scripts and 0644 on everything else — the same bytes for the same input on every host.
//! `rawzip` writes the container (no dependencies, no clock, no randomness); `flate2`'s
//! pure-Rust backend compresses.

use crate::File;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::Write;

/// 1980-01-01T00:00:00Z, the earliest time a zip can record.
const EPOCH: i64 = 315_532_800;

/// Zips `files` (already sorted by path).
pub fn zip(files: &[File]) -> Vec<u8> {
    write(files).expect("writing a zip into memory cannot fail")
}

fn write(files: &[File]) -> Result<Vec<u8>, rawzip::Error> {
    let mut out = Vec::new();
    let mut archive = rawzip::ZipArchiveWriter::new(&mut out);
    for file in files {
        let (mut entry, config) = archive
            .new_file(&file.path)
            .compression_method(rawzip::CompressionMethod::DEFLATE)
            .last_modified(rawzip::time::UtcDateTime::from_unix(EPOCH))
            .unix_permissions(if file.executable { 0o755 } else { 0o644 })
            .start()?;
        let encoder = DeflateEncoder::new(&mut entry, Compression::default());
        let mut writer = config.wrap(encoder);
        writer.write_all(&file.bytes)?;
        let (encoder, descriptor) = writer.finish()?;
        encoder.finish()?;
        entry.finish(descriptor)?;
    }
    archive.finish()?;
    Ok(out)
}
