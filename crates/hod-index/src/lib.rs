//! Virtual datasets (to be written).
