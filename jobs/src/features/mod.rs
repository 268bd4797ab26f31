//! The features of SPEC section 3, one module per lane. Each lane module says which events it
//! takes, what one lane record carries, and how its features are computed and named.

pub mod cart;
pub mod category;
pub mod format;
pub mod product;
pub mod purchase;
pub mod session;
