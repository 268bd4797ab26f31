//! The synthetic shop generator.
