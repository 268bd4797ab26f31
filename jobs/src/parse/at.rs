//! The position of the JSON parsers inside a record, shared by both JSON encodings and the
//! top-level pass that feeds them.

use std::cell::Cell;

/// Where the parser is, so that a JSON error names the top-level key whose value was at fault.
pub(crate) type At = Cell<&'static str>;
