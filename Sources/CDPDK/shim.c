// SwiftPM builds a C target only if it has a source file. Everything of CDPDK is
// `static inline` in include/CDPDK.h so that Swift inlines it; this file is empty.
