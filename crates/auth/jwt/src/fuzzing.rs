//! Entry points for the fuzz targets in `fuzz/`: thin public wrappers over private parsers,
//! compiled only with the `fuzzing` feature.
