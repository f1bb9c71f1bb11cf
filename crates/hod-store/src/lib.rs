//! One object-store abstraction for hydro-opendata (to be written: see the API sketch in
//! `docs/design/store.md`).
