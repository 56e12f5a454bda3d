//! Streaming secret scanner: known values and their encodings plus pattern rules, over
//! directories, image exports, OCI layouts, git history and nested archives.
